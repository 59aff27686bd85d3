//! Admin API errors as one sentence that says what to do.

use super::client::AdminApiError;
use super::desired::Desired;
use super::plan::Kind;

/// Where a field Claude refused comes from in the configuration.
fn config_source(field: &str) -> &'static str {
    match field {
        "issuer_url" => {
            "server.public_base_url (Claude dials https on port 443 with a public DNS name)"
        }
        "max_jwt_lifetime_seconds" => "claude_wif.lifetime",
        "name" => "the credential provider id",
        f if f.starts_with("match.audience") => "claude_wif.audience",
        f if f.starts_with("match") => {
            "the identities of the client workloads whose access policies use this provider"
        }
        "oauth_scope" => "claude_wif.scope",
        "workspace_id" | "workspace_ids" => "claude_wif.workspace_id",
        f if f.starts_with("target") => "claude_wif.service_account_id",
        "issuer_id" => "the federation issuer (see above)",
        _ => "the configuration",
    }
}

/// One sentence: what went wrong doing `what`, and what to do.
pub fn explain(error: &AdminApiError, what: &str) -> String {
    let detail = match (&error.error_type, &error.request_id) {
        (Some(kind), Some(id)) => format!("{kind}: {} (request {id})", error.message),
        (Some(kind), None) => format!("{kind}: {}", error.message),
        (None, _) => error.message.clone(),
    };
    let Some(status) = error.status else {
        return format!(
            "Could not reach Claude's Admin API to {what} ({}: {detail}); check [claude] base_url \
             and that this host can reach it.",
            error.call
        );
    };
    let archived = error.message.contains("archived");
    match status {
        401 => format!(
            "Claude rejected the admin credential while trying to {what} (401 {detail}); use a \
             current OAuth access token with the org:admin scope (for example from `ant auth \
             login --scope org:admin`) in --admin-token-file or ANTHROPIC_ADMIN_TOKEN: Admin API \
             keys are not accepted."
        ),
        403 => format!(
            "The admin credential may not {what} (403 {detail}); it needs the org:admin scope, and \
             rules granting a scope other than workspace:developer or workspace:inference must be \
             created in Claude Console."
        ),
        404 => format!(
            "Claude has no such object while trying to {what} (404 {detail}); check that the id in \
             the configuration belongs to this organization, or remove it so register creates a \
             new object."
        ),
        409 => format!(
            "Claude already has an object with this name while trying to {what} (409 {detail}); \
             someone created it meanwhile: run register again to pick it up."
        ),
        400 if archived => format!(
            "Cannot {what}: the object is archived in Claude (400 {detail}); archived objects \
             cannot be used or updated, so remove its id from the configuration (register then \
             creates a new one) or pick another."
        ),
        400..=499 => match error.field() {
            Some(field) => format!(
                "Claude refused to {what} because of field `{field}` ({status} {detail}); fix {} \
                 and run register again.",
                config_source(field)
            ),
            None => format!(
                "Claude refused to {what} ({status} {detail}); fix the configuration and run \
                 register again."
            ),
        },
        _ => format!(
            "Claude's Admin API failed while trying to {what} ({status} {detail}); nothing was \
             left half-done that a second run will not finish: try again later."
        ),
    }
}

/// Another way out than a new provider id, per kind.
fn other_way_out(kind: Kind, desired: &Desired) -> String {
    match kind {
        Kind::Rule => format!(
            ", or write the id of a live federation rule into {}",
            desired.field("federation_rule_id")
        ),
        Kind::ServiceAccount => format!(
            ", or write the id of a live service account into {}",
            desired.field("service_account_id")
        ),
        Kind::Issuer => ", or register a live issuer with this issuer_url under another name \
                         (register finds an issuer by its issuer_url)"
            .to_owned(),
        Kind::Membership => String::new(),
    }
}

/// The provider id is taken by an archived object of `kind` (id `id`).
pub fn name_held(kind: Kind, id: &str, desired: &Desired) -> String {
    format!(
        "the name `{}` is held by an archived {} (id {id}, found with `include_archived=true`): \
         names stay taken after archiving, and archived objects cannot be renamed, restored or \
         updated. Give the credential provider another id (register names the issuer, service \
         account and rule after it){}",
        desired.name,
        kind.noun(),
        other_way_out(kind, desired)
    )
}

/// A 409 on creating `kind`: an archived holder when one is found, else
/// the usual sentence.
pub fn create_conflict(
    error: &AdminApiError,
    kind: Kind,
    held: Option<&str>,
    desired: &Desired,
) -> String {
    let what = format!("create the {}", kind.noun());
    match held {
        Some(id) => format!(
            "Cannot {what} (409 {}): {}.",
            error.message,
            name_held(kind, id, desired)
        ),
        None => explain(error, &what),
    }
}
