//! The plan for one provider, and carrying it out through the Admin API.
//! Every lookup and every refusal happens before the first write: the plan
//! is complete, or register stops with nothing created.

use std::io::Write;

use serde_json::{Value, json};

use super::client::AdminClient;
use super::desired::{Desired, WORKSPACE_ROLE};
use super::discover::{ACCOUNTS, Found, ISSUERS, RULES, archived_holder};
use super::explain::{create_conflict, explain, name_held};
use super::plan::{
    Action, FieldDiff, Kind, PlanItem, issuer_create_body, issuer_diffs, issuer_update_body,
    member_action, rule_create_body, rule_diffs, rule_update_body,
};

/// Every object of the plan, in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The rule's workspace, tagged (`wrkspc_…`).
    pub workspace_id: String,
    pub issuer: PlanItem,
    pub account: PlanItem,
    /// The explicit membership in the rule's workspace.
    pub member: PlanItem,
    pub rule: PlanItem,
}

impl Plan {
    pub fn items(&self) -> Vec<&PlanItem> {
        vec![&self.issuer, &self.account, &self.member, &self.rule]
    }

    /// Objects that differ from the configuration.
    pub fn differing(&self) -> usize {
        self.items()
            .iter()
            .filter(|i| matches!(i.action, Action::Differs(_)))
            .count()
    }

    pub fn changes(&self) -> usize {
        self.items()
            .iter()
            .filter(|i| i.action != Action::Unchanged)
            .count()
    }
}

fn item(
    kind: Kind,
    name: &str,
    id: Option<String>,
    action: Action,
    note: Option<String>,
) -> PlanItem {
    PlanItem {
        kind,
        name: name.to_owned(),
        id,
        action,
        note,
    }
}

fn action(diffs: Vec<FieldDiff>) -> Action {
    if diffs.is_empty() {
        Action::Unchanged
    } else {
        Action::Differs(diffs)
    }
}

/// Refuses a plan that would create an object whose name an archived one
/// holds (the create would be a 409).
fn check_names(found: &Found, desired: &Desired) -> Result<(), String> {
    match found.archived.first() {
        Some((kind, id)) => Err(format!(
            "Cannot register `{}`: {}. Nothing was created.",
            desired.name,
            name_held(*kind, id, desired)
        )),
        None => Ok(()),
    }
}

/// Compares `found` with `desired` (pure); refuses what would fail.
pub fn make_plan(found: &Found, desired: &Desired) -> Result<Plan, String> {
    check_names(found, desired)?;
    let issuer = match &found.issuer {
        None => item(Kind::Issuer, &desired.name, None, Action::Create, None),
        Some((issuer, note)) => item(
            Kind::Issuer,
            &issuer.name,
            Some(issuer.id.clone()),
            action(issuer_diffs(issuer, desired)),
            note.clone(),
        ),
    };
    let account = match &found.account {
        None => item(
            Kind::ServiceAccount,
            &desired.name,
            None,
            Action::Create,
            None,
        ),
        Some((account, note)) => item(
            Kind::ServiceAccount,
            &account.name,
            Some(account.id.clone()),
            Action::Unchanged,
            note.clone(),
        ),
    };
    let workspace = &found.workspace;
    let member = item(
        Kind::Membership,
        &workspace.id,
        None,
        member_action(found.member.as_ref()),
        workspace
            .default
            .then(|| "the default workspace".to_owned()),
    );
    let rule = rule_item(found, desired);
    check_scope(&rule, desired)?;
    Ok(Plan {
        workspace_id: workspace.id.clone(),
        issuer,
        account,
        member,
        rule,
    })
}

/// Scopes an OAuth caller may put on a rule through the Admin API.
pub const ADMIN_API_SCOPES: [&str; 2] = ["workspace:developer", "workspace:inference"];

/// Refuses, before any write, a rule create or scope change the Admin API
/// would refuse (403) after the issuer and service account exist.
fn check_scope(rule: &PlanItem, desired: &Desired) -> Result<(), String> {
    let writes_scope = match &rule.action {
        Action::Create => true,
        Action::Differs(diffs) => diffs.iter().any(|d| d.field == "oauth_scope"),
        Action::Unchanged => false,
    };
    if !writes_scope || ADMIN_API_SCOPES.contains(&desired.oauth_scope.as_str()) {
        return Ok(());
    }
    Err(format!(
        "Cannot register `{}`: {} `{}` can only be granted by a rule made in Claude Console \
         (through the Admin API an OAuth caller may grant only {}). Create the rule in Console \
         and write its id in {}, or choose one of those scopes. Nothing was created.",
        desired.name,
        desired.field("scope"),
        desired.oauth_scope,
        ADMIN_API_SCOPES.join(" or "),
        desired.field("federation_rule_id"),
    ))
}

