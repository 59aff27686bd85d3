//! `issuer-svc verify` against the real `fake-claude` (release build) and a
//! running `issuer-svc serve`: success, success for a provider granted to a
//! prefix only (the subject derived), a wrong audience, and a rule that
//! covers two workspaces while the provider names none.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fmt::Write as _;
use std::process::Command;

use common::process::{Running, fake_claude_binary, free_port, serve_issuer};

const ORG: &str = "00000000-0000-4000-8000-000000000001";

/// `(provider, rule workspaces, provider audience, provider workspace_id)`.
type Case = (
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    Option<&'static str>,
);

const CASES: [Case; 4] = [
    ("ok", &["wrkspc_a"], None, Some("wrkspc_a")),
    ("ns", &["wrkspc_a"], None, Some("wrkspc_a")),
    (
        "aud",
        &["wrkspc_a"],
        Some("https://wrong.example.com"),
        Some("wrkspc_a"),
    ),
    ("multi", &["wrkspc_a", "wrkspc_b"], None, None),
];

fn fake_claude_config(public: &str) -> String {
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\norganization_id = \"{ORG}\"\n\n[[service_account]]\nid = \"svac_demo\"\n\n[[workspace]]\nid = \"wrkspc_a\"\n\n[[workspace]]\nid = \"wrkspc_b\"\n"
    );
    for (id, workspaces, _, _) in CASES {
        let workspaces: Vec<String> = workspaces.iter().map(|w| format!("\"{w}\"")).collect();
        write!(
            text,
            r#"
[[federation_issuer]]
id = "fdis_{id}"
issuer_url = "http://{public}/providers/{id}"
jwks_source = "discovery"
check_jti = true
max_jwt_lifetime_seconds = 3600

[[federation_rule]]
id = "fdrl_{id}"
issuer = "fdis_{id}"
subject_prefix = "spiffe://cluster.local/ns/demo/*"
audience = "https://api.anthropic.com"
service_account = "svac_demo"
workspace_ids = [{}]
oauth_scope = "workspace:developer"
token_lifetime_seconds = 3600
"#,
            workspaces.join(", ")
        )
        .unwrap();
    }
    text
}

fn issuer_config(public: &str, claude: &str, state_dir: &std::path::Path) -> String {
    let mut text = format!(
        "[server]\npublic_listen = \"{public}\"\npublic_base_url = \"http://{public}\"\ninternal_listen = \"127.0.0.1:0\"\nstate_dir = \"{}\"\n\n[claude]\nbase_url = \"http://{claude}\"\ntimeout = \"5s\"\n",
        state_dir.display()
    );
    for (id, _, audience, workspace) in CASES {
        write!(
            text,
            "\n[[credential_provider]]\nid = \"{id}\"\n  [credential_provider.claude_wif]\n  federation_rule_id = \"fdrl_{id}\"\n  organization_id = \"{ORG}\"\n  service_account_id = \"svac_demo\"\n"
        )
        .unwrap();
        if let Some(audience) = audience {
            writeln!(text, "  audience = \"{audience}\"").unwrap();
        }
        if let Some(workspace) = workspace {
            writeln!(text, "  workspace_id = \"{workspace}\"").unwrap();
        }
        // `ns` is granted to a namespace prefix only: verify derives a subject.
        let identity = if id == "ns" {
            "spiffe://cluster.local/ns/demo/team-ns/*".to_owned()
        } else {
            format!("spiffe://cluster.local/ns/demo/sa/{id}")
        };
        write!(
            text,
            "\n[[client_workload]]\nid = \"{id}-app\"\nidentity = \"{identity}\"\n\n[[access_policy]]\nclient_workload = \"{id}-app\"\nserver_workload = \"api.anthropic.com\"\ncredential_provider = \"{id}\"\n"
        )
        .unwrap();
    }
    text
}

fn verify(config: &std::path::Path, provider: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_issuer-svc"))
        .args(["verify", "--config"])
        .arg(config)
        .arg(provider)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn verify_against_fake_claude() {
    let binary = fake_claude_binary();
    let dir = tempfile::tempdir().unwrap();
    let public = format!("127.0.0.1:{}", free_port());

    let fake_config = dir.path().join("fake-claude.toml");
    std::fs::write(&fake_config, fake_claude_config(&public)).unwrap();
    let mut command = Command::new(binary);
    command.arg("--config").arg(&fake_config);
    let mut fake = Running::spawn(command, true);
    let claude = fake.wait_for("fake-claude listening on ");

    let config = dir.path().join("issuer.toml");
    std::fs::write(
        &config,
        issuer_config(&public, &claude, &dir.path().join("state")),
    )
    .unwrap();
    let (_issuer, _, _) = serve_issuer(&config);

    let (code, out) = verify(&config, "ok");
    assert_eq!(
        (code, out.as_str()),
        (
            Some(0),
            "Verified successfully: scope workspace:developer, token lifetime 3600s\n"
        )
    );

    let (code, out) = verify(&config, "ns");
    assert_eq!(
        (code, out.as_str()),
        (
            Some(0),
            "subject `spiffe://cluster.local/ns/demo/team-ns/issuer-svc-verify`: derived under \
             client workload `ns-app`'s prefix `spiffe://cluster.local/ns/demo/team-ns/*`, since \
             no exact identity is granted this provider; pass --subject to choose another\n\
             Verified successfully: scope workspace:developer, token lifetime 3600s\n"
        )
    );

    let (code, out) = verify(&config, "aud");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("Verification failed at step 6 (exchange): Claude refused the exchange: HTTP 401 authentication_error: Authentication failed (request_id "),
        "{out}"
    );
    assert!(
        out.contains(". Check: the federation rule `fdrl_aud`"),
        "{out}"
    );
    assert!(
        out.contains("credential_provider[2].claude_wif.audience `https://wrong.example.com`"),
        "{out}"
    );

    let (code, out) = verify(&config, "multi");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("step 6 (exchange)") && out.contains("HTTP 401"),
        "{out}"
    );
    assert!(
        out.contains("credential_provider[3].claude_wif.workspace_id: this provider sends none"),
        "{out}"
    );
    assert!(!out.contains("sk-ant-oat01"), "never the token: {out}");

    let counters = reqwest::blocking_get(&format!("http://{claude}/_test/counters"));
    assert!(counters.contains('{'), "{counters}");
}

mod reqwest {
    /// A tiny GET without an async runtime.
    pub fn blocking_get(url: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}
