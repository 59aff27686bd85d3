//! The public listener: what Claude fetches to verify assertions. Only the
//! discovery document and the JWKS of each credential provider; everything
//! else is 404 (or 405 for another method on these paths).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;

use crate::discovery::DiscoveryDocument;
use crate::state::AppState;

/// Five minutes. Claude polls the JWKS about once a minute and new keys are
/// published 15 min before they sign (DESIGN.md, `keys rotate`), so a cache
/// in front of us may hold the document this long without ever hiding a key
/// that is already signing; retired keys stay published far longer than this.
const CACHE_CONTROL: &str = "public, max-age=300";

pub fn public_app(state: AppState) -> Router {
    Router::new()
        .route(
            "/providers/{id}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/providers/{id}/jwks.json", get(jwks))
        .with_state(state)
}

async fn discovery(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(provider) = state.config.provider(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let keys = state.keys.current();
    let mut algs: Vec<&str> = keys.keys().iter().map(|k| k.key.alg().as_str()).collect();
    algs.sort_unstable();
    algs.dedup();
    cacheable(Json(DiscoveryDocument::new(provider, &algs)))
}

async fn jwks(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if state.config.provider(&id).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    cacheable(Json(state.keys.current().jwks()))
}

fn cacheable(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    response
}
