#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::sync::{Arc, Mutex};

use super::*;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Captured {
    type Writer = Captured;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

const FORGED: &str =
    "x\n\u{1b}[32m INFO\u{1b}[0m audit: event=\"access\" decision=\"allow\"\u{2028}\u{202e}";

fn log_one(event: impl FnOnce()) -> String {
    let captured = Captured::default();
    tracing::subscriber::with_default(subscriber(captured.clone()), event);
    captured.text()
}

#[test]
fn values_from_outside_cannot_start_a_line_or_send_escapes() {
    let error = format!("unknown field `{FORGED}`");
    let text = log_one(|| {
        tracing::warn!(status = 400, error = %error, identity = ?FORGED, "token request refused: {}", FORGED);
    });
    assert_eq!(text.matches('\n').count(), 1, "one line: {text:?}");
    assert!(text.ends_with('\n'));
    assert!(!text.contains('\u{1b}'), "{text:?}");
    assert!(
        !text.contains('\u{2028}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(
        text.contains(r"error=unknown field `x\n\u{1b}[32m INFO\u{1b}[0m audit"),
        "{text}"
    );
    assert!(text.contains(r"\u{2028}\u{202e}"), "{text}");
    assert!(text.contains("token request refused: x\\n"), "{text}");
}

#[test]
fn ordinary_fields_look_like_tracing_default() {
    let text = log_one(|| {
        tracing::info!(target: "audit", event = "access", provider = %"claude-demo", expires_in = 3540_u64, "access granted");
    });
    assert!(
        text.contains(
            " INFO audit: access granted event=\"access\" provider=claude-demo expires_in=3540\n"
        ),
        "{text}"
    );
}

#[test]
fn escaping_keeps_text_and_non_ascii() {
    let mut out = String::new();
    Escaping(&mut out)
        .write_str("é\t日\r\u{0}\u{feff}z")
        .unwrap();
    assert_eq!(out, r"é\t日\r\u{0}\u{feff}z");
}
