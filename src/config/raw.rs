//! The plugin configuration as written: serde types with the documented
//! defaults. Structure only (types, unknown and duplicate members, each
//! source's required members); `validate` in the parent checks the values.

use serde::Deserialize;
use serde::de::{Error as _, IgnoredAny, MapAccess};

use super::{ConfigError, DEFAULT_IDENTITY_HEADER, InternalApiKey};
use crate::de::{self, Shape, shown_name};
use crate::jwt::Jwk;
use claude_wif_api::{DEFAULT_SERVER_WORKLOAD, TOKEN_PATH};

const DEFAULT_AUTHORITY: &str = "issuer-svc";
const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const DEFAULT_ADVISORY_S: u64 = 120;
const DEFAULT_MANDATORY_S: u64 = 30;
const DEFAULT_MAX_IDENTITIES: u64 = 10_000;
const DEFAULT_REFRESH_TICK_MS: u64 = 1_000;
const DEFAULT_JWT_HEADER: &str = "authorization";
const DEFAULT_CLAIM: &str = "sub";
const DEFAULT_LEEWAY_S: u64 = 30;
/// A day: far above Kubernetes' projected tokens (an hour by default).
const DEFAULT_JWT_MAX_LIFETIME_S: u64 = 86_400;

/// The top-level object. serde refuses unknown and duplicate members and
/// names each error's path; a member's type error stops the parse.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawConfig {
    /// A string or null; required (checked by `validate`).
    #[serde(deserialize_with = "de::shape")]
    pub issuer_cluster: Option<String>,
    #[serde(deserialize_with = "de::shape")]
    pub issuer_authority: String,
    #[serde(deserialize_with = "de::shape")]
    pub token_path: String,
    #[serde(deserialize_with = "de::shape")]
    pub timeout_ms: u64,
    #[serde(deserialize_with = "de::shape")]
    pub server_workload: String,
    /// An object or null; required (checked by `validate`).
    #[serde(deserialize_with = "de::shape")]
    pub identity: Option<RawIdentity>,
    #[serde(deserialize_with = "de::shape")]
    pub advisory_refresh_s: u64,
    #[serde(deserialize_with = "de::shape")]
    pub mandatory_refresh_s: u64,
    /// A string or null; no error ever shows any part of it.
    #[serde(deserialize_with = "de::shape")]
    pub internal_api_key: Option<InternalApiKey>,
    #[serde(deserialize_with = "de::shape")]
    pub max_identities: u64,
    #[serde(deserialize_with = "de::shape")]
    pub refresh_tick_ms: u64,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            issuer_cluster: None,
            issuer_authority: DEFAULT_AUTHORITY.into(),
            token_path: TOKEN_PATH.into(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            server_workload: DEFAULT_SERVER_WORKLOAD.into(),
            identity: None,
            advisory_refresh_s: DEFAULT_ADVISORY_S,
            mandatory_refresh_s: DEFAULT_MANDATORY_S,
            internal_api_key: None,
            max_identities: DEFAULT_MAX_IDENTITIES,
            refresh_tick_ms: DEFAULT_REFRESH_TICK_MS,
        }
    }
}

/// The secret: a string or null. A refusal names neither the value nor its
/// kind (serde's own message would quote it).
impl<'de> Shape<'de> for Option<InternalApiKey> {
    const EXPECTED: &'static str = "a string or null";

    fn refusal(_: &str) -> String {
        "must be a string or null".into()
    }

    fn from_str<E: serde::de::Error>(v: &str) -> Result<Self, E> {
        Ok(Some(InternalApiKey(v.to_owned())))
    }

    fn from_null<E: serde::de::Error>() -> Result<Self, E> {
        Ok(None)
    }
}

