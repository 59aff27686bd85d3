//! [`Flights`] on its own, without a host: each operation, then long
//! pseudo-random sequences of them checked against a simple model.

use std::collections::HashMap;

use claude_wif_api::AccessToken;

use super::*;

const A: &str = "claude-wif/v2/api.anthropic.com/spiffe://a";
const B: &str = "claude-wif/v2/api.anthropic.com/spiffe://b";

fn plain(identity: &str) -> Flight {
    Flight::new(identity, None)
}

/// A flight for A started by request 10 (call 1), joined by 11 and 12.
fn three_waiting() -> Flights {
    let mut f = Flights::default();
    f.start(A, 1, Owner::Request(10), plain("a"));
    assert_eq!(f.join(A, 11), Some(2));
    assert_eq!(f.join(A, 12), Some(3));
    f.check_invariants();
    f
}

#[test]
fn a_request_started_flight_has_its_owner_waiting() {
    let mut f = Flights::default();
    f.start(
        A,
        7,
        Owner::Request(10),
        Flight::new("a", Some("ab".into())),
    );
    f.check_invariants();
    let flight = f.get(A).unwrap();
    assert_eq!(flight.call(), Some(7));
    assert_eq!(flight.waiters(), [10]);
    assert_eq!(flight.identity(), "a");
    assert_eq!(flight.stale_sha256(), Some("ab"));
    assert_eq!(flight.refreshing(), None);
    assert_eq!((f.calls(), f.paused()), (1, 1));
    assert_eq!(f.waits_on(10), Some(A));
}

#[test]
fn a_root_started_refresh_has_no_waiter_and_keeps_the_entry_it_replaces() {
    let mut f = Flights::default();
    let entry = CacheEntry {
        token: AccessToken::new("sk-ant-oat01-held"),
        expires_at_ms: 5,
        lifetime_s: 60,
        refresh_after_ms: 0,
    };
    f.start(
        A,
        3,
        Owner::Root,
        Flight::refresh("a", "ab".into(), entry.clone()),
    );
    f.check_invariants();
    assert_eq!((f.calls(), f.paused()), (1, 0));
    let (key, flight) = f.finish(3).unwrap();
    assert_eq!(key, A);
    assert_eq!(flight.refreshing(), Some(&entry));
    assert_eq!(flight.stale_sha256(), Some("ab"));
    assert!(flight.into_waiters().is_empty());
    assert!(!f.contains(A));
    f.check_invariants();
}

#[test]
fn finishing_a_flight_releases_every_waiter_in_order() {
    let mut f = three_waiting();
    assert!(f.finish(2).is_none(), "not a call in flight");
    let (key, flight) = f.finish(1).unwrap();
    assert_eq!(key, A);
    assert_eq!(flight.into_waiters(), [10, 11, 12]);
    assert_eq!((f.calls(), f.paused()), (0, 0));
    assert!(f.finish(1).is_none(), "answered once");
    f.check_invariants();
}

#[test]
fn joining_needs_a_flight_and_counts_a_request_once() {
    let mut f = three_waiting();
    assert_eq!(f.join(B, 13), None);
    assert_eq!(f.waits_on(13), None);
    assert_eq!(f.join(A, 11), Some(3), "already waiting");
    f.check_invariants();
}

#[test]
fn a_request_waits_on_one_flight_at_most() {
    let mut f = three_waiting();
    f.start(B, 2, Owner::Root, plain("b"));
    assert_eq!(f.join(B, 11), Some(1));
    f.check_invariants();
    assert_eq!(f.waits_on(11), Some(B));
    assert_eq!(f.get(A).unwrap().waiters(), [10, 12]);
    // Moving the owner away orphans its call.
    assert_eq!(f.join(B, 10), Some(2));
    f.check_invariants();
    assert_eq!(f.get(A).unwrap().call(), None);
    assert_eq!(f.orphans(), [A]);
}

#[test]
fn a_waiter_leaving_keeps_the_call() {
    let mut f = three_waiting();
    assert!(f.leave(11));
    assert!(!f.leave(11), "left once");
    assert!(!f.leave(99), "never waited");
    f.check_invariants();
    assert_eq!(f.get(A).unwrap().call(), Some(1));
    assert_eq!(f.get(A).unwrap().waiters(), [10, 12]);
    assert!(f.orphans().is_empty());
}

