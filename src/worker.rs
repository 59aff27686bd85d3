//! Per-worker state shared by the root context and every HTTP context of one
//! Wasm VM (one Envoy worker thread, so `Rc<RefCell<…>>`). [`Worker`]
//! coordinates three owners, each of which keeps its own invariants:
//! - `flights`: issuer calls in flight and the requests waiting on each;
//! - `copies`: the identities used recently and this worker's copy of each
//!   one's cache entry;
//! - `refresh`: background refresh of those copies ahead of expiry;
//!
//! with `call` making an issuer call, reading its answer and caching the
//! token it brings,
//! and keeps itself the token each resumed request carried (for 401
//! invalidation), its clock, and its place among its peers.
//!
//! Methods here never resume or answer a request: they return a
//! [`Delivery`] that the caller performs after releasing the `RefCell`,
//! since resuming a request can re-enter the filter.

mod call;
mod copies;
mod flights;
mod refresh;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use claude_wif_api::AccessToken;
use log::Level;

use crate::cache::{self, CacheEntry, Freshness};
use crate::config::FilterConfig;
use crate::config::RefreshPolicy;
use crate::host::{Host, unix_ms};
use crate::issuer::{IssuedToken, IssuerError};
use crate::peers::{self, Peer};
use crate::reply::FilterError;
use crate::stats::Stat;

pub use copies::Held;
use copies::{Copies, Read};
pub use flights::Owner;
use flights::{Flight, Flights};
pub use refresh::BACKOFF_MS;

/// The worker state as the contexts of one VM share it.
pub type SharedWorker = Rc<RefCell<Worker>>;

/// A hit reads the clock itself at least once every this many hits, so
/// the worker's clock cannot fall far behind even if ticks were late.
pub const HITS_PER_CLOCK_READ: u32 = 64;

/// What the cache holds for a request's identity.
#[derive(Debug)]
pub enum Lookup {
    /// A token, fresh or due for a background refresh, judged at this
    /// time (ms).
    Usable(Rc<Held>, Freshness, u64),
    /// No usable token: wait for an issuer call under `key`, naming the
    /// token it replaces (stale, or rejected upstream) if any.
    Wait {
        key: Rc<str>,
        stale_sha256: Option<String>,
    },
}

/// Requests to resume with a token, or to answer with an error.
#[derive(Debug)]
pub struct Delivery {
    pub waiters: Vec<u32>,
    pub outcome: Result<AccessToken, FilterError>,
}

/// The state of one worker (see the module doc).
#[derive(Debug, Default)]
pub struct Worker {
    config: Option<Rc<FilterConfig>>,
    flights: Flights,
    /// resumed request → (key, token it carried upstream)
    forwarded: HashMap<u32, (String, AccessToken)>,
    copies: Copies,
    /// This worker among its peers; `None` when notices are unavailable
    /// (then every request reads shared data).
    peer: Option<Peer>,
    /// The host clock as of the last tick or clock read (ms): a hit on a
    /// copy judges freshness by it, with a margin, instead of reading the
    /// clock.
    clock_ms: u64,
    /// Hits judged by `clock_ms` since the clock was last read.
    hits_on_clock: u32,
}

impl Worker {
    /// A worker with `config` (`None` until configured).
    pub fn new(config: Option<Rc<FilterConfig>>) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// A worker to share between the contexts of one VM.
    pub fn shared(config: Option<Rc<FilterConfig>>) -> SharedWorker {
        Rc::new(RefCell::new(Self::new(config)))
    }

    /// The configuration in force, if any.
    pub fn config(&self) -> Option<Rc<FilterConfig>> {
        self.config.clone()
    }

    /// Replaces the configuration.
    pub fn set_config(&mut self, config: Rc<FilterConfig>) {
        self.config = Some(config);
    }

    /// Requests currently paused on this worker.
    pub fn paused_requests(&self) -> usize {
        self.flights.paused()
    }

