//! A small, strict JSON (RFC 8259) parser and writer, in place of serde_json
//! (the `.wasm` size budget: BENCHMARKS.md).
//!
//! The parser refuses anything RFC 8259 does not allow (leading zeros,
//! unescaped control characters, lone surrogates, trailing data, a byte
//! order mark) and, in addition, duplicate object keys and nesting deeper
//! than [`MAX_DEPTH`]. Numbers are kept as their text. Error messages give
//! a byte offset and never quote the input, except a duplicate key's name.

use std::collections::HashSet;
use std::fmt;

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 32;
/// Longest key name quoted in an error message, in chars.
const MAX_QUOTED_CHARS: usize = 64;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its JSON text (the grammar is checked when parsing).
    Number(String),
    /// A string, escapes decoded.
    String(String),
    /// An array, in document order.
    Array(Vec<Value>),
    /// Members in document order; keys are unique.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is an integer from 0 to `u64::MAX` written
    /// without sign, fraction or exponent.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Number(text) if text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Self::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The member `key`, if this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|members| get(members, key))
    }

    /// This value as JSON text (object members in document order).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::Number(text) => out.push_str(text),
            Self::String(s) => write_string(out, s),
            Self::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, key);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }

    /// What this value is, for messages ("a string", "an object", …); never
    /// its content. Numbers that [`Value::as_u64`] refuses say why.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(text) if text.starts_with('-') => "a negative number",
            Self::Number(text) if text.contains(['.', 'e', 'E']) => {
                "a number with a fraction or exponent"
            }
            Self::Number(_) if self.as_u64().is_none() => "a number above 18446744073709551615",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

/// The value of member `key` of an object's members.
pub fn get<'a>(members: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Why a document is not acceptable JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    offset: usize,
    line: usize,
    column: usize,
    message: String,
}

impl Error {
    fn new(input: &[u8], offset: usize, message: impl Into<String>) -> Self {
        let before = input.get(..offset).unwrap_or(input);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Self {
            offset,
            line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
            column: 1 + offset.saturating_sub(line_start),
            message: message.into(),
        }
    }

    /// Byte offset of the error in the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// 1-based line of the error.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column of the error, in bytes.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {} (byte {})",
            self.message, self.line, self.column, self.offset
        )
    }
}

