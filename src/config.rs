//! Plugin configuration: parse the JSON Envoy hands over, then validate it
//! into a [`FilterConfig`]. Every error names its field path.

use std::fmt;
use std::time::Duration;

use crate::de;
use crate::identity::{IdentitySource, MAX_METADATA_PATH};
use crate::jwt::{Jwk, JwtKey, JwtSource, MAX_KEYS};
use claude_wif_api::check_identity;
use raw::{RawConfig, RawIdentity, RawSource, SOURCES};

mod raw;

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
/// The longest `max_lifetime_s` (a year and a day: Kubernetes' extended
/// service-account tokens live a year).
const MAX_JWT_LIFETIME_S: u64 = 366 * 86_400;

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

impl FilterConfig {
    /// Parses and validates the plugin configuration bytes. Empty bytes are
    /// read as `{}` (and then fail: `issuer_cluster` is required). A type,
    /// unknown-member or syntax error stops the parse; the values' own
    /// errors are all reported.
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigErrors> {
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            bytes
        };
        let mut raw: RawConfig = de::from_slice(bytes)
            .map_err(|e| ConfigErrors(vec![ConfigError::new(e.path, e.message)]))?;
        let identity = match raw.identity.take().map(RawIdentity::source) {
            None => None,
            Some(Ok(source)) => Some(source),
            Some(Err(errors)) => return Err(ConfigErrors(errors)),
        };
        validate(raw, identity)
    }
}

/// Collects the errors of one validation pass.
struct Checks(Vec<ConfigError>);

impl Checks {
    fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.0.push(ConfigError::new(field, message));
        }
    }
}

fn validate(raw: RawConfig, identity: Option<RawSource>) -> Result<FilterConfig, ConfigErrors> {
    let mut checks = Checks(Vec::new());
    let cluster = issuer_checks(&raw, &mut checks);
    token_checks(&raw, &mut checks);
    let identity = match identity {
        Some(source) => Some(identity_source(source, &mut checks)),
        None => {
            let sources = SOURCES.map(|s| format!("\"{s}\"")).join(" | ");
            let message = format!("required: {{\"source\": {sources}, …}}");
            checks.check("identity", Err(message));
            None
        }
    };
    match identity {
        Some(identity) if checks.0.is_empty() => Ok(filter_config(raw, cluster, identity)),
        _ => Err(ConfigErrors(checks.0)),
    }
}

/// Checks where issuer-svc is and how long a call may take; returns the
/// issuer cluster.
fn issuer_checks(raw: &RawConfig, c: &mut Checks) -> String {
    let cluster = raw.issuer_cluster.clone().unwrap_or_default();
    if cluster.is_empty() {
        let message = "required: the Envoy cluster of issuer-svc".into();
        c.check("issuer_cluster", Err(message));
    } else {
        c.check("issuer_cluster", plain_name(&cluster, MAX_NAME_LEN));
    }
    c.check(
        "issuer_authority",
        plain_name(&raw.issuer_authority, MAX_NAME_LEN),
    );
    c.check("token_path", token_path(&raw.token_path));
    c.check(
        "timeout_ms",
        in_range(raw.timeout_ms, 1, MAX_TIMEOUT_MS, "milliseconds"),
    );
    cluster
}

/// Checks the other top-level fields (in the order errors have always been
/// reported): what is asked for, refresh times, the key, limits.
fn token_checks(raw: &RawConfig, c: &mut Checks) {
    c.check("server_workload", server_workload(&raw.server_workload));
    c.check(
        "advisory_refresh_s",
        in_range(raw.advisory_refresh_s, 1, MAX_ADVISORY_S, "seconds"),
    );
    if raw.mandatory_refresh_s >= raw.advisory_refresh_s {
        let message = format!(
            "must be less than advisory_refresh_s ({})",
            raw.advisory_refresh_s
        );
        c.check("mandatory_refresh_s", Err(message));
    }
    if let Some(key) = &raw.internal_api_key {
        c.check("internal_api_key", api_key(key.expose()));
    }
    c.check(
        "max_identities",
        in_range(raw.max_identities, 1, MAX_IDENTITIES, "identities"),
    );
    c.check(
        "refresh_tick_ms",
        in_range(raw.refresh_tick_ms, 100, MAX_TIMEOUT_MS, "milliseconds"),
    );
}

