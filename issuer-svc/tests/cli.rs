//! The `issuer-svc` binary: `check`, config errors, and `serve` over real
//! sockets with a graceful SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_issuer-svc");

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("issuer.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_prints_each_issuer_url() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.toml");
    let out = Command::new(BIN)
        .args(["check", "--config", demo])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "claude-demo  http://127.0.0.1:8081/providers/claude-demo\n"
    );
}

#[test]
fn config_errors_are_all_printed_and_exit_64_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text("http://127.0.0.1:9", &dir.path().join("state"), "", "")
        .replace("fdrl_demo", "rule")
        .replace(
            "00000000-0000-4000-8000-000000000001\"\n  service_account_id = \"svac_demo\"",
            "not-a-uuid\"\n  service_account_id = \"svac_demo\"",
        )
        .replace(
            "public_listen = \"127.0.0.1:0\"",
            "public_listen = \"127.0.0.1:1\"",
        );
    let config = write_config(dir.path(), &text);
    for command in ["check", "serve"] {
        let out = Command::new(BIN)
            .args([command, "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{command}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("error: credential_provider[0].claude_wif.federation_rule_id: must start with `fdrl_`"), "{stderr}");
        assert!(
            stderr.contains(
                "error: credential_provider[0].claude_wif.organization_id: must be a UUID"
            ),
            "{stderr}"
        );
        assert!(stderr.contains("2 configuration error(s)"), "{stderr}");
        assert!(!stderr.contains("listener on"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert!(
        !dir.path().join("state").exists(),
        "nothing created before validation passed"
    );
}

#[test]
fn missing_config_file_exits_64() {
    let out = Command::new(BIN)
        .args(["check", "--config", "/nonexistent/issuer.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("config: cannot read /nonexistent/issuer.toml")
    );
}

#[tokio::test]
async fn serve_answers_on_both_listeners_and_stops_on_sigterm() {
    let claude = FakeClaude::default();
    let base = claude.start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &config_text(&base, &dir.path().join("state"), "", ""),
    );
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let (mut public, mut internal) = (None, None);
    while public.is_none() || internal.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("listener log lines");
        let addr = |prefix: &str| line.split(prefix).nth(1).map(|a| a.trim().to_owned());
        public = public.or_else(|| addr("public listener on "));
        internal = internal.or_else(|| addr("internal listener on "));
        log.push(line);
    }
    let (public, internal) = (public.unwrap(), internal.unwrap());
    let http = reqwest::Client::new();

    let discovery: serde_json::Value = http
        .get(format!(
            "http://{public}/providers/claude-demo/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["issuer"],
        "http://127.0.0.1:8081/providers/claude-demo"
    );
    let response = http
        .post(format!("http://{internal}/v1/token"))
        .json(&serde_json::json!({"client_workload": IDENTITY, "server_workload": "api.anthropic.com"}))
        .send().await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["access_token"], "sk-ant-oat01-fake-1");
    let ready = http
        .get(format!("http://{internal}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let on_public = http
        .post(format!("http://{public}/v1/token"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(on_public.status(), 404);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit: {status:?}");
    log.extend(rx.try_iter());
    let log = log.join("\n");
    assert!(
        log.contains("issuer-svc starting") && log.contains("version="),
        "{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("token=…ke-1"), "last 4 only: {log}");
    assert!(
        !log.contains("sk-ant-oat01-fake-1"),
        "token leaked into logs: {log}"
    );
    let assertion = claude.seen.lock().unwrap()[0].body["assertion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !log.contains(&assertion[..40]),
        "assertion leaked into logs"
    );
}