#[test]
fn the_owner_leaving_orphans_the_flight_and_its_answer_is_ignored() {
    let mut f = three_waiting();
    assert!(f.leave(10));
    f.check_invariants();
    assert_eq!(f.calls(), 0, "Envoy cancels the owner's call");
    assert_eq!(f.orphans(), [A]);
    assert!(f.finish(1).is_none());
    assert!(f.redial(A, 2, Owner::Request(11)));
    f.check_invariants();
    assert!(f.orphans().is_empty());
    let (_, flight) = f.finish(2).unwrap();
    assert_eq!(flight.into_waiters(), [11, 12]);
}

#[test]
fn an_orphan_redialled_from_the_root_survives_its_waiters() {
    let mut f = three_waiting();
    f.leave(10);
    assert!(f.redial(A, 2, Owner::Root));
    f.leave(11);
    f.leave(12);
    f.check_invariants();
    assert!(f.get(A).unwrap().waiters().is_empty());
    assert_eq!(f.calls(), 1, "the root's call is not cancelled");
    assert!(f.finish(2).is_some());
}

#[test]
fn an_orphan_whose_waiters_all_leave_is_dropped() {
    let mut f = three_waiting();
    for ctx in [10, 11, 12] {
        f.leave(ctx);
        f.check_invariants();
    }
    assert!(!f.contains(A));
    assert!(f.orphans().is_empty());
}

#[test]
fn redialling_needs_a_flight_and_forgets_the_previous_call() {
    let mut f = three_waiting();
    assert!(!f.redial(B, 5, Owner::Root));
    assert_eq!(f.calls(), 1);
    assert!(f.redial(A, 5, Owner::Root));
    f.check_invariants();
    assert!(
        f.finish(1).is_none(),
        "the previous call is no longer awaited"
    );
    assert_eq!(f.finish(5).unwrap().1.into_waiters(), [10, 11, 12]);
}

#[test]
fn starting_over_a_flight_keeps_its_waiters() {
    let mut f = three_waiting();
    f.start(A, 4, Owner::Root, plain("other"));
    f.check_invariants();
    let flight = f.get(A).unwrap();
    assert_eq!(flight.identity(), "a");
    assert_eq!(flight.waiters(), [10, 11, 12]);
    assert_eq!(flight.call(), Some(4));
}

#[test]
fn a_call_token_given_twice_names_the_newer_flight() {
    let mut f = three_waiting();
    f.start(B, 1, Owner::Root, plain("b"));
    f.check_invariants();
    assert_eq!(f.get(A).unwrap().call(), None);
    assert_eq!(f.finish(1).unwrap().0, B);
}

#[test]
fn abandoning_releases_the_waiters_and_forgets_the_call() {
    let mut f = three_waiting();
    f.start(B, 2, Owner::Request(20), plain("b"));
    let flight = f.abandon(A).unwrap();
    assert_eq!(flight.into_waiters(), [10, 11, 12]);
    f.check_invariants();
    assert!(f.finish(1).is_none());
    assert!(f.abandon(A).is_none());
    assert_eq!((f.calls(), f.paused()), (1, 1));
}

#[test]
fn orphans_lists_every_flight_without_a_call() {
    let mut f = three_waiting();
    f.start(B, 2, Owner::Request(20), plain("b"));
    f.join(B, 21);
    assert!(f.orphans().is_empty());
    f.leave(10);
    f.leave(20);
    let mut orphans = f.orphans();
    orphans.sort();
    assert_eq!(orphans, [A, B]);
    f.check_invariants();
}

/// A tiny deterministic pseudo-random generator (Knuth's MMIX LCG).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        u32::try_from((self.0 >> 33) % u64::from(n)).unwrap()
    }
}

const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];

/// What the flights should say, kept the simple way: for each request the
/// key it waits on, for each key whether it has a call and who owns it.
#[derive(Default)]
struct Model {
    waiting: HashMap<u32, &'static str>,
    calls: HashMap<&'static str, (u32, Owner)>,
    flights: Vec<&'static str>,
}

impl Model {
    fn exists(&self, key: &str) -> bool {
        self.flights.contains(&key)
    }

    fn drop_if_dead(&mut self, key: &str) {
        let waited = self.waiting.values().any(|k| *k == key);
        if !waited && !self.calls.contains_key(key) {
            self.flights.retain(|k| *k != key);
        }
    }

