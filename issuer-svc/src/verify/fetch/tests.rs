#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use futures::{StreamExt, stream};

use super::*;

fn jwks(json: &str) -> PublishedJwks {
    serde_json::from_str(json).unwrap()
}

fn unusable(json: &str) -> String {
    match check_published(&jwks(json), "k1", "ES256") {
        Err(Unpublished::Unusable(what)) => what,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_key_published_for_signatures_passes() {
    for json in [
        r#"{"keys":[{"kid":"k1","kty":"EC","use":"sig","alg":"ES256"}]}"#,
        r#"{"keys":[{"kid":"k1"}]}"#,
        r#"{"keys":[{"kid":"k0","use":"enc"},{"kid":"k1","key_ops":["verify"]}]}"#,
    ] {
        assert_eq!(
            check_published(&jwks(json), "k1", "ES256"),
            Ok(()),
            "{json}"
        );
    }
}

#[test]
fn a_missing_kid_is_missing() {
    let found = check_published(&jwks(r#"{"keys":[{"kid":"k0"}]}"#), "k1", "ES256");
    assert!(matches!(found, Err(Unpublished::Missing(what)) if what.contains("`k1`")));
}

#[test]
fn use_key_ops_and_alg_are_honoured() {
    let what = unusable(r#"{"keys":[{"kid":"k1","use":"enc"}]}"#);
    assert!(what.contains("use `enc`"), "{what}");
    let what = unusable(r#"{"keys":[{"kid":"k1","key_ops":["encrypt","sign"]}]}"#);
    assert!(what.contains("key_ops [encrypt, sign]"), "{what}");
    let what = unusable(r#"{"keys":[{"kid":"k1","key_ops":[]}]}"#);
    assert!(what.contains("key_ops []"), "{what}");
    let what = unusable(r#"{"keys":[{"kid":"k1","alg":"RS256"}]}"#);
    assert!(what.contains("alg `RS256`, but it signs ES256"), "{what}");
    let what = unusable(r#"{"keys":[{"kid":"k1","use":"x\n\u001b[0m"}]}"#);
    assert!(!what.contains('\n') && !what.contains('\u{1b}'), "{what:?}");
}

/// Serves `/endless` (1 MiB + 1 byte, then a body that never ends) and
/// `/big` (2 MiB with a `content-length`); returns the base URL.
async fn serve_large() -> String {
    let endless = || async {
        let first = Bytes::from(vec![b' '; MAX_RESPONSE_BYTES + 1]);
        let first = stream::once(async move { Ok::<_, std::io::Error>(first) });
        Body::from_stream(first.chain(stream::pending()))
    };
    let big = || async { vec![b' '; 2 * MAX_RESPONSE_BYTES] };
    let weird = || async { "{\"keys\": \"x\u{202e}\\u001b[2J\\n\"}" };
    let app = Router::new()
        .route("/weird", get(weird))
        .route("/endless", get(endless))
        .route("/big", get(big));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_body_past_1_mib_is_refused_without_reading_the_rest() {
    let base = serve_large().await;
    let http = http_client(Duration::from_secs(5)).unwrap();
    for path in ["/endless", "/big"] {
        let url = format!("{base}{path}");
        let fetched = fetch_json::<serde_json::Value>(&http, &url);
        let err = tokio::time::timeout(Duration::from_secs(4), fetched)
            .await
            .unwrap_or_else(|_| panic!("{path}: still reading"))
            .unwrap_err();
        assert_eq!(err, format!("GET {url}: body larger than 1 MiB"));
    }
}

#[tokio::test]
async fn text_of_the_fetched_document_is_escaped_in_errors() {
    let base = serve_large().await;
    let http = http_client(Duration::from_secs(5)).unwrap();
    let err = fetch_json::<PublishedJwks>(&http, &format!("{base}/weird"))
        .await
        .unwrap_err();
    assert!(err.contains(r"x\u{202e}\u{1b}[2J\n"), "{err}");
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{202e}'),
        "{err:?}"
    );
}
