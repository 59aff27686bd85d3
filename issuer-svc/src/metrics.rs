//! Prometheus counters. Labels are fixed sets: no identities, no secrets.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use claude_wif_api::ErrorCode;

/// Outcome labels of `issuer_svc_token_requests_total`.
const TOKEN_OUTCOMES: [&str; 6] = [
    "ok",
    "invalid_request",
    "unauthorized",
    "access_denied",
    "exchange_failed",
    "upstream_unavailable",
];
/// Outcome labels of `issuer_svc_exchanges_total`.
const EXCHANGE_OUTCOMES: [&str; 3] = ["ok", "refused", "unavailable"];

#[derive(Debug, Default)]
pub struct Metrics {
    token_requests: [AtomicU64; TOKEN_OUTCOMES.len()],
    exchanges: [AtomicU64; EXCHANGE_OUTCOMES.len()],
    cache_hits: AtomicU64,
}

impl Metrics {
    /// A request to `POST /v1/token` ended with `error` (`None` = 200).
    pub fn token_request(&self, error: Option<ErrorCode>) {
        let label = error.map_or("ok", ErrorCode::as_str);
        bump(&self.token_requests, &TOKEN_OUTCOMES, label);
    }

    /// An exchange ended with `outcome` (`ok`, `refused`, `unavailable`).
    pub fn exchange(&self, outcome: &str) {
        bump(&self.exchanges, &EXCHANGE_OUTCOMES, outcome);
    }

    pub fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn exchanges_total(&self) -> u64 {
        self.exchanges
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "issuer_svc_token_requests_total",
            "Requests to POST /v1/token by outcome.",
            &TOKEN_OUTCOMES,
            &self.token_requests,
        );
        family(
            &mut out,
            "issuer_svc_exchanges_total",
            "Token exchanges at Claude by outcome.",
            &EXCHANGE_OUTCOMES,
            &self.exchanges,
        );
        let hits = self.cache_hits.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP issuer_svc_token_cache_hits_total Token requests answered from the cache.\n\
             # TYPE issuer_svc_token_cache_hits_total counter\n\
             issuer_svc_token_cache_hits_total {hits}\n"
        );
        out
    }
}

fn bump(counters: &[AtomicU64], labels: &[&str], label: &str) {
    if let Some(index) = labels.iter().position(|l| *l == label)
        && let Some(counter) = counters.get(index)
    {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn family(out: &mut String, name: &str, help: &str, labels: &[&str], counters: &[AtomicU64]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (label, counter) in labels.iter().zip(counters) {
        let value = counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{outcome=\"{label}\"}} {value}");
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
        metrics.exchange("refused");
        metrics.exchange("bogus");
        metrics.cache_hit();
        let text = metrics.render();
        assert!(text.contains("issuer_svc_token_requests_total{outcome=\"ok\"} 1\n"));
        assert!(text.contains("issuer_svc_token_requests_total{outcome=\"access_denied\"} 1\n"));
        assert!(text.contains("issuer_svc_token_requests_total{outcome=\"unauthorized\"} 0\n"));
        assert!(text.contains("issuer_svc_exchanges_total{outcome=\"refused\"} 1\n"));
        assert!(text.contains("issuer_svc_token_cache_hits_total 1\n"));
        assert!(text.contains("# TYPE issuer_svc_exchanges_total counter\n"));
        assert_eq!(metrics.exchanges_total(), 1);
    }
}
