use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

use super::*;

/// Unpadded base64url of `bytes`.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub const RSA_PEM: &str = include_str!("testdata/rsa.pem");
pub const EC_PEM: &str = include_str!("testdata/ec.pem");
pub const RSA_JWK: &str = include_str!("testdata/rsa.jwk.json");
pub const EC_JWK: &str = include_str!("testdata/ec.jwk.json");
pub const ISSUER: &str = "https://kubernetes.default.svc";
pub const AUDIENCE: &str = "claude-wif";
pub const NOW: u64 = 1_700_000_000;

pub fn source() -> JwtSource {
    let keys = [RSA_JWK, EC_JWK]
        .iter()
        .map(|j| key(&serde_json::from_str(j).unwrap()).unwrap())
        .collect();
    JwtSource {
        header: "authorization".into(),
        issuer: ISSUER.into(),
        audiences: vec![AUDIENCE.into(), "other".into()],
        claim: "sub".into(),
        leeway_s: 30,
        max_lifetime_s: 86_400,
        keys,
    }
}

/// The key of a JWK (built with `json!` in tests), read as the configuration
/// reads it; a type error shows as `path: message`.
pub fn key(jwk: &serde_json::Value) -> Result<JwtKey, String> {
    let jwk: Jwk = crate::de::from_slice(jwk.to_string().as_bytes()).map_err(|e| e.to_string())?;
    JwtKey::try_from(jwk)
}

pub fn claims(sub: &str) -> serde_json::Value {
    json!({"iss": ISSUER, "aud": [AUDIENCE], "sub": sub, "exp": NOW + 600, "iat": NOW})
}

