use super::*;
use crate::roles::WorkspaceRole;
use crate::scope::OAuthScope;
use crate::test_support::{config, config_toml};

const ISSUER: &str = "http://127.0.0.1:8081/providers/claude-demo";

fn errors_of(text: &str) -> Vec<String> {
    Config::from_toml(text)
        .unwrap_err()
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_config_gets_defaults() {
    let config = config(ISSUER);
    assert_eq!(config.listen.to_string(), "127.0.0.1:0");
    assert_eq!(config.jwks_cache_seconds, 60);
    let issuer = &config.issuers["fdis_demo"];
    assert!(issuer.check_jti);
    assert_eq!(issuer.max_jwt_lifetime_seconds, 3600);
    assert_eq!(issuer.jwks_source, JwksSource::Discovery);
    let multi = &config.rules["fdrl_multi"];
    assert_eq!(multi.token_lifetime_seconds, 3600);
    assert_eq!(multi.oauth_scope, OAuthScope::Inference);
    assert_eq!(multi.audience, None);
    assert_eq!(config.rules["fdrl_demo"].oauth_scope, OAuthScope::Developer);
}

#[test]
fn unknown_fields_are_refused() {
    let text =
        config_toml(ISSUER).replace("[[service_account]]", "colour = 1\n[[service_account]]");
    let errors = errors_of(&text);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("unknown field `colour`"), "{errors:?}");
}

#[test]
fn every_reference_and_range_error_is_reported_with_its_path() {
    let text = config_toml(ISSUER)
        .replacen("issuer = \"fdis_demo\"\nsubject_prefix", "issuer = \"x\"\nsubject_prefix", 1)
        .replace("service_account = \"svac_demo\"\nworkspace_ids = [\"wrkspc_demo\"]",
                 "service_account = \"svac_nope\"\nworkspace_ids = [\"wrkspc_nope\", \"wrkspc_nope\"]")
        .replace("token_lifetime_seconds = 3600", "token_lifetime_seconds = 59")
        .replace("[[federation_issuer]]\nid = \"fdis_demo\"",
                 "[[federation_issuer]]\nid = \"fdis_demo\"\nmax_jwt_lifetime_seconds = 176401\njwks_source = \"inline\"")
        .replace("oauth_scope = \"workspace:inference\"", "oauth_scope = \"workspace:everything\"");
    let errors = errors_of(&text);
    let expected = [
        "federation_issuer[0].jwks: required for inline",
        "federation_issuer[0].max_jwt_lifetime_seconds: must be in 1..=176400, got 176401",
        "federation_rule[0].issuer: unknown federation issuer \"x\"",
        "federation_rule[0].service_account: unknown service account \"svac_nope\"",
        "federation_rule[0].workspace_ids[0]: unknown workspace \"wrkspc_nope\"",
        "federation_rule[0].workspace_ids[1]: unknown workspace \"wrkspc_nope\"",
        "federation_rule[0].token_lifetime_seconds: must be in 60..=86400, got 59",
        "federation_rule[1].oauth_scope: must be one of workspace:developer, workspace:inference, workspace:manage_tunnels, org:admin",
    ];
    assert_eq!(errors, expected);
}

#[test]
fn ids_listen_and_organization_are_checked() {
    let text = config_toml(ISSUER)
        .replace("127.0.0.1:0", "nowhere")
        .replace("00000000-0000-4000-8000-000000000001", "org-1")
        .replace("id = \"svac_demo\"", "id = \"demo\"")
        .replace("id = \"fdrl_multi\"", "id = \"fdrl_demo\"");
    let errors = errors_of(&text);
    assert!(
        errors.contains(&"listen: not a socket address: \"nowhere\"".to_owned()),
        "{errors:?}"
    );
    assert!(errors.contains(&"organization_id: must be a UUID".to_owned()));
    assert!(
        errors
            .contains(&"service_account[0].id: must look like \"svac_…\", got \"demo\"".to_owned())
    );
    assert!(errors.contains(&"federation_rule[1].id: duplicate id \"fdrl_demo\"".to_owned()));
}

