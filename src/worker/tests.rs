//! Coalescing, background refresh, 401 invalidation and bounds, driven
//! through [`RequestFilter`] and the root entry points against the fake host.

use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::cache::{Slot, token_sha256};
use crate::filter::{HeadersAction, RequestFilter};
use crate::issuer::MAX_ANSWER_BYTES;
use crate::root;
use crate::tests::fake_host::FakeHost;
use crate::tests::support::{asked_stale_sha256, client_request, token_entry};

const ID: &str = "spiffe://cluster.local/ns/demo/sa/app";
const KEY: &str = "claude-wif/v2/api.anthropic.com/spiffe://cluster.local/ns/demo/sa/app";
const ROOT: u32 = 100;

fn worker(extra: &str) -> SharedWorker {
    let json = format!(
        r#"{{"issuer_cluster":"issuer_svc","identity":{{"source":"static","value":"{ID}"}}{extra}}}"#
    );
    Worker::shared(Some(Rc::new(FilterConfig::parse(json.as_bytes()).unwrap())))
}

fn short_lived() -> SharedWorker {
    worker(r#","advisory_refresh_s":30,"mandatory_refresh_s":10"#)
}

/// Starts request `ctx` (client headers included) and returns its filter.
fn request(host: &mut FakeHost, w: &SharedWorker, ctx: u32) -> (RequestFilter, HeadersAction) {
    client_request(host, ctx);
    let mut f = RequestFilter::new(ctx, w.clone());
    let action = f.on_request_headers(host);
    (f, action)
}

fn ok_body(token: &str, expires_in: u64) -> String {
    serde_json::json!({"access_token": token, "token_type": "Bearer",
        "expires_in": expires_in, "credential_provider": "p"})
    .to_string()
}

/// Delivers `body` with `status` as the answer to the `dispatch`th call
/// (from 0) in context `ctx`.
fn answer_in(
    host: &mut FakeHost,
    w: &SharedWorker,
    ctx: u32,
    dispatch: usize,
    status: &str,
    body: &str,
) {
    host.switch_to(ctx);
    host.answer(Some(status), body);
    let call = host.dispatch_token(dispatch);
    root::call_answer(w, host, ctx, call, body.len());
}

fn bearer(host: &mut FakeHost, ctx: u32) -> Option<String> {
    host.switch_to(ctx);
    host.request_header("authorization")
}

fn tick(host: &mut FakeHost, w: &SharedWorker) {
    host.switch_to(ROOT);
    root::tick(w, host, ROOT);
}

fn dispatched_stale_hash(host: &FakeHost, index: usize) -> Option<String> {
    asked_stale_sha256(host, index)
}

/// Caches `token` for ID with `remaining_s` left and the given lifetime.
fn cache_token(host: &mut FakeHost, token: &str, remaining_s: u64, lifetime_s: u64) {
    let entry = token_entry(token, host.now_ms() + remaining_s * 1000, lifetime_s);
    host.cache_entry(ID, &entry);
}

/// One request through a miss, so the key is in use and no call is in flight.
fn warm(host: &mut FakeHost, w: &SharedWorker) {
    request(host, w, 1);
    answer_in(host, w, 1, 0, "200", &ok_body("sk-ant-oat01-first", 60));
}

#[test]
fn cold_burst_waits_on_one_call_and_all_are_resumed() {
    let w = worker("");
    let mut host = FakeHost::new();
    for ctx in [10, 11, 12] {
        assert_eq!(request(&mut host, &w, ctx).1, HeadersAction::Pause);
    }
    assert_eq!(host.dispatches().len(), 1);
    assert_eq!(w.borrow().paused_requests(), 3);
    answer_in(
        &mut host,
        &w,
        10,
        0,
        "200",
        &ok_body("sk-ant-oat01-new", 3600),
    );
    assert_eq!(host.ctx(), 10, "back in the context that got the answer");
    for ctx in [10, 11, 12] {
        assert_eq!(
            bearer(&mut host, ctx).as_deref(),
            Some("Bearer sk-ant-oat01-new")
        );
        assert_eq!(host.resumed(), 1, "ctx {ctx}");
        assert_eq!(host.request_header("x-api-key"), None);
    }
    assert_eq!(host.count_of(Stat::RequestsPaused), 3);
    assert_eq!(host.count_of(Stat::CacheMisses), 3);
    assert_eq!(host.count_of(Stat::IssuerCallsOk), 1);
    assert_eq!(w.borrow().paused_requests(), 0);
    // The next request is a hit.
    assert_eq!(request(&mut host, &w, 13).1, HeadersAction::Continue);
    assert_eq!(host.count_of(Stat::CacheHits), 1);
}

#[test]
fn an_error_answer_is_given_to_every_waiter() {
    let w = worker("");
    let mut host = FakeHost::new();
    for ctx in [10, 11] {
        request(&mut host, &w, ctx);
    }
    answer_in(
        &mut host,
        &w,
        10,
        0,
        "503",
        r#"{"error":"upstream_unavailable","error_description":"down"}"#,
    );
    for ctx in [10, 11] {
        host.switch_to(ctx);
        assert_eq!(host.replies().len(), 1);
        assert_eq!(host.replies()[0].status, 503);
        assert_eq!(host.resumed(), 0);
    }
    assert_eq!(host.count_of(Stat::Unavailable), 2);
    assert_eq!(host.count_of(Stat::IssuerCallsFailed), 1);
    assert!(!host.shared().contains_key(KEY));
}

#[test]
fn a_waiter_reset_meanwhile_is_skipped() {
    let w = worker("");
    let mut host = FakeHost::new();
    let _f10 = request(&mut host, &w, 10);
    let (mut f11, _) = request(&mut host, &w, 11);
    let _f12 = request(&mut host, &w, 12);
    f11.on_done();
    host.drop_context(11);
    answer_in(
        &mut host,
        &w,
        10,
        0,
        "200",
        &ok_body("sk-ant-oat01-new", 3600),
    );
    for ctx in [10, 12] {
        host.switch_to(ctx);
        assert_eq!(host.resumed(), 1);
    }
    assert!(!host.has_context(11));
}

#[test]
fn a_stream_gone_without_on_done_is_skipped_too() {
    let w = worker("");
    let mut host = FakeHost::new();
    request(&mut host, &w, 10);
    request(&mut host, &w, 11);
    host.drop_context(11); // set_effective_context(11) fails
    answer_in(
        &mut host,
        &w,
        10,
        0,
        "200",
        &ok_body("sk-ant-oat01-new", 3600),
    );
    assert_eq!(host.resumed(), 1);
    assert!(host.all_logs().contains("request 11 is gone"));
}

#[test]
fn when_the_calling_request_goes_away_the_next_request_calls_again() {
    let w = worker("");
    let mut host = FakeHost::new();
    let (mut owner, _) = request(&mut host, &w, 10);
    request(&mut host, &w, 11);
    assert_eq!(w.borrow().calls_in_flight(), 1, "one call for both");
    owner.on_done();
    host.drop_context(10);
    assert_eq!(
        w.borrow().calls_in_flight(),
        0,
        "Envoy cancels the owner's call"
    );
    request(&mut host, &w, 12);
    assert_eq!(host.dispatches().len(), 2);
    // A late answer to the first call is ignored.
    answer_in(
        &mut host,
        &w,
        12,
        0,
        "200",
        &ok_body("sk-ant-oat01-late", 3600),
    );
    assert_eq!(host.resumed(), 0);
    answer_in(
        &mut host,
        &w,
        12,
        1,
        "200",
        &ok_body("sk-ant-oat01-new", 3600),
    );
    for ctx in [11, 12] {
        assert_eq!(
            bearer(&mut host, ctx).as_deref(),
            Some("Bearer sk-ant-oat01-new")
        );
    }
}

#[test]
fn when_the_calling_request_goes_away_the_tick_calls_again_from_the_root() {
    let w = worker("");
    let mut host = FakeHost::new();
    let (mut owner, _) = request(&mut host, &w, 10);
    request(&mut host, &w, 11);
    owner.on_done();
    host.drop_context(10);
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 2);
    answer_in(
        &mut host,
        &w,
        ROOT,
        1,
        "200",
        &ok_body("sk-ant-oat01-new", 3600),
    );
    assert_eq!(host.ctx(), ROOT);
    assert_eq!(
        bearer(&mut host, 11).as_deref(),
        Some("Bearer sk-ant-oat01-new")
    );
    // With every waiter gone, the orphaned flight is simply dropped.
    let (mut a, _) = request(&mut host, &w, 20);
    host.clear_shared();
    a.on_done();
    assert_eq!(w.borrow().calls_in_flight(), 0);
}

