//! Claude's federation Admin API, as the official SDK calls it
//! (`client.organization.federation.{issuers,rules}`,
//! `client.organization.service_accounts`):
//!
//! | method | path |
//! |---|---|
//! | `POST`/`GET` | `/v1/organizations/federation_issuers` (create / list) |
//! | `GET`/`POST` | `/v1/organizations/federation_issuers/{id}` (get / update) |
//! | `POST` | `/v1/organizations/federation_issuers/{id}/archive` |
//! | same five | `/v1/organizations/federation_rules…` (list filters `issuer_id`) |
//! | `GET`/`POST` | `/v1/organizations/federation_rules/{id}/workspaces` (list / enable) |
//! | `DELETE` | `/v1/organizations/federation_rules/{id}/workspaces/{workspace_id}` |
//! | same five | `/v1/organizations/service_accounts…` (update: `description`, `organization_role`) |
//! | `GET`/`POST` | `/v1/organizations/service_accounts/{id}/workspaces` (list / add) |
//! | `DELETE` | `/v1/organizations/service_accounts/{id}/workspaces/{workspace_id}` |
//! | `GET` | `/v1/organizations/workspaces` (`include_default`; [`workspaces`]) |
//!
//! Every request needs `anthropic-version` and `authorization: Bearer` with
//! an `org:admin` OAuth token: one of the configured `admin_tokens`, or a
//! token this simulator minted through a rule with `org:admin` scope. An
//! `x-api-key` (Admin API key) is refused with 401, like Claude does.
//!
//! Federation and service-account lists take `limit` (1–100, default 20),
//! `page` (the `next_page` cursor of the previous answer) and
//! `include_archived`; they answer `{"data": […], "next_page": "…" | null}`
//! with at most `admin_page_size` items (default 2, whatever `limit` says),
//! so a client that does not follow `next_page` misses objects. Service
//! accounts are listed newest first, everything else oldest first.
//!
//! Workspace ids are tagged (`wrkspc_…`), the default workspace's included:
//! a `workspace_id` of `default` is refused (400; the literal is the token
//! exchange's alone). Every service account is implicitly a `workspace_user`
//! of the default workspace (listed with `"implicit": true`, not removable).
//!
//! Validation follows the SDK's documentation: names `^[a-z0-9-]+$` and
//! unique in the organization, archived objects' names included (409), issuer URLs Claude can dial
//! for discovery (https, port 443, DNS name; any loopback URL is allowed
//! here), `max_jwt_lifetime_seconds` 1–176400, `token_lifetime_seconds`
//! 60–86400, a rule match needs a non-wildcard `subject_prefix` or
//! `claims` (an `iss` claim equal to the issuer's URL does not count), a rule
//! needs `workspace_id` unless `applies_to_all_workspaces`, OAuth callers may only grant `workspace:developer` or
//! `workspace:inference`, archived objects cannot be updated (400) and an
//! issuer or service account a live rule uses cannot be archived (400).
//! 400 messages start with the field name (`name: …`).

pub mod issuers;
pub mod registry;
pub mod rule_workspaces;
pub mod rules;
pub mod service_accounts;
mod wire;
pub mod workspaces;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};

use crate::app::AppState;
use crate::config::{DEFAULT_WORKSPACE, well_formed_id};
use crate::errors::ApiError;
use crate::scope::OAuthScope;

pub use registry::{ExchangeView, Registry};

