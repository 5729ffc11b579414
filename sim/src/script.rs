//! The script: what the simulator runs, as plain data. One language for the guided scenarios
//! ([`crate::scenario`]), the playground's sandbox and everything the user does there, the
//! exported JSON and the `#script=` URL (with the `serde` feature).
//!
//! A [`Script`] is a seed, a fabric and [`Timed`] actions in time order; an [`Action`] names
//! the sites, hypervisors, hosts and apps it touches. [`Run`] applies actions to a [`Sim`], so
//! replaying a script on a fresh simulator gives the same trace.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use vtep_core::rate::RateLimit;
use vtep_core::vtep::Encapsulation;
use vtep_core::wire::{EthernetAddress, Ipv4Address, Ipv6Address};
use vtep_core::{Duration, Instant};

use crate::sim::{Family, HostSpec, arp_request};
use crate::{AppId, FabricKind, LearningMode, LinkId, LinkSpec, NodeId, Sim, SimConfig, SimError};

/// One operation on the simulator. Names refer to sites, hypervisors and hosts added before.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(tag = "op", rename_all = "snake_case")
)]
pub enum Action {
    Site {
        name: String,
    },
    /// A WAN link between two sites.
    ConnectSites {
        a: String,
        b: String,
        latency_us: u64,
    },
    Hypervisor {
        site: String,
        name: String,
    },
    /// A host with a /24 address; `None`: the simulator makes a MAC up.
    Host {
        name: String,
        hypervisor: String,
        vni: u32,
        ip: [u8; 4],
        #[cfg_attr(feature = "serde", serde(default))]
        mac: Option<[u8; 6]>,
    },
    LearningMode {
        mode: LearningMode,
    },
    Encapsulation {
        vni: u32,
        #[cfg_attr(feature = "serde", serde(with = "json::EncapsulationName"))]
        encapsulation: Encapsulation,
    },
    /// `None` removes the limit.
    RateLimit {
        vni: u32,
        bits_per_sec: Option<u64>,
    },
    UnderlayMtu {
        mtu: u16,
    },
    HostMtu {
        host: String,
        mtu: u16,
    },
    Ping {
        app: String,
        from: String,
        to: [u8; 4],
        count: u32,
        interval_ms: u64,
        size: usize,
    },
    /// ICMPv6 echo requests to an IPv6 address (`"fd00:a00::2"` in JSON); the host solicits
    /// its neighbour with IPv6 Neighbour Discovery instead of ARP.
    Ping6 {
        app: String,
        from: String,
        to: Ipv6Address,
        count: u32,
        interval_ms: u64,
        size: usize,
    },
    /// One ARP request from `from` for `to`.
    Arping {
        from: String,
        to: [u8; 4],
    },
    /// An unsolicited Neighbour Advertisement from `host` for its IPv6 address: IPv6's
    /// gratuitous ARP, so its VTEP learns the address before anyone solicits it.
    AnnounceIpv6 {
        host: String,
    },
    /// UDP datagrams to port 9000 of `to` (its IPv6 address if `ipv6`), not echoed.
    UdpFlow {
        app: String,
        from: String,
        to: String,
        count: u32,
        interval_us: u64,
        size: usize,
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "json::is_false")
        )]
        ipv6: bool,
    },
    /// A TCP bulk transfer to port 5001 of `to` (its IPv6 address if `ipv6`).
    Tcp {
        app: String,
        from: String,
        to: String,
        bytes: u64,
        #[cfg_attr(
            feature = "serde",
            serde(default, skip_serializing_if = "json::is_false")
        )]
        ipv6: bool,
    },
    Migrate {
        host: String,
        to: String,
    },
    FailHypervisor {
        name: String,
    },
    RestoreHypervisor {
        name: String,
    },
    /// The link between two named nodes (a hypervisor's uplink: the hypervisor and its site's
    /// core, `"<site>-core"`; a WAN link: the two cores).
    FailLink {
        a: String,
        b: String,
    },
    RestoreLink {
        a: String,
        b: String,
    },
    /// A BGP route reflector in `site` (BGP EVPN): every hypervisor's speaker peers with it.
    Reflector {
        site: String,
        name: String,
    },
    FailReflector {
        name: String,
    },
    RestoreReflector {
        name: String,
    },
    /// A copy of host `of` on `hypervisor`, with the same MAC and VNI and the address `ip`: a
    /// cloned VM nobody gave a new MAC.
    CloneHost {
        name: String,
        of: String,
        hypervisor: String,
        ip: [u8; 4],
    },
}

