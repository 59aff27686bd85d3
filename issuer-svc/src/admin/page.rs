//! The whole page: header, credential providers (issuer URL with a copy
//! button, the `claude_wif` IDs, Verify), access policies, then the live
//! sections of [`super::live`].

use maud::{DOCTYPE, Markup, html};

use super::format::duration;
use super::live::{self, View};
use crate::config::{AccessPolicyConfig, Config, IdentityPattern, ProviderConfig};

pub(super) fn render(view: &View, csrf: &str) -> Markup {
    let config = &view.served.config;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(csrf);
                meta name="robots" content="noindex";
                title { "issuer-svc admin · claude-wif" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/admin/assets/admin.css";
                script src="/admin/assets/admin.js" defer {}
            }
            body {
                a class="skip-link" href="#main" { "Skip to content" }
                (topbar())
                main id="main" class="wrap" {
                    (summary(config))
                    (providers(config))
                    (policies(config))
                    div id="live" data-status-url="/admin/status" {
                        (live::render(view))
                    }
                    p id="live-error" class="live-error" role="status" hidden {}
                }
                div id="announcer" class="visually-hidden" aria-live="polite" {}
            }
        }
    }
}

fn topbar() -> Markup {
    html! {
        header class="topbar" {
            div class="wrap topbar-inner" {
                div class="brand" {
                    span class="brand-mark" aria-hidden="true" {}
                    span class="brand-name" { "claude-wif" }
                    span class="brand-sub" { "issuer-svc admin" }
                }
                p class="topbar-meta" {
                    "v" (crate::VERSION) " · internal listener"
                }
            }
        }
    }
}

fn summary(config: &Config) -> Markup {
    let access = if config.server.internal_api_key.is_some() {
        "Internal API key required"
    } else {
        "No internal API key: loopback only"
    };
    html! {
        section class="summary" aria-label="Service" {
            dl {
                div { dt { "Public base URL" } dd { code class="wrap" { (config.server.public_base_url) } } }
                div { dt { "Claude API" } dd { code class="wrap" { (config.claude.base_url) } } }
                div { dt { "Page access" } dd { (access) } }
                div {
                    dt { "Configured" }
                    dd {
                        (config.providers.len()) " providers · "
                        (config.client_workloads.len()) " client workloads · "
                        (config.access_policies.len()) " policies"
                    }
                }
            }
        }
    }
}

fn providers(config: &Config) -> Markup {
    html! {
        section class="card" aria-labelledby="providers-heading" {
            div class="card-head" {
                h2 id="providers-heading" { "Credential providers" }
                p class="muted small" {
                    "Paste a provider's OIDC issuer URL into Claude Console as a federation issuer "
                    "(JWKS source: Discovery), then press Verify."
                }
            }
            @if config.providers.is_empty() {
                p class="empty" { "No credential provider is configured." }
            }
            div class="providers" {
                @for provider in &config.providers { (provider_card(provider)) }
            }
        }
    }
}