/// The configuration of values already checked.
fn filter_config(raw: RawConfig, cluster: String, identity: IdentitySource) -> FilterConfig {
    FilterConfig {
        issuer: IssuerConfig {
            cluster,
            authority: raw.issuer_authority,
            token_path: raw.token_path,
            timeout: Duration::from_millis(raw.timeout_ms),
            internal_api_key: raw.internal_api_key,
        },
        server_workload: raw.server_workload,
        identity,
        refresh: RefreshPolicy {
            advisory_s: raw.advisory_refresh_s,
            mandatory_s: raw.mandatory_refresh_s,
        },
        max_identities: raw.max_identities,
        refresh_tick: Duration::from_millis(raw.refresh_tick_ms),
    }
}

/// The identity source, its values checked.
fn identity_source(source: RawSource, c: &mut Checks) -> IdentitySource {
    match source {
        RawSource::Static { value } => {
            c.check("identity.value", static_identity(&value));
            IdentitySource::Static(value)
        }
        RawSource::Header { name } => {
            c.check("identity.name", identity_header(&name));
            IdentitySource::Header(name)
        }
        RawSource::PeerUriSan { prefix } => {
            if let Some(prefix) = &prefix {
                c.check("identity.prefix", san_prefix(prefix));
            }
            IdentitySource::PeerUriSan { prefix }
        }
        RawSource::Jwt {
            header,
            issuer,
            audiences,
            claim,
            keys,
            leeway_s,
            max_lifetime_s,
        } => {
            let mut source = JwtSource {
                header,
                issuer,
                audiences,
                claim,
                leeway_s,
                max_lifetime_s,
                keys: Vec::new(),
            };
            source.keys = jwt_source(&source, keys, c);
            IdentitySource::Jwt(Box::new(source))
        }
        RawSource::Metadata { namespace, path } => {
            c.check("identity.namespace", plain_name(&namespace, MAX_NAME_LEN));
            if path.is_empty() || path.len() > MAX_METADATA_PATH {
                let message = format!("must list 1 to {MAX_METADATA_PATH} keys");
                c.check("identity.path", Err(message));
            }
            for (i, key) in path.iter().enumerate() {
                c.check(&format!("identity.path[{i}]"), metadata_key(key));
            }
            IdentitySource::Metadata { namespace, path }
        }
    }
}

/// Checks a `jwt` source's values; returns its keys, each checked.
fn jwt_source(source: &JwtSource, keys: Vec<Jwk>, c: &mut Checks) -> Vec<JwtKey> {
    if source.header != "authorization" {
        c.check("identity.header", identity_header(&source.header));
    }
    c.check("identity.issuer", static_identity(&source.issuer));
    if source.audiences.is_empty() || source.audiences.len() > MAX_AUDIENCES {
        let message = format!("must list 1 to {MAX_AUDIENCES} audiences");
        c.check("identity.audiences", Err(message));
    }
    for (i, audience) in source.audiences.iter().enumerate() {
        let field = format!("identity.audiences[{i}]");
        c.check(&field, static_identity(audience));
    }
    c.check("identity.claim", plain_name(&source.claim, MAX_NAME_LEN));
    c.check(
        "identity.leeway_s",
        in_range(source.leeway_s, 0, MAX_LEEWAY_S, "seconds"),
    );
    c.check(
        "identity.max_lifetime_s",
        in_range(source.max_lifetime_s, 60, MAX_JWT_LIFETIME_S, "seconds"),
    );
    if keys.is_empty() || keys.len() > MAX_KEYS {
        let message = format!("must list 1 to {MAX_KEYS} public JWKs");
        c.check("identity.keys", Err(message));
    }
    let mut checked = Vec::new();
    for (i, key) in keys.into_iter().enumerate() {
        match JwtKey::try_from(key) {
            Ok(key) => checked.push(key),
            Err(message) => c.check(&format!("identity.keys[{i}]"), Err(message)),
        }
    }
    checked
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

/// The identity rule shared with issuer-svc (`claude_wif_api::check_identity`),
/// as a config error message.
fn static_identity(value: &str) -> Result<(), String> {
    check_identity(value).map_err(|problem| problem.to_string())
}

/// A `peer_uri_san` prefix: an identity prefix ending in `/`, so that
/// `spiffe://td/` cannot match `spiffe://td.evil/…`.
fn san_prefix(value: &str) -> Result<(), String> {
    static_identity(value)?;
    if !value.ends_with('/') {
        return Err("must end with / (e.g. spiffe://cluster.local/)".into());
    }
    Ok(())
}

/// A key inside dynamic metadata: any text (an issuer URL such as
/// `https://issuer.example.com` is one), but no control, format or separator
/// characters (a NUL would split Envoy's property path).
fn metadata_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("must not be empty".into());
    }
    if key.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} bytes"));
    }
    if key.chars().any(claude_wif_api::text::is_hidden_or_control) {
        return Err("must not contain control, format or separator characters".into());
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
