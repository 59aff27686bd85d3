//! The configuration being served: one validated [`Config`] and the
//! [`Policy`] compiled from it, behind a lock that a reload swaps whole.
//! Requests read it through [`LiveConfig::current`]; `reload` replaces it.

use std::sync::{Arc, RwLock};

use crate::config::{Config, ProviderConfig};
use crate::policy::Policy;

/// One configuration and the policies compiled from it.
#[derive(Debug)]
pub struct Served {
    pub config: Config,
    pub policy: Policy,
}

impl Served {
    /// Compiles the policies of `config`.
    pub fn new(config: Config) -> Served {
        Served {
            policy: Policy::new(&config),
            config,
        }
    }
}

/// The configuration currently served; readers take a snapshot
/// ([`LiveConfig::current`]) that a reload never changes under them.
#[derive(Debug)]
pub struct LiveConfig {
    current: RwLock<Arc<Served>>,
}

impl LiveConfig {
    /// Serves `config` with its compiled policies.
    pub fn new(config: Config) -> LiveConfig {
        LiveConfig {
            current: RwLock::new(Arc::new(Served::new(config))),
        }
    }

    /// A consistent snapshot: config and policies of the same file.
    pub fn current(&self) -> Arc<Served> {
        let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&guard)
    }

    /// The provider with `id` in the current configuration.
    pub fn provider(&self, id: &str) -> Option<Arc<ProviderConfig>> {
        self.current().config.provider(id).map(Arc::clone)
    }

    /// Swaps in `served`, returning the configuration it replaced.
    pub fn replace(&self, served: Served) -> Arc<Served> {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *guard, Arc::new(served))
    }
}
