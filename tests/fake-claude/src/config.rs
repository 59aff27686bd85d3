//! fake-claude configuration: parse the TOML ([`raw`]), then validate into
//! [`Config`] ([`validate`]).
//!
//! Every error names its field path (`federation_rule[0].issuer: …`) and all
//! of them are reported at once.
//!
//! The organization always has a default workspace with a tagged id of its
//! own (`default_workspace_id`, default [`DEFAULT_WORKSPACE_ID`]); in this
//! file `default` may stand for it wherever a workspace id is expected (a
//! convenience of the seed only: the Admin API takes tagged ids alone, and the
//! literal `default` exists only at the token exchange). `[[workspace]]` lists
//! the others (`wrkspc_…`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use jsonwebtoken::jwk::Jwk;
use reqwest::Url;

use crate::roles::{Memberships, WorkspaceRole};
use crate::scope::OAuthScope;

pub mod raw;
mod validate;

pub use raw::RawConfig;

pub const DEFAULT_JWKS_CACHE_SECONDS: u64 = 60;
pub const DEFAULT_MAX_JWT_LIFETIME_SECONDS: i64 = 3600;
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: i64 = 3600;
pub const DEFAULT_OAUTH_SCOPE: OAuthScope = OAuthScope::Developer;
/// The token exchange's (and this file's) name for the default workspace.
pub const DEFAULT_WORKSPACE: &str = "default";
/// The default workspace's tagged id unless configured.
pub const DEFAULT_WORKSPACE_ID: &str = "wrkspc_01DefaultWorkspace";
/// The `aud` an assertion must carry when its rule sets no `match.audience`.
pub const EXPECTED_AUDIENCE: &str = "https://api.anthropic.com";
/// Admin API list items per page unless configured: small, so every client
/// must follow `next_page`.
pub const DEFAULT_ADMIN_PAGE_SIZE: usize = 2;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub organization_id: String,
    /// JWKS poll interval: a fetched key set is used this long, then re-fetched.
    pub jwks_cache_seconds: u64,
    /// Bearer tokens accepted by the Admin API (`/v1/organizations/…`) as
    /// OAuth tokens with the `org:admin` scope. Empty: only `org:admin`
    /// tokens minted by the token endpoint are accepted.
    pub admin_tokens: Vec<AdminToken>,
    /// By `svac_…` id.
    pub service_accounts: BTreeMap<String, ServiceAccount>,
    /// The default workspace's tagged id.
    pub default_workspace: String,
    /// The other workspaces' `wrkspc_…` ids, in file order.
    pub workspaces: Vec<String>,
    /// The role a `workspace:developer` token needs in its workspace.
    pub developer_scope_role: WorkspaceRole,
    /// Admin API list items per page at most (1–100).
    pub admin_page_size: usize,
    /// By `fdis_…` id.
    pub issuers: BTreeMap<String, FederationIssuer>,
    /// By `fdrl_…` id.
    pub rules: BTreeMap<String, FederationRule>,
}

/// An Admin API bearer token from the configuration. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn matches(&self, candidate: &str) -> bool {
        !self.0.is_empty() && self.0 == candidate
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub id: String,
    /// Explicit `workspace_developer` memberships (tagged ids); `None`: a
    /// `workspace_developer` member of every workspace.
    pub workspaces: Option<Vec<String>>,
}

impl ServiceAccount {
    pub fn memberships(&self) -> Memberships {
        Memberships::seeded(self.workspaces.as_deref())
    }
}

/// How Claude finds an issuer's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// `<issuer_url>/.well-known/openid-configuration` → `jwks_uri`.
    Discovery,
    /// A JWKS URL given directly.
    ExplicitUrl(Url),
    /// Keys pasted into the configuration; never refreshed.
    Inline(Vec<Jwk>),
}

impl JwksSource {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::ExplicitUrl(_) => "explicit_url",
            Self::Inline(_) => "inline",
        }
    }
}

#[derive(Debug, Clone)]
pub struct FederationIssuer {
    pub id: String,
    /// Compared byte for byte with the assertion's `iss`.
    pub issuer_url: String,
    pub jwks_source: JwksSource,
    /// Extra trust anchor for this issuer's https URLs.
    pub ca_cert_pem: Option<String>,
    pub check_jti: bool,
    pub max_jwt_lifetime_seconds: i64,
}

/// The workspaces a rule can mint tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleWorkspaces {
    /// One or several tagged ids. Never empty.
    Listed(Vec<String>),
    /// `applies_to_all_workspaces = true`.
    All,
}

#[derive(Debug, Clone)]
pub struct FederationRule {
    pub id: String,
    pub issuer: String,
    /// Exact match on `sub`, or a prefix match when it ends with `*`.
    pub subject_prefix: Option<String>,
    /// Must be an element of the assertion's `aud`; when `None`,
    /// [`EXPECTED_AUDIENCE`] must be.
    pub audience: Option<String>,
    /// Top-level claim → exact string value (all must hold).
    pub claims: BTreeMap<String, String>,
    pub service_account: String,
    pub workspaces: RuleWorkspaces,
    pub oauth_scope: OAuthScope,
    pub token_lifetime_seconds: i64,
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

    /// Every workspace `rule` covers, the default one first when covered.
    pub fn covered_workspaces(&self, rule: &FederationRule) -> Vec<String> {
        match &rule.workspaces {
            RuleWorkspaces::Listed(list) => list.clone(),
            RuleWorkspaces::All => std::iter::once(self.default_workspace.clone())
                .chain(self.workspaces.iter().cloned())
                .collect(),
        }
    }
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

/// 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `prefix` followed by at least one of `[A-Za-z0-9_-]`.
pub fn well_formed_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

#[cfg(test)]
mod tests;
