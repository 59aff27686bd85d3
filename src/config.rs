//! Plugin configuration: parse the JSON Envoy hands over, then validate it
//! into a [`FilterConfig`]. Every error names its field path.

use std::fmt;
use std::time::Duration;

use crate::identity::{IdentitySource, MAX_METADATA_PATH};
use crate::json::{self, Value};
use crate::jwt::{JwtKey, JwtSource, MAX_KEYS};
use claude_wif_api::{DEFAULT_SERVER_WORKLOAD, MAX_IDENTITY_LEN, TOKEN_PATH};

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

/// The configuration as written, defaults filled in, not yet validated.
struct RawConfig<'a> {
    issuer_cluster: Option<String>,
    issuer_authority: String,
    token_path: String,
    timeout_ms: u64,
    server_workload: String,
    identity: Option<RawIdentity<'a>>,
    advisory_refresh_s: u64,
    mandatory_refresh_s: u64,
    internal_api_key: Option<String>,
    max_identities: u64,
    refresh_tick_ms: u64,
}

/// The `identity` object as written, by its `source`.
enum RawIdentity<'a> {
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
        keys: &'a [Value],
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

/// The top-level fields, in the order they are read.
const FIELDS: [&str; 11] = [
    "issuer_cluster",
    "issuer_authority",
    "token_path",
    "timeout_ms",
    "server_workload",
    "identity",
    "advisory_refresh_s",
    "mandatory_refresh_s",
    "internal_api_key",
    "max_identities",
    "refresh_tick_ms",
];
/// The values of `identity.source`.
const SOURCES: [&str; 5] = ["static", "header", "peer_uri_san", "jwt", "metadata"];
/// The members of a `jwt` identity source.
const JWT_FIELDS: [&str; 8] = [
    "source",
    "header",
    "issuer",
    "audiences",
    "claim",
    "keys",
    "leeway_s",
    "max_lifetime_s",
];
/// Longest member name shown unquoted in a field path or message.
const MAX_SHOWN_NAME: usize = 64;

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

impl FilterConfig {
    /// Parses and validates the plugin configuration bytes. Empty bytes are
    /// read as `{}` (and then fail: `issuer_cluster` is required).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigErrors> {
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}".as_slice()
        } else {
            bytes
        };
        let value = json::parse(bytes)
            .map_err(|e| ConfigErrors(vec![ConfigError::new(".", e.to_string())]))?;
        validate(decode(&value)?)
    }
}

/// Reads the members of one JSON object into typed fields. Every member of
/// the wrong type adds an error naming its path; its default is used.
struct Reader<'a, 'e> {
    /// Path of the object itself; empty at the top level.
    path: &'static str,
    members: &'a [(String, Value)],
    errors: &'e mut Vec<ConfigError>,
}

