#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use super::*;
use crate::test_support::{config, config_text, load};

const SERVER: &str = "api.anthropic.com";

#[test]
fn exact_identity_is_granted() {
    let policy = Policy::new(&config());
    let grant = policy
        .resolve("spiffe://cluster.local/ns/demo/sa/app", SERVER)
        .unwrap();
    assert_eq!(grant.client_workload, "demo-app");
    assert_eq!(grant.provider.id, "claude-demo");
}

#[test]
fn exact_wins_over_prefix_and_prefix_matches_others() {
    let policy = Policy::new(&config());
    assert_eq!(
        policy.client_workload("spiffe://cluster.local/ns/demo/sa/app"),
        Some("demo-app")
    );
    assert_eq!(
        policy.client_workload("spiffe://cluster.local/ns/demo/sa/other"),
        Some("demo-ns")
    );
}

#[test]
fn longest_prefix_wins() {
    let loaded = load(&config_text(
        r#"
[[client_workload]]
id = "demo-sa"
identity = "spiffe://cluster.local/ns/demo/sa/*"
"#,
    ));
    let policy = Policy::new(&loaded.config);
    assert_eq!(
        policy.client_workload("spiffe://cluster.local/ns/demo/sa/worker"),
        Some("demo-sa")
    );
    assert_eq!(
        policy.client_workload("spiffe://cluster.local/ns/demo/job"),
        Some("demo-ns")
    );
}

#[test]
fn unknown_identity_is_denied() {
    let policy = Policy::new(&config());
    let denial = policy
        .resolve("spiffe://cluster.local/ns/other/sa/app", SERVER)
        .unwrap_err();
    assert!(matches!(denial, PolicyDenial::UnknownClient { .. }));
}

#[test]
fn known_workload_without_policy_for_server_is_denied() {
    let loaded = load(&config_text(
        r#"
[[client_workload]]
id = "lonely"
identity = "lonely-app"
"#,
    ));
    let policy = Policy::new(&loaded.config);
    assert_eq!(
        policy.resolve("lonely-app", SERVER).unwrap_err(),
        PolicyDenial::NoPolicy {
            client_workload: "lonely".into(),
            server_workload: SERVER.into()
        }
    );
    let denial = Policy::new(&config())
        .resolve("spiffe://cluster.local/ns/demo/sa/app", "example.com")
        .unwrap_err();
    assert!(matches!(denial, PolicyDenial::NoPolicy { .. }));
}

#[test]
fn inactive_provider_is_denied_with_reason() {
    let text = config_text("").replace(
        "id = \"claude-demo\"\n",
        "id = \"claude-demo\"\nis_active = false\n",
    );
    let policy = Policy::new(&load(&text).config);
    let denial = policy
        .resolve("spiffe://cluster.local/ns/demo/sa/app", SERVER)
        .unwrap_err();
    assert!(denial.to_string().contains("inactive"), "{denial}");
}

#[test]
fn an_exact_identity_is_never_matched_as_a_prefix() {
    let loaded = load(&config_text(
        r#"
[[client_workload]]
id = "prod-app"
identity = "spiffe://cluster.local/ns/prod/sa/app"

[[access_policy]]
client_workload = "prod-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"#,
    ));
    let policy = Policy::new(&loaded.config);
    let exact = "spiffe://cluster.local/ns/prod/sa/app";
    assert_eq!(
        policy.resolve(exact, SERVER).unwrap().client_workload,
        "prod-app"
    );
    for near in [
        "spiffe://cluster.local/ns/prod/sa/app-evil",
        "spiffe://cluster.local/ns/prod/sa/app/x",
        "spiffe://cluster.local/ns/prod/sa/ap",
        "spiffe://cluster.local/ns/prod/sa/app ",
        "spiffe://cluster.local/ns/prod/sa/APP",
    ] {
        assert_eq!(policy.client_workload(near), None, "{near:?}");
        assert!(
            matches!(
                policy.resolve(near, SERVER),
                Err(PolicyDenial::UnknownClient { .. })
            ),
            "{near:?} must get nothing"
        );
    }
}
