//! `/v1/organizations/federation_issuers`: create, list, get, update, archive.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use reqwest::Url;
use serde_json::{Map, Value, json};

use super::registry::{IssuerRecord, Meta, new_id, rfc3339};
use super::wire::{self, AdminError, ListParams, conflict};
use super::{authorize, check_slug, field_error};
use crate::app::AppState;
use crate::config::{DEFAULT_MAX_JWT_LIFETIME_SECONDS, FederationIssuer, JwksSource};
use crate::errors::ApiError;
use crate::jwks::{JwksFetcher, check_dial_url, parse_jwks};

const MAX_JWT_LIFETIME: (i64, i64) = (1, 176_400);

/// The `jwks` object of an issuer.
pub fn jwks_json(issuer: &FederationIssuer) -> Value {
    let ca = issuer.ca_cert_pem.clone();
    match &issuer.jwks_source {
        JwksSource::Discovery => {
            json!({"type": "discovery", "ca_cert_pem": ca, "discovery_base": null})
        }
        JwksSource::ExplicitUrl(url) => {
            json!({"type": "explicit_url", "url": url.as_str(), "ca_cert_pem": ca})
        }
        JwksSource::Inline(keys) => json!({"type": "inline", "keys": keys}),
    }
}

/// The wire shape of an issuer (SDK `FederationIssuer`).
pub fn issuer_json(record: &IssuerRecord) -> Value {
    let meta = &record.meta;
    json!({
        "type": "federation_issuer",
        "id": record.issuer.id,
        "name": meta.name,
        "issuer_url": record.issuer.issuer_url,
        "jwks": record.jwks_json,
        "check_jti": record.issuer.check_jti,
        "max_jwt_lifetime_seconds": record.issuer.max_jwt_lifetime_seconds,
        "jwks_polling_disabled_at": null,
        "poll_status": null,
        "created_at": rfc3339(meta.created_at),
        "created_by_actor_id": null,
        "updated_at": rfc3339(meta.updated_at),
        "updated_by_actor_id": null,
        "archived_at": meta.archived_at.map(rfc3339),
        "archived_by_actor_id": null,
    })
}

/// A parsed `jwks` object: source, CA, and the object to echo back.
type Jwks = (JwksSource, Option<String>, Value);

fn parse_jwks_param(value: Option<&Value>) -> Result<Jwks, ApiError> {
    let Some(value) = value else {
        let source = JwksSource::Discovery;
        let echo = json!({"type": "discovery", "ca_cert_pem": null, "discovery_base": null});
        return Ok((source, None, echo));
    };
    let Value::Object(map) = value else {
        return Err(field_error("jwks", "must be an object"));
    };
    let kind = wire::string(map, "type")?.ok_or_else(|| field_error("jwks.type", "required"))?;
    let ca = wire::string(map, "ca_cert_pem")
        .map_err(|_| field_error("jwks.ca_cert_pem", "must be a string"))?;
    if let Some(pem) = &ca
        && let Err(e) = JwksFetcher::new(Some(pem))
    {
        return Err(field_error("jwks.ca_cert_pem", e));
    }
    let source = match kind.as_str() {
        "discovery" => {
            if wire::present(map, "discovery_base").is_some() {
                return Err(field_error(
                    "jwks.discovery_base",
                    "not simulated by fake-claude",
                ));
            }
            JwksSource::Discovery
        }
        "explicit_url" => {
            let text = wire::string(map, "url")
                .ok()
                .flatten()
                .ok_or_else(|| field_error("jwks.url", "required for explicit_url"))?;
            let url = Url::parse(&text).map_err(|e| field_error("jwks.url", e))?;
            check_dial_url(&url).map_err(|e| field_error("jwks.url", e))?;
            JwksSource::ExplicitUrl(url)
        }
        "inline" => {
            let keys = wire::present(map, "keys")
                .ok_or_else(|| field_error("jwks.keys", "required for inline"))?;
            let doc = serde_json::to_vec(&json!({ "keys": keys }))
                .map_err(|e| field_error("jwks.keys", e))?;
            let keys = parse_jwks(&doc).map_err(|e| field_error("jwks.keys", e))?;
            if keys.is_empty() {
                return Err(field_error("jwks.keys", "has no usable key"));
            }
            if ca.is_some() {
                return Err(field_error("jwks.ca_cert_pem", "not for inline keys"));
            }
            JwksSource::Inline(keys)
        }
        other => {
            return Err(field_error(
                "jwks.type",
                format!("must be discovery, explicit_url or inline, got {other:?}"),
            ));
        }
    };
    let issuer = FederationIssuer {
        id: String::new(),
        issuer_url: String::new(),
        jwks_source: source.clone(),
        ca_cert_pem: ca.clone(),
        check_jti: true,
        max_jwt_lifetime_seconds: 0,
    };
    Ok((source, ca, jwks_json(&issuer)))
}

/// A URL; for discovery one Claude can dial (loopback allowed here).
fn check_issuer_url(url: &str, source: &JwksSource) -> Result<(), ApiError> {
    let parsed = Url::parse(url).map_err(|e| field_error("issuer_url", e))?;
    if matches!(source, JwksSource::Discovery) {
        check_dial_url(&parsed).map_err(|e| {
            field_error(
                "issuer_url",
                format!("Claude fetches discovery from it, so it must be https on port 443 with a public DNS name ({e})"),
            )
        })?;
    }
    Ok(())
}

fn name_taken(org: &super::registry::Org, name: &str, except: &str) -> bool {
    org.issuers
        .iter()
        .any(|r| r.meta.name == name && r.issuer.id != except)
}

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    wire::reply(create_issuer(&state, &headers, &body))
}

