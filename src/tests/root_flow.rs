//! The root context through the core against the fake host, as the adapter
//! drives it: the configuration accepted or refused (and what is logged),
//! the metrics, the tick (hit batching, background refresh, and the
//! fallback when the host refuses a tick), notices from other workers, and
//! issuer answers delivered to the requests waiting on them.

use std::time::Duration;

use log::Level;
use serde_json::{Value, json};

use super::fake_host::{FakeHost, SERVER_WORKLOAD};
use super::support::{
    API_KEY, ID, TOKEN, answer, answer_call, asked_stale_sha256, assert_not_logged, bearer,
    client_request, config_json, ok_answer, only_reply, sha256_of, static_identity,
};
use crate::cache::{self, Slot};
use crate::filter::{BodyAction, HeadersAction, RequestFilter};
use crate::host::HostError;
use crate::root::Root;
use crate::stats::Stat;

/// The root context's id (the fake host starts in context 1).
const ROOT: u32 = 1;

fn with_key() -> Value {
    json!({"internal_api_key": API_KEY})
}

/// A root configured with `identity` and `extra` on `host`, which counts
/// through the root's metrics.
fn configured(host: FakeHost, identity: Value, extra: Value) -> (Root, FakeHost) {
    let mut root = Root::new(ROOT);
    let mut host = host.with_metrics(root.metrics());
    assert!(root.configure(&mut host, config_json(identity, extra).as_bytes()));
    (root, host)
}

/// Starts request `ctx` (client headers, and `identity` in
/// `x-client-workload` when given) on `root`.
fn serve(
    root: &Root,
    host: &mut FakeHost,
    ctx: u32,
    identity: Option<&str>,
) -> (RequestFilter, HeadersAction) {
    client_request(host, ctx);
    if let Some(identity) = identity {
        host.add_request_header("x-client-workload", identity);
    }
    let mut request = root.new_request(ctx);
    let action = request.on_request_headers(host);
    (request, action)
}

/// The root tick, in the root context.
fn tick(root: &mut Root, host: &mut FakeHost) {
    host.switch_to(ROOT);
    root.on_tick(host);
}

#[test]
fn a_valid_configuration_is_logged_and_starts_metrics_tick_and_notices() {
    let extra = json!({"internal_api_key": API_KEY, "refresh_tick_ms": 500});
    let (root, host) = configured(FakeHost::new(), static_identity(), extra);
    assert_eq!(
        host.logs(),
        vec![(
            Level::Info,
            "configured: issuer cluster issuer_svc, server workload api.anthropic.com, \
             identity source static"
                .to_owned()
        )]
    );
    assert_not_logged(&host, &[]);
    assert_eq!(host.tick_period(), Some(Duration::from_millis(500)));
    assert!(root.metrics().batches_hits());
    assert_eq!(
        host.shared_value(&cache::count_key(SERVER_WORKLOAD))
            .as_deref(),
        Some("0"),
        "the identity counter exists before traffic"
    );
    assert_eq!(host.queues_registered(), 1, "joined the notices");
    assert!(root.worker().borrow().peer().is_some());
}

#[test]
fn an_invalid_configuration_is_refused_with_every_error_and_no_value_logged() {
    let mut root = Root::new(ROOT);
    let mut host = FakeHost::new().with_metrics(root.metrics());
    let bad = config_json(
        static_identity(),
        json!({"internal_api_key": API_KEY, "timeout_ms": 0, "refresh_tick_ms": 1}),
    );
    assert!(!root.configure(&mut host, bad.as_bytes()));
    let logs = host.logs();
    assert_eq!(logs.len(), 1, "one line");
    let (level, line) = &logs[0];
    assert_eq!(*level, Level::Error);
    assert!(line.starts_with("invalid plugin configuration: "));
    assert!(line.contains("timeout_ms"), "names the field");
    assert!(
        line.contains("refresh_tick_ms"),
        "every error, not the first"
    );
    assert_not_logged(&host, &[]);
    // Nothing started.
    assert!(host.metric_definitions().is_empty());
    assert_eq!(host.tick_period(), None);
    assert!(host.shared().is_empty());
    assert_eq!(host.queues_registered(), 0);

    let mut host = FakeHost::new().with_metrics(root.metrics());
    assert!(!root.configure(&mut host, b"{\"issuer_cluster\": "));
    assert_eq!(host.logs().len(), 1);
    assert_eq!(host.logs()[0].0, Level::Error);
}

