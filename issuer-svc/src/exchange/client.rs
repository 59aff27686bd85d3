//! The I/O half of the exchange: a [`Transport`] that posts an
//! [`ExchangeRequest`], and [`exchange`] which parses the answer.

use std::error::Error as _;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{
    ExchangeError, ExchangeRequest, ExchangedToken, MAX_RESPONSE_BYTES, parse_exchange_response,
};
use crate::http_body::{BodyError, read_bounded};

/// What came back from the token endpoint, before parsing.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// The `request-id` header, if any.
    pub request_id: Option<String>,
    /// The `retry-after` header in delay-seconds form, if any.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Sends one exchange request. Errors are `Unavailable` (connect, timeout,
/// oversized body).
pub trait Transport: Send + Sync + 'static {
    fn post(
        &self,
        request: ExchangeRequest,
    ) -> BoxFuture<'static, Result<RawResponse, ExchangeError>>;
}

/// Sends the request and parses the answer.
pub async fn exchange(
    transport: &dyn Transport,
    request: ExchangeRequest,
) -> Result<ExchangedToken, ExchangeError> {
    let raw = transport.post(request).await?;
    parse_exchange_response(raw.status, &raw.body)
        .map_err(|err| err.with_request_id(raw.request_id.as_deref()))
}

/// The real transport: reqwest over rustls, no redirects (the assertion must
/// go to the configured endpoint only); each request carries its own timeout
/// ([`ExchangeRequest::timeout`]); `timeout` here is only the default.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    pub fn new(timeout: Duration) -> Result<HttpTransport, ExchangeError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|err| {
                ExchangeError::Unavailable(format!("cannot build the HTTP client: {err}"))
            })?;
        Ok(HttpTransport { client })
    }
}

impl Transport for HttpTransport {
    fn post(
        &self,
        request: ExchangeRequest,
    ) -> BoxFuture<'static, Result<RawResponse, ExchangeError>> {
        let client = self.client.clone();
        let timeout = request.timeout;
        async move {
            let body = request.body_json()?;
            let mut builder = client.post(&request.url).body(body).timeout(timeout);
            for (name, value) in &request.headers {
                builder = builder.header(*name, value);
            }
            let response = builder
                .send()
                .await
                .map_err(|err| transport_error(&err, timeout))?;
            let status = response.status().as_u16();
            let request_id = response
                .headers()
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(super::parse_retry_after);
            let body = read_limited(response, timeout).await?;
            Ok(RawResponse {
                status,
                request_id,
                retry_after,
                body,
            })
        }
        .boxed()
    }
}

async fn read_limited(
    response: reqwest::Response,
    timeout: Duration,
) -> Result<Vec<u8>, ExchangeError> {
    read_bounded(response, MAX_RESPONSE_BYTES)
        .await
        .map_err(|err| match err {
            BodyError::TooLarge => {
                ExchangeError::Unavailable("response body larger than 1 MiB".into())
            }
            BodyError::Read(err) => transport_error(&err, timeout),
        })
}

fn transport_error(err: &reqwest::Error, timeout: Duration) -> ExchangeError {
    if err.is_timeout() {
        // Whole milliseconds: `{:?}` of the remaining budget reads "1.99999996s".
        return ExchangeError::Unavailable(format!("no answer within {} ms", timeout.as_millis()));
    }
    // reqwest's message names the URL; the causes say why (refused, DNS, TLS).
    let mut detail = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    ExchangeError::Unavailable(detail)
}
