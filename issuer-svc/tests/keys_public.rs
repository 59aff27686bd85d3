//! What the public listener says about keys: JWKS membership by time, the
//! algorithms in discovery, cache headers and conditional requests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use issuer_svc::clock::{Clock, ManualClock, SystemClock};
use issuer_svc::keys::KeyStore;
use issuer_svc::public_app;

const JWKS: &str = "/providers/claude-demo/jwks.json";
const DISCOVERY: &str = "/providers/claude-demo/.well-known/openid-configuration";

#[tokio::test]
async fn rs256_rotation_is_published_ahead_with_short_cache_and_no_private_members() {
    // The shared helper generates the first key on the real clock.
    let clock = Arc::new(ManualClock::at_unix(SystemClock.unix_seconds() + 2));
    let app = app_with_clock(
        |dir| {
            config_text(
                "http://127.0.0.1:9",
                dir,
                "",
                "[keys]\nalgorithm = \"RS256\"\npublish_ahead = \"90s\"\n",
            )
        },
        clock.clone(),
    );
    let config = app.state.config.current();
    let store = KeyStore::open(&config.config.server.state_dir).unwrap();
    let rotation = store
        .rotate(&config.config.key_policy(), clock.as_ref())
        .unwrap();
    app.state.keys.replace(rotation.keys);

    let (status, headers, body) = send(public_app(app.state.clone()), get(JWKS)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "public, max-age=30");
    assert_eq!(headers["content-type"], "application/json");
    let jwks: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let rsa = keys.iter().find(|k| k["kty"] == "RSA").unwrap();
    assert_eq!(rsa["kid"], rotation.kid.as_str());
    assert_eq!(
        (rsa["alg"].as_str(), rsa["use"].as_str()),
        (Some("RS256"), Some("sig"))
    );
    let mut members: Vec<&str> = rsa
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(
            !body.contains(&format!("\"{private}\"")),
            "{private}: {body}"
        );
    }

    let (_, headers, body) = send(public_app(app.state.clone()), get(DISCOVERY)).await;
    assert_eq!(headers["cache-control"], "public, max-age=30");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "RS256"])
    );
    let now = clock.now();
    assert_ne!(
        app.state.keys.current().active(now).unwrap().kid(),
        rotation.kid
    );
    clock.advance(Duration::from_secs(90));
    assert_eq!(
        app.state.keys.current().active(clock.now()).unwrap().kid(),
        rotation.kid
    );
    // The ES256 key leaves after its last assertion expired (1 h + 30 s).
    clock.advance(Duration::from_secs(3630));
    let (_, _, body) = send(public_app(app.state.clone()), get(DISCOVERY)).await;
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
}

#[tokio::test]
async fn jwks_carries_an_etag_and_answers_if_none_match_with_304() {
    let app = app("http://127.0.0.1:9").await;
    let (_, headers, body) = send(public_app(app.state.clone()), get(JWKS)).await;
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let conditional = |tag: &str| {
        Request::get(JWKS)
            .header("if-none-match", tag)
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, empty) = send(public_app(app.state.clone()), conditional(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(empty.is_empty());
    assert_eq!(headers["etag"], etag.as_str());
    assert_eq!(headers["cache-control"], "public, max-age=300");
    let (status, _, again) = send(public_app(app.state.clone()), conditional("\"other\"")).await;
    assert_eq!((status, again), (StatusCode::OK, body));
}
