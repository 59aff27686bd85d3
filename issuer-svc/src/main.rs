//! `issuer-svc serve|check|verify|register|keys --config FILE`.

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use issuer_svc::clock::Clock;
use issuer_svc::clock::SystemClock;
use issuer_svc::config::{Config, LoadedConfig};
use issuer_svc::exchange::HttpTransport;
use issuer_svc::keys::KeyStore;
use issuer_svc::keys::watch::POLL_INTERVAL;
use issuer_svc::tls::TlsSource;
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
    /// Check a provider as Claude would (discovery, JWKS through the public
    /// issuer URL) and perform one real exchange; exit 0 or 1.
    Verify {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The assertion's `sub` (default: the first exact client workload
        /// identity an access policy maps to PROVIDER, else a subject under
        /// its first prefix identity, `<prefix>issuer-svc-verify`).
        #[arg(long)]
        subject: Option<String>,
        /// Credential provider id.
        provider: String,
    },
    /// Create or check the federation issuer, service account and rule of
    /// PROVIDER through Claude's Admin API (plan first, idempotent by name),
    /// then verify. The admin credential (an OAuth token with the org:admin
    /// scope) comes from --admin-token-file or ANTHROPIC_ADMIN_TOKEN.
    Register {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// File holding the org:admin OAuth access token.
        #[arg(long, value_name = "FILE")]
        admin_token_file: Option<PathBuf>,
        /// Print the plan (create / unchanged / differs) and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Change existing objects that differ from the configuration.
        #[arg(long)]
        update: bool,
        /// Write the ids into the configuration file (comments kept).
        #[arg(long)]
        write: bool,
        /// Credential provider id.
        provider: String,
    },
    /// Manage signing keys (`keys rotate`, `keys list`).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// `issuer-svc keys ...`: signing keys in `state_dir/keys`.
#[derive(Subcommand)]
enum KeysCommand {
    /// Add a key: published at once, signs after `keys.publish_ahead`;
    /// deletes the files of expired keys.
    Rotate {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Every stored key: kid, alg, state, created, activates, published until.
    List {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    issuer_svc::logging::init();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Verify {
            config,
            subject,
            provider,
        } => verify(&config, &provider, subject.as_deref()),
        Command::Serve { config } => serve(&config),
        Command::Register {
            config,
            admin_token_file,
            dry_run,
            update,
            write,
            provider,
        } => register(
            &config,
            &provider,
            admin_token_file.as_deref(),
            issuer_svc::register::RegisterOptions {
                dry_run,
                update,
                write,
            },
        ),
        Command::Keys { command } => keys_command(&command),
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

fn verify(path: &Path, provider: &str, subject: Option<&str>) -> ExitCode {
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let request = issuer_svc::verify::VerifyRequest { provider, subject };
    match runtime.block_on(issuer_svc::verify::verify_configured(
        &loaded.config,
        request,
    )) {
        Ok(report) => {
            if let (Some(subject), Some(note)) = (&report.subject, &report.subject_note) {
                println!("subject `{subject}`: {note}");
            }
            println!("{report}");
            if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            println!("Verification failed at step 0 (setup): {err}");
            ExitCode::FAILURE
        }
    }
}

fn register(
    path: &Path,
    provider: &str,
    token_file: Option<&Path>,
    options: issuer_svc::register::RegisterOptions,
) -> ExitCode {
    use issuer_svc::register::{ADMIN_TOKEN_ENV, RegisterError, RegisterOutcome};
    let env = std::env::var(ADMIN_TOKEN_ENV).ok();
    let token = match issuer_svc::register::read_admin_token(token_file, env) {
        Ok(token) => token,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let run = issuer_svc::register::register(path, provider, token, options, &mut out);
    match runtime.block_on(run) {
        Ok(RegisterOutcome::Planned(_) | RegisterOutcome::Verified(true)) => ExitCode::SUCCESS,
        Ok(RegisterOutcome::Verified(false)) => ExitCode::FAILURE,
        Err(RegisterError::Config(errors)) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            eprintln!(
                "{} configuration error(s) in {}",
                errors.len(),
                path.display()
            );
            ExitCode::from(EXIT_CONFIG)
        }
        Err(RegisterError::Failed(sentence)) => {
            println!("register failed: {sentence}");
            ExitCode::FAILURE
        }
    }
}

fn keys_command(command: &KeysCommand) -> ExitCode {
    let (path, rotate) = match command {
        KeysCommand::Rotate { config } => (config, true),
        KeysCommand::List { config } => (config, false),
    };
    let loaded = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let result = if rotate {
        issuer_svc::cli::keys::rotate(&loaded.config, &SystemClock)
    } else {
        issuer_svc::cli::keys::list(&loaded.config, &SystemClock)
    };
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
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
    match runtime.block_on(run(loaded.config, path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "issuer-svc stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config, path: &Path) -> anyhow::Result<()> {
    let store = KeyStore::open(&config.server.state_dir).context("signing keys")?;
    let keys = store
        .load_or_generate_with(&config.key_policy(), &SystemClock)
        .context("signing keys")?;
    if let Some(active) = keys.active(SystemClock.now()) {
        tracing::info!(
            kid = active.kid(),
            alg = active.alg().as_str(),
            published = keys.jwks(SystemClock.now()).keys.len(),
            "signing key loaded"
        );
    }
    let tls = match &config.server.tls {
        Some(files) => Some(Arc::new(
            TlsSource::load(files).context("TLS on the public listener")?,
        )),
        None => None,
    };
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

    tokio::spawn(issuer_svc::reload::reload_on_sighup(
        state.clone(),
        path.to_owned(),
    ));
    tokio::spawn(state.key_watcher(store).run(POLL_INTERVAL));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    let public = issuer_svc::tls::serve_public(
        public,
        public_app(state.clone()),
        tls,
        stopped(stop_rx.clone()),
    );
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
