//! One request through the filter core, end to end, against the fake host.

use std::rc::Rc;
use std::time::Duration;

use super::fake_host::{Dispatch, FakeHost};
use crate::config::FilterConfig;
use crate::filter::{HeadersAction, RequestFilter};
use crate::host::HostError;
use crate::worker::Worker;

const ID: &str = "spiffe://cluster.local/ns/demo/sa/app";
const KEY: &str = "claude-wif/v2/api.anthropic.com/spiffe://cluster.local/ns/demo/sa/app";
const TOKEN: &str = "sk-ant-oat01-FRESHtoken-WXYZ";
const API_KEY: &str = "internal-key-SECRET-9876";

fn config(identity: &str) -> Rc<FilterConfig> {
    let json = format!(
        r#"{{"issuer_cluster":"issuer_svc","identity":{identity},"internal_api_key":"{API_KEY}"}}"#
    );
    Rc::new(FilterConfig::parse(json.as_bytes()).unwrap())
}

fn static_filter() -> RequestFilter {
    RequestFilter::new(
        1,
        Worker::shared(Some(config(&format!(
            r#"{{"source":"static","value":"{ID}"}}"#
        )))),
    )
}

fn header_filter() -> RequestFilter {
    RequestFilter::new(1, Worker::shared(Some(config(r#"{"source":"header"}"#))))
}

/// A client request as an SDK would send it, with its own credentials.
fn client_request() -> FakeHost {
    FakeHost::new()
        .with_request_header(":path", "/v1/messages")
        .with_request_header("x-api-key", "sk-ant-api03-client")
        .with_request_header("authorization", "Bearer client")
        .with_request_header("anthropic-beta", "prompt-caching-2024-07-31")
}

/// Caches `TOKEN` with `remaining_ms` left.
fn cached(mut host: FakeHost, remaining_ms: u64) -> FakeHost {
    let value = format!("2|{}|3600|0|{TOKEN}", host.now_ms() + remaining_ms);
    host = host.with_shared_data(KEY, value.as_bytes());
    host
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
    assert!(host.replies.is_empty(), "{:?}", host.replies);
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
    let body =
        serde_json::json!({"type": "error", "error": {"type": error_type, "message": message}});
    assert_eq!(host.replies.len(), 1, "{:?}", host.replies);
    assert_eq!(host.replies[0].status, status);
    assert_eq!(host.replies[0].headers, headers);
    let got: serde_json::Value = serde_json::from_str(&host.replies[0].body).unwrap();
    assert_eq!(got, body);
    assert_eq!(host.resumed, 0);
    assert_ne!(
        host.request_header("authorization"),
        Some(format!("Bearer {TOKEN}")),
        "a refused request must not carry our token"
    );
}

fn assert_no_secret_logged(host: &FakeHost) {
    let logs = host.all_logs();
    assert!(!logs.contains("FRESHtoken"), "{logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
}

/// Runs a miss up to the dispatch, then delivers `status`/`body` as the answer.
fn miss_then_answer(status: Option<&str>, body: &str) -> FakeHost {
    let mut filter = static_filter();
    let mut host = client_request();
    assert_eq!(filter.on_request_headers(&mut host), HeadersAction::Pause);
    host.answer(status, body);
    filter.on_issuer_answer(&mut host, 1, body.len());
    assert_no_secret_logged(&host);
    host
}

fn ok_answer(token: &str) -> String {
    serde_json::json!({
        "access_token": token, "token_type": "Bearer",
        "expires_in": 3540, "credential_provider": "claude-prod",
    })
    .to_string()
}

#[test]
fn hit_path_edits_headers_and_does_no_io() {
    let mut host = cached(client_request(), 120_001);
    let before = host.shared.clone();
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Continue
    );
    assert_forwarded_with_token(&host);
    assert!(host.dispatches.is_empty());
    assert_eq!(host.shared, before);
    assert_no_secret_logged(&host);
    assert!(host.all_logs().contains("…WXYZ"), "{}", host.all_logs());
}

#[test]
fn token_due_for_advisory_refresh_is_still_used_without_waiting() {
    let mut host = cached(client_request(), 30_001);
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Continue
    );
    assert_forwarded_with_token(&host);
    assert!(host.dispatches.is_empty());
}

#[test]
fn token_at_mandatory_boundary_is_not_used() {
    let mut host = cached(client_request(), 30_000);
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_eq!(host.dispatches.len(), 1);
    assert_eq!(
        host.request_header("authorization").as_deref(),
        Some("Bearer client")
    );
}

#[test]
fn unreadable_cache_value_is_a_miss() {
    let mut host = client_request().with_shared_data(KEY, b"{\"not\":\"ours\"}");
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_eq!(host.dispatches.len(), 1);
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
    assert_eq!(host.dispatches, vec![expected]);
    assert!(host.replies.is_empty());
    assert_eq!(host.resumed, 0);
    assert_no_secret_logged(&host);
}

#[test]
fn ok_answer_stores_the_token_edits_headers_and_resumes() {
    let mut filter = static_filter();
    let mut host = client_request();
    assert_eq!(filter.on_request_headers(&mut host), HeadersAction::Pause);
    host.advance(Duration::from_millis(250));
    let answered_at = host.now_ms();
    let body = ok_answer(TOKEN);
    host.answer(Some("200"), &body);
    filter.on_issuer_answer(&mut host, 1, body.len());

    assert_eq!(
        host.shared_value(KEY),
        Some(format!("2|{}|3540|0|{TOKEN}", answered_at + 3_540_000))
    );
    assert_forwarded_with_token(&host);
    assert_eq!(host.resumed, 1);
    assert_no_secret_logged(&host);

    // The next request of this identity is a hit.
    let mut next = client_request();
    next.shared = host.shared.clone();
    next.now = host.now;
    assert_eq!(
        static_filter().on_request_headers(&mut next),
        HeadersAction::Continue
    );
    assert!(next.dispatches.is_empty());
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
    assert!(host.shared.is_empty());
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
    assert!(host.shared.is_empty());
}

#[test]
fn token_with_a_newline_is_refused() {
    let host = miss_then_answer(
        Some("200"),
        &ok_answer("sk-ant-oat01-FRESHtoken\nx-injected: 1"),
    );
    assert_not_forwarded(
        &host,
        503,
        "claude-wif: issuer-svc answered status 200: access_token is empty or contains whitespace, control or non-ASCII characters",
    );
    assert!(host.shared.is_empty());
}

#[test]
fn failed_dispatch_gives_503() {
    let mut host = client_request();
    host.fail_dispatch = Some(HostError::BadArgument);
    assert_eq!(
        static_filter().on_request_headers(&mut host),
        HeadersAction::Pause
    );
    assert_not_forwarded(&host, 503, "claude-wif: could not call issuer-svc");
    assert!(
        host.all_logs().contains("cluster issuer_svc: bad argument"),
        "{}",
        host.all_logs()
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
    let body: serde_json::Value = serde_json::from_slice(&host.dispatches[0].body).unwrap();
    assert_eq!(body["client_workload"], "spiffe://other");
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
    assert!(host.dispatches.is_empty());
}

#[test]
fn header_edit_failure_on_a_hit_gives_503() {
    let mut host = cached(client_request(), 600_000);
    host.fail_header_edits = true;
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
    let body = ok_answer(TOKEN);
    host.answer(Some("200"), &body);
    filter.on_issuer_answer(&mut host, 99, body.len());
    assert!(host.replies.is_empty());
    assert_eq!(host.resumed, 0);
    assert!(host.shared.is_empty());
    // The real answer still completes the request.
    filter.on_issuer_answer(&mut host, 1, body.len());
    assert_eq!(host.resumed, 1);
}

#[test]
fn a_newer_token_from_another_worker_is_kept() {
    let mut filter = static_filter();
    let mut host = client_request();
    assert_eq!(filter.on_request_headers(&mut host), HeadersAction::Pause);
    // Meanwhile another worker cached a token valid for longer.
    let newer = format!("2|{}|7200|0|sk-ant-oat01-other", host.now_ms() + 7_200_000);
    host = host.with_shared_data(KEY, newer.as_bytes());
    let body = ok_answer(TOKEN);
    host.answer(Some("200"), &body);
    filter.on_issuer_answer(&mut host, 1, body.len());
    assert_eq!(host.shared_value(KEY), Some(newer));
    assert_forwarded_with_token(&host);
    assert_eq!(host.resumed, 1);
}

#[test]
fn refused_requests_are_logged_with_their_status() {
    let host = miss_then_answer(None, "");
    let logs = host.logs.borrow();
    assert!(logs.iter().any(|(level, line)| *level == log::Level::Warn
        && line == "refused the request (503): issuer-svc did not answer (timeout or connection failure)"));
}

/// One worker serving `n` requests in turn on a fresh request side each;
/// returns the `authorization` each one was forwarded with (None: paused or answered).
fn forwarded_bearers(
    worker: &crate::worker::SharedWorker,
    host: &mut FakeHost,
    n: u32,
) -> Vec<Option<String>> {
    (0..n)
        .map(|i| {
            host.request_headers.clear();
            let mut filter = RequestFilter::new(100 + i, worker.clone());
            match filter.on_request_headers(host) {
                HeadersAction::Continue => host.request_header("authorization"),
                HeadersAction::Pause => None,
            }
        })
        .collect()
}

fn static_worker() -> crate::worker::SharedWorker {
    Worker::shared(Some(config(&format!(
        r#"{{"source":"static","value":"{ID}"}}"#
    ))))
}

fn bearer_of(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

#[test]
fn a_hit_decodes_an_entry_once_per_version() {
    let worker = static_worker();
    let mut host = cached(FakeHost::new(), 3_600_000);
    host.shared.get_mut(KEY).unwrap().1 = 5;
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 1),
        vec![bearer_of(TOKEN)]
    );
    // Same version, other bytes (a host never does this): the entry decoded
    // at version 5 is used, so a hit parses nothing.
    let other = format!("2|{}|3600|0|sk-ant-oat01-OTHER", host.now_ms() + 3_600_000);
    host.shared
        .insert(KEY.into(), (other.clone().into_bytes(), 5));
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 2),
        vec![bearer_of(TOKEN), bearer_of(TOKEN)]
    );
    // A new version (another worker stored a token) is used at once.
    host.shared.insert(KEY.into(), (other.into_bytes(), 6));
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 1),
        vec![bearer_of("sk-ant-oat01-OTHER")]
    );
    assert_eq!(host.count_of(crate::stats::Stat::CacheHits), 4);
    assert!(host.dispatches.is_empty());
}

