//! The decisions of the root context (one per plugin per worker), over
//! [`Host`]: reading the plugin configuration, defining the metrics, the
//! tick (and what happens when the host refuses one), batching cache hits,
//! joining the other workers' notices, and delivering issuer answers to the
//! requests waiting on them. The proxy-wasm adapter forwards each root
//! callback here; one request's decisions are in [`RequestFilter`].
//!
//! Without a tick there is no background refresh, no hit batching and no
//! notices: every cache hit is one host call for its counter and reads
//! shared data, and tokens are fetched when requests find them stale.

use std::rc::Rc;
use std::time::Duration;

use log::Level;

use crate::config::FilterConfig;
use crate::filter::{self, RequestFilter};
use crate::headers;
use crate::host::{Host, unix_ms};
use crate::reply::FilterError;
use crate::stats::Metrics;
use crate::worker::{Delivery, SharedWorker, Worker};

/// The root context of one worker: its id, the worker state its requests
/// share, and the worker's metrics.
#[derive(Debug)]
pub struct Root {
    id: u32,
    worker: SharedWorker,
    metrics: Rc<Metrics>,
}

impl Root {
    /// An unconfigured root: until [`Root::configure`] succeeds, every
    /// request is refused (503) and nothing is counted.
    pub fn new(id: u32) -> Self {
        Self {
            id,
            worker: Worker::shared(None),
            metrics: Rc::new(Metrics::new()),
        }
    }

    /// The worker's metrics, for the host of each of its contexts.
    pub fn metrics(&self) -> Rc<Metrics> {
        self.metrics.clone()
    }

    /// The worker state this root's requests share.
    pub fn worker(&self) -> &SharedWorker {
        &self.worker
    }

    /// Reads the plugin configuration. Valid: logs it, defines the metrics
    /// (once), creates the identity counter, starts the tick (hits are then
    /// batched and the worker joins its peers) and returns `true`. Invalid:
    /// logs every error (never a value) and returns `false`; the worker
    /// keeps the configuration it had (none: every request is refused).
    pub fn configure<H: Host>(&mut self, host: &mut H, bytes: &[u8]) -> bool {
        let config = match FilterConfig::parse(bytes) {
            Ok(config) => config,
            Err(errors) => {
                host.log(
                    Level::Error,
                    &format!("invalid plugin configuration: {errors}"),
                );
                return false;
            }
        };
        host.log(
            Level::Info,
            &format!(
                "configured: issuer cluster {}, server workload {}, identity source {}",
                config.issuer.cluster,
                config.server_workload,
                config.identity.kind()
            ),
        );
        self.metrics.define(|name| host.define_metric(name).ok());
        crate::cache::ensure_counter(host, &crate::cache::count_key(&config.server_workload));
        let ticking = self.start_tick(host, config.refresh_tick);
        let Ok(mut worker) = self.worker.try_borrow_mut() else {
            return false;
        };
        worker.set_config(Rc::new(config));
        if ticking {
            // Notices rely on every worker's tick record.
            let now_ms = unix_ms(host.now());
            worker.join_peers(host, now_ms);
        }
        true
    }

    /// Asks for the tick; `true` when the host agreed. Hits are batched
    /// only then (the tick hands them over).
    fn start_tick<H: Host>(&self, host: &mut H, period: Duration) -> bool {
        match host.set_tick_period(period) {
            Ok(()) => {
                self.metrics.batch_hits(true);
                true
            }
            Err(error) => {
                self.metrics.flush_hits(|id, n| increment(host, id, n));
                self.metrics.batch_hits(false);
                host.log(
                    Level::Warn,
                    &format!("no background refresh (tick refused: {error})"),
                );
                false
            }
        }
    }

    /// A new request in HTTP context `ctx`, served by this root's worker.
    pub fn new_request(&self, ctx: u32) -> RequestFilter {
        RequestFilter::new(ctx, self.worker.clone())
    }

    /// The root tick: hands the batched cache hits to the host in one call,
    /// then runs the worker's tick ([`tick`]).
    pub fn on_tick<H: Host>(&mut self, host: &mut H) {
        self.metrics.flush_hits(|id, n| increment(host, id, n));
        tick(&self.worker, host, self.id);
    }

