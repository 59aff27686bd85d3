#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

use super::*;
use crate::clock::{Clock, SystemClock};
use crate::keys::SigningKey;
use crate::test_support::config;

const SUBJECT: &str = "spiffe://cluster.local/ns/demo/sa/app";

fn signed(now: u64) -> (SigningKey, SignedAssertion, AssertionClaims) {
    let (key, _) = SigningKey::generate_es256().unwrap();
    let provider = Arc::clone(&config().providers[0]);
    let claims = AssertionClaims::new(&provider, SUBJECT, now).unwrap();
    let signed = sign(&key, &claims).unwrap();
    (key, signed, claims)
}

use std::sync::Arc;

#[test]
fn assertion_verifies_against_published_jwks() {
    let now = SystemClock.unix_seconds();
    let (key, signed, _) = signed(now);
    let jwks_json = serde_json::to_string(&crate::keys::Jwks {
        keys: vec![key.jwk().clone()],
    })
    .unwrap();
    let jwks: JwkSet = serde_json::from_str(&jwks_json).unwrap();

    let jwt = signed.assertion.expose();
    let header = decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some(key.kid()));
    let jwk = jwks.find(key.kid()).unwrap();

    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["https://api.anthropic.com"]);
    validation.set_issuer(&["http://127.0.0.1:8081/providers/claude-demo"]);
    validation.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "sub", "aud"]);
    let data =
        decode::<AssertionClaims>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
    let claims = data.claims;
    assert_eq!(claims.sub, SUBJECT);
    assert_eq!(claims.iat, now);
    assert_eq!(claims.nbf, now);
    assert_eq!(claims.exp, now + 3600);
    assert_eq!(claims.jti.len(), 32);
    assert!(claims.jti.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn header_is_exactly_alg_typ_kid() {
    let (key, signed, _) = signed(1_000);
    let header_b64 = signed.assertion.expose().split('.').next().unwrap();
    let header = URL_SAFE_NO_PAD.decode(header_b64).unwrap();
    assert_eq!(
        String::from_utf8(header).unwrap(),
        format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#, key.kid())
    );
}

#[test]
fn configured_audience_and_lifetime_are_used() {
    let text = crate::test_support::config_text("").replace(
        "workspace_id = \"wrkspc_demo\"",
        "workspace_id = \"wrkspc_demo\"\n  audience = \"my-aud\"\n  lifetime = 600",
    );
    let loaded = crate::test_support::load(&text);
    let claims = AssertionClaims::new(&loaded.config.providers[0], SUBJECT, 50).unwrap();
    assert_eq!(claims.aud, "my-aud");
    assert_eq!(claims.exp, 650);
}

#[test]
fn every_assertion_gets_a_new_jti() {
    let provider = Arc::clone(&config().providers[0]);
    let a = AssertionClaims::new(&provider, SUBJECT, 1).unwrap();
    let b = AssertionClaims::new(&provider, SUBJECT, 1).unwrap();
    assert_ne!(a.jti, b.jti);
}

#[test]
fn oversized_assertion_is_refused() {
    let (key, _) = SigningKey::generate_es256().unwrap();
    let provider = Arc::clone(&config().providers[0]);
    let claims = AssertionClaims::new(&provider, &"s".repeat(MAX_ASSERTION_LEN), 1).unwrap();
    assert!(matches!(
        sign(&key, &claims),
        Err(SigningError::TooLarge(_))
    ));
}

#[test]
fn assertion_is_redacted_in_debug_and_display() {
    let (_, signed, _) = signed(1);
    let jwt = signed.assertion.expose().to_owned();
    let shown = format!("{:?} {} {:?}", signed.assertion, signed.assertion, signed);
    assert!(!shown.contains(&jwt[..20]), "{shown}");
    assert!(shown.contains("redacted"));
    assert_eq!(format!("{:?}", signed.assertion), "Assertion([redacted])");
    assert_eq!(signed.assertion.to_string(), "[redacted assertion]");
}

#[test]
fn an_assertion_for_the_longest_identity_is_signed() {
    let (key, _) = SigningKey::generate_es256().unwrap();
    let provider = Arc::clone(&config().providers[0]);
    let longest = "s".repeat(claude_wif_api::MAX_IDENTITY_LEN);
    let claims = AssertionClaims::new(&provider, &longest, 1).unwrap();
    let signed = sign(&key, &claims).unwrap();
    assert!(signed.assertion.expose().len() > claude_wif_api::MAX_IDENTITY_LEN);
    assert!(signed.assertion.expose().len() <= MAX_ASSERTION_LEN);
}

#[test]
fn rs256_assertion_verifies_against_published_jwks() {
    let (key, _) = SigningKey::generate_rs256().unwrap();
    let now = SystemClock.unix_seconds();
    let provider = Arc::clone(&config().providers[0]);
    let claims = AssertionClaims::new(&provider, SUBJECT, now).unwrap();
    let signed = sign(&key, &claims).unwrap();
    let jwks: JwkSet = serde_json::from_str(
        &serde_json::to_string(&crate::keys::Jwks {
            keys: vec![key.jwk().clone()],
        })
        .unwrap(),
    )
    .unwrap();
    let jwt = signed.assertion.expose();
    let header = decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(key.kid()));
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["https://api.anthropic.com"]);
    let jwk = jwks.find(key.kid()).unwrap();
    let data =
        decode::<AssertionClaims>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
    assert_eq!(data.claims, claims);
}
