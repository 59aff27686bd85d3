use super::*;
use crate::clock::Clock;
use crate::config::DEFAULT_WORKSPACE_ID;
use crate::test_support::{
    IssuerServer, NOW, TestKey, claims, config, dead_issuer_url, exchange_body,
};
use serde_json::json;

fn body(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn parse_err(value: Value) -> String {
    parse_request(&body(&value)).unwrap_err().message
}

#[test]
fn request_shape_errors_are_400s_with_the_field_named() {
    let good = exchange_body("a.b.c", "fdrl_demo");
    assert!(parse_request(&body(&good)).is_ok());
    assert!(
        parse_request(b"{not json")
            .unwrap_err()
            .message
            .starts_with("invalid JSON body")
    );
    let mut v = good.clone();
    v["grant_type"] = json!("client_credentials");
    assert!(parse_err(v).starts_with("grant_type: must be"));
    let mut v = good.clone();
    v.as_object_mut().unwrap().remove("assertion");
    assert_eq!(parse_err(v), "assertion: field required");
    let mut v = good.clone();
    v["federation_rule_id"] = json!("rule_1");
    assert!(parse_err(v).starts_with("federation_rule_id:"));
    let mut v = good.clone();
    v["organization_id"] = json!("org-2");
    assert_eq!(parse_err(v), "organization_id: must be a UUID");
    let mut v = good.clone();
    v["workspace_id"] = json!("");
    assert!(parse_err(v).starts_with("workspace_id:"));
    let mut v = good.clone();
    v["service_account_id"] = json!(7);
    assert_eq!(parse_err(v), "service_account_id: must be a string");
}

#[test]
fn unknown_fields_and_absent_optionals_are_accepted() {
    let mut v = exchange_body("a.b.c", "fdrl_demo");
    v["scope"] = json!("anything");
    v["workspace_id"] = json!("default");
    v.as_object_mut().unwrap().remove("service_account_id");
    let request = parse_request(&body(&v)).unwrap();
    assert_eq!(request.service_account_id, None);
    assert_eq!(request.workspace_id.as_deref(), Some("default"));
}

fn covered(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

#[test]
fn workspace_selection() {
    let single = covered(&["wrkspc_demo"]);
    let multi = covered(&["wrkspc_demo", "wrkspc_other"]);
    let with_default = covered(&[DEFAULT_WORKSPACE_ID, "wrkspc_demo"]);
    let all = covered(&[DEFAULT_WORKSPACE_ID, "wrkspc_demo", "wrkspc_other"]);
    assert_eq!(select_workspace(None, &single).unwrap(), "wrkspc_demo");
    assert_eq!(
        select_workspace(Some("default"), &single),
        Err(Denial::WorkspaceNotAllowed),
        "default is the organization's default workspace, not the rule's first"
    );
    assert_eq!(
        select_workspace(Some("wrkspc_other"), &single),
        Err(Denial::WorkspaceNotAllowed)
    );
    assert_eq!(
        select_workspace(None, &multi),
        Err(Denial::WorkspaceIdRequired)
    );
    assert_eq!(
        select_workspace(Some("wrkspc_other"), &multi).unwrap(),
        "wrkspc_other"
    );
    assert_eq!(
        select_workspace(None, &with_default),
        Err(Denial::WorkspaceIdRequired),
        "two workspaces, the default one among them: the caller must choose"
    );
    assert_eq!(
        select_workspace(Some(DEFAULT_WORKSPACE_ID), &with_default).unwrap(),
        DEFAULT_WORKSPACE_ID
    );
    assert_eq!(
        select_workspace(None, &all),
        Err(Denial::WorkspaceIdRequired)
    );
    assert_eq!(
        select_workspace(None, &covered(&[DEFAULT_WORKSPACE_ID])).unwrap(),
        DEFAULT_WORKSPACE_ID
    );
    assert_eq!(
        select_workspace(None, &[]),
        Err(Denial::WorkspaceNotAllowed)
    );
}

#[test]
fn token_lifetime_formula() {
    assert_eq!(token_lifetime(3600, NOW + 3600, NOW), 3600);
    assert_eq!(token_lifetime(3600, NOW + 600, NOW), 1200);
    assert_eq!(token_lifetime(900, NOW + 600, NOW), 900);
    assert_eq!(token_lifetime(3600, NOW + 10, NOW), 60);
    assert_eq!(token_lifetime(3600, NOW - 20, NOW), 60);
}

struct Fixture {
    state: AppState,
    key: TestKey,
    issuer_url: String,
    _server: IssuerServer,
}

async fn fixture() -> Fixture {
    let key = TestKey::es256("k1");
    let server = IssuerServer::start(&[&key]).await;
    let state = AppState::new(config(&server.issuer_url), Clock::fixed(NOW)).unwrap();
    Fixture {
        state,
        key,
        issuer_url: server.issuer_url.clone(),
        _server: server,
    }
}

impl Fixture {
    async fn run(&self, value: Value) -> Result<(ExchangeResponse, TokenGrant), ExchangeError> {
        exchange(&self.state, &body(&value), &mut ExchangeLog::default()).await
    }

    fn signed(&self, claims: &Value, rule: &str) -> Value {
        exchange_body(&self.key.sign(claims), rule)
    }

    async fn denial(&self, value: Value) -> Denial {
        match self.run(value).await {
            Err(ExchangeError::Denied(denial)) => denial,
            other => panic!("expected a denial, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_good_assertion_mints_a_token_for_the_rule() {
    let f = fixture().await;
    let mut log = ExchangeLog::default();
    let value = f.signed(&claims(&f.issuer_url, NOW), "fdrl_demo");
    let (response, grant) = exchange(&f.state, &body(&value), &mut log).await.unwrap();
    assert!(response.access_token.starts_with("sk-ant-oat01-"));
    assert_eq!(response.token_type, "Bearer");
    assert_eq!(response.expires_in, 1200, "2 x 600 s of assertion validity");
    assert_eq!(response.scope, "workspace:developer");
    assert_eq!(grant.workspace, "wrkspc_demo");
    assert_eq!(grant.expires_at, NOW + 1200);
    assert_eq!(log.kid.as_deref(), Some("k1"));
    assert_eq!(log.rule.as_deref(), Some("fdrl_demo"));
    let stored = f.state.tokens.check(&response.access_token, NOW).unwrap();
    assert_eq!(stored, grant);
}

#[tokio::test]
async fn a_jti_can_be_exchanged_once_per_issuer() {
    let f = fixture().await;
    let value = f.signed(&claims(&f.issuer_url, NOW), "fdrl_demo");
    assert!(f.run(value.clone()).await.is_ok());
    assert_eq!(f.denial(value).await, Denial::JtiReused);
    let mut no_jti = claims(&f.issuer_url, NOW);
    no_jti.as_object_mut().unwrap().remove("jti");
    assert!(f.run(f.signed(&no_jti, "fdrl_demo")).await.is_ok());
    assert!(f.run(f.signed(&no_jti, "fdrl_demo")).await.is_ok());
}

#[tokio::test]
async fn a_denied_exchange_does_not_burn_the_jti() {
    let f = fixture().await;
    let claims = claims(&f.issuer_url, NOW);
    assert_eq!(
        f.denial(f.signed(&claims, "fdrl_multi")).await,
        Denial::WorkspaceIdRequired
    );
    let mut retry = f.signed(&claims, "fdrl_multi");
    retry["workspace_id"] = json!("wrkspc_other");
    let (response, grant) = f.run(retry).await.unwrap();
    assert_eq!(grant.workspace, "wrkspc_other");
    assert_eq!(response.scope, "workspace:inference");
}

#[tokio::test]
async fn rule_key_and_service_account_denials() {
    let f = fixture().await;
    let good = || claims(&f.issuer_url, NOW);
    assert_eq!(
        f.denial(f.signed(&good(), "fdrl_missing")).await,
        Denial::UnknownRule
    );
    let mut v = f.signed(&good(), "fdrl_demo");
    v["service_account_id"] = json!("svac_other");
    assert_eq!(f.denial(v).await, Denial::ServiceAccountMismatch);
    let mut v = f.signed(&good(), "fdrl_demo");
    v["workspace_id"] = json!("wrkspc_other");
    assert_eq!(f.denial(v).await, Denial::WorkspaceNotAllowed);
    let stranger = TestKey::es256("k2");
    let v = exchange_body(&stranger.sign(&good()), "fdrl_demo");
    assert_eq!(f.denial(v).await, Denial::UnknownKid);
    let impostor = TestKey::es256("k1");
    let v = exchange_body(&impostor.sign(&good()), "fdrl_demo");
    assert_eq!(f.denial(v).await, Denial::BadSignature);
    let expired = f.signed(&claims(&f.issuer_url, NOW - 1000), "fdrl_demo");
    assert_eq!(f.denial(expired).await, Denial::Expired);
    let mut v = f.signed(&good(), "fdrl_demo");
    v["organization_id"] = json!("00000000-0000-4000-8000-000000000009");
    assert_eq!(f.denial(v).await, Denial::OrganizationMismatch);
}

#[tokio::test]
async fn an_unreachable_issuer_is_jwks_unavailable() {
    let dead = dead_issuer_url().await;
    let key = TestKey::es256("k1");
    let state = AppState::new(config(&dead), Clock::fixed(NOW)).unwrap();
    let value = exchange_body(&key.sign(&claims(&dead, NOW)), "fdrl_demo");
    let result = exchange(&state, &body(&value), &mut ExchangeLog::default()).await;
    assert_eq!(
        result.unwrap_err(),
        ExchangeError::Denied(Denial::JwksUnavailable)
    );
}

#[test]
fn response_debug_redacts_the_token() {
    let response = ExchangeResponse {
        access_token: "sk-ant-oat01-secretsecretWXYZ".into(),
        token_type: "Bearer",
        expires_in: 60,
        scope: "workspace:developer",
    };
    let shown = format!("{response:?}");
    assert!(
        shown.contains("…WXYZ") && !shown.contains("secret"),
        "{shown}"
    );
}
