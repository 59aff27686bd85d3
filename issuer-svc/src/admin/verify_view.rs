//! The Verify banner: green "Verified successfully" with scope and lifetime,
//! or red with the failing step, what happened and what to check.

use maud::{Markup, html};

use super::format::duration;
use crate::verify::{STEPS, StepPassed, VerifyOutcome, VerifyReport};

pub(super) fn banner(report: &VerifyReport) -> Markup {
    match &report.outcome {
        VerifyOutcome::Verified {
            scope,
            lifetime_seconds,
        } => html! {
            div class="banner banner-ok" role="status" data-outcome="verified" {
                span class="banner-icon" aria-hidden="true" { "✓" }
                div class="banner-body" {
                    p class="banner-title" { "Verified successfully" }
                    p {
                        "Claude accepted an assertion"
                        @if let Some(subject) = &report.subject {
                            " for " code { (subject) }
                            @if let Some(note) = &report.subject_note {
                                " " span class="subject-note" { "(" (rich(note)) ")" }
                            }
                        }
                        " and minted an access token: scope "
                        strong class="scope" { (scope) }
                        ", lifetime "
                        strong class="lifetime" { (duration(*lifetime_seconds)) }
                        " (" (lifetime_seconds) " s)."
                    }
                    (passed(&report.passed))
                }
            }
        },
        VerifyOutcome::Failed(failure) => html! {
            div class="banner banner-error" role="alert" data-outcome="failed" {
                span class="banner-icon" aria-hidden="true" { "!" }
                div class="banner-body" {
                    p class="banner-title" {
                        "Verification failed at step " (failure.step) " of " (STEPS.len()) ": "
                        span class="step" { (label(failure.name)) }
                    }
                    p class="what" { (rich(&failure.what)) }
                    (hint(&failure.hint))
                    (passed(&report.passed))
                }
            }
        },
    }
}

/// A red banner for a request that could not run Verify at all.
pub(super) fn problem(title: &str, detail: &str) -> Markup {
    html! {
        div class="banner banner-error" role="alert" data-outcome="failed" {
            span class="banner-icon" aria-hidden="true" { "!" }
            div class="banner-body" {
                p class="banner-title" { (title) }
                p { code { (detail) } }
            }
        }
    }
}

fn passed(steps: &[StepPassed]) -> Markup {
    if steps.is_empty() {
        return html! {};
    }
    html! {
        details class="steps" {
            summary { (steps.len()) " of " (STEPS.len()) " checks passed" }
            ol {
                @for step in steps {
                    li {
                        span class="step" { (label(step.name)) }
                        " "
                        span class="muted" { (rich(&step.detail)) }
                    }
                }
            }
        }
    }
}

/// The operator-facing name of a step of [`STEPS`].
fn label(step: &str) -> &str {
    match step {
        "configuration" => "Configuration",
        "discovery" => "Discovery document reachable",
        "issuer" => "Issuer matches",
        "jwks_uri" => "jwks_uri matches",
        "jwks" => "JWKS publishes the active key",
        "exchange" => "Token exchange at Claude",
        other => other,
    }
}

/// "What to check": one item per `; `-separated clause when there are several.
fn hint(text: &str) -> Markup {
    let items: Vec<&str> = text
        .split("; ")
        .map(|item| item.strip_prefix("and ").unwrap_or(item))
        .collect();
    html! {
        @if items.len() > 1 {
            p class="hint" { strong { "What to check:" } }
            ul class="hint-list" {
                @for item in &items { li { (rich(item)) } }
            }
        } @else {
            p class="hint" { strong { "What to check: " } (rich(text)) }
        }
    }
}

/// Text with `backticked` parts shown as code.
fn rich(text: &str) -> Markup {
    html! {
        @for (index, part) in text.split('`').enumerate() {
            @if index % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::VerifyFailure;

    fn report(outcome: VerifyOutcome) -> VerifyReport {
        VerifyReport {
            provider: "p".into(),
            subject: Some("spiffe://x/<app>".into()),
            subject_note: None,
            passed: vec![StepPassed {
                step: 1,
                name: "configuration",
                detail: "provider `p`".into(),
            }],
            outcome,
        }
    }

    #[test]
    fn success_names_scope_and_lifetime() {
        let html = banner(&report(VerifyOutcome::Verified {
            scope: "workspace:developer".into(),
            lifetime_seconds: 3600,
        }))
        .into_string();
        assert!(html.contains(r#"role="status""#), "{html}");
        assert!(html.contains("Verified successfully"));
        assert!(html.contains("workspace:developer"));
        assert!(html.contains("1 h 0 min"));
        assert!(html.contains("spiffe://x/&lt;app&gt;"), "{html}");
        assert!(html.contains("<code>p</code>"));
    }

    #[test]
    fn failure_names_the_step_and_the_hint_escaped() {
        let html = banner(&report(VerifyOutcome::Failed(VerifyFailure {
            step: 6,
            name: "exchange",
            what: "Claude refused: <b>".into(),
            hint: "the `audience`".into(),
        })))
        .into_string();
        assert!(html.contains(r#"role="alert""#));
        assert!(html.contains("step 6 of 6"));
        assert!(html.contains("Token exchange at Claude"));
        assert!(html.contains("Claude refused: &lt;b&gt;"));
        assert!(html.contains("the <code>audience</code>"));
    }

    #[test]
    fn a_hint_of_several_clauses_becomes_a_list() {
        let html = hint("the `rule`; that the account; and the events").into_string();
        assert!(html.contains("What to check:"));
        assert!(html.contains(
            "<li>the <code>rule</code></li><li>that the account</li><li>the events</li>"
        ));
        assert!(!hint("one thing").into_string().contains("<ul"));
    }
}
