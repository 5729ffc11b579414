//! The evpn suite: native-vtep in real BGP EVPN fabrics, against FRR (route reflector and an
//! FRR-driven kernel VXLAN VTEP) and GoBGP, in per-run network namespaces.
//!
//! Run as root: `cargo test -p native-vtep --test evpn -- --test-threads=1 --nocapture`.
//! Without root or the tools (FRR's `vtysh`, `gobgpd`, tcpdump, tshark) each test is skipped
//! with a message, unless `OVERLAY_LAB_REQUIRE_TOOLS` is set, which makes that a failure.
//!
//! Topology: the underlay bridge of `common/fabric.rs` (10.0.0.0/24) with `h1` (native-vtep,
//! 10.0.0.1), `h2` (kernel `vxlan` + FRR, 10.0.0.2) and `rr` (FRR route reflector,
//! 10.0.0.254), or `gb` (GoBGP, 10.0.0.253). Hosts are namespaces of their own behind a
//! leaf's bridge `br42`, VNI 42, 192.168.42.0/24 and fd42::/64 (link-local fe80::/64);
//! learning is off everywhere: every remote MAC comes from a route. Each test prints what it measured (convergence, pings lost,
//! withdrawal and recovery times).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::bgp::{self, Frr, GoBgp};
use common::fabric::{Fabric, fabric, parse_ping};
use common::{tshark, wait_for};

/// `garp.py IFACE IP [SRCMAC]`: three gratuitous ARPs for IP from IFACE (a host announcing
/// itself, as a booted or migrated VM does), from SRCMAC if given.
const GARP: &str = r#"
import socket, sys
iface, ip = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
mac = sys.argv[3] if len(sys.argv) > 3 else open(f"/sys/class/net/{iface}/address").read()
src = bytes.fromhex(mac.strip().replace(":", ""))
ipb = bytes(int(x) for x in ip.split("."))
arp = b"\x00\x01\x08\x00\x06\x04\x00\x01" + src + ipb + b"\x00" * 6 + ipb
for _ in range(3):
    s.send(b"\xff" * 6 + src + b"\x08\x06" + arp.ljust(46, b"\0"))
"#;

