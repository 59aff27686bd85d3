//! The token cache in Envoy shared data: key, value format, freshness.
//!
//! Key: `claude-wif/v1/<server_workload>/<client workload identity>`
//! (`server_workload` never contains `/`, so the key is unambiguous).
//! Value: `1|<expires_at_unix_ms>|<access token>`, compact and versioned,
//! so a hit costs no JSON parsing. Anything else reads as a miss.

use claude_wif_api::AccessToken;

use crate::config::RefreshPolicy;
use crate::host::{Host, HostError};

const KEY_PREFIX: &str = "claude-wif/v1/";
const VALUE_VERSION: &str = "1";

/// The shared-data key of one (server workload, client workload) pair.
pub fn key(server_workload: &str, identity: &str) -> String {
    format!("{KEY_PREFIX}{server_workload}/{identity}")
}

/// A cached access token and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub token: AccessToken,
    pub expires_at_ms: u64,
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
            "{VALUE_VERSION}|{}|{}",
            self.expires_at_ms,
            self.token.expose()
        )
        .into_bytes()
    }

    /// Reads a stored value; `None` for anything not written by [`encode`](Self::encode).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        if parts.next()? != VALUE_VERSION {
            return None;
        }
        let expires = parts.next()?;
        if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let expires_at_ms = expires.parse().ok()?;
        let token = parts.next()?;
        if !is_valid_token(token) {
            return None;
        }
        Some(Self {
            token: AccessToken::new(token),
            expires_at_ms,
        })
    }

    pub fn freshness(&self, now_ms: u64, policy: RefreshPolicy) -> Freshness {
        let remaining_ms = self.expires_at_ms.saturating_sub(now_ms);
        if remaining_ms > policy.advisory_s.saturating_mul(1000) {
            Freshness::Fresh
        } else if remaining_ms > policy.mandatory_s.saturating_mul(1000) {
            Freshness::RefreshAdvised
        } else {
            Freshness::Stale
        }
    }
}

/// A token fit for an `authorization` header: non-empty, visible ASCII, no
/// whitespace or control characters.
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

/// Looks up the entry under `key`; unreadable values are misses.
pub fn lookup<H: Host>(host: &H, key: &str) -> Option<CacheEntry> {
    host.shared_data(key).0.and_then(|v| CacheEntry::decode(&v))
}

/// What [`store`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    Stored,
    /// A token that lives at least as long is already there.
    KeptNewer,
    /// Another worker wrote the entry between our read and write.
    LostRace,
    Failed(HostError),
}

/// Stores `entry` unless a longer-lived one is already cached. Uses the entry's
/// compare-and-swap version so a concurrent write by another worker wins.
pub fn store<H: Host>(host: &mut H, key: &str, entry: &CacheEntry) -> StoreOutcome {
    let (current, cas) = host.shared_data(key);
    let current = current.and_then(|v| CacheEntry::decode(&v));
    if current.is_some_and(|c| c.expires_at_ms >= entry.expires_at_ms) {
        return StoreOutcome::KeptNewer;
    }
    match host.set_shared_data(key, Some(&entry.encode()), cas) {
        Ok(()) => StoreOutcome::Stored,
        Err(HostError::CasMismatch) => StoreOutcome::LostRace,
        Err(e) => StoreOutcome::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fake_host::FakeHost;

    const POLICY: RefreshPolicy = RefreshPolicy {
        advisory_s: 120,
        mandatory_s: 30,
    };

    fn entry(expires_at_ms: u64) -> CacheEntry {
        CacheEntry {
            token: AccessToken::new("sk-ant-oat01-abc|def"),
            expires_at_ms,
        }
    }

    #[test]
    fn key_joins_server_workload_and_identity() {
        assert_eq!(
            key("api.anthropic.com", "spiffe://c/ns/a/sa/b"),
            "claude-wif/v1/api.anthropic.com/spiffe://c/ns/a/sa/b"
        );
    }

    #[test]
    fn value_round_trips_even_with_a_pipe_in_the_token() {
        let e = entry(1_700_000_000_123);
        assert_eq!(e.encode(), b"1|1700000000123|sk-ant-oat01-abc|def");
        assert_eq!(CacheEntry::decode(&e.encode()), Some(e));
    }

    #[test]
    fn unreadable_values_decode_to_none() {
        for bad in [
            &b""[..],
            b"1",
            b"1|123",
            b"1|123|",
            b"2|123|tok",
            b"1|-5|tok",
            b"1|+5|tok",
            b"1|12x|tok",
            b"1|99999999999999999999999|tok",
            b"1|123|tok en",
            b"1|123|tok\n",
            b"\xff|1|tok",
            b"{\"access_token\":\"x\"}",
        ] {
            assert_eq!(
                CacheEntry::decode(bad),
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
    fn token_validity() {
        assert!(is_valid_token("sk-ant-oat01-AbC_123"));
        assert!(!is_valid_token(""));
        assert!(!is_valid_token("a b"));
        assert!(!is_valid_token("ab\n"));
        assert!(!is_valid_token("ab\r"));
        assert!(!is_valid_token("ab\u{7f}"));
        assert!(!is_valid_token("é"));
    }

    #[test]
    fn store_writes_then_keeps_the_longer_lived_entry() {
        let mut host = FakeHost::new();
        assert_eq!(store(&mut host, "k", &entry(2_000)), StoreOutcome::Stored);
        assert_eq!(
            store(&mut host, "k", &entry(1_000)),
            StoreOutcome::KeptNewer
        );
        assert_eq!(lookup(&host, "k"), Some(entry(2_000)));
        assert_eq!(store(&mut host, "k", &entry(3_000)), StoreOutcome::Stored);
        assert_eq!(lookup(&host, "k"), Some(entry(3_000)));
    }

    #[test]
    fn store_overwrites_garbage_and_reports_a_lost_race() {
        let mut host = FakeHost::new().with_shared_data("k", b"garbage");
        assert_eq!(lookup(&host, "k"), None);
        assert_eq!(store(&mut host, "k", &entry(2_000)), StoreOutcome::Stored);
        host.cas_race = true;
        assert_eq!(store(&mut host, "k", &entry(3_000)), StoreOutcome::LostRace);
        assert_eq!(lookup(&host, "k"), Some(entry(2_000)));
    }
}
