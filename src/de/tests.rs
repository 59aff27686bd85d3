use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    #[serde(default, deserialize_with = "some")]
    text: Option<String>,
    #[serde(default, deserialize_with = "some")]
    count: Option<u64>,
    #[serde(default, deserialize_with = "some")]
    nullable: Option<Option<String>>,
    #[serde(default, deserialize_with = "some")]
    list: Option<Vec<String>>,
    #[serde(default, deserialize_with = "some")]
    inner: Option<Object<Inner>>,
    #[serde(default, deserialize_with = "present")]
    flag: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    #[serde(default, deserialize_with = "some")]
    items: Option<Vec<Object<Leaf>>>,
}

/// A document written by others: unknown members are skipped.
#[derive(Debug, Deserialize)]
struct Leaf {
    #[serde(default, deserialize_with = "some")]
    name: Option<String>,
}

fn read(json: &str) -> Result<Doc, Error> {
    from_slice(json.as_bytes())
}

fn error(json: &str) -> (String, String) {
    let e = read(json).unwrap_err();
    (e.path, e.message)
}

#[test]
fn each_shape_reads_its_kind() {
    let doc = read(
        r#"{"text":"a\u00e9","count":18446744073709551615,"nullable":null,"list":["x","y"],
            "inner":{"items":[{"name":"n","other":[{"deep":[1,2]}]}]},"flag":null}"#,
    )
    .unwrap();
    assert_eq!(doc.text.as_deref(), Some("aé"));
    assert_eq!(doc.count, Some(u64::MAX));
    assert_eq!(doc.nullable, Some(None));
    assert_eq!(doc.list, Some(vec!["x".to_owned(), "y".to_owned()]));
    let items = doc.inner.unwrap().0.items.unwrap();
    assert_eq!(items[0].0.name.as_deref(), Some("n"));
    assert!(doc.flag, "present even when null");
    assert!(!read("{}").unwrap().flag);
}

#[test]
fn type_errors_say_what_was_expected_and_found_never_the_value() {
    for (json, path, message) in [
        (
            r#"{"text":12345}"#,
            "text",
            "expected a string, found a number",
        ),
        (
            r#"{"text":true}"#,
            "text",
            "expected a string, found a boolean",
        ),
        (r#"{"text":null}"#, "text", "expected a string, found null"),
        (
            r#"{"text":["v"]}"#,
            "text",
            "expected a string, found an array",
        ),
        (
            r#"{"text":{"v":1}}"#,
            "text",
            "expected a string, found an object",
        ),
        (
            r#"{"count":"12345"}"#,
            "count",
            "expected a non-negative integer, found a string",
        ),
        (
            r#"{"count":-12345}"#,
            "count",
            "expected a non-negative integer, found a negative number",
        ),
        (
            r#"{"count":1.5}"#,
            "count",
            "expected a non-negative integer, found a number with a fraction or exponent",
        ),
        (
            r#"{"count":5e3}"#,
            "count",
            "expected a non-negative integer, found a number with a fraction or exponent",
        ),
        (
            r#"{"count":18446744073709551616}"#,
            "count",
            "expected a non-negative integer, found a number above 18446744073709551615",
        ),
        (
            r#"{"nullable":12345}"#,
            "nullable",
            "expected a string or null, found a number",
        ),
        (
            r#"{"list":"12345"}"#,
            "list",
            "expected an array, found a string",
        ),
        (
            r#"{"list":["a",12345]}"#,
            "list[1]",
            "expected a string, found a number",
        ),
        (
            r#"{"inner":"12345"}"#,
            "inner",
            "expected an object, found a string",
        ),
        (
            r#"{"inner":{"items":[{},{"name":12345}]}}"#,
            "inner.items[1].name",
            "expected a string, found a number",
        ),
    ] {
        let (got_path, got_message) = error(json);
        assert_eq!(
            (got_path.as_str(), got_message.as_str()),
            (path, message),
            "{json}"
        );
        assert!(!got_message.contains("12345"), "{json}");
    }
}

#[test]
fn an_object_is_never_read_from_an_array() {
    // serde derive reads a struct from an array by position.
    assert_eq!(
        error(r#"["a", 1]"#),
        (".".into(), "expected an object, found an array".into())
    );
    assert_eq!(
        error(r#"{"inner":[[]]}"#),
        ("inner".into(), "expected an object, found an array".into())
    );
    assert_eq!(
        error("null"),
        (".".into(), "expected an object, found null".into())
    );
}

#[test]
fn duplicate_members_are_refused_in_every_object() {
    assert_eq!(
        error(r#"{"text":"a","text":"b"}"#),
        (".".into(), "duplicate field `text`".into())
    );
    assert_eq!(
        error(r#"{"inner":{"items":[{"name":"a","name":"b"}]}}"#),
        ("inner.items[0]".into(), "duplicate field `name`".into())
    );
    assert_eq!(
        error(r#"{"flag":1,"flag":2}"#),
        (".".into(), "duplicate field `flag`".into())
    );
}

#[test]
fn unknown_fields_are_named_in_the_path_shown_safely() {
    assert_eq!(
        error(r#"{"txet":1}"#),
        (
            "txet".into(),
            "unknown field `txet`, expected one of `text`, `count`, `nullable`, `list`, `inner`, `flag`".into()
        )
    );
    assert_eq!(
        error(r#"{"inner":{"x":1}}"#),
        (
            "inner.x".into(),
            "unknown field `x`, expected `items`".into()
        )
    );
    // A name with a line break, or with serde's own separator in it.
    let (path, message) = error(r#"{"a\nb`, expected x":1}"#);
    assert_eq!(path, r#""a\nb`, expected x""#);
    assert!(
        message.starts_with(r#"unknown field `"a\nb`, expected x"`, expected one of `text`"#),
        "{message}"
    );
    let long = "x".repeat(100);
    let (path, message) = error(&format!(r#"{{"{long}":1}}"#));
    let shown = format!("\"{}\"…", "x".repeat(64));
    assert_eq!(path, shown);
    assert!(message.starts_with(&format!("unknown field `{shown}`")));
    assert!(!path.contains('\n') && !message.contains('\n'));
}

#[test]
fn syntax_errors_give_the_position_and_no_input() {
    for (json, message) in [
        ("{\n\"text\": x}", "expected value at line 2 column 9"),
        (r#"{"count":01}"#, "invalid number at line 1 column 11"),
        (
            r#"{"text":"a"} x"#,
            "trailing characters at line 1 column 14",
        ),
        (
            r#"{"text":"secret\q"}"#,
            "invalid escape at line 1 column 17",
        ),
        ("", "EOF while parsing a value at line 1 column 0"),
    ] {
        let e = read(json).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            (".", message),
            "{json}"
        );
        assert!(e.position.is_some());
    }
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    // Read values have a type: anything nested deeper is refused at once.
    let deep = format!(r#"{{"inner":{{"items":{}}}}}"#, "[".repeat(100_000));
    assert_eq!(
        error(&deep),
        (
            "inner.items[0]".into(),
            "expected an object, found an array".into()
        )
    );
    // Skipped values are skipped by serde_json without recursion: no stack
    // to overflow, whatever the depth.
    let skipped = |depth: usize| {
        format!(
            r#"{{"inner":{{"items":[{{"other":{}{}}}]}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    assert!(read(&skipped(100_000)).is_ok());
    assert_eq!(error(&skipped(100_000).replacen(']', "", 1)).0, ".");
}
