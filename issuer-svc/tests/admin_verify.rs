//! The admin page's Verify button end to end: issuer-svc's public listener on
//! a real loopback socket (discovery and JWKS fetched as Claude would), an
//! in-test Claude token endpoint, and `POST /admin/providers/{id}/verify`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use issuer_svc::{internal_app, public_app};

/// An app whose `public_base_url` is its own public listener, served on a
/// real socket; returns the app and its internal router.
async fn serving_app(claude_base: &str) -> (TestApp, Router) {
    serving_app_with(claude_base, "").await
}

/// [`serving_app`] with `extra` appended to the configuration.
async fn serving_app_with(claude_base: &str, extra: &str) -> (TestApp, Router) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_base = format!("http://{}", listener.local_addr().unwrap());
    let app = app_from(|dir| {
        config_text(claude_base, dir, "", extra).replace("http://127.0.0.1:8081", &public_base)
    });
    let public = public_app(app.state.clone());
    tokio::spawn(async move { axum::serve(listener, public).await.unwrap() });
    let router = internal_app(app.state.clone());
    (app, router)
}

async fn verify(router: &Router, provider: &str) -> (StatusCode, String) {
    let (_, _, page) = send(
        router.clone(),
        Request::get("/admin")
            .header("host", "127.0.0.1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let start = page.find(r#"name="csrf-token" content=""#).unwrap() + 27;
    let csrf = page[start..].split('"').next().unwrap();
    let request = Request::post(format!("/admin/providers/{provider}/verify"))
        .header("host", "127.0.0.1")
        .header("x-csrf-token", csrf)
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = send(router.clone(), request).await;
    assert_eq!(headers["x-admin-fragment"], "1");
    (status, body)
}

#[tokio::test]
async fn a_good_provider_verifies_green_with_scope_and_lifetime() {
    let claude = FakeClaude::default();
    let (_app, router) = serving_app(&claude.start().await).await;
    let (status, banner) = verify(&router, "claude-demo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        banner.contains(r#"class="banner banner-ok" role="status""#),
        "{banner}"
    );
    assert!(banner.contains("Verified successfully"));
    assert!(banner.contains("workspace:developer"));
    assert!(banner.contains("1 h 0 min") && banner.contains("(3600 s)"));
    assert!(banner.contains("6 of 6 checks passed"));
    assert_eq!(claude.calls(), 1, "one real exchange");
    assert!(
        !banner.contains("sk-ant-oat01"),
        "the minted token is never shown"
    );
}

/// A provider granted only to a prefix identity (a namespace).
const PREFIX_ONLY: &str = r#"
[[credential_provider]]
id = "claude-ns"
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_ns"
  organization_id = "00000000-0000-4000-8000-000000000001"
  service_account_id = "svac_ns"

[[client_workload]]
id = "other-ns"
identity = "spiffe://cluster.local/ns/other/*"

[[access_policy]]
client_workload = "other-ns"
server_workload = "api.anthropic.com"
credential_provider = "claude-ns"
"#;

#[tokio::test]
async fn a_prefix_only_provider_verifies_with_a_subject_derived_under_the_prefix() {
    let claude = FakeClaude::default();
    let (_app, router) = serving_app_with(&claude.start().await, PREFIX_ONLY).await;
    let (status, banner) = verify(&router, "claude-ns").await;
    assert_eq!(status, StatusCode::OK);
    assert!(banner.contains("Verified successfully"), "{banner}");
    assert!(
        banner.contains("<code>spiffe://cluster.local/ns/other/issuer-svc-verify</code>"),
        "{banner}"
    );
    assert!(
        banner.contains("derived under client workload <code>other-ns</code>"),
        "the page says where the subject came from: {banner}"
    );
    assert_eq!(claude.calls(), 1, "one real exchange");
}

#[tokio::test]
async fn a_refused_exchange_is_red_with_the_failing_step_and_the_hint() {
    let claude = FakeClaude::default();
    claude.answer_with(
        401,
        r#"{"type":"error","error":{"type":"authentication_error","message":"audience_mismatch"}}"#,
    );
    let (_app, router) = serving_app(&claude.start().await).await;
    let (status, banner) = verify(&router, "claude-demo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        banner.contains(r#"class="banner banner-error" role="alert""#),
        "{banner}"
    );
    assert!(banner.contains("Verification failed at step 6 of 6"));
    assert!(banner.contains("Token exchange at Claude"));
    assert!(banner.contains("audience_mismatch"));
    assert!(banner.contains("What to check:"));
    assert!(
        banner.contains("credential_provider[0].claude_wif.audience"),
        "{banner}"
    );
    assert!(banner.contains("5 of 6 checks passed"));
}

#[tokio::test]
async fn an_unreachable_issuer_url_fails_at_discovery() {
    let dead = dead_addr().await;
    let app = app_from(|dir| {
        config_text("http://127.0.0.1:1", dir, "", "")
            .replace("http://127.0.0.1:8081", &format!("http://{dead}"))
    });
    let router = internal_app(app.state.clone());
    let (status, banner) = verify(&router, "claude-demo").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        banner.contains("Verification failed at step 2 of 6"),
        "{banner}"
    );
    assert!(banner.contains("Discovery document reachable"));
    assert!(banner.contains("server.public_base_url"));
}
