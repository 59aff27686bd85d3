//! [`Copies`] on its own, without a host: shared data is a map read through
//! the closure the worker would pass, written with the real cache encoder.

use std::collections::HashMap;

use super::*;
use crate::cache;

const POLICY: RefreshPolicy = RefreshPolicy {
    advisory_s: 30,
    mandatory_s: 10,
};

/// Shared data: key → (value, version).
#[derive(Default)]
struct Shared(HashMap<String, (Vec<u8>, u32)>);

impl Shared {
    fn read(&self, key: &str) -> SharedValue {
        match self.0.get(key) {
            Some((value, cas)) => (Some(value.clone()), Some(*cas)),
            None => (None, None),
        }
    }

    /// Writes `slot` under `identity`'s key as a new version.
    fn write(&mut self, identity: &str, slot: &Slot) {
        self.write_bytes(identity, slot.encode());
    }

    fn write_bytes(&mut self, identity: &str, value: Vec<u8>) {
        let cas = self.0.get(&key(identity)).map_or(1, |(_, cas)| cas + 1);
        self.0.insert(key(identity), (value, cas));
    }
}

fn key(identity: &str) -> String {
    cache::key("api.anthropic.com", identity)
}

/// A 60 s token expiring at `expires_at_ms`.
fn entry(token: &str, expires_at_ms: u64) -> CacheEntry {
    CacheEntry {
        token: AccessToken::new(token),
        expires_at_ms,
        lifetime_s: 60,
        refresh_after_ms: 0,
    }
}

fn read(copies: &mut Copies, shared: &Shared, identity: &str, now_ms: u64, max: usize) -> Read {
    let read = copies.read(identity, now_ms, max, || key(identity), |k| shared.read(k));
    copies.check_invariants(max);
    read
}

fn token_of(read: &Read) -> Option<&str> {
    match read {
        Read::Token(held) => Some(held.entry.token.expose()),
        Read::Missing { .. } => None,
    }
}

#[test]
fn a_hit_needs_a_copy_holding_a_token() {
    let mut copies = Copies::default();
    let shared = Shared::default();
    assert!(copies.hit("a", 0, POLICY, 0).is_none());
    let missing = read(&mut copies, &shared, "a", 5, 10);
    assert!(matches!(&missing, Read::Missing { key: k, rejected_sha256: None } if **k == key("a")));
    assert!(copies.hit("a", 0, POLICY, 0).is_none());
    assert_eq!(copies.len(), 1, "tracked even without a token");
}

#[test]
fn a_read_decodes_the_entry_and_hits_then_use_it_without_reading() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    shared.write("a", &Slot::Token(entry("tok-a", 60_000)));
    let Read::Token(held) = read(&mut copies, &shared, "a", 1, 10) else {
        panic!("a token");
    };
    assert_eq!(*held.key, key("a"));
    assert_eq!(held.bearer, "Bearer tok-a");
    shared.0.clear(); // a hit never reads
    let (hit, freshness) = copies.hit("a", 29_999, POLICY, 7).unwrap();
    assert!(Rc::ptr_eq(&hit, &held), "the same copy, not a new one");
    assert_eq!(freshness, Freshness::Fresh);
    assert_eq!(copies.last_used_ms("a"), Some(7));
    let (_, freshness) = copies.hit("a", 30_000, POLICY, 8).unwrap();
    assert_eq!(freshness, Freshness::RefreshAdvised);
}

#[test]
fn a_stale_copy_is_no_hit_and_not_marked_used() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    shared.write("a", &Slot::Token(entry("tok-a", 60_000)));
    read(&mut copies, &shared, "a", 1, 10);
    assert!(copies.hit("a", 50_000, POLICY, 9).is_none());
    assert_eq!(copies.last_used_ms("a"), Some(1));
}

#[test]
fn an_entry_is_decoded_again_only_when_its_version_changed() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    shared.write("a", &Slot::Token(entry("tok-1", 60_000)));
    read(&mut copies, &shared, "a", 1, 10);
    // Same version, other bytes: the copy stands (no decoding).
    let cas = shared.0[&key("a")].1;
    let other = Slot::Token(entry("tok-2", 60_000)).encode();
    shared.0.insert(key("a"), (other, cas));
    assert_eq!(
        token_of(&read(&mut copies, &shared, "a", 2, 10)),
        Some("tok-1")
    );
    shared.write("a", &Slot::Token(entry("tok-3", 60_000)));
    assert_eq!(
        token_of(&read(&mut copies, &shared, "a", 3, 10)),
        Some("tok-3")
    );
    // Unreadable or gone: no token.
    shared.write_bytes("a", b"1|garbage".to_vec());
    assert_eq!(token_of(&read(&mut copies, &shared, "a", 4, 10)), None);
    shared.0.clear();
    assert_eq!(token_of(&read(&mut copies, &shared, "a", 5, 10)), None);
}

