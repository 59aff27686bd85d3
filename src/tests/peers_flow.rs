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
fn with_notices_a_hit_on_the_workers_copy_reads_no_shared_data() {
    let mut host = cached_host();
    let w = worker(&mut host, true);
    assert!(w.borrow().peer().is_some());
    assert!(serve(&w, &mut host, 10).is_some());
    let reads = host.shared_reads.get();
    for ctx in 11..20 {
        assert!(serve(&w, &mut host, ctx).is_some());
    }
    assert_eq!(host.shared_reads.get(), reads, "hits read no shared data");
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
