//! Local replies in the Claude API's error shape, and the one place where
//! filter errors become HTTP answers.

use std::fmt;

use serde::Serialize;

use crate::host::{Host, HostError};
use crate::identity::IdentityError;
use crate::issuer::IssuerError;

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_S: &str = "5";

/// Why a request cannot get a credential. Never carries a token or key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    Identity(IdentityError),
    /// `dispatch_http_call` itself failed (e.g. unknown cluster).
    Dispatch {
        cluster: String,
        error: HostError,
    },
    Issuer(IssuerError),
    /// The request headers could not be rewritten.
    HeaderEdit(HostError),
    /// The plugin has no valid configuration.
    NotConfigured,
    /// The worker state was in use (re-entrant call); fail closed.
    Busy,
}

impl fmt::Display for FilterError {
    /// The operator's view (log lines); may name internal details.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dispatch { cluster, error } => {
                write!(f, "could not call issuer-svc on cluster {cluster}: {error}")
            }
            Self::HeaderEdit(error) => write!(f, "could not set the request headers: {error}"),
            _ => f.write_str(self.client_message().trim_start_matches("claude-wif: ")),
        }
    }
}

impl FilterError {
    /// The local reply for this error.
    pub fn reply(&self) -> LocalReply {
        let message = self.client_message();
        match self {
            Self::Identity(IdentityError::JwtMissing { .. } | IdentityError::JwtInvalid { .. }) => {
                LocalReply::unauthenticated(message)
            }
            Self::Identity(
                IdentityError::Missing { .. }
                | IdentityError::Invalid { .. }
                | IdentityError::NoPeerCertificate
                | IdentityError::InvalidPeer { .. }
                | IdentityError::MetadataMissing { .. }
                | IdentityError::MetadataInvalid { .. },
            )
            | Self::Issuer(IssuerError::Denied { .. }) => LocalReply::forbidden(message),
            _ => LocalReply::unavailable(message),
        }
    }

    fn client_message(&self) -> String {
        let text = match self {
            Self::Identity(IdentityError::Missing { header }) => {
                format!("request has no client workload identity (header {header})")
            }
            Self::Identity(IdentityError::Invalid { header, reason }) => {
                format!("client workload identity in header {header} is not acceptable: {reason}")
            }
            Self::Identity(IdentityError::NotRemoved { header }) => {
                format!("could not remove header {header}")
            }
            Self::Identity(IdentityError::NoPeerCertificate) => {
                "request has no client certificate with a URI SAN (mTLS required)".to_owned()
            }
            Self::Identity(IdentityError::InvalidPeer { reason }) => {
                format!("client certificate URI SAN is not acceptable: {reason}")
            }
            Self::Identity(IdentityError::JwtMissing { header }) => {
                format!("request has no workload JWT (header {header})")
            }
            Self::Identity(IdentityError::JwtInvalid { header, reason }) => {
                format!("workload JWT in header {header} is not acceptable: {reason}")
            }
            Self::Identity(IdentityError::MetadataMissing { place }) => {
                format!("request has no client workload identity in dynamic metadata {place}")
            }
            Self::Identity(IdentityError::MetadataInvalid { place, reason }) => {
                format!(
                    "client workload identity in dynamic metadata {place} is not acceptable: {reason}"
                )
            }
            Self::Dispatch { .. } => "could not call issuer-svc".to_owned(),
            Self::Issuer(IssuerError::NoAnswer) => {
                "issuer-svc did not answer (timeout or connection failure)".to_owned()
            }
            Self::Issuer(IssuerError::Denied { description }) => {
                format!("access denied by issuer-svc: {description}")
            }
            Self::Issuer(IssuerError::Failed {
                status,
                description,
            }) => {
                format!("issuer-svc answered status {status}: {description}")
            }
            Self::HeaderEdit(_) => "could not set the request headers".to_owned(),
            Self::NotConfigured => "the filter has no valid configuration".to_owned(),
            Self::Busy => "the filter is busy; retry".to_owned(),
        };
        format!("claude-wif: {text}")
    }
}

/// The `error.type` of a Claude-style error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Authentication,
    Permission,
    Api,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::Api => "api_error",
        }
    }
}

