#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::json;

use super::client::{AdminApiError, parse_error};
use super::desired::{ConfiguredIds, Desired, WorkspaceChoice, derive, subject_prefix};
use super::edit;
use super::explain::explain;
use super::plan::{Action, RuleObject, issuer_diffs, rule_diffs};
use super::{Found, make_plan};
use crate::config::{Config, IdentityPattern};

const CONFIG: &str = r#"# the operator's comment
[server]
public_listen = "127.0.0.1:8081"
public_base_url = "http://127.0.0.1:8081"
internal_listen = "127.0.0.1:9090"
state_dir = "/tmp/x"

[[credential_provider]]
id = "claude-demo"   # trailing comment
  [credential_provider.claude_wif]
  organization_id = "00000000-0000-4000-8000-000000000001"
  # the rule's workspace
  workspace_id    = "wrkspc_demo"
  lifetime        = 600

[[client_workload]]
id = "app"
identity = "spiffe://cluster.local/ns/demo/sa/app"

[[access_policy]]
client_workload = "app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"#;

fn desired() -> Desired {
    let doc = edit::parse(CONFIG).unwrap();
    assert_eq!(
        edit::configured_ids(&doc, "claude-demo").unwrap(),
        ConfiguredIds::default()
    );
    desired_from(CONFIG)
}

#[test]
fn the_desired_objects_come_from_the_provider_and_its_policies() {
    let desired = desired();
    assert_eq!(desired.name, "claude-demo");
    assert_eq!(
        desired.issuer_url,
        "http://127.0.0.1:8081/providers/claude-demo"
    );
    assert_eq!(
        desired.subject_prefix,
        "spiffe://cluster.local/ns/demo/sa/app"
    );
    assert_eq!(
        desired.audience, None,
        "unset audience: the rule does not match it"
    );
    assert_eq!(desired.lifetime, 600);
    assert_eq!(
        desired.workspace,
        WorkspaceChoice::Tagged("wrkspc_demo".to_owned())
    );
    assert_eq!(
        desired.workspace_field(),
        "credential_provider[0].claude_wif.workspace_id"
    );
    assert_eq!(desired.oauth_scope, "workspace:developer");
}

#[test]
fn several_identities_share_a_prefix_but_never_a_wildcard_only_one() {
    let exact = |s: &str| IdentityPattern::Exact(s.to_owned());
    let prefix = |s: &str| IdentityPattern::Prefix(s.to_owned());
    let (a, b) = (
        exact("spiffe://cluster.local/ns/demo/sa/api"),
        exact("spiffe://cluster.local/ns/demo/sa/app"),
    );
    assert_eq!(
        subject_prefix(&[&a, &b]).unwrap(),
        "spiffe://cluster.local/ns/demo/sa/*"
    );
    assert_eq!(subject_prefix(&[&prefix("team-a/")]).unwrap(), "team-a/*");
    let other = exact("spiffe://other.local/x");
    let c = exact("x");
    assert!(
        subject_prefix(&[&a, &other])
            .unwrap_err()
            .contains("wildcard-only")
    );
    assert!(subject_prefix(&[&a, &c]).is_err());
    assert!(subject_prefix(&[&prefix("")]).is_err());
    assert!(
        subject_prefix(&[])
            .unwrap_err()
            .contains("no access policy")
    );
}

#[test]
fn an_empty_organization_plans_to_create_everything() {
    let plan = make_plan(&Found::default(), &desired()).unwrap();
    assert!(plan.items().iter().all(|i| i.action == Action::Create));
    assert_eq!(plan.changes(), 4);
    assert_eq!(
        plan.items()[0].to_string(),
        "  create     federation issuer `claude-demo`"
    );
}

fn rule() -> RuleObject {
    serde_json::from_value(rule_json()).unwrap()
}

pub(super) fn config() -> &'static str {
    CONFIG
}

pub(super) fn desired_from(text: &str) -> Desired {
    let doc = edit::parse(text).unwrap();
    let ids = edit::configured_ids(&doc, "claude-demo").unwrap();
    let config = Config::from_toml(&edit::with_placeholders(&doc).to_string())
        .unwrap()
        .config;
    derive(&config, config.provider("claude-demo").unwrap(), &ids).unwrap()
}

pub(super) fn rule_json() -> serde_json::Value {
    json!({
        "id": "fdrl_1", "name": "claude-demo", "issuer_id": "fdis_1",
        "match": {"subject_prefix": "spiffe://cluster.local/ns/demo/sa/app", "audience": null},
        "target": {"type": "service_account", "service_account_id": "svac_1"},
        "oauth_scope": "workspace:developer", "token_lifetime_seconds": 3600,
        "applies_to_all_workspaces": false, "workspace_ids": ["wrkspc_demo"],
    })
}

