//! `issuer-svc register` against the real `fake-claude` (release build):
//! from an empty organization to verified, idempotence, a hand-edited rule
//! in `--dry-run`, `--update`, and an Admin API refusal as a sentence; a
//! provider without `workspace_id` registered in the default workspace's
//! tagged id; and, against a recording stand-in, a refused workspace lookup
//! that leaves nothing created.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::process::{Running, fake_claude_binary, free_port, serve_issuer};

const ORG: &str = "00000000-0000-4000-8000-000000000001";
const ADMIN_TOKEN: &str = "sk-ant-oat01-register-test-admin";

fn fake_claude_config() -> String {
    format!(
        "listen = \"127.0.0.1:0\"\norganization_id = \"{ORG}\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n\n[[workspace]]\nid = \"wrkspc_demo\"\n"
    )
}

fn issuer_config(public: &str, claude: &str, state_dir: &Path) -> String {
    issuer_config_in(
        public,
        claude,
        state_dir,
        "  workspace_id    = \"wrkspc_demo\"\n",
    )
}

/// The configuration with `workspace` as the provider's workspace line(s).
fn issuer_config_in(public: &str, claude: &str, state_dir: &Path, workspace: &str) -> String {
    format!(
        r#"# issuer-svc for the register test
[server]
public_listen = "{public}"
public_base_url = "http://{public}"
internal_listen = "127.0.0.1:0"
state_dir = "{}"

[claude]
base_url = "http://{claude}"
timeout = "5s"

[[credential_provider]]
id = "claude-demo"
name = "Claude demo"
  [credential_provider.claude_wif]
  organization_id = "{ORG}"   # the organization
{workspace}
[[client_workload]]
id = "demo-app"
identity = "spiffe://cluster.local/ns/demo/sa/app"

[[access_policy]]
client_workload = "demo-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"#,
        state_dir.display()
    )
}

fn register(config: &Path, token: &Path, flags: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_issuer-svc"))
        .arg("register")
        .arg("--config")
        .arg(config)
        .arg("--admin-token-file")
        .arg(token)
        .args(flags)
        .arg("claude-demo")
        .env_remove("ANTHROPIC_ADMIN_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !stdout.contains(ADMIN_TOKEN) && !stderr.contains(ADMIN_TOKEN),
        "the admin token is never printed"
    );
    (out.status.code(), stdout)
}

fn admin(claude: &str, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let request = client
            .request(method.parse().unwrap(), format!("http://{claude}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .header("anthropic-version", "2026-10-21");
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        request.send().await.unwrap().json().await.unwrap()
    })
}

#[test]
fn register_from_an_empty_organization_to_verified() {
    let dir = tempfile::tempdir().unwrap();
    let fake_config = dir.path().join("fake-claude.toml");
    std::fs::write(&fake_config, fake_claude_config()).unwrap();
    let mut command = Command::new(fake_claude_binary());
    command.arg("--config").arg(&fake_config);
    let mut fake = Running::spawn(command, true);
    let claude = fake.wait_for("fake-claude listening on ");

    let public = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("issuer.toml");
    std::fs::write(
        &config,
        issuer_config(&public, &claude, &dir.path().join("state")),
    )
    .unwrap();
    let token = dir.path().join("admin-token");
    std::fs::write(&token, format!("{ADMIN_TOKEN}\n")).unwrap();

    // Nothing serves the issuer yet: register serves it while verifying.
    let (code, out) = register(&config, &token, &["--write"]);
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "  create     federation issuer `claude-demo`",
        "  create     service account `claude-demo`",
        "  create     workspace membership `wrkspc_demo`",
        "  create     federation rule `claude-demo`",
        "nothing serves http://",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.ends_with("Verified successfully: scope workspace:developer, token lifetime 3600s\n"),
        "{out}"
    );
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.starts_with("# issuer-svc for the register test\n"),
        "{written}"
    );
    assert!(written.contains(
        "organization_id = \"00000000-0000-4000-8000-000000000001\"   # the organization"
    ));
    assert!(
        written.contains("federation_rule_id = \"fdrl_"),
        "{written}"
    );
    assert!(
        written.contains("service_account_id = \"svac_"),
        "{written}"
    );

    // The written configuration serves; a second run changes nothing.
    let (_issuer, _, _) = serve_issuer(&config);
    let (code, out) = register(&config, &token, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("  unchanged  ").count(), 4, "{out}");
    assert!(
        out.contains("everything is already registered: nothing changed."),
        "{out}"
    );
    assert!(!out.contains("nothing serves"), "{out}");
    assert!(out.ends_with("token lifetime 3600s\n"), "{out}");

    // A rule edited by hand shows up in --dry-run, is kept without --update.
    let rules = admin(
        &claude,
        "GET",
        "/v1/organizations/federation_rules",
        serde_json::Value::Null,
    );
    let rule_id = rules["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/organizations/federation_rules/{rule_id}");
    let edited = admin(
        &claude,
        "POST",
        &path,
        serde_json::json!({"token_lifetime_seconds": 600}),
    );
    assert_eq!(edited["token_lifetime_seconds"], 600);
    let (code, out) = register(&config, &token, &["--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "  differs    federation rule `claude-demo` ({rule_id})"
        )),
        "{out}"
    );
    assert!(
        out.contains("token_lifetime_seconds: Claude has 600, the configuration wants 3600"),
        "{out}"
    );
    assert!(out.contains("dry run: nothing was changed"), "{out}");
    assert!(
        !out.contains("Verified"),
        "a dry run does not verify: {out}"
    );
    let (code, out) = register(&config, &token, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("1 object(s) differ from the configuration and were left as they are"),
        "{out}"
    );
    assert!(out.ends_with("token lifetime 600s\n"), "{out}");
    let (code, out) = register(&config, &token, &["--update"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "  updated    federation rule `claude-demo` ({rule_id})"
        )),
        "{out}"
    );
    assert!(out.ends_with("token lifetime 3600s\n"), "{out}");

    // The plain verify command agrees.
    let verify = Command::new(env!("CARGO_BIN_EXE_issuer-svc"))
        .args(["verify", "--config"])
        .arg(&config)
        .arg("claude-demo")
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");

    // A wrong credential is a sentence, not a stack trace.
    std::fs::write(&token, "sk-ant-oat01-wrong").unwrap();
    let (code, out) = register(&config, &token, &["--dry-run"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("register failed: Claude rejected the admin credential"),
        "{out}"
    );
    assert!(out.contains("org:admin"), "{out}");
}

