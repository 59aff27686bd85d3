//! `[keys]` and the TLS files of `[server]`.

use std::path::PathBuf;
use std::time::Duration;

use super::super::raw::RawKeysConfig;
use super::super::{KeysConfig, TlsFiles, parse_duration};
use super::Validator;
use crate::keys::Algorithm;

/// Claude caches the JWKS for up to about a minute.
const CLAUDE_JWKS_CACHE: Duration = Duration::from_secs(60);

impl Validator {
    pub(super) fn keys(&mut self, raw: Option<RawKeysConfig>) -> KeysConfig {
        let raw = raw.unwrap_or_default();
        let mut keys = KeysConfig::default();
        if let Some(text) = raw.algorithm.as_deref() {
            match Algorithm::parse(text) {
                Some(alg) => keys.algorithm = alg,
                None => self.error(
                    "keys.algorithm",
                    format!("`{text}` is not supported; use \"ES256\" or \"RS256\""),
                ),
            }
        }
        if let Some(text) = raw.publish_ahead.as_deref() {
            match duration_or_zero(text) {
                Ok(ahead) => {
                    if ahead < CLAUDE_JWKS_CACHE {
                        self.warn(
                            "keys.publish_ahead",
                            format!("{text} is shorter than Claude's JWKS cache (about 1 min): exchanges may fail with an unknown kid right after a rotation"),
                        );
                    }
                    keys.publish_ahead = ahead;
                }
                Err(err) => self.error("keys.publish_ahead", err),
            }
        }
        keys
    }

    /// Both files or neither; each must be readable.
    pub(super) fn tls_files(
        &mut self,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Option<TlsFiles> {
        match (cert, key) {
            (None, None) => None,
            (Some(_), None) => {
                self.error("server.tls_key_file", "required when tls_cert_file is set");
                None
            }
            (None, Some(_)) => {
                self.error("server.tls_cert_file", "required when tls_key_file is set");
                None
            }
            (Some(cert_file), Some(key_file)) => {
                for (path, file) in [
                    ("server.tls_cert_file", &cert_file),
                    ("server.tls_key_file", &key_file),
                ] {
                    if let Err(err) = std::fs::metadata(file) {
                        self.error(path, format!("cannot read {}: {err}", file.display()));
                    }
                }
                Some(TlsFiles {
                    cert_file,
                    key_file,
                })
            }
        }
    }
}

/// A duration like `15m`, or zero written as `0`, `0s`, `0m`...
pub(super) fn duration_or_zero(text: &str) -> Result<Duration, String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if !digits.is_empty() && digits.bytes().all(|b| b == b'0') {
        let unit = text.get(digits.len()..).unwrap_or("");
        if unit.is_empty() || parse_duration(&format!("1{unit}")).is_ok() {
            return Ok(Duration::ZERO);
        }
    }
    parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_allowed_with_or_without_a_unit() {
        assert_eq!(duration_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(duration_or_zero("0s"), Ok(Duration::ZERO));
        assert_eq!(duration_or_zero("00m"), Ok(Duration::ZERO));
        assert_eq!(duration_or_zero("3s"), Ok(Duration::from_secs(3)));
        assert!(duration_or_zero("0d").is_err());
        assert!(duration_or_zero("15").is_err());
        assert!(duration_or_zero("").is_err());
    }
}
