//! Plugin configuration: parse the JSON Envoy hands over, then validate it
//! into a [`FilterConfig`]. Every error names its field path.

use std::fmt;
use std::time::Duration;

use claude_wif_api::{DEFAULT_SERVER_WORKLOAD, MAX_IDENTITY_LEN, TOKEN_PATH};
use serde::Deserialize;

use crate::identity::IdentitySource;
use crate::jwt::{JwtKey, JwtSource, MAX_KEYS};

/// Header name used by `{"source":"header"}` when `name` is not given.
pub const DEFAULT_IDENTITY_HEADER: &str = "x-client-workload";
/// Headers the filter rewrites itself, so they cannot carry the identity.
const RESERVED_HEADERS: [&str; 3] = ["authorization", "x-api-key", "anthropic-beta"];
const MAX_NAME_LEN: usize = 256;
const MAX_PATH_LEN: usize = 1024;
const MAX_API_KEY_LEN: usize = 4096;
const MAX_TIMEOUT_MS: u64 = 60_000;
const MAX_ADVISORY_S: u64 = 3_600;
const MAX_IDENTITIES: u64 = 1_000_000;
const MAX_AUDIENCES: usize = 16;
const MAX_LEEWAY_S: u64 = 300;

/// The validated configuration of one plugin instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterConfig {
    pub issuer: IssuerConfig,
    pub server_workload: String,
    pub identity: IdentitySource,
    pub refresh: RefreshPolicy,
    /// Most client workload identities cached (and tracked for refresh).
    pub max_identities: u64,
    /// Period of the background-refresh tick.
    pub refresh_tick: Duration,
}

/// How to reach issuer-svc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    pub cluster: String,
    pub authority: String,
    pub token_path: String,
    pub timeout: Duration,
    pub internal_api_key: Option<InternalApiKey>,
}

/// When a cached token must be refreshed (DESIGN.md "Refresh policy").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    pub advisory_s: u64,
    pub mandatory_s: u64,
}

/// The key issuer-svc's internal API expects; `Debug` shows only its last 4 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct InternalApiKey(String);

impl InternalApiKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InternalApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.chars().count();
        let tail: String = self.0.chars().skip(count.saturating_sub(4)).collect();
        write!(f, "InternalApiKey(…{tail})")
    }
}

/// A configuration error: the field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// All errors of one configuration, shown on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer_cluster: Option<String>,
    #[serde(default = "default_authority")]
    issuer_authority: String,
    #[serde(default = "default_token_path")]
    token_path: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_server_workload")]
    server_workload: String,
    identity: Option<RawIdentity>,
    #[serde(default = "default_advisory")]
    advisory_refresh_s: u64,
    #[serde(default = "default_mandatory")]
    mandatory_refresh_s: u64,
    #[serde(default)]
    internal_api_key: Option<String>,
    #[serde(default = "default_max_identities")]
    max_identities: u64,
    #[serde(default = "default_refresh_tick_ms")]
    refresh_tick_ms: u64,
}

#[derive(Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
enum RawIdentity {
    Static {
        value: String,
    },
    Header {
        #[serde(default = "default_identity_header")]
        name: String,
    },
    PeerUriSan {},
    Jwt {
        #[serde(default = "default_jwt_header")]
        header: String,
        issuer: String,
        audiences: Vec<String>,
        #[serde(default = "default_claim")]
        claim: String,
        keys: Vec<serde_json::Value>,
        #[serde(default = "default_leeway")]
        leeway_s: u64,
    },
}

fn default_jwt_header() -> String {
    "authorization".to_owned()
}
fn default_claim() -> String {
    "sub".to_owned()
}
fn default_leeway() -> u64 {
    30
}
fn default_max_identities() -> u64 {
    10_000
}
fn default_refresh_tick_ms() -> u64 {
    1_000
}

