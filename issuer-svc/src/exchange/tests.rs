#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use super::*;
use crate::keys::SigningKey;
use crate::signing::{AssertionClaims, sign};
use crate::test_support::{config, config_text, load};

fn assertion() -> Assertion {
    let (key, _) = SigningKey::generate_es256().unwrap();
    let provider = std::sync::Arc::clone(&config().providers[0]);
    sign(&key, &AssertionClaims::new(&provider, "sub", 1).unwrap())
        .unwrap()
        .assertion
}

#[test]
fn request_has_documented_url_headers_and_body() {
    let config = config();
    let assertion = assertion();
    let jwt = assertion.expose().to_owned();
    let request = build_exchange_request(&config.claude, &config.providers[0], assertion);
    assert_eq!(request.url, "https://api.anthropic.com/v1/oauth/token");
    assert_eq!(
        request.headers,
        vec![
            ("content-type", "application/json".to_owned()),
            (
                "anthropic-beta",
                "oauth-2025-04-20,oidc-federation-2026-04-01".to_owned()
            ),
            (
                "user-agent",
                format!("claude-wif-issuer-svc/{}", env!("CARGO_PKG_VERSION"))
            ),
        ]
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body_json().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": jwt,
            "federation_rule_id": "fdrl_demo",
            "organization_id": "00000000-0000-4000-8000-000000000001",
            "service_account_id": "svac_demo",
            "workspace_id": "wrkspc_demo",
        })
    );
    assert!(!format!("{request:?}").contains(&jwt));
}

#[test]
fn workspace_id_is_omitted_when_unset() {
    let text = config_text("").replace("  workspace_id = \"wrkspc_demo\"\n", "");
    let config = load(&text).config;
    let request = build_exchange_request(&config.claude, &config.providers[0], assertion());
    let body: serde_json::Value = serde_json::from_slice(&request.body_json().unwrap()).unwrap();
    assert!(body.get("workspace_id").is_none(), "{body}");
    assert!(body.get("scope").is_none());
}

#[test]
fn success_is_parsed_and_bearer_compared_case_insensitively() {
    let body = br#"{"access_token":"sk-ant-oat01-x","token_type":"bearer","expires_in":3600,"scope":"workspace:developer"}"#;
    let token = parse_exchange_response(200, body).unwrap();
    assert_eq!(token.access_token.expose(), "sk-ant-oat01-x");
    assert_eq!(token.expires_in, 3600);
    assert_eq!(token.scope.as_deref(), Some("workspace:developer"));
}

#[test]
fn success_without_required_fields_or_with_wrong_type_is_unavailable() {
    for body in [
        &br#"{"token_type":"Bearer","expires_in":3600}"#[..],
        br#"{"access_token":"t","token_type":"Bearer"}"#,
        br#"{"access_token":"t","token_type":"Bearer","expires_in":0}"#,
        br#"{"access_token":"t","token_type":"MAC","expires_in":3600}"#,
        br#"not json"#,
    ] {
        let err = parse_exchange_response(200, body).unwrap_err();
        assert!(matches!(err, ExchangeError::Unavailable(_)), "{err}");
    }
}

#[test]
fn claude_401_is_a_refusal_with_hint() {
    let body = br#"{"type":"error","error":{"type":"authentication_error","message":"Authentication failed"},"request_id":"req_123"}"#;
    let err = parse_exchange_response(401, body).unwrap_err();
    let ExchangeError::Refused(refusal) = &err else {
        panic!("{err}")
    };
    assert_eq!(refusal.error_type.as_deref(), Some("authentication_error"));
    assert_eq!(refusal.request_id.as_deref(), Some("req_123"));
    let text = err.to_string();
    assert!(
        text.contains("HTTP 401 authentication_error: Authentication failed (request_id req_123)"),
        "{text}"
    );
    assert!(
        text.contains("subject_prefix")
            && text.contains("workspace_id")
            && text.contains("Console")
    );
}

#[test]
fn older_invalid_grant_shape_and_header_request_id() {
    let body = br#"{"error":"invalid_grant","error_description":"jti reused"}"#;
    let err = parse_exchange_response(400, body)
        .unwrap_err()
        .with_request_id(Some("req_hdr"));
    assert_eq!(
        err,
        ExchangeError::Refused(Refusal {
            status: 400,
            error_type: Some("invalid_grant".into()),
            message: Some("jti reused".into()),
            request_id: Some("req_hdr".into()),
        })
    );
    assert!(!err.to_string().contains("Console"), "no 401 hint on 400");
}

#[test]
fn any_4xx_with_any_body_is_a_refusal() {
    let err = parse_exchange_response(429, b"<html>").unwrap_err();
    assert_eq!(err.outcome(), "refused");
}

#[test]
fn server_errors_and_odd_statuses_are_unavailable() {
    let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#;
    let err = parse_exchange_response(529, body).unwrap_err();
    assert_eq!(
        err,
        ExchangeError::Unavailable("HTTP 529 overloaded_error".into())
    );
    assert_eq!(
        parse_exchange_response(302, b"").unwrap_err().outcome(),
        "unavailable"
    );
}

#[test]
fn oversized_body_is_refused() {
    let body = vec![b' '; MAX_RESPONSE_BYTES + 1];
    let err = parse_exchange_response(200, &body).unwrap_err();
    assert!(err.to_string().contains("1 MiB"));
}

#[test]
fn claude_messages_are_cleaned_and_capped() {
    let long = "x".repeat(1000);
    let body = format!(
        r#"{{"error":{{"type":"a\nb\u001b\u2028\u202e","message":"{long}"}},"request_id":"req\u200b_1"}}"#
    );
    let ExchangeError::Refused(refusal) =
        parse_exchange_response(403, body.as_bytes()).unwrap_err()
    else {
        panic!()
    };
    assert_eq!(refusal.error_type.as_deref(), Some("ab"));
    assert_eq!(refusal.request_id.as_deref(), Some("req_1"));
    assert_eq!(refusal.message.unwrap().len(), 300);
}
