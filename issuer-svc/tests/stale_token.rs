//! `stale_token_sha256`: a caller reports a token it will not use again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::http::StatusCode;
use claude_wif_api::{AccessToken, ErrorCode, TokenResponse};
use common::*;
use issuer_svc::internal_app;
use issuer_svc::tokens::token_sha256;

fn stale_body(stale: &str) -> String {
    serde_json::json!({
        "client_workload": IDENTITY,
        "server_workload": "api.anthropic.com",
        "stale_token_sha256": stale,
    })
    .to_string()
}

async fn ask(app: &TestApp, body: &str) -> (StatusCode, String) {
    let (status, _, body) = send(internal_app(app.state.clone()), token_request(body)).await;
    (status, body)
}

fn token_of(body: &str) -> AccessToken {
    serde_json::from_str::<TokenResponse>(body)
        .unwrap()
        .access_token
}

#[tokio::test]
async fn the_stale_cached_token_is_replaced_and_an_old_hash_gets_the_current_one() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let (_, body) = ask(&app, &token_body(IDENTITY)).await;
    let first = token_of(&body);
    let stale = token_sha256(&first);

    let (status, body) = ask(&app, &stale_body(&stale)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = token_of(&body);
    assert_eq!(second.expose(), "sk-ant-oat01-fake-2");

    let (_, body) = ask(&app, &stale_body(&stale)).await;
    assert_eq!(token_of(&body), second, "already replaced: no new exchange");
    assert_eq!(claude.calls(), 2);
}

#[tokio::test]
async fn a_malformed_stale_hash_is_400() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let upper = "A".repeat(64);
    let short = "a".repeat(63);
    let token = "sk-ant-oat01-looks-like-a-token";
    for stale in [upper.as_str(), short.as_str(), token, ""] {
        let (status, body) = ask(&app, &stale_body(stale)).await;
        let error = error_of(status, &body, ErrorCode::InvalidRequest);
        assert!(
            error.error_description.contains("stale_token_sha256"),
            "{body}"
        );
        assert!(!body.contains(token) || stale != token, "never echoed");
    }
    assert_eq!(claude.calls(), 0);
}
