//! Notices between the workers of one Envoy: when a worker learns that a
//! cached token is dead (the upstream answered 401 to it), every other
//! worker forgets its copy of that cache entry at once, so cache hits can
//! use a worker's copy without reading shared data on every request.
//!
//! Each worker joins once (at configuration): it takes the next number from
//! the shared-data counter `claude-wif/v2-workers`, registers the shared
//! queue `claude-wif/v2-drop/<n>` (delivered to its root context) and keeps
//! `claude-wif/v2-worker/<n>` set to `<time of its latest tick> <nonce>`;
//! a tick that finds another worker's nonce there (two workers took one
//! number while the counter was being created) joins again. A notice
//! is the cache key, enqueued to every other worker whose tick is recent
//! (a worker that is gone, e.g. after a configuration change, stops
//! ticking and gets no more notices).

use crate::host::{Host, HostError};

const COUNT_KEY: &str = "claude-wif/v2-workers";
const CAS_ATTEMPTS: usize = 3;
/// Most workers one notice goes to (far above Envoy's worker counts, even
/// across configuration changes).
const MAX_PEERS: u32 = 4096;
/// Most notices read per delivery.
pub(crate) const MAX_NOTICES: usize = 1024;

/// This worker's place among its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub index: u32,
    pub queue: u32,
    /// Tells this worker's tick record from another's.
    nonce: u64,
}

fn tick_key(index: u32) -> String {
    format!("claude-wif/v2-worker/{index}")
}

fn queue_name(index: u32) -> String {
    format!("claude-wif/v2-drop/{index}")
}

/// Joins the peers: `None` when the host refuses shared data or queues
/// (then every cache hit reads shared data, as without notices).
pub fn join<H: Host>(host: &mut H, now_ms: u64) -> Option<Peer> {
    use std::hash::BuildHasher;
    let index = take_number(host)?;
    let queue = host.register_queue(&queue_name(index)).ok()?;
    let nonce = std::collections::hash_map::RandomState::new().hash_one(index);
    let peer = Peer {
        index,
        queue,
        nonce,
    };
    write_tick(host, peer, now_ms).ok()?;
    Some(peer)
}

fn take_number<H: Host>(host: &mut H) -> Option<u32> {
    for _ in 0..CAS_ATTEMPTS {
        let (value, cas) = host.shared_data(COUNT_KEY);
        let taken = number(value)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0);
        if taken >= MAX_PEERS {
            return None;
        }
        let next = (taken + 1).to_string();
        match host.set_shared_data(COUNT_KEY, Some(next.as_bytes()), cas) {
            Ok(()) => return Some(taken),
            Err(HostError::CasMismatch) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Records that this worker is alive (every root tick). Returns the peer
/// to use from now on: a new one when another worker holds this number.
pub fn tick<H: Host>(host: &mut H, peer: Peer, now_ms: u64) -> Option<Peer> {
    let held_by_other = tick_record(host, peer.index).is_some_and(|(_, nonce)| nonce != peer.nonce);
    if held_by_other {
        return join(host, now_ms);
    }
    write_tick(host, peer, now_ms).ok().map(|()| peer)
}

/// Worker `index`'s tick record: the time of its latest tick and its nonce.
fn tick_record<H: Host>(host: &H, index: u32) -> Option<(u64, u64)> {
    let value = String::from_utf8(host.shared_data(&tick_key(index)).0?).ok()?;
    let (ms, nonce) = value.split_once(' ')?;
    Some((ms.parse().ok()?, nonce.parse().ok()?))
}

fn write_tick<H: Host>(host: &mut H, peer: Peer, now_ms: u64) -> Result<(), HostError> {
    let record = format!("{now_ms} {}", peer.nonce);
    host.set_shared_data(&tick_key(peer.index), Some(record.as_bytes()), None)
}

/// Tells every other live worker (ticked within `alive_ms`) to forget its
/// copy of cache entry `key`. Returns how many were told.
pub fn tell_drop<H: Host>(host: &mut H, own: Peer, key: &str, now_ms: u64, alive_ms: u64) -> usize {
    let count = number(host.shared_data(COUNT_KEY).0)
        .unwrap_or(0)
        .min(u64::from(MAX_PEERS));
    let mut told = 0;
    for index in 0..u32::try_from(count).unwrap_or(MAX_PEERS) {
        if index == own.index {
            continue;
        }
        let Some((ticked_ms, _)) = tick_record(host, index) else {
            continue;
        };
        if now_ms.saturating_sub(ticked_ms) > alive_ms {
            continue;
        }
        if let Some(queue) = host.resolve_queue(&queue_name(index))
            && host.enqueue(queue, key.as_bytes()).is_ok()
        {
            told += 1;
        }
    }
    told
}

/// The keys other workers asked this one to forget.
pub fn received<H: Host>(host: &mut H, queue: u32) -> Vec<String> {
    let mut keys = Vec::new();
    while keys.len() < MAX_NOTICES {
        let Some(message) = host.dequeue(queue) else {
            break;
        };
        if let Ok(key) = String::from_utf8(message) {
            keys.push(key);
        }
    }
    keys
}

fn number(value: Option<Vec<u8>>) -> Option<u64> {
    value.and_then(|v| std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok()))
}