#[test]
fn oversized_answer_is_an_error_never_read() {
    let w = worker("");
    let mut host = FakeHost::new();
    request(&mut host, &w, 10);
    host.answer(Some("200"), &ok_body("sk-ant-oat01-new", 3600));
    let call = host.dispatch_token(0);
    root::call_answer(&w, &mut host, 10, call, MAX_ANSWER_BYTES + 1);
    assert_eq!(host.replies()[0].status, 503);
    assert!(host.replies()[0].body.contains("larger than 65536 bytes"));
    assert!(!host.shared().contains_key(KEY));
}

#[test]
fn an_answer_of_exactly_the_size_limit_is_read() {
    let w = worker("");
    let mut host = FakeHost::new();
    request(&mut host, &w, 10);
    let mut body = ok_body("sk-ant-oat01-new", 3600);
    body.push_str(&" ".repeat(MAX_ANSWER_BYTES - body.len()));
    host.answer(Some("200"), &body);
    let call = host.dispatch_token(0);
    root::call_answer(&w, &mut host, 10, call, MAX_ANSWER_BYTES);
    assert!(host.replies().is_empty());
    assert!(host.shared().contains_key(KEY));
    assert_eq!(
        bearer(&mut host, 10).as_deref(),
        Some("Bearer sk-ant-oat01-new")
    );
}

