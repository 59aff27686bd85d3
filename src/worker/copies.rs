//! This worker's copies of cache entries: for each identity it served
//! recently, when it last used it, and the entry under its key as the worker
//! last decoded it from shared data.
//!
//! [`Copies`] owns the map and keeps true:
//! - a held token belongs to its identity's entry (`held.key` is the key);
//! - an identity holds a token or the record of a rejected one, never both;
//! - an entry is decoded again only when its shared-data version changed
//!   (a copy dropped or replaced here is decoded at the next read);
//! - [`Copies::read`] tracks a new identity only after forgetting the least
//!   recently used one if `max` (at least one) or more are tracked, so at
//!   most `max` are while `max` does not shrink.
//!
//! [`Copies::forget_unused`] (at each tick) forgets the identities not used
//! within the window it is given.
//!
//! The time of last use lives in the same record as the copy (rather than
//! with the background refresh it drives) so that a hit costs one hash
//! lookup. Nothing here talks to the host: shared data is read through the
//! `read` function the caller passes.

use std::collections::HashMap;
use std::rc::Rc;

use claude_wif_api::AccessToken;

use crate::cache::{CacheEntry, Freshness, Slot};
use crate::config::RefreshPolicy;

/// A shared-data read: the value under a key and its version.
pub type SharedValue = (Option<Vec<u8>>, Option<u32>);

/// A cached token as a hit uses it: the entry, its key, and the
/// `authorization` value built once.
#[derive(Debug, PartialEq, Eq)]
pub struct Held {
    pub key: Rc<str>,
    pub entry: CacheEntry,
    /// `Bearer <token>`.
    pub bearer: String,
}

impl Held {
    fn new(key: Rc<str>, entry: CacheEntry) -> Self {
        Self {
            key,
            bearer: crate::headers::bearer(&entry.token),
            entry,
        }
    }
}

/// What the shared entry of an identity held at its last read.
#[derive(Debug)]
pub enum Read {
    /// A token (judged by the caller).
    Token(Rc<Held>),
    /// No token under `key`; `rejected_sha256` names the one rejected
    /// upstream, if that is what the entry records.
    Missing {
        key: Rc<str>,
        rejected_sha256: Option<String>,
    },
}

/// An identity this worker served recently.
#[derive(Debug)]
struct Recent {
    /// Its shared-data key (formatted once, not per request).
    key: Rc<str>,
    last_used_ms: u64,
    /// The cache entry as this worker last decoded it.
    held: Option<Rc<Held>>,
    /// The hash of the token the entry says was rejected upstream (by any
    /// worker), when it holds that record instead of a token.
    rejected_sha256: Option<String>,
    /// The shared-data version `held` was decoded from (decoded again only
    /// when it changed).
    held_cas: Option<u32>,
}

impl Recent {
    fn new(key: String, used_ms: u64) -> Self {
        Self {
            key: Rc::from(key),
            last_used_ms: used_ms,
            held: None,
            rejected_sha256: None,
            held_cas: None,
        }
    }

    /// Reads the shared-data entry, decoding it only when its version
    /// changed.
    fn reread(&mut self, read: impl FnOnce(&str) -> SharedValue) {
        let (value, cas) = read(&self.key);
        if value.is_some() && cas.is_some() && cas == self.held_cas {
            return;
        }
        (self.held, self.rejected_sha256) = match value.and_then(|v| Slot::decode(&v)) {
            Some(Slot::Token(entry)) => (Some(Rc::new(Held::new(self.key.clone(), entry))), None),
            Some(Slot::Invalidated { stale_sha256 }) => (None, Some(stale_sha256)),
            None => (None, None),
        };
        self.held_cas = cas;
    }

    fn read(&self) -> Read {
        match &self.held {
            Some(held) => Read::Token(held.clone()),
            None => Read::Missing {
                key: self.key.clone(),
                rejected_sha256: self.rejected_sha256.clone(),
            },
        }
    }
}

/// The copies of one worker, by identity (see the module doc).
#[derive(Debug, Default)]
pub struct Copies {
    by_identity: HashMap<String, Recent>,
}

impl Copies {
    /// Identities tracked.
    pub fn len(&self) -> usize {
        self.by_identity.len()
    }

