use super::*;
use crate::test_support::{IssuerServer, NOW, TestKey, call, claims, config, exchange_body};
use axum::http::StatusCode;
use serde_json::{Value, json};

async fn counters(state: &AppState) -> Value {
    call(state, "GET", "/_test/counters", &[], Value::Null)
        .await
        .body
}

pub(super) fn message_body() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_malformed_exchange_is_a_400_in_claudes_error_shape() {
    let state = AppState::new(config("https://i.example.com/p"), Clock::fixed(NOW)).unwrap();
    let reply = call(
        &state,
        "POST",
        "/v1/oauth/token",
        &[],
        json!({"grant_type": "x"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let request_id = reply.headers["request-id"].to_str().unwrap().to_owned();
    assert!(request_id.starts_with("req_"));
    assert_eq!(reply.body["type"], "error");
    assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    assert_eq!(reply.body["request_id"], request_id.as_str());
    assert_eq!(
        counters(&state).await["exchange_failures"],
        json!({"invalid_request": 1})
    );
}

#[tokio::test]
async fn every_denial_is_the_same_401_and_only_the_counter_knows_why() {
    let state = AppState::new(config("https://i.example.com/p"), Clock::fixed(NOW)).unwrap();
    let key = TestKey::es256("k1");
    let wrong_iss = exchange_body(
        &key.sign(&claims("https://evil.example.com", NOW)),
        "fdrl_demo",
    );
    let unknown_rule = exchange_body(
        &key.sign(&claims("https://i.example.com/p", NOW)),
        "fdrl_nope",
    );
    for body in [wrong_iss, unknown_rule] {
        let reply = call(
            &state,
            "POST",
            "/v1/oauth/token",
            &[(
                "anthropic-beta",
                "oauth-2025-04-20,oidc-federation-2026-04-01",
            )],
            body,
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.body["error"],
            json!({"type": "authentication_error", "message": "Authentication failed"})
        );
    }
    let snapshot = counters(&state).await;
    assert_eq!(
        snapshot["exchange_failures"],
        json!({"issuer_mismatch": 1, "unknown_rule": 1})
    );
    assert_eq!(snapshot["exchanges"], 0);
}

#[tokio::test]
async fn messages_needs_a_minted_unexpired_bearer_token() {
    let state = AppState::new(config("https://i.example.com/p"), Clock::fixed(NOW)).unwrap();
    let token = state.tokens.mint(crate::tokens::TokenGrant {
        rule: "fdrl_demo".into(),
        service_account: "svac_demo".into(),
        workspace: "wrkspc_demo".into(),
        scope: crate::scope::OAuthScope::Developer,
        subject: "spiffe://x".into(),
        expires_at: NOW + 60,
    });
    let bearer = format!("Bearer {}", token.expose());

    let reply = call(
        &state,
        "POST",
        "/v1/messages",
        &[("x-api-key", "sk-ant-api03-secret")],
        message_body(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body["error"]["message"], "missing bearer token");

    let reply = call(
        &state,
        "POST",
        "/v1/messages",
        &[("authorization", "Bearer sk-ant-oat01-bogus")],
        message_body(),
    )
    .await;
    assert_eq!(reply.body["error"]["message"], "invalid bearer token");

    let headers = [
        ("authorization", bearer.as_str()),
        ("x-api-key", "sk-ant-api03-secret"),
        ("anthropic-beta", "oauth-2025-04-20"),
    ];
    let reply = call(&state, "POST", "/v1/messages", &headers, message_body()).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    assert!(reply.body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(reply.body["type"], "message");
    assert_eq!(reply.body["role"], "assistant");
    assert_eq!(reply.body["model"], "claude-sonnet-4-5");
    assert_eq!(reply.body["content"][0]["type"], "text");
    assert_eq!(reply.body["stop_reason"], "end_turn");
    assert_eq!(reply.body["stop_sequence"], Value::Null);
    assert!(reply.body["usage"]["input_tokens"].as_u64().unwrap() >= 1);

    let last = call(&state, "GET", "/_test/last_request", &[], Value::Null)
        .await
        .body;
    assert_eq!(last["headers"]["authorization"], "<redacted>");
    assert_eq!(last["headers"]["x-api-key"], "<redacted>");
    assert_eq!(last["headers"]["anthropic-beta"], "oauth-2025-04-20");
    assert_eq!(last["bearer_valid"], true);
    assert!(!last.to_string().contains(token.expose()));

    let advanced = call(
        &state,
        "POST",
        "/_test/advance_clock",
        &[],
        json!({"seconds": 60}),
    )
    .await;
    assert_eq!(advanced.body["now"], NOW + 60);
    let reply = call(
        &state,
        "POST",
        "/v1/messages",
        &[("authorization", bearer.as_str())],
        message_body(),
    )
    .await;
    assert_eq!(reply.body["error"]["message"], "token expired");

    assert_eq!(
        counters(&state).await,
        json!({
            "admin_api_versions": {},
            "exchanges": 0,
            "exchange_failures": {},
            "exchanges_by_outcome": {},
            "faults_injected": 0,
            "jwks_fetches": 0,
            "requests_with_valid_token": 1,
            "requests_without_valid_token": 3,
            "requests_forbidden": 0,
            "requests_with_api_key": 2,
        })
    );
    let reset = call(&state, "POST", "/_test/reset", &[], Value::Null).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    assert_eq!(counters(&state).await["requests_without_valid_token"], 0);
    let last = call(&state, "GET", "/_test/last_request", &[], Value::Null).await;
    assert_eq!(last.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_test_requests_and_unknown_routes() {
    let state = AppState::new(config("https://i.example.com/p"), Clock::fixed(NOW)).unwrap();
    let reply = call(
        &state,
        "POST",
        "/_test/advance_clock",
        &[],
        json!({"seconds": -5}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(state.clock.now(), NOW);
    let reply = call(&state, "GET", "/v1/nothing", &[], Value::Null).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body["error"]["type"], "not_found_error");
}

/// Real sockets end to end: an issuer serving discovery + JWKS, fake-claude
/// serving `app()`, reqwest as the client.
#[tokio::test]
async fn exchange_then_messages_over_real_sockets() {
    let key = TestKey::es256("k1");
    let issuer = IssuerServer::start(&[&key]).await;
    let state = AppState::new(config(&issuer.issuer_url), Clock::fixed(NOW)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(crate::server::serve(
        listener,
        app(state.clone()),
        std::future::pending(),
    ));
    let client = crate::test_support::sdk_client();
    let now = state.clock.now();

    let assertion = key.sign(&claims(&issuer.issuer_url, now));
    let response = client
        .post(format!("{base}/v1/oauth/token"))
        .header(
            "anthropic-beta",
            "oauth-2025-04-20,oidc-federation-2026-04-01",
        )
        .json(&exchange_body(&assertion, "fdrl_demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], "workspace:developer");
    assert_eq!(token["expires_in"], 1200);
    let access_token = token["access_token"].as_str().unwrap();
    assert!(access_token.starts_with("sk-ant-oat01-") && access_token.len() >= 13 + 48);

    let replay = client
        .post(format!("{base}/v1/oauth/token"))
        .json(&exchange_body(&assertion, "fdrl_demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);

    let ok = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth(access_token)
        .json(&message_body())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let message: Value = ok.json().await.unwrap();
    assert_eq!(message["model"], "claude-sonnet-4-5");

    let bogus = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth("sk-ant-oat01-not-a-real-token")
        .json(&message_body())
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 401);

    let counters: Value = client
        .get(format!("{base}/_test/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counters,
        json!({
            "admin_api_versions": {},
            "exchanges": 1,
            "exchange_failures": {"jti_reused": 1},
            "exchanges_by_outcome": {"success": 1, "denied": 1},
            "faults_injected": 0,
            "jwks_fetches": 1,
            "requests_with_valid_token": 1,
            "requests_without_valid_token": 1,
            "requests_forbidden": 0,
            "requests_with_api_key": 0,
        })
    );
    assert_eq!(issuer.jwks_fetches(), 1);
}
