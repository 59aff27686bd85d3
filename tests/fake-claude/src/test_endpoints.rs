//! Test-only endpoints, under `/_test/`. They exist so tests can observe and
//! steer the simulator; real Claude has nothing like them. They never expose
//! a token, an assertion or an API key.
//!
//! - `GET /_test/counters`: [`CountersSnapshot`] as JSON.
//! - `GET /_test/last_request`: `{"headers": {…}, "bearer_valid": bool}` for
//!   the last API request (`authorization` and `x-api-key` redacted); 404
//!   before the first one.
//! - `GET /_test/auth_history`: every exchange, oldest first, as
//!   [`AuthEvent`]s.
//! - `POST /_test/advance_clock` `{"seconds": N}`: moves the clock forward;
//!   answers `{"now": <unix seconds>, "offset_seconds": <total>}`.
//! - `POST /_test/revoke_tokens`: 204; every token minted so far is revoked.
//! - `POST /_test/faults` [`FaultSpec`]: 204; faults for the next token
//!   requests. `DELETE /_test/faults`: 204; clears them.
//! - `POST /_test/reset`: 204; zeroes the counters and forgets the last
//!   request and the authentication history (minted tokens, used `jti`s,
//!   cached keys, faults and the clock are kept).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::counters::{CountersSnapshot, LastRequest};
use crate::errors::ApiError;
use crate::faults::FaultSpec;
use crate::history::AuthEvent;

pub async fn counters(State(state): State<AppState>) -> Json<CountersSnapshot> {
    let mut snapshot = state.counters.snapshot();
    snapshot.jwks_fetches = state.jwks.fetches();
    Json(snapshot)
}

pub async fn last_request(State(state): State<AppState>) -> Result<Json<LastRequest>, ApiError> {
    state
        .counters
        .last_request()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no API request yet"))
}

pub async fn auth_history(State(state): State<AppState>) -> Json<Vec<AuthEvent>> {
    Json(state.history.events())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClockRequest {
    pub seconds: u32,
}

#[derive(Debug, Serialize)]
pub struct AdvanceClockResponse {
    pub now: i64,
    pub offset_seconds: i64,
}

pub async fn advance_clock(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<AdvanceClockResponse>, ApiError> {
    let request: AdvanceClockRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid_request(format!("expected {{\"seconds\": N}} with N >= 0: {e}"))
    })?;
    state.clock.advance(request.seconds);
    tracing::info!(
        seconds = request.seconds,
        offset = state.clock.offset(),
        "clock advanced"
    );
    Ok(Json(AdvanceClockResponse {
        now: state.clock.now(),
        offset_seconds: state.clock.offset(),
    }))
}

pub async fn revoke_tokens(State(state): State<AppState>) -> StatusCode {
    let revoked = state.tokens.revoke_all();
    tracing::info!(revoked, "every token minted so far revoked");
    StatusCode::NO_CONTENT
}

pub async fn set_faults(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { &body };
    let spec = FaultSpec::parse(body)?;
    tracing::info!(?spec, "token endpoint faults set");
    state.faults.set(spec);
    Ok(StatusCode::NO_CONTENT)
}

pub async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults.clear();
    tracing::info!("token endpoint faults cleared");
    StatusCode::NO_CONTENT
}

pub async fn reset(State(state): State<AppState>) -> StatusCode {
    state.counters.reset();
    state.history.clear();
    state.jwks.reset_fetches();
    StatusCode::NO_CONTENT
}
