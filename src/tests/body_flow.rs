//! The request body and trailers (security review, finding 1): nothing of a
//! request goes upstream before its headers carry the token, whatever the
//! proxy does with the headers' pause (Envoy's
//! `allow_on_headers_stop_iteration` delivers the body while the request
//! waits, and a `Continue` there sends the request upstream at once).

use std::rc::Rc;

use super::fake_host::FakeHost;
use crate::config::FilterConfig;
use crate::filter::{BodyAction, HeadersAction, RequestFilter};
use crate::worker::{SharedWorker, Worker};

const ID: &str = "spiffe://cluster.local/ns/demo/sa/app";
const KEY: &str = "claude-wif/v2/api.anthropic.com/spiffe://cluster.local/ns/demo/sa/app";
const TOKEN: &str = "sk-ant-oat01-FRESHtoken-WXYZ";

fn worker() -> SharedWorker {
    let json = format!(
        r#"{{"issuer_cluster":"issuer_svc","identity":{{"source":"static","value":"{ID}"}}}}"#
    );
    Worker::shared(Some(Rc::new(FilterConfig::parse(json.as_bytes()).unwrap())))
}

fn client_request() -> FakeHost {
    FakeHost::new()
        .with_request_header(":path", "/v1/messages")
        .with_request_header("x-api-key", "sk-ant-api03-client")
}

fn ok_answer() -> String {
    serde_json::json!({"access_token": TOKEN, "token_type": "Bearer",
        "expires_in": 3540, "credential_provider": "p"})
    .to_string()
}

/// Request `ctx` on a cold cache: paused, its issuer call dispatched.
fn waiting(host: &mut FakeHost, w: &SharedWorker, ctx: u32) -> RequestFilter {
    host.switch_to(ctx);
    host.request_headers = client_request().request_headers;
    let mut f = RequestFilter::new(ctx, w.clone());
    assert_eq!(f.on_request_headers(host), HeadersAction::Pause);
    f
}

fn body_and_trailers(f: &mut RequestFilter, host: &FakeHost) -> (BodyAction, BodyAction) {
    (f.on_request_body(host), f.on_request_trailers(host))
}

const HELD: (BodyAction, BodyAction) = (BodyAction::Hold, BodyAction::Hold);
const PASSED: (BodyAction, BodyAction) = (BodyAction::Continue, BodyAction::Continue);

#[test]
fn a_waiting_requests_body_and_trailers_are_held_until_it_is_resumed_with_the_token() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut f = waiting(&mut host, &w, 1);
    // Every chunk, as often as the proxy asks, and the trailers.
    for _ in 0..3 {
        assert_eq!(body_and_trailers(&mut f, &host), HELD);
    }
    assert_eq!(host.resumed, 0);
    assert_eq!(host.request_header("authorization"), None);
    let body = ok_answer();
    host.answer(Some("200"), &body);
    f.on_issuer_answer(&mut host, 1, body.len());
    assert_eq!(host.resumed, 1);
    assert_eq!(
        host.request_header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
    assert_eq!(body_and_trailers(&mut f, &host), PASSED);
    assert!(
        !host.all_logs().contains("FRESHtoken"),
        "{}",
        host.all_logs()
    );
}

#[test]
fn a_coalesced_waiter_is_let_through_when_another_requests_call_answers() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut first = waiting(&mut host, &w, 1);
    let mut second = waiting(&mut host, &w, 2);
    assert_eq!(host.dispatches.len(), 1, "one call for both");
    assert_eq!(body_and_trailers(&mut second, &host), HELD);
    host.switch_to(1);
    let body = ok_answer();
    host.answer(Some("200"), &body);
    first.on_issuer_answer(&mut host, 1, body.len());
    host.switch_to(2);
    assert_eq!(host.resumed, 1);
    assert_eq!(body_and_trailers(&mut second, &host), PASSED);
}

#[test]
fn a_request_answered_locally_never_lets_its_body_through() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut f = waiting(&mut host, &w, 1);
    let denied = r#"{"error":"access_denied","error_description":"no policy"}"#;
    host.answer(Some("403"), denied);
    f.on_issuer_answer(&mut host, 1, denied.len());
    assert_eq!(host.replies.len(), 1);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
    // The local reply's own response headers change nothing.
    host.response_headers = vec![(":status".into(), b"403".to_vec())];
    f.on_response_headers(&mut host);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
}

#[test]
fn a_request_refused_at_its_headers_never_lets_its_body_through() {
    let mut host = client_request();
    let mut f = RequestFilter::new(1, Worker::shared(None));
    assert_eq!(f.on_request_headers(&mut host), HeadersAction::Pause);
    assert_eq!(host.replies[0].status, 503);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
}

#[test]
fn a_waiter_whose_headers_could_not_be_edited_stays_held() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut f = waiting(&mut host, &w, 1);
    host.fail_header_edits = true;
    let body = ok_answer();
    host.answer(Some("200"), &body);
    f.on_issuer_answer(&mut host, 1, body.len());
    assert_eq!(host.resumed, 0);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
}

#[test]
fn the_rest_of_a_body_follows_after_the_upstream_answered() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut f = waiting(&mut host, &w, 1);
    let body = ok_answer();
    host.answer(Some("200"), &body);
    f.on_issuer_answer(&mut host, 1, body.len());
    // The upstream may answer (e.g. 413) before the whole body is sent.
    host.response_headers = vec![(":status".into(), b"413".to_vec())];
    f.on_response_headers(&mut host);
    assert_eq!(body_and_trailers(&mut f, &host), PASSED);
}

#[test]
fn a_cache_hit_lets_the_body_through_without_a_host_call() {
    let mut host = client_request();
    let value = format!("2|{}|3600|0|{TOKEN}", host.now_ms() + 600_000);
    host = host.with_shared_data(KEY, value.as_bytes());
    let mut f = RequestFilter::new(1, worker());
    assert_eq!(f.on_request_headers(&mut host), HeadersAction::Continue);
    let (reads, clock, logs) = (
        host.shared_reads.get(),
        host.clock_reads.get(),
        host.logs.borrow().len(),
    );
    assert_eq!(body_and_trailers(&mut f, &host), PASSED);
    assert_eq!(host.shared_reads.get(), reads);
    assert_eq!(host.clock_reads.get(), clock);
    assert_eq!(host.logs.borrow().len(), logs);
}