    /// Issuer calls currently in flight on this worker.
    pub fn calls_in_flight(&self) -> usize {
        self.flights.calls()
    }

    /// Keys tracked for background refresh.
    pub fn recent_keys(&self) -> usize {
        self.copies.len()
    }

    /// Looks `identity` up in the cache. With notices from the other
    /// workers (see `peers`), a hit on this worker's copy of the entry makes
    /// no host call; otherwise (no copy, too close to expiry, or no notices)
    /// it reads shared data, decoding only when the entry's version changed
    /// since this worker last decoded it. Notes the identity as used (for
    /// background refresh), bounded by `max_identities` (the least recently
    /// used is forgotten first).
    pub fn lookup<H: Host>(&mut self, host: &H, config: &FilterConfig, identity: &str) -> Lookup {
        let policy = config.refresh;
        if self.peer.is_some() && self.hits_on_clock < HITS_PER_CLOCK_READ {
            let clock_ms = self.clock_ms;
            // The worker's clock can be behind by up to a (late) tick: a copy
            // is used without reading the clock only if it is still fresh
            // that far ahead. With notices, a 401 anywhere drops the copy at
            // once, so it needs no shared-data read either.
            let ahead_ms = clock_ms.saturating_add(clock_margin_ms(config));
            if let Some((held, freshness)) = self.copies.hit(identity, ahead_ms, policy, clock_ms) {
                self.hits_on_clock += 1;
                return Lookup::Usable(held, freshness, clock_ms);
            }
        }
        let now_ms = unix_ms(host.now());
        self.set_clock(now_ms);
        let max = usize::try_from(config.max_identities).unwrap_or(usize::MAX);
        let read = self.copies.read(
            identity,
            now_ms,
            max,
            || cache::key(&config.server_workload, identity),
            |key| host.shared_data(key),
        );
        match read {
            Read::Token(held) => usable_or_wait(held, now_ms, policy),
            Read::Missing {
                key,
                rejected_sha256,
            } => Lookup::Wait {
                key,
                stale_sha256: rejected_sha256,
            },
        }
    }

    /// Sets the worker's clock (ms since the epoch, from the host).
    pub fn set_clock(&mut self, now_ms: u64) {
        self.clock_ms = now_ms;
        self.hits_on_clock = 0;
    }

    /// Joins the other workers' notices (once the root tick runs: the
    /// notices rely on it).
    pub fn join_peers<H: Host>(&mut self, host: &mut H, now_ms: u64) {
        self.set_clock(now_ms);
        self.peer = peers::join(host, now_ms);
    }

    /// This worker among its peers, if it gets notices.
    pub fn peer(&self) -> Option<Peer> {
        self.peer
    }

    /// Notices from other workers: forgets the copies they name.
    pub fn on_notices<H: Host>(&mut self, host: &mut H, queue: u32) {
        for key in peers::received(host, queue) {
            self.copies.forget(&key, None);
        }
    }

    /// The upstream answered 401 to `token`, cached under `key` (whose
    /// shared entry the caller has invalidated first): forgets this
    /// worker's copy and tells the other workers to forget theirs. Returns
    /// how many were told.
    pub fn token_rejected<H: Host>(
        &mut self,
        host: &mut H,
        key: &str,
        token: &AccessToken,
    ) -> usize {
        self.copies.forget(key, Some(token));
        let (Some(peer), Some(config)) = (self.peer, self.config.as_ref()) else {
            return 0;
        };
        // A worker that has not ticked for 3 ticks + 1 s is gone (or will
        // re-read the entry at its next tick anyway).
        let alive_ms = tick_ms(config).saturating_mul(3).saturating_add(1000);
        peers::tell_drop(host, peer, key, unix_ms(host.now()), alive_ms)
    }

