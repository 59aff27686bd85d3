//! `issuer-svc verify PROVIDER`, as a library: checks what Claude will
//! check, in the order Claude does it, through the public issuer URL, then
//! performs one real exchange. Returns a [`VerifyReport`] (the CLI prints
//! it; an admin page can render it). The report and the subject's choice
//! live here; the steps, one function each, in `steps`.

mod fetch;
mod hints;
mod steps;

use std::fmt;

pub use self::fetch::http_client;
use crate::clock::Clock;
use crate::config::{Config, IdentityPattern, ProviderConfig};
use crate::exchange::Transport;
use crate::keys::KeySet;

/// The steps, numbered as reported.
pub const STEPS: [&str; 6] = [
    "configuration",
    "discovery",
    "issuer",
    "jwks_uri",
    "jwks",
    "exchange",
];

/// What to verify.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    pub provider: &'a str,
    /// The assertion's `sub`; by default the first exact client workload
    /// identity that an access policy maps to the provider, else one derived
    /// under its first prefix ([`pick_subject`]).
    pub subject: Option<&'a str>,
}

/// Everything `verify` needs from the outside.
pub struct VerifyContext<'a> {
    pub config: &'a Config,
    pub keys: &'a KeySet,
    pub clock: &'a dyn Clock,
    /// Fetches discovery and JWKS the way Claude would (no redirects).
    pub http: &'a reqwest::Client,
    /// Posts the exchange to Claude.
    pub transport: &'a dyn Transport,
}

/// One step that passed, with what it established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPassed {
    pub step: u8,
    pub name: &'static str,
    pub detail: String,
}

/// The step that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    pub step: u8,
    pub name: &'static str,
    /// What happened.
    pub what: String,
    /// What to check.
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyOutcome {
    Verified {
        scope: String,
        lifetime_seconds: u64,
    },
    Failed(VerifyFailure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub provider: String,
    pub subject: Option<String>,
    /// How the subject was derived, when it was ([`PickedSubject::note`]).
    pub subject_note: Option<String>,
    pub passed: Vec<StepPassed>,
    pub outcome: VerifyOutcome,
}

impl VerifyReport {
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, VerifyOutcome::Verified { .. })
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            VerifyOutcome::Verified {
                scope,
                lifetime_seconds,
            } => write!(
                f,
                "Verified successfully: scope {scope}, token lifetime {lifetime_seconds}s"
            ),
            VerifyOutcome::Failed(failure) => write!(
                f,
                "Verification failed at step {} ({}): {}. Check: {}",
                failure.step, failure.name, failure.what, failure.hint
            ),
        }
    }
}

/// Runs every step until one fails.
pub async fn verify(ctx: &VerifyContext<'_>, request: VerifyRequest<'_>) -> VerifyReport {
    let mut run = Run {
        report: VerifyReport {
            provider: request.provider.to_owned(),
            subject: None,
            subject_note: None,
            passed: Vec::new(),
            outcome: VerifyOutcome::Failed(VerifyFailure {
                step: 0,
                name: "",
                what: String::new(),
                hint: String::new(),
            }),
        },
    };
    run.report.outcome = match steps::steps(ctx, request, &mut run).await {
        Ok(outcome) | Err(outcome) => outcome,
    };
    run.report
}

struct Run {
    report: VerifyReport,
}

impl Run {
    fn pass(&mut self, step: u8, detail: impl Into<String>) {
        self.report.passed.push(StepPassed {
            step,
            name: step_name(step),
            detail: detail.into(),
        });
    }
}

fn step_name(step: u8) -> &'static str {
    STEPS
        .get(usize::from(step).saturating_sub(1))
        .copied()
        .unwrap_or("")
}

fn fail(step: u8, what: impl Into<String>, hint: impl Into<String>) -> VerifyOutcome {
    VerifyOutcome::Failed(VerifyFailure {
        step,
        name: step_name(step),
        what: what.into(),
        hint: hint.into(),
    })
}

/// The last segment of a subject verify derives under a prefix pattern.
pub const DERIVED_SUBJECT_LEAF: &str = "issuer-svc-verify";

/// The assertion's `sub` and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickedSubject {
    pub subject: String,
    /// Set when the subject was derived (not given, not a configured exact
    /// identity): says from which prefix.
    pub note: Option<String>,
}

/// `--subject`, else the first exact identity granted this provider, else a
/// subject under the first prefix granted it
/// (`<prefix>`[`DERIVED_SUBJECT_LEAF`]), which the federation rule's
/// `subject_prefix` matches as it matches every workload under the prefix.
pub fn pick_subject(
    config: &Config,
    provider: &ProviderConfig,
    explicit: Option<&str>,
) -> Result<PickedSubject, VerifyOutcome> {
    if let Some(subject) = explicit {
        return Ok(PickedSubject {
            subject: subject.to_owned(),
            note: None,
        });
    }
    let granted: Vec<_> = config
        .access_policies
        .iter()
        .filter(|policy| policy.credential_provider == provider.id)
        .filter_map(|policy| {
            config
                .client_workloads
                .iter()
                .find(|workload| workload.id == policy.client_workload)
        })
        .collect();
    let exact = granted
        .iter()
        .find_map(|workload| match &workload.identity {
            IdentityPattern::Exact(identity) => Some(identity.clone()),
            IdentityPattern::Prefix(_) => None,
        });
    if let Some(subject) = exact {
        return Ok(PickedSubject {
            subject,
            note: None,
        });
    }
    let prefixed = granted
        .iter()
        .find_map(|workload| match &workload.identity {
            IdentityPattern::Prefix(prefix) => Some((workload.id.as_str(), prefix.as_str())),
            IdentityPattern::Exact(_) => None,
        });
    let Some((workload, prefix)) = prefixed else {
        return Err(fail(
            1,
            format!(
                "no access policy maps a client workload to `{}`",
                provider.id
            ),
            "add an [[access_policy]] for the provider, or pass --subject with an identity the \
             federation rule's subject_prefix matches",
        ));
    };
    Ok(PickedSubject {
        subject: format!("{prefix}{DERIVED_SUBJECT_LEAF}"),
        note: Some(format!(
            "derived under client workload `{workload}`'s prefix `{prefix}*`, since no exact \
             identity is granted this provider; pass --subject to choose another"
        )),
    })
}

/// Builds the context from a loaded configuration (keys read from
/// `server.state_dir`, never created) and runs [`verify`]: what the
/// `verify` command does.
pub async fn verify_configured(
    config: &Config,
    request: VerifyRequest<'_>,
) -> Result<VerifyReport, String> {
    let store = crate::keys::KeyStore::open(&config.server.state_dir)
        .map_err(|err| format!("signing keys: {err}"))?;
    let keys = store
        .load(&config.key_policy())
        .map_err(|err| format!("signing keys: {err}"))?
        .ok_or_else(|| {
            format!(
                "no signing key in {}: start `issuer-svc serve` first",
                config.server.state_dir.display()
            )
        })?;
    let http = http_client(config.claude.timeout)?;
    let transport = crate::exchange::HttpTransport::new(config.claude.timeout)
        .map_err(|err| err.to_string())?;
    let clock = crate::clock::SystemClock;
    let ctx = VerifyContext {
        config,
        keys: &keys,
        clock: &clock,
        http: &http,
        transport: &transport,
    };
    Ok(verify(&ctx, request).await)
}

#[cfg(test)]
mod tests;
