use super::*;
use crate::config::JwksSource;
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
    cache_for_issuer(config(issuer_url).issuers["fdis_demo"].clone(), clock)
}

fn cache_for_issuer(issuer: FederationIssuer, clock: &Clock) -> (JwksCache, FederationIssuer) {
    let cache = JwksCache::new(clock.clone(), 60, [&issuer]).unwrap();
    (cache, issuer)
}

#[tokio::test]
async fn keys_are_polled_every_60_seconds_and_a_key_published_late_is_unknown_until_then() {
    let old = TestKey::es256("old");
    let new = TestKey::es256("new");
    let server = IssuerServer::start(&[&old]).await;
    let clock = Clock::fixed(1_000);
    let (cache, issuer) = cache_for(&server.issuer_url, &clock);

    assert!(cache.find_key(&issuer, "old").await.is_ok());
    assert!(cache.find_key(&issuer, "old").await.is_ok());
    assert_eq!(server.jwks_fetches(), 1);
    assert_eq!(cache.fetches(), 1);

    server.set_keys(&[&old, &new]);
    clock.advance(30);
    assert_eq!(
        cache.find_key(&issuer, "new").await,
        Err(KeyLookupError::UnknownKid)
    );
    clock.advance(29);
    assert_eq!(
        cache.find_key(&issuer, "new").await,
        Err(KeyLookupError::UnknownKid),
        "an unknown kid does not trigger an early poll"
    );
    assert_eq!(server.jwks_fetches(), 1);
    clock.advance(1);
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
async fn explicit_url_fetches_the_jwks_directly_and_inline_never_fetches() {
    let key = TestKey::es256("k1");
    let server = IssuerServer::start(&[&key]).await;
    let clock = Clock::fixed(1_000);
    let mut issuer = config("https://i.example.com/p").issuers["fdis_demo"].clone();
    let jwks_url = format!("{}/jwks.json", server.issuer_url);
    issuer.jwks_source = JwksSource::ExplicitUrl(Url::parse(&jwks_url).unwrap());
    let (cache, issuer) = cache_for_issuer(issuer, &clock);
    assert!(cache.find_key(&issuer, "k1").await.is_ok());
    assert_eq!(server.jwks_fetches(), 1);

    let mut inline = config("https://i.example.com/p").issuers["fdis_demo"].clone();
    inline.jwks_source = JwksSource::Inline(vec![key.parsed_jwk()]);
    let (cache, inline) = cache_for_issuer(inline, &clock);
    assert!(cache.find_key(&inline, "k1").await.is_ok());
    assert_eq!(
        cache.find_key(&inline, "k2").await,
        Err(KeyLookupError::UnknownKid)
    );
    assert_eq!(cache.fetches(), 0);
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
