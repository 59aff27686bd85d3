//! The issuer-svc call, sans-IO: build `POST /v1/token`, parse its answer.

use claude_wif_api::{AccessToken, ErrorResponse, TokenRequest};
use serde::Deserialize;

use crate::cache::is_valid_token;
use crate::config::IssuerConfig;
use crate::de;

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
    IssuerRequest {
        headers,
        // Strings only: serializing cannot fail.
        body: serde_json::to_vec(&body).unwrap_or_default(),
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

/// A 200 answer as read here: the wire shape of `claude_wif_api::TokenResponse`,
/// each member optional so that a missing one is named. Other members are
/// ignored; type errors never quote a value (the body holds the token).
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default, deserialize_with = "de::some")]
    access_token: Option<String>,
    #[serde(default, deserialize_with = "de::some")]
    token_type: Option<String>,
    #[serde(default, deserialize_with = "de::some")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "de::some")]
    credential_provider: Option<String>,
}

fn parse_token(body: &[u8]) -> Result<IssuedToken, String> {
    let not_a_token = |detail: &str| format!("answer body is not a token response ({detail})");
    let answer: TokenAnswer =
        de::from_slice(body).map_err(|e| match (e.position, e.path.as_str()) {
            (Some((line, column)), _) => not_a_token(&format!("line {line} column {column}")),
            (None, ".") => not_a_token(&e.message),
            (None, path) => not_a_token(&format!("{path}: {}", e.message)),
        })?;
    let missing = |name: &str| not_a_token(&format!("{name} is missing"));
    let access_token = answer.access_token.ok_or_else(|| missing("access_token"))?;
    let token_type = answer.token_type.ok_or_else(|| missing("token_type"))?;
    let expires_in = answer.expires_in.ok_or_else(|| missing("expires_in"))?;
    let credential_provider = answer
        .credential_provider
        .ok_or_else(|| missing("credential_provider"))?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(format!(
            "token_type is {:?}, expected Bearer",
            sanitize(&token_type)
        ));
    }
    if !is_valid_token(&access_token) {
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
        credential_provider: sanitize(&credential_provider),
    })
}

/// The `error_description` of an `ErrorResponse` body: one JSON object with
/// a known `error` code and a string description (other members ignored).
fn error_description(body: &[u8]) -> String {
    match de::from_slice::<ErrorResponse>(body) {
        Ok(answer) => sanitize(&answer.error_description),
        Err(_) => "no readable error description".to_owned(),
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