#[test]
fn a_hand_edited_rule_differs_field_by_field() {
    let desired = desired();
    assert!(
        rule_diffs(
            &rule(),
            &desired,
            "wrkspc_demo",
            Some("fdis_1"),
            Some("svac_1")
        )
        .is_empty()
    );
    let mut edited = rule();
    edited.token_lifetime_seconds = 600;
    edited.matcher.subject_prefix = Some("spiffe://*".to_owned());
    let diffs = rule_diffs(
        &edited,
        &desired,
        "wrkspc_demo",
        Some("fdis_1"),
        Some("svac_1"),
    );
    let fields: Vec<&str> = diffs.iter().map(|d| d.field).collect();
    assert_eq!(fields, ["match.subject_prefix", "token_lifetime_seconds"]);
    assert_eq!(diffs[1].claude, "600");
    assert_eq!(diffs[1].wanted, "3600");
}

#[test]
fn an_issuer_allowing_longer_assertions_is_unchanged() {
    let desired = desired();
    let issuer = serde_json::from_value(json!({
        "id": "fdis_1", "name": "claude-demo", "issuer_url": desired.issuer_url,
        "jwks": {"type": "discovery"}, "check_jti": true, "max_jwt_lifetime_seconds": 3600,
    }))
    .unwrap();
    assert!(issuer_diffs(&issuer, &desired).is_empty());
    let mut short = issuer;
    short.max_jwt_lifetime_seconds = 300;
    short.check_jti = false;
    let fields: Vec<&str> = issuer_diffs(&short, &desired)
        .iter()
        .map(|d| d.field)
        .collect();
    assert_eq!(fields, ["check_jti", "max_jwt_lifetime_seconds"]);
}

#[test]
fn write_keeps_comments_and_formatting() {
    let mut doc = edit::parse(CONFIG).unwrap();
    assert!(edit::set_ids(
        &mut doc,
        "claude-demo",
        "fdrl_new",
        "svac_new"
    ));
    let text = doc.to_string();
    assert!(text.starts_with("# the operator's comment\n"));
    assert!(text.contains("id = \"claude-demo\"   # trailing comment\n"));
    assert!(text.contains("  # the rule's workspace\n  workspace_id    = \"wrkspc_demo\"\n"));
    assert!(
        text.contains("\n  federation_rule_id = \"fdrl_new\"\n"),
        "indented like its block:\n{text}"
    );
    let ids = edit::configured_ids(&doc, "claude-demo").unwrap();
    assert_eq!(ids.service_account_id.as_deref(), Some("svac_new"));
    assert!(
        !edit::set_ids(&mut doc, "claude-demo", "fdrl_new", "svac_new"),
        "idempotent"
    );
    let block = edit::block(&doc, "claude-demo");
    assert!(block.starts_with("[credential_provider.claude_wif]\norganization_id = "));
    assert!(block.contains("service_account_id = \"svac_new\"\n"));
}

fn error(status: u16, body: serde_json::Value) -> AdminApiError {
    parse_error(
        "POST /v1/organizations/federation_rules",
        status,
        None,
        body.to_string().as_bytes(),
    )
}

#[test]
fn admin_api_errors_become_sentences_that_say_what_to_do() {
    let body = |kind: &str, message: &str| json!({"type": "error", "error": {"type": kind, "message": message}});
    let bad = error(
        400,
        body(
            "invalid_request_error",
            "match.subject_prefix: wildcard-only",
        ),
    );
    assert_eq!(bad.field(), Some("match.subject_prefix"));
    let sentence = explain(&bad, "create the federation rule");
    assert!(
        sentence.contains("because of field `match.subject_prefix`"),
        "{sentence}"
    );
    assert!(sentence.contains("client workloads"), "{sentence}");
    let denied = explain(
        &error(401, body("authentication_error", "invalid bearer token")),
        "list",
    );
    assert!(
        denied.contains("org:admin") && denied.contains("Admin API keys are not accepted"),
        "{denied}"
    );
    let dup = explain(
        &error(409, body("invalid_request_error", "name: taken")),
        "create",
    );
    assert!(
        dup.contains("409") && dup.contains("run register again"),
        "{dup}"
    );
    let archived = explain(
        &error(400, body("invalid_request_error", "rule is archived")),
        "update",
    );
    assert!(
        archived.contains("archived") && archived.contains("remove its id"),
        "{archived}"
    );
    let scope = explain(
        &error(403, body("permission_error", "oauth_scope: no")),
        "create",
    );
    assert!(scope.contains("Console"), "{scope}");
}

#[test]
fn admin_api_answers_cannot_send_escapes_to_the_terminal() {
    let forged = "bad\n\u{1b}[2Jregister: Verified successfully\u{202e}";
    let parsed = error(
        400,
        json!({"type": "error", "error": {"type": "x\u{2028}", "message": forged}, "request_id": "req\u{7}"}),
    );
    assert_eq!(
        parsed.message,
        r"bad\n\u{1b}[2Jregister: Verified successfully\u{202e}"
    );
    assert_eq!(parsed.error_type.as_deref(), Some(r"x\u{2028}"));
    assert_eq!(parsed.request_id.as_deref(), Some(r"req\u{7}"));
    let raw = parse_error("GET /x", 502, None, b"<html>\x1b[31m\n</html>");
    assert_eq!(raw.message, r"<html>\u{1b}[31m\n</html>");
}
