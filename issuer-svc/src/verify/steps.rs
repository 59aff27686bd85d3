//! The six steps of [`verify`](super::verify), one function each, run in
//! the order Claude checks: each passes with what it established or fails
//! with its number, what went wrong and where to look.

use super::fetch::{PublishedJwks, Unpublished, check_published, fetch_json};
use super::{PickedSubject, Run, VerifyContext, VerifyOutcome, VerifyRequest, fail, hints};
use crate::config::{Config, ProviderConfig};
use crate::discovery::{DiscoveryDocument, jwks_uri};
use crate::exchange::{ExchangeError, build_exchange_request, exchange};
use crate::signing::{AssertionClaims, sign};

/// Runs the steps in order; `Err` carries the first failure.
pub(super) async fn steps(
    ctx: &VerifyContext<'_>,
    request: VerifyRequest<'_>,
    run: &mut Run,
) -> Result<VerifyOutcome, VerifyOutcome> {
    let (index, provider) = find_provider(ctx.config, request.provider)?;
    let subject = check_configuration(ctx.config, provider, request.subject, run)?;
    let discovery = fetch_discovery(ctx, provider, run).await?;
    check_issuer(&discovery, provider, run)?;
    let jwks_url = check_jwks_uri(&discovery, provider, run)?;
    check_jwks(ctx, &jwks_url, run).await?;
    let (scope, lifetime_seconds) = exchange_one(ctx, index, provider, &subject, run).await?;
    Ok(VerifyOutcome::Verified {
        scope: scope.unwrap_or_else(|| provider.claude_wif.scope.as_str().to_owned()),
        lifetime_seconds,
    })
}

/// The provider with `id` and its index in the file, or step 1 fails.
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

/// Step 1, configuration: the subject the assertion will carry.
fn check_configuration(
    config: &Config,
    provider: &ProviderConfig,
    explicit: Option<&str>,
    run: &mut Run,
) -> Result<String, VerifyOutcome> {
    let PickedSubject { subject, note } = super::pick_subject(config, provider, explicit)?;
    run.report.subject = Some(subject.clone());
    let shown = match &note {
        Some(note) => format!("provider `{}`, subject `{subject}` ({note})", provider.id),
        None => format!("provider `{}`, subject `{subject}`", provider.id),
    };
    run.report.subject_note = note;
    run.pass(1, shown);
    Ok(subject)
}

/// Step 2, discovery: the document under the public issuer URL.
async fn fetch_discovery(
    ctx: &VerifyContext<'_>,
    provider: &ProviderConfig,
    run: &mut Run,
) -> Result<DiscoveryDocument, VerifyOutcome> {
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
    Ok(discovery)
}

/// Step 3, issuer: the document names the `iss` of our assertions.
fn check_issuer(
    discovery: &DiscoveryDocument,
    provider: &ProviderConfig,
    run: &mut Run,
) -> Result<(), VerifyOutcome> {
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
    Ok(())
}

/// Step 4, `jwks_uri`: the one we publish; returned for step 5.
fn check_jwks_uri(
    discovery: &DiscoveryDocument,
    provider: &ProviderConfig,
    run: &mut Run,
) -> Result<String, VerifyOutcome> {
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
    Ok(expected_jwks)
}

/// Step 5, JWKS: the active key is published at `jwks_url`, usable for
/// signatures.
async fn check_jwks(
    ctx: &VerifyContext<'_>,
    jwks_url: &str,
    run: &mut Run,
) -> Result<(), VerifyOutcome> {
    let now = ctx.clock.now();
    let key = ctx.keys.active(now).ok_or_else(|| {
        fail(
            5,
            "no signing key is active",
            "`issuer-svc keys list` and the key directory (server.state_dir)",
        )
    })?;
    let jwks: PublishedJwks = fetch_json(ctx.http, jwks_url)
        .await
        .map_err(|what| fail(5, what, hints::unreachable(ctx.config, "JWKS")))?;
    check_published(&jwks, key.kid(), key.alg().as_str()).map_err(|problem| match problem {
        Unpublished::Missing(what) => fail(5, what, hints::kid_missing()),
        Unpublished::Unusable(what) => fail(5, what, hints::jwks_rewritten()),
    })?;
    run.pass(5, format!("active key `{}` is published", key.kid()));
    Ok(())
}

/// Step 6, exchange: Claude mints a token for one assertion; its scope
/// (when Claude names it) and lifetime in seconds.
async fn exchange_one(
    ctx: &VerifyContext<'_>,
    index: usize,
    provider: &ProviderConfig,
    subject: &str,
    run: &mut Run,
) -> Result<(Option<String>, u64), VerifyOutcome> {
    let token = exchange_once(ctx, provider, subject)
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
                    hints::exchange(index, provider, subject, &err, ctx),
                )
            }
        })?;
    run.pass(6, "Claude minted an access token");
    Ok(token)
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
