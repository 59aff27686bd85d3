#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Cache, single-flight and refresh policy, against a fake transport and a
//! manual clock.

use std::collections::VecDeque;
use std::sync::Mutex as StdMutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::Semaphore;

use super::*;
use crate::clock::ManualClock;
use crate::exchange::RetryPolicy;
use crate::exchange::{ExchangeRequest, RawResponse};
use crate::keys::{KeySet, KeyState, PublishedKey, SigningKey};
use crate::test_support::config;

const SUBJECT: &str = "spiffe://cluster.local/ns/demo/sa/app";

/// Answers each exchange with the next scripted status (200 when the script
/// is empty), optionally waiting for a permit first.
#[derive(Default)]
struct FakeTransport {
    requests: StdMutex<Vec<ExchangeRequest>>,
    script: StdMutex<VecDeque<u16>>,
    gate: Option<Arc<Semaphore>>,
    /// `expires_in` of minted tokens (3600 when 0).
    expires_in: StdMutex<u64>,
    /// `retry-after` seconds sent with 429 answers.
    retry_after: Option<u64>,
}

impl FakeTransport {
    fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn jtis(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                let payload = r
                    .body
                    .assertion
                    .expose()
                    .split('.')
                    .nth(1)
                    .unwrap()
                    .to_owned();
                let claims: serde_json::Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
                claims["jti"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

impl Transport for FakeTransport {
    fn post(
        &self,
        request: ExchangeRequest,
    ) -> BoxFuture<'static, Result<RawResponse, ExchangeError>> {
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request);
            requests.len()
        };
        let status = self.script.lock().unwrap().pop_front().unwrap_or(200);
        let gate = self.gate.clone();
        let expires_in = match *self.expires_in.lock().unwrap() {
            0 => 3600,
            n => n,
        };
        let retry_after = self.retry_after.map(Duration::from_secs);
        async move {
            if let Some(gate) = gate {
                gate.acquire().await.unwrap().forget();
            }
            let body = if status == 200 {
                format!(r#"{{"access_token":"sk-ant-oat01-token{n}","token_type":"Bearer","expires_in":{expires_in},"scope":"workspace:developer"}}"#)
            } else {
                r#"{"type":"error","error":{"type":"authentication_error","message":"Authentication failed"}}"#.to_owned()
            };
            Ok(RawResponse { status, request_id: None, retry_after, body: body.into_bytes() })
        }
        .boxed()
    }
}

struct Harness {
    clock: Arc<ManualClock>,
    transport: Arc<FakeTransport>,
    service: TokenService,
    metrics: Arc<Metrics>,
    provider: Arc<ProviderConfig>,
}

impl Harness {
    fn new(transport: FakeTransport) -> Harness {
        let config = config();
        let (key, _) = SigningKey::generate_es256().unwrap();
        let keys = KeySet::new(vec![PublishedKey {
            key: Arc::new(key),
            state: KeyState::Active,
        }])
        .unwrap();
        let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
        let transport = Arc::new(transport);
        let metrics = Arc::new(Metrics::default());
        let service = TokenService::new(
            clock.clone(),
            Arc::new(KeyRing::new(keys)),
            transport.clone(),
            config.claude.clone(),
            metrics.clone(),
            RefreshPolicy::default(),
        );
        service.set_retry_policy(RetryPolicy {
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(4),
            ..RetryPolicy::default()
        });
        Harness {
            clock,
            transport,
            service,
            metrics,
            provider: Arc::clone(&config.providers[0]),
        }
    }

    async fn token(&self) -> Result<IssuedToken, ExchangeError> {
        self.token_stale(None).await
    }

    async fn token_stale(&self, stale: Option<&str>) -> Result<IssuedToken, ExchangeError> {
        self.service
            .token(TokenRequestFor {
                provider: &self.provider,
                client_workload: "demo-app",
                subject: SUBJECT,
                stale_token_sha256: stale,
            })
            .await
    }

    /// Moves the clock so that `left` seconds of the first token remain.
    fn leave(&self, left: u64) {
        self.clock.set(UNIX_EPOCH_PLUS(1_700_000_000 + 3600 - left));
    }

