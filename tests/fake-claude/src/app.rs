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
use crate::faults::Faults;
use crate::history::AuthHistory;
use crate::jti::JtiStore;
use crate::jwks::{JwksCache, JwksError};
use crate::tokens::TokenStore;
use crate::{admin, exchange, messages, models, test_endpoints};

/// Everything the handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub clock: Clock,
    pub jwks: Arc<JwksCache>,
    pub jti: Arc<JtiStore>,
    pub tokens: Arc<TokenStore>,
    pub counters: Arc<Counters>,
    pub history: Arc<AuthHistory>,
    pub faults: Arc<Faults>,
    /// Issuers, rules and service accounts: seeded from the config, edited
    /// through the Admin API, enforced by the token endpoint.
    pub registry: Arc<admin::Registry>,
}

impl AppState {
    /// Fresh state; fails only if an HTTP client cannot be built.
    pub fn new(config: Config, clock: Clock) -> Result<Self, JwksError> {
        let jwks = JwksCache::new(
            clock.clone(),
            config.jwks_cache_seconds,
            config.issuers.values(),
        )?;
        let registry = admin::Registry::from_config(&config, clock.now());
        Ok(Self {
            registry: Arc::new(registry),
            config: Arc::new(config),
            clock,
            jwks: Arc::new(jwks),
            jti: Arc::default(),
            tokens: Arc::default(),
            counters: Arc::default(),
            history: Arc::default(),
            faults: Arc::default(),
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
        .route(
            "/v1/messages/count_tokens",
            post(messages::count_tokens_endpoint),
        )
        .route("/v1/models", get(models::list_endpoint))
        .route("/v1/models/{model_id}", get(models::get_endpoint))
        .route("/_test/counters", get(test_endpoints::counters))
        .route("/_test/last_request", get(test_endpoints::last_request))
        .route("/_test/advance_clock", post(test_endpoints::advance_clock))
        .route("/_test/reset", post(test_endpoints::reset))
        .route("/_test/revoke_tokens", post(test_endpoints::revoke_tokens))
        .route(
            "/_test/faults",
            post(test_endpoints::set_faults).delete(test_endpoints::clear_faults),
        )
        .route("/_test/auth_history", get(test_endpoints::auth_history))
        .merge(admin::routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response(add_request_id))
        .with_state(state)
}

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod refusal_tests;
#[cfg(test)]
mod tests;
