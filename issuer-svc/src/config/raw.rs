//! The configuration file exactly as written: every field optional so that
//! validation can report each missing one by its path, unknown fields denied.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// Parses the TOML document. A syntax error, an unknown field or a value of
/// the wrong type stops parsing; the error names the field path and line.
pub fn parse(text: &str) -> Result<RawConfig, ConfigError> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let path = if path == "." || path.is_empty() {
            "config".to_owned()
        } else {
            path
        };
        let line = inner
            .span()
            .map(|span| text.get(..span.start).unwrap_or("").matches('\n').count() + 1);
        let message = inner.message().trim().to_owned();
        match line {
            Some(line) => ConfigError::new(path, format!("{message} (line {line})")),
            None => ConfigError::new(path, message),
        }
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: Option<RawServerConfig>,
    pub claude: Option<RawClaudeConfig>,
    pub token_cache: Option<RawTokenCacheConfig>,
    pub keys: Option<RawKeysConfig>,
    #[serde(default)]
    pub credential_provider: Vec<RawProviderConfig>,
    #[serde(default)]
    pub client_workload: Vec<RawClientWorkloadConfig>,
    #[serde(default)]
    pub access_policy: Vec<RawAccessPolicyConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerConfig {
    pub public_listen: Option<String>,
    pub public_base_url: Option<String>,
    pub internal_listen: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub internal_api_key_file: Option<PathBuf>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub internal_hosts: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaudeConfig {
    pub base_url: Option<String>,
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenCacheConfig {
    pub advisory_refresh: Option<String>,
    pub mandatory_refresh: Option<String>,
    pub stale_refresh_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeysConfig {
    pub algorithm: Option<String>,
    pub publish_ahead: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProviderConfig {
    pub id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub is_active: Option<bool>,
    pub claude_wif: Option<RawClaudeWifConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaudeWifConfig {
    pub federation_rule_id: Option<String>,
    pub organization_id: Option<String>,
    pub service_account_id: Option<String>,
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub workspace_id: Option<String>,
    pub lifetime: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClientWorkloadConfig {
    pub id: Option<String>,
    pub identity: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessPolicyConfig {
    pub client_workload: Option<String>,
    pub server_workload: Option<String>,
    pub credential_provider: Option<String>,
}
