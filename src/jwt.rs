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
//! Signatures are verified by jsonwebtoken's RustCrypto verifiers (`rsa`,
//! `p256`). Its `decode` is not used: the rules here are stricter than its
//! `Validation` (one strict JSON object each, `crit`, an `aud` of ours,
//! a bounded `exp`), and its time checks read the system clock, where every
//! time here is the host's (`now_s`). Keys are checked when the
//! configuration is read, with the same `rsa` and `p256` types.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde::de::MapAccess;

use crate::de::{self as shapes, Object};

mod claims;

/// Longest JWT accepted, in bytes.
pub const MAX_JWT_LEN: usize = 16 * 1024;
/// Most keys one source may list.
pub const MAX_KEYS: usize = 16;
/// Smallest and largest RSA modulus accepted, in bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

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

    fn algorithm(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

/// A JWK as written (RFC 7517): the members read here. Other members
/// (`x5c`, …) are ignored: JWKs are documents written by others.
#[derive(Debug, Default, Deserialize)]
pub struct Jwk {
    #[serde(default, deserialize_with = "shapes::some")]
    kty: Option<String>,
    #[serde(default, deserialize_with = "shapes::some")]
    crv: Option<String>,
    #[serde(default, deserialize_with = "shapes::some")]
    alg: Option<String>,
    #[serde(default, deserialize_with = "shapes::some")]
    kid: Option<String>,
    #[serde(rename = "use", default, deserialize_with = "shapes::some")]
    use_: Option<String>,
    #[serde(default, deserialize_with = "shapes::some")]
    key_ops: Option<Vec<String>>,
    #[serde(default, deserialize_with = "shapes::some")]
    n: Option<String>,
    #[serde(default, deserialize_with = "shapes::some")]
    e: Option<String>,
    #[serde(default, deserialize_with = "shapes::some")]
    x: Option<String>,
    #[serde(default, deserialize_with = "shapes::some")]
    y: Option<String>,
    /// A private key's member (RSA and EC), whatever its value.
    #[serde(default, deserialize_with = "shapes::present")]
    d: bool,
    /// A symmetric key's member, whatever its value.
    #[serde(default, deserialize_with = "shapes::present")]
    k: bool,
}

impl<'de> shapes::Shape<'de> for Jwk {
    const EXPECTED: &'static str = "an object";

    fn from_object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        <Object<Self> as shapes::Shape>::from_object(map).map(|Object(jwk)| jwk)
    }
}

/// A verification key: its `kid`, the one algorithm it verifies, the key.
#[derive(Clone)]
pub struct JwtKey {
    pub kid: Option<String>,
    pub alg: KeyAlg,
    key: DecodingKey,
    /// The decoded public key members (`n` and `e`, or `x` and `y`), for equality.
    material: Material,
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

impl TryFrom<Jwk> for JwtKey {
    type Error = String;

    /// A public RSA (RS256) or P-256 (ES256) JWK. Private or symmetric keys,
    /// and a declared `alg` that does not fit the key, are refused.
    fn try_from(jwk: Jwk) -> Result<Self, String> {
        if jwk.d || jwk.k {
            return Err("must be a public key (no \"d\" or \"k\" member)".into());
        }
        let kty = jwk
            .kty
            .as_deref()
            .ok_or_else(|| "not a JWK: kty is missing".to_owned())?;
        let alg = match (kty, jwk.crv.as_deref()) {
            ("RSA", _) => KeyAlg::Rs256,
            ("EC", Some("P-256")) => KeyAlg::Es256,
            _ => return Err("kty must be RSA, or EC with crv P-256".into()),
        };
        key_purpose(&jwk)?;
        if jwk
            .alg
            .as_deref()
            .is_some_and(|declared| KeyAlg::from_jose(declared) != Some(alg))
        {
            return Err("alg must be RS256 for an RSA key or ES256 for a P-256 key".into());
        }
        let (key, material) = match alg {
            KeyAlg::Rs256 => rsa_key(bytes(jwk.n, "n")?, bytes(jwk.e, "e")?)?,
            KeyAlg::Es256 => p256_key(bytes(jwk.x, "x")?, bytes(jwk.y, "y")?)?,
        };
        Ok(Self {
            kid: jwk.kid,
            alg,
            key,
            material,
        })
    }
}

impl JwtKey {
    /// Whether `signature` (the decoded third segment) signs `input`.
    fn verifies(&self, input: &[u8], signature: &[u8]) -> bool {
        // The RustCrypto provider's verifier factory, named directly rather
        // than through `crypto::verify`'s process-wide provider: only the
        // verifiers are linked into the .wasm, not the provider's signers.
        let new_verifier = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory;
        new_verifier(&self.alg.algorithm(), &self.key)
            .is_ok_and(|verifier| verifier.verify(input, &signature.to_vec()).is_ok())
    }
}

/// A required member of a JWK in unpadded, canonical base64url.
fn bytes(value: Option<String>, name: &str) -> Result<Vec<u8>, String> {
    let value = value.ok_or_else(|| format!("not a JWK: {name} is missing"))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("not a JWK: {name} is not unpadded base64url"))
}

