//! Helpers shared by the fake-host tests: configurations, standard
//! identities and tokens, issuer answers, starting a request, delivering an
//! answer, and the assertions several test files make.

use std::rc::Rc;

use claude_wif_api::AccessToken;
use serde_json::{Value, json};

use super::fake_host::{FakeHost, Reply};
use crate::cache;
use crate::config::FilterConfig;
use crate::filter::RequestFilter;
use crate::root;
use crate::worker::{SharedWorker, Worker};

/// The client workload most tests serve.
pub const ID: &str = "spiffe://cluster.local/ns/demo/sa/app";
/// A token as issuer-svc hands it out (its middle never appears in logs).
pub const TOKEN: &str = "sk-ant-oat01-FRESHtoken-WXYZ";
/// The key issuer-svc's internal API expects (never logged).
pub const API_KEY: &str = "internal-key-SECRET-9876";
/// What a client SDK sends with its own credentials.
pub const CLIENT_HEADERS: [(&str, &str); 2] = [
    (":path", "/v1/messages"),
    ("x-api-key", "sk-ant-api03-client"),
];

/// The plugin configuration with `identity` and the members of `extra`
/// (an object) added, as JSON text.
pub fn config_json(identity: Value, extra: Value) -> String {
    let mut config = json!({"issuer_cluster": "issuer_svc", "identity": identity});
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    config.to_string()
}

/// `{"source":"static","value":ID}`.
pub fn static_identity() -> Value {
    json!({"source": "static", "value": ID})
}

/// A validated configuration (panics on an invalid one).
pub fn config(identity: Value, extra: Value) -> Rc<FilterConfig> {
    Rc::new(FilterConfig::parse(config_json(identity, extra).as_bytes()).unwrap())
}

/// A worker configured with `identity` and `extra`, without a root.
pub fn worker(identity: Value, extra: Value) -> SharedWorker {
    Worker::shared(Some(config(identity, extra)))
}

/// A worker serving the static identity [`ID`].
pub fn static_worker() -> SharedWorker {
    worker(static_identity(), json!({}))
}

/// issuer-svc's answer with a token.
pub fn ok_answer(token: &str, expires_in: u64) -> String {
    json!({"access_token": token, "token_type": "Bearer",
        "expires_in": expires_in, "credential_provider": "claude-prod"})
    .to_string()
}

/// Starts request `ctx` with the standard client headers.
pub fn client_request(host: &mut FakeHost, ctx: u32) {
    host.new_request(ctx);
    for (name, value) in CLIENT_HEADERS {
        host.add_request_header(name, value);
    }
}

/// A fake host whose request carries the standard client headers.
pub fn client_host() -> FakeHost {
    let mut host = FakeHost::new();
    client_request(&mut host, 1);
    host
}

/// Delivers `status`/`body` as the answer to the latest dispatch, in the
/// context of `request` (the request that made it).
pub fn answer(request: &RequestFilter, host: &mut FakeHost, status: Option<&str>, body: &str) {
    let call = host.last_dispatch_token();
    answer_call(request, host, call, status, body);
}

/// Delivers `status`/`body` as the answer to call `call`, in the context of
/// `request`.
pub fn answer_call(
    request: &RequestFilter,
    host: &mut FakeHost,
    call: u32,
    status: Option<&str>,
    body: &str,
) {
    host.switch_to(request.id());
    host.answer(status, body);
    root::on_request_call_answer(request, host, call, body.len());
}

/// The client workload the `i`th dispatch asked a token for.
pub fn asked_identity(host: &FakeHost, i: usize) -> String {
    host.dispatch_json(i)["client_workload"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The `stale_token_sha256` the `i`th dispatch named, if any.
pub fn asked_stale_sha256(host: &FakeHost, i: usize) -> Option<String> {
    host.dispatch_json(i)
        .get("stale_token_sha256")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// How a token is named to issuer-svc and in invalidation records.
pub fn sha256_of(token: &str) -> String {
    cache::token_sha256(&AccessToken::new(token))
}

/// `Bearer <token>`, as a forwarded request carries it.
pub fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

/// The one local reply of the effective request, and its body as JSON.
pub fn only_reply(host: &FakeHost) -> (&Reply, Value) {
    assert_eq!(host.replies().len(), 1, "{:?}", host.replies());
    let reply = &host.replies()[0];
    (reply, serde_json::from_str(&reply.body).unwrap())
}

/// Neither any of `secrets` nor the middle of [`TOKEN`] or [`API_KEY`]
/// appears in a log line.
pub fn assert_not_logged(host: &FakeHost, secrets: &[&str]) {
    let logs = host.all_logs();
    for (i, secret) in ["FRESHtoken", "SECRET"].iter().chain(secrets).enumerate() {
        // The message names the pattern by number: a test never prints one.
        assert!(!logs.contains(secret), "secret pattern #{i} was logged");
    }
}

/// A cache entry for `token` expiring at `expires_at_ms`, `lifetime_s`
/// long, with no refresh lease.
pub fn token_entry(token: &str, expires_at_ms: u64, lifetime_s: u64) -> cache::CacheEntry {
    cache::CacheEntry {
        token: AccessToken::new(token),
        expires_at_ms,
        lifetime_s,
        refresh_after_ms: 0,
    }
}
