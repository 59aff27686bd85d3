//! The plan for one provider, and carrying it out through the Admin API.

use std::io::Write;

use serde_json::{Value, json};

use super::client::AdminClient;
use super::desired::{Desired, WORKSPACE_ROLE};
use super::discover::{ACCOUNTS, Found, ISSUERS, RULES};
use super::explain::explain;
use super::plan::{
    Action, FieldDiff, Kind, PlanItem, issuer_create_body, issuer_diffs, issuer_update_body,
    rule_create_body, rule_diffs, rule_update_body,
};

/// Every object of the plan, in the order they are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub issuer: PlanItem,
    pub account: PlanItem,
    pub member: Option<PlanItem>,
    pub rule: PlanItem,
}

impl Plan {
    pub fn items(&self) -> Vec<&PlanItem> {
        let mut items = vec![&self.issuer, &self.account];
        items.extend(self.member.as_ref());
        items.push(&self.rule);
        items
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

/// Compares `found` with `desired` (pure).
pub fn make_plan(found: &Found, desired: &Desired) -> Plan {
    const NEW: &str = "(created by this run)";
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
    let member = found.member.map(|member| {
        let action = if member {
            Action::Unchanged
        } else {
            Action::Create
        };
        item(Kind::Membership, &desired.workspace, None, action, None)
    });
    let rule = match &found.rule {
        None => item(Kind::Rule, &desired.name, None, Action::Create, None),
        Some((rule, note)) => {
            let issuer_id = found.issuer.as_ref().map_or(NEW, |(i, _)| i.id.as_str());
            let account_id = found.account.as_ref().map_or(NEW, |(a, _)| a.id.as_str());
            let diffs = rule_diffs(rule, desired, Some(issuer_id), Some(account_id));
            item(
                Kind::Rule,
                &rule.name,
                Some(rule.id.clone()),
                action(diffs),
                note.clone(),
            )
        }
    };
    Plan {
        issuer,
        account,
        member,
        rule,
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
    let issuer_id = match (&plan.issuer.action, &plan.issuer.id) {
        (Action::Create, _) | (_, None) => {
            let created = client
                .post(ISSUERS, &issuer_create_body(desired))
                .await
                .map_err(|e| explain(&e, "create the federation issuer"))?;
            let id = id_of(&created)?;
            let _ = writeln!(
                out,
                "  created    federation issuer `{}` ({id})",
                desired.name
            );
            id
        }
        (Action::Differs(diffs), Some(id)) if update => {
            client
                .post(
                    &format!("{ISSUERS}/{id}"),
                    &issuer_update_body(diffs, desired),
                )
                .await
                .map_err(|e| explain(&e, "update the federation issuer"))?;
            let _ = writeln!(
                out,
                "  updated    federation issuer `{}` ({id})",
                plan.issuer.name
            );
            id.clone()
        }
        (Action::Differs(_), Some(id)) => {
            left += 1;
            id.clone()
        }
        (Action::Unchanged, Some(id)) => id.clone(),
    };
    let account_id = match &plan.account.id {
        Some(id) => id.clone(),
        None => {
            let body = json!({
                "name": desired.name,
                "description": format!("claude-wif credential provider {}", desired.name),
            });
            let created = client
                .post(ACCOUNTS, &body)
                .await
                .map_err(|e| explain(&e, "create the service account"))?;
            let id = id_of(&created)?;
            let _ = writeln!(
                out,
                "  created    service account `{}` ({id})",
                desired.name
            );
            id
        }
    };
    if let Some(member) = &plan.member
        && member.action == Action::Create
    {
        let body = json!({"workspace_id": desired.workspace, "workspace_role": WORKSPACE_ROLE});
        client
            .post(&format!("{ACCOUNTS}/{account_id}/workspaces"), &body)
            .await
            .map_err(|e| explain(&e, "add the service account to the workspace"))?;
        let _ = writeln!(
            out,
            "  created    workspace membership `{}` ({WORKSPACE_ROLE})",
            desired.workspace
        );
    }
    let rule_id = match (&plan.rule.action, &plan.rule.id) {
        (Action::Create, _) | (_, None) => {
            let created = client
                .post(RULES, &rule_create_body(desired, &issuer_id, &account_id))
                .await
                .map_err(|e| explain(&e, "create the federation rule"))?;
            let id = id_of(&created)?;
            let _ = writeln!(
                out,
                "  created    federation rule `{}` ({id})",
                desired.name
            );
            id
        }
        (Action::Differs(diffs), Some(id)) if update => {
            left += update_rule(client, desired, id, diffs, &account_id, out).await?;
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

/// Updates a differing rule; returns 1 when something could not be changed.
async fn update_rule(
    client: &AdminClient,
    desired: &Desired,
    id: &str,
    diffs: &[FieldDiff],
    account_id: &str,
    out: &mut dyn Write,
) -> Result<usize, String> {
    let what = "update the federation rule";
    let path = format!("{RULES}/{id}");
    if diffs.iter().any(|d| d.field == "workspaces") {
        let current = client.get(&path).await.map_err(|e| explain(&e, what))?;
        client
            .post(
                &format!("{path}/workspaces"),
                &json!({"workspace_id": desired.workspace}),
            )
            .await
            .map_err(|e| explain(&e, what))?;
        let listed = current.get("workspace_ids").and_then(Value::as_array);
        for ws in listed.into_iter().flatten().filter_map(Value::as_str) {
            if ws != desired.workspace {
                client
                    .delete(&format!("{path}/workspaces/{ws}"))
                    .await
                    .map_err(|e| explain(&e, what))?;
            }
        }
        if current.get("applies_to_all_workspaces") == Some(&Value::Bool(true)) {
            client
                .post(&path, &json!({"applies_to_all_workspaces": false}))
                .await
                .map_err(|e| explain(&e, what))?;
        }
    }
    let body = rule_update_body(diffs, desired, account_id);
    if body.as_object().is_some_and(|b| !b.is_empty()) {
        client
            .post(&path, &body)
            .await
            .map_err(|e| explain(&e, what))?;
    }
    let _ = writeln!(
        out,
        "  updated    federation rule `{}` ({id})",
        desired.name
    );
    if diffs.iter().any(|d| d.field == "issuer_id") {
        let _ = writeln!(
            out,
            "  note: a rule's issuer_id cannot be changed; archive rule {id} in Claude and remove \
             federation_rule_id from the configuration to have register create a new rule"
        );
        return Ok(1);
    }
    Ok(0)
}
