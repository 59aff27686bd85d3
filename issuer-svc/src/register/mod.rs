//! `issuer-svc register --config FILE PROVIDER`: creates or checks, through
//! Claude's Admin API, the federation issuer, service account (and its
//! workspace membership) and federation rule of one credential provider,
//! then verifies it end to end.
//!
//! - The admin credential (an `org:admin` OAuth token) comes from
//!   `--admin-token-file` or `ANTHROPIC_ADMIN_TOKEN`, never from the
//!   configuration, and is never printed ([`token`]).
//! - The configuration may omit `federation_rule_id` and
//!   `service_account_id`: register finds the objects by name (the provider
//!   id; an issuer also by its `issuer_url`) or creates them. Written ids
//!   are used as they are. `serve`, `check` and `verify` still require both.
//! - The plan comes first ([`discover::discover`], [`apply::make_plan`]):
//!   every lookup (the default workspace's tagged id included) and every
//!   refusal happens before the first write. Each object is `create`,
//!   `unchanged` or `differs`, field by field. `--dry-run` stops there.
//!   Differing objects are left alone unless `--update`.
//! - The Admin API only ever sees tagged workspace ids ([`workspace`]), and
//!   the service account always gets an explicit `workspace_developer`
//!   membership in the rule's workspace, the default one included.
//! - The ids end up in the finished `[credential_provider.claude_wif]`
//!   block (printed), or with `--write` in the file itself ([`edit`], keeping
//!   comments and formatting).
//! - Last, the same checks as `issuer-svc verify` ([`crate::verify`]). When
//!   nothing serves the issuer URL yet and `server.public_listen` is free,
//!   register serves discovery and JWKS there for the duration.

mod apply;
mod client;
mod desired;
mod discover;
mod edit;
mod explain;
mod plan;
pub mod token;
mod verify_step;
mod workspace;

use std::io::Write;
use std::path::Path;

pub use self::apply::{Plan, make_plan};
pub use self::client::{AdminApiError, AdminClient};
pub use self::desired::{ConfiguredIds, Desired, WorkspaceChoice, derive, subject_prefix};
pub use self::discover::Found;
pub use self::explain::explain;
pub use self::plan::{Action, FieldDiff, Kind, PlanItem};
pub use self::token::{ADMIN_TOKEN_ENV, AdminToken, read_admin_token};
use crate::config::{Config, ConfigError};

/// `--dry-run`, `--update`, `--write`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegisterOptions {
    pub dry_run: bool,
    pub update: bool,
    pub write: bool,
}

/// Why register stopped before its verdict.
#[derive(Debug)]
pub enum RegisterError {
    /// The configuration is invalid (exit 64).
    Config(Vec<ConfigError>),
    /// Anything else, as a sentence (exit 1).
    Failed(String),
}

impl From<String> for RegisterError {
    fn from(sentence: String) -> Self {
        RegisterError::Failed(sentence)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// `--dry-run`: the plan was printed.
    Planned(Box<Plan>),
    /// Applied and verified: whether the verification succeeded.
    Verified(bool),
}

/// Parses and validates `text` with placeholder ids for providers that
/// write none.
fn load(text: &str) -> Result<(toml_edit::DocumentMut, Config), RegisterError> {
    let doc = edit::parse(text)
        .map_err(|err| RegisterError::Config(vec![ConfigError::new("config", err)]))?;
    let filled = edit::with_placeholders(&doc).to_string();
    let loaded = Config::from_toml(&filled).map_err(|errors| RegisterError::Config(errors.0))?;
    Ok((doc, loaded.config))
}

/// Runs register for `provider` of the configuration at `path`.
pub async fn register(
    path: &Path,
    provider: &str,
    token: AdminToken,
    options: RegisterOptions,
    out: &mut dyn Write,
) -> Result<RegisterOutcome, RegisterError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let (mut doc, config) = load(&text)?;
    let desired = desired_for(&doc, &config, provider)?;
    let client = AdminClient::new(&config.claude.base_url, config.claude.timeout, token)?;
    let _ = writeln!(
        out,
        "register: provider `{provider}`, issuer {}, Claude Admin API {}",
        desired.issuer_url,
        client.base_url()
    );
    let found = discover::discover(&client, &desired).await?;
    let plan = make_plan(&found, &desired)?;
    print_plan(&plan, &desired, out);
    if options.dry_run {
        print_dry_run(&plan, options.update, out);
        return Ok(RegisterOutcome::Planned(Box::new(plan)));
    }
    let applied = apply_plan(&client, &desired, &plan, options.update, out).await?;
    edit::set_ids(&mut doc, provider, &applied.rule_id, &applied.account_id);
    let finished = write_or_print_ids(&doc, &text, path, provider, options.write, out)?;
    let (_, config) = load(&finished)?;
    let verified = verify_step::verify(&finished, &config, &desired, path, out).await?;
    Ok(RegisterOutcome::Verified(verified))
}

