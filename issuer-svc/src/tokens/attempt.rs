//! One exchange: attempts with a newly signed assertion each, retried with
//! backoff and jitter while the failure is temporary, all within the
//! `claude.timeout` budget.

use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::time::Instant;

use super::{Inner, IssuedToken};
use crate::config::{ClaudeConfig, ProviderConfig};
use crate::exchange::{
    ExchangeError, RawResponse, Refusal, Verdict, build_exchange_request, judge,
};
use crate::signing::{Assertion, AssertionClaims, SignedAssertion, sign};

/// How one attempt ended.
enum Attempt {
    Done(Result<IssuedToken, ExchangeError>),
    Retry {
        error: ExchangeError,
        retry_after: Option<Duration>,
    },
}

/// Who an exchange is for, for signing and for the audit lines.
struct Subject<'a> {
    provider: &'a ProviderConfig,
    client_workload: &'a str,
    subject: &'a str,
}

impl Inner {
    /// Exchanges a new assertion for a token, retrying temporary failures.
    pub(super) async fn exchange(
        &self,
        provider: &ProviderConfig,
        client_workload: &str,
        subject: &str,
    ) -> Result<IssuedToken, ExchangeError> {
        let settings = self.read_settings();
        let budget = settings.claude.timeout;
        let deadline = Instant::now() + budget;
        let who = Subject {
            provider,
            client_workload,
            subject,
        };
        let mut attempt = 1;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (error, retry_after) = match self
                .attempt(&who, &settings.claude, attempt, remaining)
                .await
            {
                Attempt::Done(result) => return result,
                Attempt::Retry { error, retry_after } => (error, retry_after),
            };
            let jitter = rand::thread_rng().gen_range(0.0..=1.0);
            let delay = settings.retry.delay(attempt, retry_after, jitter);
            let remaining = deadline.saturating_duration_since(Instant::now());
            match delay {
                Some(delay) if delay < remaining => {
                    tracing::info!(provider = %provider.id, client_workload, attempt, delay_ms = millis(delay), error = %error, "retrying the token exchange with a new assertion");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => return Err(give_up(error, attempt)),
            }
        }
    }

    /// Signs a new assertion (fresh `jti`) and sends it once.
    async fn attempt(
        &self,
        who: &Subject<'_>,
        claude: &ClaudeConfig,
        attempt: u32,
        remaining: Duration,
    ) -> Attempt {
        let sent_at = self.clock.now();
        let SignedAssertion {
            assertion,
            kid,
            jti,
            ..
        } = match self.sign_assertion(who, sent_at) {
            Ok(signed) => signed,
            Err(reason) => return Attempt::Done(Err(self.not_attempted(who, attempt, reason))),
        };
        let (raw, latency) = self.send(claude, who.provider, assertion, remaining).await;
        let sent = Sent {
            kid: &kid,
            jti: &jti,
            attempt,
            status: raw.as_ref().ok().map(|raw| raw.status),
            latency,
        };
        let verdict = judge(raw);
        self.record(who, &sent, &verdict);
        into_attempt(verdict, sent_at)
    }

    /// A new assertion for `who`, signed by the key active at `now`; the
    /// reason when there is none.
    fn sign_assertion(
        &self,
        who: &Subject<'_>,
        now: SystemTime,
    ) -> Result<SignedAssertion, String> {
        let keys = self.keys.current();
        keys.active(now)
            .ok_or_else(|| "no active signing key".to_owned())
            .and_then(|key| {
                AssertionClaims::new(who.provider, who.subject, self.clock.unix_seconds())
                    .and_then(|claims| sign(key, &claims))
                    .map_err(|err| format!("cannot sign the assertion: {err}"))
            })
    }

    /// No assertion to send (`reason`): counted as an attempt without an
    /// answer, audited, and final.
    fn not_attempted(&self, who: &Subject<'_>, attempt: u32, reason: String) -> ExchangeError {
        let (provider, client_workload) = (who.provider, who.client_workload);
        let err = ExchangeError::Unavailable(reason);
        self.metrics
            .exchange_attempt(err.outcome(), None, Duration::ZERO);
        tracing::error!(target: "audit", event = "exchange", provider = %provider.id, client_workload, attempt, error = %err, "token exchange not attempted");
        err
    }