#[test]
fn an_invalidated_entry_reads_as_missing_naming_the_rejected_token() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    let hash = "a".repeat(64);
    shared.write(
        "a",
        &Slot::Invalidated {
            stale_sha256: hash.clone(),
        },
    );
    let Read::Missing {
        rejected_sha256, ..
    } = read(&mut copies, &shared, "a", 1, 10)
    else {
        panic!("no token");
    };
    assert_eq!(rejected_sha256, Some(hash));
    // The next token replaces the record.
    shared.write("a", &Slot::Token(entry("tok-a", 60_000)));
    assert_eq!(
        token_of(&read(&mut copies, &shared, "a", 2, 10)),
        Some("tok-a")
    );
    shared.0.clear();
    let missing = read(&mut copies, &shared, "a", 3, 10);
    assert!(matches!(
        missing,
        Read::Missing {
            rejected_sha256: None,
            ..
        }
    ));
}

#[test]
fn forgetting_a_token_drops_only_that_token_and_decodes_again() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    shared.write("a", &Slot::Token(entry("tok-a", 60_000)));
    shared.write("b", &Slot::Token(entry("tok-b", 60_000)));
    read(&mut copies, &shared, "a", 1, 10);
    read(&mut copies, &shared, "b", 1, 10);
    copies.forget(&key("a"), Some(&AccessToken::new("tok-other")));
    assert!(
        copies.hit("a", 0, POLICY, 2).is_some(),
        "another token: kept"
    );
    copies.forget(&key("a"), Some(&AccessToken::new("tok-a")));
    copies.check_invariants(10);
    assert!(copies.hit("a", 0, POLICY, 2).is_none());
    assert!(copies.hit("b", 0, POLICY, 2).is_some(), "another key: kept");
    copies.forget(&key("b"), None);
    assert!(copies.hit("b", 0, POLICY, 2).is_none());
    // Same version as before, yet decoded again.
    assert_eq!(
        token_of(&read(&mut copies, &shared, "a", 3, 10)),
        Some("tok-a")
    );
    assert_eq!(copies.len(), 2, "forgetting a copy keeps the identity");
}

#[test]
fn a_stored_token_is_installed_for_a_tracked_identity_only() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    shared.write(
        "a",
        &Slot::Invalidated {
            stale_sha256: "b".repeat(64),
        },
    );
    read(&mut copies, &shared, "a", 1, 10);
    copies.install("a", entry("tok-new", 60_000));
    copies.install("untracked", entry("tok-x", 60_000));
    copies.check_invariants(10);
    assert_eq!(copies.len(), 1);
    let (held, _) = copies.hit("a", 0, POLICY, 2).unwrap();
    assert_eq!(*held.key, key("a"));
    assert_eq!(held.bearer, "Bearer tok-new");
    // The installed copy is replaced by the entry at the next read.
    shared.write("a", &Slot::Token(entry("tok-a", 60_000)));
    assert_eq!(
        token_of(&read(&mut copies, &shared, "a", 3, 10)),
        Some("tok-a")
    );
}

#[test]
fn a_new_identity_beyond_max_forgets_the_least_recently_used() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    for identity in ["a", "b", "c"] {
        shared.write(identity, &Slot::Token(entry(identity, 60_000)));
    }
    read(&mut copies, &shared, "a", 1, 2);
    read(&mut copies, &shared, "b", 2, 2);
    copies.hit("a", 0, POLICY, 3).unwrap();
    read(&mut copies, &shared, "c", 4, 2);
    assert_eq!(
        copies.last_used_ms("b"),
        None,
        "b was used last longest ago"
    );
    assert_eq!(copies.last_used_ms("a"), Some(3));
    // A known identity makes no room.
    read(&mut copies, &shared, "a", 5, 2);
    assert_eq!(copies.len(), 2);
    // A max of 0 still tracks one.
    let mut copies = Copies::default();
    read(&mut copies, &shared, "a", 6, 0);
    read(&mut copies, &shared, "b", 7, 0);
    assert_eq!(copies.last_used_ms("a"), None);
    assert_eq!(copies.len(), 1);
}

