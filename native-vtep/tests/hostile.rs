//! The hostile-input catalogue (issue #7) end to end: packets crafted by scapy
//! (`tests/scapy/hostile.py`) against running native-vteps in network namespaces, one test per
//! catalogue entry (named as in `vtep-core`'s `tests/hostile.rs`), and two tenants with the same
//! IPs and MACs on the same two VTEPs.
//!
//! Run as root: `cargo test -p native-vtep --test hostile -- --test-threads=1` (`cargo xtask test
//! --only hostile` puts setup's scapy venv first on `PATH`; by hand, put
//! `target/tools/venv/bin` there). Without root, the tools or scapy each test is skipped with a
//! message, unless `OVERLAY_LAB_REQUIRE_TOOLS` is set, which makes that a failure.
//!
//! Malformed IPv6 Neighbour Discovery and an unsolicited advertisement against a static IPv6
//! neighbour are entries too (`malformed_neighbour_discovery`,
//! `unsolicited_advertisement_against_a_static_neighbour`).
//!
//! Topology (`common/fabric.rs`): hosts on one underlay bridge. Host 1 (10.0.0.1) is the victim,
//! host 2 (10.0.0.2) its legitimate peer, both running native-vtep for VNI 42 with their TAPs
//! `vt42` at 192.168.42.1 and .2; host 3, where there is one, only attacks. For each attack the
//! test checks that the daemon is still alive; that exactly the expected drop counters of
//! `stats --json` moved, by exactly the expected amounts; that nothing marked hostile reached
//! the TAP on the far side (a tcpdump capture); and that legitimate traffic still flows both
//! ways afterwards.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::fabric::{Fabric, TCP_CLIENT, TCP_SERVER, fabric, parse_ping};
use common::{counter, network, wait_for};
use serde_json::Value;
use vtep_core::wire::{ETHERNET_HEADER_LEN, Ipv4Packet, UdpPacket};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scapy/hostile.py");
/// In every inner frame the script crafts.
const MARKER: &[u8] = b"overlay-lab-hostile";
const VICTIM_MAC: &str = "02:00:00:00:42:01";
const PEER_MAC: &str = "02:00:00:00:42:02";

/// Root, the tools and scapy, or a skip (a failure under `OVERLAY_LAB_REQUIRE_TOOLS`) that says
/// how to get them.
fn ready(test: &str) -> bool {
    let mut missing = Vec::new();
    if !common::is_root() {
        missing.push("root (network namespaces, TAP devices, raw sockets)".to_string());
    }
    for tool in ["ip", "ping", "tcpdump", "python3"] {
        if !common::sh(&format!("command -v {tool}")).status.success() {
            missing.push(format!("`{tool}`"));
        }
    }
    let scapy = common::sh("python3 -c 'import scapy; print(scapy.VERSION)'");
    if !scapy.status.success() {
        missing.push("scapy for `python3` (setup installs it in target/tools/venv)".into());
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: needs {}; run `cargo xtask setup` and run the suite with `cargo xtask test \
         --only hostile` (which puts target/tools/venv/bin first on PATH), as root",
        missing.join(", ")
    );
    if std::env::var_os("OVERLAY_LAB_REQUIRE_TOOLS").is_some() {
        panic!("{msg} (OVERLAY_LAB_REQUIRE_TOOLS is set, so this is a failure)");
    }
    eprintln!("SKIPPED {msg}");
    false
}

/// Every drop counter in a `stats --json` report: (VNI or none, reason) -> count.
fn all_drops(s: &Value) -> BTreeMap<(Option<u64>, String), u64> {
    let mut all = BTreeMap::new();
    for (reason, n) in s["global_drops"].as_object().unwrap() {
        all.insert((None, reason.clone()), n.as_u64().unwrap());
    }
    for net in s["networks"].as_array().unwrap() {
        let vni = net["vni"].as_u64();
        for (reason, n) in net["drops"].as_object().unwrap() {
            all.insert((vni, reason.clone()), n.as_u64().unwrap());
        }
    }
    all
}

/// The drop counters that moved between two reports, and by how much.
fn moved(before: &Value, after: &Value) -> BTreeMap<(Option<u64>, String), u64> {
    let b = all_drops(before);
    all_drops(after)
        .into_iter()
        .filter_map(|(k, n)| {
            let was = b.get(&k).copied().unwrap_or(0);
            (n != was).then(|| (k, n - was))
        })
        .collect()
}

/// A tcpdump on an interface, for frames that should (not) have got there.
struct Capture {
    name: String,
    pcap: PathBuf,
}

/// The victim (host 1) and its peer (host 2), and any attacker hosts.
struct Bench {
    f: Fabric,
    victim: PathBuf,
    victim_name: String,
}

/// Hosts 1 and 2 with native-vteps (`victim` and `peer` flags added), `hosts` in all.
fn bench(test: &str, hosts: usize, victim: &[&str], peer: &[&str]) -> Option<Bench> {
    if !ready(test) {
        return None;
    }
    let mut f = fabric(test, hosts, &[])?;
    start(&mut f, 1, "vtep2", peer);
    let victim_control = start(&mut f, 0, "vtep1", victim);
    let b = Bench {
        f,
        victim: victim_control,
        victim_name: "vtep1".into(),
    };
    b.f.ping_ok(0, "192.168.42.2", 2);
    Some(b)
}

/// [`bench`] of two hosts whose victim has the proxy on and `ip` as a static neighbour at the
/// peer's MAC.
fn proxy_bench(test: &str, ip: &str) -> Option<Bench> {
    let static_neigh = format!("{ip}={PEER_MAC}");
    bench(test, 2, &["--proxy", "--neigh", &static_neigh], &[])
}

