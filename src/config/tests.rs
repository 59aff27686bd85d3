use super::*;

const MINIMAL: &str = r#"{"issuer_cluster":"issuer_svc","identity":{"source":"static","value":"spiffe://cluster.local/ns/demo/sa/app"}}"#;

/// The minimal config with `field` set to the raw JSON `value`.
fn with(field: &str, value: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
    doc[field] = serde_json::from_str(value).unwrap();
    doc.to_string()
}

/// The minimal config with the `identity` object as written (`with` would
/// sort its members and drop duplicates).
fn with_identity(identity: &str) -> String {
    format!(r#"{{"issuer_cluster":"issuer_svc","identity":{identity}}}"#)
}

fn errors(json: &str) -> Vec<ConfigError> {
    FilterConfig::parse(json.as_bytes()).unwrap_err().0
}

/// Parsing fails with exactly one error, on `field`; returns its message.
fn one_error(json: &str, field: &str) -> String {
    let errors = errors(json);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, field, "{errors:?}");
    errors[0].message.clone()
}

#[test]
fn minimal_config_gets_the_documented_defaults() {
    let config = FilterConfig::parse(MINIMAL.as_bytes()).unwrap();
    assert_eq!(
        config,
        FilterConfig {
            issuer: IssuerConfig {
                cluster: "issuer_svc".into(),
                authority: "issuer-svc".into(),
                token_path: "/v1/token".into(),
                timeout: Duration::from_millis(5000),
                internal_api_key: None,
            },
            server_workload: "api.anthropic.com".into(),
            identity: IdentitySource::Static("spiffe://cluster.local/ns/demo/sa/app".into()),
            refresh: RefreshPolicy {
                advisory_s: 120,
                mandatory_s: 30,
            },
            max_identities: 10_000,
            refresh_tick: Duration::from_millis(1000),
        }
    );
}

#[test]
fn full_documented_config_parses() {
    let json = r#"{"issuer_cluster": "issuer_svc", "issuer_authority": "issuer-svc", "token_path": "/v1/token", "timeout_ms": 5000,
 "server_workload": "api.anthropic.com",
 "identity": {"source": "header"},
 "advisory_refresh_s": 120, "mandatory_refresh_s": 30, "internal_api_key": "k3y-ABCD"}"#;
    let config = FilterConfig::parse(json.as_bytes()).unwrap();
    assert_eq!(
        config.identity,
        IdentitySource::Header("x-client-workload".into())
    );
    assert_eq!(
        config
            .issuer
            .internal_api_key
            .as_ref()
            .map(InternalApiKey::expose),
        Some("k3y-ABCD")
    );
}

