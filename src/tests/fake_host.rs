//! A recording [`Host`] for native tests, set up with `with_*` builders and
//! read with accessors: request headers, shared data (written with the real
//! cache encoder), dispatched calls and the tokens the host gave them, local
//! replies, resumes, metrics, queues and log lines, with a settable clock.
//!
//! Several requests (contexts) can live in one fake host: the request side
//! (request and response headers, replies, resumes) is that of the
//! effective context; the others are parked and swapped in by
//! `set_effective_context` / [`FakeHost::switch_to`]. [`FakeHost::new_request`]
//! starts the next request. Counting goes through the real
//! [`Metrics`]: the fake's own (defined, hits not batched) unless a test
//! hands it a root's with [`FakeHost::with_metrics`].
//!
//! Setup and changes are here; what tests read is in `fake_host/read.rs`,
//! the [`crate::host::Host`] implementation in `fake_host/host.rs`.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use claude_wif_api::AccessToken;

use crate::cache::{self, CacheEntry, Slot};
use crate::host::HostError;
use crate::stats::Metrics;

mod host;
mod read;

/// The server workload of the fake's cache keys (the configuration's default).
pub const SERVER_WORKLOAD: &str = "api.anthropic.com";
/// The fake's clock at start.
pub const START: Duration = Duration::from_secs(1_700_000_000);
/// The first call token the fake gives (tests use the token of each
/// dispatch, never this number).
const FIRST_TOKEN: u32 = 1_001;

/// An HTTP call the filter dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub cluster: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
}

/// A local reply the filter sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The per-request part of the fake host.
#[derive(Debug, Default, Clone)]
struct RequestSide {
    request_headers: Vec<(String, Vec<u8>)>,
    replies: Vec<Reply>,
    resumed: u32,
    response_headers: Vec<(String, Vec<u8>)>,
}

/// Failure knobs.
#[derive(Debug, Default)]
struct Faults {
    header_edits: bool,
    dispatch: Option<HostError>,
    /// Another worker writes between every read and write.
    cas_race: bool,
    /// A host without shared queues.
    no_queues: bool,
    /// A host that refuses the tick.
    no_tick: bool,
}

/// Metric definitions and values as the host holds them.
#[derive(Debug, Default)]
struct MetricTable {
    /// Names by id.
    names: Vec<String>,
    /// Every `define_metric` call, in order.
    definitions: Vec<String>,
    /// Every `increment_metric` call: (id, amount).
    increments: RefCell<Vec<(u32, u64)>>,
}

impl MetricTable {
    /// The id of `name`, defining it if new (as Envoy does, the same name
    /// keeps its id).
    fn intern(&mut self, name: &str) -> u32 {
        let index = match self.names.iter().position(|n| n == name) {
            Some(index) => index,
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        };
        u32::try_from(index).unwrap()
    }

    fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// The recording fake; see the module documentation.
#[derive(Debug)]
pub struct FakeHost {
    /// The effective context and its request side.
    ctx: u32,
    side: RequestSide,
    /// The other live contexts.
    parked: HashMap<u32, RequestSide>,
    properties: HashMap<String, Vec<u8>>,
    now: SystemTime,
    /// key → (value, cas version)
    shared: HashMap<String, (Vec<u8>, u32)>,
    dispatches: Vec<Dispatch>,
    /// The token given to each dispatch.
    dispatch_tokens: Vec<u32>,
    next_token: u32,
    /// The issuer answer being delivered: headers and body.
    call_headers: Vec<(String, Vec<u8>)>,
    call_body: Option<Vec<u8>>,
    logs: RefCell<Vec<(log::Level, String)>>,
    faults: Faults,
    /// Shared queues: name → id, and each id's messages.
    queue_ids: HashMap<String, u32>,
    queues: HashMap<u32, VecDeque<Vec<u8>>>,
    tick_period: Option<Duration>,
    metrics: Rc<Metrics>,
    metric_table: MetricTable,
    shared_reads: Cell<u32>,
    clock_reads: Cell<u32>,
    /// Every property path asked for, segment by segment.
    property_reads: RefCell<Vec<Vec<String>>>,
}

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeHost {
    /// Context 1 with no headers, at [`START`], every counter defined and
    /// counted as it happens.
    pub fn new() -> Self {
        let mut metric_table = MetricTable::default();
        let metrics = Metrics::new();
        metrics.define(|name| Some(metric_table.intern(name)));
        Self {
            ctx: 1,
            side: RequestSide::default(),
            parked: HashMap::new(),
            properties: HashMap::new(),
            now: UNIX_EPOCH + START,
            shared: HashMap::new(),
            dispatches: Vec::new(),
            dispatch_tokens: Vec::new(),
            next_token: FIRST_TOKEN,
            call_headers: Vec::new(),
            call_body: None,
            logs: RefCell::new(Vec::new()),
            faults: Faults::default(),
            queue_ids: HashMap::new(),
            queues: HashMap::new(),
            tick_period: None,
            metrics: Rc::new(metrics),
            metric_table,
            shared_reads: Cell::new(0),
            clock_reads: Cell::new(0),
            property_reads: RefCell::new(Vec::new()),
        }
    }

    // ---- Setup (builders) ----

    /// Counts through `metrics` (a root's) instead of the fake's own.
    pub fn with_metrics(mut self, metrics: Rc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The clock at `unix_s` seconds.
    pub fn at_unix_s(mut self, unix_s: u64) -> Self {
        self.now = UNIX_EPOCH + Duration::from_secs(unix_s);
        self
    }

    pub fn with_request_header(mut self, name: &str, value: &str) -> Self {
        self.add_request_header(name, value);
        self
    }

    pub fn with_request_header_bytes(mut self, name: &str, value: Vec<u8>) -> Self {
        self.side.request_headers.push((name.to_owned(), value));
        self
    }

    pub fn with_property(mut self, path: &str, value: &[u8]) -> Self {
        self.properties.insert(path.to_owned(), value.to_vec());
        self
    }

    /// A dynamic metadata value at `filter_metadata[namespace][path…]`, as
    /// Envoy's property call returns it (a string's bytes, or the raw
    /// encoding of another type).
    pub fn with_metadata(self, namespace: &str, path: &[&str], value: &[u8]) -> Self {
        let mut key = format!("metadata.filter_metadata.{namespace}");
        for part in path {
            key.push('.');
            key.push_str(part);
        }
        self.with_property(&key, value)
    }

    /// Raw shared data at version 1 (for values the filter did not write).
    pub fn with_shared_data(mut self, key: &str, value: &[u8]) -> Self {
        self.shared.insert(key.to_owned(), (value.to_vec(), 1));
        self
    }

    /// `token` cached for `identity`, expiring `remaining` from now (a
    /// 3600 s token, no refresh lease), written with the real encoder.
    pub fn with_cached(mut self, identity: &str, token: &str, remaining: Duration) -> Self {
        self.cache(identity, token, remaining);
        self
    }

    /// Header edits fail (the host refuses them).
    pub fn with_failing_header_edits(mut self) -> Self {
        self.fail_header_edits();
        self
    }

    /// Every dispatch fails with `error`.
    pub fn with_failing_dispatch(mut self, error: HostError) -> Self {
        self.fail_dispatch(error);
        self
    }

    /// A host without shared queues.
    pub fn without_queues(mut self) -> Self {
        self.faults.no_queues = true;
        self
    }

    /// A host that refuses the tick.
    pub fn without_tick(mut self) -> Self {
        self.faults.no_tick = true;
        self
    }

    // ---- Changes during a test ----

    /// Starts request `ctx`: makes it the effective context, with a fresh
    /// request side (no headers, replies or resumes).
    pub fn new_request(&mut self, ctx: u32) -> &mut Self {
        self.switch_to(ctx);
        self.side = RequestSide::default();
        self
    }

    /// Adds a value of a request header to the effective request.
    pub fn add_request_header(&mut self, name: &str, value: &str) -> &mut Self {
        self.side
            .request_headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    /// Makes `ctx` effective, creating it (with no headers) if it is new.
    pub fn switch_to(&mut self, ctx: u32) {
        if ctx == self.ctx {
            return;
        }
        let next = self.parked.remove(&ctx).unwrap_or_default();
        let current = std::mem::replace(&mut self.side, next);
        self.parked.insert(self.ctx, current);
        self.ctx = ctx;
    }

    /// Ends context `ctx` (its stream is gone).
    pub fn drop_context(&mut self, ctx: u32) {
        if ctx == self.ctx {
            self.switch_to(0);
        }
        self.parked.remove(&ctx);
    }

    /// The upstream answers the effective request with `status`.
    pub fn set_response_status(&mut self, status: &str) {
        self.side.response_headers = vec![(":status".to_owned(), status.as_bytes().to_vec())];
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Sets the issuer answer that the next call answer reads (no status:
    /// the call failed or timed out).
    pub fn answer(&mut self, status: Option<&str>, body: &str) {
        self.call_headers = status
            .map(|s| vec![(":status".to_owned(), s.as_bytes().to_vec())])
            .unwrap_or_default();
        self.call_body = Some(body.as_bytes().to_vec());
    }

    /// As [`FakeHost::with_cached`], during a test (a new version, as a
    /// host write makes).
    pub fn cache(&mut self, identity: &str, token: &str, remaining: Duration) {
        let entry = CacheEntry {
            token: AccessToken::new(token),
            expires_at_ms: self.now_ms() + u64::try_from(remaining.as_millis()).unwrap(),
            lifetime_s: 3600,
            refresh_after_ms: 0,
        };
        self.cache_entry(identity, &entry);
    }

    /// `entry` cached for `identity` (a new version).
    pub fn cache_entry(&mut self, identity: &str, entry: &CacheEntry) {
        self.write_shared(&cache_key(identity), Slot::Token(entry.clone()).encode());
    }

    /// The record an upstream 401 to `token` leaves for `identity` (a new
    /// version).
    pub fn cache_invalidated(&mut self, identity: &str, token: &str) {
        let record = Slot::Invalidated {
            stale_sha256: cache::token_sha256(&AccessToken::new(token)),
        };
        self.write_shared(&cache_key(identity), record.encode());
    }

    /// Puts `value` under `key` at exactly `version` (what no host does
    /// with different bytes: for tests of version checks).
    pub fn put_shared(&mut self, key: &str, value: &[u8], version: u32) {
        self.shared
            .insert(key.to_owned(), (value.to_vec(), version));
    }

    pub fn remove_shared(&mut self, key: &str) {
        self.shared.remove(key);
    }

    pub fn clear_shared(&mut self) {
        self.shared.clear();
    }

    /// Header edits fail from now on.
    pub fn fail_header_edits(&mut self) {
        self.faults.header_edits = true;
    }

    /// Every dispatch fails with `error` from now on.
    pub fn fail_dispatch(&mut self, error: HostError) {
        self.faults.dispatch = Some(error);
    }

    /// Every compare-and-swap write fails from now on, as if another
    /// worker wrote first.
    pub fn lose_cas_races(&mut self) {
        self.faults.cas_race = true;
    }

    fn write_shared(&mut self, key: &str, value: Vec<u8>) {
        let version = self.shared.get(key).map_or(1, |(_, v)| v + 1);
        self.shared.insert(key.to_owned(), (value, version));
    }

    fn edit(&self) -> Result<(), HostError> {
        if self.faults.header_edits {
            Err(HostError::Failed(10))
        } else {
            Ok(())
        }
    }
}

/// The cache key of `identity` under the fake's server workload.
pub fn cache_key(identity: &str) -> String {
    cache::key(SERVER_WORKLOAD, identity)
}
