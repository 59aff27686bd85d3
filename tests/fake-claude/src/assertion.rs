//! The assertion (the workload's JWT): parsing, signature, claim checks.
//!
//! Pure functions; each failure is one [`Denial`]. jsonwebtoken only verifies
//! the signature; every claim is checked here so each failure has its reason.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::{EXPECTED_AUDIENCE, FederationIssuer, FederationRule};
use crate::exchange::Denial;

/// Claude refuses larger assertions.
pub const MAX_ASSERTION_BYTES: usize = 16 * 1024;
/// Allowed clock skew on `iat`, `exp`, `nbf`.
pub const LEEWAY_SECONDS: i64 = 30;

/// The compact JWT as received. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RawAssertion(pub String);

impl fmt::Debug for RawAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawAssertion([redacted, {} bytes])", self.0.len())
    }
}

/// Header and claims, decoded but not yet trusted.
#[derive(Debug, Clone)]
pub struct ParsedAssertion {
    pub alg: Algorithm,
    pub kid: String,
    pub claims: Map<String, Value>,
}

impl ParsedAssertion {
    pub fn string_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// What the claim checks established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedClaims {
    pub sub: String,
    pub exp: i64,
    pub jti: Option<String>,
}

fn decode_part(part: &str) -> Result<Map<String, Value>, Denial> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| Denial::MalformedJwt)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Denial::MalformedJwt),
    }
}

/// Algorithms Claude accepts that fake-claude can verify. Claude also lists
/// ES512, which jsonwebtoken cannot verify; it is refused as unsupported here.
pub fn allowed_algorithm(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        _ => return None,
    })
}

/// Size, shape, `alg` and `kid`. No trust yet.
pub fn parse(raw: &RawAssertion) -> Result<ParsedAssertion, Denial> {
    if raw.0.len() > MAX_ASSERTION_BYTES {
        return Err(Denial::AssertionTooLarge);
    }
    let parts: Vec<&str> = raw.0.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(Denial::MalformedJwt);
    };
    if signature.is_empty() {
        return Err(Denial::MalformedJwt);
    }
    let header = decode_part(header)?;
    let claims = decode_part(payload)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(allowed_algorithm)
        .ok_or(Denial::UnsupportedAlg)?;
    let kid = match header.get("kid").and_then(Value::as_str) {
        Some(kid) if !kid.is_empty() => kid.to_owned(),
        _ => return Err(Denial::MissingKid),
    };
    Ok(ParsedAssertion { alg, kid, claims })
}

/// `iss` must byte-equal the issuer's `issuer_url`.
pub fn check_issuer(parsed: &ParsedAssertion, issuer: &FederationIssuer) -> Result<(), Denial> {
    match parsed.string_claim("iss") {
        Some(iss) if iss == issuer.issuer_url => Ok(()),
        _ => Err(Denial::IssuerMismatch),
    }
}

/// Verifies the signature with `jwk`, using the header's `alg`. jsonwebtoken's
/// own claim validation is switched off.
pub fn verify_signature(raw: &RawAssertion, alg: Algorithm, jwk: &Jwk) -> Result<(), Denial> {
    if let Some(key_alg) = jwk.common.key_algorithm
        && key_alg != KeyAlgorithm::from(alg)
    {
        return Err(Denial::BadSignature);
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Denial::BadSignature)?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(&raw.0, &key, &validation)
        .map(|_| ())
        .map_err(|_| Denial::BadSignature)
}

/// A numeric date claim: `None` when absent, malformed when not a number.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, Denial> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(Denial::MalformedJwt),
        Some(_) => Err(Denial::MalformedJwt),
    }
}

/// Exact match, or prefix match when `pattern` ends with `*`.
pub fn subject_matches(pattern: &str, sub: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => sub.starts_with(prefix),
        None => sub == pattern,
    }
}

/// `aud` (string or array) must contain `expected`.
pub fn audience_contains(aud: Option<&Value>, expected: &str) -> bool {
    match aud {
        Some(Value::String(one)) => one == expected,
        Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(expected)),
        _ => false,
    }
}

/// Each `name = value` of the rule must be a top-level string claim with
/// exactly that value.
pub fn claims_match(expected: &BTreeMap<String, String>, claims: &Map<String, Value>) -> bool {
    expected
        .iter()
        .all(|(name, value)| claims.get(name).and_then(Value::as_str) == Some(value.as_str()))
}

/// Every claim rule after the signature: subject, audience (the rule's, or
/// [`EXPECTED_AUDIENCE`] when it sets none), claims, times, lifetime.
pub fn check_claims(
    parsed: &ParsedAssertion,
    issuer: &FederationIssuer,
    rule: &FederationRule,
    now: i64,
) -> Result<CheckedClaims, Denial> {
    let claims = &parsed.claims;
    let sub = match parsed.string_claim("sub") {
        Some(sub) if !sub.is_empty() => sub.to_owned(),
        _ => return Err(Denial::MissingSub),
    };
    if let Some(pattern) = &rule.subject_prefix
        && !subject_matches(pattern, &sub)
    {
        return Err(Denial::MatchSubjectPrefix);
    }
    let expected = rule.audience.as_deref().unwrap_or(EXPECTED_AUDIENCE);
    if !audience_contains(claims.get("aud"), expected) {
        return Err(Denial::AudienceMismatch);
    }
    if !claims_match(&rule.claims, claims) {
        return Err(Denial::MatchClaims);
    }
    let iat = time_claim(claims, "iat")?.ok_or(Denial::MissingIat)?;
    if iat > now.saturating_add(LEEWAY_SECONDS) {
        return Err(Denial::IatInFuture);
    }
    let exp = time_claim(claims, "exp")?.ok_or(Denial::Expired)?;
    if exp.saturating_add(LEEWAY_SECONDS) <= now {
        return Err(Denial::Expired);
    }
    if let Some(nbf) = time_claim(claims, "nbf")?
        && nbf > now.saturating_add(LEEWAY_SECONDS)
    {
        return Err(Denial::NbfInFuture);
    }
    if exp.saturating_sub(iat) > issuer.max_jwt_lifetime_seconds {
        return Err(Denial::LifetimeTooLong);
    }
    let jti = match claims.get("jti") {
        None | Some(Value::Null) => None,
        Some(Value::String(jti)) => Some(jti.clone()),
        Some(_) => return Err(Denial::MalformedJwt),
    };
    Ok(CheckedClaims { sub, exp, jti })
}

#[cfg(test)]
mod tests;
