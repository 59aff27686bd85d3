//! `/v1/organizations/federation_rules`: create, list, get, update, archive,
//! and the rule's `workspaces` sub-resource.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::registry::{Org, RuleRecord, new_id, rfc3339};
use super::wire::{self, AdminError, ListParams, conflict};
use super::{authorize, check_slug, check_workspace, field_error};
use crate::app::AppState;
use crate::config::{DEFAULT_TOKEN_LIFETIME_SECONDS, FederationRule, RuleWorkspaces};
use crate::errors::ApiError;
use crate::scope::OAuthScope;

const TOKEN_LIFETIME: (i64, i64) = (60, 86_400);

/// The wire shape of a rule (SDK `FederationRule`).
pub fn rule_json(org: &Org, record: &RuleRecord) -> Value {
    let rule = &record.rule;
    let meta = &record.meta;
    let issuer_name = org.issuer(&rule.issuer).map(|r| r.meta.name.clone());
    let account_name = org
        .account(&rule.service_account)
        .map(|r| r.meta.name.clone());
    let claims = (!rule.claims.is_empty()).then(|| rule.claims.clone());
    json!({
        "type": "federation_rule",
        "id": rule.id,
        "name": meta.name,
        "description": meta.description,
        "issuer_id": rule.issuer,
        "issuer_name": issuer_name,
        "match": {
            "subject_prefix": rule.subject_prefix,
            "audience": rule.audience,
            "claims": claims,
            "condition": record.condition,
        },
        "target": {
            "type": "service_account",
            "service_account_id": rule.service_account,
            "service_account_name": account_name,
        },
        "oauth_scope": rule.oauth_scope.as_str(),
        "token_lifetime_seconds": rule.token_lifetime_seconds,
        "applies_to_all_workspaces": record.applies_to_all,
        "workspace_ids": record.workspace_ids.iter().map(|(w, _)| w.clone()).collect::<Vec<_>>(),
        "created_at": rfc3339(meta.created_at),
        "created_by_actor_id": null,
        "updated_at": rfc3339(meta.updated_at),
        "updated_by_actor_id": null,
        "archived_at": meta.archived_at.map(rfc3339),
        "archived_by_actor_id": null,
    })
}

/// A parsed `match`.
struct Match {
    subject_prefix: Option<String>,
    audience: Option<String>,
    claims: BTreeMap<String, String>,
}

fn parse_match(value: Option<&Value>) -> Result<Match, ApiError> {
    let Some(Value::Object(map)) = value else {
        return Err(field_error("match", "required, an object"));
    };
    let allowed = ["subject_prefix", "audience", "claims", "condition"];
    if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(field_error(
            &format!("match.{extra}"),
            "Extra inputs are not permitted",
        ));
    }
    let string = |field: &str| {
        wire::string(map, field)
            .map_err(|_| field_error(&format!("match.{field}"), "must be a string"))
    };
    if wire::present(map, "condition").is_some() {
        return Err(field_error(
            "match.condition",
            "CEL conditions are not simulated by fake-claude",
        ));
    }
    let subject_prefix = string("subject_prefix")?;
    if let Some(prefix) = &subject_prefix
        && prefix.trim_end_matches('*').is_empty()
    {
        return Err(field_error(
            "match.subject_prefix",
            format!("{prefix:?} is wildcard-only and would match every subject of the issuer"),
        ));
    }
    let audience = string("audience")?;
    if audience.as_deref() == Some("") {
        return Err(field_error("match.audience", "must not be empty (omit it)"));
    }
    let claims = match wire::present(map, "claims") {
        None => BTreeMap::new(),
        Some(Value::Object(claims)) => {
            let mut out = BTreeMap::new();
            for (name, value) in claims {
                let Value::String(value) = value else {
                    return Err(field_error(
                        &format!("match.claims.{name}"),
                        "only string values can be matched",
                    ));
                };
                if name.is_empty() {
                    return Err(field_error("match.claims", "claim names must not be empty"));
                }
                out.insert(name.clone(), value.clone());
            }
            out
        }
        Some(_) => return Err(field_error("match.claims", "must be an object")),
    };
    if subject_prefix.is_none() && claims.is_empty() {
        return Err(field_error(
            "match",
            "at least one of subject_prefix (other than a wildcard-only value like `*`), claims or condition is required; audience alone is not sufficient",
        ));
    }
    Ok(Match {
        subject_prefix,
        audience,
        claims,
    })
}

/// A match must narrow something: an `iss` claim equal to the issuer's own
/// `issuer_url` does not (every assertion of the issuer has it).
fn check_narrows(matcher: &Match, issuer_url: &str) -> Result<(), ApiError> {
    let only_own_iss = matcher.subject_prefix.is_none()
        && matcher
            .claims
            .iter()
            .all(|(name, value)| name == "iss" && value == issuer_url);
    if only_own_iss {
        return Err(field_error(
            "match.claims.iss",
            "equals the issuer's own issuer_url and narrows nothing: add subject_prefix or another claim",
        ));
    }
    Ok(())
}

