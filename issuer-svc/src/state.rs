//! Shared state of both listeners, and where the domain modules (the served
//! configuration, keys, tokens, metrics, clock) are wired together.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::exchange::Transport;
use crate::keys::watch::KeyWatcher;
use crate::keys::{KeyRing, KeySet, KeyStore};
use crate::live_config::LiveConfig;
use crate::metrics::Metrics;
use crate::tokens::{RefreshPolicy, TokenService};

#[derive(Clone)]
pub struct AppState {
    /// The configuration being served (swapped on SIGHUP); take one
    /// snapshot per request with `config.current()`.
    pub config: Arc<LiveConfig>,
    pub keys: Arc<KeyRing>,
    pub tokens: TokenService,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(
        config: Config,
        keys: KeySet,
        clock: Arc<dyn Clock>,
        transport: Arc<dyn Transport>,
    ) -> AppState {
        let keys = Arc::new(KeyRing::new(keys));
        let metrics = Arc::new(Metrics::default());
        let tokens = TokenService::new(
            Arc::clone(&clock),
            Arc::clone(&keys),
            transport,
            config.claude.clone(),
            Arc::clone(&metrics),
            RefreshPolicy::from(config.token_cache),
        );
        AppState {
            config: Arc::new(LiveConfig::new(config)),
            keys,
            tokens,
            metrics,
            clock,
        }
    }

    /// A watcher of `store` for this state: its key ring and clock, and the
    /// key policy of its current configuration (so a reloaded config's
    /// lifetimes apply).
    pub fn key_watcher(&self, store: KeyStore) -> KeyWatcher {
        let config = Arc::clone(&self.config);
        KeyWatcher::new(
            store,
            Arc::clone(&self.keys),
            Box::new(move || config.current().config.key_policy()),
            Arc::clone(&self.clock),
        )
    }
}
