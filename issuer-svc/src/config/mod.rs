//! issuer-svc configuration: the TOML file of DESIGN.md, parsed into
//! [`raw`] types, then validated into the types below. Validation reports
//! every error at once, each naming its field path.

mod duration;
mod raw;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use duration::parse_duration;

/// Claude's API base when `claude.base_url` is not set.
pub const DEFAULT_CLAUDE_BASE_URL: &str = "https://api.anthropic.com";
/// `aud` of the assertion when the provider sets no audience.
pub const DEFAULT_AUDIENCE: &str = "https://api.anthropic.com";

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub claude: ClaudeConfig,
    pub token_cache: TokenCacheConfig,
    pub keys: KeysConfig,
    pub providers: Vec<Arc<ProviderConfig>>,
    pub client_workloads: Vec<ClientWorkloadConfig>,
    pub access_policies: Vec<AccessPolicyConfig>,
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<LoadedConfig, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            ConfigErrors(vec![ConfigError::new(
                "config",
                format!("cannot read {}: {err}", path.display()),
            )])
        })?;
        Self::from_toml(&text)
    }

    /// Parses and validates a configuration document.
    pub fn from_toml(text: &str) -> Result<LoadedConfig, ConfigErrors> {
        let raw = raw::parse(text).map_err(|err| ConfigErrors(vec![err]))?;
        validate::validate(raw)
    }

    pub fn provider(&self, id: &str) -> Option<&Arc<ProviderConfig>> {
        self.providers.iter().find(|provider| provider.id == id)
    }
}

/// A valid configuration and the warnings worth logging about it.
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub warnings: Vec<ConfigError>,
}

#[derive(Debug)]
pub struct ServerConfig {
    pub public_listen: SocketAddr,
    /// Without a trailing slash.
    pub public_base_url: String,
    pub internal_listen: SocketAddr,
    pub state_dir: PathBuf,
    pub internal_api_key: Option<InternalApiKey>,
    /// `tls_cert_file` and `tls_key_file`: serve the public listener over HTTPS.
    pub tls: Option<TlsFiles>,
    /// Host names (lowercase, no port) the internal API answers besides the
    /// ones it always accepts, when no internal API key is set.
    pub internal_hosts: Vec<String>,
}

/// PEM files of the public listener's certificate chain and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `[keys]`: signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeysConfig {
    /// Algorithm of newly generated keys (default ES256).
    pub algorithm: crate::keys::Algorithm,
    /// How long a rotated-in key is published before it signs (default 15 min).
    pub publish_ahead: Duration,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            algorithm: crate::keys::Algorithm::Es256,
            publish_ahead: crate::keys::DEFAULT_PUBLISH_AHEAD,
        }
    }
}

impl Config {
    /// The key policy of this configuration: `[keys]` plus a retention
    /// covering the longest assertion lifetime of any provider.
    pub fn key_policy(&self) -> crate::keys::KeyPolicy {
        let longest = self
            .providers
            .iter()
            .map(|provider| provider.claude_wif.lifetime)
            .max()
            .unwrap_or(Duration::from_secs(3600));
        crate::keys::KeyPolicy::new(self.keys.algorithm, self.keys.publish_ahead, longest)
    }
}

#[derive(Debug, Clone)]
pub struct ClaudeConfig {
    /// Without a trailing slash.
    pub base_url: String,
    pub timeout: Duration,
}

impl ClaudeConfig {
    /// Claude's token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/v1/oauth/token", self.base_url)
    }
}

/// `[token_cache]`: when cached access tokens are refreshed (DESIGN.md,
/// *Refresh policy*). Both are clamped per token to a share of its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheConfig {
    /// Remaining lifetime at which a background refresh starts (default 120 s).
    pub advisory_refresh: Duration,
    /// Remaining lifetime at which callers wait for a new token (default 30 s).
    pub mandatory_refresh: Duration,
    /// At most one forced re-exchange (a `stale_token_sha256` naming a cached
    /// token that is not due for refresh) per (provider, client workload
    /// identity) in this interval (default 30 s; zero: no limit).
    pub stale_refresh_interval: Duration,
}

/// Default of `token_cache.stale_refresh_interval`.
pub const DEFAULT_STALE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

impl Default for TokenCacheConfig {
    fn default() -> Self {
        TokenCacheConfig {
            advisory_refresh: Duration::from_secs(120),
            mandatory_refresh: Duration::from_secs(30),
            stale_refresh_interval: DEFAULT_STALE_REFRESH_INTERVAL,
        }
    }
}

/// One credential provider (`[[credential_provider]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    /// `<public_base_url>/providers/<id>`, compared byte for byte by Claude.
    pub issuer_url: String,
    pub claude_wif: ClaudeWifConfig,
}

/// The `claude_wif` block of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeWifConfig {
    pub federation_rule_id: String,
    pub organization_id: String,
    pub service_account_id: String,
    /// The configured audience, or [`DEFAULT_AUDIENCE`].
    pub audience: String,
    pub scope: Scope,
    pub workspace_id: Option<String>,
    /// Assertion lifetime.
    pub lifetime: Duration,
}

/// OAuth scope of the federation rule. Informational: Claude takes the scope
/// from the rule, so it is never sent in the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    WorkspaceDeveloper,
    WorkspaceInference,
    WorkspaceManageTunnels,
    OrgAdmin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::WorkspaceDeveloper,
        Scope::WorkspaceInference,
        Scope::WorkspaceManageTunnels,
        Scope::OrgAdmin,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::WorkspaceDeveloper => "workspace:developer",
            Scope::WorkspaceInference => "workspace:inference",
            Scope::WorkspaceManageTunnels => "workspace:manage_tunnels",
            Scope::OrgAdmin => "org:admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

/// One `[[client_workload]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientWorkloadConfig {
    pub id: String,
    pub identity: IdentityPattern,
}

/// How a client workload's identity is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityPattern {
    Exact(String),
    /// Written with a trailing `*`; holds the text before it.
    Prefix(String),
}

impl IdentityPattern {
    pub fn parse(text: &str) -> Self {
        match text.strip_suffix('*') {
            Some(prefix) => IdentityPattern::Prefix(prefix.to_owned()),
            None => IdentityPattern::Exact(text.to_owned()),
        }
    }
}

/// One `[[access_policy]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicyConfig {
    pub client_workload: String,
    pub server_workload: String,
    pub credential_provider: String,
}

/// The internal API key. `Debug` never shows it.
pub struct InternalApiKey(String);

impl InternalApiKey {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// Compares in constant time (over SHA-256 digests, so the length of
    /// the secret does not leak either).
    pub fn matches(&self, candidate: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let given = Sha256::digest(candidate.as_bytes());
        expected
            .iter()
            .zip(given.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for InternalApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InternalApiKey([redacted])")
    }
}

/// One problem in the configuration, named by its field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in the configuration.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration ({} error(s))", .0.len())]
pub struct ConfigErrors(pub Vec<ConfigError>);

#[cfg(test)]
mod tests;
