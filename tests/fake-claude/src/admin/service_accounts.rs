//! `/v1/organizations/service_accounts`: create, list (newest first), get,
//! update, archive, and workspace memberships.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::registry::{AccountRecord, Meta, Org, new_id, rfc3339};
use super::wire::{self, AdminError, ListParams, conflict};
use super::{authorize, check_slug, check_workspace, field_error};
use crate::app::AppState;
use crate::errors::ApiError;
use crate::roles::{Memberships, WorkspaceRole};

/// The wire shape of a service account (SDK `ServiceAccount`).
pub fn account_json(record: &AccountRecord) -> Value {
    let meta = &record.meta;
    json!({
        "type": "service_account",
        "id": record.id,
        "name": meta.name,
        "description": meta.description,
        "organization_role": record.organization_role,
        "created_at": rfc3339(meta.created_at),
        "created_by_actor_id": null,
        "updated_at": rfc3339(meta.updated_at),
        "updated_by_actor_id": null,
        "archived_at": meta.archived_at.map(rfc3339),
        "archived_by_actor_id": null,
    })
}

fn organization_role(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value.as_deref() {
        None => Ok(None),
        Some("developer" | "admin") => Ok(value),
        Some(other) => Err(field_error(
            "organization_role",
            format!("must be developer or admin, got {other:?}"),
        )),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("service account {id:?} not found"))
}

fn live_mut<'a>(org: &'a mut Org, id: &str) -> Result<&'a mut AccountRecord, ApiError> {
    let record = org
        .accounts
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found(id))?;
    if record.meta.live() {
        Ok(record)
    } else {
        Err(ApiError::invalid_request(format!(
            "service account {id:?} is archived"
        )))
    }
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let map = wire::object(&body, &["name", "description", "organization_role"])?;
        let name = wire::required_string(&map, "name")?;
        check_slug("name", &name)?;
        let description = wire::string(&map, "description")?;
        let role = organization_role(wire::string(&map, "organization_role")?)?
            .unwrap_or_else(|| "developer".to_owned());
        let now = state.clock.now();
        let mut org = state.registry.lock();
        if org.accounts.iter().any(|r| r.meta.name == name) {
            return Err(conflict("service account", &name));
        }
        let seq = org.next_seq();
        let record = AccountRecord {
            meta: Meta {
                name,
                description,
                created_at: now,
                updated_at: now,
                archived_at: None,
                seq,
            },
            id: new_id("svac_"),
            organization_role: role,
            members: Memberships::default(),
        };
        let answer = account_json(&record);
        tracing::info!(account = %record.id, name = %record.meta.name, "admin: service account created");
        org.accounts.push(record);
        Ok::<Value, AdminError>(answer)
    })())
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Response {
    let result = (|| {
        authorize(&state, &headers)?;
        let archived = params.include_archived()?;
        let org = state.registry.lock();
        let mut records: Vec<&AccountRecord> = org
            .accounts
            .iter()
            .filter(|r| archived || r.meta.live())
            .collect();
        records.sort_by_key(|r| std::cmp::Reverse(r.meta.seq));
        let items = records
            .into_iter()
            .map(|r| (r.id.clone(), account_json(r)))
            .collect();
        params.page(items, state.config.admin_page_size)
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let org = state.registry.lock();
        let record = org.account(&id).ok_or_else(|| not_found(&id))?;
        Ok::<Value, AdminError>(account_json(record))
    })())
}

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let map = wire::object(&body, &["description", "organization_role"])?;
        let role = organization_role(wire::string(&map, "organization_role")?)?;
        let now = state.clock.now();
        let mut org = state.registry.lock();
        let record = live_mut(&mut org, &id)?;
        if map.contains_key("description") {
            record.meta.description = wire::string(&map, "description")?;
        }
        if let Some(role) = role {
            record.organization_role = role;
        }
        record.meta.updated_at = now;
        Ok::<Value, AdminError>(account_json(record))
    })())
}

pub async fn archive(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let now = state.clock.now();
        let mut org = state.registry.lock();
        let users: Vec<String> = org
            .rules
            .iter()
            .filter(|r| r.meta.live() && r.rule.service_account == id)
            .map(|r| r.rule.id.clone())
            .collect();
        let record = org
            .accounts
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| not_found(&id))?;
        if record.meta.live() && !users.is_empty() {
            return Err(ApiError::invalid_request(format!(
                "service account {id:?} is the target of live federation rule(s) {}: archive them first",
                users.join(", ")
            ))
            .into());
        }
        if record.meta.archived_at.is_none() {
            record.meta.archived_at = Some(now);
        }
        Ok::<Value, AdminError>(account_json(record))
    })())
}

fn member_json(account: &str, workspace: &str, role: &str, implicit: bool) -> Value {
    json!({
        "type": "service_account_workspace_member",
        "service_account_id": account,
        "workspace_id": workspace,
        "workspace_role": role,
        "implicit": implicit,
        "created_by_actor_id": null,
    })
}

/// Every membership: the implicit default-workspace one first when there
/// is no explicit one. Accounts seeded as "every workspace" list them all.
fn memberships(org: &Org, record: &AccountRecord) -> Vec<(String, Value)> {
    let id = &record.id;
    let default = &org.default_workspace;
    let all = std::iter::once(default).chain(&org.workspaces);
    let mut out = Vec::new();
    for ws in all {
        let explicit = record.members.explicit.contains_key(ws) || record.members.every_workspace;
        if let Some(role) = record.members.role_in(ws, default) {
            out.push((ws.clone(), member_json(id, ws, role.as_str(), !explicit)));
        }
    }
    out
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
        let record = org.account(&id).ok_or_else(|| not_found(&id))?;
        let items = if record.meta.live() {
            memberships(&org, record)
        } else {
            Vec::new()
        };
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
        let map = wire::object(&body, &["workspace_id", "workspace_role"])?;
        let workspace = wire::required_string(&map, "workspace_id")?;
        let text = wire::required_string(&map, "workspace_role")?;
        let Some(role) = WorkspaceRole::parse(&text) else {
            let msg = format!("must be one of {}, got {text:?}", WorkspaceRole::names());
            return Err(field_error("workspace_role", msg).into());
        };
        let now = state.clock.now();
        let mut org = state.registry.lock();
        check_workspace(&org, &workspace)?;
        let record = live_mut(&mut org, &id)?;
        record.members.explicit.insert(workspace.clone(), role);
        record.meta.updated_at = now;
        Ok::<Value, AdminError>(member_json(&id, &workspace, role.as_str(), false))
    })())
}

pub async fn remove_workspace(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, workspace)): Path<(String, String)>,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let mut org = state.registry.lock();
        let default = org.default_workspace.clone();
        let record = org
            .accounts
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| not_found(&id))?;
        let explicit = record.members.explicit.remove(&workspace).is_some();
        if !explicit && workspace == default {
            let msg = "the implicit default-workspace membership cannot be removed";
            return Err(field_error("workspace_id", msg).into());
        }
        Ok::<Value, AdminError>(json!({
            "type": "service_account_workspace_member_deleted",
            "service_account_id": id,
            "workspace_id": workspace,
        }))
    })())
}
