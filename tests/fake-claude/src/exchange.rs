//! `POST /v1/oauth/token`: the WIF token exchange (RFC 7523 jwt-bearer).
//!
//! Malformed requests get 400 `invalid_request_error`; every denial gets 401
//! `authentication_error` "Authentication failed", and its reason
//! ([`Denial`]) is only logged, counted and recorded in the authentication
//! history (`GET /_test/auth_history`), as in Claude Console. Injected faults
//! ([`crate::faults`]) are applied before any of this.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::assertion::{self, LEEWAY_SECONDS, RawAssertion};
use crate::config::{Config, DEFAULT_WORKSPACE, is_uuid, well_formed_id};
use crate::errors::ApiError;
use crate::faults;
use crate::history::{AuthEvent, Outcome};
use crate::jwks::KeyLookupError;
use crate::roles::WorkspaceRole;
use crate::tokens::{TokenGrant, last4};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const AUTHENTICATION_FAILED: &str = "Authentication failed";
/// The beta flag that routes `/v1/oauth/token` to the federation handler.
pub const FEDERATION_BETA: &str = "oidc-federation-2026-04-01";
/// Shortest token fake-claude mints.
pub const MIN_TOKEN_LIFETIME_SECONDS: i64 = 60;

/// Why an exchange was refused (Claude's authentication-history reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("assertion_too_large")]
    AssertionTooLarge,
    #[error("malformed_jwt")]
    MalformedJwt,
    #[error("unsupported_alg")]
    UnsupportedAlg,
    #[error("missing_kid")]
    MissingKid,
    #[error("unknown_rule")]
    UnknownRule,
    #[error("issuer_mismatch")]
    IssuerMismatch,
    #[error("jwks_unavailable")]
    JwksUnavailable,
    #[error("unknown_kid")]
    UnknownKid,
    #[error("bad_signature")]
    BadSignature,
    #[error("missing_sub")]
    MissingSub,
    #[error("match_subject_prefix")]
    MatchSubjectPrefix,
    #[error("audience_mismatch")]
    AudienceMismatch,
    #[error("match_claims")]
    MatchClaims,
    #[error("missing_iat")]
    MissingIat,
    #[error("iat_in_future")]
    IatInFuture,
    #[error("expired")]
    Expired,
    #[error("nbf_in_future")]
    NbfInFuture,
    #[error("lifetime_too_long")]
    LifetimeTooLong,
    #[error("jti_reused")]
    JtiReused,
    #[error("organization_mismatch")]
    OrganizationMismatch,
    #[error("service_account_mismatch")]
    ServiceAccountMismatch,
    #[error("service_account_not_in_workspace")]
    ServiceAccountNotInWorkspace,
    #[error("workspace_id_required")]
    WorkspaceIdRequired,
    #[error("workspace_not_allowed")]
    WorkspaceNotAllowed,
    #[error("insufficient_workspace_role")]
    InsufficientWorkspaceRole,
}

/// Any refusal of the exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("invalid request: {}", .0.message)]
    InvalidRequest(ApiError),
    #[error("denied: {0}")]
    Denied(Denial),
    /// No `oidc-federation-2026-04-01` in `anthropic-beta`: Claude routes
    /// the request to another OAuth handler, which knows no jwt-bearer grant.
    #[error("unsupported grant type: anthropic-beta lacks {FEDERATION_BETA}")]
    WrongHandler,
}

impl ExchangeError {
    /// The name counted in `exchange_failures`.
    pub fn reason(&self) -> String {
        match self {
            Self::InvalidRequest(_) => "invalid_request".to_owned(),
            Self::Denied(denial) => denial.to_string(),
            Self::WrongHandler => "unsupported_grant_type".to_owned(),
        }
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            Self::InvalidRequest(_) | Self::WrongHandler => Outcome::InvalidRequest,
            Self::Denied(_) => Outcome::Denied,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(error) => error.error_type.status(),
            Self::Denied(_) => StatusCode::UNAUTHORIZED,
            Self::WrongHandler => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<Denial> for ExchangeError {
    fn from(denial: Denial) -> Self {
        Self::Denied(denial)
    }
}

impl IntoResponse for ExchangeError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidRequest(error) => error.into_response(),
            Self::Denied(_) => ApiError::authentication(AUTHENTICATION_FAILED).into_response(),
            Self::WrongHandler => ApiError::invalid_request(format!(
                "unsupported_grant_type: this OAuth handler does not take {GRANT_TYPE}; the \
                 federation token exchange needs anthropic-beta: {FEDERATION_BETA}"
            ))
            .into_response(),
        }
    }
}

/// The request body, after shape checks. Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRequest {
    pub assertion: RawAssertion,
    pub federation_rule_id: String,
    pub organization_id: String,
    pub service_account_id: Option<String>,
    /// `wrkspc_…` or `default`.
    pub workspace_id: Option<String>,
}