#[test]
fn issuer_urls_must_be_dialable_by_claude_or_loopback() {
    for (url, ok) in [
        ("https://issuer.example.com/providers/x", true),
        ("http://localhost:8081/p", true),
        ("http://[::1]:8081/p", true),
        ("http://issuer.example.com/p", false),
        ("https://issuer.example.com:8443/p", false),
        ("https://10.0.0.1/p", false),
        ("not a url", false),
    ] {
        let result = Config::from_toml(&config_toml(url));
        assert_eq!(result.is_ok(), ok, "{url}: {result:?}");
        if let Err(e) = result {
            assert!(
                e.errors[0].path == "federation_issuer[0].issuer_url",
                "{e:?}"
            );
        }
    }
}

#[test]
fn a_rule_needs_a_workspace() {
    let text =
        config_toml(ISSUER).replace("workspace_ids = [\"wrkspc_demo\"]", "workspace_ids = []");
    assert_eq!(
        errors_of(&text),
        ["federation_rule[0].workspace_ids: must list at least one workspace"]
    );
}

#[test]
fn uuid_shape() {
    assert!(is_uuid("00000000-0000-4000-8000-00000000000a"));
    assert!(!is_uuid("00000000-0000-4000-8000-00000000000"));
    assert!(!is_uuid("0000000g-0000-4000-8000-000000000000"));
}

#[test]
fn the_full_test_config_is_valid() {
    let config = crate::test_support::full_config(ISSUER);
    assert_eq!(config.rules["fdrl_all"].workspaces, RuleWorkspaces::All);
    assert_eq!(
        config.covered_workspaces(&config.rules["fdrl_all"]),
        [DEFAULT_WORKSPACE_ID, "wrkspc_demo", "wrkspc_other"]
    );
    assert_eq!(config.rules["fdrl_claims"].subject_prefix, None);
    assert_eq!(config.rules["fdrl_claims"].claims["team"], "billing");
    let role = |account: &str, ws: &str| {
        config.service_accounts[account]
            .memberships()
            .role_in(ws, &config.default_workspace)
    };
    assert_eq!(
        role("svac_limited", "wrkspc_other"),
        Some(WorkspaceRole::Developer)
    );
    assert_eq!(role("svac_limited", "wrkspc_demo"), None);
    assert_eq!(
        role("svac_limited", DEFAULT_WORKSPACE_ID),
        Some(WorkspaceRole::User),
        "implicit"
    );
    assert_eq!(
        role("svac_demo", DEFAULT_WORKSPACE_ID),
        Some(WorkspaceRole::Developer)
    );
    assert!(!config.issuers["fdis_lenient"].check_jti);
}

