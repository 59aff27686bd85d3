//! What tests read back through `/_test/counters` and `/_test/last_request`
//! (the last API request).

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use serde::Serialize;

use crate::history::Outcome;
use crate::tokens::TokenGrant;

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
    /// Exchanges by outcome: `success`, `denied`, `invalid_request`
    /// (requests answered by an injected fault are not exchanges).
    pub exchanges_by_outcome: BTreeMap<String, u64>,
    /// Token requests answered by an injected fault.
    pub faults_injected: u64,
    /// JWKS / discovery polls (filled in by the endpoint).
    pub jwks_fetches: u64,
    /// API requests (`/v1/messages`, `/v1/messages/count_tokens`,
    /// `/v1/models`) with a bearer token minted here, unrevoked and unexpired.
    pub requests_with_valid_token: u64,
    /// API requests without one.
    pub requests_without_valid_token: u64,
    /// API requests with a valid token whose scope does not allow the
    /// endpoint (403; also counted as with a valid token).
    pub requests_forbidden: u64,
    /// API requests carrying any `x-api-key` header.
    pub requests_with_api_key: u64,
    /// Admin API requests by the `anthropic-version` they sent.
    pub admin_api_versions: BTreeMap<String, u64>,
}

/// `GET /_test/last_request`: `{"headers": {name: value},
/// "authorization_headers": n, "bearer_valid": bool, "token": {…} | null}` (secret header values redacted; `token`
/// describes the valid token's grant, never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastRequest {
    pub headers: BTreeMap<String, String>,
    /// How many `authorization` headers arrived (their values are redacted).
    pub authorization_headers: usize,
    pub bearer_valid: bool,
    pub token: Option<TokenInfo>,
}

/// What a valid token acts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub federation_rule_id: String,
    pub service_account_id: String,
    pub workspace_id: String,
    pub scope: &'static str,
    pub expires_at: i64,
}

impl From<&TokenGrant> for TokenInfo {
    fn from(grant: &TokenGrant) -> Self {
        Self {
            federation_rule_id: grant.rule.clone(),
            service_account_id: grant.service_account.clone(),
            workspace_id: grant.workspace.clone(),
            scope: grant.scope.as_str(),
            expires_at: grant.expires_at,
        }
    }
}

impl LastRequest {
    /// Copies `headers`, redacting secrets; repeated headers are joined by ", ".
    pub fn capture(headers: &HeaderMap, grant: Option<&TokenGrant>) -> Self {
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
            authorization_headers: headers.get_all("authorization").iter().count(),
            bearer_valid: grant.is_some(),
            token: grant.map(TokenInfo::from),
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

    /// One exchange; `reason` is `None` on success.
    pub fn exchange_outcome(&self, outcome: Outcome, reason: Option<&str>) {
        self.with(|s| {
            *s.counters
                .exchanges_by_outcome
                .entry(outcome.as_str().to_owned())
                .or_default() += 1;
            match reason {
                None => s.counters.exchanges += 1,
                Some(reason) => {
                    *s.counters
                        .exchange_failures
                        .entry(reason.to_owned())
                        .or_default() += 1;
                }
            }
        });
    }

    /// One authorized Admin API request that sent `version`.
    pub fn admin_version(&self, version: &str) {
        self.with(|s| {
            *s.counters
                .admin_api_versions
                .entry(version.to_owned())
                .or_default() += 1;
        });
    }

    pub fn fault_injected(&self) {
        self.with(|s| s.counters.faults_injected += 1);
    }

    /// A valid token was refused for its scope (counted on top of
    /// [`Counters::api_request`]).
    pub fn request_forbidden(&self) {
        self.with(|s| s.counters.requests_forbidden += 1);
    }

    /// One API request.
    pub fn api_request(&self, headers: &HeaderMap, grant: Option<&TokenGrant>) {
        let has_api_key = headers.contains_key("x-api-key");
        let bearer_valid = grant.is_some();
        let last = LastRequest::capture(headers, grant);
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
        headers.append("authorization", HeaderValue::from_static("Bearer unused"));
        headers.append("x-api-key", HeaderValue::from_static("k1"));
        headers.append("x-api-key", HeaderValue::from_static("k2"));
        headers.append("anthropic-beta", HeaderValue::from_static("a"));
        headers.append("anthropic-beta", HeaderValue::from_static("b"));
        let json = serde_json::to_value(LastRequest::capture(&headers, None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "headers": {
                    "authorization": REDACTED,
                    "x-api-key": REDACTED,
                    "anthropic-beta": "a, b",
                },
                "authorization_headers": 2,
                "bearer_valid": false,
                "token": null,
            })
        );
    }

    #[test]
    fn counters_count_and_reset() {
        let counters = Counters::default();
        counters.exchange_outcome(Outcome::Success, None);
        counters.exchange_outcome(Outcome::Denied, Some("expired"));
        counters.exchange_outcome(Outcome::Denied, Some("expired"));
        counters.exchange_outcome(Outcome::InvalidRequest, Some("invalid_request"));
        counters.fault_injected();
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", axum::http::HeaderValue::from_static("k"));
        counters.api_request(&headers, None);
        let snap = counters.snapshot();
        assert_eq!(snap.exchanges, 1);
        assert_eq!(snap.exchange_failures["expired"], 2);
        assert_eq!(
            serde_json::to_value(&snap.exchanges_by_outcome).unwrap(),
            serde_json::json!({"success": 1, "denied": 2, "invalid_request": 1})
        );
        assert_eq!(snap.faults_injected, 1);
        assert_eq!(snap.requests_without_valid_token, 1);
        assert_eq!(snap.requests_with_api_key, 1);
        assert!(counters.last_request().is_some());
        counters.reset();
        assert_eq!(counters.snapshot(), CountersSnapshot::default());
        assert!(counters.last_request().is_none());
    }
}