/// The `identity` object as written: every member any source has, each
/// read by its shape (so a type error names its path, e.g.
/// `identity.keys[1].kid`), and the names of all members in document
/// order. Which members its `source` allows is checked by
/// [`RawIdentity::source`], so an unknown member is named with the
/// source's own list. (serde's internally tagged enums buffer the object
/// first, which loses the paths.)
#[derive(Default)]
pub(super) struct RawIdentity {
    names: Vec<String>,
    source: Option<String>,
    value: Option<String>,
    name: Option<String>,
    prefix: Option<Option<String>>,
    header: Option<String>,
    issuer: Option<String>,
    audiences: Option<Vec<String>>,
    claim: Option<String>,
    keys: Option<Vec<Jwk>>,
    leeway_s: Option<u64>,
    max_lifetime_s: Option<u64>,
    namespace: Option<String>,
    path: Option<Vec<String>>,
}

/// An object or null.
impl<'de> Shape<'de> for Option<RawIdentity> {
    const EXPECTED: &'static str = "an object";

    fn from_null<E: serde::de::Error>() -> Result<Self, E> {
        Ok(None)
    }

    fn from_object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut raw = RawIdentity::default();
        while let Some(name) = map.next_key::<String>()? {
            if raw.names.contains(&name) {
                let name = shown_name(&name);
                return Err(A::Error::custom(format_args!("duplicate field `{name}`")));
            }
            let m = &mut map;
            match name.as_str() {
                "source" => raw.source = Some(de::next_value(m)?),
                "value" => raw.value = Some(de::next_value(m)?),
                "name" => raw.name = Some(de::next_value(m)?),
                "prefix" => raw.prefix = Some(de::next_value(m)?),
                "header" => raw.header = Some(de::next_value(m)?),
                "issuer" => raw.issuer = Some(de::next_value(m)?),
                "audiences" => raw.audiences = Some(de::next_value(m)?),
                "claim" => raw.claim = Some(de::next_value(m)?),
                "keys" => raw.keys = Some(de::next_value(m)?),
                "leeway_s" => raw.leeway_s = Some(de::next_value(m)?),
                "max_lifetime_s" => raw.max_lifetime_s = Some(de::next_value(m)?),
                "namespace" => raw.namespace = Some(de::next_value(m)?),
                "path" => raw.path = Some(de::next_value(m)?),
                // Named as unknown by `source`, with the source's own list.
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
            raw.names.push(name);
        }
        Ok(Some(raw))
    }
}

/// The values of `identity.source`.
pub(super) const SOURCES: [&str; 5] = ["static", "header", "peer_uri_san", "jwt", "metadata"];

/// The members each source allows.
fn members(source: &str) -> Option<&'static [&'static str]> {
    Some(match source {
        "static" => &["source", "value"],
        "header" => &["source", "name"],
        "peer_uri_san" => &["source", "prefix"],
        "jwt" => &[
            "source",
            "header",
            "issuer",
            "audiences",
            "claim",
            "keys",
            "leeway_s",
            "max_lifetime_s",
        ],
        "metadata" => &["source", "namespace", "path"],
        _ => return None,
    })
}

/// The `identity` object by its `source`, defaults filled in.
pub(super) enum RawSource {
    Static {
        value: String,
    },
    Header {
        name: String,
    },
    /// `{"source": "peer_uri_san", "prefix": "spiffe://cluster.local/"}`:
    /// the certificate's (first) URI SAN is the identity; with `prefix`
    /// (optional, null by default; must end with `/`) only if it starts
    /// with it: set it to the trust domain the listener's certificate check
    /// accepts, so a SAN outside it is never used.
    PeerUriSan {
        prefix: Option<String>,
    },
    Jwt {
        header: String,
        issuer: String,
        audiences: Vec<String>,
        claim: String,
        keys: Vec<Jwk>,
        /// Leeway on `exp`, `nbf` and `iat` (default 30 s, at most 300).
        leeway_s: u64,
        /// Longest JWT lifetime accepted: `exp` at most this far ahead of
        /// the clock and of `iat` (default 86400 s, 60 s to 366 days).
        max_lifetime_s: u64,
    },
    /// `{"source": "metadata", "namespace": "envoy.filters.http.jwt_authn",
    /// "path": ["jwt_payload", "sub"]}`: the value another filter put in the
    /// request's dynamic metadata, `filter_metadata[namespace][path…]`.
    Metadata {
        namespace: String,
        path: Vec<String>,
    },
}