/// fake-claude's default workspace (its `default_workspace_id` default).
const DEFAULT_WORKSPACE_ID: &str = "wrkspc_01DefaultWorkspace";

/// fake-claude with an empty organization, and an issuer-svc configuration
/// (provider workspace line `workspace`) with an admin token file.
struct Org {
    _dir: tempfile::TempDir,
    _fake: Running,
    claude: String,
    config: std::path::PathBuf,
    token: std::path::PathBuf,
}

fn empty_org(workspace: &str) -> Org {
    let dir = tempfile::tempdir().unwrap();
    let fake_config = dir.path().join("fake-claude.toml");
    std::fs::write(&fake_config, fake_claude_config()).unwrap();
    let mut command = Command::new(fake_claude_binary());
    command.arg("--config").arg(&fake_config);
    let mut fake = Running::spawn(command, true);
    let claude = fake.wait_for("fake-claude listening on ");
    let public = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("issuer.toml");
    let text = issuer_config_in(&public, &claude, &dir.path().join("state"), workspace);
    std::fs::write(&config, text).unwrap();
    let token = dir.path().join("admin-token");
    std::fs::write(&token, format!("{ADMIN_TOKEN}\n")).unwrap();
    Org {
        _dir: dir,
        _fake: fake,
        claude,
        config,
        token,
    }
}

#[test]
fn register_without_workspace_id_uses_the_default_workspaces_tagged_id() {
    let org = empty_org("");
    let (code, out) = register(&org.config, &org.token, &["--write"]);
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "  create     service account `claude-demo`",
        &format!(
            "  create     workspace membership `{DEFAULT_WORKSPACE_ID}`  [the default workspace]"
        ),
        &format!(
            "  created    workspace membership `{DEFAULT_WORKSPACE_ID}` (workspace_developer)"
        ),
        "  create     federation rule `claude-demo`",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(
        out.ends_with("Verified successfully: scope workspace:developer, token lifetime 3600s\n"),
        "{out}"
    );
    let rules = admin(
        &org.claude,
        "GET",
        "/v1/organizations/federation_rules",
        serde_json::Value::Null,
    );
    assert_eq!(
        rules["data"][0]["workspace_ids"],
        serde_json::json!([DEFAULT_WORKSPACE_ID])
    );
    let account = rules["data"][0]["target"]["service_account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let members = admin(
        &org.claude,
        "GET",
        &format!("/v1/organizations/service_accounts/{account}/workspaces"),
        serde_json::Value::Null,
    );
    let explicit: Vec<&serde_json::Value> = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["implicit"] != true)
        .collect();
    assert_eq!(explicit.len(), 1, "{members}");
    assert_eq!(explicit[0]["workspace_id"], DEFAULT_WORKSPACE_ID);
    assert_eq!(explicit[0]["workspace_role"], "workspace_developer");

    let (code, out) = register(&org.config, &org.token, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("  unchanged  ").count(), 4, "{out}");

    // A weaker explicit role differs; --update raises it with the same POST.
    let weaker = serde_json::json!({
        "workspace_id": DEFAULT_WORKSPACE_ID, "workspace_role": "workspace_user"});
    let path = format!("/v1/organizations/service_accounts/{account}/workspaces");
    assert_eq!(
        admin(&org.claude, "POST", &path, weaker)["workspace_role"],
        "workspace_user"
    );
    let (code, out) = register(&org.config, &org.token, &["--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "  differs    workspace membership `{DEFAULT_WORKSPACE_ID}`  [the default workspace]\n               \
             workspace_role: Claude has \"workspace_user\", the configuration wants at least \
             \"workspace_developer\""
        )),
        "{out}"
    );
    let (code, out) = register(&org.config, &org.token, &["--update"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "  updated    workspace membership `{DEFAULT_WORKSPACE_ID}` (workspace_developer)"
        )),
        "{out}"
    );
    assert!(out.ends_with("token lifetime 3600s\n"), "{out}");
}

