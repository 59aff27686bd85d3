//! The public listener: discovery document and JWKS, and nothing else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use issuer_svc::{internal_app, public_app};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

const ISSUER: &str = "http://127.0.0.1:8081/providers/claude-demo";

#[tokio::test]
async fn discovery_document_has_the_documented_shape() {
    let app = app("http://127.0.0.1:9").await;
    let (status, headers, body) = send(
        public_app(app.state.clone()),
        get("/providers/claude-demo/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        body.contains(&format!(r#""issuer":"{ISSUER}""#)),
        "byte-exact issuer: {body}"
    );
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "issuer": ISSUER,
            "jwks_uri": format!("{ISSUER}/jwks.json"),
            "id_token_signing_alg_values_supported": ["ES256"],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        })
    );
}

#[tokio::test]
async fn jwks_has_public_members_only() {
    let app = app("http://127.0.0.1:9").await;
    let (status, headers, body) = send(
        public_app(app.state.clone()),
        get("/providers/claude-demo/jwks.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "public, max-age=300");
    let jwks: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().unwrap();
    let mut members: Vec<&str> = key.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert_eq!(
        (key["alg"].as_str(), key["use"].as_str()),
        (Some("ES256"), Some("sig"))
    );
    assert!(key.get("d").is_none());
}

#[tokio::test]
async fn inactive_provider_still_publishes_its_issuer() {
    let app = app("http://127.0.0.1:9").await;
    let (status, _, body) = send(
        public_app(app.state.clone()),
        get("/providers/claude-off/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("http://127.0.0.1:8081/providers/claude-off"));
}

#[tokio::test]
async fn nothing_else_is_reachable() {
    let app = app("http://127.0.0.1:9").await;
    for path in [
        "/providers/nope/.well-known/openid-configuration",
        "/providers/nope/jwks.json",
        "/providers/claude-demo",
        "/providers/claude-demo/other",
        "/v1/token",
        "/metrics",
        "/healthz",
        "/",
    ] {
        let (status, _, _) = send(public_app(app.state.clone()), get(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let post = Request::post("/providers/claude-demo/jwks.json")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(public_app(app.state.clone()), post).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let post = Request::post("/v1/token")
        .body(Body::from(token_body(IDENTITY)))
        .unwrap();
    let (status, _, _) = send(public_app(app.state.clone()), post).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn exchanged_assertion_verifies_against_the_published_jwks() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let (status, _, _) = send(
        internal_app(app.state.clone()),
        token_request(&token_body(IDENTITY)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let jwt = claude.seen.lock().unwrap()[0].body["assertion"]
        .as_str()
        .unwrap()
        .to_owned();

    let (_, _, body) = send(
        public_app(app.state.clone()),
        get("/providers/claude-demo/jwks.json"),
    )
    .await;
    let jwks: JwkSet = serde_json::from_str(&body).unwrap();
    let header = decode_header(&jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid is published");

    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&["https://api.anthropic.com"]);
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp", "iat", "nbf"]);
    let claims =
        decode::<serde_json::Value>(&jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap()
            .claims;
    assert_eq!(claims["sub"], IDENTITY);
    let (iat, nbf, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["nbf"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(iat, nbf);
    assert_eq!(exp - iat, 3600);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn kid_is_stable_across_restart_on_the_same_state_dir() {
    let first = app("http://127.0.0.1:9").await;
    let state_dir = first.dir.path().join("state");
    let again = app_from(|_| config_text("http://127.0.0.1:9", &state_dir, "", ""));
    let jwks = |state| async move {
        send(public_app(state), get("/providers/claude-demo/jwks.json"))
            .await
            .2
    };
    assert_eq!(
        jwks(first.state.clone()).await,
        jwks(again.state.clone()).await
    );
}
