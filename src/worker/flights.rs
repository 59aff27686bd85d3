//! The issuer calls in flight on one worker, at most one per cache key, and
//! the requests paused on each.
//!
//! [`Flights`] owns three maps and is the only code that touches them; every
//! operation leaves them in step:
//! - a call token maps to a key exactly when that key's flight has that call
//!   (`calls[t] == k` ⇔ `flights[k].call == Some(t)`);
//! - a request waits on a key exactly when it is among that key's waiters
//!   (`waiting[c] == k` ⇔ `c ∈ flights[k].waiters`), so a request waits on
//!   at most one flight, and is listed there once;
//! - a flight has a call or a waiter: one left with neither is dropped;
//! - a call a request owns has that request among its waiters (Envoy cancels
//!   the calls of a finished stream, so when the owner leaves, its call is
//!   forgotten and the flight waits, orphaned, for another call).
//!
//! Nothing here talks to the host: the worker makes the calls and hands their
//! tokens in.

use std::collections::HashMap;

use crate::cache::CacheEntry;

/// Which context owns an issuer call (its answer is delivered there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The HTTP context of a request that waits on the call.
    Request(u32),
    /// The root context (background refreshes, re-made calls).
    Root,
}

/// One issuer call for one key, and the requests waiting on it.
#[derive(Debug)]
pub struct Flight {
    /// The call's token; `None` when its owning request went away: the next
    /// request or tick calls again.
    call: Option<u32>,
    owner: Owner,
    identity: String,
    waiters: Vec<u32>,
    stale_sha256: Option<String>,
    /// For a background refresh: the entry being replaced.
    refreshing: Option<CacheEntry>,
}

impl Flight {
    /// A call for `identity`'s token, naming the one it replaces (stale, or
    /// rejected upstream) if any. Its call and owner are given by
    /// [`Flights::start`].
    pub fn new(identity: &str, stale_sha256: Option<String>) -> Self {
        Self {
            call: None,
            owner: Owner::Root,
            identity: identity.to_owned(),
            waiters: Vec::new(),
            stale_sha256,
            refreshing: None,
        }
    }

    /// A background refresh of `entry` (whose token hashes to `stale_sha256`).
    pub fn refresh(identity: &str, stale_sha256: String, entry: CacheEntry) -> Self {
        Self {
            refreshing: Some(entry),
            ..Self::new(identity, Some(stale_sha256))
        }
    }

    /// The identity whose token is asked for.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The hash of the token this call replaces, if any.
    pub fn stale_sha256(&self) -> Option<&str> {
        self.stale_sha256.as_deref()
    }

    /// For a background refresh: the entry being replaced.
    pub fn refreshing(&self) -> Option<&CacheEntry> {
        self.refreshing.as_ref()
    }

    /// The call's token, `None` while orphaned.
    pub fn call(&self) -> Option<u32> {
        self.call
    }

    /// The requests waiting on this call, in the order they came.
    pub fn waiters(&self) -> &[u32] {
        &self.waiters
    }

    /// The requests waiting on this call, for delivery.
    pub fn into_waiters(self) -> Vec<u32> {
        self.waiters
    }
}

/// The issuer calls in flight and the requests waiting on them (see the
/// module doc for what it keeps true).
#[derive(Debug, Default)]
pub struct Flights {
    /// key → its flight
    by_key: HashMap<String, Flight>,
    /// call token → key
    calls: HashMap<u32, String>,
    /// paused request → key
    waiting: HashMap<u32, String>,
}

impl Flights {
    /// Issuer calls in flight.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Requests paused on a flight.
    pub fn paused(&self) -> usize {
        self.waiting.len()
    }

