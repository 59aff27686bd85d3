//! Test helpers: a tiny in-process Claude token endpoint and app builders.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod process;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;
use issuer_svc::AppState;
use issuer_svc::clock::{Clock, SystemClock};
use issuer_svc::config::Config;
use issuer_svc::exchange::HttpTransport;
use issuer_svc::keys::KeyStore;
use tower::ServiceExt;

pub const IDENTITY: &str = "spiffe://cluster.local/ns/demo/sa/app";

/// One request the fake Claude received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

/// Plays Claude's `POST /v1/oauth/token`.
#[derive(Clone, Default)]
pub struct FakeClaude {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// `(status, body)` to answer; 200 with a fresh token when `None`.
    pub answer: Arc<Mutex<Option<(u16, String)>>>,
    /// Answers used once each, before `answer`; errors carry `retry-after: 0`.
    pub script: Arc<Mutex<std::collections::VecDeque<(u16, String)>>>,
    pub delay: Arc<Mutex<Duration>>,
}

impl FakeClaude {
    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn answer_with(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap() = Some((status, body.to_owned()));
    }

    /// Serves on 127.0.0.1 and returns the base URL.
    pub async fn start(&self) -> String {
        let app = Router::new()
            .route("/v1/oauth/token", post(token))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }
}

async fn token(State(fake): State<FakeClaude>, headers: HeaderMap, body: String) -> Response {
    let body: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    let n = {
        let mut seen = fake.seen.lock().unwrap();
        seen.push(Seen { headers, body });
        seen.len()
    };
    let delay = *fake.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let scripted = fake.script.lock().unwrap().pop_front();
    let answer = scripted.or_else(|| fake.answer.lock().unwrap().clone());
    match answer {
        Some((status, body)) => (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json"), ("request-id", "req_from_header"), ("retry-after", "0")],
            body,
        )
            .into_response(),
        None => (
            [("content-type", "application/json")],
            format!(
                r#"{{"access_token":"sk-ant-oat01-fake-{n}","token_type":"Bearer","expires_in":3600,"scope":"workspace:developer"}}"#
            ),
        )
            .into_response(),
    }
}

/// The unit-test config shape, pointed at `claude_base`; `extra_server` goes
/// into `[server]`, `extra` at the end.
pub fn config_text(
    claude_base: &str,
    state_dir: &std::path::Path,
    extra_server: &str,
    extra: &str,
) -> String {
    format!(
        r#"
[server]
public_listen = "127.0.0.1:0"
public_base_url = "http://127.0.0.1:8081"
internal_listen = "127.0.0.1:0"
state_dir = "{state_dir}"
{extra_server}

[claude]
base_url = "{claude_base}"
timeout = "2s"

[[credential_provider]]
id = "claude-demo"
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_demo"
  organization_id = "00000000-0000-4000-8000-000000000001"
  service_account_id = "svac_demo"
  workspace_id = "wrkspc_demo"

[[credential_provider]]
id = "claude-off"
is_active = false
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_off"
  organization_id = "00000000-0000-4000-8000-000000000001"
  service_account_id = "svac_off"

[[client_workload]]
id = "demo-app"
identity = "{IDENTITY}"

[[client_workload]]
id = "off-app"
identity = "off-app"

[[access_policy]]
client_workload = "demo-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"

[[access_policy]]
client_workload = "off-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-off"
{extra}
"#,
        state_dir = state_dir.display()
    )
}

/// A ready state built like `serve` does, with keys in a temp dir.
pub struct TestApp {
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

pub fn app_from(text_for: impl FnOnce(&std::path::Path) -> String) -> TestApp {
    app_with_clock(text_for, Arc::new(SystemClock))
}

pub fn app_with_clock(
    text_for: impl FnOnce(&std::path::Path) -> String,
    clock: Arc<dyn Clock>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let text = text_for(&dir.path().join("state"));
    let loaded = Config::from_toml(&text).unwrap_or_else(|e| panic!("{:?}", e.0));
    let keys = KeyStore::open(&loaded.config.server.state_dir)
        .unwrap()
        .load_or_generate()
        .unwrap();
    let transport = HttpTransport::new(loaded.config.claude.timeout).unwrap();
    let state = AppState::new(loaded.config, keys, clock, Arc::new(transport));
    TestApp { state, dir }
}

pub async fn app(claude_base: &str) -> TestApp {
    app_from(|dir| config_text(claude_base, dir, "", ""))
}

/// Sends one request to `router`; returns status, headers and body text.
pub async fn send(router: Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

pub fn token_request(body: &str) -> Request<Body> {
    Request::post("/v1/token")
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

pub fn token_body(identity: &str) -> String {
    serde_json::json!({"client_workload": identity, "server_workload": "api.anthropic.com"})
        .to_string()
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// Asserts an internal API error answer and returns it.
pub fn error_of(
    status: StatusCode,
    body: &str,
    expected: claude_wif_api::ErrorCode,
) -> claude_wif_api::ErrorResponse {
    assert_eq!(status.as_u16(), expected.status(), "{body}");
    let error: claude_wif_api::ErrorResponse = serde_json::from_str(body).unwrap();
    assert_eq!(error.error, expected);
    error
}

/// An address nothing listens on.
pub async fn dead_addr() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}
