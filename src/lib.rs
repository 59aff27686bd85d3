//! claude-wif filter: a proxy-wasm filter that attaches a short-lived Claude
//! access token (Workload Identity Federation) to each upstream request.
//!
//! Everything that decides is plain Rust over the [`host::Host`] trait: the
//! root context's decisions in `root`, one request's in `filter`. Only
//! `adapter` (which translates proxy-wasm callbacks and host calls) and this
//! file touch `proxy_wasm`.

mod adapter;
pub mod cache;
pub mod config;
pub mod de;
pub mod filter;
pub mod headers;
pub mod host;
pub mod identity;
pub mod issuer;
pub mod jwt;
pub mod peers;
pub mod reply;
pub mod root;
pub mod stats;
pub mod worker;

#[cfg(test)]
mod tests;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(adapter::new_root);
}}
