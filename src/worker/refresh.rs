//! Background refresh ahead of expiry, started by the root tick: which of
//! this worker's copies are due, the lease that keeps the other workers from
//! refreshing the same entry, the call, and the verdict on its answer.
//!
//! A copy is due when its token is in the advisory window (or later), its
//! `refresh_after_ms` (a lease or a back-off) has passed, and no call for its
//! key is in flight. At most [`MAX_REFRESHES_PER_TICK`] start per tick. A
//! refresh that fails, or brings a token no newer than the one it replaces,
//! backs off [`BACKOFF_MS`].
//!
//! This module keeps no state of its own: the time each identity was last
//! used lives with its copy (see `copies`: a hit then costs one hash
//! lookup), and the entry a refresh replaces rides on its flight (see
//! `flights`: it ends with the flight). What it owns are the decisions.

use std::rc::Rc;
use std::time::Duration;

use claude_wif_api::AccessToken;
use log::Level;

use super::copies::Held;
use super::flights::{Flight, Flights, Owner};
use crate::cache::{self, CacheEntry, Freshness};
use crate::config::{FilterConfig, RefreshPolicy};
use crate::host::Host;
use crate::stats::Stat;

/// A failed or useless background refresh is retried no sooner than this.
pub const BACKOFF_MS: u64 = 5_000;

/// Most background refreshes one tick starts.
pub const MAX_REFRESHES_PER_TICK: usize = 64;

/// A copy due for a background refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub key: Rc<str>,
    pub identity: String,
    pub entry: CacheEntry,
}

/// The held tokens due for refresh at `now_ms` (see the module doc);
/// `in_flight` says whether a call for a key is in flight.
pub fn due<'a>(
    held: impl Iterator<Item = (&'a str, &'a Held)>,
    in_flight: impl Fn(&str) -> bool,
    now_ms: u64,
    policy: RefreshPolicy,
) -> Vec<Due> {
    held.filter(|(_, h)| {
        h.entry.freshness(now_ms, policy) != Freshness::Fresh
            && now_ms >= h.entry.refresh_after_ms
            && !in_flight(&h.key)
    })
    .map(|(identity, held)| Due {
        key: held.key.clone(),
        identity: identity.to_owned(),
        entry: held.entry.clone(),
    })
    .collect()
}

/// Tries `start` on each of `due` in order until `max` have started;
/// returns how many did (one that does not start takes no place).
pub fn start_up_to<T>(due: Vec<T>, max: usize, mut start: impl FnMut(T) -> bool) -> usize {
    let mut started = 0;
    for item in due {
        if started >= max {
            break;
        }
        if start(item) {
            started += 1;
        }
    }
    started
}

/// Until when a refresh started at `now_ms` holds its lease: the call's
/// `timeout`, and a second more.
pub fn lease_until(timeout: Duration, now_ms: u64) -> u64 {
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    now_ms.saturating_add(timeout_ms).saturating_add(1000)
}

/// Whether `issued` may replace `replaced`: only a token that lives longer.
pub fn is_newer(issued: &CacheEntry, replaced: &CacheEntry) -> bool {
    issued.expires_at_ms > replaced.expires_at_ms
}

/// Starts the refresh of `due` if this worker wins its lease: calls
/// issuer-svc from the root context, naming the token it replaces, and
/// records the flight. `true` if started.
pub fn start<H: Host>(
    host: &mut H,
    config: &FilterConfig,
    flights: &mut Flights,
    due: Due,
    now_ms: u64,
) -> bool {
    let Due {
        key,
        identity,
        entry,
    } = due;
    let lease_until = lease_until(config.issuer.timeout, now_ms);
    if !cache::set_refresh_after(host, &key, &entry.token, lease_until) {
        return false; // another worker refreshes it
    }
    let stale = cache::token_sha256(&entry.token);
    match super::call::dispatch(config, host, &identity, Some(&stale)) {
        Ok(call) => {
            host.log(
                Level::Debug,
                &format!(
                    "background refresh of token {} for {identity} (call {call})",
                    entry.token
                ),
            );
            flights.start(
                &key,
                call,
                Owner::Root,
                Flight::refresh(&identity, stale, entry),
            );
            true
        }
        Err(error) => {
            let reason = format!("failed ({error})");
            back_off(host, &key, &entry.token, &identity, &reason, now_ms);
            false
        }
    }
}

/// A background refresh of `token` (cached under `key`) did not bring a new
/// token, for `reason`: counts it, says so, and retries no sooner than
/// [`BACKOFF_MS`] from `now_ms`.
pub fn back_off<H: Host>(
    host: &mut H,
    key: &str,
    token: &AccessToken,
    identity: &str,
    reason: &str,
    now_ms: u64,
) {
    host.count(Stat::BackgroundRefreshFailed);
    host.log(
        Level::Warn,
        &format!("background refresh for {identity} {reason}; retrying in 5s"),
    );
    cache::set_refresh_after(host, key, token, now_ms.saturating_add(BACKOFF_MS));
}

#[cfg(test)]
mod tests;
