//! The `metadata` identity source through the filter core: the identity
//! another filter (Envoy's `jwt_authn`) put in the request's dynamic
//! metadata is used; without it, or with a value that is not text, the
//! request is refused 403 before issuer-svc is asked and never goes upstream.

use serde_json::json;

use super::fake_host::FakeHost;
use super::support::{ID as SPIFFE, answer, asked_identity, ok_answer, only_reply, worker};
use crate::filter::{HeadersAction, RequestFilter};
use crate::stats::Stat;

const JWT_AUTHN: &str = "envoy.filters.http.jwt_authn";
const SUB: [&str; 2] = ["jwt_payload", "sub"];
const PLACE: &str = r#"envoy.filters.http.jwt_authn ["jwt_payload", "sub"]"#;

fn filter() -> RequestFilter {
    let identity = json!({"source": "metadata", "namespace": JWT_AUTHN, "path": SUB});
    RequestFilter::new(1, worker(identity, json!({})))
}

/// Refused 403 `permission_error` before issuer-svc was asked, nothing let
/// upstream; returns the message.
fn refused_403(host: &FakeHost, action: HeadersAction) -> String {
    assert_eq!(action, HeadersAction::Pause, "never continues upstream");
    assert!(host.dispatches().is_empty(), "issuer-svc was asked");
    assert_eq!(host.resumed(), 0);
    let (reply, body) = only_reply(host);
    assert_eq!(reply.status, 403);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(host.count_of(Stat::Denials), 1);
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[test]
fn the_metadata_value_is_the_identity_and_gets_a_token() {
    let mut host = FakeHost::new()
        .with_metadata(JWT_AUTHN, &SUB, SPIFFE.as_bytes())
        .with_request_header("x-client-workload", "spiffe://spoofed");
    let mut f = filter();
    assert_eq!(f.on_request_headers(&mut host), HeadersAction::Pause);
    assert_eq!(host.dispatches().len(), 1);
    assert_eq!(asked_identity(&host, 0), SPIFFE);
    assert_eq!(host.property_reads().len(), 1, "one property call");
    answer(
        &f,
        &mut host,
        Some("200"),
        &ok_answer("sk-ant-oat01-ours", 3600),
    );
    assert_eq!(host.resumed(), 1);
    assert_eq!(
        host.request_header_all("authorization"),
        vec!["Bearer sk-ant-oat01-ours"]
    );
}

#[test]
fn no_metadata_is_403_naming_the_namespace_and_path() {
    let mut host = FakeHost::new();
    let action = filter().on_request_headers(&mut host);
    assert_eq!(
        refused_403(&host, action),
        format!("claude-wif: request has no client workload identity in dynamic metadata {PLACE}")
    );
}

#[test]
fn a_value_that_is_not_a_string_is_403_and_never_echoed() {
    let mut pairs = Vec::new();
    for n in [1u32, 3, 5] {
        pairs.extend_from_slice(&n.to_le_bytes());
    }
    pairs.extend_from_slice(b"sub\0spiff\0");
    for (what, value, reason) in [
        (
            "double",
            42.0f64.to_le_bytes().to_vec(),
            "must not contain control",
        ),
        (
            "double, not UTF-8",
            0.1f64.to_le_bytes().to_vec(),
            "is not UTF-8 text",
        ),
        ("bool", vec![1u8], "must not contain control"),
        ("map", pairs, "must not contain control"),
    ] {
        let mut host = FakeHost::new().with_metadata(JWT_AUTHN, &SUB, &value);
        let action = filter().on_request_headers(&mut host);
        let message = refused_403(&host, action);
        let prefix = format!(
            "claude-wif: client workload identity in dynamic metadata {PLACE} is not acceptable: it "
        );
        assert!(message.starts_with(&prefix), "{what}: {message}");
        assert!(message.contains(reason), "{what}: {message}");
        assert!(
            !message.contains("spiff"),
            "{what}: the value is never shown"
        );
        assert!(!host.all_logs().contains("spiff"), "{what}: nor logged");
    }
}

#[test]
fn a_refused_identity_is_not_logged() {
    let hidden = "spiffe://cluster.local/ns/demo/sa/app\u{2028}INFO granted";
    let mut host = FakeHost::new().with_metadata(JWT_AUTHN, &SUB, hidden.as_bytes());
    let action = filter().on_request_headers(&mut host);
    refused_403(&host, action);
    assert!(!host.all_logs().contains("INFO granted"));
    assert!(!host.replies()[0].body.contains("INFO granted"));
}
