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
    // (column, shift, VNI, protocols): NVGRE's VSID is the key's upper 24 bits.
    for (i, shift, vni, protocols) in [
        (0, 0, 100, "vxlan:eth:ethertype:arp"),
        (0, 0, 100, "vxlan:eth:ethertype:ip:icmp"),
        (1, 0, 200, "geneve:eth:ethertype:ip:icmp"),
        (2, 8, 300, "gre:eth:ethertype:ip:icmp"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| column(l, i).map(|v| v >> shift) == Some(vni) && l.contains(protocols)),
            "{protocols}: {text}"
        );
    }
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

/// tshark's fields for each BGP message of a capture, one line per frame.
fn tshark_fields(bytes: &[u8], name: &str, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let dir = std::env::temp_dir().join(format!("vtep-sim-bgp-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bgp.pcap");
    std::fs::write(&path, bytes).unwrap();
    let mut cmd = Command::new("tshark");
    cmd.args(["-r", path.to_str().unwrap(), "-Y", filter, "-T", "fields"])
        .args(["-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

/// Wireshark 4.0 shows Label1 as a 20-bit MPLS label (`VNI >> 4`) when the encapsulation
/// community follows MP_REACH_NLRI (RFC 7606 order, ours and FRR's), or as the VNI when it
/// comes first (the design notes' section 6): either reads as VNI 100.
fn is_vni_100(mpls: &str, vni: &str) -> bool {
    let all = |s: &str, v: &str| s.split(',').filter(|x| !x.is_empty()).all(|x| x == v);
    all(mpls, "6") && all(vni, "100")
}

#[test]
fn bgp_evpn_in_the_capture_decodes_in_tshark() {
    let r = scenario::s8().run(1).unwrap();
    let rr = r.node("rr1").unwrap();
    let rr_link = r.sim.node_links(rr).unwrap()[0];
    let bytes = capture::pcap(&r.sim, &Capture::Link(rr_link));
    if !tshark_available() {
        return;
    }
    // Every message kind of the sessions, over TCP port 179.
    let types = tshark_fields(&bytes, "types", "bgp", &["bgp.type", "tcp.port"]);
    let kinds: std::collections::BTreeSet<&str> =
        types.iter().flat_map(|l| l[0].split(',')).collect();
    assert!(
        kinds.is_superset(&["1", "2", "4"].into()),
        "OPEN, UPDATE, KEEPALIVE: {kinds:?}"
    );
    assert!(types.iter().all(|l| l[1].split(',').any(|p| p == "179")));
    // The OPENs offer L2VPN EVPN (AFI 25, SAFI 70).
    let caps = tshark_fields(
        &bytes,
        "open",
        "bgp.type == 1",
        &["bgp.cap.mp.afi", "bgp.cap.mp.safi"],
    );
    assert!(!caps.is_empty());
    assert!(
        caps.iter().all(|l| l[0] == "25" && l[1] == "70"),
        "{caps:?}"
    );
    // Type-2 routes: every container's MAC, in VNI 100, behind its hypervisor; type-3 routes
    // with an ingress-replication PMSI tunnel.
    let rows = tshark_fields(
        &bytes,
        "updates",
        "bgp.evpn.nlri.rt",
        &[
            "bgp.evpn.nlri.rt",
            "bgp.evpn.nlri.mac_addr",
            "bgp.evpn.nlri.mpls_ls1",
            "bgp.evpn.nlri.vni",
            "bgp.ext_com.value_an4",
            "bgp.update.path_attribute.pmsi.tunnel.type",
            "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4",
        ],
    );
    // A frame may carry several UPDATEs: each column lists its values in order.
    let values = |l: &Vec<String>, i: usize| -> Vec<String> {
        l[i].split(',')
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut macs = std::collections::BTreeSet::new();
    let (mut type2, mut type3, mut pmsi) = (0, 0, 0);
    for l in &rows {
        assert!(
            values(l, 4).iter().all(|v| v == "100"),
            "route target *:100: {l:?}"
        );
        for rt in values(l, 0) {
            match rt.as_str() {
                "2" => type2 += 1,
                "3" => type3 += 1,
                other => panic!("route type {other}"),
            }
        }
        assert!(is_vni_100(&l[2], &l[3]), "{l:?}");
        macs.extend(values(l, 1));
        for t in values(l, 5) {
            assert_eq!(t, "6", "ingress replication: {l:?}");
            pmsi += 1;
        }
    }
    assert_eq!(
        type2,
        24 + 24 * 3,
        "3 a container (MAC, MAC and IPv4, MAC and IPv6), in and reflected to 3"
    );
    assert_eq!(type3, 4 + 4 * 3, "4 in, each reflected to the 3 others");
    assert_eq!(pmsi, type3, "every type-3 route has its PMSI tunnel");
    let hosts: std::collections::BTreeSet<String> = r
        .sim
        .hosts()
        .into_iter()
        .map(|h| {
            let mac = r.sim.host_addr(h).unwrap().0;
            mac.to_string().replace('-', ":")
        })
        .collect();
    assert_eq!(macs, hosts, "every container's MAC travelled");
}

#[test]
fn a_migration_shows_its_mac_mobility_sequence_in_tshark() {
    let r = scenario::e2().run(1).unwrap();
    let rr = r.node("rr1").unwrap();
    let bytes = capture::pcap(&r.sim, &Capture::Link(r.sim.node_links(rr).unwrap()[0]));
    if !tshark_available() {
        return;
    }
    let vm_b = r.sim.host_addr(r.node("vm-b").unwrap()).unwrap().0;
    let mac = vm_b.to_string().replace('-', ":");
    let rows = tshark_fields(
        &bytes,
        "mobility",
        &format!("bgp.evpn.nlri.mac_addr == {mac}"),
        &[
            "ip.src",
            "bgp.ext_com_evpn.mmac.seq",
            "bgp.ext_com_evpn.mmac.flags.sticky",
            "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4",
            "bgp.update.path_attribute.mp_unreach_nlri.safi",
        ],
    );
    let hv1 = r
        .sim
        .hypervisor_ip(r.node("hv1").unwrap())
        .unwrap()
        .to_string();
    let hv2 = r
        .sim
        .hypervisor_ip(r.node("hv2").unwrap())
        .unwrap()
        .to_string();
    // First announced by hv2 at sequence 0 (no MAC Mobility community), then by hv1 with
    // sequence 1, not sticky; then hv2's withdrawal. (A frame may hold several UPDATEs.)
    let has = |l: &Vec<String>, i: usize, v: &str| l[i].split(',').any(|x| x == v);
    assert!(
        rows.iter().any(|l| has(l, 3, &hv2) && l[1].is_empty()),
        "{rows:?}"
    );
    let moved = rows
        .iter()
        .position(|l| has(l, 3, &hv1) && has(l, 1, "1"))
        .unwrap();
    assert!(has(&rows[moved], 2, "0"), "not sticky");
    assert!(
        rows[moved..].iter().any(|l| l[0] == hv2 && has(l, 4, "70")),
        "hv2 withdraws (MP_UNREACH_NLRI, SAFI 70) after the move: {rows:?}"
    );
}

/// tshark's Neighbour Discovery fields of a capture, one row per NS or NA: type, NS target, NA
/// target, the R, S and O flags, the link-layer address option's type and address, the
/// checksum's status, the VNI (empty for frames outside a tunnel).
fn nd_rows(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    tshark_fields(
        bytes,
        name,
        "icmpv6.type == 135 || icmpv6.type == 136",
        &[
            "icmpv6.type",
            "icmpv6.nd.ns.target_address",
            "icmpv6.nd.na.target_address",
            "icmpv6.nd.na.flag.r",
            "icmpv6.nd.na.flag.s",
            "icmpv6.nd.na.flag.o",
            "icmpv6.opt.type",
            "icmpv6.opt.linkaddr",
            "icmpv6.checksum.status",
            "vxlan.vni",
        ],
    )
}

fn mac_text(mac: vtep_core::Mac) -> String {
    mac.to_string().replace('-', ":")
}

#[test]
fn neighbour_discovery_in_the_capture_decodes_in_tshark() {
    // S2, flood and learn: vm-a's solicitation for vm-b crosses the underlay in VXLAN, and
    // vm-b's advertisement comes back.
    let r = scenario::s2().run(1).unwrap();
    let bytes = capture::pcap(&r.sim, &Capture::Underlay);
    if !tshark_available() {
        return;
    }
    let (a, b) = (r.node("vm-a").unwrap(), r.node("vm-b").unwrap());
    let (mac_a, mac_b) = (r.sim.host_addr(a).unwrap().0, r.sim.host_addr(b).unwrap().0);
    let b6 = r.sim.host_ipv6(b).unwrap().to_string();
    let rows = nd_rows(&bytes, "s2");
    let ns = rows
        .iter()
        .find(|l| l[0] == "135" && l[1] == b6)
        .unwrap_or_else(|| panic!("no solicitation for {b6}: {rows:?}"));
    // Option 1: Source Link-Layer Address, vm-a's MAC; in VNI 100; checksum good.
    assert_eq!((&*ns[6], &*ns[7]), ("1", &*mac_text(mac_a)), "{ns:?}");
    assert_eq!((&*ns[8], &*ns[9]), ("1", "100"), "{ns:?}");
    let na = rows
        .iter()
        .find(|l| l[0] == "136" && l[2] == b6)
        .unwrap_or_else(|| panic!("no advertisement for {b6}: {rows:?}"));
    // Solicited, not a router; option 2: Target Link-Layer Address, vm-b's MAC.
    assert_eq!((&*na[3], &*na[4]), ("0", "1"), "{na:?}");
    assert_eq!((&*na[6], &*na[7]), ("2", &*mac_text(mac_b)), "{na:?}");
    assert_eq!((&*na[8], &*na[9]), ("1", "100"), "{na:?}");

    // S8, BGP EVPN: the VTEPs answer on their hosts' links; the answer speaks for the target
    // (Solicited and Override, its MAC in the option) and tshark finds its checksum good.
    let r = scenario::s8().run(1).unwrap();
    let host_links: Vec<vtep_sim::LinkId> = r
        .sim
        .links()
        .iter()
        .filter(|l| !l.underlay)
        .map(|l| l.id)
        .collect();
    let bytes = capture::pcap(&r.sim, &Capture::Links(host_links));
    let rows = nd_rows(&bytes, "s8");
    let macs: std::collections::BTreeMap<String, String> = r
        .sim
        .hosts()
        .into_iter()
        .map(|h| {
            let ip6 = r.sim.host_ipv6(h).unwrap().to_string();
            (ip6, mac_text(r.sim.host_addr(h).unwrap().0))
        })
        .collect();
    let answers: Vec<&Vec<String>> = rows
        .iter()
        .filter(|l| l[0] == "136" && l[4] == "1")
        .collect();
    assert_eq!(answers.len(), 16, "{rows:?}");
    for l in answers {
        assert_eq!((&*l[3], &*l[5], &*l[6]), ("0", "1", "2"), "{l:?}");
        assert_eq!(Some(&l[7]), macs.get(&l[2]), "the target's own MAC: {l:?}");
        assert_eq!(l[8], "1", "{l:?}");
    }
    let solicits = rows.iter().filter(|l| l[0] == "135").count();
    assert_eq!(solicits, 16, "each answered, none went further: {rows:?}");
}