/// The Admin API routes.
pub fn routes() -> Router<AppState> {
    const ISSUERS: &str = "/v1/organizations/federation_issuers";
    const RULES: &str = "/v1/organizations/federation_rules";
    const ACCOUNTS: &str = "/v1/organizations/service_accounts";
    Router::new()
        .route(ISSUERS, post(issuers::create).get(issuers::list))
        .route(
            &format!("{ISSUERS}/{{id}}"),
            get(issuers::retrieve).post(issuers::update),
        )
        .route(&format!("{ISSUERS}/{{id}}/archive"), post(issuers::archive))
        .route(RULES, post(rules::create).get(rules::list))
        .route(
            &format!("{RULES}/{{id}}"),
            get(rules::retrieve).post(rules::update),
        )
        .route(&format!("{RULES}/{{id}}/archive"), post(rules::archive))
        .route(
            &format!("{RULES}/{{id}}/workspaces"),
            get(rule_workspaces::list_workspaces).post(rule_workspaces::add_workspace),
        )
        .route(
            &format!("{RULES}/{{id}}/workspaces/{{workspace_id}}"),
            delete(rule_workspaces::remove_workspace),
        )
        .route(
            ACCOUNTS,
            post(service_accounts::create).get(service_accounts::list),
        )
        .route(
            &format!("{ACCOUNTS}/{{id}}"),
            get(service_accounts::retrieve).post(service_accounts::update),
        )
        .route(
            &format!("{ACCOUNTS}/{{id}}/archive"),
            post(service_accounts::archive),
        )
        .route(
            &format!("{ACCOUNTS}/{{id}}/workspaces"),
            get(service_accounts::list_workspaces).post(service_accounts::add_workspace),
        )
        .route(
            &format!("{ACCOUNTS}/{{id}}/workspaces/{{workspace_id}}"),
            delete(service_accounts::remove_workspace),
        )
        .route("/v1/organizations/workspaces", get(workspaces::list))
}

/// Checks `anthropic-version` and the `org:admin` bearer token.
pub fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = header("authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    });
    let Some(token) = bearer.map(str::trim).filter(|t| !t.is_empty()) else {
        let message = if header("x-api-key").is_some() {
            "API keys and Admin API keys are not accepted by the federation Admin API: \
             send an OAuth access token with the org:admin scope as Authorization: Bearer"
        } else {
            "missing Authorization: Bearer <OAuth access token with the org:admin scope>"
        };
        return Err(ApiError::authentication(message));
    };
    let configured = state.config.admin_tokens.iter().any(|t| t.matches(token));
    if !configured {
        match state.tokens.check(token, state.clock.now()) {
            Ok(grant) if grant.scope == OAuthScope::OrgAdmin => {}
            Ok(_) => {
                return Err(ApiError::permission(
                    "this OAuth token lacks the org:admin scope",
                ));
            }
            Err(_) => return Err(ApiError::authentication("invalid bearer token")),
        }
    }
    let Some(version) = header("anthropic-version").filter(|v| !v.trim().is_empty()) else {
        return Err(ApiError::invalid_request(
            "anthropic-version: header is required",
        ));
    };
    state.counters.admin_version(version.trim());
    Ok(())
}

/// A `workspace_id` the Admin API takes: a tagged id of a workspace of the
/// organization. The literal `default` is the token exchange's alone.
pub fn check_workspace(org: &registry::Org, id: &str) -> Result<(), ApiError> {
    if id == DEFAULT_WORKSPACE {
        let msg = "must be a tagged workspace id (\"wrkspc_…\"); \"default\" is accepted only by \
                   the token exchange: list workspaces with include_default=true to find the \
                   default workspace's id";
        return Err(field_error("workspace_id", msg));
    }
    if !well_formed_id(id, "wrkspc_") {
        let msg = format!("must be a tagged workspace id (\"wrkspc_…\"), got {id:?}");
        return Err(field_error("workspace_id", msg));
    }
    if !org.workspace_exists(id) {
        let msg = format!("no workspace {id:?} in this organization");
        return Err(field_error("workspace_id", msg));
    }
    Ok(())
}

/// An error whose message starts with the field it concerns.
pub fn field_error(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_request(format!("{field}: {message}"))
}

/// `^[a-z0-9-]+$`, at most 64 characters.
pub fn check_slug(field: &str, value: &str) -> Result<(), ApiError> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(field_error(
            field,
            format!("must match ^[a-z0-9-]+$ (at most 64 characters), got {value:?}"),
        ))
    }
}

#[cfg(test)]
mod tests;
