//! Finding what Claude already holds for a provider, read-only: the rule's
//! workspace as a tagged id, then the objects by the ids the configuration
//! writes, else by name (the provider id), and an issuer also by its
//! `issuer_url` (one registered by hand in Console). Lists by name include
//! archived objects, whose names stay taken.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::client::{AdminApiError, AdminClient};
use super::desired::Desired;
use super::explain::explain;
use super::plan::{AccountObject, IssuerObject, Kind, RuleObject};
use super::workspace::{MemberObject, ResolvedWorkspace, membership_in, resolve};

pub const ISSUERS: &str = "/v1/organizations/federation_issuers";
pub const RULES: &str = "/v1/organizations/federation_rules";
pub const ACCOUNTS: &str = "/v1/organizations/service_accounts";

/// The existing objects, each with how it was found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The rule's workspace.
    pub workspace: ResolvedWorkspace,
    pub issuer: Option<(IssuerObject, Option<String>)>,
    pub account: Option<(AccountObject, Option<String>)>,
    /// The service account's membership in the rule's workspace as listed
    /// (the implicit one included).
    pub member: Option<MemberObject>,
    pub rule: Option<(RuleObject, Option<String>)>,
    /// Archived objects holding the provider id as their name, for kinds
    /// with no live object found.
    pub archived: Vec<(Kind, String)>,
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

fn is_archived(item: &Value) -> bool {
    item.get("archived_at").is_some_and(|a| !a.is_null())
}

fn named<'a>(items: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    items
        .iter()
        .filter(move |item| item.get("name").and_then(Value::as_str) == Some(name))
}

/// The live item named `name`, else the id of an archived one holding it.
pub fn split_by_name(items: &[Value], name: &str) -> (Option<Value>, Option<String>) {
    let live = named(items, name).find(|i| !is_archived(i)).cloned();
    let held = named(items, name)
        .find(|i| is_archived(i))
        .and_then(|i| i.get("id").and_then(Value::as_str))
        .map(str::to_owned);
    (live, held)
}

/// Every item of `path`, archived ones included.
async fn list_with_archived(
    client: &AdminClient,
    path: &str,
    what: &str,
) -> Result<Vec<Value>, String> {
    client
        .list_all(&format!("{path}?include_archived=true"))
        .await
        .map_err(api(what))
}

/// The id of the archived object of `path` named `name`, if any.
pub async fn archived_holder(client: &AdminClient, path: &str, name: &str) -> Option<String> {
    let items = list_with_archived(client, path, "list archived objects")
        .await
        .ok()?;
    split_by_name(&items, name).1
}

pub async fn discover(client: &AdminClient, desired: &Desired) -> Result<Found, String> {
    let mut found = Found {
        workspace: resolve(client, desired).await?,
        ..Found::default()
    };
    find_rule(client, desired, &mut found).await?;
    find_issuer(client, desired, &mut found).await?;
    find_account(client, desired, &mut found).await?;
    if let Some((account, _)) = &found.account {
        let path = format!("{ACCOUNTS}/{}/workspaces", account.id);
        let members = client
            .list_all(&path)
            .await
            .map_err(api("list the service account's workspaces"))?;
        found.member = membership_in(&members, &found.workspace.id);
    }
    Ok(found)
}

async fn find_rule(
    client: &AdminClient,
    desired: &Desired,
    found: &mut Found,
) -> Result<(), String> {
    if let Some(id) = &desired.federation_rule_id {
        let value = client.get(&format!("{RULES}/{id}")).await.map_err(api(
            "read the federation rule named by claude_wif.federation_rule_id",
        ))?;
        let rule: RuleObject = typed(value, "the federation rule")?;
        if rule.archived_at.is_some() {
            return Err(archived("federation rule", id, "federation_rule_id"));
        }
        found.rule = Some((rule, Some("claude_wif.federation_rule_id".to_owned())));
        return Ok(());
    }
    let items = list_with_archived(client, RULES, "list federation rules").await?;
    let (live, held) = split_by_name(&items, &desired.name);
    found.rule = live
        .map(|r| typed(r, "the federation rule"))
        .transpose()?
        .map(|r| (r, None));
    if found.rule.is_none() {
        found.archived.extend(held.map(|id| (Kind::Rule, id)));
    }
    Ok(())
}

async fn find_issuer(
    client: &AdminClient,
    desired: &Desired,
    found: &mut Found,
) -> Result<(), String> {
    if let Some((rule, _)) = &found.rule {
        let value = client
            .get(&format!("{ISSUERS}/{}", rule.issuer_id))
            .await
            .map_err(api("read the rule's federation issuer"))?;
        let issuer: IssuerObject = typed(value, "the federation issuer")?;
        if issuer.archived_at.is_some() {
            return Err(format!(
                "The federation rule {} uses issuer {}, which is archived, so the rule can never \
                 mint tokens: archive the rule in Claude and remove federation_rule_id from the \
                 configuration so register creates both anew.",
                rule.id, issuer.id
            ));
        }
        found.issuer = Some((issuer, Some("the rule's issuer".to_owned())));
        return Ok(());
    }
    let items = list_with_archived(client, ISSUERS, "list federation issuers").await?;
    let (live, held) = split_by_name(&items, &desired.name);
    let by_url = items.iter().find(|i| {
        !is_archived(i)
            && i.get("issuer_url").and_then(Value::as_str) == Some(desired.issuer_url.as_str())
    });
    found.issuer = match (live, by_url) {
        (Some(item), _) => Some((typed(item, "the federation issuer")?, None)),
        (None, Some(item)) => Some((
            typed(item.clone(), "the federation issuer")?,
            Some("found by issuer_url".to_owned()),
        )),
        (None, None) => None,
    };
    if found.issuer.is_none() {
        found.archived.extend(held.map(|id| (Kind::Issuer, id)));
    }
    Ok(())
}

async fn find_account(
    client: &AdminClient,
    desired: &Desired,
    found: &mut Found,
) -> Result<(), String> {
    let configured = desired.service_account_id.clone().map(|id| (id, true));
    let of_rule = found
        .rule
        .as_ref()
        .and_then(|(r, _)| r.target.service_account_id.clone())
        .map(|id| (id, false));
    if let Some((id, configured)) = configured.or(of_rule) {
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
        found.account = Some((account, Some(note.to_owned())));
        return Ok(());
    }
    let items = list_with_archived(client, ACCOUNTS, "list service accounts").await?;
    let (live, held) = split_by_name(&items, &desired.name);
    found.account = live
        .map(|a| typed(a, "the service account"))
        .transpose()?
        .map(|a| (a, None));
    if found.account.is_none() {
        found
            .archived
            .extend(held.map(|id| (Kind::ServiceAccount, id)));
    }
    Ok(())
}
