//! Per-worker state shared by the root context and every HTTP context of one
//! Wasm VM (one Envoy worker thread, so `Rc<RefCell<…>>`): issuer calls in
//! flight and the requests waiting on each, the keys used recently (refreshed
//! in the background by the root tick), and the token each resumed request
//! carried (for 401 invalidation).
//!
//! Methods here never resume or answer a request: they return a
//! [`Delivery`] that the caller performs with [`crate::filter::deliver`]
//! after releasing the `RefCell`, since resuming a request can re-enter the
//! filter.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use claude_wif_api::AccessToken;
use log::Level;

use crate::cache::{self, CacheEntry, Freshness, Slot, StoreOutcome};
use crate::config::FilterConfig;
use crate::config::RefreshPolicy;
use crate::host::{Host, unix_ms};
use crate::issuer::{self, IssuedToken, IssuerError, MAX_ANSWER_BYTES};
use crate::peers::{self, Peer};
use crate::reply::FilterError;
use crate::stats::Stat;

/// The worker state as the contexts of one VM share it.
pub type SharedWorker = Rc<RefCell<Worker>>;

/// A failed or useless background refresh is retried no sooner than this.
pub const BACKOFF_MS: u64 = 5_000;
/// A hit reads the clock itself at least once every this many hits, so
/// the worker's clock cannot fall far behind even if ticks were late.
pub const HITS_PER_CLOCK_READ: u32 = 64;

/// Most background refreshes one tick starts.
const MAX_REFRESHES_PER_TICK: usize = 64;

/// Which context owns an issuer call (its answer is delivered there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Request(u32),
    Root,
}

/// One issuer call for one key, and the requests waiting on it.
#[derive(Debug)]
struct Flight {
    /// The call's token; `None` when its owning request went away (Envoy
    /// cancels the calls of a finished stream): the next request or tick
    /// calls again.
    call: Option<u32>,
    owner: Owner,
    identity: String,
    waiters: Vec<u32>,
    stale_sha256: Option<String>,
    /// For a background refresh: the entry being replaced.
    refreshing: Option<CacheEntry>,
}

/// An identity this worker served recently: refreshed in the background
/// by the root tick while it keeps being used.
#[derive(Debug)]
struct Recent {
    /// Its shared-data key (formatted once, not per request).
    key: Rc<str>,
    last_used_ms: u64,
    /// The cache entry as this worker last decoded it (re-read from shared
    /// data by every request and root tick; dropped on an upstream 401 to
    /// its token).
    held: Option<Rc<Held>>,
    /// The hash of the token the entry says was rejected upstream (by any
    /// worker), when it holds that record instead of a token.
    rejected_sha256: Option<String>,
    /// The shared-data version `held` was decoded from (decoded again only
    /// when it changed).
    held_cas: Option<u32>,
}

impl Recent {
    fn new(key: String) -> Self {
        Self {
            key: Rc::from(key),
            last_used_ms: 0,
            held: None,
            rejected_sha256: None,
            held_cas: None,
        }
    }

    /// Reads the shared-data entry into `held`, decoding it only when its
    /// version changed.
    fn reread<H: Host>(&mut self, host: &H) {
        let (value, cas) = host.shared_data(&self.key);
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
}

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

#[derive(Debug, Default)]
pub struct Worker {
    config: Option<Rc<FilterConfig>>,
    flights: HashMap<String, Flight>,
    /// call token → key
    calls: HashMap<u32, String>,
    /// paused request → key
    waiting: HashMap<u32, String>,
    /// resumed request → (key, token it carried upstream)
    forwarded: HashMap<u32, (String, AccessToken)>,
    /// identity → what this worker knows of its cache entry
    recent: HashMap<String, Recent>,
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
    pub fn new(config: Option<Rc<FilterConfig>>) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    pub fn shared(config: Option<Rc<FilterConfig>>) -> SharedWorker {
        Rc::new(RefCell::new(Self::new(config)))
    }

    pub fn config(&self) -> Option<Rc<FilterConfig>> {
        self.config.clone()
    }

    pub fn set_config(&mut self, config: Rc<FilterConfig>) {
        self.config = Some(config);
    }

    /// Requests currently paused on this worker.
    pub fn paused_requests(&self) -> usize {
        self.waiting.len()
    }

    /// Issuer calls currently in flight on this worker.
    pub fn calls_in_flight(&self) -> usize {
        self.calls.len()
    }

