//! How Claude's refusals and outages reach the filter: 4xx → 502
//! `exchange_failed`, 5xx/unreachable/timeout → 503 `upstream_unavailable`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use claude_wif_api::ErrorCode;
use common::*;
use issuer_svc::internal_app;

#[tokio::test]
async fn claude_401_becomes_502_with_hint_and_no_assertion() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    claude.answer_with(
        401,
        r#"{"type":"error","error":{"type":"authentication_error","message":"Authentication failed"},"request_id":"req_abc"}"#,
    );
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    let error = error_of(status, &body, ErrorCode::ExchangeFailed);
    let text = error.error_description;
    assert!(
        text.contains("HTTP 401 authentication_error: Authentication failed (request_id req_abc)"),
        "{text}"
    );
    assert!(
        text.contains("subject_prefix")
            && text.contains("workspace_id")
            && text.contains("authentication events"),
        "{text}"
    );
    let assertion = claude.seen.lock().unwrap()[0].body["assertion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!body.contains(&assertion[assertion.len() - 20..]));
}

#[tokio::test]
async fn request_id_header_is_used_when_the_body_has_none() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    claude.answer_with(400, r#"{"error":"invalid_grant"}"#);
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    let error = error_of(status, &body, ErrorCode::ExchangeFailed);
    assert!(
        error
            .error_description
            .contains("HTTP 400 invalid_grant (request_id req_from_header)"),
        "{body}"
    );
}

#[tokio::test]
async fn claude_500_becomes_503() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    claude.answer_with(
        500,
        r#"{"type":"error","error":{"type":"api_error","message":"boom"}}"#,
    );
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    let error = error_of(status, &body, ErrorCode::UpstreamUnavailable);
    assert!(
        error.error_description.contains("HTTP 500 api_error"),
        "{body}"
    );
}

#[tokio::test]
async fn unreachable_claude_becomes_503() {
    let app = app(&format!("http://{}", dead_addr().await)).await;
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    error_of(status, &body, ErrorCode::UpstreamUnavailable);
    let (_, _, metrics) = send(internal_app(app.state.clone()), get("/metrics")).await;
    assert!(
        metrics.contains("issuer_svc_exchanges_total{outcome=\"unavailable\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_token_requests_total{outcome=\"upstream_unavailable\"} 1\n")
    );
}

#[tokio::test]
async fn slow_claude_times_out_as_503() {
    let claude = FakeClaude::default();
    *claude.delay.lock().unwrap() = std::time::Duration::from_secs(5);
    let base = claude.start().await;
    let app = app_from(|dir| {
        config_text(&base, dir, "", "").replace("timeout = \"2s\"", "timeout = \"200ms\"")
    });
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    let error = error_of(status, &body, ErrorCode::UpstreamUnavailable);
    assert!(
        error.error_description.contains("no answer within"),
        "{body}"
    );
}
