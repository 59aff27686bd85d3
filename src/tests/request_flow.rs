//! One request through the filter core, end to end, against the fake host.

use std::time::Duration;

use serde_json::json;

use super::fake_host::{Dispatch, FakeHost, cache_key};
use super::support::{
    API_KEY, ID, TOKEN, answer, assert_not_logged, bearer, ok_answer, only_reply, sha256_of,
    token_entry,
};
use crate::cache::Slot;
use crate::filter::{HeadersAction, RequestFilter};
use crate::host::HostError;
use crate::root;
use crate::worker::{SharedWorker, Worker};

/// A worker with `identity` and the internal API key.
fn worker_with(identity: serde_json::Value) -> SharedWorker {
    super::support::worker(identity, json!({"internal_api_key": API_KEY}))
}

fn static_worker() -> SharedWorker {
    worker_with(super::support::static_identity())
}

fn static_filter() -> RequestFilter {
    RequestFilter::new(1, static_worker())
}

fn header_filter() -> RequestFilter {
    RequestFilter::new(1, worker_with(json!({"source": "header"})))
}

/// The headers of a client request as an SDK would send it, with its own
/// credentials.
const CLIENT: [(&str, &str); 4] = [
    (":path", "/v1/messages"),
    ("x-api-key", "sk-ant-api03-client"),
    ("authorization", "Bearer client"),
    ("anthropic-beta", "prompt-caching-2024-07-31"),
];

/// Starts request `ctx` as the client sends it.
fn client(host: &mut FakeHost, ctx: u32) {
    host.new_request(ctx);
    for (name, value) in CLIENT {
        host.add_request_header(name, value);
    }
}

/// A fake host with the client's request in context 1.
fn client_request() -> FakeHost {
    let mut host = FakeHost::new();
    client(&mut host, 1);
    host
}

/// Caches `TOKEN` with `remaining_ms` left.
fn cached(host: FakeHost, remaining_ms: u64) -> FakeHost {
    host.with_cached(ID, TOKEN, Duration::from_millis(remaining_ms))
}

fn assert_forwarded_with_token(host: &FakeHost) {
    assert_eq!(
        host.request_header_all("authorization"),
        vec![format!("Bearer {TOKEN}")]
    );
    assert_eq!(host.request_header("x-api-key"), None);
    assert_eq!(
        host.request_header_all("anthropic-beta"),
        vec!["prompt-caching-2024-07-31,oauth-2025-04-20"]
    );
    assert!(host.replies().is_empty(), "{:?}", host.replies());
}

fn assert_not_forwarded(host: &FakeHost, status: u32, message: &str) {
    let error_type = if status == 403 {
        "permission_error"
    } else {
        "api_error"
    };
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if status == 503 {
        headers.push(("retry-after".to_owned(), "5".to_owned()));
    }
    let body = json!({"type": "error", "error": {"type": error_type, "message": message}});
    let (reply, got) = only_reply(host);
    assert_eq!(reply.status, status);
    assert_eq!(reply.headers, headers);
    assert_eq!(got, body);
    assert_eq!(host.resumed(), 0);
    assert_ne!(
        host.request_header("authorization"),
        Some(format!("Bearer {TOKEN}")),
        "a refused request must not carry our token"
    );
}

fn assert_no_secret_logged(host: &FakeHost) {
    assert_not_logged(host, &[]);
}

/// Runs a miss up to the dispatch, then delivers `status`/`body` as the answer.
fn miss_then_answer(status: Option<&str>, body: &str) -> FakeHost {
    let mut filter = static_filter();
    let mut host = client_request();
    assert_eq!(filter.on_request_headers(&mut host), HeadersAction::Pause);
    answer(&filter, &mut host, status, body);
    assert_no_secret_logged(&host);
    host
}

#[test]
fn hit_path_edits_headers_and_does_no_io() {
    let mut host = cached(client_request(), 120_001);
    let before = host.shared().clone();
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Continue
    );
    assert_forwarded_with_token(&host);
    assert!(host.dispatches().is_empty());
    assert_eq!(host.shared(), &before);
    assert_no_secret_logged(&host);
    assert!(
        host.all_logs().contains("…WXYZ"),
        "the token's tail is logged"
    );
}

#[test]
fn token_due_for_advisory_refresh_is_still_used_without_waiting() {
    let mut host = cached(client_request(), 30_001);
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Continue
    );
    assert_forwarded_with_token(&host);
    assert!(host.dispatches().is_empty());
}

