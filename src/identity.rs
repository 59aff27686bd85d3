//! Client workload identity: where it comes from and how it is read.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::host::{Host, unix_ms};
use crate::jwt::{self, JwtSource};
use claude_wif_api::check_identity;

/// The Envoy property holding the first URI SAN of the downstream peer certificate.
pub const PEER_URI_SAN_PROPERTY: [&str; 2] = ["connection", "uri_san_peer_certificate"];
/// The Envoy property path to the request's dynamic metadata, before the
/// namespace (`filter_metadata` key) and the keys inside it.
pub const METADATA_PROPERTY: [&str; 2] = ["metadata", "filter_metadata"];
/// Most keys in a `metadata` source's `path`.
pub const MAX_METADATA_PATH: usize = 8;
/// Slots of the property path: the prefix, the namespace, the keys.
const METADATA_SLOTS: usize = METADATA_PROPERTY.len() + 1 + MAX_METADATA_PATH;

/// Where the client workload identity of a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// One fixed identity: the proxy's own workload (sidecar).
    Static(String),
    /// A request header set by a trusted front proxy; removed before upstream.
    Header(String),
    /// The URI SAN of the downstream mTLS peer certificate (egress gateway).
    /// Envoy hands Wasm only the certificate's first URI SAN; with a
    /// `prefix` (the trust domain the gateway's certificate check accepts,
    /// e.g. `spiffe://cluster.local/`) that SAN must start with it, so a
    /// SAN outside the trusted prefix is never used as the identity.
    PeerUriSan { prefix: Option<String> },
    /// A JWT the workload presents, verified against configured keys.
    Jwt(Box<JwtSource>),
    /// A value another filter put in the request's dynamic metadata, e.g. the
    /// `sub` claim of a JWT that Envoy's `jwt_authn` filter verified
    /// (`payload_in_metadata`): `filter_metadata[namespace][path[0]]…`.
    /// Read with one property call; nothing is removed from the request.
    ///
    /// Envoy's property ABI carries no type: a string comes back as its
    /// bytes, a number as the 8 raw bytes of a double (or integer), a bool
    /// as 1 byte, a map or list as a binary pairs encoding, a null not at
    /// all. The value is accepted only as UTF-8 text that passes the rules
    /// of every identity (no control, format or separator characters,
    /// length limits), which refuses those binary encodings in practice
    /// (they hold NUL or other control bytes); a number whose 8 bytes
    /// happen to be printable text cannot be told apart. So `path` must
    /// name a string claim (`sub` is one by RFC 7519).
    Metadata {
        namespace: String,
        path: Vec<String>,
    },
}

impl IdentitySource {
    /// The `source` name used in the configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Static(_) => "static",
            Self::Header(_) => "header",
            Self::PeerUriSan { .. } => "peer_uri_san",
            Self::Jwt(_) => "jwt",
            Self::Metadata { .. } => "metadata",
        }
    }
}

/// Why a request has no usable identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// The header is absent or empty.
    Missing { header: String },
    /// The header is repeated, not UTF-8, too long or has control, format or separator characters.
    Invalid { header: String, reason: String },
    /// The header could not be removed, so the request must not go upstream.
    NotRemoved { header: String },
    /// No downstream client certificate with a URI SAN.
    NoPeerCertificate,
    /// The peer certificate's URI SAN is not an acceptable identity.
    InvalidPeer { reason: String },
    /// The JWT header is absent or empty (answered 401).
    JwtMissing { header: String },
    /// The JWT is malformed, unverifiable or its claims do not fit (answered 401).
    JwtInvalid { header: String, reason: String },
    /// The dynamic metadata has no (or an empty) value at the configured
    /// place: no filter before this one set it (e.g. `jwt_authn` let a
    /// request without a JWT through). `place` names namespace and path.
    MetadataMissing { place: String },
    /// The metadata value is not an acceptable identity (not UTF-8 text, or
    /// it breaks the identity rules). Neither field carries the value.
    MetadataInvalid { place: String, reason: String },
}

/// Reads the identity of the current request. A header or JWT source's
/// header is removed from the request whatever the outcome.
/// A static identity is borrowed from the configuration (no allocation on
/// the hot path of a sidecar).
pub fn resolve<'a, H: Host>(
    source: &'a IdentitySource,
    host: &mut H,
) -> Result<Cow<'a, str>, IdentityError> {
    match source {
        IdentitySource::Static(value) => Ok(Cow::Borrowed(value)),
        IdentitySource::Header(name) => from_header(name, take_header(host, name)?).map(Cow::Owned),
        IdentitySource::PeerUriSan { prefix } => {
            from_peer(host.property(&PEER_URI_SAN_PROPERTY), prefix.as_deref()).map(Cow::Owned)
        }
        IdentitySource::Jwt(source) => {
            let values = take_header(host, &source.header)?;
            let now_s = unix_ms(host.now()) / 1000;
            from_jwt(source, values, now_s).map(Cow::Owned)
        }
        IdentitySource::Metadata { namespace, path } => {
            let mut slots = [""; METADATA_SLOTS];
            let value = match metadata_property(&mut slots, namespace, path) {
                Some(property) => host.property(property),
                // Longer than the configuration allows: fail closed.
                None => None,
            };
            from_metadata(value, namespace, path).map(Cow::Owned)
        }
    }
}

