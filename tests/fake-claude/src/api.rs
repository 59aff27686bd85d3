//! Authorization for the API endpoints (`/v1/messages`,
//! `/v1/messages/count_tokens`, `/v1/models`): a bearer token minted here,
//! unrevoked and unexpired (401 `authentication_error` otherwise), whose
//! scope allows the endpoint (403 `permission_error` otherwise; see
//! [`crate::scope`]).
//!
//! A Bearer request also needs `oauth-2025-04-20` in `anthropic-beta`
//! (401 otherwise, whatever the token).
//!
//! `x-api-key` never authenticates here (it is only counted): the point of
//! the project is that no API key reaches Claude.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::app::AppState;
use crate::errors::ApiError;
use crate::exchange::has_beta;
use crate::scope::ApiEndpoint;
use crate::tokens::{TokenGrant, last4};

/// The beta flag every request authenticated by an OAuth Bearer token needs.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";

/// The token in `authorization: Bearer <token>` (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Judges the bearer token alone (401s). A Bearer request without
/// `oauth-2025-04-20` in `anthropic-beta` is refused before its token is
/// looked at, as Claude does.
pub fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<TokenGrant, ApiError> {
    let token =
        bearer_token(headers).ok_or_else(|| ApiError::authentication("missing bearer token"))?;
    if !has_beta(headers, OAUTH_BETA) {
        return Err(ApiError::authentication(format!(
            "OAuth authentication is currently not supported without anthropic-beta: {OAUTH_BETA}"
        )));
    }
    state
        .tokens
        .check(token, state.clock.now())
        .map_err(|e| ApiError::authentication(e.to_string()))
}

/// Authenticates, checks the scope, counts and records the request.
pub fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    endpoint: ApiEndpoint,
) -> Result<TokenGrant, ApiError> {
    let auth = authenticate(state, headers);
    state.counters.api_request(headers, auth.as_ref().ok());
    let grant = auth.inspect_err(|error| {
        let token_last4 = bearer_token(headers).map_or("-", last4);
        tracing::info!(
            endpoint = endpoint.as_str(),
            token_last4,
            reason = %error.message,
            "API request refused"
        );
    })?;
    if !grant.scope.allows(endpoint) {
        state.counters.request_forbidden();
        tracing::info!(
            endpoint = endpoint.as_str(),
            scope = %grant.scope,
            rule = %grant.rule,
            "API request outside the token's scope"
        );
        return Err(ApiError::permission(format!(
            "token scope {} does not allow {}",
            grant.scope,
            endpoint.as_str()
        )));
    }
    Ok(grant)
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
}
