//! The rule's workspace as a tagged id, and the service account's
//! membership in it.
//!
//! The Admin API takes only tagged workspace ids (`wrkspc_…`); `default` is
//! a token-exchange shorthand. The `Workspace` type has no "is default"
//! flag, but the list takes `include_default`: the default workspace is the
//! one listed with `include_default=true` and not without it.

use serde::Deserialize;
use serde_json::Value;

use super::client::{AdminApiError, AdminClient};
use super::desired::{Desired, WORKSPACE_ROLE, WorkspaceChoice};

pub const WORKSPACES: &str = "/v1/organizations/workspaces";

/// The rule's workspace, resolved to its tagged id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedWorkspace {
    pub id: String,
    /// Whether it is the organization's default workspace.
    pub default: bool,
}

/// A workspace membership as Claude lists it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct MemberObject {
    pub workspace_id: String,
    pub workspace_role: String,
    /// The implicit `workspace_user` membership of the default workspace.
    #[serde(default)]
    pub implicit: Option<bool>,
}

impl MemberObject {
    pub fn is_implicit(&self) -> bool {
        self.implicit == Some(true)
    }

    /// An explicit membership with at least [`WORKSPACE_ROLE`].
    pub fn suffices(&self) -> bool {
        !self.is_implicit() && role_rank(&self.workspace_role) >= role_rank(WORKSPACE_ROLE)
    }
}

/// Workspace roles from weakest to strongest (`None`: unknown, weakest).
pub fn role_rank(role: &str) -> Option<u8> {
    match role {
        "workspace_user" => Some(0),
        "workspace_restricted_developer" => Some(1),
        "workspace_developer" => Some(2),
        "workspace_admin" => Some(3),
        _ => None,
    }
}

/// The membership in `workspace_id` among `members`: an explicit one when
/// listed, else the implicit one.
pub fn membership_in(members: &[Value], workspace_id: &str) -> Option<MemberObject> {
    let mut listed: Vec<MemberObject> = members
        .iter()
        .filter_map(|m| serde_json::from_value::<MemberObject>(m.clone()).ok())
        .filter(|m| m.workspace_id == workspace_id)
        .collect();
    listed.sort_by_key(MemberObject::is_implicit);
    listed.into_iter().next()
}

fn live_ids(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .filter(|w| w.get("archived_at").is_none_or(Value::is_null))
        .filter_map(|w| w.get("id").and_then(Value::as_str))
        .collect()
}

/// The default workspace's id: the one workspace listed with
/// `include_default=true` (`with_default`) and not without it.
pub fn default_workspace_id(with_default: &[Value], without: &[Value]) -> Result<String, String> {
    let others = live_ids(without);
    let candidates: Vec<&str> = live_ids(with_default)
        .into_iter()
        .filter(|id| !others.contains(id))
        .collect();
    match candidates.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(
            "the workspace list with include_default=true names no workspace that the list \
             without it lacks"
                .to_owned(),
        ),
        many => Err(format!(
            "several workspaces ({}) are listed only with include_default=true",
            many.join(", ")
        )),
    }
}

fn api_detail(err: &AdminApiError) -> String {
    let kind = err
        .error_type
        .as_deref()
        .map(|k| format!("{k}: "))
        .unwrap_or_default();
    match err.status {
        Some(status) => format!("{}: {status} {kind}{}", err.call, err.message),
        None => format!("{}: no answer: {}", err.call, err.message),
    }
}

/// The refusal when the default workspace cannot be found.
pub fn unresolved(desired: &Desired, why: &str) -> String {
    format!(
        "Cannot find the tagged id of the organization's default workspace, which the rule of \
         `{}` covers because it names no workspace ({why}). The Admin API takes only tagged \
         workspace ids, never `default`: set {} to the workspace's `wrkspc_…` id (Claude \
         Console, Settings → Workspaces) and run register again. Nothing was created.",
        desired.name,
        desired.workspace_field()
    )
}

/// Resolves the rule's workspace (read-only). A tagged id is checked
/// against the workspace list when that list can be read.
pub async fn resolve(client: &AdminClient, desired: &Desired) -> Result<ResolvedWorkspace, String> {
    let with_default = client
        .list_sync_pages(&format!("{WORKSPACES}?include_default=true"))
        .await;
    match &desired.workspace {
        WorkspaceChoice::Default => {
            let with_default = with_default.map_err(|e| unresolved(desired, &api_detail(&e)))?;
            let without = client
                .list_sync_pages(WORKSPACES)
                .await
                .map_err(|e| unresolved(desired, &api_detail(&e)))?;
            let id = default_workspace_id(&with_default, &without)
                .map_err(|why| unresolved(desired, &why))?;
            Ok(ResolvedWorkspace { id, default: true })
        }
        WorkspaceChoice::Tagged(id) => {
            let Ok(listed) = with_default else {
                return Ok(ResolvedWorkspace {
                    id: id.clone(),
                    default: false,
                });
            };
            check_tagged(desired, id, &listed)
        }
    }
}

/// A configured `wrkspc_…` id must be a live workspace of the organization.
fn check_tagged(
    desired: &Desired,
    id: &str,
    listed: &[Value],
) -> Result<ResolvedWorkspace, String> {
    if !live_ids(listed).contains(&id) {
        return Err(format!(
            "{}: `{id}` is not a live workspace of this organization (the Admin API's workspace \
             list does not hold it); write the `wrkspc_…` id of an existing workspace, or remove \
             the field to use the default workspace. Nothing was created.",
            desired.workspace_field()
        ));
    }
    Ok(ResolvedWorkspace {
        id: id.to_owned(),
        default: false,
    })
}
