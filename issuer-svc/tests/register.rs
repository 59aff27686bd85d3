//! `issuer-svc register` against the real `fake-claude` (release build):
//! from an empty organization to verified, idempotence, a hand-edited rule
//! in `--dry-run`, `--update`, and an Admin API refusal as a sentence.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Command;

use common::process::{Running, fake_claude_binary, free_port, serve_issuer};

const ORG: &str = "00000000-0000-4000-8000-000000000001";
const ADMIN_TOKEN: &str = "sk-ant-oat01-register-test-admin";

fn fake_claude_config() -> String {
    format!(
        "listen = \"127.0.0.1:0\"\norganization_id = \"{ORG}\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n\n[[workspace]]\nid = \"wrkspc_demo\"\n"
    )
}

fn issuer_config(public: &str, claude: &str, state_dir: &Path) -> String {
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
  workspace_id    = "wrkspc_demo"

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
            .header("anthropic-version", "2023-06-01");
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