/// native-vtep `name` on host `i` (0 or 1) for VNI 42, flooding to the other of the two only,
/// with a fixed TAP MAC so a restarted daemon is the same host to its peer.
fn start(f: &mut Fabric, i: usize, name: &str, extra: &[&str]) -> PathBuf {
    let other = if i == 0 { "10.0.0.2" } else { "10.0.0.1" };
    let mut flags = vec!["--no-remotes", "--remote", other];
    flags.extend_from_slice(extra);
    let args = f.native_args(i, &flags);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let ns = f.hosts[i].clone();
    let control = f.lab.vtep(&ns, name, &argv);
    let (mac, peer, peer_mac) = if i == 0 {
        (VICTIM_MAC, 2, PEER_MAC)
    } else {
        (PEER_MAC, 1, VICTIM_MAC)
    };
    // A permanent neighbour: the hosts send no ARP probes of their own, so the counters move
    // by what a test sends and nothing else (the ARP test removes it to exercise ARP).
    f.lab.ns_must(
        &ns,
        &format!(
            "ip link set vt42 address {mac} && ip addr add 192.168.42.{}/24 dev vt42 && \
             ip neigh replace 192.168.42.{peer} lladdr {peer_mac} nud permanent dev vt42",
            i + 1
        ),
    );
    control
}

impl Bench {
    fn stats(&self) -> Value {
        self.f.lab.stats(&self.victim)
    }

    /// `Udp: InErrors` of the victim's namespace (`/proc/net/snmp`): UDP datagrams its kernel
    /// refused (bad length, no room for the header, a full socket buffer).
    fn udp_in_errors(&self) -> u64 {
        let snmp = self.f.lab.ns_must(&self.f.hosts[0], "cat /proc/net/snmp");
        let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
        let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
        let at = names
            .split_whitespace()
            .position(|n| n == "InErrors")
            .unwrap();
        values.split_whitespace().nth(at).unwrap().parse().unwrap()
    }

    /// Replaces the victim with a new daemon started with `extra`.
    fn restart_victim(&mut self, name: &str, extra: &[&str]) {
        let old = self.victim_name.clone();
        self.f.lab.stop(&old);
        self.victim = start(&mut self.f, 0, name, extra);
        self.victim_name = name.into();
        self.f.ping_ok(0, "192.168.42.2", 2);
    }

