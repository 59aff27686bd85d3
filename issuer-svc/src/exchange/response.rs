//! Parsing Claude's token endpoint answers, leniently (documents written by
//! others), and the errors an exchange can end in.

use std::fmt;

use claude_wif_api::AccessToken;
use serde::Deserialize;
use serde_json::Value;

/// Longest part of a Claude error message repeated in our own errors.
const MAX_MESSAGE_CHARS: usize = 300;

/// A token Claude minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangedToken {
    pub access_token: AccessToken,
    pub expires_in: u64,
    pub scope: Option<String>,
}

/// Claude refused the exchange (a 4xx answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

impl Refusal {
    /// `HTTP <status> <type>: <message> (request_id <id>)`, without hint.
    pub fn summary(&self) -> String {
        let mut text = format!("HTTP {}", self.status);
        if let Some(error_type) = &self.error_type {
            text.push(' ');
            text.push_str(error_type);
        }
        if let Some(message) = &self.message {
            text.push_str(": ");
            text.push_str(message);
        }
        if let Some(request_id) = &self.request_id {
            text.push_str(&format!(" (request_id {request_id})"));
        }
        text
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Claude refused the token exchange: {}", self.summary())?;
        if self.status == 401 {
            f.write_str(
                ". Check the federation rule's match conditions (subject_prefix, audience), \
                 set workspace_id when the rule covers several workspaces, and read the \
                 authentication events in Claude Console",
            )?;
        }
        Ok(())
    }
}

/// How an exchange failed. Never carries the assertion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// 4xx: Claude refused; retrying the same way will not help.
    #[error("{0}")]
    Refused(Refusal),
    /// 5xx, connect error, timeout, malformed answer, or no assertion.
    #[error("Claude token endpoint unavailable: {0}")]
    Unavailable(String),
}

impl ExchangeError {
    /// Fills the request id from the `request-id` header when the body had none.
    pub fn with_request_id(self, header: Option<&str>) -> Self {
        match (self, header) {
            (ExchangeError::Refused(mut refusal), Some(id)) if refusal.request_id.is_none() => {
                refusal.request_id = Some(clean(id));
                ExchangeError::Refused(refusal)
            }
            (other, _) => other,
        }
    }

    /// Short label for metrics and logs.
    pub fn outcome(&self) -> &'static str {
        match self {
            ExchangeError::Refused(_) => "refused",
            ExchangeError::Unavailable(_) => "unavailable",
        }
    }
}

#[derive(Deserialize)]
struct SuccessBody {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<Value>,
    scope: Option<String>,
}

/// Parses the answer of `POST /v1/oauth/token`.
pub fn parse_exchange_response(status: u16, body: &[u8]) -> Result<ExchangedToken, ExchangeError> {
    if body.len() > super::MAX_RESPONSE_BYTES {
        return Err(ExchangeError::Unavailable(
            "response body larger than 1 MiB".into(),
        ));
    }
    match status {
        200..=299 => parse_success(body),
        400..=499 => Err(ExchangeError::Refused(parse_refusal(status, body))),
        500..=599 => {
            let detail = parse_refusal(status, body);
            Err(ExchangeError::Unavailable(format!(
                "HTTP {status}{}{}",
                detail
                    .error_type
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default(),
                detail
                    .request_id
                    .map(|id| format!(" (request_id {id})"))
                    .unwrap_or_default(),
            )))
        }
        _ => Err(ExchangeError::Unavailable(format!(
            "unexpected HTTP status {status}"
        ))),
    }
}

fn parse_success(body: &[u8]) -> Result<ExchangedToken, ExchangeError> {
    let malformed =
        |what: &str| ExchangeError::Unavailable(format!("malformed token response: {what}"));
    let parsed: SuccessBody =
        serde_json::from_slice(body).map_err(|_| malformed("not a JSON object"))?;
    let access_token = parsed
        .access_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| malformed("no access_token"))?;
    if let Some(token_type) = &parsed.token_type
        && !token_type.eq_ignore_ascii_case("bearer")
    {
        return Err(malformed(&format!(
            "token_type `{}` is not Bearer",
            clean(token_type)
        )));
    }
    let expires_in = match parsed.expires_in {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|seconds| *seconds > 0)
    .ok_or_else(|| malformed("no positive expires_in"))?;
    Ok(ExchangedToken {
        access_token: AccessToken::new(access_token),
        expires_in,
        scope: parsed.scope,
    })
}

/// Reads `{"type":"error","error":{"type","message"},"request_id"}`, or the
/// older `{"error":"invalid_grant","error_description":…}`; anything else
/// leaves the fields empty.
fn parse_refusal(status: u16, body: &[u8]) -> Refusal {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(clean);
    let (error_type, message) = match value.get("error") {
        Some(Value::Object(error)) => (text(error.get("type")), text(error.get("message"))),
        Some(Value::String(code)) => (Some(clean(code)), text(value.get("error_description"))),
        _ => (None, None),
    };
    Refusal {
        status,
        error_type,
        message,
        request_id: text(value.get("request_id")),
    }
}

/// Drops controls, format characters and separators, and caps the length
/// of text we did not write.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|&c| !claude_wif_api::text::is_hidden_or_control(c))
        .take(MAX_MESSAGE_CHARS)
        .collect()
}
