//! The filter's plugin configuration (`on_configure`): any bytes parse to a
//! config or to errors that each name a field; never a panic.
#![no_main]

use claude_wif_filter::config::FilterConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(errors) = FilterConfig::parse(data) {
        assert!(
            !errors.0.is_empty(),
            "an error result must carry at least one error"
        );
        for error in &errors.0 {
            let _ = error.to_string();
        }
    }
});