fn default_authority() -> String {
    "issuer-svc".to_owned()
}
fn default_token_path() -> String {
    TOKEN_PATH.to_owned()
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_server_workload() -> String {
    DEFAULT_SERVER_WORKLOAD.to_owned()
}
fn default_advisory() -> u64 {
    120
}
fn default_mandatory() -> u64 {
    30
}
fn default_identity_header() -> String {
    DEFAULT_IDENTITY_HEADER.to_owned()
}

impl FilterConfig {
    /// Parses and validates the plugin configuration bytes. Empty bytes are
    /// read as `{}` (and then fail: `issuer_cluster` is required).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigErrors> {
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            bytes
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let raw: RawConfig = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| ConfigErrors(vec![serde_error(e)]))?;
        de.end()
            .map_err(|e| ConfigErrors(vec![ConfigError::new(".", e.to_string())]))?;
        validate(raw)
    }
}

fn serde_error(e: serde_path_to_error::Error<serde_json::Error>) -> ConfigError {
    let path = e.path().to_string();
    let field = if path.is_empty() {
        ".".to_owned()
    } else {
        path
    };
    if field.starts_with("internal_api_key") {
        // serde echoes the offending value; never put the key in a log line.
        return ConfigError::new(field, "must be a string or null");
    }
    let message = e.into_inner().to_string();
    // Inside the tagged `identity` enum serde reports the parent's path for an
    // unknown field; name the field itself, as at the top level.
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let field = match unknown {
        Some(name) if field != name && !field.ends_with(&format!(".{name}")) => {
            if field == "." {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            }
        }
        _ => field,
    };
    ConfigError::new(field, message)
}

fn validate(raw: RawConfig) -> Result<FilterConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            errors.push(ConfigError::new(field, message));
        }
    };

    let cluster = raw.issuer_cluster.unwrap_or_default();
    if cluster.is_empty() {
        check(
            "issuer_cluster",
            Err("required: the Envoy cluster of issuer-svc".into()),
        );
    } else {
        check("issuer_cluster", plain_name(&cluster, MAX_NAME_LEN));
    }
    check(
        "issuer_authority",
        plain_name(&raw.issuer_authority, MAX_NAME_LEN),
    );
    check("token_path", token_path(&raw.token_path));
    check(
        "timeout_ms",
        in_range(raw.timeout_ms, 1, MAX_TIMEOUT_MS, "milliseconds"),
    );
    check("server_workload", server_workload(&raw.server_workload));
    check(
        "advisory_refresh_s",
        in_range(raw.advisory_refresh_s, 1, MAX_ADVISORY_S, "seconds"),
    );
    if raw.mandatory_refresh_s >= raw.advisory_refresh_s {
        check(
            "mandatory_refresh_s",
            Err(format!(
                "must be less than advisory_refresh_s ({})",
                raw.advisory_refresh_s
            )),
        );
    }
    if let Some(key) = &raw.internal_api_key {
        check("internal_api_key", api_key(key));
    }
    check(
        "max_identities",
        in_range(raw.max_identities, 1, MAX_IDENTITIES, "identities"),
    );
    check(
        "refresh_tick_ms",
        in_range(raw.refresh_tick_ms, 100, MAX_TIMEOUT_MS, "milliseconds"),
    );
    let identity = match raw.identity {
        None => {
            check(
                "identity",
                Err("required: {\"source\": \"static\" | \"header\" | \"peer_uri_san\" | \"jwt\", …}".into()),
            );
            None
        }
        Some(RawIdentity::Static { value }) => {
            check("identity.value", static_identity(&value));
            Some(IdentitySource::Static(value))
        }
        Some(RawIdentity::Header { name }) => {
            check("identity.name", identity_header(&name));
            Some(IdentitySource::Header(name))
        }
        Some(RawIdentity::PeerUriSan {}) => Some(IdentitySource::PeerUriSan),
        Some(RawIdentity::Jwt {
            header,
            issuer,
            audiences,
            claim,
            keys,
            leeway_s,
        }) => {
            if header != "authorization" {
                check("identity.header", identity_header(&header));
            }
            check("identity.issuer", static_identity(&issuer));
            if audiences.is_empty() || audiences.len() > MAX_AUDIENCES {
                check(
                    "identity.audiences",
                    Err(format!("must list 1 to {MAX_AUDIENCES} audiences")),
                );
            }
            for (i, audience) in audiences.iter().enumerate() {
                check(
                    &format!("identity.audiences[{i}]"),
                    static_identity(audience),
                );
            }
            check("identity.claim", plain_name(&claim, MAX_NAME_LEN));
            check(
                "identity.leeway_s",
                in_range(leeway_s, 0, MAX_LEEWAY_S, "seconds"),
            );
            if keys.is_empty() || keys.len() > MAX_KEYS {
                check(
                    "identity.keys",
                    Err(format!("must list 1 to {MAX_KEYS} public JWKs")),
                );
            }
            let mut parsed = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                match JwtKey::from_jwk(key) {
                    Ok(key) => parsed.push(key),
                    Err(message) => check(&format!("identity.keys[{i}]"), Err(message)),
                }
            }
            Some(IdentitySource::Jwt(Box::new(JwtSource {
                header,
                issuer,
                audiences,
                claim,
                leeway_s,
                keys: parsed,
            })))
        }
    };

    match identity {
        Some(identity) if errors.is_empty() => Ok(FilterConfig {
            issuer: IssuerConfig {
                cluster,
                authority: raw.issuer_authority,
                token_path: raw.token_path,
                timeout: Duration::from_millis(raw.timeout_ms),
                internal_api_key: raw.internal_api_key.map(InternalApiKey),
            },
            server_workload: raw.server_workload,
            identity,
            refresh: RefreshPolicy {
                advisory_s: raw.advisory_refresh_s,
                mandatory_s: raw.mandatory_refresh_s,
            },
            max_identities: raw.max_identities,
            refresh_tick: Duration::from_millis(raw.refresh_tick_ms),
        }),
        _ => Err(ConfigErrors(errors)),
    }
}