#[test]
fn background_refresh_starts_in_the_advisory_window_and_requests_never_wait() {
    let w = short_lived();
    let mut host = FakeHost::new();
    request(&mut host, &w, 10);
    answer_in(
        &mut host,
        &w,
        10,
        0,
        "200",
        &ok_body("sk-ant-oat01-first", 60),
    );
    // 60 s token: advisory min(30, 30) = 30 s, mandatory min(10, 15) = 10 s.
    host.advance(Duration::from_millis(29_999));
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 1, "still fresh");
    host.advance(Duration::from_millis(1));
    assert_eq!(request(&mut host, &w, 11).1, HeadersAction::Continue);
    tick(&mut host, &w);
    assert_eq!(
        host.dispatches().len(),
        2,
        "refresh started at remaining = 30 s"
    );
    let old = token_sha256(&AccessToken::new("sk-ant-oat01-first"));
    assert_eq!(dispatched_stale_hash(&host, 1), Some(old));
    // The lease keeps other ticks (this or another worker) from refreshing too.
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 2);
    // Requests meanwhile use the held token without pausing.
    assert_eq!(request(&mut host, &w, 12).1, HeadersAction::Continue);
    assert_eq!(
        bearer(&mut host, 12).as_deref(),
        Some("Bearer sk-ant-oat01-first")
    );
    answer_in(
        &mut host,
        &w,
        ROOT,
        1,
        "200",
        &ok_body("sk-ant-oat01-second", 60),
    );
    assert_eq!(host.count_of(Stat::BackgroundRefreshOk), 1);
    assert_eq!(request(&mut host, &w, 13).1, HeadersAction::Continue);
    assert_eq!(
        bearer(&mut host, 13).as_deref(),
        Some("Bearer sk-ant-oat01-second")
    );
    assert_eq!(
        host.count_of(Stat::RequestsPaused),
        1,
        "only the first request paused"
    );
}

