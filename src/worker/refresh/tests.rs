//! The refresh decisions on their own, without a host (starting a refresh
//! and backing off, which write shared data and call issuer-svc, are driven
//! through the worker against the fake host in `worker/tests.rs`).

use super::*;

const POLICY: RefreshPolicy = RefreshPolicy {
    advisory_s: 30,
    mandatory_s: 10,
};

/// A 60 s token for `identity` with `remaining_ms` left at 100 000.
fn held(identity: &str, remaining_ms: u64, refresh_after_ms: u64) -> Held {
    Held {
        key: Rc::from(format!("key/{identity}")),
        entry: CacheEntry {
            token: AccessToken::new(format!("tok-{identity}")),
            expires_at_ms: 100_000 + remaining_ms,
            lifetime_s: 60,
            refresh_after_ms,
        },
        bearer: String::new(),
    }
}

fn due_at(copies: &[(&str, Held)], in_flight: &[&str]) -> Vec<String> {
    let held = copies.iter().map(|(identity, h)| (*identity, h));
    due(held, |key| in_flight.contains(&key), 100_000, POLICY)
        .into_iter()
        .map(|d| d.identity)
        .collect()
}

#[test]
fn a_copy_is_due_from_its_advisory_window_on() {
    let copies = [
        ("fresh", held("fresh", 30_001, 0)),
        ("advised", held("advised", 30_000, 0)),
        ("stale", held("stale", 10_000, 0)),
        ("expired", held("expired", 0, 0)),
    ];
    assert_eq!(due_at(&copies, &[]), ["advised", "stale", "expired"]);
}

#[test]
fn a_copy_under_lease_or_back_off_is_not_due_until_it_ends() {
    let copies = [
        ("leased", held("leased", 20_000, 100_001)),
        ("ended", held("ended", 20_000, 100_000)),
    ];
    assert_eq!(due_at(&copies, &[]), ["ended"]);
}

#[test]
fn a_copy_whose_key_has_a_call_in_flight_is_not_due() {
    let copies = [("a", held("a", 20_000, 0)), ("b", held("b", 20_000, 0))];
    assert_eq!(due_at(&copies, &["key/a"]), ["b"]);
}

#[test]
fn a_due_copy_carries_its_key_and_entry() {
    let h = held("a", 20_000, 0);
    let due = due([("a", &h)].into_iter(), |_| false, 100_000, POLICY);
    assert_eq!(
        due,
        [Due {
            key: h.key.clone(),
            identity: "a".into(),
            entry: h.entry.clone(),
        }]
    );
}

#[test]
fn at_most_max_start_and_one_that_does_not_start_takes_no_place() {
    let mut tried = Vec::new();
    let started = start_up_to((0..10).collect(), 3, |n| {
        tried.push(n);
        n % 2 == 0
    });
    assert_eq!(started, 3);
    assert_eq!(tried, [0, 1, 2, 3, 4], "stops once 3 started");
    assert_eq!(start_up_to(vec![1, 3], 3, |n| n % 2 == 0), 0);
    assert_eq!(start_up_to(vec![0, 2], 0, |_| true), 0);
}

#[test]
fn the_lease_outlasts_the_call_by_a_second() {
    assert_eq!(lease_until(Duration::from_millis(5_000), 100_000), 106_000);
    assert_eq!(lease_until(Duration::MAX, 100_000), u64::MAX);
}

#[test]
fn only_a_longer_lived_token_replaces_the_one_refreshed() {
    let replaced = held("a", 20_000, 0).entry;
    let mut issued = replaced.clone();
    assert!(!is_newer(&issued, &replaced), "as long");
    issued.expires_at_ms -= 1;
    assert!(!is_newer(&issued, &replaced));
    issued.expires_at_ms += 2;
    assert!(is_newer(&issued, &replaced));
}
