//! issuer-svc's `POST /v1/token` through the real internal router: any body
//! is answered 200, 400 `invalid_request` with a description, or 403
//! `access_denied`; never a panic, never a 5xx. Claude is a stub that
//! answers every exchange with a one-hour token.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use issuer_svc::AppState;
use issuer_svc::clock::{Clock, SystemClock};
use issuer_svc::config::Config;
use issuer_svc::exchange::{ExchangeError, ExchangeRequest, RawResponse, Transport};
use issuer_svc::keys::{KeySet, KeyState, PublishedKey, SigningKey};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const CONFIG: &str = r#"
[server]
public_listen = "127.0.0.1:0"
public_base_url = "https://issuer.example.com"
internal_listen = "127.0.0.1:0"
state_dir = "/nonexistent/issuer-svc-fuzz"

[claude]
base_url = "https://api.anthropic.com"

[[credential_provider]]
id = "claude-fuzz"
name = "Claude fuzz"
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_fuzz"
  organization_id = "00000000-0000-4000-8000-000000000001"
  service_account_id = "svac_fuzz"

[[client_workload]]
id = "demo"
identity = "spiffe://cluster.local/ns/demo/*"

[[access_policy]]
client_workload = "demo"
server_workload = "api.anthropic.com"
credential_provider = "claude-fuzz"
"#;

struct StubClaude;

impl Transport for StubClaude {
    fn post(&self, _: ExchangeRequest) -> BoxFuture<'static, Result<RawResponse, ExchangeError>> {
        async {
            Ok(RawResponse {
                status: 200,
                request_id: None,
                retry_after: None,
                body: br#"{"access_token":"sk-ant-oat01-fuzz","token_type":"Bearer","expires_in":3600,"scope":"workspace:developer"}"#.to_vec(),
            })
        }
        .boxed()
    }
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    app: Router,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let config = Config::from_toml(CONFIG)
            .expect("the fuzz config is valid")
            .config;
        let (key, _) = SigningKey::generate_es256().expect("an ES256 key");
        let keys = KeySet::new(vec![PublishedKey {
            key: Arc::new(key),
            state: KeyState::Active,
        }])
        .expect("one active key");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let state = AppState::new(config, keys, clock, Arc::new(StubClaude));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        Harness {
            runtime,
            app: issuer_svc::internal_app(state),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    let request = Request::post("/v1/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    let (status, body) = harness.runtime.block_on(async {
        let response =
            tokio::time::timeout(Duration::from_secs(5), harness.app.clone().oneshot(request))
                .await
                .expect("answered within 5 s")
                .expect("infallible");
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        (status, body)
    });
    let json: serde_json::Value = serde_json::from_slice(&body).expect("every answer is JSON");
    match status {
        200 => assert_eq!(json["token_type"], "Bearer"),
        400 => {
            assert_eq!(json["error"], "invalid_request");
            let description = json["error_description"].as_str().unwrap_or_default();
            assert!(!description.is_empty(), "a 400 without a description");
        }
        403 => assert_eq!(json["error"], "access_denied"),
        other => panic!("unexpected status {other}: {json}"),
    }
});
