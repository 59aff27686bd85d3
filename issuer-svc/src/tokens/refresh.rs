//! When to use a cached token and when to exchange again (DESIGN.md,
//! *Refresh policy*; the same thresholds as the official SDKs), clamped for
//! short-lived tokens.

use std::time::Duration;

use crate::config::TokenCacheConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Above this remaining lifetime the cached token is simply used.
    pub advisory: Duration,
    /// At or below this remaining lifetime callers wait for a new token.
    pub mandatory: Duration,
    /// A failed background refresh is not retried sooner than this.
    pub retry_after: Duration,
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
    fn configured_thresholds_are_used() {
        let policy = RefreshPolicy::from(TokenCacheConfig {
            advisory_refresh: Duration::from_secs(600),
            mandatory_refresh: Duration::from_secs(60),
        });
        let decide = |s| policy.decide(Some((Duration::from_secs(s), HOUR)));
        assert_eq!(decide(601), RefreshDecision::UseCached);
        assert_eq!(decide(600), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(60), RefreshDecision::Wait);
    }
}
