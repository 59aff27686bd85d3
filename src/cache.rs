//! The token cache in Envoy shared data: key, value format, freshness,
//! refresh leases, invalidation and the identity cap.
//!
//! Key: `claude-wif/v2/<server_workload>/<client workload identity>`
//! (`server_workload` never contains `/`, so the key is unambiguous).
//!
//! Value (version 2), compact so a hit costs no JSON parsing:
//! - a token: `2|<expires_at_unix_ms>|<lifetime_s>|<refresh_after_unix_ms>|<access token>`;
//!   `lifetime_s` is the token's `expires_in` at receipt (the refresh windows
//!   are clamped by it), `refresh_after_unix_ms` is when a background refresh
//!   may next start (a lease while one runs, a 5 s back-off after a failure);
//! - invalidated by an upstream 401: `2|-|<sha256 hex of the rejected token>`,
//!   so whichever worker fetches next passes `stale_token_sha256`.
//!
//! Anything else (including version 1 values) reads as a miss.
//! `claude-wif/v2-count/<server_workload>` counts the identities cached, so
//! the cache holds at most `max_identities` of them.

use claude_wif_api::AccessToken;
use sha2::{Digest, Sha256};

use crate::config::RefreshPolicy;
use crate::host::{Host, HostError};

const KEY_PREFIX: &str = "claude-wif/v2/";
const COUNT_PREFIX: &str = "claude-wif/v2-count/";
const VALUE_VERSION: &str = "2";
const INVALIDATED: &str = "-";
/// Compare-and-swap attempts before giving up on a contended entry.
const CAS_ATTEMPTS: usize = 3;

/// The shared-data key of one (server workload, client workload) pair.
pub fn key(server_workload: &str, identity: &str) -> String {
    format!("{KEY_PREFIX}{server_workload}/{identity}")
}

/// The shared-data key counting the identities cached for a server workload.
pub fn count_key(server_workload: &str) -> String {
    format!("{COUNT_PREFIX}{server_workload}")
}

/// Lowercase hex SHA-256 of a token: how it is named to issuer-svc and in
/// invalidation records, never the token itself.
pub fn token_sha256(token: &AccessToken) -> String {
    Sha256::digest(token.expose().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A cached access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub token: AccessToken,
    pub expires_at_ms: u64,
    /// `expires_in` when the token was received; clamps the refresh windows.
    pub lifetime_s: u64,
    /// No background refresh starts before this time (0: any time).
    pub refresh_after_ms: u64,
}

/// What a cache slot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Token(CacheEntry),
    /// The upstream rejected the token with this hash; fetch a new one.
    Invalidated {
        stale_sha256: String,
    },
}

/// What to do with a cached token now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// `remaining > advisory`: use it.
    Fresh,
    /// `mandatory < remaining <= advisory`: use it; a refresh is due.
    RefreshAdvised,
    /// `remaining <= mandatory`: do not use it; wait for a new one.
    Stale,
}

impl CacheEntry {
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{VALUE_VERSION}|{}|{}|{}|{}",
            self.expires_at_ms,
            self.lifetime_s,
            self.refresh_after_ms,
            self.token.expose()
        )
        .into_bytes()
    }

    /// Effective (advisory, mandatory) windows in ms: the configured ones,
    /// clamped to a half and a quarter of the token's lifetime.
    pub fn windows_ms(&self, policy: RefreshPolicy) -> (u64, u64) {
        let lifetime_ms = self.lifetime_s.saturating_mul(1000);
        (
            policy.advisory_s.saturating_mul(1000).min(lifetime_ms / 2),
            policy.mandatory_s.saturating_mul(1000).min(lifetime_ms / 4),
        )
    }

    pub fn freshness(&self, now_ms: u64, policy: RefreshPolicy) -> Freshness {
        let remaining_ms = self.expires_at_ms.saturating_sub(now_ms);
        let (advisory_ms, mandatory_ms) = self.windows_ms(policy);
        if remaining_ms == 0 || remaining_ms <= mandatory_ms {
            Freshness::Stale
        } else if remaining_ms > advisory_ms {
            Freshness::Fresh
        } else {
            Freshness::RefreshAdvised
        }
    }
}

impl Slot {
    /// Reads a stored value; `None` for anything not written by [`Slot::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(5, '|');
        if parts.next()? != VALUE_VERSION {
            return None;
        }
        let first = parts.next()?;
        if first == INVALIDATED {
            let hash = parts.next()?;
            let ok = hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            return (ok && parts.next().is_none()).then(|| Slot::Invalidated {
                stale_sha256: hash.to_owned(),
            });
        }
        let expires_at_ms = number(first)?;
        let lifetime_s = number(parts.next()?)?;
        let refresh_after_ms = number(parts.next()?)?;
        let token = parts.next()?;
        if !is_valid_token(token) {
            return None;
        }
        Some(Slot::Token(CacheEntry {
            token: AccessToken::new(token),
            expires_at_ms,
            lifetime_s,
            refresh_after_ms,
        }))
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Slot::Token(entry) => entry.encode(),
            Slot::Invalidated { stale_sha256 } => {
                format!("{VALUE_VERSION}|{INVALIDATED}|{stale_sha256}").into_bytes()
            }
        }
    }
}

fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A token fit for an `authorization` header: non-empty, visible ASCII, no
/// whitespace or control characters.
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Looks up the slot under `key`; unreadable values are misses. (The
/// filter itself reads entries through each worker's copy, with the CAS
/// version: `worker::copies::Copies::read`.)
#[cfg(test)]
pub fn lookup<H: Host>(host: &H, key: &str) -> Option<Slot> {
    host.shared_data(key).0.and_then(|v| Slot::decode(&v))
}

/// The cached token under `key`, if any (not an invalidation record).
#[cfg(test)]
pub fn lookup_token<H: Host>(host: &H, key: &str) -> Option<CacheEntry> {
    match lookup(host, key) {
        Some(Slot::Token(entry)) => Some(entry),
        _ => None,
    }
}

/// What [`store`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    Stored,
    /// A token that lives at least as long is already there.
    KeptNewer,
    /// Another worker wrote the entry between our read and write.
    LostRace,
    /// The cache already holds `max_identities` identities.
    Full,
    Failed(HostError),
}

/// Stores `entry` unless a longer-lived one is already cached. Uses the
/// entry's compare-and-swap version so a concurrent write by another worker
/// wins. A new key first takes one of `max_identities` places.
pub fn store<H: Host>(
    host: &mut H,
    key: &str,
    count_key: &str,
    max_identities: u64,
    entry: &CacheEntry,
) -> StoreOutcome {
    let (current, cas) = host.shared_data(key);
    if current.is_none() && !reserve_place(host, count_key, max_identities) {
        return StoreOutcome::Full;
    }
    if let Some(Slot::Token(c)) = current.and_then(|v| Slot::decode(&v))
        && c.expires_at_ms >= entry.expires_at_ms
    {
        return StoreOutcome::KeptNewer;
    }
    match host.set_shared_data(key, Some(&entry.encode()), cas) {
        Ok(()) => StoreOutcome::Stored,
        Err(HostError::CasMismatch) => StoreOutcome::LostRace,
        Err(e) => StoreOutcome::Failed(e),
    }
}

/// Creates the identity counter if it does not exist yet (at configure time,
/// before traffic: shared-data CAS cannot protect the creation itself).
pub fn ensure_counter<H: Host>(host: &mut H, count_key: &str) {
    if host.shared_data(count_key).0.is_none() {
        let _ = host.set_shared_data(count_key, Some(b"0"), None);
    }
}

/// Takes one place in the identity counter with compare-and-swap.
fn reserve_place<H: Host>(host: &mut H, count_key: &str, max: u64) -> bool {
    for _ in 0..CAS_ATTEMPTS {
        let (value, cas) = host.shared_data(count_key);
        let used = value
            .and_then(|v| std::str::from_utf8(&v).ok().and_then(number))
            .unwrap_or(0);
        if used >= max {
            return false;
        }
        let next = (used + 1).to_string();
        match host.set_shared_data(count_key, Some(next.as_bytes()), cas) {
            Ok(()) => return true,
            Err(HostError::CasMismatch) => continue,
            Err(_) => return false,
        }
    }
    false
}

/// Sets `refresh_after_ms` on the entry under `key` if it still holds `token`
/// (compare-and-swap). `true` when written: the caller holds the lease.
pub fn set_refresh_after<H: Host>(
    host: &mut H,
    key: &str,
    token: &AccessToken,
    until_ms: u64,
) -> bool {
    let (value, cas) = host.shared_data(key);
    let Some(Slot::Token(mut entry)) = value.and_then(|v| Slot::decode(&v)) else {
        return false;
    };
    if entry.token != *token {
        return false;
    }
    entry.refresh_after_ms = until_ms;
    host.set_shared_data(key, Some(&entry.encode()), cas)
        .is_ok()
}

/// Replaces the entry under `key` with an invalidation record if it still
/// holds `token` (compare-and-swap). `true` when it did.
pub fn invalidate<H: Host>(host: &mut H, key: &str, token: &AccessToken) -> bool {
    let (value, cas) = host.shared_data(key);
    match value.and_then(|v| Slot::decode(&v)) {
        Some(Slot::Token(entry)) if entry.token == *token => {
            let record = Slot::Invalidated {
                stale_sha256: token_sha256(token),
            };
            host.set_shared_data(key, Some(&record.encode()), cas)
                .is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