/// An action and the virtual time it happens at.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timed {
    /// Microseconds of virtual time.
    pub at_us: u64,
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub action: Action,
}

/// Everything needed to reproduce a run.
#[derive(Clone, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Script {
    /// Format marker, for imports: [`FORMAT`].
    #[cfg_attr(feature = "serde", serde(default = "json::format_name"))]
    pub format: String,
    pub seed: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    pub fabric: FabricKind,
    /// The guided scenario it started from (`"S4"`), if any.
    #[cfg_attr(feature = "serde", serde(default))]
    pub scenario: Option<String>,
    /// Where the guided part ends (microseconds), if it has an end.
    #[cfg_attr(feature = "serde", serde(default))]
    pub end_us: Option<u64>,
    /// In time order.
    pub actions: Vec<Timed>,
}

/// The value of [`Script::format`].
pub const FORMAT: &str = "overlay-lab/script-v1";

/// The simulator seed every built-in script uses.
pub const SEED: u64 = 1;

/// The instant `us` microseconds after the start.
pub fn at(us: u64) -> Instant {
    Instant::from_micros(i64::try_from(us).unwrap_or(i64::MAX))
}

impl Script {
    /// No actions yet, on `fabric`, with the built-in seed.
    pub fn new(fabric: FabricKind) -> Script {
        Script {
            format: FORMAT.to_string(),
            seed: SEED,
            fabric,
            scenario: None,
            end_us: None,
            actions: Vec::new(),
        }
    }

    /// Inserts `action` at `at_us`, after every action at the same or an earlier time; returns
    /// its index.
    pub fn insert(&mut self, at_us: u64, action: Action) -> usize {
        let i = self.actions.partition_point(|t| t.at_us <= at_us);
        self.actions.insert(i, Timed { at_us, action });
        i
    }

    /// Where the guided part ends, if the script has an end.
    pub fn end(&self) -> Option<Instant> {
        self.end_us.map(at)
    }

    /// Runs the script on a fresh simulator: each action at its time, then on to the end.
    pub fn run(&self) -> Result<Run, SimError> {
        let mut run = Run::new(self);
        for timed in &self.actions {
            let when = at(timed.at_us);
            // Actions at the same time follow each other with nothing in between.
            if when > run.sim.now() {
                run.sim.run_until(when);
            }
            run.apply(&timed.action)?;
        }
        if let Some(end) = self.end() {
            run.sim.run_until(end);
        }
        Ok(run)
    }
}

/// A script being run: the simulator and the apps by the names the actions gave them.
#[derive(Debug)]
pub struct Run {
    pub sim: Sim,
    pub apps: BTreeMap<String, AppId>,
}

fn ip(o: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(o[0], o[1], o[2], o[3])
}

fn family(ipv6: bool) -> Family {
    if ipv6 { Family::Ipv6 } else { Family::Ipv4 }
}

impl Run {
    /// A fresh simulator with the script's seed and fabric, at time zero; nothing applied.
    pub fn new(script: &Script) -> Run {
        Run {
            sim: Sim::new(SimConfig {
                seed: script.seed,
                fabric: script.fabric,
                ..SimConfig::default()
            }),
            apps: BTreeMap::new(),
        }
    }

    pub fn node(&self, name: &str) -> Result<NodeId, SimError> {
        self.sim.node_id(name)
    }

    pub fn app(&self, name: &str) -> Result<AppId, SimError> {
        self.apps
            .get(name)
            .copied()
            .ok_or_else(|| SimError::UnknownName(name.to_string()))
    }

