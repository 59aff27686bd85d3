//! `POST /v1/token` and the other internal routes, driven with `oneshot`
//! against an in-test Claude token endpoint on 127.0.0.1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use claude_wif_api::{ErrorCode, MAX_IDENTITY_LEN, TokenResponse};
use common::*;
use issuer_svc::internal_app;

fn jti_of(seen: &Seen) -> String {
    let jwt = seen.body["assertion"].as_str().unwrap();
    let payload = URL_SAFE_NO_PAD
        .decode(jwt.split('.').nth(1).unwrap())
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn successful_exchange_sends_the_documented_request() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: TokenResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(answer.access_token.expose(), "sk-ant-oat01-fake-1");
    assert_eq!(answer.token_type, "Bearer");
    assert!(
        (3599..=3600).contains(&answer.expires_in),
        "{}",
        answer.expires_in
    );
    assert_eq!(answer.credential_provider, "claude-demo");

    let seen = claude.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.headers["content-type"], "application/json");
    assert_eq!(
        seen.headers["anthropic-beta"],
        "oauth-2025-04-20,oidc-federation-2026-04-01"
    );
    assert_eq!(
        seen.headers["user-agent"].to_str().unwrap(),
        format!("claude-wif-issuer-svc/{}", issuer_svc::VERSION)
    );
    let body = seen.body.as_object().unwrap();
    let mut fields: Vec<&str> = body.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "assertion",
            "federation_rule_id",
            "grant_type",
            "organization_id",
            "service_account_id",
            "workspace_id"
        ]
    );
    assert_eq!(
        body["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(body["federation_rule_id"], "fdrl_demo");
    assert_eq!(
        body["organization_id"],
        "00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(body["service_account_id"], "svac_demo");
    assert_eq!(body["workspace_id"], "wrkspc_demo");
    assert_eq!(body["assertion"].as_str().unwrap().split('.').count(), 3);
}

#[tokio::test]
async fn second_call_is_a_cache_hit() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    for _ in 0..2 {
        let (status, _, body) = send(
            internal_app(app.state.clone()),
            token_request(&token_body(IDENTITY)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("sk-ant-oat01-fake-1"));
    }
    assert_eq!(claude.calls(), 1);
    let (_, _, metrics) = send(internal_app(app.state.clone()), get("/metrics")).await;
    assert!(
        metrics.contains("issuer_svc_token_cache_hits_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_token_requests_total{result=\"ok\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_exchanges_total{result=\"ok\",status=\"200\"} 1\n"),
        "{metrics}"
    );
    assert!(!metrics.contains("sk-ant"), "no secrets in metrics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_cause_one_exchange() {
    let claude = FakeClaude::default();
    *claude.delay.lock().unwrap() = std::time::Duration::from_millis(200);
    let app = app(&claude.start().await).await;
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let router = internal_app(app.state.clone());
            tokio::spawn(async move { send(router, token_request(&token_body(IDENTITY))).await })
        })
        .collect();
    for call in calls {
        let (status, _, body) = call.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("sk-ant-oat01-fake-1"));
    }
    assert_eq!(claude.calls(), 1);
}

#[tokio::test]
async fn every_exchange_carries_a_distinct_jti() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    claude.answer_with(500, "{}");
    for _ in 0..3 {
        let (status, _, _) = send(
            internal_app(app.state.clone()),
            token_request(&token_body(IDENTITY)),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    *claude.answer.lock().unwrap() = None;
    let (status, _, _) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let seen = claude.seen.lock().unwrap().clone();
    let jtis: HashSet<String> = seen.iter().map(jti_of).collect();
    assert_eq!(
        (seen.len(), jtis.len()),
        (10, 10),
        "3 requests × 3 attempts, then 1"
    );
}

#[tokio::test]
async fn unknown_identity_and_other_server_are_denied() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body("spiffe://x/other")),
    )
    .await;
    error_of(status, &body, ErrorCode::AccessDenied);
    let other = serde_json::json!({"client_workload": IDENTITY, "server_workload": "example.com"})
        .to_string();
    let (status, _, body) = send(internal_app(app.state.clone()), token_request(&other)).await;
    let error = error_of(status, &body, ErrorCode::AccessDenied);
    assert!(
        error.error_description.contains("no access policy"),
        "{body}"
    );
    assert_eq!(claude.calls(), 0);
}

