//! Public keys as JWKs (RFC 7517) and their RFC 7638 thumbprints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KeyError;

/// One public key as published in the JWKS. Holds no private member by
/// construction: there is no field for one (`d`, `p`, `q`, `dp`, `dq`, `qi`).
/// EC keys carry `crv`, `x`, `y`; RSA keys carry `n`, `e`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// The document served at `<issuer>/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// The JWK of a P-256 public key in uncompressed form (`0x04 || X || Y`).
    pub fn es256(public_point: &[u8]) -> Result<Jwk, KeyError> {
        let (x, y) = match public_point {
            [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
            _ => return Err(KeyError::Invalid("not an uncompressed P-256 point".into())),
        };
        let x = URL_SAFE_NO_PAD.encode(x);
        let y = URL_SAFE_NO_PAD.encode(y);
        Ok(Jwk {
            kid: ec_p256_thumbprint(&x, &y),
            kty: "EC".into(),
            crv: Some("P-256".into()),
            x: Some(x),
            y: Some(y),
            n: None,
            e: None,
            alg: "ES256".into(),
            use_: "sig".into(),
        })
    }

    /// The JWK of an RSA public key from its big-endian modulus and exponent
    /// (without leading zeros).
    pub fn rs256(modulus: &[u8], exponent: &[u8]) -> Result<Jwk, KeyError> {
        if modulus.first().is_none_or(|b| *b == 0) || exponent.first().is_none_or(|b| *b == 0) {
            return Err(KeyError::Invalid(
                "RSA modulus and exponent must be non-empty, without leading zeros".into(),
            ));
        }
        let n = URL_SAFE_NO_PAD.encode(modulus);
        let e = URL_SAFE_NO_PAD.encode(exponent);
        Ok(Jwk {
            kid: rsa_thumbprint(&n, &e),
            kty: "RSA".into(),
            crv: None,
            x: None,
            y: None,
            n: Some(n),
            e: Some(e),
            alg: "RS256".into(),
            use_: "sig".into(),
        })
    }
}

/// RFC 7638 thumbprint of a P-256 key: SHA-256 over the required members in
/// lexical order, without whitespace, base64url without padding.
pub fn ec_p256_thumbprint(x: &str, y: &str) -> String {
    thumbprint(&format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
    ))
}

/// RFC 7638 thumbprint of an RSA key (`{"e","kty","n"}`).
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#))
}

fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_known_vector() {
        // The EC key of RFC 7517 appendix A.1; thumbprint computed independently.
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        assert_eq!(
            ec_p256_thumbprint(x, y),
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        );
    }

    #[test]
    fn rsa_thumbprint_matches_rfc7638_example() {
        // RFC 7638 section 3.1.
        let n = concat!(
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP",
            "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY",
            "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f",
            "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        );
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn es256_jwk_rejects_compressed_or_short_points() {
        assert!(Jwk::es256(&[0x02; 33]).is_err());
        assert!(Jwk::es256(&[0x04; 64]).is_err());
        assert!(Jwk::es256(&[]).is_err());
    }

    #[test]
    fn rs256_jwk_rejects_empty_or_padded_integers() {
        assert!(Jwk::rs256(&[], &[1, 0, 1]).is_err());
        assert!(Jwk::rs256(&[0, 9], &[1, 0, 1]).is_err());
        assert!(Jwk::rs256(&[9; 256], &[]).is_err());
    }

    fn member_names(jwk: &Jwk) -> Vec<String> {
        let json = serde_json::to_value(jwk).unwrap();
        let mut names: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn jwk_serializes_public_members_only() {
        let mut point = vec![0x04];
        point.extend([7u8; 64]);
        let jwk = Jwk::es256(&point).unwrap();
        assert_eq!(
            member_names(&jwk),
            ["alg", "crv", "kid", "kty", "use", "x", "y"]
        );
        let rsa = Jwk::rs256(&[0xc3; 256], &[1, 0, 1]).unwrap();
        assert_eq!(member_names(&rsa), ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(rsa.e.as_deref(), Some("AQAB"));
    }
}
