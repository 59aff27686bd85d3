//! Prometheus metrics. Labels are fixed sets or HTTP status codes: no
//! identities, no secrets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use claude_wif_api::ErrorCode;

/// `result` labels of `issuer_svc_token_requests_total`.
const TOKEN_RESULTS: [&str; 6] = [
    "ok",
    "invalid_request",
    "unauthorized",
    "access_denied",
    "exchange_failed",
    "upstream_unavailable",
];
/// `result` labels of `issuer_svc_config_reloads_total`.
const RELOAD_RESULTS: [&str; 2] = ["ok", "rejected"];
/// Upper bounds (seconds) of the exchange latency histogram.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Values read at scrape time from elsewhere.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    pub cache_entries: usize,
    /// `(state, count)` of the published signing keys.
    pub signing_keys: Vec<(&'static str, usize)>,
    /// Whether a configuration is loaded (always once serving).
    pub config_loaded: bool,
}

#[derive(Debug, Default)]
pub struct Metrics {
    token_requests: [AtomicU64; TOKEN_RESULTS.len()],
    /// `(result, status)` → attempts; status `None` when no answer came.
    exchanges: Mutex<BTreeMap<(&'static str, Option<u16>), u64>>,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    cache_hits: AtomicU64,
    forced_suppressed: AtomicU64,
    reloads: [AtomicU64; RELOAD_RESULTS.len()],
}

impl Metrics {
    /// A request to `POST /v1/token` ended with `error` (`None` = 200).
    pub fn token_request(&self, error: Option<ErrorCode>) {
        let label = error.map_or("ok", ErrorCode::as_str);
        bump(&self.token_requests, &TOKEN_RESULTS, label);
    }