impl<'a> Reader<'a, '_> {
    fn field(&self, name: &str) -> String {
        let name = shown_name(name);
        if self.path.is_empty() {
            name
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn error(&mut self, name: &str, message: impl Into<String>) {
        let field = self.field(name);
        self.errors.push(ConfigError::new(field, message));
    }

    fn expected(&mut self, name: &str, what: &str, found: &Value) {
        self.error(name, format!("expected {what}, found {}", found.kind()));
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        json::get(self.members, name)
    }

    /// One error per member not in `known`.
    fn refuse_unknown(&mut self, known: &[&str]) {
        let members = self.members;
        for (name, _) in members {
            if !known.contains(&name.as_str()) {
                let message = format!(
                    "unknown field `{}`, expected one of {}",
                    shown_name(name),
                    one_of(known)
                );
                self.error(name, message);
            }
        }
    }

    /// A string; `default` if absent.
    fn string(&mut self, name: &str, default: &str) -> String {
        self.optional_string(name, false)
            .unwrap_or_else(|| default.to_owned())
    }

    /// A string that must be present (`source` names the variant needing it).
    fn required_string(&mut self, name: &str, source: &str) -> String {
        if self.get(name).is_none() {
            self.error(name, format!("required for source `{source}`"));
        }
        self.optional_string(name, false).unwrap_or_default()
    }

    /// A string or, if `null_ok`, null; `None` if absent, null or wrong.
    fn optional_string(&mut self, name: &str, null_ok: bool) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null if null_ok => None,
            other => {
                let what = if null_ok {
                    "a string or null"
                } else {
                    "a string"
                };
                self.expected(name, what, other);
                None
            }
        }
    }

    /// A non-negative integer; `default` if absent.
    fn u64(&mut self, name: &str, default: u64) -> u64 {
        match self.get(name) {
            None => default,
            Some(value) => value.as_u64().unwrap_or_else(|| {
                self.expected(name, "a non-negative integer", value);
                default
            }),
        }
    }

    /// An array that must be present.
    fn required_array(&mut self, name: &str, source: &str) -> &'a [Value] {
        match self.get(name) {
            None => {
                self.error(name, format!("required for source `{source}`"));
                &[]
            }
            Some(Value::Array(items)) => items,
            Some(other) => {
                self.expected(name, "an array", other);
                &[]
            }
        }
    }

    /// An array of strings that must be present.
    fn required_strings(&mut self, name: &str, source: &str) -> Vec<String> {
        let items = self.required_array(name, source);
        let mut strings = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => strings.push(s.clone()),
                other => self.expected(&format!("{name}[{i}]"), "a string", other),
            }
        }
        strings
    }
}

/// A member name as shown in paths and messages: as is if short visible
/// ASCII, else quoted with escapes and cut short (no log injection).
fn shown_name(name: &str) -> String {
    let plain = |c: char| c.is_ascii_graphic() && c != '`' && c != '"';
    if name.len() <= MAX_SHOWN_NAME && !name.is_empty() && name.chars().all(plain) {
        name.to_owned()
    } else {
        json::quote(name)
    }
}

/// "`a`, `b`, `c`".
fn one_of(names: &[&str]) -> String {
    let mut out = String::new();
    for name in names {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(name);
        out.push('`');
    }
    out
}

/// The typed configuration, or every type, shape and unknown-field error.
fn decode(value: &Value) -> Result<RawConfig<'_>, ConfigErrors> {
    let mut errors = Vec::new();
    let Some(members) = value.as_object() else {
        let message = format!("expected a JSON object, found {}", value.kind());
        return Err(ConfigErrors(vec![ConfigError::new(".", message)]));
    };
    let mut r = Reader {
        path: "",
        members,
        errors: &mut errors,
    };
    r.refuse_unknown(&FIELDS);
    let issuer_cluster = r.optional_string("issuer_cluster", true);
    let issuer_authority = r.string("issuer_authority", DEFAULT_AUTHORITY);
    let token_path = r.string("token_path", TOKEN_PATH);
    let timeout_ms = r.u64("timeout_ms", DEFAULT_TIMEOUT_MS);
    let server_workload = r.string("server_workload", DEFAULT_SERVER_WORKLOAD);
    let identity = match r.get("identity") {
        None | Some(Value::Null) => None,
        Some(Value::Object(members)) => decode_identity(members, r.errors),
        Some(other) => {
            r.expected("identity", "an object", other);
            None
        }
    };
    let advisory_refresh_s = r.u64("advisory_refresh_s", DEFAULT_ADVISORY_S);
    let mandatory_refresh_s = r.u64("mandatory_refresh_s", DEFAULT_MANDATORY_S);
    let internal_api_key = match r.get("internal_api_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) => Some(key.clone()),
        // Never echo any part of the key, whatever its type.
        Some(_) => {
            r.error("internal_api_key", "must be a string or null");
            None
        }
    };
    let max_identities = r.u64("max_identities", DEFAULT_MAX_IDENTITIES);
    let refresh_tick_ms = r.u64("refresh_tick_ms", DEFAULT_REFRESH_TICK_MS);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(RawConfig {
        issuer_cluster,
        issuer_authority,
        token_path,
        timeout_ms,
        server_workload,
        identity,
        advisory_refresh_s,
        mandatory_refresh_s,
        internal_api_key,
        max_identities,
        refresh_tick_ms,
    })
}

