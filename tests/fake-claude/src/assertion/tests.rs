use super::*;
use crate::test_support::{NOW, SUBJECT, TestKey, claims, config};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

const ISSUER: &str = "https://issuer.example.com/providers/demo";

fn raw(text: &str) -> RawAssertion {
    RawAssertion(text.to_owned())
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Signs `claims` with a fresh ES256 key and runs every check after parsing.
fn check(claims: Value) -> Result<CheckedClaims, Denial> {
    check_at(claims, NOW)
}

fn check_at(claims: Value, now: i64) -> Result<CheckedClaims, Denial> {
    let key = TestKey::es256("k1");
    let jwt = raw(&key.sign(&claims));
    let config = config(ISSUER);
    let parsed = parse(&jwt)?;
    check_issuer(&parsed, &config.issuers["fdis_demo"])?;
    verify_signature(&jwt, parsed.alg, &key.parsed_jwk())?;
    check_claims(
        &parsed,
        &config.issuers["fdis_demo"],
        &config.rules["fdrl_demo"],
        now,
    )
}

fn with(mut base: Value, name: &str, value: Value) -> Value {
    base[name] = value;
    base
}

fn without(mut base: Value, name: &str) -> Value {
    base.as_object_mut().unwrap().remove(name);
    base
}

#[test]
fn a_good_es256_assertion_passes_every_check() {
    let checked = check(claims(ISSUER, NOW)).unwrap();
    assert_eq!(checked.sub, SUBJECT);
    assert_eq!(checked.exp, NOW + 600);
    assert!(checked.jti.unwrap().starts_with("jti-"));
}

#[test]
fn an_es384_assertion_verifies_and_a_tampered_one_does_not() {
    let key = TestKey::es384("k384");
    let jwt = key.sign(&claims(ISSUER, NOW));
    let parsed = parse(&raw(&jwt)).unwrap();
    assert_eq!(parsed.alg, Algorithm::ES384);
    assert_eq!(parsed.kid, "k384");
    verify_signature(&raw(&jwt), parsed.alg, &key.parsed_jwk()).unwrap();

    let mut parts: Vec<&str> = jwt.split('.').collect();
    let forged = b64(&with(claims(ISSUER, NOW), "sub", json!("spiffe://evil")));
    parts[1] = &forged;
    let tampered = raw(&parts.join("."));
    assert_eq!(
        verify_signature(&tampered, parsed.alg, &key.parsed_jwk()),
        Err(Denial::BadSignature)
    );
    let other = TestKey::es384("k384");
    assert_eq!(
        verify_signature(&raw(&jwt), parsed.alg, &other.parsed_jwk()),
        Err(Denial::BadSignature)
    );
}

#[test]
fn a_key_whose_jwk_alg_differs_from_the_header_is_refused() {
    let key = TestKey::es256("k1");
    let jwt = raw(&key.sign(&claims(ISSUER, NOW)));
    let mut jwk = key.jwk.clone();
    jwk["alg"] = json!("ES384");
    let jwk = serde_json::from_value(jwk).unwrap();
    assert_eq!(
        verify_signature(&jwt, Algorithm::ES256, &jwk),
        Err(Denial::BadSignature)
    );
}

#[test]
fn hs256_none_and_eddsa_are_unsupported() {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let hs = jsonwebtoken::encode(
        &header,
        &claims(ISSUER, NOW),
        &EncodingKey::from_secret(b"s").unwrap(),
    )
    .unwrap();
    assert_eq!(parse(&raw(&hs)).unwrap_err(), Denial::UnsupportedAlg);
    let body = b64(&claims(ISSUER, NOW));
    for alg in ["none", "EdDSA", "ES512", "HS512"] {
        let jwt = format!("{}.{body}.c2ln", b64(&json!({"alg": alg, "kid": "k1"})));
        assert_eq!(
            parse(&raw(&jwt)).unwrap_err(),
            Denial::UnsupportedAlg,
            "{alg}"
        );
    }
}

#[test]
fn every_algorithm_claude_allows_and_fake_claude_verifies_is_taken_from_the_header() {
    let body = b64(&claims(ISSUER, NOW));
    for (name, alg) in [
        ("ES256", Algorithm::ES256),
        ("ES384", Algorithm::ES384),
        ("RS256", Algorithm::RS256),
        ("RS384", Algorithm::RS384),
        ("RS512", Algorithm::RS512),
        ("PS256", Algorithm::PS256),
        ("PS384", Algorithm::PS384),
        ("PS512", Algorithm::PS512),
    ] {
        assert_eq!(allowed_algorithm(name), Some(alg), "{name}");
        let jwt = format!("{}.{body}.c2ln", b64(&json!({"alg": name, "kid": "k1"})));
        assert_eq!(parse(&raw(&jwt)).unwrap().alg, alg, "{name}");
    }
    assert_eq!(allowed_algorithm("rs256"), None);
}

#[test]
fn an_assertion_of_exactly_16_kib_is_not_too_large_and_one_byte_more_is() {
    let header = b64(&json!({"alg": "ES256", "kid": "k1"}));
    let sized = |len: usize| {
        let fill = len - header.len() - ".e30.".len();
        raw(&format!("{header}.e30.{}", "A".repeat(fill)))
    };
    let exact = sized(MAX_ASSERTION_BYTES);
    assert_eq!(exact.0.len(), 16_384);
    assert_eq!(parse(&exact).unwrap().kid, "k1");
    let over = sized(MAX_ASSERTION_BYTES + 1);
    assert_eq!(parse(&over).unwrap_err(), Denial::AssertionTooLarge);
}

#[test]
fn shape_size_and_kid_are_checked_before_anything_else() {
    let body = b64(&claims(ISSUER, NOW));
    let header = b64(&json!({"alg": "ES256", "kid": "k1"}));
    assert_eq!(parse(&raw("a.b")).unwrap_err(), Denial::MalformedJwt);
    assert_eq!(
        parse(&raw(&format!("{header}.{body}."))).unwrap_err(),
        Denial::MalformedJwt
    );
    assert_eq!(
        parse(&raw(&format!("{header}.!!!.c2ln"))).unwrap_err(),
        Denial::MalformedJwt
    );
    let array = URL_SAFE_NO_PAD.encode("[1]");
    assert_eq!(
        parse(&raw(&format!("{header}.{array}.c2ln"))).unwrap_err(),
        Denial::MalformedJwt
    );
    let no_kid = b64(&json!({"alg": "ES256"}));
    assert_eq!(
        parse(&raw(&format!("{no_kid}.{body}.c2ln"))).unwrap_err(),
        Denial::MissingKid
    );
    let empty_kid = b64(&json!({"alg": "ES256", "kid": ""}));
    assert_eq!(
        parse(&raw(&format!("{empty_kid}.{body}.c2ln"))).unwrap_err(),
        Denial::MissingKid
    );
    let big = format!("{header}.{}.c2ln", "A".repeat(MAX_ASSERTION_BYTES));
    assert_eq!(parse(&raw(&big)).unwrap_err(), Denial::AssertionTooLarge);
}

#[test]
fn issuer_must_match_byte_for_byte() {
    let trailing_slash = with(claims(ISSUER, NOW), "iss", json!(format!("{ISSUER}/")));
    assert_eq!(check(trailing_slash), Err(Denial::IssuerMismatch));
    assert_eq!(
        check(without(claims(ISSUER, NOW), "iss")),
        Err(Denial::IssuerMismatch)
    );
}

#[test]
fn subject_rules() {
    assert_eq!(
        check(without(claims(ISSUER, NOW), "sub")),
        Err(Denial::MissingSub)
    );
    assert_eq!(
        check(with(claims(ISSUER, NOW), "sub", json!(""))),
        Err(Denial::MissingSub)
    );
    let outside = with(
        claims(ISSUER, NOW),
        "sub",
        json!("spiffe://cluster.local/ns/prod/sa/x"),
    );
    assert_eq!(check(outside), Err(Denial::MatchSubjectPrefix));
    assert!(subject_matches("spiffe://a/b", "spiffe://a/b"));
    assert!(!subject_matches("spiffe://a/b", "spiffe://a/bc"));
    assert!(subject_matches("spiffe://a/*", "spiffe://a/bc"));
}

#[test]
fn audience_may_be_a_string_or_an_array_but_must_contain_the_rules() {
    let array = with(
        claims(ISSUER, NOW),
        "aud",
        json!(["x", "https://api.anthropic.com"]),
    );
    assert!(check(array).is_ok());
    let neither = with(claims(ISSUER, NOW), "aud", json!(["x", "y"]));
    assert_eq!(check(neither), Err(Denial::AudienceMismatch));
    let wrong = with(claims(ISSUER, NOW), "aud", json!("https://example.com"));
    assert_eq!(check(wrong), Err(Denial::AudienceMismatch));
    assert_eq!(
        check(without(claims(ISSUER, NOW), "aud")),
        Err(Denial::AudienceMismatch)
    );
}

#[test]
fn time_claims_with_30_seconds_of_leeway() {
    let c = || claims(ISSUER, NOW);
    assert_eq!(check(without(c(), "iat")), Err(Denial::MissingIat));
    assert_eq!(
        check(with(c(), "iat", json!("soon"))),
        Err(Denial::MalformedJwt)
    );
    assert!(check(with(c(), "iat", json!(NOW + 30))).is_ok());
    assert_eq!(
        check(with(c(), "iat", json!(NOW + 31))),
        Err(Denial::IatInFuture)
    );
    assert_eq!(check(without(c(), "exp")), Err(Denial::Expired));
    assert!(check_at(c(), NOW + 600 + 29).is_ok());
    assert_eq!(check_at(c(), NOW + 600 + 30), Err(Denial::Expired));
    assert!(check(with(c(), "nbf", json!(NOW + 30))).is_ok());
    assert_eq!(
        check(with(c(), "nbf", json!(NOW + 31))),
        Err(Denial::NbfInFuture)
    );
    assert!(check(without(c(), "nbf")).is_ok());
}

#[test]
fn lifetime_is_capped_by_the_issuer() {
    let ok = with(claims(ISSUER, NOW), "exp", json!(NOW + 3600));
    assert!(check(ok).is_ok());
    let long = with(claims(ISSUER, NOW), "exp", json!(NOW + 3601));
    assert_eq!(check(long), Err(Denial::LifetimeTooLong));
}

#[test]
fn jti_is_optional_but_must_be_a_string() {
    assert_eq!(
        check(without(claims(ISSUER, NOW), "jti")).unwrap().jti,
        None
    );
    assert_eq!(
        check(with(claims(ISSUER, NOW), "jti", json!(7))),
        Err(Denial::MalformedJwt)
    );
}

#[test]
fn raw_assertion_debug_is_redacted() {
    let shown = format!("{:?}", raw("eyJ.secret.sig"));
    assert!(!shown.contains("secret"), "{shown}");
    assert_eq!(shown, "RawAssertion([redacted, 14 bytes])");
}
