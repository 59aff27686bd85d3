//! Retries, short-lived tokens, stale-token reports and reload hooks.

use super::*;

#[tokio::test]
async fn refusals_other_than_429_are_not_retried() {
    let h = Harness::new(FakeTransport {
        script: StdMutex::new(VecDeque::from([401, 200])),
        ..Default::default()
    });
    let err = h.token().await.unwrap_err();
    assert!(
        matches!(&err, ExchangeError::Refused(r) if r.status == 401),
        "{err}"
    );
    assert_eq!(h.transport.calls(), 1);
}

#[tokio::test]
async fn rate_limit_is_retried_then_succeeds() {
    let h = Harness::new(FakeTransport {
        script: StdMutex::new(VecDeque::from([429, 200])),
        retry_after: Some(0),
        ..Default::default()
    });
    assert_eq!(
        h.token().await.unwrap().access_token.expose(),
        "sk-ant-oat01-token2"
    );
    let metrics = h.metrics.render();
    assert!(
        metrics.contains("issuer_svc_exchanges_total{result=\"refused\",status=\"429\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("issuer_svc_exchanges_total{result=\"ok\",status=\"200\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn rate_limit_after_every_attempt_is_unavailable() {
    let h = Harness::new(FakeTransport {
        script: StdMutex::new(VecDeque::from([429, 429, 429, 200])),
        retry_after: Some(0),
        ..Default::default()
    });
    let err = h.token().await.unwrap_err();
    let ExchangeError::Unavailable(detail) = &err else {
        panic!("{err}")
    };
    assert!(
        detail.contains("HTTP 429") && detail.contains("after 3 attempt(s)"),
        "{detail}"
    );
    assert_eq!(h.transport.calls(), 3, "bounded");
    assert_eq!(
        h.transport
            .jtis()
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        3
    );
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_not_waited_for() {
    let h = Harness::new(FakeTransport {
        script: StdMutex::new(VecDeque::from([429, 200])),
        retry_after: Some(3600),
        ..Default::default()
    });
    assert_eq!(h.token().await.unwrap_err().outcome(), "unavailable");
    assert_eq!(h.transport.calls(), 1);
}

#[tokio::test]
async fn the_whole_exchange_stays_within_the_timeout_budget() {
    let gate = Arc::new(Semaphore::new(0));
    let h = Harness::new(FakeTransport {
        gate: Some(gate),
        ..Default::default()
    });
    let mut claude = config().claude.clone();
    claude.timeout = Duration::from_millis(50);
    h.service.reconfigure(claude, RefreshPolicy::default());
    let started = tokio::time::Instant::now();
    let err = h.token().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("no answer within"), "{err}");
    assert_eq!(h.transport.calls(), 1, "no time left for another attempt");
}

#[tokio::test]
async fn a_60s_token_is_not_refreshed_on_every_request() {
    let h = Harness::new(FakeTransport::default());
    *h.transport.expires_in.lock().unwrap() = 60;
    let first = h.token().await.unwrap();
    assert_eq!(first.lifetime, Duration::from_secs(60));
    for _ in 0..29 {
        h.clock.advance(Duration::from_secs(1));
        assert_eq!(h.token().await.unwrap(), first);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        h.transport.calls(),
        1,
        "31 s left: above the clamped 30 s advisory"
    );
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(
        h.token().await.unwrap(),
        first,
        "30 s left: cached, refresh in background"
    );
    h.wait_for_calls(2).await;
    assert_eq!(
        h.token().await.unwrap().access_token.expose(),
        "sk-ant-oat01-token2"
    );
    h.clock.advance(Duration::from_secs(45));
    assert_eq!(
        h.token().await.unwrap().access_token.expose(),
        "sk-ant-oat01-token3",
        "15 s left of a 60 s token: callers wait"
    );
}

#[tokio::test]
async fn stale_hash_of_the_cached_token_gets_a_new_one() {
    let h = Harness::new(FakeTransport::default());
    let first = h.token().await.unwrap();
    let stale = token_sha256(&first.access_token);
    let second = h.token_stale(Some(&stale)).await.unwrap();
    assert_eq!(second.access_token.expose(), "sk-ant-oat01-token2");
    let again = h.token_stale(Some(&stale)).await.unwrap();
    assert_eq!(
        again, second,
        "an old hash gets the current token, no exchange"
    );
    let unknown = "0".repeat(64);
    assert_eq!(h.token_stale(Some(&unknown)).await.unwrap(), second);
    assert_eq!(h.transport.calls(), 2);
}

fn suppressed(h: &Harness) -> u64 {
    let text = h.metrics.render();
    let line = text
        .lines()
        .find(|l| l.starts_with("issuer_svc_forced_refreshes_suppressed_total "))
        .unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn stale_reports_force_at_most_one_exchange_per_interval() {
    // A path that answers 401 to every token: the caller reports each
    // token it gets as stale at once.
    let h = Harness::new(FakeTransport::default());
    let mut token = h.token().await.unwrap();
    for _ in 0..10 {
        token = h
            .token_stale(Some(&token_sha256(&token.access_token)))
            .await
            .unwrap();
    }
    assert_eq!(token.access_token.expose(), "sk-ant-oat01-token2");
    assert_eq!(
        h.transport.calls(),
        2,
        "the first report forces, the rest wait"
    );
    assert_eq!(suppressed(&h), 9);
    h.clock.advance(Duration::from_secs(29));
    let stale = token_sha256(&token.access_token);
    assert_eq!(h.token_stale(Some(&stale)).await.unwrap(), token);
    h.clock.advance(Duration::from_secs(1));
    let next = h.token_stale(Some(&stale)).await.unwrap();
    assert_eq!(next.access_token.expose(), "sk-ant-oat01-token3");
    assert_eq!((h.transport.calls(), suppressed(&h)), (3, 10));
}

#[tokio::test]
async fn a_refresh_ahead_report_does_not_use_up_the_forced_exchange() {
    let h = Harness::new(FakeTransport::default());
    let first = h.token().await.unwrap();
    h.leave(100); // inside the advisory window: due for refresh anyway
    let second = h
        .token_stale(Some(&token_sha256(&first.access_token)))
        .await
        .unwrap();
    assert_eq!(second.access_token.expose(), "sk-ant-oat01-token2");
    // Revoked right after: the first 401 report still gets a new token.
    let third = h
        .token_stale(Some(&token_sha256(&second.access_token)))
        .await
        .unwrap();
    assert_eq!(third.access_token.expose(), "sk-ant-oat01-token3");
    assert_eq!((h.transport.calls(), suppressed(&h)), (3, 0));
}

#[tokio::test]
async fn a_zero_interval_turns_the_limit_off() {
    let h = Harness::new(FakeTransport::default());
    h.service.reconfigure(
        config().claude.clone(),
        RefreshPolicy::from(crate::config::TokenCacheConfig {
            stale_refresh_interval: Duration::ZERO,
            ..crate::config::TokenCacheConfig::default()
        }),
    );
    let mut token = h.token().await.unwrap();
    for _ in 0..3 {
        token = h
            .token_stale(Some(&token_sha256(&token.access_token)))
            .await
            .unwrap();
    }
    assert_eq!((h.transport.calls(), suppressed(&h)), (4, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_stale_reports_share_one_exchange() {
    let gate = Arc::new(Semaphore::new(1));
    let h = Arc::new(Harness::new(FakeTransport {
        gate: Some(gate.clone()),
        ..Default::default()
    }));
    let first = h.token().await.unwrap();
    let stale = token_sha256(&first.access_token);
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let (h, stale) = (Arc::clone(&h), stale.clone());
            tokio::spawn(async move { h.token_stale(Some(&stale)).await })
        })
        .collect();
    while h.transport.calls() < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    gate.add_permits(10);
    for caller in callers {
        let token = caller.await.unwrap().unwrap();
        assert_eq!(token.access_token.expose(), "sk-ant-oat01-token2");
    }
    assert_eq!(h.transport.calls(), 2);
}

#[test]
fn token_hash_is_lowercase_hex_sha256() {
    let hash = token_sha256(&AccessToken::new("abc"));
    assert_eq!(
        hash,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(is_token_sha256(&hash));
    assert!(!is_token_sha256(&hash.to_uppercase()));
    assert!(!is_token_sha256(&hash[1..]));
    assert!(!is_token_sha256(&format!("{}g", &hash[1..])));
}

#[tokio::test]
async fn dropping_a_provider_forgets_its_tokens() {
    let h = Harness::new(FakeTransport::default());
    h.token().await.unwrap();
    assert_eq!(h.service.entries(), 1);
    assert_eq!(h.service.drop_provider("other"), 0);
    assert_eq!(h.service.drop_provider("claude-demo"), 1);
    assert_eq!(h.service.entries(), 0);
    assert_eq!(
        h.token().await.unwrap().access_token.expose(),
        "sk-ant-oat01-token2"
    );
}

#[tokio::test]
async fn reconfigured_refresh_thresholds_apply_to_the_next_request() {
    let h = Harness::new(FakeTransport::default());
    let first = h.token().await.unwrap();
    h.leave(500);
    assert_eq!(h.token().await.unwrap(), first);
    h.service.reconfigure(
        config().claude.clone(),
        RefreshPolicy::from(crate::config::TokenCacheConfig {
            advisory_refresh: Duration::from_secs(900),
            mandatory_refresh: Duration::from_secs(600),
            ..crate::config::TokenCacheConfig::default()
        }),
    );
    assert_eq!(
        h.token().await.unwrap().access_token.expose(),
        "sk-ant-oat01-token2"
    );
}
