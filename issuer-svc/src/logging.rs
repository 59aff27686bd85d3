//! issuer-svc's log lines: tracing's text format, with every field value
//! (the message included) escaped on the way out. Values come from
//! outside: request bodies and headers, identities, serde's messages that
//! quote a client's field name, Claude's answers. A control character
//! (`\n`, ESC), a Unicode format character (U+202E) or a line separator
//! (U+2028) is written as an escape, so no value can start a forged line,
//! recolour a terminal or reorder what a reader sees. Escaping here, at the
//! one place that writes, covers every call site, present and future.

use std::fmt::{self, Write};
use std::io::IsTerminal;

use claude_wif_api::text::is_hidden_or_control;
use tracing::field::Field;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{self, Writer};
use tracing_subscriber::fmt::{FormatFields, MakeWriter};

/// Installs the global subscriber: stderr, `RUST_LOG` (default `info`).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .fmt_fields(fields())
        .init();
}

/// A subscriber like the one of [`init`] writing to `writer`, for tests.
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .fmt_fields(fields())
        .finish()
}

/// `message`, then `name=value` pairs separated by spaces, every value
/// escaped. `log.*` fields (records bridged from the `log` crate) are left
/// out, as tracing's default format does.
pub fn fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    format::debug_fn(
        |writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug| {
            let name = field.name();
            if name.starts_with("log.") {
                return Ok(());
            }
            if name != "message" {
                write!(writer, "{name}=")?;
            }
            write!(Escaping(writer), "{value:?}")
        },
    )
    .delimited(" ")
}

/// `text` with what [`is_hidden_or_control`] names escaped, for text from
/// outside that is printed other than through the log (CLI output).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let _ = Escaping(&mut out).write_str(text);
    out
}

/// Writes through to `W`, escaping what [`is_hidden_or_control`] names.
struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| is_hidden_or_control(c)) {
            self.0.write_str(rest.get(..at).unwrap_or(""))?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                other => write!(self.0, "\\u{{{:x}}}", u32::from(other))?,
            }
            rest = rest.get(at + c.len_utf8()..).unwrap_or("");
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests;