/// What `provider` should look like at Claude: its configuration and the
/// ids written for it in `doc`.
fn desired_for(
    doc: &toml_edit::DocumentMut,
    config: &Config,
    provider: &str,
) -> Result<Desired, String> {
    let ids = edit::configured_ids(doc, provider).ok_or_else(|| {
        let known: Vec<&str> = config.providers.iter().map(|p| p.id.as_str()).collect();
        format!(
            "no [[credential_provider]] has id `{provider}` (configured: {})",
            known.join(", ")
        )
    })?;
    let provider_config = config
        .provider(provider)
        .ok_or_else(|| format!("no credential provider `{provider}`"))?;
    derive(config, provider_config, &ids)
}

/// `plan:`, one line per object, then what the rule will match.
fn print_plan(plan: &Plan, desired: &Desired, out: &mut dyn Write) {
    let _ = writeln!(out, "plan:");
    for item in plan.items() {
        let _ = writeln!(out, "{item}");
    }
    let _ = writeln!(
        out,
        "  rule match: subject_prefix {:?} ({} client workload(s)){}",
        desired.subject_prefix,
        desired.workloads,
        desired
            .audience
            .as_ref()
            .map(|a| format!(", audience {a:?}"))
            .unwrap_or_default()
    );
}

/// `--dry-run`'s last line: what a real run would change.
fn print_dry_run(plan: &Plan, update: bool, out: &mut dyn Write) {
    let _ = writeln!(
        out,
        "dry run: nothing was changed ({} to create or update, {} differing{}).",
        plan.changes(),
        plan.differing(),
        if plan.differing() > 0 && !update {
            "; --update would change them"
        } else {
            ""
        }
    );
}

/// Applies `plan` at Claude, saying so, and what was left differing.
async fn apply_plan(
    client: &AdminClient,
    desired: &Desired,
    plan: &Plan,
    update: bool,
    out: &mut dyn Write,
) -> Result<apply::Applied, String> {
    if plan.changes() > 0 {
        let _ = writeln!(out, "applying:");
    }
    let applied = apply::apply(client, desired, plan, update, out).await?;
    if plan.changes() == 0 {
        let _ = writeln!(out, "everything is already registered: nothing changed.");
    }
    if applied.left_differing > 0 {
        let _ = writeln!(
            out,
            "{} object(s) differ from the configuration and were left as they are; run again \
             with --update to change them.",
            applied.left_differing
        );
    }
    Ok(applied)
}

/// With `--write`, puts the ids of `doc` into the file at `path` (unless
/// `text`, its content, has them already); otherwise prints the finished
/// block. Returns the finished configuration text.
fn write_or_print_ids(
    doc: &toml_edit::DocumentMut,
    text: &str,
    path: &Path,
    provider: &str,
    write: bool,
    out: &mut dyn Write,
) -> Result<String, String> {
    let finished = doc.to_string();
    if write {
        if finished != text {
            edit::write_file(path, &finished)?;
            let _ = writeln!(
                out,
                "wrote federation_rule_id and service_account_id to {}",
                path.display()
            );
        } else {
            let _ = writeln!(out, "{} already has these ids", path.display());
        }
    } else {
        let _ = writeln!(
            out,
            "the finished block for `{provider}` (or run with --write to update {}):\n",
            path.display()
        );
        let _ = writeln!(out, "{}", edit::block(doc, provider));
    }
    Ok(finished)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_workspace;
