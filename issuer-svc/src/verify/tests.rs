#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::test_fakes::{ScriptedClaude, one_key, state};
use crate::test_support::{config_text, load};
use std::time::Duration;

/// Serves the public app of a state whose issuer URLs point at it; returns
/// that state's config text.
async fn serve_public() -> (crate::AppState, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let text = config_text("").replace("http://127.0.0.1:8081/", &format!("http://{addr}"));
    let state = state(load(&text).config, Arc::new(ScriptedClaude::default()));
    let app = crate::public_app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, text)
}

async fn run(
    text: &str,
    keys: &KeySet,
    claude: &ScriptedClaude,
    request: VerifyRequest<'_>,
) -> VerifyReport {
    let config = load(text).config;
    let http = http_client(Duration::from_secs(5)).unwrap();
    let clock = ManualClock::at_unix(1_700_000_000);
    let ctx = VerifyContext {
        config: &config,
        keys,
        clock: &clock,
        http: &http,
        transport: claude,
    };
    verify(&ctx, request).await
}

const DEMO: VerifyRequest<'static> = VerifyRequest {
    provider: "claude-demo",
    subject: None,
};

fn failure(report: &VerifyReport) -> &VerifyFailure {
    match &report.outcome {
        VerifyOutcome::Failed(failure) => failure,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn verified_with_scope_and_lifetime_and_the_first_exact_identity() {
    let (state, text) = serve_public().await;
    let claude = ScriptedClaude::default();
    let report = run(&text, &state.keys.current(), &claude, DEMO).await;
    assert_eq!(
        report.to_string(),
        "Verified successfully: scope workspace:developer, token lifetime 3600s"
    );
    assert!(report.succeeded());
    assert_eq!(report.passed.len(), 6);
    assert_eq!(
        report.subject.as_deref(),
        Some("spiffe://cluster.local/ns/demo/sa/app")
    );
    assert!(
        !format!("{report:?}").contains("sk-ant-oat01"),
        "never the token"
    );
    assert_eq!(claude.calls(), 1);
}

#[tokio::test]
async fn discovery_unreachable_points_at_public_base_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let text = config_text("").replace("http://127.0.0.1:8081/", &format!("http://{addr}"));
    let report = run(&text, &one_key(), &ScriptedClaude::default(), DEMO).await;
    let failure = failure(&report);
    assert_eq!((failure.step, failure.name), (2, "discovery"));
    let text = report.to_string();
    assert!(
        text.starts_with("Verification failed at step 2 (discovery): GET http://"),
        "{text}"
    );
    assert!(
        text.contains("Check: that server.public_base_url"),
        "{text}"
    );
}

#[tokio::test]
async fn issuer_mismatch_is_step_3() {
    let (state, text) = serve_public().await;
    // Claude dials `localhost`, the service says `127.0.0.1`: not byte-exact.
    let dialled = text.replace("http://127.0.0.1:", "http://localhost:");
    let report = run(
        &dialled,
        &state.keys.current(),
        &ScriptedClaude::default(),
        DEMO,
    )
    .await;
    let failure = failure(&report);
    assert_eq!((failure.step, failure.name), (3, "issuer"), "{failure:?}");
    assert!(failure.what.contains("compared byte for byte"));
    assert!(failure.hint.starts_with("server.public_base_url"));
}

#[tokio::test]
async fn a_key_missing_from_the_jwks_is_step_5_with_propagation_hint() {
    let (_state, text) = serve_public().await;
    let report = run(&text, &one_key(), &ScriptedClaude::default(), DEMO).await;
    let failure = failure(&report);
    assert_eq!((failure.step, failure.name), (5, "jwks"));
    assert!(
        failure
            .what
            .contains("does not contain the active signing key")
    );
    assert!(failure.hint.contains("state_dir") && failure.hint.contains("propagate"));
}

#[tokio::test]
async fn claude_401_gives_the_rule_hint() {
    let (state, text) = serve_public().await;
    let claude = ScriptedClaude::answering([(
        401,
        r#"{"type":"error","error":{"type":"authentication_error","message":"Authentication failed"},"request_id":"req_9"}"#,
    )]);
    let report = run(&text, &state.keys.current(), &claude, DEMO).await;
    let failure = failure(&report);
    assert_eq!((failure.step, failure.name), (6, "exchange"));
    assert!(
        failure
            .what
            .contains("HTTP 401 authentication_error: Authentication failed (request_id req_9)"),
        "{}",
        failure.what
    );
    for needle in [
        "fdrl_demo",
        "subject_prefix",
        "spiffe://cluster.local/ns/demo/sa/app",
        "credential_provider[0].claude_wif.audience `https://api.anthropic.com`",
        "svac_demo",
        "00000000-0000-4000-8000-000000000001",
        "credential_provider[0].claude_wif.workspace_id `wrkspc_demo`",
        "authentication events in Claude Console",
    ] {
        assert!(failure.hint.contains(needle), "{needle}: {}", failure.hint);
    }
}

#[tokio::test]
async fn claude_401_without_workspace_names_the_workspace_id_field() {
    let (state, text) = serve_public().await;
    let text = text.replace("  workspace_id = \"wrkspc_demo\"\n", "");
    let claude = ScriptedClaude::answering([(401, "{}")]);
    let report = run(&text, &state.keys.current(), &claude, DEMO).await;
    let hint = &failure(&report).hint;
    assert!(
        hint.contains("credential_provider[0].claude_wif.workspace_id: this provider sends none"),
        "{hint}"
    );
}

#[tokio::test]
async fn claude_400_names_the_field_claude_names() {
    let (state, text) = serve_public().await;
    let claude = ScriptedClaude::answering([(
        400,
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"federation_rule_id: not found"}}"#,
    )]);
    let report = run(&text, &state.keys.current(), &claude, DEMO).await;
    let hint = &failure(&report).hint;
    assert!(
        hint.starts_with("credential_provider[0].claude_wif.federation_rule_id: Claude says"),
        "{hint}"
    );
}

