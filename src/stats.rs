//! The filter's counters, exported as proxy-wasm metrics.
//!
//! Envoy shows plugin-defined metrics under `wasmcustom.`:
//! `GET /stats?filter=claude_wif` lists e.g. `wasmcustom.claude_wif.cache_hits`.
//! Every worker defines the same names, so Envoy shows one sum per counter.

/// One counter. [`Stat::name`] is its metric name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    /// A request found a usable token in the cache (no I/O).
    CacheHits,
    /// A request found no usable token (absent, stale, invalidated).
    CacheMisses,
    /// A request paused to wait for an issuer call.
    RequestsPaused,
    /// Issuer calls answered with a token.
    IssuerCallsOk,
    /// Issuer calls answered 403 (no access policy).
    IssuerCallsDenied,
    /// Issuer calls that failed (timeout, error status, malformed answer).
    IssuerCallsFailed,
    /// Background refreshes that stored a newer token.
    BackgroundRefreshOk,
    /// Background refreshes that failed or got no newer token (retried after 5 s).
    BackgroundRefreshFailed,
    /// Cache entries dropped because the upstream answered 401 to their token.
    Invalidations401,
    /// Local 401/403 replies (no or bad identity, denied by policy).
    Denials,
    /// Local 503 replies (issuer-svc or Claude unavailable, filter failure).
    Unavailable,
    /// Tokens not cached because the cache holds `max_identities` identities.
    CacheFull,
}

impl Stat {
    pub const ALL: [Stat; 12] = [
        Stat::CacheHits,
        Stat::CacheMisses,
        Stat::RequestsPaused,
        Stat::IssuerCallsOk,
        Stat::IssuerCallsDenied,
        Stat::IssuerCallsFailed,
        Stat::BackgroundRefreshOk,
        Stat::BackgroundRefreshFailed,
        Stat::Invalidations401,
        Stat::Denials,
        Stat::Unavailable,
        Stat::CacheFull,
    ];

    /// The metric name defined with the host.
    pub fn name(self) -> &'static str {
        match self {
            Stat::CacheHits => "claude_wif.cache_hits",
            Stat::CacheMisses => "claude_wif.cache_misses",
            Stat::RequestsPaused => "claude_wif.requests_paused",
            Stat::IssuerCallsOk => "claude_wif.issuer_calls_ok",
            Stat::IssuerCallsDenied => "claude_wif.issuer_calls_denied",
            Stat::IssuerCallsFailed => "claude_wif.issuer_calls_failed",
            Stat::BackgroundRefreshOk => "claude_wif.background_refresh_ok",
            Stat::BackgroundRefreshFailed => "claude_wif.background_refresh_failed",
            Stat::Invalidations401 => "claude_wif.invalidations_401",
            Stat::Denials => "claude_wif.denials",
            Stat::Unavailable => "claude_wif.unavailable",
            Stat::CacheFull => "claude_wif.cache_full",
        }
    }

    /// Position in [`Stat::ALL`], for metric-id tables.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_prefixed_and_indexed() {
        let mut names: Vec<&str> = Stat::ALL.iter().map(|s| s.name()).collect();
        assert!(names.iter().all(|n| n.starts_with("claude_wif.")));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Stat::ALL.len());
        for (i, stat) in Stat::ALL.iter().enumerate() {
            assert_eq!(stat.index(), i);
        }
    }
}
