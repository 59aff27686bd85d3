//! Which failed exchange attempts are worth another try, and how long to
//! wait first. Pure: the loop that sleeps and signs anew is in `tokens`.

use std::time::Duration;

use super::{ExchangeError, ExchangedToken, RawResponse, parse_exchange_response};

/// Bounds on retrying one exchange. The whole exchange (every attempt and
/// every wait) also stays within `claude.timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles for each further one.
    pub base_delay: Duration,
    /// Longest backoff between two attempts.
    pub max_delay: Duration,
    /// A `retry-after` longer than this is not waited for: the exchange fails.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(2),
            retry_after_cap: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, or `None` when attempt
    /// `attempt` (1-based) was the last one. `jitter` in `0.0..=1.0` spreads
    /// the backoff over its upper half ("equal jitter"); a `retry-after`
    /// within the cap is honoured as given.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        if let Some(wait) = retry_after {
            return (wait <= self.retry_after_cap).then_some(wait);
        }
        let doublings = attempt.saturating_sub(1).min(16);
        let backoff = self
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let half = backoff / 2;
        Some(half + half.mul_f64(jitter.clamp(0.0, 1.0)))
    }
}

/// What one attempt's answer means for the exchange.
#[derive(Debug)]
pub enum Verdict {
    /// Final: a token, or a failure that another attempt would repeat.
    Done(Result<ExchangedToken, ExchangeError>),
    /// Temporary (connect error, timeout, 5xx, 429): worth another attempt
    /// with a newly signed assertion, after `retry_after` if Claude said so.
    Retry {
        error: ExchangeError,
        retry_after: Option<Duration>,
    },
}

/// Judges the outcome of one `Transport::post`.
pub fn judge(raw: Result<RawResponse, ExchangeError>) -> Verdict {
    let raw = match raw {
        Ok(raw) => raw,
        Err(error) => {
            return Verdict::Retry {
                error,
                retry_after: None,
            };
        }
    };
    let parsed = parse_exchange_response(raw.status, &raw.body)
        .map_err(|err| err.with_request_id(raw.request_id.as_deref()));
    match (raw.status, parsed) {
        (429 | 500..=599, Err(error)) => Verdict::Retry {
            error,
            retry_after: raw.retry_after,
        },
        (_, parsed) => Verdict::Done(parsed),
    }
}

/// `retry-after` in delay-seconds form; an HTTP-date gives `None` (the
/// ordinary backoff applies).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn raw(
        status: u16,
        body: &str,
        retry_after: Option<u64>,
    ) -> Result<RawResponse, ExchangeError> {
        Ok(RawResponse {
            status,
            request_id: Some("req_1".into()),
            retry_after: retry_after.map(Duration::from_secs),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn backoff_doubles_with_equal_jitter_and_stops_after_max_attempts() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, None, 0.0), Some(Duration::from_millis(125)));
        assert_eq!(policy.delay(1, None, 1.0), Some(Duration::from_millis(250)));
        assert_eq!(policy.delay(2, None, 0.0), Some(Duration::from_millis(250)));
        assert_eq!(policy.delay(2, None, 1.0), Some(Duration::from_millis(500)));
        assert_eq!(policy.delay(3, None, 0.5), None, "3 attempts in all");
        let long = RetryPolicy {
            max_attempts: 30,
            ..policy
        };
        assert_eq!(
            long.delay(20, None, 1.0),
            Some(Duration::from_secs(2)),
            "capped"
        );
        assert_eq!(
            long.delay(5, None, 7.0),
            Some(Duration::from_secs(2)),
            "jitter clamped"
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let after = |s| policy.delay(1, Some(Duration::from_secs(s)), 0.3);
        assert_eq!(after(3), Some(Duration::from_secs(3)));
        assert_eq!(after(10), Some(Duration::from_secs(10)));
        assert_eq!(after(11), None, "too long: give up rather than wait");
        assert_eq!(policy.delay(3, Some(Duration::from_secs(1)), 0.3), None);
    }

    #[test]
    fn connect_errors_5xx_and_429_are_retried_other_4xx_are_not() {
        let err = Err(ExchangeError::Unavailable("connection refused".into()));
        assert!(matches!(
            judge(err),
            Verdict::Retry {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(judge(raw(503, "", None)), Verdict::Retry { .. }));
        match judge(raw(
            429,
            r#"{"error":{"type":"rate_limit_error"}}"#,
            Some(2),
        )) {
            Verdict::Retry { error, retry_after } => {
                assert_eq!(retry_after, Some(Duration::from_secs(2)));
                let ExchangeError::Refused(refusal) = error else {
                    panic!()
                };
                assert_eq!(refusal.request_id.as_deref(), Some("req_1"));
            }
            other => panic!("{other:?}"),
        }
        for status in [400, 401, 403, 404] {
            match judge(raw(status, "{}", Some(1))) {
                Verdict::Done(Err(ExchangeError::Refused(r))) => assert_eq!(r.status, status),
                other => panic!("{status}: {other:?}"),
            }
        }
        let ok = r#"{"access_token":"sk-ant-oat01-x","token_type":"Bearer","expires_in":60}"#;
        assert!(matches!(judge(raw(200, ok, None)), Verdict::Done(Ok(_))));
        assert!(matches!(
            judge(raw(200, "junk", None)),
            Verdict::Done(Err(ExchangeError::Unavailable(_))),
        ));
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
