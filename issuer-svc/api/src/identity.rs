//! The rule every client workload identity obeys, wherever it is read: in
//! issuer-svc's config and token requests, and in the filter's config and
//! requests (static value, header, peer certificate, JWT claim, metadata).
//! One copy, so the two sides can never disagree on what an identity is.

use std::fmt;

use crate::MAX_IDENTITY_LEN;
use crate::text::first_hidden_or_control;

/// Why a text is not a valid identity. `Display` completes "the identity …"
/// (`must not be empty`) and never quotes the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityProblem {
    Empty,
    TooLong,
    /// A control character (Cc), e.g. a newline that would split a log line.
    Control,
    /// A format character or line/paragraph separator, named in the message.
    Hidden(char),
}

impl fmt::Display for IdentityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong => write!(f, "must be at most {MAX_IDENTITY_LEN} bytes"),
            Self::Control => f.write_str("must not contain control characters"),
            Self::Hidden(c) => write!(
                f,
                "must not contain Unicode format characters or line/paragraph separators \
                 (found U+{:04X}): they hide or reorder text in logs and pages",
                u32::from(*c)
            ),
        }
    }
}

/// Checks `text` against the identity rule: not empty, at most
/// [`MAX_IDENTITY_LEN`] bytes, no control, format or separator characters.
pub fn check_identity(text: &str) -> Result<(), IdentityProblem> {
    if text.is_empty() {
        Err(IdentityProblem::Empty)
    } else if text.len() > MAX_IDENTITY_LEN {
        Err(IdentityProblem::TooLong)
    } else if text.chars().any(char::is_control) {
        Err(IdentityProblem::Control)
    } else if let Some(c) = first_hidden_or_control(text) {
        Err(IdentityProblem::Hidden(c))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_long_and_control_are_refused_and_the_limit_is_inclusive() {
        assert_eq!(check_identity("a"), Ok(()));
        assert_eq!(check_identity(""), Err(IdentityProblem::Empty));
        let long = "a".repeat(MAX_IDENTITY_LEN + 1);
        assert_eq!(check_identity(&long), Err(IdentityProblem::TooLong));
        assert_eq!(check_identity(&long[1..]), Ok(()));
        assert_eq!(check_identity("a\nb"), Err(IdentityProblem::Control));
        assert_eq!(check_identity("a\u{7f}"), Err(IdentityProblem::Control));
        assert_eq!(check_identity("a\0"), Err(IdentityProblem::Control));
    }

    #[test]
    fn format_characters_and_separators_are_named() {
        for c in ['\u{2028}', '\u{2029}', '\u{202E}', '\u{200B}', '\u{FEFF}'] {
            let problem = check_identity(&format!("spiffe://td/ns/a{c}x")).unwrap_err();
            assert_eq!(problem, IdentityProblem::Hidden(c));
            let message = problem.to_string();
            assert!(message.contains("format characters"), "{message}");
            assert!(
                message.contains(&format!("U+{:04X}", u32::from(c))),
                "{message}"
            );
        }
        assert_eq!(check_identity("spiffe://td/ns/démo/sa/日本"), Ok(()));
    }

    #[test]
    fn messages_never_quote_the_identity() {
        for text in ["", "secret\n", "secret\u{202E}"] {
            let message = check_identity(text).unwrap_err().to_string();
            assert!(!message.contains("secret"), "{message}");
        }
    }
}
