//! The issuer-svc call, sans-IO: build `POST /v1/token`, parse its answer.

use claude_wif_api::{AccessToken, ErrorCode};

use crate::cache::is_valid_token;
use crate::config::IssuerConfig;
use crate::json::{self, ObjectWriter, Value};

/// Longest issuer answer body read, in bytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Longest issuer error description passed on to clients and logs, in chars.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// One `POST <token_path>` call to issuer-svc, ready for `Host::dispatch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRequest {
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl IssuerRequest {
    pub fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }
}

/// Builds the token request for one client workload. `stale_token_sha256`
/// names a token the caller will not use again (rejected with 401, or being
/// refreshed ahead of expiry), so issuer-svc answers with a new one.
pub fn build_request(
    config: &IssuerConfig,
    client_workload: &str,
    server_workload: &str,
    stale_token_sha256: Option<&str>,
) -> IssuerRequest {
    let mut headers = vec![
        (":method", "POST".to_owned()),
        (":path", config.token_path.clone()),
        (":authority", config.authority.clone()),
        ("content-type", "application/json".to_owned()),
    ];
    if let Some(key) = &config.internal_api_key {
        headers.push(("authorization", format!("Bearer {}", key.expose())));
    }
    // The wire shape of `claude_wif_api::TokenRequest`.
    let mut body = ObjectWriter::new()
        .string("client_workload", client_workload)
        .string("server_workload", server_workload);
    if let Some(hash) = stale_token_sha256 {
        body = body.string("stale_token_sha256", hash);
    }
    IssuerRequest {
        headers,
        body: body.finish().into_bytes(),
    }
}

/// A token issuer-svc handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    pub expires_in_s: u64,
    pub credential_provider: String,
}

/// Why the issuer answer gave no token. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerError {
    /// No `:status`: timeout, reset, or no healthy host.
    NoAnswer,
    /// 403: no access policy grants this client workload.
    Denied { description: String },
    /// Any other status, or a 200 whose body is not a usable token.
    Failed { status: String, description: String },
}

/// Parses issuer-svc's answer from its `:status` header and body.
pub fn parse_response(status: Option<&[u8]>, body: &[u8]) -> Result<IssuedToken, IssuerError> {
    let Some(status) = status else {
        return Err(IssuerError::NoAnswer);
    };
    let status = sanitize(&String::from_utf8_lossy(status));
    match status.as_str() {
        "200" => parse_token(body).map_err(|description| IssuerError::Failed {
            status,
            description,
        }),
        "403" => Err(IssuerError::Denied {
            description: error_description(body),
        }),
        _ => Err(IssuerError::Failed {
            description: error_description(body),
            status,
        }),
    }
}

fn parse_token(body: &[u8]) -> Result<IssuedToken, String> {
    // Neither the parser's message nor a value is passed on: the body holds
    // the token. Positions and member names are safe to report.
    let not_a_token = |detail: String| format!("answer body is not a token response ({detail})");
    let answer = json::parse(body)
        .map_err(|e| not_a_token(format!("line {} column {}", e.line(), e.column())))?;
    // The wire shape of `claude_wif_api::TokenResponse`; other members are ignored.
    let members = answer
        .as_object()
        .ok_or_else(|| not_a_token(format!("expected an object, found {}", answer.kind())))?;
    let string = |name: &str| match json::get(members, name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(other) => Err(not_a_token(format!(
            "{name}: expected a string, found {}",
            other.kind()
        ))),
        None => Err(not_a_token(format!("{name} is missing"))),
    };
    let access_token = string("access_token")?;
    let token_type = string("token_type")?;
    let expires_in = match json::get(members, "expires_in") {
        Some(value) => value.as_u64().ok_or_else(|| {
            not_a_token(format!(
                "expires_in: expected a non-negative integer, found {}",
                value.kind()
            ))
        })?,
        None => return Err(not_a_token("expires_in is missing".into())),
    };
    let credential_provider = string("credential_provider")?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "token_type is {:?}, expected Bearer",
            sanitize(token_type)
        ));
    }
    if !is_valid_token(access_token) {
        return Err(
            "access_token is empty or contains whitespace, control or non-ASCII characters".into(),
        );
    }
    if expires_in == 0 {
        return Err("expires_in must be greater than 0".into());
    }
    Ok(IssuedToken {
        access_token: AccessToken::new(access_token),
        expires_in_s: expires_in,
        credential_provider: sanitize(credential_provider),
    })
}

/// The error codes of `claude_wif_api::ErrorResponse`.
const ERROR_CODES: [ErrorCode; 5] = [
    ErrorCode::InvalidRequest,
    ErrorCode::Unauthorized,
    ErrorCode::AccessDenied,
    ErrorCode::ExchangeFailed,
    ErrorCode::UpstreamUnavailable,
];

/// The `error_description` of an `ErrorResponse` body (`error` a known code).
fn error_description(body: &[u8]) -> String {
    let answer = json::parse(body).ok();
    let known_code = answer
        .as_ref()
        .and_then(|a| a.get("error"))
        .and_then(Value::as_str)
        .is_some_and(|code| ERROR_CODES.iter().any(|c| c.as_str() == code));
    match answer
        .as_ref()
        .and_then(|a| a.get("error_description"))
        .and_then(Value::as_str)
    {
        Some(description) if known_code => sanitize(description),
        _ => "no readable error description".to_owned(),
    }
}

/// Drops control, format and separator characters and caps the length,
/// for replies and log lines.
fn sanitize(text: &str) -> String {
    let visible = || {
        text.chars()
            .filter(|c| !claude_wif_api::text::is_hidden_or_control(*c))
    };
    let mut out: String = visible().take(MAX_DESCRIPTION_CHARS).collect();
    if visible().nth(MAX_DESCRIPTION_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