/// The debug line a hit logs: the token's tail, whole seconds left, and
/// whether a refresh is due.
fn hit_line(remaining_ms: u64) -> String {
    let mut host = cached(client_request(), remaining_ms);
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Continue
    );
    host.logs()
        .into_iter()
        .find(|(level, line)| *level == log::Level::Debug && line.starts_with("cached token"))
        .map(|(_, line)| line)
        .expect("a hit logs one debug line")
}

#[test]
fn a_hit_logs_the_seconds_left_and_a_due_refresh() {
    assert_eq!(
        hit_line(3_600_000),
        format!("cached token …WXYZ for {ID} (3600s left)")
    );
    assert_eq!(
        hit_line(30_001),
        format!("cached token …WXYZ for {ID} (30s left, refresh due)")
    );
}

#[test]
fn token_at_mandatory_boundary_is_not_used() {
    let mut host = cached(client_request(), 30_000);
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_eq!(host.dispatches().len(), 1);
    assert_eq!(
        host.request_header("authorization").as_deref(),
        Some("Bearer client")
    );
}

#[test]
fn unreadable_cache_value_is_a_miss() {
    let mut host = client_request().with_shared_data(&cache_key(ID), b"{\"not\":\"ours\"}");
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_eq!(host.dispatches().len(), 1);
}

