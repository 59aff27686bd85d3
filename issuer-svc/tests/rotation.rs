//! Key rotation against the real binaries: `issuer-svc serve`, `issuer-svc
//! keys rotate` and `tests/fake-claude` (which caches the JWKS like Claude
//! and refuses a `kid` it has not fetched yet as `unknown_kid`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::process::{fake_claude_binary, free_port};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

const BIN: &str = env!("CARGO_BIN_EXE_issuer-svc");
const ORG: &str = "00000000-0000-4000-8000-000000000001";

#[allow(clippy::disallowed_methods)]
fn elapsed_since(start: StdInstant) -> Duration {
    start.elapsed()
}

#[allow(clippy::disallowed_methods)]
fn instant_now() -> StdInstant {
    StdInstant::now()
}

/// A child process whose output lines are collected.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(command: &mut Command) -> Proc {
        let mut child = command
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Proc { child, lines }
    }

    /// Waits for a line containing `needle` (after `skip` lines); returns
    /// the text after it.
    fn wait_for(&self, needle: &str, skip: usize) -> String {
        let start = instant_now();
        loop {
            if let Some(line) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .skip(skip)
                .find(|line| line.contains(needle))
            {
                return line.split(needle).nth(1).unwrap().trim().to_owned();
            }
            assert!(
                elapsed_since(start) < Duration::from_secs(20),
                "no `{needle}` line:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// fake-claude trusting issuer-svc's `claude-demo` issuer at `public_port`.
fn start_fake_claude(dir: &Path, public_port: u16, jwks_cache_seconds: u64) -> (Proc, String) {
    let config = dir.join("fake-claude.toml");
    std::fs::write(
        &config,
        format!(
            r#"
listen = "127.0.0.1:0"
organization_id = "{ORG}"
jwks_cache_seconds = {jwks_cache_seconds}

[[service_account]]
id = "svac_demo"

[[workspace]]
id = "wrkspc_demo"

[[federation_issuer]]
id = "fdis_demo"
issuer_url = "http://127.0.0.1:{public_port}/providers/claude-demo"
jwks_source = "discovery"
check_jti = true
max_jwt_lifetime_seconds = 3600

[[federation_rule]]
id = "fdrl_demo"
issuer = "fdis_demo"
subject_prefix = "spiffe://cluster.local/ns/demo/*"
audience = "https://api.anthropic.com"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]
oauth_scope = "workspace:developer"
token_lifetime_seconds = 3600
"#
        ),
    )
    .unwrap();
    let proc = Proc::spawn(
        Command::new(fake_claude_binary())
            .arg("--config")
            .arg(&config),
    );
    let addr = proc.wait_for("fake-claude listening on ", 0);
    (proc, format!("http://{addr}"))
}

fn issuer_config(
    dir: &Path,
    state_dir: &Path,
    public_port: u16,
    claude: &str,
    publish_ahead: &str,
) -> PathBuf {
    let path = dir.join(format!("issuer-{public_port}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
[server]
public_listen = "127.0.0.1:{public_port}"
public_base_url = "http://127.0.0.1:{public_port}"
internal_listen = "127.0.0.1:0"
state_dir = "{state}"

[claude]
base_url = "{claude}"
timeout = "5s"

[keys]
publish_ahead = "{publish_ahead}"

[[credential_provider]]
id = "claude-demo"
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_demo"
  organization_id = "{ORG}"
  service_account_id = "svac_demo"
  workspace_id = "wrkspc_demo"

[[client_workload]]
id = "demo"
identity = "spiffe://cluster.local/ns/demo/*"

[[access_policy]]
client_workload = "demo"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
"#,
            state = state_dir.display()
        ),
    )
    .unwrap();
    path
}

/// A running issuer-svc and its internal listener address.
fn start_issuer(config: &Path) -> (Proc, String) {
    let proc = Proc::spawn(Command::new(BIN).args(["serve", "--config"]).arg(config));
    let internal = proc.wait_for("internal listener on ", 0);
    (proc, internal)
}

fn rotate(config: &Path) -> String {
    let out = Command::new(BIN)
        .args(["keys", "rotate", "--config"])
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One token request for a fresh identity (so issuer-svc's token cache
/// never answers it): returns the HTTP status.
async fn exchange(http: &reqwest::Client, internal: &str, n: usize) -> (u16, String) {
    let response = http
        .post(format!("http://{internal}/v1/token"))
        .json(&serde_json::json!({
            "client_workload": format!("spiffe://cluster.local/ns/demo/sa/app-{n}"),
            "server_workload": "api.anthropic.com",
        }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn counters(http: &reqwest::Client, claude: &str) -> serde_json::Value {
    http.get(format!("{claude}/_test/counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `signs from YYYY-MM-DDTHH:MM:SSZ (in N s)` → N.
fn activation_wait(rotate_output: &str) -> u64 {
    rotate_output
        .split("(in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no activation time in {rotate_output}"))
}

/// `new signing key KID (ALG)` → KID.
fn new_kid(rotate_output: &str) -> String {
    rotate_output
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("new signing key "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_ahead_keeps_exchanges_succeeding_while_claude_caches_the_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let public_port = free_port();
    let (_claude_proc, claude) = start_fake_claude(dir.path(), public_port, 2);
    let config = issuer_config(
        dir.path(),
        &dir.path().join("state"),
        public_port,
        &claude,
        "5s",
    );
    let (issuer, internal) = start_issuer(&config);
    let http = reqwest::Client::new();

    assert_eq!(exchange(&http, &internal, 0).await.0, 200);
    let before = issuer.line_count();
    let output = rotate(&config);
    assert!(output.contains("published now; signs from "), "{output}");
    assert!((4..=5).contains(&activation_wait(&output)), "{output}");
    assert!(output.contains("JWKS now publishes:"), "{output}");
    let kid = new_kid(&output);
    issuer.signal("HUP");
    issuer.wait_for("signing keys reloaded", before);

    // Keep exchanging until well after the new key activated.
    let start = instant_now();
    let mut n = 1;
    while elapsed_since(start) < Duration::from_secs(7) {
        let (status, body) = exchange(&http, &internal, n).await;
        assert_eq!(status, 200, "exchange {n} failed: {body}");
        n += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counted = counters(&http, &claude).await;
    assert_eq!(counted["exchanges"], n as u64, "{counted}");
    assert!(
        counted["exchange_failures"]
            .as_object()
            .is_none_or(|f| f.is_empty()),
        "{counted}"
    );
    assert!(counted["jwks_fetches"].as_u64().unwrap() >= 2, "{counted}");
    // The service itself switched to the new key, without a restart.
    let changed = issuer.wait_for("active signing key changed", before);
    assert!(changed.contains(&kid), "{changed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn activating_before_claude_repolls_fails_as_unknown_kid() {
    let dir = tempfile::tempdir().unwrap();
    let public_port = free_port();
    // A cache long enough that the rotation below surely lands inside it.
    let (_claude_proc, claude) = start_fake_claude(dir.path(), public_port, 10);
    let config = issuer_config(
        dir.path(),
        &dir.path().join("state"),
        public_port,
        &claude,
        "0s",
    );
    let (issuer, internal) = start_issuer(&config);
    let http = reqwest::Client::new();

    assert_eq!(exchange(&http, &internal, 0).await.0, 200);
    let before = issuer.line_count();
    let output = rotate(&config);
    // Times are whole seconds: the new key activates at most 1 s from now.
    let wait = activation_wait(&output);
    assert!(wait <= 1, "{output}");
    issuer.signal("HUP");
    issuer.wait_for("signing keys reloaded", before);
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 100)).await;

    let (status, body) = exchange(&http, &internal, 1).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("exchange_failed"), "{body}");
    let counted = counters(&http, &claude).await;
    assert_eq!(counted["exchange_failures"]["unknown_kid"], 1, "{counted}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_one_key_directory_serve_identical_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (a_port, b_port) = (free_port(), free_port());
    let a_config = issuer_config(dir.path(), &state, a_port, "http://127.0.0.1:9", "15m");
    let b_config = issuer_config(dir.path(), &state, b_port, "http://127.0.0.1:9", "15m");
    rotate(&a_config);
    rotate(&a_config);
    let files_before: Vec<_> = std::fs::read_dir(state.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let (_a, _) = start_issuer(&a_config);
    let (_b, _) = start_issuer(&b_config);
    let http = reqwest::Client::new();
    let fetch = |port: u16| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!(
                    "http://127.0.0.1:{port}/providers/claude-demo/jwks.json"
                ))
                .send()
                .await
                .unwrap();
            let etag = response.headers()["etag"].to_str().unwrap().to_owned();
            (etag, response.text().await.unwrap())
        }
    };
    let (a, b) = (fetch(a_port).await, fetch(b_port).await);
    assert_eq!(a, b);
    let jwks: serde_json::Value = serde_json::from_str(&a.1).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let files_after: Vec<_> = std::fs::read_dir(state.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files_before, files_after,
        "serving wrote to the key directory"
    );
}