    /// Applies one action now.
    pub fn apply(&mut self, action: &Action) -> Result<(), SimError> {
        let sim = &mut self.sim;
        match action {
            Action::Site { name } => {
                sim.add_site(name)?;
            }
            Action::ConnectSites { a, b, latency_us } => {
                let spec = LinkSpec {
                    latency: Duration::from_micros(*latency_us),
                    ..LinkSpec::wan()
                };
                sim.connect_sites(sim.site_id(a)?, sim.site_id(b)?, spec)?;
            }
            Action::Hypervisor { site, name } => {
                sim.add_hypervisor(sim.site_id(site)?, name)?;
            }
            Action::Host {
                name,
                hypervisor,
                vni,
                ip: addr,
                mac,
            } => {
                let hv = sim.node_id(hypervisor)?;
                let mut spec = HostSpec::new(name, *vni, ip(*addr));
                spec.prefix_len = 24;
                if let Some(m) = mac {
                    spec = spec.with_mac(EthernetAddress(*m));
                }
                sim.add_host(hv, spec)?;
            }
            Action::LearningMode { mode } => sim.set_learning_mode(*mode)?,
            Action::Encapsulation { vni, encapsulation } => {
                sim.set_encapsulation(*vni, *encapsulation)?;
            }
            Action::RateLimit { vni, bits_per_sec } => {
                sim.set_rate_limit(*vni, bits_per_sec.map(RateLimit::from_bits_per_sec))?;
            }
            Action::UnderlayMtu { mtu } => sim.set_underlay_mtu(*mtu)?,
            Action::HostMtu { host, mtu } => sim.set_host_mtu(sim.node_id(host)?, *mtu)?,
            Action::Ping {
                app,
                from,
                to,
                count,
                interval_ms,
                size,
            } => {
                let interval = Duration::from_millis(*interval_ms);
                let id = sim.start_ping(sim.node_id(from)?, ip(*to), *count, interval, *size)?;
                self.apps.insert(app.clone(), id);
            }
            Action::Ping6 {
                app,
                from,
                to,
                count,
                interval_ms,
                size,
            } => {
                let interval = Duration::from_millis(*interval_ms);
                let id = sim.start_ping(sim.node_id(from)?, *to, *count, interval, *size)?;
                self.apps.insert(app.clone(), id);
            }
            Action::Arping { from, to } => {
                let h = sim.node_id(from)?;
                let (mac, sender, _) = sim.host_addr(h)?;
                sim.inject_from_host(h, arp_request(mac, sender, ip(*to)))?;
            }
            Action::AnnounceIpv6 { host } => {
                sim.announce_ipv6(sim.node_id(host)?)?;
            }
            Action::UdpFlow {
                app,
                from,
                to,
                count,
                interval_us,
                size,
                ipv6,
            } => {
                let (c, s) = (sim.node_id(from)?, sim.node_id(to)?);
                let flow = (*count, Duration::from_micros(*interval_us), *size);
                let id = sim.start_udp_flow_over(family(*ipv6), c, s, 9000, flow, false)?;
                self.apps.insert(app.clone(), id);
            }
            Action::Tcp {
                app,
                from,
                to,
                bytes,
                ipv6,
            } => {
                let (c, s) = (sim.node_id(from)?, sim.node_id(to)?);
                let id = sim.start_tcp_transfer_over(family(*ipv6), c, s, 5001, *bytes)?;
                self.apps.insert(app.clone(), id);
            }
            Action::Migrate { host, to } => {
                sim.migrate_host(sim.node_id(host)?, sim.node_id(to)?)?;
            }
            Action::FailHypervisor { name } => sim.fail_hypervisor(sim.node_id(name)?)?,
            Action::RestoreHypervisor { name } => sim.restore_hypervisor(sim.node_id(name)?)?,
            Action::FailLink { a, b } => sim.fail_link(link_between(sim, a, b)?)?,
            Action::RestoreLink { a, b } => sim.restore_link(link_between(sim, a, b)?)?,
            Action::Reflector { site, name } => {
                sim.add_reflector(sim.site_id(site)?, name)?;
            }
            Action::FailReflector { name } => sim.fail_reflector(sim.node_id(name)?)?,
            Action::RestoreReflector { name } => sim.restore_reflector(sim.node_id(name)?)?,
            Action::CloneHost {
                name,
                of,
                hypervisor,
                ip: addr,
            } => {
                let original = sim.node_id(of)?;
                let (mac, _, vni) = sim.host_addr(original)?;
                let mut spec = HostSpec::new(name, vni.get(), ip(*addr)).with_mac(mac);
                spec.prefix_len = 24;
                spec.duplicate_mac = true;
                sim.add_host(sim.node_id(hypervisor)?, spec)?;
            }
        }
        Ok(())
    }
}

fn link_between(sim: &Sim, a: &str, b: &str) -> Result<LinkId, SimError> {
    let (a, b) = (sim.node_id(a)?, sim.node_id(b)?);
    sim.links()
        .iter()
        .find(|l| l.ends == [a, b] || l.ends == [b, a])
        .map(|l| l.id)
        .ok_or_else(|| SimError::BadArgument("no link between these nodes".to_string()))
}

/// How an action over IPv6 says so.
fn over(ipv6: bool) -> &'static str {
    if ipv6 { " over IPv6" } else { "" }
}

impl Action {
    /// `count` echo requests of `size` bytes from host `from` to `to`, one every `interval_ms`.
    pub fn ping(
        app: &str,
        from: &str,
        to: [u8; 4],
        count: u32,
        interval_ms: u64,
        size: usize,
    ) -> Self {
        Action::Ping {
            app: app.into(),
            from: from.into(),
            to,
            count,
            interval_ms,
            size,
        }
    }
}

