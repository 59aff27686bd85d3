//! A private key ready to sign: ES256 (P-256, ring) or RS256 (RSA
//! PKCS#1 v1.5 with SHA-256, ring; generated with the `rsa` crate since ring
//! cannot generate RSA keys).

use std::fmt;

use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use rsa::pkcs8::EncodePrivateKey;

use super::{Algorithm, Jwk, KeyError, PrivateKey};

/// Size of generated RSA keys.
pub const RSA_BITS: usize = 2048;

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

/// A key pair ready to sign, with its public JWK.
pub struct SigningKey {
    alg: Algorithm,
    pair: Pair,
    jwk: Jwk,
}

impl SigningKey {
    /// A fresh key of `alg` and its PKCS#8 encoding (to be stored).
    pub fn generate(alg: Algorithm) -> Result<(SigningKey, PrivateKey), KeyError> {
        match alg {
            Algorithm::Es256 => SigningKey::generate_es256(),
            Algorithm::Rs256 => SigningKey::generate_rs256(),
        }
    }

    /// A fresh ES256 key and its PKCS#8 encoding.
    pub fn generate_es256() -> Result<(SigningKey, PrivateKey), KeyError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Invalid("cannot generate a P-256 key".into()))?;
        let private = PrivateKey::from_pkcs8(document.as_ref().to_vec());
        let key = SigningKey::from_pkcs8_as(&private, Algorithm::Es256)?;
        Ok((key, private))
    }

    /// A fresh 2048-bit RS256 key (exponent 65537) and its PKCS#8 encoding.
    pub fn generate_rs256() -> Result<(SigningKey, PrivateKey), KeyError> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
            .map_err(|err| KeyError::Invalid(format!("cannot generate an RSA key ({err})")))?;
        let document = key
            .to_pkcs8_der()
            .map_err(|err| KeyError::Invalid(format!("cannot encode the RSA key ({err})")))?;
        let private = PrivateKey::from_pkcs8(document.as_bytes().to_vec());
        let key = SigningKey::from_pkcs8_as(&private, Algorithm::Rs256)?;
        Ok((key, private))
    }

    /// Loads a PKCS#8 key of either algorithm (P-256 first, then RSA).
    pub fn from_pkcs8(private: &PrivateKey) -> Result<SigningKey, KeyError> {
        SigningKey::from_pkcs8_as(private, Algorithm::Es256)
            .or_else(|_| SigningKey::from_pkcs8_as(private, Algorithm::Rs256))
            .map_err(|_| KeyError::Invalid("neither a P-256 nor an RSA PKCS#8 key".into()))
    }

    /// Loads a PKCS#8 key that must be of `alg`.
    pub fn from_pkcs8_as(private: &PrivateKey, alg: Algorithm) -> Result<SigningKey, KeyError> {
        let (pair, jwk) = match alg {
            Algorithm::Es256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    private.pkcs8(),
                    &SystemRandom::new(),
                )
                .map_err(|err| KeyError::Invalid(format!("not a P-256 PKCS#8 key ({err})")))?;
                let jwk = Jwk::es256(pair.public_key().as_ref())?;
                (Pair::Ec(pair), jwk)
            }
            Algorithm::Rs256 => {
                let pair = RsaKeyPair::from_pkcs8(private.pkcs8())
                    .map_err(|err| KeyError::Invalid(format!("not an RSA PKCS#8 key ({err})")))?;
                if pair.public().modulus_len() * 8 < RSA_BITS {
                    return Err(KeyError::Invalid(format!(
                        "RSA keys must have at least {RSA_BITS} bits"
                    )));
                }
                let public = PublicKeyComponents::<Vec<u8>>::from(pair.public());
                let jwk = Jwk::rs256(&public.n, &public.e)?;
                (Pair::Rsa(pair), jwk)
            }
        };
        Ok(SigningKey { alg, pair, jwk })
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

    /// JWS signature over `message` (ES256: `r || s`, 64 bytes; RS256: the
    /// PKCS#1 v1.5 signature, as long as the modulus).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(pair) => pair
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| KeyError::Sign),
            Pair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| KeyError::Sign)?;
                Ok(signature)
            }
        }
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
