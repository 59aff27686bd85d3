#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::config::DEFAULT_WORKSPACE_ID;
use crate::test_support::{
    IssuerServer, NOW, Reply, SUBJECT, TestKey, call, claims, config_toml, exchange_body,
};
use crate::{AppState, Clock, Config};

const TOKEN: &str = "admin-secret";
const AUTH: [(&str, &str); 2] = [
    ("authorization", "Bearer admin-secret"),
    ("anthropic-version", "2023-06-01"),
];

fn state(issuer_url: &str) -> AppState {
    let text = format!("admin_tokens = [\"{TOKEN}\"]\n{}", config_toml(issuer_url));
    AppState::new(Config::from_toml(&text).unwrap(), Clock::fixed(NOW)).unwrap()
}

async fn admin(state: &AppState, method: &str, uri: &str, body: Value) -> Reply {
    call(state, method, uri, &AUTH, body).await
}

fn message(reply: &Reply) -> String {
    reply.body["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn only_an_org_admin_bearer_token_with_a_version_gets_in() {
    let state = state("https://i.example.com/p");
    let path = "/v1/organizations/federation_issuers";
    let none = call(&state, "GET", path, &[], Value::Null).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let api_key = call(
        &state,
        "GET",
        path,
        &[("x-api-key", "sk-ant-admin01-x")],
        Value::Null,
    )
    .await;
    assert_eq!(api_key.status, StatusCode::UNAUTHORIZED);
    assert!(
        message(&api_key).contains("Admin API keys are not accepted"),
        "{}",
        api_key.text
    );
    let wrong = call(
        &state,
        "GET",
        path,
        &[("authorization", "Bearer nope")],
        Value::Null,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let unversioned = call(
        &state,
        "GET",
        path,
        &[("authorization", "Bearer admin-secret")],
        Value::Null,
    )
    .await;
    assert_eq!(unversioned.status, StatusCode::BAD_REQUEST);
    assert!(message(&unversioned).starts_with("anthropic-version:"));
    let ok = admin(&state, "GET", path, Value::Null).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.body["data"][0]["id"], "fdis_demo",
        "seeded from the config"
    );
    assert_eq!(ok.body["data"][0]["name"], "fdis-demo");
    assert_eq!(ok.body["next_page"], Value::Null);
    assert!(
        !format!("{:?}", state.config).contains(TOKEN),
        "Debug redacts the admin token"
    );
}

#[tokio::test]
async fn issuer_validation_follows_the_documentation() {
    let state = state("https://i.example.com/p");
    let path = "/v1/organizations/federation_issuers";
    let cases = [
        (
            json!({"name": "Bad_Name", "issuer_url": "https://x.example.com"}),
            400,
            "name:",
        ),
        (
            json!({"name": "a", "issuer_url": "http://x.example.com"}),
            400,
            "issuer_url:",
        ),
        (
            json!({"name": "a", "issuer_url": "https://10.0.0.1"}),
            400,
            "issuer_url:",
        ),
        (
            json!({"name": "a", "issuer_url": "https://x.example.com", "max_jwt_lifetime_seconds": 176_401}),
            400,
            "max_jwt_lifetime_seconds:",
        ),
        (
            json!({"name": "a", "issuer_url": "https://x.example.com", "extra": 1}),
            400,
            "extra:",
        ),
        (json!({"issuer_url": "https://x.example.com"}), 400, "name:"),
    ];
    for (body, status, start) in cases {
        let reply = admin(&state, "POST", path, body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{body} → {}", reply.text);
        assert!(
            message(&reply).starts_with(start),
            "{body} → {}",
            reply.text
        );
    }
    let body = json!({"name": "ok", "issuer_url": "http://127.0.0.1:1/p"});
    let created = admin(&state, "POST", path, body.clone()).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    assert_eq!(created.body["type"], "federation_issuer");
    assert_eq!(created.body["check_jti"], true);
    assert_eq!(created.body["max_jwt_lifetime_seconds"], 3600);
    assert_eq!(created.body["jwks"]["type"], "discovery");
    assert_eq!(created.body["created_at"], "2027-01-15T08:00:00Z");
    let duplicate = admin(&state, "POST", path, body).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let id = created.body["id"].as_str().unwrap();
    let got = admin(&state, "GET", &format!("{path}/{id}"), Value::Null).await;
    assert_eq!(got.body, created.body);
    let missing = admin(&state, "GET", &format!("{path}/fdis_nope"), Value::Null).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn create(state: &AppState, path: &str, body: Value) -> Value {
    let reply = admin(state, "POST", path, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
    reply.body
}

#[tokio::test]
async fn registered_objects_are_what_the_token_endpoint_enforces() {
    let key = TestKey::es256("k1");
    let server = IssuerServer::start(&[&key]).await;
    let state = state("https://unused.example.com/p");
    let issuer = create(
        &state,
        "/v1/organizations/federation_issuers",
        json!({"name": "demo", "issuer_url": server.issuer_url, "jwks": {"type": "discovery"}}),
    )
    .await;
    let account = create(
        &state,
        "/v1/organizations/service_accounts",
        json!({"name": "demo"}),
    )
    .await;
    let (issuer_id, account_id) = (
        issuer["id"].as_str().unwrap(),
        account["id"].as_str().unwrap(),
    );
    let rules = "/v1/organizations/federation_rules";
    let rule = |matcher: Value, scope: &str, lifetime: i64| {
        json!({
            "name": "demo", "issuer_id": issuer_id, "match": matcher, "oauth_scope": scope,
            "target": {"type": "service_account", "service_account_id": account_id},
            "workspace_id": DEFAULT_WORKSPACE_ID, "token_lifetime_seconds": lifetime,
        })
    };
    let mut literal_default = rule(
        json!({"subject_prefix": SUBJECT}),
        "workspace:developer",
        600,
    );
    literal_default["workspace_id"] = json!("default");
    let mut no_workspace = literal_default.clone();
    no_workspace.as_object_mut().unwrap().remove("workspace_id");
    let own_iss = json!({"claims": {"iss": server.issuer_url}});
    for (body, status, start) in [
        (
            literal_default,
            400,
            "workspace_id: must be a tagged workspace id",
        ),
        (
            no_workspace,
            400,
            "workspace_id: required unless applies_to_all_workspaces",
        ),
        (
            rule(own_iss, "workspace:developer", 600),
            400,
            "match.claims.iss:",
        ),
        (
            rule(json!({"subject_prefix": "*"}), "workspace:developer", 600),
            400,
            "match.subject_prefix:",
        ),
        (
            rule(json!({"audience": "x"}), "workspace:developer", 600),
            400,
            "match:",
        ),
        (
            rule(
                json!({"subject_prefix": SUBJECT}),
                "workspace:developer",
                59,
            ),
            400,
            "token_lifetime_seconds:",
        ),
        (
            rule(json!({"subject_prefix": SUBJECT}), "org:admin", 600),
            403,
            "oauth_scope:",
        ),
    ] {
        let reply = admin(&state, "POST", rules, body).await;
        assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
        assert!(message(&reply).starts_with(start), "{}", reply.text);
    }
    let created = create(
        &state,
        rules,
        rule(
            json!({"subject_prefix": SUBJECT}),
            "workspace:inference",
            600,
        ),
    )
    .await;
    assert_eq!(created["workspace_ids"], json!([DEFAULT_WORKSPACE_ID]));
    assert_eq!(created["target"]["service_account_name"], "demo");
    let rule_id = created["id"].as_str().unwrap().to_owned();

    let mut body = exchange_body(&key.sign(&claims(&server.issuer_url, NOW)), &rule_id);
    body["service_account_id"] = json!(account_id);
    let granted = call(&state, "POST", "/v1/oauth/token", &[], body.clone()).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    assert_eq!(granted.body["scope"], "workspace:inference");
    assert_eq!(granted.body["expires_in"], 600);

    let busy = admin(
        &state,
        "POST",
        &format!("/v1/organizations/federation_issuers/{issuer_id}/archive"),
        Value::Null,
    )
    .await;
    assert_eq!(busy.status, StatusCode::BAD_REQUEST, "a live rule uses it");
    let edited = admin(
        &state,
        "POST",
        &format!("{rules}/{rule_id}"),
        json!({"token_lifetime_seconds": 120}),
    )
    .await;
    assert_eq!(edited.body["token_lifetime_seconds"], 120);
    body["assertion"] = json!(key.sign(&claims(&server.issuer_url, NOW)));
    let shorter = call(&state, "POST", "/v1/oauth/token", &[], body.clone()).await;
    assert_eq!(shorter.body["expires_in"], 120, "{}", shorter.text);

    let archived = admin(
        &state,
        "POST",
        &format!("{rules}/{rule_id}/archive"),
        Value::Null,
    )
    .await;
    assert!(archived.body["archived_at"].is_string());
    assert_eq!(archived.body["workspace_ids"], json!([]));
    body["assertion"] = json!(key.sign(&claims(&server.issuer_url, NOW)));
    let refused = call(&state, "POST", "/v1/oauth/token", &[], body).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let update = admin(
        &state,
        "POST",
        &format!("{rules}/{rule_id}"),
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(update.status, StatusCode::BAD_REQUEST);
    assert!(message(&update).contains("archived"));
    let listed = admin(
        &state,
        "GET",
        &format!("{rules}?include_archived=false"),
        Value::Null,
    )
    .await;
    assert!(
        listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != rule_id.as_str())
    );
}

#[tokio::test]
async fn lists_paginate_with_next_page_and_service_accounts_come_newest_first() {
    let state = state("https://i.example.com/p");
    let path = "/v1/organizations/service_accounts";
    for name in ["one", "two", "three"] {
        create(&state, path, json!({"name": name})).await;
    }
    let first = admin(&state, "GET", &format!("{path}?limit=2"), Value::Null).await;
    let names: Vec<&str> = first.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["three", "two"]);
    let cursor = first.body["next_page"].as_str().unwrap();
    let second = admin(
        &state,
        "GET",
        &format!("{path}?limit=2&page={cursor}"),
        Value::Null,
    )
    .await;
    let names: Vec<&str> = second.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["one", "svac-demo"]);
    assert_eq!(second.body["next_page"], Value::Null);
    let bad = admin(&state, "GET", &format!("{path}?page=nope"), Value::Null).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rule_workspaces_and_memberships_are_sub_resources() {
    let state = state("https://i.example.com/p");
    let rule = "/v1/organizations/federation_rules/fdrl_demo";
    let added = admin(
        &state,
        "POST",
        &format!("{rule}/workspaces"),
        json!({"workspace_id": "wrkspc_other"}),
    )
    .await;
    assert_eq!(added.body["type"], "federation_rule_workspace");
    let listed = admin(&state, "GET", &format!("{rule}/workspaces"), Value::Null).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let single = admin(&state, "POST", rule, json!({"workspace_id": "wrkspc_demo"})).await;
    assert_eq!(
        single.status,
        StatusCode::BAD_REQUEST,
        "several workspaces: {}",
        single.text
    );
    let removed = admin(
        &state,
        "DELETE",
        &format!("{rule}/workspaces/wrkspc_other"),
        Value::Null,
    )
    .await;
    assert_eq!(removed.body["type"], "federation_rule_workspace_deleted");
    let unknown = admin(
        &state,
        "POST",
        &format!("{rule}/workspaces"),
        json!({"workspace_id": "wrkspc_nope"}),
    )
    .await;
    assert!(message(&unknown).starts_with("workspace_id:"));

    let account = create(
        &state,
        "/v1/organizations/service_accounts",
        json!({"name": "member"}),
    )
    .await;
    let members = format!(
        "/v1/organizations/service_accounts/{}/workspaces",
        account["id"].as_str().unwrap()
    );
    let implicit = admin(&state, "GET", &members, Value::Null).await;
    assert_eq!(
        implicit.body["data"],
        json!([{
            "type": "service_account_workspace_member", "service_account_id": account["id"],
            "workspace_id": DEFAULT_WORKSPACE_ID, "workspace_role": "workspace_user",
            "implicit": true, "created_by_actor_id": null,
        }]),
        "every service account is implicitly a workspace_user of the default workspace"
    );
    let removed = admin(
        &state,
        "DELETE",
        &format!("{members}/{DEFAULT_WORKSPACE_ID}"),
        Value::Null,
    )
    .await;
    assert_eq!(removed.status, StatusCode::BAD_REQUEST, "{}", removed.text);
    for (workspace, role) in [
        ("default", "workspace_developer"),
        ("wrkspc_demo", "workspace_billing"),
    ] {
        let body = json!({"workspace_id": workspace, "workspace_role": role});
        let refused = admin(&state, "POST", &members, body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    }
    let promoted = admin(
        &state,
        "POST",
        &members,
        json!({"workspace_id": DEFAULT_WORKSPACE_ID, "workspace_role": "workspace_developer"}),
    )
    .await;
    assert_eq!(promoted.body["implicit"], false, "{}", promoted.text);
    let joined = admin(
        &state,
        "POST",
        &members,
        json!({"workspace_id": "wrkspc_demo", "workspace_role": "workspace_developer"}),
    )
    .await;
    assert_eq!(joined.body["workspace_role"], "workspace_developer");
    let both = admin(&state, "GET", &members, Value::Null).await;
    let roles: Vec<(&str, &str, bool)> = both.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["workspace_id"].as_str().unwrap(),
                m["workspace_role"].as_str().unwrap(),
                m["implicit"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            (DEFAULT_WORKSPACE_ID, "workspace_developer", false),
            ("wrkspc_demo", "workspace_developer", false)
        ]
    );
}

/// Every item of a federation list, following `next_page`; also returns
/// how many pages it took.
async fn list_all(state: &AppState, path: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let uri = match &cursor {
            None => format!("{path}?limit=100"),
            Some(c) => format!("{path}?limit=100&page={c}"),
        };
        let reply = admin(state, "GET", &uri, Value::Null).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        items.extend(reply.body["data"].as_array().unwrap().iter().cloned());
        pages += 1;
        match reply.body["next_page"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (items, pages),
        }
    }
}

#[tokio::test]
async fn pages_are_short_whatever_the_limit_and_archived_names_stay_taken() {
    let state = state("https://i.example.com/p");
    let path = "/v1/organizations/service_accounts";
    for name in ["a", "b", "c", "d"] {
        create(&state, path, json!({"name": name})).await;
    }
    let first = admin(&state, "GET", &format!("{path}?limit=100"), Value::Null).await;
    assert_eq!(
        first.body["data"].as_array().unwrap().len(),
        2,
        "a short page"
    );
    assert!(first.body["next_page"].is_string());
    let (all, pages) = list_all(&state, path).await;
    assert_eq!((all.len(), pages), (5, 3), "svac-demo and the four");
    let too_many = admin(&state, "GET", &format!("{path}?limit=101"), Value::Null).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert!(
        message(&too_many).starts_with("limit:"),
        "{}",
        too_many.text
    );

    let id = all[0]["id"].as_str().unwrap();
    let archived = admin(&state, "POST", &format!("{path}/{id}/archive"), Value::Null).await;
    assert_eq!(archived.status, StatusCode::OK, "{}", archived.text);
    let again = admin(&state, "POST", path, json!({"name": all[0]["name"]})).await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "an archived object keeps its name: {}",
        again.text
    );
    let versions = state.counters.snapshot().admin_api_versions;
    assert!(versions["2023-06-01"] >= 7, "{versions:?}");
}

#[tokio::test]
async fn workspaces_list_the_default_one_only_when_asked() {
    let state = state("https://i.example.com/p");
    let path = "/v1/organizations/workspaces";
    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let plain = admin(&state, "GET", path, Value::Null).await;
    assert_eq!(ids(&plain), ["wrkspc_demo", "wrkspc_other"]);
    assert_eq!(plain.body["has_more"], false);
    let first = admin(
        &state,
        "GET",
        &format!("{path}?include_default=true&limit=100"),
        Value::Null,
    )
    .await;
    assert_eq!(ids(&first), [DEFAULT_WORKSPACE_ID, "wrkspc_demo"]);
    assert_eq!(first.body["data"][0]["type"], "workspace");
    assert_eq!(first.body["has_more"], true, "pages are short");
    assert_eq!(first.body["last_id"], "wrkspc_demo");
    let next = admin(
        &state,
        "GET",
        &format!("{path}?include_default=true&after_id=wrkspc_demo"),
        Value::Null,
    )
    .await;
    assert_eq!(ids(&next), ["wrkspc_other"]);
    assert_eq!(next.body["has_more"], false);
    let anonymous = call(&state, "GET", path, &[], Value::Null).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
