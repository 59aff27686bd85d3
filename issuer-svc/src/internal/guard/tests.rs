#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::HeaderValue;

use super::*;

fn with_host(host: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
    headers
}

fn allows(host: &str, configured: &[String]) -> bool {
    check_host(&with_host(host), &Uri::from_static("/v1/token"), configured).is_ok()
}

#[test]
fn hosts_no_web_page_can_own_pass() {
    for host in [
        "127.0.0.1",
        "127.0.0.1:9090",
        "[::1]:9090",
        "[::1]",
        "10.1.2.3:9090",
        "localhost",
        "LOCALHOST:9090",
        "localhost.",
        "issuer.localhost:9090",
        "issuer-svc",
        "issuer-svc:9090",
        "issuer-svc.claude-wif.svc.cluster.local",
        "issuer-svc.claude-wif.svc.cluster.local:9090",
        "issuer.corp.internal",
    ] {
        assert!(allows(host, &[]), "{host}");
    }
}

#[test]
fn public_names_are_refused_unless_configured() {
    for host in [
        "attacker.example",
        "attacker.example:9090",
        "127.0.0.1.nip.io",
        "localhost.attacker.example",
        "cluster.local.attacker.example",
        "internal",
        "a_b",
        "",
    ] {
        let refused = check_host(&with_host(host), &Uri::from_static("/"), &[]);
        if host == "internal" {
            assert!(refused.is_ok(), "a name without dots");
            continue;
        }
        let err = refused.unwrap_err();
        assert!(matches!(err, AppError::ForeignHost(_)), "{host}");
        assert!(
            err.to_string().contains(&format!("Host is `{host}`")),
            "{err}"
        );
    }
    let configured = ["issuer.example.com".to_owned()];
    assert!(allows("Issuer.Example.Com:9090", &configured));
    assert!(!allows("other.example.com", &configured));
}

#[test]
fn without_host_the_uri_authority_counts_and_without_both_the_request_passes() {
    let uri = Uri::from_static("http://attacker.example/v1/token");
    assert!(check_host(&HeaderMap::new(), &uri, &[]).is_err());
    let uri = Uri::from_static("http://issuer-svc/v1/token");
    assert!(check_host(&HeaderMap::new(), &uri, &[]).is_ok());
    assert!(check_host(&HeaderMap::new(), &Uri::from_static("/v1/token"), &[]).is_ok());
}

#[test]
fn an_unprintable_host_is_refused_and_not_echoed() {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::HOST,
        HeaderValue::from_bytes(b"evil\xff.example").unwrap(),
    );
    let err = check_host(&headers, &Uri::from_static("/"), &[]).unwrap_err();
    assert!(err.to_string().contains("(not printable ASCII)"), "{err}");
}

#[test]
fn only_json_bodies_are_accepted() {
    let mut headers = HeaderMap::new();
    assert!(
        check_json(&headers)
            .unwrap_err()
            .to_string()
            .contains("found none")
    );
    for ok in ["application/json", "Application/JSON; charset=utf-8"] {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ok));
        assert!(check_json(&headers).is_ok(), "{ok}");
    }
    for bad in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
    ] {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(bad));
        let err = check_json(&headers).unwrap_err();
        assert!(matches!(err, AppError::NotJson(_)), "{bad}");
        assert!(err.to_string().contains(&format!("found `{bad}`")), "{err}");
    }
}

#[test]
fn several_host_headers_are_refused() {
    let mut headers = with_host("127.0.0.1:9090");
    headers.append(header::HOST, HeaderValue::from_static("attacker.example"));
    let err = check_host(&headers, &Uri::from_static("/"), &[]).unwrap_err();
    assert!(err.to_string().contains("(several Host headers)"), "{err}");
}