    /// Keys tracked for background refresh.
    pub fn recent_keys(&self) -> usize {
        self.recent.len()
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
            if let Some(recent) = self.recent.get_mut(identity)
                && let Some(held) = &recent.held
                && let freshness = held.entry.freshness(ahead_ms, policy)
                && freshness != Freshness::Stale
            {
                recent.last_used_ms = clock_ms;
                let held = held.clone();
                self.hits_on_clock += 1;
                return Lookup::Usable(held, freshness, clock_ms);
            }
        }
        let now_ms = unix_ms(host.now());
        self.set_clock(now_ms);
        if !self.recent.contains_key(identity) {
            self.make_room(usize::try_from(config.max_identities).unwrap_or(usize::MAX));
        }
        let recent = self
            .recent
            .entry(identity.to_owned())
            .or_insert_with(|| Recent::new(cache::key(&config.server_workload, identity)));
        recent.last_used_ms = now_ms;
        recent.reread(host);
        match &recent.held {
            Some(held) => usable_or_wait(held, now_ms, policy),
            None => Lookup::Wait {
                key: recent.key.clone(),
                stale_sha256: recent.rejected_sha256.clone(),
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
            self.forget_copies(&key, None);
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
        self.forget_copies(key, Some(token));
        let (Some(peer), Some(config)) = (self.peer, self.config.as_ref()) else {
            return 0;
        };
        // A worker that has not ticked for 3 ticks + 1 s is gone (or will
        // re-read the entry at its next tick anyway).
        let alive_ms = tick_ms(config).saturating_mul(3).saturating_add(1000);
        peers::tell_drop(host, peer, key, unix_ms(host.now()), alive_ms)
    }

    /// Forgets this worker's copy of `key`'s entry (only if it holds
    /// `token`, when given).
    fn forget_copies(&mut self, key: &str, token: Option<&AccessToken>) {
        for recent in self.recent.values_mut() {
            let held_token = recent.held.as_ref().map(|held| &held.entry.token);
            if *recent.key == *key && (token.is_none() || held_token == token) {
                recent.held = None;
                recent.held_cas = None;
            }
        }
    }

    /// Forgets the least recently used identity when `max` are tracked.
    fn make_room(&mut self, max: usize) {
        if self.recent.len() < max.max(1) {
            return;
        }
        let oldest = self
            .recent
            .iter()
            .min_by_key(|(_, r)| r.last_used_ms)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            self.recent.remove(&oldest);
        }
    }

