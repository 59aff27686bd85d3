//! When to use a cached token and when to exchange again (DESIGN.md,
//! *Refresh policy*; the same thresholds as the official SDKs), clamped for
//! short-lived tokens.

use std::time::{Duration, SystemTime};

use crate::config::TokenCacheConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Above this remaining lifetime the cached token is simply used.
    pub advisory: Duration,
    /// At or below this remaining lifetime callers wait for a new token.
    pub mandatory: Duration,
    /// A failed background refresh is not retried sooner than this.
    pub retry_after: Duration,
    /// At most one forced re-exchange per key in this interval (zero: no
    /// limit); see [`RefreshPolicy::allows_forced`].
    pub forced_interval: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy::from(TokenCacheConfig::default())
    }
}

impl From<TokenCacheConfig> for RefreshPolicy {
    fn from(config: TokenCacheConfig) -> Self {
        RefreshPolicy {
            advisory: config.advisory_refresh,
            mandatory: config.mandatory_refresh,
            retry_after: Duration::from_secs(5),
            forced_interval: config.stale_refresh_interval,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Answer from the cache.
    UseCached,
    /// Answer from the cache and start one background refresh.
    UseCachedAndRefresh,
    /// Wait for the single in-flight exchange.
    Wait,
}

impl RefreshPolicy {
    /// The thresholds for a token that was valid for `lifetime` when
    /// minted: advisory at most half of it, mandatory at most a quarter, so
    /// a 60 s token is used for 30 s before a refresh starts instead of
    /// sitting in the refresh window from its first second.
    pub fn for_lifetime(&self, lifetime: Duration) -> (Duration, Duration) {
        (
            self.advisory.min(lifetime / 2),
            self.mandatory.min(lifetime / 4),
        )
    }

    /// `cached` is `(remaining, lifetime)` of the cached token, `None` when
    /// there is none.
    pub fn decide(&self, cached: Option<(Duration, Duration)>) -> RefreshDecision {
        let Some((left, lifetime)) = cached else {
            return RefreshDecision::Wait;
        };
        let (advisory, mandatory) = self.for_lifetime(lifetime);
        if left > advisory {
            RefreshDecision::UseCached
        } else if left > mandatory {
            RefreshDecision::UseCachedAndRefresh
        } else {
            RefreshDecision::Wait
        }
    }

    /// Whether a caller's report that a cached token is stale may force a
    /// new exchange now, given when the last forced one for the same key
    /// started. The first one always may, so a revoked token is replaced
    /// at once; a path that answers 401 to every token gets one exchange
    /// per `forced_interval`, not one per request.
    pub fn allows_forced(&self, last_forced: Option<SystemTime>, now: SystemTime) -> bool {
        last_forced.is_none_or(|at| {
            now.duration_since(at)
                .is_ok_and(|since| since >= self.forced_interval)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn thresholds_follow_the_design() {
        let policy = RefreshPolicy::default();
        let decide = |s| policy.decide(Some((Duration::from_secs(s), HOUR)));
        assert_eq!(decide(3600), RefreshDecision::UseCached);
        assert_eq!(decide(121), RefreshDecision::UseCached);
        assert_eq!(decide(120), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(31), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(30), RefreshDecision::Wait);
        assert_eq!(decide(0), RefreshDecision::Wait);
        assert_eq!(policy.decide(None), RefreshDecision::Wait);
        assert_eq!(
            policy.decide(Some((Duration::from_millis(120_001), HOUR))),
            RefreshDecision::UseCached
        );
    }

    #[test]
    fn short_lived_tokens_clamp_to_half_and_quarter_of_their_lifetime() {
        let policy = RefreshPolicy::default();
        let minute = Duration::from_secs(60);
        assert_eq!(
            policy.for_lifetime(minute),
            (Duration::from_secs(30), Duration::from_secs(15))
        );
        let decide = |s| policy.decide(Some((Duration::from_secs(s), minute)));
        assert_eq!(decide(60), RefreshDecision::UseCached, "fresh 60 s token");
        assert_eq!(decide(31), RefreshDecision::UseCached);
        assert_eq!(decide(30), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(16), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(15), RefreshDecision::Wait);
        assert_eq!(
            policy.for_lifetime(HOUR),
            (policy.advisory, policy.mandatory)
        );
    }

    #[test]
    fn forced_refreshes_are_allowed_once_per_interval() {
        let policy = RefreshPolicy::default();
        assert_eq!(policy.forced_interval, Duration::from_secs(30));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert!(policy.allows_forced(None, at), "the first one always");
        assert!(!policy.allows_forced(Some(at), at));
        assert!(!policy.allows_forced(Some(at), at + Duration::from_millis(29_999)));
        assert!(policy.allows_forced(Some(at), at + Duration::from_secs(30)));
        assert!(
            !policy.allows_forced(Some(at + Duration::from_secs(5)), at),
            "a clock that stepped back does not open the limit"
        );
        let unlimited = RefreshPolicy {
            forced_interval: Duration::ZERO,
            ..policy
        };
        assert!(unlimited.allows_forced(Some(at), at));
    }

    #[test]
    fn configured_thresholds_are_used() {
        let policy = RefreshPolicy::from(TokenCacheConfig {
            advisory_refresh: Duration::from_secs(600),
            mandatory_refresh: Duration::from_secs(60),
            ..TokenCacheConfig::default()
        });
        let decide = |s| policy.decide(Some((Duration::from_secs(s), HOUR)));
        assert_eq!(decide(601), RefreshDecision::UseCached);
        assert_eq!(decide(600), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(60), RefreshDecision::Wait);
    }
}
