//! The request body and trailers (security review, finding 1): nothing of a
//! request goes upstream before its headers carry the token, whatever the
//! proxy does with the headers' pause (Envoy's
//! `allow_on_headers_stop_iteration` delivers the body while the request
//! waits, and a `Continue` there sends the request upstream at once).

use std::time::Duration;

use super::fake_host::FakeHost;
use super::support::{
    ID, TOKEN, answer, assert_not_logged, client_host, client_request, static_worker,
};
use crate::filter::{BodyAction, HeadersAction, RequestFilter};
use crate::worker::{SharedWorker, Worker};

fn worker() -> SharedWorker {
    static_worker()
}

fn ok_answer() -> String {
    super::support::ok_answer(TOKEN, 3540)
}

/// Request `ctx` on a cold cache: paused, its issuer call dispatched.
fn waiting(host: &mut FakeHost, w: &SharedWorker, ctx: u32) -> RequestFilter {
    client_request(host, ctx);
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
    assert_eq!(host.resumed(), 0);
    assert_eq!(host.request_header("authorization"), None);
    answer(&f, &mut host, Some("200"), &ok_answer());
    assert_eq!(host.resumed(), 1);
    assert_eq!(
        host.request_header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
    assert_eq!(body_and_trailers(&mut f, &host), PASSED);
    assert_not_logged(&host, &[]);
}

#[test]
fn a_coalesced_waiter_is_let_through_when_another_requests_call_answers() {
    let (w, mut host) = (worker(), FakeHost::new());
    let first = waiting(&mut host, &w, 1);
    let mut second = waiting(&mut host, &w, 2);
    assert_eq!(host.dispatches().len(), 1, "one call for both");
    assert_eq!(body_and_trailers(&mut second, &host), HELD);
    answer(&first, &mut host, Some("200"), &ok_answer());
    host.switch_to(2);
    assert_eq!(host.resumed(), 1);
    assert_eq!(body_and_trailers(&mut second, &host), PASSED);
}

#[test]
fn a_request_answered_locally_never_lets_its_body_through() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut f = waiting(&mut host, &w, 1);
    let denied = r#"{"error":"access_denied","error_description":"no policy"}"#;
    answer(&f, &mut host, Some("403"), denied);
    assert_eq!(host.replies().len(), 1);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
    // The local reply's own response headers change nothing.
    host.set_response_status("403");
    f.on_response_headers(&mut host);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
}

#[test]
fn a_request_refused_at_its_headers_never_lets_its_body_through() {
    let mut host = client_host();
    let mut f = RequestFilter::new(1, Worker::shared(None));
    assert_eq!(f.on_request_headers(&mut host), HeadersAction::Pause);
    assert_eq!(host.replies()[0].status, 503);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
}

#[test]
fn a_waiter_whose_headers_could_not_be_edited_stays_held() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut f = waiting(&mut host, &w, 1);
    host.fail_header_edits();
    answer(&f, &mut host, Some("200"), &ok_answer());
    assert_eq!(host.resumed(), 0);
    assert_eq!(body_and_trailers(&mut f, &host), HELD);
}

#[test]
fn the_rest_of_a_body_follows_after_the_upstream_answered() {
    let (w, mut host) = (worker(), FakeHost::new());
    let mut f = waiting(&mut host, &w, 1);
    answer(&f, &mut host, Some("200"), &ok_answer());
    // The upstream may answer (e.g. 413) before the whole body is sent.
    host.set_response_status("413");
    f.on_response_headers(&mut host);
    assert_eq!(body_and_trailers(&mut f, &host), PASSED);
}

#[test]
fn a_cache_hit_lets_the_body_through_without_a_host_call() {
    let mut host = client_host().with_cached(ID, TOKEN, Duration::from_secs(600));
    let mut f = RequestFilter::new(1, worker());
    assert_eq!(f.on_request_headers(&mut host), HeadersAction::Continue);
    let (reads, clock, logs) = (host.shared_reads(), host.clock_reads(), host.log_count());
    assert_eq!(body_and_trailers(&mut f, &host), PASSED);
    assert_eq!(host.shared_reads(), reads);
    assert_eq!(host.clock_reads(), clock);
    assert_eq!(host.log_count(), logs);
}
