//! `GET /v1/models` and `GET /v1/models/{model_id}`: a fixed model list in
//! the Models API's shape, for authorized callers only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use serde_json::{Value, json};

use crate::api::authorize;
use crate::app::AppState;
use crate::errors::ApiError;
use crate::scope::ApiEndpoint;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'static str,
    pub display_name: &'static str,
    pub created_at: &'static str,
}

/// Newest first, as the API lists them.
pub const MODELS: [ModelInfo; 3] = [
    ModelInfo {
        kind: "model",
        id: "claude-sonnet-4-6",
        display_name: "Claude Sonnet 4.6",
        created_at: "2026-02-17T00:00:00Z",
    },
    ModelInfo {
        kind: "model",
        id: "claude-haiku-4-5",
        display_name: "Claude Haiku 4.5",
        created_at: "2025-10-15T00:00:00Z",
    },
    ModelInfo {
        kind: "model",
        id: "claude-sonnet-4-5",
        display_name: "Claude Sonnet 4.5",
        created_at: "2025-09-29T00:00:00Z",
    },
];

/// The list page (pagination parameters are accepted and ignored).
pub fn model_list() -> Value {
    json!({
        "data": MODELS,
        "has_more": false,
        "first_id": MODELS.first().map(|m| m.id),
        "last_id": MODELS.last().map(|m| m.id),
    })
}

pub async fn list_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, ApiEndpoint::Models)?;
    Ok(Json(model_list()))
}

pub async fn get_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(model_id): Path<String>,
) -> Result<Json<ModelInfo>, ApiError> {
    authorize(&state, &headers, ApiEndpoint::Models)?;
    MODELS
        .iter()
        .find(|m| m.id == model_id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("model: {model_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_the_models_api_shape() {
        let list = model_list();
        assert_eq!(list["has_more"], false);
        assert_eq!(list["first_id"], "claude-sonnet-4-6");
        assert_eq!(list["data"][0]["type"], "model");
        assert_eq!(list["data"].as_array().unwrap().len(), MODELS.len());
    }
}
