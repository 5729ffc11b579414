//! The claims S1..S10 of the source article as built-in scenarios: a title, a short narrative
//! for the reader, the steps (data the playground can show and replay), and the outcome each
//! demonstrates. [`Scenario::run`] executes the steps on a fresh [`Sim`]; the tests assert the
//! outcomes.

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use vtep_core::Duration;
use vtep_core::rate::RateLimit;
use vtep_core::vtep::Encapsulation;
use vtep_core::wire::{EthernetAddress, Ipv4Address};

use crate::sim::HostSpec;
use crate::{AppId, Fabric, LearningMode, LinkSpec, NodeId, Sim, SimConfig, SimError, SiteId};

/// One step of a scenario. Names refer to sites, hypervisors and hosts added earlier.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Step {
    Site {
        name: &'static str,
    },
    /// A WAN link between two sites.
    ConnectSites {
        a: &'static str,
        b: &'static str,
        latency_us: u64,
    },
    Hypervisor {
        site: &'static str,
        name: &'static str,
    },
    Host {
        name: &'static str,
        hypervisor: &'static str,
        vni: u32,
        ip: [u8; 4],
        mac: Option<[u8; 6]>,
    },
    LearningMode(LearningMode),
    Encapsulation {
        vni: u32,
        encapsulation: Encapsulation,
    },
    RateLimit {
        vni: u32,
        bits_per_sec: u64,
    },
    UnderlayMtu(u16),
    HostMtu {
        host: &'static str,
        mtu: u16,
    },
    Ping {
        app: &'static str,
        from: &'static str,
        to: [u8; 4],
        count: u32,
        interval_ms: u64,
        size: usize,
    },
    UdpFlow {
        app: &'static str,
        from: &'static str,
        to: &'static str,
        count: u32,
        interval_us: u64,
        size: usize,
    },
    Tcp {
        app: &'static str,
        from: &'static str,
        to: &'static str,
        bytes: u64,
    },
    Run {
        ms: u64,
    },
    Migrate {
        host: &'static str,
        to: &'static str,
    },
    FailHypervisor {
        name: &'static str,
    },
    RestoreHypervisor {
        name: &'static str,
    },
}

/// A claim of the article, as something to run.
#[derive(Clone, PartialEq, Debug)]
pub struct Scenario {
    pub id: &'static str,
    pub title: &'static str,
    pub narrative: &'static str,
    pub fabric: Fabric,
    pub steps: Vec<Step>,
    /// What the run shows (and the scenario's test asserts).
    pub outcome: &'static str,
}

/// A finished run: the simulator and the apps by the names the steps gave them.
#[derive(Debug)]
pub struct ScenarioRun {
    pub sim: Sim,
    pub apps: BTreeMap<&'static str, AppId>,
    pub sites: BTreeMap<&'static str, SiteId>,
}

impl ScenarioRun {
    pub fn node(&self, name: &str) -> Result<NodeId, SimError> {
        self.sim.node_id(name)
    }

    pub fn app(&self, name: &str) -> Result<AppId, SimError> {
        self.apps
            .get(name)
            .copied()
            .ok_or_else(|| SimError::UnknownName(name.to_string()))
    }
}

fn ip(o: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(o[0], o[1], o[2], o[3])
}

impl Scenario {
    /// Runs every step on a new simulator seeded with `seed`.
    pub fn run(&self, seed: u64) -> Result<ScenarioRun, SimError> {
        let mut run = ScenarioRun {
            sim: Sim::new(SimConfig {
                seed,
                fabric: self.fabric,
                ..SimConfig::default()
            }),
            apps: BTreeMap::new(),
            sites: BTreeMap::new(),
        };
        for step in &self.steps {
            run.apply(step)?;
        }
        Ok(run)
    }
}

