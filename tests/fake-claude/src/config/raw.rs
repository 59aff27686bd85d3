//! The configuration file as written (TOML). Unknown fields are errors.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: String,
    pub organization_id: String,
    /// How often a fetched JWKS is re-polled (seconds).
    pub jwks_cache_seconds: Option<u64>,
    /// Bearer tokens the Admin API accepts as `org:admin` OAuth tokens.
    #[serde(default)]
    pub admin_tokens: Vec<String>,
    /// The tagged id of the organization's default workspace.
    pub default_workspace_id: Option<String>,
    /// The workspace role a `workspace:developer` token needs (our
    /// assumption: Claude does not document it).
    pub developer_scope_role: Option<String>,
    /// Items per Admin API list page at most, whatever `limit` asks.
    pub admin_page_size: Option<usize>,
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
    /// Workspaces this account is an explicit `workspace_developer` member
    /// of (`wrkspc_…`, or `default` for the default workspace). Omitted: a
    /// `workspace_developer` member of every workspace.
    pub workspaces: Option<Vec<String>>,
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
    /// `discovery` (default), `explicit_url` or `inline`.
    pub jwks_source: Option<String>,
    /// The JWKS URL, for `explicit_url`.
    pub jwks_url: Option<String>,
    /// The JWKS document (JSON text), for `inline`.
    pub jwks: Option<String>,
    /// PEM CA certificate(s) trusted for this issuer's https URLs.
    pub ca_cert_pem: Option<String>,
    pub check_jti: Option<bool>,
    pub max_jwt_lifetime_seconds: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFederationRule {
    pub id: String,
    pub issuer: String,
    pub subject_prefix: Option<String>,
    pub audience: Option<String>,
    /// Top-level claim name → exact string value.
    pub claims: Option<BTreeMap<String, String>>,
    /// CEL; present only so it gets a clear "not simulated" error.
    pub condition: Option<String>,
    pub service_account: String,
    pub workspace_ids: Option<Vec<String>>,
    pub applies_to_all_workspaces: Option<bool>,
    pub oauth_scope: Option<String>,
    pub token_lifetime_seconds: Option<i64>,
}
