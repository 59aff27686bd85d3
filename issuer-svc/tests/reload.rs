//! SIGHUP against a running `issuer-svc serve`: a valid file takes effect,
//! an invalid one is rejected while the old configuration keeps serving.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::process::serve_issuer;
use common::*;

const NEW: &str = "spiffe://cluster.local/ns/other/sa/new";

const GRANT_NEW: &str = r#"
[[client_workload]]
id = "new-app"
identity = "spiffe://cluster.local/ns/other/sa/new"

[[access_policy]]
client_workload = "new-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"#;

async fn status_for(http: &reqwest::Client, internal: &str, identity: &str) -> u16 {
    http.post(format!("http://{internal}/v1/token"))
        .json(&serde_json::json!({"client_workload": identity, "server_workload": "api.anthropic.com"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn sighup_applies_a_valid_file_and_rejects_an_invalid_one() {
    let claude = FakeClaude::default();
    let base = claude.start().await;
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let path = dir.path().join("issuer.toml");
    std::fs::write(&path, config_text(&base, &state_dir, "", "")).unwrap();
    let (mut issuer, _public, internal) = serve_issuer(&path);
    let http = reqwest::Client::new();
    assert_eq!(status_for(&http, &internal, NEW).await, 403);

    std::fs::write(&path, config_text(&base, &state_dir, "", GRANT_NEW)).unwrap();
    issuer.signal("HUP");
    issuer.wait_for("configuration reloaded");
    assert_eq!(status_for(&http, &internal, NEW).await, 200);

    let invalid = config_text(&base, &state_dir, "", GRANT_NEW).replace("fdrl_demo", "rule");
    std::fs::write(&path, invalid).unwrap();
    issuer.signal("HUP");
    issuer.wait_for("configuration reload rejected");
    assert_eq!(
        status_for(&http, &internal, NEW).await,
        200,
        "old config still served"
    );

    let metrics = http
        .get(format!("http://{internal}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("issuer_svc_config_reloads_total{result=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_config_reloads_total{result=\"rejected\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_signing_keys{state=\"active\"} 1\n"),
        "{metrics}"
    );

    let log = issuer.drain();
    assert!(
        log.contains("federation_rule_id") && log.contains("must start with `fdrl_`"),
        "{log}"
    );
    assert!(
        log.contains("decision=\"deny\"") || log.contains("decision=deny"),
        "{log}"
    );
    assert!(
        log.contains("decision=\"allow\"") || log.contains("decision=allow"),
        "{log}"
    );
    assert!(
        log.contains("latency_ms=") && log.contains("attempt=1"),
        "{log}"
    );
    assert!(!log.contains("sk-ant-oat01-fake-1"), "no token in logs");
}
