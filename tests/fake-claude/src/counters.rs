//! What tests read back through `/_test/counters` and `/_test/last_request`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use serde::Serialize;

pub const REDACTED: &str = "<redacted>";
/// Header values `/_test/last_request` never exposes.
const SECRET_HEADERS: [&str; 2] = ["authorization", "x-api-key"];

/// `GET /_test/counters`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CountersSnapshot {
    /// Successful token exchanges.
    pub exchanges: u64,
    /// Failed exchanges by reason (denial reasons, plus `invalid_request` for 400s).
    pub exchange_failures: BTreeMap<String, u64>,
    /// `/v1/messages` requests with a bearer token minted here and unexpired.
    pub requests_with_valid_token: u64,
    /// `/v1/messages` requests without one.
    pub requests_without_valid_token: u64,
    /// `/v1/messages` requests carrying any `x-api-key` header.
    pub requests_with_api_key: u64,
}

/// `GET /_test/last_request`: `{"headers": {name: value}, "bearer_valid": bool}`
/// (secret header values redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRequest {
    pub headers: BTreeMap<String, String>,
    pub bearer_valid: bool,
}

impl LastRequest {
    /// Copies `headers`, redacting secrets; repeated headers are joined by ", ".
    pub fn capture(headers: &HeaderMap, bearer_valid: bool) -> Self {
        let mut map: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in headers {
            let name = name.as_str();
            let value = if SECRET_HEADERS.contains(&name) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            map.entry(name.to_owned())
                .and_modify(|existing| {
                    if existing != REDACTED {
                        existing.push_str(", ");
                        existing.push_str(&value);
                    }
                })
                .or_insert(value);
        }
        Self {
            headers: map,
            bearer_valid,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    counters: CountersSnapshot,
    last_request: Option<LastRequest>,
}

#[derive(Debug, Default)]
pub struct Counters {
    state: Mutex<State>,
}

impl Counters {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    pub fn exchange_succeeded(&self) {
        self.with(|s| s.counters.exchanges += 1);
    }

    pub fn exchange_failed(&self, reason: &str) {
        self.with(|s| {
            *s.counters
                .exchange_failures
                .entry(reason.to_owned())
                .or_default() += 1;
        });
    }

    /// One `/v1/messages` request.
    pub fn message_request(&self, headers: &HeaderMap, bearer_valid: bool) {
        let has_api_key = headers.contains_key("x-api-key");
        let last = LastRequest::capture(headers, bearer_valid);
        self.with(|s| {
            if bearer_valid {
                s.counters.requests_with_valid_token += 1;
            } else {
                s.counters.requests_without_valid_token += 1;
            }
            if has_api_key {
                s.counters.requests_with_api_key += 1;
            }
            s.last_request = Some(last);
        });
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        self.with(|s| s.counters.clone())
    }

    pub fn last_request(&self) -> Option<LastRequest> {
        self.with(|s| s.last_request.clone())
    }

    /// Zeroes every counter and forgets the last request.
    pub fn reset(&self) {
        self.with(|s| *s = State::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn last_request_redacts_secrets_and_joins_repeats() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer secret"));
        headers.append("x-api-key", HeaderValue::from_static("k1"));
        headers.append("x-api-key", HeaderValue::from_static("k2"));
        headers.append("anthropic-beta", HeaderValue::from_static("a"));
        headers.append("anthropic-beta", HeaderValue::from_static("b"));
        let json = serde_json::to_value(LastRequest::capture(&headers, true)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "headers": {
                    "authorization": REDACTED,
                    "x-api-key": REDACTED,
                    "anthropic-beta": "a, b",
                },
                "bearer_valid": true,
            })
        );
    }

    #[test]
    fn counters_count_and_reset() {
        let counters = Counters::default();
        counters.exchange_succeeded();
        counters.exchange_failed("expired");
        counters.exchange_failed("expired");
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", axum::http::HeaderValue::from_static("k"));
        counters.message_request(&headers, false);
        let snap = counters.snapshot();
        assert_eq!(snap.exchanges, 1);
        assert_eq!(snap.exchange_failures["expired"], 2);
        assert_eq!(snap.requests_without_valid_token, 1);
        assert_eq!(snap.requests_with_api_key, 1);
        assert!(counters.last_request().is_some());
        counters.reset();
        assert_eq!(counters.snapshot(), CountersSnapshot::default());
        assert!(counters.last_request().is_none());
    }
}
