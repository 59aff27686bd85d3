//! Request bodies, list parameters and pagination shared by the handlers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::field_error;
use crate::errors::{ApiError, ErrorType, error_reply};

/// A JSON object body whose fields are all among `allowed`.
pub fn object(body: &[u8], allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    let map = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(ApiError::invalid_request("body must be a JSON object")),
        Err(e) => return Err(ApiError::invalid_request(format!("invalid JSON body: {e}"))),
    };
    if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(field_error(extra, "Extra inputs are not permitted"));
    }
    Ok(map)
}

/// A field that is absent or `null` → `None`.
pub fn present<'a>(map: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    map.get(field).filter(|v| !v.is_null())
}

pub fn string(map: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match present(map, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field_error(field, "must be a string")),
    }
}

pub fn required_string(map: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    string(map, field)?.ok_or_else(|| field_error(field, "Field required"))
}

pub fn boolean(map: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match present(map, field) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(field_error(field, "must be a boolean")),
    }
}

/// An integer in `min..=max`.
pub fn integer(
    map: &Map<String, Value>,
    field: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    match present(map, field) {
        None => Ok(None),
        Some(value) => match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Some(n) => Err(field_error(
                field,
                format!("must be in {min}..={max}, got {n}"),
            )),
            None => Err(field_error(field, "must be an integer")),
        },
    }
}

/// What an admin handler can answer besides success.
#[derive(Debug)]
pub enum AdminError {
    Api(ApiError),
    /// 409: the name is taken by another live object of the kind.
    Conflict(String),
}

impl From<ApiError> for AdminError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => error.into_response(),
            Self::Conflict(message) => {
                error_reply(StatusCode::CONFLICT, ErrorType::InvalidRequest, message)
            }
        }
    }
}

/// 409 for a name another object of the kind has (archived objects keep
/// their names: names are unique in the organization).
pub fn conflict(kind: &str, name: &str) -> AdminError {
    AdminError::Conflict(format!("name: a {kind} named {name:?} already exists"))
}

/// The largest `limit` a federation list takes.
pub const MAX_LIMIT: usize = 100;

/// `limit`, `page`, `include_archived` (and `issuer_id` for rules).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub page: Option<String>,
    pub include_archived: Option<String>,
    pub issuer_id: Option<String>,
}

impl ListParams {
    pub fn include_archived(&self) -> Result<bool, ApiError> {
        match self.include_archived.as_deref() {
            None | Some("false" | "False" | "0") => Ok(false),
            Some("true" | "True" | "1") => Ok(true),
            Some(other) => Err(field_error(
                "include_archived",
                format!("must be a boolean, got {other:?}"),
            )),
        }
    }

    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit.as_deref() {
            None => Ok(20),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(field_error(
                    "limit",
                    format!("must be an integer in 1..={MAX_LIMIT}"),
                )),
            },
        }
    }

    /// One page of `items` (`(id, json)` in list order): the items after the
    /// `page` cursor, at most `limit` of them and at most `page_size` (a
    /// page may hold fewer items than `limit`: clients follow `next_page`).
    pub fn page(
        &self,
        items: Vec<(String, Value)>,
        page_size: usize,
    ) -> Result<Response, ApiError> {
        let limit = self.limit()?.min(page_size);
        let start = match self.page.as_deref().filter(|p| !p.is_empty()) {
            None => 0,
            Some(cursor) => {
                let after = cursor.strip_prefix("page_").unwrap_or(cursor);
                items
                    .iter()
                    .position(|(id, _)| id == after)
                    .map(|i| i + 1)
                    .ok_or_else(|| field_error("page", "unknown or stale cursor"))?
            }
        };
        let rest: Vec<(String, Value)> = items.into_iter().skip(start).collect();
        let more = rest.len() > limit;
        let data: Vec<(String, Value)> = rest.into_iter().take(limit).collect();
        let next_page = match (more, data.last()) {
            (true, Some((id, _))) => Value::String(format!("page_{id}")),
            _ => Value::Null,
        };
        let data: Vec<Value> = data.into_iter().map(|(_, v)| v).collect();
        Ok(axum::Json(json!({"data": data, "next_page": next_page})).into_response())
    }
}

/// `Ok(json)` as 200, `Err` as its error reply.
pub fn reply(result: Result<Value, AdminError>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}
