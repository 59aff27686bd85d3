//! The filter's `jwt` identity source: any presented token is verified or
//! refused with a short reason that never quotes it; never a panic (a panic
//! would kill the Wasm VM of that Envoy worker). The first byte picks how the
//! rest becomes a token: as is; JWT-shaped (base64url header, claims and
//! signature from the input) to reach past the framing checks; or fuzzed
//! claims *validly signed* with a configured test key (ES256 or RS256), to
//! reach the claim checks. Only a validly signed token may be accepted, and
//! then only with an acceptable identity.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use claude_wif_filter::config::FilterConfig;
use claude_wif_filter::identity::IdentitySource;
use claude_wif_filter::jwt::{JwtSource, verify};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;

const RSA_PEM: &[u8] = include_bytes!("../../src/jwt/testdata/rsa.pem");
const EC_PEM: &[u8] = include_bytes!("../../src/jwt/testdata/ec.pem");
const RSA_JWK: &str = include_str!("../../src/jwt/testdata/rsa.jwk.json");
const EC_JWK: &str = include_str!("../../src/jwt/testdata/ec.jwk.json");

fn source() -> &'static JwtSource {
    static SOURCE: OnceLock<JwtSource> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let config = format!(
            r#"{{"issuer_cluster":"issuer_svc","identity":{{"source":"jwt","issuer":"https://kubernetes.default.svc.cluster.local","audiences":["claude-wif"],"keys":[{RSA_JWK},{EC_JWK}]}}}}"#
        );
        match FilterConfig::parse(config.as_bytes()).map(|c| c.identity) {
            Ok(IdentitySource::Jwt(source)) => *source,
            other => panic!("the fuzz jwt config must parse: {other:?}"),
        }
    })
}

fn keys() -> &'static (EncodingKey, EncodingKey) {
    static KEYS: OnceLock<(EncodingKey, EncodingKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            EncodingKey::from_ec_pem(EC_PEM).expect("ec.pem"),
            EncodingKey::from_rsa_pem(RSA_PEM).expect("rsa.pem"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut signed = false;
    // Signing is slow (RSA: ~10 ms): 3/16 of the inputs are ES256-signed,
    // 1/16 RS256-signed.
    let token = match mode % 16 {
        0..=5 => String::from_utf8_lossy(rest).into_owned(),
        6..=11 => {
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.splitn(3, '\n');
            let header = parts.next().unwrap_or_default();
            let claims = parts.next().unwrap_or_default();
            let signature = parts.next().unwrap_or_default();
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims),
                URL_SAFE_NO_PAD.encode(signature)
            )
        }
        n => {
            signed = true;
            let (alg, kid, key) = if n < 15 {
                (Algorithm::ES256, "ec-1", &keys().0)
            } else {
                (Algorithm::RS256, "rsa-1", &keys().1)
            };
            let header = format!(r#"{{"alg":"{alg:?}","typ":"JWT","kid":"{kid}"}}"#);
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(rest)
            );
            let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("signs");
            format!("{input}.{signature}")
        }
    };
    match verify(source(), &token, 1_700_000_000) {
        Ok(identity) => {
            assert!(
                signed,
                "a token not signed by a configured key was accepted as {identity}"
            );
            assert!(
                !identity.is_empty() && identity.len() <= 2048,
                "identity length {}",
                identity.len()
            );
            assert!(
                !identity.chars().any(char::is_control),
                "identity with control characters"
            );
        }
        Err(reason) => {
            // Reasons go into 401 bodies and log lines: short, and never the
            // token (short dot-less inputs may be substrings of the fixed
            // reason texts, so only JWT-shaped ones are checked).
            assert!(reason.len() <= 300, "a long reason: {reason}");
            let jwt_shaped = token.len() >= 16 && token.contains('.');
            assert!(
                !jwt_shaped || !reason.contains(&token),
                "the reason quotes the token"
            );
        }
    }
});
