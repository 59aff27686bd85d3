//! Test-only endpoints, under `/_test/`. They exist so tests can observe and
//! steer the simulator; real Claude has nothing like them. They never expose
//! a token, an assertion or an API key.
//!
//! - `GET /_test/counters`: [`CountersSnapshot`] as JSON.
//! - `GET /_test/last_request`: `{"headers": {…}, "bearer_valid": bool}` for
//!   the last `/v1/messages` request (`authorization` and `x-api-key`
//!   redacted); 404 before the first one.
//! - `POST /_test/advance_clock` `{"seconds": N}`: moves the clock forward;
//!   answers `{"now": <unix seconds>, "offset_seconds": <total>}`.
//! - `POST /_test/reset`: zeroes the counters and forgets the last request
//!   (minted tokens, used `jti`s and the clock are kept).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::counters::{CountersSnapshot, LastRequest};
use crate::errors::ApiError;

pub async fn counters(State(state): State<AppState>) -> Json<CountersSnapshot> {
    Json(state.counters.snapshot())
}

pub async fn last_request(State(state): State<AppState>) -> Result<Json<LastRequest>, ApiError> {
    state
        .counters
        .last_request()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no /v1/messages request yet"))
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

pub async fn reset(State(state): State<AppState>) -> StatusCode {
    state.counters.reset();
    StatusCode::NO_CONTENT
}
