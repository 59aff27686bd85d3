//! Rules for `server.internal_hosts`.

use super::*;

/// Longest DNS name (RFC 1035).
const MAX_HOST_LEN: usize = 253;

impl Validator {
    /// Host names only: letters, digits, `-` and `.`, no port, no scheme.
    /// Returned lowercase, compared case-insensitively.
    pub(super) fn internal_hosts(&mut self, raw: &[String]) -> Vec<String> {
        let mut hosts = Vec::new();
        for (index, text) in raw.iter().enumerate() {
            let path = format!("server.internal_hosts[{index}]");
            match host_name_problem(text) {
                Some(problem) => self.error(path, problem),
                None => hosts.push(text.to_ascii_lowercase()),
            }
        }
        hosts
    }
}

fn host_name_problem(text: &str) -> Option<String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    if text.is_empty() {
        Some("must not be empty".to_owned())
    } else if text.len() > MAX_HOST_LEN {
        Some(format!("must be at most {MAX_HOST_LEN} characters"))
    } else if !text.bytes().all(allowed) {
        Some(format!(
            "`{}` is not a host name: only letters, digits, `-` and `.`, without port or scheme \
             (e.g. issuer-svc.example.internal)",
            text.escape_default()
        ))
    } else if text.starts_with('.') || text.ends_with('.') || text.contains("..") {
        Some(format!("`{text}` has an empty label"))
    } else {
        None
    }
}
