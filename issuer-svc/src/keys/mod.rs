//! Signing keys: generation (ES256, RS256), the on-disk store with per-key
//! metadata, rotation with publish-ahead, and the [`KeySet`] whose states
//! (pending, active, retired, expired) are evaluated by time.

mod jwk;
mod set;
mod signing_key;
mod store;
pub mod watch;

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use jwk::{Jwk, Jwks, ec_p256_thumbprint, rsa_thumbprint};
pub use set::{KeyEntry, KeySet, KeyState, KeyStatus, PublishedKey};
pub use signing_key::SigningKey;
pub use store::{KeyMeta, KeyStore, Rotation};

/// Leeway Claude allows on time claims; a retired key stays published this
/// much longer than its last assertion's lifetime.
pub const EXPIRY_LEEWAY: Duration = Duration::from_secs(30);

/// Default time a new key is published before it signs (15 min, the
/// documented practice: Claude caches the JWKS for up to a minute).
pub const DEFAULT_PUBLISH_AHEAD: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Insecure(String),
    #[error("invalid key: {0}")]
    Invalid(String),
    #[error("signing failed")]
    Sign,
    #[error("no active signing key")]
    NoActiveKey,
    #[error(
        "no signing key in {0} and it is not writable: run `issuer-svc keys rotate` where it is writable"
    )]
    EmptyReadOnly(String),
}

/// JWS algorithms issuer-svc signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Algorithm {
    #[default]
    Es256,
    Rs256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 2] = [Algorithm::Es256, Algorithm::Rs256];

    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }

    pub fn parse(text: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.as_str() == text)
    }
}

/// What decides key generation and lifetimes: the `[keys]` configuration
/// plus the retention derived from the providers' assertion lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Algorithm of newly generated keys.
    pub algorithm: Algorithm,
    /// Time between a rotation and the new key's first signature.
    pub publish_ahead: Duration,
    /// How long a retired key stays published: the longest assertion
    /// lifetime plus [`EXPIRY_LEEWAY`].
    pub retention: Duration,
}

impl KeyPolicy {
    /// `longest_lifetime`: the longest `lifetime` of any credential provider.
    pub fn new(algorithm: Algorithm, publish_ahead: Duration, longest_lifetime: Duration) -> Self {
        KeyPolicy {
            algorithm,
            publish_ahead,
            retention: longest_lifetime.saturating_add(EXPIRY_LEEWAY),
        }
    }

    /// `max-age` of the JWKS and discovery responses: a third of
    /// `publish_ahead`, at most 5 min, so any cache in front of us (and
    /// Claude's own) refetches well before a published key starts signing.
    pub fn cache_max_age(&self) -> Duration {
        (self.publish_ahead / 3).min(Duration::from_secs(300))
    }
}

impl Default for KeyPolicy {
    /// ES256, 15 min publish-ahead, retention for the longest allowed
    /// lifetime (12 h).
    fn default() -> Self {
        KeyPolicy::new(
            Algorithm::Es256,
            DEFAULT_PUBLISH_AHEAD,
            Duration::from_secs(43_200),
        )
    }
}

/// PKCS#8 private key bytes. `Debug` never shows them.
pub struct PrivateKey(Vec<u8>);

impl PrivateKey {
    pub fn from_pkcs8(der: Vec<u8>) -> Self {
        Self(der)
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

/// The current [`KeySet`], swappable at run time (rotation picked up by
/// [`watch`]).
#[derive(Debug)]
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
}

impl KeyRing {
    pub fn new(keys: KeySet) -> KeyRing {
        KeyRing {
            current: RwLock::new(Arc::new(keys)),
        }
    }

    pub fn current(&self) -> Arc<KeySet> {
        let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&guard)
    }

    pub fn replace(&self, keys: KeySet) {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        *guard = Arc::new(keys);
    }
}

#[cfg(test)]
mod tests;