#[test]
fn internal_api_key_debug_shows_only_last_four() {
    let config =
        FilterConfig::parse(with("internal_api_key", r#""secret-part-WXYZ""#).as_bytes()).unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("InternalApiKey(…WXYZ)"), "{debug}");
    assert!(!debug.contains("secret-part"), "{debug}");
}

#[test]
fn empty_configuration_requires_issuer_cluster() {
    for empty in ["", "  \n", "{}"] {
        let errors = errors(empty);
        assert_eq!(errors[0].field, "issuer_cluster", "{empty:?}: {errors:?}");
        assert!(errors[0].message.starts_with("required"));
    }
}

#[test]
fn issuer_cluster_must_not_be_empty() {
    assert!(one_error(&with("issuer_cluster", r#""""#), "issuer_cluster").starts_with("required"));
}

#[test]
fn issuer_authority_must_be_a_plain_name() {
    one_error(&with("issuer_authority", r#""""#), "issuer_authority");
    one_error(&with("issuer_authority", r#""a b""#), "issuer_authority");
}

#[test]
fn token_path_must_start_with_slash() {
    assert_eq!(
        one_error(&with("token_path", r#""v1/token""#), "token_path"),
        "must start with /"
    );
    one_error(&with("token_path", r#""/v1/to ken""#), "token_path");
}

#[test]
fn timeout_ms_bounds() {
    one_error(&with("timeout_ms", "0"), "timeout_ms");
    one_error(&with("timeout_ms", "60001"), "timeout_ms");
    assert!(FilterConfig::parse(with("timeout_ms", "60000").as_bytes()).is_ok());
    assert!(FilterConfig::parse(with("timeout_ms", "1").as_bytes()).is_ok());
}

#[test]
fn wrong_types_name_their_field() {
    one_error(&with("timeout_ms", "-1"), "timeout_ms");
    one_error(&with("timeout_ms", r#""5000""#), "timeout_ms");
    one_error(&with("issuer_cluster", "5"), "issuer_cluster");
}

#[test]
fn server_workload_must_not_contain_slash() {
    one_error(
        &with("server_workload", r#""api.anthropic.com/v1""#),
        "server_workload",
    );
    one_error(&with("server_workload", r#""""#), "server_workload");
}

#[test]
fn mandatory_must_be_below_advisory() {
    let message = one_error(&with("mandatory_refresh_s", "120"), "mandatory_refresh_s");
    assert_eq!(message, "must be less than advisory_refresh_s (120)");
    assert!(FilterConfig::parse(with("mandatory_refresh_s", "0").as_bytes()).is_ok());
    assert!(FilterConfig::parse(with("mandatory_refresh_s", "119").as_bytes()).is_ok());
}

#[test]
fn advisory_bounds() {
    one_error(&with("advisory_refresh_s", "3601"), "advisory_refresh_s");
    let errors = errors(&with("advisory_refresh_s", "0"));
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["advisory_refresh_s", "mandatory_refresh_s"]);
}

#[test]
fn internal_api_key_errors_never_echo_the_key() {
    for bad in [r#""""#, r#""secretvalue x""#, "123456789"] {
        let json = with("internal_api_key", bad);
        let message = one_error(&json, "internal_api_key");
        assert!(
            !message.contains("secretvalue") && !message.contains("123456789"),
            "{message}"
        );
    }
    assert!(FilterConfig::parse(with("internal_api_key", "null").as_bytes()).is_ok());
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let message = one_error(&with("issuer_clustre", r#""x""#), "issuer_clustre");
    assert!(
        message.starts_with("unknown field `issuer_clustre`"),
        "{message}"
    );
    let json = with("identity", r#"{"source":"static","value":"a","extra":1}"#);
    one_error(&json, "identity.extra");
}

#[test]
fn identity_is_required() {
    one_error(r#"{"issuer_cluster":"c"}"#, "identity");
}

#[test]
fn identity_source_must_be_known() {
    let message = one_error(
        &with("identity", r#"{"source":"magic"}"#),
        "identity.source",
    );
    assert!(message.contains("unknown variant `magic`"), "{message}");
}

#[test]
fn static_identity_value_rules() {
    one_error(
        &with("identity", r#"{"source":"static","value":""}"#),
        "identity.value",
    );
    one_error(
        &with("identity", r#"{"source":"static","value":"a\nb"}"#),
        "identity.value",
    );
    let long = format!(r#"{{"source":"static","value":"{}"}}"#, "a".repeat(2049));
    one_error(&with("identity", &long), "identity.value");
    assert_eq!(
        one_error(
            &with("identity", r#"{"source":"static"}"#),
            "identity.value"
        ),
        "required for source `static`"
    );
}

#[test]
fn identity_header_must_be_a_lowercase_header_name() {
    for bad in [r#""X-Client-Workload""#, r#""""#, r#""a b""#, r#""a:b""#] {
        let json = with(
            "identity",
            &format!(r#"{{"source":"header","name":{bad}}}"#),
        );
        let message = one_error(&json, "identity.name");
        assert_eq!(message, "must be a lowercase HTTP header name", "{bad}");
    }
}

#[test]
fn identity_header_must_not_be_a_pseudo_header() {
    let json = with("identity", r#"{"source":"header","name":":authority"}"#);
    assert_eq!(
        one_error(&json, "identity.name"),
        "must not be a pseudo-header"
    );
}

#[test]
fn identity_header_must_not_be_a_credential_header() {
    for name in ["authorization", "x-api-key", "anthropic-beta"] {
        let json = with(
            "identity",
            &format!(r#"{{"source":"header","name":"{name}"}}"#),
        );
        assert!(one_error(&json, "identity.name").starts_with("must not be"));
    }
}

#[test]
fn all_validation_errors_are_reported_on_one_line() {
    let json =
        r#"{"issuer_cluster":"","token_path":"x","identity":{"source":"header","name":"Bad"}}"#;
    let line = FilterConfig::parse(json.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        line,
        "issuer_cluster: required: the Envoy cluster of issuer-svc; token_path: must start with /; identity.name: must be a lowercase HTTP header name"
    );
}

#[test]
fn trailing_garbage_is_refused() {
    let json = format!("{MINIMAL} x");
    assert!(FilterConfig::parse(json.as_bytes()).is_err());
}

#[test]
fn new_fields_are_validated() {
    let config = FilterConfig::parse(with("max_identities", "5").as_bytes()).unwrap();
    assert_eq!(config.max_identities, 5);
    one_error(&with("max_identities", "0"), "max_identities");
    one_error(&with("refresh_tick_ms", "50"), "refresh_tick_ms");
    let config = FilterConfig::parse(with("refresh_tick_ms", "250").as_bytes()).unwrap();
    assert_eq!(config.refresh_tick, Duration::from_millis(250));
}

#[test]
fn peer_uri_san_and_jwt_sources_parse() {
    let config =
        FilterConfig::parse(with("identity", r#"{"source":"peer_uri_san"}"#).as_bytes()).unwrap();
    assert_eq!(config.identity, IdentitySource::PeerUriSan { prefix: None });
    one_error(
        &with("identity", r#"{"source":"peer_uri_san","x":1}"#),
        "identity.x",
    );
    let jwk = include_str!("../jwt/testdata/ec.jwk.json");
    let jwt =
        format!(r#"{{"source":"jwt","issuer":"https://i","audiences":["a"],"keys":[{jwk}]}}"#);
    let config = FilterConfig::parse(with("identity", &jwt).as_bytes()).unwrap();
    let IdentitySource::Jwt(source) = config.identity else {
        panic!("not jwt")
    };
    assert_eq!(
        (
            source.header.as_str(),
            source.claim.as_str(),
            source.leeway_s
        ),
        ("authorization", "sub", 30)
    );
    for (identity, field) in [
        (
            r#"{"source":"jwt","issuer":"https://i","audiences":[],"keys":[{"kty":"oct","k":"AA"}]}"#,
            "identity.audiences",
        ),
        (
            r#"{"source":"jwt","issuer":"","audiences":["a"],"keys":[]}"#,
            "identity.issuer",
        ),
        (
            r#"{"source":"jwt","header":"x-api-key","issuer":"i","audiences":["a"],"keys":[{"kty":"oct","k":"AA"}]}"#,
            "identity.header",
        ),
    ] {
        let errors = errors(&with("identity", identity));
        assert!(errors.iter().any(|e| e.field == field), "{errors:?}");
    }
    let errors = errors(&with(
        "identity",
        r#"{"source":"jwt","issuer":"i","audiences":["a"],"keys":[{"kty":"oct","k":"AA"}]}"#,
    ));
    assert_eq!(errors[0].field, "identity.keys[0]");
    assert_eq!(
        one_error(
            &with(
                "identity",
                r#"{"source":"jwt","audiences":["a"],"keys":[]}"#,
            ),
            "identity.issuer",
        ),
        "required for source `jwt`"
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    for (field, value, message) in [
        (
            "timeout_ms",
            "-1",
            "expected a non-negative integer, found a negative number",
        ),
        (
            "timeout_ms",
            "1.5",
            "expected a non-negative integer, found a number with a fraction or exponent",
        ),
        (
            "timeout_ms",
            "5e3",
            "expected a non-negative integer, found a number with a fraction or exponent",
        ),
        (
            "timeout_ms",
            r#""5000""#,
            "expected a non-negative integer, found a string",
        ),
        (
            "max_identities",
            "null",
            "expected a non-negative integer, found null",
        ),
        (
            "issuer_cluster",
            "5",
            "expected a string or null, found a number",
        ),
        ("token_path", "null", "expected a string, found null"),
        ("server_workload", "[]", "expected a string, found an array"),
        (
            "identity",
            r#""static""#,
            "expected an object, found a string",
        ),
    ] {
        assert_eq!(one_error(&with(field, value), field), message, "{field}");
    }
    // At the u64 edge the value is read, then refused by its range. (Not
    // `with`: serde_json would turn these into floats.)
    let raw = |value: &str| MINIMAL.replacen('{', &format!(r#"{{"timeout_ms":{value},"#), 1);
    assert_eq!(
        one_error(&raw("18446744073709551616"), "timeout_ms"),
        "expected a non-negative integer, found a number above 18446744073709551615"
    );
    assert_eq!(
        one_error(&raw("18446744073709551615"), "timeout_ms"),
        "must be between 1 and 60000 milliseconds"
    );
}

#[test]
fn null_means_absent_where_the_field_is_optional() {
    assert!(
        FilterConfig::parse(with("issuer_cluster", "null").as_bytes())
            .unwrap_err()
            .0[0]
            .message
            .starts_with("required")
    );
    one_error(&with("identity", "null"), "identity");
}

#[test]
fn identity_member_errors_name_their_path() {
    for (identity, field, message) in [
        (
            r#"{"value":"a"}"#,
            "identity.source",
            "required: one of `static`, `header`, `peer_uri_san`, `jwt`, `metadata`",
        ),
        (
            r#"{"source":1}"#,
            "identity.source",
            "expected a string, found a number",
        ),
        (
            r#"{"source":"header","name":5}"#,
            "identity.name",
            "expected a string, found a number",
        ),
        (
            r#"{"source":"static","value":null}"#,
            "identity.value",
            "expected a string, found null",
        ),
        (
            r#"{"source":"jwt","issuer":"i","audiences":["a",7],"keys":[]}"#,
            "identity.audiences[1]",
            "expected a string, found a number",
        ),
        (
            r#"{"source":"jwt","issuer":"i","audiences":"a","keys":[]}"#,
            "identity.audiences",
            "expected an array, found a string",
        ),
        (
            r#"{"source":"jwt","issuer":"i","audiences":["a"],"keys":{}}"#,
            "identity.keys",
            "expected an array, found an object",
        ),
        (
            r#"{"source":"jwt","issuer":"i","audiences":["a"],"keys":[],"leeway_s":-5}"#,
            "identity.leeway_s",
            "expected a non-negative integer, found a negative number",
        ),
        (
            r#"{"source":"jwt","issuer":"i","audiences":["a"],"keys":[],"aud":["a"]}"#,
            "identity.aud",
            "unknown field `aud`, expected one of `source`, `header`, `issuer`, `audiences`, `claim`, `keys`, `leeway_s`, `max_lifetime_s`",
        ),
    ] {
        assert_eq!(
            one_error(&with("identity", identity), field),
            message,
            "{identity}"
        );
    }
    assert_eq!(
        one_error(
            &with("identity", r#"{"source":"magic"}"#),
            "identity.source"
        ),
        "unknown variant `magic`, expected one of `static`, `header`, `peer_uri_san`, `jwt`, `metadata`"
    );
}

#[test]
fn jwk_errors_name_the_key_index() {
    let ec = include_str!("../jwt/testdata/ec.jwk.json");
    // A type error names the member and stops the parse.
    let identity = format!(
        r#"{{"source":"jwt","issuer":"i","audiences":["a"],"keys":[{ec},{{"kty":"EC","crv":"P-256","kid":7}},"x"]}}"#
    );
    assert_eq!(
        one_error(&with("identity", &identity), "identity.keys[1].kid"),
        "expected a string, found a number"
    );
    let identity =
        format!(r#"{{"source":"jwt","issuer":"i","audiences":["a"],"keys":[{ec},"x"]}}"#);
    assert_eq!(
        one_error(&with("identity", &identity), "identity.keys[1]"),
        "expected an object, found a string"
    );
    // Every unusable key is reported, with the other values' errors.
    let identity = format!(
        r#"{{"source":"jwt","issuer":"","audiences":["a"],"keys":[{{"kty":"oct","k":"AA"}},{ec},{{"kty":"EC","crv":"P-384"}}]}}"#
    );
    let errors = errors(&with("identity", &identity));
    let fields: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("identity.issuer", "must not be empty"),
            (
                "identity.keys[0]",
                "must be a public key (no \"d\" or \"k\" member)"
            ),
            ("identity.keys[2]", "kty must be RSA, or EC with crv P-256"),
        ]
    );
}

#[test]
fn a_type_or_unknown_field_error_stops_the_parse_at_the_first() {
    let json = r#"{"issuer_cluster":1,"timeout_ms":"x","extra":true,
        "identity":{"source":"header","name":[],"more":1},"refresh_tick_ms":-1}"#;
    let line = FilterConfig::parse(json.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        line,
        "issuer_cluster: expected a string or null, found a number"
    );
    let json = r#"{"extra":true,"issuer_cluster":1}"#;
    assert_eq!(
        FilterConfig::parse(json.as_bytes())
            .unwrap_err()
            .to_string(),
        "extra: unknown field `extra`, expected one of `issuer_cluster`, `issuer_authority`, `token_path`, `timeout_ms`, `server_workload`, `identity`, `advisory_refresh_s`, `mandatory_refresh_s`, `internal_api_key`, `max_identities`, `refresh_tick_ms`"
    );
}

#[test]
fn every_member_a_source_does_not_have_or_needs_is_reported_at_once() {
    let json = with_identity(r#"{"value":"a","source":"jwt","more":1,"prefix":null}"#);
    let line = FilterConfig::parse(json.as_bytes())
        .unwrap_err()
        .to_string();
    assert_eq!(
        line,
        "identity.value: unknown field `value`, expected one of `source`, `header`, `issuer`, `audiences`, `claim`, `keys`, `leeway_s`, `max_lifetime_s`; \
         identity.more: unknown field `more`, expected one of `source`, `header`, `issuer`, `audiences`, `claim`, `keys`, `leeway_s`, `max_lifetime_s`; \
         identity.prefix: unknown field `prefix`, expected one of `source`, `header`, `issuer`, `audiences`, `claim`, `keys`, `leeway_s`, `max_lifetime_s`; \
         identity.issuer: required for source `jwt`; \
         identity.audiences: required for source `jwt`; \
         identity.keys: required for source `jwt`"
    );
}

#[test]
fn odd_unknown_field_names_are_quoted_and_cut() {
    let long = format!("\"{}\"…", "x".repeat(64));
    for (json, field) in [
        (r#"{"a\nb":1,"ok":3}"#.to_owned(), r#""a\nb""#),
        (format!(r#"{{"{}":2}}"#, "x".repeat(100)), long.as_str()),
        (r#"{"ok":3}"#.to_owned(), "ok"),
        (
            with("identity", r#"{"source":"static","value":"a","\u202e":1}"#),
            r#"identity."\u{202e}""#,
        ),
    ] {
        let errors = errors(&json);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, field);
        assert!(!errors[0].to_string().contains(['\n', '\u{202e}']));
    }
}

#[test]
fn json_syntax_errors_give_the_position() {
    for (json, message) in [
        (
            "{\n\"issuer_cluster\": x}",
            "expected value at line 2 column 19",
        ),
        (r#"{"timeout_ms":01}"#, "invalid number at line 1 column 16"),
        (
            &format!("{MINIMAL} x"),
            &format!("trailing characters at line 1 column {}", MINIMAL.len() + 2),
        ),
    ] {
        assert_eq!(one_error(json, "."), message, "{json}");
    }
    assert_eq!(one_error("[]", "."), "expected an object, found an array");
    assert_eq!(one_error("null", "."), "expected an object, found null");
    assert_eq!(
        one_error("\"{}\"", "."),
        "expected an object, found a string"
    );
}

#[test]
fn duplicate_members_are_refused_in_every_object() {
    assert_eq!(
        one_error(r#"{"timeout_ms":1,"timeout_ms":2}"#, "."),
        "duplicate field `timeout_ms`"
    );
    for identity in [
        r#"{"source":"static","value":"a","value":"b"}"#,
        r#"{"source":"static","source":"header","value":"a"}"#,
        r#"{"source":"static","value":"a","x":1,"x":2}"#,
    ] {
        let message = one_error(&with_identity(identity), "identity");
        assert!(
            message.starts_with("duplicate field `"),
            "{identity}: {message}"
        );
    }
    let ec = include_str!("../jwt/testdata/ec.jwk.json");
    let twice = ec.replacen('{', r#"{"kid":"a","#, 1);
    let identity =
        format!(r#"{{"source":"jwt","issuer":"i","audiences":["a"],"keys":[{ec},{twice}]}}"#);
    assert_eq!(
        one_error(&with_identity(&identity), "identity.keys[1]"),
        "duplicate field `kid`"
    );
}

#[test]
fn internal_api_key_is_never_echoed_whatever_its_type_or_syntax() {
    for bad in [
        "123456789",
        "true",
        r#"["secretvalue"]"#,
        r#"{"secretvalue":1}"#,
    ] {
        let message = one_error(&with("internal_api_key", bad), "internal_api_key");
        assert_eq!(message, "must be a string or null");
    }
    for json in [
        r#"{"internal_api_key":"secretvalue\q"}"#,
        r#"{"internal_api_key":"secretvalue"#,
        "{\"internal_api_key\":\"secretvalue\u{1}\"}",
        r#"{"internal_api_key":"secretvalue" "x"}"#,
    ] {
        let line = FilterConfig::parse(json.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(!line.contains("secretvalue"), "{line}");
    }
}

#[test]
fn equal_configurations_compare_equal() {
    let jwk = include_str!("../jwt/testdata/rsa.jwk.json");
    let jwt = format!(r#"{{"source":"jwt","issuer":"i","audiences":["a"],"keys":[{jwk}]}}"#);
    let a = FilterConfig::parse(with("identity", &jwt).as_bytes()).unwrap();
    let b = FilterConfig::parse(with("identity", &jwt).as_bytes()).unwrap();
    assert_eq!(a, b);
    let other = jwt.replace(r#""issuer":"i""#, r#""issuer":"j""#);
    assert_ne!(
        a,
        FilterConfig::parse(with("identity", &other).as_bytes()).unwrap()
    );
}

#[test]
fn jwt_max_lifetime_has_a_default_and_a_checked_range() {
    let jwk = include_str!("../jwt/testdata/ec.jwk.json");
    let jwt = |extra: &str| {
        let identity = format!(
            r#"{{"source":"jwt","issuer":"https://i","audiences":["a"],"keys":[{jwk}]{extra}}}"#
        );
        with("identity", &identity)
    };
    let lifetime = |json: &str| match FilterConfig::parse(json.as_bytes()).unwrap().identity {
        IdentitySource::Jwt(source) => source.max_lifetime_s,
        other => panic!("not jwt: {other:?}"),
    };
    assert_eq!(lifetime(&jwt("")), 86_400);
    assert_eq!(lifetime(&jwt(r#","max_lifetime_s":3600"#)), 3600);
    for bad in ["59", "31622401"] {
        assert_eq!(
            one_error(
                &jwt(&format!(r#","max_lifetime_s":{bad}"#)),
                "identity.max_lifetime_s"
            ),
            "must be between 60 and 31622400 seconds"
        );
    }
    assert_eq!(
        one_error(&jwt(r#","max_lifetime_s":"1h""#), "identity.max_lifetime_s"),
        "expected a non-negative integer, found a string"
    );
}

#[test]
fn metadata_source_parses() {
    let identity = r#"{"source":"metadata","namespace":"envoy.filters.http.jwt_authn","path":["jwt_payload","sub"]}"#;
    let config = FilterConfig::parse(with("identity", identity).as_bytes()).unwrap();
    assert_eq!(
        config.identity,
        IdentitySource::Metadata {
            namespace: "envoy.filters.http.jwt_authn".into(),
            path: vec!["jwt_payload".into(), "sub".into()],
        }
    );
    // Istio keys the payload by the issuer: dots, slashes, colons pass.
    let istio = r#"{"source":"metadata","namespace":"istio_authn","path":["https://issuer.example.com/realms/x y","sub"]}"#;
    assert!(FilterConfig::parse(with("identity", istio).as_bytes()).is_ok());
    let eight = r#"{"source":"metadata","namespace":"n","path":["1","2","3","4","5","6","7","8"]}"#;
    assert!(FilterConfig::parse(with("identity", eight).as_bytes()).is_ok());
}

#[test]
fn metadata_source_errors_name_their_field() {
    let long = "k".repeat(257);
    for (identity, field, message) in [
        (
            r#"{"source":"metadata","path":["sub"]}"#.to_owned(),
            "identity.namespace",
            "required for source `metadata`",
        ),
        (
            r#"{"source":"metadata","namespace":"n"}"#.to_owned(),
            "identity.path",
            "required for source `metadata`",
        ),
        (
            r#"{"source":"metadata","namespace":"","path":["sub"]}"#.to_owned(),
            "identity.namespace",
            "must not be empty",
        ),
        (
            r#"{"source":"metadata","namespace":"a b","path":["sub"]}"#.to_owned(),
            "identity.namespace",
            "must be visible ASCII without spaces",
        ),
        (
            format!(r#"{{"source":"metadata","namespace":"{long}","path":["sub"]}}"#),
            "identity.namespace",
            "must be at most 256 bytes",
        ),
        (
            r#"{"source":"metadata","namespace":7,"path":["sub"]}"#.to_owned(),
            "identity.namespace",
            "expected a string, found a number",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":[]}"#.to_owned(),
            "identity.path",
            "must list 1 to 8 keys",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":["1","2","3","4","5","6","7","8","9"]}"#
                .to_owned(),
            "identity.path",
            "must list 1 to 8 keys",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":"sub"}"#.to_owned(),
            "identity.path",
            "expected an array, found a string",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":["jwt_payload",1]}"#.to_owned(),
            "identity.path[1]",
            "expected a string, found a number",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":["jwt_payload",""]}"#.to_owned(),
            "identity.path[1]",
            "must not be empty",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":["a\u0000b"]}"#.to_owned(),
            "identity.path[0]",
            "must not contain control, format or separator characters",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":["a\u202eb"]}"#.to_owned(),
            "identity.path[0]",
            "must not contain control, format or separator characters",
        ),
        (
            format!(r#"{{"source":"metadata","namespace":"n","path":["{long}"]}}"#),
            "identity.path[0]",
            "must be at most 256 bytes",
        ),
        (
            r#"{"source":"metadata","namespace":"n","path":["sub"],"claim":"sub"}"#.to_owned(),
            "identity.claim",
            "unknown field `claim`, expected one of `source`, `namespace`, `path`",
        ),
    ] {
        assert_eq!(
            one_error(&with("identity", &identity), field),
            message,
            "{identity}"
        );
    }
}
