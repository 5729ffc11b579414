//! Capture export: the underlay as a pcap file that Wireshark's tshark decodes.

use std::process::Command;

use vtep_core::pcap::PcapReader;
use vtep_sim::capture::{self, Capture};
use vtep_sim::scenario;

fn tshark_available() -> bool {
    match Command::new("tshark").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            if std::env::var_os("OVERLAY_LAB_REQUIRE_TOOLS").is_some() {
                panic!("tshark is required (OVERLAY_LAB_REQUIRE_TOOLS is set) but not runnable");
            }
            eprintln!("skipped: tshark is not installed (set OVERLAY_LAB_REQUIRE_TOOLS to fail)");
            false
        }
    }
}

#[test]
fn underlay_capture_decodes_in_tshark() {
    let r = scenario::s9().run(1).unwrap();
    let bytes = capture::pcap(&r.sim, &Capture::Underlay);
    let reader = PcapReader::new(&bytes).unwrap();
    assert_eq!(reader.link_type(), 1);
    let records = reader.count();
    assert!(records > 20, "{records}");
    // One link only: fewer frames, same format.
    let first = r.sim.links().into_iter().find(|l| l.underlay).unwrap().id;
    assert!(capture::pcap(&r.sim, &Capture::Link(first)).len() < bytes.len());
    if !tshark_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("vtep-sim-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("underlay.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new("tshark")
        .args([
            "-r",
            path.to_str().unwrap(),
            "-T",
            "fields",
            "-E",
            "separator=,",
        ])
        .args([
            "-e",
            "vxlan.vni",
            "-e",
            "geneve.vni",
            "-e",
            "gre.key",
            "-e",
            "frame.protocols",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), records);
    assert!(
        lines
            .iter()
            .any(|l| column(l, 0) == Some(100) && l.contains("vxlan:eth:ethertype:arp")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| column(l, 0) == Some(100) && l.contains("vxlan:eth:ethertype:ip:icmp")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| column(l, 1) == Some(200) && l.contains("geneve:eth:ethertype:ip:icmp")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains("gre:eth:ethertype:ip:icmp")
            && column(l, 2).map(|key| key >> 8) == Some(300)),
        "{text}"
    );
}

/// A numeric column (tshark prints some fields in hex); for NVGRE, `gre.key` is VSID << 8 |
/// FlowID.
fn column(line: &str, i: usize) -> Option<u32> {
    let v = line.split(',').nth(i)?;
    match v.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}