#[test]
fn after_a_refused_configuration_no_request_goes_upstream() {
    let mut root = Root::new(ROOT);
    let mut host = FakeHost::new()
        .with_cached(ID, TOKEN, Duration::from_secs(3_600))
        .with_metrics(root.metrics());
    let unknown_member = config_json(static_identity(), json!({"issuer": "x"}));
    assert!(!root.configure(&mut host, unknown_member.as_bytes()));
    for ctx in [10, 11] {
        let (mut request, action) = serve(&root, &mut host, ctx, Some(ID));
        assert_eq!(action, HeadersAction::Pause, "never continues upstream");
        let (reply, body) = only_reply(&host);
        assert_eq!(reply.status, 503);
        assert_eq!(
            body["error"]["message"],
            "claude-wif: the filter has no valid configuration"
        );
        assert_eq!(request.on_request_body(&host), BodyAction::Hold);
        assert_eq!(request.on_request_trailers(&host), BodyAction::Hold);
        assert_eq!(host.resumed(), 0);
        assert_eq!(host.request_header("authorization"), None);
        assert_eq!(
            host.request_header("x-api-key").as_deref(),
            Some("sk-ant-api03-client")
        );
    }
    assert!(host.dispatches().is_empty());
}

#[test]
fn metrics_are_defined_once_with_their_names() {
    let (mut root, mut host) = configured(FakeHost::new(), static_identity(), with_key());
    let names: Vec<&str> = Stat::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(host.metric_definitions(), names);
    let again = config_json(static_identity(), with_key());
    assert!(root.configure(&mut host, again.as_bytes()));
    assert_eq!(host.metric_definitions(), names, "not defined again");
    // Counted under those names.
    let (_, action) = serve(&root, &mut host, 10, None);
    assert_eq!(action, HeadersAction::Pause);
    assert_eq!(host.count_of(Stat::CacheMisses), 1);
    assert_eq!(host.count_of(Stat::RequestsPaused), 1);
}

#[test]
fn cache_hits_are_batched_and_handed_over_in_one_call_at_the_tick() {
    let host = FakeHost::new().with_cached(ID, TOKEN, Duration::from_secs(3_600));
    let (mut root, mut host) = configured(host, json!({"source": "header"}), json!({}));
    for ctx in [10, 11, 12] {
        assert_eq!(
            serve(&root, &mut host, ctx, Some(ID)).1,
            HeadersAction::Continue
        );
        assert_eq!(host.request_header("authorization"), bearer(TOKEN));
    }
    assert_eq!(host.count_of(Stat::CacheHits), 0, "not handed over yet");
    // Other counters are handed over as they happen.
    assert_eq!(
        serve(&root, &mut host, 13, Some("spiffe://other")).1,
        HeadersAction::Pause
    );
    assert_eq!(host.count_of(Stat::CacheMisses), 1);
    tick(&mut root, &mut host);
    assert_eq!(host.count_of(Stat::CacheHits), 3);
    assert_eq!(host.increments_of(Stat::CacheHits), 1, "one host call");
    tick(&mut root, &mut host);
    assert_eq!(
        host.increments_of(Stat::CacheHits),
        1,
        "nothing to hand over"
    );
}

