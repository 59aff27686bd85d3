//! RFC 7515/7517/7519 details (security review, finding 6): `crit`, the
//! keys' `use` and `key_ops`, padded base64url, `iat` and a bounded `exp`.

use serde_json::json;

use super::tests::{
    AUDIENCE, ISSUER, NOW, RSA_JWK, claims, key, sign_raw_rs256, sign_rs256, source,
};
use super::*;

fn verify_header(header: &str) -> Result<String, String> {
    verify(
        &source(),
        &sign_raw_rs256(header, &claims("a").to_string()),
        NOW,
    )
}

#[test]
fn a_jws_with_a_crit_header_is_refused_whatever_it_lists() {
    assert_eq!(verify_header(r#"{"alg":"RS256"}"#).unwrap(), "a");
    for header in [
        r#"{"alg":"RS256","crit":["exp"],"exp":1}"#,
        r#"{"alg":"RS256","crit":["b64"],"b64":true}"#,
        r#"{"alg":"RS256","crit":[]}"#,
        r#"{"alg":"RS256","crit":null}"#,
        r#"{"alg":"RS256","kid":"rsa-1","crit":["x-unknown"],"x-unknown":1}"#,
    ] {
        assert_eq!(
            verify_header(header).unwrap_err(),
            "the JWT's crit header names extensions that are not supported",
            "{header}"
        );
    }
}

fn rsa_with(member: &str, value: serde_json::Value) -> Result<JwtKey, String> {
    let mut jwk: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
    jwk[member] = value;
    key(&jwk)
}

#[test]
fn only_keys_for_verifying_signatures_are_accepted() {
    assert!(rsa_with("use", json!("sig")).is_ok());
    assert!(rsa_with("key_ops", json!(["verify"])).is_ok());
    assert!(rsa_with("key_ops", json!(["sign", "verify"])).is_ok());
    for (member, value, reason) in [
        ("use", json!("enc"), "use must be \"sig\""),
        ("use", json!(""), "use must be \"sig\""),
        ("use", json!(1), "use: expected a string, found a number"),
        (
            "key_ops",
            json!(["encrypt"]),
            "key_ops must include \"verify\"",
        ),
        ("key_ops", json!([]), "key_ops must include \"verify\""),
        (
            "key_ops",
            json!("verify"),
            "key_ops: expected an array, found a string",
        ),
        (
            "key_ops",
            json!(["verify", 1]),
            "key_ops[1]: expected a string, found a number",
        ),
    ] {
        let error = rsa_with(member, value.clone()).unwrap_err();
        assert!(error.contains(reason), "{member}={value}: {error}");
    }
}

#[test]
fn padded_or_non_canonical_base64url_is_refused_in_tokens_and_keys() {
    let token = sign_rs256(&claims("a"), None);
    let (head, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    for bad in [
        format!("{head}=.{payload}.{signature}"),
        format!("{head}.{payload}=.{signature}"),
        format!("{head}.{payload}.{signature}=="),
        format!(
            "{head}.{payload}.{}",
            signature.replace('-', "+").replace('_', "/")
        ),
    ] {
        if bad != token {
            assert!(verify(&source(), &bad, NOW).is_err(), "{bad}");
        }
    }
    for (member, value) in [("n", "AQAB="), ("e", "AQAB=")] {
        let mut jwk: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
        let original = jwk[member].as_str().unwrap().to_owned();
        jwk[member] = json!(if member == "n" {
            format!("{original}=")
        } else {
            value.to_owned()
        });
        let error = key(&jwk).unwrap_err();
        assert!(
            error.contains("not unpadded base64url"),
            "{member}: {error}"
        );
    }
}

fn verify_claims(claims: serde_json::Value) -> Result<String, String> {
    verify(&source(), &sign_rs256(&claims, None), NOW)
}

#[test]
fn iat_in_the_future_beyond_the_leeway_is_refused() {
    let mut c = claims("a");
    c["iat"] = json!(NOW + 30);
    assert_eq!(verify_claims(c.clone()).unwrap(), "a");
    c["iat"] = json!(NOW + 31);
    assert_eq!(
        verify_claims(c.clone()).unwrap_err(),
        "iat is in the future"
    );
    c["iat"] = json!("now");
    assert_eq!(verify_claims(c).unwrap_err(), "iat is not a number");
}

#[test]
fn exp_is_bounded_by_max_lifetime() {
    let day = 86_400;
    // Without iat: exp at most max_lifetime_s (+ leeway) ahead of the clock.
    let mut c = claims("a");
    c.as_object_mut().unwrap().remove("iat");
    c["exp"] = json!(NOW + day + 30);
    assert_eq!(verify_claims(c.clone()).unwrap(), "a");
    c["exp"] = json!(NOW + day + 31);
    assert_eq!(
        verify_claims(c.clone()).unwrap_err(),
        "exp is more than max_lifetime_s (86400s) ahead"
    );
    c["exp"] = json!(u64::MAX);
    assert!(verify_claims(c).is_err());
    // With iat: exp - iat at most max_lifetime_s.
    let mut c = claims("a");
    c["iat"] = json!(NOW - 100);
    c["exp"] = json!(NOW - 100 + day);
    assert_eq!(verify_claims(c.clone()).unwrap(), "a");
    c["exp"] = json!(NOW - 100 + day + 1);
    assert_eq!(
        verify_claims(c).unwrap_err(),
        "the JWT's lifetime (exp - iat) is longer than max_lifetime_s (86400s)"
    );
    // A shorter configured bound applies.
    let mut src = source();
    src.max_lifetime_s = 600;
    let mut c = claims("a");
    c["exp"] = json!(NOW + 601);
    assert!(verify(&src, &sign_rs256(&c, None), NOW).is_err());
    c["exp"] = json!(NOW + 600);
    assert_eq!(verify(&src, &sign_rs256(&c, None), NOW).unwrap(), "a");
}

#[test]
fn a_claim_read_here_may_appear_once_others_are_skipped_unread() {
    let header = r#"{"alg":"RS256"}"#;
    let verify_with = |claims: &str| verify(&source(), &sign_raw_rs256(header, claims), NOW);
    let base = format!(
        r#""iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"sub":"a""#,
        NOW + 600
    );
    for twice in [
        r#""aud":"x""#,
        r#""exp":1"#,
        r#""iss":"x""#,
        r#""sub":"b""#,
        r#""iat":1,"iat":1"#,
        r#""nbf":1,"nbf":1"#,
    ] {
        assert_eq!(
            verify_with(&format!("{{{base},{twice}}}")).unwrap_err(),
            "the JWT's claims are not a JSON object",
            "{twice}"
        );
    }
    // Members not read here are skipped: their duplicates, depth and
    // contents do not matter.
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let other = format!(r#"{{{base},"x":1,"x":{{"y":{deep}}},"roles":["a",{{}}]}}"#);
    assert_eq!(verify_with(&other).unwrap(), "a");
}
