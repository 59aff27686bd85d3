//! The token service: a cache of access tokens per (credential provider,
//! client workload identity), filled by single-flight exchanges.
//!
//! An exchange runs in its own task, so a caller that goes away does not
//! cancel it; everyone waiting for the same key shares its result.

mod refresh;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use claude_wif_api::AccessToken;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

pub use refresh::{RefreshDecision, RefreshPolicy};

use crate::clock::Clock;
use crate::config::{ClaudeConfig, ProviderConfig};
use crate::exchange::{ExchangeError, Transport, build_exchange_request, exchange};
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::signing::{AssertionClaims, sign};

/// Above this many cache entries, expired idle ones are dropped.
const SWEEP_THRESHOLD: usize = 10_000;

/// A token and when it stops being valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    pub expires_at: SystemTime,
}

impl IssuedToken {
    /// Whole seconds left at `now` (0 once expired).
    pub fn expires_in(&self, now: SystemTime) -> u64 {
        self.expires_at
            .duration_since(now)
            .map_or(0, |left| left.as_secs())
    }
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
}

/// What one request asks for.
#[derive(Debug, Clone)]
pub struct TokenRequestFor<'a> {
    pub provider: &'a Arc<ProviderConfig>,
    /// Id of the matched client workload, for logs.
    pub client_workload: &'a str,
    /// The client workload identity, the assertion's `sub`.
    pub subject: &'a str,
}

#[derive(Clone)]
pub struct TokenService {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Arc<dyn Clock>,
    keys: Arc<KeyRing>,
    transport: Arc<dyn Transport>,
    claude: ClaudeConfig,
    metrics: Arc<Metrics>,
    policy: RefreshPolicy,
    entries: Mutex<HashMap<CacheKey, Entry>>,
    next_flight: std::sync::atomic::AtomicU64,
}

impl TokenService {
    pub fn new(
        clock: Arc<dyn Clock>,
        keys: Arc<KeyRing>,
        transport: Arc<dyn Transport>,
        claude: ClaudeConfig,
        metrics: Arc<Metrics>,
        policy: RefreshPolicy,
    ) -> TokenService {
        TokenService {
            inner: Arc::new(Inner {
                clock,
                keys,
                transport,
                claude,
                metrics,
                policy,
                entries: Mutex::new(HashMap::new()),
                next_flight: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// A valid token for the request: cached, or from the single exchange
    /// in flight for its key.
    pub async fn token(&self, request: TokenRequestFor<'_>) -> Result<IssuedToken, ExchangeError> {
        let key = CacheKey {
            provider: request.provider.id.clone(),
            subject: request.subject.to_owned(),
        };
        let flight = {
            let now = self.inner.clock.now();
            let mut entries = self.inner.lock();
            if !entries.contains_key(&key) && entries.len() >= SWEEP_THRESHOLD {
                sweep(&mut entries, now);
            }
            let entry = entries.entry(key.clone()).or_default();
            let remaining = entry
                .token
                .as_ref()
                .map(|t| t.expires_at.duration_since(now).unwrap_or(Duration::ZERO));
            let decision = self.inner.policy.decide(remaining);
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

    /// Spawns one exchange for `key`. Called with the entry lock held, so the
    /// task's `finish` cannot run before the flight is recorded.
    fn start(self: &Arc<Self>, key: CacheKey, request: &TokenRequestFor<'_>) -> (u64, Flight) {
        let id = self
            .next_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let inner = Arc::clone(self);
        let provider = Arc::clone(request.provider);
        let client_workload = request.client_workload.to_owned();
        let task = tokio::spawn(async move {
            let result = inner
                .exchange_once(&provider, &client_workload, &key.subject)
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
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key) else {
            return;
        };
        if entry
            .flight
            .as_ref()
            .is_some_and(|(current, _)| *current == id)
        {
            entry.flight = None;
        }
        match result {
            Ok(token) => {
                entry.token = Some(token.clone());
                entry.retry_not_before = None;
            }
            Err(_) => entry.retry_not_before = Some(now + self.policy.retry_after),
        }
    }

    /// Signs a new assertion (fresh `jti`) and exchanges it once.
    async fn exchange_once(
        &self,
        provider: &ProviderConfig,
        client_workload: &str,
        subject: &str,
    ) -> Result<IssuedToken, ExchangeError> {
        let sent_at = self.clock.now();
        let keys = self.keys.current();
        let key = keys
            .active()
            .ok_or_else(|| ExchangeError::Unavailable("no active signing key".into()))?;
        let claims = AssertionClaims::new(provider, subject, self.clock.unix_seconds())
            .and_then(|claims| sign(key, &claims))
            .map_err(|err| ExchangeError::Unavailable(format!("cannot sign the assertion: {err}")));
        let signed = match claims {
            Ok(signed) => signed,
            Err(err) => {
                self.metrics.exchange(err.outcome());
                tracing::error!(provider = %provider.id, client_workload, error = %err, "token exchange not attempted");
                return Err(err);
            }
        };
        let (kid, jti) = (signed.kid.clone(), signed.jti.clone());
        let request = build_exchange_request(&self.claude, provider, signed.assertion);
        let result = exchange(self.transport.as_ref(), request).await;
        self.metrics.exchange(
            result
                .as_ref()
                .map_or_else(ExchangeError::outcome, |_| "ok"),
        );
        match result {
            Ok(token) => {
                tracing::info!(provider = %provider.id, client_workload, kid, jti, expires_in = token.expires_in, token = %token.access_token, "exchanged an assertion for an access token");
                Ok(IssuedToken {
                    expires_at: sent_at + Duration::from_secs(token.expires_in),
                    access_token: token.access_token,
                })
            }
            Err(err) => {
                tracing::warn!(provider = %provider.id, client_workload, kid, jti, outcome = err.outcome(), error = %err, "token exchange failed");
                Err(err)
            }
        }
    }
}

/// Drops entries whose token has expired and that have no exchange running.
fn sweep(entries: &mut HashMap<CacheKey, Entry>, now: SystemTime) {
    entries.retain(|_, entry| {
        entry.flight.is_some() || entry.token.as_ref().is_some_and(|t| t.expires_at > now)
    });
}
