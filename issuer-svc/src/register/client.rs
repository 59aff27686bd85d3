//! Claude's Admin API over HTTP: `authorization: Bearer` (an `org:admin`
//! OAuth token), `anthropic-version: 2026-10-21` (the SDKs'
//! `ANTHROPIC_API_VERSION`), JSON both ways. Two list shapes: federation
//! and service-account lists are cursor pages (`{"data","next_page"}`,
//! `?page=`, `limit` at most 100); workspace lists are the SDK's `SyncPage`
//! (`{"data","has_more","first_id","last_id"}`, `?after_id=`).

use std::time::Duration;

use serde_json::Value;

use super::token::AdminToken;
use crate::http_body::{BodyError, read_bounded};
use crate::logging::escape;

pub const ANTHROPIC_VERSION: &str = "2026-10-21";
/// `limit` asked of every list (the federation lists allow at most 100).
const PAGE_LIMIT: usize = 100;
/// Largest Admin API answer read.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Pages followed at most for one list.
const MAX_PAGES: usize = 100;

/// A refused or failed Admin API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminApiError {
    /// `POST /v1/organizations/federation_rules`.
    pub call: String,
    /// `None`: no answer (connect error, timeout, unreadable body).
    pub status: Option<u16>,
    pub error_type: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl AdminApiError {
    fn transport(call: &str, message: impl Into<String>) -> AdminApiError {
        AdminApiError {
            call: call.to_owned(),
            status: None,
            error_type: None,
            message: message.into(),
            request_id: None,
        }
    }

    /// The field a 400 names (`match.subject_prefix: …` → `match.subject_prefix`).
    pub fn field(&self) -> Option<&str> {
        let (field, _) = self.message.split_once(": ")?;
        let plausible = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '[' || c == ']');
        plausible.then_some(field)
    }
}

/// Parses a Claude error body (`{"type":"error","error":{"type","message"}}`).
pub fn parse_error(
    call: &str,
    status: u16,
    request_id: Option<String>,
    body: &[u8],
) -> AdminApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let text = |key: &str| {
        error
            .and_then(|e| e.get(key))
            .and_then(Value::as_str)
            .map(escape)
    };
    let message = text("message").unwrap_or_else(|| {
        escape(&String::from_utf8_lossy(
            body.get(..200.min(body.len())).unwrap_or_default(),
        ))
    });
    AdminApiError {
        call: call.to_owned(),
        status: Some(status),
        error_type: text("type"),
        message,
        request_id: request_id.or_else(|| {
            parsed
                .as_ref()
                .and_then(|v| v.get("request_id"))
                .and_then(Value::as_str)
                .map(escape)
        }),
    }
}

/// The Admin API of one organization.
pub struct AdminClient {
    http: reqwest::Client,
    base_url: String,
    token: AdminToken,
}

impl AdminClient {
    pub fn new(base_url: &str, timeout: Duration, token: AdminToken) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(format!("issuer-svc/{} register", crate::VERSION))
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
        Ok(AdminClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub async fn get(&self, path: &str) -> Result<Value, AdminApiError> {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, AdminApiError> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, AdminApiError> {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Every item of a cursor-page list, following `next_page`.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, AdminApiError> {
        self.follow(path, "page", next_page_cursor).await
    }

    /// Every item of a `SyncPage` list (workspaces), following `last_id`
    /// through `after_id` while `has_more`.
    pub async fn list_sync_pages(&self, path: &str) -> Result<Vec<Value>, AdminApiError> {
        self.follow(path, "after_id", sync_page_cursor).await
    }

    async fn follow(
        &self,
        path: &str,
        cursor_param: &str,
        next: fn(&Value) -> Option<String>,
    ) -> Result<Vec<Value>, AdminApiError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = page_url(path, cursor_param, cursor.as_deref());
            let answer = self.get(&url).await?;
            if let Some(data) = answer.get("data").and_then(Value::as_array) {
                items.extend(data.iter().cloned());
            }
            match next(&answer) {
                Some(after) => cursor = Some(after),
                None => return Ok(items),
            }
        }
        Err(AdminApiError::transport(
            &format!("GET {path}"),
            format!("more than {MAX_PAGES} pages"),
        ))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, AdminApiError> {
        let shown = path.split('?').next().unwrap_or(path);
        let call = format!("{method} {shown}");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(self.token.expose())
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|err| AdminApiError::transport(&call, without_url(&err)))?;
        let status = response.status().as_u16();
        let request_id = response
            .headers()
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_bounded(response, MAX_BODY_BYTES)
            .await
            .map_err(|err| match err {
                BodyError::TooLarge => AdminApiError::transport(&call, "answer larger than 4 MiB"),
                BodyError::Read(err) => AdminApiError::transport(&call, without_url(&err)),
            })?;
        if !(200..300).contains(&status) {
            return Err(parse_error(&call, status, request_id, &bytes));
        }
        serde_json::from_slice(&bytes)
            .map_err(|err| AdminApiError::transport(&call, format!("answer is not JSON: {err}")))
    }
}

fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// `path` with `limit` and, after the first page, the cursor.
fn page_url(path: &str, cursor_param: &str, cursor: Option<&str>) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    match cursor {
        None => format!("{path}{sep}limit={PAGE_LIMIT}"),
        Some(cursor) => format!(
            "{path}{sep}limit={PAGE_LIMIT}&{cursor_param}={}",
            encode(cursor)
        ),
    }
}

/// A cursor page's next cursor: `next_page` when not null or empty.
pub fn next_page_cursor(answer: &Value) -> Option<String> {
    answer
        .get("next_page")
        .and_then(Value::as_str)
        .filter(|next| !next.is_empty())
        .map(str::to_owned)
}

/// A `SyncPage`'s next `after_id`, as the SDK decides it: none when
/// `has_more` is false or the page is empty, else `last_id`.
pub fn sync_page_cursor(answer: &Value) -> Option<String> {
    if answer.get("has_more").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let data = answer.get("data").and_then(Value::as_array);
    if data.is_none_or(|items| items.is_empty()) {
        return None;
    }
    answer
        .get("last_id")
        .and_then(Value::as_str)
        .filter(|last| !last.is_empty())
        .map(str::to_owned)
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
