//! The public listener over TLS, checked by a client that trusts only a CA
//! generated in the test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use issuer_svc::config::TlsFiles;
use issuer_svc::public_app;
use issuer_svc::tls::{TlsSource, serve_public};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A throwaway CA and a server certificate it signed for 127.0.0.1 and
/// localhost; writes the server's PEM files to `dir`, returns the CA PEM.
fn throwaway_pki(dir: &Path) -> (TlsFiles, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let files = TlsFiles {
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server-key.pem"),
    };
    std::fs::write(&files.cert_file, server_cert.pem()).unwrap();
    std::fs::write(&files.key_file, server_key.serialize_pem()).unwrap();
    (files, ca_cert.pem())
}

fn client_trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn public_listener_serves_discovery_and_jwks_over_tls() {
    let pki = tempfile::tempdir().unwrap();
    let (files, ca_pem) = throwaway_pki(pki.path());
    let app = app("http://127.0.0.1:9").await;
    let tls = Arc::new(TlsSource::load(&files).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_public(
        listener,
        public_app(app.state.clone()),
        Some(Arc::clone(&tls)),
        async {
            let _ = stopped.await;
        },
    ));
    let base = format!("https://127.0.0.1:{}/providers/claude-demo", addr.port());

    let trusting = client_trusting(&ca_pem);
    let discovery = trusting
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    assert!(
        discovery.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let discovery: serde_json::Value = discovery.json().await.unwrap();
    assert_eq!(
        discovery["jwks_uri"],
        "http://127.0.0.1:8081/providers/claude-demo/jwks.json"
    );
    let jwks: serde_json::Value = trusting
        .get(format!("{base}/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let missing = trusting.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    // Without the test CA (and without any built-in root), the handshake fails.
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let err = untrusting
        .get(format!("{base}/jwks.json"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    // A client trusting another CA fails too.
    let (_, other_ca) = throwaway_pki(tempfile::tempdir().unwrap().path());
    assert!(
        client_trusting(&other_ca)
            .get(format!("{base}/jwks.json"))
            .send()
            .await
            .is_err()
    );

    // Reloading picks up a new certificate (from a new CA) for new connections.
    let (_, new_ca) = throwaway_pki(pki.path());
    tls.reload().unwrap();
    let fresh = client_trusting(&new_ca);
    assert_eq!(
        fresh
            .get(format!("{base}/jwks.json"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        client_trusting(&ca_pem)
            .get(format!("{base}/jwks.json"))
            .send()
            .await
            .is_err()
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn bad_pem_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = throwaway_pki(dir.path());
    std::fs::write(&files.key_file, "not a key").unwrap();
    let err = TlsSource::load(&files).unwrap_err().to_string();
    assert!(
        err.contains("server-key.pem") && err.contains("PRIVATE KEY"),
        "{err}"
    );
    std::fs::write(&files.cert_file, "").unwrap();
    let err = TlsSource::load(&files).unwrap_err().to_string();
    assert!(err.contains("server.pem: no CERTIFICATE block"), "{err}");
    let missing = TlsFiles {
        cert_file: dir.path().join("missing.pem"),
        key_file: files.key_file.clone(),
    };
    let err = TlsSource::load(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot read ") && err.contains("missing.pem"),
        "{err}"
    );
}