fn provider_card(provider: &ProviderConfig) -> Markup {
    let id = &provider.id;
    let wif = &provider.claude_wif;
    let issuer_input = format!("issuer-{id}");
    html! {
        article class="provider" aria-labelledby={ "provider-" (id) "-name" } data-provider=(id) {
            div class="provider-head" {
                div {
                    h3 id={ "provider-" (id) "-name" } { (provider.name) }
                    code class="muted small" { (id) }
                }
                @if provider.is_active {
                    span class="pill pill-ok" { "Active" }
                } @else {
                    span class="pill pill-neutral" { "Inactive" }
                }
            }
            @if let Some(description) = &provider.description {
                p class="muted" { (description) }
            }
            div class="field" {
                label for=(issuer_input) { "OIDC issuer URL" }
                div class="copy-row" {
                    input id=(issuer_input) class="mono" type="text" readonly value=(provider.issuer_url);
                    button type="button" class="btn" data-copy-target=(issuer_input) {
                        span class="btn-label" { "Copy" }
                        span class="visually-hidden" { " the issuer URL of " (provider.name) }
                    }
                }
            }
            dl class="fields" {
                (field("Federation rule ID", html! { code { (wif.federation_rule_id) } }))
                (field("Organization ID", html! { code { (wif.organization_id) } }))
                (field("Service account ID", html! { code { (wif.service_account_id) } }))
                (field("Workspace ID", match &wif.workspace_id {
                    Some(workspace) => html! { code { (workspace) } },
                    None => html! { span class="muted" { "none (the rule's only workspace)" } },
                }))
                (field("Audience", html! { code class="wrap" { (wif.audience) } }))
                (field("Scope", html! { code { (wif.scope.as_str()) } }))
                (field("Assertion lifetime", html! {
                    (duration(wif.lifetime.as_secs())) " "
                    span class="muted" { "(" (wif.lifetime.as_secs()) " s)" }
                }))
            }
            div class="actions" {
                button type="button" class="btn btn-primary" data-verify-url={ "/admin/providers/" (id) "/verify" }
                    data-result=(format!("verify-{id}")) aria-describedby={ "verify-" (id) "-help" } {
                    span class="btn-label" { "Verify" }
                    span class="visually-hidden" { " " (provider.name) }
                }
                span id={ "verify-" (id) "-help" } class="muted small" {
                    "Fetches discovery and JWKS through the issuer URL as Claude does, then performs "
                    "one real token exchange."
                }
            }
            div id={ "verify-" (id) } class="verify-result" aria-live="polite" {}
        }
    }
}

fn field(label: &str, value: Markup) -> Markup {
    html! { div { dt { (label) } dd { (value) } } }
}

fn policies(config: &Config) -> Markup {
    html! {
        section class="card" aria-labelledby="policies-heading" {
            div class="card-head" {
                h2 id="policies-heading" { "Access policies" }
                p class="muted small" {
                    "Each grants a client workload access to a server workload through a credential "
                    "provider. Everything not granted is denied."
                }
            }
            @if config.access_policies.is_empty() {
                p class="empty" { "No access policy: every token request is denied." }
            } @else {
                div class="table-wrap" {
                    table id="access-policies" {
                        caption class="visually-hidden" {
                            "Access policies: client workload, server workload, credential provider"
                        }
                        thead {
                            tr {
                                th scope="col" { "Client workload" }
                                th scope="col" { "Identity" }
                                th scope="col" { span aria-hidden="true" { "→ " } "Server workload" }
                                th scope="col" { span aria-hidden="true" { "→ " } "Credential provider" }
                            }
                        }
                        tbody {
                            @for policy in &config.access_policies { (policy_row(config, policy)) }
                        }
                    }
                }
            }
        }
    }
}

fn policy_row(config: &Config, policy: &AccessPolicyConfig) -> Markup {
    let identity = config
        .client_workloads
        .iter()
        .find(|workload| workload.id == policy.client_workload)
        .map(|workload| &workload.identity);
    let provider = config.provider(&policy.credential_provider);
    html! {
        tr {
            th scope="row" { span class="strong" { (policy.client_workload) } }
            td {
                @match identity {
                    Some(IdentityPattern::Exact(exact)) => code class="wrap" { (exact) },
                    Some(IdentityPattern::Prefix(prefix)) => {
                        code class="wrap" { (prefix) "*" } " " span class="tag" { "prefix" }
                    },
                    None => span class="muted" { "—" },
                }
            }
            td { code { (policy.server_workload) } }
            td {
                @if let Some(provider) = provider {
                    span class="strong" { (provider.name) } " "
                    code class="muted small" { (provider.id) }
                    @if !provider.is_active { " " span class="tag" { "inactive" } }
                } @else {
                    code { (policy.credential_provider) }
                }
            }
        }
    }
}