    /// The flight for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Flight> {
        self.by_key.get(key)
    }

    /// Whether a flight for `key` exists (with a call or orphaned).
    pub fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Starts `flight` for `key` with `call`, owned by `owner` (a request
    /// owner waits on it). Should a flight for `key` exist already, it is
    /// kept as it is and takes the call instead, as in [`Flights::redial`]:
    /// its waiters are never lost.
    pub fn start(&mut self, key: &str, call: u32, owner: Owner, flight: Flight) {
        // A new flight has neither call nor waiter (its constructors give
        // none) until `redial` gives it both.
        self.by_key.entry(key.to_owned()).or_insert(flight);
        self.redial(key, call, owner);
    }

    /// Gives the flight for `key` a new call owned by `owner` (a request
    /// owner waits on it). A call it had before is forgotten: its answer
    /// will be ignored. `false` (and nothing changes) if there is no flight
    /// for `key`.
    pub fn redial(&mut self, key: &str, call: u32, owner: Owner) -> bool {
        let Some(flight) = self.by_key.get_mut(key) else {
            return false;
        };
        if let Some(previous) = flight.call.replace(call) {
            self.calls.remove(&previous);
        }
        flight.owner = owner;
        // A call token names one flight: one given twice leaves the other.
        if let Some(other) = self.calls.insert(call, key.to_owned())
            && other != key
        {
            self.forget_call_of(&other);
        }
        if let Owner::Request(ctx) = owner {
            self.join(key, ctx);
        }
        true
    }

    /// Request `ctx` waits on the flight for `key` (once; leaving the flight
    /// it waited on before, if another). Returns how many wait on it, or
    /// `None` (and nothing changes) if there is no flight for `key`.
    pub fn join(&mut self, key: &str, ctx: u32) -> Option<usize> {
        if !self.by_key.contains_key(key) {
            return None;
        }
        match self.waiting.get(&ctx) {
            Some(current) if current == key => {}
            Some(_) => {
                self.leave(ctx);
                self.add_waiter(key, ctx);
            }
            None => self.add_waiter(key, ctx),
        }
        self.by_key.get(key).map(|flight| flight.waiters.len())
    }

    fn add_waiter(&mut self, key: &str, ctx: u32) {
        if let Some(flight) = self.by_key.get_mut(key) {
            flight.waiters.push(ctx);
            self.waiting.insert(ctx, key.to_owned());
        }
    }

    /// The answer to `call` arrived: ends its flight and releases every
    /// request waiting on it. Returns the flight's key and the flight (with
    /// its waiters, for delivery); `None` for a call not awaited (unknown,
    /// or forgotten when its owner left).
    pub fn finish(&mut self, call: u32) -> Option<(String, Flight)> {
        let key = self.calls.remove(&call)?;
        let flight = self.remove(&key)?;
        Some((key, flight))
    }

    /// Ends the flight for `key` without an answer (its call could not be
    /// made) and releases its waiters. Returns it, with its waiters.
    pub fn abandon(&mut self, key: &str) -> Option<Flight> {
        let flight = self.remove(key)?;
        if let Some(call) = flight.call {
            self.calls.remove(&call);
        }
        Some(flight)
    }

    fn remove(&mut self, key: &str) -> Option<Flight> {
        let flight = self.by_key.remove(key)?;
        for waiter in &flight.waiters {
            self.waiting.remove(waiter);
        }
        Some(flight)
    }

    /// Request `ctx` is finished (or was reset): it stops waiting. If it
    /// owned its flight's call, the call is forgotten (Envoy cancels it) and
    /// the flight is orphaned; a flight left with no call and no waiter is
    /// dropped. `false` if `ctx` was not waiting.
    pub fn leave(&mut self, ctx: u32) -> bool {
        let Some(key) = self.waiting.remove(&ctx) else {
            return false;
        };
        if let Some(flight) = self.by_key.get_mut(&key) {
            flight.waiters.retain(|w| *w != ctx);
            if flight.owner == Owner::Request(ctx) {
                self.forget_call_of(&key);
            }
        }
        self.drop_if_dead(&key);
        true
    }

    /// Forgets the call of the flight for `key` (it is orphaned).
    fn forget_call_of(&mut self, key: &str) {
        if let Some(call) = self.by_key.get_mut(key).and_then(|f| f.call.take())
            && self.calls.get(&call).is_some_and(|k| k == key)
        {
            self.calls.remove(&call);
        }
        self.drop_if_dead(key);
    }

    fn drop_if_dead(&mut self, key: &str) {
        if self
            .by_key
            .get(key)
            .is_some_and(|f| f.call.is_none() && f.waiters.is_empty())
        {
            self.by_key.remove(key);
        }
    }

    /// The keys of the flights whose call was forgotten (their owner went
    /// away) and that still have waiters: each needs a new call.
    pub fn orphans(&self) -> Vec<String> {
        self.by_key
            .iter()
            .filter(|(_, f)| f.call.is_none())
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
impl Flights {
    /// The key request `ctx` waits on.
    fn waits_on(&self, ctx: u32) -> Option<&str> {
        self.waiting.get(&ctx).map(String::as_str)
    }

    /// Panics unless every invariant of the module doc holds.
    fn check_invariants(&self) {
        for (call, key) in &self.calls {
            let flight = self.by_key.get(key);
            assert_eq!(
                flight.and_then(|f| f.call),
                Some(*call),
                "call {call} → {key}"
            );
        }
        for (ctx, key) in &self.waiting {
            let flight = self.by_key.get(key);
            let listed = flight.map_or(0, |f| f.waiters.iter().filter(|w| *w == ctx).count());
            assert_eq!(listed, 1, "request {ctx} waits on {key} once");
        }
        for (key, flight) in &self.by_key {
            if let Some(call) = flight.call {
                assert_eq!(self.calls.get(&call), Some(key), "{key}'s call {call}");
                if let Owner::Request(owner) = flight.owner {
                    assert_eq!(self.waits_on(owner), Some(key.as_str()), "owner waits");
                }
            }
            for waiter in &flight.waiters {
                assert_eq!(self.waits_on(*waiter), Some(key.as_str()), "{waiter}");
            }
            assert!(
                flight.call.is_some() || !flight.waiters.is_empty(),
                "{key}: a flight with neither call nor waiter"
            );
        }
        let waiters: usize = self.by_key.values().map(|f| f.waiters.len()).sum();
        assert_eq!(waiters, self.waiting.len(), "no waiter listed twice");
    }
}

#[cfg(test)]
mod tests;