/// `metadata.filter_metadata.<namespace>.<path…>` in `slots` (no heap
/// allocation); `None` if `path` has more than [`MAX_METADATA_PATH`] keys.
fn metadata_property<'s>(
    slots: &'s mut [&'s str; METADATA_SLOTS],
    namespace: &'s str,
    path: &'s [String],
) -> Option<&'s [&'s str]> {
    let len = METADATA_PROPERTY.len() + 1 + path.len();
    let parts = METADATA_PROPERTY
        .into_iter()
        .chain([namespace])
        .chain(path.iter().map(String::as_str));
    for (slot, part) in slots.get_mut(..len)?.iter_mut().zip(parts) {
        *slot = part;
    }
    slots.get(..len)
}

/// Where a `metadata` source looks, for messages: the namespace, then the
/// path keys quoted (they may hold dots, slashes or spaces),
/// e.g. `envoy.filters.http.jwt_authn ["jwt_payload", "sub"]`.
pub fn metadata_place(namespace: &str, path: &[String]) -> String {
    let mut place = format!("{namespace} [");
    for (i, key) in path.iter().enumerate() {
        if i > 0 {
            place.push_str(", ");
        }
        // Keys are short and free of control characters (config rules).
        let _ = write!(place, "{key:?}");
    }
    place.push(']');
    place
}

fn from_metadata(
    value: Option<Vec<u8>>,
    namespace: &str,
    path: &[String],
) -> Result<String, IdentityError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Err(IdentityError::MetadataMissing {
            place: metadata_place(namespace, path),
        });
    };
    let invalid = |reason: String| IdentityError::MetadataInvalid {
        place: metadata_place(namespace, path),
        reason,
    };
    let value = String::from_utf8(value)
        .map_err(|_| invalid("it is not UTF-8 text (the path must name a string claim)".into()))?;
    check_identity(&value).map_err(|reason| invalid(format!("it {reason}")))?;
    Ok(value)
}

fn take_header<H: Host>(host: &mut H, name: &str) -> Result<Vec<Vec<u8>>, IdentityError> {
    let values = host.request_header_values(name);
    if host.remove_request_header(name).is_err() {
        return Err(IdentityError::NotRemoved {
            header: name.to_owned(),
        });
    }
    Ok(values)
}

fn from_header(name: &str, mut values: Vec<Vec<u8>>) -> Result<String, IdentityError> {
    let invalid = |reason: &str| IdentityError::Invalid {
        header: name.to_owned(),
        reason: reason.to_owned(),
    };
    if values.len() > 1 {
        return Err(invalid("the header is repeated"));
    }
    let Some(value) = values.pop().filter(|v| !v.is_empty()) else {
        return Err(IdentityError::Missing {
            header: name.to_owned(),
        });
    };
    let value = String::from_utf8(value).map_err(|_| invalid("the value is not UTF-8"))?;
    check_identity(&value).map_err(|reason| invalid(&format!("the value {reason}")))?;
    Ok(value)
}

fn from_peer(value: Option<Vec<u8>>, prefix: Option<&str>) -> Result<String, IdentityError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Err(IdentityError::NoPeerCertificate);
    };
    let invalid = |reason: String| IdentityError::InvalidPeer { reason };
    let value = String::from_utf8(value).map_err(|_| invalid("it is not UTF-8".into()))?;
    check_identity(&value).map_err(|reason| invalid(format!("it {reason}")))?;
    if let Some(prefix) = prefix
        && !value.starts_with(prefix)
    {
        return Err(invalid(format!(
            "the first URI SAN is outside the trusted prefix {prefix}"
        )));
    }
    Ok(value)
}

fn from_jwt(
    source: &JwtSource,
    mut values: Vec<Vec<u8>>,
    now_s: u64,
) -> Result<String, IdentityError> {
    let header = &source.header;
    let invalid = |reason: String| IdentityError::JwtInvalid {
        header: header.clone(),
        reason,
    };
    if values.len() > 1 {
        return Err(invalid("the header is repeated".into()));
    }
    let Some(value) = values.pop().filter(|v| !v.is_empty()) else {
        return Err(IdentityError::JwtMissing {
            header: header.clone(),
        });
    };
    let value = String::from_utf8(value).map_err(|_| invalid("the value is not UTF-8".into()))?;
    let token = match bearer(&value) {
        Some(token) => token,
        None if header == "authorization" => {
            return Err(invalid("the value is not a Bearer credential".into()));
        }
        None => value.trim(),
    };
    jwt::verify(source, token, now_s).map_err(invalid)
}

/// The credential of `Bearer <credential>` (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests;
