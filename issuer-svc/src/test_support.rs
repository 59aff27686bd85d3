#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Shared helpers for unit tests.

use crate::config::{Config, LoadedConfig};

/// A valid configuration with one provider, one exact and one prefix client
/// workload; `extra` is appended verbatim.
pub fn config_text(extra: &str) -> String {
    format!(
        r#"
[server]
public_listen = "127.0.0.1:0"
public_base_url = "http://127.0.0.1:8081/"
internal_listen = "127.0.0.1:0"
state_dir = "/nonexistent/state"

[[credential_provider]]
id = "claude-demo"
  [credential_provider.claude_wif]
  federation_rule_id = "fdrl_demo"
  organization_id = "00000000-0000-4000-8000-000000000001"
  service_account_id = "svac_demo"
  workspace_id = "wrkspc_demo"

[[client_workload]]
id = "demo-app"
identity = "spiffe://cluster.local/ns/demo/sa/app"

[[client_workload]]
id = "demo-ns"
identity = "spiffe://cluster.local/ns/demo/*"

[[access_policy]]
client_workload = "demo-app"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"

[[access_policy]]
client_workload = "demo-ns"
server_workload = "api.anthropic.com"
credential_provider = "claude-demo"
{extra}
"#
    )
}

pub fn load(text: &str) -> LoadedConfig {
    match Config::from_toml(text) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("config invalid: {:?}", errors.0),
    }
}

pub fn config() -> Config {
    load(&config_text("")).config
}
