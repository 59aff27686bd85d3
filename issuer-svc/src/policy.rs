//! Access policies: which client workload may reach which server workload
//! through which credential provider. Everything not granted is denied.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, IdentityPattern, ProviderConfig};

/// What a request is allowed to use.
#[derive(Debug, Clone)]
pub struct Grant {
    /// Id of the matched `[[client_workload]]`.
    pub client_workload: String,
    pub provider: Arc<ProviderConfig>,
}

/// Why a request was denied (all map to 403 `access_denied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyDenial {
    #[error("no client workload matches identity `{identity}`; nothing is granted by default")]
    UnknownClient { identity: String },
    #[error(
        "no access policy grants client workload `{client_workload}` access to `{server_workload}`"
    )]
    NoPolicy {
        client_workload: String,
        server_workload: String,
    },
    #[error(
        "credential provider `{provider}` is inactive (is_active = false) and serves no tokens"
    )]
    ProviderInactive { provider: String },
}

/// Compiled access policies.
#[derive(Debug, Default)]
pub struct Policy {
    exact: HashMap<String, String>,
    /// `(prefix, client workload id)`, longest prefix first.
    prefixes: Vec<(String, String)>,
    /// `(client workload id, server workload)` → provider.
    grants: HashMap<(String, String), Arc<ProviderConfig>>,
}

impl Policy {
    pub fn new(config: &Config) -> Self {
        let mut policy = Policy::default();
        for workload in &config.client_workloads {
            match &workload.identity {
                IdentityPattern::Exact(identity) => {
                    policy.exact.insert(identity.clone(), workload.id.clone());
                }
                IdentityPattern::Prefix(prefix) => {
                    policy.prefixes.push((prefix.clone(), workload.id.clone()));
                }
            }
        }
        policy
            .prefixes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        for rule in &config.access_policies {
            if let Some(provider) = config.provider(&rule.credential_provider) {
                let key = (rule.client_workload.clone(), rule.server_workload.clone());
                policy.grants.insert(key, Arc::clone(provider));
            }
        }
        policy
    }

    /// The client workload an identity belongs to: an exact identity wins
    /// over a prefix, then the longest prefix wins.
    pub fn client_workload(&self, identity: &str) -> Option<&str> {
        if let Some(id) = self.exact.get(identity) {
            return Some(id);
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| identity.starts_with(prefix.as_str()))
            .map(|(_, id)| id.as_str())
    }

    pub fn resolve(&self, identity: &str, server_workload: &str) -> Result<Grant, PolicyDenial> {
        let client_workload =
            self.client_workload(identity)
                .ok_or_else(|| PolicyDenial::UnknownClient {
                    identity: identity.to_owned(),
                })?;
        let key = (client_workload.to_owned(), server_workload.to_owned());
        let provider = self
            .grants
            .get(&key)
            .ok_or_else(|| PolicyDenial::NoPolicy {
                client_workload: client_workload.to_owned(),
                server_workload: server_workload.to_owned(),
            })?;
        if !provider.is_active {
            return Err(PolicyDenial::ProviderInactive {
                provider: provider.id.clone(),
            });
        }
        Ok(Grant {
            client_workload: client_workload.to_owned(),
            provider: Arc::clone(provider),
        })
    }
}

#[cfg(test)]
mod tests;