#[test]
fn a_smaller_max_forgets_one_identity_per_new_one() {
    let mut copies = Copies::default();
    let shared = Shared::default();
    for (n, identity) in ["a", "b", "c"].into_iter().enumerate() {
        read(&mut copies, &shared, identity, n as u64, 3);
    }
    copies.read("d", 9, 1, || key("d"), |k| shared.read(k));
    assert_eq!(copies.len(), 3, "room for one: a is forgotten");
    assert_eq!(copies.last_used_ms("a"), None);
}

#[test]
fn identities_unused_for_the_window_are_forgotten() {
    let mut copies = Copies::default();
    let shared = Shared::default();
    read(&mut copies, &shared, "a", 1_000, 10);
    read(&mut copies, &shared, "b", 2_000, 10);
    copies.forget_unused(31_000, 30_000);
    assert_eq!(copies.len(), 2, "a was used exactly the window ago");
    copies.forget_unused(31_001, 30_000);
    assert_eq!(copies.last_used_ms("a"), None);
    assert_eq!(copies.last_used_ms("b"), Some(2_000));
}

#[test]
fn reread_all_refreshes_every_copy_and_held_lists_the_tokens() {
    let mut copies = Copies::default();
    let mut shared = Shared::default();
    read(&mut copies, &shared, "a", 1, 10);
    read(&mut copies, &shared, "b", 1, 10);
    assert_eq!(copies.held().count(), 0);
    shared.write("a", &Slot::Token(entry("tok-a", 60_000)));
    copies.reread_all(|k| shared.read(k));
    copies.check_invariants(10);
    let held: Vec<(&str, &str)> = copies
        .held()
        .map(|(identity, held)| (identity, held.entry.token.expose()))
        .collect();
    assert_eq!(held, [("a", "tok-a")]);
    assert_eq!(copies.last_used_ms("a"), Some(1), "rereading is no use");
}

/// A tiny deterministic pseudo-random generator (Knuth's MMIX LCG).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

const IDENTITIES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const TOKENS: [&str; 3] = ["tok-0", "tok-1", "tok-2"];
const MAX: usize = 4;

/// One random operation; checks what it returns against shared data.
fn step(rng: &mut Lcg, copies: &mut Copies, shared: &mut Shared, now_ms: u64) {
    let identity = IDENTITIES[rng.below(6) as usize];
    let token = TOKENS[rng.below(3) as usize];
    let expires_at_ms = now_ms + rng.below(80_000);
    match rng.below(9) {
        0 => shared.write(identity, &Slot::Token(entry(token, expires_at_ms))),
        1 => shared.write(
            identity,
            &Slot::Invalidated {
                stale_sha256: "c".repeat(64),
            },
        ),
        2 => shared.write_bytes(identity, b"garbage".to_vec()),
        3 | 4 => {
            if let Read::Token(held) = read(copies, shared, identity, now_ms, MAX) {
                assert_eq!(*held.key, key(identity));
                assert_eq!(copies.last_used_ms(identity), Some(now_ms));
            }
        }
        5 => {
            if let Some((held, freshness)) = copies.hit(identity, now_ms, POLICY, now_ms) {
                assert_eq!(*held.key, key(identity));
                assert_ne!(freshness, Freshness::Stale);
            }
        }
        6 => {
            let rejected = AccessToken::new(token);
            let only = rng.below(2) == 0;
            copies.forget(&key(identity), only.then_some(&rejected));
            if let Some((held, _)) = copies.hit(identity, 0, POLICY, now_ms) {
                assert!(only && held.entry.token != rejected, "forgotten");
            }
        }
        7 => copies.install(identity, entry(token, expires_at_ms)),
        _ => {
            copies.forget_unused(now_ms, 30_000);
            copies.reread_all(|k| shared.read(k));
        }
    }
    copies.check_invariants(MAX);
}

#[test]
fn random_sequences_keep_every_invariant() {
    for seed in 0..20 {
        let mut rng = Lcg(seed);
        let mut copies = Copies::default();
        let mut shared = Shared::default();
        let mut now_ms = 1_000;
        for _ in 0..2_000 {
            now_ms += rng.below(3_000);
            step(&mut rng, &mut copies, &mut shared, now_ms);
        }
    }
}