#[test]
fn a_failed_background_refresh_backs_off_5s() {
    let w = short_lived();
    let mut host = FakeHost::new();
    warm(&mut host, &w);
    cache_token(&mut host, "sk-ant-oat01-held", 25, 60);
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 2);
    answer_in(
        &mut host,
        &w,
        ROOT,
        1,
        "502",
        r#"{"error":"exchange_failed","error_description":"no"}"#,
    );
    assert_eq!(host.count_of(Stat::BackgroundRefreshFailed), 1);
    host.advance(Duration::from_millis(4_999));
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 2, "backing off");
    host.advance(Duration::from_millis(1));
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 3);
}

#[test]
fn a_refresh_that_is_not_newer_counts_as_failed_and_backs_off() {
    let w = short_lived();
    let mut host = FakeHost::new();
    warm(&mut host, &w);
    cache_token(&mut host, "sk-ant-oat01-held", 25, 60);
    tick(&mut host, &w);
    answer_in(
        &mut host,
        &w,
        ROOT,
        1,
        "200",
        &ok_body("sk-ant-oat01-held", 25),
    );
    assert_eq!(host.count_of(Stat::BackgroundRefreshFailed), 1);
    assert_eq!(host.count_of(Stat::BackgroundRefreshOk), 0);
    host.advance(Duration::from_millis(4_000));
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 2);
}

#[test]
fn no_background_refresh_for_keys_not_used_recently_or_leased_elsewhere() {
    let w = short_lived();
    let mut host = FakeHost::new();
    cache_token(&mut host, "sk-ant-oat01-held", 3600, 3600);
    request(&mut host, &w, 10);
    // Leased by another worker: refresh_after in the future.
    let leased = CacheEntry {
        refresh_after_ms: host.now_ms() + 6_000,
        ..token_entry("sk-ant-oat01-held", host.now_ms() + 20_000, 60)
    };
    host.put_shared(KEY, &leased.encode(), 7);
    tick(&mut host, &w);
    assert!(host.dispatches().is_empty());
    // Unused for longer than the advisory window: forgotten.
    host.advance(Duration::from_millis(31_000));
    cache_token(&mut host, "sk-ant-oat01-held", 20, 60);
    tick(&mut host, &w);
    assert!(host.dispatches().is_empty());
    assert_eq!(w.borrow().recent_keys(), 0);
}

#[test]
fn a_token_in_the_mandatory_window_makes_the_request_wait_naming_it_stale() {
    let w = short_lived();
    let mut host = FakeHost::new();
    cache_token(&mut host, "sk-ant-oat01-held", 10, 60);
    assert_eq!(request(&mut host, &w, 10).1, HeadersAction::Pause);
    let held = token_sha256(&AccessToken::new("sk-ant-oat01-held"));
    assert_eq!(dispatched_stale_hash(&host, 0), Some(held));
    // An expired token too.
    host.advance(Duration::from_secs(11));
    assert_eq!(request(&mut host, &w, 11).1, HeadersAction::Pause);
    assert_eq!(host.dispatches().len(), 1, "joins the call in flight");
}

#[test]
fn a_waiting_request_joins_a_background_refresh() {
    let w = short_lived();
    let mut host = FakeHost::new();
    warm(&mut host, &w);
    cache_token(&mut host, "sk-ant-oat01-held", 11, 60);
    tick(&mut host, &w);
    assert_eq!(host.dispatches().len(), 2);
    host.advance(Duration::from_secs(1));
    assert_eq!(request(&mut host, &w, 11).1, HeadersAction::Pause);
    assert_eq!(host.dispatches().len(), 2);
    answer_in(
        &mut host,
        &w,
        ROOT,
        1,
        "200",
        &ok_body("sk-ant-oat01-new", 60),
    );
    assert_eq!(
        bearer(&mut host, 11).as_deref(),
        Some("Bearer sk-ant-oat01-new")
    );
}

