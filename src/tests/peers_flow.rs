//! Workers of one Envoy telling each other to drop a token the upstream
//! rejected, so a hit can use the worker's own copy (no shared-data read).

use std::rc::Rc;
use std::time::Duration;

use claude_wif_api::AccessToken;

use super::fake_host::FakeHost;
use crate::cache;
use crate::config::FilterConfig;
use crate::filter::{self, HeadersAction, RequestFilter};
use crate::host::Host;
use crate::host::unix_ms;
use crate::worker::{SharedWorker, Worker};

const ID: &str = "spiffe://cluster.local/ns/demo/sa/app";
const KEY: &str = "claude-wif/v2/api.anthropic.com/spiffe://cluster.local/ns/demo/sa/app";
const TOKEN: &str = "sk-ant-oat01-SHAREDtoken-ABCD";

fn worker(host: &mut FakeHost, join: bool) -> SharedWorker {
    let json = format!(
        r#"{{"issuer_cluster":"issuer_svc","identity":{{"source":"static","value":"{ID}"}}}}"#
    );
    let w = Worker::shared(Some(Rc::new(FilterConfig::parse(json.as_bytes()).unwrap())));
    if join {
        let now = unix_ms(host.now());
        w.borrow_mut().join_peers(host, now);
    }
    w
}

fn cached_host() -> FakeHost {
    let mut host = FakeHost::new();
    let value = format!("2|{}|3600|0|{TOKEN}", host.now_ms() + 3_600_000);
    host.shared.insert(KEY.into(), (value.into_bytes(), 1));
    host
}

/// Serves one request on `worker`; returns it if it was forwarded.
fn serve(w: &SharedWorker, host: &mut FakeHost, ctx: u32) -> Option<RequestFilter> {
    host.request_headers.clear();
    let mut filter = RequestFilter::new(ctx, w.clone());
    (filter.on_request_headers(host) == HeadersAction::Continue).then_some(filter)
}

fn rejected_sha() -> String {
    cache::token_sha256(&AccessToken::new(TOKEN))
}