    /// A hit on the copy for `identity`: its token if it is not stale at
    /// `judge_ms`, with its freshness then; the identity is noted as used
    /// at `used_ms`. No host call, no allocation: one hash lookup.
    #[inline]
    pub fn hit(
        &mut self,
        identity: &str,
        judge_ms: u64,
        policy: RefreshPolicy,
        used_ms: u64,
    ) -> Option<(Rc<Held>, Freshness)> {
        let copy = self.by_identity.get_mut(identity)?;
        let held = copy.held.as_ref()?;
        let freshness = held.entry.freshness(judge_ms, policy);
        if freshness == Freshness::Stale {
            return None;
        }
        copy.last_used_ms = used_ms;
        Some((held.clone(), freshness))
    }

    /// Notes `identity` as used at `now_ms` and re-reads its entry (through
    /// `read`, under the key `key` makes for a new identity). A new identity
    /// first makes room: at most `max` (at least one) are tracked.
    pub fn read(
        &mut self,
        identity: &str,
        now_ms: u64,
        max: usize,
        key: impl FnOnce() -> String,
        read: impl FnOnce(&str) -> SharedValue,
    ) -> Read {
        if let Some(copy) = self.by_identity.get_mut(identity) {
            copy.last_used_ms = now_ms;
            copy.reread(read);
            return copy.read();
        }
        self.make_room(max);
        let copy = self
            .by_identity
            .entry(identity.to_owned())
            .or_insert_with(|| Recent::new(key(), now_ms));
        copy.reread(read);
        copy.read()
    }

    /// Forgets the least recently used identity when `max` are tracked.
    fn make_room(&mut self, max: usize) {
        if self.by_identity.len() < max.max(1) {
            return;
        }
        let oldest = self
            .by_identity
            .iter()
            .min_by_key(|(_, c)| c.last_used_ms)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            self.by_identity.remove(&oldest);
        }
    }

    /// Forgets the identities not used within `window_ms` before `now_ms`.
    pub fn forget_unused(&mut self, now_ms: u64, window_ms: u64) {
        self.by_identity
            .retain(|_, c| c.last_used_ms.saturating_add(window_ms) >= now_ms);
    }

    /// Re-reads every tracked entry (through `read`), decoding the changed
    /// ones.
    pub fn reread_all(&mut self, mut read: impl FnMut(&str) -> SharedValue) {
        for copy in self.by_identity.values_mut() {
            copy.reread(&mut read);
        }
    }

    /// Every held token, with its identity.
    pub fn held(&self) -> impl Iterator<Item = (&str, &Held)> {
        self.by_identity
            .iter()
            .filter_map(|(identity, c)| Some((identity.as_str(), &**c.held.as_ref()?)))
    }

    /// Drops the copy of `key`'s entry (only if it holds `token`, when
    /// given): the next read decodes the shared entry again.
    pub fn forget(&mut self, key: &str, token: Option<&AccessToken>) {
        for copy in self.by_identity.values_mut() {
            let held_token = copy.held.as_ref().map(|held| &held.entry.token);
            if *copy.key == *key && (token.is_none() || held_token == token) {
                copy.held = None;
                copy.held_cas = None;
            }
        }
    }

    /// This worker stored `entry` for `identity`: its own hits use it at
    /// once (if the identity is tracked).
    pub fn install(&mut self, identity: &str, entry: CacheEntry) {
        if let Some(copy) = self.by_identity.get_mut(identity) {
            copy.held = Some(Rc::new(Held::new(copy.key.clone(), entry)));
            copy.rejected_sha256 = None;
            copy.held_cas = None;
        }
    }
}

#[cfg(test)]
impl Copies {
    /// When `identity` was last used, if tracked.
    fn last_used_ms(&self, identity: &str) -> Option<u64> {
        self.by_identity.get(identity).map(|c| c.last_used_ms)
    }

    /// Panics unless every invariant of the module doc holds (`max`: the
    /// bound given to every [`Copies::read`] so far).
    fn check_invariants(&self, max: usize) {
        assert!(self.by_identity.len() <= max.max(1), "bounded by {max}");
        for (identity, copy) in &self.by_identity {
            if let Some(held) = &copy.held {
                assert_eq!(held.key, copy.key, "{identity}: held under its key");
                assert!(
                    copy.rejected_sha256.is_none(),
                    "{identity}: token or record"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