impl ScenarioRun {
    /// Applies one step.
    pub fn apply(&mut self, step: &Step) -> Result<(), SimError> {
        let sim = &mut self.sim;
        match *step {
            Step::Site { name } => {
                let id = sim.add_site(name)?;
                self.sites.insert(name, id);
            }
            Step::ConnectSites { a, b, latency_us } => {
                let site = |n: &str| {
                    self.sites
                        .get(n)
                        .copied()
                        .ok_or_else(|| SimError::UnknownName(n.to_string()))
                };
                let spec = LinkSpec {
                    latency: Duration::from_micros(latency_us),
                    ..LinkSpec::wan()
                };
                sim.connect_sites(site(a)?, site(b)?, spec)?;
            }
            Step::Hypervisor { site, name } => {
                let s = self
                    .sites
                    .get(site)
                    .copied()
                    .ok_or_else(|| SimError::UnknownName(site.to_string()))?;
                sim.add_hypervisor(s, name)?;
            }
            Step::Host {
                name,
                hypervisor,
                vni,
                ip: addr,
                mac,
            } => {
                let hv = sim.node_id(hypervisor)?;
                let mut spec = HostSpec::new(name, vni, ip(addr));
                spec.prefix_len = 24;
                if let Some(m) = mac {
                    spec = spec.with_mac(EthernetAddress(m));
                }
                sim.add_host(hv, spec)?;
            }
            Step::LearningMode(mode) => sim.set_learning_mode(mode)?,
            Step::Encapsulation { vni, encapsulation } => {
                sim.set_encapsulation(vni, encapsulation)?;
            }
            Step::RateLimit { vni, bits_per_sec } => {
                sim.set_rate_limit(vni, Some(RateLimit::from_bits_per_sec(bits_per_sec)))?;
            }
            Step::UnderlayMtu(mtu) => sim.set_underlay_mtu(mtu)?,
            Step::HostMtu { host, mtu } => {
                let h = sim.node_id(host)?;
                sim.set_host_mtu(h, mtu)?;
            }
            Step::Ping {
                app,
                from,
                to,
                count,
                interval_ms,
                size,
            } => {
                let h = sim.node_id(from)?;
                let id =
                    sim.start_ping(h, ip(to), count, Duration::from_millis(interval_ms), size)?;
                self.apps.insert(app, id);
            }
            Step::UdpFlow {
                app,
                from,
                to,
                count,
                interval_us,
                size,
            } => {
                let (c, s) = (sim.node_id(from)?, sim.node_id(to)?);
                let id = sim.start_udp_flow(
                    c,
                    s,
                    9000,
                    count,
                    Duration::from_micros(interval_us),
                    size,
                    false,
                )?;
                self.apps.insert(app, id);
            }
            Step::Tcp {
                app,
                from,
                to,
                bytes,
            } => {
                let (c, s) = (sim.node_id(from)?, sim.node_id(to)?);
                let id = sim.start_tcp_transfer(c, s, 5001, bytes)?;
                self.apps.insert(app, id);
            }
            Step::Run { ms } => sim.run_for(Duration::from_millis(ms)),
            Step::Migrate { host, to } => {
                let (h, hv) = (sim.node_id(host)?, sim.node_id(to)?);
                sim.migrate_host(h, hv)?;
            }
            Step::FailHypervisor { name } => {
                let hv = sim.node_id(name)?;
                sim.fail_hypervisor(hv)?;
            }
            Step::RestoreHypervisor { name } => {
                let hv = sim.node_id(name)?;
                sim.restore_hypervisor(hv)?;
            }
        }
        Ok(())
    }
}

/// Two hypervisors in one site, a VM on each in VNI 100: the smallest overlay.
fn pair(vni: u32) -> Vec<Step> {
    vec![
        Step::Site { name: "dc1" },
        Step::Hypervisor {
            site: "dc1",
            name: "hv1",
        },
        Step::Hypervisor {
            site: "dc1",
            name: "hv2",
        },
        Step::Host {
            name: "vm-a",
            hypervisor: "hv1",
            vni,
            ip: [192, 168, 10, 1],
            mac: None,
        },
        Step::Host {
            name: "vm-b",
            hypervisor: "hv2",
            vni,
            ip: [192, 168, 10, 2],
            mac: None,
        },
    ]
}

