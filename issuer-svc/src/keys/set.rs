//! The published keys and their states, evaluated by time.
//!
//! Keys are ordered by activation time. At `now`, the key with the latest
//! `activates_at <= now` is **active** (signs); keys that activate later are
//! **pending** (published, not signing); a key is **retired** from the moment
//! its successor activates and stays published for the retention (longest
//! assertion lifetime + 30 s), after which it is **expired** (no longer
//! published).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Algorithm, Jwks, KeyError, KeyPolicy, SigningKey};
use crate::clock::unix;

/// Where a key is in its life at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Published, signs from `activates_at` on.
    Pending,
    /// Published and signing.
    Active,
    /// Published until every assertion it signed has expired.
    Retired,
    /// No longer published; `keys rotate` deletes its files.
    Expired,
}

impl KeyState {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
        }
    }

    /// Whether the key is in the JWKS.
    pub const fn is_published(self) -> bool {
        !matches!(self, KeyState::Expired)
    }
}

/// A key with its lifecycle times (Unix seconds).
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub key: Arc<SigningKey>,
    pub created: u64,
    pub activates_at: u64,
}

/// A key with a fixed state, for building a [`KeySet`] by hand (tests).
#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub key: Arc<SigningKey>,
    pub state: KeyState,
}

/// One key's state and times at a given moment (`keys list`, metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub kid: String,
    pub alg: Algorithm,
    pub state: KeyState,
    pub created: u64,
    pub activates_at: u64,
    /// When its successor activates (known once a successor exists).
    pub retired_at: Option<u64>,
    /// When it leaves the JWKS (`retired_at` + retention).
    pub published_until: Option<u64>,
}

/// Every stored key, ordered by activation.
#[derive(Debug, Clone)]
pub struct KeySet {
    entries: Vec<KeyEntry>,
    policy: KeyPolicy,
}

impl KeySet {
    /// At least one key; `policy.retention` is how long a retired key stays
    /// published.
    pub fn from_entries(mut entries: Vec<KeyEntry>, policy: KeyPolicy) -> Result<KeySet, KeyError> {
        if entries.is_empty() {
            return Err(KeyError::NoActiveKey);
        }
        entries.sort_by(|a, b| {
            (a.activates_at, a.created, a.key.kid()).cmp(&(b.activates_at, b.created, b.key.kid()))
        });
        Ok(KeySet { entries, policy })
    }

    /// Keys with fixed states, exactly one active; retired keys stay
    /// published forever and pending keys never activate.
    pub fn new(keys: Vec<PublishedKey>) -> Result<KeySet, KeyError> {
        let active = keys.iter().filter(|k| k.state == KeyState::Active).count();
        if active != 1 {
            return Err(KeyError::NoActiveKey);
        }
        let entries = keys
            .into_iter()
            .map(|published| KeyEntry {
                key: published.key,
                created: 0,
                activates_at: match published.state {
                    KeyState::Retired | KeyState::Expired => 0,
                    KeyState::Active => 1,
                    KeyState::Pending => u64::MAX,
                },
            })
            .collect();
        let policy = KeyPolicy {
            retention: Duration::MAX,
            ..KeyPolicy::default()
        };
        KeySet::from_entries(entries, policy)
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// Every key's state and times at `now`, in activation order.
    pub fn statuses(&self, now: SystemTime) -> Vec<KeyStatus> {
        let now = unix(now);
        let retention = self.policy.retention.as_secs();
        self.entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let retired_at = self.entries.get(index + 1).map(|next| next.activates_at);
                let published_until = retired_at.map(|at| at.saturating_add(retention));
                let state = if entry.activates_at > now {
                    KeyState::Pending
                } else {
                    match (retired_at, published_until) {
                        (Some(at), Some(until)) if at <= now && until <= now => KeyState::Expired,
                        (Some(at), _) if at <= now => KeyState::Retired,
                        _ => KeyState::Active,
                    }
                };
                KeyStatus {
                    kid: entry.key.kid().to_owned(),
                    alg: entry.key.alg(),
                    state,
                    created: entry.created,
                    activates_at: entry.activates_at,
                    retired_at,
                    published_until,
                }
            })
            .collect()
    }

    /// `(kid, alg, state)` of every stored key at `now` (for metrics).
    pub fn key_states(&self, now: SystemTime) -> Vec<(String, Algorithm, KeyState)> {
        self.statuses(now)
            .into_iter()
            .map(|status| (status.kid, status.alg, status.state))
            .collect()
    }

    fn with_state(&self, now: SystemTime) -> impl Iterator<Item = (&Arc<SigningKey>, KeyState)> {
        self.entries
            .iter()
            .zip(self.statuses(now))
            .map(|(entry, status)| (&entry.key, status.state))
    }

    /// The key that signs new assertions at `now`.
    pub fn active(&self, now: SystemTime) -> Option<&Arc<SigningKey>> {
        self.with_state(now)
            .find(|(_, state)| *state == KeyState::Active)
            .map(|(key, _)| key)
    }

    /// Keys in the JWKS at `now` (pending, active, retired).
    pub fn published(&self, now: SystemTime) -> Vec<&Arc<SigningKey>> {
        self.with_state(now)
            .filter(|(_, state)| state.is_published())
            .map(|(key, _)| key)
            .collect()
    }

    /// The public halves of the published keys.
    pub fn jwks(&self, now: SystemTime) -> Jwks {
        Jwks {
            keys: self
                .published(now)
                .into_iter()
                .map(|key| key.jwk().clone())
                .collect(),
        }
    }

    /// The distinct algorithms of the published keys, sorted.
    pub fn algorithms(&self, now: SystemTime) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = self
            .published(now)
            .into_iter()
            .map(|key| key.alg().as_str())
            .collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }
}
