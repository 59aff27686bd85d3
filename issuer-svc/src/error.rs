//! The one place where every error of the internal API becomes a response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use claude_wif_api::{ErrorCode, ErrorResponse};

use crate::exchange::ExchangeError;
use crate::policy::PolicyDenial;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed request body.
    #[error("{0}")]
    InvalidRequest(String),
    /// Missing or wrong internal API key.
    #[error("missing or wrong internal API key (authorization: Bearer <key>)")]
    Unauthorized,
    /// No internal API key is set and the `Host` (escaped) is one a web
    /// page could own (DNS rebinding): see `internal::guard`.
    #[error(
        "without an internal API key this listener answers only a Host that is an IP address, \
         localhost, a name without dots (such as issuer-svc), a name under .localhost, \
         .cluster.local or .internal, or one listed in server.internal_hosts; this request's \
         Host is `{0}`"
    )]
    ForeignHost(String),
    /// The token API takes JSON only (`found` is escaped, or `none`).
    #[error("content-type must be application/json, found {0}")]
    NotJson(String),
    #[error(transparent)]
    Denied(#[from] PolicyDenial),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::InvalidRequest(_) | AppError::NotJson(_) => ErrorCode::InvalidRequest,
            AppError::Unauthorized => ErrorCode::Unauthorized,
            AppError::ForeignHost(_) => ErrorCode::AccessDenied,
            AppError::Denied(_) => ErrorCode::AccessDenied,
            AppError::Exchange(ExchangeError::Refused(_)) => ErrorCode::ExchangeFailed,
            AppError::Exchange(ExchangeError::Unavailable(_)) => ErrorCode::UpstreamUnavailable,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response =
            (status, Json(ErrorResponse::new(code, self.to_string()))).into_response();
        if code == ErrorCode::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Refusal;

    #[test]
    fn each_error_maps_to_its_code() {
        let refused = ExchangeError::Refused(Refusal {
            status: 401,
            error_type: None,
            message: None,
            request_id: None,
        });
        let cases = [
            (AppError::InvalidRequest("x".into()), 400),
            (AppError::Unauthorized, 401),
            (AppError::NotJson("none".into()), 400),
            (AppError::ForeignHost("evil.example".into()), 403),
            (
                AppError::Denied(PolicyDenial::ProviderInactive {
                    provider: "p".into(),
                }),
                403,
            ),
            (AppError::Exchange(refused), 502),
            (
                AppError::Exchange(ExchangeError::Unavailable("x".into())),
                503,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(error.into_response().status().as_u16(), status);
        }
    }
}
