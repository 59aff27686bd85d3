//! The `jwt` identity source: the workload presents its own JWT (e.g. a
//! Kubernetes projected service-account token); the filter verifies it
//! against keys given inline in the plugin configuration.
//!
//! Only RS256 (RSA keys) and ES256 (P-256 keys) are accepted; the algorithm
//! comes from the key, never from the token alone. Time claims are checked
//! against the host clock (`exp` required, `nbf` if present) with a leeway.
//!
//! Verification is lean on purpose (the `.wasm` size budget): ES256 with the
//! `p256` crate's ECDSA verifier, RS256 with the PKCS#1 v1.5 verifier in
//! [`rsa`], JOSE parsing here.

mod base64url;
mod rsa;

use std::fmt;

use crate::config::static_identity;
use crate::json::{self, Value};
use p256::EncodedPoint;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use rsa::RsaPublicKey;

/// Longest JWT accepted, in bytes.
pub const MAX_JWT_LEN: usize = 16 * 1024;
/// Most keys one source may list.
pub const MAX_KEYS: usize = 16;

/// The signature algorithms a key can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl KeyAlg {
    fn from_jose(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
enum KeyMaterial {
    Rsa(RsaPublicKey),
    Ec(VerifyingKey),
}

/// A verification key: its `kid`, the one algorithm it verifies, the key.
#[derive(Clone)]
pub struct JwtKey {
    pub kid: Option<String>,
    pub alg: KeyAlg,
    key: KeyMaterial,
    /// The decoded public key members (`n` and `e`, or `x` and `y`), for equality.
    material: (Vec<u8>, Vec<u8>),
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtKey({:?}, kid {:?})", self.alg, self.kid)
    }
}

impl PartialEq for JwtKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.material == other.material
    }
}
impl Eq for JwtKey {}

impl JwtKey {
    /// A public RSA (RS256) or P-256 (ES256) JWK. Private or symmetric keys,
    /// and a declared `alg` that does not fit the key, are refused.
    pub fn from_jwk(value: &Value) -> Result<Self, String> {
        let jwk = value
            .as_object()
            .ok_or_else(|| "not a JWK: not a JSON object".to_owned())?;
        if json::get(jwk, "d").is_some() || json::get(jwk, "k").is_some() {
            return Err("must be a public key (no \"d\" or \"k\" member)".into());
        }
        let kty = text(jwk, "kty")?.ok_or_else(|| "not a JWK: kty is missing".to_owned())?;
        let alg = match (kty, text(jwk, "crv")?) {
            ("RSA", _) => KeyAlg::Rs256,
            ("EC", Some("P-256")) => KeyAlg::Es256,
            _ => return Err("kty must be RSA, or EC with crv P-256".into()),
        };
        let declared = text(jwk, "alg")?;
        if declared.is_some_and(|d| KeyAlg::from_jose(d) != Some(alg)) {
            return Err("alg must be RS256 for an RSA key or ES256 for a P-256 key".into());
        }
        let kid = text(jwk, "kid")?.map(str::to_owned);
        let (first, second) = match alg {
            KeyAlg::Rs256 => (bytes(jwk, "n")?, bytes(jwk, "e")?),
            KeyAlg::Es256 => (bytes(jwk, "x")?, bytes(jwk, "y")?),
        };
        let key = match alg {
            KeyAlg::Rs256 => RsaPublicKey::new(&first, &second)
                .map(KeyMaterial::Rsa)
                .map_err(|e| format!("unusable key: {e}"))?,
            KeyAlg::Es256 => KeyMaterial::Ec(p256_key(&first, &second)?),
        };
        Ok(Self {
            kid,
            alg,
            key,
            material: (first, second),
        })
    }

    /// Whether `signature` (the decoded third segment) signs `input`.
    fn verifies(&self, input: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            KeyMaterial::Rsa(key) => key.verify_sha256(input, signature),
            KeyMaterial::Ec(key) => {
                Signature::from_slice(signature).is_ok_and(|sig| key.verify(input, &sig).is_ok())
            }
        }
    }
}

/// An optional string member of a JWK.
fn text<'a>(jwk: &'a [(String, Value)], name: &str) -> Result<Option<&'a str>, String> {
    match json::get(jwk, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("not a JWK: {name} must be a string")),
    }
}

/// A required base64url member of a JWK (trailing `=` padding tolerated).
fn bytes(jwk: &[(String, Value)], name: &str) -> Result<Vec<u8>, String> {
    let value = text(jwk, name)?.ok_or_else(|| format!("not a JWK: {name} is missing"))?;
    base64url::decode(value.trim_end_matches('='))
        .ok_or_else(|| format!("not a JWK: {name} is not base64url"))
}