impl fmt::Display for Action {
    /// A short description, for the playground's log and errors: `vm-a: ping 10.0.0.2 x3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip4 = |o: &[u8; 4]| ip(*o);
        match self {
            Action::Site { name } => write!(f, "add site {name}"),
            Action::ConnectSites { a, b, .. } => write!(f, "connect {a} and {b}"),
            Action::Hypervisor { site, name } => write!(f, "add hypervisor {name} in {site}"),
            Action::Host {
                name,
                hypervisor,
                vni,
                ip,
                ..
            } => write!(
                f,
                "add host {name} ({}, VNI {vni}) on {hypervisor}",
                ip4(ip)
            ),
            Action::LearningMode { mode } => write!(f, "learning mode: {mode}"),
            Action::Encapsulation { vni, encapsulation } => {
                write!(f, "VNI {vni} uses {encapsulation}")
            }
            Action::RateLimit { vni, bits_per_sec } => match bits_per_sec {
                Some(b) => write!(f, "limit VNI {vni} to {b} bit/s"),
                None => write!(f, "no rate limit on VNI {vni}"),
            },
            Action::UnderlayMtu { mtu } => write!(f, "underlay MTU {mtu}"),
            Action::HostMtu { host, mtu } => write!(f, "MTU of {host}: {mtu}"),
            Action::Ping {
                from, to, count, ..
            } => write!(f, "{from}: ping {} x{count}", ip4(to)),
            Action::Ping6 {
                from, to, count, ..
            } => write!(f, "{from}: ping6 {to} x{count}"),
            Action::Arping { from, to } => write!(f, "{from}: arping {}", ip4(to)),
            Action::AnnounceIpv6 { host } => {
                write!(
                    f,
                    "{host} announces its IPv6 address (unsolicited Neighbour Advertisement)"
                )
            }
            Action::UdpFlow {
                from,
                to,
                count,
                ipv6,
                ..
            } => write!(f, "{from}: {count} UDP datagrams to {to}{}", over(*ipv6)),
            Action::Tcp {
                from,
                to,
                bytes,
                ipv6,
                ..
            } => write!(f, "{from}: TCP {bytes} bytes to {to}{}", over(*ipv6)),
            Action::Migrate { host, to } => write!(f, "migrate {host} to {to}"),
            Action::FailHypervisor { name } => write!(f, "fail {name}"),
            Action::RestoreHypervisor { name } => write!(f, "restore {name}"),
            Action::FailLink { a, b } => write!(f, "fail link {a} - {b}"),
            Action::RestoreLink { a, b } => write!(f, "restore link {a} - {b}"),
            Action::Reflector { site, name } => write!(f, "add route reflector {name} in {site}"),
            Action::FailReflector { name } => write!(f, "fail route reflector {name}"),
            Action::RestoreReflector { name } => write!(f, "restore route reflector {name}"),
            Action::CloneHost {
                name,
                of,
                hypervisor,
                ip,
            } => write!(
                f,
                "clone {of} as {name} ({}, same MAC) on {hypervisor}",
                ip4(ip)
            ),
        }
    }
}

/// What the JSON form needs beyond the derives.
#[cfg(feature = "serde")]
mod json {
    use alloc::string::{String, ToString};

    use vtep_core::vtep::Encapsulation;

