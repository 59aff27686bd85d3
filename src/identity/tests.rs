use super::*;
use crate::tests::fake_host::FakeHost;

const HEADER: &str = "x-client-workload";

fn header_source() -> IdentitySource {
    IdentitySource::Header(HEADER.to_owned())
}

#[test]
fn static_source_returns_its_value_and_touches_no_header() {
    let mut host = FakeHost::new().with_request_header(HEADER, "spoofed");
    let source = IdentitySource::Static("spiffe://a/b".into());
    assert_eq!(resolve(&source, &mut host).unwrap(), "spiffe://a/b");
    assert_eq!(host.request_header(HEADER).as_deref(), Some("spoofed"));
}

#[test]
fn header_source_reads_and_removes_the_header() {
    let mut host = FakeHost::new().with_request_header(HEADER, "spiffe://cluster.local/ns/x/sa/y");
    let identity = resolve(&header_source(), &mut host).unwrap().into_owned();
    assert_eq!(identity, "spiffe://cluster.local/ns/x/sa/y");
    assert_eq!(host.request_header(HEADER), None);
}

#[test]
fn missing_or_empty_header_is_missing() {
    let mut host = FakeHost::new();
    let missing = IdentityError::Missing {
        header: HEADER.into(),
    };
    assert_eq!(resolve(&header_source(), &mut host), Err(missing.clone()));
    let mut host = FakeHost::new().with_request_header(HEADER, "");
    assert_eq!(resolve(&header_source(), &mut host), Err(missing));
    assert_eq!(host.request_header(HEADER), None);
}

#[test]
fn repeated_header_is_refused_and_removed() {
    let mut host = FakeHost::new()
        .with_request_header(HEADER, "a")
        .with_request_header(HEADER, "b");
    assert!(matches!(
        resolve(&header_source(), &mut host),
        Err(IdentityError::Invalid { .. })
    ));
    assert_eq!(host.request_header(HEADER), None);
}

#[test]
fn control_characters_and_non_utf8_are_refused() {
    let mut host = FakeHost::new().with_request_header(HEADER, "a\tb");
    assert!(matches!(
        resolve(&header_source(), &mut host),
        Err(IdentityError::Invalid { .. })
    ));
    let mut host = FakeHost::new().with_request_header_bytes(HEADER, vec![0xff, 0x41]);
    assert!(matches!(
        resolve(&header_source(), &mut host),
        Err(IdentityError::Invalid { .. })
    ));
}

#[test]
fn failed_removal_fails_closed() {
    let mut host = FakeHost::new().with_request_header(HEADER, "a");
    host.fail_header_edits();
    assert_eq!(
        resolve(&header_source(), &mut host),
        Err(IdentityError::NotRemoved {
            header: HEADER.into()
        })
    );
}

#[test]
fn each_source_is_named_as_in_the_configuration() {
    assert_eq!(IdentitySource::Static("a".into()).kind(), "static");
    assert_eq!(IdentitySource::Header("x".into()).kind(), "header");
    assert_eq!(
        IdentitySource::PeerUriSan { prefix: None }.kind(),
        "peer_uri_san"
    );
    assert_eq!(jwt_sub().kind(), "metadata");
}

const JWT_AUTHN: &str = "envoy.filters.http.jwt_authn";
const SPIFFE: &str = "spiffe://cluster.local/ns/demo/sa/app";

fn metadata_source(namespace: &str, path: &[&str]) -> IdentitySource {
    IdentitySource::Metadata {
        namespace: namespace.to_owned(),
        path: path.iter().map(|p| (*p).to_owned()).collect(),
    }
}

fn jwt_sub() -> IdentitySource {
    metadata_source(JWT_AUTHN, &["jwt_payload", "sub"])
}