#[test]
fn with_notices_a_hit_on_the_workers_copy_reads_neither_shared_data_nor_the_clock() {
    let mut host = cached_host();
    let w = worker(&mut host, true);
    assert!(w.borrow().peer().is_some());
    assert!(serve(&w, &mut host, 10).is_some());
    let (reads, clocks) = (host.shared_reads.get(), host.clock_reads.get());
    for ctx in 11..20 {
        assert!(serve(&w, &mut host, ctx).is_some());
    }
    assert_eq!(host.shared_reads.get(), reads, "hits read no shared data");
    assert_eq!(
        host.clock_reads.get(),
        clocks,
        "hits judge freshness by the worker's clock"
    );
    assert_eq!(
        host.request_header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
}

#[test]
fn without_queues_every_request_reads_shared_data() {
    let mut host = cached_host();
    host.no_queues = true;
    let w = worker(&mut host, true);
    assert!(w.borrow().peer().is_none());
    assert!(serve(&w, &mut host, 10).is_some());
    let reads = host.shared_reads.get();
    assert!(serve(&w, &mut host, 11).is_some());
    assert_eq!(host.shared_reads.get(), reads + 1);
}

#[test]
fn a_401_on_one_worker_makes_the_others_drop_their_copy() {
    let mut host = cached_host();
    let a = worker(&mut host, true);
    let b = worker(&mut host, true);
    let (pa, pb) = (a.borrow().peer().unwrap(), b.borrow().peer().unwrap());
    assert_ne!(pa.index, pb.index);
    assert_ne!(pa.queue, pb.queue);
    let mut on_a = serve(&a, &mut host, 10).unwrap();
    assert!(serve(&b, &mut host, 20).is_some());

    host.response_headers = vec![(":status".into(), b"401".to_vec())];
    on_a.on_response_headers(&mut host);
    assert_eq!(host.queues[&pb.queue].len(), 1, "b was told");
    assert!(host.queues[&pa.queue].is_empty(), "a does not tell itself");
    // Until the notice is delivered b still holds its copy; then it drops it.
    assert!(serve(&b, &mut host, 21).is_some());
    filter::notices(&b, &mut host, pb.queue);
    assert!(
        serve(&b, &mut host, 22).is_none(),
        "b waits for a new token"
    );
    let body: serde_json::Value = serde_json::from_slice(&host.dispatches[0].body).unwrap();
    assert_eq!(body["stale_token_sha256"], rejected_sha().as_str());
    // a dropped its own copy without a notice.
    assert!(serve(&a, &mut host, 11).is_none());
}

#[test]
fn workers_that_stopped_ticking_are_not_told() {
    let mut host = cached_host();
    let a = worker(&mut host, true);
    let b = worker(&mut host, true);
    let pb = b.borrow().peer().unwrap();
    let mut on_a = serve(&a, &mut host, 10).unwrap();
    host.advance(Duration::from_secs(10));
    filter::tick(&a, &mut host, 1);
    host.response_headers = vec![(":status".into(), b"401".to_vec())];
    on_a.on_response_headers(&mut host);
    assert!(
        host.queues[&pb.queue].is_empty(),
        "b has not ticked for 10 s"
    );
}

#[test]
fn two_workers_holding_one_number_are_told_apart_at_the_next_tick() {
    let mut host = cached_host();
    let a = worker(&mut host, true);
    let first = a.borrow().peer().unwrap();
    // The counter was re-created under a's feet: b takes the same number.
    host.shared.remove("claude-wif/v2-workers");
    let b = worker(&mut host, true);
    assert_eq!(b.borrow().peer().unwrap().index, first.index);
    filter::tick(&a, &mut host, 1);
    let moved = a.borrow().peer().unwrap();
    assert_ne!(moved.index, first.index);
    assert_ne!(moved.queue, b.borrow().peer().unwrap().queue);
}

/// Caches `TOKEN` expiring `remaining_ms` after the host's current time.
fn cache_for(host: &mut FakeHost, remaining_ms: u64) {
    let value = format!("2|{}|3600|0|{TOKEN}", host.now_ms() + remaining_ms);
    let cas = host.shared.get(KEY).map_or(1, |(_, c)| c + 1);
    host.shared.insert(KEY.into(), (value.into_bytes(), cas));
}

#[test]
fn a_copy_near_its_mandatory_window_is_judged_by_the_host_clock() {
    let mut host = FakeHost::new();
    // Mandatory window 30 s; the worker's clock may be up to a tick + 1 s
    // (2 s) behind, so 31.5 s left is not judged on the worker's clock.
    cache_for(&mut host, 31_500);
    let w = worker(&mut host, true);
    assert!(serve(&w, &mut host, 10).is_some());
    let clocks = host.clock_reads.get();
    assert!(
        serve(&w, &mut host, 11).is_some(),
        "31.5 s left by the host clock: usable"
    );
    assert_eq!(host.clock_reads.get(), clocks + 1);
}

#[test]
fn the_clock_is_read_at_least_every_64_hits_even_without_ticks() {
    let mut host = cached_host();
    let w = worker(&mut host, true);
    assert!(serve(&w, &mut host, 10).is_some());
    // An hour passes and no tick runs: the copy has expired.
    host.advance(Duration::from_secs(3_600));
    let served: Vec<bool> = (0..100)
        .map(|i| serve(&w, &mut host, 100 + i).is_some())
        .collect();
    let stale_hits = served.iter().take_while(|s| **s).count();
    assert!(
        stale_hits <= crate::worker::HITS_PER_CLOCK_READ as usize,
        "{stale_hits} hits on an expired copy"
    );
    assert!(
        served.iter().skip(stale_hits).all(|s| !s),
        "then requests wait for a new token"
    );
}

#[test]
fn a_tick_moves_the_workers_clock() {
    let mut host = cached_host();
    let w = worker(&mut host, true);
    assert!(serve(&w, &mut host, 10).is_some());
    host.advance(Duration::from_secs(3_600));
    filter::tick(&w, &mut host, 1);
    assert!(
        serve(&w, &mut host, 11).is_none(),
        "expired by the tick's clock: waits"
    );
}