#[test]
fn miss_dispatches_exactly_the_token_request_and_pauses() {
    let mut host = client_request();
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    let expected = Dispatch {
        cluster: "issuer_svc".into(),
        headers: [
            (":method", "POST"),
            (":path", "/v1/token"),
            (":authority", "issuer-svc"),
            ("content-type", "application/json"),
            ("authorization", "Bearer internal-key-SECRET-9876"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect(),
        body: br#"{"client_workload":"spiffe://cluster.local/ns/demo/sa/app","server_workload":"api.anthropic.com"}"#.to_vec(),
        timeout: Duration::from_millis(5000),
    };
    assert_eq!(host.dispatches(), [expected]);
    assert!(host.replies().is_empty());
    assert_eq!(host.resumed(), 0);
    assert_no_secret_logged(&host);
}

#[test]
fn ok_answer_stores_the_token_edits_headers_and_resumes() {
    let mut filter = static_filter();
    let mut host = client_request();
    assert_eq!(filter.on_request_headers(&mut host), HeadersAction::Pause);
    host.advance(Duration::from_millis(250));
    let answered_at = host.now_ms();
    answer(&filter, &mut host, Some("200"), &ok_answer(TOKEN, 3540));

    assert_eq!(
        host.cached(ID),
        Some(Slot::Token(token_entry(
            TOKEN,
            answered_at + 3_540_000,
            3540
        )))
    );
    assert_forwarded_with_token(&host);
    assert_eq!(host.resumed(), 1);
    assert_no_secret_logged(&host);

    // The next request of this identity (on another worker) is a hit.
    let dispatched = host.dispatches().len();
    client(&mut host, 2);
    assert_eq!(
        RequestFilter::new(2, static_worker()).on_request_headers(&mut host),
        HeadersAction::Continue
    );
    assert_eq!(host.dispatches().len(), dispatched, "no new dispatch");
}

#[test]
fn forbidden_answer_gives_403_with_the_issuer_description() {
    let host = miss_then_answer(
        Some("403"),
        r#"{"error":"access_denied","error_description":"no access policy grants spiffe://x"}"#,
    );
    assert_not_forwarded(
        &host,
        403,
        "claude-wif: access denied by issuer-svc: no access policy grants spiffe://x",
    );
    assert!(host.shared().is_empty());
}

#[test]
fn a_denial_is_logged_at_info_and_a_failure_at_warn() {
    let refusals = |host: &FakeHost| -> Vec<log::Level> {
        host.logs()
            .into_iter()
            .filter(|(_, line)| line.starts_with("refused the request"))
            .map(|(level, _)| level)
            .collect()
    };
    let denied = miss_then_answer(Some("403"), r#"{"error":"access_denied"}"#);
    assert_eq!(refusals(&denied), [log::Level::Info]);
    let failed = miss_then_answer(Some("500"), "");
    assert_eq!(refusals(&failed), [log::Level::Warn]);
}

#[test]
fn server_error_answer_gives_503() {
    let host = miss_then_answer(
        Some("500"),
        r#"{"error":"upstream_unavailable","error_description":"Claude timed out"}"#,
    );
    assert_not_forwarded(
        &host,
        503,
        "claude-wif: issuer-svc answered status 500: Claude timed out",
    );
}

#[test]
fn timeout_gives_503() {
    let host = miss_then_answer(None, "");
    assert_not_forwarded(
        &host,
        503,
        "claude-wif: issuer-svc did not answer (timeout or connection failure)",
    );
}

#[test]
fn unparseable_ok_body_gives_503() {
    let host = miss_then_answer(Some("200"), "<html>oops</html>");
    assert_not_forwarded(
        &host,
        503,
        "claude-wif: issuer-svc answered status 200: answer body is not a token response (line 1 column 1)",
    );
    assert!(host.shared().is_empty());
}

#[test]
fn token_with_a_newline_is_refused() {
    let host = miss_then_answer(
        Some("200"),
        &ok_answer("sk-ant-oat01-FRESHtoken\nx-injected: 1", 3540),
    );
    assert_not_forwarded(
        &host,
        503,
        "claude-wif: issuer-svc answered status 200: access_token is empty or contains whitespace, control or non-ASCII characters",
    );
    assert!(host.shared().is_empty());
}

#[test]
fn failed_dispatch_gives_503() {
    let mut host = client_request().with_failing_dispatch(HostError::BadArgument);
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_not_forwarded(&host, 503, "claude-wif: could not call issuer-svc");
    assert!(
        host.all_logs().contains("cluster issuer_svc: bad argument"),
        "the dispatch error is logged"
    );
}

#[test]
fn header_identity_is_used_for_the_key_and_removed() {
    let mut host = client_request().with_request_header("x-client-workload", ID);
    let mut host_cached = cached(host, 600_000);
    assert_eq!(
        header_filter().on_request_headers(&mut host_cached),
        HeadersAction::Continue
    );
    assert_forwarded_with_token(&host_cached);
    assert_eq!(host_cached.request_header("x-client-workload"), None);

    host = client_request().with_request_header("x-client-workload", "spiffe://other");
    assert_eq!(
        header_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_eq!(host.request_header("x-client-workload"), None);
    assert_eq!(super::support::asked_identity(&host, 0), "spiffe://other");
}

#[test]
fn missing_header_identity_gives_403() {
    let mut host = client_request();
    assert_eq!(
        header_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_not_forwarded(
        &host,
        403,
        "claude-wif: request has no client workload identity (header x-client-workload)",
    );
    assert!(host.dispatches().is_empty());
}

#[test]
fn header_edit_failure_on_a_hit_gives_503() {
    let mut host = cached(client_request(), 600_000).with_failing_header_edits();
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_not_forwarded(&host, 503, "claude-wif: could not set the request headers");
}

#[test]
fn unconfigured_filter_refuses_every_request() {
    let mut host = client_request();
    assert_eq!(
        RequestFilter::new(1, Worker::shared(None)).on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_not_forwarded(
        &host,
        503,
        "claude-wif: the filter has no valid configuration",
    );
}

#[test]
fn answers_to_other_calls_are_ignored() {
    let mut filter = static_filter();
    let mut host = client_request();
    assert_eq!(filter.on_request_headers(&mut host), HeadersAction::Pause);
    let body = ok_answer(TOKEN, 3540);
    let other = host.unknown_token();
    super::support::answer_call(&filter, &mut host, other, Some("200"), &body);
    assert!(host.replies().is_empty());
    assert_eq!(host.resumed(), 0);
    assert!(host.shared().is_empty());
    // The real answer still completes the request.
    answer(&filter, &mut host, Some("200"), &body);
    assert_eq!(host.resumed(), 1);
}

#[test]
fn a_newer_token_from_another_worker_is_kept() {
    let mut filter = static_filter();
    let mut host = client_request();
    assert_eq!(filter.on_request_headers(&mut host), HeadersAction::Pause);
    // Meanwhile another worker cached a token valid for longer.
    let newer = token_entry("sk-ant-oat01-other", host.now_ms() + 7_200_000, 7200);
    host.cache_entry(ID, &newer);
    answer(&filter, &mut host, Some("200"), &ok_answer(TOKEN, 3540));
    assert_eq!(host.cached(ID), Some(Slot::Token(newer)));
    assert_forwarded_with_token(&host);
    assert_eq!(host.resumed(), 1);
}

#[test]
fn refused_requests_are_logged_with_their_status() {
    let host = miss_then_answer(None, "");
    let logs = host.logs();
    assert!(logs.iter().any(|(level, line)| *level == log::Level::Warn
        && line == "refused the request (503): issuer-svc did not answer (timeout or connection failure)"));
}

/// One worker serving `n` requests in turn, each a new request (contexts
/// `first`, `first + 1`, …); returns the `authorization` each one was
/// forwarded with (None: paused or answered).
fn forwarded_bearers(
    worker: &SharedWorker,
    host: &mut FakeHost,
    first: u32,
    n: u32,
) -> Vec<Option<String>> {
    (first..first + n)
        .map(|ctx| {
            host.new_request(ctx);
            let mut filter = RequestFilter::new(ctx, worker.clone());
            match filter.on_request_headers(host) {
                HeadersAction::Continue => host.request_header("authorization"),
                HeadersAction::Pause => None,
            }
        })
        .collect()
}

#[test]
fn a_hit_decodes_an_entry_once_per_version() {
    let worker = static_worker();
    let key = cache_key(ID);
    let mut host = FakeHost::new();
    let held = token_entry(TOKEN, host.now_ms() + 3_600_000, 3600);
    host.put_shared(&key, &held.encode(), 5);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 100, 1),
        vec![bearer(TOKEN)]
    );
    // Same version, other bytes (a host never does this): the entry decoded
    // at version 5 is used, so a hit parses nothing.
    let other = token_entry("sk-ant-oat01-OTHER", host.now_ms() + 3_600_000, 3600).encode();
    host.put_shared(&key, &other, 5);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 101, 2),
        vec![bearer(TOKEN), bearer(TOKEN)]
    );
    // A new version (another worker stored a token) is used at once.
    host.put_shared(&key, &other, 6);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 103, 1),
        vec![bearer("sk-ant-oat01-OTHER")]
    );
    assert_eq!(host.count_of(crate::stats::Stat::CacheHits), 4);
    assert!(host.dispatches().is_empty());
}

