//! The built-in scripts. The claims S1..S10 of the source article as guided scenarios, then
//! the BGP EVPN scenarios E1..E4 (in `scenario/evpn.rs`): a title, a short narrative for the
//! reader, the [`Script`] (data the playground shows, replays and exports) and the outcome it
//! demonstrates; [`Scenario::run`] runs the script on a fresh [`Sim`](crate::Sim) and the tests
//! assert the outcomes. Also the playground's sandbox and its load test ([`Script::sandbox`],
//! [`Script::load_test`]).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use vtep_core::vtep::Encapsulation;
use vtep_core::wire::{Ipv4Address, Ipv6Address};

use crate::host::ipv6_of;
use crate::script::{Action, Run, Script, Timed};
use crate::{FabricKind, LearningMode, SimError};

mod evpn;

pub use evpn::{CLONED_MAC, e1, e2, e3, e4, e4_two_reflectors};

/// A claim of the article, as something to run.
#[derive(Clone, PartialEq, Debug)]
pub struct Scenario {
    pub id: &'static str,
    pub title: &'static str,
    pub narrative: &'static str,
    /// What runs: the script's `scenario` is `id`, its end the end of the guided part.
    pub script: Script,
    /// What the run shows (and the scenario's test asserts).
    pub outcome: &'static str,
}

impl Scenario {
    /// Runs the script on a new simulator seeded with `seed`, to its end.
    pub fn run(&self, seed: u64) -> Result<Run, SimError> {
        Script {
            seed,
            ..self.script.clone()
        }
        .run()
    }
}

/// A script as a story is told: actions one after another, and pauses between them.
#[derive(Default)]
struct Story {
    at_us: u64,
    actions: Vec<Timed>,
}

impl Story {
    fn then(&mut self, action: Action) -> &mut Story {
        self.actions.push(Timed {
            at_us: self.at_us,
            action,
        });
        self
    }

    fn wait_ms(&mut self, ms: u64) -> &mut Story {
        self.at_us += ms * 1000;
        self
    }

    /// The script of scenario `id`: it ends after the last pause.
    fn script(&mut self, id: &str) -> Script {
        Script {
            scenario: Some(id.to_string()),
            end_us: Some(self.at_us),
            actions: core::mem::take(&mut self.actions),
            ..Script::new(FabricKind::Overlay)
        }
    }
}

fn s(x: &str) -> String {
    x.to_string()
}

fn site(name: &str) -> Action {
    Action::Site { name: s(name) }
}

fn connect(a: &str, b: &str, latency_us: u64) -> Action {
    Action::ConnectSites {
        a: s(a),
        b: s(b),
        latency_us,
    }
}

fn hypervisor(site: &str, name: &str) -> Action {
    Action::Hypervisor {
        site: s(site),
        name: s(name),
    }
}

fn host(name: &str, hypervisor: &str, vni: u32, ip: [u8; 4]) -> Action {
    host_with(name, hypervisor, vni, ip, None)
}

fn host_with(name: &str, hypervisor: &str, vni: u32, ip: [u8; 4], mac: Option<[u8; 6]>) -> Action {
    Action::Host {
        name: s(name),
        hypervisor: s(hypervisor),
        vni,
        ip,
        mac,
    }
}

/// The IPv6 address of the host with IPv4 address `ip` (every scenario's hosts are /24s).
fn ip6(ip: [u8; 4]) -> Ipv6Address {
    ipv6_of(Ipv4Address::from(ip), 24)
}

fn ping6(app: &str, from: &str, to: [u8; 4], count: u32, interval_ms: u64) -> Action {
    Action::Ping6 {
        app: s(app),
        from: s(from),
        to: ip6(to),
        count,
        interval_ms,
        size: 56,
    }
}

fn migrate(host: &str, to: &str) -> Action {
    Action::Migrate {
        host: s(host),
        to: s(to),
    }
}

fn host_mtu(host: &str, mtu: u16) -> Action {
    Action::HostMtu { host: s(host), mtu }
}

