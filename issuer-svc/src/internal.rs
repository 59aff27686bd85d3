//! The internal listener: the token API for the filter, health, readiness,
//! metrics and the admin page ([`crate::admin`]). Bind it to loopback or
//! protect it with an internal API key. Without a key, [`guard`] keeps
//! browsers out (DNS rebinding, cross-site requests).

mod guard;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use claude_wif_api::{TOKEN_PATH, TokenRequest, TokenResponse, check_identity};

use crate::error::AppError;
use crate::keys::KeyState;
use crate::live_config::Served;
use crate::metrics::Gauges;
use crate::policy::PolicyDenial;
use crate::state::AppState;
use crate::tokens::{TokenRequestFor, is_token_sha256};

/// Token requests are two short strings; anything bigger is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn internal_app(state: AppState) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state.clone())
        .merge(crate::admin::admin_app(state))
}

async fn token(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = issue(&state, (&uri, &headers), body).await;
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
    (uri, headers): (&Uri, &HeaderMap),
    body: Result<Bytes, BytesRejection>,
) -> Result<TokenResponse, AppError> {
    let served = state.config.current();
    authorize(&served, uri, headers)?;
    guard::check_json(headers)?;
    let request = parse(body)?;
    let grant = served
        .policy
        .resolve(&request.client_workload, &request.server_workload);
    audit(&served, &request, &grant);
    let grant = grant?;
    let issued = state
        .tokens
        .token(TokenRequestFor {
            provider: &grant.provider,
            client_workload: &grant.client_workload,
            subject: &request.client_workload,
            stale_token_sha256: request.stale_token_sha256.as_deref(),
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

/// Reads and checks the body of a token request.
fn parse(body: Result<Bytes, BytesRejection>) -> Result<TokenRequest, AppError> {
    let body = body.map_err(|rejection| {
        AppError::InvalidRequest(format!("cannot read the body: {}", rejection.body_text()))
    })?;
    let request: TokenRequest = serde_json::from_slice(&body)
        .map_err(|err| AppError::InvalidRequest(format!("body is not a token request: {err}")))?;
    check_identity(&request.client_workload)
        .map_err(|problem| AppError::InvalidRequest(format!("client_workload {problem}")))?;
    check_identity(&request.server_workload)
        .map_err(|problem| AppError::InvalidRequest(format!("server_workload {problem}")))?;
    if let Some(hash) = &request.stale_token_sha256
        && !is_token_sha256(hash)
    {
        return Err(AppError::InvalidRequest(
            "stale_token_sha256 must be the SHA-256 of the token as 64 lowercase hex digits"
                .to_owned(),
        ));
    }
    Ok(request)
}

/// One audit line per access decision.
fn audit(
    served: &Served,
    request: &TokenRequest,
    grant: &Result<crate::policy::Grant, PolicyDenial>,
) {
    let server_workload = request.server_workload.as_str();
    match grant {
        Ok(grant) => {
            tracing::info!(target: "audit", event = "access", decision = "allow", client_workload = %grant.client_workload, identity = %request.client_workload, server_workload, provider = %grant.provider.id, "access granted")
        }
        Err(denial) => {
            let client_workload = served
                .policy
                .client_workload(&request.client_workload)
                .unwrap_or("-");
            let provider = match denial {
                PolicyDenial::ProviderInactive { provider } => provider.as_str(),
                _ => "-",
            };
            tracing::info!(target: "audit", event = "access", decision = "deny", client_workload, identity = %request.client_workload, server_workload, provider, reason = %denial, "access denied");
        }
    }
}

/// With an internal API key configured, requires `authorization: Bearer <key>`;
/// without one, a `Host` no web page can own ([`guard::check_host`]).
fn authorize(served: &Served, uri: &Uri, headers: &HeaderMap) -> Result<(), AppError> {
    let server = &served.config.server;
    let Some(key) = &server.internal_api_key else {
        return guard::check_host(headers, uri, &server.internal_hosts);
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

/// Ready when a configuration is loaded and the active signing key signs.
async fn readyz(State(state): State<AppState>) -> Response {
    let _served = state.config.current();
    let keys = state.keys.current();
    let Some(key) = keys.active(state.clock.now()) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no active signing key").into_response();
    };
    match key.sign(b"issuer-svc readiness probe") {
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::error!(kid = key.kid(), error = %err, "the active signing key cannot sign");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the active signing key cannot sign",
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let served = state.config.current();
    let server = &served.config.server;
    if server.internal_api_key.is_none()
        && let Err(err) = guard::check_host(&headers, &uri, &server.internal_hosts)
    {
        tracing::warn!(path = "/metrics", error = %err, "metrics request refused");
        return err.into_response();
    }
    let states = state.keys.current().key_states(state.clock.now());
    let signing_keys = [
        KeyState::Pending,
        KeyState::Active,
        KeyState::Retired,
        KeyState::Expired,
    ]
    .into_iter()
    .map(|wanted| {
        let count = states.iter().filter(|(_, _, s)| *s == wanted).count();
        (wanted.as_str(), count)
    })
    .collect();
    let gauges = Gauges {
        cache_entries: state.tokens.entries(),
        signing_keys,
        config_loaded: true,
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render_with(&gauges),
    )
        .into_response()
}
