//! Who may use the admin page, and the headers every admin answer carries.
//!
//! - With `server.internal_api_key_file` set, every admin route but the
//!   static assets needs the key: as the **password of HTTP Basic** (any user
//!   name, e.g. `admin`), so a browser prompts for it and then resends it; or
//!   as `authorization: Bearer <key>`, like the token API. Otherwise the
//!   answer is 401 with `www-authenticate: Basic realm="issuer-svc admin"`.
//! - Without a key the internal listener is meant for loopback, so the page
//!   answers only requests whose `Host` is an IP address or `localhost`: a
//!   web page that rebinds its own DNS name to 127.0.0.1 gets 403.
//! - `POST`s (Verify) must carry the page's CSRF token in `x-csrf-token`
//!   (a random value per process, in the page's `<meta name="csrf-token">`),
//!   and are refused when `sec-fetch-site` or `origin` show another site. A
//!   form or script of another site can neither read the token nor set the
//!   header without a CORS preflight, which nothing here answers.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{AdminState, CSRF_HEADER};
use crate::config::InternalApiKey;

/// The realm the browser shows in its sign-in prompt.
const REALM: &str = r#"Basic realm="issuer-svc admin", charset="UTF-8""#;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// 32 random bytes, URL-safe base64.
pub(super) fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Middleware of the page, the status fragment and Verify.
pub(super) async fn guard(
    State(admin): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    let served = admin.app.config.current();
    let headers = request.headers();
    match &served.config.server.internal_api_key {
        Some(key) if !presents(key, headers) => return unauthorized(),
        Some(_) => {}
        None if !local_host(request.headers().get(header::HOST)) => {
            return forbidden(
                "Without an internal API key the admin page answers only requests to an IP \
                 address or localhost. Set server.internal_api_key_file to reach it by a DNS name.",
            );
        }
        None => {}
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD)
        && let Err(why) = same_origin(headers, &admin.csrf)
    {
        tracing::warn!(path = %request.uri().path(), reason = why, "admin page: cross-site request refused");
        return forbidden(why);
    }
    next.run(request).await
}

/// Whether the request carries the key: Basic password or Bearer.
pub(super) fn presents(key: &InternalApiKey, headers: &HeaderMap) -> bool {
    let Some((scheme, value)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
    else {
        return false;
    };
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return key.matches(value);
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    STANDARD
        .decode(value)
        .ok()
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(_, password)| key.matches(password))
        })
        .unwrap_or(false)
}

/// `Host` is an IP address or `localhost` (any port), or absent (not a browser).
pub(super) fn local_host(host: Option<&HeaderValue>) -> bool {
    let Some(host) = host else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(inside, _)| inside),
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        },
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// CSRF token, `sec-fetch-site` and `origin` of a state-changing request.
pub(super) fn same_origin(headers: &HeaderMap, csrf: &str) -> Result<(), &'static str> {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = header_text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Err("sec-fetch-site shows a request from another site");
    }
    if let Some(origin) = header_text(header::ORIGIN.as_str()) {
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        let host = header_text(header::HOST.as_str());
        let same = matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h));
        if !same {
            return Err("origin is not this page's origin");
        }
    }
    match header_text(CSRF_HEADER) {
        Some(given) if same_digest(given, csrf) => Ok(()),
        Some(_) => Err("wrong CSRF token (reload the page)"),
        None => Err("missing CSRF token (x-csrf-token)"),
    }
}

/// Compares in constant time over SHA-256 digests.
fn same_digest(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .iter()
        .zip(Sha256::digest(b.as_bytes()).iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn unauthorized() -> Response {
    let body = message_page(
        "Sign in required",
        "The admin page needs the internal API key: sign in with any user name (for example \
         admin) and the key from server.internal_api_key_file as the password.",
    );
    let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
    response
}

fn forbidden(why: &str) -> Response {
    (StatusCode::FORBIDDEN, message_page("Forbidden", why)).into_response()
}

fn message_page(title: &str, text: &str) -> Html<String> {
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · issuer-svc admin" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/admin/assets/admin.css";
            }
            body {
                main class="message" {
                    h1 { (title) }
                    p { (text) }
                }
            }
        }
    };
    Html(page.into_string())
}

/// Headers on every admin answer: a strict CSP (scripts and styles only
/// from `/admin/assets`), no framing, no caching of the page, no referrer.
pub(super) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_key_is_accepted_as_basic_password_or_bearer() {
        let key = InternalApiKey::new("s3cret");
        let basic = |pair: &str| format!("Basic {}", STANDARD.encode(pair));
        assert!(presents(
            &key,
            &headers(&[("authorization", &basic("admin:s3cret"))])
        ));
        assert!(presents(
            &key,
            &headers(&[("authorization", &basic(":s3cret"))])
        ));
        assert!(presents(
            &key,
            &headers(&[("authorization", "Bearer s3cret")])
        ));
        assert!(!presents(
            &key,
            &headers(&[("authorization", &basic("admin:wrong"))])
        ));
        assert!(!presents(
            &key,
            &headers(&[("authorization", &basic("s3cret"))])
        ));
        assert!(!presents(&key, &headers(&[("authorization", "Basic !!!")])));
        assert!(!presents(
            &key,
            &headers(&[("authorization", "Digest s3cret")])
        ));
        assert!(!presents(&key, &headers(&[])));
    }

    #[test]
    fn without_a_key_only_ip_or_localhost_hosts_are_served() {
        let host = |text: &str| local_host(Some(&HeaderValue::from_str(text).unwrap()));
        for ok in [
            "127.0.0.1:9090",
            "localhost",
            "LOCALHOST:1",
            "[::1]:9090",
            "10.0.0.7",
        ] {
            assert!(host(ok), "{ok}");
        }
        for refused in ["evil.example:9090", "localhost.evil.example", "issuer-svc"] {
            assert!(!host(refused), "{refused}");
        }
        assert!(local_host(None));
    }

    #[test]
    fn posts_need_the_csrf_token_and_the_same_origin() {
        let ok = [("x-csrf-token", "tok"), ("host", "127.0.0.1:9090")];
        assert_eq!(same_origin(&headers(&ok), "tok"), Ok(()));
        let with = |extra: (&'static str, &str)| {
            let mut pairs = ok.to_vec();
            pairs.push(extra);
            same_origin(&headers(&pairs), "tok")
        };
        assert_eq!(with(("origin", "http://127.0.0.1:9090")), Ok(()));
        assert_eq!(with(("sec-fetch-site", "same-origin")), Ok(()));
        assert!(with(("origin", "http://evil.example")).is_err());
        assert!(with(("origin", "null")).is_err());
        assert!(with(("sec-fetch-site", "cross-site")).is_err());
        assert!(with(("sec-fetch-site", "same-site")).is_err());
        assert!(same_origin(&headers(&[("x-csrf-token", "other")]), "tok").is_err());
        assert!(same_origin(&headers(&[]), "tok").is_err());
    }

    #[test]
    fn csrf_tokens_are_random() {
        let (a, b) = (new_csrf_token(), new_csrf_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }
}
