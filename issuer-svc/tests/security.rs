//! Issue 15 (security review), issuer-svc side, driven with `oneshot`:
//! browsers kept out of the token API without a key (DNS rebinding,
//! cross-site posts), log lines that outside text cannot forge, identities
//! without format characters or separators.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use claude_wif_api::{ErrorCode, TokenResponse};
use common::*;
use issuer_svc::internal_app;

fn token_request_to(host: &str, content_type: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post("/v1/token").header("host", host);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

fn metrics_to(host: &str) -> Request<Body> {
    Request::get("/metrics")
        .header("host", host)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn without_a_key_a_rebound_host_gets_neither_a_token_nor_metrics() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let body = token_body(IDENTITY);
    for host in [
        "attacker.example",
        "attacker.example:9090",
        "127.0.0.1.nip.io:9090",
    ] {
        let request = token_request_to(host, Some("application/json"), &body);
        let (status, _, text) = send(internal_app(app.state.clone()), request).await;
        let error = error_of(status, &text, ErrorCode::AccessDenied);
        assert!(
            error
                .error_description
                .contains(&format!("this request's Host is `{host}`")),
            "{text}"
        );
        assert!(
            error.error_description.contains("server.internal_hosts"),
            "{text}"
        );
        let (status, _, text) = send(internal_app(app.state.clone()), metrics_to(host)).await;
        error_of(status, &text, ErrorCode::AccessDenied);
        assert!(!text.contains("issuer_svc_"), "{text}");
    }
    assert_eq!(claude.calls(), 0, "no exchange for a browser");
}

#[tokio::test]
async fn without_a_key_the_filters_hosts_are_answered() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let body = token_body(IDENTITY);
    // demo/sidecar/gateway configs (`issuer-svc`), the Istio manifest, loopback.
    for host in [
        "issuer-svc",
        "issuer-svc.claude-wif.svc.cluster.local",
        "127.0.0.1:9090",
        "localhost:9090",
        "[::1]:9090",
    ] {
        let request = token_request_to(host, Some("application/json"), &body);
        let (status, _, text) = send(internal_app(app.state.clone()), request).await;
        assert_eq!(status, StatusCode::OK, "{host}: {text}");
        serde_json::from_str::<TokenResponse>(&text).unwrap();
        let (status, _, text) = send(internal_app(app.state.clone()), metrics_to(host)).await;
        assert_eq!(status, StatusCode::OK, "{host}: {text}");
    }
    assert_eq!(claude.calls(), 1);
}

#[tokio::test]
async fn a_configured_internal_host_is_answered() {
    let claude = FakeClaude::default();
    let base = claude.start().await;
    let app =
        app_from(|dir| config_text(&base, dir, "internal_hosts = [\"issuer.corp.example\"]", ""));
    let request = token_request_to(
        "Issuer.Corp.Example:9090",
        Some("application/json"),
        &token_body(IDENTITY),
    );
    let (status, _, text) = send(internal_app(app.state.clone()), request).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let request = token_request_to("other.corp.example", Some("application/json"), "{}");
    let (status, _, text) = send(internal_app(app.state.clone()), request).await;
    error_of(status, &text, ErrorCode::AccessDenied);
}

#[tokio::test]
async fn with_a_key_the_key_is_the_control_whatever_the_host() {
    let claude = FakeClaude::default();
    let base = claude.start().await;
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("key");
    std::fs::write(&key_file, "sekrit-key\n").unwrap();
    let extra = format!("internal_api_key_file = \"{}\"", key_file.display());
    let app = app_from(|dir| config_text(&base, dir, &extra, ""));
    let mut request = token_request_to(
        "issuer.example.com",
        Some("application/json"),
        &token_body(IDENTITY),
    );
    request
        .headers_mut()
        .insert("authorization", "Bearer sekrit-key".parse().unwrap());
    let (status, _, text) = send(internal_app(app.state.clone()), request).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let request = token_request_to("issuer.example.com", Some("application/json"), "{}");
    let (status, _, text) = send(internal_app(app.state.clone()), request).await;
    error_of(status, &text, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn a_cross_site_simple_post_triggers_no_exchange() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let body = token_body(IDENTITY);
    for (content_type, shown) in [
        (Some("text/plain"), "found `text/plain`"),
        (
            Some("text/plain;charset=UTF-8"),
            "found `text/plain;charset=UTF-8`",
        ),
        (
            Some("application/x-www-form-urlencoded"),
            "found `application/x-www-form-urlencoded`",
        ),
        (
            Some("multipart/form-data; boundary=x"),
            "found `multipart/form-data; boundary=x`",
        ),
        (None, "found none"),
    ] {
        let request = token_request_to("127.0.0.1:9090", content_type, &body);
        let (status, _, text) = send(internal_app(app.state.clone()), request).await;
        let error = error_of(status, &text, ErrorCode::InvalidRequest);
        assert_eq!(
            error.error_description,
            format!("content-type must be application/json, {shown}")
        );
    }
    assert_eq!(claude.calls(), 0);
    let (_, _, metrics) = send(internal_app(app.state.clone()), get("/metrics")).await;
    assert!(
        metrics.contains("issuer_svc_token_requests_total{result=\"invalid_request\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn identities_with_format_characters_or_separators_get_400() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    for (c, name) in [
        ('\u{2028}', "U+2028"),
        ('\u{2029}', "U+2029"),
        ('\u{202E}', "U+202E"),
        ('\u{200B}', "U+200B"),
        ('\u{FEFF}', "U+FEFF"),
    ] {
        let body = token_body(&format!("{IDENTITY}{c}"));
        let (status, _, text) = send(internal_app(app.state.clone()), token_request(&body)).await;
        let error = error_of(status, &text, ErrorCode::InvalidRequest);
        assert!(
            error.error_description.starts_with(
                "client_workload must not contain Unicode format characters or line/paragraph separators"
            ),
            "{text}"
        );
        assert!(error.error_description.contains(name), "{text}");
    }
    assert_eq!(claude.calls(), 0);
}

/// Collects what the log subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Captured {
    type Writer = Captured;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn a_field_name_cannot_forge_a_log_line() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let forged =
        "x\n\u{1b}[2K2026-01-01T00:00:00Z  INFO audit: event=\"access\" decision=\"allow\"\u{2028}";
    let body = format!(
        r#"{{"client_workload":"{IDENTITY}","server_workload":"api.anthropic.com",{}:1}}"#,
        serde_json::to_string(forged).unwrap()
    );
    let captured = Captured::default();
    let _guard =
        tracing::subscriber::set_default(issuer_svc::logging::subscriber(captured.clone()));
    let (status, _, text) = send(internal_app(app.state.clone()), token_request(&body)).await;
    error_of(status, &text, ErrorCode::InvalidRequest);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("token request refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{log}");
    assert!(
        refused[0].contains(r"unknown field `x\n\u{1b}[2K2026"),
        "{log}"
    );
    assert!(!log.lines().any(|l| l.starts_with("2026-01-01")), "{log}");
    assert!(
        !log.contains('\u{1b}') && !log.contains('\u{2028}'),
        "{log:?}"
    );
}
