//! The public listener: what Claude fetches to verify assertions. Only the
//! discovery document and the JWKS of each credential provider; everything
//! else is 404 (or 405 for another method on these paths).
//!
//! Both answers carry `cache-control: public, max-age=N` with N a third of
//! `keys.publish_ahead` (at most 300 s), so a cache in front of us, or
//! Claude's own, refetches well before a newly published key starts
//! signing; retired keys stay published far longer than N. They also carry a
//! strong `etag` (SHA-256 of the body) and answer `if-none-match` with 304.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::discovery::DiscoveryDocument;
use crate::state::AppState;

pub fn public_app(state: AppState) -> Router {
    Router::new()
        .route(
            "/providers/{id}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/providers/{id}/jwks.json", get(jwks))
        .with_state(state)
}

async fn discovery(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(provider) = state.config.provider(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let keys = state.keys.current();
    let algs = keys.algorithms(state.clock.now());
    let max_age = keys.policy().cache_max_age().as_secs();
    cacheable(&DiscoveryDocument::new(&provider, &algs), max_age, &headers)
}

async fn jwks(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if state.config.provider(&id).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let keys = state.keys.current();
    let max_age = keys.policy().cache_max_age().as_secs();
    cacheable(&keys.jwks(state.clock.now()), max_age, &headers)
}

/// JSON with `cache-control` and `etag`; 304 when `if-none-match` matches.
fn cacheable(body: &impl Serialize, max_age: u64, request: &HeaderMap) -> Response {
    let Ok(json) = serde_json::to_vec(body) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(Sha256::digest(&json)));
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == etag || tag == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], json).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    response
}
