//! Replacing the served configuration on SIGHUP: a valid new file replaces
//! the old one atomically (config and compiled policies together, in
//! [`LiveConfig`](crate::live_config::LiveConfig)); an invalid one is
//! rejected with its errors logged and the old one keeps serving.

use std::path::Path;

use crate::config::{Config, ConfigErrors, LoadedConfig};
use crate::live_config::Served;
use crate::state::AppState;
use crate::tokens::RefreshPolicy;

/// What a reload changed beyond the swap itself.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// Fields that changed in the file but only take effect after a restart
    /// (they keep their running values meanwhile).
    pub needs_restart: Vec<&'static str>,
    /// Providers whose cached tokens were dropped (settings changed or gone).
    pub dropped_providers: Vec<String>,
}

/// Reads `path` and applies it, logging the outcome either way.
pub fn reload_file(state: &AppState, path: &Path) -> Result<ReloadReport, ConfigErrors> {
    tracing::info!(config = %path.display(), "SIGHUP: reloading the configuration");
    let result = Config::load(path).map(|loaded| apply(state, loaded));
    state.metrics.config_reload(result.is_ok());
    match &result {
        Ok(report) => {
            for field in &report.needs_restart {
                tracing::warn!(
                    field,
                    "changed in the file but takes effect only after a restart; keeping the running value"
                );
            }
            tracing::info!(dropped_providers = ?report.dropped_providers, "configuration reloaded");
        }
        Err(errors) => {
            for error in &errors.0 {
                tracing::error!(field = %error.path, "{}", error.message);
            }
            tracing::error!(errors = errors.0.len(), config = %path.display(), "configuration reload rejected; still serving the previous configuration");
        }
    }
    result
}

/// Applies a validated configuration: swaps it in, drops the cached tokens
/// of providers whose settings changed, and reconfigures the token service.
pub fn apply(state: &AppState, loaded: LoadedConfig) -> ReloadReport {
    for warning in &loaded.warnings {
        tracing::warn!(field = %warning.path, "{}", warning.message);
    }
    let mut config = loaded.config;
    let old = state.config.current();
    let needs_restart = keep_restart_only_fields(&old.config, &mut config);
    let dropped_providers = changed_providers(&old.config, &config);
    let (claude, token_cache) = (config.claude.clone(), config.token_cache);
    state.config.replace(Served::new(config));
    for provider in &dropped_providers {
        let entries = state.tokens.drop_provider(provider);
        tracing::info!(
            provider,
            entries,
            "credential provider changed: cached tokens dropped"
        );
    }
    state
        .tokens
        .reconfigure(claude, RefreshPolicy::from(token_cache));
    ReloadReport {
        needs_restart,
        dropped_providers,
    }
}

/// Listener addresses, TLS files and the state directory are bound at start: puts the
/// running values back into `new` and names those that differed.
fn keep_restart_only_fields(old: &Config, new: &mut Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if old.server.public_listen != new.server.public_listen {
        changed.push("server.public_listen");
        new.server.public_listen = old.server.public_listen;
    }
    if old.server.internal_listen != new.server.internal_listen {
        changed.push("server.internal_listen");
        new.server.internal_listen = old.server.internal_listen;
    }
    if old.server.state_dir != new.server.state_dir {
        changed.push("server.state_dir");
        new.server.state_dir.clone_from(&old.server.state_dir);
    }
    if old.server.tls != new.server.tls {
        changed.push("server.tls_cert_file/tls_key_file");
        new.server.tls.clone_from(&old.server.tls);
    }
    changed
}

/// Ids of old providers that are gone or whose settings (issuer URL,
/// `claude_wif`) changed: their cached tokens no longer match the config.
fn changed_providers(old: &Config, new: &Config) -> Vec<String> {
    old.providers
        .iter()
        .filter(|before| {
            new.provider(&before.id).is_none_or(|after| {
                after.claude_wif != before.claude_wif || after.issuer_url != before.issuer_url
            })
        })
        .map(|provider| provider.id.clone())
        .collect()
}

/// Reloads `path` on every SIGHUP until the process ends.
pub async fn reload_on_sighup(state: AppState, path: std::path::PathBuf) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGHUP; configuration reload disabled");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let _ = reload_file(&state, &path);
    }
}

#[cfg(test)]
mod tests;
