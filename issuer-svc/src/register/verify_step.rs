//! The last step: [`crate::verify`], with discovery and JWKS served for the
//! duration when nothing serves the issuer URL yet.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::desired::Desired;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::verify::{VerifyRequest, http_client, verify_configured};

async fn discovery_reachable(config: &Config, desired: &Desired) -> bool {
    let url = format!("{}/.well-known/openid-configuration", desired.issuer_url);
    match http_client(config.claude.timeout) {
        Ok(http) => http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    }
}

/// Serves the public listener of `text`'s configuration until `stop` fires.
async fn serve_public(
    text: &str,
    listener: TcpListener,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let config = Config::from_toml(text)
        .map_err(|e| format!("configuration: {e}"))?
        .config;
    let store = crate::keys::KeyStore::open(&config.server.state_dir)
        .map_err(|e| format!("signing keys: {e}"))?;
    let keys = store
        .load_or_generate_with(&config.key_policy(), &SystemClock)
        .map_err(|e| format!("signing keys: {e}"))?;
    let tls = match &config.server.tls {
        Some(files) => Some(Arc::new(
            crate::tls::TlsSource::load(files).map_err(|e| format!("TLS: {e}"))?,
        )),
        None => None,
    };
    let transport =
        crate::exchange::HttpTransport::new(config.claude.timeout).map_err(|e| e.to_string())?;
    let state = crate::AppState::new(config, keys, Arc::new(SystemClock), Arc::new(transport));
    let app = crate::public_app(state);
    Ok(tokio::spawn(async move {
        let stopped = async {
            let _ = stop.await;
        };
        if let Err(err) = crate::tls::serve_public(listener, app, tls, stopped).await {
            tracing::warn!(error = %err, "register: public listener stopped");
        }
    }))
}

/// Runs the verification and prints its verdict last.
pub async fn verify(
    text: &str,
    config: &Config,
    desired: &Desired,
    path: &Path,
    out: &mut dyn Write,
) -> Result<bool, String> {
    let mut served = None;
    if !discovery_reachable(config, desired).await
        && let Ok(listener) = TcpListener::bind(config.server.public_listen).await
    {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let task = serve_public(text, listener, stop_rx).await?;
        let _ = writeln!(
            out,
            "nothing serves {} yet: serving discovery and JWKS on {} while verifying",
            desired.issuer_url, config.server.public_listen
        );
        served = Some((stop_tx, task));
    }
    let _ = writeln!(out, "verifying `{}`:", desired.name);
    let request = VerifyRequest {
        provider: &desired.name,
        subject: None,
    };
    let report = verify_configured(config, request).await;
    let was_served = served.is_some();
    if let Some((stop, task)) = served {
        let _ = stop.send(());
        let _ = task.await;
    }
    let report = report.map_err(|err| format!("Verification failed at step 0 (setup): {err}"))?;
    for step in &report.passed {
        let _ = writeln!(out, "  step {} ({}): {}", step.step, step.name, step.detail);
    }
    if was_served {
        let _ = writeln!(
            out,
            "now start `issuer-svc serve --config {}` (or send SIGHUP to the running one) so \
             Claude keeps finding the keys",
            path.display()
        );
    }
    let _ = writeln!(out, "{report}");
    Ok(report.succeeded())
}
