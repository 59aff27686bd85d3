//! The issuer-svc call, sans-IO: build `POST /v1/token`, parse its answer.

use claude_wif_api::{AccessToken, ErrorResponse, TokenRequest, TokenResponse};

use crate::cache::is_valid_token;
use crate::config::IssuerConfig;

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
    let body = TokenRequest {
        client_workload: client_workload.to_owned(),
        server_workload: server_workload.to_owned(),
        stale_token_sha256: stale_token_sha256.map(str::to_owned),
    };
    // Serializing strings cannot fail; an empty body would be refused by issuer-svc.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    IssuerRequest { headers, body }
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
    // serde's message is not passed on: it could quote part of the body.
    let answer: TokenResponse = serde_json::from_slice(body).map_err(|e| {
        format!(
            "answer body is not a token response (line {} column {})",
            e.line(),
            e.column()
        )
    })?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "token_type is {:?}, expected Bearer",
            sanitize(&answer.token_type)
        ));
    }
    if !is_valid_token(answer.access_token.expose()) {
        return Err(
            "access_token is empty or contains whitespace, control or non-ASCII characters".into(),
        );
    }
    if answer.expires_in == 0 {
        return Err("expires_in must be greater than 0".into());
    }
    Ok(IssuedToken {
        access_token: answer.access_token,
        expires_in_s: answer.expires_in,
        credential_provider: sanitize(&answer.credential_provider),
    })
}

fn error_description(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(error) => sanitize(&error.error_description),
        Err(_) => "no readable error description".to_owned(),
    }
}

/// Drops control characters and caps the length, for replies and log lines.
fn sanitize(text: &str) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DESCRIPTION_CHARS)
        .collect();
    if text
        .chars()
        .filter(|c| !c.is_control())
        .nth(MAX_DESCRIPTION_CHARS)
        .is_some()
    {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