/// Visible ASCII without spaces: safe as a header value or cluster name.
pub(crate) fn is_visible_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_graphic())
}

fn plain_name(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > max {
        return Err(format!("must be at most {max} bytes"));
    }
    if !is_visible_ascii(value) {
        return Err("must be visible ASCII without spaces".into());
    }
    Ok(())
}

fn token_path(value: &str) -> Result<(), String> {
    plain_name(value, MAX_PATH_LEN)?;
    if !value.starts_with('/') {
        return Err("must start with /".into());
    }
    Ok(())
}

fn server_workload(value: &str) -> Result<(), String> {
    plain_name(value, MAX_NAME_LEN)?;
    if value.contains('/') {
        return Err("must not contain /".into());
    }
    Ok(())
}

fn in_range(value: u64, min: u64, max: u64, unit: &str) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("must be between {min} and {max} {unit}"))
    }
}

fn api_key(value: &str) -> Result<(), String> {
    // Messages here never echo the value.
    if value.is_empty() {
        return Err("must not be empty (use null for none)".into());
    }
    if value.len() > MAX_API_KEY_LEN {
        return Err(format!("must be at most {MAX_API_KEY_LEN} bytes"));
    }
    if !is_visible_ascii(value) {
        return Err("must be visible ASCII without spaces".into());
    }
    Ok(())
}

pub(crate) fn static_identity(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > MAX_IDENTITY_LEN {
        return Err(format!("must be at most {MAX_IDENTITY_LEN} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

fn identity_header(name: &str) -> Result<(), String> {
    if name.starts_with(':') {
        return Err("must not be a pseudo-header".into());
    }
    let token_char =
        |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.bytes().all(token_char) {
        return Err("must be a lowercase HTTP header name".into());
    }
    if RESERVED_HEADERS.contains(&name) {
        return Err(format!("must not be {} (the filter rewrites it)", name));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
