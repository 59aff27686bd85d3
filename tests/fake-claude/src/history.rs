//! The authentication history, like Claude Console's: one event per token
//! exchange with its outcome and reason. Never the assertion or a token.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Oldest events are dropped past this many.
pub const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Denied,
    InvalidRequest,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::InvalidRequest => "invalid_request",
        }
    }
}

/// One exchange, as `GET /_test/auth_history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthEvent {
    /// Unix seconds (fake-claude's clock).
    pub time: i64,
    pub outcome: Outcome,
    /// The denial reason (`match_subject_prefix`, `jti_reused`, …),
    /// `invalid_request` for a 400, `null` on success.
    pub reason: Option<String>,
    pub federation_rule_id: Option<String>,
    /// The federation issuer (`fdis_…`) of the rule, once the rule is known.
    pub issuer: Option<String>,
    pub sub: Option<String>,
    pub kid: Option<String>,
    pub jti: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct AuthHistory {
    events: Mutex<VecDeque<AuthEvent>>,
}

impl AuthHistory {
    pub fn record(&self, event: AuthEvent) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() >= MAX_EVENTS {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// Oldest first.
    pub fn events(&self) -> Vec<AuthEvent> {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time: i64) -> AuthEvent {
        AuthEvent {
            time,
            outcome: Outcome::Denied,
            reason: Some("expired".into()),
            federation_rule_id: Some("fdrl_a".into()),
            issuer: None,
            sub: None,
            kid: Some("k1".into()),
            jti: None,
            status: 401,
        }
    }

    #[test]
    fn events_serialize_in_the_documented_shape_and_are_bounded() {
        let history = AuthHistory::default();
        for time in 0..=i64::try_from(MAX_EVENTS).unwrap() {
            history.record(event(time));
        }
        let events = history.events();
        assert_eq!(events.len(), MAX_EVENTS);
        assert_eq!(events[0].time, 1, "the oldest is dropped");
        assert_eq!(
            serde_json::to_value(&events[0]).unwrap(),
            serde_json::json!({
                "time": 1, "outcome": "denied", "reason": "expired",
                "federation_rule_id": "fdrl_a", "issuer": null, "sub": null,
                "kid": "k1", "jti": null, "status": 401,
            })
        );
        history.clear();
        assert!(history.events().is_empty());
    }
}