pub fn s1() -> Scenario {
    Scenario {
        id: "S1",
        title: "An overlay is a virtual network on top of the underlay",
        narrative: "Two data centres are joined by routers. Each hypervisor has an underlay IP; \
                    its VMs live on a virtual L2 segment (VNI 100) that the VTEPs build on top. \
                    Watch an echo request leave vm-a as a plain Ethernet frame, get wrapped by \
                    hv1, cross two routers as ordinary IP, and be unwrapped by hv3.",
        fabric: Fabric::Overlay,
        steps: vec![
            Step::Site { name: "dc1" },
            Step::Site { name: "dc2" },
            Step::ConnectSites {
                a: "dc1",
                b: "dc2",
                latency_us: 2000,
            },
            Step::Hypervisor {
                site: "dc1",
                name: "hv1",
            },
            Step::Hypervisor {
                site: "dc2",
                name: "hv3",
            },
            Step::Host {
                name: "vm-a",
                hypervisor: "hv1",
                vni: 100,
                ip: [192, 168, 10, 1],
                mac: None,
            },
            Step::Host {
                name: "vm-b",
                hypervisor: "hv3",
                vni: 100,
                ip: [192, 168, 10, 2],
                mac: None,
            },
            Step::Ping {
                app: "ping",
                from: "vm-a",
                to: [192, 168, 10, 2],
                count: 5,
                interval_ms: 100,
                size: 56,
            },
            Step::Run { ms: 1000 },
        ],
        outcome: "All 5 pings are answered. Each echo request crosses 3 underlay links \
                  (hv1 -> dc1 router -> dc2 router -> hv3) as UDP/VXLAN, and vm-b receives \
                  exactly the bytes vm-a sent.",
    }
}

pub fn s2() -> Scenario {
    let mut steps = pair(100);
    steps.extend([
        Step::Ping {
            app: "ping",
            from: "vm-a",
            to: [192, 168, 10, 2],
            count: 3,
            interval_ms: 10,
            size: 56,
        },
        Step::Tcp {
            app: "tcp",
            from: "vm-a",
            to: "vm-b",
            bytes: 1_000_000,
        },
        Step::Run { ms: 2000 },
    ]);
    Scenario {
        id: "S2",
        title: "VXLAN: hosts believe they share one L2 network",
        narrative: "vm-a and vm-b are on different hypervisors, yet they ARP for each other, \
                    ping, and open a TCP connection as if on one switch. Between the \
                    hypervisors every frame travels inside Ethernet/IPv4/UDP(4789)/VXLAN; the \
                    inner frame is untouched.",
        fabric: Fabric::Overlay,
        steps,
        outcome: "ARP resolves across the VTEPs, 3 pings are answered, and a 1 MB TCP transfer \
                  completes; on the underlay every frame is VXLAN on UDP port 4789.",
    }
}

pub fn s3() -> Scenario {
    let mut steps = pair(100);
    steps.extend([
        Step::Ping {
            app: "fits",
            from: "vm-a",
            to: [192, 168, 10, 2],
            count: 3,
            interval_ms: 100,
            size: 1422,
        },
        Step::Run { ms: 500 },
        Step::HostMtu {
            host: "vm-a",
            mtu: 1500,
        },
        Step::HostMtu {
            host: "vm-b",
            mtu: 1500,
        },
        Step::Ping {
            app: "too-big",
            from: "vm-a",
            to: [192, 168, 10, 2],
            count: 3,
            interval_ms: 100,
            size: 1472,
        },
        Step::Run { ms: 1500 },
        Step::UnderlayMtu(1550),
        Step::Ping {
            app: "jumbo-underlay",
            from: "vm-a",
            to: [192, 168, 10, 2],
            count: 3,
            interval_ms: 100,
            size: 1472,
        },
        Step::Run { ms: 1500 },
    ]);
    Scenario {
        id: "S3",
        title: "Encapsulation costs 50 bytes per packet",
        narrative: "VXLAN over IPv4 adds 14 (outer Ethernet) + 20 (IPv4) + 8 (UDP) + 8 (VXLAN) \
                    = 50 bytes. With a 1500-byte underlay the VMs must use MTU 1450. Give them \
                    1500 and full-size packets no longer fit: the VTEP drops them (it must not \
                    fragment). Raise the underlay MTU to 1550 and they pass again.",
        fabric: Fabric::Overlay,
        steps,
        outcome: "1450-byte packets pass (3/3); with VM MTU 1500, 1500-byte packets are dropped \
                  by the VTEP as too_big (0/3); with underlay MTU 1550 they pass (3/3). Every \
                  VXLAN frame on the underlay is exactly 50 bytes longer than its inner frame.",
    }
}

