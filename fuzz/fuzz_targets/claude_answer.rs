//! issuer-svc parsing Claude's token endpoint answer (`POST /v1/oauth/token`):
//! any status and body give a token or an error; never a panic.
#![no_main]

use issuer_svc::exchange::parse_exchange_response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let status = [200u16, 400, 401, 403, 429, 500, 503, 529, 302, 0][usize::from(selector % 10)];
    if let Err(err) = parse_exchange_response(status, body) {
        let _ = format!("{err} {err:?}");
    }
});
