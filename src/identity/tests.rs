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
    host.fail_header_edits = true;
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
}