fn rule_item(found: &Found, desired: &Desired) -> PlanItem {
    const NEW: &str = "(created by this run)";
    match &found.rule {
        None => item(Kind::Rule, &desired.name, None, Action::Create, None),
        Some((rule, note)) => {
            let issuer_id = found.issuer.as_ref().map_or(NEW, |(i, _)| i.id.as_str());
            let account_id = found.account.as_ref().map_or(NEW, |(a, _)| a.id.as_str());
            let diffs = rule_diffs(
                rule,
                desired,
                &found.workspace.id,
                Some(issuer_id),
                Some(account_id),
            );
            item(
                Kind::Rule,
                &rule.name,
                Some(rule.id.clone()),
                action(diffs),
                note.clone(),
            )
        }
    }
}

/// The ids Claude holds after applying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub issuer_id: String,
    pub account_id: String,
    pub rule_id: String,
    /// Objects left differing (no `--update`, or an immutable field).
    pub left_differing: usize,
}

fn id_of(value: &Value) -> Result<String, String> {
    value
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "Claude's answer has no id".to_owned())
}

/// Creates an object named after the provider; a 409 is explained with
/// the archived object holding the name, when there is one.
async fn create(
    client: &AdminClient,
    path: &str,
    body: &Value,
    kind: Kind,
    desired: &Desired,
    out: &mut dyn Write,
) -> Result<String, String> {
    let created = match client.post(path, body).await {
        Ok(created) => created,
        Err(err) if err.status == Some(409) => {
            let held = archived_holder(client, path, &desired.name).await;
            return Err(create_conflict(&err, kind, held.as_deref(), desired));
        }
        Err(err) => return Err(explain(&err, &format!("create the {}", kind.noun()))),
    };
    let id = id_of(&created)?;
    let _ = writeln!(
        out,
        "  created    {} `{}` ({id})",
        kind.noun(),
        desired.name
    );
    Ok(id)
}

/// Applies `plan`: creates what is missing; with `update`, changes what
/// differs.
pub async fn apply(
    client: &AdminClient,
    desired: &Desired,
    plan: &Plan,
    update: bool,
    out: &mut dyn Write,
) -> Result<Applied, String> {
    let mut left = 0;
    let issuer_id = apply_issuer(client, desired, plan, update, &mut left, out).await?;
    let account_id = match &plan.account.id {
        Some(id) => id.clone(),
        None => {
            let body = json!({
                "name": desired.name,
                "description": format!("claude-wif credential provider {}", desired.name),
            });
            create(client, ACCOUNTS, &body, Kind::ServiceAccount, desired, out).await?
        }
    };
    left += apply_member(client, plan, &account_id, update, out).await?;
    let rule_id = match (&plan.rule.action, &plan.rule.id) {
        (Action::Create, _) | (_, None) => {
            let body = rule_create_body(desired, &plan.workspace_id, &issuer_id, &account_id);
            create(client, RULES, &body, Kind::Rule, desired, out).await?
        }
        (Action::Differs(diffs), Some(id)) if update => {
            let change = RuleChange {
                id,
                diffs,
                workspace_id: &plan.workspace_id,
                account_id: &account_id,
            };
            left += update_rule(client, desired, &change, out).await?;
            id.clone()
        }
        (Action::Differs(_), Some(id)) => {
            left += 1;
            id.clone()
        }
        (Action::Unchanged, Some(id)) => id.clone(),
    };
    Ok(Applied {
        issuer_id,
        account_id,
        rule_id,
        left_differing: left,
    })
}

