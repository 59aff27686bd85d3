//! One issuer call as the worker makes it: dispatching it in the current
//! context, reading its answer (bounded in size), and caching the token it
//! brings in shared data. Holds no state: which calls are in flight is
//! `flights`' business.

use log::Level;

use crate::cache::{self, CacheEntry, StoreOutcome};
use crate::config::FilterConfig;
use crate::host::Host;
use crate::issuer::{self, IssuedToken, IssuerError, MAX_ANSWER_BYTES};
use crate::reply::FilterError;
use crate::stats::Stat;

/// Calls issuer-svc for `identity` in the current context, naming the token
/// it replaces if any. Returns the call's token.
pub fn dispatch<H: Host>(
    config: &FilterConfig,
    host: &mut H,
    identity: &str,
    stale_sha256: Option<&str>,
) -> Result<u32, FilterError> {
    let call = issuer::build_request(
        &config.issuer,
        identity,
        &config.server_workload,
        stale_sha256,
    );
    host.dispatch(
        &config.issuer.cluster,
        &call.header_refs(),
        &call.body,
        config.issuer.timeout,
    )
    .map_err(|error| FilterError::Dispatch {
        cluster: config.issuer.cluster.clone(),
        error,
    })
}

/// Reads and parses the answer being delivered (at most [`MAX_ANSWER_BYTES`]).
pub fn read_answer<H: Host>(host: &H, body_size: usize) -> Result<IssuedToken, IssuerError> {
    let status = host.call_response_header(":status");
    if body_size > MAX_ANSWER_BYTES {
        return Err(IssuerError::Failed {
            status: status
                .map(|s| String::from_utf8_lossy(&s).chars().take(8).collect())
                .unwrap_or_default(),
            description: format!("answer body larger than {MAX_ANSWER_BYTES} bytes"),
        });
    }
    let body = if status.is_some() && body_size > 0 {
        host.call_response_body(body_size).unwrap_or_default()
    } else {
        Vec::new()
    };
    issuer::parse_response(status.as_deref(), &body)
}

/// Caches `entry` for `identity` under `key` (unless a longer-lived token is
/// there, or another worker wrote first). `true` if stored; a full cache is
/// counted, and it and a failed write are logged.
pub fn store<H: Host>(
    host: &mut H,
    config: &FilterConfig,
    key: &str,
    identity: &str,
    entry: &CacheEntry,
) -> bool {
    let count_key = cache::count_key(&config.server_workload);
    match cache::store(host, key, &count_key, config.max_identities, entry) {
        StoreOutcome::Stored => return true,
        StoreOutcome::KeptNewer | StoreOutcome::LostRace => {}
        StoreOutcome::Full => {
            host.count(Stat::CacheFull);
            host.log(
                Level::Warn,
                &format!(
                    "cache holds max_identities ({}); token for {identity} not cached",
                    config.max_identities
                ),
            );
        }
        StoreOutcome::Failed(e) => {
            host.log(Level::Warn, &format!("could not cache the token: {e}"));
        }
    }
    false
}
