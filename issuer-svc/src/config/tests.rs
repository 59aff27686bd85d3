#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! One test per validation rule (providers, workloads, policies; `[server]`
//! and `[claude]` rules are in `tests/server.rs`).

use super::*;
use crate::test_support::{config_text, load};

/// Every error message of `text`, as `path: message`.
fn errors(text: &str) -> Vec<String> {
    match Config::from_toml(text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn has_error(text: &str, path: &str) -> bool {
    errors(text)
        .iter()
        .any(|e| e.starts_with(&format!("{path}: ")))
}

fn with_wif(field: &str) -> String {
    config_text("").replace(
        "  workspace_id = \"wrkspc_demo\"\n",
        &format!("  workspace_id = \"wrkspc_demo\"\n  {field}\n"),
    )
}

fn replace(from: &str, to: &str) -> String {
    let text = config_text("");
    assert!(text.contains(from), "{from}");
    text.replace(from, to)
}

const WIF: &str = "credential_provider[0].claude_wif";

mod server;
mod token_cache;

#[test]
fn valid_config_has_defaults() {
    let loaded = load(&config_text(""));
    let config = loaded.config;
    assert!(loaded.warnings.is_empty());
    let provider = &config.providers[0];
    assert_eq!(provider.name, "claude-demo");
    assert!(provider.is_active);
    assert_eq!(
        provider.issuer_url,
        "http://127.0.0.1:8081/providers/claude-demo"
    );
    assert_eq!(provider.claude_wif.audience, "https://api.anthropic.com");
    assert_eq!(provider.claude_wif.scope, Scope::WorkspaceDeveloper);
    assert_eq!(provider.claude_wif.lifetime, Duration::from_secs(3600));
    assert_eq!(config.claude.base_url, "https://api.anthropic.com");
    assert_eq!(config.claude.timeout, Duration::from_secs(30));
    assert_eq!(
        config.claude.token_url(),
        "https://api.anthropic.com/v1/oauth/token"
    );
    assert!(config.server.internal_api_key.is_none());
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = replace("fdrl_demo", "rule").replace("svac_demo", "sa");
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with(&format!("{WIF}.federation_rule_id: ")));
    assert!(found[1].starts_with(&format!("{WIF}.service_account_id: ")));
}

#[test]
fn unknown_fields_are_errors_with_their_path() {
    let found = errors(&with_wif("colour = \"red\""));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with(&format!("{WIF}.colour: unknown field `colour`")),
        "{found:?}"
    );
    assert!(found[0].ends_with("(line 15)"), "{found:?}");
    assert!(has_error(&config_text("[extra]\n"), "extra"));
    assert!(!errors(&replace("[server]\n", "[server]\nport = 1\n")).is_empty());
}

#[test]
fn wrong_types_name_the_field() {
    assert!(has_error(
        &with_wif("lifetime = \"1h\""),
        &format!("{WIF}.lifetime")
    ));
}

#[test]
fn provider_id_must_be_a_slug() {
    assert!(has_error(
        &replace("id = \"claude-demo\"", "id = \"Claude Demo\""),
        "credential_provider[0].id"
    ));
    assert!(has_error(
        &replace("id = \"claude-demo\"", "id = \"\""),
        "credential_provider[0].id"
    ));
}

#[test]
fn provider_ids_must_be_unique() {
    let text = config_text(
        r#"
[[credential_provider]]
id = "claude-demo"
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_b"
  organization_id = "00000000-0000-4000-8000-000000000001"
  service_account_id = "svac_b"
"#,
    );
    let found = errors(&text);
    assert_eq!(
        found,
        ["credential_provider[1].id: duplicate id `claude-demo` (also credential_provider[0])"]
    );
}

#[test]
fn federation_rule_id_starts_fdrl() {
    assert!(has_error(
        &replace("fdrl_demo", "rule_demo"),
        &format!("{WIF}.federation_rule_id")
    ));
    assert!(has_error(
        &replace("fdrl_demo", "fdrl_"),
        &format!("{WIF}.federation_rule_id")
    ));
}

#[test]
fn organization_id_must_be_a_uuid() {
    let found = errors(&replace("00000000-0000-4000-8000-000000000001", "org-1"));
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with(&format!("{WIF}.organization_id: must be a UUID")),
        "{found:?}"
    );
    assert!(has_error(
        &replace(
            "00000000-0000-4000-8000-000000000001",
            "00000000000040008000000000000001"
        ),
        &format!("{WIF}.organization_id")
    ));
}

#[test]
fn service_account_id_starts_svac() {
    assert!(has_error(
        &replace("svac_demo", "sa_demo"),
        &format!("{WIF}.service_account_id")
    ));
}

#[test]
fn required_fields_are_named_when_missing() {
    let found = errors(&replace("  service_account_id = \"svac_demo\"\n", ""));
    assert_eq!(found, [format!("{WIF}.service_account_id: required")]);
    assert!(has_error(
        &replace(
            "[[credential_provider]]\nid = \"claude-demo\"\n",
            "[[credential_provider]]\n"
        ),
        "credential_provider[0].id"
    ));
    assert!(has_error("", "server"));
}

#[test]
fn workspace_id_is_wrkspc_or_default_and_never_empty() {
    assert!(has_error(
        &replace("wrkspc_demo", "ws_demo"),
        &format!("{WIF}.workspace_id")
    ));
    assert!(has_error(
        &replace("\"wrkspc_demo\"", "\"\""),
        &format!("{WIF}.workspace_id")
    ));
    let loaded = load(&replace("wrkspc_demo", "default"));
    assert_eq!(
        loaded.config.providers[0]
            .claude_wif
            .workspace_id
            .as_deref(),
        Some("default")
    );
}

