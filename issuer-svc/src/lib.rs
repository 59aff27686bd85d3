//! issuer-svc: the OIDC issuer that Claude trusts, and the exchanger that
//! turns its assertions into Claude access tokens for the claude-wif filter.
//!
//! Modules by noun: [`config`] (TOML, validated), [`clock`], [`keys`] (signing
//! keys on disk, JWKS), [`signing`] (assertions), [`exchange`] (Claude's token
//! endpoint, sans-IO), [`tokens`] (cache, single-flight, refresh), [`policy`]
//! (access policies), [`live_config`] (the configuration being served),
//! [`reload`] (replacing it on SIGHUP), [`public`] and [`internal`] (the two
//! listeners).

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod error;
pub mod exchange;
pub mod http_body;
pub mod internal;
pub mod keys;
pub mod live_config;
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod public;
pub mod register;
pub mod reload;
pub mod signing;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod verify;

#[cfg(test)]
mod test_fakes;
#[cfg(test)]
mod test_support;

pub use internal::internal_app;
pub use public::public_app;
pub use state::AppState;

/// Version of this build, logged at start and sent in the user agent.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
