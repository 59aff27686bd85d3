//! The admin page on the internal listener, driven with `oneshot`: what it
//! shows, what it never shows, escaping, access (API key, host, CSRF), and
//! that the public listener does not serve it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use issuer_svc::{internal_app, public_app};

const API_KEY: &str = "admin-test-internal-api-key-7f3a";

fn page_request(path: &str) -> Request<Body> {
    Request::get(path)
        .header("host", "127.0.0.1:9090")
        .body(Body::empty())
        .unwrap()
}

fn with_auth(path: &str, authorization: &str) -> Request<Body> {
    Request::get(path)
        .header("host", "127.0.0.1:9090")
        .header("authorization", authorization)
        .body(Body::empty())
        .unwrap()
}

fn basic(password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("admin:{password}")))
}

fn verify_request(provider: &str, csrf: Option<&str>) -> Request<Body> {
    let mut builder = Request::post(format!("/admin/providers/{provider}/verify"))
        .header("host", "127.0.0.1:9090")
        .header("origin", "http://127.0.0.1:9090")
        .header("sec-fetch-site", "same-origin");
    if let Some(csrf) = csrf {
        builder = builder.header("x-csrf-token", csrf);
    }
    builder.body(Body::empty()).unwrap()
}

/// The CSRF token the page embeds.
fn csrf_of(page: &str) -> String {
    let start = page.find(r#"name="csrf-token" content=""#).unwrap() + 27;
    page[start..].split('"').next().unwrap().to_owned()
}

async fn page_of(router: &Router) -> String {
    let (status, headers, body) = send(router.clone(), page_request("/admin")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    body
}

/// An app whose internal API key is [`API_KEY`].
fn app_with_key(claude_base: &str) -> TestApp {
    app_from(|state_dir| {
        let key_file = state_dir.parent().unwrap().join("api-key");
        std::fs::write(&key_file, format!("{API_KEY}\n")).unwrap();
        let server = format!("internal_api_key_file = \"{}\"", key_file.display());
        config_text(claude_base, state_dir, &server, "")
    })
}

#[tokio::test]
async fn the_page_shows_providers_policies_tokens_and_keys() {
    let claude = FakeClaude::default();
    let app = app(&claude.start().await).await;
    let router = internal_app(app.state.clone());
    let (status, _, body) = send(router.clone(), token_request(&token_body(IDENTITY))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let page = page_of(&router).await;
    for expected in [
        "<!DOCTYPE html>",
        r#"<html lang="en">"#,
        "Credential providers",
        "claude-demo",
        r#"value="http://127.0.0.1:8081/providers/claude-demo""#,
        r#"<label for="issuer-claude-demo">OIDC issuer URL</label>"#,
        r#"data-copy-target="issuer-claude-demo""#,
        "fdrl_demo",
        "00000000-0000-4000-8000-000000000001",
        "svac_demo",
        "wrkspc_demo",
        "https://api.anthropic.com",
        "workspace:developer",
        "1 h 0 min",
        r#"data-verify-url="/admin/providers/claude-demo/verify""#,
        r#"aria-live="polite""#,
        "Inactive",
        "Access policies",
        "demo-app",
        "off-app",
        r#"<th scope="col">Client workload</th>"#,
        "Token status",
        r#"<span class="pill pill-ok">fresh</span>"#,
        "ke-1</code>",
        "Succeeded",
        "Signing keys",
        "ES256",
        r#"<span class="pill pill-ok">active</span>"#,
        r#"<script src="/admin/assets/admin.js" defer></script>"#,
    ] {
        assert!(page.contains(expected), "missing {expected:?} in\n{page}");
    }
    let keys = app.state.keys.current();
    for status in keys.statuses(app.state.clock.now()) {
        assert!(page.contains(&status.kid), "kid {} missing", status.kid);
    }
    assert!(
        !page.contains("sk-ant-oat01"),
        "a token leaked into the page"
    );
}

#[tokio::test]
async fn answers_carry_a_strict_security_policy() {
    let app = app(&format!("http://{}", dead_addr().await)).await;
    let (_, headers, _) = send(internal_app(app.state.clone()), page_request("/admin")).await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn names_and_descriptions_are_escaped() {
    let app = app_from(|dir| {
        config_text("http://127.0.0.1:1", dir, "", "")
            .replacen(
                "id = \"claude-demo\"\n",
                "id = \"claude-demo\"\nname = \"<script>alert('n')</script> & \\\"co\\\"\"\n\
                 description = \"<img src=x onerror=alert(1)>\"\n",
                1,
            )
            .replace("id = \"demo-app\"", "id = \"demo<b>app\"")
            .replace(
                "client_workload = \"demo-app\"",
                "client_workload = \"demo<b>app\"",
            )
    });
    let page = page_of(&internal_app(app.state.clone())).await;
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<img src=x"));
    assert!(!page.contains("demo<b>app"));
    assert!(page.contains("&lt;script&gt;alert('n')&lt;/script&gt; &amp; &quot;co&quot;"));
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("demo&lt;b&gt;app"));
}

#[tokio::test]
async fn with_an_api_key_the_page_needs_it_and_never_shows_it() {
    let claude = FakeClaude::default();
    let app = app_with_key(&claude.start().await);
    let router = internal_app(app.state.clone());

    for path in ["/admin", "/admin/status"] {
        let (status, headers, body) = send(router.clone(), page_request(path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic realm=\"issuer-svc admin\"")
        );
        assert!(body.contains("Sign in required"));
        for wrong in [basic("wrong"), "Bearer wrong".to_owned(), basic("")] {
            let (status, _, _) = send(router.clone(), with_auth(path, &wrong)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {wrong}");
        }
    }
    let (status, _, _) = send(router.clone(), verify_request("claude-demo", Some("x"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, page) = send(router.clone(), with_auth("/admin", &basic(API_KEY))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Internal API key required"));
    let bearer = format!("Bearer {API_KEY}");
    let (status, _, _) = send(router.clone(), with_auth("/admin/status", &bearer)).await;
    assert_eq!(status, StatusCode::OK);

    // A token was issued; the page shows neither it nor the key.
    let request = Request::post("/v1/token")
        .header("content-type", "application/json")
        .header("authorization", &bearer)
        .body(Body::from(token_body(IDENTITY)))
        .unwrap();
    assert_eq!(send(router.clone(), request).await.0, StatusCode::OK);
    let (_, _, page) = send(router.clone(), with_auth("/admin", &basic(API_KEY))).await;
    assert!(page.contains("ke-1</code>"));
    for secret in [API_KEY, "sk-ant-oat01", "PRIVATE KEY", "\"d\":", "eyJ"] {
        assert!(!page.contains(secret), "{secret:?} is on the page");
    }

    // The static assets hold no data and need no key.
    for asset in ["/admin/assets/admin.css", "/admin/assets/admin.js"] {
        let (status, _, _) = send(router.clone(), page_request(asset)).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
    }
}

#[tokio::test]
async fn without_an_api_key_only_local_hosts_are_served() {
    let app = app(&format!("http://{}", dead_addr().await)).await;
    let router = internal_app(app.state.clone());
    let request = Request::get("/admin")
        .header("host", "attacker.example:9090")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(router.clone(), request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("internal_api_key_file"));
    for host in ["localhost:9090", "[::1]:9090"] {
        let request = Request::get("/admin")
            .header("host", host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(router.clone(), request).await.0,
            StatusCode::OK,
            "{host}"
        );
    }
}

#[tokio::test]
async fn the_public_listener_does_not_serve_the_admin_page() {
    let app = app(&format!("http://{}", dead_addr().await)).await;
    let public = public_app(app.state.clone());
    for path in [
        "/admin",
        "/admin/",
        "/admin/status",
        "/admin/assets/admin.js",
    ] {
        let (status, _, _) = send(public.clone(), page_request(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _, _) = send(public, verify_request("claude-demo", Some("x"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn verify_needs_the_pages_csrf_token_and_the_same_origin() {
    let app = app(&format!("http://{}", dead_addr().await)).await;
    let router = internal_app(app.state.clone());
    let csrf = csrf_of(&page_of(&router).await);
    assert_eq!(csrf.len(), 43);

    for token in [None, Some("forged")] {
        let (status, headers, _) = send(router.clone(), verify_request("claude-demo", token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(headers.get("x-admin-fragment").is_none());
    }
    let cross_site = Request::post("/admin/providers/claude-demo/verify")
        .header("host", "127.0.0.1:9090")
        .header("origin", "https://attacker.example")
        .header("x-csrf-token", &csrf)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(router.clone(), cross_site).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, headers, _) =
        send(router.clone(), verify_request("claude-demo", Some(&csrf))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-admin-fragment"], "1");
    let (status, _, body) = send(router, verify_request("nope", Some(&csrf))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("No such credential provider"));
}

#[tokio::test]
async fn the_status_fragment_shows_a_failing_exchange() {
    let claude = FakeClaude::default();
    claude.answer_with(
        401,
        r#"{"type":"error","error":{"type":"authentication_error","message":"audience_mismatch"}}"#,
    );
    let app = app(&claude.start().await).await;
    let router = internal_app(app.state.clone());
    let (status, _, _) = send(router.clone(), token_request(&token_body(IDENTITY))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);

    let (status, headers, body) = send(router, page_request("/admin/status")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-admin-fragment"], "1");
    assert!(!body.contains("<html"), "a fragment, not a page");
    assert!(body.contains("Token status") && body.contains("Signing keys"));
    assert!(
        body.contains(r#"<span class="pill pill-error">failing</span>"#),
        "{body}"
    );
    assert!(body.contains("Failed"));
    assert!(body.contains("audience_mismatch"));
}