#[test]
fn without_a_tick_hits_are_counted_one_by_one_and_read_shared_data() {
    let host = FakeHost::new()
        .without_tick()
        .with_cached(ID, TOKEN, Duration::from_secs(3_600));
    let (root, mut host) = configured(host, static_identity(), with_key());
    assert!(
        host.logs().contains(&(
            Level::Warn,
            "no background refresh (tick refused: host status 12)".to_owned()
        )),
        "{:?}",
        host.logs()
    );
    assert!(!root.metrics().batches_hits());
    assert_eq!(host.queues_registered(), 0, "notices rely on the tick");
    assert!(root.worker().borrow().peer().is_none());
    assert_eq!(serve(&root, &mut host, 10, None).1, HeadersAction::Continue);
    let reads = host.shared_reads();
    for ctx in [11, 12] {
        assert_eq!(
            serve(&root, &mut host, ctx, None).1,
            HeadersAction::Continue
        );
    }
    assert_eq!(host.shared_reads(), reads + 2, "no copy without notices");
    assert_eq!(host.count_of(Stat::CacheHits), 3);
    assert_eq!(host.increments_of(Stat::CacheHits), 3);
}

#[test]
fn the_tick_refreshes_in_the_background_and_the_root_keeps_the_answer() {
    let extra = json!({"advisory_refresh_s": 30, "mandatory_refresh_s": 10});
    let (mut root, mut host) = configured(FakeHost::new(), static_identity(), extra);
    let (request, _) = serve(&root, &mut host, 10, None);
    answer(&request, &mut host, Some("200"), &ok_answer(TOKEN, 60));
    // A 60 s token: its advisory window is its last 30 s.
    for _ in 0..30 {
        host.advance(Duration::from_secs(1));
        tick(&mut root, &mut host);
    }
    assert_eq!(host.dispatches().len(), 2, "a refresh from the root");
    assert_eq!(asked_stale_sha256(&host, 1), Some(sha256_of(TOKEN)));
    assert_eq!(serve(&root, &mut host, 11, None).1, HeadersAction::Continue);
    assert_eq!(host.request_header("authorization"), bearer(TOKEN));
    host.switch_to(ROOT);
    host.answer(Some("200"), &ok_answer("sk-ant-oat01-NEXT", 60));
    let call = host.last_dispatch_token();
    let body_len = ok_answer("sk-ant-oat01-NEXT", 60).len();
    root.on_call_answer(&mut host, call, body_len);
    assert_eq!(host.ctx(), ROOT);
    assert_eq!(host.count_of(Stat::BackgroundRefreshOk), 1);
    assert!(
        matches!(host.cached(ID), Some(Slot::Token(e)) if e.token.expose() == "sk-ant-oat01-NEXT")
    );
    assert_eq!(serve(&root, &mut host, 12, None).1, HeadersAction::Continue);
    assert_eq!(
        host.request_header("authorization"),
        bearer("sk-ant-oat01-NEXT")
    );
}

#[test]
fn a_notice_from_another_worker_drops_this_workers_copy() {
    let host = FakeHost::new().with_cached(ID, TOKEN, Duration::from_secs(3_600));
    let (a, mut host) = configured(host, static_identity(), with_key());
    let mut b = Root::new(2);
    assert!(b.configure(
        &mut host,
        config_json(static_identity(), with_key()).as_bytes()
    ));
    let (mut on_a, _) = serve(&a, &mut host, 10, None);
    assert_eq!(serve(&b, &mut host, 20, None).1, HeadersAction::Continue);
    host.switch_to(10);
    host.set_response_status("401");
    on_a.on_response_headers(&mut host);
    let queue = b.worker().borrow().peer().unwrap().queue;
    assert_eq!(host.queue_len(queue), 1, "b was told");
    host.switch_to(2);
    b.on_queue_ready(&mut host, queue);
    assert_eq!(host.queue_len(queue), 0);
    assert_eq!(serve(&b, &mut host, 21, None).1, HeadersAction::Pause);
    assert_eq!(asked_stale_sha256(&host, 0), Some(sha256_of(TOKEN)));
}

