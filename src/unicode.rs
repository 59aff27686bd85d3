//! Characters that must never reach an identity, a log line or a reply from
//! outside: control characters (Cc), format characters (Cf: bidi controls
//! such as U+202E, zero-width characters such as U+200B and U+FEFF) and the
//! line and paragraph separators (Zl, Zp: U+2028, U+2029). They let a value
//! display as something else, or split a log line.

/// The general category Cf of Unicode 16, as inclusive ranges.
const FORMAT: [(u32, u32); 21] = [
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
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

/// Whether `c` is a control, format, line-separator or paragraph-separator
/// character.
pub fn is_hidden(c: char) -> bool {
    let code = u32::from(c);
    c.is_control()
        || code == 0x2028
        || code == 0x2029
        || FORMAT.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
}

#[cfg(test)]
mod tests {
    use super::is_hidden;

    #[test]
    fn controls_formats_and_separators_are_hidden() {
        for c in [
            '\0',
            '\n',
            '\u{7f}',
            '\u{85}',
            '\u{ad}',
            '\u{200b}',
            '\u{200e}',
            '\u{202e}',
            '\u{2028}',
            '\u{2029}',
            '\u{2066}',
            '\u{feff}',
            '\u{fff9}',
            '\u{e0001}',
            '\u{e007f}',
        ] {
            assert!(is_hidden(c), "{:x}", u32::from(c));
        }
    }

    #[test]
    fn visible_text_and_spaces_are_not() {
        for c in [
            'a', ' ', '/', ':', 'é', 'ß', '\u{a0}', '\u{2027}', '\u{202f}', '\u{fffd}', '😀',
        ] {
            assert!(!is_hidden(c), "{:x}", u32::from(c));
        }
    }
}
