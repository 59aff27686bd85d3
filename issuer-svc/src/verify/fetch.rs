//! Fetching the discovery document and JWKS the way Claude does.

use std::time::Duration;

use serde::Deserialize;

use super::hints;

#[derive(Deserialize)]
pub(super) struct JwksKids {
    pub(super) keys: Vec<KidOnly>,
}

#[derive(Deserialize)]
pub(super) struct KidOnly {
    pub(super) kid: Option<String>,
}

/// GETs `url` and parses its JSON body (at most 1 MiB).
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
    let body = response
        .bytes()
        .await
        .map_err(|err| format!("GET {url}: cannot read the body: {err}"))?;
    if body.len() > crate::exchange::MAX_RESPONSE_BYTES {
        return Err(format!("GET {url}: body larger than 1 MiB"));
    }
    serde_json::from_slice(&body).map_err(|err| format!("GET {url}: not the expected JSON ({err})"))
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
