//! Helpers shared by the unit tests: real signing keys, a config, and a
//! discovery + JWKS server on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::config::Config;

pub const NOW: i64 = 1_800_000_000;
pub const ORG: &str = "00000000-0000-4000-8000-000000000001";
pub const SUBJECT: &str = "spiffe://cluster.local/ns/demo/sa/app";
pub const AUDIENCE: &str = "https://api.anthropic.com";

/// An EC signing key made with ring, plus its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    pub fn es256(kid: &str) -> Self {
        Self::ec(kid, Algorithm::ES256)
    }

    pub fn es384(kid: &str) -> Self {
        Self::ec(kid, Algorithm::ES384)
    }

    fn ec(kid: &str, alg: Algorithm) -> Self {
        let (ring_alg, crv, alg_name, coord) = match alg {
            Algorithm::ES256 => (
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                "P-256",
                "ES256",
                32,
            ),
            Algorithm::ES384 => (
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                "P-384",
                "ES384",
                48,
            ),
            other => panic!("unsupported test alg {other:?}"),
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(ring_alg, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(ring_alg, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        assert_eq!(point.len(), 1 + 2 * coord);
        let jwk = json!({
            "kty": "EC",
            "crv": crv,
            "alg": alg_name,
            "use": "sig",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..=coord]),
            "y": URL_SAFE_NO_PAD.encode(&point[1 + coord..]),
        });
        Self {
            kid: kid.to_owned(),
            alg,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk,
        }
    }

    /// Signs `claims` with this key and its `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with_header(&header, claims)
    }

    pub fn sign_with_header(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }

    pub fn parsed_jwk(&self) -> jsonwebtoken::jwk::Jwk {
        serde_json::from_value(self.jwk.clone()).unwrap()
    }
}

/// Claims that pass every check for [`config`] at `now`.
pub fn claims(issuer_url: &str, now: i64) -> Value {
    json!({
        "iss": issuer_url,
        "sub": SUBJECT,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": format!("jti-{}", URL_SAFE_NO_PAD.encode(rand_bytes())),
    })
}

fn rand_bytes() -> [u8; 12] {
    use rand::RngCore as _;
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

/// A config with one issuer at `issuer_url` and two rules: `fdrl_demo`
/// (one workspace) and `fdrl_multi` (two workspaces).
pub fn config_toml(issuer_url: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
organization_id = "{ORG}"

[[service_account]]
id = "svac_demo"

[[workspace]]
id = "wrkspc_demo"

[[workspace]]
id = "wrkspc_other"

[[federation_issuer]]
id = "fdis_demo"
issuer_url = "{issuer_url}"

[[federation_rule]]
id = "fdrl_demo"
issuer = "fdis_demo"
subject_prefix = "spiffe://cluster.local/ns/demo/*"
audience = "{AUDIENCE}"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]
token_lifetime_seconds = 3600

[[federation_rule]]
id = "fdrl_multi"
issuer = "fdis_demo"
subject_prefix = "spiffe://cluster.local/ns/demo/*"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo", "wrkspc_other"]
oauth_scope = "workspace:inference"
"#
    )
}

pub fn config(issuer_url: &str) -> Config {
    Config::from_toml(&config_toml(issuer_url)).unwrap()
}

/// [`config_toml`] plus: `svac_limited` (member of `wrkspc_other` only), a
/// claims rule, a rule for all workspaces, rules with the two scopes that
/// reach no API endpoint, a rule covering the default workspace, and an
/// issuer without jti checks that allows 7200 s assertions.
pub fn full_config_toml(issuer_url: &str) -> String {
    format!(
        r#"{}
[[service_account]]
id = "svac_limited"
workspaces = ["wrkspc_other"]

[[federation_issuer]]
id = "fdis_lenient"
issuer_url = "{issuer_url}"
check_jti = false
max_jwt_lifetime_seconds = 7200

[[federation_rule]]
id = "fdrl_claims"
issuer = "fdis_demo"
claims = {{ ns = "demo", team = "billing" }}
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]

[[federation_rule]]
id = "fdrl_all"
issuer = "fdis_demo"
subject_prefix = "{SUBJECT}"
service_account = "svac_limited"
applies_to_all_workspaces = true

[[federation_rule]]
id = "fdrl_tunnels"
issuer = "fdis_demo"
subject_prefix = "{SUBJECT}"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]
oauth_scope = "workspace:manage_tunnels"