pub fn s4() -> Scenario {
    Scenario {
        id: "S4",
        title: "Live migration keeps the VM's IP",
        narrative: "vm-c pings vm-b every 10 ms. vm-b live-migrates from hv2 to hv1: it pauses \
                    for 30 ms, resumes on hv1 with the same MAC and IP, and announces itself \
                    with a gratuitous ARP. The VTEPs learn its new place from that ARP and the \
                    pings continue.",
        fabric: Fabric::Overlay,
        steps: vec![
            Step::Site { name: "dc1" },
            Step::Hypervisor {
                site: "dc1",
                name: "hv1",
            },
            Step::Hypervisor {
                site: "dc1",
                name: "hv2",
            },
            Step::Hypervisor {
                site: "dc1",
                name: "hv3",
            },
            Step::Host {
                name: "vm-a",
                hypervisor: "hv1",
                vni: 100,
                ip: [192, 168, 10, 1],
                mac: None,
            },
            Step::Host {
                name: "vm-b",
                hypervisor: "hv2",
                vni: 100,
                ip: [192, 168, 10, 2],
                mac: None,
            },
            Step::Host {
                name: "vm-c",
                hypervisor: "hv3",
                vni: 100,
                ip: [192, 168, 10, 3],
                mac: None,
            },
            Step::Ping {
                app: "ping",
                from: "vm-c",
                to: [192, 168, 10, 2],
                count: 200,
                interval_ms: 10,
                size: 56,
            },
            Step::Run { ms: 1000 },
            Step::Migrate {
                host: "vm-b",
                to: "hv1",
            },
            Step::Run { ms: 2000 },
        ],
        outcome: "vm-b keeps 192.168.10.2; at most a handful of the 200 pings are lost (the \
                  count is reported); afterwards every other VTEP's FDB points vm-b's MAC to \
                  hv1, and hv1 has it on a local port.",
    }
}

pub fn s5() -> Scenario {
    let mut steps = vec![Step::Site { name: "dc1" }];
    let hvs = ["hv1", "hv2", "hv3", "hv4"];
    for hv in hvs {
        steps.push(Step::Hypervisor {
            site: "dc1",
            name: hv,
        });
    }
    let names = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];
    for (i, name) in names.iter().enumerate() {
        steps.push(Step::Host {
            name,
            hypervisor: hvs[i / 2],
            vni: 100,
            ip: [10, 200, 0, i as u8 + 1],
            mac: None,
        });
    }
    for (i, name) in names.iter().enumerate() {
        steps.push(Step::Ping {
            app: name,
            from: name,
            to: [10, 200, 0, ((i + 1) % names.len()) as u8 + 1],
            count: 1,
            interval_ms: 100,
            size: 56,
        });
    }
    steps.push(Step::Run { ms: 500 });
    Scenario {
        id: "S5",
        title: "Scale: where ARP floods and MAC tables go",
        narrative: "4 servers x 2 containers, each container pinging the next. In a flat L2 \
                    network every ARP request reaches every container and the core switch \
                    learns every container's MAC. With VXLAN the underlay router only sees the \
                    VTEPs; with a control plane the ARP requests never leave the server. The \
                    scale view (`scale::model`) computes the same numbers for 5000 x 100.",
        fabric: Fabric::Overlay,
        steps,
        outcome: "The event-level counts equal `scale::model` for flat L2, flood-and-learn and \
                  control plane; at 5000 x 100 the underlay holds 5000 MAC entries instead of \
                  500,000.",
    }
}

const TENANT_MAC_1: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const TENANT_MAC_2: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

