//! The small host interface the filter core runs against.
//!
//! Everything that decides is written over [`Host`]; the proxy-wasm adapter
//! (`adapter.rs`) implements it with `proxy_wasm::hostcalls`, and the tests
//! implement it with a recording fake (`tests/fake_host.rs`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::stats::Stat;

/// Why a host call failed. Carries no request data, so it is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// Shared data was changed by someone else since it was read.
    CasMismatch,
    /// The host refused the arguments (e.g. an unknown cluster name).
    BadArgument,
    /// Any other failure, with the host's status code when known.
    Failed(u32),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CasMismatch => f.write_str("cas mismatch"),
            Self::BadArgument => f.write_str("bad argument"),
            Self::Failed(status) => write!(f, "host status {status}"),
        }
    }
}

/// What the filter needs from the proxy. Header names are lowercase.
pub trait Host {
    /// The host's clock. The only source of time in the filter.
    fn now(&self) -> SystemTime;

    /// Every value of a request header, in order (empty when absent).
    /// Costly in the proxy (the whole header map crosses the Wasm boundary):
    /// only for the rare paths that must see repeated values.
    fn request_header_values(&self, name: &str) -> Vec<Vec<u8>>;
    /// The first value of a request header (one host call).
    fn request_header(&self, name: &str) -> Option<Vec<u8>> {
        self.request_header_values(name).into_iter().next()
    }
    /// Replaces every value of a request header with one value.
    fn set_request_header(&mut self, name: &str, value: &str) -> Result<(), HostError>;
    /// Removes every value of a request header (no error when absent).
    fn remove_request_header(&mut self, name: &str) -> Result<(), HostError>;
    /// Lets a paused request continue upstream.
    fn resume_request(&mut self) -> Result<(), HostError>;
    /// Answers the request locally; it never goes upstream.
    fn send_reply(
        &mut self,
        status: u32,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), HostError>;

    /// Value and compare-and-swap version of a shared-data entry.
    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Writes a shared-data entry; with `cas`, only if still at that version.
    fn set_shared_data(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
        cas: Option<u32>,
    ) -> Result<(), HostError>;

    /// Starts an HTTP call to a cluster; returns its token.
    fn dispatch(
        &mut self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> Result<u32, HostError>;
    /// A header of the answer to the call being delivered (`:status` included).
    fn call_response_header(&self, name: &str) -> Option<Vec<u8>>;
    /// Up to `max_size` bytes of the body of the answer being delivered.
    fn call_response_body(&self, max_size: usize) -> Option<Vec<u8>>;

    /// One log line; the adapter prefixes the context id.
    fn log(&self, level: log::Level, message: &str);
    /// Whether a line at `level` would be logged (so the hot path does not
    /// format lines nobody reads).
    fn log_enabled(&self, _level: log::Level) -> bool {
        true
    }

    /// A property of the current stream (e.g. `connection.uri_san_peer_certificate`).
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    /// A header of the upstream response of the current request (`:status` included).
    fn response_header(&self, name: &str) -> Option<Vec<u8>>;
    /// Makes `context_id` the context that request calls (headers, resume,
    /// reply) act on. Fails when that context no longer exists.
    fn set_effective_context(&mut self, context_id: u32) -> Result<(), HostError>;
    /// Adds one to a counter. Both hosts forward this to the worker's
    /// [`crate::stats::Metrics`], which batches cache hits when the root
    /// says so and hands the rest to [`Host::increment_metric`].
    fn count(&self, stat: Stat);
    /// Defines a counter metric named `name`; returns its id.
    fn define_metric(&mut self, name: &str) -> Result<u32, HostError>;
    /// Adds `by` to the counter metric `id`.
    fn increment_metric(&self, id: u32, by: u64) -> Result<(), HostError>;
    /// Asks for a root tick every `period`.
    fn set_tick_period(&mut self, period: Duration) -> Result<(), HostError>;

    /// Registers this VM's shared queue `name`; the root context of the
    /// calling worker is told when something is put in it.
    fn register_queue(&mut self, name: &str) -> Result<u32, HostError>;
    /// The id of this VM's shared queue `name`, if some worker registered it.
    fn resolve_queue(&self, name: &str) -> Option<u32>;
    /// Puts a message in a shared queue.
    fn enqueue(&mut self, queue: u32, message: &[u8]) -> Result<(), HostError>;
    /// Takes the oldest message from a shared queue this worker registered.
    fn dequeue(&mut self, queue: u32) -> Option<Vec<u8>>;
}

/// Milliseconds since the Unix epoch of a host time (0 before the epoch).
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_ms_counts_from_epoch_and_clamps_before_it() {
        assert_eq!(unix_ms(UNIX_EPOCH + Duration::from_millis(1_234)), 1_234);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