fn udp_flow(app: &str, from: &str, to: &str) -> Action {
    // 1000-byte datagrams every millisecond for a second: 8 Mbit/s.
    Action::UdpFlow {
        app: s(app),
        from: s(from),
        to: s(to),
        count: 1000,
        interval_us: 1000,
        size: 1000,
        ipv6: false,
    }
}

/// Two hypervisors in one site, a VM on each in VNI `vni`: the smallest overlay.
fn pair(vni: u32) -> Story {
    let mut story = Story::default();
    story
        .then(site("dc1"))
        .then(hypervisor("dc1", "hv1"))
        .then(hypervisor("dc1", "hv2"))
        .then(host("vm-a", "hv1", vni, [192, 168, 10, 1]))
        .then(host("vm-b", "hv2", vni, [192, 168, 10, 2]));
    story
}

/// Two sites, dc1 and dc2, joined by a WAN link of `latency_us`.
fn two_sites(latency_us: u64) -> Story {
    let mut story = Story::default();
    story
        .then(site("dc1"))
        .then(site("dc2"))
        .then(connect("dc1", "dc2", latency_us));
    story
}

pub fn s1() -> Scenario {
    let script = two_sites(2000)
        .then(hypervisor("dc1", "hv1"))
        .then(hypervisor("dc2", "hv3"))
        .then(host("vm-a", "hv1", 100, [192, 168, 10, 1]))
        .then(host("vm-b", "hv3", 100, [192, 168, 10, 2]))
        .then(Action::ping("ping", "vm-a", [192, 168, 10, 2], 5, 100, 56))
        .wait_ms(1000)
        .script("S1");
    Scenario {
        id: "S1",
        title: "An overlay is a virtual network on top of the underlay",
        narrative: "Two data centres are joined by routers. Each hypervisor has an underlay IP; \
                    its VMs live on a virtual L2 segment (VNI 100) that the VTEPs build on top. \
                    Watch an echo request leave vm-a as a plain Ethernet frame, get wrapped by \
                    hv1, cross two routers as ordinary IP, and be unwrapped by hv3.",
        script,
        outcome: "All 5 pings are answered. Each echo request crosses 3 underlay links \
                  (hv1 -> dc1 router -> dc2 router -> hv3) as UDP/VXLAN, and vm-b receives \
                  exactly the bytes vm-a sent.",
    }
}

/// When S2's IPv6 step starts (µs): the IPv4 part is over.
pub const S2_IPV6_AT_US: u64 = 2_000_000;

pub fn s2() -> Scenario {
    let tcp = |app: &str, ipv6| Action::Tcp {
        app: s(app),
        from: s("vm-a"),
        to: s("vm-b"),
        bytes: 1_000_000,
        ipv6,
    };
    let b = [192, 168, 10, 2];
    let script = pair(100)
        .then(Action::ping("ping", "vm-a", b, 3, 10, 56))
        .then(tcp("tcp", false))
        .wait_ms(S2_IPV6_AT_US / 1000)
        .then(ping6("ping6", "vm-a", b, 3, 10))
        .then(tcp("tcp6", true))
        .wait_ms(2000)
        .script("S2");
    Scenario {
        id: "S2",
        title: "VXLAN: hosts believe they share one L2 network",
        narrative: "vm-a and vm-b are on different hypervisors, yet they ARP for each other, \
                    ping, and open a TCP connection as if on one switch. Between the \
                    hypervisors every frame travels inside Ethernet/IPv4/UDP(4789)/VXLAN; the \
                    inner frame is untouched. At 2 s they do it again over IPv6 \
                    (fd00:c0a8:a00::1 and ::2): instead of ARP, vm-a sends a Neighbour \
                    Solicitation to vm-b's solicited-node multicast group, which the VTEP \
                    floods like any multicast (flood and learn), and vm-b answers with a \
                    Neighbour Advertisement.",
        script,
        outcome: "ARP resolves across the VTEPs, 3 pings are answered, and a 1 MB TCP transfer \
                  completes; over IPv6 the Neighbour Solicitation is flooded to the other VTEP, \
                  3 ping6s are answered and another 1 MB goes over TCP; on the underlay every \
                  frame is VXLAN on UDP port 4789.",
    }
}

