use super::*;
use crate::tests::fake_host::FakeHost;

const POLICY: RefreshPolicy = RefreshPolicy {
    advisory_s: 120,
    mandatory_s: 30,
};
const COUNT: &str = "claude-wif/v2-count/s";

fn entry(expires_at_ms: u64) -> CacheEntry {
    CacheEntry {
        token: AccessToken::new("sk-ant-oat01-abc|def"),
        expires_at_ms,
        lifetime_s: 3600,
        refresh_after_ms: 0,
    }
}

fn token_slot(bytes: &[u8]) -> Option<CacheEntry> {
    match Slot::decode(bytes) {
        Some(Slot::Token(e)) => Some(e),
        _ => None,
    }
}

#[test]
fn key_joins_server_workload_and_identity() {
    assert_eq!(
        key("api.anthropic.com", "spiffe://c/ns/a/sa/b"),
        "claude-wif/v2/api.anthropic.com/spiffe://c/ns/a/sa/b"
    );
    assert_eq!(count_key("s"), COUNT);
}

#[test]
fn value_round_trips_even_with_a_pipe_in_the_token() {
    let mut e = entry(1_700_000_000_123);
    e.refresh_after_ms = 7;
    assert_eq!(e.encode(), b"2|1700000000123|3600|7|sk-ant-oat01-abc|def");
    assert_eq!(token_slot(&e.encode()), Some(e));
}

