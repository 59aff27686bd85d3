//! Claude-style error replies, mapped to the wire in one place.
//!
//! `{"type":"error","error":{"type":"…","message":"…"},"request_id":"req_…"}`
//! with the same id in the `request-id` header.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::Serialize;

pub const REQUEST_ID_HEADER: &str = "request-id";

/// A fresh `req_…` id.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("req_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Claude's `error.type` values used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    Api,
    Overloaded,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RequestTooLarge => "request_too_large",
            Self::RateLimit => "rate_limit_error",
            Self::Api => "api_error",
            Self::Overloaded => "overloaded_error",
        }
    }

    /// The type Claude uses for an HTTP status (injected faults).
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Authentication,
            403 => Self::Permission,
            404 => Self::NotFound,
            413 => Self::RequestTooLarge,
            429 => Self::RateLimit,
            529 => Self::Overloaded,
            code if code >= 500 => Self::Api,
            _ => Self::InvalidRequest,
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Authentication => StatusCode::UNAUTHORIZED,
            Self::Permission => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimit => StatusCode::TOO_MANY_REQUESTS,
            Self::Api => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Overloaded => {
                StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }
}

/// Every error reply fake-claude sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", .error_type.as_str())]
pub struct ApiError {
    pub error_type: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self {
            error_type: ErrorType::InvalidRequest,
            message: message.into(),
        }
    }

    pub fn authentication(message: impl Into<String>) -> Self {
        Self {
            error_type: ErrorType::Authentication,
            message: message.into(),
        }
    }

    pub fn permission(message: impl Into<String>) -> Self {
        Self {
            error_type: ErrorType::Permission,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            error_type: ErrorType::NotFound,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            error_type: ErrorType::Api,
            message: message.into(),
        }
    }
}

/// The wire shape, fields in Claude's order.
#[derive(Debug, Serialize)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorDetail,
    request_id: String,
}

#[derive(Debug, Serialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: &'static str,
    message: String,
}

/// A Claude-shaped error reply with any status (the usual one for
/// `error_type` comes from [`ApiError`]).
pub fn error_reply(status: StatusCode, error_type: ErrorType, message: String) -> Response {
    let request_id = new_request_id();
    let body = ErrorBody {
        kind: "error",
        error: ErrorDetail {
            kind: error_type.as_str(),
            message,
        },
        request_id: request_id.clone(),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_reply(self.error_type.status(), self.error_type, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;
    use serde_json::json;

    #[tokio::test]
    async fn error_body_and_header_carry_the_same_request_id() {
        let response = ApiError::authentication("Authentication failed").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let header = response.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(header.starts_with("req_"));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "error",
                "error": {"type": "authentication_error", "message": "Authentication failed"},
                "request_id": header,
            })
        );
    }

    #[test]
    fn statuses_map_to_claudes_error_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (503, "api_error"),
            (529, "overloaded_error"),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(ErrorType::for_status(status).as_str(), kind, "{status}");
        }
        assert_eq!(ErrorType::Overloaded.status().as_u16(), 529);
    }
}