pub fn s3() -> Scenario {
    let b = [192, 168, 10, 2];
    let script = pair(100)
        .then(Action::ping("fits", "vm-a", b, 3, 100, 1422))
        .wait_ms(500)
        .then(host_mtu("vm-a", 1500))
        .then(host_mtu("vm-b", 1500))
        .then(Action::ping("too-big", "vm-a", b, 3, 100, 1472))
        .wait_ms(1500)
        .then(Action::UnderlayMtu { mtu: 1550 })
        .then(Action::ping("jumbo-underlay", "vm-a", b, 3, 100, 1472))
        .wait_ms(1500)
        .script("S3");
    Scenario {
        id: "S3",
        title: "Encapsulation costs 50 bytes per packet",
        narrative: "VXLAN over IPv4 adds 14 (outer Ethernet) + 20 (IPv4) + 8 (UDP) + 8 (VXLAN) \
                    = 50 bytes. With a 1500-byte underlay the VMs must use MTU 1450. Give them \
                    1500 and full-size packets no longer fit: the VTEP drops them (it must not \
                    fragment). Raise the underlay MTU to 1550 and they pass again.",
        script,
        outcome: "1450-byte packets pass (3/3); with VM MTU 1500, 1500-byte packets are dropped \
                  by the VTEP as too_big (0/3); with underlay MTU 1550 they pass (3/3). Every \
                  VXLAN frame on the underlay is exactly 50 bytes longer than its inner frame.",
    }
}

/// S4's migration (E2's under BGP EVPN): on `fabric`'s hv1, hv2 and hv3, vm-c pings vm-b
/// every 10 ms from `settle_ms` on, and a second later vm-b moves from hv2 to hv1.
fn migration(fabric: &mut Story, settle_ms: u64, id: &str) -> Script {
    fabric
        .then(host("vm-a", "hv1", 100, [192, 168, 10, 1]))
        .then(host("vm-b", "hv2", 100, [192, 168, 10, 2]))
        .then(host("vm-c", "hv3", 100, [192, 168, 10, 3]))
        .wait_ms(settle_ms)
        .then(Action::ping("ping", "vm-c", [192, 168, 10, 2], 200, 10, 56))
        .wait_ms(1000)
        .then(migrate("vm-b", "hv1"))
        .wait_ms(2000)
        .script(id)
}

pub fn s4() -> Scenario {
    let mut fabric = Story::default();
    fabric.then(site("dc1"));
    for hv in ["hv1", "hv2", "hv3"] {
        fabric.then(hypervisor("dc1", hv));
    }
    let script = migration(&mut fabric, 0, "S4");
    Scenario {
        id: "S4",
        title: "Live migration keeps the VM's IP",
        narrative: "vm-c pings vm-b every 10 ms. vm-b live-migrates from hv2 to hv1: it pauses \
                    for 30 ms, resumes on hv1 with the same MAC and IP, and announces itself \
                    with a gratuitous ARP. The VTEPs learn its new place from that ARP and the \
                    pings continue.",
        script,
        outcome: "vm-b keeps 192.168.10.2; at most a handful of the 200 pings are lost (the \
                  count is reported); afterwards every other VTEP's FDB points vm-b's MAC to \
                  hv1, and hv1 has it on a local port.",
    }
}

/// S5 and S8: 4 servers x 2 containers in VNI 100, each container pinging the next, with
/// flood and learn or with the control plane.
fn containers(control_plane: bool) -> Story {
    let mut story = Story::default();
    story.then(site("dc1"));
    if control_plane {
        story.then(Action::LearningMode {
            mode: LearningMode::BgpEvpn,
        });
    }
    let hvs = ["hv1", "hv2", "hv3", "hv4"];
    for hv in hvs {
        story.then(hypervisor("dc1", hv));
    }
    let names = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];
    for (i, name) in names.iter().enumerate() {
        story.then(host(name, hvs[i / 2], 100, [10, 200, 0, i as u8 + 1]));
    }
    // With the control plane, let the routes spread before anyone talks, and ping long
    // enough for smoltcp's one ARP request per second.
    let (count, interval_ms, run_ms) = if control_plane {
        story.wait_ms(50);
        (3, 1500, 5000)
    } else {
        (1, 100, 500)
    };
    for (i, name) in names.iter().enumerate() {
        let next = [10, 200, 0, ((i + 1) % names.len()) as u8 + 1];
        story.then(Action::ping(name, name, next, count, interval_ms, 56));
    }
    story.wait_ms(run_ms);
    story
}

