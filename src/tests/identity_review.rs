//! Identities and what the filter logs from outside (security review,
//! finding 7): control, format and separator characters are refused in an
//! identity from any source, and dropped from issuer-svc's descriptions;
//! `peer_uri_san` never uses a SAN outside its trusted prefix.

use std::rc::Rc;

use serde_json::json;

use super::fake_host::FakeHost;
use super::support::{ID as SPIFFE, config_json};
use crate::config::FilterConfig;
use crate::filter::RequestFilter;
use crate::issuer::{IssuerError, parse_response};
use crate::jwt::tests::{AUDIENCE, ISSUER, NOW, RSA_JWK, claims, sign_rs256};
use crate::worker::Worker;
const SAN: &str = "connection.uri_san_peer_certificate";
/// LINE SEPARATOR, PARAGRAPH SEPARATOR, RIGHT-TO-LEFT OVERRIDE, ZERO WIDTH
/// SPACE, BYTE ORDER MARK, a C1 control (NEXT LINE), LEFT-TO-RIGHT ISOLATE.
const HIDDEN: [char; 7] = [
    '\u{2028}', '\u{2029}', '\u{202e}', '\u{200b}', '\u{feff}', '\u{85}', '\u{2066}',
];

fn config(identity: serde_json::Value) -> Result<FilterConfig, String> {
    FilterConfig::parse(config_json(identity, json!({})).as_bytes()).map_err(|e| e.to_string())
}

fn run(identity: serde_json::Value, mut host: FakeHost) -> FakeHost {
    let config = Rc::new(config(identity).unwrap());
    RequestFilter::new(1, Worker::shared(Some(config))).on_request_headers(&mut host);
    host
}

/// Refused with `status` before issuer-svc is asked, the character neither
/// in the reply nor in a log line.
fn assert_refused(host: &FakeHost, status: u32, hidden: char) {
    assert!(
        host.dispatches().is_empty(),
        "{hidden:?} reached issuer-svc"
    );
    assert_eq!(host.replies().len(), 1, "{hidden:?}");
    assert_eq!(host.replies()[0].status, status, "{hidden:?}");
    assert!(!host.replies()[0].body.contains(hidden), "{hidden:?}");
    assert!(!host.all_logs().contains(hidden), "{hidden:?}");
}

#[test]
fn every_source_refuses_control_format_and_separator_characters() {
    for hidden in HIDDEN {
        let spoofed = format!("spiffe://cluster.local/ns/demo/sa/app{hidden}x");
        let error = config(json!({"source": "static", "value": spoofed})).unwrap_err();
        let rule = if hidden.is_control() {
            "identity.value: must not contain control characters"
        } else {
            "identity.value: must not contain Unicode format characters or line/paragraph separators"
        };
        assert!(error.starts_with(rule), "{hidden:?}: {error}");

        let host = FakeHost::new().with_request_header("x-client-workload", &spoofed);
        assert_refused(&run(json!({"source": "header"}), host), 403, hidden);

        let host = FakeHost::new().with_property(SAN, spoofed.as_bytes());
        assert_refused(&run(json!({"source": "peer_uri_san"}), host), 403, hidden);

        let token = sign_rs256(&claims(&spoofed), None);
        let host = FakeHost::new()
            .with_request_header("authorization", &format!("Bearer {token}"))
            .at_unix_s(NOW);
        let jwt = json!({"source": "jwt", "issuer": ISSUER, "audiences": [AUDIENCE],
            "keys": [serde_json::from_str::<serde_json::Value>(RSA_JWK).unwrap()]});
        assert_refused(&run(jwt, host), 401, hidden);
    }
}

#[test]
fn issuer_descriptions_lose_format_and_separator_characters() {
    let body = json!({"error": "access_denied",
        "error_description": "no policy\u{2028}INFO audit: granted\u{202e}\u{200b}"})
    .to_string();
    let Err(IssuerError::Denied { description }) = parse_response(Some(b"403"), body.as_bytes())
    else {
        panic!("not a denial");
    };
    assert_eq!(description, "no policyINFO audit: granted");
}

#[test]
fn peer_uri_san_is_used_only_inside_the_trusted_prefix() {
    let source = json!({"source": "peer_uri_san", "prefix": "spiffe://cluster.local/"});
    let host = run(
        source.clone(),
        FakeHost::new().with_property(SAN, SPIFFE.as_bytes()),
    );
    assert_eq!(host.dispatches().len(), 1);
    for outside in [
        "spiffe://other.domain/ns/demo/sa/app",
        "spiffe://cluster.local.evil/ns/demo/sa/app",
        "https://cluster.local/ns/demo/sa/app",
    ] {
        let host = run(
            source.clone(),
            FakeHost::new().with_property(SAN, outside.as_bytes()),
        );
        assert!(host.dispatches().is_empty(), "{outside}");
        assert_eq!(host.replies()[0].status, 403, "{outside}");
        assert!(
            host.replies()[0]
                .body
                .contains("outside the trusted prefix spiffe://cluster.local/"),
            "{}",
            host.replies()[0].body
        );
    }
}

#[test]
fn peer_uri_san_prefix_is_checked() {
    let prefix = |p: serde_json::Value| config(json!({"source": "peer_uri_san", "prefix": p}));
    assert!(prefix(json!(null)).is_ok());
    assert!(prefix(json!("spiffe://cluster.local/ns/demo/")).is_ok());
    for (bad, message) in [
        (
            json!("spiffe://cluster.local"),
            "identity.prefix: must end with /",
        ),
        (json!(""), "identity.prefix: must not be empty"),
        (
            json!("spiffe://a\u{2028}/"),
            "identity.prefix: must not contain Unicode format characters or line/paragraph \
             separators (found U+2028)",
        ),
        (
            json!(7),
            "identity.prefix: expected a string or null, found a number",
        ),
    ] {
        let error = prefix(bad.clone()).unwrap_err();
        assert!(error.starts_with(message), "{bad}: {error}");
    }
}
