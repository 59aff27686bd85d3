//! Every identity source through the filter core: the identity used, the
//! headers stripped, and the refusals (403 / 401 with Claude-style bodies).

use serde_json::json;

use super::fake_host::FakeHost;
use super::support::{ID as SPIFFE, answer, asked_identity, ok_answer, only_reply, worker};
use crate::filter::{HeadersAction, RequestFilter};
use crate::jwt::tests::{AUDIENCE, EC_JWK, ISSUER, NOW, RSA_JWK, claims, sign_es256, sign_rs256};
use crate::stats::Stat;

fn filter(identity: serde_json::Value) -> RequestFilter {
    RequestFilter::new(1, worker(identity, json!({})))
}

fn jwt_filter(header: &str) -> RequestFilter {
    filter(json!({"source": "jwt", "header": header, "issuer": ISSUER,
        "audiences": [AUDIENCE], "keys": [
            serde_json::from_str::<serde_json::Value>(RSA_JWK).unwrap(),
            serde_json::from_str::<serde_json::Value>(EC_JWK).unwrap()]}))
}

fn at_now(host: FakeHost) -> FakeHost {
    host.at_unix_s(NOW)
}

/// The identity issuer-svc was asked about.
fn asked_for(host: &FakeHost) -> String {
    assert_eq!(host.dispatches().len(), 1, "{:?}", host.replies());
    asked_identity(host, 0)
}

fn refused(host: &FakeHost, status: u32, error_type: &str) -> String {
    let (reply, body) = only_reply(host);
    assert_eq!(reply.status, status);
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], error_type);
    assert!(host.dispatches().is_empty());
    assert_eq!(host.count_of(Stat::Denials), 1);
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[test]
fn static_source_ignores_a_spoofed_identity_header() {
    let mut host = FakeHost::new().with_request_header("x-client-workload", "spiffe://evil");
    let action = filter(json!({"source": "static", "value": SPIFFE})).on_request_headers(&mut host);
    assert_eq!(action, HeadersAction::Pause);
    assert_eq!(asked_for(&host), SPIFFE);
}

#[test]
fn peer_uri_san_is_the_identity() {
    let mut host =
        FakeHost::new().with_property("connection.uri_san_peer_certificate", SPIFFE.as_bytes());
    filter(json!({"source": "peer_uri_san"})).on_request_headers(&mut host);
    assert_eq!(asked_for(&host), SPIFFE);
}

#[test]
fn no_peer_certificate_is_403() {
    for host in [
        FakeHost::new(),
        FakeHost::new().with_property("connection.uri_san_peer_certificate", b""),
    ] {
        let mut host = host;
        filter(json!({"source": "peer_uri_san"})).on_request_headers(&mut host);
        let message = refused(&host, 403, "permission_error");
        assert!(message.contains("no client certificate"), "{message}");
    }
    let mut host =
        FakeHost::new().with_property("connection.uri_san_peer_certificate", b"spiffe://a\nb");
    filter(json!({"source": "peer_uri_san"})).on_request_headers(&mut host);
    refused(&host, 403, "permission_error");
}

#[test]
fn jwt_in_authorization_is_verified_stripped_and_replaced() {
    let token = sign_rs256(&claims(SPIFFE), Some("rsa-1"));
    let mut host =
        at_now(FakeHost::new().with_request_header("authorization", &format!("Bearer {token}")));
    let mut f = jwt_filter("authorization");
    assert_eq!(f.on_request_headers(&mut host), HeadersAction::Pause);
    assert_eq!(asked_for(&host), SPIFFE);
    assert_eq!(
        host.request_header("authorization"),
        None,
        "the workload JWT never goes upstream"
    );
    answer(
        &f,
        &mut host,
        Some("200"),
        &ok_answer("sk-ant-oat01-ours", 3600),
    );
    assert_eq!(
        host.request_header_all("authorization"),
        vec!["Bearer sk-ant-oat01-ours"]
    );
}

#[test]
fn jwt_in_a_custom_header_may_be_bare() {
    let token = sign_es256(&claims(SPIFFE));
    let mut host = at_now(FakeHost::new().with_request_header("x-workload-jwt", &token));
    jwt_filter("x-workload-jwt").on_request_headers(&mut host);
    assert_eq!(asked_for(&host), SPIFFE);
    assert_eq!(host.request_header("x-workload-jwt"), None);
}

#[test]
fn forged_expired_or_missing_jwts_are_401() {
    // A valid signature over other claims: the forger swaps the payload.
    let genuine = sign_rs256(&claims("spiffe://cluster.local/ns/demo/sa/other"), None);
    let wanted = sign_rs256(&claims(SPIFFE), None);
    let mut parts: Vec<&str> = wanted.split('.').collect();
    parts[2] = genuine.rsplit('.').next().unwrap();
    let forged = parts.join(".");
    let mut expired = claims(SPIFFE);
    expired["exp"] = json!(NOW - 60);
    for (value, reason) in [
        (format!("Bearer {forged}"), "signature does not verify"),
        (format!("Bearer {}", sign_rs256(&expired, None)), "expired"),
        ("Basic Zm9vOmJhcg==".to_owned(), "not a Bearer credential"),
        ("Bearer".to_owned(), "not a Bearer credential"),
    ] {
        let mut host = at_now(FakeHost::new().with_request_header("authorization", &value));
        jwt_filter("authorization").on_request_headers(&mut host);
        let message = refused(&host, 401, "authentication_error");
        assert!(message.contains(reason), "{message}");
        assert!(!message.contains(&forged), "never echo the token");
        assert_eq!(host.request_header("authorization"), None);
    }
    let mut host = at_now(FakeHost::new());
    jwt_filter("authorization").on_request_headers(&mut host);
    let message = refused(&host, 401, "authentication_error");
    assert_eq!(
        message,
        "claude-wif: request has no workload JWT (header authorization)"
    );
}