    /// Makes request `ctx` wait for a token for `key`: joins the call in
    /// flight (making it again if its first caller went away), or starts
    /// one in the request's own context.
    pub fn wait_for_token<H: Host>(
        &mut self,
        host: &mut H,
        ctx: u32,
        key: &str,
        identity: &str,
        stale_sha256: Option<String>,
    ) -> Result<(), FilterError> {
        let config = self.config.clone().ok_or(FilterError::NotConfigured)?;
        let Some(flight) = self.flights.get(key) else {
            let call = call::dispatch(&config, host, identity, stale_sha256.as_deref())?;
            host.log(
                Level::Debug,
                &format!("no fresh token for {identity}; asked issuer-svc (call {call})"),
            );
            let flight = Flight::new(identity, stale_sha256);
            self.flights.start(key, call, Owner::Request(ctx), flight);
            return Ok(());
        };
        if flight.call().is_none() {
            let call = call::dispatch(&config, host, identity, flight.stale_sha256())?;
            self.flights.redial(key, call, Owner::Request(ctx));
            host.log(
                Level::Debug,
                &format!("asked issuer-svc again for {identity} (call {call}); its first caller went away"),
            );
        }
        let joined = self.flights.join(key, ctx).unwrap_or_default();
        host.log(
            Level::Debug,
            &format!("waiting with {joined} request(s) for the token of {identity}"),
        );
        Ok(())
    }

    /// The answer to issuer call `token_id`: caches the token and says whom
    /// to resume. `None` for an unknown or abandoned call.
    pub fn on_call_answer<H: Host>(
        &mut self,
        host: &mut H,
        token_id: u32,
        body_size: usize,
    ) -> Option<Delivery> {
        let Some((key, flight)) = self.flights.finish(token_id) else {
            host.log(
                Level::Debug,
                &format!("ignored the answer to call {token_id} (no longer awaited)"),
            );
            return None;
        };
        let config = self.config.clone()?;
        let answer = call::read_answer(host, body_size);
        host.count(match &answer {
            Ok(_) => Stat::IssuerCallsOk,
            Err(IssuerError::Denied { .. }) => Stat::IssuerCallsDenied,
            Err(_) => Stat::IssuerCallsFailed,
        });
        let now_ms = unix_ms(host.now());
        let outcome = match answer {
            Ok(issued) => Ok(self.keep(host, &config, &key, &flight, issued, now_ms)),
            Err(error) => {
                if let Some(replaced) = flight.refreshing() {
                    let reason = format!("failed ({})", FilterError::Issuer(error.clone()));
                    let identity = flight.identity();
                    refresh::back_off(host, &key, &replaced.token, identity, &reason, now_ms);
                }
                Err(FilterError::Issuer(error))
            }
        };
        if let Ok(token) = &outcome {
            for waiter in flight.waiters() {
                self.forwarded.insert(*waiter, (key.clone(), token.clone()));
            }
        }
        Some(Delivery {
            waiters: flight.into_waiters(),
            outcome,
        })
    }

    /// Stores an issued token (unless it is no newer than the one being
    /// refreshed) and returns it.
    fn keep<H: Host>(
        &mut self,
        host: &mut H,
        config: &FilterConfig,
        key: &str,
        flight: &Flight,
        issued: IssuedToken,
        now_ms: u64,
    ) -> AccessToken {
        let entry = CacheEntry {
            expires_at_ms: now_ms.saturating_add(issued.expires_in_s.saturating_mul(1000)),
            lifetime_s: issued.expires_in_s,
            refresh_after_ms: 0,
            token: issued.access_token,
        };
        let identity = flight.identity();
        if let Some(replaced) = flight.refreshing()
            && !refresh::is_newer(&entry, replaced)
        {
            let reason = "got no newer token";
            refresh::back_off(host, key, &replaced.token, identity, reason, now_ms);
            return entry.token;
        }
        if call::store(host, config, key, identity, &entry) {
            // This worker's own hits use the new token at once.
            self.copies.install(identity, entry.clone());
        }
        let kind = if flight.refreshing().is_some() {
            host.count(Stat::BackgroundRefreshOk);
            "refreshed in the background"
        } else {
            "issued"
        };
        host.log(
            Level::Info,
            &format!(
                "issuer-svc {kind} token {} for {} via {} (expires in {}s, {} waiting)",
                entry.token,
                identity,
                issued.credential_provider,
                issued.expires_in_s,
                flight.waiters().len()
            ),
        );
        entry.token
    }

