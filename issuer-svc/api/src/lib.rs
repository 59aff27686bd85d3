//! Wire types of the internal API between the claude-wif filter and issuer-svc.
//!
//! `POST /v1/token` with a [`TokenRequest`] body answers 200 with a
//! [`TokenResponse`], or an [`ErrorResponse`] whose [`ErrorCode`] fixes the
//! HTTP status. This crate is serde-only so it builds for `wasm32-wasip1`.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod identity;
pub mod text;

pub use identity::{IdentityProblem, check_identity};

/// Path of the token endpoint on issuer-svc's internal listener.
pub const TOKEN_PATH: &str = "/v1/token";

/// The server workload every request of this project targets by default.
pub const DEFAULT_SERVER_WORKLOAD: &str = "api.anthropic.com";

/// Longest client workload identity issuer-svc accepts, in bytes.
pub const MAX_IDENTITY_LEN: usize = 2048;

/// Body of `POST /v1/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Identity of the calling workload (a SPIFFE ID or any configured name).
    pub client_workload: String,
    /// The API being called, e.g. `api.anthropic.com`.
    pub server_workload: String,
    /// Lowercase hex SHA-256 of an access token the caller will not use again:
    /// one the server workload just rejected (401), or one the caller is
    /// refreshing ahead of expiry. If issuer-svc's cached token for this client
    /// workload is that token, it is dropped and the answer carries a new one
    /// (one exchange, shared by concurrent callers). Never the token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_token_sha256: Option<String>,
}

/// A Claude access token (`sk-ant-oat01-…`). Its `Debug` and `Display` never
/// show the secret, only its last four characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters: enough to tell tokens apart in a log line.
    pub fn last4(&self) -> &str {
        let len = self.0.len();
        let mut start = len.saturating_sub(4);
        while !self.0.is_char_boundary(start) {
            start += 1;
        }
        self.0.get(start..).unwrap_or("")
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken(…{})", self.last4())
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "…{}", self.last4())
    }
}

/// 200 answer of `POST /v1/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the token stays valid, counted from when the answer was sent.
    pub expires_in: u64,
    /// Id of the credential provider that minted it.
    pub credential_provider: String,
}

/// Error codes of the internal API; each fixes its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed body.
    InvalidRequest,
    /// 401: missing or wrong internal API key.
    Unauthorized,
    /// 403: no access policy grants this client workload.
    AccessDenied,
    /// 502: Claude refused the exchange.
    ExchangeFailed,
    /// 503: Claude unreachable or timed out.
    UpstreamUnavailable,
}

impl ErrorCode {
    pub const fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::AccessDenied => 403,
            Self::ExchangeFailed => 502,
            Self::UpstreamUnavailable => 503,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::AccessDenied => "access_denied",
            Self::ExchangeFailed => "exchange_failed",
            Self::UpstreamUnavailable => "upstream_unavailable",
        }
    }
}

/// Error answer of `POST /v1/token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorCode,
    pub error_description: String,
}

impl ErrorResponse {
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn token_request_rejects_unknown_fields() {
        let body = r#"{"client_workload":"a","server_workload":"b","extra":1}"#;
        assert!(serde_json::from_str::<TokenRequest>(body).is_err());
    }

    #[test]
    fn token_request_stale_hash_is_optional_and_omitted_when_unset() {
        let body = r#"{"client_workload":"a","server_workload":"b"}"#;
        let parsed: TokenRequest = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.stale_token_sha256, None);
        assert_eq!(serde_json::to_string(&parsed).unwrap(), body);
    }

    #[test]
    fn access_token_debug_and_display_redact() {
        let token = AccessToken::new("sk-ant-oat01-secretpart-WXYZ");
        assert_eq!(format!("{token:?}"), "AccessToken(…WXYZ)");
        assert_eq!(format!("{token}"), "…WXYZ");
        assert!(!format!("{token:?}{token}").contains("secretpart"));
    }

    #[test]
    fn last4_handles_short_and_multibyte_tokens() {
        assert_eq!(AccessToken::new("ab").last4(), "ab");
        assert_eq!(AccessToken::new("").last4(), "");
        assert_eq!(AccessToken::new("xxééé").last4(), "éé");
        // The last 4 bytes start inside a character: step forward (never
        // back, which would show more of the token).
        assert_eq!(AccessToken::new("a€€").last4(), "€");
        assert_eq!(AccessToken::new("sk-ant-oat01-€€").last4(), "€");
    }

    #[test]
    fn token_response_round_trips_with_secret_on_the_wire() {
        let body = r#"{"access_token":"sk-ant-oat01-abc","token_type":"Bearer","expires_in":3540,"credential_provider":"claude-prod"}"#;
        let parsed: TokenResponse = serde_json::from_str(body).unwrap();
        assert_eq!(parsed.access_token.expose(), "sk-ant-oat01-abc");
        assert_eq!(parsed.expires_in, 3540);
        assert_eq!(serde_json::to_string(&parsed).unwrap(), body);
    }

    #[test]
    fn error_codes_map_to_documented_statuses() {
        let cases = [
            (ErrorCode::InvalidRequest, 400, "invalid_request"),
            (ErrorCode::Unauthorized, 401, "unauthorized"),
            (ErrorCode::AccessDenied, 403, "access_denied"),
            (ErrorCode::ExchangeFailed, 502, "exchange_failed"),
            (ErrorCode::UpstreamUnavailable, 503, "upstream_unavailable"),
        ];
        for (code, status, name) in cases {
            assert_eq!(code.status(), status);
            assert_eq!(code.as_str(), name);
            let json = serde_json::to_string(&ErrorResponse::new(code, "x")).unwrap();
            assert_eq!(
                json,
                format!(r#"{{"error":"{name}","error_description":"x"}}"#)
            );
        }
    }
}