#[test]
fn a_name_held_by_an_archived_rule_is_refused_before_anything_is_created() {
    let org = empty_org("  workspace_id    = \"wrkspc_demo\"\n");
    let (code, out) = register(&org.config, &org.token, &[]);
    assert_eq!(code, Some(0), "{out}");
    let rules = admin(
        &org.claude,
        "GET",
        "/v1/organizations/federation_rules",
        serde_json::Value::Null,
    );
    let old = rules["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/organizations/federation_rules/{old}/archive");
    admin(&org.claude, "POST", &path, serde_json::json!({}));

    // The configuration names no rule: register would create `claude-demo`.
    let (code, out) = register(&org.config, &org.token, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "the name `claude-demo` is held by an archived federation rule (id {old}, found \
             with `include_archived=true`)"
        )),
        "{out}"
    );
    assert!(
        out.contains("Give the credential provider another id"),
        "{out}"
    );
    assert!(!out.contains("  created  "), "{out}");
    let live = admin(
        &org.claude,
        "GET",
        "/v1/organizations/federation_rules",
        serde_json::Value::Null,
    );
    assert_eq!(live["data"], serde_json::json!([]), "nothing was created");
}

/// Every call a stand-in Admin API saw: `METHOD path?query` and the
/// `anthropic-version` it carried.
type Calls = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A stand-in Admin API on a real socket: the workspace list answers
/// `workspaces` (status, body); other lists are empty; creates succeed.
fn recording_admin_api(workspaces: (u16, serde_json::Value)) -> (String, Calls) {
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap| {
        let seen = seen.clone();
        let workspaces = workspaces.clone();
        async move {
            let version = headers
                .get("anthropic-version")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            seen.lock()
                .unwrap()
                .push((format!("{method} {uri}"), version));
            let (status, body) = if uri.path() == "/v1/organizations/workspaces" {
                workspaces
            } else if method == Method::GET {
                (200, serde_json::json!({"data": [], "next_page": null}))
            } else {
                (200, serde_json::json!({"id": "xxx_created"}))
            };
            (StatusCode::from_u16(status).unwrap(), axum::Json(body))
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().to_string()).unwrap();
            let app = axum::Router::new().fallback(handler);
            axum::serve(listener, app).await.unwrap();
        });
    });
    (rx.recv().unwrap(), calls)
}

fn register_without_workspace(claude: &str, flags: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("issuer.toml");
    let public = format!("127.0.0.1:{}", free_port());
    let text = issuer_config_in(&public, claude, &dir.path().join("state"), "");
    std::fs::write(&config, text).unwrap();
    let token = dir.path().join("admin-token");
    std::fs::write(&token, ADMIN_TOKEN).unwrap();
    register(&config, &token, flags)
}

#[test]
fn a_refused_workspace_lookup_stops_register_before_anything_is_created() {
    let refusal = serde_json::json!({"type": "error", "error": {
        "type": "permission_error", "message": "not allowed to list workspaces"}});
    let (claude, calls) = recording_admin_api((403, refusal));
    let (code, out) = register_without_workspace(&claude, &[]);
    assert_eq!(code, Some(1), "{out}");
    for part in [
        "credential_provider[0].claude_wif.workspace_id",
        "`wrkspc_…` id",
        "403 permission_error: not allowed to list workspaces",
        "Nothing was created.",
    ] {
        assert!(out.contains(part), "missing {part:?} in:\n{out}");
    }
    let calls = calls.lock().unwrap().clone();
    assert!(
        calls.iter().all(|(call, _)| call.starts_with("GET ")),
        "no write after a refused lookup: {calls:?}"
    );
    assert_eq!(
        calls.first().map(|(call, _)| call.as_str()),
        Some("GET /v1/organizations/workspaces?include_default=true&limit=100")
    );
}

#[test]
fn no_default_workspace_candidate_stops_register_before_anything_is_created() {
    // Both lists hold the same workspaces: no default workspace to find.
    let same = serde_json::json!({"data": [{"id": "wrkspc_demo", "type": "workspace",
        "name": "demo", "archived_at": null}], "has_more": false,
        "first_id": "wrkspc_demo", "last_id": "wrkspc_demo"});
    let (claude, calls) = recording_admin_api((200, same));
    let (code, out) = register_without_workspace(&claude, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("names no workspace that the list without it lacks")
            && out.contains("credential_provider[0].claude_wif.workspace_id"),
        "{out}"
    );
    let calls = calls.lock().unwrap().clone();
    assert!(
        calls.iter().all(|(call, _)| call.starts_with("GET ")),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .all(|(_, version)| version.as_deref() == Some("2026-10-21")),
        "every call carries the SDKs' anthropic-version: {calls:?}"
    );
}
