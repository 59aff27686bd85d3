//! The proxy-wasm edge: root and HTTP contexts, and [`Host`] implemented with
//! `proxy_wasm::hostcalls` (which return `Result`, unlike the SDK helpers
//! that unwrap). No decisions are made here.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, MapType, MetricType, Status};

use crate::cache;
use crate::config::FilterConfig;
use crate::filter::{self, BodyAction, HeadersAction, RequestFilter};
use crate::host::{Host, HostError};
use crate::stats::Stat;
use crate::worker::{SharedWorker, Worker};

/// Metric ids by [`Stat::index`]; `None` where the host refused the name.
type Metrics = Rc<Vec<Option<u32>>>;

/// Cache hits counted since the last root tick, shared by the worker's
/// contexts: the hit path adds to it, the tick hands the sum to the host in
/// one call (`None` without a tick: every hit is a host call).
type PendingHits = Rc<Cell<Option<u64>>>;

/// Creates the root context (one per plugin per worker).
pub fn new_root(context_id: u32) -> Box<dyn RootContext> {
    Box::new(FilterRoot {
        host: ProxyHost {
            context_id,
            metrics: Rc::new(Vec::new()),
            pending_hits: Rc::new(Cell::new(None)),
        },
        worker: Worker::shared(None),
    })
}

struct FilterRoot {
    host: ProxyHost,
    /// Shared with every HTTP context of this worker.
    worker: SharedWorker,
}

impl Context for FilterRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let root = self.host.context_id;
        filter::call_answer(&self.worker, &mut self.host, root, token_id, body_size);
    }
}

impl RootContext for FilterRoot {
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        if let Ok(level) = hostcalls::get_log_level() {
            proxy_wasm::set_log_level(level);
        }
        let bytes = hostcalls::get_buffer(
            BufferType::PluginConfiguration,
            0,
            plugin_configuration_size,
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        match FilterConfig::parse(&bytes) {
            Ok(config) => {
                log::info!(
                    "claude-wif[root {}]: configured: issuer cluster {}, server workload {}, identity source {}",
                    self.host.context_id,
                    config.issuer.cluster,
                    config.server_workload,
                    config.identity.kind()
                );
                self.host.metrics = Rc::new(
                    Stat::ALL
                        .iter()
                        .map(|s| hostcalls::define_metric(MetricType::Counter, s.name()).ok())
                        .collect(),
                );
                cache::ensure_counter(&mut self.host, &cache::count_key(&config.server_workload));
                self.host.pending_hits.set(Some(0));
                if let Err(status) = hostcalls::set_tick_period(config.refresh_tick) {
                    self.host.pending_hits.set(None);
                    log::warn!(
                        "claude-wif[root {}]: no background refresh (tick refused: {status:?})",
                        self.host.context_id
                    );
                }
                let ticking = self.host.pending_hits.get().is_some();
                match self.worker.try_borrow_mut() {
                    Ok(mut worker) => {
                        worker.set_config(Rc::new(config));
                        if ticking {
                            let now_ms = crate::host::unix_ms(self.host.now());
                            worker.join_peers(&mut self.host, now_ms);
                        }
                    }
                    Err(_) => return false,
                }
                true
            }
            Err(errors) => {
                log::error!("claude-wif: invalid plugin configuration: {errors}");
                false
            }
        }
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        filter::notices(&self.worker, &mut self.host, queue_id);
    }

