//! The token service: a cache of access tokens per (credential provider,
//! client workload identity), filled by single-flight exchanges.
//!
//! An exchange runs in its own task, so a caller that goes away does not
//! cancel it; everyone waiting for the same key shares its result.

mod attempt;
mod refresh;
mod snapshot;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime};

use claude_wif_api::AccessToken;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use sha2::{Digest, Sha256};

pub use refresh::{RefreshDecision, RefreshPolicy};
pub use snapshot::{LastExchange, TokenState, TokenStatus};

use crate::clock::Clock;
use crate::config::{ClaudeConfig, ProviderConfig};
use crate::exchange::{ExchangeError, RetryPolicy, Transport};
use crate::keys::KeyRing;
use crate::metrics::Metrics;

/// Above this many cache entries, expired idle ones are dropped.
const SWEEP_THRESHOLD: usize = 10_000;

/// A token and when it stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    pub expires_at: SystemTime,
    /// `expires_in` as Claude gave it: the refresh thresholds scale with it.
    pub lifetime: Duration,
    /// The scope Claude granted, when it said.
    pub scope: Option<String>,
}

impl IssuedToken {
    /// Whole seconds left at `now` (0 once expired).
    pub fn expires_in(&self, now: SystemTime) -> u64 {
        self.expires_at
            .duration_since(now)
            .map_or(0, |left| left.as_secs())
    }
}

/// Lowercase hex SHA-256 of a token, as `stale_token_sha256` carries it.
pub fn token_sha256(token: &AccessToken) -> String {
    Sha256::digest(token.expose().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `text` has the shape of [`token_sha256`]: 64 lowercase hex digits.
pub fn is_token_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

type Flight = Shared<BoxFuture<'static, Result<IssuedToken, ExchangeError>>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    provider: String,
    /// The client workload identity (the assertion's `sub`): a prefix
    /// workload covers many identities, each with its own token.
    subject: String,
}

#[derive(Default)]
struct Entry {
    token: Option<IssuedToken>,
    flight: Option<(u64, Flight)>,
    /// No background refresh before this (set after a failed exchange).
    retry_not_before: Option<SystemTime>,
    /// Id of the client workload that last asked (for the admin page).
    client_workload: String,
    /// How the last exchange for this key ended, and when.
    last_exchange: Option<LastExchange>,
    /// When a stale report last forced an exchange (a token not yet due for
    /// refresh was dropped): the limit of [`RefreshPolicy::allows_forced`].
    last_forced: Option<SystemTime>,
}

/// What one request asks for.
#[derive(Debug, Clone)]
pub struct TokenRequestFor<'a> {
    pub provider: &'a Arc<ProviderConfig>,
    /// Id of the matched client workload, for logs.
    pub client_workload: &'a str,
    /// The client workload identity, the assertion's `sub`.
    pub subject: &'a str,
    /// SHA-256 (lowercase hex) of a token the caller will not use again.
    pub stale_token_sha256: Option<&'a str>,
}

/// What a reload may change.
#[derive(Debug, Clone)]
struct Settings {
    claude: ClaudeConfig,
    refresh: RefreshPolicy,
    retry: RetryPolicy,
}

#[derive(Clone)]
pub struct TokenService {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    keys: Arc<KeyRing>,
    transport: Arc<dyn Transport>,
    metrics: Arc<Metrics>,
    settings: RwLock<Settings>,
    entries: Mutex<HashMap<CacheKey, Entry>>,
    next_flight: AtomicU64,
}

impl TokenService {
    pub fn new(
        clock: Arc<dyn Clock>,
        keys: Arc<KeyRing>,
        transport: Arc<dyn Transport>,
        claude: ClaudeConfig,
        metrics: Arc<Metrics>,
        refresh: RefreshPolicy,
    ) -> TokenService {
        TokenService {
            inner: Arc::new(Inner {
                clock,
                keys,
                transport,
                metrics,
                settings: RwLock::new(Settings {
                    claude,
                    refresh,
                    retry: RetryPolicy::default(),
                }),
                entries: Mutex::new(HashMap::new()),
                next_flight: AtomicU64::new(0),
            }),
        }
    }

    /// Applies a reloaded `[claude]` and `[token_cache]`; exchanges that
    /// already started finish with the settings they started with.
    pub fn reconfigure(&self, claude: ClaudeConfig, refresh: RefreshPolicy) {
        let mut settings = self.inner.write_settings();
        settings.claude = claude;
        settings.refresh = refresh;
    }

    /// Replaces the retry bounds (tests use short ones).
    pub fn set_retry_policy(&self, retry: RetryPolicy) {
        self.inner.write_settings().retry = retry;
    }

    /// Forgets every cached token of `provider` (its settings changed or it
    /// is gone); returns how many entries were dropped. An exchange in
    /// flight still answers its waiters but no longer fills the cache.
    pub fn drop_provider(&self, provider: &str) -> usize {
        let mut entries = self.inner.lock();
        let before = entries.len();
        entries.retain(|key, _| key.provider != provider);
        before - entries.len()
    }

    /// The transport exchanges are sent with (the admin page's Verify uses
    /// the same one).
    pub fn transport(&self) -> Arc<dyn Transport> {
        Arc::clone(&self.inner.transport)
    }

    /// Number of cache entries (tokens held or being fetched).
    pub fn entries(&self) -> usize {
        self.inner.lock().len()
    }