#[test]
fn invalidation_record_round_trips() {
    let hash = token_sha256(&AccessToken::new("sk-ant-oat01-x"));
    assert_eq!(hash.len(), 64);
    let slot = Slot::Invalidated {
        stale_sha256: hash.clone(),
    };
    assert_eq!(slot.encode(), format!("2|-|{hash}").into_bytes());
    assert_eq!(Slot::decode(&slot.encode()), Some(slot));
    // Known vector: sha256("abc").
    assert_eq!(
        token_sha256(&AccessToken::new("abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn unreadable_values_decode_to_none() {
    for bad in [
        &b""[..],
        b"2",
        b"2|123",
        b"2|123|60|0",
        b"2|123|60|0|",
        b"1|123|tok",
        b"3|123|60|0|tok",
        b"2|-5|60|0|tok",
        b"2|+5|60|0|tok",
        b"2|12x|60|0|tok",
        b"2|99999999999999999999999|60|0|tok",
        b"2|123|60|0|tok en",
        b"2|123|60|0|tok\n",
        b"2|-|abc",
        b"2|-|ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
        b"\xff|1|tok",
        b"{\"access_token\":\"x\"}",
    ] {
        assert_eq!(
            Slot::decode(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn freshness_boundaries() {
    let now = 1_000_000_000;
    let at = |remaining_ms: u64| entry(now + remaining_ms).freshness(now, POLICY);
    assert_eq!(at(120_001), Freshness::Fresh);
    assert_eq!(at(120_000), Freshness::RefreshAdvised);
    assert_eq!(at(30_001), Freshness::RefreshAdvised);
    assert_eq!(at(30_000), Freshness::Stale);
    assert_eq!(at(0), Freshness::Stale);
    assert_eq!(entry(now - 1).freshness(now, POLICY), Freshness::Stale);
}

#[test]
fn windows_are_clamped_for_short_lived_tokens() {
    let now = 1_000_000_000;
    let mut e = entry(now + 60_000);
    e.lifetime_s = 60;
    // advisory min(120, 30) = 30 s, mandatory min(30, 15) = 15 s
    assert_eq!(e.windows_ms(POLICY), (30_000, 15_000));
    let at = |remaining_ms: u64| {
        let mut e = e.clone();
        e.expires_at_ms = now + remaining_ms;
        e.freshness(now, POLICY)
    };
    assert_eq!(at(30_001), Freshness::Fresh);
    assert_eq!(at(30_000), Freshness::RefreshAdvised);
    assert_eq!(at(15_001), Freshness::RefreshAdvised);
    assert_eq!(at(15_000), Freshness::Stale);
    let tiny = CacheEntry {
        lifetime_s: 1,
        ..entry(now + 1_000)
    };
    assert_eq!(tiny.windows_ms(POLICY), (500, 250));
}

#[test]
fn token_validity() {
    assert!(is_valid_token("sk-ant-oat01-AbC_123"));
    assert!(!is_valid_token(""));
    assert!(!is_valid_token("a b"));
    assert!(!is_valid_token("ab\n"));
    assert!(!is_valid_token("ab\u{7f}"));
    assert!(!is_valid_token("é"));
}

#[test]
fn store_writes_then_keeps_the_longer_lived_entry() {
    let mut host = FakeHost::new();
    ensure_counter(&mut host, COUNT);
    assert_eq!(
        store(&mut host, "k", COUNT, 10, &entry(2_000)),
        StoreOutcome::Stored
    );
    assert_eq!(
        store(&mut host, "k", COUNT, 10, &entry(1_000)),
        StoreOutcome::KeptNewer
    );
    assert_eq!(lookup_token(&host, "k"), Some(entry(2_000)));
    assert_eq!(
        store(&mut host, "k", COUNT, 10, &entry(3_000)),
        StoreOutcome::Stored
    );
    assert_eq!(lookup_token(&host, "k"), Some(entry(3_000)));
    assert_eq!(host.shared_value(COUNT).as_deref(), Some("1"));
}

#[test]
fn store_overwrites_garbage_and_reports_a_lost_race() {
    let mut host = FakeHost::new().with_shared_data("k", b"garbage");
    assert_eq!(lookup(&host, "k"), None);
    assert_eq!(
        store(&mut host, "k", COUNT, 10, &entry(2_000)),
        StoreOutcome::Stored
    );
    host.lose_cas_races();
    assert_eq!(
        store(&mut host, "k", COUNT, 10, &entry(3_000)),
        StoreOutcome::LostRace
    );
    assert_eq!(lookup_token(&host, "k"), Some(entry(2_000)));
}

#[test]
fn the_cache_holds_at_most_max_identities() {
    let mut host = FakeHost::new();
    ensure_counter(&mut host, COUNT);
    assert_eq!(
        store(&mut host, "a", COUNT, 2, &entry(2_000)),
        StoreOutcome::Stored
    );
    assert_eq!(
        store(&mut host, "b", COUNT, 2, &entry(2_000)),
        StoreOutcome::Stored
    );
    assert_eq!(
        store(&mut host, "c", COUNT, 2, &entry(2_000)),
        StoreOutcome::Full
    );
    assert_eq!(lookup(&host, "c"), None);
    // Known identities are still refreshed.
    assert_eq!(
        store(&mut host, "a", COUNT, 2, &entry(3_000)),
        StoreOutcome::Stored
    );
    // ensure_counter never resets an existing counter.
    ensure_counter(&mut host, COUNT);
    assert_eq!(host.shared_value(COUNT).as_deref(), Some("2"));
}

#[test]
fn refresh_lease_and_invalidation_only_touch_the_same_token() {
    let mut host = FakeHost::new();
    store(&mut host, "k", COUNT, 10, &entry(2_000));
    let other = AccessToken::new("sk-ant-oat01-other");
    assert!(!set_refresh_after(&mut host, "k", &other, 99));
    assert!(set_refresh_after(&mut host, "k", &entry(0).token, 99));
    assert_eq!(lookup_token(&host, "k").unwrap().refresh_after_ms, 99);
    assert!(!invalidate(&mut host, "k", &other));
    assert!(invalidate(&mut host, "k", &entry(0).token));
    assert_eq!(
        lookup(&host, "k"),
        Some(Slot::Invalidated {
            stale_sha256: token_sha256(&entry(0).token)
        })
    );
    assert!(
        !invalidate(&mut host, "k", &entry(0).token),
        "already invalidated"
    );
    assert!(!set_refresh_after(&mut host, "absent", &other, 1));
}