/// Parses one JSON document (UTF-8, optional surrounding whitespace).
pub fn parse(input: &[u8]) -> Result<Value, Error> {
    let text = std::str::from_utf8(input)
        .map_err(|e| Error::new(input, e.valid_up_to(), "invalid UTF-8"))?;
    let mut parser = Parser {
        text,
        bytes: input,
        pos: 0,
    };
    parser.skip_whitespace();
    let value = parser.value(1)?;
    parser.skip_whitespace();
    if parser.pos < input.len() {
        return Err(parser.error("trailing characters after the JSON value"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::new(self.bytes, self.pos, message)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A value at nesting `depth` (the top level is 1).
    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        match self.peek() {
            None => Err(self.error("unexpected end of input, expected a value")),
            Some(b'{' | b'[') if depth > MAX_DEPTH => Err(self.error(format!(
                "arrays and objects nested deeper than {MAX_DEPTH} levels"
            ))),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, Error> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        if rest.starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// Consumes ASCII digits; whether there was at least one.
    fn digits(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.error("leading zeros are not allowed"));
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("expected a digit")),
        }
        if self.eat(b'.') && !self.digits() {
            return Err(self.error("expected a digit after the decimal point"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.digits() {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let text = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.error("expected a number"))?;
        Ok(Value::Number(text.to_owned()))
    }

    /// A string; `pos` is at its opening quote.
    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // The run stops at an ASCII byte (or the end): a char boundary.
            let run = self
                .text
                .get(start..self.pos)
                .ok_or_else(|| self.error("invalid UTF-8"))?;
            out.push_str(run);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(_) => {
                    return Err(self.error("control character in a string (must be escaped)"));
                }
            }
        }
    }

    /// One escape sequence; `pos` is at its backslash.
    fn escape(&mut self) -> Result<char, Error> {
        let at = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape(at);
            }
            None => return Err(self.error("unterminated string")),
            Some(_) => {
                self.pos = at;
                return Err(self.error("invalid escape sequence"));
            }
        };
        self.pos += 1;
        Ok(c)
    }

    /// The code point of `\uXXXX` (with its low surrogate pair if any);
    /// `pos` is after the `u`, `at` is at the backslash.
    fn unicode_escape(&mut self, at: usize) -> Result<char, Error> {
        let lone = |p: &mut Self| -> Result<char, Error> {
            p.pos = at;
            Err(p.error("lone surrogate in \\u escape"))
        };
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !(self.eat(b'\\') && self.eat(b'u')) {
                    return lone(self);
                }
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return lone(self);
                }
                0x1_0000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return lone(self),
            _ => first,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => lone(self),
        }
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.error("expected 4 hex digits in \\u escape"))?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }

    /// An array; `pos` is at its `[`.
    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                None => return Err(self.error("unexpected end of input, expected `,` or `]`")),
                Some(_) => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    /// An object; `pos` is at its `{`.
    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        self.pos += 1;
        let mut members = Vec::new();
        let mut key_offsets = Vec::new();
        self.skip_whitespace();
        if self.eat(b'}') {
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error("unexpected end of input, expected a string key")),
                Some(_) => return Err(self.error("expected a string key")),
            }
            key_offsets.push(self.pos);
            let key = self.string()?;
            self.skip_whitespace();
            if !self.eat(b':') {
                return Err(self.error("expected `:` after an object key"));
            }
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.error("unexpected end of input, expected `,` or `}`")),
                Some(_) => return Err(self.error("expected `,` or `}`")),
            }
        }
        if let Some(index) = first_duplicate(&members) {
            let offset = key_offsets.get(index).copied().unwrap_or(self.pos);
            let key = members.get(index).map_or("", |(k, _)| k.as_str());
            return Err(Error::new(
                self.bytes,
                offset,
                format!("duplicate key {}", quote(key)),
            ));
        }
        Ok(Value::Object(members))
    }
}

/// Index of the first member whose key an earlier member already has.
/// A hash set keeps this linear for objects with many members.
fn first_duplicate(members: &[(String, Value)]) -> Option<usize> {
    let mut seen = HashSet::with_capacity(members.len());
    members
        .iter()
        .position(|(key, _)| !seen.insert(key.as_str()))
}

/// `text` quoted and escaped for a message (no log injection), cut to a
/// bounded length.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((end, _)) => format!("{:?}…", text.get(..end).unwrap_or_default()),
        None => format!("{text:?}"),
    }
}

/// Appends `text` as a JSON string (with its quotes). Escapes `"`, `\` and
/// control characters below U+0020, as serde_json does; nothing else.
pub fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut rest = text;
    while let Some(at) = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        // `at` is an ASCII byte, so both splits are on char boundaries.
        out.push_str(rest.get(..at).unwrap_or_default());
        let byte = rest.as_bytes().get(at).copied().unwrap_or_default();
        rest = rest.get(at + 1..).unwrap_or_default();
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                out.push_str("\\u00");
                for nibble in [byte >> 4, byte & 0xf] {
                    out.push(HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h)));
                }
            }
        }
    }
    out.push_str(rest);
    out.push('"');
}

/// Writes one JSON object, member by member, in the order given.
#[derive(Debug, Clone)]
pub struct ObjectWriter {
    out: String,
}

impl Default for ObjectWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectWriter {
    /// An empty object.
    pub fn new() -> Self {
        Self {
            out: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        write_string(&mut self.out, key);
        self.out.push(':');
    }

    /// Adds a string member.
    pub fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_string(&mut self.out, value);
        self
    }

    /// Adds a number member.
    pub fn number(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.out.push_str(&value.to_string());
        self
    }

    /// Adds an object member.
    pub fn object(mut self, key: &str, value: ObjectWriter) -> Self {
        self.key(key);
        self.out.push_str(&value.finish());
        self
    }