/// S8's IPv6 step: each container announces its IPv6 address (an unsolicited Neighbour
/// Advertisement, which its VTEP learns and advertises as a MAC/IP route with a 128-bit IP),
/// then pings the next one's over IPv6 (apps `c1-6` ...).
fn containers_ipv6(story: &mut Story) {
    let names = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];
    for name in names {
        story.then(Action::AnnounceIpv6 { host: s(name) });
    }
    story.wait_ms(50);
    for (i, name) in names.iter().enumerate() {
        let next = [10, 200, 0, ((i + 1) % names.len()) as u8 + 1];
        story.then(ping6(&format!("{name}-6"), name, next, 3, 1500));
    }
    story.wait_ms(5000);
}

pub fn s5() -> Scenario {
    Scenario {
        id: "S5",
        title: "Scale: where ARP floods and MAC tables go",
        narrative: "4 servers x 2 containers, each container pinging the next. In a flat L2 \
                    network every ARP request reaches every container and the core switch \
                    learns every container's MAC. With VXLAN the underlay router only sees the \
                    VTEPs; with a control plane the ARP requests never leave the server. The \
                    scale view (`scale::model`) computes the same numbers for 5000 x 100.",
        script: containers(false).script("S5"),
        outcome: "The event-level counts equal `scale::model` for flat L2, flood-and-learn and \
                  control plane; at 5000 x 100 the underlay holds 5000 MAC entries instead of \
                  500,000.",
    }
}

const TENANT_MAC_1: Option<[u8; 6]> = Some([0x02, 0, 0, 0, 0, 0x01]);
const TENANT_MAC_2: Option<[u8; 6]> = Some([0x02, 0, 0, 0, 0, 0x02]);

pub fn s6() -> Scenario {
    let (one, two) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let script = Story::default()
        .then(site("dc1"))
        .then(hypervisor("dc1", "hv1"))
        .then(hypervisor("dc1", "hv2"))
        .then(host_with("red-1", "hv1", 100, one, TENANT_MAC_1))
        .then(host_with("red-2", "hv2", 100, two, TENANT_MAC_2))
        .then(host_with("blue-1", "hv1", 200, one, TENANT_MAC_1))
        .then(host_with("blue-2", "hv2", 200, two, TENANT_MAC_2))
        .then(Action::ping("red", "red-1", two, 5, 20, 56))
        .then(Action::ping("blue", "blue-1", two, 5, 20, 56))
        .wait_ms(500)
        .script("S6");
    Scenario {
        id: "S6",
        title: "Isolation: 24-bit VNIs, overlapping addresses",
        narrative: "Tenants red (VNI 100) and blue (VNI 200) use the very same IPs and MACs on \
                    the same two hypervisors. Each pings its own peer; the VNI keeps their \
                    frames apart. A VLAN ID has 12 bits (4094 usable networks), a VNI 24 bits \
                    (16,777,216) - as many as two stacked VLAN tags (QinQ).",
        script,
        outcome: "Both tenants get all 5 replies; no frame of one tenant is ever delivered to \
                  a host of the other.",
    }
}

