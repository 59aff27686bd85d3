//! The live part of the page: token status per (credential provider, client
//! workload identity) and the signing keys. `GET /admin/status` answers this
//! fragment; the page's script swaps it in every few seconds.

use std::sync::Arc;

use maud::{Markup, html};

use super::format::{duration, relative, time};
use crate::keys::{KeyState, KeyStatus};
use crate::live_config::Served;
use crate::state::AppState;
use crate::tokens::{TokenState, TokenStatus};

/// Everything the page shows, read once per request.
pub(super) struct View {
    pub(super) served: Arc<Served>,
    pub(super) tokens: Vec<TokenStatus>,
    pub(super) keys: Vec<KeyStatus>,
    /// Unix seconds, from the service clock.
    pub(super) now: u64,
}

impl View {
    pub(super) fn of(app: &AppState) -> View {
        let now = app.clock.now();
        View {
            served: app.config.current(),
            tokens: app.tokens.snapshot(),
            keys: app.keys.current().statuses(now),
            now: crate::clock::unix(now),
        }
    }
}

/// The two live sections.
pub(super) fn render(view: &View) -> Markup {
    html! {
        (tokens(view))
        (keys(view))
    }
}

fn tokens(view: &View) -> Markup {
    html! {
        section class="card" aria-labelledby="tokens-heading" {
            div class="card-head" {
                h2 id="tokens-heading" { "Token status" }
                p class="muted small" {
                    "Live, refreshed every 5 s · as of " (time(view.now))
                }
            }
            @if view.tokens.is_empty() {
                p class="empty" {
                    "No access tokens cached yet. A row appears after a client workload's first request "
                    "through the filter."
                }
            } @else {
                div class="table-wrap" {
                    table id="token-status" {
                        caption class="visually-hidden" {
                            "Cached access tokens per credential provider and client workload"
                        }
                        thead {
                            tr {
                                th scope="col" { "Credential provider" }
                                th scope="col" { "Client workload" }
                                th scope="col" { "State" }
                                th scope="col" { "Expires in" }
                                th scope="col" { "Last exchange" }
                                th scope="col" { "Token" }
                            }
                        }
                        tbody {
                            @for row in &view.tokens { (token_row(view, row)) }
                        }
                    }
                }
            }
        }
    }
}

fn token_row(view: &View, row: &TokenStatus) -> Markup {
    let provider_name = view
        .served
        .config
        .provider(&row.provider)
        .map(|provider| provider.name.clone());
    html! {
        tr data-state=(row.state.as_str()) {
            th scope="row" {
                @if let Some(name) = provider_name.filter(|name| name != &row.provider) {
                    span class="strong" { (name) } br;
                }
                code class="small" { (row.provider) }
            }
            td {
                @if !row.client_workload.is_empty() { span class="strong" { (row.client_workload) } br; }
                code class="small wrap" { (row.identity) }
            }
            td { (token_state(row.state)) }
            td class="num" {
                @match row.expires_in {
                    Some(0) => span class="muted" { "expired" },
                    Some(seconds) => (duration(seconds)),
                    None => span class="muted" { "—" },
                }
            }
            td { (last_exchange(view, row)) }
            td {
                @match &row.token_last4 {
                    Some(last4) => code title="Last 4 characters of the access token" {
                        span aria-hidden="true" { "…" }
                        span class="visually-hidden" { "ending in " }
                        (last4)
                    },
                    None => span class="muted" { "none" },
                }
            }
        }
    }
}

fn token_state(state: TokenState) -> Markup {
    let tone = match state {
        TokenState::Fresh => "ok",
        TokenState::Refreshing => "info",
        TokenState::Expired => "neutral",
        TokenState::Failing => "error",
    };
    html! { span class={ "pill pill-" (tone) } { (state.as_str()) } }
}

fn last_exchange(view: &View, row: &TokenStatus) -> Markup {
    let Some(last) = &row.last_exchange else {
        return html! { span class="muted" { "none yet" } };
    };
    let at = crate::clock::unix(last.at);
    html! {
        @match &last.error {
            None => span class="result result-ok" { "Succeeded" },
            Some(_) => span class="result result-error" { "Failed" },
        }
        " "
        span class="muted small" title=(super::format::utc(at)) { (relative(view.now, at)) }
        @if let Some(error) = &last.error {
            div class="detail" { (error) }
        }
    }
}

fn keys(view: &View) -> Markup {
    html! {
        section class="card" aria-labelledby="keys-heading" {
            div class="card-head" {
                h2 id="keys-heading" { "Signing keys" }
                p class="muted small" {
                    "Published in every provider's JWKS while pending, active or retired."
                }
            }
            div class="table-wrap" {
                table id="signing-keys" {
                    caption class="visually-hidden" { "Signing keys and their states" }
                    thead {
                        tr {
                            th scope="col" { "Key ID (kid)" }
                            th scope="col" { "Algorithm" }
                            th scope="col" { "State" }
                            th scope="col" { "Created" }
                            th scope="col" { "Signs from" }
                            th scope="col" { "Published until" }
                        }
                    }
                    tbody {
                        @for key in &view.keys { (key_row(view, key)) }
                    }
                }
            }
        }
    }
}

fn key_row(view: &View, key: &KeyStatus) -> Markup {
    let tone = match key.state {
        KeyState::Active => "ok",
        KeyState::Pending => "info",
        KeyState::Retired => "warn",
        KeyState::Expired => "neutral",
    };
    html! {
        tr data-state=(key.state.as_str()) {
            th scope="row" { code class="wrap" { (key.kid) } }
            td { (key.alg.as_str()) }
            td { span class={ "pill pill-" (tone) } { (key.state.as_str()) } }
            td { (time(key.created)) }
            td {
                (time(key.activates_at))
                @if key.activates_at > view.now {
                    br; span class="muted small" { (relative(view.now, key.activates_at)) }
                }
            }
            td {
                @match key.published_until {
                    Some(until) => (time(until)),
                    None => span class="muted" title="Set when a successor key activates: then plus the retention" { "not scheduled" },
                }
            }
        }
    }
}
