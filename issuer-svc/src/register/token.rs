//! The admin credential: an OAuth access token with the `org:admin` scope,
//! read from a file or the environment, never from the configuration.
//! `Debug` and `Display` never show it.

use std::fmt;
use std::path::Path;

/// Environment variable read when `--admin-token-file` is not given.
pub const ADMIN_TOKEN_ENV: &str = "ANTHROPIC_ADMIN_TOKEN";

/// The bearer token sent to Claude's Admin API.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// Checks the shape: not empty, one line, not an API key.
    pub fn new(secret: &str) -> Result<AdminToken, String> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("the admin token is empty".to_owned());
        }
        if secret.contains(char::is_whitespace) {
            return Err("the admin token must be a single line without spaces".to_owned());
        }
        if secret.starts_with("sk-ant-admin") || secret.starts_with("sk-ant-api") {
            return Err(
                "that is an API key: the federation Admin API accepts only an OAuth access token \
                 with the org:admin scope (for example from `ant auth login --scope org:admin`)"
                    .to_owned(),
            );
        }
        Ok(AdminToken(secret.to_owned()))
    }

    /// The secret, for the `authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

impl fmt::Display for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `--admin-token-file` when given, else the value of [`ADMIN_TOKEN_ENV`].
pub fn read_admin_token(file: Option<&Path>, env: Option<String>) -> Result<AdminToken, String> {
    match (file, env) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|err| {
                format!("cannot read the admin token file {}: {err}", file.display())
            })?;
            AdminToken::new(&text).map_err(|err| format!("{}: {err}", file.display()))
        }
        (None, Some(value)) => {
            AdminToken::new(&value).map_err(|err| format!("{ADMIN_TOKEN_ENV}: {err}"))
        }
        (None, None) => Err(format!(
            "no admin credential: pass --admin-token-file FILE or set {ADMIN_TOKEN_ENV} to an \
             OAuth access token with the org:admin scope (it is never read from the configuration)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn never_shows_the_secret() {
        let token = AdminToken::new(" sk-ant-oat01-secret\n").unwrap();
        assert_eq!(token.expose(), "sk-ant-oat01-secret");
        assert_eq!(
            format!("{token:?} {token}"),
            "AdminToken([redacted]) [redacted]"
        );
    }

    #[test]
    fn refuses_api_keys_and_blank_tokens() {
        assert!(
            AdminToken::new("sk-ant-admin01-x")
                .unwrap_err()
                .contains("org:admin")
        );
        assert!(AdminToken::new("  ").is_err());
        assert!(AdminToken::new("a b").is_err());
    }

    #[test]
    fn the_file_wins_over_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").unwrap();
        let token = read_admin_token(Some(&file), Some("from-env".to_owned())).unwrap();
        assert_eq!(token.expose(), "from-file");
        let token = read_admin_token(None, Some("from-env".to_owned())).unwrap();
        assert_eq!(token.expose(), "from-env");
        assert!(
            read_admin_token(None, None)
                .unwrap_err()
                .contains(ADMIN_TOKEN_ENV)
        );
    }
}
