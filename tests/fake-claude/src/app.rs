//! Shared state and the router.

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};

use crate::clock::Clock;
use crate::config::Config;
use crate::counters::Counters;
use crate::errors::{ApiError, REQUEST_ID_HEADER, new_request_id};
use crate::jti::JtiStore;
use crate::jwks::{JwksCache, JwksFetcher};
use crate::tokens::TokenStore;
use crate::{exchange, messages, test_endpoints};

/// Everything the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub clock: Clock,
    pub jwks: Arc<JwksCache>,
    pub jti: Arc<JtiStore>,
    pub tokens: Arc<TokenStore>,
    pub counters: Arc<Counters>,
}

impl AppState {
    /// Fresh state; fails only if the HTTP client cannot be built.
    pub fn new(config: Config, clock: Clock) -> Result<Self, reqwest::Error> {
        let jwks = JwksCache::new(
            JwksFetcher::new()?,
            clock.clone(),
            config.jwks_cache_seconds,
            config.issuers.keys(),
        );
        Ok(Self {
            config: Arc::new(config),
            clock,
            jwks: Arc::new(jwks),
            jti: Arc::default(),
            tokens: Arc::default(),
            counters: Arc::default(),
        })
    }
}

/// Adds a `request-id` to responses that have none (error replies set their own).
async fn add_request_id(mut response: Response) -> Response {
    if !response.headers().contains_key(REQUEST_ID_HEADER)
        && let Ok(value) = HeaderValue::from_str(&new_request_id())
    {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Every route fake-claude serves.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v1/oauth/token", post(exchange::token_endpoint))
        .route("/v1/messages", post(messages::messages_endpoint))
        .route("/_test/counters", get(test_endpoints::counters))
        .route("/_test/last_request", get(test_endpoints::last_request))
        .route("/_test/advance_clock", post(test_endpoints::advance_clock))
        .route("/_test/reset", post(test_endpoints::reset))
        .fallback(not_found)
        .layer(axum::middleware::map_response(add_request_id))
        .with_state(state)
}

#[cfg(test)]
mod tests;