/// The issuer: created, updated (with `update`) or kept; counts one in
/// `left` when left differing.
async fn apply_issuer(
    client: &AdminClient,
    desired: &Desired,
    plan: &Plan,
    update: bool,
    left: &mut usize,
    out: &mut dyn Write,
) -> Result<String, String> {
    match (&plan.issuer.action, &plan.issuer.id) {
        (Action::Create, _) | (_, None) => {
            let body = issuer_create_body(desired);
            create(client, ISSUERS, &body, Kind::Issuer, desired, out).await
        }
        (Action::Differs(diffs), Some(id)) if update => {
            let body = issuer_update_body(diffs, desired);
            client
                .post(&format!("{ISSUERS}/{id}"), &body)
                .await
                .map_err(|e| explain(&e, "update the federation issuer"))?;
            let _ = writeln!(
                out,
                "  updated    federation issuer `{}` ({id})",
                plan.issuer.name
            );
            Ok(id.clone())
        }
        (Action::Differs(_), Some(id)) => {
            *left += 1;
            Ok(id.clone())
        }
        (Action::Unchanged, Some(id)) => Ok(id.clone()),
    }
}

/// The explicit membership: created, or (with `update`) its role raised by
/// the same `POST`, which replaces the role of an existing explicit member.
/// Returns 1 when left differing.
async fn apply_member(
    client: &AdminClient,
    plan: &Plan,
    account_id: &str,
    update: bool,
    out: &mut dyn Write,
) -> Result<usize, String> {
    let done = match &plan.member.action {
        Action::Unchanged => return Ok(0),
        Action::Differs(_) if !update => return Ok(1),
        Action::Differs(_) => "updated",
        Action::Create => "created",
    };
    let body = json!({"workspace_id": plan.workspace_id, "workspace_role": WORKSPACE_ROLE});
    client
        .post(&format!("{ACCOUNTS}/{account_id}/workspaces"), &body)
        .await
        .map_err(|e| explain(&e, "add the service account to the workspace"))?;
    let _ = writeln!(
        out,
        "  {done:<9}  workspace membership `{}` ({WORKSPACE_ROLE})",
        plan.workspace_id
    );
    Ok(0)
}

/// A differing rule and what it should point at.
struct RuleChange<'a> {
    id: &'a str,
    diffs: &'a [FieldDiff],
    workspace_id: &'a str,
    account_id: &'a str,
}

/// Points the rule at `workspace_id` only (tagged ids throughout).
async fn set_rule_workspace(
    client: &AdminClient,
    path: &str,
    workspace_id: &str,
) -> Result<(), String> {
    let what = "update the federation rule's workspaces";
    let current = client.get(path).await.map_err(|e| explain(&e, what))?;
    let listed: Vec<&str> = current
        .get("workspace_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !listed.contains(&workspace_id) {
        client
            .post(
                &format!("{path}/workspaces"),
                &json!({"workspace_id": workspace_id}),
            )
            .await
            .map_err(|e| explain(&e, what))?;
    }
    for ws in listed.iter().filter(|ws| **ws != workspace_id) {
        client
            .delete(&format!("{path}/workspaces/{ws}"))
            .await
            .map_err(|e| explain(&e, what))?;
    }
    if current.get("applies_to_all_workspaces") == Some(&Value::Bool(true)) {
        client
            .post(path, &json!({"applies_to_all_workspaces": false}))
            .await
            .map_err(|e| explain(&e, what))?;
    }
    Ok(())
}

/// Updates a differing rule; returns 1 when something could not be changed.
async fn update_rule(
    client: &AdminClient,
    desired: &Desired,
    change: &RuleChange<'_>,
    out: &mut dyn Write,
) -> Result<usize, String> {
    let id = change.id;
    let path = format!("{RULES}/{id}");
    if change.diffs.iter().any(|d| d.field == "workspaces") {
        set_rule_workspace(client, &path, change.workspace_id).await?;
    }
    let body = rule_update_body(change.diffs, desired, change.account_id);
    if body.as_object().is_some_and(|b| !b.is_empty()) {
        client
            .post(&path, &body)
            .await
            .map_err(|e| explain(&e, "update the federation rule"))?;
    }
    let _ = writeln!(
        out,
        "  updated    federation rule `{}` ({id})",
        desired.name
    );
    if change.diffs.iter().any(|d| d.field == "issuer_id") {
        let _ = writeln!(
            out,
            "  note: a rule's issuer_id cannot be changed; archive rule {id} in Claude and remove \
             federation_rule_id from the configuration to have register create a new rule"
        );
        return Ok(1);
    }
    Ok(0)
}
