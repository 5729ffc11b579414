//! Wireshark's tshark as an independent reader of what the core emits, for `tests/tshark.rs`
//! (tunnels, ND) and `tests/tshark_bgp.rs` (BGP EVPN).

use std::path::PathBuf;
use std::process::Command;

use vtep_core::Instant;
use vtep_core::pcap::PcapWriter;

const MISSING: &str = "tshark is missing: run `cargo xtask setup` (installs Debian's tshark)";

/// Whether to run: false (after saying why) when tshark is absent and not required; a panic
/// when it is absent and OVERLAY_LAB_REQUIRE_TOOLS is set.
pub fn present() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("OVERLAY_LAB_REQUIRE_TOOLS").is_some() {
            panic!("{MISSING}");
        }
        eprintln!("skipping: {MISSING}");
    }
    found
}

/// Write the frames to a pcap (one a second), run tshark with IP and UDP checksum validation
/// on, return one row of the requested fields per frame.
pub fn decode(name: &str, frames: &[Vec<u8>], fields: &[&str]) -> Vec<Vec<String>> {
    let mut pcap = PcapWriter::new();
    for (i, f) in frames.iter().enumerate() {
        pcap.write_frame(Instant::from_micros(1_000_000 * i as i64), f);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let path: PathBuf = std::env::temp_dir().join(format!(
        "overlay-lab-{name}-{}-{nanos}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, pcap.as_bytes()).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(&path);
    for pref in ["ip.check_checksum:TRUE", "udp.check_checksum:TRUE"] {
        cmd.args(["-o", pref]);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("running tshark");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
