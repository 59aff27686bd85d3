//! `GET /v1/organizations/workspaces`: the organization's workspaces, as the
//! SDK's `client.organization.workspaces.list` reads them (`SyncPage`:
//! `data`, `has_more`, `first_id`, `last_id`; next page with `after_id`).
//!
//! The default workspace is listed only with `include_default=true`; it is
//! the way a client finds the default workspace's tagged id (the
//! `Workspace` object carries no "is default" flag). Workspaces are never
//! archived here, so `include_archived` changes nothing.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::registry::{Org, rfc3339};
use super::{authorize, field_error};
use crate::app::AppState;
use crate::errors::ApiError;

/// The list's query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct WorkspaceListParams {
    pub limit: Option<String>,
    pub after_id: Option<String>,
    pub before_id: Option<String>,
    pub include_default: Option<String>,
    pub include_archived: Option<String>,
}

fn flag(field: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None | Some("false" | "False" | "0") => Ok(false),
        Some("true" | "True" | "1") => Ok(true),
        Some(other) => Err(field_error(
            field,
            format!("must be a boolean, got {other:?}"),
        )),
    }
}

/// The SDK's `Workspace`.
fn workspace_json(org: &Org, id: &str) -> Value {
    let default = id == org.default_workspace;
    json!({
        "type": "workspace",
        "id": id,
        "name": if default { "Default Workspace" } else { id },
        "created_at": rfc3339(org.created_at),
        "archived_at": null,
        "display_color": "#6C5BB9",
        "tags": {},
        "data_residency": {"workspace_geo": "us", "allowed_inference_geos": "unrestricted", "default_inference_geo": "global"},
        "compartment_id": format!("cmpt_{}", id.trim_start_matches("wrkspc_")),
        "external_key_id": null,
        "user_profile_id": null,
    })
}

fn page(org: &Org, params: &WorkspaceListParams, page_size: usize) -> Result<Value, ApiError> {
    let limit = match params.limit.as_deref() {
        None => 20,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(field_error("limit", "must be an integer in 1..=1000")),
        },
    };
    flag("include_archived", params.include_archived.as_deref())?;
    let include_default = flag("include_default", params.include_default.as_deref())?;
    let mut ids: Vec<&String> = Vec::new();
    if include_default {
        ids.push(&org.default_workspace);
    }
    ids.extend(&org.workspaces);
    let position = |cursor: &str, field: &str| {
        ids.iter()
            .position(|id| *id == cursor)
            .ok_or_else(|| field_error(field, format!("unknown workspace {cursor:?}")))
    };
    let (start, end) = match (params.after_id.as_deref(), params.before_id.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(field_error(
                "after_id",
                "give after_id or before_id, not both",
            ));
        }
        (Some(after), None) => (position(after, "after_id")? + 1, ids.len()),
        (None, Some(before)) => (0, position(before, "before_id")?),
        (None, None) => (0, ids.len()),
    };
    let window = ids.get(start..end).unwrap_or_default();
    let take = limit.min(page_size);
    let data: Vec<&String> = window.iter().take(take).copied().collect();
    Ok(json!({
        "data": data.iter().map(|id| workspace_json(org, id)).collect::<Vec<_>>(),
        "has_more": window.len() > data.len(),
        "first_id": data.first(),
        "last_id": data.last(),
    }))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<WorkspaceListParams>,
) -> Response {
    let result = authorize(&state, &headers).and_then(|()| {
        let org = state.registry.lock();
        page(&org, &params, state.config.admin_page_size)
    });
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}
