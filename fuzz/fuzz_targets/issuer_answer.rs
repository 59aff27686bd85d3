//! The filter parsing issuer-svc's answer to `POST /v1/token`: any `:status`
//! and body give a token or a sanitized error; never a panic.
#![no_main]

use claude_wif_filter::issuer::{IssuerError, parse_response};
use libfuzzer_sys::fuzz_target;

const STATUSES: [&[u8]; 8] = [
    b"200", b"403", b"401", b"502", b"503", b"400", b"2\x0000", b"",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let status = match selector % 10 {
        8 => None,
        9 => Some(body.get(..body.len().min(8)).unwrap_or_default()),
        n => STATUSES.get(usize::from(n)).copied(),
    };
    match parse_response(status, body) {
        Ok(token) => assert!(token.expires_in_s > 0),
        Err(IssuerError::Denied { description } | IssuerError::Failed { description, .. }) => {
            // Descriptions go into replies and log lines: no control
            // characters (no log injection), bounded length.
            assert!(!description.chars().any(char::is_control));
            assert!(description.chars().count() <= 1024);
        }
        Err(IssuerError::NoAnswer) => {}
    }
});