/// `target.service_account_id` of a live service account.
fn parse_target(org: &Org, value: Option<&Value>) -> Result<String, ApiError> {
    let Some(Value::Object(map)) = value else {
        return Err(field_error("target", "required, an object"));
    };
    if wire::string(map, "type").ok().flatten().as_deref() != Some("service_account") {
        return Err(field_error("target.type", "must be \"service_account\""));
    }
    let id = wire::string(map, "service_account_id")
        .ok()
        .flatten()
        .ok_or_else(|| field_error("target.service_account_id", "required"))?;
    match org.account(&id) {
        Some(record) if record.meta.live() => Ok(id),
        Some(_) => Err(field_error(
            "target.service_account_id",
            format!("service account {id:?} is archived"),
        )),
        None => Err(field_error(
            "target.service_account_id",
            format!("no service account {id:?} in this organization"),
        )),
    }
}

fn parse_scope(text: &str) -> Result<OAuthScope, ApiError> {
    match OAuthScope::parse(text) {
        Some(scope @ (OAuthScope::Developer | OAuthScope::Inference)) => Ok(scope),
        Some(_) => Err(ApiError::permission(
            "oauth_scope: OAuth callers may only grant workspace:developer or workspace:inference; other scopes need a Console session",
        )),
        None => Err(field_error(
            "oauth_scope",
            format!("unknown scope {text:?}"),
        )),
    }
}

fn name_taken(org: &Org, name: &str, except: &str) -> bool {
    org.rules
        .iter()
        .any(|r| r.meta.name == name && r.rule.id != except)
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    wire::reply(create_rule(&state, &headers, &body))
}

fn create_rule(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, AdminError> {
    authorize(state, headers)?;
    let allowed = [
        "issuer_id",
        "match",
        "name",
        "oauth_scope",
        "target",
        "applies_to_all_workspaces",
        "description",
        "token_lifetime_seconds",
        "workspace_id",
    ];
    let map = wire::object(body, &allowed)?;
    let name = wire::required_string(&map, "name")?;
    check_slug("name", &name)?;
    let matcher = parse_match(wire::present(&map, "match"))?;
    let scope = parse_scope(&wire::required_string(&map, "oauth_scope")?)?;
    let (min, max) = TOKEN_LIFETIME;
    let lifetime = wire::integer(&map, "token_lifetime_seconds", min, max)?
        .unwrap_or(DEFAULT_TOKEN_LIFETIME_SECONDS);
    let all = wire::boolean(&map, "applies_to_all_workspaces")?.unwrap_or(false);
    let workspace = wire::string(&map, "workspace_id")?;
    let description = wire::string(&map, "description")?;
    let issuer_id = wire::required_string(&map, "issuer_id")?;
    let now = state.clock.now();
    let mut org = state.registry.lock();
    match org.issuer(&issuer_id) {
        Some(record) if record.meta.live() => check_narrows(&matcher, &record.issuer.issuer_url)?,
        Some(_) => {
            let msg = format!("federation issuer {issuer_id:?} is archived");
            return Err(field_error("issuer_id", msg).into());
        }
        None => {
            let msg = format!("no federation issuer {issuer_id:?} in this organization");
            return Err(field_error("issuer_id", msg).into());
        }
    }
    let account = parse_target(&org, wire::present(&map, "target"))?;
    let workspace_ids = match (&workspace, all) {
        (Some(ws), _) => {
            check_workspace(&org, ws)?;
            vec![(ws.clone(), now)]
        }
        (None, true) => Vec::new(),
        (None, false) => {
            let msg = "required unless applies_to_all_workspaces is true";
            return Err(field_error("workspace_id", msg).into());
        }
    };
    if name_taken(&org, &name, "") {
        return Err(conflict("federation rule", &name));
    }
    let seq = org.next_seq();
    let mut record = RuleRecord {
        meta: super::registry::Meta {
            name,
            description,
            created_at: now,
            updated_at: now,
            archived_at: None,
            seq,
        },
        rule: FederationRule {
            id: new_id("fdrl_"),
            issuer: issuer_id,
            subject_prefix: matcher.subject_prefix,
            audience: matcher.audience,
            claims: matcher.claims,
            service_account: account,
            workspaces: RuleWorkspaces::All,
            oauth_scope: scope,
            token_lifetime_seconds: lifetime,
        },
        workspace_ids,
        applies_to_all: all,
        condition: None,
    };
    record.sync_workspaces();
    let answer = rule_json(&org, &record);
    tracing::info!(rule = %record.rule.id, name = %record.meta.name, "admin: federation rule created");
    org.rules.push(record);
    Ok(answer)
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
        let mut records: Vec<&RuleRecord> = org
            .rules
            .iter()
            .filter(|r| archived || r.meta.live())
            .filter(|r| {
                params
                    .issuer_id
                    .as_deref()
                    .is_none_or(|issuer| r.rule.issuer == issuer)
            })
            .collect();
        records.sort_by_key(|r| r.meta.seq);
        let items = records
            .into_iter()
            .map(|r| (r.rule.id.clone(), rule_json(&org, r)))
            .collect();
        params.page(items, state.config.admin_page_size)
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(super) fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("federation rule {id:?} not found"))
}

