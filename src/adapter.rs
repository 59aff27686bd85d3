//! The proxy-wasm edge: root and HTTP contexts that forward each callback
//! to the core (`root.rs` for the root context, [`RequestFilter`] for a
//! request), and [`Host`] implemented with `proxy_wasm::hostcalls` (which
//! return `Result`, unlike the SDK helpers that unwrap). Only translation
//! happens here: proxy-wasm types in, core calls, proxy-wasm types out.

use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, MapType, MetricType, Status};

use crate::filter::{BodyAction, HeadersAction, RequestFilter};
use crate::host::{Host, HostError};
use crate::root::{self, Root};
use crate::stats::{Metrics, Stat};

/// Creates the root context (one per plugin per worker).
pub fn new_root(context_id: u32) -> Box<dyn RootContext> {
    let root = Root::new(context_id);
    Box::new(FilterRoot {
        host: ProxyHost {
            context_id,
            metrics: root.metrics(),
        },
        root,
    })
}

struct FilterRoot {
    host: ProxyHost,
    root: Root,
}

impl Context for FilterRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        self.root
            .on_call_answer(&mut self.host, token_id, body_size);
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
        self.root.configure(&mut self.host, &bytes)
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        self.root.on_queue_ready(&mut self.host, queue_id);
    }

    fn on_tick(&mut self) {
        self.root.on_tick(&mut self.host);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Never `None`: the SDK panics on it. Without a configuration every
        // request is refused (503) by the filter itself.
        Some(Box::new(FilterHttp {
            host: ProxyHost {
                context_id,
                metrics: self.root.metrics(),
            },
            filter: self.root.new_request(context_id),
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
        root::on_request_call_answer(&self.filter, &mut self.host, token_id, body_size);
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
    /// The worker's metrics (shared with its other contexts).
    metrics: Rc<Metrics>,
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
        self.metrics.count(stat, |id, n| {
            let _ = self.increment_metric(id, n);
        });
    }

    fn define_metric(&mut self, name: &str) -> Result<u32, HostError> {
        hostcalls::define_metric(MetricType::Counter, name).map_err(host_error)
    }

    fn increment_metric(&self, id: u32, by: u64) -> Result<(), HostError> {
        hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX)).map_err(host_error)
    }

    fn set_tick_period(&mut self, period: Duration) -> Result<(), HostError> {
        hostcalls::set_tick_period(period).map_err(host_error)
    }
}