    /// Runs `hostile.py ATTACK ARGS` in host `host`; returns how many datagrams or frames it
    /// sent.
    fn attack(&self, host: usize, attack: &str, args: &[&str]) -> u64 {
        let out = self.f.lab.ns_must(
            &self.f.hosts[host],
            &format!("python3 {SCRIPT} {attack} {}", args.join(" ")),
        );
        let line = out
            .lines()
            .find(|l| l.starts_with("sent "))
            .unwrap_or_else(|| panic!("{attack}: no `sent` line in {out:?}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// An underlay attack on the victim from host `host` (`--to 10.0.0.1`).
    fn hit(&self, host: usize, attack: &str, args: &[&str]) -> u64 {
        let mut all = vec!["--to", "10.0.0.1"];
        all.extend_from_slice(args);
        self.attack(host, attack, &all)
    }

    /// An overlay-side attack: frames written onto the victim's TAP.
    fn via_tap(&self, attack: &str, args: &[&str]) -> u64 {
        let mut all = vec!["--tap", "vt42"];
        all.extend_from_slice(args);
        self.attack(0, attack, &all)
    }

    /// Starts tcpdump on `iface` of host `host`.
    fn capture(&mut self, host: usize, iface: &str, name: &str) -> Capture {
        // Process names are the lab's keys: never the same as a daemon's.
        let name = format!("cap-{name}");
        let name = name.as_str();
        let pcap = self.f.lab.dir.join(format!("{name}.pcap"));
        let ns = self.f.hosts[host].clone();
        capture_in(&mut self.f, &ns, iface, name, &pcap);
        Capture {
            name: name.into(),
            pcap,
        }
    }

    /// Waits until the victim's drop counters moved by `want` (VNI or none, reason, amount),
    /// then checks that exactly those moved, by exactly that much. Returns the new report.
    #[track_caller]
    fn expect_drops(&self, before: &Value, want: &[(Option<u64>, &str, u64)]) -> Value {
        let want: BTreeMap<(Option<u64>, String), u64> = want
            .iter()
            .map(|(v, r, n)| ((*v, r.to_string()), *n))
            .collect();
        let total: u64 = want.values().sum();
        wait_for(10, || {
            moved(before, &self.stats()).values().sum::<u64>() >= total
        });
        // Anything still in flight would show up now.
        std::thread::sleep(Duration::from_millis(300));
        let after = self.stats();
        assert_eq!(
            moved(before, &after),
            want,
            "drop counters that moved (VNI, reason) -> by\n{after}"
        );
        after
    }

    /// The victim is alive and answering, and host 1 and 2 ping each other.
    #[track_caller]
    fn survived(&mut self) {
        let name = self.victim_name.clone();
        assert!(
            self.f.lab.exited(&name).is_none(),
            "the victim died:\n{}",
            self.f.lab.log(&name)
        );
        assert!(self.f.lab.exited("vtep2").is_none(), "the peer died");
        self.f.ping_ok(0, "192.168.42.2", 3);
        self.f.ping_ok(1, "192.168.42.1", 3);
    }

    /// The victim's `neigh show` still lists `ip` at the peer's MAC, permanent (as
    /// [`proxy_bench`] made it); returns the listing.
    #[track_caller]
    fn static_neighbour_stands(&self, ip: &str) -> String {
        let shown = self.f.lab.ctl(&self.victim, &["neigh", "show"]);
        assert!(
            shown.contains(&format!("{ip} dev vt42 lladdr {PEER_MAC} vni 42 PERMANENT")),
            "{shown}"
        );
        shown
    }

    /// The victim's FDB holds nothing of the attacker's source MAC (`hostile.py`'s
    /// 02:00:00:00:66:01).
    #[track_caller]
    fn learned_nothing_from_the_attacker(&self) {
        let fdb = self.f.lab.ctl(&self.victim, &["fdb", "show"]);
        assert!(!fdb.contains("02:00:00:00:66:01"), "learned: {fdb}");
    }

    /// Stops a capture; the frames in it that carry the hostile marker.
    fn marked(&mut self, cap: Capture) -> Vec<Vec<u8>> {
        stop_capture(&mut self.f, &cap.name);
        frames(&cap.pcap)
            .into_iter()
            .filter(|f| f.windows(MARKER.len()).any(|w| w == MARKER))
            .collect()
    }
}

fn capture_in(f: &mut Fabric, ns: &str, iface: &str, name: &str, pcap: &Path) {
    f.lab.spawn(
        ns,
        name,
        "tcpdump",
        &[
            "-i",
            iface,
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "160",
            "-B",
            "8192",
            "-Z",
            "root",
            "-w",
            &pcap.display().to_string(),
        ]
        .map(String::from),
    );
    assert!(
        wait_for(10, || f.lab.log(name).contains("listening on")),
        "tcpdump did not start: {}",
        f.lab.log(name)
    );
}

fn stop_capture(f: &mut Fabric, name: &str) {
    // tcpdump -U writes each packet as it comes; give the last ones time to arrive.
    std::thread::sleep(Duration::from_millis(300));
    let log = f.lab.stop(name);
    assert!(
        log.lines().any(|l| l == "0 packets dropped by kernel"),
        "{log}"
    );
}

/// The frames of a pcap file.
fn frames(pcap: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(pcap).unwrap();
    vtep_core::pcap::PcapReader::new(&bytes)
        .unwrap()
        .map(|r| r.unwrap().data.to_vec())
        .collect()
}

#[test]
fn truncated_outer_and_inner_headers() {
    let Some(mut b) = bench("trunc", 2, &[], &[]) else {
        return;
    };
    let cap = b.capture(0, "vt42", "tap1");
    // The tunnel header cut: the VNI is unreadable, so the drop belongs to no network.
    let before = b.stats();
    assert_eq!(b.hit(1, "truncated-header", &["--count", "10"]), 10);
    let s = b.expect_drops(&before, &[(None, "malformed_tunnel", 10)]);
    // The inner Ethernet header cut.
    assert_eq!(b.hit(1, "truncated-inner", &["--count", "10"]), 10);
    let s = b.expect_drops(&s, &[(Some(42), "truncated_frame", 10)]);
    // Cut or lying UDP headers never reach a socket: the kernel drops them. That they did
    // reach the victim's kernel (and so were not lost on the way, which would pass the checks
    // below too) shows in its UDP statistics: each is one UDP InErrors.
    let udp_errors = || b.udp_in_errors();
    let errors_before = udp_errors();
    assert_eq!(b.hit(1, "truncated-outer", &["--count", "10"]), 10);
    assert!(
        wait_for(10, || udp_errors() >= errors_before + 10),
        "the victim's kernel saw {} of the 10 cut UDP headers",
        udp_errors() - errors_before
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        udp_errors() - errors_before,
        10,
        "UDP InErrors in the victim's namespace"
    );
    let after = b.expect_drops(&s, &[]);
    // Whatever the daemon did read meanwhile was legitimate and decapsulated (the hosts' ARP
    // probes): nothing else reached its socket.
    let rx = |s: &Value| s["daemon"]["udp_rx_datagrams"].as_u64().unwrap();
    assert_eq!(
        rx(&after) - rx(&s),
        counter(&after, 42, "decap_frames") - counter(&s, 42, "decap_frames"),
        "the daemon read a datagram the kernel should have refused"
    );
    assert_eq!(b.marked(cap).len(), 0, "hostile frames reached the TAP");
    // The operator's view says the same.
    let text = b.f.lab.ctl(&b.victim, &["stats"]);
    for reason in ["malformed_tunnel 10", "truncated_frame 10"] {
        assert!(text.contains(reason), "stats lacks {reason}:\n{text}");
    }
    b.survived();
}

#[test]
fn vxlan_with_the_i_flag_clear() {
    let Some(mut b) = bench("iflag", 2, &[], &[]) else {
        return;
    };
    let cap = b.capture(0, "vt42", "tap1");
    let before = b.stats();
    assert_eq!(b.hit(1, "i-flag-clear", &["--count", "10"]), 10);
    b.expect_drops(&before, &[(None, "bad_flags", 10)]);
    assert_eq!(b.marked(cap).len(), 0);
    b.survived();
}

#[test]
fn vxlan_with_reserved_bits_set() {
    let Some(mut b) = bench("resv", 2, &[], &[]) else {
        return;
    };
    // The default, `--reserved-bits rfc`: RFC 7348 says to ignore them, so the frames (half
    // of them GBP-style, half with every reserved field set) are delivered as plain VXLAN.
    let cap = b.capture(0, "vt42", "rfc");
    let before = b.stats();
    assert_eq!(b.hit(1, "reserved-bits", &["--count", "10"]), 10);
    assert!(wait_for(10, || counter(&b.stats(), 42, "decap_frames")
        >= counter(&before, 42, "decap_frames") + 10));
    b.expect_drops(&before, &[]);
    assert_eq!(b.marked(cap).len(), 10, "rfc: all delivered");
    b.survived();

    // `--reserved-bits strict`, the Linux driver's choice: dropped and counted.
    b.restart_victim("strict", &["--reserved-bits", "strict"]);
    assert!(
        b.f.lab
            .log("strict")
            .contains("listening for VXLAN on 10.0.0.1:4789 (reserved bits dropped)"),
        "{}",
        b.f.lab.log("strict")
    );
    let cap = b.capture(0, "vt42", "strict");
    let before = b.stats();
    assert_eq!(b.hit(1, "reserved-bits", &["--count", "10"]), 10);
    b.expect_drops(&before, &[(None, "reserved_bits", 10)]);
    assert_eq!(b.marked(cap).len(), 0, "strict: none delivered");
    b.survived();
}

#[test]
fn vni_not_configured() {
    let Some(mut b) = bench("vni", 2, &[], &[]) else {
        return;
    };
    let cap = b.capture(0, "vt42", "tap1");
    let before = b.stats();
    assert_eq!(
        b.hit(1, "unknown-vni", &["--count", "10", "--vni", "999"]),
        10
    );
    b.expect_drops(&before, &[(None, "unknown_vni", 10)]);
    assert_eq!(b.marked(cap).len(), 0);
    b.learned_nothing_from_the_attacker();
    b.survived();
}

#[test]
fn geneve_with_unknown_critical_options() {
    let geneve = ["--encap", "geneve"];
    let Some(mut b) = bench("crit", 2, &geneve, &geneve) else {
        return;
    };
    let cap = b.capture(0, "vt42", "tap1");
    let before = b.stats();
    // Critical option with the C bit, critical option alone, C bit alone: 4 of each.
    let args = ["--encap", "geneve", "--count", "12"];
    assert_eq!(b.hit(1, "critical-option", &args), 12);
    let s = b.expect_drops(&before, &[(None, "critical_option", 12)]);
    assert_eq!(b.marked(cap).len(), 0);
    // Non-critical options are skipped and the frame delivered (RFC 8926 3.5).
    let cap = b.capture(0, "vt42", "tap2");
    let args = ["--encap", "geneve", "--count", "5"];
    assert_eq!(b.hit(1, "noncritical-option", &args), 5);
    assert!(wait_for(10, || counter(&b.stats(), 42, "decap_frames")
        >= counter(&s, 42, "decap_frames") + 5));
    b.expect_drops(&s, &[]);
    assert_eq!(b.marked(cap).len(), 5);
    b.survived();
}

#[test]
fn frames_above_the_mtu() {
    let Some(mut b) = bench("mtu", 2, &[], &[]) else {
        return;
    };
    // Underlay to TAP. The TAP's MTU is 1450, so frames up to 1464 bytes fit; the largest
    // crosses a 1500-byte underlay in one piece and is delivered.
    let cap = b.capture(0, "vt42", "fit");
    let before = b.stats();
    let fit = ["--size", "1464", "--count", "5"];
    assert_eq!(b.hit(1, "big-inner", &fit), 5);
    assert!(wait_for(10, || counter(&b.stats(), 42, "decap_frames")
        >= counter(&before, 42, "decap_frames") + 5));
    let s = b.expect_drops(&before, &[]);
    assert_eq!(b.marked(cap).len(), 5);
    // 1600 bytes: the datagram needs IP fragments (reassembled by the victim's kernel); the
    // frame would exceed the TAP's MTU and is dropped, not delivered.
    let cap = b.capture(0, "vt42", "big");
    let big = ["--size", "1600", "--count", "5"];
    assert_eq!(b.hit(1, "big-inner", &big), 5);
    let s = b.expect_drops(&s, &[(Some(42), "too_big", 5)]);
    assert_eq!(
        b.marked(cap).len(),
        0,
        "a frame above the TAP MTU was delivered"
    );

    // TAP to underlay: an operator raised the TAP's MTU; a 2000-byte frame cannot be
    // encapsulated into a 1500-byte underlay without fragmenting, which VTEPs do not do.
    let h1 = b.f.hosts[0].clone();
    b.f.lab.ns_must(&h1, "ip link set vt42 mtu 9000");
    let cap = b.capture(1, "vt42", "far");
    let encap = counter(&s, 42, "encap_frames");
    assert_eq!(
        b.via_tap("big-inner", &["--size", "2000", "--count", "5"]),
        5
    );
    let s = b.expect_drops(&s, &[(Some(42), "too_big", 5)]);
    assert_eq!(
        counter(&s, 42, "encap_frames"),
        encap,
        "encapsulated anyway"
    );
    assert_eq!(b.marked(cap).len(), 0, "reached the peer's TAP");
    b.f.lab.ns_must(&h1, "ip link set vt42 mtu 1450");
    b.survived();
}

#[test]
fn multicast_broadcast_or_zero_source_macs() {
    let Some(mut b) = bench("srcmac", 2, &[], &[]) else {
        return;
    };
    let bad = ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff"];
    // From the underlay: multicast, broadcast, zero, three of each.
    let cap = b.capture(0, "vt42", "near");
    let before = b.stats();
    assert_eq!(b.hit(1, "bad-source-mac", &["--count", "9"]), 9);
    let s = b.expect_drops(&before, &[(Some(42), "invalid_source_mac", 9)]);
    assert_eq!(b.marked(cap).len(), 0);
    // From the TAP.
    let cap = b.capture(1, "vt42", "far");
    assert_eq!(b.via_tap("bad-source-mac", &["--count", "9"]), 9);
    let s = b.expect_drops(&s, &[(Some(42), "invalid_source_mac", 9)]);
    assert_eq!(
        counter(&s, 42, "encap_frames"),
        counter(&before, 42, "encap_frames")
    );
    assert_eq!(b.marked(cap).len(), 0);
    // None of them was learned; the only all-zero rows are the flood list.
    let fdb = b.f.lab.ctl_json(&b.victim, &["fdb", "show", "--json"]);
    for row in fdb.as_array().unwrap() {
        let mac = row["mac"].as_str().unwrap();
        assert!(!bad.contains(&mac), "learned {row}");
        assert!(
            mac != "00:00:00:00:00:00" || row["state"] == "flood",
            "learned {row}"
        );
    }
    b.survived();
}

#[test]
fn an_inner_8021q_tag() {
    let Some(mut b) = bench("vlan", 2, &[], &[]) else {
        return;
    };
    let cap = b.capture(0, "vt42", "near");
    let before = b.stats();
    assert_eq!(b.hit(1, "vlan", &["--count", "5"]), 5);
    let s = b.expect_drops(&before, &[(Some(42), "inner_vlan_tag", 5)]);
    assert_eq!(b.marked(cap).len(), 0);
    let cap = b.capture(1, "vt42", "far");
    assert_eq!(b.via_tap("vlan", &["--count", "5"]), 5);
    b.expect_drops(&s, &[(Some(42), "inner_vlan_tag", 5)]);
    assert_eq!(b.marked(cap).len(), 0);
    b.survived();
}

/// Inner checksums: a frame whose UDP checksum is simply wrong is dropped and counted (`stats`:
/// inner checksums bad), while one whose checksum is partial (the pseudo-header sum that a
/// sender on the same host leaves to offload) is completed, counted and delivered with its real
/// checksum. No drop counter of the engine moves: these are the device layer's.
#[test]
fn a_wrong_inner_checksum() {
    let Some(mut b) = bench("csum", 2, &[], &[]) else {
        return;
    };
    let cap = b.capture(0, "vt42", "near");
    let before = b.stats();
    let daemon = |s: &Value, k: &str| s["daemon"][k].as_u64().unwrap();
    let args = [
        "--count",
        "10",
        "--src-mac",
        PEER_MAC,
        "--dst-mac",
        VICTIM_MAC,
    ];
    assert_eq!(b.hit(1, "inner-checksum", &args), 10);
    let moved = |k: &str| daemon(&b.stats(), k) - daemon(&before, k);
    assert!(
        wait_for(10, || moved("inner_csum_bad")
            + moved("inner_csum_completed")
            >= 10),
        "{}",
        b.stats()
    );
    let after = b.expect_drops(&before, &[]);
    assert_eq!(
        daemon(&after, "inner_csum_bad") - daemon(&before, "inner_csum_bad"),
        5
    );
    assert_eq!(
        daemon(&after, "inner_csum_completed") - daemon(&before, "inner_csum_completed"),
        5
    );
    // The UDP frames to the victim (its host answers each delivered one with an ICMP port
    // unreachable that quotes it, also marked).
    let delivered: Vec<Vec<u8>> = b
        .marked(cap)
        .into_iter()
        .filter(|f| f[12..14] == [0x08, 0x00] && f[14 + 9] == 17)
        .collect();
    assert_eq!(delivered.len(), 5, "only the partial ones reach the TAP");
    for f in &delivered {
        assert!(f.windows(7).any(|w| w == b"partial"), "{f:02x?}");
        assert!(
            udp4_checksum_ok(f),
            "delivered with a wrong checksum: {f:02x?}"
        );
    }
    b.survived();
}

/// Whether the UDP checksum of an Ethernet + IPv4 + UDP frame is there and right (smoltcp's
/// check, which takes a zero checksum for "none").
fn udp4_checksum_ok(f: &[u8]) -> bool {
    let ip = Ipv4Packet::new_checked(&f[ETHERNET_HEADER_LEN..]).unwrap();
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
    udp.checksum() != 0 && udp.verify_checksum(&src, &dst)
}

#[test]
fn a_flood_of_random_source_macs_beyond_max_address() {
    let Some(mut b) = bench("flood", 2, &["--max-address", "16"], &[]) else {
        return;
    };
    let before = b.stats();
    let entries = before["fdb_entries"].as_u64().unwrap();
    let room = 16 - entries;
    let cap = b.capture(0, "vt42", "tap1");
    // The real hosts ping each other throughout the flood, and on after it.
    let h1 = b.f.hosts[0].clone();
    b.f.lab.start_pinger(&h1, "192.168.42.2", 200);
    std::thread::sleep(Duration::from_millis(500));
    let n = 2000;
    assert_eq!(b.hit(1, "mac-flood", &["--count", &n.to_string()]), n);
    assert!(
        b.f.lab.exited("pinger").is_none(),
        "the pings ended before the flood: make them last longer"
    );
    let s = b.expect_drops(&before, &[(Some(42), "fdb_full", n - room)]);
    assert!(wait_for(30, || b.f.lab.exited("pinger").is_some()));
    let (tx, rx) = parse_ping(&b.f.lab.log("pinger"));
    println!(
        "flood of {n} MACs against --max-address 16: {entries} entries before, {room} learned, \
         {} dropped as fdb_full; {rx}/{tx} pings answered during and after",
        n - room
    );
    // Known hosts keep talking: every ping answered (200/200 in every run so far).
    assert!(tx == 200 && rx == 200, "pings lost: {rx}/{tx}");
    // The table stayed capped, the real hosts' entries are still there, and the MACs that
    // found room were delivered (flooded to the TAP), the rest not.
    assert_eq!(s["fdb_entries"], 16, "{s}");
    assert_eq!(counter(&s, 42, "fdb_full"), n - room);
    let fdb = b.f.lab.ctl(&b.victim, &["fdb", "show"]);
    assert!(
        fdb.contains(&format!("{PEER_MAC} dev vt42 dst 10.0.0.2")),
        "{fdb}"
    );
    assert!(
        fdb.contains(&format!("{VICTIM_MAC} dev vt42 vni 42 local")),
        "{fdb}"
    );
    assert_eq!(b.marked(cap).len() as u64, room);
    b.survived();
}

#[test]
fn datagrams_from_outside_the_peer_list() {
    let Some(mut b) = bench("peer", 3, &["--accept-peer", "10.0.0.2"], &[]) else {
        return;
    };
    let cap = b.capture(0, "vt42", "tap1");
    let before = b.stats();
    // Well-formed VXLAN from host 3, which is not in the list.
    assert_eq!(b.hit(2, "valid", &["--count", "25"]), 25);
    b.expect_drops(&before, &[(None, "not_a_peer", 25)]);
    assert_eq!(b.marked(cap).len(), 0);
    b.learned_nothing_from_the_attacker();
    b.survived();
}

#[test]
fn gratuitous_arp_against_a_static_neighbour() {
    let Some(mut b) = proxy_bench("garp", "192.168.42.2") else {
        return;
    };
    let evil = "02:00:00:00:66:66";
    let claim = ["--ip", "192.168.42.2", "--mac", evil, "--count", "4"];
    let before = b.stats();
    // Through the underlay and from the TAP side, as requests and as replies.
    assert_eq!(b.hit(1, "garp", &claim), 4);
    assert_eq!(b.via_tap("garp", &claim), 4);
    std::thread::sleep(Duration::from_millis(500));
    // Announcements are forwarded like any broadcast: no drop is expected.
    let s = b.expect_drops(&before, &[]);
    let shown = b.static_neighbour_stands("192.168.42.2");
    assert!(!shown.contains(evil), "{shown}");
    // Host 1 asks afresh: the VTEP answers with the static entry.
    let h1 = b.f.hosts[0].clone();
    b.f.lab.ns_must(&h1, "ip neigh del 192.168.42.2 dev vt42");
    b.f.ping_ok(0, "192.168.42.2", 2);
    let neigh = b.f.lab.ns_must(&h1, "ip neigh show 192.168.42.2");
    assert!(neigh.contains(PEER_MAC), "{neigh}");
    assert!(counter(&b.stats(), 42, "arp_suppressed") > counter(&s, 42, "arp_suppressed"));
    b.survived();
}

/// The IPv6 Neighbour Advertisements in `pcap` sent from `mac` for `target` (ethertype, ICMPv6
/// type 136, Ethernet source, target address), as native-vtep's proxy answers.
fn answers_from(pcap: &Path, mac: &str, target: &str) -> Vec<Vec<u8>> {
    let mac: Vec<u8> = mac
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    let target: std::net::Ipv6Addr = target.parse().unwrap();
    frames(pcap)
        .into_iter()
        .filter(|f| {
            f.len() >= 78
                && f[12..14] == [0x86, 0xdd]
                && f[20] == 58
                && f[54] == 136
                && f[6..12] == mac[..]
                && f[62..78] == target.octets()
        })
        .collect()
}

/// Malformed IPv6 Neighbour Discovery (`hostile.py nd`: each of the nine ways it breaks RFC
/// 4861's checks, in turn) from the TAP side and through the underlay, with the proxy on and
/// the target a static neighbour: every one dropped as `malformed_nd`; none answered, none
/// forwarded, nothing learned from any.
#[test]
fn malformed_neighbour_discovery() {
    let Some(mut b) = proxy_bench("nd", "fd42::2") else {
        return;
    };
    // From the TAP: nothing reaches the far side, and no answer comes back.
    let near = b.capture(0, "vt42", "near");
    let far = b.capture(1, "vt42", "far");
    let before = b.stats();
    assert_eq!(b.via_tap("nd", &["--count", "9"]), 9);
    let s = b.expect_drops(&before, &[(Some(42), "malformed_nd", 9)]);
    assert_eq!(
        counter(&s, 42, "encap_frames"),
        counter(&before, 42, "encap_frames")
    );
    assert_eq!(b.marked(far).len(), 0, "malformed ND crossed the tunnel");
    stop_capture(&mut b.f, &near.name);
    assert_eq!(
        answers_from(&near.pcap, PEER_MAC, "fd42::2").len(),
        0,
        "malformed ND was answered"
    );
    // Through the underlay: nothing reaches the TAP.
    let near = b.capture(0, "vt42", "near2");
    assert_eq!(b.hit(1, "nd", &["--count", "9"]), 9);
    let s = b.expect_drops(&s, &[(Some(42), "malformed_nd", 9)]);
    assert_eq!(b.marked(near).len(), 0, "malformed ND reached the TAP");
    assert_eq!(counter(&s, 42, "nd_suppressed"), 0);
    // Nothing learned from any of it: not the attacker's MAC, not its address, and the static
    // entry stands.
    b.learned_nothing_from_the_attacker();
    let shown = b.static_neighbour_stands("fd42::2");
    assert!(!shown.contains("fd42::66"), "{shown}");
    let text = b.f.lab.ctl(&b.victim, &["stats"]);
    assert!(text.contains("malformed_nd 18"), "{text}");
    b.survived();
}

/// An unsolicited Neighbour Advertisement (IPv6's gratuitous ARP) claiming a static neighbour's
/// address for another MAC, from the TAP side and through the underlay: forwarded like any
/// announcement, not dropped; the static entry stands, and a solicitation for the address is
/// still answered with the static MAC.
#[test]
fn unsolicited_advertisement_against_a_static_neighbour() {
    let Some(mut b) = proxy_bench("una", "fd42::2") else {
        return;
    };
    let evil = "02:00:00:00:66:66";
    let claim = ["--ip6", "fd42::2", "--mac", evil, "--count", "4"];
    let before = b.stats();
    assert_eq!(b.hit(1, "una", &claim), 4);
    assert_eq!(b.via_tap("una", &claim), 4);
    std::thread::sleep(Duration::from_millis(500));
    let s = b.expect_drops(&before, &[]);
    let shown = b.static_neighbour_stands("fd42::2");
    assert!(!shown.contains(evil), "{shown}");
    // A solicitation for it from the TAP side: answered at home, with the static MAC.
    let near = b.capture(0, "vt42", "near");
    assert_eq!(b.via_tap("ns", &["--ip6", "fd42::2"]), 1);
    assert!(wait_for(10, || counter(&b.stats(), 42, "nd_suppressed")
        > counter(&s, 42, "nd_suppressed")));
    stop_capture(&mut b.f, &near.name);
    let answers = answers_from(&near.pcap, PEER_MAC, "fd42::2");
    assert_eq!(answers.len(), 1, "the proxy's answer on the TAP");
    assert_eq!(
        &answers[0][80..86],
        &[2, 0, 0, 0, 0x42, 2],
        "target link-layer address"
    );
    assert_eq!(
        counter(&b.stats(), 42, "encap_frames"),
        counter(&s, 42, "encap_frames"),
        "the solicitation crossed the tunnel"
    );
    b.survived();
}

#[test]
fn zero_length_and_65535_byte_datagrams() {
    let Some(mut b) = bench("size", 2, &[], &[]) else {
        return;
    };
    // Every data path reads the underlay its own way.
    for datapath in ["offload", "batch", "plain"] {
        b.restart_victim(datapath, &["--datapath", datapath]);
        let cap = b.capture(0, "vt42", &format!("{datapath}-tap"));
        let before = b.stats();
        assert_eq!(b.hit(1, "empty", &["--count", "10"]), 10);
        let s = b.expect_drops(&before, &[(None, "malformed_tunnel", 10)]);
        // 65535-byte IP packets (65507 bytes of UDP payload, the most IPv4 carries) as 47 IP
        // fragments each; the victim's kernel reassembles them. The frame inside is far above
        // the TAP's MTU.
        assert_eq!(b.hit(1, "max", &["--count", "3"]), 3);
        // Every path reads a whole 64 KiB datagram (batch's slots hold one too: a kernel peer's
        // TSO super-frame comes in one tunnel packet on a veth underlay); its frame is not a
        // TCP super-frame to cut, so the engine drops it as too big for the TAP.
        b.expect_drops(&s, &[(Some(42), "too_big", 3)]);
        assert_eq!(b.marked(cap).len(), 0, "{datapath}");
        b.survived();
    }
}

/// Two tenants, VNIs 100 and 200, each with a namespace behind each of the two VTEPs; both use
/// 192.168.0.1 and .2 and MACs 02:00:00:00:00:01 and :02.
#[test]
fn two_tenants_with_the_same_ips_and_macs_stay_apart() {
    if !ready("tenants") {
        return;
    }
    let Some(mut f) = fabric("tenants", 2, &["bridge"]) else {
        return;
    };
    let tenants = [("a", 100), ("b", 200)];
    let mut controls = Vec::new();
    for h in 0..2 {
        let host = f.hosts[h].clone();
        // Without multicast snooping a bridge sends no IGMP reports of its own, which would
        // be (legitimate) traffic in the tenant's network.
        f.lab.ns_must(
            &host,
            "ip link add br100 type bridge mcast_snooping 0 && ip link set br100 up && \
             ip link add br200 type bridge mcast_snooping 0 && ip link set br200 up",
        );
        let other = if h == 0 { "10.0.0.2" } else { "10.0.0.1" };
        let config = f.lab.script(
            &format!("tenants{h}.toml"),
            &format!(
                "[underlay]\nlocal = \"10.0.0.{}\"\n\n\
                 [[network]]\ntap = \"t100\"\nvni = 100\nremote = [\"{other}\"]\nbridge = \"br100\"\n\n\
                 [[network]]\ntap = \"t200\"\nvni = 200\nremote = [\"{other}\"]\nbridge = \"br200\"\n",
                h + 1
            ),
        );
        controls.push(
            f.lab
                .vtep(&host, &format!("vtep{}", h + 1), &["--config", &config]),
        );
        for (t, vni) in tenants {
            let ns = f.lab.netns(&format!("{t}{}", h + 1));
            f.lab.veth(&ns, "eth0", None, &host, &format!("{t}p"), None);
            f.lab
                .ns_must(&host, &format!("ip link set {t}p master br{vni}"));
            f.lab.ns_must(
                &ns,
                &format!(
                    // The overlay's MTU: 1500 less VXLAN's 50 bytes.
                    "ip link set eth0 address 02:00:00:00:00:0{} mtu 1450 && \
                     ip addr add 192.168.0.{}/24 dev eth0",
                    h + 1,
                    h + 1
                ),
            );
        }
    }
    let prefix = f.lab.prefix.clone();
    let ns = move |t: &str, h: usize| format!("{prefix}{t}{}", h + 1);

    // One tenant at a time: while A pings and moves 1 MB over TCP, B's namespaces see nothing
    // at all, and the other way round.
    for (me, other) in [(0, 1), (1, 0)] {
        let (t, vni) = tenants[me];
        let (o, o_vni) = tenants[other];
        let before: Vec<Value> = controls.iter().map(|c| f.lab.stats(c)).collect();
        let caps: Vec<(String, PathBuf)> = (0..2)
            .map(|h| {
                let name = format!("cap-{o}{}-during-{t}", h + 1);
                let pcap = f.lab.dir.join(format!("{name}.pcap"));
                capture_in(&mut f, &ns(o, h), "eth0", &name, &pcap);
                (name, pcap)
            })
            .collect();
        let (a1, a2) = (ns(t, 0), ns(t, 1));
        let out = f.lab.ns_sh(&a1, "ping -n -q -c 3 -i 0.2 -W 2 192.168.0.2");
        assert_eq!(
            parse_ping(&String::from_utf8_lossy(&out.stdout)),
            (3, 3),
            "tenant {t}: ping\n{}",
            f.lab.all_logs()
        );
        tcp_1mb(&mut f, &a2, &a1, &format!("tcp-{t}"));
        for (name, pcap) in caps {
            stop_capture(&mut f, &name);
            let seen = frames(&pcap);
            assert!(
                seen.is_empty(),
                "tenant {o} saw {} frames of tenant {t} ({name}): {:02x?}",
                seen.len(),
                seen
            );
        }
        for (h, c) in controls.iter().enumerate() {
            let after = f.lab.stats(c);
            for key in [
                "local_rx_frames",
                "local_tx_frames",
                "encap_frames",
                "decap_frames",
            ] {
                assert_eq!(
                    counter(&after, o_vni, key),
                    counter(&before[h], o_vni, key),
                    "host {}: VNI {o_vni} {key} moved while only tenant {t} talked",
                    h + 1
                );
            }
            assert!(
                counter(&after, vni, "decap_frames") > counter(&before[h], vni, "decap_frames")
            );
        }
    }

    // Both at once, each with its own ping pattern: neither ever receives the other's.
    let patterns = [("a", "aa"), ("b", "bb")];
    let mut caps = Vec::new();
    for (t, _) in patterns {
        for h in 0..2 {
            let name = format!("cap-{t}{}-both", h + 1);
            let pcap = f.lab.dir.join(format!("{name}.pcap"));
            capture_in(&mut f, &ns(t, h), "eth0", &name, &pcap);
            caps.push((t, name, pcap));
        }
    }
    for (t, p) in patterns {
        let a1 = ns(t, 0);
        f.lab.spawn(
            &a1,
            &format!("ping-{t}"),
            "ping",
            &["-n", "-q", "-c", "20", "-i", "0.05", "-p", p, "192.168.0.2"].map(String::from),
        );
    }
    for (t, _) in patterns {
        let name = format!("ping-{t}");
        assert!(wait_for(20, || f.lab.exited(&name).is_some()));
        assert_eq!(parse_ping(&f.lab.log(&name)), (20, 20), "tenant {t}");
    }
    for (t, name, pcap) in caps {
        stop_capture(&mut f, &name);
        let (mine, theirs) = if t == "a" { (0xaa, 0xbb) } else { (0xbb, 0xaa) };
        let seen = frames(&pcap);
        let has = |b: u8| {
            seen.iter()
                .filter(|fr| fr.windows(16).any(|w| w.iter().all(|x| *x == b)))
                .count()
        };
        assert!(has(mine) >= 20, "{name}: {} frames of its own", has(mine));
        assert_eq!(has(theirs), 0, "{name}: frames of the other tenant");
    }
    // The same MACs, learned twice: once per VNI, each behind the right VTEP.
    let fdb = f.lab.ctl(&controls[0], &["fdb", "show"]);
    for (vni, tap) in [(100, "t100"), (200, "t200")] {
        assert!(
            fdb.contains(&format!(
                "02:00:00:00:00:02 dev {tap} dst 10.0.0.2 vni {vni}"
            )),
            "{fdb}"
        );
    }
    for c in &controls {
        let s = f.lab.stats(c);
        for vni in [100, 200] {
            assert_eq!(counter(&s, vni, "drops_total"), 0, "{}", network(&s, vni));
        }
    }
}

/// 1 MB over TCP from namespace `client` to 192.168.0.2 in `server`, checked with SHA-256.
fn tcp_1mb(f: &mut Fabric, server: &str, client: &str, name: &str) {
    let srv = f.lab.script("tcp_server.py", TCP_SERVER);
    let cli = f.lab.script("tcp_client.py", TCP_CLIENT);
    f.lab.spawn(
        server,
        name,
        "python3",
        &[srv, "192.168.0.2".into(), "5001".into()],
    );
    assert!(wait_for(10, || f.lab.log(name).contains("listening")));
    let sent = f
        .lab
        .ns_must(client, &format!("python3 {cli} 192.168.0.2 5001 7"));
    assert!(sent.contains("sent 1048576 "), "{sent}");
    f.tcp_check(name, &sent, 30);
}