pub async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let org = state.registry.lock();
        let record = org.rule(&id).ok_or_else(|| not_found(&id))?;
        Ok(rule_json(&org, record))
    })())
}

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    wire::reply(update_rule(&state, &headers, &id, &body))
}

fn update_rule(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
) -> Result<Value, AdminError> {
    authorize(state, headers)?;
    let allowed = [
        "applies_to_all_workspaces",
        "description",
        "match",
        "name",
        "oauth_scope",
        "target",
        "token_lifetime_seconds",
        "workspace_id",
    ];
    let map: Map<String, Value> = wire::object(body, &allowed)?;
    let name = wire::string(&map, "name")?;
    if let Some(name) = &name {
        check_slug("name", name)?;
    }
    let matcher = match wire::present(&map, "match") {
        Some(value) => Some(parse_match(Some(value))?),
        None => None,
    };
    let scope = match wire::string(&map, "oauth_scope")? {
        Some(text) => Some(parse_scope(&text)?),
        None => None,
    };
    let (min, max) = TOKEN_LIFETIME;
    let lifetime = wire::integer(&map, "token_lifetime_seconds", min, max)?;
    let all = wire::boolean(&map, "applies_to_all_workspaces")?;
    let workspace = wire::string(&map, "workspace_id")?;
    let now = state.clock.now();
    let mut org = state.registry.lock();
    let target = match wire::present(&map, "target") {
        Some(value) => Some(parse_target(&org, Some(value))?),
        None => None,
    };
    if let Some(ws) = &workspace {
        check_workspace(&org, ws)?;
    }
    if let Some(name) = &name
        && name_taken(&org, name, id)
    {
        return Err(conflict("federation rule", name));
    }
    let mut next = org.rule(id).ok_or_else(|| not_found(id))?.clone();
    if let (Some(matcher), Some(issuer)) = (&matcher, org.issuer(&next.rule.issuer)) {
        check_narrows(matcher, &issuer.issuer.issuer_url)?;
    }
    if !next.meta.live() {
        let msg =
            format!("federation rule {id:?} is archived and cannot be updated: create a new rule");
        return Err(ApiError::invalid_request(msg).into());
    }
    if let Some(ws) = workspace {
        if next.workspace_ids.len() > 1 {
            let msg = "the rule is enabled for several workspaces: use the workspaces sub-resource";
            return Err(field_error("workspace_id", msg).into());
        }
        next.workspace_ids = vec![(ws, now)];
    }
    if let Some(all) = all {
        if !all && next.workspace_ids.is_empty() {
            let msg = "false would leave the rule enabled for no workspace";
            return Err(field_error("applies_to_all_workspaces", msg).into());
        }
        next.applies_to_all = all;
    }
    if map.contains_key("description") {
        next.meta.description = wire::string(&map, "description")?;
    }
    if let Some(matcher) = matcher {
        next.rule.subject_prefix = matcher.subject_prefix;
        next.rule.audience = matcher.audience;
        next.rule.claims = matcher.claims;
    }
    if let Some(name) = name {
        next.meta.name = name;
    }
    if let Some(scope) = scope {
        next.rule.oauth_scope = scope;
    }
    if let Some(target) = target {
        next.rule.service_account = target;
    }
    if let Some(lifetime) = lifetime {
        next.rule.token_lifetime_seconds = lifetime;
    }
    next.meta.updated_at = now;
    next.sync_workspaces();
    let answer = rule_json(&org, &next);
    if let Some(slot) = org.rules.iter_mut().find(|r| r.rule.id == id) {
        *slot = next;
    }
    tracing::info!(rule = %id, "admin: federation rule updated");
    Ok(answer)
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
        let record = org
            .rules
            .iter_mut()
            .find(|r| r.rule.id == id)
            .ok_or_else(|| not_found(&id))?;
        if record.meta.archived_at.is_none() {
            record.meta.archived_at = Some(now);
            record.workspace_ids.clear();
            record.applies_to_all = false;
            record.sync_workspaces();
            tracing::info!(rule = %id, "admin: federation rule archived");
        }
        let record = record.clone();
        Ok::<Value, AdminError>(rule_json(&org, &record))
    })())
}
