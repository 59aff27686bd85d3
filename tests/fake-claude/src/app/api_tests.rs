//! The API endpoints (authorization, scope, streaming) and the test-only
//! controls (revocation, faults), through `app()` and over real sockets.

use super::*;
use crate::test_support::{IssuerServer, NOW, TestKey, call, claims, exchange_body, full_config};
use axum::http::StatusCode;
use serde_json::{Value, json};

struct Fixture {
    state: AppState,
    key: TestKey,
    iss: String,
    _server: IssuerServer,
}

async fn fixture() -> Fixture {
    let key = TestKey::es256("k1");
    let server = IssuerServer::start(&[&key]).await;
    let state = AppState::new(full_config(&server.issuer_url), Clock::fixed(NOW)).unwrap();
    Fixture {
        state,
        key,
        iss: server.issuer_url.clone(),
        _server: server,
    }
}

impl Fixture {
    /// A real exchange for `rule`; returns the access token.
    async fn token(&self, rule: &str) -> String {
        let body = exchange_body(&self.key.sign(&claims(&self.iss, NOW)), rule);
        let reply = call(&self.state, "POST", "/v1/oauth/token", &[], body).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }
}

fn message_body() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
}

/// `(method, uri, body)` of one request to each endpoint.
fn endpoints() -> [(&'static str, &'static str, Value); 4] {
    [
        ("POST", "/v1/messages", message_body()),
        (
            "POST",
            "/v1/messages/count_tokens",
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}),
        ),
        ("GET", "/v1/models", Value::Null),
        ("GET", "/v1/models/claude-sonnet-4-5", Value::Null),
    ]
}

async fn each_endpoint(state: &AppState, headers: &[(&str, &str)], status: u16, error: &str) {
    for (method, uri, body) in endpoints() {
        let reply = call(state, method, uri, headers, body).await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {uri}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["type"], error, "{method} {uri}");
        assert!(reply.headers.contains_key("request-id"));
    }
}

#[tokio::test]
async fn a_developer_or_inference_token_reaches_every_endpoint() {
    let f = fixture().await;
    for rule in ["fdrl_demo", "fdrl_multi_pinned"] {
        let token = if rule == "fdrl_demo" {
            f.token(rule).await
        } else {
            let mut body = exchange_body(&f.key.sign(&claims(&f.iss, NOW)), "fdrl_multi");
            body["workspace_id"] = json!("wrkspc_other");
            let reply = call(&f.state, "POST", "/v1/oauth/token", &[], body).await;
            assert_eq!(reply.body["scope"], "workspace:inference");
            reply.body["access_token"].as_str().unwrap().to_owned()
        };
        let bearer = format!("Bearer {token}");
        let headers = [("authorization", bearer.as_str())];
        let reply = call(&f.state, "POST", "/v1/messages", &headers, message_body()).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["content"][0]["text"], "Hello from fake-claude.");
        let (_, uri, body) = endpoints()[1].clone();
        let reply = call(&f.state, "POST", uri, &headers, body).await;
        assert!(reply.body["input_tokens"].as_u64().unwrap() >= 1);
        let reply = call(&f.state, "GET", "/v1/models", &headers, Value::Null).await;
        assert_eq!(reply.body["data"][0]["id"], "claude-sonnet-4-6");
        let reply = call(
            &f.state,
            "GET",
            "/v1/models/claude-haiku-4-5",
            &headers,
            Value::Null,
        )
        .await;
        assert_eq!(reply.body["display_name"], "Claude Haiku 4.5");
        let reply = call(
            &f.state,
            "GET",
            "/v1/models/claude-9",
            &headers,
            Value::Null,
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.body["error"]["type"], "not_found_error");
    }
    let last = call(&f.state, "GET", "/_test/last_request", &[], Value::Null)
        .await
        .body;
    assert_eq!(
        last["token"],
        json!({
            "federation_rule_id": "fdrl_multi",
            "service_account_id": "svac_demo",
            "workspace_id": "wrkspc_other",
            "scope": "workspace:inference",
            "expires_at": NOW + 1200,
        })
    );
}

#[tokio::test]
async fn tunnel_and_admin_scopes_get_403_permission_error_everywhere() {
    let f = fixture().await;
    for rule in ["fdrl_tunnels", "fdrl_admin"] {
        let bearer = format!("Bearer {}", f.token(rule).await);
        each_endpoint(
            &f.state,
            &[("authorization", bearer.as_str())],
            403,
            "permission_error",
        )
        .await;
    }
    let snapshot = f.state.counters.snapshot();
    assert_eq!(snapshot.requests_forbidden, 8);
    assert_eq!(snapshot.requests_with_valid_token, 8);
}

