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
        error.error_description.contains("HTTP 500 api_error")
            && error.error_description.contains("after 3 attempt(s)"),
        "{body}"
    );
    assert_eq!(claude.calls(), 3, "5xx is retried, bounded");
    let assertions: std::collections::HashSet<String> = claude
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|seen| seen.body["assertion"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(assertions.len(), 3, "each attempt signs a new assertion");
}

#[tokio::test]
async fn claude_429_is_retried_and_then_succeeds() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    claude.script.lock().unwrap().push_back((
        429,
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#.into(),
    ));
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claude.calls(), 2);
    let (_, _, metrics) = send(internal_app(app.state.clone()), get("/metrics")).await;
    for line in [
        "issuer_svc_exchanges_total{result=\"refused\",status=\"429\"} 1\n",
        "issuer_svc_exchanges_total{result=\"ok\",status=\"200\"} 1\n",
        "issuer_svc_exchange_duration_seconds_count 2\n",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
}

#[tokio::test]
async fn claude_429_on_every_attempt_becomes_503() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    claude.answer_with(
        429,
        r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_429"}"#,
    );
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    let error = error_of(status, &body, ErrorCode::UpstreamUnavailable);
    assert!(
        error
            .error_description
            .contains("rate limited: HTTP 429 rate_limit_error: slow down (request_id req_429) after 3 attempt(s)"),
        "{body}"
    );
    assert_eq!(claude.calls(), 3);
}

#[tokio::test]
async fn claude_403_is_not_retried() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    claude.answer_with(
        403,
        r#"{"type":"error","error":{"type":"permission_error","message":"no"}}"#,
    );
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    let error = error_of(status, &body, ErrorCode::ExchangeFailed);
    assert!(
        error
            .error_description
            .contains("HTTP 403 permission_error: no"),
        "{body}"
    );
    assert_eq!(claude.calls(), 1);
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
        metrics.contains("issuer_svc_exchanges_total{result=\"unavailable\",status=\"none\"} 3\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_token_requests_total{result=\"upstream_unavailable\"} 1\n")
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
