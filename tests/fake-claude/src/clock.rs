//! The one source of time in fake-claude.
//!
//! Every time check (assertion claims, token expiry, JWKS cache age, jti
//! retention) reads [`Clock::now`]. Tests, and `POST /_test/advance_clock`,
//! move it forward with [`Clock::advance`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the un-offset time comes from.
pub trait TimeSource: Send + Sync {
    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> i64;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemTimeSource;

impl TimeSource for SystemTimeSource {
    #[allow(clippy::disallowed_methods)] // the one real clock
    fn unix_seconds(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

/// A clock frozen at a given instant (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedTimeSource(pub i64);

impl TimeSource for FixedTimeSource {
    fn unix_seconds(&self) -> i64 {
        self.0
    }
}

/// A time source plus a shared offset that only moves forward.
#[derive(Clone)]
pub struct Clock {
    source: Arc<dyn TimeSource>,
    offset_seconds: Arc<AtomicI64>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("offset_seconds", &self.offset())
            .finish_non_exhaustive()
    }
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self::with_source(SystemTimeSource)
    }

    /// A clock frozen at `unix_seconds` until advanced.
    pub fn fixed(unix_seconds: i64) -> Self {
        Self::with_source(FixedTimeSource(unix_seconds))
    }

    pub fn with_source(source: impl TimeSource + 'static) -> Self {
        Self {
            source: Arc::new(source),
            offset_seconds: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Seconds since the Unix epoch, including every advance so far.
    pub fn now(&self) -> i64 {
        self.source.unix_seconds().saturating_add(self.offset())
    }

    /// Moves the clock forward by `seconds` (shared by every clone).
    pub fn advance(&self, seconds: u32) {
        self.offset_seconds
            .fetch_add(i64::from(seconds), Ordering::SeqCst);
    }

    /// Total seconds added by [`Clock::advance`].
    pub fn offset(&self) -> i64 {
        self.offset_seconds.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_advanced_and_clones_share_the_offset() {
        let clock = Clock::fixed(1_000);
        let clone = clock.clone();
        assert_eq!(clock.now(), 1_000);
        clone.advance(90);
        assert_eq!(clock.now(), 1_090);
        assert_eq!(clock.offset(), 90);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(Clock::system().now() > 1_577_836_800);
    }
}
