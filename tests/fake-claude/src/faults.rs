//! Faults injected on `POST /v1/oauth/token` by tests
//! (`POST /_test/faults`, `DELETE /_test/faults`).
//!
//! A fault applies to the next `count` token requests (or until cleared):
//! first `delay_ms`, then one of `status` (Claude's error shape, with
//! `retry-after` when given), `body` (`malformed`, `oversized`,
//! `non_bearer`) or `drop_connection`; with none of those the request is
//! then answered normally.

use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::errors::{ApiError, ErrorType, error_reply};
use crate::server::DropConnection;
use crate::tokens::AccessToken;

/// The longest delay a fault may ask for.
pub const MAX_DELAY_MS: u64 = 120_000;
/// An `oversized` body is this many bytes larger than the SDKs' 1 MiB cap.
const OVERSIZE: usize = 1024 * 1024 + 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultBody {
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with a JSON body over 1 MiB.
    Oversized,
    /// 200 with a well-formed answer whose `token_type` is `mac`.
    NonBearer,
}

/// `POST /_test/faults` body; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    pub body: Option<FaultBody>,
    #[serde(default)]
    pub drop_connection: bool,
    /// How many token requests it applies to; `None`: until cleared.
    pub count: Option<u64>,
}

impl FaultSpec {
    /// Parses and checks a request body.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let spec: FaultSpec = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid_request(format!("fault: {e}")))?;
        if let Some(status) = spec.status
            && !(400..=599).contains(&status)
        {
            return Err(ApiError::invalid_request("fault: status must be 400..=599"));
        }
        let answers = [
            spec.status.is_some(),
            spec.body.is_some(),
            spec.drop_connection,
        ];
        if answers.iter().filter(|set| **set).count() > 1 {
            let msg = "fault: give at most one of status, body, drop_connection";
            return Err(ApiError::invalid_request(msg));
        }
        if spec.retry_after.is_some() && spec.status.is_none() {
            return Err(ApiError::invalid_request("fault: retry_after needs status"));
        }
        if spec.delay_ms.is_some_and(|ms| ms > MAX_DELAY_MS) {
            let msg = format!("fault: delay_ms must be at most {MAX_DELAY_MS}");
            return Err(ApiError::invalid_request(msg));
        }
        if spec.count == Some(0) {
            return Err(ApiError::invalid_request("fault: count must be at least 1"));
        }
        Ok(spec)
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    current: Mutex<Option<FaultSpec>>,
}

impl Faults {
    pub fn set(&self, spec: FaultSpec) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(spec);
    }

    pub fn clear(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The fault for this token request, if any; uses up one of its `count`.
    pub fn take(&self) -> Option<FaultSpec> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let spec = current.clone()?;
        match spec.count {
            Some(1) => *current = None,
            Some(n) => {
                if let Some(active) = current.as_mut() {
                    active.count = Some(n.saturating_sub(1));
                }
            }
            None => {}
        }
        Some(spec)
    }
}

