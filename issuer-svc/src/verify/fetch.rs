//! Fetching the discovery document and JWKS the way Claude does.

use std::time::Duration;

use serde::Deserialize;

use super::hints;
use crate::exchange::MAX_RESPONSE_BYTES;
use crate::http_body::{BodyError, read_bounded};

/// The members of a published JWKS that decide whether Claude may verify
/// an assertion with a key (RFC 7517 §4.2, §4.3, §4.4); others are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct PublishedJwks {
    pub(super) keys: Vec<PublishedJwk>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PublishedJwk {
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
}

/// Why a verifier cannot check the active key's signatures with the JWKS.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unpublished {
    /// No key with that `kid`.
    Missing(String),
    /// Published, but `use`, `key_ops` or `alg` forbid verifying with it.
    Unusable(String),
}

/// Whether the published JWKS lets a verifier check signatures of key `kid`
/// with `alg`. A key whose `use` is not `sig`, whose `key_ops` lack
/// `verify`, or whose `alg` differs, is one a verifier that honours those
/// members (RFC 7517) will not use.
pub(super) fn check_published(
    jwks: &PublishedJwks,
    kid: &str,
    alg: &str,
) -> Result<(), Unpublished> {
    let Some(jwk) = jwks.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) else {
        return Err(Unpublished::Missing(format!(
            "the JWKS does not contain the active signing key `{kid}`"
        )));
    };
    usable(jwk, kid, alg).map_err(Unpublished::Unusable)
}

fn usable(jwk: &PublishedJwk, kid: &str, alg: &str) -> Result<(), String> {
    let shown = crate::logging::escape;
    if let Some(use_) = jwk.use_.as_deref().filter(|u| *u != "sig") {
        return Err(format!(
            "the JWKS publishes the active key `{kid}` with use `{}`: only `sig` (or no use) lets Claude verify signatures with it",
            shown(use_)
        ));
    }
    if let Some(ops) = jwk
        .key_ops
        .as_ref()
        .filter(|ops| !ops.iter().any(|op| op == "verify"))
    {
        let ops: Vec<String> = ops.iter().map(|op| shown(op)).collect();
        return Err(format!(
            "the JWKS publishes the active key `{kid}` with key_ops [{}]: without `verify` Claude will not verify signatures with it",
            ops.join(", ")
        ));
    }
    if let Some(published) = jwk.alg.as_deref().filter(|a| *a != alg) {
        return Err(format!(
            "the JWKS publishes the active key `{kid}` with alg `{}`, but it signs {alg}",
            shown(published)
        ));
    }
    Ok(())
}

/// GETs `url` and parses its JSON body, reading at most 1 MiB: a larger
/// body (by `content-length` or as it streams in) is refused without
/// reading the rest.
pub(super) async fn fetch_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|err| format!("GET {url} failed: {}", hints::error_chain(&err)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url} answered HTTP {}", status.as_u16()));
    }
    let body = read_bounded(response, MAX_RESPONSE_BYTES)
        .await
        .map_err(|err| match err {
            BodyError::TooLarge => format!("GET {url}: body larger than 1 MiB"),
            BodyError::Read(err) => format!("GET {url}: cannot read the body: {err}"),
        })?;
    serde_json::from_slice(&body).map_err(|err| {
        let err = crate::logging::escape(&err.to_string());
        format!("GET {url}: not the expected JSON ({err})")
    })
}

/// The client `verify` fetches with: no redirects (Claude compares URLs
/// exactly), `timeout` per request.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))
}

#[cfg(test)]
mod tests;
