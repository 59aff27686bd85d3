//! `POST /v1/messages` (plain or `"stream": true` as server-sent events) and
//! `POST /v1/messages/count_tokens`: Messages API stand-ins that answer only
//! callers authorized by [`crate::api::authorize`].

use std::convert::Infallible;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::authorize;
use crate::app::AppState;
use crate::errors::ApiError;
use crate::scope::ApiEndpoint;

pub const REPLY_TEXT: &str = "Hello from fake-claude.";
/// How [`REPLY_TEXT`] is split into `content_block_delta` events.
pub const REPLY_CHUNKS: [&str; 3] = ["Hello", " from", " fake-claude."];
pub const OUTPUT_TOKENS: u64 = 5;

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
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

/// What the handlers need from a Messages request body.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesRequest {
    pub model: String,
    pub stream: bool,
    pub input_tokens: u64,
}

/// A rough, deterministic token count: one per 4 bytes of JSON, at least 1.
fn count_input_tokens(body: &Value) -> u64 {
    let size = body.get("messages").map_or(0, |m| m.to_string().len());
    u64::try_from(size / 4).unwrap_or(u64::MAX).max(1)
}

/// Checks the fields the real API requires (`max_tokens` only when
/// `needs_max_tokens`, i.e. not for `count_tokens`).
pub fn parse_request(body: &[u8], needs_max_tokens: bool) -> Result<MessagesRequest, ApiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return Err(ApiError::invalid_request("model: field required"));
    };
    match body.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => {}
        Some(Value::Array(_)) => {
            return Err(ApiError::invalid_request(
                "messages: at least one message is required",
            ));
        }
        _ => return Err(ApiError::invalid_request("messages: field required")),
    }
    let max_tokens = body.get("max_tokens").and_then(Value::as_u64);
    if needs_max_tokens && max_tokens.is_none_or(|n| n == 0) {
        return Err(ApiError::invalid_request(
            "max_tokens: a positive integer is required",
        ));
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(ApiError::invalid_request("stream: must be a boolean")),
    };
    Ok(MessagesRequest {
        model: model.to_owned(),
        stream,
        input_tokens: count_input_tokens(&body),
    })
}

fn new_message_id() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("msg_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The whole answer at once.
pub fn message(request: &MessagesRequest) -> MessageResponse {
    MessageResponse {
        id: new_message_id(),
        kind: "message",
        role: "assistant",
        model: request.model.clone(),
        content: vec![TextBlock {
            kind: "text",
            text: REPLY_TEXT.to_owned(),
        }],
        stop_reason: Some("end_turn"),
        stop_sequence: None,
        usage: Usage {
            input_tokens: request.input_tokens,
            output_tokens: OUTPUT_TOKENS,
        },
    }
}

/// The streaming event sequence as `(event name, data)`: `message_start`,
/// `content_block_start`, `ping`, one `content_block_delta` per chunk,
/// `content_block_stop`, `message_delta`, `message_stop`.
pub fn stream_events(request: &MessagesRequest) -> Vec<(&'static str, Value)> {
    let mut start = message(request);
    start.content.clear();
    start.stop_reason = None;
    start.usage.output_tokens = 1;
    let mut events = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": start}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
    ];
    events.extend(REPLY_CHUNKS.iter().map(|chunk| {
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}}),
        )
    }));
    events.extend([
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": OUTPUT_TOKENS}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    events
}

/// `POST /v1/messages`.
pub async fn messages_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let grant = authorize(&state, &headers, ApiEndpoint::Messages)?;
    let request = parse_request(&body, true)?;
    tracing::info!(
        rule = %grant.rule,
        workspace = %grant.workspace,
        model = %request.model,
        stream = request.stream,
        "messages request"
    );
    if !request.stream {
        return Ok(Json(message(&request)).into_response());
    }
    let events = stream_events(&request).into_iter().map(|(name, data)| {
        Ok::<_, Infallible>(Event::default().event(name).data(data.to_string()))
    });
    Ok(Sse::new(futures::stream::iter(events)).into_response())
}

/// `POST /v1/messages/count_tokens`.
pub async fn count_tokens_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, ApiEndpoint::CountTokens)?;
    let request = parse_request(&body, false)?;
    Ok(Json(json!({"input_tokens": request.input_tokens})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_tokens_are_at_least_one() {
        assert_eq!(count_input_tokens(&json!({})), 1);
        let body = json!({"messages": [{"role": "user", "content": "x".repeat(400)}]});
        assert!(count_input_tokens(&body) > 100);
    }

    #[test]
    fn requests_need_model_messages_and_max_tokens() {
        let ok = br#"{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#;
        let request = parse_request(ok, true).unwrap();
        assert_eq!((request.model.as_str(), request.stream), ("m", false));
        for (body, needs_max, message) in [
            (&br#"{"max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#[..], true, "model: field required"),
            (br#"{"model":"m","max_tokens":8,"messages":[]}"#, true, "messages: at least one message is required"),
            (br#"{"model":"m","max_tokens":8}"#, true, "messages: field required"),
            (br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#, true, "max_tokens: a positive integer is required"),
            (br#"{"model":"m","max_tokens":8,"stream":"yes","messages":[{"role":"user","content":"hi"}]}"#, true, "stream: must be a boolean"),
        ] {
            assert_eq!(parse_request(body, needs_max).unwrap_err().message, message);
        }
        let count = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        assert!(parse_request(count, false).is_ok());
    }

    #[test]
    fn the_stream_follows_the_messages_event_sequence() {
        let request = MessagesRequest {
            model: "m".into(),
            stream: true,
            input_tokens: 3,
        };
        let events = stream_events(&request);
        let names: Vec<&str> = events.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        for (name, data) in &events {
            assert_eq!(data["type"], *name, "each event's data carries its type");
        }
        assert_eq!(events[0].1["message"]["content"], json!([]));
        assert_eq!(events[0].1["message"]["stop_reason"], Value::Null);
        let text: String = events
            .iter()
            .filter_map(|(_, data)| data["delta"]["text"].as_str())
            .collect();
        assert_eq!(text, REPLY_TEXT);
        assert_eq!(events[7].1["delta"]["stop_reason"], "end_turn");
    }
}
