//! fake-claude: the Claude side of claude-wif's tests and demo.
//!
//! It simulates Claude's Workload Identity Federation token exchange
//! (`POST /v1/oauth/token`, with discovery + JWKS fetched from the issuer like
//! Claude does) and a Messages API stand-in (`POST /v1/messages`) that only
//! accepts tokens it minted. Test-only endpoints live under `/_test/` (see
//! [`test_endpoints`]).

pub mod app;
pub mod assertion;
pub mod clock;
pub mod config;
pub mod counters;
pub mod errors;
pub mod exchange;
pub mod jti;
pub mod jwks;
pub mod messages;
pub mod test_endpoints;
pub mod tokens;

pub use app::{AppState, app};
pub use clock::Clock;
pub use config::Config;

#[cfg(test)]
mod test_support;