    fn on_tick(&mut self) {
        self.host.flush_hits();
        let root = self.host.context_id;
        filter::tick(&self.worker, &mut self.host, root);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Never `None`: the SDK panics on it. Without a configuration every
        // request is refused (503) by the filter itself.
        Some(Box::new(FilterHttp {
            host: ProxyHost {
                context_id,
                metrics: self.host.metrics.clone(),
                pending_hits: self.host.pending_hits.clone(),
            },
            filter: RequestFilter::new(context_id, self.worker.clone()),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct FilterHttp {
    host: ProxyHost,
    filter: RequestFilter,
}

impl Context for FilterHttp {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        self.filter
            .on_issuer_answer(&mut self.host, token_id, body_size);
    }

    fn on_done(&mut self) -> bool {
        self.filter.on_done();
        true
    }
}

impl HttpContext for FilterHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        match self.filter.on_request_headers(&mut self.host) {
            HeadersAction::Continue => Action::Continue,
            HeadersAction::Pause => Action::Pause,
        }
    }

    /// `Pause` here is StopIterationAndBuffer: a body that comes while the
    /// request waits for its token (e.g. with the plugin option
    /// `allow_on_headers_stop_iteration`) is buffered, never sent ahead.
    fn on_http_request_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        body_action(self.filter.on_request_body(&self.host))
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        body_action(self.filter.on_request_trailers(&self.host))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.filter.on_response_headers(&mut self.host);
        Action::Continue
    }

    fn on_log(&mut self) {
        self.filter.on_done();
    }
}

fn body_action(action: BodyAction) -> Action {
    match action {
        BodyAction::Continue => Action::Continue,
        BodyAction::Hold => Action::Pause,
    }
}

/// [`Host`] over the proxy-wasm ABI, for the context `context_id`.
struct ProxyHost {
    context_id: u32,
    metrics: Metrics,
    pending_hits: PendingHits,
}

impl ProxyHost {
    fn add_to_metric(&self, stat: Stat, n: u64) {
        if let Some(id) = self.metrics.get(stat.index()).copied().flatten() {
            let _ = hostcalls::increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Hands the cache hits counted since the last tick to the host.
    fn flush_hits(&self) {
        if let Some(n) = self.pending_hits.get()
            && n > 0
        {
            self.pending_hits.set(Some(0));
            self.add_to_metric(Stat::CacheHits, n);
        }
    }
}

fn host_error(status: Status) -> HostError {
    match status {
        Status::CasMismatch => HostError::CasMismatch,
        Status::BadArgument => HostError::BadArgument,
        other => HostError::Failed(other as u32),
    }
}

impl Host for ProxyHost {
    fn now(&self) -> SystemTime {
        hostcalls::get_current_time().unwrap_or(UNIX_EPOCH)
    }

    fn request_header_values(&self, name: &str) -> Vec<Vec<u8>> {
        hostcalls::get_map_bytes(MapType::HttpRequestHeaders)
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value)
            .collect()
    }

    fn request_header(&self, name: &str) -> Option<Vec<u8>> {
        hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name)
            .ok()
            .flatten()
    }

    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)).map_err(host_error)
    }

    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError> {
        hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).map_err(host_error)
    }

    fn resume_request(&mut self) -> Result<(), HostError> {
        hostcalls::resume_http_request().map_err(host_error)
    }

    fn send_reply(
        &mut self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError> {
        hostcalls::send_http_response(status, headers.to_vec(), Some(body)).map_err(host_error)
    }

    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        hostcalls::get_shared_data(key).unwrap_or((None, None))
    }

    fn set_shared_data(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
        cas: Option<u32>,
    ) -> Result<(), HostError> {
        hostcalls::set_shared_data(key, value, cas).map_err(host_error)
    }

    fn dispatch(
        &mut self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<u32, HostError> {
        hostcalls::dispatch_http_call(cluster, headers.to_vec(), Some(body), Vec::new(), timeout)
            .map_err(host_error)
    }

    fn call_response_header(&self, name: &str) -> Option<Vec<u8>> {
        hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, name)
            .ok()
            .flatten()
    }

    fn call_response_body(&self, max_size: usize) -> Option<Vec<u8>> {
        hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, max_size)
            .ok()
            .flatten()
    }

    fn log(&self, level: log::Level, message: &str) {
        log::log!(level, "claude-wif[ctx {}]: {message}", self.context_id);
    }

    fn log_enabled(&self, level: log::Level) -> bool {
        level <= log::max_level()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::get_property(path.to_vec()).ok().flatten()
    }

    fn response_header(&self, name: &str) -> Option<Vec<u8>> {
        hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, name)
            .ok()
            .flatten()
    }

    fn set_effective_context(&mut self, context_id: u32) -> Result<(), HostError> {
        hostcalls::set_effective_context(context_id).map_err(host_error)
    }

    fn register_queue(&mut self, name: &str) -> Result<u32, HostError> {
        hostcalls::register_shared_queue(name).map_err(host_error)
    }

    fn resolve_queue(&self, name: &str) -> Option<u32> {
        // An empty VM id means this VM.
        hostcalls::resolve_shared_queue("", name).ok().flatten()
    }

    fn enqueue(&mut self, queue: u32, message: &[u8]) -> Result<(), HostError> {
        hostcalls::enqueue_shared_queue(queue, Some(message)).map_err(host_error)
    }

    fn dequeue(&mut self, queue: u32) -> Option<Vec<u8>> {
        hostcalls::dequeue_shared_queue(queue).ok().flatten()
    }

    fn count(&self, stat: Stat) {
        match (stat, self.pending_hits.get()) {
            (Stat::CacheHits, Some(n)) => self.pending_hits.set(Some(n.saturating_add(1))),
            _ => self.add_to_metric(stat, 1),
        }
    }
}
