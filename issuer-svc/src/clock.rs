//! The one source of time. Everything that needs "now" takes an
//! `Arc<dyn Clock>`, so tests can move time with [`ManualClock`].

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time, injected.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;

    /// Whole seconds since the Unix epoch (0 for a clock set before 1970).
    fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
    }
}

/// The real clock. The only place allowed to read the system time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to. For tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock stopped at `unix_seconds` after the epoch.
    pub fn at_unix(unix_seconds: u64) -> Self {
        Self {
            now: Mutex::new(UNIX_EPOCH + Duration::from_secs(unix_seconds)),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    pub fn set(&self, to: SystemTime) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_unix(1_000);
        assert_eq!(clock.unix_seconds(), 1_000);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.unix_seconds(), 1_001);
        clock.set(UNIX_EPOCH + Duration::from_secs(5));
        assert_eq!(clock.unix_seconds(), 5);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(SystemClock.unix_seconds() > 1_700_000_000);
    }
}
