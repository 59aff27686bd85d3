//! serde glue for the JSON the filter reads with serde_json: the plugin
//! configuration, JWKs and issuer-svc's answer.
//!
//! serde's own type errors quote the value they refuse ("invalid type:
//! integer `123`, expected a string"), and these documents can carry
//! secrets (the internal API key, an access token). A [`Shape`] says only
//! what was expected and what kind of JSON value was found ("expected a
//! string, found a number"). Shapes read through `deserialize_any`, so an
//! object is never taken from an array (serde derive reads a struct from
//! either). Nesting is bounded by serde_json's recursion limit (128 levels);
//! serde_json skips ignored members without recursing.
//!
//! [`from_slice`] reads one document with `serde_path_to_error`, so every
//! error names its field path (`identity.keys[1].kid`), and shows member
//! names the way [`shown_name`] does (no control characters in log lines).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_path_to_error::Segment;

/// Longest member name shown unquoted in a field path or message.
const MAX_SHOWN_NAME: usize = 64;
/// 2^64, the first integer a `u64` cannot hold.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// A JSON shape read with `deserialize_any`. Each kind of JSON value has a
/// method; the defaults refuse it with [`Shape::refusal`].
pub trait Shape<'de>: Sized {
    /// What is expected, for messages: "a string", "an object", …
    const EXPECTED: &'static str;

    /// The message for a refused value of kind `found` ("a number", …).
    fn refusal(found: &str) -> String {
        format!("expected {}, found {found}", Self::EXPECTED)
    }

    fn from_str<E: de::Error>(_: &str) -> Result<Self, E> {
        Err(E::custom(Self::refusal("a string")))
    }

    fn from_u64<E: de::Error>(_: u64) -> Result<Self, E> {
        Err(E::custom(Self::refusal("a number")))
    }

    fn from_null<E: de::Error>() -> Result<Self, E> {
        Err(E::custom(Self::refusal("null")))
    }

    fn from_array<A: SeqAccess<'de>>(_: A) -> Result<Self, A::Error> {
        Err(de::Error::custom(Self::refusal("an array")))
    }

    fn from_object<A: MapAccess<'de>>(_: A) -> Result<Self, A::Error> {
        Err(de::Error::custom(Self::refusal("an object")))
    }
}

struct ShapeVisitor<T>(PhantomData<T>);

impl<'de, T: Shape<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Err(E::custom(T::refusal("a boolean")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        match u64::try_from(v) {
            Ok(v) => T::from_u64(v),
            Err(_) => Err(E::custom(T::refusal("a negative number"))),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::from_u64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // serde_json reads an integer above u64::MAX as a float.
        let found = if v.fract() == 0.0 && v >= TWO_POW_64 {
            "a number above 18446744073709551615"
        } else {
            "a number with a fraction or exponent"
        };
        Err(E::custom(T::refusal(found)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::from_str(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        T::from_null()
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        T::from_null()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::from_array(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_object(map)
    }
}

/// Reads a `T` by its shape: for `#[serde(deserialize_with = "de::shape")]`.
pub fn shape<'de, T: Shape<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(ShapeVisitor(PhantomData))
}

/// An optional member read by its shape: present is `Some`
/// (`#[serde(default, deserialize_with = "de::some")]`).
pub fn some<'de, T: Shape<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    shape(deserializer).map(Some)
}

/// Whether a member is present, whatever its value, even null
/// (`#[serde(default, deserialize_with = "de::present")]`).
pub fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The next value of a map, read by its shape (for a hand-written
/// `visit_map`).
pub fn next_value<'de, T: Shape<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<T, A::Error> {
    map.next_value_seed(ShapeSeed(PhantomData))
}

/// A [`Shape`] as a `DeserializeSeed`, for array elements and map values.
struct ShapeSeed<T>(PhantomData<T>);

impl<'de, T: Shape<'de>> DeserializeSeed<'de> for ShapeSeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        shape(deserializer)
    }
}

impl<'de> Shape<'de> for String {
    const EXPECTED: &'static str = "a string";

    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Ok(v.to_owned())
    }
}

/// A string or null (null is `None`).
impl<'de> Shape<'de> for Option<String> {
    const EXPECTED: &'static str = "a string or null";

