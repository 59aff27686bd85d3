//! The organization's federation objects: what the Admin API creates and
//! edits, and what the token endpoint enforces. Seeded from the
//! configuration file; objects seeded there are named after their id
//! (`fdrl_demo` → `fdrl-demo`).

use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use rand::Rng as _;

use crate::config::{Config, FederationIssuer, FederationRule, RuleWorkspaces};
use crate::roles::Memberships;

/// What every admin object carries besides its payload.
#[derive(Debug, Clone)]
pub struct Meta {
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
    /// Creation order.
    pub seq: u64,
}

impl Meta {
    pub fn live(&self) -> bool {
        self.archived_at.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct IssuerRecord {
    pub meta: Meta,
    pub issuer: FederationIssuer,
    /// The `jwks` object as last written (echoed back).
    pub jwks_json: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct RuleRecord {
    pub meta: Meta,
    /// `rule.workspaces` follows `workspace_ids` / `applies_to_all`.
    pub rule: FederationRule,
    /// Explicit enablements: workspace → when enabled.
    pub workspace_ids: Vec<(String, i64)>,
    pub applies_to_all: bool,
    pub condition: Option<String>,
}

impl RuleRecord {
    /// Rebuilds `rule.workspaces` from the enablements.
    pub fn sync_workspaces(&mut self) {
        self.rule.workspaces = if self.applies_to_all {
            RuleWorkspaces::All
        } else {
            RuleWorkspaces::Listed(self.workspace_ids.iter().map(|(w, _)| w.clone()).collect())
        };
    }
}

#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub meta: Meta,
    /// `svac_…`.
    pub id: String,
    /// `developer` or `admin`.
    pub organization_role: String,
    pub members: Memberships,
}

/// Everything the organization holds.
#[derive(Debug, Default)]
pub struct Org {
    /// The default workspace's tagged id.
    pub default_workspace: String,
    /// The other workspaces.
    pub workspaces: Vec<String>,
    /// When the organization (and its workspaces) came to be.
    pub created_at: i64,
    pub issuers: Vec<IssuerRecord>,
    pub rules: Vec<RuleRecord>,
    pub accounts: Vec<AccountRecord>,
    next_seq: u64,
}

impl Org {
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The default workspace's or a configured workspace's tagged id.
    pub fn workspace_exists(&self, id: &str) -> bool {
        id == self.default_workspace || self.workspaces.iter().any(|w| w == id)
    }

    pub fn issuer(&self, id: &str) -> Option<&IssuerRecord> {
        self.issuers.iter().find(|r| r.issuer.id == id)
    }

    pub fn rule(&self, id: &str) -> Option<&RuleRecord> {
        self.rules.iter().find(|r| r.rule.id == id)
    }

    pub fn account(&self, id: &str) -> Option<&AccountRecord> {
        self.accounts.iter().find(|r| r.id == id)
    }

    /// Every workspace a rule covers, the default one first when covered.
    pub fn covered_workspaces(&self, rule: &FederationRule) -> Vec<String> {
        match &rule.workspaces {
            RuleWorkspaces::Listed(list) => list.clone(),
            RuleWorkspaces::All => std::iter::once(self.default_workspace.clone())
                .chain(self.workspaces.iter().cloned())
                .collect(),
        }
    }
}

/// What the token endpoint needs to judge one exchange.
#[derive(Debug, Clone)]
pub struct ExchangeView {
    pub rule: FederationRule,
    pub issuer: FederationIssuer,
    pub covered: Vec<String>,
    /// The target's memberships; `None` when it is unknown or archived.
    pub account: Option<Memberships>,
    /// The default workspace's tagged id.
    pub default_workspace: String,
}

/// The organization behind one lock. Never held across an `await`.
#[derive(Debug, Default)]
pub struct Registry {
    org: Mutex<Org>,
}

impl Registry {
    /// The organization of `config`, every object created at `now`.
    pub fn from_config(config: &Config, now: i64) -> Self {
        let mut org = Org {
            default_workspace: config.default_workspace.clone(),
            workspaces: config.workspaces.clone(),
            created_at: now,
            ..Org::default()
        };
        let meta = |org: &mut Org, id: &str| Meta {
            name: id.replace('_', "-").to_ascii_lowercase(),
            description: None,
            created_at: now,
            updated_at: now,
            archived_at: None,
            seq: org.next_seq(),
        };
        for account in config.service_accounts.values() {
            let meta = meta(&mut org, &account.id);
            org.accounts.push(AccountRecord {
                meta,
                id: account.id.clone(),
                organization_role: "developer".to_owned(),
                members: account.memberships(),
            });
        }
        for issuer in config.issuers.values() {
            let meta = meta(&mut org, &issuer.id);
            let jwks_json = super::issuers::jwks_json(issuer);
            org.issuers.push(IssuerRecord {
                meta,
                issuer: issuer.clone(),
                jwks_json,
            });
        }
        for rule in config.rules.values() {
            let meta = meta(&mut org, &rule.id);
            let (applies_to_all, workspace_ids) = match &rule.workspaces {
                RuleWorkspaces::All => (true, Vec::new()),
                RuleWorkspaces::Listed(list) => {
                    (false, list.iter().map(|w| (w.clone(), now)).collect())
                }
            };
            org.rules.push(RuleRecord {
                meta,
                rule: rule.clone(),
                workspace_ids,
                applies_to_all,
                condition: None,
            });
        }
        Self {
            org: Mutex::new(org),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Org> {
        self.org.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live rule `rule_id` with its live issuer; `None` when either is
    /// unknown or archived.
    pub fn exchange_view(&self, rule_id: &str) -> Option<ExchangeView> {
        let org = self.lock();
        let rule = org.rule(rule_id).filter(|r| r.meta.live())?;
        let issuer = org.issuer(&rule.rule.issuer).filter(|r| r.meta.live())?;
        let account = org
            .account(&rule.rule.service_account)
            .filter(|r| r.meta.live())
            .map(|r| r.members.clone());
        Some(ExchangeView {
            covered: org.covered_workspaces(&rule.rule),
            rule: rule.rule.clone(),
            issuer: issuer.issuer.clone(),
            account,
            default_workspace: org.default_workspace.clone(),
        })
    }
}

/// A fresh tagged id: `prefix` then 24 URL-safe characters.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill(&mut bytes);
    let tail = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(bytes)
        .replace(['-', '_'], "x");
    format!("{prefix}{tail}")
}

/// RFC 3339 (UTC, seconds) for a Unix time; `@<seconds>` outside the years
/// 0000-9999.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{unix}"))
}