pub fn s6() -> Scenario {
    Scenario {
        id: "S6",
        title: "Isolation: 24-bit VNIs, overlapping addresses",
        narrative: "Tenants red (VNI 100) and blue (VNI 200) use the very same IPs and MACs on \
                    the same two hypervisors. Each pings its own peer; the VNI keeps their \
                    frames apart. A VLAN ID has 12 bits (4094 usable networks), a VNI 24 bits \
                    (16,777,216) - as many as two stacked VLAN tags (QinQ).",
        fabric: Fabric::Overlay,
        steps: vec![
            Step::Site { name: "dc1" },
            Step::Hypervisor {
                site: "dc1",
                name: "hv1",
            },
            Step::Hypervisor {
                site: "dc1",
                name: "hv2",
            },
            Step::Host {
                name: "red-1",
                hypervisor: "hv1",
                vni: 100,
                ip: [10, 0, 0, 1],
                mac: Some(TENANT_MAC_1),
            },
            Step::Host {
                name: "red-2",
                hypervisor: "hv2",
                vni: 100,
                ip: [10, 0, 0, 2],
                mac: Some(TENANT_MAC_2),
            },
            Step::Host {
                name: "blue-1",
                hypervisor: "hv1",
                vni: 200,
                ip: [10, 0, 0, 1],
                mac: Some(TENANT_MAC_1),
            },
            Step::Host {
                name: "blue-2",
                hypervisor: "hv2",
                vni: 200,
                ip: [10, 0, 0, 2],
                mac: Some(TENANT_MAC_2),
            },
            Step::Ping {
                app: "red",
                from: "red-1",
                to: [10, 0, 0, 2],
                count: 5,
                interval_ms: 20,
                size: 56,
            },
            Step::Ping {
                app: "blue",
                from: "blue-1",
                to: [10, 0, 0, 2],
                count: 5,
                interval_ms: 20,
                size: 56,
            },
            Step::Run { ms: 500 },
        ],
        outcome: "Both tenants get all 5 replies; no frame of one tenant is ever delivered to \
                  a host of the other.",
    }
}

pub fn s7() -> Scenario {
    Scenario {
        id: "S7",
        title: "Bandwidth per virtual network",
        narrative: "Tenant red (VNI 100) is capped at 1 Mbit/s at the VTEPs; tenant blue \
                    (VNI 200) is not. Both offer 8 Mbit/s of UDP (1000-byte datagrams every \
                    millisecond) for one second across the underlay.",
        fabric: Fabric::Overlay,
        steps: vec![
            Step::Site { name: "dc1" },
            Step::Hypervisor {
                site: "dc1",
                name: "hv1",
            },
            Step::Hypervisor {
                site: "dc1",
                name: "hv2",
            },
            Step::Host {
                name: "red-1",
                hypervisor: "hv1",
                vni: 100,
                ip: [10, 0, 0, 1],
                mac: None,
            },
            Step::Host {
                name: "red-2",
                hypervisor: "hv2",
                vni: 100,
                ip: [10, 0, 0, 2],
                mac: None,
            },
            Step::Host {
                name: "blue-1",
                hypervisor: "hv1",
                vni: 200,
                ip: [10, 0, 0, 1],
                mac: None,
            },
            Step::Host {
                name: "blue-2",
                hypervisor: "hv2",
                vni: 200,
                ip: [10, 0, 0, 2],
                mac: None,
            },
            Step::RateLimit {
                vni: 100,
                bits_per_sec: 1_000_000,
            },
            Step::UdpFlow {
                app: "red",
                from: "red-1",
                to: "red-2",
                count: 1000,
                interval_us: 1000,
                size: 1000,
            },
            Step::UdpFlow {
                app: "blue",
                from: "blue-1",
                to: "blue-2",
                count: 1000,
                interval_us: 1000,
                size: 1000,
            },
            Step::Run { ms: 1500 },
        ],
        outcome: "Blue delivers all 1000 datagrams; red delivers about 1 Mbit/s worth (some \
                  130 of 1000) and the rest are dropped by its VTEP as rate_limited.",
    }
}

pub fn s8() -> Scenario {
    let mut s5 = s5();
    s5.steps
        .insert(1, Step::LearningMode(LearningMode::ControlPlane));
    // Let the routes spread before anyone talks, and ping long enough for smoltcp's one ARP
    // request per second.
    let first_ping = s5
        .steps
        .iter()
        .position(|s| matches!(s, Step::Ping { .. }))
        .unwrap_or(s5.steps.len());
    s5.steps.insert(first_ping, Step::Run { ms: 50 });
    for step in &mut s5.steps {
        if let Step::Ping {
            count, interval_ms, ..
        } = step
        {
            *count = 3;
            *interval_ms = 1500;
        }
        if let Step::Run { ms } = step
            && *ms == 500
        {
            *ms = 5000;
        }
    }
    Scenario {
        id: "S8",
        title: "A control plane cuts MAC learning and ARP flooding",
        narrative: "The same 8 containers, but the VTEPs learn nothing from traffic: a route \
                    server (EVPN-like) tells them every MAC/IP (type-2 routes) and every VTEP \
                    of the VNI (type-3), and each VTEP answers ARP requests itself.",
        fabric: Fabric::Overlay,
        steps: s5.steps,
        outcome: "Not one ARP request crosses the underlay; remote FDB entries are control-plane \
                  entries; the route server's messages are in the trace.",
    }
}

