//! Text of `issuer-svc keys rotate` and `issuer-svc keys list`.

use std::fmt::Write;
use std::time::SystemTime;

use super::set::unix;
use super::{KeyError, KeySet, KeyState, KeyStore, Rotation};
use crate::clock::Clock;
use crate::config::Config;

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

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds (UTC).
pub fn rfc3339(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let rest = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, ManualClock};
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

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