/// `{"a": "b"}` as Envoy serializes a map (a Struct) for a property call:
/// the proxy-wasm pairs encoding (count, sizes, NUL-terminated bytes).
fn pairs_encoding() -> Vec<u8> {
    let mut bytes = Vec::new();
    for n in [1u32, 1, 1] {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    bytes.extend_from_slice(b"a\0b\0");
    bytes
}

#[test]
fn metadata_source_reads_one_property_at_the_configured_path() {
    let mut host = FakeHost::new()
        .with_metadata(JWT_AUTHN, &["jwt_payload", "sub"], SPIFFE.as_bytes())
        .with_request_header(HEADER, "spiffe://spoofed");
    assert_eq!(resolve(&jwt_sub(), &mut host).unwrap(), SPIFFE);
    assert_eq!(
        host.property_reads(),
        vec![vec![
            "metadata",
            "filter_metadata",
            "envoy.filters.http.jwt_authn",
            "jwt_payload",
            "sub"
        ]],
        "one host call, the namespace and each key one segment"
    );
    assert_eq!(
        host.request_header(HEADER).as_deref(),
        Some("spiffe://spoofed")
    );
}

#[test]
fn metadata_keys_may_hold_dots_slashes_and_spaces() {
    let issuer = "https://issuer.example.com/realms/a b";
    let source = metadata_source("istio_authn", &[issuer, "sub"]);
    let mut host = FakeHost::new().with_metadata("istio_authn", &[issuer, "sub"], b"svc-a");
    assert_eq!(resolve(&source, &mut host).unwrap(), "svc-a");
    assert_eq!(host.property_reads()[0][3], issuer);
}

#[test]
fn absent_or_empty_metadata_is_missing_and_names_the_place() {
    let missing = IdentityError::MetadataMissing {
        place: r#"envoy.filters.http.jwt_authn ["jwt_payload", "sub"]"#.into(),
    };
    let mut host = FakeHost::new();
    assert_eq!(resolve(&jwt_sub(), &mut host), Err(missing.clone()));
    let mut host = FakeHost::new().with_metadata(JWT_AUTHN, &["jwt_payload", "sub"], b"");
    assert_eq!(resolve(&jwt_sub(), &mut host), Err(missing));
    // Another claim, or another filter's namespace, is not the configured place.
    let mut host = FakeHost::new()
        .with_metadata(JWT_AUTHN, &["jwt_payload", "email"], b"a@example.com")
        .with_metadata("other.filter", &["jwt_payload", "sub"], SPIFFE.as_bytes());
    assert!(matches!(
        resolve(&jwt_sub(), &mut host),
        Err(IdentityError::MetadataMissing { .. })
    ));
}

#[test]
fn binary_encodings_of_other_types_are_refused_without_echoing_them() {
    for (what, value) in [
        ("double 42", 42.0f64.to_le_bytes().to_vec()),
        ("double 0.1 (not UTF-8)", 0.1f64.to_le_bytes().to_vec()),
        ("int64 7", 7i64.to_le_bytes().to_vec()),
        ("bool true", vec![1]),
        ("bool false", vec![0]),
        ("map", pairs_encoding()),
    ] {
        let mut host = FakeHost::new().with_metadata(JWT_AUTHN, &["jwt_payload", "sub"], &value);
        let Err(IdentityError::MetadataInvalid { place, reason }) = resolve(&jwt_sub(), &mut host)
        else {
            panic!("{what} was accepted");
        };
        assert_eq!(
            place,
            r#"envoy.filters.http.jwt_authn ["jwt_payload", "sub"]"#
        );
        assert!(
            reason == "it is not UTF-8 text (the path must name a string claim)"
                || reason == "it must not contain control characters",
            "{what}: {reason}"
        );
    }
}

#[test]
fn metadata_text_follows_the_identity_rules() {
    for (value, reason) in [
        (
            "spiffe://a\u{202e}b".to_owned(),
            "it must not contain Unicode format characters or line/paragraph separators \
             (found U+202E)",
        ),
        ("a".repeat(2049), "it must be at most 2048 bytes"),
    ] {
        let mut host =
            FakeHost::new().with_metadata(JWT_AUTHN, &["jwt_payload", "sub"], value.as_bytes());
        let Err(IdentityError::MetadataInvalid { reason: got, .. }) =
            resolve(&jwt_sub(), &mut host)
        else {
            panic!("accepted");
        };
        assert!(got.starts_with(reason), "{got}");
    }
}

/// The ABI's limit, as documented on `IdentitySource::Metadata`: a number
/// whose 8 bytes are printable text reads as that text. Only a string
/// claim may be named.
#[test]
fn a_number_whose_bytes_are_printable_text_cannot_be_told_apart() {
    let number = f64::from_le_bytes(*b"ABCDEFGH");
    let mut host =
        FakeHost::new().with_metadata(JWT_AUTHN, &["jwt_payload", "sub"], &number.to_le_bytes());
    assert_eq!(resolve(&jwt_sub(), &mut host).unwrap(), "ABCDEFGH");
}

#[test]
fn a_path_longer_than_the_configuration_allows_fails_closed() {
    let keys = ["k"; MAX_METADATA_PATH + 1];
    let mut host = FakeHost::new().with_metadata(JWT_AUTHN, &keys, b"svc");
    let source = metadata_source(JWT_AUTHN, &keys);
    assert!(matches!(
        resolve(&source, &mut host),
        Err(IdentityError::MetadataMissing { .. })
    ));
    assert!(host.property_reads().is_empty());
    let keys = ["k"; MAX_METADATA_PATH];
    let mut host = FakeHost::new().with_metadata(JWT_AUTHN, &keys, b"svc");
    let source = metadata_source(JWT_AUTHN, &keys);
    assert_eq!(resolve(&source, &mut host).unwrap(), "svc");
}

#[test]
fn metadata_place_quotes_each_key() {
    assert_eq!(
        metadata_place(
            "istio_authn",
            &["https://a.example".into(), "say \"hi\"".into()]
        ),
        r#"istio_authn ["https://a.example", "say \"hi\""]"#
    );
}
