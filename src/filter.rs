//! The decisions for one HTTP request: use the cached token, wait for an
//! issuer call shared with the worker's other requests for the same key, or
//! answer locally; and on an upstream 401, drop the token it carried.
//! Runs over [`Host`]; knows nothing of proxy-wasm. What happens above one
//! request (configuration, the tick, issuer answers resuming their waiters)
//! is in `root.rs`.

use log::Level;

use std::rc::Rc;

use crate::cache::{self, Freshness};
use crate::headers;
use crate::host::Host;
use crate::identity;
use crate::issuer::IssuerError;
use crate::reply::FilterError;
use crate::stats::Stat;
use crate::worker::{Held, Lookup, SharedWorker};

/// What the adapter tells the proxy after the request headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadersAction {
    /// Headers are edited; forward the request.
    Continue,
    /// Waiting for issuer-svc, or a local reply was sent.
    Pause,
}

/// What the adapter tells the proxy after a chunk of the request body or
/// the request trailers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyAction {
    /// The request went upstream with our token: let this part follow.
    Continue,
    /// The request has not been let through (it waits for its token, or
    /// was answered locally): hold this part back, buffered. Whatever the
    /// proxy's options, nothing of the request leaves before its headers
    /// carry the token.
    Hold,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Start,
    /// Paused; the worker resumes or answers it.
    Waiting,
    /// Forwarded from the cache with this token.
    Forwarded(Rc<Held>),
    /// Went upstream with our token and the upstream has answered.
    Answered,
    /// Answered locally (or its headers came twice): never let through.
    Done,
}

/// The per-request state machine of HTTP context `ctx`.
#[derive(Debug)]
pub struct RequestFilter {
    ctx: u32,
    worker: SharedWorker,
    state: State,
    /// The request paused on the worker (so the worker tracks it until done).
    waited: bool,
}

impl RequestFilter {
    /// A new request in HTTP context `ctx`, served by `worker`.
    pub fn new(ctx: u32, worker: SharedWorker) -> Self {
        Self {
            ctx,
            worker,
            state: State::Start,
            waited: false,
        }
    }

    /// The request's HTTP context id.
    pub fn id(&self) -> u32 {
        self.ctx
    }

    /// The worker this request is served by (the answer to an issuer call
    /// it made is handled there: `root::on_request_call_answer`).
    pub fn worker(&self) -> &SharedWorker {
        &self.worker
    }

    pub fn on_request_headers<H: Host>(&mut self, host: &mut H) -> HeadersAction {
        if self.state != State::Start {
            // Fail closed: headers are delivered once per request.
            host.log(
                Level::Warn,
                "request headers delivered twice; holding the request",
            );
            return HeadersAction::Pause;
        }
        self.state = State::Done;
        match self.try_request_headers(host) {
            Ok(action) => action,
            Err(error) => {
                refuse(host, &error);
                HeadersAction::Pause
            }
        }
    }

    fn try_request_headers<H: Host>(&mut self, host: &mut H) -> Result<HeadersAction, FilterError> {
        let mut worker = self
            .worker
            .try_borrow_mut()
            .map_err(|_| FilterError::Busy)?;
        let config = worker.config().ok_or(FilterError::NotConfigured)?;
        let identity = identity::resolve(&config.identity, host).map_err(FilterError::Identity)?;
        let (key, stale) = match worker.lookup(host, &config, &identity) {
            Lookup::Usable(held, freshness, now_ms) => {
                drop(worker);
                headers::apply_bearer(host, &held.bearer).map_err(FilterError::HeaderEdit)?;
                host.count(Stat::CacheHits);
                if host.log_enabled(Level::Debug) {
                    let left_s = held.entry.expires_at_ms.saturating_sub(now_ms) / 1000;
                    let due = if freshness == Freshness::RefreshAdvised {
                        ", refresh due"
                    } else {
                        ""
                    };
                    host.log(
                        Level::Debug,
                        &format!(
                            "cached token {} for {identity} ({left_s}s left{due})",
                            held.entry.token
                        ),
                    );
                }
                self.state = State::Forwarded(held);
                return Ok(HeadersAction::Continue);
            }
            Lookup::Wait { key, stale_sha256 } => (key, stale_sha256),
        };
        host.count(Stat::CacheMisses);
        worker.wait_for_token(host, self.ctx, &key, &identity, stale)?;
        self.waited = true;
        host.count(Stat::RequestsPaused);
        self.state = State::Waiting;
        Ok(HeadersAction::Pause)
    }

