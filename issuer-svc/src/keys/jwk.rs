//! Public keys as JWKs (RFC 7517) and their RFC 7638 thumbprints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::KeyError;

/// One public key as published in the JWKS. Holds no private member by
/// construction: there is no field for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
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
            crv: "P-256".into(),
            x,
            y,
            alg: "ES256".into(),
            use_: "sig".into(),
        })
    }
}

/// RFC 7638 thumbprint: SHA-256 over the required members in lexical order,
/// without whitespace, base64url without padding.
pub fn ec_p256_thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
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
    fn es256_jwk_rejects_compressed_or_short_points() {
        assert!(Jwk::es256(&[0x02; 33]).is_err());
        assert!(Jwk::es256(&[0x04; 64]).is_err());
        assert!(Jwk::es256(&[]).is_err());
    }

    #[test]
    fn jwk_serializes_public_members_only() {
        let mut point = vec![0x04];
        point.extend([7u8; 64]);
        let json = serde_json::to_value(Jwk::es256(&point).unwrap()).unwrap();
        let mut names: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
        assert_eq!(json["use"], "sig");
        assert!(json.get("d").is_none());
    }
}