    /// Posts `assertion` to Claude's token endpoint, waiting at most
    /// `remaining`; the answer and how long it took.
    async fn send(
        &self,
        claude: &ClaudeConfig,
        provider: &ProviderConfig,
        assertion: Assertion,
        remaining: Duration,
    ) -> (Result<RawResponse, ExchangeError>, Duration) {
        let mut request = build_exchange_request(claude, provider, assertion);
        request.timeout = remaining;
        let started = Instant::now();
        let raw = tokio::time::timeout(remaining, self.transport.post(request))
            .await
            .unwrap_or_else(|_| {
                Err(ExchangeError::Unavailable(format!(
                    "no answer within {} ms",
                    millis(remaining)
                )))
            });
        (raw, started.elapsed())
    }

    /// Counts the attempt by result and status, and writes its audit line.
    fn record(&self, who: &Subject<'_>, sent: &Sent<'_>, verdict: &Verdict) {
        let (result, scope) = match verdict {
            Verdict::Done(Ok(token)) => ("ok", token.scope.as_deref()),
            Verdict::Done(Err(err)) | Verdict::Retry { error: err, .. } => (err.outcome(), None),
        };
        self.metrics
            .exchange_attempt(result, sent.status, sent.latency);
        let (provider, client_workload) = (who.provider, who.client_workload);
        let status_label = sent
            .status
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        let (kid, jti, latency_ms, attempt) =
            (sent.kid, sent.jti, millis(sent.latency), sent.attempt);
        match verdict {
            Verdict::Done(Ok(token)) => {
                tracing::info!(target: "audit", event = "exchange", provider = %provider.id, client_workload, kid, jti, status = %status_label, latency_ms, attempt, result, scope, expires_in = token.expires_in, token = %token.access_token, "exchanged an assertion for an access token");
            }
            Verdict::Done(Err(err)) | Verdict::Retry { error: err, .. } => {
                tracing::warn!(target: "audit", event = "exchange", provider = %provider.id, client_workload, kid, jti, status = %status_label, latency_ms, attempt, result, error = %err, "token exchange failed");
            }
        }
    }
}

/// One attempt that reached the transport, as its audit line names it.
struct Sent<'a> {
    kid: &'a str,
    jti: &'a str,
    attempt: u32,
    /// HTTP status of Claude's answer; `None` when none came.
    status: Option<u16>,
    latency: Duration,
}

/// The verdict as the retry loop reads it; a token's expiry counts from
/// `sent_at`, when its assertion was signed.
fn into_attempt(verdict: Verdict, sent_at: SystemTime) -> Attempt {
    match verdict {
        Verdict::Done(result) => Attempt::Done(result.map(|token| IssuedToken {
            expires_at: sent_at + Duration::from_secs(token.expires_in),
            lifetime: Duration::from_secs(token.expires_in),
            scope: token.scope,
            access_token: token.access_token,
        })),
        Verdict::Retry { error, retry_after } => Attempt::Retry { error, retry_after },
    }
}

/// The error an exchange ends with once no further attempt is made. A 429
/// is temporary: it becomes `Unavailable` (503 `upstream_unavailable`).
fn give_up(error: ExchangeError, attempts: u32) -> ExchangeError {
    match error {
        ExchangeError::Refused(refusal) if refusal.status == 429 => ExchangeError::Unavailable(
            format!("{} after {attempts} attempt(s)", rate_limited(&refusal)),
        ),
        ExchangeError::Unavailable(detail) => {
            ExchangeError::Unavailable(format!("{detail} (after {attempts} attempt(s))"))
        }
        other => other,
    }
}

fn rate_limited(refusal: &Refusal) -> String {
    format!("rate limited: {}", refusal.summary())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