    /// A valid token for the request: cached, or from the single exchange
    /// in flight for its key. A cached token whose hash is the request's
    /// `stale_token_sha256` is dropped first, so the answer is a new one.
    pub async fn token(&self, request: TokenRequestFor<'_>) -> Result<IssuedToken, ExchangeError> {
        let key = CacheKey {
            provider: request.provider.id.clone(),
            subject: request.subject.to_owned(),
        };
        let refresh = self.inner.read_settings().refresh;
        let flight = {
            let now = self.inner.clock.now();
            let mut entries = self.inner.lock();
            if !entries.contains_key(&key) && entries.len() >= SWEEP_THRESHOLD {
                sweep(&mut entries, now);
            }
            let entry = entries.entry(key.clone()).or_default();
            if entry.client_workload != request.client_workload {
                entry.client_workload = request.client_workload.to_owned();
            }
            if let Some(stale) = request.stale_token_sha256 {
                let about = (key.provider.as_str(), request.client_workload);
                self.inner.stale_report(entry, stale, &refresh, now, about);
            }
            let cached = entry.token.as_ref().map(|t| {
                let left = t.expires_at.duration_since(now).unwrap_or(Duration::ZERO);
                (left, t.lifetime)
            });
            let decision = refresh.decide(cached);
            if let Some(token) = entry.token.clone()
                && decision != RefreshDecision::Wait
            {
                self.inner.metrics.cache_hit();
                let may_retry = entry.retry_not_before.is_none_or(|at| now >= at);
                if decision == RefreshDecision::UseCachedAndRefresh
                    && entry.flight.is_none()
                    && may_retry
                {
                    tracing::info!(provider = %key.provider, client_workload = request.client_workload, "starting background refresh");
                    entry.flight = Some(self.inner.start(key, &request));
                }
                return Ok(token);
            }
            match &entry.flight {
                Some((_, flight)) => flight.clone(),
                None => {
                    let started = self.inner.start(key, &request);
                    let flight = started.1.clone();
                    entry.flight = Some(started);
                    flight
                }
            }
        };
        flight.await
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<CacheKey, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn write_settings(&self) -> std::sync::RwLockWriteGuard<'_, Settings> {
        self.settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A caller will not use the token whose hash is `stale` again. If it is
    /// the cached one, drop it (the answer is then a new token), unless it
    /// is not due for refresh and a stale report already forced an
    /// exchange for this key within `refresh.forced_interval`: then the
    /// cached token is answered and the report counted as suppressed.
    fn stale_report(
        &self,
        entry: &mut Entry,
        stale: &str,
        refresh: &RefreshPolicy,
        now: SystemTime,
        (provider, client_workload): (&str, &str),
    ) {
        let Some(token) = &entry.token else {
            return;
        };
        if token_sha256(&token.access_token) != stale {
            return;
        }
        let left = token
            .expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        let due = refresh.decide(Some((left, token.lifetime))) != RefreshDecision::UseCached;
        if !due && !refresh.allows_forced(entry.last_forced, now) {
            self.metrics.forced_refresh_suppressed();
            tracing::debug!(provider, client_workload, token = %token.access_token, "stale report within token_cache.stale_refresh_interval of the last forced exchange; answering the cached token");
            return;
        }
        if !due {
            entry.last_forced = Some(now);
        }
        tracing::info!(provider, client_workload, token = %token.access_token, "caller reported the cached token stale; exchanging for a new one");
        entry.token = None;
    }

    /// Spawns one exchange for `key`. Called with the entry lock held, so the
    /// task's `finish` cannot run before the flight is recorded.
    fn start(self: &Arc<Self>, key: CacheKey, request: &TokenRequestFor<'_>) -> (u64, Flight) {
        let id = self.next_flight.fetch_add(1, Ordering::Relaxed);
        let inner = Arc::clone(self);
        let provider = Arc::clone(request.provider);
        let client_workload = request.client_workload.to_owned();
        let task = tokio::spawn(async move {
            let result = inner
                .exchange(&provider, &client_workload, &key.subject)
                .await;
            inner.finish(&key, id, &result);
            result
        });
        let flight = task
            .map(|joined| {
                joined.unwrap_or_else(|err| {
                    Err(ExchangeError::Unavailable(format!(
                        "exchange task failed: {err}"
                    )))
                })
            })
            .boxed()
            .shared();
        (id, flight)
    }

    fn finish(&self, key: &CacheKey, id: u64, result: &Result<IssuedToken, ExchangeError>) {
        let now = self.clock.now();
        let retry_after = self.read_settings().refresh.retry_after;
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key) else {
            return;
        };
        let current = entry
            .flight
            .as_ref()
            .is_some_and(|(flight, _)| *flight == id);
        if !current {
            // The entry was dropped and made anew meanwhile (reload).
            return;
        }
        entry.flight = None;
        entry.last_exchange = Some(LastExchange {
            at: now,
            error: result.as_ref().err().map(ToString::to_string),
        });
        match result {
            Ok(token) => {
                entry.token = Some(token.clone());
                entry.retry_not_before = None;
            }
            Err(_) => entry.retry_not_before = Some(now + retry_after),
        }
    }
}

/// Drops entries whose token has expired and that have no exchange running.
fn sweep(entries: &mut HashMap<CacheKey, Entry>, now: SystemTime) {
    entries.retain(|_, entry| {
        entry.flight.is_some() || entry.token.as_ref().is_some_and(|t| t.expires_at > now)
    });
}

#[cfg(test)]
mod tests;
