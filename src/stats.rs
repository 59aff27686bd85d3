//! The filter's counters: their names ([`Stat`]) and one worker's table of
//! metric ids with its batched cache hits ([`Metrics`]).
//!
//! Envoy shows plugin-defined metrics under `wasmcustom.`:
//! `GET /stats?filter=claude_wif` lists e.g. `wasmcustom.claude_wif.cache_hits`.
//! Every worker defines the same names, so Envoy shows one sum per counter.

use std::cell::{Cell, OnceCell};

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

/// One worker's counters as the host knows them: the metric id of each
/// [`Stat`], and the cache hits counted since they were last handed to the
/// host. Shared (in an `Rc`) by the root context and every HTTP context of
/// the worker; the root decides when to define them and whether hits are
/// batched (`root.rs`), each context's host counts through it.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Metric ids by [`Stat::index`] (`None` where the host refused the
    /// name); unset until defined, and then never defined again.
    ids: OnceCell<[Option<u32>; Stat::ALL.len()]>,
    /// Cache hits not yet handed to the host; `None` when hits are not
    /// batched (every hit is then a host call).
    pending_hits: Cell<Option<u64>>,
}

impl Metrics {
    /// No metric defined yet; counts are dropped until [`Metrics::define`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines every counter, asking `define` for the id of each name.
    /// Only the first call defines them: later ones change nothing and
    /// return `false`.
    pub fn define(&self, mut define: impl FnMut(&str) -> Option<u32>) -> bool {
        if self.ids.get().is_some() {
            return false;
        }
        self.ids.set(Stat::ALL.map(|s| define(s.name()))).is_ok()
    }

    /// Whether [`Metrics::define`] has run.
    pub fn is_defined(&self) -> bool {
        self.ids.get().is_some()
    }

    /// With `true`, cache hits are added up here and handed to the host by
    /// [`Metrics::flush_hits`] (the root tick); with `false`, every hit is
    /// handed over as it happens (flush the pending ones first: switching
    /// drops them).
    pub fn batch_hits(&self, batch: bool) {
        match (batch, self.pending_hits.get()) {
            (true, None) => self.pending_hits.set(Some(0)),
            (false, Some(_)) => self.pending_hits.set(None),
            _ => {}
        }
    }

    /// Whether cache hits are batched.
    pub fn batches_hits(&self) -> bool {
        self.pending_hits.get().is_some()
    }

    /// Adds one to `stat`: a batched cache hit stays here (no host call);
    /// anything else is handed to `increment` (metric id, amount) at once.
    pub fn count(&self, stat: Stat, increment: impl FnOnce(u32, u64)) {
        if let (Stat::CacheHits, Some(n)) = (stat, self.pending_hits.get()) {
            self.pending_hits.set(Some(n.saturating_add(1)));
            return;
        }
        self.add(stat, 1, increment);
    }

    /// Hands the batched cache hits to `increment` in one call (none when
    /// there are none).
    pub fn flush_hits(&self, increment: impl FnOnce(u32, u64)) {
        if let Some(n) = self.pending_hits.get()
            && n > 0
        {
            self.pending_hits.set(Some(0));
            self.add(Stat::CacheHits, n, increment);
        }
    }

    fn add(&self, stat: Stat, n: u64, increment: impl FnOnce(u32, u64)) {
        if let Some(id) = self
            .ids
            .get()
            .and_then(|ids| ids.get(stat.index()).copied().flatten())
        {
            increment(id, n);
        }
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

    fn recorded(metrics: &Metrics, stat: Stat) -> Vec<(u32, u64)> {
        let mut calls = Vec::new();
        metrics.count(stat, |id, n| calls.push((id, n)));
        calls
    }

    #[test]
    fn counts_go_to_the_defined_ids_and_are_dropped_before() {
        let metrics = Metrics::new();
        assert!(!metrics.is_defined());
        assert_eq!(recorded(&metrics, Stat::Denials), vec![]);
        let mut names = Vec::new();
        assert!(metrics.define(|name| {
            names.push(name.to_owned());
            u32::try_from(names.len()).ok().map(|n| n + 100)
        }));
        let expected: Vec<&str> = Stat::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, expected);
        assert_eq!(recorded(&metrics, Stat::CacheHits), vec![(101, 1)]);
        assert_eq!(recorded(&metrics, Stat::Denials), vec![(110, 1)]);
        // Defined once: a second definition asks nothing and changes nothing.
        assert!(!metrics.define(|_| panic!("defined twice")));
        assert_eq!(recorded(&metrics, Stat::Denials), vec![(110, 1)]);
    }

    #[test]
    fn a_name_the_host_refused_is_not_counted() {
        let metrics = Metrics::new();
        metrics.define(|name| (name != Stat::CacheFull.name()).then_some(7));
        assert_eq!(recorded(&metrics, Stat::CacheFull), vec![]);
        assert_eq!(recorded(&metrics, Stat::Unavailable), vec![(7, 1)]);
    }

    #[test]
    fn batched_hits_are_handed_over_in_one_call_and_others_at_once() {
        let metrics = Metrics::new();
        metrics.define(|name| {
            Stat::ALL
                .iter()
                .position(|s| s.name() == name)
                .map(|i| i as u32)
        });
        metrics.batch_hits(true);
        assert!(metrics.batches_hits());
        for _ in 0..3 {
            assert_eq!(recorded(&metrics, Stat::CacheHits), vec![]);
        }
        assert_eq!(recorded(&metrics, Stat::CacheMisses), vec![(1, 1)]);
        let mut flushed = Vec::new();
        metrics.flush_hits(|id, n| flushed.push((id, n)));
        assert_eq!(flushed, vec![(0, 3)]);
        metrics.flush_hits(|_, _| panic!("nothing pending"));
        // Batching again keeps nothing pending twice; unbatched, each hit is a call.
        metrics.batch_hits(true);
        metrics.flush_hits(|_, _| panic!("nothing pending"));
        metrics.batch_hits(false);
        assert!(!metrics.batches_hits());
        assert_eq!(recorded(&metrics, Stat::CacheHits), vec![(0, 1)]);
    }
}
