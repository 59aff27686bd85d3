//! The decisions for one HTTP request: use the cached token, call issuer-svc,
//! or answer locally. Runs over [`Host`]; knows nothing of proxy-wasm.
//!
//! Later steps slot in here: a background refresh on
//! [`Freshness::RefreshAdvised`], per-key coalescing of misses (many requests
//! waiting on one call), and cache invalidation on an upstream 401.

use std::rc::Rc;

use log::Level;

use crate::cache::{self, CacheEntry, Freshness, StoreOutcome};
use crate::config::FilterConfig;
use crate::headers;
use crate::host::{Host, unix_ms};
use crate::identity;
use crate::issuer::{self, IssuerError, MAX_ANSWER_BYTES};
use crate::reply::FilterError;

/// What the adapter tells the proxy after the request headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadersAction {
    /// Headers are edited; forward the request.
    Continue,
    /// Waiting for issuer-svc, or a local reply was sent.
    Pause,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Start,
    AwaitingIssuer {
        token_id: u32,
        key: String,
        identity: String,
    },
    Done,
}

/// The per-request state machine.
#[derive(Debug)]
pub struct RequestFilter {
    config: Option<Rc<FilterConfig>>,
    state: State,
}

impl RequestFilter {
    /// `config` is `None` only if the plugin was never configured; every
    /// request then gets a local 503.
    pub fn new(config: Option<Rc<FilterConfig>>) -> Self {
        Self {
            config,
            state: State::Start,
        }
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
        let config = self.config.clone().ok_or(FilterError::NotConfigured)?;
        let identity = identity::resolve(&config.identity, host).map_err(FilterError::Identity)?;
        let key = cache::key(&config.server_workload, &identity);
        let now_ms = unix_ms(host.now());

        if let Some(entry) = cache::lookup(host, &key) {
            let freshness = entry.freshness(now_ms, config.refresh);
            if freshness != Freshness::Stale {
                headers::apply(host, &entry.token).map_err(FilterError::HeaderEdit)?;
                let left_s = entry.expires_at_ms.saturating_sub(now_ms) / 1000;
                let due = if freshness == Freshness::RefreshAdvised {
                    ", refresh due"
                } else {
                    ""
                };
                host.log(
                    Level::Debug,
                    &format!(
                        "cached token {} for {identity} ({left_s}s left{due})",
                        entry.token
                    ),
                );
                return Ok(HeadersAction::Continue);
            }
        }

        let call = issuer::build_request(&config.issuer, &identity, &config.server_workload);
        let token_id = host
            .dispatch(
                &config.issuer.cluster,
                &call.header_refs(),
                &call.body,
                config.issuer.timeout,
            )
            .map_err(|error| FilterError::Dispatch {
                cluster: config.issuer.cluster.clone(),
                error,
            })?;
        host.log(
            Level::Debug,
            &format!("no fresh token for {identity}; asked issuer-svc (call {token_id})"),
        );
        self.state = State::AwaitingIssuer {
            token_id,
            key,
            identity,
        };
        Ok(HeadersAction::Pause)
    }

    /// The answer to the issuer call: store the token, edit headers and resume,
    /// or answer locally. The request is never resumed without a token.
    pub fn on_issuer_answer<H: Host>(&mut self, host: &mut H, token_id: u32, body_size: usize) {
        let State::AwaitingIssuer {
            token_id: expected,
            key,
            identity,
        } = &self.state
        else {
            host.log(
                Level::Warn,
                &format!("ignored unexpected issuer answer (call {token_id})"),
            );
            return;
        };
        if *expected != token_id {
            host.log(
                Level::Warn,
                &format!("ignored issuer answer for call {token_id}, waiting for call {expected}"),
            );
            return;
        }
        let (key, identity) = (key.clone(), identity.clone());
        self.state = State::Done;
        if let Err(error) = self.try_issuer_answer(host, &key, &identity, body_size) {
            refuse(host, &error);
        }
    }

    fn try_issuer_answer<H: Host>(
        &self,
        host: &mut H,
        key: &str,
        identity: &str,
        body_size: usize,
    ) -> Result<(), FilterError> {
        let status = host.call_response_header(":status");
        let body = if status.is_some() && body_size > 0 {
            host.call_response_body(body_size.min(MAX_ANSWER_BYTES))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let issued =
            issuer::parse_response(status.as_deref(), &body).map_err(FilterError::Issuer)?;

        let now_ms = unix_ms(host.now());
        let entry = CacheEntry {
            expires_at_ms: now_ms.saturating_add(issued.expires_in_s.saturating_mul(1000)),
            token: issued.access_token,
        };
        match cache::store(host, key, &entry) {
            StoreOutcome::Stored | StoreOutcome::KeptNewer | StoreOutcome::LostRace => {}
            StoreOutcome::Failed(e) => {
                host.log(Level::Warn, &format!("could not cache the token: {e}"))
            }
        }
        host.log(
            Level::Info,
            &format!(
                "issuer-svc issued token {} for {identity} via {} (expires in {}s)",
                entry.token, issued.credential_provider, issued.expires_in_s
            ),
        );
        headers::apply(host, &entry.token).map_err(FilterError::HeaderEdit)?;
        if let Err(e) = host.resume_request() {
            host.log(Level::Error, &format!("could not resume the request: {e}"));
        }
        Ok(())
    }
}

/// Logs `error` and answers the request locally.
fn refuse<H: Host>(host: &mut H, error: &FilterError) {
    let reply = error.reply();
    let level = match error {
        FilterError::Identity(_) | FilterError::Issuer(IssuerError::Denied { .. }) => Level::Info,
        _ => Level::Warn,
    };
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