    /// Makes request `ctx` wait for a token for `key`: joins the call in
    /// flight, or starts one in the request's own context.
    pub fn wait_for_token<H: Host>(
        &mut self,
        host: &mut H,
        ctx: u32,
        key: &str,
        identity: &str,
        stale_sha256: Option<String>,
    ) -> Result<(), FilterError> {
        let config = self.config.clone().ok_or(FilterError::NotConfigured)?;
        if let Some(flight) = self.flights.get_mut(key) {
            if flight.call.is_none() {
                let call = dispatch(&config, host, identity, flight.stale_sha256.as_deref())?;
                flight.call = Some(call);
                flight.owner = Owner::Request(ctx);
                self.calls.insert(call, key.to_owned());
                host.log(
                    Level::Debug,
                    &format!("asked issuer-svc again for {identity} (call {call}); its first caller went away"),
                );
            }
            flight.waiters.push(ctx);
            let joined = flight.waiters.len();
            self.waiting.insert(ctx, key.to_owned());
            host.log(
                Level::Debug,
                &format!("waiting with {joined} request(s) for the token of {identity}"),
            );
            return Ok(());
        }
        let call = dispatch(&config, host, identity, stale_sha256.as_deref())?;
        host.log(
            Level::Debug,
            &format!("no fresh token for {identity}; asked issuer-svc (call {call})"),
        );
        self.calls.insert(call, key.to_owned());
        self.waiting.insert(ctx, key.to_owned());
        self.flights.insert(
            key.to_owned(),
            Flight {
                call: Some(call),
                owner: Owner::Request(ctx),
                identity: identity.to_owned(),
                waiters: vec![ctx],
                stale_sha256,
                refreshing: None,
            },
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
        let Some(key) = self.calls.remove(&token_id) else {
            host.log(
                Level::Debug,
                &format!("ignored the answer to call {token_id} (no longer awaited)"),
            );
            return None;
        };
        let flight = self.flights.remove(&key)?;
        let config = self.config.clone()?;
        let answer = read_answer(host, body_size);
        host.count(match &answer {
            Ok(_) => Stat::IssuerCallsOk,
            Err(IssuerError::Denied { .. }) => Stat::IssuerCallsDenied,
            Err(_) => Stat::IssuerCallsFailed,
        });
        let now_ms = unix_ms(host.now());
        let outcome = match answer {
            Ok(issued) => Ok(self.keep(host, &config, &key, &flight, issued, now_ms)),
            Err(error) => {
                if let Some(held) = &flight.refreshing {
                    host.count(Stat::BackgroundRefreshFailed);
                    host.log(
                        Level::Warn,
                        &format!(
                            "background refresh for {} failed ({}); retrying in 5s",
                            flight.identity,
                            FilterError::Issuer(error.clone())
                        ),
                    );
                    cache::set_refresh_after(host, &key, &held.token, now_ms + BACKOFF_MS);
                }
                Err(FilterError::Issuer(error))
            }
        };
        for waiter in &flight.waiters {
            self.waiting.remove(waiter);
            if let Ok(token) = &outcome {
                self.forwarded.insert(*waiter, (key.clone(), token.clone()));
            }
        }
        Some(Delivery {
            waiters: flight.waiters,
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
        if let Some(held) = &flight.refreshing
            && entry.expires_at_ms <= held.expires_at_ms
        {
            host.count(Stat::BackgroundRefreshFailed);
            host.log(
                Level::Warn,
                &format!(
                    "background refresh for {} got no newer token; retrying in 5s",
                    flight.identity
                ),
            );
            cache::set_refresh_after(host, key, &held.token, now_ms + BACKOFF_MS);
            return entry.token;
        }
        let count_key = cache::count_key(&config.server_workload);
        match cache::store(host, key, &count_key, config.max_identities, &entry) {
            StoreOutcome::Stored => {
                // This worker's own hits use the new token at once.
                if let Some(recent) = self.recent.get_mut(&flight.identity) {
                    recent.held = Some(Rc::new(Held::new(recent.key.clone(), entry.clone())));
                    recent.rejected_sha256 = None;
                    recent.held_cas = None;
                }
            }
            StoreOutcome::KeptNewer | StoreOutcome::LostRace => {}
            StoreOutcome::Full => {
                host.count(Stat::CacheFull);
                host.log(
                    Level::Warn,
                    &format!(
                        "cache holds max_identities ({}); token for {} not cached",
                        config.max_identities, flight.identity
                    ),
                );
            }
            StoreOutcome::Failed(e) => {
                host.log(Level::Warn, &format!("could not cache the token: {e}"))
            }
        }
        let kind = if flight.refreshing.is_some() {
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
                flight.identity,
                issued.credential_provider,
                issued.expires_in_s,
                flight.waiters.len()
            ),
        );
        entry.token
    }

    /// Request `ctx` is finished (or was reset): forget it. If it owned a
    /// call that others still wait on, the call is re-made by the next
    /// request or tick.
    pub fn on_request_done(&mut self, ctx: u32) {
        self.forwarded.remove(&ctx);
        let Some(key) = self.waiting.remove(&ctx) else {
            return;
        };
        let Some(flight) = self.flights.get_mut(&key) else {
            return;
        };
        flight.waiters.retain(|w| *w != ctx);
        if flight.owner == Owner::Request(ctx)
            && let Some(call) = flight.call.take()
        {
            self.calls.remove(&call);
        }
        if flight.call.is_none() && flight.waiters.is_empty() {
            self.flights.remove(&key);
        }
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
        self.recent
            .retain(|_, r| r.last_used_ms.saturating_add(window_ms) >= now_ms);
        let mut failed = self.retry_orphans(host, &config);
        let mut due: Vec<(String, String, CacheEntry)> = Vec::new();
        for (identity, recent) in &mut self.recent {
            recent.reread(host);
            let Some(held) = &recent.held else {
                continue;
            };
            if held.entry.freshness(now_ms, config.refresh) != Freshness::Fresh
                && now_ms >= held.entry.refresh_after_ms
                && !self.flights.contains_key(&*recent.key)
            {
                due.push((recent.key.to_string(), identity.clone(), held.entry.clone()));
            }
        }
        let mut started = 0;
        for (key, identity, entry) in due {
            if started >= MAX_REFRESHES_PER_TICK {
                break;
            }
            if self.start_refresh(host, &config, &key, &identity, entry, now_ms) {
                started += 1;
            }
        }
        failed.retain(|d| !d.waiters.is_empty());
        failed
    }

    fn retry_orphans<H: Host>(&mut self, host: &mut H, config: &FilterConfig) -> Vec<Delivery> {
        let orphans: Vec<String> = self
            .flights
            .iter()
            .filter(|(_, f)| f.call.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let mut failed = Vec::new();
        for key in orphans {
            let Some(flight) = self.flights.get_mut(&key) else {
                continue;
            };
            match dispatch(
                config,
                host,
                &flight.identity,
                flight.stale_sha256.as_deref(),
            ) {
                Ok(call) => {
                    flight.call = Some(call);
                    flight.owner = Owner::Root;
                    self.calls.insert(call, key);
                }
                Err(error) => {
                    if let Some(flight) = self.flights.remove(&key) {
                        for w in &flight.waiters {
                            self.waiting.remove(w);
                        }
                        failed.push(Delivery {
                            waiters: flight.waiters,
                            outcome: Err(error),
                        });
                    }
                }
            }
        }
        failed
    }

    /// Starts one background refresh of `entry` (in its advisory window) if
    /// this worker wins the refresh lease. `true` if started.
    fn start_refresh<H: Host>(
        &mut self,
        host: &mut H,
        config: &FilterConfig,
        key: &str,
        identity: &str,
        entry: CacheEntry,
        now_ms: u64,
    ) -> bool {
        let timeout_ms = u64::try_from(config.issuer.timeout.as_millis()).unwrap_or(u64::MAX);
        let lease_until = now_ms.saturating_add(timeout_ms).saturating_add(1000);
        if !cache::set_refresh_after(host, key, &entry.token, lease_until) {
            return false; // another worker refreshes it
        }
        let stale = cache::token_sha256(&entry.token);
        match dispatch(config, host, identity, Some(&stale)) {
            Ok(call) => {
                host.log(
                    Level::Debug,
                    &format!(
                        "background refresh of token {} for {identity} (call {call})",
                        entry.token
                    ),
                );
                self.calls.insert(call, key.to_owned());
                self.flights.insert(
                    key.to_owned(),
                    Flight {
                        call: Some(call),
                        owner: Owner::Root,
                        identity: identity.to_owned(),
                        waiters: Vec::new(),
                        stale_sha256: Some(stale),
                        refreshing: Some(entry),
                    },
                );
                true
            }
            Err(error) => {
                host.count(Stat::BackgroundRefreshFailed);
                host.log(
                    Level::Warn,
                    &format!("background refresh for {identity} failed ({error}); retrying in 5s"),
                );
                cache::set_refresh_after(host, key, &entry.token, now_ms + BACKOFF_MS);
                false
            }
        }
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
fn usable_or_wait(held: &Rc<Held>, now_ms: u64, policy: RefreshPolicy) -> Lookup {
    match held.entry.freshness(now_ms, policy) {
        Freshness::Stale => Lookup::Wait {
            key: held.key.clone(),
            stale_sha256: Some(cache::token_sha256(&held.entry.token)),
        },
        freshness => Lookup::Usable(held.clone(), freshness, now_ms),
    }
}

/// Calls issuer-svc for `identity` in the current context.
fn dispatch<H: Host>(
    config: &FilterConfig,
    host: &mut H,
    identity: &str,
    stale_sha256: Option<&str>,
) -> Result<u32, FilterError> {
    let call = issuer::build_request(
        &config.issuer,
        identity,
        &config.server_workload,
        stale_sha256,
    );
    host.dispatch(
        &config.issuer.cluster,
        &call.header_refs(),
        &call.body,
        config.issuer.timeout,
    )
    .map_err(|error| FilterError::Dispatch {
        cluster: config.issuer.cluster.clone(),
        error,
    })
}

/// Reads and parses the answer being delivered (at most [`MAX_ANSWER_BYTES`]).
fn read_answer<H: Host>(host: &H, body_size: usize) -> Result<IssuedToken, IssuerError> {
    let status = host.call_response_header(":status");
    if body_size > MAX_ANSWER_BYTES {
        return Err(IssuerError::Failed {
            status: status
                .map(|s| String::from_utf8_lossy(&s).chars().take(8).collect())
                .unwrap_or_default(),
            description: format!("answer body larger than {MAX_ANSWER_BYTES} bytes"),
        });
    }
    let body = if status.is_some() && body_size > 0 {
        host.call_response_body(body_size).unwrap_or_default()
    } else {
        Vec::new()
    };
    issuer::parse_response(status.as_deref(), &body)
}

#[cfg(test)]
mod tests;