[[federation_rule]]
id = "fdrl_admin"
issuer = "fdis_demo"
subject_prefix = "{SUBJECT}"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]
oauth_scope = "org:admin"

[[federation_rule]]
id = "fdrl_default"
issuer = "fdis_demo"
subject_prefix = "{SUBJECT}"
service_account = "svac_demo"
workspace_ids = ["default", "wrkspc_demo"]

[[federation_rule]]
id = "fdrl_lenient"
issuer = "fdis_lenient"
subject_prefix = "{SUBJECT}"
service_account = "svac_demo"
workspace_ids = ["wrkspc_demo"]
"#,
        config_toml(issuer_url)
    )
}

pub fn full_config(issuer_url: &str) -> Config {
    Config::from_toml(&full_config_toml(issuer_url)).unwrap()
}

/// One answer from [`call`].
pub struct Reply {
    pub status: axum::http::StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

/// The `anthropic-beta` the official SDKs send to `uri`: both flags to the
/// token endpoint, the OAuth one to the API. `None` for other paths.
pub fn sdk_beta(uri: &str) -> Option<&'static str> {
    if uri.starts_with("/v1/oauth/token") {
        Some("oauth-2025-04-20,oidc-federation-2026-04-01")
    } else if uri.starts_with("/v1/messages") || uri.starts_with("/v1/models") {
        Some("oauth-2025-04-20")
    } else {
        None
    }
}

/// An HTTP client that sends both beta flags on every request, as the
/// SDKs do on the token endpoint.
pub fn sdk_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "anthropic-beta",
        reqwest::header::HeaderValue::from_static("oauth-2025-04-20,oidc-federation-2026-04-01"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Drives `app(state)` with one request (`body` `null` = empty), with the
/// SDKs' `anthropic-beta` ([`sdk_beta`]) unless `headers` has one.
pub async fn call(
    state: &crate::AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Reply {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let mut request = axum::http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let has_beta = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("anthropic-beta"));
    if let (false, Some(beta)) = (has_beta, sdk_beta(uri)) {
        request = request.header("anthropic-beta", beta);
    }
    let body = if body.is_null() {
        axum::body::Body::empty()
    } else {
        axum::body::Body::from(body.to_string())
    };
    let response = crate::app(state.clone())
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// The JSON body of a token exchange.
pub fn exchange_body(assertion: &str, rule: &str) -> Value {
    json!({
        "grant_type": crate::exchange::GRANT_TYPE,
        "assertion": assertion,
        "federation_rule_id": rule,
        "organization_id": ORG,
        "service_account_id": "svac_demo",
    })
}

#[derive(Clone, Default)]
struct IssuerState {
    issuer_url: Arc<Mutex<String>>,
    keys: Arc<Mutex<Vec<Value>>>,
    jwks_fetches: Arc<AtomicUsize>,
}

/// A discovery + JWKS server on 127.0.0.1, like issuer-svc's public listener.
pub struct IssuerServer {
    pub issuer_url: String,
    state: IssuerState,
}

impl IssuerServer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let state = IssuerState::default();
        *state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer_url = format!("http://{addr}/providers/demo");
        *state.issuer_url.lock().unwrap() = issuer_url.clone();
        let router = Router::new()
            .route(
                "/providers/demo/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/providers/demo/jwks.json", get(jwks))
            .route("/huge/.well-known/openid-configuration", get(huge))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { issuer_url, state }
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().unwrap() = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// An issuer URL on this server whose discovery document exceeds 1 MiB.
    pub fn huge_issuer_url(&self) -> String {
        self.issuer_url.replace("/providers/demo", "/huge")
    }
}

async fn discovery(State(state): State<IssuerState>) -> axum::Json<Value> {
    let issuer = state.issuer_url.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "id_token_signing_alg_values_supported": ["ES256", "ES384"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
    }))
}

async fn jwks(State(state): State<IssuerState>) -> axum::Json<Value> {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.lock().unwrap().clone();
    axum::Json(json!({ "keys": keys }))
}

async fn huge() -> (StatusCode, String) {
    (
        StatusCode::OK,
        "x".repeat(crate::jwks::MAX_DOCUMENT_BYTES + 1),
    )
}

/// An issuer URL on a loopback port nobody listens on.
pub async fn dead_issuer_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/providers/dead")
}