/// The Claude API's error body.
#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

/// An answer the filter sends instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u32,
    pub error_type: ErrorType,
    pub message: String,
}

impl LocalReply {
    /// 401 `authentication_error`.
    pub fn unauthenticated(message: String) -> Self {
        Self {
            status: 401,
            error_type: ErrorType::Authentication,
            message,
        }
    }

    /// 403 `permission_error`.
    pub fn forbidden(message: String) -> Self {
        Self {
            status: 403,
            error_type: ErrorType::Permission,
            message,
        }
    }

    /// 503 `api_error` with `retry-after`.
    pub fn unavailable(message: String) -> Self {
        Self {
            status: 503,
            error_type: ErrorType::Api,
            message,
        }
    }

    /// `{"type":"error","error":{"type":…,"message":…}}`, JSON-escaped.
    pub fn body(&self) -> Vec<u8> {
        let body = ErrorBody {
            kind: "error",
            error: ErrorDetail {
                kind: self.error_type.as_str(),
                message: &self.message,
            },
        };
        // Strings only: serializing cannot fail.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut headers = vec![("content-type", "application/json")];
        if self.status == 503 {
            headers.push(("retry-after", RETRY_AFTER_S));
        }
        headers
    }

    pub fn send<H: Host>(&self, host: &mut H) -> Result<(), HostError> {
        host.send_reply(self.status, &self.headers(), &self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_body_and_headers() {
        let reply = FilterError::Identity(IdentityError::Missing {
            header: "x-client-workload".into(),
        })
        .reply();
        assert_eq!(reply.status, 403);
        assert_eq!(
            String::from_utf8(reply.body()).unwrap(),
            r#"{"type":"error","error":{"type":"permission_error","message":"claude-wif: request has no client workload identity (header x-client-workload)"}}"#
        );
        assert_eq!(reply.headers(), vec![("content-type", "application/json")]);
    }

    #[test]
    fn unavailable_has_retry_after() {
        let reply = FilterError::Issuer(IssuerError::NoAnswer).reply();
        assert_eq!(reply.status, 503);
        assert_eq!(
            reply.headers(),
            vec![("content-type", "application/json"), ("retry-after", "5")]
        );
        assert_eq!(
            String::from_utf8(reply.body()).unwrap(),
            r#"{"type":"error","error":{"type":"api_error","message":"claude-wif: issuer-svc did not answer (timeout or connection failure)"}}"#
        );
    }

    #[test]
    fn messages_are_json_escaped() {
        let reply = FilterError::Issuer(IssuerError::Denied {
            description: "no \"policy\" for a\\b".into(),
        })
        .reply();
        let body: serde_json::Value = serde_json::from_slice(&reply.body()).unwrap();
        assert_eq!(
            body["error"]["message"],
            "claude-wif: access denied by issuer-svc: no \"policy\" for a\\b"
        );
    }

    #[test]
    fn body_bytes_match_serde_json() {
        let all: String = (0u32..0x100).filter_map(char::from_u32).collect();
        for message in [
            "",
            "plain",
            "q\"uote\\ \u{1}\u{1f}\u{7f} é € 😀 </script>",
            &all,
        ] {
            for reply in [
                LocalReply::unauthenticated(message.to_owned()),
                LocalReply::forbidden(message.to_owned()),
                LocalReply::unavailable(message.to_owned()),
            ] {
                let quoted = |s: &str| serde_json::to_string(s).unwrap();
                let expected = format!(
                    r#"{{"type":"error","error":{{"type":{},"message":{}}}}}"#,
                    quoted(reply.error_type.as_str()),
                    quoted(message)
                );
                assert_eq!(String::from_utf8(reply.body()).unwrap(), expected);
            }
        }
    }

    #[test]
    fn dispatch_failure_hides_the_cluster_from_clients_but_not_from_logs() {
        let error = FilterError::Dispatch {
            cluster: "issuer_svc".into(),
            error: HostError::BadArgument,
        };
        assert_eq!(
            error.reply().message,
            "claude-wif: could not call issuer-svc"
        );
        assert_eq!(
            error.to_string(),
            "could not call issuer-svc on cluster issuer_svc: bad argument"
        );
    }
}