/// `una.py IFACE IP [router]`: three unsolicited Neighbour Advertisements for IP from IFACE
/// to all nodes (Override set, Router set with `router`): IPv6's gratuitous ARP, what a host
/// sends once its address is up (`ndisc_notify`) or after it moved.
const UNA: &str = r#"
import socket, struct, sys
iface, ip = sys.argv[1], sys.argv[2]
router = len(sys.argv) > 3 and sys.argv[3] == "router"
mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
src = socket.inet_pton(socket.AF_INET6, ip)
dst = socket.inet_pton(socket.AF_INET6, "ff02::1")
flags = (0x80 if router else 0) | 0x20
icmp = bytearray(struct.pack("!BBHI", 136, 0, 0, flags << 24) + src + b"\x02\x01" + mac)
pseudo = src + dst + struct.pack("!I", len(icmp)) + b"\x00\x00\x00\x3a" + bytes(icmp)
total = sum(struct.unpack("!%dH" % (len(pseudo) // 2), pseudo))
while total > 0xffff:
    total = (total & 0xffff) + (total >> 16)
icmp[2:4] = struct.pack("!H", ~total & 0xffff)
ip6 = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 255) + src + dst
frame = b"\x33\x33\x00\x00\x00\x01" + mac + b"\x86\xdd" + ip6 + bytes(icmp)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for _ in range(3):
    s.send(frame)
"#;

const NA_MAC: &str = "02:00:00:00:0a:01";
const NA_IP: &str = "192.168.42.11";
const KA_MAC: &str = "02:00:00:00:0a:02";
const KA_IP: &str = "192.168.42.12";
const VM_MAC: &str = "02:00:00:00:01:00";
const VM_IP: &str = "192.168.42.100";

/// Polls `check` every 10 ms for up to `secs`: the time it took, or `None`.
fn timed(secs: u64, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    loop {
        if check() {
            return Some(start.elapsed());
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// native-vtep's flags in these labs: VNI 42 on TAP vt42 in bridge br42, EVPN to `peer`,
/// hold time 9 s (as the reflector's `timers 3 9`), reconnecting after 1 s.
fn evpn_args(peer: &str) -> Vec<&str> {
    vec![
        "--no-remotes",
        "--bridge",
        "br42",
        "--evpn-asn",
        "65000",
        "--evpn-peer",
        peer,
        "--evpn-hold-time",
        "9",
        "--evpn-connect-retry",
        "1",
    ]
}

/// Plugs namespace `ns` into `br42` of `leaf` through a veth (`eth` in `ns`, `port` on the
/// leaf) with the overlay's MTU: 1500 bytes of underlay less 50 of VXLAN, as a VM is set up
/// (the kernel's vxlan device and native-vtep's TAP have it too).
fn plug(f: &Fabric, ns: &str, eth: &str, leaf: usize, port: &str) {
    f.lab.veth(ns, eth, None, &f.hosts[leaf], port, None);
    f.lab.ns_must(ns, &format!("ip link set {eth} mtu 1450"));
    f.lab
        .ns_must(&f.hosts[leaf], &format!("ip link set {port} master br42"));
}

/// A host namespace `name` behind `leaf` with `mac` and `ip`; returns its index in `f.hosts`.
fn host(f: &mut Fabric, name: &str, leaf: usize, mac: &str, ip: &str) -> usize {
    let ns = f.lab.netns(name);
    plug(f, &ns, "eth0", leaf, name);
    f.lab.ns_must(
        &ns,
        &format!("ip link set eth0 address {mac} && ip addr add {ip}/24 dev eth0"),
    );
    f.hosts.push(ns);
    f.hosts.len() - 1
}

/// An IPv6 host namespace `name` behind `leaf` with `mac`, the global address `ip`/64 and the
/// link-local `ll`/64 (both without duplicate address detection, and no other IPv6 noise:
/// no automatic link-local address, no router solicitations); returns its index in `f.hosts`.
fn host6(f: &mut Fabric, name: &str, leaf: usize, mac: &str, ip: &str, ll: &str) -> usize {
    let ns = f.lab.netns(name);
    f.lab.ns_must(
        &ns,
        "sysctl -qw net.ipv6.conf.default.addr_gen_mode=1 \
         net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0 \
         net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0",
    );
    plug(f, &ns, "eth0", leaf, name);
    f.lab.ns_must(
        &ns,
        &format!(
            "ip link set eth0 address {mac} && ip -6 addr add {ip}/64 dev eth0 nodad && \
             ip -6 addr add {ll}/64 dev eth0 nodad"
        ),
    );
    f.hosts.push(ns);
    f.hosts.len() - 1
}

/// Host `i` announces its IPv6 address `ip` (unsolicited Neighbour Advertisements from
/// `eth`, with the Router flag if `router`).
fn announce6(f: &Fabric, i: usize, eth: &str, ip: &str, router: bool) {
    let script = f.lab.script("una.py", UNA);
    let flag = if router { " router" } else { "" };
    f.lab
        .ns_must(&f.hosts[i], &format!("python3 {script} {eth} {ip}{flag}"));
}

/// Host `i` announces itself (gratuitous ARP from `eth`).
fn garp(f: &Fabric, i: usize, eth: &str, ip: &str) {
    let script = f.lab.script("garp.py", GARP);
    f.lab
        .ns_must(&f.hosts[i], &format!("python3 {script} {eth} {ip}"));
}

/// Starts tcpdump on the underlay bridge with `filter`, keeping `snaplen` bytes of each packet
/// (0: all) in a 32 MiB buffer; returns the pcap path.
fn capture(f: &mut Fabric, name: &str, snaplen: u32, filter: &str) -> PathBuf {
    let pcap = f.lab.dir.join(format!("{name}.pcap"));
    let ul = f.ul.clone();
    let mut args: Vec<String> = ["-i", "ulbr", "-n", "-U", "--immediate-mode", "-Z", "root"]
        .map(String::from)
        .to_vec();
    args.extend([
        "-B".into(),
        "32768".into(),
        "-s".into(),
        snaplen.to_string(),
    ]);
    args.extend(["-w".into(), pcap.display().to_string()]);
    args.extend(filter.split_whitespace().map(String::from));
    f.lab.spawn(&ul, name, "tcpdump", &args);
    assert!(
        wait_for(10, || f.lab.log(name).contains("listening on")),
        "tcpdump did not start: {}",
        f.lab.log(name)
    );
    pcap
}

/// Stops a capture; returns how many packets the kernel dropped (a capture that dropped
/// some cannot show that something never crossed).
fn stop_capture(f: &mut Fabric, name: &str) -> u64 {
    std::thread::sleep(Duration::from_millis(300));
    let log = f.lab.stop(name);
    log.lines()
        .find_map(|l| l.strip_suffix(" packets dropped by kernel"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no drop count from tcpdump: {log}"))
}

/// The lab of the FRR tests: `rr` reflects between the kernel leaf `h2` and native-vtep on
/// `h1`. Field order is drop order: FRR stops before the lab removes its namespaces.
struct FrrLab {
    rr: Frr,
    leaf: Frr,
    f: Fabric,
    native: PathBuf,
}

impl FrrLab {
    fn new(test: &str) -> Option<FrrLab> {
        let tools = ["ping", "bridge", "vtysh", "tcpdump", "tshark", "ethtool"];
        let mut f = fabric(test, 2, &tools)?;
        let rr_ns = f.attach("rr", "10.0.0.254");
        // The kernel VTEP, as FRR's EVPN documentation builds it: no remote, no learning, ARP
        // suppression, in a bridge whose address (and arp_accept) lets zebra learn its hosts'
        // IPs. Checksums in software: nothing between namespaces would complete them.
        let h2 = f.hosts[1].clone();
        f.lab.ns_must(
            &h2,
            "ip link add br42 type bridge stp_state 0 && \
             ip link add vx42 type vxlan id 42 dstport 4789 local 10.0.0.2 dev ul nolearning && \
             ip link set vx42 master br42 && \
             ip link set vx42 type bridge_slave learning off neigh_suppress on && \
             ethtool -K vx42 tx off >/dev/null && \
             ip addr add 192.168.42.252/24 dev br42 && \
             sysctl -qw net.ipv4.conf.br42.arp_accept=1 && \
             ip link set vx42 up && ip link set br42 up",
        );
        f.lab.ns_must(
            &f.hosts[0],
            "ip link add br42 type bridge stp_state 0 && ip link set br42 up",
        );
        let started = Instant::now();
        let rr = Frr::start(
            &mut f.lab,
            &rr_ns,
            "rr",
            &bgp::reflector_conf("10.0.0.254", "10.0.0.0/24"),
        );
        let leaf = Frr::start(
            &mut f.lab,
            &h2,
            "leaf",
            &bgp::leaf_conf("10.0.0.2", "10.0.0.254"),
        );
        let native = f.native(0, &evpn_args("10.0.0.254"));
        let established = timed(30, || {
            rr.peer_state("10.0.0.1").as_deref() == Some("Established")
                && rr.peer_state("10.0.0.2").as_deref() == Some("Established")
        });
        if established.is_none() {
            panic!(
                "sessions not established: {}\n{}",
                rr.vtysh("show bgp l2vpn evpn summary"),
                f.lab.all_logs()
            );
        }
        println!(
            "{test}: FRR reflector, FRR kernel leaf and native-vtep started; both sessions \
             Established {} after the first daemon started",
            ms(started.elapsed())
        );
        Some(FrrLab {
            rr,
            leaf,
            f,
            native,
        })
    }

    fn native_fdb(&self) -> String {
        self.f.lab.ctl(&self.native, &["fdb", "show"])
    }

    fn kernel_fdb(&self) -> String {
        self.f
            .lab
            .ns_must(&self.f.hosts[1], "bridge fdb show dev vx42")
    }

    fn native_json(&self, args: &[&str]) -> serde_json::Value {
        let mut argv = args.to_vec();
        argv.push("--json");
        self.f.lab.ctl_json(&self.native, &argv)
    }

    /// The session state of native-vtep's first peer, by its own `bgp summary`.
    fn native_state(&self) -> String {
        self.native_json(&["bgp", "summary"])["peers"][0]["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// FRR as route reflector, the kernel VTEP driven by FRR and native-vtep: routes both ways
/// before any data traffic, then ping and TCP both ways with learning off and ARP answered
/// locally on both sides.
#[test]
fn frr_reflector_kernel_leaf_and_native_vtep() {
    let Some(mut l) = FrrLab::new("frr") else {
        return;
    };
    let na = host(&mut l.f, "na", 0, NA_MAC, NA_IP);
    let ka = host(&mut l.f, "ka", 1, KA_MAC, KA_IP);
    garp(&l.f, na, "eth0", NA_IP);
    garp(&l.f, ka, "eth0", KA_IP);

    // Before any data traffic: each side knows the other's host from a route.
    let kernel_mac = format!("{NA_MAC} dst 10.0.0.1 self extern_learn");
    let kernel_flood = "00:00:00:00:00:00 dst 10.0.0.1 self permanent";
    let native_mac =
        format!("{KA_MAC} dev vt42 dst 10.0.0.2 vni 42 self extern_learn peer 10.0.0.254");
    let native_flood = "00:00:00:00:00:00 dev vt42 dst 10.0.0.2 vni 42 self permanent";
    let converged = timed(20, || {
        let (k, n) = (l.kernel_fdb(), l.native_fdb());
        k.contains(&kernel_mac)
            && k.contains(kernel_flood)
            && n.contains(&native_mac)
            && n.contains(native_flood)
    });
    assert!(
        converged.is_some(),
        "routes not installed:\nkernel:\n{}\nnative:\n{}\nreflector:\n{}\n{}",
        l.kernel_fdb(),
        l.native_fdb(),
        l.rr.vtysh("show bgp l2vpn evpn route"),
        l.f.lab.all_logs()
    );
    // The MAC/IP routes: both ARP suppression tables hold the other side's host.
    let neigh = timed(10, || {
        l.f.lab
            .ctl(&l.native, &["neigh", "show"])
            .contains(&format!("{KA_IP} dev vt42 lladdr {KA_MAC}"))
            && l.f
                .lab
                .ns_must(&l.f.hosts[1], "ip neigh show dev br42")
                .contains(&format!("{NA_IP} lladdr {NA_MAC} extern_learn"))
    });
    assert!(
        neigh.is_some(),
        "MAC/IP routes not installed: native {}\nkernel {}",
        l.f.lab.ctl(&l.native, &["neigh", "show"]),
        l.f.lab.ns_must(&l.f.hosts[1], "ip neigh show dev br42")
    );
    println!(
        "frr: hosts announced; both FDBs held the other side's MAC from a route after {}, both \
         ARP suppression tables its IP after {}",
        ms(converged.unwrap()),
        ms(converged.unwrap() + neigh.unwrap())
    );
    // FRR's messages (its capabilities, End-of-RIB markers, reflected routes) are all clean
    // by our codec: nothing malformed, ignored or looped. FRR's reflector does send our own
    // routes back (ORIGINATOR_ID ours): dropped, and counted apart from loops.
    let summary = l.native_json(&["bgp", "summary"]);
    let peer = &summary["peers"][0];
    assert_eq!(peer["malformed"], serde_json::json!({}), "{peer}");
    assert_eq!(
        (
            &peer["counters"]["routes_ignored"],
            &peer["counters"]["routes_looped"]
        ),
        (&serde_json::json!(0), &serde_json::json!(0)),
        "{peer}"
    );
    let own = peer["counters"]["routes_own_reflected"].as_u64().unwrap();
    let fdb = l.native_fdb();
    assert!(
        !fdb.contains("dst 10.0.0.1 "),
        "an entry points at this VTEP itself: {fdb}"
    );
    println!(
        "frr: FRR's reflector sent {own} of native-vtep's own routes back; dropped (RFC 4456)"
    );
    // Learning is off everywhere.
    let stats = l.f.lab.stats(&l.native);
    assert_eq!(common::network(&stats, 42)["learning"], false);
    let link = l.f.lab.ns_must(&l.f.hosts[1], "ip -d link show vx42");
    assert!(
        link.contains("nolearning") && link.contains("learning off"),
        "{link}"
    );
    // FRR sees native-vtep's routes as it sees its own kind: RT, encapsulation, next hop.
    let from_native = l.rr.routes_from("10.0.0.1");
    assert!(
        from_native
            .iter()
            .any(|p| p["routeType"] == 2 && p["mac"] == NA_MAC && p["ip"] == NA_IP),
        "{from_native:?}"
    );
    for path in &from_native {
        assert_eq!(
            path["extendedCommunity"]["string"], "RT:65000:42 ET:8",
            "{path}"
        );
        assert_eq!(path["nexthops"][0]["ip"], "10.0.0.1", "{path}");
        assert_eq!(path["valid"], true, "{path}");
    }

    // Traffic both ways, ARP answered locally on both sides: none inside the tunnel.
    l.f.lab.ns_must(&l.f.hosts[na], "ip neigh flush dev eth0");
    l.f.lab.ns_must(&l.f.hosts[ka], "ip neigh flush dev eth0");
    let pcap = capture(&mut l.f, "tunnel", 160, "udp port 4789");
    l.f.ping_ok(na, KA_IP, 3);
    l.f.ping_ok(ka, NA_IP, 3);
    l.f.tcp_1mb(ka, KA_IP, na, 1);
    l.f.tcp_1mb(na, NA_IP, ka, 2);
    let dropped = stop_capture(&mut l.f, "tunnel");
    assert_eq!(dropped, 0, "the capture missed packets");
    let arp = tshark(&pcap, "vxlan && arp", &["frame.number"]);
    let icmp = tshark(&pcap, "vxlan && icmp", &["frame.number"]);
    let tcp = tshark(&pcap, "vxlan && tcp", &["frame.number"]);
    assert!(
        arp.is_empty() && icmp.len() >= 12 && tcp.len() >= 200,
        "in the tunnel: {} ARP (want 0), {} ICMP, {} TCP",
        arp.len(),
        icmp.len(),
        tcp.len()
    );
    let suppressed = common::counter(&l.f.lab.stats(&l.native), 42, "arp_suppressed");
    assert!(suppressed >= 1, "native-vtep answered no ARP");
    println!(
        "frr: ping and 1 MB TCP both ways; in the tunnel {} ICMP, {} TCP, 0 ARP; native-vtep \
         answered {suppressed} ARP requests itself",
        icmp.len(),
        tcp.len()
    );
}

const NA6_MAC: &str = "02:00:00:00:0b:01";
const NA6_IP: &str = "fd42::11";
const NA6_LL: &str = "fe80::b11";
const KA6_MAC: &str = "02:00:00:00:0b:02";
const KA6_IP: &str = "fd42::12";
const KA6_LL: &str = "fe80::b12";

/// IPv6 hosts on both sides of FRR's reflector: the kernel's (a router) and native-vtep's.
/// Before any data traffic each side's neighbour table holds the other's global and
/// link-local addresses from MAC/IP routes (IP length 128), the kernel host's with the Router
/// flag from FRR's ARP/ND community; then ping6 and TCP over IPv6 both ways with no Neighbour
/// Solicitation for a known address in the tunnel: the kernel's `neigh_suppress` answers for
/// native-vtep's host, native-vtep's proxy for the kernel's. Last, native-vtep's host becomes
/// a router and FRR's side follows.
#[test]
fn frr_ipv6_hosts_both_ways_nd_answered_locally() {
    let Some(mut l) = FrrLab::new("frr6") else {
        return;
    };
    // The kernel leaf learns its hosts' IPv6 addresses as it learns their IPv4 ones: from
    // their announcements, into its bridge's neighbour table (RFC 9131's untracked
    // advertisements, which Linux accepts on a forwarding interface), where zebra reads them.
    // No multicast snooping on either leaf: a solicitation kept out of the tunnel is kept out
    // by neighbour suppression, not by a multicast table.
    let (h1, h2) = (l.f.hosts[0].clone(), l.f.hosts[1].clone());
    l.f.lab.ns_must(
        &h2,
        "sysctl -qw net.ipv6.conf.br42.addr_gen_mode=1 net.ipv6.conf.br42.disable_ipv6=0 \
         net.ipv6.conf.br42.forwarding=1 net.ipv6.conf.br42.accept_untracked_na=1 && \
         ip -6 addr add fd42::fc/64 dev br42 nodad && \
         ip link set br42 type bridge mcast_snooping 0",
    );
    l.f.lab
        .ns_must(&h1, "ip link set br42 type bridge mcast_snooping 0");
    let na = host6(&mut l.f, "na6", 0, NA6_MAC, NA6_IP, NA6_LL);
    let ka = host6(&mut l.f, "ka6", 1, KA6_MAC, KA6_IP, KA6_LL);
    l.f.lab
        .ns_must(&l.f.hosts[ka], "sysctl -qw net.ipv6.conf.all.forwarding=1");
    for ip in [NA6_IP, NA6_LL] {
        announce6(&l.f, na, "eth0", ip, false);
    }
    for ip in [KA6_IP, KA6_LL] {
        announce6(&l.f, ka, "eth0", ip, true);
    }

    // Before any data traffic: both neighbour tables hold the other side's addresses, from
    // routes.
    let native_has = |l: &FrrLab, ip: &str| {
        l.native_json(&["neigh", "show"])
            .as_array()
            .unwrap()
            .iter()
            .any(|n| {
                n["ip"] == ip
                    && n["mac"] == KA6_MAC
                    && n["state"] == "control"
                    && n["router"] == true
            })
    };
    let kernel_neigh = |l: &FrrLab| l.f.lab.ns_must(&h2, "ip -6 neigh show dev br42");
    let converged = timed(20, || {
        let k = kernel_neigh(&l);
        native_has(&l, KA6_IP)
            && native_has(&l, KA6_LL)
            && [NA6_IP, NA6_LL]
                .iter()
                .all(|ip| k.contains(&format!("{ip} lladdr {NA6_MAC} extern_learn")))
    });
    assert!(
        converged.is_some(),
        "IPv6 routes not installed:\nnative {}\nkernel {}\nreflector {}\n{}",
        l.f.lab.ctl(&l.native, &["neigh", "show"]),
        kernel_neigh(&l),
        l.rr.vtysh("show bgp l2vpn evpn route"),
        l.f.lab.all_logs()
    );
    let kernel = kernel_neigh(&l);
    assert!(
        !kernel.contains(&format!("{NA6_IP} lladdr {NA6_MAC} router")),
        "native-vtep's host is no router (yet): {kernel}"
    );
    // On the reflector: native-vtep's routes with 128-bit IPs; the kernel host's with FRR's
    // ARP/ND community.
    let from_native = l.rr.routes_from("10.0.0.1");
    for ip in [NA6_IP, NA6_LL] {
        assert!(
            from_native
                .iter()
                .any(|p| p["mac"] == NA6_MAC && p["ip"] == ip && p["valid"] == true),
            "{ip}: {from_native:?}"
        );
    }
    let from_kernel = l.rr.routes_from("10.0.0.2");
    let nd = from_kernel
        .iter()
        .find(|p| p["ip"] == KA6_IP)
        .map(|p| p["extendedCommunity"]["string"].to_string());
    assert!(
        nd.as_deref().is_some_and(|s| s.contains("ND:Router Flag")),
        "{from_kernel:?}"
    );
    let routes = l.native_json(&["bgp", "routes"]);
    let row = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ip"] == KA6_IP && r["source"] == "10.0.0.254")
        .unwrap_or_else(|| panic!("{routes}"))
        .clone();
    assert_eq!(
        (&row["prefix"], &row["router"], &row["best"]),
        (
            &serde_json::json!(format!("[2]:[0]:[48]:[{KA6_MAC}]:[128]:[{KA6_IP}]")),
            &serde_json::json!(true),
            &serde_json::json!(true)
        ),
        "{row}"
    );
    let summary = l.native_json(&["bgp", "summary"]);
    let peer = &summary["peers"][0];
    assert_eq!(peer["malformed"], serde_json::json!({}), "{peer}");
    assert_eq!(peer["counters"]["routes_ignored"], 0, "{peer}");
    println!(
        "frr6: IPv6 hosts announced; both neighbour tables held the other side's global and \
         link-local addresses from MAC/IP routes (IP length 128) {} after the announcements, \
         the kernel host with FRR's ND:Router Flag",
        ms(converged.unwrap())
    );

    // Traffic both ways; Neighbour Discovery for the known addresses answered at home.
    for i in [na, ka] {
        l.f.lab.ns_must(&l.f.hosts[i], "ip -6 neigh flush dev eth0");
    }
    let suppressed = common::counter(&l.f.lab.stats(&l.native), 42, "nd_suppressed");
    let pcap = capture(&mut l.f, "tunnel6", 160, "udp port 4789");
    l.f.ping_ok(na, KA6_IP, 3);
    l.f.ping_ok(ka, NA6_IP, 3);
    l.f.ping_ok(na, &format!("{KA6_LL}%eth0"), 3);
    l.f.ping_ok(ka, &format!("{NA6_LL}%eth0"), 3);
    l.f.tcp_1mb(ka, KA6_IP, na, 61);
    l.f.tcp_1mb(na, NA6_IP, ka, 62);
    let dropped = stop_capture(&mut l.f, "tunnel6");
    assert_eq!(dropped, 0, "the capture missed packets");
    let known = [NA6_IP, NA6_LL, KA6_IP, KA6_LL];
    let ns = tshark(
        &pcap,
        "vxlan && icmpv6.type == 135",
        &["icmpv6.nd.ns.target_address", "ipv6.src"],
    );
    let na_rows = tshark(
        &pcap,
        "vxlan && icmpv6.type == 136",
        &["icmpv6.nd.na.target_address", "ipv6.src"],
    );
    let echo = tshark(&pcap, "vxlan && icmpv6.type == 128", &["frame.number"]);
    let tcp = tshark(&pcap, "vxlan && tcp", &["frame.number"]);
    assert!(
        !ns.iter().any(|r| known.contains(&r[0].as_str()))
            && !na_rows.iter().any(|r| known.contains(&r[0].as_str())),
        "Neighbour Discovery for a known address in the tunnel: solicitations {ns:?}, \
         advertisements {na_rows:?}"
    );
    assert!(
        echo.len() >= 12 && tcp.len() >= 200,
        "in the tunnel: {} echo requests, {} TCP",
        echo.len(),
        tcp.len()
    );
    // Answered at home: native-vtep counted its answers; the kernel host resolved native-vtep's
    // host though nothing of it crossed the tunnel, so the kernel's bridge answered. Each host
    // sees the other's Router flag as the routes carry it.
    let answered = common::counter(&l.f.lab.stats(&l.native), 42, "nd_suppressed") - suppressed;
    assert!(
        answered >= 2,
        "native-vtep answered {answered} solicitations"
    );
    let at_na = l.f.lab.ns_must(&l.f.hosts[na], "ip -6 neigh show dev eth0");
    assert!(
        at_na.contains(&format!("{KA6_IP} lladdr {KA6_MAC} router")),
        "{at_na}"
    );
    let at_ka = l.f.lab.ns_must(&l.f.hosts[ka], "ip -6 neigh show dev eth0");
    assert!(
        at_ka.contains(&format!("{NA6_IP} lladdr {NA6_MAC}"))
            && !at_ka.contains(&format!("{NA6_IP} lladdr {NA6_MAC} router")),
        "{at_ka}"
    );
    println!(
        "frr6: ping6 (global and link-local) and 1 MB TCP over IPv6 both ways; in the tunnel \
         {} echo requests, {} TCP, no Neighbour Discovery for the 4 known addresses ({} \
         solicitations of others); native-vtep answered {answered} solicitations, the \
         kernel's neigh_suppress the rest; the kernel host is a router to native-vtep's host",
        echo.len(),
        tcp.len(),
        ns.len()
    );

    // native-vtep's host starts routing: its next announcement carries R; the route follows
    // with the ARP/ND community, and the kernel's answers say router.
    l.f.lab
        .ns_must(&l.f.hosts[na], "sysctl -qw net.ipv6.conf.all.forwarding=1");
    announce6(&l.f, na, "eth0", NA6_IP, true);
    let flagged = timed(10, || {
        kernel_neigh(&l).contains(&format!("{NA6_IP} lladdr {NA6_MAC} router extern_learn"))
    });
    assert!(
        flagged.is_some(),
        "kernel: {}\nreflector: {:?}",
        kernel_neigh(&l),
        l.rr.routes_from("10.0.0.1")
    );
    let nd =
        l.rr.routes_from("10.0.0.1")
            .iter()
            .find(|p| p["ip"] == NA6_IP)
            .map(|p| p["extendedCommunity"]["string"].to_string());
    assert!(
        nd.as_deref().is_some_and(|s| s.contains("ND:Router Flag")),
        "{nd:?}"
    );
    l.f.lab
        .ns_must(&l.f.hosts[ka], "ip -6 neigh flush dev eth0");
    l.f.ping_ok(ka, NA6_IP, 2);
    let at_ka = l.f.lab.ns_must(&l.f.hosts[ka], "ip -6 neigh show dev eth0");
    assert!(
        at_ka.contains(&format!("{NA6_IP} lladdr {NA6_MAC} router")),
        "{at_ka}"
    );
    println!(
        "frr6: native-vtep's host became a router: FRR's route carried ND:Router Flag and the \
         kernel's answers the R flag {} after its announcement",
        ms(flagged.unwrap())
    );
}

/// A host moves from the kernel side to native-vtep's side; the reflector restarts;
/// native-vtep stops with SIGTERM.
#[test]
fn frr_mobility_reflector_restart_and_withdrawal() {
    let Some(mut l) = FrrLab::new("mob") else {
        return;
    };
    let ka = host(&mut l.f, "ka", 1, KA_MAC, KA_IP);
    let vm = host(&mut l.f, "vm", 1, VM_MAC, VM_IP);
    garp(&l.f, ka, "eth0", KA_IP);
    garp(&l.f, vm, "eth0", VM_IP);
    let behind_kernel = format!("{VM_MAC} dev vt42 dst 10.0.0.2 vni 42 self extern_learn");
    assert!(
        wait_for(20, || l.native_fdb().contains(&behind_kernel)),
        "{}",
        l.native_fdb()
    );
    let before = l.leaf.json(&format!("show evpn mac vni 42 mac {VM_MAC}"));
    assert_eq!(before[VM_MAC]["type"], "local", "{before}");

    // Pings from the kernel side's host to the VM all along.
    let ka_ns = l.f.hosts[ka].clone();
    l.f.lab.start_pinger(&ka_ns, VM_IP, 120);
    std::thread::sleep(Duration::from_millis(1000));
    // The move: the VM appears behind native-vtep (a new port, its address moved there) and
    // announces itself while the old port still stands, as a live migration does; the old
    // port goes once the fabric has followed.
    let vm_ns = l.f.hosts[vm].clone();
    plug(&l.f, &vm_ns, "eth1", 0, "vm1");
    l.f.lab.ns_must(
        &vm_ns,
        &format!(
            "ip link set eth1 address {VM_MAC} && ip addr del {VM_IP}/24 dev eth0 && \
             ip addr add {VM_IP}/24 dev eth1"
        ),
    );
    garp(&l.f, vm, "eth1", VM_IP);
    let kernel_follows = format!("{VM_MAC} dst 10.0.0.1 self extern_learn");
    let moved = timed(20, || l.kernel_fdb().contains(&kernel_follows));
    assert!(
        moved.is_some(),
        "the kernel VTEP did not follow the move: {}\n{}",
        l.kernel_fdb(),
        l.f.lab.all_logs()
    );
    l.f.lab.ns_must(&vm_ns, "ip link del eth0");
    assert!(
        wait_for(20, || l.f.lab.exited("pinger").is_some()),
        "pinger hangs"
    );
    let (tx, rx) = parse_ping(&l.f.lab.log("pinger"));

    // The sequence rose, and FRR and native-vtep agree on where the VM is.
    let routes = l.native_json(&["bgp", "routes"]);
    let local = routes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["mac"] == VM_MAC && r["source"] == "local" && r["ip"].is_null())
        .unwrap_or_else(|| panic!("no local route for the VM: {routes}"))
        .clone();
    let seq = local["seq"].as_u64().unwrap();
    let after = l.leaf.json(&format!("show evpn mac vni 42 mac {VM_MAC}"));
    assert!(seq >= 1, "mobility sequence did not rise: {local}");
    assert_eq!(after[VM_MAC]["type"], "remote", "{after}");
    assert_eq!(after[VM_MAC]["remoteVtep"], "10.0.0.1", "{after}");
    assert!(
        after[VM_MAC]["remoteSequence"].as_u64() >= Some(seq),
        "{after}"
    );
    let local_fdb = format!("{VM_MAC} dev vt42 vni 42 local");
    assert!(l.native_fdb().contains(&local_fdb), "{}", l.native_fdb());
    let from_native = l.rr.routes_from("10.0.0.1");
    let mm = from_native
        .iter()
        .find(|p| p["mac"] == VM_MAC)
        .map(|p| p["extendedCommunity"]["string"].to_string());
    assert!(
        mm.as_deref()
            .is_some_and(|s| s.contains(&format!("MM:{seq}"))),
        "reflector: {mm:?}"
    );
    assert!(
        tx == 120 && rx + 10 >= tx,
        "too many pings lost in the move: {rx}/{tx}"
    );
    println!(
        "mob: VM moved from the kernel VTEP to native-vtep: MAC mobility sequence 0 -> {seq}, \
         the kernel VTEP pointed at native-vtep {} after the VM's announcement; {} of {tx} \
         pings (50 ms apart) lost",
        ms(moved.unwrap()),
        tx - rx
    );
    l.f.ping_ok(ka, VM_IP, 3);

    // The reflector restarts: sessions come back and routes are learned again.
    let restarted = Instant::now();
    l.rr.restart_bgpd(&mut l.f.lab);
    let back = timed(60, || {
        l.native_state() == "Established"
            && l.native_fdb()
                .contains(&format!("{KA_MAC} dev vt42 dst 10.0.0.2"))
            && l.kernel_fdb().contains(&kernel_follows)
    });
    assert!(
        back.is_some(),
        "not recovered after the reflector's restart: native {} / {}\nkernel {}\nreflector \
         {}\nleaf's session {}\n{}",
        l.native_state(),
        l.native_fdb(),
        l.kernel_fdb(),
        l.rr.vtysh("show bgp l2vpn evpn summary"),
        l.leaf.vtysh("show bgp neighbors 10.0.0.254"),
        l.f.lab.all_logs()
    );
    let recovered = restarted.elapsed();
    let summary = l.native_json(&["bgp", "summary"]);
    assert_eq!(
        summary["peers"][0]["counters"]["established"], 2,
        "{summary}"
    );
    println!(
        "mob: reflector restarted: native-vtep's session Established again and both FDBs \
         relearned from routes {} after bgpd was told to stop",
        ms(recovered)
    );
    l.f.ping_ok(ka, VM_IP, 3);

    // SIGTERM: native-vtep withdraws its routes at once (a NOTIFICATION), not after 9 s.
    let stopped = Instant::now();
    l.f.lab.stop("vtep1");
    let gone = timed(9, || {
        l.rr.routes_from("10.0.0.1").is_empty() && !l.kernel_fdb().contains("dst 10.0.0.1")
    });
    let log = l.f.lab.log("vtep1");
    assert!(log.contains("routes withdrawn from the peers"), "{log}");
    let gone = gone.unwrap_or_else(|| {
        panic!(
            "native-vtep's routes still there after SIGTERM: {:?}\n{}",
            l.rr.routes_from("10.0.0.1"),
            l.kernel_fdb()
        )
    });
    assert!(gone < Duration::from_secs(3), "withdrawal took {gone:?}");
    println!(
        "mob: SIGTERM: native-vtep's routes gone from the reflector and the kernel VTEP {} \
         after the signal (hold time 9 s); native-vtep exited in {}",
        ms(gone),
        ms(stopped.elapsed())
    );
}

/// The scripted GoBGP peer in its namespace at 10.0.0.253 (it waits for native-vtep to
/// connect, and reflects what it is given).
const GOBGP: &str = r#"
[global.config]
  as = 65000
  router-id = "10.0.0.253"
  local-address-list = ["10.0.0.253"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.0.0.1"
    peer-as = 65000
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [neighbors.route-reflector.config]
    route-reflector-client = true
    route-reflector-cluster-id = "10.0.0.253"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
"#;

/// GoBGP injects routes, native-vtep installs them; what native-vtep advertises, read back
/// from GoBGP, carries the right RD, RT, encapsulation, label, PMSI and MAC mobility
/// sequence; tshark decodes the sessions.
#[test]
fn gobgp_routes_both_ways_and_tshark_decodes_them() {
    let Some(mut f) = fabric("gob", 1, &["gobgpd", "gobgp", "tcpdump", "tshark"]) else {
        return;
    };
    let gb_ns = f.attach("gb", "10.0.0.253");
    let pcap = capture(&mut f, "bgp", 0, "tcp port 179");
    let gobgp = GoBgp::start(&mut f.lab, &gb_ns, "gobgpd", GOBGP);
    f.lab.ns_must(
        &f.hosts[0],
        "ip link add br42 type bridge && ip link set br42 up",
    );
    // Two workers: a MAC learned by the second one reaches the speaker through the engine's
    // event queue and its wake-up pipe.
    let mut args = evpn_args("10.0.0.253");
    args.extend(["--queues", "2"]);
    let native = f.native(0, &args);
    f.lab
        .ns_must(&f.hosts[0], "ip addr add 192.168.42.1/24 dev br42");
    let up = timed(20, || {
        gobgp
            .cli(&f.lab, "neighbor 10.0.0.1")
            .contains("BGP state = ESTABLISHED")
    });
    assert!(up.is_some(), "{}", gobgp.cli(&f.lab, "neighbor 10.0.0.1"));

    // Routes injected into GoBGP are installed by native-vtep.
    let rib = "global rib -a evpn add";
    gobgp.cli(
        &f.lab,
        &format!(
            "{rib} macadv 02:00:00:00:42:09 192.168.42.9 etag 0 label 42 rd 10.0.0.9:1 rt \
             65000:42 encap vxlan nexthop 10.0.0.9"
        ),
    );
    gobgp.cli(
        &f.lab,
        &format!(
            "{rib} multicast 10.0.0.9 etag 0 rd 10.0.0.9:1 rt 65000:42 encap vxlan pmsi \
             ingress-repl 42 10.0.0.9 nexthop 10.0.0.9"
        ),
    );
    gobgp.cli(
        &f.lab,
        &format!(
            "{rib} macadv 02:00:00:00:42:77 0.0.0.0 etag 0 label 42 rd 10.0.0.9:1 rt 65000:42 \
             encap vxlan nexthop 10.0.0.9"
        ),
    );
    // An IPv6 host: IP length 128, into the IPv6 neighbour table.
    gobgp.cli(
        &f.lab,
        &format!(
            "{rib} macadv 02:00:00:00:42:06 fd42::6 etag 0 label 42 rd 10.0.0.9:1 rt 65000:42 \
             encap vxlan nexthop 10.0.0.9"
        ),
    );
    let installed = timed(10, || {
        let fdb = f.lab.ctl(&native, &["fdb", "show"]);
        fdb.contains(
            "02:00:00:00:42:09 dev vt42 dst 10.0.0.9 vni 42 self extern_learn peer 10.0.0.253",
        ) && fdb.contains("00:00:00:00:00:00 dev vt42 dst 10.0.0.9 vni 42 self permanent")
            && fdb.contains("02:00:00:00:42:77 dev vt42 dst 10.0.0.9")
            && fdb.contains("02:00:00:00:42:06 dev vt42 dst 10.0.0.9")
    });
    assert!(
        installed.is_some(),
        "{}",
        f.lab.ctl(&native, &["fdb", "show"])
    );
    let neigh = f.lab.ctl(&native, &["neigh", "show"]);
    assert!(
        neigh.contains("192.168.42.9 dev vt42 lladdr 02:00:00:00:42:09 vni 42 extern_learn")
            && neigh.contains("fd42::6 dev vt42 lladdr 02:00:00:00:42:06 vni 42 extern_learn"),
        "{neigh}"
    );
    f.lab.ctl_shows(
        &native,
        &["bgp", "routes"],
        "*>i[2]:[0]:[48]:[02:00:00:00:42:06]:[128]:[fd42::6]",
    );
    println!(
        "gob: routes injected into GoBGP (MAC, MAC/IPv4, MAC/IPv6, type 3) installed by native-vtep after {}",
        ms(installed.unwrap())
    );

    // native-vtep's own routes: its bridge's host announces itself, and a MAC GoBGP placed
    // behind 10.0.0.9 shows up locally (it moved): sequence 1.
    let script = f.lab.script("garp.py", GARP);
    f.lab.ns_must(
        &f.hosts[0],
        &format!("python3 {script} br42 192.168.42.1 && python3 {script} br42 192.168.42.77 02:00:00:00:42:77"),
    );
    // And an IPv6 address of the bridge's, announced as a host announces one.
    f.lab.ns_must(
        &f.hosts[0],
        "sysctl -qw net.ipv6.conf.br42.addr_gen_mode=1 net.ipv6.conf.br42.disable_ipv6=0 && \
         ip -6 addr add fd42::1/64 dev br42 nodad",
    );
    let una = f.lab.script("una.py", UNA);
    f.lab
        .ns_must(&f.hosts[0], &format!("python3 {una} br42 fd42::1"));
    let br_mac = f.mac(0, "br42");
    let adj_in = || gobgp.json(&f.lab, "neighbor 10.0.0.1 adj-in -a evpn");
    let complete = |v: &serde_json::Value| {
        let text = v.to_string();
        text.contains(&br_mac)
            && text.contains("02:00:00:00:42:77")
            && text.contains("\"type\":3")
            && text.contains("fd42::1")
    };
    assert!(wait_for(10, || complete(&adj_in())), "{}", adj_in());
    let advertised = adj_in();
    let mut seen = (false, false, false, false, false);
    for (_, paths) in advertised.as_object().unwrap() {
        for path in paths.as_array().unwrap() {
            let nlri = &path["nlri"];
            let rd = &nlri["value"]["rd"];
            assert_eq!(
                (
                    rd["type"].as_u64(),
                    rd["admin"].as_str(),
                    rd["assigned"].as_u64()
                ),
                (Some(1), Some("10.0.0.1"), Some(1)),
                "{path}"
            );
            let attrs = path["attrs"].as_array().unwrap();
            let attr = |t: u64| attrs.iter().find(|a| a["type"] == t);
            let ecs = attr(16).unwrap_or_else(|| panic!("no extended communities: {path}"));
            let ecs = ecs["value"].as_array().unwrap();
            assert!(
                ecs.iter()
                    .any(|c| c["type"] == 0 && c["subtype"] == 2 && c["value"] == "65000:42"),
                "RT: {path}"
            );
            assert!(
                ecs.iter()
                    .any(|c| c["type"] == 3 && c["subtype"] == 12 && c["tunnel_type"] == 8),
                "VXLAN: {path}"
            );
            let mp = attr(14).unwrap();
            assert_eq!(mp["nexthop"], "10.0.0.1", "{path}");
            match nlri["type"].as_u64() {
                Some(3) => {
                    let pmsi = attr(22).unwrap_or_else(|| panic!("no PMSI: {path}"));
                    assert_eq!(
                        (
                            pmsi["tunnel-type"].as_u64(),
                            pmsi["label"].as_u64(),
                            pmsi["tunnel-id"].as_str()
                        ),
                        (Some(6), Some(42), Some("10.0.0.1")),
                        "{path}"
                    );
                    assert_eq!(nlri["value"]["ip"], "10.0.0.1");
                    seen.0 = true;
                }
                Some(2) => {
                    let v = &nlri["value"];
                    assert_eq!(v["labels"], serde_json::json!([42]), "label = VNI: {path}");
                    let mm = ecs.iter().find(|c| c["type"] == 6 && c["subtype"] == 0);
                    if v["mac"] == "02:00:00:00:42:77" {
                        let mm = mm.unwrap_or_else(|| panic!("no MAC mobility: {path}"));
                        assert_eq!(mm["sequence"], 1, "{path}");
                        seen.1 = true;
                    } else if v["mac"] == br_mac.as_str() {
                        assert!(mm.is_none_or(|m| m["sequence"] == 0), "{path}");
                        if v["ip"] == "192.168.42.1" {
                            seen.3 = true;
                        } else if v["ip"] == "fd42::1" {
                            seen.4 = true;
                        } else {
                            seen.2 = true;
                        }
                    }
                }
                _ => panic!("unexpected route {path}"),
            }
        }
    }
    assert_eq!(
        seen,
        (true, true, true, true, true),
        "type 3, moved MAC, MAC, MAC/IPv4, MAC/IPv6: {advertised}"
    );
    println!(
        "gob: native-vtep's type-3 (PMSI ingress replication, label 42), type-2 MAC and MAC/IP (IPv4 and IPv6) routes read back from GoBGP with RD 10.0.0.1:1, RT 65000:42, VXLAN, label 42; the moved MAC with mobility sequence 1"
    );

    // GoBGP's messages are all clean by our codec.
    let summary = f.lab.bgp_summary(&native);
    let peer = &summary["peers"][0];
    assert_eq!(peer["malformed"], serde_json::json!({}), "{peer}");
    assert_eq!(peer["counters"]["routes_ignored"], 0, "{peer}");

    // A withdrawal in GoBGP removes the entry and the neighbour.
    gobgp.cli(
        &f.lab,
        "global rib -a evpn del macadv 02:00:00:00:42:09 192.168.42.9 etag 0 label 42 rd 10.0.0.9:1",
    );
    let withdrawn = timed(10, || {
        !f.lab
            .ctl(&native, &["fdb", "show"])
            .contains("02:00:00:00:42:09")
    });
    assert!(
        withdrawn.is_some(),
        "{}",
        f.lab.ctl(&native, &["fdb", "show"])
    );
    assert!(wait_for(5, || !f
        .lab
        .ctl(&native, &["neigh", "show"])
        .contains("192.168.42.9 ")));
    gobgp.cli(
        &f.lab,
        "global rib -a evpn del macadv 02:00:00:00:42:06 fd42::6 etag 0 label 42 rd 10.0.0.9:1",
    );
    assert!(
        wait_for(5, || !f
            .lab
            .ctl(&native, &["neigh", "show"])
            .contains("fd42::6 ")),
        "{}",
        f.lab.ctl(&native, &["neigh", "show"])
    );

    // tshark reads the sessions: route types, MACs, IPs, VNIs, route targets, sequences.
    let dropped = stop_capture(&mut f, "bgp");
    assert_eq!(dropped, 0, "the capture missed BGP messages");
    let fields = [
        "ip.src",
        "bgp.evpn.nlri.rt",
        "bgp.evpn.nlri.mac_addr",
        "bgp.evpn.nlri.ip.addr",
        "bgp.evpn.nlri.vni",
        "bgp.evpn.nlri.mpls_ls1",
        "bgp.ext_com.value_as2",
        "bgp.ext_com.value_an4",
        "bgp.ext_com_evpn.mmac.seq",
        "bgp.update.path_attribute.pmsi.tunnel.type",
        "bgp.evpn.nlri.ipv6.addr",
    ];
    let rows = tshark(&pcap, "bgp.evpn.nlri.rt", &fields);
    let ours: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "10.0.0.1").collect();
    let theirs: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "10.0.0.253").collect();
    let has = |rows: &[&Vec<String>], col: usize, value: &str| {
        rows.iter().any(|r| r[col].split(',').any(|v| v == value))
    };
    // Label 1 is the VNI; Wireshark 4.0 shows it as a VNI or as a 20-bit MPLS label (42 >> 4).
    let label_ok = |rows: &[&Vec<String>]| has(rows, 4, "42") || has(rows, 5, "2");
    assert!(
        has(&ours, 1, "3")
            && has(&ours, 1, "2")
            && has(&ours, 2, &br_mac)
            && has(&ours, 3, "192.168.42.1")
            && has(&ours, 6, "65000")
            && has(&ours, 7, "42")
            && has(&ours, 8, "1")
            && has(&ours, 9, "6")
            && has(&ours, 10, "fd42::1")
            && label_ok(&ours),
        "native-vtep's UPDATEs as tshark reads them: {ours:?}"
    );
    assert!(
        has(&theirs, 1, "3")
            && has(&theirs, 2, "02:00:00:00:42:09")
            && has(&theirs, 3, "192.168.42.9")
            && has(&theirs, 9, "6")
            && has(&theirs, 10, "fd42::6")
            && label_ok(&theirs),
        "GoBGP's UPDATEs as tshark reads them: {theirs:?}"
    );
    println!(
        "gob: tshark decoded {} EVPN UPDATEs from native-vtep and {} from GoBGP (route types, \
         MACs, IPv4 and IPv6 addresses, VNI 42, RT 65000:42, mobility sequence 1, PMSI \
         ingress replication)",
        ours.len(),
        theirs.len()
    );
}

/// Removes folders when dropped (the per-namespace control socket folders a test made).
struct RemoveDirs(Vec<PathBuf>);

impl Drop for RemoveDirs {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Two native-vtep leaves with the same TAP name in two namespaces, through an FRR route
/// reflector (the README's lab): each daemon gets its own default control socket, and the
/// commands run inside a namespace find that namespace's daemon without `--control`.
#[test]
fn two_native_leaves_through_frr_each_found_in_its_namespace() {
    let Some(mut f) = fabric("two", 2, &["ping", "vtysh"]) else {
        return;
    };
    let rr_ns = f.attach("rr", "10.0.0.254");
    let rr = Frr::start(
        &mut f.lab,
        &rr_ns,
        "rr",
        &bgp::reflector_conf("10.0.0.254", "10.0.0.0/24"),
    );
    let dirs = RemoveDirs(
        f.hosts
            .iter()
            .map(|h| Path::new("/run/native-vtep/netns").join(h))
            .collect(),
    );
    let ctl = |f: &Fabric, i: usize, args: &str| {
        f.lab
            .ns_run(&f.hosts[i], &format!("{} {args}", common::BIN))
    };
    for i in 0..2 {
        let extra = [
            "--no-remotes",
            "--evpn-asn",
            "65000",
            "--evpn-peer",
            "10.0.0.254",
            "--evpn-hold-time",
            "9",
            "-v",
        ];
        let args = f.native_args(i, &extra);
        let ns = f.hosts[i].clone();
        f.lab
            .spawn(&ns, &format!("leaf{}", i + 1), common::BIN, &args);
        assert!(
            wait_for(15, || ctl(&f, i, "stats").is_ok()),
            "leaf {} does not answer in its namespace:\n{}",
            i + 1,
            f.lab.all_logs()
        );
        let ip = format!("192.168.42.{}", i + 1);
        f.lab.ns_must(&ns, &format!("ip addr add {ip}/24 dev vt42"));
        assert!(
            dirs.0[i].join("vt42.sock").exists(),
            "{}",
            dirs.0[i].display()
        );
    }
    for (i, ns) in f.hosts.iter().enumerate() {
        let log = f.lab.log(&format!("leaf{}", i + 1));
        assert!(
            log.contains(&format!(
                "control socket /run/native-vtep/netns/{ns}/vt42.sock"
            )),
            "{log}"
        );
    }
    // Each leaf announces its host; the other installs it from a route.
    let script = f.lab.script("garp.py", GARP);
    for i in 0..2 {
        f.lab.ns_must(
            &f.hosts[i],
            &format!("python3 {script} vt42 192.168.42.{}", i + 1),
        );
    }
    let macs = [f.mac(0, "vt42"), f.mac(1, "vt42")];
    for i in 0..2 {
        let other = 1 - i;
        let want = format!(
            "{} dev vt42 dst 10.0.0.{} vni 42 self extern_learn peer 10.0.0.254",
            macs[other],
            other + 1
        );
        assert!(
            wait_for(15, || ctl(&f, i, "fdb show")
                .is_ok_and(|t| t.contains(&want))),
            "leaf {}: {:?}\n{}",
            i + 1,
            ctl(&f, i, "fdb show"),
            rr.vtysh("show bgp l2vpn evpn route")
        );
        let summary = ctl(&f, i, "bgp summary").unwrap();
        assert!(
            summary.contains("10.0.0.254      4      65000"),
            "{summary}"
        );
        assert!(!summary.contains("never"), "{summary}");
    }
    f.ping_ok(0, "192.168.42.2", 3);
    f.ping_ok(1, "192.168.42.1", 3);
    let routes = ctl(&f, 0, "bgp routes --vni 42").unwrap();
    assert!(
        routes.contains(&format!("*>i[2]:[0]:[48]:[{}]", macs[1]))
            && routes.contains("*> [3]:[0]:[32]:[10.0.0.1]"),
        "{routes}"
    );
    println!(
        "two: two native-vtep leaves (both TAP vt42) through FRR: each found in its namespace without --control, routes both ways, ping both ways"
    );
}
