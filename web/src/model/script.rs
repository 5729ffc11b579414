//! The script: what the simulator runs, as plain, serialisable data. A guided scenario becomes
//! a script (its `Run` steps turn into the times of the other steps); every action the user
//! takes in the playground is appended at the current virtual time. Replaying a script on a
//! fresh simulator with the same seed gives the same trace, so a script is also the exported
//! JSON, the URL and the way "step back" works.

use serde::{Deserialize, Serialize};
use vtep_core::vtep::Encapsulation;
use vtep_sim::scenario::{Scenario, Step};
use vtep_sim::{Fabric, LearningMode};

/// How VTEPs learn remote MACs (serialisable mirror of [`LearningMode`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    FloodAndLearn,
    ControlPlane,
}

impl From<Mode> for LearningMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::FloodAndLearn => LearningMode::FloodAndLearn,
            Mode::ControlPlane => LearningMode::ControlPlane,
        }
    }
}

impl From<LearningMode> for Mode {
    fn from(m: LearningMode) -> Self {
        match m {
            LearningMode::FloodAndLearn => Mode::FloodAndLearn,
            LearningMode::ControlPlane => Mode::ControlPlane,
        }
    }
}

/// The encapsulation of a virtual network (serialisable mirror of [`Encapsulation`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encap {
    Vxlan,
    Geneve,
    Nvgre,
}

impl From<Encap> for Encapsulation {
    fn from(e: Encap) -> Self {
        match e {
            Encap::Vxlan => Encapsulation::Vxlan,
            Encap::Geneve => Encapsulation::Geneve,
            Encap::Nvgre => Encapsulation::Nvgre,
        }
    }
}

impl From<Encapsulation> for Encap {
    fn from(e: Encapsulation) -> Self {
        match e {
            Encapsulation::Vxlan => Encap::Vxlan,
            Encapsulation::Geneve => Encap::Geneve,
            Encapsulation::Nvgre => Encap::Nvgre,
        }
    }
}

/// The network design (serialisable mirror of [`Fabric`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FabricKind {
    #[default]
    Overlay,
    FlatL2,
}

impl From<FabricKind> for Fabric {
    fn from(f: FabricKind) -> Self {
        match f {
            FabricKind::Overlay => Fabric::Overlay,
            FabricKind::FlatL2 => Fabric::FlatL2,
        }
    }
}

/// One operation on the simulator. Names refer to sites, hypervisors and hosts added before.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Action {
    Site {
        name: String,
    },
    ConnectSites {
        a: String,
        b: String,
        latency_us: u64,
    },
    Hypervisor {
        site: String,
        name: String,
    },
    Host {
        name: String,
        hypervisor: String,
        vni: u32,
        ip: [u8; 4],
        #[serde(default)]
        mac: Option<[u8; 6]>,
    },
    LearningMode {
        mode: Mode,
    },
    Encapsulation {
        vni: u32,
        encapsulation: Encap,
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
    /// One ARP request from `from` for `to`.
    Arping {
        from: String,
        to: [u8; 4],
    },
    UdpFlow {
        app: String,
        from: String,
        to: String,
        count: u32,
        interval_us: u64,
        size: usize,
    },
    Tcp {
        app: String,
        from: String,
        to: String,
        bytes: u64,
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
    /// router, `"<site>-router"`; a WAN link: the two routers).
    FailLink {
        a: String,
        b: String,
    },
    RestoreLink {
        a: String,
        b: String,
    },
}

/// An action and the virtual time it happens at.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Timed {
    /// Microseconds of virtual time.
    pub at_us: u64,
    #[serde(flatten)]
    pub action: Action,
}

/// Everything needed to reproduce a run.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Script {
    /// Format marker, for imports.
    #[serde(default = "format_name")]
    pub format: String,
    pub seed: u64,
    #[serde(default)]
    pub fabric: FabricKind,
    /// The guided scenario it started from (`"S4"`), if any.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Where the guided part ends (microseconds), if it has an end.
    #[serde(default)]
    pub end_us: Option<u64>,
    pub actions: Vec<Timed>,
}

fn format_name() -> String {
    FORMAT.to_string()
}

/// The value of [`Script::format`].
pub const FORMAT: &str = "overlay-lab/script-v1";

/// The simulator seed every built-in script uses.
pub const SEED: u64 = 1;

fn s(x: &str) -> String {
    x.to_string()
}