    /// Something was put in this worker's shared queue `queue`.
    pub fn on_queue_ready<H: Host>(&mut self, host: &mut H, queue: u32) {
        notices(&self.worker, host, queue);
    }

    /// The answer to an issuer call the root made (a background refresh,
    /// or a call re-made for requests whose first caller went away).
    pub fn on_call_answer<H: Host>(&mut self, host: &mut H, token_id: u32, body_size: usize) {
        call_answer(&self.worker, host, self.id, token_id, body_size);
    }
}

/// Hands `n` to counter metric `id`; a refused increment is not retried.
fn increment<H: Host>(host: &H, id: u32, n: u64) {
    let _ = host.increment_metric(id, n);
}

/// The answer to an issuer call made by `request`, delivered in its own
/// context: resumes (or answers) every request of its worker that waited
/// for the same key.
pub fn on_request_call_answer<H: Host>(
    request: &RequestFilter,
    host: &mut H,
    token_id: u32,
    body_size: usize,
) {
    call_answer(request.worker(), host, request.id(), token_id, body_size);
}

/// Handles the answer to an issuer call delivered in context `current`
/// (an HTTP context or the root), then resumes or answers its waiters.
pub fn call_answer<H: Host>(
    worker: &SharedWorker,
    host: &mut H,
    current: u32,
    token_id: u32,
    body_size: usize,
) {
    let delivery = match worker.try_borrow_mut() {
        Ok(mut w) => w.on_call_answer(host, token_id, body_size),
        Err(_) => None,
    };
    let Some(delivery) = delivery else {
        return;
    };
    let stuck = deliver(host, current, delivery);
    // A request whose headers could not be edited or resumed has not gone
    // upstream: its body and trailers stay held.
    if !stuck.is_empty()
        && let Ok(mut w) = worker.try_borrow_mut()
    {
        for ctx in stuck {
            w.take_forwarded(ctx);
        }
    }
}

/// Notices from other workers, delivered to the root context.
pub fn notices<H: Host>(worker: &SharedWorker, host: &mut H, queue: u32) {
    if let Ok(mut w) = worker.try_borrow_mut() {
        w.on_notices(host, queue);
    }
}

/// The worker's part of the root tick: background refreshes, and answers
/// for requests whose call could not be re-made.
pub fn tick<H: Host>(worker: &SharedWorker, host: &mut H, root: u32) {
    let failed = match worker.try_borrow_mut() {
        Ok(mut w) => w.on_tick(host),
        Err(_) => Vec::new(),
    };
    for delivery in failed {
        // Errors only: nobody is resumed.
        deliver(host, root, delivery);
    }
}

/// Resumes every waiter with the token, or answers each locally. Switches
/// the effective context to each waiter and back to `current`; a waiter
/// whose stream is gone is skipped. Returns the waiters that had a token
/// but were not resumed.
pub fn deliver<H: Host>(host: &mut H, current: u32, delivery: Delivery) -> Vec<u32> {
    let mut stuck = Vec::new();
    let mut effective = current;
    for waiter in delivery.waiters {
        if waiter != effective {
            if host.set_effective_context(waiter).is_err() {
                host.log(
                    Level::Debug,
                    &format!("request {waiter} is gone; not resumed"),
                );
                continue;
            }
            effective = waiter;
        }
        match &delivery.outcome {
            Ok(token) => match headers::apply(host, token) {
                Ok(()) => {
                    if let Err(e) = host.resume_request() {
                        stuck.push(waiter);
                        host.log(
                            Level::Error,
                            &format!("could not resume request {waiter}: {e}"),
                        );
                    }
                }
                Err(e) => {
                    stuck.push(waiter);
                    filter::refuse(host, &FilterError::HeaderEdit(e));
                }
            },
            Err(error) => filter::refuse(host, error),
        }
    }
    if effective != current && host.set_effective_context(current).is_err() {
        host.log(Level::Error, "could not switch back to the current context");
    }
    stuck
}
