//! The proxy-wasm floor: sets one request header and nothing else.
//!
//! With the plugin configuration `required` it is the yardstick for where
//! claude-wif's cost over the floor goes: it makes only the host calls the
//! contract requires on every request, with no logic around them (remove
//! `x-api-key`, set `authorization`, read and set `anthropic-beta`, read the
//! response `:status` for the 401 check): the same calls as claude-wif's
//! cache hit.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, MapType};

const BEARER: &str = "Bearer bench-placeholder-floor-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FloorRoot { mode: Mode::Floor }) });
}}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Floor,
    Required,
}

struct FloorRoot {
    mode: Mode,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, size: usize) -> bool {
        let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        self.mode = match config.as_slice() {
            b"required" => Mode::Required,
            _ => Mode::Floor,
        };
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Floor { mode: self.mode }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Floor {
    mode: Mode,
}

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.mode != Mode::Floor {
            let _ = hostcalls::remove_map_value(MapType::HttpRequestHeaders, "x-api-key");
        }
        // The same header and value size the claude-wif filter writes.
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "authorization", Some(BEARER));
        if self.mode != Mode::Floor
            && let Ok(None) = hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, "anthropic-beta")
        {
            let _ = hostcalls::set_map_value(
                MapType::HttpRequestHeaders,
                "anthropic-beta",
                Some("oauth-2025-04-20"),
            );
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.mode != Mode::Floor {
            let _ = hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, ":status");
        }
        Action::Continue
    }
}