pub fn sign_rs256(claims: &serde_json::Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub fn sign_es256(claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".into());
    encode(
        &header,
        claims,
        &EncodingKey::from_ec_pem(EC_PEM.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn rejects(token: &str) -> String {
    verify(&source(), token, NOW).unwrap_err()
}

#[test]
fn rs256_and_es256_tokens_verify_and_yield_the_claim() {
    let id = "system:serviceaccount:demo:app";
    assert_eq!(
        verify(&source(), &sign_rs256(&claims(id), Some("rsa-1")), NOW).unwrap(),
        id
    );
    assert_eq!(
        verify(&source(), &sign_rs256(&claims(id), None), NOW).unwrap(),
        id
    );
    assert_eq!(
        verify(&source(), &sign_es256(&claims(id)), NOW).unwrap(),
        id
    );
}

#[test]
fn a_configured_claim_other_than_sub_is_used() {
    let mut src = source();
    src.claim = "spiffe".into();
    let mut c = claims("ignored");
    c["spiffe"] = json!("spiffe://c/ns/a/sa/b");
    assert_eq!(
        verify(&src, &sign_rs256(&c, None), NOW).unwrap(),
        "spiffe://c/ns/a/sa/b"
    );
    c["spiffe"] = json!(42);
    assert_eq!(
        verify(&src, &sign_rs256(&c, None), NOW).unwrap_err(),
        "claim spiffe is missing or not a string"
    );
}

#[test]
fn forged_or_tampered_tokens_are_refused() {
    let token = sign_rs256(&claims("a"), None);
    let (head, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let other_payload = b64(claims("admin").to_string());
    assert_eq!(
        rejects(&format!("{head}.{other_payload}.{sig}")),
        "signature does not verify"
    );
    assert_eq!(rejects("not-a-jwt"), "malformed JWT");
    // HS256 signed with the RSA key's public material: alg confusion.
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims("a"),
        &EncodingKey::from_secret(RSA_JWK.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(rejects(&hs), "alg must be RS256 or ES256");
    assert_eq!(
        rejects(&sign_rs256(&claims("a"), Some("unknown"))),
        "no configured key matches the JWT's kid and alg"
    );
    assert!(rejects(&"a".repeat(MAX_JWT_LEN + 1)).contains("longer than"));
}

#[test]
fn claims_are_checked() {
    let mut c = claims("a");
    c["iss"] = json!("https://evil");
    assert_eq!(rejects(&sign_rs256(&c, None)), "iss does not match");
    let mut c = claims("a");
    c["aud"] = json!("someone-else");
    assert_eq!(rejects(&sign_rs256(&c, None)), "aud does not match");
    c["aud"] = json!("other");
    assert!(
        verify(&source(), &sign_rs256(&c, None), NOW).is_ok(),
        "aud as a string"
    );
    let mut c = claims("a");
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        rejects(&sign_rs256(&c, None)),
        "exp is missing or not a number"
    );
    let mut c = claims("a");
    c["sub"] = json!("");
    assert_eq!(
        rejects(&sign_rs256(&c, None)),
        "claim sub must not be empty"
    );
}

#[test]
fn time_claims_use_the_given_clock_with_leeway() {
    let mut c = claims("a");
    c["exp"] = json!(NOW - 29);
    assert!(
        verify(&source(), &sign_rs256(&c, None), NOW).is_ok(),
        "inside the leeway"
    );
    c["exp"] = json!(NOW - 30);
    assert_eq!(rejects(&sign_rs256(&c, None)), "the JWT has expired");
    let mut c = claims("a");
    c["nbf"] = json!(NOW + 30);
    assert!(verify(&source(), &sign_rs256(&c, None), NOW).is_ok());
    c["nbf"] = json!(NOW + 31);
    assert_eq!(rejects(&sign_rs256(&c, None)), "the JWT is not valid yet");
}

#[test]
fn only_public_rsa_and_p256_keys_are_accepted() {
    let refuse = |v: serde_json::Value| key(&v).unwrap_err();
    assert!(refuse(json!({"kty": "oct", "k": "c2VjcmV0"})).contains("public key"));
    let mut private: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
    private["d"] = json!("AQAB");
    assert!(refuse(private).contains("public key"));
    let mut wrong_alg: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
    wrong_alg["alg"] = json!("ES256");
    assert!(refuse(wrong_alg).contains("alg must be"));
    assert!(refuse(json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})).contains("kty"));
    assert!(key(&json!({"kty": "RSA"})).is_err());
    let ec = key(&serde_json::from_str(EC_JWK).unwrap()).unwrap();
    assert_eq!(ec.alg, KeyAlg::Es256);
    assert_eq!(ec.kid.as_deref(), Some("ec-1"));
    assert!(!format!("{ec:?}").contains("x\""));
}

fn with_signature(token: &str, signature: &str) -> String {
    let (signed, _) = token.rsplit_once('.').unwrap();
    format!("{signed}.{signature}")
}

#[test]
fn malformed_signatures_are_refused() {
    let rs = sign_rs256(&claims("a"), None);
    let es = sign_es256(&claims("a"));
    for token in [&rs, &es] {
        let sig = token.rsplit_once('.').unwrap().1;
        // Not base64url at all.
        assert_eq!(rejects(&with_signature(token, "!!!")), "malformed JWT");
        assert_eq!(
            rejects(&with_signature(token, &format!("{sig}="))),
            "malformed JWT"
        );
        // Well-formed base64url of the wrong bytes or lengths.
        for bad in [
            "",
            "AA",
            &sig[..sig.len() - 6],
            &format!("{sig}AAAA"),
            &"A".repeat(sig.len()),
        ] {
            assert_eq!(
                rejects(&with_signature(token, bad)),
                "signature does not verify",
                "{bad:?}"
            );
        }
    }
    // ES256 with r = 0 / s = 0, and with s >= the group order.
    let zero = b64([0u8; 64]);
    assert_eq!(
        rejects(&with_signature(&es, &zero)),
        "signature does not verify"
    );
    let high = b64([0xffu8; 64]);
    assert_eq!(
        rejects(&with_signature(&es, &high)),
        "signature does not verify"
    );
    // An ES256 signature presented as RS256 and vice versa.
    let es_sig = es.rsplit_once('.').unwrap().1;
    assert_eq!(
        rejects(&with_signature(&rs, es_sig)),
        "signature does not verify"
    );
}

#[test]
fn malformed_tokens_are_refused() {
    let token = sign_rs256(&claims("a"), None);
    assert_eq!(rejects(&format!("{token}.x")), "malformed JWT");
    assert_eq!(rejects(token.rsplit_once('.').unwrap().0), "malformed JWT");
    assert_eq!(rejects("..."), "malformed JWT");
    let body = token.split('.').nth(1).unwrap();
    let no_alg = b64(r#"{"typ":"JWT"}"#);
    assert_eq!(rejects(&format!("{no_alg}.{body}.AA")), "malformed JWT");
    let none = b64(r#"{"alg":"none"}"#);
    assert_eq!(
        rejects(&format!("{none}.{body}.")),
        "alg must be RS256 or ES256"
    );
}

#[test]
fn malformed_keys_are_refused() {
    let refuse = |v: serde_json::Value| key(&v).unwrap_err();
    let rsa: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
    let ec: serde_json::Value = serde_json::from_str(EC_JWK).unwrap();
    assert_eq!(
        refuse(json!("RSA")),
        ".: expected an object, found a string"
    );
    assert_eq!(
        refuse(json!(["RSA"])),
        ".: expected an object, found an array"
    );
    assert!(refuse(json!({"n": "AQAB"})).contains("kty is missing"));
    assert_eq!(
        refuse(json!({"kty": 1})),
        "kty: expected a string, found a number"
    );
    assert!(refuse(json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"})).contains("kty"));
    let mut k = rsa.clone();
    k["n"] = json!("not base64!");
    assert!(refuse(k).contains("n is not unpadded base64url"));
    let mut k = rsa.clone();
    k["n"] = json!("AQAB");
    assert!(refuse(k).contains("bits"), "a tiny modulus");
    let mut k = rsa.clone();
    k.as_object_mut().unwrap().remove("e");
    assert!(refuse(k).contains("e is missing"));
    let mut k = rsa.clone();
    k["e"] = json!("Ag");
    assert!(refuse(k).contains("exponent"));
    let mut k = ec.clone();
    k["x"] = json!("AAAA");
    assert!(refuse(k).contains("32 bytes"));
    let mut k = ec.clone();
    k["y"] = k["x"].clone();
    assert!(refuse(k).contains("not a point on P-256"));
    let mut k = ec.clone();
    k["kid"] = json!(7);
    assert_eq!(refuse(k), "kid: expected a string, found a number");
    // Padded base64url members are refused (RFC 7515 §2: no padding).
    let mut k = rsa.clone();
    k["e"] = json!("AQAB====");
    assert!(refuse(k).contains("e is not unpadded base64url"));
}

#[test]
fn a_signature_by_another_key_of_the_same_kid_is_refused() {
    // The source holds only the EC key; an RS256 token has no candidate key,
    // and an ES256 token signed by the RSA key's owner cannot verify.
    let mut src = source();
    src.keys.retain(|k| k.alg == KeyAlg::Es256);
    assert_eq!(
        verify(&src, &sign_rs256(&claims("a"), Some("ec-1")), NOW).unwrap_err(),
        "no configured key matches the JWT's kid and alg"
    );
    assert!(verify(&src, &sign_es256(&claims("a")), NOW).is_ok());
}

/// An RS256 JWT over the exact header and claims JSON given.
pub fn sign_raw_rs256(header: &str, claims: &str) -> String {
    let signed = format!("{}.{}", b64(header), b64(claims));
    let key = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(signed.as_bytes(), &key, Algorithm::RS256).unwrap();
    format!("{signed}.{signature}")
}

#[test]
fn jose_header_kid_may_be_null_but_not_another_type() {
    let claims = claims("a").to_string();
    let verify_with = |header: &str| verify(&source(), &sign_raw_rs256(header, &claims), NOW);
    assert_eq!(verify_with(r#"{"alg":"RS256"}"#).unwrap(), "a");
    assert_eq!(verify_with(r#"{"alg":"RS256","kid":null}"#).unwrap(), "a");
    assert_eq!(
        verify_with(r#"{"alg":"RS256","kid":"rsa-1","typ":"JWT","x":[{}]}"#).unwrap(),
        "a"
    );
    for header in [
        r#"{"alg":"RS256","kid":7}"#,
        r#"{"alg":"RS256","alg":"RS256"}"#,
        r#"{"alg":null}"#,
        r#"["RS256"]"#,
        r#"{"alg":"RS256"} x"#,
        "",
    ] {
        assert_eq!(
            verify_with(header).unwrap_err(),
            "malformed JWT",
            "{header}"
        );
    }
}

#[test]
fn claims_must_be_one_strict_json_object() {
    let header = r#"{"alg":"RS256"}"#;
    let verify_with = |claims: &str| verify(&source(), &sign_raw_rs256(header, claims), NOW);
    let exp = NOW + 600;
    let good =
        format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{exp},"sub":"\u0061\u00e9"}}"#);
    assert_eq!(verify_with(&good).unwrap(), "aé");
    for bad in [
        // A second `sub` could shadow the first for another reader.
        format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{exp},"sub":"a","sub":"b"}}"#),
        format!(r#"["{ISSUER}"]"#),
        format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{exp},"sub":"a"}}x"#),
        format!(r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":0{exp},"sub":"a"}}"#),
        format!(r#"{{"iss":"{ISSUER}","sub":"\ud800"}}"#),
    ] {
        assert_eq!(
            verify_with(&bad).unwrap_err(),
            "the JWT's claims are not a JSON object",
            "{bad}"
        );
    }
    for (exp, reason) in [
        (format!("{exp}.0"), "exp is missing or not a number"),
        (format!("{exp}e0"), "exp is missing or not a number"),
        ("-1".to_owned(), "exp is missing or not a number"),
        (
            "18446744073709551615".to_owned(),
            "exp is more than max_lifetime_s (86400s) ahead",
        ),
        ((NOW + 600).to_string(), "claim sub must not be empty"),
    ] {
        let claims =
            format!(r#"{{"iss":"{ISSUER}","aud":["x","{AUDIENCE}"],"exp":{exp},"sub":""}}"#);
        assert_eq!(verify_with(&claims).unwrap_err(), reason, "{exp}");
    }
}

#[test]
fn a_token_without_a_string_audience_of_ours_is_refused() {
    let mut c = claims("a");
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        rejects(&sign_rs256(&c, None)),
        "aud does not match",
        "no aud"
    );
    for aud in [
        json!(null),
        json!(7),
        json!(true),
        json!({"aud": AUDIENCE}),
        json!([]),
        json!([7, null]),
        json!([[AUDIENCE]]),
        json!(""),
        json!(format!("{AUDIENCE} ")),
    ] {
        let mut c = claims("a");
        c["aud"] = aud.clone();
        assert_eq!(
            rejects(&sign_rs256(&c, None)),
            "aud does not match",
            "aud {aud}"
        );
    }
    let mut c = claims("a");
    c["aud"] = json!([7, "x", AUDIENCE]);
    assert!(
        verify(&source(), &sign_rs256(&c, None), NOW).is_ok(),
        "one string of ours among others is enough"
    );
}

#[test]
fn a_large_but_legal_token_is_accepted() {
    let mut c = claims("a");
    c["pad"] = json!("x".repeat(6000));
    let token = sign_rs256(&c, None);
    assert!(
        token.len() > 8 * 1024 && token.len() <= MAX_JWT_LEN,
        "{}",
        token.len()
    );
    assert!(
        verify(&source(), &token, NOW).is_ok(),
        "a token under 16 KiB"
    );
}
