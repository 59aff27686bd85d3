//! `issuer-svc verify PROVIDER`, as a library: checks what Claude will
//! check, in the order Claude does it, through the public issuer URL, then
//! performs one real exchange. Returns a [`VerifyReport`] (the CLI prints
//! it; an admin page can render it).

mod fetch;
mod hints;

use std::fmt;

pub use self::fetch::http_client;
use self::fetch::{PublishedJwks, Unpublished, check_published, fetch_json};
use crate::clock::Clock;
use crate::config::{Config, IdentityPattern, ProviderConfig};
use crate::discovery::{DiscoveryDocument, jwks_uri};
use crate::exchange::{ExchangeError, Transport, build_exchange_request, exchange};
use crate::keys::KeySet;
use crate::signing::{AssertionClaims, sign};

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
    run.report.outcome = match steps(ctx, request, &mut run).await {
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

async fn steps(
    ctx: &VerifyContext<'_>,
    request: VerifyRequest<'_>,
    run: &mut Run,
) -> Result<VerifyOutcome, VerifyOutcome> {
    let (index, provider) = find_provider(ctx.config, request.provider)?;
    let PickedSubject { subject, note } = pick_subject(ctx.config, provider, request.subject)?;
    run.report.subject = Some(subject.clone());
    let shown = match &note {
        Some(note) => format!("provider `{}`, subject `{subject}` ({note})", provider.id),
        None => format!("provider `{}`, subject `{subject}`", provider.id),
    };
    run.report.subject_note = note;
    run.pass(1, shown);

    let discovery_url = format!("{}/.well-known/openid-configuration", provider.issuer_url);
    let discovery: DiscoveryDocument =
        fetch_json(ctx.http, &discovery_url).await.map_err(|what| {
            fail(
                2,
                what,
                hints::unreachable(ctx.config, "discovery document"),
            )
        })?;
    run.pass(2, discovery_url);

    if discovery.issuer != provider.issuer_url {
        return Err(fail(
            3,
            format!(
                "the discovery document says issuer `{}`, but assertions carry iss `{}` (compared byte for byte)",
                crate::logging::escape(&discovery.issuer),
                provider.issuer_url
            ),
            hints::issuer_mismatch(provider),
        ));
    }
    run.pass(3, provider.issuer_url.clone());

    let expected_jwks = jwks_uri(provider);
    if discovery.jwks_uri != expected_jwks {
        return Err(fail(
            4,
            format!(
                "jwks_uri is `{}`, expected `{expected_jwks}`",
                crate::logging::escape(&discovery.jwks_uri)
            ),
            "that no proxy in front of issuer-svc rewrites the discovery document, and that server.public_base_url is the URL Claude dials",
        ));
    }
    run.pass(4, expected_jwks.clone());

    let now = ctx.clock.now();
    let key = ctx.keys.active(now).ok_or_else(|| {
        fail(
            5,
            "no signing key is active",
            "`issuer-svc keys list` and the key directory (server.state_dir)",
        )
    })?;
    let jwks: PublishedJwks = fetch_json(ctx.http, &expected_jwks)
        .await
        .map_err(|what| fail(5, what, hints::unreachable(ctx.config, "JWKS")))?;
    check_published(&jwks, key.kid(), key.alg().as_str()).map_err(|problem| match problem {
        Unpublished::Missing(what) => fail(5, what, hints::kid_missing()),
        Unpublished::Unusable(what) => fail(5, what, hints::jwks_rewritten()),
    })?;
    run.pass(5, format!("active key `{}` is published", key.kid()));

    let token = exchange_once(ctx, provider, &subject)
        .await
        .map_err(|err| match err {
            Ok(what) => fail(6, what, "that issuer-svc can sign with the active key"),
            Err(err) => {
                let what = match &err {
                    ExchangeError::Refused(refusal) => {
                        format!("Claude refused the exchange: {}", refusal.summary())
                    }
                    ExchangeError::Unavailable(_) => err.to_string(),
                };
                fail(
                    6,
                    what,
                    hints::exchange(index, provider, &subject, &err, ctx),
                )
            }
        })?;
    run.pass(6, "Claude minted an access token");
    Ok(VerifyOutcome::Verified {
        scope: token
            .0
            .unwrap_or_else(|| provider.claude_wif.scope.as_str().to_owned()),
        lifetime_seconds: token.1,
    })
}

fn find_provider<'a>(
    config: &'a Config,
    id: &str,
) -> Result<(usize, &'a ProviderConfig), VerifyOutcome> {
    config
        .providers
        .iter()
        .enumerate()
        .find(|(_, provider)| provider.id == id)
        .map(|(index, provider)| (index, provider.as_ref()))
        .ok_or_else(|| {
            let known: Vec<&str> = config.providers.iter().map(|p| p.id.as_str()).collect();
            fail(
                1,
                format!("no credential provider has id `{id}`"),
                format!("the provider id; configured: {}", known.join(", ")),
            )
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

/// Signs one assertion and exchanges it once. `Err(Ok(_))`: not sent.
async fn exchange_once(
    ctx: &VerifyContext<'_>,
    provider: &ProviderConfig,
    subject: &str,
) -> Result<(Option<String>, u64), Result<String, ExchangeError>> {
    let now = ctx.clock.now();
    let key = ctx
        .keys
        .active(now)
        .ok_or_else(|| Ok("no active signing key".to_owned()))?;
    let signed = AssertionClaims::new(provider, subject, ctx.clock.unix_seconds())
        .and_then(|claims| sign(key, &claims))
        .map_err(|err| Ok(format!("cannot sign the assertion: {err}")))?;
    let request = build_exchange_request(&ctx.config.claude, provider, signed.assertion);
    tracing::info!(provider = %provider.id, jti = %signed.jti, kid = %signed.kid, "verify: exchanging one assertion");
    let token = exchange(ctx.transport, request).await.map_err(Err)?;
    Ok((token.scope, token.expires_in))
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
