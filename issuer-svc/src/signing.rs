//! Signing the assertion (a JWT) that issuer-svc exchanges at Claude.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::config::ProviderConfig;
use crate::keys::{KeyError, SigningKey};

/// Claude (and the SDKs) refuse assertions longer than this.
pub const MAX_ASSERTION_LEN: usize = 16 * 1024;

/// A signed JWT. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Assertion(String);

impl Assertion {
    /// The compact JWT, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Assertion([redacted])")
    }
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted assertion]")
    }
}

#[derive(Debug, Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The claims of an assertion (DESIGN.md, *Assertion claims*).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
}

impl AssertionClaims {
    /// Claims for `subject` under `provider`, valid from `now` for the
    /// provider's lifetime, with a fresh 128-bit `jti`.
    pub fn new(
        provider: &ProviderConfig,
        subject: &str,
        now_unix: u64,
    ) -> Result<Self, SigningError> {
        let mut jti = [0u8; 16];
        SystemRandom::new()
            .fill(&mut jti)
            .map_err(|_| SigningError::Random)?;
        Ok(AssertionClaims {
            iss: provider.issuer_url.clone(),
            sub: subject.to_owned(),
            aud: provider.claude_wif.audience.clone(),
            iat: now_unix,
            nbf: now_unix,
            exp: now_unix.saturating_add(provider.claude_wif.lifetime.as_secs()),
            jti: jti.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }
}

/// An assertion and what may be logged about it.
#[derive(Debug, Clone)]
pub struct SignedAssertion {
    pub assertion: Assertion,
    pub jti: String,
    pub kid: String,
    pub exp: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("the assertion would be {0} bytes, above the 16 KiB limit")]
    TooLarge(usize),
    #[error("cannot draw random bytes for the jti")]
    Random,
    #[error("cannot encode the assertion: {0}")]
    Encode(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Signs `claims` with `key` as a compact JWS.
pub fn sign(key: &SigningKey, claims: &AssertionClaims) -> Result<SignedAssertion, SigningError> {
    let header = Header {
        alg: key.alg().as_str(),
        typ: "JWT",
        kid: key.kid(),
    };
    let header = serde_json::to_vec(&header).map_err(|e| SigningError::Encode(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| SigningError::Encode(e.to_string()))?;
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key.sign(signing_input.as_bytes())?;
    let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
    if jwt.len() > MAX_ASSERTION_LEN {
        return Err(SigningError::TooLarge(jwt.len()));
    }
    Ok(SignedAssertion {
        assertion: Assertion(jwt),
        jti: claims.jti.clone(),
        kid: key.kid().to_owned(),
        exp: claims.exp,
    })
}

#[cfg(test)]
mod tests;
