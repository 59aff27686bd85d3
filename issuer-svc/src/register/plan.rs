//! Comparing what Claude holds with what the configuration wants (pure):
//! each object is `create`, `unchanged`, or `differs` field by field.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};

use super::desired::{Desired, WORKSPACE_ROLE};
use super::workspace::MemberObject;

/// A federation issuer as Claude answers it (only what is compared).
#[derive(Debug, Clone, Deserialize)]
pub struct IssuerObject {
    pub id: String,
    pub name: String,
    pub issuer_url: String,
    #[serde(default)]
    pub jwks: Value,
    pub check_jti: bool,
    pub max_jwt_lifetime_seconds: i64,
    #[serde(default)]
    pub archived_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountObject {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub archived_at: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct MatchObject {
    #[serde(default)]
    pub subject_prefix: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub claims: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub condition: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TargetObject {
    #[serde(default)]
    pub service_account_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuleObject {
    pub id: String,
    pub name: String,
    pub issuer_id: String,
    #[serde(rename = "match")]
    pub matcher: MatchObject,
    pub target: TargetObject,
    pub oauth_scope: String,
    pub token_lifetime_seconds: i64,
    #[serde(default)]
    pub applies_to_all_workspaces: bool,
    #[serde(default)]
    pub workspace_ids: Vec<String>,
    #[serde(default)]
    pub archived_at: Option<String>,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    pub field: &'static str,
    pub claude: String,
    pub wanted: String,
}

/// What happens to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Unchanged,
    /// Reported; changed only with `--update`.
    Differs(Vec<FieldDiff>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Issuer,
    ServiceAccount,
    Membership,
    Rule,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Issuer => "federation issuer",
            Kind::ServiceAccount => "service account",
            Kind::Membership => "workspace membership",
            Kind::Rule => "federation rule",
        }
    }
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub kind: Kind,
    /// The object's name (membership: the workspace's tagged id).
    pub name: String,
    /// The existing object's id.
    pub id: Option<String>,
    pub action: Action,
    /// How the existing object was found, when not by name.
    pub note: Option<String>,
}

impl fmt::Display for PlanItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.id {
            Some(id) => format!("{} `{}` ({id})", self.kind.noun(), self.name),
            None => format!("{} `{}`", self.kind.noun(), self.name),
        };
        let action = match &self.action {
            Action::Create => "create",
            Action::Unchanged => "unchanged",
            Action::Differs(_) => "differs",
        };
        write!(f, "  {action:<9}  {what}")?;
        if let Some(note) = &self.note {
            write!(f, "  [{note}]")?;
        }
        if let Action::Differs(diffs) = &self.action {
            for diff in diffs {
                write!(
                    f,
                    "\n               {}: Claude has {}, the configuration wants {}",
                    diff.field, diff.claude, diff.wanted
                )?;
            }
        }
        Ok(())
    }
}

fn shown(value: Option<&str>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| format!("{v:?}"))
}

/// The issuer as wanted: `issuer_url`, discovery, `check_jti`, a
/// `max_jwt_lifetime_seconds` of at least the provider's lifetime.
pub fn issuer_diffs(existing: &IssuerObject, desired: &Desired) -> Vec<FieldDiff> {
    let mut diffs = Vec::new();
    if existing.issuer_url != desired.issuer_url {
        diffs.push(FieldDiff {
            field: "issuer_url",
            claude: shown(Some(&existing.issuer_url)),
            wanted: shown(Some(&desired.issuer_url)),
        });
    }
    let jwks_type = existing.jwks.get("type").and_then(Value::as_str);
    if jwks_type != Some("discovery") {
        diffs.push(FieldDiff {
            field: "jwks.type",
            claude: shown(jwks_type),
            wanted: shown(Some("discovery")),
        });
    }
    if !existing.check_jti {
        diffs.push(FieldDiff {
            field: "check_jti",
            claude: "false".to_owned(),
            wanted: "true".to_owned(),
        });
    }
    if existing.max_jwt_lifetime_seconds < desired.lifetime {
        diffs.push(FieldDiff {
            field: "max_jwt_lifetime_seconds",
            claude: existing.max_jwt_lifetime_seconds.to_string(),
            wanted: format!("at least {} (claude_wif.lifetime)", desired.lifetime),
        });
    }
    diffs
}

/// The body that fixes `diffs` of an issuer.
pub fn issuer_update_body(diffs: &[FieldDiff], desired: &Desired) -> Value {
    let mut body = serde_json::Map::new();
    for diff in diffs {
        match diff.field {
            "issuer_url" => body.insert("issuer_url".into(), json!(desired.issuer_url)),
            "jwks.type" => body.insert("jwks".into(), json!({"type": "discovery"})),
            "check_jti" => body.insert("check_jti".into(), json!(true)),
            _ => body.insert("max_jwt_lifetime_seconds".into(), json!(desired.lifetime)),
        };
    }
    Value::Object(body)
}

/// The create body of the issuer.
pub fn issuer_create_body(desired: &Desired) -> Value {
    json!({
        "name": desired.name,
        "issuer_url": desired.issuer_url,
        "jwks": {"type": "discovery"},
        "check_jti": true,
        "max_jwt_lifetime_seconds": desired.lifetime,
    })
}

