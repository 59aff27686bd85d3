//! fake-claude: the Claude side of claude-wif's tests and demo.
//!
//! It simulates Claude's Workload Identity Federation token exchange
//! (`POST /v1/oauth/token`: every check of `CLAUDE_WIF_FACTS.md`, with the
//! issuer's keys found by discovery, an explicit JWKS URL or inline keys, and
//! cached like Claude does) and API stand-ins (`POST /v1/messages`, also
//! streaming, `POST /v1/messages/count_tokens`, `GET /v1/models`) that only
//! accept unrevoked, unexpired tokens it minted, within their scope.
//! Test-only endpoints live under `/_test/` (see [`test_endpoints`]); the
//! federation Admin API (issuers, rules, service accounts) is in [`admin`].

pub mod admin;
pub mod api;
pub mod app;
pub mod assertion;
pub mod clock;
pub mod config;
pub mod counters;
pub mod errors;
pub mod exchange;
pub mod faults;
pub mod history;
pub mod jti;
pub mod jwks;
pub mod messages;
pub mod models;
pub mod roles;
pub mod scope;
pub mod server;
pub mod test_endpoints;
pub mod tokens;

pub use app::{AppState, app};
pub use clock::Clock;
pub use config::Config;

#[cfg(test)]
mod test_support;
