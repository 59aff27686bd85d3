//! `/v1/organizations/federation_rules/{id}/workspaces`: the workspaces a
//! rule is enabled for (list, enable, disable; all idempotent).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::registry::rfc3339;
use super::rules::not_found;
use super::wire::{self, AdminError, ListParams};
use super::{authorize, check_workspace};
use crate::app::AppState;
use crate::errors::ApiError;

fn workspace_json(rule: &str, workspace: &str, created_at: i64) -> Value {
    json!({
        "type": "federation_rule_workspace",
        "federation_rule_id": rule,
        "workspace_id": workspace,
        "workspace_name": null,
        "created_at": rfc3339(created_at),
        "created_by_actor_id": null,
    })
}

pub async fn list_workspaces(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Response {
    let result = (|| {
        authorize(&state, &headers)?;
        let org = state.registry.lock();
        let record = org.rule(&id).ok_or_else(|| not_found(&id))?;
        let items = record
            .workspace_ids
            .iter()
            .map(|(ws, at)| (ws.clone(), workspace_json(&id, ws, *at)))
            .collect();
        params.page(items, state.config.admin_page_size)
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn add_workspace(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let map = wire::object(&body, &["workspace_id"])?;
        let workspace = wire::required_string(&map, "workspace_id")?;
        let now = state.clock.now();
        let mut org = state.registry.lock();
        check_workspace(&org, &workspace)?;
        let record = org
            .rules
            .iter_mut()
            .find(|r| r.rule.id == id)
            .ok_or_else(|| not_found(&id))?;
        if !record.meta.live() {
            let msg = format!("federation rule {id:?} is archived");
            return Err(ApiError::invalid_request(msg).into());
        }
        let created = match record.workspace_ids.iter().find(|(w, _)| *w == workspace) {
            Some((_, at)) => *at,
            None => {
                record.workspace_ids.push((workspace.clone(), now));
                record.meta.updated_at = now;
                record.sync_workspaces();
                now
            }
        };
        Ok::<Value, AdminError>(workspace_json(&id, &workspace, created))
    })())
}

pub async fn remove_workspace(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, workspace)): Path<(String, String)>,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let now = state.clock.now();
        let mut org = state.registry.lock();
        let record = org
            .rules
            .iter_mut()
            .find(|r| r.rule.id == id)
            .ok_or_else(|| not_found(&id))?;
        let before = record.workspace_ids.len();
        record.workspace_ids.retain(|(w, _)| *w != workspace);
        if record.workspace_ids.len() != before {
            record.meta.updated_at = now;
            record.sync_workspaces();
        }
        Ok::<Value, AdminError>(json!({
            "type": "federation_rule_workspace_deleted",
            "federation_rule_id": id,
            "workspace_id": workspace,
        }))
    })())
}
