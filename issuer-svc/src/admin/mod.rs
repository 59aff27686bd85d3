//! The admin page, served on the internal listener only (never the public
//! one): credential providers with their OIDC issuer URL and a **Verify**
//! button (the checks of `issuer-svc verify`), access policies, the live
//! token status per (provider, client workload identity), and the signing
//! keys. Server-rendered with `maud` (compile-time templates, escaped by
//! default); a little plain JS (`assets/admin.js`) copies the issuer URL,
//! runs Verify and refreshes the live tables. No front-end build step.
//!
//! Routes (all under `/admin`):
//! - `GET /admin`: the page;
//! - `GET /admin/status`: the live tables (token status, signing keys) as an
//!   HTML fragment, fetched every few seconds by the page;
//! - `POST /admin/providers/{id}/verify`: runs Verify, answers an HTML
//!   fragment (the green or red banner); needs the page's CSRF token in
//!   `x-csrf-token`;
//! - `GET /admin/assets/{admin.css,admin.js}`: static, no secrets.
//!
//! Access: see [`auth`]. The page never shows a token (only its last 4
//! characters), an assertion, a private key, or the internal API key.

mod assets;
mod auth;
mod format;
mod live;
mod page;
mod verify_view;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::AppState;
use crate::verify::{VerifyContext, VerifyRequest, http_client};

/// Path of the page.
pub const ADMIN_PATH: &str = "/admin";
/// Header that carries the CSRF token on `POST`s.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Marks answers that are fragments of the page.
const FRAGMENT_HEADER: &str = "x-admin-fragment";

/// What the admin handlers share: the service state and this router's
/// CSRF token (random per process, embedded in the page).
#[derive(Clone)]
struct AdminState {
    app: AppState,
    csrf: Arc<str>,
}

/// The admin routes, with their own state; merge into the internal router.
pub fn admin_app(state: AppState) -> Router {
    let admin = AdminState {
        app: state,
        csrf: auth::new_csrf_token().into(),
    };
    let guarded = Router::new()
        .route(ADMIN_PATH, get(page))
        .route("/admin/status", get(status))
        .route("/admin/providers/{id}/verify", post(verify))
        .route_layer(middleware::from_fn_with_state(admin.clone(), auth::guard));
    Router::new()
        .route("/admin/assets/admin.css", get(assets::css))
        .route("/admin/assets/admin.js", get(assets::js))
        .merge(guarded)
        .layer(middleware::map_response(auth::security_headers))
        .with_state(admin)
}

async fn page(State(admin): State<AdminState>) -> Html<String> {
    let view = live::View::of(&admin.app);
    Html(page::render(&view, &admin.csrf).into_string())
}

async fn status(State(admin): State<AdminState>) -> Response {
    let view = live::View::of(&admin.app);
    fragment(StatusCode::OK, live::render(&view))
}

/// A piece of the page the script may insert: marked `x-admin-fragment: 1`
/// (sign-in and error pages are not).
fn fragment(status: StatusCode, markup: maud::Markup) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    response
        .headers_mut()
        .insert(FRAGMENT_HEADER, axum::http::HeaderValue::from_static("1"));
    response
}

async fn verify(State(admin): State<AdminState>, Path(id): Path<String>) -> Response {
    let served = admin.app.config.current();
    let config = &served.config;
    if config.provider(&id).is_none() {
        let banner = verify_view::problem("No such credential provider", &id);
        return fragment(StatusCode::NOT_FOUND, banner);
    }
    let http = match http_client(config.claude.timeout) {
        Ok(http) => http,
        Err(err) => {
            let banner = verify_view::problem("Verify could not start", &err);
            return fragment(StatusCode::INTERNAL_SERVER_ERROR, banner);
        }
    };
    let keys = admin.app.keys.current();
    let transport = admin.app.tokens.transport();
    let ctx = VerifyContext {
        config,
        keys: &keys,
        clock: admin.app.clock.as_ref(),
        http: &http,
        transport: transport.as_ref(),
    };
    let request = VerifyRequest {
        provider: &id,
        subject: None,
    };
    let report = crate::verify::verify(&ctx, request).await;
    tracing::info!(provider = %id, verified = report.succeeded(), "admin page: verify");
    fragment(StatusCode::OK, verify_view::banner(&report))
}
