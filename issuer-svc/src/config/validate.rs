//! Turns [`RawConfig`] into [`Config`], collecting every error with its path.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::raw::{
    RawAccessPolicyConfig, RawClaudeConfig, RawClaudeWifConfig, RawClientWorkloadConfig, RawConfig,
    RawProviderConfig, RawServerConfig, RawTokenCacheConfig,
};
use super::{
    AccessPolicyConfig, ClaudeConfig, ClaudeWifConfig, ClientWorkloadConfig, Config, ConfigError,
    ConfigErrors, DEFAULT_AUDIENCE, DEFAULT_CLAUDE_BASE_URL, IdentityPattern, InternalApiKey,
    LoadedConfig, ProviderConfig, Scope, ServerConfig, TokenCacheConfig, parse_duration,
};
use claude_wif_api::check_identity;

const LIFETIME_MIN: i64 = 300;
const LIFETIME_MAX: i64 = 43_200;
const LIFETIME_DEFAULT: u64 = 3600;
/// Claude's default `max_jwt_lifetime_seconds` for a federation issuer.
const CLAUDE_DEFAULT_MAX_JWT_LIFETIME: i64 = 3600;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn validate(raw: RawConfig) -> Result<LoadedConfig, ConfigErrors> {
    let mut v = Validator::default();
    let server = v.server(raw.server);
    let claude = v.claude(raw.claude);
    let token_cache = v.token_cache(raw.token_cache);
    let keys = v.keys(raw.keys);
    let base_url = server.as_ref().map_or("", |s| s.public_base_url.as_str());
    let providers = v.providers(&raw.credential_provider, base_url);
    let client_workloads = v.client_workloads(&raw.client_workload);
    let access_policies = v.access_policies(
        &raw.access_policy,
        &raw.credential_provider,
        &raw.client_workload,
    );
    match (server, claude, token_cache) {
        (Some(server), Some(claude), Some(token_cache)) if v.errors.is_empty() => {
            Ok(LoadedConfig {
                config: Config {
                    server,
                    claude,
                    token_cache,
                    keys,
                    providers: providers.into_iter().map(Arc::new).collect(),
                    client_workloads,
                    access_policies,
                },
                warnings: v.warnings,
            })
        }
        _ => Err(ConfigErrors(v.errors)),
    }
}

#[derive(Default)]
struct Validator {
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigError>,
}

impl Validator {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::new(path, message));
    }

    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(ConfigError::new(path, message));
    }

    fn required<'a>(&mut self, path: &str, value: Option<&'a String>) -> Option<&'a str> {
        match value.map(|s| s.trim()) {
            Some(text) if !text.is_empty() => value.map(String::as_str),
            Some(_) => {
                self.error(path, "must not be empty");
                None
            }
            None => {
                self.error(path, "required");
                None
            }
        }
    }

    fn socket_addr(&mut self, path: &str, value: Option<&String>) -> Option<SocketAddr> {
        let text = self.required(path, value)?;
        match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.error(
                    path,
                    format!("`{text}` is not a socket address like 127.0.0.1:9090"),
                );
                None
            }
        }
    }

    /// An https URL (http only on a loopback host), returned without trailing `/`.
    fn url(&mut self, path: &str, text: &str) -> Option<String> {
        let url = match reqwest::Url::parse(text) {
            Ok(url) => url,
            Err(err) => {
                self.error(path, format!("`{text}` is not a URL: {err}"));
                return None;
            }
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        let problem = match url.scheme() {
            "https" => None,
            "http" if loopback => None,
            "http" => {
                Some("must be https (http is allowed only for a loopback host such as 127.0.0.1)")
            }
            _ => Some("must be an https URL"),
        };
        let problem = problem.or_else(|| {
            if url.host().is_none() {
                Some("must have a host")
            } else if url.query().is_some() || url.fragment().is_some() {
                Some("must not have a query or a fragment")
            } else if !url.username().is_empty() || url.password().is_some() {
                Some("must not contain credentials")
            } else {
                None
            }
        });
        if let Some(problem) = problem {
            self.error(path, problem);
            return None;
        }
        Some(text.trim_end_matches('/').to_owned())
    }

    fn server(&mut self, raw: Option<RawServerConfig>) -> Option<ServerConfig> {
        let Some(raw) = raw else {
            self.error("server", "required section [server] is missing");
            return None;
        };
        let public_listen = self.socket_addr("server.public_listen", raw.public_listen.as_ref());
        let base = self.required("server.public_base_url", raw.public_base_url.as_ref());
        let public_base_url = base.and_then(|text| self.url("server.public_base_url", text));
        let internal_listen =
            self.socket_addr("server.internal_listen", raw.internal_listen.as_ref());
        let state_dir = match raw.state_dir {
            Some(dir) if !dir.as_os_str().is_empty() => Some(dir),
            Some(_) => {
                self.error("server.state_dir", "must not be empty");
                None
            }
            None => {
                self.error("server.state_dir", "required");
                None
            }
        };
        let internal_api_key = raw
            .internal_api_key_file
            .as_deref()
            .and_then(|file| self.api_key_file(file));
        let tls = self.tls_files(raw.tls_cert_file, raw.tls_key_file);
        let internal_hosts = self.internal_hosts(raw.internal_hosts.as_deref().unwrap_or(&[]));
        if let Some(addr) = internal_listen
            && !addr.ip().is_loopback()
            && raw.internal_api_key_file.is_none()
        {
            self.warn(
                    "server.internal_listen",
                    format!("{addr} is not loopback and no internal_api_key_file is set: anyone who can reach it can get tokens"),
                );
        }
        Some(ServerConfig {
            public_listen: public_listen?,
            public_base_url: public_base_url?,
            internal_listen: internal_listen?,
            state_dir: state_dir?,
            internal_api_key,
            tls,
            internal_hosts,
        })
    }

    fn api_key_file(&mut self, file: &std::path::Path) -> Option<InternalApiKey> {
        const PATH: &str = "server.internal_api_key_file";
        match std::fs::read_to_string(file) {
            Ok(text) if text.trim().is_empty() => {
                self.error(PATH, format!("{} is empty", file.display()));
                None
            }
            Ok(text) => Some(InternalApiKey::new(text.trim())),
            Err(err) => {
                self.error(PATH, format!("cannot read {}: {err}", file.display()));
                None
            }
        }
    }

    fn claude(&mut self, raw: Option<RawClaudeConfig>) -> Option<ClaudeConfig> {
        let raw = raw.unwrap_or_default();
        let base_url = match raw.base_url.as_deref() {
            None => Some(DEFAULT_CLAUDE_BASE_URL.to_owned()),
            Some(text) => self.url("claude.base_url", text),
        };
        let timeout = match raw.timeout.as_deref() {
            None => Some(DEFAULT_TIMEOUT),
            Some(text) => parse_duration(text)
                .map_err(|err| self.error("claude.timeout", err))
                .ok(),
        };
        Some(ClaudeConfig {
            base_url: base_url?,
            timeout: timeout?,
        })
    }
}

mod hosts;
mod keys;
mod providers;
mod token_cache;
mod workloads;