    /// The object's JSON text.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Value {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> Error {
        match parse(text.as_bytes()) {
            Ok(value) => panic!("{text:?} parsed as {value:?}"),
            Err(e) => e,
        }
    }

    fn string(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    fn number(s: &str) -> Value {
        Value::Number(s.to_owned())
    }

    #[test]
    fn scalars() {
        assert_eq!(ok("null"), Value::Null);
        assert_eq!(ok("true"), Value::Bool(true));
        assert_eq!(ok(" false\n"), Value::Bool(false));
        assert_eq!(ok("\"a\""), string("a"));
        assert_eq!(ok("0"), number("0"));
        assert_eq!(ok("-0"), number("-0"));
        assert_eq!(ok("-12.50e+3"), number("-12.50e+3"));
        assert_eq!(ok("1E-2"), number("1E-2"));
        assert_eq!(ok("\t\r\n 7 \t\r\n"), number("7"));
    }

    #[test]
    fn arrays_and_objects_keep_their_order() {
        assert_eq!(ok("[]"), Value::Array(vec![]));
        assert_eq!(ok("{}"), Value::Object(vec![]));
        assert_eq!(
            ok(r#" [ 1 , "x" , [ ] , { } ] "#),
            Value::Array(vec![
                number("1"),
                string("x"),
                Value::Array(vec![]),
                Value::Object(vec![])
            ])
        );
        let value = ok(r#"{"b": 1, "a": {"c": null}}"#);
        assert_eq!(
            value,
            Value::Object(vec![
                ("b".into(), number("1")),
                ("a".into(), Value::Object(vec![("c".into(), Value::Null)])),
            ])
        );
        assert_eq!(value.get("b").and_then(Value::as_u64), Some(1));
        assert_eq!(value.get("a").and_then(|a| a.get("c")), Some(&Value::Null));
        assert_eq!(value.get("z"), None);
        assert_eq!(string("x").get("x"), None);
    }

    #[test]
    fn accessors() {
        assert_eq!(string("s").as_str(), Some("s"));
        assert_eq!(number("1").as_str(), None);
        assert_eq!(ok("[1]").as_array().map(<[Value]>::len), Some(1));
        assert_eq!(ok("{}").as_array(), None);
        assert_eq!(ok(r#"{"a":1}"#).as_object().map(<[_]>::len), Some(1));
        assert_eq!(ok("[]").as_object(), None);
        assert_eq!(Value::Null.as_u64(), None);
    }

    #[test]
    fn kinds_name_the_type_never_the_content() {
        assert_eq!(Value::Null.kind(), "null");
        assert_eq!(ok("true").kind(), "a boolean");
        assert_eq!(ok("\"secret\"").kind(), "a string");
        assert_eq!(ok("[]").kind(), "an array");
        assert_eq!(ok("{}").kind(), "an object");
        assert_eq!(ok("5").kind(), "a number");
        assert_eq!(ok("-5").kind(), "a negative number");
        assert_eq!(ok("5.0").kind(), "a number with a fraction or exponent");
        assert_eq!(ok("5e0").kind(), "a number with a fraction or exponent");
        assert_eq!(
            ok("18446744073709551616").kind(),
            "a number above 18446744073709551615"
        );
    }

    #[test]
    fn as_u64_takes_only_plain_integers_in_range() {
        assert_eq!(ok("0").as_u64(), Some(0));
        assert_eq!(ok("18446744073709551615").as_u64(), Some(u64::MAX));
        for refused in [
            "18446744073709551616",
            "99999999999999999999999",
            "-1",
            "-0",
            "1.0",
            "1e3",
            "1E3",
            "0.5",
        ] {
            assert_eq!(ok(refused).as_u64(), None, "{refused}");
        }
    }

    #[test]
    fn bad_numbers_are_refused() {
        for (text, message) in [
            ("01", "leading zeros are not allowed"),
            ("-01", "leading zeros are not allowed"),
            ("00", "leading zeros are not allowed"),
            ("-", "expected a digit"),
            ("-a", "expected a digit"),
            ("1.", "expected a digit after the decimal point"),
            ("1.e3", "expected a digit after the decimal point"),
            ("1e", "expected a digit in the exponent"),
            ("1e+", "expected a digit in the exponent"),
        ] {
            assert_eq!(err(text).message(), message, "{text}");
        }
        for text in ["+1", ".5", "NaN", "Infinity", "0x10", "1_000"] {
            err(text);
        }
    }

    #[test]
    fn string_escapes() {
        assert_eq!(ok(r#""\"\\\/\b\f\n\r\t""#), string("\"\\/\u{8}\u{c}\n\r\t"));
        assert_eq!(ok(r#""\u0041\u00e9\u20AC""#), string("Aé€"));
        assert_eq!(ok(r#""\u0000""#), string("\0"));
        assert_eq!(ok(r#""a\u0022b""#), string("a\"b"));
        assert_eq!(ok("\"é€😀\""), string("é€😀"));
    }

    #[test]
    fn surrogate_pairs_combine_and_lone_surrogates_are_refused() {
        assert_eq!(ok(r#""\ud83d\ude00""#), string("😀"));
        assert_eq!(ok(r#""\uD800\uDC00""#), string("\u{10000}"));
        assert_eq!(ok(r#""\uDBFF\uDFFF""#), string("\u{10FFFF}"));
        for text in [
            r#""\ud83d""#,
            r#""\ud83dx""#,
            r#""\ud83d\n""#,
            r#""\ud83d\u0041""#,
            r#""\ud83d\ud83d""#,
            r#""\ude00""#,
            r#""\ude00\ud83d""#,
        ] {
            let e = err(text);
            assert_eq!(e.message(), "lone surrogate in \\u escape", "{text}");
            assert_eq!(e.offset(), 1, "{text}");
        }
    }

    #[test]
    fn bad_escapes_are_refused() {
        let e = err(r#""ab\x""#);
        assert_eq!((e.message(), e.offset()), ("invalid escape sequence", 3));
        for text in [r#""\u12""#, r#""\u12g4""#, r#""\u""#, r#""\U0041""#, "\"\\"] {
            err(text);
        }
        assert_eq!(
            err(r#""\u12x4""#).message(),
            "expected 4 hex digits in \\u escape"
        );
    }

    #[test]
    fn control_characters_in_strings_are_refused() {
        for c in ['\0', '\n', '\t', '\u{1f}'] {
            let text = format!("\"a{c}b\"");
            let e = err(&text);
            assert_eq!(
                (e.message(), e.offset()),
                ("control character in a string (must be escaped)", 2)
            );
        }
        // DEL and non-ASCII are not control characters for JSON.
        assert_eq!(ok("\"\u{7f}\u{85}\""), string("\u{7f}\u{85}"));
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let e = parse(b"\"ab\xff\"").unwrap_err();
        assert_eq!((e.message(), e.offset()), ("invalid UTF-8", 3));
        parse(b"\"\xed\xa0\x80\"").unwrap_err(); // an encoded surrogate
        parse(b"\xef\xbb\xbf{}").unwrap_err(); // a byte order mark
    }

    #[test]
    fn trailing_data_is_refused() {
        for text in ["{} x", "1 2", "[]]", "{}}", "null,", "\"a\"\"b\"", "truex"] {
            let e = err(text);
            assert_eq!(
                e.message(),
                "trailing characters after the JSON value",
                "{text}"
            );
        }
        assert_eq!(err("{} x").offset(), 3);
    }

    #[test]
    fn empty_and_truncated_documents_are_refused() {
        for text in [
            "",
            "  ",
            "[",
            "[1",
            "[1,",
            "{",
            r#"{"a""#,
            r#"{"a":"#,
            r#"{"a":1"#,
            r#"{"a":1,"#,
            "\"abc",
            "tru",
            "nul",
        ] {
            err(text);
        }
        assert_eq!(
            err("").message(),
            "unexpected end of input, expected a value"
        );
        assert_eq!(err("\"abc").message(), "unterminated string");
    }

    #[test]
    fn structural_errors() {
        for (text, message) in [
            ("[1,]", "expected a value"),
            ("[,1]", "expected a value"),
            ("[1 2]", "expected `,` or `]`"),
            (r#"{"a":1,}"#, "expected a string key"),
            (r#"{a:1}"#, "expected a string key"),
            (r#"{1:1}"#, "expected a string key"),
            (r#"{"a" 1}"#, "expected `:` after an object key"),
            (r#"{"a":1 "b":2}"#, "expected `,` or `}`"),
            ("'a'", "expected a value"),
            ("[True]", "expected a value"),
        ] {
            assert_eq!(err(text).message(), message, "{text}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_the_second_one() {
        let e = err(r#"{"a":1,"b":2,"a":3}"#);
        assert_eq!(e.message(), r#"duplicate key "a""#);
        assert_eq!(e.offset(), 13);
        // Nested objects are checked too; equal keys in sibling objects are fine.
        err(r#"{"x":{"k":1,"k":1}}"#);
        ok(r#"[{"k":1},{"k":1}]"#);
        // Escapes are compared after decoding.
        err(r#"{"a":1,"\u0061":2}"#);
        // The first duplicate in document order is reported, even in a big object.
        let mut members: Vec<String> = (0..500).map(|i| format!("\"k{i}\":{i}")).collect();
        members.push("\"k7\":0".into());
        members.push("\"k1\":0".into());
        let e = err(&format!("{{{}}}", members.join(",")));
        assert_eq!(e.message(), r#"duplicate key "k7""#);
    }

    #[test]
    fn duplicate_key_names_are_escaped_and_capped_in_messages() {
        let long = "x".repeat(100);
        let e = err(&format!(r#"{{"{long}":1,"{long}":2}}"#));
        assert_eq!(
            e.message(),
            format!("duplicate key \"{}\"…", "x".repeat(64))
        );
        let e = err(r#"{"a\nb":1,"a\nb":2}"#);
        assert_eq!(e.message(), r#"duplicate key "a\nb""#);
    }

    #[test]
    fn nesting_depth_is_limited() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        ok(&nested(MAX_DEPTH));
        let e = err(&nested(MAX_DEPTH + 1));
        assert_eq!(
            e.message(),
            "arrays and objects nested deeper than 32 levels"
        );
        assert_eq!(e.offset(), MAX_DEPTH);
        let objects = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        ok(&objects(MAX_DEPTH));
        err(&objects(MAX_DEPTH + 1));
        // Deep input far past the limit fails without exhausting the stack.
        err(&nested(100_000));
    }

    #[test]
    fn errors_give_line_and_column() {
        let e = err("{\n  \"a\": 1,\n  \"b\": x\n}");
        assert_eq!((e.line(), e.column(), e.offset()), (3, 8, 19));
        assert_eq!(
            e.to_string(),
            "expected a value at line 3 column 8 (byte 19)"
        );
    }

    #[test]
    fn error_messages_do_not_quote_values() {
        for text in [
            r#"{"k":"sk-ant-secret"x}"#,
            r#"{"k":"sk-ant-secret\q"}"#,
            r#"["sk-ant-secret"#,
            r#"sk-ant-secret"#,
        ] {
            assert!(!err(text).to_string().contains("secret"), "{text}");
        }
    }

    #[test]
    fn write_string_escapes_like_serde_json() {
        let mut out = String::new();
        write_string(&mut out, "a\"b\\c/d\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}é😀");
        assert_eq!(
            out,
            r#""a\"b\\c/d\n\r\t\b\f\u0000\u001f"#.to_owned() + "\u{7f}é😀\""
        );
    }

    #[test]
    fn written_strings_parse_back() {
        let all: String = (0u32..0x300).filter_map(char::from_u32).collect();
        for text in ["", "plain", "\u{10FFFF}\u{FFFF}\u{D7FF}", all.as_str()] {
            let mut out = String::new();
            write_string(&mut out, text);
            assert_eq!(ok(&out), string(text));
        }
    }

    #[test]
    fn object_writer() {
        assert_eq!(ObjectWriter::new().finish(), "{}");
        assert_eq!(ObjectWriter::default().finish(), "{}");
        let text = ObjectWriter::new()
            .string("type", "error")
            .number("n", u64::MAX)
            .object("inner", ObjectWriter::new().string("k\"", "v\n"))
            .object("empty", ObjectWriter::new())
            .finish();
        assert_eq!(
            text,
            r#"{"type":"error","n":18446744073709551615,"inner":{"k\"":"v\n"},"empty":{}}"#
        );
        assert_eq!(ok(&text).get("n").and_then(Value::as_u64), Some(u64::MAX));
    }
}