#[test]
fn scope_is_one_of_four() {
    for scope in [
        "workspace:developer",
        "workspace:inference",
        "workspace:manage_tunnels",
        "org:admin",
    ] {
        let loaded = load(&with_wif(&format!("scope = \"{scope}\"")));
        assert_eq!(loaded.config.providers[0].claude_wif.scope.as_str(), scope);
    }
    assert!(has_error(
        &with_wif("scope = \"workspace:admin\""),
        &format!("{WIF}.scope")
    ));
}

#[test]
fn lifetime_is_300_to_43200_and_warns_above_3600() {
    assert!(has_error(
        &with_wif("lifetime = 299"),
        &format!("{WIF}.lifetime")
    ));
    assert!(has_error(
        &with_wif("lifetime = 43201"),
        &format!("{WIF}.lifetime")
    ));
    assert!(load(&with_wif("lifetime = 300")).warnings.is_empty());
    assert!(load(&with_wif("lifetime = 3600")).warnings.is_empty());
    let loaded = load(&with_wif("lifetime = 43200"));
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].path, format!("{WIF}.lifetime"));
    assert!(
        loaded.warnings[0]
            .message
            .contains("max_jwt_lifetime_seconds")
    );
}

#[test]
fn audience_defaults_and_must_not_be_empty() {
    assert_eq!(
        load(&with_wif("audience = \"aud\"")).config.providers[0]
            .claude_wif
            .audience,
        "aud"
    );
    assert!(has_error(
        &with_wif("audience = \"\""),
        &format!("{WIF}.audience")
    ));
}

#[test]
fn client_workload_ids_must_be_unique() {
    let text = replace("id = \"demo-ns\"", "id = \"demo-app\"");
    assert!(has_error(&text, "client_workload[1].id"));
}

#[test]
fn client_workload_identity_rules() {
    assert!(has_error(
        &replace("spiffe://cluster.local/ns/demo/sa/app\"", "\""),
        "client_workload[0].identity"
    ));
    assert!(has_error(
        &replace("ns/demo/sa/app\"", "ns/*/sa/app\""),
        "client_workload[0].identity"
    ));
    assert!(has_error(
        &replace("ns/demo/*\"", "ns/demo/**\""),
        "client_workload[1].identity"
    ));
    assert!(has_error(
        &replace("ns/demo/*\"", "ns/demo/sa/app\""),
        "client_workload[1].identity"
    ));
    let loaded = load(&config_text(""));
    assert_eq!(
        loaded.config.client_workloads[1].identity,
        IdentityPattern::Prefix("spiffe://cluster.local/ns/demo/".into())
    );
}

#[test]
fn client_workload_identity_refuses_format_characters_and_separators() {
    for (escape, name) in [
        ("\\u2028", "U+2028"),
        ("\\u202E", "U+202E"),
        ("\\u200B", "U+200B"),
        ("\\uFEFF", "U+FEFF"),
    ] {
        let text = replace("ns/demo/sa/app\"", &format!("ns/demo/sa/app{escape}\""));
        let found = errors(&text);
        let wanted = found
            .iter()
            .find(|e| e.starts_with("client_workload[0].identity: "))
            .unwrap_or_else(|| panic!("{escape}: {found:?}"));
        assert!(wanted.contains("format characters"), "{wanted}");
        assert!(wanted.contains(name), "{wanted}");
    }
}

#[test]
fn access_policies_must_reference_existing_entries() {
    let text = replace(
        "client_workload = \"demo-app\"",
        "client_workload = \"nobody\"",
    );
    assert_eq!(
        errors(&text),
        ["access_policy[0].client_workload: no [[client_workload]] has id `nobody`"]
    );
    let text = config_text("").replacen(
        "credential_provider = \"claude-demo\"",
        "credential_provider = \"other\"",
        1,
    );
    assert!(has_error(&text, "access_policy[0].credential_provider"));
}

#[test]
fn server_workload_must_not_be_empty() {
    let text = config_text("").replacen(
        "server_workload = \"api.anthropic.com\"",
        "server_workload = \"\"",
        1,
    );
    assert!(has_error(&text, "access_policy[0].server_workload"));
}

#[test]
fn duplicate_policy_for_same_pair_is_an_error() {
    let text = config_text(
        "[[access_policy]]\nclient_workload = \"demo-app\"\nserver_workload = \"api.anthropic.com\"\ncredential_provider = \"claude-demo\"\n",
    );
    assert!(has_error(&text, "access_policy[2]"));
}

#[test]
fn inactive_provider_is_valid() {
    let loaded = load(&replace(
        "id = \"claude-demo\"\n",
        "id = \"claude-demo\"\nis_active = false\nname = \"Demo\"\n",
    ));
    assert!(!loaded.config.providers[0].is_active);
    assert_eq!(loaded.config.providers[0].name, "Demo");
}

#[test]
fn demo_example_is_valid() {
    let text = include_str!("../../examples/demo.toml");
    let loaded = load(text);
    let provider = &loaded.config.providers[0];
    assert_eq!(
        provider.issuer_url,
        "http://127.0.0.1:8081/providers/claude-demo"
    );
    assert_eq!(
        loaded.config.claude.token_url(),
        "http://127.0.0.1:8088/v1/oauth/token"
    );
}