impl RawIdentity {
    /// The source, or every unknown-member and missing-member error.
    pub(super) fn source(mut self) -> Result<RawSource, Vec<ConfigError>> {
        let (source, allowed) = self.kind().map_err(|error| vec![error])?;
        let mut errors = self.unknown_members(allowed);
        let raw = self.build(source, &mut errors);
        if errors.is_empty() {
            Ok(raw)
        } else {
            Err(errors)
        }
    }

    /// The `source` named and the members it allows.
    fn kind(&mut self) -> Result<(String, &'static [&'static str]), ConfigError> {
        let Some(source) = self.source.take() else {
            let message = format!("required: one of {}", one_of(&SOURCES));
            return Err(member_error("source", message));
        };
        let Some(allowed) = members(&source) else {
            let message = format!(
                "unknown variant `{}`, expected one of {}",
                shown_name(&source),
                one_of(&SOURCES)
            );
            return Err(member_error("source", message));
        };
        Ok((source, allowed))
    }

    /// An error for each member the source does not take.
    fn unknown_members(&self, allowed: &[&str]) -> Vec<ConfigError> {
        self.names
            .iter()
            .filter(|name| !allowed.contains(&name.as_str()))
            .map(|name| {
                let message = format!(
                    "unknown field `{}`, expected one of {}",
                    shown_name(name),
                    one_of(allowed)
                );
                member_error(name, message)
            })
            .collect()
    }

    /// The source's members with their defaults; an error in `errors` for
    /// each required member that is absent.
    fn build(self, source: String, errors: &mut Vec<ConfigError>) -> RawSource {
        let mut required = Required {
            source: &source,
            errors,
        };
        match source.as_str() {
            "static" => RawSource::Static {
                value: required.get("value", self.value),
            },
            "header" => RawSource::Header {
                name: self.name.unwrap_or_else(|| DEFAULT_IDENTITY_HEADER.into()),
            },
            "peer_uri_san" => RawSource::PeerUriSan {
                prefix: self.prefix.flatten(),
            },
            "jwt" => RawSource::Jwt {
                issuer: required.get("issuer", self.issuer),
                audiences: required.get("audiences", self.audiences),
                keys: required.get("keys", self.keys),
                header: self.header.unwrap_or_else(|| DEFAULT_JWT_HEADER.into()),
                claim: self.claim.unwrap_or_else(|| DEFAULT_CLAIM.into()),
                leeway_s: self.leeway_s.unwrap_or(DEFAULT_LEEWAY_S),
                max_lifetime_s: self.max_lifetime_s.unwrap_or(DEFAULT_JWT_MAX_LIFETIME_S),
            },
            _ => RawSource::Metadata {
                namespace: required.get("namespace", self.namespace),
                path: required.get("path", self.path),
            },
        }
    }
}

/// An error about a member of the `identity` object.
fn member_error(name: &str, message: String) -> ConfigError {
    ConfigError::new(format!("identity.{}", shown_name(name)), message)
}

/// Collects an error for each member a source requires that is absent.
struct Required<'a> {
    source: &'a str,
    errors: &'a mut Vec<ConfigError>,
}

impl Required<'_> {
    fn get<T: Default>(&mut self, name: &str, value: Option<T>) -> T {
        if value.is_none() {
            let message = format!("required for source `{}`", self.source);
            self.errors
                .push(ConfigError::new(format!("identity.{name}"), message));
        }
        value.unwrap_or_default()
    }
}

/// "`a`, `b`, `c`".
pub(super) fn one_of(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
