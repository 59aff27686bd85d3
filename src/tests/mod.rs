//! Native tests of the filter core against a recording fake host.

mod body_flow;
pub mod fake_host;
mod identity_flow;
mod identity_review;
mod metadata_flow;
mod peers_flow;
mod request_flow;
mod root_flow;
pub mod support;