/// The wanted `match` object.
pub fn wanted_match(desired: &Desired) -> Value {
    let mut matcher = serde_json::Map::new();
    matcher.insert("subject_prefix".into(), json!(desired.subject_prefix));
    if let Some(audience) = &desired.audience {
        matcher.insert("audience".into(), json!(audience));
    }
    Value::Object(matcher)
}

/// The membership as wanted: explicit, with at least
/// [`WORKSPACE_ROLE`]. The implicit default-workspace membership
/// (`workspace_user`) does not count.
pub fn member_action(member: Option<&MemberObject>) -> Action {
    match member {
        None => Action::Create,
        Some(m) if m.is_implicit() => Action::Create,
        Some(m) if m.suffices() => Action::Unchanged,
        Some(m) => Action::Differs(vec![FieldDiff {
            field: "workspace_role",
            claude: shown(Some(&m.workspace_role)),
            wanted: format!("at least {:?}", WORKSPACE_ROLE),
        }]),
    }
}

/// One compared field: its name, Claude's value, the wanted value.
type Compared = (&'static str, String, String);

/// The rule as wanted, against what Claude holds; `workspace_id` is the
/// resolved tagged id.
pub fn rule_diffs(
    existing: &RuleObject,
    desired: &Desired,
    workspace_id: &str,
    issuer_id: Option<&str>,
    account_id: Option<&str>,
) -> Vec<FieldDiff> {
    let mut fields = Vec::new();
    if let Some(issuer_id) = issuer_id {
        fields.push((
            "issuer_id",
            shown(Some(&existing.issuer_id)),
            shown(Some(issuer_id)),
        ));
    }
    fields.extend(match_fields(&existing.matcher, desired));
    if let Some(account_id) = account_id {
        fields.push((
            "target.service_account_id",
            shown(existing.target.service_account_id.as_deref()),
            shown(Some(account_id)),
        ));
    }
    fields.extend(grant_fields(existing, desired, workspace_id));
    fields
        .into_iter()
        .filter(|(_, claude, wanted)| claude != wanted)
        .map(|(field, claude, wanted)| FieldDiff {
            field,
            claude,
            wanted,
        })
        .collect()
}

/// The rule's `match`: the wanted subject prefix and audience, no claims,
/// no condition.
fn match_fields(m: &MatchObject, desired: &Desired) -> [Compared; 4] {
    let claims = m.claims.as_ref().filter(|c| !c.is_empty());
    [
        (
            "match.subject_prefix",
            shown(m.subject_prefix.as_deref()),
            shown(Some(&desired.subject_prefix)),
        ),
        (
            "match.audience",
            shown(m.audience.as_deref()),
            shown(desired.audience.as_deref()),
        ),
        (
            "match.claims",
            claims.map_or_else(|| "(none)".to_owned(), |c| format!("{c:?}")),
            "(none)".to_owned(),
        ),
        (
            "match.condition",
            shown(m.condition.as_deref()),
            "(none)".to_owned(),
        ),
    ]
}

/// What the rule grants: its scope, its tokens' lifetime, and the one
/// workspace `workspace_id`.
fn grant_fields(existing: &RuleObject, desired: &Desired, workspace_id: &str) -> [Compared; 3] {
    let workspaces = if existing.applies_to_all_workspaces {
        "all workspaces".to_owned()
    } else {
        format!("{:?}", existing.workspace_ids)
    };
    [
        (
            "oauth_scope",
            shown(Some(&existing.oauth_scope)),
            shown(Some(&desired.oauth_scope)),
        ),
        (
            "token_lifetime_seconds",
            existing.token_lifetime_seconds.to_string(),
            desired.token_lifetime_seconds.to_string(),
        ),
        ("workspaces", workspaces, format!("{:?}", [workspace_id])),
    ]
}

/// The create body of the rule (`workspace_id`: the tagged id).
pub fn rule_create_body(
    desired: &Desired,
    workspace_id: &str,
    issuer_id: &str,
    account_id: &str,
) -> Value {
    json!({
        "name": desired.name,
        "description": format!("claude-wif credential provider {}", desired.name),
        "issuer_id": issuer_id,
        "match": wanted_match(desired),
        "target": {"type": "service_account", "service_account_id": account_id},
        "oauth_scope": desired.oauth_scope,
        "workspace_id": workspace_id,
        "token_lifetime_seconds": desired.token_lifetime_seconds,
    })
}

/// The update body for the rule's differing fields other than `issuer_id`
/// (immutable) and `workspaces` (changed through the sub-resource).
pub fn rule_update_body(diffs: &[FieldDiff], desired: &Desired, account_id: &str) -> Value {
    let mut body = serde_json::Map::new();
    for diff in diffs {
        match diff.field {
            f if f.starts_with("match.") => {
                body.insert("match".into(), wanted_match(desired));
            }
            "target.service_account_id" => {
                body.insert(
                    "target".into(),
                    json!({"type": "service_account", "service_account_id": account_id}),
                );
            }
            "oauth_scope" => {
                body.insert("oauth_scope".into(), json!(desired.oauth_scope));
            }
            "token_lifetime_seconds" => {
                body.insert(
                    "token_lifetime_seconds".into(),
                    json!(desired.token_lifetime_seconds),
                );
            }
            _ => {}
        }
    }
    Value::Object(body)
}