#[tokio::test]
async fn missing_unknown_expired_and_revoked_tokens_get_401() {
    let f = fixture().await;
    each_endpoint(&f.state, &[], 401, "authentication_error").await;
    each_endpoint(
        &f.state,
        &[("x-api-key", "sk-ant-api03-key")],
        401,
        "authentication_error",
    )
    .await;
    each_endpoint(
        &f.state,
        &[("authorization", "Bearer sk-ant-oat01-unknown")],
        401,
        "authentication_error",
    )
    .await;

    let revoked = format!("Bearer {}", f.token("fdrl_demo").await);
    let reply = call(&f.state, "POST", "/_test/revoke_tokens", &[], Value::Null).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    each_endpoint(
        &f.state,
        &[("authorization", revoked.as_str())],
        401,
        "authentication_error",
    )
    .await;
    let reply = call(
        &f.state,
        "GET",
        "/v1/models",
        &[("authorization", revoked.as_str())],
        Value::Null,
    )
    .await;
    assert_eq!(reply.body["error"]["message"], "token revoked");

    let fresh = format!("Bearer {}", f.token("fdrl_demo").await);
    let headers = [("authorization", fresh.as_str())];
    assert_eq!(
        call(&f.state, "GET", "/v1/models", &headers, Value::Null)
            .await
            .status,
        200
    );
    f.state.clock.advance(1200);
    let reply = call(&f.state, "GET", "/v1/models", &headers, Value::Null).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"]["message"], "token expired");
    let snapshot = f.state.counters.snapshot();
    assert_eq!(snapshot.requests_with_api_key, 4);
    assert_eq!(snapshot.requests_with_valid_token, 1);
}

#[tokio::test]
async fn streaming_is_server_sent_events_in_the_messages_sequence() {
    let f = fixture().await;
    let bearer = format!("Bearer {}", f.token("fdrl_demo").await);
    let mut body = message_body();
    body["stream"] = json!(true);
    let reply = call(
        &f.state,
        "POST",
        "/v1/messages",
        &[("authorization", bearer.as_str())],
        body,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut names = Vec::new();
    let mut text = String::new();
    for frame in reply.text.split("\n\n").filter(|f| !f.trim().is_empty()) {
        let mut lines = frame.lines();
        let name = lines.next().unwrap().strip_prefix("event: ").unwrap();
        let data: Value =
            serde_json::from_str(lines.next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(data["type"], name);
        if let Some(delta) = data["delta"]["text"].as_str() {
            text.push_str(delta);
        }
        names.push(name.to_owned());
    }
    assert_eq!(names.first().map(String::as_str), Some("message_start"));
    assert_eq!(names.last().map(String::as_str), Some("message_stop"));
    assert_eq!(text, "Hello from fake-claude.");
}

#[tokio::test]
async fn invalid_message_bodies_are_400_after_authorization() {
    let f = fixture().await;
    let bearer = format!("Bearer {}", f.token("fdrl_demo").await);
    let headers = [("authorization", bearer.as_str())];
    let reply = call(
        &f.state,
        "POST",
        "/v1/messages",
        &headers,
        json!({"model": "m", "messages": []}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["type"], "invalid_request_error");
}

async fn serve(state: &AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(crate::server::serve(
        listener,
        app(state.clone()),
        std::future::pending(),
    ));
    base
}

#[tokio::test]
async fn token_endpoint_faults_over_real_sockets() {
    let f = fixture().await;
    let base = serve(&f.state).await;
    let client = crate::test_support::sdk_client();
    let token_url = format!("{base}/v1/oauth/token");
    let fresh = || exchange_body(&f.key.sign(&claims(&f.iss, NOW)), "fdrl_demo");
    let set = |spec: Value| {
        let client = client.clone();
        let url = format!("{base}/_test/faults");
        async move { client.post(url).json(&spec).send().await.unwrap().status() }
    };

    assert_eq!(
        set(json!({"status": 503, "retry_after": 7, "count": 2})).await,
        204
    );
    for _ in 0..2 {
        let reply = client.post(&token_url).json(&fresh()).send().await.unwrap();
        assert_eq!(reply.status(), 503);
        assert_eq!(reply.headers()["retry-after"], "7");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["type"], "api_error");
    }
    let reply = client.post(&token_url).json(&fresh()).send().await.unwrap();
    assert_eq!(reply.status(), 200, "the fault was used up");

    assert_eq!(set(json!({"drop_connection": true})).await, 204);
    for _ in 0..2 {
        let error = client
            .post(&token_url)
            .json(&fresh())
            .send()
            .await
            .unwrap_err();
        assert!(!error.is_timeout(), "{error}");
    }
    let cleared = client
        .delete(format!("{base}/_test/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);

    assert_eq!(set(json!({"body": "malformed", "count": 1})).await, 204);
    let reply = client.post(&token_url).json(&fresh()).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert!(reply.json::<Value>().await.is_err());

    assert_eq!(set(json!({"delay_ms": 200, "count": 1})).await, 204);
    let reply = client.post(&token_url).json(&fresh()).send().await.unwrap();
    assert_eq!(reply.status(), 200, "delay alone answers normally");

    assert_eq!(set(json!({"status": 200})).await, 400);
    let counters: Value = client
        .get(format!("{base}/_test/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counters["faults_injected"], 5);
    assert_eq!(counters["exchanges"], 2);
    let history: Value = client
        .get(format!("{base}/_test/auth_history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let outcomes: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["success", "success"],
        "faulted requests are not exchanges"
    );

    let reset = client
        .post(format!("{base}/_test/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    let history: Value = client
        .get(format!("{base}/_test/auth_history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history, json!([]));
}