    /// A chunk of the request body. Passes at once on a cache hit (no host
    /// call); held back while the request waits for its token.
    pub fn on_request_body<H: Host>(&mut self, host: &H) -> BodyAction {
        self.hold_unless_let_through(host, "body")
    }

    /// The request trailers: as the body.
    pub fn on_request_trailers<H: Host>(&mut self, host: &H) -> BodyAction {
        self.hold_unless_let_through(host, "trailers")
    }

    fn hold_unless_let_through<H: Host>(&mut self, host: &H, part: &str) -> BodyAction {
        let through = match self.state {
            State::Forwarded(_) | State::Answered => true,
            // Resumed by the worker (with the token in its headers) or not yet.
            State::Waiting => self
                .worker
                .try_borrow()
                .is_ok_and(|w| w.was_resumed(self.ctx)),
            State::Start | State::Done => false,
        };
        if through {
            return BodyAction::Continue;
        }
        if host.log_enabled(Level::Debug) {
            host.log(
                Level::Debug,
                &format!("request {part} held: the request has no token yet"),
            );
        }
        BodyAction::Hold
    }

    /// The upstream response headers: a 401 to a request that carried our
    /// token drops that cache entry, if it still holds the same token.
    pub fn on_response_headers<H: Host>(&mut self, host: &mut H) {
        let resumed;
        let held;
        let (key, token) = match std::mem::replace(&mut self.state, State::Answered) {
            State::Forwarded(from_cache) => {
                held = from_cache;
                (&*held.key, &held.entry.token)
            }
            State::Waiting => {
                let Some(carried) = self
                    .worker
                    .try_borrow_mut()
                    .ok()
                    .and_then(|mut w| w.take_forwarded(self.ctx))
                else {
                    // Answered locally: what is left of it stays here.
                    self.state = State::Done;
                    return;
                };
                resumed = carried;
                (resumed.0.as_str(), &resumed.1)
            }
            other @ (State::Start | State::Done | State::Answered) => {
                self.state = other;
                return;
            }
        };
        if host.response_header(":status").as_deref() != Some(b"401") {
            return;
        }
        // The shared entry first, then the other workers: one that drops its
        // copy on the notice must find the entry already invalidated.
        if cache::invalidate(host, key, token) {
            host.count(Stat::Invalidations401);
            host.log(
                Level::Info,
                &format!("upstream answered 401 to token {token}; dropped it from the cache"),
            );
        } else {
            host.log(
                Level::Info,
                &format!("upstream answered 401 to token {token}; the cache already holds another"),
            );
        }
        if let Ok(mut worker) = self.worker.try_borrow_mut() {
            let told = worker.token_rejected(host, key, token);
            host.log(
                Level::Debug,
                &format!("told {told} other worker(s) to drop their copy of token {token}"),
            );
        }
    }

    /// The request is finished or was reset.
    pub fn on_done(&mut self) {
        if !self.waited {
            return; // served from the cache: the worker never tracked it
        }
        if let Ok(mut worker) = self.worker.try_borrow_mut() {
            worker.on_request_done(self.ctx);
        }
    }
}

/// Logs `error`, counts it and answers the request locally.
pub(crate) fn refuse<H: Host>(host: &mut H, error: &FilterError) {
    let reply = error.reply();
    let level = match error {
        FilterError::Identity(_) | FilterError::Issuer(IssuerError::Denied { .. }) => Level::Info,
        _ => Level::Warn,
    };
    host.count(if reply.status == 503 {
        Stat::Unavailable
    } else {
        Stat::Denials
    });
    host.log(
        level,
        &format!("refused the request ({}): {error}", reply.status),
    );
    if let Err(e) = reply.send(host) {
        host.log(
            Level::Error,
            &format!("could not send the local reply: {e}"),
        );
    }
}