pub fn s7() -> Scenario {
    let script = Story::default()
        .then(site("dc1"))
        .then(hypervisor("dc1", "hv1"))
        .then(hypervisor("dc1", "hv2"))
        .then(host("red-1", "hv1", 100, [10, 0, 0, 1]))
        .then(host("red-2", "hv2", 100, [10, 0, 0, 2]))
        .then(host("blue-1", "hv1", 200, [10, 0, 0, 1]))
        .then(host("blue-2", "hv2", 200, [10, 0, 0, 2]))
        .then(Action::RateLimit {
            vni: 100,
            bits_per_sec: Some(1_000_000),
        })
        .then(udp_flow("red", "red-1", "red-2"))
        .then(udp_flow("blue", "blue-1", "blue-2"))
        .wait_ms(1500)
        .script("S7");
    Scenario {
        id: "S7",
        title: "Bandwidth per virtual network",
        narrative: "Tenant red (VNI 100) is capped at 1 Mbit/s at the VTEPs; tenant blue \
                    (VNI 200) is not. Both offer 8 Mbit/s of UDP (1000-byte datagrams every \
                    millisecond) for one second across the underlay.",
        script,
        outcome: "Blue delivers all 1000 datagrams; red delivers about 1 Mbit/s worth (some \
                  130 of 1000) and the rest are dropped by its VTEP as rate_limited.",
    }
}

pub fn s8() -> Scenario {
    let mut story = containers(true);
    containers_ipv6(&mut story);
    Scenario {
        id: "S8",
        title: "A control plane cuts MAC learning and ARP flooding",
        narrative: "The same 8 containers, but the VTEPs learn nothing from the underlay: each \
                    hypervisor runs a BGP EVPN speaker with an iBGP session over TCP (port 179) \
                    to the route reflector rr1. A container announces itself when it comes up; \
                    its VTEP learns its MAC and IP and advertises them as type-2 routes, which \
                    rr1 reflects to every other VTEP, and type-3 routes build the flood lists. \
                    The sessions take a TCP handshake and an OPEN and KEEPALIVE each way (well \
                    under a millisecond here) before the first UPDATE; then each VTEP answers \
                    ARP requests itself. At 5 s the containers do it over IPv6: each announces \
                    its address with an unsolicited Neighbour Advertisement (IPv6's gratuitous \
                    ARP), its VTEP advertises it in a MAC/IP route with a 128-bit IP, and each \
                    VTEP answers the Neighbour Solicitations of its containers itself (ND \
                    suppression).",
        script: story.script("S8"),
        outcome: "Not one ARP request crosses the underlay; remote FDB entries are control-plane \
                  entries installed from BGP routes; the sessions' OPEN, KEEPALIVE and UPDATE \
                  messages are in the trace and the pcap export. Over IPv6 not one Neighbour \
                  Solicitation crosses the underlay: the VTEPs answer them from the routes.",
    }
}

pub fn s9() -> Scenario {
    let mut story = Story::default();
    story
        .then(site("dc1"))
        .then(hypervisor("dc1", "hv1"))
        .then(hypervisor("dc1", "hv2"));
    let networks = [
        (100, Encapsulation::Vxlan, "vx-a", "vx-b"),
        (200, Encapsulation::Geneve, "gn-a", "gn-b"),
        (300, Encapsulation::Nvgre, "gre-a", "gre-b"),
    ];
    for (vni, encapsulation, _, _) in networks {
        story.then(Action::Encapsulation { vni, encapsulation });
    }
    for (vni, _, a, b) in networks {
        story
            .then(host(a, "hv1", vni, [10, 0, 0, 1]))
            .then(host(b, "hv2", vni, [10, 0, 0, 2]))
            .then(Action::ping(a, a, [10, 0, 0, 2], 3, 10, 56));
    }
    Scenario {
        id: "S9",
        title: "VXLAN, Geneve, NVGRE",
        narrative: "Three networks on the same hypervisors, each with its own encapsulation: \
                    VXLAN (UDP 4789), Geneve (UDP 6081) and NVGRE (GRE, IP protocol 47, no \
                    UDP).",
        script: story.wait_ms(300).script("S9"),
        outcome: "All pings are answered in each network; on the underlay the overhead is 50 \
                  bytes for VXLAN and Geneve and 42 for NVGRE.",
    }
}