/// Waits `delay_ms`, then the faulty answer, or `None` to answer normally.
pub async fn apply(spec: &FaultSpec) -> Option<Response> {
    if let Some(ms) = spec.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if spec.drop_connection {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(DropConnection);
        return Some(response);
    }
    if let Some(status) = spec.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let error_type = ErrorType::for_status(status);
        let mut response = error_reply(status, error_type, "Injected fault".to_owned());
        if let Some(seconds) = spec.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Some(response);
    }
    let token = AccessToken::generate();
    match spec.body? {
        FaultBody::Malformed => Some(
            (
                [(header::CONTENT_TYPE, "application/json")],
                "{\"access_token\": \"sk-ant-oat01-",
            )
                .into_response(),
        ),
        FaultBody::Oversized => Some(
            Json(json!({
                "access_token": token.expose(),
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "workspace:developer",
                "padding": "x".repeat(OVERSIZE),
            }))
            .into_response(),
        ),
        FaultBody::NonBearer => Some(
            Json(json!({
                "access_token": token.expose(),
                "token_type": "mac",
                "expires_in": 3600,
                "scope": "workspace:developer",
            }))
            .into_response(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn spec(json: &str) -> Result<FaultSpec, String> {
        FaultSpec::parse(json.as_bytes()).map_err(|e| e.message)
    }

    #[test]
    fn specs_are_checked() {
        assert_eq!(spec("{}").unwrap(), FaultSpec::default());
        let full = spec(r#"{"status": 500, "retry_after": 7, "delay_ms": 0, "body": null, "drop_connection": false, "count": 3}"#).unwrap();
        assert_eq!(
            (full.status, full.retry_after, full.count),
            (Some(500), Some(7), Some(3))
        );
        assert_eq!(
            spec(r#"{"body": "non_bearer"}"#).unwrap().body,
            Some(FaultBody::NonBearer)
        );
        for bad in [
            r#"{"status": 200}"#,
            r#"{"status": 500, "body": "malformed"}"#,
            r#"{"drop_connection": true, "status": 503}"#,
            r#"{"retry_after": 3}"#,
            r#"{"delay_ms": 120001}"#,
            r#"{"count": 0}"#,
            r#"{"body": "weird"}"#,
            r#"{"colour": 1}"#,
        ] {
            assert!(spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn count_is_used_up_and_no_count_lasts_until_cleared() {
        let faults = Faults::default();
        assert_eq!(faults.take(), None);
        faults.set(FaultSpec {
            status: Some(500),
            count: Some(2),
            ..FaultSpec::default()
        });
        assert!(faults.take().is_some());
        assert!(faults.take().is_some());
        assert_eq!(faults.take(), None);
        faults.set(FaultSpec {
            status: Some(500),
            ..FaultSpec::default()
        });
        for _ in 0..5 {
            assert!(faults.take().is_some());
        }
        faults.clear();
        assert_eq!(faults.take(), None);
    }

    async fn body_of(response: Response) -> Vec<u8> {
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    #[tokio::test]
    async fn each_fault_answers_as_documented() {
        let status = FaultSpec {
            status: Some(503),
            retry_after: Some(7),
            ..FaultSpec::default()
        };
        let response = apply(&status).await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "7");
        assert!(
            response.headers()["request-id"]
                .to_str()
                .unwrap()
                .starts_with("req_")
        );
        let body: serde_json::Value = serde_json::from_slice(&body_of(response).await).unwrap();
        assert_eq!(body["error"]["type"], "api_error");

        let malformed = FaultSpec {
            body: Some(FaultBody::Malformed),
            ..FaultSpec::default()
        };
        let response = apply(&malformed).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(serde_json::from_slice::<serde_json::Value>(&body_of(response).await).is_err());

        let oversized = FaultSpec {
            body: Some(FaultBody::Oversized),
            ..FaultSpec::default()
        };
        let bytes = body_of(apply(&oversized).await.unwrap()).await;
        assert!(bytes.len() > 1024 * 1024);
        assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());

        let mac = FaultSpec {
            body: Some(FaultBody::NonBearer),
            ..FaultSpec::default()
        };
        let body: serde_json::Value =
            serde_json::from_slice(&body_of(apply(&mac).await.unwrap()).await).unwrap();
        assert_eq!(body["token_type"], "mac");
        assert!(
            body["access_token"]
                .as_str()
                .unwrap()
                .starts_with("sk-ant-oat01-")
        );

        let drop = FaultSpec {
            drop_connection: true,
            ..FaultSpec::default()
        };
        let response = apply(&drop).await.unwrap();
        assert!(response.extensions().get::<DropConnection>().is_some());

        let delay_only = FaultSpec {
            delay_ms: Some(1),
            ..FaultSpec::default()
        };
        assert!(apply(&delay_only).await.is_none());
    }
}
