//! The token exchange at Claude (RFC 7523 jwt-bearer), sans-IO: a pure
//! request builder and a pure response parser; [`client`] does the I/O.

mod client;
mod response;
mod retry;

use std::time::Duration;

use serde::Serialize;

use crate::config::{ClaudeConfig, ProviderConfig};
use crate::signing::Assertion;

pub use client::{HttpTransport, RawResponse, Transport, exchange};
pub use response::{ExchangeError, ExchangedToken, Refusal, parse_exchange_response};
pub use retry::{RetryPolicy, Verdict, judge, parse_retry_after};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const ANTHROPIC_BETA: &str = "oauth-2025-04-20,oidc-federation-2026-04-01";
/// Refuse token endpoint answers larger than this (as the SDKs do).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// `claude-wif-issuer-svc/<version>`.
pub fn user_agent() -> String {
    format!("claude-wif-issuer-svc/{}", env!("CARGO_PKG_VERSION"))
}

/// JSON body of `POST /v1/oauth/token`. No `scope`: it comes from the rule.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeBody {
    pub grant_type: &'static str,
    pub assertion: Assertion,
    pub federation_rule_id: String,
    pub organization_id: String,
    pub service_account_id: String,
    /// Sent only when configured; never `""`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// Everything needed to send one exchange. `Debug` shows no assertion.
#[derive(Debug, Clone)]
pub struct ExchangeRequest {
    pub url: String,
    /// How long this one request may take (the rest of the exchange's budget).
    pub timeout: Duration,
    pub headers: Vec<(&'static str, String)>,
    pub body: ExchangeBody,
}

impl ExchangeRequest {
    pub fn body_json(&self) -> Result<Vec<u8>, ExchangeError> {
        serde_json::to_vec(&self.body)
            .map_err(|err| ExchangeError::Unavailable(format!("cannot encode the request: {err}")))
    }
}

/// Builds the exchange of `assertion` for `provider`'s token.
pub fn build_exchange_request(
    claude: &ClaudeConfig,
    provider: &ProviderConfig,
    assertion: Assertion,
) -> ExchangeRequest {
    let wif = &provider.claude_wif;
    ExchangeRequest {
        url: claude.token_url(),
        timeout: claude.timeout,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("anthropic-beta", ANTHROPIC_BETA.to_owned()),
            ("user-agent", user_agent()),
        ],
        body: ExchangeBody {
            grant_type: GRANT_TYPE,
            assertion,
            federation_rule_id: wif.federation_rule_id.clone(),
            organization_id: wif.organization_id.clone(),
            service_account_id: wif.service_account_id.clone(),
            workspace_id: wif.workspace_id.clone().filter(|id| !id.is_empty()),
        },
    }
}

#[cfg(test)]
mod tests;
