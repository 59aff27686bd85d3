#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use super::*;
use crate::test_fakes::{ScriptedClaude, state};
use crate::test_support::{config, config_text, load};
use crate::tokens::TokenRequestFor;

const NEW_IDENTITY: &str = "spiffe://cluster.local/ns/other/sa/new";

fn with_new_workload() -> String {
    config_text(&format!(
        r#"
[[client_workload]]
id = "new-app"
identity = "{NEW_IDENTITY}"

[[access_policy]]
client_workload = "new-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"#
    ))
}

async fn fill_cache(state: &AppState) {
    let provider = state.config.provider("claude-demo").unwrap();
    state
        .tokens
        .token(TokenRequestFor {
            provider: &provider,
            client_workload: "demo-app",
            subject: "spiffe://cluster.local/ns/demo/sa/app",
            stale_token_sha256: None,
        })
        .await
        .unwrap();
}

#[test]
fn a_valid_config_replaces_config_and_policies_together() {
    let state = state(config(), Arc::new(ScriptedClaude::default()));
    let before = state.config.current();
    assert!(
        before
            .policy
            .resolve(NEW_IDENTITY, "api.anthropic.com")
            .is_err()
    );
    let report = apply(&state, load(&with_new_workload()));
    assert_eq!(report, ReloadReport::default());
    let after = state.config.current();
    let grant = after
        .policy
        .resolve(NEW_IDENTITY, "api.anthropic.com")
        .unwrap();
    assert_eq!(grant.client_workload, "new-app");
    assert_eq!(after.config.client_workloads.len(), 3);
    assert!(
        before
            .policy
            .resolve(NEW_IDENTITY, "api.anthropic.com")
            .is_err(),
        "a snapshot taken before the swap never changes"
    );
}

#[test]
fn listeners_and_state_dir_keep_their_running_values() {
    let state = state(config(), Arc::new(ScriptedClaude::default()));
    let text = config_text("")
        .replace(
            "internal_listen = \"127.0.0.1:0\"",
            "internal_listen = \"127.0.0.1:7\"",
        )
        .replace(
            "public_listen = \"127.0.0.1:0\"",
            "public_listen = \"127.0.0.1:8\"",
        )
        .replace("/nonexistent/state", "/elsewhere");
    let report = apply(&state, load(&text));
    assert_eq!(
        report.needs_restart,
        [
            "server.public_listen",
            "server.internal_listen",
            "server.state_dir"
        ]
    );
    let server = &state.config.current().config.server;
    assert_eq!(server.internal_listen.port(), 0);
    assert_eq!(server.public_listen.port(), 0);
    assert_eq!(server.state_dir, std::path::Path::new("/nonexistent/state"));
}

#[tokio::test]
async fn changed_claude_wif_drops_that_providers_tokens_only() {
    let claude = Arc::new(ScriptedClaude::default());
    let state = state(config(), Arc::clone(&claude));
    fill_cache(&state).await;
    let report = apply(&state, load(&with_new_workload()));
    assert!(report.dropped_providers.is_empty());
    assert_eq!(
        state.tokens.entries(),
        1,
        "unchanged provider keeps its tokens"
    );

    let text = with_new_workload().replace("svac_demo", "svac_other");
    let report = apply(&state, load(&text));
    assert_eq!(report.dropped_providers, ["claude-demo"]);
    assert_eq!(state.tokens.entries(), 0);
    fill_cache(&state).await;
    assert_eq!(
        claude.calls(),
        2,
        "the next request exchanges with the new settings"
    );
    let body = &claude.requests.lock().unwrap()[1].body;
    assert_eq!(body.service_account_id, "svac_other");
}

#[tokio::test]
async fn a_removed_provider_is_dropped_and_its_policies_with_it() {
    let state = state(config(), Arc::new(ScriptedClaude::default()));
    fill_cache(&state).await;
    let text = config_text("")
        .replace("id = \"claude-demo\"", "id = \"claude-new\"")
        .replace(
            "credential_provider = \"claude-demo\"",
            "credential_provider = \"claude-new\"",
        );
    let report = apply(&state, load(&text));
    assert_eq!(report.dropped_providers, ["claude-demo"]);
    assert!(state.config.provider("claude-demo").is_none());
    assert!(state.config.provider("claude-new").is_some());
}

#[test]
fn an_invalid_file_is_rejected_and_the_old_config_keeps_serving() {
    let state = state(config(), Arc::new(ScriptedClaude::default()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuer.toml");
    std::fs::write(&path, with_new_workload().replace("fdrl_demo", "rule")).unwrap();
    let errors = reload_file(&state, &path).unwrap_err();
    assert!(
        errors.0[0].path.ends_with("federation_rule_id"),
        "{errors:?}"
    );
    let served = state.config.current();
    assert!(
        served
            .policy
            .resolve(NEW_IDENTITY, "api.anthropic.com")
            .is_err()
    );
    assert_eq!(
        served.config.providers[0].claude_wif.federation_rule_id,
        "fdrl_demo"
    );

    std::fs::write(&path, with_new_workload()).unwrap();
    reload_file(&state, &path).unwrap();
    assert!(
        state
            .config
            .current()
            .policy
            .resolve(NEW_IDENTITY, "api.anthropic.com")
            .is_ok()
    );
    let metrics = state.metrics.render();
    assert!(
        metrics.contains("issuer_svc_config_reloads_total{result=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_config_reloads_total{result=\"rejected\"} 1\n"),
        "{metrics}"
    );
}