/// The 200 body. `Debug` shows only the token's last 4 characters.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct ExchangeResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: &'static str,
}

impl std::fmt::Debug for ExchangeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeResponse")
            .field(
                "access_token",
                &format_args!("…{}", last4(&self.access_token)),
            )
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

fn string_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::invalid_request(format!(
            "{name}: must be a string"
        ))),
    }
}

fn required(body: &Map<String, Value>, name: &str) -> Result<String, ApiError> {
    string_field(body, name)?
        .ok_or_else(|| ApiError::invalid_request(format!("{name}: field required")))
}

/// Shape checks that answer 400 (a well-formed but foreign organization is a
/// denial, decided later).
pub fn parse_request(body: &[u8]) -> Result<ExchangeRequest, ApiError> {
    let body = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ApiError::invalid_request("body must be a JSON object")),
        Err(e) => return Err(ApiError::invalid_request(format!("invalid JSON body: {e}"))),
    };
    let grant_type = required(&body, "grant_type")?;
    if grant_type != GRANT_TYPE {
        let msg = format!("grant_type: must be {GRANT_TYPE:?}");
        return Err(ApiError::invalid_request(msg));
    }
    let assertion = RawAssertion(required(&body, "assertion")?);
    let federation_rule_id = required(&body, "federation_rule_id")?;
    if !well_formed_id(&federation_rule_id, "fdrl_") {
        let msg = "federation_rule_id: must look like \"fdrl_…\"";
        return Err(ApiError::invalid_request(msg));
    }
    let request_org = required(&body, "organization_id")?;
    if !is_uuid(&request_org) {
        return Err(ApiError::invalid_request("organization_id: must be a UUID"));
    }
    let service_account_id = string_field(&body, "service_account_id")?;
    if let Some(id) = &service_account_id
        && !well_formed_id(id, "svac_")
    {
        let msg = "service_account_id: must look like \"svac_…\"";
        return Err(ApiError::invalid_request(msg));
    }
    let workspace_id = string_field(&body, "workspace_id")?;
    if let Some(id) = &workspace_id
        && id != DEFAULT_WORKSPACE
        && !well_formed_id(id, "wrkspc_")
    {
        let msg = "workspace_id: must be \"wrkspc_…\" or \"default\"";
        return Err(ApiError::invalid_request(msg));
    }
    Ok(ExchangeRequest {
        assertion,
        federation_rule_id,
        organization_id: request_org,
        service_account_id,
        workspace_id,
    })
}

/// The workspace the token is for, among those the rule `covered` (tagged
/// ids; the request's `default` is already the default workspace's id).
///
/// Without a `workspace_id`: the rule's sole workspace; `workspace_id_required`
/// when it covers more than one.
pub fn select_workspace(requested: Option<&str>, covered: &[String]) -> Result<String, Denial> {
    match (requested, covered) {
        (Some(id), _) if covered.iter().any(|w| w == id) => Ok(id.to_owned()),
        (Some(_), _) | (None, []) => Err(Denial::WorkspaceNotAllowed),
        (None, [only]) => Ok(only.clone()),
        (None, _) => Err(Denial::WorkspaceIdRequired),
    }
}

/// Whether `anthropic-beta` (comma-separated, possibly repeated) has `flag`.
pub fn has_beta(headers: &HeaderMap, flag: &str) -> bool {
    headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| item.trim() == flag)
}

/// `max(60, min(token_lifetime_seconds, 2 × (exp − now)))`.
pub fn token_lifetime(token_lifetime_seconds: i64, exp: i64, now: i64) -> i64 {
    let remaining = exp.saturating_sub(now).saturating_mul(2);
    token_lifetime_seconds
        .min(remaining)
        .max(MIN_TOKEN_LIFETIME_SECONDS)
}

/// What the log line says about one exchange (never the assertion).
#[derive(Debug, Default, Clone)]
pub struct ExchangeLog {
    pub rule: Option<String>,
    pub issuer: Option<String>,
    pub sub: Option<String>,
    pub kid: Option<String>,
    pub jti: Option<String>,
}

