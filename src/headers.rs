//! Edits to the upstream request once a token is at hand.

use claude_wif_api::AccessToken;

use crate::host::{Host, HostError};

/// The beta flag Claude requires on requests that carry an OAuth access token.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";
const ANTHROPIC_BETA: &str = "anthropic-beta";

/// Joins every flag of every `anthropic-beta` value, trimmed, without
/// duplicates, in first-seen order, with [`OAUTH_BETA`] added if absent.
pub fn merge_beta(values: &[Vec<u8>]) -> String {
    let mut flags: Vec<String> = Vec::new();
    for value in values {
        for flag in String::from_utf8_lossy(value).split(',') {
            let flag = flag.trim();
            if !flag.is_empty() && !flags.iter().any(|f| f == flag) {
                flags.push(flag.to_owned());
            }
        }
    }
    if !flags.iter().any(|f| f == OAUTH_BETA) {
        flags.push(OAUTH_BETA.to_owned());
    }
    flags.join(",")
}

/// The `authorization` value for `token`.
pub fn bearer(token: &AccessToken) -> String {
    let mut value = String::with_capacity(7 + token.expose().len());
    value.push_str("Bearer ");
    value.push_str(token.expose());
    value
}

/// Applies the edits for `token` to the current request; see [`apply_bearer`].
pub fn apply<H: Host>(host: &mut H, token: &AccessToken) -> Result<(), HostError> {
    apply_bearer(host, &bearer(token))
}

/// Applies the edits for a token to the current request, given its
/// `authorization` value: drop client credentials, set the Bearer token,
/// and merge [`OAUTH_BETA`] into the existing `anthropic-beta` values.
/// Stops at the first failure: the caller must then not forward the
/// request.
///
/// The hot path (no `anthropic-beta` sent) is four host calls: remove
/// `x-api-key`, set `authorization` (a set replaces every value, so a
/// client's own `authorization` headers go too), read `anthropic-beta`, set
/// it. The whole header map is only fetched when the client sent
/// `anthropic-beta`, to merge repeated values.
pub fn apply_bearer<H: Host>(host: &mut H, bearer: &str) -> Result<(), HostError> {
    host.remove_request_header("x-api-key")?;
    host.set_request_header("authorization", bearer)?;
    if host.request_header(ANTHROPIC_BETA).is_none() {
        return host.set_request_header(ANTHROPIC_BETA, OAUTH_BETA);
    }
    let values = host.request_header_values(ANTHROPIC_BETA);
    let merged = merge_beta(&values);
    if let [only] = values.as_slice()
        && only.as_slice() == merged.as_bytes()
    {
        return Ok(());
    }
    host.set_request_header(ANTHROPIC_BETA, &merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fake_host::FakeHost;

    fn merged(values: &[&str]) -> String {
        let values: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        merge_beta(&values)
    }

    #[test]
    fn beta_is_created_when_absent() {
        assert_eq!(merged(&[]), "oauth-2025-04-20");
        assert_eq!(merged(&[""]), "oauth-2025-04-20");
    }

    #[test]
    fn beta_keeps_existing_flags() {
        assert_eq!(
            merged(&["prompt-caching-2024-07-31"]),
            "prompt-caching-2024-07-31,oauth-2025-04-20"
        );
    }

    #[test]
    fn beta_is_not_duplicated() {
        assert_eq!(merged(&["oauth-2025-04-20"]), "oauth-2025-04-20");
        assert_eq!(merged(&["a,oauth-2025-04-20,a"]), "a,oauth-2025-04-20");
    }

    #[test]
    fn beta_trims_spaces_and_merges_repeated_headers() {
        assert_eq!(
            merged(&[" a , ,b ", "b, oauth-2025-04-20 ", "c"]),
            "a,b,oauth-2025-04-20,c"
        );
    }

    #[test]
    fn apply_replaces_client_credentials_with_the_bearer_token() {
        let mut host = FakeHost::new()
            .with_request_header("authorization", "Bearer client-secret")
            .with_request_header("authorization", "Basic Zm9v")
            .with_request_header("x-api-key", "sk-ant-api03-client")
            .with_request_header("anthropic-beta", "a, b")
            .with_request_header("content-type", "application/json");
        apply(&mut host, &AccessToken::new("sk-ant-oat01-tok")).unwrap();
        assert_eq!(
            host.request_header_all("authorization"),
            vec!["Bearer sk-ant-oat01-tok"]
        );
        assert_eq!(host.request_header("x-api-key"), None);
        assert_eq!(
            host.request_header_all("anthropic-beta"),
            vec!["a,b,oauth-2025-04-20"]
        );
        assert_eq!(
            host.request_header("content-type").as_deref(),
            Some("application/json")
        );
    }

    #[test]
    fn apply_adds_the_beta_flag_when_the_client_sent_none() {
        let mut host = FakeHost::new();
        apply(&mut host, &AccessToken::new("sk-ant-oat01-tok")).unwrap();
        assert_eq!(
            host.request_header_all("anthropic-beta"),
            vec!["oauth-2025-04-20"]
        );
        assert_eq!(
            host.request_header_all("authorization"),
            vec!["Bearer sk-ant-oat01-tok"]
        );
    }

    #[test]
    fn apply_keeps_a_beta_value_that_already_has_the_flag() {
        let mut host = FakeHost::new().with_request_header("anthropic-beta", "a,oauth-2025-04-20");
        apply(&mut host, &AccessToken::new("t")).unwrap();
        assert_eq!(
            host.request_header_all("anthropic-beta"),
            vec!["a,oauth-2025-04-20"]
        );
        let mut host = FakeHost::new()
            .with_request_header("anthropic-beta", "oauth-2025-04-20")
            .with_request_header("anthropic-beta", "b");
        apply(&mut host, &AccessToken::new("t")).unwrap();
        assert_eq!(
            host.request_header_all("anthropic-beta"),
            vec!["oauth-2025-04-20,b"]
        );
    }

    #[test]
    fn apply_stops_on_a_host_failure() {
        let mut host = FakeHost::new();
        host.fail_header_edits();
        assert!(apply(&mut host, &AccessToken::new("t")).is_err());
        assert_eq!(host.request_header("authorization"), None);
    }
}