/// The `identity` object by its `source`; `None` after an error.
fn decode_identity<'a>(
    members: &'a [(String, Value)],
    errors: &mut Vec<ConfigError>,
) -> Option<RawIdentity<'a>> {
    let mut r = Reader {
        path: "identity",
        members,
        errors,
    };
    let source = match r.get("source") {
        Some(Value::String(source)) => source.as_str(),
        None => {
            r.error("source", format!("required: one of {}", one_of(&SOURCES)));
            return None;
        }
        Some(other) => {
            r.expected("source", "a string", other);
            return None;
        }
    };
    let identity = match source {
        "static" => {
            r.refuse_unknown(&["source", "value"]);
            RawIdentity::Static {
                value: r.required_string("value", source),
            }
        }
        "header" => {
            r.refuse_unknown(&["source", "name"]);
            RawIdentity::Header {
                name: r.string("name", DEFAULT_IDENTITY_HEADER),
            }
        }
        "peer_uri_san" => {
            r.refuse_unknown(&["source", "prefix"]);
            RawIdentity::PeerUriSan {
                prefix: r.optional_string("prefix", true),
            }
        }
        "jwt" => {
            r.refuse_unknown(&JWT_FIELDS);
            RawIdentity::Jwt {
                header: r.string("header", DEFAULT_JWT_HEADER),
                issuer: r.required_string("issuer", source),
                audiences: r.required_strings("audiences", source),
                claim: r.string("claim", DEFAULT_CLAIM),
                keys: r.required_array("keys", source),
                leeway_s: r.u64("leeway_s", DEFAULT_LEEWAY_S),
                max_lifetime_s: r.u64("max_lifetime_s", DEFAULT_JWT_MAX_LIFETIME_S),
            }
        }
        "metadata" => {
            r.refuse_unknown(&["source", "namespace", "path"]);
            RawIdentity::Metadata {
                namespace: r.required_string("namespace", source),
                path: r.required_strings("path", source),
            }
        }
        unknown => {
            let message = format!(
                "unknown variant `{}`, expected one of {}",
                shown_name(unknown),
                one_of(&SOURCES)
            );
            r.error("source", message);
            return None;
        }
    };
    Some(identity)
}

fn validate(raw: RawConfig<'_>) -> Result<FilterConfig, ConfigErrors> {
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
                Err("required: {\"source\": \"static\" | \"header\" | \"peer_uri_san\" | \"jwt\" | \"metadata\", …}".into()),
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
        Some(RawIdentity::PeerUriSan { prefix }) => {
            if let Some(prefix) = &prefix {
                check("identity.prefix", san_prefix(prefix));
            }
            Some(IdentitySource::PeerUriSan { prefix })
        }
        Some(RawIdentity::Jwt {
            header,
            issuer,
            audiences,
            claim,
            keys,
            leeway_s,
            max_lifetime_s,
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
            check(
                "identity.max_lifetime_s",
                in_range(max_lifetime_s, 60, MAX_JWT_LIFETIME_S, "seconds"),
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
                max_lifetime_s,
                keys: parsed,
            })))
        }
        Some(RawIdentity::Metadata { namespace, path }) => {
            check("identity.namespace", plain_name(&namespace, MAX_NAME_LEN));
            if path.is_empty() || path.len() > MAX_METADATA_PATH {
                check(
                    "identity.path",
                    Err(format!("must list 1 to {MAX_METADATA_PATH} keys")),
                );
            }
            for (i, key) in path.iter().enumerate() {
                check(&format!("identity.path[{i}]"), metadata_key(key));
            }
            Some(IdentitySource::Metadata { namespace, path })
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
    if value
        .chars()
        .any(claude_wif_api::text::is_hidden_or_control)
    {
        return Err("must not contain control, format or separator characters".into());
    }
    Ok(())
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