    /// Request `ctx` is finished (or was reset): forget it. If it owned a
    /// call that others still wait on, the call is re-made by the next
    /// request or tick.
    pub fn on_request_done(&mut self, ctx: u32) {
        self.forwarded.remove(&ctx);
        self.flights.leave(ctx);
    }

    /// Whether request `ctx` was resumed with a token (and not yet answered).
    pub fn was_resumed(&self, ctx: u32) -> bool {
        self.forwarded.contains_key(&ctx)
    }

    /// The token request `ctx` was resumed with, and its key.
    pub fn take_forwarded(&mut self, ctx: u32) -> Option<(String, AccessToken)> {
        self.forwarded.remove(&ctx)
    }

    /// The root tick: re-makes orphaned calls and starts background
    /// refreshes for recently used keys entering their advisory window.
    /// Returns the requests to answer when a call could not be made.
    pub fn on_tick<H: Host>(&mut self, host: &mut H) -> Vec<Delivery> {
        let Some(config) = self.config.clone() else {
            return Vec::new();
        };
        let now_ms = unix_ms(host.now());
        self.set_clock(now_ms);
        if let Some(peer) = self.peer {
            self.peer = peers::tick(host, peer, now_ms);
        }
        let window_ms = config.refresh.advisory_s.saturating_mul(1000);
        self.copies.forget_unused(now_ms, window_ms);
        let mut failed = self.retry_orphans(host, &config);
        self.copies.reread_all(|key| host.shared_data(key));
        let due = refresh::due(
            self.copies.held(),
            |key| self.flights.contains(key),
            now_ms,
            config.refresh,
        );
        let flights = &mut self.flights;
        refresh::start_up_to(due, refresh::MAX_REFRESHES_PER_TICK, |due| {
            refresh::start(host, &config, flights, due, now_ms)
        });
        failed.retain(|d| !d.waiters.is_empty());
        failed
    }

    /// Calls again, from the root context, for every flight whose owner
    /// went away; answers the waiters of one that cannot be made.
    fn retry_orphans<H: Host>(&mut self, host: &mut H, config: &FilterConfig) -> Vec<Delivery> {
        let mut failed = Vec::new();
        for key in self.flights.orphans() {
            let Some(flight) = self.flights.get(&key) else {
                continue;
            };
            match call::dispatch(config, host, flight.identity(), flight.stale_sha256()) {
                Ok(call) => {
                    self.flights.redial(&key, call, Owner::Root);
                }
                Err(error) => {
                    if let Some(flight) = self.flights.abandon(&key) {
                        failed.push(Delivery {
                            waiters: flight.into_waiters(),
                            outcome: Err(error),
                        });
                    }
                }
            }
        }
        failed
    }
}

/// How far behind the host clock the worker's clock may be: one tick, and
/// a second for a late one.
fn clock_margin_ms(config: &FilterConfig) -> u64 {
    tick_ms(config).saturating_add(1000)
}

fn tick_ms(config: &FilterConfig) -> u64 {
    u64::try_from(config.refresh_tick.as_millis()).unwrap_or(u64::MAX)
}

/// A held token's verdict now: usable (maybe due for refresh), or too close
/// to expiry: wait for a new one, naming this one as stale.
fn usable_or_wait(held: Rc<Held>, now_ms: u64, policy: RefreshPolicy) -> Lookup {
    match held.entry.freshness(now_ms, policy) {
        Freshness::Stale => Lookup::Wait {
            key: held.key.clone(),
            stale_sha256: Some(cache::token_sha256(&held.entry.token)),
        },
        freshness => Lookup::Usable(held, freshness, now_ms),
    }
}

#[cfg(test)]
mod tests;
