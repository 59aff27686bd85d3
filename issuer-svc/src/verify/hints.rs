//! What to check when a step of `verify` fails.

use std::error::Error as _;

use super::VerifyContext;
use crate::config::{Config, ProviderConfig};
use crate::exchange::ExchangeError;

pub(super) fn unreachable(config: &Config, what: &str) -> String {
    format!(
        "that server.public_base_url (`{}`) reaches this issuer-svc's public listener from \
         the internet: https on port 443, a DNS name, a certificate Claude trusts (public CA, or \
         the federation issuer's ca_cert_pem), and that the proxy in front forwards the {what}",
        config.server.public_base_url
    )
}

pub(super) fn issuer_mismatch(provider: &ProviderConfig) -> String {
    format!(
        "server.public_base_url: it must be exactly the URL Claude dials (scheme, host, port, \
         path), and the federation issuer's issuer_url in Claude Console must be `{}`",
        provider.issuer_url
    )
}

pub(super) fn kid_missing() -> String {
    "that the serving issuer-svc uses the same key directory (server.state_dir) as this \
     command, that every replica has picked up the latest `issuer-svc keys rotate`, and that \
     caches in front of the JWKS have expired (a new key needs time to propagate)"
        .to_owned()
}

/// The hint for a published key that `use`, `key_ops` or `alg` make unusable.
pub(super) fn jwks_rewritten() -> String {
    "that no proxy or cache in front of issuer-svc rewrites the JWKS: issuer-svc publishes \
     each key with use `sig`, its alg and no key_ops"
        .to_owned()
}

/// The hint for a failed exchange.
pub(super) fn exchange(
    index: usize,
    provider: &ProviderConfig,
    subject: &str,
    err: &ExchangeError,
    ctx: &VerifyContext<'_>,
) -> String {
    let wif = &provider.claude_wif;
    let path = format!("credential_provider[{index}].claude_wif");
    match err {
        ExchangeError::Refused(refusal) if refusal.status == 401 => {
            let workspace = match &wif.workspace_id {
                Some(id) => {
                    format!("that {path}.workspace_id `{id}` is one of the rule's workspaces")
                }
                None => format!(
                    "{path}.workspace_id: this provider sends none, which Claude refuses \
                     (workspace_id_required) when the rule covers several workspaces; set it to \
                     one of them (`wrkspc_…` or `default`)"
                ),
            };
            format!(
                "the federation rule `{rule}`'s match conditions: subject_prefix must match sub \
                 `{subject}` and its audience must equal {path}.audience `{aud}`; that the rule \
                 maps to service account `{svac}` ({path}.service_account_id) in organization \
                 `{org}` ({path}.organization_id); {workspace}; and the authentication events \
                 in Claude Console, which name the reason",
                rule = wif.federation_rule_id,
                aud = wif.audience,
                svac = wif.service_account_id,
                org = wif.organization_id,
            )
        }
        ExchangeError::Refused(refusal) if refusal.status == 400 => {
            let message = refusal.message.as_deref().unwrap_or("");
            let field = [
                "federation_rule_id",
                "organization_id",
                "service_account_id",
                "workspace_id",
            ]
            .into_iter()
            .find(|field| message.contains(field));
            match field {
                Some(field) => format!("{path}.{field}: Claude says `{message}`"),
                None => format!("the field Claude names in its message (`{message}`) in {path}"),
            }
        }
        ExchangeError::Refused(refusal) if refusal.status == 429 => {
            "nothing in the configuration: Claude is rate limiting; try again shortly".to_owned()
        }
        ExchangeError::Refused(_) => format!(
            "the federation rule `{}`, service account and organization in Claude Console",
            wif.federation_rule_id
        ),
        ExchangeError::Unavailable(_) => format!(
            "that claude.base_url (`{}`) is reachable from here and Claude's status",
            ctx.config.claude.base_url
        ),
    }
}

/// An error and its causes (refused, DNS, TLS), on one line.
pub(super) fn error_chain(err: &reqwest::Error) -> String {
    let mut detail = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        detail = format!("{detail}: {cause}");
        source = cause.source();
    }
    detail
}