#[tokio::test]
async fn unknown_provider_and_prefix_only_policies_fail_at_step_1() {
    let text = config_text("");
    let keys = one_key();
    let claude = ScriptedClaude::default();
    let unknown = VerifyRequest {
        provider: "nope",
        subject: None,
    };
    let report = run(&text, &keys, &claude, unknown).await;
    assert_eq!(failure(&report).step, 1);
    assert!(failure(&report).hint.contains("claude-demo"));

    let mut no_policy = load(&text).config;
    no_policy.access_policies.clear();
    let provider = Arc::clone(no_policy.provider("claude-demo").unwrap());
    let err = pick_subject(&no_policy, &provider, None).unwrap_err();
    assert!(
        matches!(&err, VerifyOutcome::Failed(f) if f.step == 1 && f.hint.contains("--subject"))
    );
    let given = pick_subject(&no_policy, &provider, Some("x")).unwrap();
    assert_eq!((given.subject.as_str(), given.note), ("x", None));
    assert_eq!(claude.calls(), 0);
}

#[tokio::test]
async fn prefix_only_policies_verify_with_a_subject_derived_under_the_prefix() {
    let (state, text) = serve_public().await;
    let text = text.replace(
        "[[access_policy]]\nclient_workload = \"demo-app\"\nserver_workload = \"api.anthropic.com\"\ncredential_provider = \"claude-demo\"\n",
        "",
    );
    let config = load(&text).config;
    assert_eq!(config.access_policies.len(), 1, "only the prefix workload");
    let provider = Arc::clone(config.provider("claude-demo").unwrap());
    let picked = pick_subject(&config, &provider, None).unwrap();
    assert_eq!(
        picked.subject,
        format!("spiffe://cluster.local/ns/demo/{DERIVED_SUBJECT_LEAF}")
    );
    let note = picked.note.unwrap();
    assert!(note.contains("`demo-ns`") && note.contains("`spiffe://cluster.local/ns/demo/*`"));

    let claude = ScriptedClaude::default();
    let report = run(&text, &state.keys.current(), &claude, DEMO).await;
    assert!(report.succeeded(), "{report}");
    assert_eq!(report.subject.as_deref(), Some(picked.subject.as_str()));
    assert!(
        report
            .subject_note
            .as_deref()
            .is_some_and(|n| n.contains("derived"))
    );
    assert!(
        report.passed[0]
            .detail
            .contains("derived under client workload `demo-ns`")
    );
    assert_eq!(claude.calls(), 1);
}
