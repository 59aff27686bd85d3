//! Workers of one Envoy telling each other to drop a token the upstream
//! rejected, so a hit can use the worker's own copy (no shared-data read).

use std::time::Duration;

use super::fake_host::FakeHost;
use super::support::{ID, asked_stale_sha256, sha256_of, static_worker};
use crate::filter::{HeadersAction, RequestFilter};
use crate::host::Host;
use crate::host::unix_ms;
use crate::peers;
use crate::root;
use crate::worker::SharedWorker;

const TOKEN: &str = "sk-ant-oat01-SHAREDtoken-ABCD";

fn worker(host: &mut FakeHost, join: bool) -> SharedWorker {
    let w = static_worker();
    if join {
        let now = unix_ms(host.now());
        w.borrow_mut().join_peers(host, now);
    }
    w
}

fn cached_host() -> FakeHost {
    FakeHost::new().with_cached(ID, TOKEN, Duration::from_secs(3_600))
}

/// Serves one new request on `worker` in context `ctx`; returns it if it
/// was forwarded.
fn serve(w: &SharedWorker, host: &mut FakeHost, ctx: u32) -> Option<RequestFilter> {
    host.new_request(ctx);
    let mut filter = RequestFilter::new(ctx, w.clone());
    (filter.on_request_headers(host) == HeadersAction::Continue).then_some(filter)
}

fn rejected_sha() -> String {
    sha256_of(TOKEN)
}

#[test]
fn with_notices_a_hit_on_the_workers_copy_reads_neither_shared_data_nor_the_clock() {
    let mut host = cached_host();
    let w = worker(&mut host, true);
    assert!(w.borrow().peer().is_some());
    assert!(serve(&w, &mut host, 10).is_some());
    let (reads, clocks) = (host.shared_reads(), host.clock_reads());
    for ctx in 11..20 {
        assert!(serve(&w, &mut host, ctx).is_some());
    }
    assert_eq!(host.shared_reads(), reads, "hits read no shared data");
    assert_eq!(
        host.clock_reads(),
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
    let mut host = cached_host().without_queues();
    let w = worker(&mut host, true);
    assert!(w.borrow().peer().is_none());
    assert!(serve(&w, &mut host, 10).is_some());
    let reads = host.shared_reads();
    assert!(serve(&w, &mut host, 11).is_some());
    assert_eq!(host.shared_reads(), reads + 1);
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

    host.switch_to(10);
    host.set_response_status("401");
    on_a.on_response_headers(&mut host);
    assert_eq!(host.queue_len(pb.queue), 1, "b was told");
    assert_eq!(host.queue_len(pa.queue), 0, "a does not tell itself");
    // Until the notice is delivered b still holds its copy; then it drops it.
    assert!(serve(&b, &mut host, 21).is_some());
    root::notices(&b, &mut host, pb.queue);
    assert!(
        serve(&b, &mut host, 22).is_none(),
        "b waits for a new token"
    );
    assert_eq!(asked_stale_sha256(&host, 0), Some(rejected_sha()));
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
    root::tick(&a, &mut host, 1);
    host.switch_to(10);
    host.set_response_status("401");
    on_a.on_response_headers(&mut host);
    assert_eq!(host.queue_len(pb.queue), 0, "b has not ticked for 10 s");
}

#[test]
fn a_notice_goes_to_every_worker_that_ticked_within_alive_ms_and_they_are_counted() {
    let mut host = cached_host();
    let a = worker(&mut host, true);
    let b = worker(&mut host, true);
    let c = worker(&mut host, true);
    let pa = a.borrow().peer().unwrap();
    let (pb, pc) = (b.borrow().peer().unwrap(), c.borrow().peer().unwrap());
    let joined = unix_ms(host.now());
    // b and c ticked (joined) exactly 5 s before: still alive.
    assert_eq!(
        peers::tell_drop(&mut host, pa, "k", joined + 5_000, 5_000),
        2
    );
    assert_eq!((host.queue_len(pb.queue), host.queue_len(pc.queue)), (1, 1));
    assert_eq!(host.queue_len(pa.queue), 0);
    // A millisecond later they are gone.
    assert_eq!(
        peers::tell_drop(&mut host, pa, "k", joined + 5_001, 5_000),
        0
    );
    assert_eq!((host.queue_len(pb.queue), host.queue_len(pc.queue)), (1, 1));
}

#[test]
fn one_delivery_reads_at_most_max_notices_and_the_next_the_rest() {
    let mut host = cached_host();
    let a = worker(&mut host, true);
    let queue = a.borrow().peer().unwrap().queue;
    for n in 0..=peers::MAX_NOTICES {
        host.enqueue(queue, format!("key-{n}").as_bytes()).unwrap();
    }
    let first = peers::received(&mut host, queue);
    assert_eq!(first.len(), peers::MAX_NOTICES);
    assert_eq!(first[0], "key-0");
    let rest = peers::received(&mut host, queue);
    assert_eq!(rest, [format!("key-{}", peers::MAX_NOTICES)]);
}

#[test]
fn two_workers_holding_one_number_are_told_apart_at_the_next_tick() {
    let mut host = cached_host();
    let a = worker(&mut host, true);
    let first = a.borrow().peer().unwrap();
    // The counter was re-created under a's feet: b takes the same number.
    host.remove_shared("claude-wif/v2-workers");
    let b = worker(&mut host, true);
    assert_eq!(b.borrow().peer().unwrap().index, first.index);
    root::tick(&a, &mut host, 1);
    let moved = a.borrow().peer().unwrap();
    assert_ne!(moved.index, first.index);
    assert_ne!(moved.queue, b.borrow().peer().unwrap().queue);
}

/// Caches `TOKEN` expiring `remaining_ms` after the host's current time.
fn cache_for(host: &mut FakeHost, remaining_ms: u64) {
    host.cache(ID, TOKEN, Duration::from_millis(remaining_ms));
}

#[test]
fn a_copy_near_its_mandatory_window_is_judged_by_the_host_clock() {
    let mut host = FakeHost::new();
    // Mandatory window 30 s; the worker's clock may be up to a tick + 1 s
    // (2 s) behind, so 31.5 s left is not judged on the worker's clock.
    cache_for(&mut host, 31_500);
    let w = worker(&mut host, true);
    assert!(serve(&w, &mut host, 10).is_some());
    let clocks = host.clock_reads();
    assert!(
        serve(&w, &mut host, 11).is_some(),
        "31.5 s left by the host clock: usable"
    );
    assert_eq!(host.clock_reads(), clocks + 1);
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
    root::tick(&w, &mut host, 1);
    assert!(
        serve(&w, &mut host, 11).is_none(),
        "expired by the tick's clock: waits"
    );
}
