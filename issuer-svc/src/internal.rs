//! The internal listener: the token API for the filter, health, readiness
//! and metrics. Bind it to loopback or protect it with an internal API key.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use claude_wif_api::{TOKEN_PATH, TokenRequest, TokenResponse};

use crate::error::AppError;
use crate::policy::check_identity;
use crate::state::AppState;
use crate::tokens::TokenRequestFor;

/// Token requests are two short strings; anything bigger is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn internal_app(state: AppState) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = issue(&state, &headers, body).await;
    state
        .metrics
        .token_request(result.as_ref().err().map(AppError::code));
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(err) => {
            tracing::warn!(status = err.code().status(), error = %err, "token request refused");
            err.into_response()
        }
    }
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<TokenResponse, AppError> {
    authorize(state, headers)?;
    let body = body.map_err(|rejection| {
        AppError::InvalidRequest(format!("cannot read the body: {}", rejection.body_text()))
    })?;
    let request: TokenRequest = serde_json::from_slice(&body)
        .map_err(|err| AppError::InvalidRequest(format!("body is not a token request: {err}")))?;
    check_identity(&request.client_workload)
        .map_err(|problem| AppError::InvalidRequest(format!("client_workload {problem}")))?;
    check_identity(&request.server_workload)
        .map_err(|problem| AppError::InvalidRequest(format!("server_workload {problem}")))?;
    let grant = state
        .policy
        .resolve(&request.client_workload, &request.server_workload)?;
    let issued = state
        .tokens
        .token(TokenRequestFor {
            provider: &grant.provider,
            client_workload: &grant.client_workload,
            subject: &request.client_workload,
        })
        .await?;
    let expires_in = issued.expires_in(state.clock.now());
    tracing::info!(provider = %grant.provider.id, client_workload = %grant.client_workload, status = 200, expires_in, token = %issued.access_token, "token issued");
    Ok(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer".to_owned(),
        expires_in,
        credential_provider: grant.provider.id.clone(),
    })
}

/// With an internal API key configured, requires `authorization: Bearer <key>`.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(key) = &state.config.server.internal_api_key else {
        return Ok(());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim());
    match presented {
        Some(secret) if key.matches(secret) => Ok(()),
        _ => Err(AppError::Unauthorized),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.keys.current().active().is_some() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no active signing key").into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}