#[test]
fn an_answer_in_a_request_resumes_every_request_waiting_for_its_key() {
    let (root, mut host) = configured(FakeHost::new(), static_identity(), with_key());
    let (first, _) = serve(&root, &mut host, 10, None);
    let (second, _) = serve(&root, &mut host, 11, None);
    assert_eq!(host.dispatches().len(), 1, "one call for both");
    let body = ok_answer(TOKEN, 3600);
    // An answer to a call nobody made changes nothing.
    let unknown = host.unknown_token();
    answer_call(&first, &mut host, unknown, Some("200"), &body);
    assert_eq!(host.resumed(), 0);
    assert!(host.cached(ID).is_none());
    answer(&first, &mut host, Some("200"), &body);
    assert_eq!(host.ctx(), 10, "back in the context that got the answer");
    for request in [&first, &second] {
        host.switch_to(request.id());
        assert_eq!(host.resumed(), 1);
        assert_eq!(host.request_header("authorization"), bearer(TOKEN));
    }
    assert!(matches!(host.cached(ID), Some(Slot::Token(_))));
    assert_not_logged(&host, &[]);
}

#[test]
fn answers_reach_only_the_requests_waiting_for_their_key() {
    let (root, mut host) = configured(FakeHost::new(), json!({"source": "header"}), json!({}));
    let (a, _) = serve(&root, &mut host, 10, Some("spiffe://a"));
    let (b, _) = serve(&root, &mut host, 11, Some("spiffe://b"));
    let (call_a, call_b) = (host.dispatch_token(0), host.dispatch_token(1));
    answer_call(
        &b,
        &mut host,
        call_b,
        Some("200"),
        &ok_answer("sk-ant-oat01-B", 3600),
    );
    assert_eq!(host.resumed(), 1);
    assert_eq!(
        host.request_header("authorization"),
        bearer("sk-ant-oat01-B")
    );
    host.switch_to(10);
    assert_eq!(host.resumed(), 0, "a still waits");
    assert!(host.replies().is_empty());
    let denied = r#"{"error":"access_denied","error_description":"no policy"}"#;
    answer_call(&a, &mut host, call_a, Some("403"), denied);
    assert_eq!(only_reply(&host).0.status, 403);
    host.switch_to(11);
    assert!(host.replies().is_empty(), "b's answer is its own");
}

#[test]
fn the_root_answers_waiters_whose_caller_went_away() {
    let (mut root, mut host) = configured(FakeHost::new(), static_identity(), with_key());
    let (mut owner, _) = serve(&root, &mut host, 10, None);
    serve(&root, &mut host, 11, None);
    owner.on_done();
    host.drop_context(10);
    tick(&mut root, &mut host);
    assert_eq!(host.dispatches().len(), 2, "called again from the root");
    let body = ok_answer(TOKEN, 3600);
    host.answer(Some("200"), &body);
    let call = host.last_dispatch_token();
    root.on_call_answer(&mut host, call, body.len());
    assert_eq!(host.ctx(), ROOT, "back in the root context");
    host.switch_to(11);
    assert_eq!(host.resumed(), 1);
    assert_eq!(host.request_header("authorization"), bearer(TOKEN));
}

#[test]
fn a_call_the_tick_cannot_make_again_is_answered_503() {
    let (mut root, mut host) = configured(FakeHost::new(), static_identity(), with_key());
    let (mut owner, _) = serve(&root, &mut host, 10, None);
    serve(&root, &mut host, 11, None);
    owner.on_done();
    host.drop_context(10);
    host.fail_dispatch(HostError::BadArgument);
    tick(&mut root, &mut host);
    assert_eq!(host.ctx(), ROOT);
    host.switch_to(11);
    let (reply, body) = only_reply(&host);
    assert_eq!(reply.status, 503);
    assert_eq!(
        body["error"]["message"],
        "claude-wif: could not call issuer-svc"
    );
    assert_eq!(host.resumed(), 0);
    assert_eq!(host.count_of(Stat::Unavailable), 1);
    assert_eq!(root.worker().borrow().paused_requests(), 0);
}