fn stale_sha_of_dispatch(host: &FakeHost, i: usize) -> String {
    super::support::asked_stale_sha256(host, i).unwrap_or_default()
}

#[test]
fn an_invalidation_by_another_worker_is_seen_by_the_next_request() {
    let worker = static_worker();
    let mut host = cached(FakeHost::new(), 3_600_000);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 100, 1),
        vec![bearer(TOKEN)]
    );
    let sha = sha256_of(TOKEN);
    host.cache_invalidated(ID, TOKEN);
    root::tick(&worker, &mut host, 0);
    assert_eq!(forwarded_bearers(&worker, &mut host, 101, 1), vec![None]);
    assert_eq!(host.dispatches().len(), 1);
    assert_eq!(stale_sha_of_dispatch(&host, 0), sha);
}

#[test]
fn a_401_drops_the_workers_copy_even_when_another_worker_invalidated_first() {
    let worker = static_worker();
    let mut host = cached(FakeHost::new(), 3_600_000);
    host.new_request(7);
    let mut filter = RequestFilter::new(7, worker.clone());
    assert_eq!(
        filter.on_request_headers(&mut host),
        HeadersAction::Continue
    );
    let sha = sha256_of(TOKEN);
    host.cache_invalidated(ID, TOKEN);
    host.set_response_status("401");
    filter.on_response_headers(&mut host);
    assert_eq!(forwarded_bearers(&worker, &mut host, 100, 1), vec![None]);
    assert_eq!(stale_sha_of_dispatch(&host, 0), sha);
}

#[test]
fn a_copy_in_its_mandatory_window_is_replaced_from_shared_data_without_waiting() {
    let worker = static_worker();
    let mut host = cached(FakeHost::new(), 3_600_000);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 100, 1),
        vec![bearer(TOKEN)]
    );
    // Another worker refreshed it; this worker's copy then ages into its
    // mandatory window (30 s) before any tick ran.
    host.advance(Duration::from_secs(3_600 - 20));
    let newer = token_entry("sk-ant-oat01-NEWER", host.now_ms() + 3_000_000, 3600);
    host.cache_entry(ID, &newer);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 101, 1),
        vec![bearer("sk-ant-oat01-NEWER")]
    );
    assert!(host.dispatches().is_empty());
}