#[test]
fn upstream_401_drops_the_token_and_the_next_fetch_names_it() {
    let w = worker("");
    let mut host = FakeHost::new();
    cache_token(&mut host, "sk-ant-oat01-revoked", 3000, 3600);
    let (mut f, action) = request(&mut host, &w, 10);
    assert_eq!(action, HeadersAction::Continue);
    host.set_response_status("401");
    f.on_response_headers(&mut host);
    assert_eq!(host.count_of(Stat::Invalidations401), 1);
    let stale = token_sha256(&AccessToken::new("sk-ant-oat01-revoked"));
    assert_eq!(
        cache::lookup(&host, KEY),
        Some(Slot::Invalidated {
            stale_sha256: stale.clone()
        })
    );
    assert_eq!(request(&mut host, &w, 11).1, HeadersAction::Pause);
    assert_eq!(dispatched_stale_hash(&host, 0), Some(stale));
    answer_in(
        &mut host,
        &w,
        11,
        0,
        "200",
        &ok_body("sk-ant-oat01-new", 3600),
    );
    // A late 401 for the old token leaves the new one alone.
    let (mut late, _) = {
        host.switch_to(12);
        (RequestFilter::new(12, w.clone()), ())
    };
    late.on_response_headers(&mut host);
    assert!(matches!(cache::lookup(&host, KEY), Some(Slot::Token(_))));
}

#[test]
fn upstream_401_after_a_wait_invalidates_and_other_statuses_do_not() {
    let w = worker("");
    let mut host = FakeHost::new();
    let (mut f10, _) = request(&mut host, &w, 10);
    let (mut f11, _) = request(&mut host, &w, 11);
    answer_in(
        &mut host,
        &w,
        10,
        0,
        "200",
        &ok_body("sk-ant-oat01-new", 3600),
    );
    host.switch_to(10);
    host.set_response_status("200");
    f10.on_response_headers(&mut host);
    assert!(matches!(cache::lookup(&host, KEY), Some(Slot::Token(_))));
    host.switch_to(11);
    host.set_response_status("401");
    f11.on_response_headers(&mut host);
    assert!(matches!(
        cache::lookup(&host, KEY),
        Some(Slot::Invalidated { .. })
    ));
    assert_eq!(host.count_of(Stat::Invalidations401), 1);
}

#[test]
fn a_local_reply_is_never_taken_for_an_upstream_401() {
    let w = worker("");
    let mut host = FakeHost::new();
    cache_token(&mut host, "sk-ant-oat01-held", 3000, 3600);
    host.switch_to(10);
    let mut f = RequestFilter::new(10, Worker::shared(None));
    f.on_request_headers(&mut host); // refused: not configured
    host.set_response_status("401");
    f.on_response_headers(&mut host);
    assert!(matches!(cache::lookup(&host, KEY), Some(Slot::Token(_))));
    drop(w);
}

#[test]
fn identities_beyond_max_identities_are_served_but_not_cached() {
    let json =
        r#"{"issuer_cluster":"issuer_svc","identity":{"source":"header"},"max_identities":1}"#;
    let w = Worker::shared(Some(Rc::new(FilterConfig::parse(json.as_bytes()).unwrap())));
    let mut host = FakeHost::new();
    cache::ensure_counter(&mut host, &cache::count_key("api.anthropic.com"));
    for (ctx, id) in [(10, "spiffe://a"), (11, "spiffe://b")] {
        host.new_request(ctx)
            .add_request_header("x-client-workload", id);
        RequestFilter::new(ctx, w.clone()).on_request_headers(&mut host);
        let call = host.dispatches().len() - 1;
        answer_in(
            &mut host,
            &w,
            ctx,
            call,
            "200",
            &ok_body("sk-ant-oat01-t", 3600),
        );
        assert_eq!(host.resumed(), 1);
    }
    assert_eq!(host.count_of(Stat::CacheFull), 1);
    assert!(
        host.shared()
            .contains_key("claude-wif/v2/api.anthropic.com/spiffe://a")
    );
    assert!(
        !host
            .shared()
            .contains_key("claude-wif/v2/api.anthropic.com/spiffe://b")
    );
    assert_eq!(w.borrow().recent_keys(), 1, "tracked keys are bounded too");
}
