//! When to use a cached token and when to exchange again (DESIGN.md,
//! *Refresh policy*; the same thresholds as the official SDKs).

use std::time::Duration;

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
        RefreshPolicy {
            advisory: Duration::from_secs(120),
            mandatory: Duration::from_secs(30),
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
    /// `remaining` is `None` when there is no cached token.
    pub fn decide(&self, remaining: Option<Duration>) -> RefreshDecision {
        match remaining {
            Some(left) if left > self.advisory => RefreshDecision::UseCached,
            Some(left) if left > self.mandatory => RefreshDecision::UseCachedAndRefresh,
            _ => RefreshDecision::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_design() {
        let policy = RefreshPolicy::default();
        let decide = |s| policy.decide(Some(Duration::from_secs(s)));
        assert_eq!(decide(3600), RefreshDecision::UseCached);
        assert_eq!(decide(121), RefreshDecision::UseCached);
        assert_eq!(decide(120), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(31), RefreshDecision::UseCachedAndRefresh);
        assert_eq!(decide(30), RefreshDecision::Wait);
        assert_eq!(decide(0), RefreshDecision::Wait);
        assert_eq!(policy.decide(None), RefreshDecision::Wait);
        assert_eq!(
            policy.decide(Some(Duration::from_millis(120_001))),
            RefreshDecision::UseCached
        );
    }
}