    fn leave(&mut self, ctx: u32) {
        let Some(key) = self.waiting.remove(&ctx) else {
            return;
        };
        if self
            .calls
            .get(key)
            .is_some_and(|(_, o)| *o == Owner::Request(ctx))
        {
            self.calls.remove(key);
        }
        self.drop_if_dead(key);
    }

    fn release(&mut self, key: &str) -> Vec<u32> {
        let mut waiters: Vec<u32> = self
            .waiting
            .iter()
            .filter(|(_, k)| **k == key)
            .map(|(c, _)| *c)
            .collect();
        waiters.sort_unstable();
        self.waiting.retain(|_, k| *k != key);
        self.calls.remove(key);
        self.flights.retain(|k| *k != key);
        waiters
    }

    fn check(&self, f: &Flights) {
        f.check_invariants();
        assert_eq!(f.paused(), self.waiting.len());
        assert_eq!(f.calls(), self.calls.len());
        for key in KEYS {
            assert_eq!(f.contains(key), self.exists(key), "{key}");
            let call = self.calls.get(key).map(|(call, _)| *call);
            assert_eq!(f.get(key).and_then(Flight::call), call, "{key}");
        }
        for (ctx, key) in &self.waiting {
            assert_eq!(f.waits_on(*ctx), Some(*key));
        }
    }
}

/// One random operation on both the flights and the model.
fn step(rng: &mut Lcg, f: &mut Flights, m: &mut Model, next_call: &mut u32) {
    let key = KEYS[rng.below(4) as usize];
    let ctx = rng.below(12);
    let owner = if rng.below(3) == 0 {
        Owner::Root
    } else {
        Owner::Request(ctx)
    };
    match rng.below(7) {
        0 => {
            *next_call += 1;
            f.start(key, *next_call, owner, plain(key));
            if !m.exists(key) {
                m.flights.push(key);
            }
            redial_model(m, key, *next_call, owner);
        }
        1 => {
            *next_call += 1;
            let done = f.redial(key, *next_call, owner);
            assert_eq!(done, m.exists(key));
            if done {
                redial_model(m, key, *next_call, owner);
            }
        }
        2 | 3 => {
            let joined = f.join(key, ctx);
            if m.exists(key) && m.waiting.get(&ctx) != Some(&key) {
                m.leave(ctx);
                m.waiting.insert(ctx, key);
            }
            let expected = m.waiting.values().filter(|k| **k == key).count();
            assert_eq!(joined, m.exists(key).then_some(expected));
        }
        4 => {
            let was = m.waiting.contains_key(&ctx);
            assert_eq!(f.leave(ctx), was);
            m.leave(ctx);
        }
        5 => {
            // Answer the call of `key` (or a call no longer awaited).
            let call = m.calls.get(key).map_or(*next_call + 1, |(c, _)| *c);
            let finished = f.finish(call).map(|(k, flight)| (k, sorted(flight)));
            let expected = m
                .calls
                .contains_key(key)
                .then(|| (key.to_owned(), m.release(key)));
            assert_eq!(finished, expected);
        }
        _ => {
            let abandoned = f.abandon(key).map(sorted);
            let expected = m.exists(key).then(|| m.release(key));
            assert_eq!(abandoned, expected);
        }
    }
}

fn redial_model(m: &mut Model, key: &'static str, call: u32, owner: Owner) {
    if let Owner::Request(ctx) = owner
        && m.waiting.get(&ctx) != Some(&key)
    {
        m.leave(ctx);
        m.waiting.insert(ctx, key);
    }
    m.calls.insert(key, (call, owner));
}

fn sorted(flight: Flight) -> Vec<u32> {
    let mut waiters = flight.into_waiters();
    waiters.sort_unstable();
    waiters
}

#[test]
fn random_sequences_keep_every_invariant_and_match_the_model() {
    for seed in 0..20 {
        let mut rng = Lcg(seed);
        let mut f = Flights::default();
        let mut m = Model::default();
        let mut next_call = 0;
        for _ in 0..2_000 {
            step(&mut rng, &mut f, &mut m, &mut next_call);
            m.check(&f);
        }
        // Every request leaves: nothing waits, and only root calls remain.
        for ctx in 0..12 {
            f.leave(ctx);
            m.leave(ctx);
            m.check(&f);
        }
        assert_eq!(f.paused(), 0);
        assert!(f.orphans().is_empty());
        assert!(
            m.calls.values().all(|(_, o)| *o == Owner::Root),
            "seed {seed}"
        );
    }
}