#[tokio::test]
async fn inactive_provider_is_denied() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        token_request(&token_body("off-app")),
    )
    .await;
    let error = error_of(status, &body, ErrorCode::AccessDenied);
    assert!(error.error_description.contains("inactive"), "{body}");
    assert_eq!(claude.calls(), 0);
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let app = app("http://127.0.0.1:9").await;
    let long = "a".repeat(MAX_IDENTITY_LEN + 1);
    let bodies = [
        "not json".to_owned(),
        r#"{"client_workload":"a"}"#.to_owned(),
        r#"{"client_workload":"a","server_workload":"api.anthropic.com","x":1}"#.to_owned(),
        token_body(""),
        token_body(&long),
        token_body("spiffe://a\nb"),
        serde_json::json!({"client_workload": IDENTITY, "server_workload": ""}).to_string(),
        format!(
            r#"{{"client_workload":"{}","server_workload":"a"}}"#,
            "a".repeat(70 * 1024)
        ),
    ];
    for body in bodies {
        let (status, _, answer) = send(internal_app(app.state.clone()), token_request(&body)).await;
        error_of(status, &answer, ErrorCode::InvalidRequest);
    }
    let (_, _, metrics) = send(internal_app(app.state.clone()), get("/metrics")).await;
    assert!(
        metrics.contains("issuer_svc_token_requests_total{result=\"invalid_request\"} 8\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn internal_api_key_is_required_when_configured() {
    let claude = FakeClaude::default();
    let base = claude.start().await;
    let app = app_from(|dir| {
        std::fs::create_dir_all(dir).unwrap();
        let key = dir.join("../api-key");
        std::fs::write(&key, "k3y-value\n").unwrap();
        config_text(
            &base,
            dir,
            &format!("internal_api_key_file = \"{}\"", key.display()),
            "",
        )
    });
    let with_auth = |auth: Option<&str>| {
        let mut request = Request::post("/v1/token").header("content-type", "application/json");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.body(Body::from(token_body(IDENTITY))).unwrap()
    };
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic k3y-value"),
        Some("Bearer k3y-valu"),
    ] {
        let (status, headers, body) = send(internal_app(app.state.clone()), with_auth(auth)).await;
        error_of(status, &body, ErrorCode::Unauthorized);
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    let (status, _, body) = send(
        internal_app(app.state.clone()),
        with_auth(Some("Bearer k3y-value")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = send(
        internal_app(app.state.clone()),
        with_auth(Some("bearer k3y-value")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claude.calls(), 1);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = app("http://127.0.0.1:9").await;
    let (status, _, body) = send(internal_app(app.state.clone()), get("/healthz")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, _, _) = send(internal_app(app.state.clone()), get("/readyz")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, body) = send(internal_app(app.state.clone()), get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(body.contains("# TYPE issuer_svc_token_requests_total counter"));
    let (status, _, _) = send(internal_app(app.state.clone()), get("/v1/token")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let _ = Arc::clone(&app.state.config);
}

/// A cached token is answered with the time it has left, never its original
/// lifetime: a filter (another Envoy, a gateway replica, one restarted) would
/// otherwise cache an aged token past its real expiry.
#[tokio::test]
async fn a_cached_token_is_answered_with_the_time_it_has_left() {
    let claude = FakeClaude::default();
    let base = claude.start().await;
    let clock = Arc::new(issuer_svc::clock::ManualClock::at_unix(0));
    let app = app_with_clock(|dir| config_text(&base, dir, "", ""), clock.clone());
    // Stopped just after the signing key was made (it is active from then).
    let now = issuer_svc::clock::Clock::now(&issuer_svc::clock::SystemClock);
    clock.set(now + std::time::Duration::from_secs(1));
    let ask = || async {
        let (status, _, body) = send(
            internal_app(app.state.clone()),
            token_request(&token_body(IDENTITY)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<TokenResponse>(&body).unwrap()
    };
    let first = ask().await;
    assert_eq!(first.expires_in, 3600);
    clock.advance(std::time::Duration::from_secs(1000));
    let second = ask().await;
    assert_eq!(claude.calls(), 1, "answered from the cache");
    assert!(
        second.access_token.expose() == first.access_token.expose(),
        "the same token"
    );
    assert_eq!(second.expires_in, 2600, "the time it has left");
}
