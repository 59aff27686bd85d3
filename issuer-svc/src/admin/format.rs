//! Times and durations as the page shows them.

use maud::{Markup, html};

use crate::clock::rfc3339;

/// `45 s`, `12 min 5 s`, `1 h 0 min`, `2 d 3 h`.
pub(super) fn duration(seconds: u64) -> String {
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min {secs} s")
    } else {
        format!("{secs} s")
    }
}

/// `just now`, `12 s ago`, `3 min 4 s ago`; `in 5 s` for the future.
pub(super) fn relative(now: u64, at: u64) -> String {
    if at > now {
        format!("in {}", duration(at - now))
    } else if now - at < 2 {
        "just now".to_owned()
    } else {
        format!("{} ago", duration(now - at))
    }
}

/// `2026-11-28 13:55:02 UTC`.
pub(super) fn utc(unix: u64) -> String {
    rfc3339(unix).replacen('T', " ", 1).replace('Z', " UTC")
}

/// A `<time>` element showing [`utc`].
pub(super) fn time(unix: u64) -> Markup {
    html! { time datetime=(rfc3339(unix)) { (utc(unix)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_the_two_largest_units() {
        assert_eq!(duration(0), "0 s");
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(60), "1 min 0 s");
        assert_eq!(duration(3599), "59 min 59 s");
        assert_eq!(duration(3600), "1 h 0 min");
        assert_eq!(duration(86_400 + 7_200 + 5), "1 d 2 h");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(100, 100), "just now");
        assert_eq!(relative(100, 99), "just now");
        assert_eq!(relative(100, 88), "12 s ago");
        assert_eq!(relative(100, 105), "in 5 s");
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(
            time(0).into_string(),
            r#"<time datetime="1970-01-01T00:00:00Z">1970-01-01 00:00:00 UTC</time>"#
        );
    }
}
