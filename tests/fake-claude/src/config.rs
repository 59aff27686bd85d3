//! fake-claude configuration: parse the TOML, then validate into [`Config`].
//!
//! Every error names its field path (`federation_rule[0].issuer: …`) and all
//! of them are reported at once.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use reqwest::Url;
use serde::Deserialize;

use crate::jwks::check_dial_url;

pub const DEFAULT_JWKS_CACHE_SECONDS: u64 = 60;
pub const DEFAULT_MAX_JWT_LIFETIME_SECONDS: i64 = 3600;
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: i64 = 3600;
pub const DEFAULT_OAUTH_SCOPE: &str = "workspace:developer";
const OAUTH_SCOPES: [&str; 4] = [
    "workspace:developer",
    "workspace:inference",
    "workspace:manage_tunnels",
    "org:admin",
];

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: String,
    pub organization_id: String,
    pub jwks_cache_seconds: Option<u64>,
    #[serde(default)]
    pub service_account: Vec<RawServiceAccount>,
    #[serde(default)]
    pub workspace: Vec<RawWorkspace>,
    #[serde(default)]
    pub federation_issuer: Vec<RawFederationIssuer>,
    #[serde(default)]
    pub federation_rule: Vec<RawFederationRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceAccount {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkspace {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFederationIssuer {
    pub id: String,
    pub issuer_url: String,
    pub jwks_source: Option<String>,
    pub check_jti: Option<bool>,
    pub max_jwt_lifetime_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFederationRule {
    pub id: String,
    pub issuer: String,
    pub subject_prefix: String,
    pub audience: Option<String>,
    pub service_account: String,
    pub workspace_ids: Vec<String>,
    pub oauth_scope: Option<String>,
    pub token_lifetime_seconds: Option<i64>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub organization_id: String,
    pub jwks_cache_seconds: u64,
    /// By `fdis_…` id.
    pub issuers: BTreeMap<String, FederationIssuer>,
    /// By `fdrl_…` id.
    pub rules: BTreeMap<String, FederationRule>,
}

/// How Claude finds an issuer's keys. Only discovery for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksSource {
    Discovery,
}

#[derive(Debug, Clone)]
pub struct FederationIssuer {
    pub id: String,
    /// Compared byte for byte with the assertion's `iss`.
    pub issuer_url: String,
    pub jwks_source: JwksSource,
    pub check_jti: bool,
    pub max_jwt_lifetime_seconds: i64,
}

#[derive(Debug, Clone)]
pub struct FederationRule {
    pub id: String,
    pub issuer: String,
    /// Exact match on `sub`, or a prefix match when it ends with `*`.
    pub subject_prefix: String,
    pub audience: Option<String>,
    pub service_account: String,
    /// Never empty; the first is what `workspace_id = "default"` selects.
    pub workspace_ids: Vec<String>,
    pub oauth_scope: String,
    pub token_lifetime_seconds: i64,
}

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found, in file order.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} configuration error(s)", .errors.len())]
pub struct ConfigError {
    pub errors: Vec<FieldError>,
}

impl Config {
    /// Parses and validates a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            errors: vec![FieldError {
                path: "config".to_owned(),
                message: e.to_string().trim().replace('\n', " | "),
            }],
        })?;
        raw.validate()
    }
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }
}

fn check_id(errors: &mut Errors, path: String, id: &str, prefix: &str) {
    let rest = id.strip_prefix(prefix).unwrap_or("");
    let well_formed = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed {
        errors.push(path, format!("must look like \"{prefix}…\", got {id:?}"));
    }
}

fn check_range(errors: &mut Errors, path: String, value: i64, min: i64, max: i64) {
    if !(min..=max).contains(&value) {
        errors.push(path, format!("must be in {min}..={max}, got {value}"));
    }
}

/// 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

impl RawConfig {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let mut errors = Errors::default();
        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                errors.push("listen", format!("not a socket address: {:?}", self.listen));
                None
            }
        };
        if !is_uuid(&self.organization_id) {
            errors.push("organization_id", "must be a UUID");
        }
        let jwks_cache_seconds = self
            .jwks_cache_seconds
            .unwrap_or(DEFAULT_JWKS_CACHE_SECONDS);
        if jwks_cache_seconds > 86_400 {
            errors.push("jwks_cache_seconds", "must be in 0..=86400");
        }
        let service_accounts = collect_ids(
            &mut errors,
            "service_account",
            "svac_",
            self.service_account.iter().map(|s| s.id.as_str()),
        );
        let workspaces = collect_ids(
            &mut errors,
            "workspace",
            "wrkspc_",
            self.workspace.iter().map(|w| w.id.as_str()),
        );
        let issuers = validate_issuers(&mut errors, self.federation_issuer);
        let rules = validate_rules(
            &mut errors,
            self.federation_rule,
            &issuers,
            &service_accounts,
            &workspaces,
        );
        match listen {
            Some(listen) if errors.0.is_empty() => Ok(Config {
                listen,
                organization_id: self.organization_id,
                jwks_cache_seconds,
                issuers,
                rules,
            }),
            _ => Err(ConfigError { errors: errors.0 }),
        }
    }
}

