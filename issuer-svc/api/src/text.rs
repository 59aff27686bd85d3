//! Characters that change how text is shown or split without being seen:
//! controls (Unicode category Cc), format characters (Cf: bidi overrides
//! such as U+202E, zero-width U+200B, U+FEFF) and the line and paragraph
//! separators (Zl U+2028, Zp U+2029). Identities must not contain them, and
//! logs escape them. Plain Rust over a fixed table, so it builds for wasm32.

/// Ranges of Cf, Zl and Zp as of Unicode 15.1 (inclusive).
const FORMAT_AND_SEPARATORS: [(u32, u32); 21] = [
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// A format character (Cf) or a line/paragraph separator (Zl, Zp).
pub fn is_format_or_separator(c: char) -> bool {
    let code = u32::from(c);
    FORMAT_AND_SEPARATORS
        .iter()
        .any(|&(low, high)| (low..=high).contains(&code))
}

/// A control, a format character or a line/paragraph separator: nothing
/// that may appear raw in an identity or a log line.
pub fn is_hidden_or_control(c: char) -> bool {
    c.is_control() || is_format_or_separator(c)
}

/// The first such character of `text`, for an error message that names it
/// (`U+202E`).
pub fn first_hidden_or_control(text: &str) -> Option<char> {
    text.chars().find(|&c| is_hidden_or_control(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_characters_of_the_review_are_caught() {
        for c in ['\u{2028}', '\u{2029}', '\u{202E}', '\u{200B}', '\u{FEFF}'] {
            assert!(is_format_or_separator(c), "U+{:04X}", u32::from(c));
            assert!(is_hidden_or_control(c));
        }
        for c in ['\0', '\n', '\u{1b}', '\u{7f}', '\u{85}'] {
            assert!(!is_format_or_separator(c));
            assert!(is_hidden_or_control(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn ordinary_text_passes_including_non_ascii_letters() {
        for c in [
            'a', '/', ':', '*', ' ', 'é', 'ж', '日', '\u{00AC}', '\u{00AE}', '\u{2027}',
        ] {
            assert!(!is_hidden_or_control(c), "U+{:04X}", u32::from(c));
        }
        assert_eq!(first_hidden_or_control("spiffe://cluster.local/ns/a"), None);
    }

    #[test]
    fn range_edges_are_inclusive() {
        for &(low, high) in &FORMAT_AND_SEPARATORS {
            for code in [low, high] {
                let c = char::from_u32(code).unwrap_or('a');
                assert!(is_format_or_separator(c), "U+{code:04X}");
            }
        }
        assert!(!is_format_or_separator('\u{2030}'));
        assert!(!is_format_or_separator('\u{E0080}'));
        assert_eq!(first_hidden_or_control("a\u{202E}b\n"), Some('\u{202E}'));
    }
}
