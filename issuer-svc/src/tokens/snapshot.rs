//! A read-only view of the token cache (the admin page's live status): one
//! row per (credential provider, client workload identity). It carries the
//! token's last 4 characters only, never the token.

use std::time::{Duration, SystemTime};

use super::{Entry, RefreshDecision, TokenService};

/// Where a cached token is, as an operator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokenState {
    /// A usable token is cached.
    Fresh,
    /// An exchange is running for this key right now.
    Refreshing,
    /// No usable token (expired, inside the mandatory window, or none yet).
    Expired,
    /// The last exchange failed (a cached token may still be served).
    Failing,
}

impl TokenState {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenState::Fresh => "fresh",
            TokenState::Refreshing => "refreshing",
            TokenState::Expired => "expired",
            TokenState::Failing => "failing",
        }
    }
}

/// How the last exchange for a key ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastExchange {
    pub at: SystemTime,
    /// `None` when it succeeded; otherwise the error (Claude's status and
    /// error type, never the assertion).
    pub error: Option<String>,
}

/// One cache entry, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    pub provider: String,
    /// Id of the `[[client_workload]]` that asked (empty if unknown).
    pub client_workload: String,
    /// The client workload identity (the assertion's `sub`).
    pub identity: String,
    pub state: TokenState,
    /// Whole seconds the cached token has left (0 once expired); `None`
    /// when no token is cached.
    pub expires_in: Option<u64>,
    /// The last 4 characters of the cached token.
    pub token_last4: Option<String>,
    /// The scope Claude granted, when it said.
    pub scope: Option<String>,
    pub last_exchange: Option<LastExchange>,
}

impl TokenService {
    /// Every cache entry's status at the service clock's now, ordered by
    /// provider, client workload and identity.
    pub fn snapshot(&self) -> Vec<TokenStatus> {
        let now = self.inner.clock.now();
        let refresh = self.inner.read_settings().refresh;
        let mut rows: Vec<TokenStatus> = self
            .inner
            .lock()
            .iter()
            .map(|(key, entry)| TokenStatus {
                provider: key.provider.clone(),
                client_workload: entry.client_workload.clone(),
                identity: key.subject.clone(),
                state: state_of(entry, now, |left, lifetime| {
                    refresh.decide(Some((left, lifetime)))
                }),
                expires_in: entry.token.as_ref().map(|token| token.expires_in(now)),
                token_last4: entry
                    .token
                    .as_ref()
                    .map(|token| token.access_token.last4().to_owned()),
                scope: entry.token.as_ref().and_then(|token| token.scope.clone()),
                last_exchange: entry.last_exchange.clone(),
            })
            .collect();
        rows.sort_by(|a, b| {
            (&a.provider, &a.client_workload, &a.identity).cmp(&(
                &b.provider,
                &b.client_workload,
                &b.identity,
            ))
        });
        rows
    }
}

fn state_of(
    entry: &Entry,
    now: SystemTime,
    decide: impl Fn(Duration, Duration) -> RefreshDecision,
) -> TokenState {
    if entry.flight.is_some() {
        return TokenState::Refreshing;
    }
    if entry
        .last_exchange
        .as_ref()
        .is_some_and(|last| last.error.is_some())
    {
        return TokenState::Failing;
    }
    let usable = entry.token.as_ref().is_some_and(|token| {
        let left = token
            .expires_at
            .duration_since(now)
            .unwrap_or(Duration::ZERO);
        !left.is_zero() && decide(left, token.lifetime) != RefreshDecision::Wait
    });
    if usable {
        TokenState::Fresh
    } else {
        TokenState::Expired
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::policy::Policy;
    use crate::test_fakes::{ScriptedClaude, one_key};
    use crate::test_support::config;
    use crate::tokens::TokenRequestFor;

    const IDENTITY: &str = "spiffe://cluster.local/ns/demo/sa/app";

    async fn ask(state: &crate::AppState) -> Result<(), crate::exchange::ExchangeError> {
        let grant = Policy::new(&state.config.current().config)
            .resolve(IDENTITY, "api.anthropic.com")
            .map_err(|err| crate::exchange::ExchangeError::Unavailable(err.to_string()))?;
        state
            .tokens
            .token(TokenRequestFor {
                provider: &grant.provider,
                client_workload: &grant.client_workload,
                subject: IDENTITY,
                stale_token_sha256: None,
            })
            .await
            .map(|_| ())
    }

    #[tokio::test]
    async fn a_fresh_token_shows_its_last_four_characters_only() {
        let clock = Arc::new(ManualClock::at_unix(1_700_000_000));
        let claude = Arc::new(ScriptedClaude::default());
        let state = crate::AppState::new(config(), one_key(), clock.clone(), claude);
        assert!(state.tokens.snapshot().is_empty());
        ask(&state).await.unwrap();

        let rows = state.tokens.snapshot();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.provider, "claude-demo");
        assert_eq!(row.client_workload, "demo-app");
        assert_eq!(row.identity, IDENTITY);
        assert_eq!(row.state, TokenState::Fresh);
        assert_eq!(row.expires_in, Some(3600));
        assert_eq!(row.token_last4.as_deref(), Some("tok1"));
        assert_eq!(row.scope.as_deref(), Some("workspace:developer"));
        let last = row.last_exchange.as_ref().unwrap();
        assert_eq!(last.at, clock.now());
        assert_eq!(last.error, None);
        assert!(!format!("{rows:?}").contains("sk-ant-oat01"));

        clock.advance(Duration::from_secs(3600 - 30));
        assert_eq!(state.tokens.snapshot()[0].state, TokenState::Expired);
        clock.advance(Duration::from_secs(60));
        let row = &state.tokens.snapshot()[0];
        assert_eq!((row.state, row.expires_in), (TokenState::Expired, Some(0)));
    }

    #[tokio::test]
    async fn a_refused_exchange_makes_the_entry_failing() {
        let claude = Arc::new(ScriptedClaude::answering([(
            401,
            r#"{"type":"error","error":{"type":"authentication_error","message":"audience_mismatch"}}"#,
        )]));
        let state = crate::test_fakes::state(config(), claude);
        assert!(ask(&state).await.is_err());
        let row = &state.tokens.snapshot()[0];
        assert_eq!(row.state, TokenState::Failing);
        assert_eq!(
            (row.expires_in.as_ref(), row.token_last4.as_ref()),
            (None, None)
        );
        let error = row
            .last_exchange
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap();
        assert!(error.contains("401"), "{error}");
    }

    #[test]
    fn states_have_the_documented_names() {
        let names: Vec<&str> = [
            TokenState::Fresh,
            TokenState::Refreshing,
            TokenState::Expired,
            TokenState::Failing,
        ]
        .into_iter()
        .map(TokenState::as_str)
        .collect();
        assert_eq!(names, ["fresh", "refreshing", "expired", "failing"]);
    }

    #[test]
    fn an_entry_with_an_exchange_running_is_refreshing() {
        let entry = Entry {
            flight: Some((0, futures::future::pending().boxed().shared())),
            ..Default::default()
        };
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            state_of(&entry, now, |_, _| RefreshDecision::UseCached),
            TokenState::Refreshing
        );
        assert_eq!(
            state_of(&Entry::default(), now, |_, _| RefreshDecision::UseCached),
            TokenState::Expired
        );
    }

    use futures::FutureExt;
}
