//! issuer-svc's TOML configuration (`serve`, `check`, SIGHUP reload): any
//! text validates or yields errors that each name a field path.
#![no_main]

use issuer_svc::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = Config::from_toml(text) {
        assert!(!errors.0.is_empty());
        for error in &errors.0 {
            assert!(
                !error.path.is_empty(),
                "an error without a field path: {error:?}"
            );
        }
    }
});
