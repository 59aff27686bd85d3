use super::*;
use crate::test_support::{IssuerServer, TestKey, config, dead_issuer_url};

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[test]
fn claude_dials_https_443_dns_names_and_fake_claude_also_loopback() {
    for (text, ok) in [
        ("https://issuer.example.com/p", true),
        ("https://issuer.example.com:443/p", true),
        ("http://127.0.0.1:8081/p", true),
        ("http://127.1.2.3/p", true),
        ("https://localhost:9443/p", true),
        ("http://[::1]:80/p", true),
        ("http://issuer.example.com/p", false),
        ("https://issuer.example.com:8443/p", false),
        ("https://192.0.2.1/p", false),
        ("https://[2001:db8::1]/p", false),
        ("https://intranet/p", false),
        ("ftp://127.0.0.1/p", false),
    ] {
        assert_eq!(check_dial_url(&url(text)).is_ok(), ok, "{text}");
    }
}

#[test]
fn discovery_url_appends_the_well_known_path() {
    assert_eq!(
        discovery_url("https://i.example.com/providers/x")
            .unwrap()
            .as_str(),
        "https://i.example.com/providers/x/.well-known/openid-configuration"
    );
    assert!(discovery_url("http://i.example.com/x").is_err());
}

#[test]
fn discovery_needs_a_dialable_jwks_uri() {
    let doc =
        parse_discovery(br#"{"issuer":"i","jwks_uri":"https://i.example.com/jwks.json","x":1}"#)
            .unwrap();
    assert_eq!(doc.issuer.as_deref(), Some("i"));
    assert_eq!(doc.jwks_uri.as_str(), "https://i.example.com/jwks.json");
    assert!(matches!(
        parse_discovery(br#"{"issuer":"i"}"#),
        Err(JwksError::Document(_))
    ));
    assert!(matches!(
        parse_discovery(b"nope"),
        Err(JwksError::Document(_))
    ));
    assert!(matches!(
        parse_discovery(br#"{"jwks_uri":"http://i.example.com/jwks.json"}"#),
        Err(JwksError::UrlNotAllowed(_))
    ));
}

#[test]
fn jwks_parsing_skips_keys_it_cannot_read() {
    let key = TestKey::es256("good");
    let body = serde_json::json!({"keys": [{"kty": "weird", "kid": "w"}, key.jwk, 42, {"kid": 5}]})
        .to_string();
    let keys = parse_jwks(body.as_bytes()).unwrap();
    let kids: Vec<_> = keys.iter().map(|k| k.common.key_id.as_deref()).collect();
    assert_eq!(kids, [Some("w"), Some("good")]);
    assert!(parse_jwks(b"{}").is_err());
}

fn cache_for(issuer_url: &str, clock: &Clock) -> (JwksCache, FederationIssuer) {
    let config = config(issuer_url);
    let cache = JwksCache::new(
        JwksFetcher::new().unwrap(),
        clock.clone(),
        60,
        config.issuers.keys(),
    );
    (cache, config.issuers["fdis_demo"].clone())
}

#[tokio::test]
async fn keys_are_cached_and_an_unknown_kid_refetches_at_most_every_10_seconds() {
    let old = TestKey::es256("old");
    let new = TestKey::es256("new");
    let server = IssuerServer::start(&[&old]).await;
    let clock = Clock::fixed(1_000);
    let (cache, issuer) = cache_for(&server.issuer_url, &clock);

    assert!(cache.find_key(&issuer, "old").await.is_ok());
    assert!(cache.find_key(&issuer, "old").await.is_ok());
    assert_eq!(server.jwks_fetches(), 1);

    server.set_keys(&[&old, &new]);
    assert_eq!(
        cache.find_key(&issuer, "new").await,
        Err(KeyLookupError::UnknownKid)
    );
    assert_eq!(
        server.jwks_fetches(),
        1,
        "no refetch within 10 s of the last fetch"
    );
    clock.advance(10);
    assert!(cache.find_key(&issuer, "new").await.is_ok());
    assert_eq!(server.jwks_fetches(), 2);

    server.set_keys(&[&new]);
    clock.advance(59);
    assert!(cache.find_key(&issuer, "old").await.is_ok(), "still cached");
    clock.advance(1);
    assert_eq!(
        cache.find_key(&issuer, "old").await,
        Err(KeyLookupError::UnknownKid)
    );
    assert_eq!(server.jwks_fetches(), 3, "expired cache refetched");
}

#[tokio::test]
async fn unreachable_and_oversized_documents_are_unavailable() {
    let clock = Clock::fixed(1_000);
    let (cache, issuer) = cache_for(&dead_issuer_url().await, &clock);
    assert!(matches!(
        cache.find_key(&issuer, "k").await,
        Err(KeyLookupError::Unavailable(JwksError::Http { .. }))
    ));

    let server = IssuerServer::start(&[]).await;
    let (cache, issuer) = cache_for(&server.huge_issuer_url(), &clock);
    assert!(matches!(
        cache.find_key(&issuer, "k").await,
        Err(KeyLookupError::Unavailable(JwksError::TooLarge { .. }))
    ));

    let missing = format!("{}/nothing-here", server.issuer_url);
    let (cache, issuer) = cache_for(&missing, &clock);
    assert!(matches!(
        cache.find_key(&issuer, "k").await,
        Err(KeyLookupError::Unavailable(JwksError::Status {
            status: 404,
            ..
        }))
    ));
}
