//! `issuer-svc serve|check --config FILE`.

use std::future::IntoFuture;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use issuer_svc::clock::SystemClock;
use issuer_svc::config::{Config, LoadedConfig};
use issuer_svc::exchange::HttpTransport;
use issuer_svc::keys::KeyStore;
use issuer_svc::{AppState, VERSION, internal_app, public_app};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Exit status for an invalid configuration (EX_USAGE-adjacent, as linkerd2-proxy).
const EXIT_CONFIG: u8 = 64;

#[derive(Parser)]
#[command(
    name = "issuer-svc",
    version,
    about = "OIDC issuer and Claude WIF token exchanger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the public (discovery, JWKS) and internal (token API) listeners.
    Serve {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Validate the configuration and print each provider's issuer URL.
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(&config),
    }
}

/// Loads the configuration, or prints every error and returns exit status 64.
fn load(path: &Path) -> Result<LoadedConfig, ExitCode> {
    match Config::load(path) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                tracing::warn!(field = %warning.path, "{}", warning.message);
            }
            Ok(loaded)
        }
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("error: {error}");
            }
            eprintln!(
                "{} configuration error(s) in {}",
                errors.0.len(),
                path.display()
            );
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

fn check(path: &Path) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    for provider in &loaded.config.providers {
        println!("{}  {}", provider.id, provider.issuer_url);
    }
    ExitCode::SUCCESS
}

fn serve(path: &Path) -> ExitCode {
    tracing::info!(version = VERSION, "issuer-svc starting");
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(loaded.config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "issuer-svc stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let keys = KeyStore::open(&config.server.state_dir)
        .and_then(|store| store.load_or_generate())
        .context("signing keys")?;
    if let Some(active) = keys.active() {
        tracing::info!(
            kid = active.kid(),
            alg = active.alg().as_str(),
            published = keys.keys().len(),
            "signing key loaded"
        );
    }
    for provider in &config.providers {
        tracing::info!(provider = %provider.id, issuer = %provider.issuer_url, active = provider.is_active, "credential provider");
    }
    let transport = HttpTransport::new(config.claude.timeout).context("HTTP client")?;
    let (public_addr, internal_addr) = (config.server.public_listen, config.server.internal_listen);
    let state = AppState::new(config, keys, Arc::new(SystemClock), Arc::new(transport));

    let public = TcpListener::bind(public_addr)
        .await
        .with_context(|| format!("cannot bind the public listener on {public_addr}"))?;
    let internal = TcpListener::bind(internal_addr)
        .await
        .with_context(|| format!("cannot bind the internal listener on {internal_addr}"))?;
    tracing::info!("public listener on {}", public.local_addr()?);
    tracing::info!("internal listener on {}", internal.local_addr()?);

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let public = axum::serve(public, public_app(state.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()))
        .into_future();
    let internal = axum::serve(internal, internal_app(state))
        .with_graceful_shutdown(stopped(stop_rx))
        .into_future();
    tokio::try_join!(public, internal).context("serving")?;
    Ok(())
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// SIGTERM or SIGINT.
async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGTERM; only SIGINT stops issuer-svc");
            let _ = ctrl_c.await;
        }
    }
}
