//! Regressions found by the cargo-fuzz targets in `fuzz/` (see RELIABILITY.md, "Fuzzing").

use std::path::Path;

use native_vtep::cli::RunArgs;
use native_vtep::config::load_str;

/// config_structured: an `ageing` above 2^64 / 10^6 seconds was accepted, and the daemon's
/// `Duration::from_secs(ageing)` overflowed (a panic with overflow checks, a wrapped ageing
/// time without).
#[test]
fn huge_ageing_is_an_error() {
    let text = |ageing: u64| {
        format!(
            "[underlay]\nlocal = \"10.0.0.1\"\nageing = {ageing}\n\n[[network]]\ntap = \"t\"\nvni = 1\n"
        )
    };
    let path = Path::new("lab.toml");
    let args = RunArgs::default();
    let err = load_str(&args, path, &text(i64::MAX as u64)).unwrap_err();
    assert!(err.0.contains("ageing"), "{err}");
    assert!(err.0.contains("out of range"), "{err}");
    let flags = RunArgs {
        ageing: Some(u64::MAX),
        ..RunArgs::default()
    };
    assert!(load_str(&flags, path, &text(300)).is_err());
    assert_eq!(
        load_str(&args, path, &text(u64::from(u32::MAX)))
            .unwrap()
            .ageing_secs,
        u64::from(u32::MAX)
    );
}
