//! The `jwt` identity source: the workload presents its own JWT (e.g. a
//! Kubernetes projected service-account token); the filter verifies it
//! against keys given inline in the plugin configuration.
//!
//! Only RS256 (RSA keys) and ES256 (P-256 keys) are accepted; the algorithm
//! comes from the key, never from the token alone. A JWS with a `crit`
//! header is refused (no extension is understood here, RFC 7515 §4.1.11);
//! keys whose `use` or `key_ops` do not allow verifying signatures are
//! refused; every base64url part must be unpadded and canonical. Time claims
//! are checked against the host clock with a leeway: `exp` required and at
//! most `max_lifetime_s` ahead (and after `iat`), `nbf` and `iat` if present
//! not in the future.
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
        key_purpose(jwk)?;
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

/// A required member of a JWK in unpadded, canonical base64url.
fn bytes(jwk: &[(String, Value)], name: &str) -> Result<Vec<u8>, String> {
    let value = text(jwk, name)?.ok_or_else(|| format!("not a JWK: {name} is missing"))?;
    base64url::decode(value).ok_or_else(|| format!("not a JWK: {name} is not unpadded base64url"))
}

/// RFC 7517 §4.2, §4.3: a key meant for something else than verifying
/// signatures (`use` other than `sig`, `key_ops` without `verify`) is refused.
fn key_purpose(jwk: &[(String, Value)]) -> Result<(), String> {
    if text(jwk, "use")?.is_some_and(|u| u != "sig") {
        return Err("use must be \"sig\" (a signature verification key)".into());
    }
    match json::get(jwk, "key_ops") {
        None => Ok(()),
        Some(Value::Array(ops)) => {
            if ops.iter().any(|op| op.as_str().is_none()) {
                return Err("not a JWK: key_ops must be an array of strings".into());
            }
            if ops.iter().any(|op| op.as_str() == Some("verify")) {
                Ok(())
            } else {
                Err("key_ops must include \"verify\"".into())
            }
        }
        Some(_) => Err("not a JWK: key_ops must be an array of strings".into()),
    }
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
    /// Leeway on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_s: u64,
    /// Longest lifetime accepted: `exp` at most this far ahead of the
    /// clock and of `iat`, in seconds.
    pub max_lifetime_s: u64,
    pub keys: Vec<JwtKey>,
}

/// The JOSE header members used here, `alg` and `kid` (others, written by
/// the token's issuer, are ignored, except `crit`). `Err` if the header is
/// not a JSON object with a string `alg` and a string or null `kid`, or if
/// it has `crit` (it names extensions the recipient must understand, and
/// none is understood here: RFC 7515 §4.1.11).
fn jose_header(json: &[u8]) -> Result<(String, Option<String>), String> {
    let malformed = || "malformed JWT".to_owned();
    let header = json::parse(json).map_err(|_| malformed())?;
    if header.get("crit").is_some() {
        return Err("the JWT's crit header names extensions that are not supported".into());
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(malformed)?
        .to_owned();
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(malformed()),
    };
    Ok((alg, kid))
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
    let (alg, kid) = jose_header(&base64url::decode(head).ok_or_else(malformed)?)?;
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
    check_times(source, claims, now_s)?;
    let identity = json::get(claims, &source.claim)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("claim {} is missing or not a string", source.claim))?;
    static_identity(identity).map_err(|reason| format!("claim {} {reason}", source.claim))?;
    Ok(identity.to_owned())
}

/// `exp` (required, not past, at most `max_lifetime_s` ahead of the clock
/// and of `iat`), `nbf` and `iat` (if present, not in the future); each
/// with the leeway.
fn check_times(source: &JwtSource, claims: &[(String, Value)], now_s: u64) -> Result<(), String> {
    let exp = json::get(claims, "exp")
        .and_then(Value::as_u64)
        .ok_or_else(|| "exp is missing or not a number".to_owned())?;
    if exp.saturating_add(source.leeway_s) <= now_s {
        return Err("the JWT has expired".into());
    }
    let future = now_s.saturating_add(source.leeway_s);
    if exp > future.saturating_add(source.max_lifetime_s) {
        return Err(format!(
            "exp is more than max_lifetime_s ({}s) ahead",
            source.max_lifetime_s
        ));
    }
    if let Some(nbf) = time_claim(claims, "nbf")?
        && nbf > future
    {
        return Err("the JWT is not valid yet".into());
    }
    if let Some(iat) = time_claim(claims, "iat")? {
        if iat > future {
            return Err("iat is in the future".into());
        }
        if exp.saturating_sub(iat) > source.max_lifetime_s {
            return Err(format!(
                "the JWT's lifetime (exp - iat) is longer than max_lifetime_s ({}s)",
                source.max_lifetime_s
            ));
        }
    }
    Ok(())
}

/// An optional NumericDate claim (whole seconds, as `exp` is read).
fn time_claim(claims: &[(String, Value)], name: &str) -> Result<Option<u64>, String> {
    json::get(claims, name)
        .map(|v| v.as_u64().ok_or_else(|| format!("{name} is not a number")))
        .transpose()
}

#[cfg(test)]
mod rfc_tests;
#[cfg(test)]
pub(crate) mod tests;