fn create_issuer(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, AdminError> {
    authorize(state, headers)?;
    let allowed = [
        "issuer_url",
        "name",
        "check_jti",
        "jwks",
        "max_jwt_lifetime_seconds",
    ];
    let map = wire::object(body, &allowed)?;
    let name = wire::required_string(&map, "name")?;
    check_slug("name", &name)?;
    let issuer_url = wire::required_string(&map, "issuer_url")?;
    let (source, ca, jwks) = parse_jwks_param(wire::present(&map, "jwks"))?;
    check_issuer_url(&issuer_url, &source)?;
    let check_jti = wire::boolean(&map, "check_jti")?.unwrap_or(true);
    let (min, max) = MAX_JWT_LIFETIME;
    let max_lifetime = wire::integer(&map, "max_jwt_lifetime_seconds", min, max)?
        .unwrap_or(DEFAULT_MAX_JWT_LIFETIME_SECONDS);
    let now = state.clock.now();
    let mut org = state.registry.lock();
    if name_taken(&org, &name, "") {
        return Err(conflict("federation issuer", &name));
    }
    let record = IssuerRecord {
        meta: Meta {
            name,
            description: None,
            created_at: now,
            updated_at: now,
            archived_at: None,
            seq: org.next_seq(),
        },
        issuer: FederationIssuer {
            id: new_id("fdis_"),
            issuer_url,
            jwks_source: source,
            ca_cert_pem: ca,
            check_jti,
            max_jwt_lifetime_seconds: max_lifetime,
        },
        jwks_json: jwks,
    };
    let answer = issuer_json(&record);
    tracing::info!(issuer = %record.issuer.id, name = %record.meta.name, "admin: federation issuer created");
    org.issuers.push(record);
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
        let mut records: Vec<&IssuerRecord> = org
            .issuers
            .iter()
            .filter(|r| archived || r.meta.live())
            .collect();
        records.sort_by_key(|r| r.meta.seq);
        let items = records
            .into_iter()
            .map(|r| (r.issuer.id.clone(), issuer_json(r)))
            .collect();
        params.page(items, state.config.admin_page_size)
    })();
    result.unwrap_or_else(IntoResponse::into_response)
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("federation issuer {id:?} not found"))
}

pub async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    wire::reply((|| {
        authorize(&state, &headers)?;
        let org = state.registry.lock();
        let record = org.issuer(&id).ok_or_else(|| not_found(&id))?;
        Ok(issuer_json(record))
    })())
}

pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = update_issuer(&state, &headers, &id, &body);
    if result.is_ok() {
        state.jwks.forget(&id);
    }
    wire::reply(result)
}

fn update_issuer(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
) -> Result<Value, AdminError> {
    authorize(state, headers)?;
    let allowed = [
        "check_jti",
        "issuer_url",
        "jwks",
        "jwks_polling_disabled",
        "max_jwt_lifetime_seconds",
        "name",
    ];
    let map: Map<String, Value> = wire::object(body, &allowed)?;
    let name = wire::string(&map, "name")?;
    if let Some(name) = &name {
        check_slug("name", name)?;
    }
    if wire::boolean(&map, "jwks_polling_disabled")? == Some(true) {
        return Err(field_error("jwks_polling_disabled", "only false is accepted").into());
    }
    let jwks = match wire::present(&map, "jwks") {
        Some(value) => Some(parse_jwks_param(Some(value))?),
        None => None,
    };
    let (min, max) = MAX_JWT_LIFETIME;
    let max_lifetime = wire::integer(&map, "max_jwt_lifetime_seconds", min, max)?;
    let check_jti = wire::boolean(&map, "check_jti")?;
    let issuer_url = wire::string(&map, "issuer_url")?;
    let now = state.clock.now();
    let mut org = state.registry.lock();
    if let Some(name) = &name
        && name_taken(&org, name, id)
    {
        return Err(conflict("federation issuer", name));
    }
    let record = org
        .issuers
        .iter_mut()
        .find(|r| r.issuer.id == id)
        .ok_or_else(|| not_found(id))?;
    if !record.meta.live() {
        return Err(ApiError::invalid_request(format!(
            "federation issuer {id:?} is archived and cannot be updated: create a new issuer"
        ))
        .into());
    }
    let mut next = record.clone();
    if let Some((source, ca, echo)) = jwks {
        next.issuer.jwks_source = source;
        next.issuer.ca_cert_pem = ca;
        next.jwks_json = echo;
    }
    if let Some(url) = issuer_url {
        next.issuer.issuer_url = url;
    }
    check_issuer_url(&next.issuer.issuer_url, &next.issuer.jwks_source)?;
    if let Some(name) = name {
        next.meta.name = name;
    }
    if let Some(check_jti) = check_jti {
        next.issuer.check_jti = check_jti;
    }
    if let Some(max_lifetime) = max_lifetime {
        next.issuer.max_jwt_lifetime_seconds = max_lifetime;
    }
    next.meta.updated_at = now;
    *record = next;
    tracing::info!(issuer = %id, "admin: federation issuer updated");
    Ok(issuer_json(record))
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
            .filter(|r| r.meta.live() && r.rule.issuer == id)
            .map(|r| r.rule.id.clone())
            .collect();
        let record = org
            .issuers
            .iter_mut()
            .find(|r| r.issuer.id == id)
            .ok_or_else(|| not_found(&id))?;
        if record.meta.live() && !users.is_empty() {
            return Err(ApiError::invalid_request(format!(
                "federation issuer {id:?} is used by live federation rule(s) {}: archive them first",
                users.join(", ")
            ))
            .into());
        }
        if record.meta.archived_at.is_none() {
            record.meta.archived_at = Some(now);
            tracing::info!(issuer = %id, "admin: federation issuer archived");
        }
        Ok(issuer_json(record))
    })())
}