    /// The core's encapsulations by their JSON names (the core has no serde).
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(remote = "Encapsulation", rename_all = "snake_case")]
    pub(super) enum EncapsulationName {
        Vxlan,
        Geneve,
        Nvgre,
    }

    pub(super) fn format_name() -> String {
        super::FORMAT.to_string()
    }

    /// Fields that are off by default are left out of the JSON, so a script without IPv6 is
    /// written as before.
    pub(super) fn is_false(b: &bool) -> bool {
        !*b
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;
    use alloc::vec;

    use super::*;

    fn s(x: &str) -> String {
        x.to_string()
    }

    #[test]
    fn each_action_in_words() {
        let cases = [
            (Action::Site { name: s("dc1") }, "add site dc1"),
            (
                Action::Host {
                    name: s("vm-a"),
                    hypervisor: s("hv1"),
                    vni: 100,
                    ip: [10, 0, 0, 1],
                    mac: None,
                },
                "add host vm-a (10.0.0.1, VNI 100) on hv1",
            ),
            (
                Action::LearningMode {
                    mode: LearningMode::BgpEvpn,
                },
                "learning mode: BGP EVPN",
            ),
            (
                Action::Encapsulation {
                    vni: 200,
                    encapsulation: Encapsulation::Geneve,
                },
                "VNI 200 uses Geneve",
            ),
            (
                Action::Encapsulation {
                    vni: 300,
                    encapsulation: Encapsulation::Nvgre,
                },
                "VNI 300 uses NVGRE",
            ),
            (
                Action::RateLimit {
                    vni: 100,
                    bits_per_sec: None,
                },
                "no rate limit on VNI 100",
            ),
            (
                Action::Ping {
                    app: s("p"),
                    from: s("vm-a"),
                    to: [10, 0, 0, 2],
                    count: 3,
                    interval_ms: 10,
                    size: 56,
                },
                "vm-a: ping 10.0.0.2 x3",
            ),
            (
                Action::FailLink {
                    a: s("hv3"),
                    b: s("dc1-core"),
                },
                "fail link hv3 - dc1-core",
            ),
            (
                Action::Ping6 {
                    app: s("p6"),
                    from: s("vm-a"),
                    to: "fd00:a00::2".parse().unwrap(),
                    count: 3,
                    interval_ms: 10,
                    size: 56,
                },
                "vm-a: ping6 fd00:a00::2 x3",
            ),
            (
                Action::AnnounceIpv6 { host: s("c1") },
                "c1 announces its IPv6 address (unsolicited Neighbour Advertisement)",
            ),
            (
                Action::Tcp {
                    app: s("t6"),
                    from: s("vm-a"),
                    to: s("vm-b"),
                    bytes: 1000,
                    ipv6: true,
                },
                "vm-a: TCP 1000 bytes to vm-b over IPv6",
            ),
            (
                Action::UdpFlow {
                    app: s("u"),
                    from: s("vm-a"),
                    to: s("vm-b"),
                    count: 5,
                    interval_us: 10,
                    size: 100,
                    ipv6: false,
                },
                "vm-a: 5 UDP datagrams to vm-b",
            ),
        ];
        for (action, expect) in cases {
            assert_eq!(action.to_string(), expect);
        }
    }

    #[test]
    fn an_action_goes_after_those_at_its_time() {
        let mut script = Script::new(FabricKind::Overlay);
        for (at_us, name) in [(0, "a"), (10, "c"), (5, "b"), (10, "d"), (0, "e")] {
            script.insert(at_us, Action::Site { name: s(name) });
        }
        let order: Vec<(u64, String)> = script
            .actions
            .iter()
            .map(|t| match &t.action {
                Action::Site { name } => (t.at_us, name.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        let expect = vec![(0, "a"), (0, "e"), (5, "b"), (10, "c"), (10, "d")];
        let expect: Vec<(u64, String)> = expect.into_iter().map(|(t, n)| (t, s(n))).collect();
        assert_eq!(order, expect);
    }

    #[test]
    fn a_script_runs_to_its_end_and_names_its_apps() {
        let mut script = Script::new(FabricKind::Overlay);
        script.insert(0, Action::Site { name: s("dc1") });
        for hv in ["hv1", "hv2"] {
            let (site, name) = (s("dc1"), s(hv));
            script.insert(0, Action::Hypervisor { site, name });
        }
        for (name, hv, last) in [("vm-a", "hv1", 1), ("vm-b", "hv2", 2)] {
            script.insert(
                0,
                Action::Host {
                    name: s(name),
                    hypervisor: s(hv),
                    vni: 100,
                    ip: [10, 0, 0, last],
                    mac: None,
                },
            );
        }
        let ping = Action::ping("p", "vm-a", [10, 0, 0, 2], 2, 10, 56);
        script.insert(1000, ping);
        script.end_us = Some(200_000);
        let run = script.run().unwrap();
        assert_eq!(run.sim.now(), at(200_000));
        let report = run.sim.app_report(run.app("p").unwrap()).unwrap();
        assert_eq!((report.sent, report.replies), (2, 2));
        assert_eq!(
            run.app("nope"),
            Err(SimError::UnknownName(s("nope"))),
            "an app the script never named"
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_not_a_panic() {
        let mut run = Run::new(&Script::new(FabricKind::Overlay));
        let hv = Action::Hypervisor {
            site: s("nowhere"),
            name: s("hv1"),
        };
        assert_eq!(run.apply(&hv), Err(SimError::UnknownName(s("nowhere"))));
        let fail = Action::FailLink {
            a: s("hv1"),
            b: s("dc1-core"),
        };
        assert_eq!(run.apply(&fail), Err(SimError::UnknownName(s("hv1"))));
    }
}
