//! Signing keys: generation, the on-disk store, and the [`KeySet`] that is
//! published as JWKS and used for signing.

mod jwk;
mod store;

use std::fmt;
use std::sync::{Arc, RwLock};

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

pub use jwk::{Jwk, Jwks, ec_p256_thumbprint};
pub use store::KeyStore;

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
}

/// JWS algorithms issuer-svc signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
}

impl Algorithm {
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
        }
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

/// A key pair ready to sign, with its public JWK.
pub struct SigningKey {
    alg: Algorithm,
    pair: EcdsaKeyPair,
    jwk: Jwk,
}

impl SigningKey {
    /// A fresh ES256 key and its PKCS#8 encoding (to be stored).
    pub fn generate_es256() -> Result<(SigningKey, PrivateKey), KeyError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Invalid("cannot generate a P-256 key".into()))?;
        let private = PrivateKey::from_pkcs8(document.as_ref().to_vec());
        let key = SigningKey::from_pkcs8(&private)?;
        Ok((key, private))
    }

    /// Loads an ES256 key from PKCS#8.
    pub fn from_pkcs8(private: &PrivateKey) -> Result<SigningKey, KeyError> {
        let rng = SystemRandom::new();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private.pkcs8(), &rng)
                .map_err(|err| KeyError::Invalid(format!("not a P-256 PKCS#8 key ({err})")))?;
        let jwk = Jwk::es256(pair.public_key().as_ref())?;
        Ok(SigningKey {
            alg: Algorithm::Es256,
            pair,
            jwk,
        })
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// JWS signature over `message` (for ES256: `r || s`, 64 bytes).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        self.pair
            .sign(&rng, message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| KeyError::Sign)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Where a key is in its life. Rotation (later) adds a `Pending` key that is
/// published ahead of use and keeps `Retired` keys published until every
/// assertion they signed has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Pending,
    Active,
    Retired,
}

#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub key: Arc<SigningKey>,
    pub state: KeyState,
}

/// All published keys; exactly one is active (used for signing).
#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<PublishedKey>,
}

impl KeySet {
    pub fn new(keys: Vec<PublishedKey>) -> Result<KeySet, KeyError> {
        let active = keys.iter().filter(|k| k.state == KeyState::Active).count();
        if active == 1 {
            Ok(KeySet { keys })
        } else {
            Err(KeyError::NoActiveKey)
        }
    }

    /// The key that signs new assertions.
    pub fn active(&self) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| &k.key)
    }

    pub fn keys(&self) -> &[PublishedKey] {
        &self.keys
    }

    /// Every published key's public half.
    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: self.keys.iter().map(|k| k.key.jwk().clone()).collect(),
        }
    }
}

/// The current [`KeySet`], swappable at run time (rotation, reload).
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