fn issuer_with(extra: &str) -> Vec<String> {
    let text = config_toml(ISSUER).replace(
        "[[federation_issuer]]\nid = \"fdis_demo\"",
        &format!("[[federation_issuer]]\nid = \"fdis_demo\"\n{extra}"),
    );
    match Config::from_toml(&text) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn jwks_sources_and_their_fields() {
    assert!(
        issuer_with(
            "jwks_source = \"explicit_url\"\njwks_url = \"https://keys.example.com/jwks.json\""
        )
        .is_empty()
    );
    let key = crate::test_support::TestKey::es256("k1");
    let inline = format!(
        "jwks_source = \"inline\"\njwks = '{{\"keys\": [{}]}}'",
        key.jwk
    );
    assert!(
        issuer_with(&inline).is_empty(),
        "{:?}",
        issuer_with(&inline)
    );
    let text = config_toml(ISSUER).replace(
        "[[federation_issuer]]\nid = \"fdis_demo\"",
        &format!("[[federation_issuer]]\nid = \"fdis_demo\"\n{inline}"),
    );
    let config = Config::from_toml(&text).unwrap();
    assert!(
        matches!(&config.issuers["fdis_demo"].jwks_source, JwksSource::Inline(keys) if keys.len() == 1)
    );
    for (extra, expected) in [
        (
            "jwks_source = \"explicit_url\"",
            "federation_issuer[0].jwks_url: required for explicit_url",
        ),
        (
            "jwks_source = \"explicit_url\"\njwks_url = \"http://keys.example.com/j\"",
            "federation_issuer[0].jwks_url: URL not allowed: plain http is only allowed on loopback hosts",
        ),
        (
            "jwks_url = \"https://keys.example.com/j\"",
            "federation_issuer[0].jwks_url: only for jwks_source = \"explicit_url\"",
        ),
        (
            "jwks_source = \"inline\"\njwks = '{\"keys\": []}'",
            "federation_issuer[0].jwks: has no usable key",
        ),
        (
            "jwks_source = \"inline\"\njwks = 'nope'",
            "federation_issuer[0].jwks: invalid document: JWKS has no \"keys\" array: expected ident at line 1 column 2",
        ),
        (
            "jwks_source = \"manual\"",
            "federation_issuer[0].jwks_source: must be \"discovery\", \"explicit_url\" or \"inline\", got \"manual\"",
        ),
        (
            "ca_cert_pem = \"not a pem\"",
            "federation_issuer[0].ca_cert_pem: not a PEM certificate: HTTP client: no CERTIFICATE in the PEM text",
        ),
        (
            &format!("{inline}\nca_cert_pem = \"x\""),
            "federation_issuer[0].ca_cert_pem: only for discovery and explicit_url",
        ),
    ] {
        assert_eq!(issuer_with(extra), [expected], "{extra}");
    }
}

#[test]
fn rules_need_a_matcher_workspaces_and_members() {
    let base = config_toml(ISSUER);
    let first_rule_prefix = "subject_prefix = \"spiffe://cluster.local/ns/demo/*\"\naudience";
    let cases = [
        (
            base.replacen(first_rule_prefix, "audience", 1),
            "federation_rule[0].subject_prefix: a rule needs subject_prefix or claims",
        ),
        (
            base.replacen(
                first_rule_prefix,
                "condition = \"true\"\nsubject_prefix = \"x\"\naudience",
                1,
            ),
            "federation_rule[0].condition: CEL conditions are not simulated",
        ),
        (
            base.replacen(first_rule_prefix, "claims = { \"\" = \"x\" }\naudience", 1),
            "federation_rule[0].claims: claim names must not be empty",
        ),
        (
            base.replacen("workspace_ids = [\"wrkspc_demo\"]", "", 1),
            "federation_rule[0].workspace_ids: required (or applies_to_all_workspaces = true)",
        ),
        (
            base.replacen(
                "workspace_ids = [\"wrkspc_demo\"]",
                "workspace_ids = [\"wrkspc_demo\"]\napplies_to_all_workspaces = true",
                1,
            ),
            "federation_rule[0].workspace_ids: give workspace_ids or applies_to_all_workspaces = true, not both",
        ),
        (
            base.replace(
                "id = \"svac_demo\"",
                "id = \"svac_demo\"\nworkspaces = [\"wrkspc_demo\"]",
            ),
            "federation_rule[1].service_account: \"svac_demo\" is not a member of workspace \"wrkspc_other\"",
        ),
        (
            base.replace(
                "id = \"svac_demo\"",
                "id = \"svac_demo\"\nworkspaces = [\"wrkspc_nope\"]",
            ),
            "service_account[0].workspaces[0]: unknown workspace \"wrkspc_nope\"",
        ),
    ];
    for (text, expected) in cases {
        let errors = errors_of(&text);
        assert!(
            errors.contains(&expected.to_owned()),
            "{expected}: {errors:?}"
        );
    }
    let claims_only = base.replacen(first_rule_prefix, "claims = { ns = \"demo\" }\naudience", 1);
    assert!(Config::from_toml(&claims_only).is_ok());
    let default_ws = base.replacen(
        "workspace_ids = [\"wrkspc_demo\"]",
        "workspace_ids = [\"default\"]",
        1,
    );
    assert!(Config::from_toml(&default_ws).is_ok());
}
