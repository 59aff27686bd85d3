use claude_wif_api::{ErrorCode, ErrorResponse, TokenRequest, TokenResponse};

use super::*;
use crate::config::FilterConfig;

/// The error codes of `claude_wif_api::ErrorResponse`.
const ERROR_CODES: [ErrorCode; 5] = [
    ErrorCode::InvalidRequest,
    ErrorCode::Unauthorized,
    ErrorCode::AccessDenied,
    ErrorCode::ExchangeFailed,
    ErrorCode::UpstreamUnavailable,
];

fn config(extra: &str) -> IssuerConfig {
    let json = format!(
        r#"{{"issuer_cluster":"issuer_svc","identity":{{"source":"static","value":"a"}}{extra}}}"#
    );
    FilterConfig::parse(json.as_bytes()).unwrap().issuer
}

const OK: &str = r#"{"access_token":"sk-ant-oat01-abcd","token_type":"Bearer","expires_in":3540,"credential_provider":"claude-prod"}"#;

fn ok_body(token: &str, token_type: &str, expires_in: i64) -> String {
    serde_json::json!({
        "access_token": token, "token_type": token_type,
        "expires_in": expires_in, "credential_provider": "p",
    })
    .to_string()
}

fn failed(status: &str, body: &str) -> String {
    match parse_response(Some(status.as_bytes()), body.as_bytes()) {
        Err(IssuerError::Failed {
            status: s,
            description,
        }) => {
            assert_eq!(s, status);
            description
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn request_without_api_key() {
    let request = build_request(
        &config(""),
        "spiffe://c/ns/a/sa/b",
        "api.anthropic.com",
        None,
    );
    assert_eq!(
        request.header_refs(),
        vec![
            (":method", "POST"),
            (":path", "/v1/token"),
            (":authority", "issuer-svc"),
            ("content-type", "application/json"),
        ]
    );
    let body: TokenRequest = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        TokenRequest {
            client_workload: "spiffe://c/ns/a/sa/b".into(),
            server_workload: "api.anthropic.com".into(),
            stale_token_sha256: None,
        }
    );
}

#[test]
fn request_with_api_key_and_custom_path() {
    let cfg = config(r#","internal_api_key":"k-123","token_path":"/t","issuer_authority":"iss""#);
    let request = build_request(&cfg, "id\"quoted", "s", None);
    assert!(
        request
            .header_refs()
            .contains(&("authorization", "Bearer k-123"))
    );
    assert!(request.header_refs().contains(&(":path", "/t")));
    assert!(request.header_refs().contains(&(":authority", "iss")));
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        r#"{"client_workload":"id\"quoted","server_workload":"s"}"#
    );
}

#[test]
fn ok_answer_parses() {
    let token = parse_response(Some(b"200"), OK.as_bytes()).unwrap();
    assert_eq!(token.access_token.expose(), "sk-ant-oat01-abcd");
    assert_eq!(token.expires_in_s, 3540);
    assert_eq!(token.credential_provider, "claude-prod");
}

#[test]
fn token_type_is_case_insensitive() {
    assert!(parse_response(Some(b"200"), ok_body("t", "bearer", 5).as_bytes()).is_ok());
    assert!(parse_response(Some(b"200"), ok_body("t", "BEARER", 5).as_bytes()).is_ok());
    assert_eq!(
        failed("200", &ok_body("t", "mac", 5)),
        "token_type is \"mac\", expected Bearer"
    );
}

#[test]
fn bad_tokens_are_refused_and_never_quoted() {
    for token in [
        "",
        "sk-ant-oat01-ab\ncd",
        "sk-ant ab",
        "sk-ant-\u{7f}",
        "sk-ant-é",
    ] {
        let description = failed("200", &ok_body(token, "Bearer", 5));
        assert!(
            description.starts_with("access_token is empty or contains"),
            "{description}"
        );
        assert!(token.is_empty() || !description.contains(token));
    }
}

#[test]
fn expires_in_must_be_positive() {
    assert_eq!(
        failed("200", &ok_body("t", "Bearer", 0)),
        "expires_in must be greater than 0"
    );
    assert!(
        failed("200", &ok_body("t", "Bearer", -1))
            .starts_with("answer body is not a token response")
    );
}

#[test]
fn unparseable_ok_body_does_not_quote_it() {
    let body = r#"{"access_token":"sk-ant-oat01-secret","token_type":"Bearer","expires_in":"soon","credential_provider":"p"}"#;
    let description = failed("200", body);
    assert_eq!(
        description,
        "answer body is not a token response (expires_in: expected a non-negative integer, found a string)"
    );
    assert!(!description.contains("secret") && !description.contains("soon"));
    let description = failed("200", r#"{"access_token":"sk-ant-oat01-secret" "soon"}"#);
    assert_eq!(
        description,
        "answer body is not a token response (line 1 column 39)"
    );
}

#[test]
fn token_response_shape_errors_name_the_member() {
    let without = |name: &str| {
        let mut value: serde_json::Value = serde_json::from_str(OK).unwrap();
        value.as_object_mut().unwrap().remove(name);
        value.to_string()
    };
    for name in [
        "access_token",
        "token_type",
        "expires_in",
        "credential_provider",
    ] {
        assert_eq!(
            failed("200", &without(name)),
            format!("answer body is not a token response ({name} is missing)")
        );
    }
    assert_eq!(
        failed("200", &OK.replace("\"claude-prod\"", "null")),
        "answer body is not a token response (credential_provider: expected a string, found null)"
    );
    assert_eq!(
        failed("200", &OK.replace("\"sk-ant-oat01-abcd\"", "7")),
        "answer body is not a token response (access_token: expected a string, found a number)"
    );
    for (expires_in, found) in [
        ("1.5", "a number with a fraction or exponent"),
        ("3e3", "a number with a fraction or exponent"),
        (
            "18446744073709551616",
            "a number above 18446744073709551615",
        ),
        ("true", "a boolean"),
    ] {
        assert_eq!(
            failed("200", &OK.replace("3540", expires_in)),
            format!(
                "answer body is not a token response (expires_in: expected a non-negative integer, found {found})"
            )
        );
    }
    assert_eq!(
        failed("200", "[]"),
        "answer body is not a token response (expected an object, found an array)"
    );
    assert_eq!(
        failed("200", ""),
        "answer body is not a token response (line 1 column 0)"
    );
}

#[test]
fn token_response_ignores_unknown_members_and_refuses_duplicates() {
    let extra = OK.replace('}', r#","scope":["a"],"nested":{"x":null}}"#);
    assert!(parse_response(Some(b"200"), extra.as_bytes()).is_ok());
    let twice = OK.replace('}', r#","expires_in":1}"#);
    assert_eq!(
        failed("200", &twice),
        "answer body is not a token response (duplicate field `expires_in`)"
    );
    let upper = OK.replace("3540", "18446744073709551615");
    let token = parse_response(Some(b"200"), upper.as_bytes()).unwrap();
    assert_eq!(token.expires_in_s, u64::MAX);
}

#[test]
fn the_wire_types_serde_writes_are_read() {
    let answer = TokenResponse {
        access_token: AccessToken::new("sk-ant-oat01-x\"y"),
        token_type: "Bearer".into(),
        expires_in: 60,
        credential_provider: "p\u{e9}\n".into(),
    };
    let token = parse_response(Some(b"200"), &serde_json::to_vec(&answer).unwrap()).unwrap();
    assert_eq!(token.access_token.expose(), "sk-ant-oat01-x\"y");
    assert_eq!(token.expires_in_s, 60);
    assert_eq!(token.credential_provider, "p\u{e9}");
    for code in ERROR_CODES {
        let body = serde_json::to_vec(&ErrorResponse::new(code, "why \"not\"")).unwrap();
        assert_eq!(
            failed("502", &String::from_utf8(body).unwrap()),
            "why \"not\""
        );
    }
}

#[test]
fn error_codes_list_every_code() {
    // Fails to compile when claude_wif_api gains a code: add it to ERROR_CODES.
    for code in ERROR_CODES {
        match code {
            ErrorCode::InvalidRequest
            | ErrorCode::Unauthorized
            | ErrorCode::AccessDenied
            | ErrorCode::ExchangeFailed
            | ErrorCode::UpstreamUnavailable => {}
        }
    }
    assert_eq!(ERROR_CODES.len(), 5);
}

#[test]
fn error_answers_need_a_known_code_and_a_string_description() {
    for body in [
        r#"{"error":"teapot","error_description":"x"}"#,
        r#"{"error_description":"x"}"#,
        r#"{"error":"unauthorized"}"#,
        r#"{"error":"unauthorized","error_description":7}"#,
        r#"{"error":"unauthorized","error_description":"x","error":"unauthorized"}"#,
        r#"{"error":"unauthorized","error_description":"x"} trailing"#,
        r#"["unauthorized","x"]"#,
    ] {
        assert_eq!(
            failed("401", body),
            "no readable error description",
            "{body}"
        );
    }
    assert_eq!(
        failed(
            "401",
            r#"{"error":"unauthorized","error_description":"x","extra":[1]}"#
        ),
        "x"
    );
}

#[test]
fn no_status_is_no_answer() {
    assert_eq!(parse_response(None, b""), Err(IssuerError::NoAnswer));
}

#[test]
fn forbidden_carries_the_description() {
    let body = r#"{"error":"access_denied","error_description":"no access policy grants x"}"#;
    assert_eq!(
        parse_response(Some(b"403"), body.as_bytes()),
        Err(IssuerError::Denied {
            description: "no access policy grants x".into()
        })
    );
    assert_eq!(
        parse_response(Some(b"403"), b"nope"),
        Err(IssuerError::Denied {
            description: "no readable error description".into()
        })
    );
}

#[test]
fn other_statuses_fail_with_description() {
    let body =
        r#"{"error":"exchange_failed","error_description":"Claude answered 401 invalid_grant"}"#;
    assert_eq!(failed("502", body), "Claude answered 401 invalid_grant");
    assert_eq!(failed("500", "<html>"), "no readable error description");
    assert_eq!(
        failed(
            "401",
            r#"{"error":"unauthorized","error_description":"bad key"}"#
        ),
        "bad key"
    );
}

#[test]
fn descriptions_lose_control_characters_and_are_capped() {
    let long = "x".repeat(400);
    let body = format!(r#"{{"error":"exchange_failed","error_description":"a\nb{long}"}}"#);
    let description = failed("502", &body);
    assert!(description.starts_with("abxx"));
    assert_eq!(description.chars().count(), 301);
    assert!(description.ends_with('…'));
}

#[test]
fn request_names_a_stale_token_by_hash() {
    let request = build_request(&config(""), "id", "s", Some("ab12"));
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        r#"{"client_workload":"id","server_workload":"s","stale_token_sha256":"ab12"}"#
    );
}