impl Action {
    /// The action of a scenario step (`None` for `Run`, which is time, not an action).
    pub fn from_step(step: &Step) -> Option<Action> {
        Some(match *step {
            Step::Site { name } => Action::Site { name: s(name) },
            Step::ConnectSites { a, b, latency_us } => Action::ConnectSites {
                a: s(a),
                b: s(b),
                latency_us,
            },
            Step::Hypervisor { site, name } => Action::Hypervisor {
                site: s(site),
                name: s(name),
            },
            Step::Host {
                name,
                hypervisor,
                vni,
                ip,
                mac,
            } => Action::Host {
                name: s(name),
                hypervisor: s(hypervisor),
                vni,
                ip,
                mac,
            },
            Step::LearningMode(m) => Action::LearningMode { mode: m.into() },
            Step::Encapsulation { vni, encapsulation } => Action::Encapsulation {
                vni,
                encapsulation: encapsulation.into(),
            },
            Step::RateLimit { vni, bits_per_sec } => Action::RateLimit {
                vni,
                bits_per_sec: Some(bits_per_sec),
            },
            Step::UnderlayMtu(mtu) => Action::UnderlayMtu { mtu },
            Step::HostMtu { host, mtu } => Action::HostMtu { host: s(host), mtu },
            Step::Ping {
                app,
                from,
                to,
                count,
                interval_ms,
                size,
            } => Action::Ping {
                app: s(app),
                from: s(from),
                to,
                count,
                interval_ms,
                size,
            },
            Step::UdpFlow {
                app,
                from,
                to,
                count,
                interval_us,
                size,
            } => Action::UdpFlow {
                app: s(app),
                from: s(from),
                to: s(to),
                count,
                interval_us,
                size,
            },
            Step::Tcp {
                app,
                from,
                to,
                bytes,
            } => Action::Tcp {
                app: s(app),
                from: s(from),
                to: s(to),
                bytes,
            },
            Step::Run { .. } => return None,
            Step::Migrate { host, to } => Action::Migrate {
                host: s(host),
                to: s(to),
            },
            Step::FailHypervisor { name } => Action::FailHypervisor { name: s(name) },
            Step::RestoreHypervisor { name } => Action::RestoreHypervisor { name: s(name) },
        })
    }
}

impl Script {
    /// A guided scenario as a script: `Run` steps become the times of what follows them.
    pub fn from_scenario(scenario: &Scenario) -> Script {
        let mut at_us = 0;
        let mut actions = Vec::new();
        for step in &scenario.steps {
            if let Step::Run { ms } = step {
                at_us += ms * 1000;
            } else if let Some(action) = Action::from_step(step) {
                actions.push(Timed { at_us, action });
            }
        }
        Script {
            format: format_name(),
            seed: SEED,
            fabric: match scenario.fabric {
                Fabric::Overlay => FabricKind::Overlay,
                Fabric::FlatL2 => FabricKind::FlatL2,
            },
            scenario: Some(scenario.id.to_string()),
            end_us: Some(at_us),
            actions,
        }
    }

    /// The sandbox: two sites, two hypervisors each, two tenants; nothing running.
    pub fn sandbox() -> Script {
        let mut actions = vec![
            Action::Site { name: s("dc1") },
            Action::Site { name: s("dc2") },
            Action::ConnectSites {
                a: s("dc1"),
                b: s("dc2"),
                latency_us: 2000,
            },
        ];
        for (site, hv) in [
            ("dc1", "hv1"),
            ("dc1", "hv2"),
            ("dc2", "hv3"),
            ("dc2", "hv4"),
        ] {
            actions.push(Action::Hypervisor {
                site: s(site),
                name: s(hv),
            });
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
            let last = if vni == 100 {
                1 + i as u8
            } else {
                101 + i as u8
            };
            actions.push(Action::Host {
                name: s(name),
                hypervisor: s(hv),
                vni,
                ip: [10, 0, 0, last],
                mac: None,
            });
        }
        Script {
            format: format_name(),
            seed: SEED,
            fabric: FabricKind::Overlay,
            scenario: None,
            end_us: None,
            actions: actions
                .into_iter()
                .map(|action| Timed { at_us: 0, action })
                .collect(),
        }
    }

    /// The load test of the bench: 2 sites x 8 hypervisors x 4 hosts (64 hosts, 4 tenants),
    /// every host pinging a host of its tenant on another hypervisor every 20 ms.
    pub fn load_test() -> Script {
        let mut actions = vec![
            Action::Site { name: s("dc1") },
            Action::Site { name: s("dc2") },
            Action::ConnectSites {
                a: s("dc1"),
                b: s("dc2"),
                latency_us: 500,
            },
        ];
        for i in 0..16 {
            actions.push(Action::Hypervisor {
                site: s(if i < 8 { "dc1" } else { "dc2" }),
                name: format!("hv{}", i + 1),
            });
        }
        for i in 0..64u32 {
            let (hv, tenant) = (i / 4, i % 4);
            actions.push(Action::Host {
                name: format!("h{}", i + 1),
                hypervisor: format!("hv{}", hv + 1),
                vni: 100 + tenant * 100,
                ip: [10, tenant as u8, 0, hv as u8 + 1],
                mac: None,
            });
        }
        for i in 0..64u32 {
            let (hv, tenant) = (i / 4, i % 4);
            let peer = (hv + 5) % 16;
            actions.push(Action::Ping {
                app: format!("p{}", i + 1),
                from: format!("h{}", i + 1),
                to: [10, tenant as u8, 0, peer as u8 + 1],
                count: 100_000,
                interval_ms: 20,
                size: 56,
            });
        }
        Script {
            format: format_name(),
            seed: SEED,
            fabric: FabricKind::Overlay,
            scenario: Some("load".to_string()),
            end_us: None,
            actions: actions
                .into_iter()
                .map(|action| Timed { at_us: 0, action })
                .collect(),
        }
    }

    /// Inserts `action` at `at_us`, after every action at the same or an earlier time.
    pub fn insert(&mut self, at_us: u64, action: Action) -> usize {
        let i = self.actions.partition_point(|t| t.at_us <= at_us);
        self.actions.insert(i, Timed { at_us, action });
        i
    }
}