/// A P-256 public key from its affine coordinates.
fn p256_key(x: &[u8], y: &[u8]) -> Result<VerifyingKey, String> {
    let (Ok(x), Ok(y)) = (<[u8; 32]>::try_from(x), <[u8; 32]>::try_from(y)) else {
        return Err("unusable key: x and y must be 32 bytes each".into());
    };
    // An uncompressed point built directly: the SEC1 parser would also link
    // point decompression, which JWKs never need (the `.wasm` size budget).
    let point = EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    VerifyingKey::from_encoded_point(&point)
        .map_err(|_| "unusable key: not a point on P-256".into())
}

/// A validated `jwt` identity source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSource {
    /// Request header carrying the JWT; removed before upstream.
    pub header: String,
    /// Exact `iss`.
    pub issuer: String,
    /// `aud` must contain at least one of these.
    pub audiences: Vec<String>,
    /// The claim holding the client workload identity.
    pub claim: String,
    /// Leeway on `exp` and `nbf`, in seconds.
    pub leeway_s: u64,
    pub keys: Vec<JwtKey>,
}

/// The JOSE header members used here, `alg` and `kid` (others, written by
/// the token's issuer, are ignored). `None` if the header is not a JSON
/// object with a string `alg` and a string or null `kid`.
fn jose_header(json: &[u8]) -> Option<(String, Option<String>)> {
    let header = json::parse(json).ok()?;
    let alg = header.get("alg")?.as_str()?.to_owned();
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return None,
    };
    Some((alg, kid))
}

/// Verifies `token` and returns the identity from the configured claim.
/// Errors are short reasons for the 401 body and log lines; they never
/// quote the token.
pub fn verify(source: &JwtSource, token: &str, now_s: u64) -> Result<String, String> {
    if token.len() > MAX_JWT_LEN {
        return Err(format!("the JWT is longer than {MAX_JWT_LEN} bytes"));
    }
    let malformed = || "malformed JWT".to_owned();
    let mut segments = token.split('.');
    let (Some(head), Some(payload), Some(signature), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(malformed());
    };
    let (alg, kid) = base64url::decode(head)
        .and_then(|json| jose_header(&json))
        .ok_or_else(malformed)?;
    let alg = KeyAlg::from_jose(&alg).ok_or("alg must be RS256 or ES256")?;
    let candidates: Vec<&JwtKey> = source
        .keys
        .iter()
        .filter(|k| k.alg == alg)
        .filter(|k| kid.is_none() || k.kid.is_none() || k.kid == kid)
        .collect();
    if candidates.is_empty() {
        return Err("no configured key matches the JWT's kid and alg".into());
    }
    let signature = base64url::decode(signature).ok_or_else(malformed)?;
    let signed = token
        .get(..head.len() + 1 + payload.len())
        .ok_or_else(malformed)?
        .as_bytes();
    if !candidates.iter().any(|k| k.verifies(signed, &signature)) {
        return Err("signature does not verify".into());
    }
    let claims = base64url::decode(payload)
        .and_then(|json| json::parse(&json).ok())
        .ok_or_else(|| "the JWT's claims are not a JSON object".to_owned())?;
    let claims = claims
        .as_object()
        .ok_or_else(|| "the JWT's claims are not a JSON object".to_owned())?;
    check_claims(source, claims, now_s)
}

fn check_claims(
    source: &JwtSource,
    claims: &[(String, Value)],
    now_s: u64,
) -> Result<String, String> {
    if json::get(claims, "iss").and_then(Value::as_str) != Some(source.issuer.as_str()) {
        return Err("iss does not match".into());
    }
    let audience_ok = match json::get(claims, "aud") {
        Some(Value::String(a)) => source.audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| source.audiences.iter().any(|s| s == a)),
        _ => false,
    };
    if !audience_ok {
        return Err("aud does not match".into());
    }
    let exp = json::get(claims, "exp")
        .and_then(Value::as_u64)
        .ok_or_else(|| "exp is missing or not a number".to_owned())?;
    if exp.saturating_add(source.leeway_s) <= now_s {
        return Err("the JWT has expired".into());
    }
    if let Some(nbf) = json::get(claims, "nbf") {
        let nbf = nbf
            .as_u64()
            .ok_or_else(|| "nbf is not a number".to_owned())?;
        if nbf > now_s.saturating_add(source.leeway_s) {
            return Err("the JWT is not valid yet".into());
        }
    }
    let identity = json::get(claims, &source.claim)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("claim {} is missing or not a string", source.claim))?;
    static_identity(identity).map_err(|reason| format!("claim {} {reason}", source.claim))?;
    Ok(identity.to_owned())
}

#[cfg(test)]
pub(crate) mod tests;