    /// One exchange attempt at Claude ended with `result` (`ok`, `refused`,
    /// `unavailable`) and HTTP `status` after `latency`.
    pub fn exchange_attempt(&self, result: &'static str, status: Option<u16>, latency: Duration) {
        {
            let mut exchanges = self
                .exchanges
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *exchanges.entry((result, status)).or_default() += 1;
        }
        let seconds = latency.as_secs_f64();
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// A stale-token report was answered with the cached token: a forced
    /// re-exchange for the same key ran too recently.
    pub fn forced_refresh_suppressed(&self) {
        self.forced_suppressed.fetch_add(1, Ordering::Relaxed);
    }

    /// A SIGHUP reload was applied (`true`) or rejected.
    pub fn config_reload(&self, applied: bool) {
        let label = if applied { "ok" } else { "rejected" };
        bump(&self.reloads, &RELOAD_RESULTS, label);
    }

    /// Exchange attempts so far, whatever their result.
    pub fn exchanges_total(&self) -> u64 {
        self.exchanges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .sum()
    }

    /// The counters and histograms in Prometheus text exposition.
    pub fn render(&self) -> String {
        self.render_with(&Gauges::default())
    }

    /// Everything in Prometheus text exposition, `gauges` included.
    pub fn render_with(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        labelled(
            &mut out,
            "issuer_svc_token_requests_total",
            "Requests to POST /v1/token by result.",
            &TOKEN_RESULTS,
            &self.token_requests,
        );
        self.render_exchanges(&mut out);
        self.render_latency(&mut out);
        self.render_cache(&mut out, gauges.cache_entries);
        render_signing_keys(&mut out, &gauges.signing_keys);
        labelled(
            &mut out,
            "issuer_svc_config_reloads_total",
            "Configuration reloads (SIGHUP) by result.",
            &RELOAD_RESULTS,
            &self.reloads,
        );
        single(
            &mut out,
            "issuer_svc_config_loaded",
            "1 when a valid configuration is being served.",
            "gauge",
            u8::from(gauges.config_loaded),
        );
        out
    }

    /// The token cache: hits, suppressed forced refreshes, and `entries`.
    fn render_cache(&self, out: &mut String, entries: usize) {
        single(
            out,
            "issuer_svc_token_cache_hits_total",
            "Token requests answered from the cache.",
            "counter",
            self.cache_hits.load(Ordering::Relaxed),
        );
        single(
            out,
            "issuer_svc_forced_refreshes_suppressed_total",
            "Stale-token reports answered with the cached token: a forced re-exchange for the \
             same provider and identity ran less than token_cache.stale_refresh_interval ago.",
            "counter",
            self.forced_suppressed.load(Ordering::Relaxed),
        );
        single(
            out,
            "issuer_svc_token_cache_entries",
            "Cached tokens (and exchanges in flight) per provider and client identity.",
            "gauge",
            entries,
        );
    }

    fn render_exchanges(&self, out: &mut String) {
        let name = "issuer_svc_exchanges_total";
        header(
            out,
            name,
            "Token exchange attempts at Claude by result and HTTP status (`none`: no answer).",
            "counter",
        );
        let exchanges = self
            .exchanges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for ((result, status), count) in exchanges.iter() {
            let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
            let _ = writeln!(
                out,
                "{name}{{result=\"{result}\",status=\"{status}\"}} {count}"
            );
        }
    }

    fn render_latency(&self, out: &mut String) {
        let name = "issuer_svc_exchange_duration_seconds";
        header(
            out,
            name,
            "Latency of token exchange attempts at Claude.",
            "histogram",
        );
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency_buckets) {
            let count = bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

fn bump(counters: &[AtomicU64], labels: &[&str], label: &str) {
    if let Some(index) = labels.iter().position(|l| *l == label)
        && let Some(counter) = counters.get(index)
    {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A series without labels: its header and its one value.
fn single(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// `issuer_svc_signing_keys`: one line per key state.
fn render_signing_keys(out: &mut String, keys: &[(&'static str, usize)]) {
    header(
        out,
        "issuer_svc_signing_keys",
        "Published signing keys by state.",
        "gauge",
    );
    for (state, count) in keys {
        let _ = writeln!(out, "issuer_svc_signing_keys{{state=\"{state}\"}} {count}");
    }
}

fn labelled(out: &mut String, name: &str, help: &str, labels: &[&str], counters: &[AtomicU64]) {
    header(out, name, help, "counter");
    for (label, counter) in labels.iter().zip(counters) {
        let value = counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{result=\"{label}\"}} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_with_counts() {
        let metrics = Metrics::default();
        metrics.token_request(None);
        metrics.token_request(Some(ErrorCode::AccessDenied));
        metrics.exchange_attempt("refused", Some(401), Duration::from_millis(30));
        metrics.exchange_attempt("unavailable", None, Duration::from_secs(3));
        metrics.cache_hit();
        metrics.config_reload(true);
        metrics.config_reload(false);
        metrics.config_reload(false);
        let text = metrics.render_with(&Gauges {
            cache_entries: 3,
            signing_keys: vec![("active", 1), ("pending", 0)],
            config_loaded: true,
        });
        for line in [
            "issuer_svc_token_requests_total{result=\"ok\"} 1\n",
            "issuer_svc_token_requests_total{result=\"access_denied\"} 1\n",
            "issuer_svc_token_requests_total{result=\"unauthorized\"} 0\n",
            "issuer_svc_exchanges_total{result=\"refused\",status=\"401\"} 1\n",
            "issuer_svc_exchanges_total{result=\"unavailable\",status=\"none\"} 1\n",
            "issuer_svc_exchange_duration_seconds_bucket{le=\"0.025\"} 0\n",
            "issuer_svc_exchange_duration_seconds_bucket{le=\"0.05\"} 1\n",
            "issuer_svc_exchange_duration_seconds_bucket{le=\"5\"} 2\n",
            "issuer_svc_exchange_duration_seconds_bucket{le=\"+Inf\"} 2\n",
            "issuer_svc_exchange_duration_seconds_sum 3.03\n",
            "issuer_svc_exchange_duration_seconds_count 2\n",
            "# TYPE issuer_svc_exchange_duration_seconds histogram\n",
            "issuer_svc_token_cache_hits_total 1\n",
            "issuer_svc_token_cache_entries 3\n",
            "issuer_svc_signing_keys{state=\"active\"} 1\n",
            "issuer_svc_config_reloads_total{result=\"ok\"} 1\n",
            "issuer_svc_config_reloads_total{result=\"rejected\"} 2\n",
            "issuer_svc_config_loaded 1\n",
            "# TYPE issuer_svc_exchanges_total counter\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert_eq!(metrics.exchanges_total(), 2);
    }
}