/// Runs every check, then mints the token.
pub async fn exchange(
    state: &AppState,
    body: &[u8],
    log: &mut ExchangeLog,
) -> Result<(ExchangeResponse, TokenGrant), ExchangeError> {
    let config: &Config = &state.config;
    let request = parse_request(body).map_err(ExchangeError::InvalidRequest)?;
    log.rule = Some(request.federation_rule_id.clone());
    let parsed = assertion::parse(&request.assertion)?;
    log.kid = Some(parsed.kid.clone());
    log.sub = parsed.string_claim("sub").map(str::to_owned);
    log.jti = parsed.string_claim("jti").map(str::to_owned);
    if request.organization_id != config.organization_id {
        return Err(Denial::OrganizationMismatch.into());
    }
    // Registered objects (config + Admin API); archived ones are unknown.
    let view = state
        .registry
        .exchange_view(&request.federation_rule_id)
        .ok_or(Denial::UnknownRule)?;
    let (rule, issuer) = (&view.rule, &view.issuer);
    log.issuer = Some(issuer.id.clone());
    assertion::check_issuer(&parsed, issuer)?;
    let jwk = state
        .jwks
        .find_key(issuer, &parsed.kid)
        .await
        .map_err(|e| match e {
            KeyLookupError::Unavailable(error) => {
                tracing::warn!(issuer = %issuer.id, %error, "JWKS unavailable");
                Denial::JwksUnavailable
            }
            KeyLookupError::UnknownKid => Denial::UnknownKid,
        })?;
    assertion::verify_signature(&request.assertion, parsed.alg, &jwk)?;
    let now = state.clock.now();
    let claims = assertion::check_claims(&parsed, issuer, rule, now)?;
    if let Some(requested) = &request.service_account_id
        && *requested != rule.service_account
    {
        return Err(Denial::ServiceAccountMismatch.into());
    }
    let requested = request.workspace_id.as_deref().map(|id| {
        if id == DEFAULT_WORKSPACE {
            view.default_workspace.as_str()
        } else {
            id
        }
    });
    let workspace = select_workspace(requested, &view.covered)?;
    let role = view
        .account
        .as_ref()
        .and_then(|members| members.role_in(&workspace, &view.default_workspace))
        .ok_or(Denial::ServiceAccountNotInWorkspace)?;
    if role < WorkspaceRole::needed_for(rule.oauth_scope, config.developer_scope_role) {
        return Err(Denial::InsufficientWorkspaceRole.into());
    }
    if let (true, Some(jti)) = (issuer.check_jti, &claims.jti) {
        let remember_until = claims.exp.saturating_add(LEEWAY_SECONDS);
        if !state.jti.consume(&issuer.id, jti, remember_until, now) {
            return Err(Denial::JtiReused.into());
        }
    }
    let expires_in = token_lifetime(rule.token_lifetime_seconds, claims.exp, now);
    let grant = TokenGrant {
        rule: rule.id.clone(),
        service_account: rule.service_account.clone(),
        workspace,
        scope: rule.oauth_scope,
        subject: claims.sub,
        expires_at: now.saturating_add(expires_in),
    };
    let token = state.tokens.mint(grant.clone());
    let response = ExchangeResponse {
        access_token: token.expose().to_owned(),
        token_type: "Bearer",
        expires_in,
        scope: rule.oauth_scope.as_str(),
    };
    Ok((response, grant))
}

/// The route handler: applies an injected fault, or runs [`exchange`] and
/// logs, counts and records the outcome.
pub async fn token_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = state.faults.take()
        && let Some(response) = faults::apply(&fault).await
    {
        state.counters.fault_injected();
        tracing::info!(?fault, "token request answered by an injected fault");
        return response;
    }
    let mut log = ExchangeLog::default();
    let outcome = if has_beta(&headers, FEDERATION_BETA) {
        exchange(&state, &body, &mut log).await
    } else {
        Err(ExchangeError::WrongHandler)
    };
    let (status, result, reason) = match &outcome {
        Ok(_) => (StatusCode::OK, Outcome::Success, None),
        Err(error) => (error.status(), error.outcome(), Some(error.reason())),
    };
    state.history.record(AuthEvent {
        time: state.clock.now(),
        outcome: result,
        reason: reason.clone(),
        federation_rule_id: log.rule.clone(),
        issuer: log.issuer.clone(),
        sub: log.sub.clone(),
        kid: log.kid.clone(),
        jti: log.jti.clone(),
        status: status.as_u16(),
    });
    state.counters.exchange_outcome(result, reason.as_deref());
    let field = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    let (rule, sub, kid, jti) = (
        field(&log.rule),
        field(&log.sub),
        field(&log.kid),
        field(&log.jti),
    );
    match outcome {
        Ok((response, grant)) => {
            tracing::info!(
                rule, sub, kid, jti,
                workspace = %grant.workspace,
                expires_in = response.expires_in,
                token_last4 = last4(&response.access_token),
                outcome = "granted",
                "token exchange"
            );
            Json(response).into_response()
        }
        Err(error) => {
            tracing::warn!(
                rule,
                sub,
                kid,
                jti,
                outcome = result.as_str(),
                reason,
                detail = %error,
                "token exchange"
            );
            error.into_response()
        }
    }
}

#[cfg(test)]
mod tests;
