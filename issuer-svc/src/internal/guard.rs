//! What keeps browsers out of the internal API when no internal API key is
//! set (the loopback setup): a web page can make a browser send requests to
//! `127.0.0.1`, but only under a name it controls in public DNS (DNS
//! rebinding) or as a "simple" cross-site request. So, without a key,
//! `/v1/token` and `/metrics` answer only a `Host` that no web page can own:
//!
//! - an IP address, `localhost` or a name under `.localhost`;
//! - a name without dots (`issuer-svc`, the filter's default
//!   `issuer_authority`; Docker and Kubernetes short service names);
//! - a name under `.cluster.local` (Kubernetes services, the Istio
//!   manifest's `issuer-svc.claude-wif.svc.cluster.local`) or `.internal`
//!   (reserved for private use);
//! - a name listed in `server.internal_hosts`.
//!
//! A request without `Host` (nor an authority in its URI) is not from a
//! browser and passes. `/v1/token` always needs `content-type:
//! application/json`, which a cross-site page cannot send without a CORS
//! preflight that nothing here answers.

use axum::http::{HeaderMap, Uri, header};

use crate::error::AppError;

/// Suffixes of names that are not delegated in public DNS.
const PRIVATE_SUFFIXES: [&str; 3] = [".localhost", ".cluster.local", ".internal"];

/// Longest Host shown in an error message.
const MAX_SHOWN: usize = 200;

/// Without an internal API key, refuses a `Host` a web page could own.
pub fn check_host(headers: &HeaderMap, uri: &Uri, configured: &[String]) -> Result<(), AppError> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    if second.is_some() {
        return Err(AppError::ForeignHost("(several Host headers)".to_owned()));
    }
    let authority = match first {
        Some(value) => match value.to_str() {
            Ok(text) => text,
            Err(_) => return Err(AppError::ForeignHost("(not printable ASCII)".to_owned())),
        },
        None => match uri.authority() {
            Some(authority) => authority.as_str(),
            None => return Ok(()),
        },
    };
    if accepted(host_name(authority), configured) {
        Ok(())
    } else {
        Err(AppError::ForeignHost(shown(authority)))
    }
}

/// Requires `content-type: application/json` (parameters such as `charset`
/// allowed).
pub fn check_json(headers: &HeaderMap) -> Result<(), AppError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(AppError::NotJson("none".to_owned()));
    };
    let text = value.to_str().unwrap_or("");
    let media_type = text.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(AppError::NotJson(format!("`{}`", shown(text))))
    }
}

/// The host of an authority: without port, brackets and one trailing dot.
fn host_name(authority: &str) -> &str {
    let name = match authority.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(inside, _)| inside),
        None => match authority.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => authority,
        },
    };
    name.strip_suffix('.').unwrap_or(name)
}

fn accepted(name: &str, configured: &[String]) -> bool {
    let lower = name.to_ascii_lowercase();
    if name.parse::<std::net::IpAddr>().is_ok() || lower == "localhost" {
        return true;
    }
    let plain = !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !plain {
        return false;
    }
    !lower.contains('.')
        || PRIVATE_SUFFIXES.iter().any(|s| lower.ends_with(s))
        || configured.contains(&lower)
}

/// `text` for an error message: escaped and cut.
fn shown(text: &str) -> String {
    text.chars()
        .take(MAX_SHOWN)
        .flat_map(char::escape_default)
        .collect()
}

#[cfg(test)]
mod tests;