/// RFC 7517 §4.2, §4.3: a key meant for something else than verifying
/// signatures (`use` other than `sig`, `key_ops` without `verify`) is refused.
fn key_purpose(jwk: &Jwk) -> Result<(), String> {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("use must be \"sig\" (a signature verification key)".into());
    }
    match &jwk.key_ops {
        Some(ops) if !ops.iter().any(|op| op == "verify") => {
            Err("key_ops must include \"verify\"".into())
        }
        _ => Ok(()),
    }
}

/// The decoded key members, for equality.
type Material = (Vec<u8>, Vec<u8>);

/// An RSA public key from its big-endian modulus and exponent, checked as
/// `rsa` will load it to verify, with a modulus of at least 2048 bits.
/// Leading zero bytes are dropped (they would only widen the arithmetic).
fn rsa_key(n: Vec<u8>, e: Vec<u8>) -> Result<(DecodingKey, Material), String> {
    let strip = |mut bytes: Vec<u8>| {
        let zeros = bytes.iter().take_while(|b| **b == 0).count();
        bytes.drain(..zeros);
        bytes
    };
    let (n, e) = (strip(n), strip(e));
    let checked = rsa::PublicKey::new_with_size_limits(
        rsa::BoxedUint::from_be_slice_vartime(&n),
        rsa::BoxedUint::from_be_slice_vartime(&e),
        RSA_BITS,
    );
    match checked {
        Ok(_) => Ok((DecodingKey::from_rsa_raw_components(&n, &e), (n, e))),
        Err(rsa::Error::ModulusTooSmall | rsa::Error::ModulusTooLarge) => Err(format!(
            "unusable key: the RSA modulus must have {} to {} bits",
            RSA_BITS.start(),
            RSA_BITS.end()
        )),
        Err(rsa::Error::InvalidModulus) => {
            Err("unusable key: the RSA modulus must be odd and above the exponent".into())
        }
        Err(rsa::Error::PublicExponentTooLarge) => {
            Err("unusable key: the RSA exponent is too large".into())
        }
        Err(_) => Err("unusable key: the RSA exponent must be odd and at least 3".into()),
    }
}

/// A P-256 public key from its affine coordinates.
fn p256_key(x: Vec<u8>, y: Vec<u8>) -> Result<(DecodingKey, Material), String> {
    if x.len() != 32 || y.len() != 32 {
        return Err("unusable key: x and y must be 32 bytes each".into());
    }
    // The uncompressed SEC1 point, as jsonwebtoken's ES256 verifier loads it.
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
        .map_err(|_| "unusable key: not a point on P-256".to_owned())?;
    Ok((DecodingKey::from_ec_der(&point), (x, y)))
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

/// The JOSE header members used here. Others, written by the token's
/// issuer, are ignored, except `crit`: it names extensions the recipient
/// must understand, and none is understood here (RFC 7515 §4.1.11).
#[derive(Deserialize)]
struct JoseHeader {
    #[serde(deserialize_with = "shapes::shape")]
    alg: String,
    /// A string or null.
    #[serde(default, deserialize_with = "shapes::shape")]
    kid: Option<String>,
    /// Present, whatever its value (even null).
    #[serde(default, deserialize_with = "shapes::present")]
    crit: bool,
}

/// `alg` and `kid` of the JOSE header. `Err` if the header is not one JSON
/// object with a string `alg` and a string or null `kid`, or has `crit`.
fn jose_header(json: &[u8]) -> Result<(String, Option<String>), String> {
    let header: JoseHeader = shapes::from_slice(json).map_err(|_| "malformed JWT".to_owned())?;
    if header.crit {
        return Err("the JWT's crit header names extensions that are not supported".into());
    }
    Ok((header.alg, header.kid))
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
    let (alg, kid) = jose_header(&URL_SAFE_NO_PAD.decode(head).map_err(|_| malformed())?)?;
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
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| malformed())?;
    let signed = token
        .get(..head.len() + 1 + payload.len())
        .ok_or_else(malformed)?
        .as_bytes();
    if !candidates.iter().any(|k| k.verifies(signed, &signature)) {
        return Err("signature does not verify".into());
    }
    let claims = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| claims::NOT_AN_OBJECT.to_owned())?;
    claims::check(source, &claims, now_s)
}

#[cfg(test)]
mod key_tests;
#[cfg(test)]
mod rfc_tests;
#[cfg(test)]
pub(crate) mod tests;
