//! `fake-claude --config FILE [--listen ADDR]`

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use fake_claude::{AppState, Clock, Config, app};

/// Exit status for configuration errors (EX_USAGE).
const EXIT_CONFIG: u8 = 64;

/// Claude-side simulator for claude-wif tests: WIF token exchange and a
/// Messages API stand-in.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TOML configuration file.
    #[arg(long)]
    config: PathBuf,
    /// Address to listen on; overrides the config's `listen`.
    #[arg(long)]
    listen: Option<SocketAddr>,
}

fn load_config(args: &Args) -> Result<Config, Vec<String>> {
    let shown = args.config.display();
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| vec![format!("{shown}: cannot read: {e}")])?;
    let mut config = Config::from_toml(&text).map_err(|e| {
        e.errors
            .iter()
            .map(|error| format!("{shown}: {error}"))
            .collect::<Vec<_>>()
    })?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    Ok(config)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = AppState::new(config, Clock::system()).context("building HTTP client")?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let local = listener.local_addr().context("reading bound address")?;
    println!("fake-claude listening on {local}");
    std::io::stdout().flush().context("flushing stdout")?;
    tracing::info!(%local, "fake-claude listening");
    fake_claude::server::serve(listener, app(state), shutdown_signal())
        .await
        .context("serving")
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "fake-claude starting");
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(errors) => {
            for error in errors {
                eprintln!("fake-claude: config error: {error}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake-claude: {error:#}");
            ExitCode::FAILURE
        }
    }
}
