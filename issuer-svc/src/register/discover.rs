//! Finding what Claude already holds for a provider: by the ids the
//! configuration writes, else by name (the provider id), and an issuer also
//! by its `issuer_url` (one registered by hand in Console).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::client::{AdminApiError, AdminClient};
use super::desired::{DEFAULT_WORKSPACE, Desired};
use super::explain::explain;
use super::plan::{AccountObject, IssuerObject, RuleObject};

pub const ISSUERS: &str = "/v1/organizations/federation_issuers";
pub const RULES: &str = "/v1/organizations/federation_rules";
pub const ACCOUNTS: &str = "/v1/organizations/service_accounts";

/// The existing objects, each with how it was found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub issuer: Option<(IssuerObject, Option<String>)>,
    pub account: Option<(AccountObject, Option<String>)>,
    /// `None` when no membership is needed (the default workspace).
    pub member: Option<bool>,
    pub rule: Option<(RuleObject, Option<String>)>,
}

fn typed<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, String> {
    serde_json::from_value(value)
        .map_err(|err| format!("Claude's answer for {what} is not understood: {err}"))
}

fn api(what: &str) -> impl Fn(AdminApiError) -> String + '_ {
    move |err| explain(&err, what)
}

fn archived(kind: &str, id: &str, key: &str) -> String {
    format!(
        "The {kind} {id} that claude_wif.{key} names is archived in Claude, and archived objects \
         cannot be used or updated: remove {key} from the configuration so register creates a \
         new one (or write the id of a live one)."
    )
}

async fn by_name<T: DeserializeOwned>(
    client: &AdminClient,
    path: &str,
    name: &str,
    what: &str,
) -> Result<Option<T>, String> {
    let items = client.list_all(path).await.map_err(api(what))?;
    let found = items
        .into_iter()
        .find(|item| item.get("name").and_then(Value::as_str) == Some(name));
    found.map(|item| typed(item, what)).transpose()
}

pub async fn discover(client: &AdminClient, desired: &Desired) -> Result<Found, String> {
    let mut found = Found::default();
    if let Some(id) = &desired.federation_rule_id {
        let value = client.get(&format!("{RULES}/{id}")).await.map_err(api(
            "read the federation rule named by claude_wif.federation_rule_id",
        ))?;
        let rule: RuleObject = typed(value, "the federation rule")?;
        if rule.archived_at.is_some() {
            return Err(archived("federation rule", id, "federation_rule_id"));
        }
        found.rule = Some((rule, Some("claude_wif.federation_rule_id".to_owned())));
    } else {
        let rule: Option<RuleObject> =
            by_name(client, RULES, &desired.name, "list federation rules").await?;
        found.rule = rule.map(|r| (r, None));
    }

    found.issuer = match &found.rule {
        Some((rule, _)) => {
            let value = client
                .get(&format!("{ISSUERS}/{}", rule.issuer_id))
                .await
                .map_err(api("read the rule's federation issuer"))?;
            let issuer: IssuerObject = typed(value, "the federation issuer")?;
            if issuer.archived_at.is_some() {
                return Err(format!(
                    "The federation rule {} uses issuer {}, which is archived, so the rule can \
                     never mint tokens: archive the rule in Claude and remove federation_rule_id \
                     from the configuration so register creates both anew.",
                    rule.id, issuer.id
                ));
            }
            Some((issuer, Some("the rule's issuer".to_owned())))
        }
        None => {
            let items = client
                .list_all(ISSUERS)
                .await
                .map_err(api("list federation issuers"))?;
            let named = items
                .iter()
                .find(|i| i.get("name").and_then(Value::as_str) == Some(desired.name.as_str()));
            let by_url = items.iter().find(|i| {
                i.get("issuer_url").and_then(Value::as_str) == Some(desired.issuer_url.as_str())
            });
            match (named, by_url) {
                (Some(item), _) => Some((typed(item.clone(), "the federation issuer")?, None)),
                (None, Some(item)) => Some((
                    typed(item.clone(), "the federation issuer")?,
                    Some("found by issuer_url".to_owned()),
                )),
                (None, None) => None,
            }
        }
    };

    let configured_account = desired.service_account_id.clone().map(|id| (id, true));
    let rule_account = found
        .rule
        .as_ref()
        .and_then(|(r, _)| r.target.service_account_id.clone())
        .map(|id| (id, false));
    found.account = match configured_account.or(rule_account) {
        Some((id, configured)) => {
            let value = client
                .get(&format!("{ACCOUNTS}/{id}"))
                .await
                .map_err(api("read the service account"))?;
            let account: AccountObject = typed(value, "the service account")?;
            if account.archived_at.is_some() {
                return Err(archived("service account", &id, "service_account_id"));
            }
            let note = if configured {
                "claude_wif.service_account_id"
            } else {
                "the rule's target"
            };
            Some((account, Some(note.to_owned())))
        }
        None => by_name(client, ACCOUNTS, &desired.name, "list service accounts")
            .await?
            .map(|a| (a, None)),
    };

    if desired.workspace != DEFAULT_WORKSPACE {
        found.member = Some(match &found.account {
            None => false,
            Some((account, _)) => {
                let path = format!("{ACCOUNTS}/{}/workspaces", account.id);
                let members = client
                    .list_all(&path)
                    .await
                    .map_err(api("list the service account's workspaces"))?;
                members.iter().any(|m| {
                    m.get("workspace_id").and_then(Value::as_str)
                        == Some(desired.workspace.as_str())
                })
            }
        });
    }
    Ok(found)
}