fn collect_ids<'a>(
    errors: &mut Errors,
    table: &str,
    prefix: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for (i, id) in ids.enumerate() {
        check_id(errors, format!("{table}[{i}].id"), id, prefix);
        if seen.iter().any(|s| s == id) {
            errors.push(format!("{table}[{i}].id"), format!("duplicate id {id:?}"));
        }
        seen.push(id.to_owned());
    }
    seen
}

fn validate_issuers(
    errors: &mut Errors,
    raw: Vec<RawFederationIssuer>,
) -> BTreeMap<String, FederationIssuer> {
    let mut issuers = BTreeMap::new();
    for (i, issuer) in raw.into_iter().enumerate() {
        let path = |field: &str| format!("federation_issuer[{i}].{field}");
        check_id(errors, path("id"), &issuer.id, "fdis_");
        match Url::parse(&issuer.issuer_url) {
            Ok(url) => {
                if let Err(e) = check_dial_url(&url) {
                    errors.push(path("issuer_url"), e.to_string());
                }
            }
            Err(e) => errors.push(path("issuer_url"), format!("not a URL: {e}")),
        }
        let jwks_source = match issuer.jwks_source.as_deref().unwrap_or("discovery") {
            "discovery" => JwksSource::Discovery,
            other => {
                errors.push(
                    path("jwks_source"),
                    format!("unsupported {other:?} (only \"discovery\" is simulated)"),
                );
                JwksSource::Discovery
            }
        };
        let max_lifetime = issuer
            .max_jwt_lifetime_seconds
            .unwrap_or(DEFAULT_MAX_JWT_LIFETIME_SECONDS);
        check_range(
            errors,
            path("max_jwt_lifetime_seconds"),
            max_lifetime,
            1,
            176_400,
        );
        let validated = FederationIssuer {
            id: issuer.id.clone(),
            issuer_url: issuer.issuer_url,
            jwks_source,
            check_jti: issuer.check_jti.unwrap_or(true),
            max_jwt_lifetime_seconds: max_lifetime,
        };
        if issuers.insert(issuer.id.clone(), validated).is_some() {
            errors.push(path("id"), format!("duplicate id {:?}", issuer.id));
        }
    }
    issuers
}

fn validate_rules(
    errors: &mut Errors,
    raw: Vec<RawFederationRule>,
    issuers: &BTreeMap<String, FederationIssuer>,
    service_accounts: &[String],
    workspaces: &[String],
) -> BTreeMap<String, FederationRule> {
    let mut rules = BTreeMap::new();
    for (i, rule) in raw.into_iter().enumerate() {
        let path = |field: &str| format!("federation_rule[{i}].{field}");
        check_id(errors, path("id"), &rule.id, "fdrl_");
        if !issuers.contains_key(&rule.issuer) {
            let msg = format!("unknown federation issuer {:?}", rule.issuer);
            errors.push(path("issuer"), msg);
        }
        if rule.subject_prefix.is_empty() || rule.subject_prefix == "*" {
            errors.push(
                path("subject_prefix"),
                "must be a subject or a prefix ending in *",
            );
        }
        if rule.audience.as_deref() == Some("") {
            errors.push(path("audience"), "must not be empty (omit it instead)");
        }
        if !service_accounts.contains(&rule.service_account) {
            let msg = format!("unknown service account {:?}", rule.service_account);
            errors.push(path("service_account"), msg);
        }
        if rule.workspace_ids.is_empty() {
            errors.push(path("workspace_ids"), "must list at least one workspace");
        }
        for (j, ws) in rule.workspace_ids.iter().enumerate() {
            let ws_path = format!("federation_rule[{i}].workspace_ids[{j}]");
            if !workspaces.contains(ws) {
                errors.push(ws_path, format!("unknown workspace {ws:?}"));
            } else if rule.workspace_ids.iter().take(j).any(|w| w == ws) {
                errors.push(ws_path, format!("duplicate workspace {ws:?}"));
            }
        }
        let oauth_scope = rule
            .oauth_scope
            .unwrap_or_else(|| DEFAULT_OAUTH_SCOPE.to_owned());
        if !OAUTH_SCOPES.contains(&oauth_scope.as_str()) {
            let msg = format!("must be one of {}", OAUTH_SCOPES.join(", "));
            errors.push(path("oauth_scope"), msg);
        }
        let lifetime = rule
            .token_lifetime_seconds
            .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECONDS);
        check_range(errors, path("token_lifetime_seconds"), lifetime, 60, 86_400);
        let validated = FederationRule {
            id: rule.id.clone(),
            issuer: rule.issuer,
            subject_prefix: rule.subject_prefix,
            audience: rule.audience,
            service_account: rule.service_account,
            workspace_ids: rule.workspace_ids,
            oauth_scope,
            token_lifetime_seconds: lifetime,
        };
        if rules.insert(rule.id.clone(), validated).is_some() {
            errors.push(path("id"), format!("duplicate id {:?}", rule.id));
        }
    }
    rules
}

#[cfg(test)]
mod tests;
