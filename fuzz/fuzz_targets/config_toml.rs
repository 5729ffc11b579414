//! native-vtep's config file parser over arbitrary text (no flags).
#![no_main]

use libfuzzer_sys::fuzz_target;
use native_vtep::cli::RunArgs;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    overlay_lab_fuzz::check_config(&RunArgs::default(), text);
});
