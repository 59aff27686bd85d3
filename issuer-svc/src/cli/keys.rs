//! `issuer-svc keys rotate` and `issuer-svc keys list`: run against the
//! configured key directory, answered as the text the command prints.

use std::fmt::Write;
use std::time::SystemTime;

use crate::clock::{Clock, rfc3339, unix};
use crate::config::Config;
use crate::keys::{KeyError, KeySet, KeyState, KeyStore, Rotation};

/// `issuer-svc keys rotate`: adds a key to `state_dir/keys` and describes it.
pub fn rotate(config: &Config, clock: &dyn Clock) -> Result<String, KeyError> {
    let store = KeyStore::open(&config.server.state_dir)?;
    let rotation = store.rotate(&config.key_policy(), clock)?;
    Ok(format_rotation(&rotation, clock.now()))
}

/// `issuer-svc keys list`: every stored key and its state now.
pub fn list(config: &Config, clock: &dyn Clock) -> Result<String, KeyError> {
    let store = KeyStore::open(&config.server.state_dir)?;
    match store.load(&config.key_policy())? {
        Some(keys) => Ok(format_list(&keys, clock.now())),
        None => Ok(format!(
            "no signing key in {} yet: `issuer-svc serve` or `issuer-svc keys rotate` creates one\n",
            store.dir().display()
        )),
    }
}

/// `keys list`: one row per stored key.
pub fn format_list(keys: &KeySet, now: SystemTime) -> String {
    let mut out = format!(
        "{:<43}  {:<5}  {:<8}  {:<20}  {:<20}  {}\n",
        "KID", "ALG", "STATE", "CREATED", "ACTIVATES", "PUBLISHED UNTIL"
    );
    for status in keys.statuses(now) {
        let until = match status.published_until {
            Some(until) => rfc3339(until),
            None => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<43}  {:<5}  {:<8}  {:<20}  {:<20}  {}",
            status.kid,
            status.alg.as_str(),
            status.state.as_str(),
            rfc3339(status.created),
            rfc3339(status.activates_at),
            until
        );
    }
    out
}

/// `keys rotate`: the new kid, when it signs, what was cleaned up, and the
/// JWKS as it is now.
pub fn format_rotation(rotation: &Rotation, now: SystemTime) -> String {
    let now_secs = unix(now);
    let mut out = format!(
        "new signing key {} ({})\n",
        rotation.kid,
        rotation.alg.as_str()
    );
    let wait = rotation.activates_at.saturating_sub(now_secs);
    let _ = writeln!(
        out,
        "published now; signs from {} ({})",
        rfc3339(rotation.activates_at),
        if rotation.keys.entries().len() == 1 {
            "now: there was no key to publish ahead of".to_owned()
        } else {
            format!("in {wait} s")
        }
    );
    for kid in &rotation.adopted {
        let _ = writeln!(out, "wrote metadata for older key {kid}");
    }
    for kid in &rotation.removed {
        let _ = writeln!(out, "removed expired key {kid}");
    }
    out.push_str("JWKS now publishes:\n");
    for status in rotation.keys.statuses(now) {
        if status.state == KeyState::Expired {
            continue;
        }
        let detail = match (status.state, status.published_until) {
            (KeyState::Pending, _) => format!("signs from {}", rfc3339(status.activates_at)),
            (_, Some(until)) => format!("published until {}", rfc3339(until)),
            (_, None) => "published while active".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {}  {}  {:<8}  {}",
            status.kid,
            status.alg.as_str(),
            status.state.as_str(),
            detail
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;
    use crate::keys::{Algorithm, KeyPolicy};

    #[test]
    fn rotate_and_list_describe_every_key() {
        let temp = tempfile::tempdir().unwrap();
        let store = KeyStore::open(temp.path()).unwrap();
        let clock = ManualClock::at_unix(1_700_000_000);
        let policy = KeyPolicy::new(
            Algorithm::Es256,
            Duration::from_secs(900),
            Duration::from_secs(3600),
        );
        let first = store.rotate(&policy, &clock).unwrap();
        let text = format_rotation(&first, clock.now());
        assert!(
            text.contains("signs from 2023-11-14T22:13:20Z (now: there was no key"),
            "{text}"
        );
        let second = store.rotate(&policy, &clock).unwrap();
        let text = format_rotation(&second, clock.now());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("new signing key {} (ES256)", second.kid));
        assert_eq!(
            lines[1],
            "published now; signs from 2023-11-14T22:28:20Z (in 900 s)"
        );
        assert_eq!(lines[2], "JWKS now publishes:");
        assert_eq!(
            lines[3],
            format!(
                "  {}  ES256  active    published until 2023-11-14T23:28:50Z",
                first.kid
            )
        );
        assert_eq!(
            lines[4],
            format!(
                "  {}  ES256  pending   signs from 2023-11-14T22:28:20Z",
                second.kid
            )
        );
        let list = format_list(&second.keys, clock.now());
        let rows: Vec<&str> = list.lines().collect();
        assert!(rows[0].starts_with("KID") && rows[0].ends_with("PUBLISHED UNTIL"));
        assert!(rows[1].starts_with(&first.kid) && rows[1].contains("active"));
        assert!(rows[2].starts_with(&second.kid) && rows[2].ends_with(" -"));
    }
}
