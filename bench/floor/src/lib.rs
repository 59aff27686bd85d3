//! The proxy-wasm floor: sets one request header and nothing else.
//!
//! With the plugin configuration `hostcalls`, it instead makes the same host
//! calls as claude-wif's cache-hit path (clock, one shared-data read, the
//! header edits, one counter, the response `:status`) with no logic around
//! them, so `make bench` can split claude-wif's cost over the floor into
//! "host calls" and "the filter's own work".

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, MapType, MetricType};

const BEARER: &str = "Bearer bench-placeholder-floor-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FloorRoot { mimic: None }) });
}}

/// The counter id when mimicking claude-wif's host calls.
struct FloorRoot {
    mimic: Option<u32>,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        if config == b"hostcalls" {
            let _ = hostcalls::set_shared_data("bench-floor/token", Some(b"2|0|0|0|token"), None);
            self.mimic = hostcalls::define_metric(MetricType::Counter, "bench_floor.hits").ok();
        }
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Floor { mimic: self.mimic }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Floor {
    mimic: Option<u32>,
}

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(metric) = self.mimic else {
            // The same header and value size the claude-wif filter writes.
            let _ = hostcalls::set_map_value(
                MapType::HttpRequestHeaders,
                "authorization",
                Some(BEARER),
            );
            return Action::Continue;
        };
        let _ = hostcalls::get_current_time();
        let _ = hostcalls::get_shared_data("bench-floor/token");
        let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, "x-api-key");
        let _ =
            hostcalls::set_map_value(MapType::HttpRequestHeaders, "authorization", Some(BEARER));
        if let Ok(None) =
            hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, "anthropic-beta")
        {
            let _ = hostcalls::set_map_value(
                MapType::HttpRequestHeaders,
                "anthropic-beta",
                Some("oauth-2025-04-20"),
            );
        }
        let _ = hostcalls::increment_metric(metric, 1);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.mimic.is_some() {
            let _ = hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, ":status");
        }
        Action::Continue
    }
}