fn stale_sha_of_dispatch(host: &FakeHost, i: usize) -> String {
    let body: serde_json::Value = serde_json::from_slice(&host.dispatches[i].body).unwrap();
    body["stale_token_sha256"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn an_invalidation_by_another_worker_is_seen_by_the_next_request() {
    let worker = static_worker();
    let mut host = cached(FakeHost::new(), 3_600_000);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 1),
        vec![bearer_of(TOKEN)]
    );
    let sha = crate::cache::token_sha256(&claude_wif_api::AccessToken::new(TOKEN));
    host.shared
        .insert(KEY.into(), (format!("2|-|{sha}").into_bytes(), 2));
    crate::filter::tick(&worker, &mut host, 0);
    assert_eq!(forwarded_bearers(&worker, &mut host, 1), vec![None]);
    assert_eq!(host.dispatches.len(), 1);
    assert_eq!(stale_sha_of_dispatch(&host, 0), sha);
}

#[test]
fn a_401_drops_the_workers_copy_even_when_another_worker_invalidated_first() {
    let worker = static_worker();
    let mut host = cached(FakeHost::new(), 3_600_000);
    let mut filter = RequestFilter::new(7, worker.clone());
    assert_eq!(
        filter.on_request_headers(&mut host),
        HeadersAction::Continue
    );
    let sha = crate::cache::token_sha256(&claude_wif_api::AccessToken::new(TOKEN));
    host.shared
        .insert(KEY.into(), (format!("2|-|{sha}").into_bytes(), 2));
    host.response_headers = vec![(":status".into(), b"401".to_vec())];
    filter.on_response_headers(&mut host);
    assert_eq!(forwarded_bearers(&worker, &mut host, 1), vec![None]);
    assert_eq!(stale_sha_of_dispatch(&host, 0), sha);
}

#[test]
fn a_copy_in_its_mandatory_window_is_replaced_from_shared_data_without_waiting() {
    let worker = static_worker();
    let mut host = cached(FakeHost::new(), 3_600_000);
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 1),
        vec![bearer_of(TOKEN)]
    );
    // Another worker refreshed it; this worker's copy then ages into its
    // mandatory window (30 s) before any tick ran.
    host.advance(Duration::from_secs(3_600 - 20));
    let newer = format!("2|{}|3600|0|sk-ant-oat01-NEWER", host.now_ms() + 3_000_000);
    host.shared.insert(KEY.into(), (newer.into_bytes(), 2));
    assert_eq!(
        forwarded_bearers(&worker, &mut host, 1),
        vec![bearer_of("sk-ant-oat01-NEWER")]
    );
    assert!(host.dispatches.is_empty());
}