pub fn s9() -> Scenario {
    let mut steps = vec![
        Step::Site { name: "dc1" },
        Step::Hypervisor {
            site: "dc1",
            name: "hv1",
        },
        Step::Hypervisor {
            site: "dc1",
            name: "hv2",
        },
        Step::Encapsulation {
            vni: 100,
            encapsulation: Encapsulation::Vxlan,
        },
        Step::Encapsulation {
            vni: 200,
            encapsulation: Encapsulation::Geneve,
        },
        Step::Encapsulation {
            vni: 300,
            encapsulation: Encapsulation::Nvgre,
        },
    ];
    for (vni, a, b) in [
        (100, "vx-a", "vx-b"),
        (200, "gn-a", "gn-b"),
        (300, "gre-a", "gre-b"),
    ] {
        steps.push(Step::Host {
            name: a,
            hypervisor: "hv1",
            vni,
            ip: [10, 0, 0, 1],
            mac: None,
        });
        steps.push(Step::Host {
            name: b,
            hypervisor: "hv2",
            vni,
            ip: [10, 0, 0, 2],
            mac: None,
        });
        steps.push(Step::Ping {
            app: a,
            from: a,
            to: [10, 0, 0, 2],
            count: 3,
            interval_ms: 10,
            size: 56,
        });
    }
    steps.push(Step::Run { ms: 300 });
    Scenario {
        id: "S9",
        title: "VXLAN, Geneve, NVGRE",
        narrative: "Three networks on the same hypervisors, each with its own encapsulation: \
                    VXLAN (UDP 4789), Geneve (UDP 6081) and NVGRE (GRE, IP protocol 47, no \
                    UDP).",
        fabric: Fabric::Overlay,
        steps,
        outcome: "All pings are answered in each network; on the underlay the overhead is 50 \
                  bytes for VXLAN and Geneve and 42 for NVGRE.",
    }
}

pub fn s10() -> Scenario {
    Scenario {
        id: "S10",
        title: "Migration across data centres and recovery from a host failure",
        narrative: "vm-a in dc1 pings vm-b every 10 ms. vm-b moves to hv3 in dc2 (2 ms away) \
                    and keeps its IP. Then hv3 fails; vm-b is restarted on hv2 back in dc1 and \
                    is reachable again at the same address.",
        fabric: Fabric::Overlay,
        steps: vec![
            Step::Site { name: "dc1" },
            Step::Site { name: "dc2" },
            Step::ConnectSites {
                a: "dc1",
                b: "dc2",
                latency_us: 2000,
            },
            Step::Hypervisor {
                site: "dc1",
                name: "hv1",
            },
            Step::Hypervisor {
                site: "dc1",
                name: "hv2",
            },
            Step::Hypervisor {
                site: "dc2",
                name: "hv3",
            },
            Step::Host {
                name: "vm-a",
                hypervisor: "hv1",
                vni: 100,
                ip: [192, 168, 10, 1],
                mac: None,
            },
            Step::Host {
                name: "vm-b",
                hypervisor: "hv2",
                vni: 100,
                ip: [192, 168, 10, 2],
                mac: None,
            },
            Step::Ping {
                app: "ping",
                from: "vm-a",
                to: [192, 168, 10, 2],
                count: 300,
                interval_ms: 10,
                size: 56,
            },
            Step::Run { ms: 500 },
            Step::Migrate {
                host: "vm-b",
                to: "hv3",
            },
            Step::Run { ms: 1000 },
            Step::FailHypervisor { name: "hv3" },
            Step::Run { ms: 200 },
            Step::Migrate {
                host: "vm-b",
                to: "hv2",
            },
            Step::Run { ms: 1500 },
        ],
        outcome: "Pings continue across the inter-DC move with a handful lost; during the \
                  failure they are lost; after the restart on hv2 they are answered again and \
                  hv1's FDB points vm-b to hv2.",
    }
}

/// S1..S10 in order.
pub fn all() -> Vec<Scenario> {
    vec![s1(), s2(), s3(), s4(), s5(), s6(), s7(), s8(), s9(), s10()]
}