    fn from_str<E: de::Error>(v: &str) -> Result<Self, E> {
        Ok(Some(v.to_owned()))
    }

    fn from_null<E: de::Error>() -> Result<Self, E> {
        Ok(None)
    }
}

impl<'de> Shape<'de> for u64 {
    const EXPECTED: &'static str = "a non-negative integer";

    fn from_u64<E: de::Error>(v: u64) -> Result<Self, E> {
        Ok(v)
    }
}

/// An array whose elements each have shape `T`.
impl<'de, T: Shape<'de>> Shape<'de> for Vec<T> {
    const EXPECTED: &'static str = "an array";

    fn from_array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ShapeSeed(PhantomData))? {
            items.push(item);
        }
        Ok(items)
    }
}

/// A JSON object read as `T` (a struct with `#[derive(Deserialize)]`); any
/// other JSON value is refused, arrays included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Shape<'de> for Object<T> {
    const EXPECTED: &'static str = "an object";

    fn from_object<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Object)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        shape(deserializer)
    }
}

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The field path (`identity.keys[1]`); `.` for the document itself,
    /// and for syntax errors (their message gives line and column).
    pub path: String,
    /// What is wrong; never a value from the document.
    pub message: String,
    /// Where a syntax error is (1-based line, column); `None` for others.
    pub position: Option<(usize, usize)>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Reads one JSON document, with nothing after it but whitespace, as an
/// object of type `T`.
pub fn from_slice<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let Object(value) = serde_path_to_error::deserialize(&mut deserializer).map_err(error)?;
    deserializer.end().map_err(|e| Error {
        path: ".".into(),
        message: e.to_string(),
        position: Some((e.line(), e.column())),
    })?;
    Ok(value)
}

fn error(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let mut path = shown_path(e.path());
    let last_key = match e.path().iter().next_back() {
        Some(Segment::Map { key }) => Some(key.clone()),
        _ => None,
    };
    let inner = e.into_inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return Error {
            path: ".".into(),
            message: inner.to_string(),
            position: Some((inner.line(), inner.column())),
        };
    }
    // A data error: the path says where; drop serde_json's position.
    let text = inner.to_string();
    let position = format!(" at line {} column {}", inner.line(), inner.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    let message = match unknown_field(message) {
        Some((name, expected)) => {
            // serde_path_to_error ends the path with the name as written.
            if last_key.as_deref() != Some(name) {
                push_member(&mut path, &shown_name(name));
            }
            format!("unknown field `{}`, expected {expected}", shown_name(name))
        }
        None => message.to_owned(),
    };
    Error {
        path: if path.is_empty() { ".".into() } else { path },
        message,
        position: None,
    }
}

/// `identity.keys[1].kid`, each member name shown by [`shown_name`].
fn shown_path(path: &serde_path_to_error::Path) -> String {
    let mut shown = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => shown.push_str(&format!("[{index}]")),
            Segment::Map { key } => push_member(&mut shown, &shown_name(key)),
            Segment::Enum { variant } => push_member(&mut shown, &shown_name(variant)),
            Segment::Unknown => push_member(&mut shown, "?"),
        }
    }
    shown
}

fn push_member(path: &mut String, name: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
}

/// serde's "unknown field `<name>`, expected <list>": the member name as
/// written (any text) and the list of known names (ours, so the last
/// "`, expected " ends the name).
fn unknown_field(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("unknown field `")?;
    if let Some(name) = rest.strip_suffix("`, there are no fields") {
        return Some((name, "no fields"));
    }
    let at = rest.rfind("`, expected ")?;
    Some((rest.get(..at)?, rest.get(at + "`, expected ".len()..)?))
}

/// A member name as shown in paths and messages: as is if short visible
/// ASCII, else quoted with escapes and cut short (no log injection).
pub fn shown_name(name: &str) -> String {
    let plain = |c: char| c.is_ascii_graphic() && c != '`' && c != '"';
    if name.len() <= MAX_SHOWN_NAME && !name.is_empty() && name.chars().all(plain) {
        return name.to_owned();
    }
    match name.char_indices().nth(MAX_SHOWN_NAME) {
        Some((end, _)) => format!("{:?}…", name.get(..end).unwrap_or_default()),
        None => format!("{name:?}"),
    }
}

#[cfg(test)]
mod tests;
