//! The `jwt` identity source: the workload presents its own JWT (e.g. a
//! Kubernetes projected service-account token); the filter verifies it
//! against keys given inline in the plugin configuration.
//!
//! Only RS256 (RSA keys) and ES256 (P-256 keys) are accepted; the algorithm
//! comes from the key, never from the token alone. Time claims are checked
//! against the host clock (`exp` required, `nbf` if present) with a leeway.

use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::static_identity;

/// Longest JWT accepted, in bytes.
pub const MAX_JWT_LEN: usize = 16 * 1024;
/// Most keys one source may list.
pub const MAX_KEYS: usize = 16;

/// A verification key: its `kid`, the one algorithm it verifies, the key.
#[derive(Clone)]
pub struct JwtKey {
    pub kid: Option<String>,
    pub alg: Algorithm,
    key: DecodingKey,
    /// The JWK as configured, for equality and debugging (public material only).
    source: String,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JwtKey({:?}, kid {:?})", self.alg, self.kid)
    }
}

impl PartialEq for JwtKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.source == other.source
    }
}
impl Eq for JwtKey {}

impl JwtKey {
    /// A public RSA (RS256) or P-256 (ES256) JWK. Private or symmetric keys,
    /// and a declared `alg` that does not fit the key, are refused.
    pub fn from_jwk(value: &Value) -> Result<Self, String> {
        if value.get("d").is_some() || value.get("k").is_some() {
            return Err("must be a public key (no \"d\" or \"k\" member)".into());
        }
        let jwk: Jwk =
            serde_json::from_value(value.clone()).map_err(|e| format!("not a JWK: {e}"))?;
        let alg = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => return Err("kty must be RSA, or EC with crv P-256".into()),
        };
        let declared = jwk.common.key_algorithm;
        let fits = match declared {
            None => true,
            Some(KeyAlgorithm::RS256) => alg == Algorithm::RS256,
            Some(KeyAlgorithm::ES256) => alg == Algorithm::ES256,
            Some(_) => false,
        };
        if !fits {
            return Err("alg must be RS256 for an RSA key or ES256 for a P-256 key".into());
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key: {e}"))?;
        Ok(Self {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
            source: value.to_string(),
        })
    }
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

/// Verifies `token` and returns the identity from the configured claim.
/// Errors are short reasons for the 401 body and log lines; they never
/// quote the token.
pub fn verify(source: &JwtSource, token: &str, now_s: u64) -> Result<String, String> {
    if token.len() > MAX_JWT_LEN {
        return Err(format!("the JWT is longer than {MAX_JWT_LEN} bytes"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| "malformed JWT".to_owned())?;
    if header.alg != Algorithm::RS256 && header.alg != Algorithm::ES256 {
        return Err("alg must be RS256 or ES256".into());
    }
    let candidates: Vec<&JwtKey> = source
        .keys
        .iter()
        .filter(|k| k.alg == header.alg)
        .filter(|k| header.kid.is_none() || k.kid.is_none() || k.kid == header.kid)
        .collect();
    if candidates.is_empty() {
        return Err("no configured key matches the JWT's kid and alg".into());
    }
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = candidates
        .iter()
        .find_map(|k| jsonwebtoken::decode::<Map<String, Value>>(token, &k.key, &validation).ok())
        .ok_or_else(|| "signature does not verify".to_owned())?
        .claims;
    check_claims(source, &claims, now_s)
}

fn check_claims(
    source: &JwtSource,
    claims: &Map<String, Value>,
    now_s: u64,
) -> Result<String, String> {
    if claims.get("iss").and_then(Value::as_str) != Some(source.issuer.as_str()) {
        return Err("iss does not match".into());
    }
    let audience_ok = match claims.get("aud") {
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
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or_else(|| "exp is missing or not a number".to_owned())?;
    if exp.saturating_add(source.leeway_s) <= now_s {
        return Err("the JWT has expired".into());
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf
            .as_u64()
            .ok_or_else(|| "nbf is not a number".to_owned())?;
        if nbf > now_s.saturating_add(source.leeway_s) {
            return Err("the JWT is not valid yet".into());
        }
    }
    let identity = claims
        .get(&source.claim)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("claim {} is missing or not a string", source.claim))?;
    static_identity(identity).map_err(|reason| format!("claim {} {reason}", source.claim))?;
    Ok(identity.to_owned())
}

#[cfg(test)]
pub(crate) mod tests;