    async fn wait_for_calls(&self, n: usize) {
        for _ in 0..1000 {
            if self.transport.calls() >= n && self.idle() {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("expected {n} exchanges, saw {}", self.transport.calls());
    }

    fn idle(&self) -> bool {
        self.service
            .inner
            .lock()
            .values()
            .all(|e| e.flight.is_none())
    }
}

#[allow(non_snake_case)]
fn UNIX_EPOCH_PLUS(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

#[tokio::test]
async fn first_call_exchanges_then_cache_answers() {
    let h = Harness::new(FakeTransport::default());
    let first = h.token().await.unwrap();
    assert_eq!(first.access_token.expose(), "sk-ant-oat01-token1");
    assert_eq!(first.expires_in(h.clock.now()), 3600);
    h.clock.advance(Duration::from_secs(100));
    let second = h.token().await.unwrap();
    assert_eq!(second, first);
    assert_eq!(second.expires_in(h.clock.now()), 3500);
    assert_eq!(h.transport.calls(), 1);
    assert!(
        h.metrics
            .render()
            .contains("issuer_svc_token_cache_hits_total 1\n")
    );
}

#[tokio::test]
async fn advisory_window_answers_cached_and_refreshes_once_in_background() {
    let h = Harness::new(FakeTransport::default());
    let first = h.token().await.unwrap();
    h.leave(100);
    assert_eq!(h.token().await.unwrap(), first, "served from cache");
    assert_eq!(
        h.token().await.unwrap(),
        first,
        "still cached while refreshing"
    );
    h.wait_for_calls(2).await;
    assert_eq!(h.transport.calls(), 2, "exactly one background refresh");
    let refreshed = h.token().await.unwrap();
    assert_eq!(refreshed.access_token.expose(), "sk-ant-oat01-token2");
}

#[tokio::test]
async fn failed_background_refresh_is_retried_no_sooner_than_5s() {
    let h = Harness::new(FakeTransport {
        script: StdMutex::new(VecDeque::from([200, 500, 500, 500])),
        ..Default::default()
    });
    let first = h.token().await.unwrap();
    h.leave(100);
    assert_eq!(h.token().await.unwrap(), first);
    h.wait_for_calls(4).await;
    assert_eq!(
        h.token().await.unwrap(),
        first,
        "failure keeps serving the cached token"
    );
    h.clock.advance(Duration::from_millis(4_999));
    assert_eq!(h.token().await.unwrap(), first);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(h.transport.calls(), 4, "no retry before 5 s");
    h.clock.advance(Duration::from_millis(1));
    h.token().await.unwrap();
    h.wait_for_calls(5).await;
    assert_eq!(
        h.token().await.unwrap().access_token.expose(),
        "sk-ant-oat01-token5"
    );
}

#[tokio::test]
async fn mandatory_window_waits_for_a_new_token() {
    let h = Harness::new(FakeTransport::default());
    h.token().await.unwrap();
    h.leave(30);
    let token = h.token().await.unwrap();
    assert_eq!(token.access_token.expose(), "sk-ant-oat01-token2");
    assert_eq!(h.transport.calls(), 2);
}

#[tokio::test]
async fn expired_token_is_never_served_and_failure_is_returned() {
    let h = Harness::new(FakeTransport {
        script: StdMutex::new(VecDeque::from([200, 401])),
        ..Default::default()
    });
    h.token().await.unwrap();
    h.leave(0);
    let err = h.token().await.unwrap_err();
    assert_eq!(err.outcome(), "refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_callers_share_one_exchange() {
    let gate = Arc::new(Semaphore::new(0));
    let h = Arc::new(Harness::new(FakeTransport {
        gate: Some(gate.clone()),
        ..Default::default()
    }));
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let h = Arc::clone(&h);
            tokio::spawn(async move { h.token().await })
        })
        .collect();
    while h.transport.calls() == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    gate.add_permits(100);
    for caller in callers {
        assert_eq!(
            caller.await.unwrap().unwrap().access_token.expose(),
            "sk-ant-oat01-token1"
        );
    }
    assert_eq!(h.transport.calls(), 1);
    assert_eq!(h.metrics.exchanges_total(), 1);
}

#[tokio::test]
async fn cancelled_caller_does_not_cancel_the_exchange() {
    let gate = Arc::new(Semaphore::new(0));
    let h = Arc::new(Harness::new(FakeTransport {
        gate: Some(gate.clone()),
        ..Default::default()
    }));
    let caller = {
        let h = Arc::clone(&h);
        tokio::spawn(async move { h.token().await })
    };
    while h.transport.calls() == 0 {
        tokio::task::yield_now().await;
    }
    caller.abort();
    gate.add_permits(1);
    h.wait_for_calls(1).await;
    let token = h.token().await.unwrap();
    assert_eq!(token.access_token.expose(), "sk-ant-oat01-token1");
    assert_eq!(
        h.transport.calls(),
        1,
        "the cache was filled by the orphaned exchange"
    );
}

#[tokio::test]
async fn every_attempt_signs_a_new_assertion() {
    let h = Harness::new(FakeTransport {
        script: StdMutex::new(VecDeque::from([500, 500, 200])),
        ..Default::default()
    });
    let token = h.token().await.unwrap();
    assert_eq!(
        token.access_token.expose(),
        "sk-ant-oat01-token3",
        "two retries"
    );
    let jtis = h.transport.jtis();
    assert_eq!(jtis.len(), 3);
    let unique: std::collections::HashSet<_> = jtis.iter().collect();
    assert_eq!(unique.len(), 3, "{jtis:?}");
}

#[tokio::test]
async fn identities_under_one_workload_get_their_own_tokens() {
    let h = Harness::new(FakeTransport::default());
    h.token().await.unwrap();
    let other = h
        .service
        .token(TokenRequestFor {
            provider: &h.provider,
            client_workload: "demo-ns",
            subject: "spiffe://cluster.local/ns/demo/sa/other",
            stale_token_sha256: None,
        })
        .await
        .unwrap();
    assert_eq!(other.access_token.expose(), "sk-ant-oat01-token2");
}

#[test]
fn sweep_drops_only_expired_idle_entries() {
    let now = UNIX_EPOCH_PLUS(1_000);
    let token = |at| IssuedToken {
        access_token: AccessToken::new("t"),
        expires_at: UNIX_EPOCH_PLUS(at),
        lifetime: Duration::from_secs(3600),
        scope: None,
    };
    let key = |s: &str| CacheKey {
        provider: "p".into(),
        subject: s.into(),
    };
    let mut entries = HashMap::new();
    entries.insert(
        key("expired"),
        Entry {
            token: Some(token(999)),
            ..Default::default()
        },
    );
    entries.insert(
        key("fresh"),
        Entry {
            token: Some(token(2_000)),
            ..Default::default()
        },
    );
    entries.insert(key("empty"), Entry::default());
    sweep(&mut entries, now);
    assert_eq!(entries.len(), 1);
    assert!(entries.contains_key(&key("fresh")));
}

/// The cache is swept of expired, idle entries when a *new* key arrives at
/// a full map, and only then: a full map of expired tokens must not grow
/// past the threshold (memory), and a request for a key already cached must
/// not pay for a sweep.
#[tokio::test]
async fn a_new_key_at_the_sweep_threshold_sweeps_expired_entries_and_a_known_key_does_not() {
    let h = Harness::new(FakeTransport::default());
    let expired = IssuedToken {
        access_token: AccessToken::new("t"),
        expires_at: UNIX_EPOCH_PLUS(1_000),
        lifetime: Duration::from_secs(3600),
        scope: None,
    };
    let fill = |service: &TokenService| {
        let mut entries = service.inner.lock();
        for i in entries.len()..SWEEP_THRESHOLD {
            let key = CacheKey {
                provider: h.provider.id.clone(),
                subject: format!("spiffe://cluster.local/ns/demo/sa/old-{i}"),
            };
            let entry = Entry {
                token: Some(expired.clone()),
                ..Default::default()
            };
            entries.insert(key, entry);
        }
    };
    // A key already in a full map: answered without a sweep.
    h.token().await.unwrap();
    fill(&h.service);
    assert_eq!(h.service.entries(), SWEEP_THRESHOLD);
    h.token().await.unwrap();
    assert_eq!(
        h.service.entries(),
        SWEEP_THRESHOLD,
        "a known key swept the cache"
    );
    // A new key at the threshold: every expired, idle entry goes.
    let other = h
        .service
        .token(TokenRequestFor {
            provider: &h.provider,
            client_workload: "demo-app",
            subject: "spiffe://cluster.local/ns/demo/sa/new",
            stale_token_sha256: None,
        })
        .await;
    other.unwrap();
    assert_eq!(h.service.entries(), 2, "the expired entries were not swept");
}

#[test]
fn the_sweep_drops_a_token_expiring_exactly_now_and_keeps_a_later_one() {
    let now = UNIX_EPOCH_PLUS(1_700_000_000);
    let entry = |expires_at| Entry {
        token: Some(IssuedToken {
            access_token: AccessToken::new("t"),
            expires_at,
            lifetime: Duration::from_secs(3600),
            scope: None,
        }),
        ..Default::default()
    };
    let key = |subject: &str| CacheKey {
        provider: "p".to_owned(),
        subject: subject.to_owned(),
    };
    let mut entries = HashMap::new();
    entries.insert(key("expires-now"), entry(now));
    entries.insert(key("expires-later"), entry(now + Duration::from_secs(1)));
    entries.insert(key("no-token"), Entry::default());
    sweep(&mut entries, now);
    let left: Vec<&str> = entries.keys().map(|k| k.subject.as_str()).collect();
    assert_eq!(left, ["expires-later"]);
}

mod more;
