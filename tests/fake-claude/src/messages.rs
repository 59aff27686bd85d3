//! `POST /v1/messages`: a Messages API stand-in that only answers callers
//! holding a bearer token minted by this fake-claude.
//!
//! `x-api-key` never authenticates here (it is only counted): the point of
//! the project is that no API key reaches Claude.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::Serialize;
use serde_json::Value;

use crate::app::AppState;
use crate::errors::ApiError;
use crate::tokens::{TokenGrant, last4};

pub const REPLY_TEXT: &str = "Hello from fake-claude.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextBlock {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// The 200 body, shaped like the Messages API's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageResponse {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: String,
    pub content: Vec<TextBlock>,
    pub stop_reason: &'static str,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// The token in `authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Judges the bearer token alone.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<TokenGrant, ApiError> {
    let token =
        bearer_token(headers).ok_or_else(|| ApiError::authentication("missing bearer token"))?;
    state
        .tokens
        .check(token, state.clock.now())
        .map_err(|e| ApiError::authentication(e.to_string()))
}

/// A rough, deterministic token count: one per 4 bytes of JSON, at least 1.
fn count_input_tokens(body: &Value) -> u64 {
    let size = body.get("messages").map_or(0, |m| m.to_string().len());
    u64::try_from(size / 4).unwrap_or(u64::MAX).max(1)
}

fn new_message_id() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("msg_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The route handler.
pub async fn messages_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MessageResponse>, ApiError> {
    let auth = authenticate(&state, &headers);
    state.counters.message_request(&headers, auth.is_ok());
    let grant = match auth {
        Ok(grant) => grant,
        Err(error) => {
            let token_last4 = bearer_token(&headers).map_or("-", last4);
            tracing::info!(token_last4, reason = %error.message, "messages request refused");
            return Err(error);
        }
    };
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return Err(ApiError::invalid_request("model: field required"));
    };
    tracing::info!(
        rule = %grant.rule,
        workspace = %grant.workspace,
        model,
        "messages request"
    );
    Ok(Json(MessageResponse {
        id: new_message_id(),
        kind: "message",
        role: "assistant",
        model: model.to_owned(),
        content: vec![TextBlock {
            kind: "text",
            text: REPLY_TEXT.to_owned(),
        }],
        stop_reason: "end_turn",
        stop_sequence: None,
        usage: Usage {
            input_tokens: count_input_tokens(&body),
            output_tokens: 5,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_token_requires_the_bearer_scheme() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_token(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn input_tokens_are_at_least_one() {
        assert_eq!(count_input_tokens(&serde_json::json!({})), 1);
        let body = serde_json::json!({"messages": [{"role": "user", "content": "x".repeat(400)}]});
        assert!(count_input_tokens(&body) > 100);
    }
}