pub fn s10() -> Scenario {
    let script = two_sites(2000)
        .then(hypervisor("dc1", "hv1"))
        .then(hypervisor("dc1", "hv2"))
        .then(hypervisor("dc2", "hv3"))
        .then(host("vm-a", "hv1", 100, [192, 168, 10, 1]))
        .then(host("vm-b", "hv2", 100, [192, 168, 10, 2]))
        .then(Action::ping("ping", "vm-a", [192, 168, 10, 2], 300, 10, 56))
        .wait_ms(500)
        .then(migrate("vm-b", "hv3"))
        .wait_ms(1000)
        .then(Action::FailHypervisor { name: s("hv3") })
        .wait_ms(200)
        .then(migrate("vm-b", "hv2"))
        .wait_ms(1500)
        .script("S10");
    Scenario {
        id: "S10",
        title: "Migration across data centres and recovery from a host failure",
        narrative: "vm-a in dc1 pings vm-b every 10 ms. vm-b moves to hv3 in dc2 (2 ms away) \
                    and keeps its IP. Then hv3 fails; vm-b is restarted on hv2 back in dc1 and \
                    is reachable again at the same address.",
        script,
        outcome: "Pings continue across the inter-DC move with a handful lost; during the \
                  failure they are lost; after the restart on hv2 they are answered again and \
                  hv1's FDB points vm-b to hv2.",
    }
}

/// S1..S10, then E1..E4, in order.
pub fn all() -> Vec<Scenario> {
    let mut all = vec![s1(), s2(), s3(), s4(), s5(), s6(), s7(), s8(), s9(), s10()];
    all.extend(evpn::all());
    all
}

impl Script {
    /// The playground's sandbox: two sites, two hypervisors each, two tenants; nothing
    /// running, no end.
    pub fn sandbox() -> Script {
        let mut story = two_sites(2000);
        for (site, hv) in [
            ("dc1", "hv1"),
            ("dc1", "hv2"),
            ("dc2", "hv3"),
            ("dc2", "hv4"),
        ] {
            story.then(hypervisor(site, hv));
        }
        for (i, (name, hv, vni)) in [
            ("red-1", "hv1", 100),
            ("blue-1", "hv1", 200),
            ("red-2", "hv2", 100),
            ("red-3", "hv3", 100),
            ("blue-2", "hv4", 200),
        ]
        .into_iter()
        .enumerate()
        {
            let last = i as u8 + if vni == 100 { 1 } else { 101 };
            story.then(host(name, hv, vni, [10, 0, 0, last]));
        }
        Script {
            actions: story.actions,
            ..Script::new(FabricKind::Overlay)
        }
    }

    /// The load test of the bench: 2 sites x 8 hypervisors x 4 hosts (64 hosts, 4 tenants),
    /// every host pinging a host of its tenant on another hypervisor every 20 ms; no end.
    pub fn load_test() -> Script {
        Script::load(false)
    }

    /// [`Script::load_test`] under BGP EVPN: a route reflector in dc1 and a speaker on every
    /// hypervisor; the pings start once the routes are in (50 ms).
    pub fn load_test_evpn() -> Script {
        Script::load(true)
    }

    fn load(evpn: bool) -> Script {
        let mut story = two_sites(500);
        if evpn {
            story.then(Action::LearningMode {
                mode: LearningMode::BgpEvpn,
            });
        }
        for i in 0..16 {
            let site = if i < 8 { "dc1" } else { "dc2" };
            story.then(hypervisor(site, &format!("hv{}", i + 1)));
        }
        for i in 0..64u32 {
            let (hv, tenant) = (i / 4, i % 4);
            let name = format!("h{}", i + 1);
            let ip = [10, tenant as u8, 0, hv as u8 + 1];
            story.then(host(
                &name,
                &format!("hv{}", hv + 1),
                100 + tenant * 100,
                ip,
            ));
        }
        if evpn {
            story.wait_ms(50);
        }
        for i in 0..64u32 {
            let (hv, tenant) = (i / 4, i % 4);
            let peer = [10, tenant as u8, 0, ((hv + 5) % 16) as u8 + 1];
            let (app, from) = (format!("p{}", i + 1), format!("h{}", i + 1));
            story.then(Action::ping(&app, &from, peer, 100_000, 20, 56));
        }
        Script {
            scenario: Some(s(if evpn { "load-evpn" } else { "load" })),
            actions: story.actions,
            ..Script::new(FabricKind::Overlay)
        }
    }
}
