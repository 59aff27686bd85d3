//! Every refusal of `POST /v1/oauth/token`, through `app()`: the status, the
//! error type and the reason recorded in the authentication history.

use super::*;
use crate::config::DEFAULT_WORKSPACE_ID;
use crate::test_support::{
    IssuerServer, NOW, SUBJECT, TestKey, call, claims, dead_issuer_url, exchange_body, full_config,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
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
    fn claims(&self) -> Value {
        claims(&self.iss, NOW)
    }

    fn with(&self, name: &str, value: Value) -> Value {
        let mut c = self.claims();
        c[name] = value;
        c
    }

    fn without(&self, name: &str) -> Value {
        let mut c = self.claims();
        c.as_object_mut().unwrap().remove(name);
        c
    }

    fn body(&self, claims: &Value, rule: &str) -> Value {
        exchange_body(&self.key.sign(claims), rule)
    }

    /// Posts `body`; checks the reply and the newest history event.
    async fn expect(&self, body: Value, status: u16, error_type: &str, reason: &str) {
        let reply = call(&self.state, "POST", "/v1/oauth/token", &[], body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{reason}: {}", reply.text);
        assert_eq!(reply.body["type"], "error", "{reason}");
        assert_eq!(reply.body["error"]["type"], error_type, "{reason}");
        if status == 401 {
            assert_eq!(reply.body["error"]["message"], "Authentication failed");
        }
        let request_id = reply.headers["request-id"].to_str().unwrap();
        assert_eq!(reply.body["request_id"], request_id);
        let event = self.state.history.events().pop().unwrap();
        assert_eq!(event.reason.as_deref(), Some(reason));
        assert_eq!(event.status, status);
        let outcome = if status == 400 {
            "invalid_request"
        } else {
            "denied"
        };
        assert_eq!(event.outcome.as_str(), outcome);
        if let Some(assertion) = body["assertion"].as_str() {
            let history = serde_json::to_string(&self.state.history.events()).unwrap();
            assert!(
                !history.contains(assertion),
                "{reason}: history leaks the assertion"
            );
        }
    }
}

fn raw_jwt(header: &Value, claims: &Value) -> String {
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.c2ln", b64(header), b64(claims))
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request_error() {
    let f = fixture().await;
    let good = f.body(&f.claims(), "fdrl_demo");
    let mut cases: Vec<Value> = Vec::new();
    for field in [
        "grant_type",
        "assertion",
        "federation_rule_id",
        "organization_id",
    ] {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(field);
        cases.push(v);
    }
    for (field, value) in [
        ("grant_type", json!("client_credentials")),
        ("federation_rule_id", json!("rule-1")),
        ("organization_id", json!("org-1")),
        ("workspace_id", json!("")),
        ("workspace_id", json!("ws_1")),
        ("service_account_id", json!("sa-1")),
    ] {
        let mut v = good.clone();
        v[field] = value;
        cases.push(v);
    }
    for body in cases {
        f.expect(body, 400, "invalid_request_error", "invalid_request")
            .await;
    }
    let reply = call(&f.state, "POST", "/v1/oauth/token", &[], json!([1])).await;
    assert_eq!(reply.status, 400);
    let snapshot = f.state.counters.snapshot();
    assert_eq!(snapshot.exchanges_by_outcome["invalid_request"], 11);
}

#[tokio::test]
async fn every_assertion_denial_is_401_with_its_reason_in_the_history() {
    let f = fixture().await;
    let hs = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(
            &header,
            &f.claims(),
            &EncodingKey::from_secret(b"s").unwrap(),
        )
        .unwrap()
    };
    let mut foreign_org = f.body(&f.claims(), "fdrl_demo");
    foreign_org["organization_id"] = json!("00000000-0000-4000-8000-000000000009");
    let mut other_account = f.body(&f.claims(), "fdrl_demo");
    other_account["service_account_id"] = json!("svac_other");
    let mut other_workspace = f.body(&f.claims(), "fdrl_demo");
    other_workspace["workspace_id"] = json!("wrkspc_other");
    let mut default_workspace = f.body(&f.claims(), "fdrl_demo");
    default_workspace["workspace_id"] = json!("default");
    let mut limited = f.body(&f.claims(), "fdrl_all");
    limited["workspace_id"] = json!("wrkspc_demo");
    limited["service_account_id"] = json!("svac_limited");
    let mut implicit_user = f.body(&f.claims(), "fdrl_all");
    implicit_user["workspace_id"] = json!("default");
    implicit_user["service_account_id"] = json!("svac_limited");
    let mut default_audience = f.body(&f.with("aud", json!("https://example.com")), "fdrl_default");
    default_audience["workspace_id"] = json!("default");
    let mut all_unpinned = f.body(&f.claims(), "fdrl_all");
    all_unpinned["service_account_id"] = json!("svac_limited");
    let big = raw_jwt(
        &json!({"alg": "ES256", "kid": "k1"}),
        &f.with("pad", json!("x".repeat(16 * 1024))),
    );
    let stranger = TestKey::es256("k2");
    let impostor = TestKey::es256("k1");
    let cases: Vec<(&str, Value)> = vec![
        ("assertion_too_large", exchange_body(&big, "fdrl_demo")),
        ("malformed_jwt", exchange_body("not.a-jwt", "fdrl_demo")),
        ("unsupported_alg", exchange_body(&hs, "fdrl_demo")),
        (
            "unsupported_alg",
            exchange_body(
                &raw_jwt(&json!({"alg": "none", "kid": "k1"}), &f.claims()),
                "fdrl_demo",
            ),
        ),
        (
            "missing_kid",
            exchange_body(&raw_jwt(&json!({"alg": "ES256"}), &f.claims()), "fdrl_demo"),
        ),
        ("organization_mismatch", foreign_org),
        ("unknown_rule", f.body(&f.claims(), "fdrl_nope")),
        (
            "issuer_mismatch",
            f.body(&f.with("iss", json!(format!("{}/", f.iss))), "fdrl_demo"),
        ),
        (
            "unknown_kid",
            exchange_body(&stranger.sign(&f.claims()), "fdrl_demo"),
        ),
        (
            "bad_signature",
            exchange_body(&impostor.sign(&f.claims()), "fdrl_demo"),
        ),
        ("missing_sub", f.body(&f.without("sub"), "fdrl_demo")),
        (
            "match_subject_prefix",
            f.body(
                &f.with("sub", json!("spiffe://cluster.local/ns/prod/sa/x")),
                "fdrl_demo",
            ),
        ),
        (
            "audience_mismatch",
            f.body(&f.with("aud", json!("https://example.com")), "fdrl_demo"),
        ),
        // A rule without match.audience still wants Anthropic's audience.
        ("audience_mismatch", default_audience),
        (
            "match_claims",
            f.body(&f.with("ns", json!("demo")), "fdrl_claims"),
        ),
        ("missing_iat", f.body(&f.without("iat"), "fdrl_demo")),
        (
            "iat_in_future",
            f.body(&f.with("iat", json!(NOW + 31)), "fdrl_demo"),
        ),
        ("expired", f.body(&claims(&f.iss, NOW - 631), "fdrl_demo")),
        (
            "nbf_in_future",
            f.body(&f.with("nbf", json!(NOW + 31)), "fdrl_demo"),
        ),
        (
            "lifetime_too_long",
            f.body(&f.with("exp", json!(NOW + 3601)), "fdrl_demo"),
        ),
        ("service_account_mismatch", other_account),
        ("workspace_not_allowed", other_workspace),
        ("workspace_not_allowed", default_workspace),
        ("service_account_not_in_workspace", limited),
        // The implicit default-workspace membership is only workspace_user.
        ("insufficient_workspace_role", implicit_user),
        ("workspace_id_required", all_unpinned),
        ("workspace_id_required", f.body(&f.claims(), "fdrl_multi")),
    ];
    let total = cases.len();
    for (reason, body) in cases {
        f.expect(body, 401, "authentication_error", reason).await;
    }
    let used = f.body(&f.claims(), "fdrl_demo");
    let reply = call(&f.state, "POST", "/v1/oauth/token", &[], used.clone()).await;
    assert_eq!(reply.status, 200);
    f.expect(used, 401, "authentication_error", "jti_reused")
        .await;

    let snapshot = f.state.counters.snapshot();
    assert_eq!(snapshot.exchanges_by_outcome["denied"], total as u64 + 1);
    assert_eq!(snapshot.exchanges_by_outcome["success"], 1);
    let history = f.state.history.events();
    let success = history.iter().find(|e| e.reason.is_none()).unwrap();
    assert_eq!(success.outcome.as_str(), "success");
    assert_eq!(success.status, 200);
    assert_eq!(success.issuer.as_deref(), Some("fdis_demo"));
    assert_eq!(success.sub.as_deref(), Some(SUBJECT));
    assert_eq!(success.kid.as_deref(), Some("k1"));
    assert!(success.jti.is_some());
}

#[tokio::test]
async fn an_unreachable_jwks_is_jwks_unavailable() {
    let dead = dead_issuer_url().await;
    let state = AppState::new(full_config(&dead), Clock::fixed(NOW)).unwrap();
    let key = TestKey::es256("k1");
    let body = exchange_body(&key.sign(&claims(&dead, NOW)), "fdrl_demo");
    let reply = call(&state, "POST", "/v1/oauth/token", &[], body).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"]["type"], "authentication_error");
    let event = state.history.events().pop().unwrap();
    assert_eq!(event.reason.as_deref(), Some("jwks_unavailable"));
    assert_eq!(event.issuer.as_deref(), Some("fdis_demo"));
}

#[tokio::test]
async fn what_the_rules_allow() {
    let f = fixture().await;
    let exchange = |body: Value| {
        let state = f.state.clone();
        async move {
            let reply = call(&state, "POST", "/v1/oauth/token", &[], body).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            let token = reply.body["access_token"].as_str().unwrap().to_owned();
            (state.tokens.check(&token, NOW).unwrap(), reply.body)
        }
    };
    let claims_ok = f.with("ns", json!("demo"));
    let mut claims_ok = claims_ok;
    claims_ok["team"] = json!("billing");
    claims_ok["sub"] = json!("anything-at-all");
    let (grant, _) = exchange(f.body(&claims_ok, "fdrl_claims")).await;
    assert_eq!(grant.rule, "fdrl_claims");

    let mut default = f.body(&f.claims(), "fdrl_default");
    default["workspace_id"] = json!("default");
    let (grant, body) = exchange(default).await;
    assert_eq!(
        grant.workspace, DEFAULT_WORKSPACE_ID,
        "the exchange's `default` is the default workspace's tagged id"
    );
    assert_eq!(body["scope"], "workspace:developer");
    let mut tagged = f.body(&f.claims(), "fdrl_default");
    tagged["workspace_id"] = json!(DEFAULT_WORKSPACE_ID);
    let (grant, _) = exchange(tagged).await;
    assert_eq!(grant.workspace, DEFAULT_WORKSPACE_ID);

    let mut pinned = f.body(&f.claims(), "fdrl_all");
    pinned["workspace_id"] = json!("wrkspc_other");
    pinned["service_account_id"] = json!("svac_limited");
    let (grant, _) = exchange(pinned).await;
    assert_eq!(
        (grant.workspace.as_str(), grant.service_account.as_str()),
        ("wrkspc_other", "svac_limited")
    );

    let (_, body) = exchange(f.body(&f.claims(), "fdrl_tunnels")).await;
    assert_eq!(body["scope"], "workspace:manage_tunnels");

    let long = f.with("exp", json!(NOW + 7200));
    let (_, body) = exchange(f.body(&long, "fdrl_lenient")).await;
    assert_eq!(body["expires_in"], 3600);
    let (_, _) = exchange(f.body(&long, "fdrl_lenient")).await;
    // check_jti = false: the same assertion twice is fine there.
    let same = f.body(&f.claims(), "fdrl_lenient");
    exchange(same.clone()).await;
    exchange(same).await;
}

#[tokio::test]
async fn the_token_endpoint_needs_the_federation_beta_and_the_api_the_oauth_one() {
    let f = fixture().await;
    for beta in ["oauth-2025-04-20", "oidc-federation-2026-04-01x", ""] {
        let reply = call(
            &f.state,
            "POST",
            "/v1/oauth/token",
            &[("anthropic-beta", beta)],
            f.body(&f.claims(), "fdrl_demo"),
        )
        .await;
        assert_eq!(reply.status, 400, "anthropic-beta {beta:?}: {}", reply.text);
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("unsupported_grant_type:"), "{message}");
        assert!(message.contains("oidc-federation-2026-04-01"), "{message}");
    }
    let snapshot = f.state.counters.snapshot();
    assert_eq!(snapshot.exchange_failures["unsupported_grant_type"], 3);
    assert_eq!(snapshot.exchanges, 0);
    let reply = call(
        &f.state,
        "POST",
        "/v1/oauth/token",
        &[
            ("anthropic-beta", "oauth-2025-04-20"),
            ("anthropic-beta", " oidc-federation-2026-04-01 "),
        ],
        f.body(&f.claims(), "fdrl_demo"),
    )
    .await;
    assert_eq!(
        reply.status, 200,
        "repeated header, items trimmed: {}",
        reply.text
    );
    let token = reply.body["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let messages = |beta: &'static str| {
        let (state, bearer) = (f.state.clone(), bearer.clone());
        async move {
            let headers = [("authorization", bearer.as_str()), ("anthropic-beta", beta)];
            call(
                &state,
                "POST",
                "/v1/messages",
                &headers,
                super::tests::message_body(),
            )
            .await
        }
    };
    let refused = messages("prompt-caching-2024-07-31").await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.body["error"]["type"], "authentication_error");
    assert!(
        refused.text.contains("oauth-2025-04-20"),
        "{}",
        refused.text
    );
    let accepted = messages("prompt-caching-2024-07-31,oauth-2025-04-20").await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
}
