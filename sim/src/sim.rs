//! The simulator: a virtual clock in microseconds, an event queue ordered by (time, sequence
//! number), a seeded RNG, and the dispatch of each event to the node it concerns.
//!
//! Driving it: build a topology with the `add_*` calls, start apps, then [`Sim::run_for`] /
//! [`Sim::run_until`]. Operations may be called between runs at any virtual time. Nothing
//! panics on bad input: operations return [`SimError`](crate::error::SimError).
//!
//! The rest of `Sim` lives in rooms beside this face: `model` (the node, link and site types,
//! the specs and infos, and node access), `query` (read-only views), `ops` (sites,
//! hypervisors, hosts, migration, failures), `settings` (learning mode, per-VNI settings,
//! MTUs), `apps` (ping, UDP, TCP), `datapath` (frames on links and what each node does with
//! them), `evpn` (the learning modes' tables, BGP EVPN's speakers and route reflectors) and
//! `routing` (the underlay's shortest paths).

use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::{Ordering, Reverse};

use vtep_core::vtep::Input;
use vtep_core::{Duration, Instant, Vni};

use crate::host::AppReport;
use crate::id::{AppId, HopId, NodeId};
use crate::rng::Rng;
use crate::trace::Hop;

mod apps;
mod datapath;
mod evpn;
mod model;
mod ops;
mod query;
mod routing;
mod settings;

pub use apps::Family;
pub use evpn::BgpLogEntry;
pub use model::{
    FabricKind, HostSpec, LearningMode, LinkInfo, LinkSpec, NodeInfo, NodeKind, SimConfig,
    VniSettings,
};
pub use ops::{arp_request, gratuitous_arp, unsolicited_na};
pub use query::EvpnTable;

use model::{AppInfo, Link, Node, Site};

/// What the queue holds: a frame reaching the end of its link, or a node to wake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ev {
    Arrive {
        hop: HopId,
    },
    HostWake(NodeId),
    HvWake(NodeId),
    Resume {
        host: NodeId,
        hv: NodeId,
    },
    /// A BGP agent's timers (the speaker's, its TCP stack's).
    BgpWake(NodeId),
}

#[derive(Debug)]
struct Scheduled {
    at: Instant,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The simulator. See the module documentation.
#[derive(Debug)]
pub struct Sim {
    config: SimConfig,
    now: Instant,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    rng: Rng,
    mode: LearningMode,
    nodes: Vec<Option<Node>>,
    links: Vec<Option<Link>>,
    sites: Vec<Option<Site>>,
    names: BTreeMap<String, NodeId>,
    trace: Vec<Hop>,
    apps: BTreeMap<AppId, AppInfo>,
    reports: BTreeMap<AppId, AppReport>,
    next_app: u32,
    vnis: BTreeMap<Vni, VniSettings>,
    underlay_mtu: u16,
    routes_dirty: bool,
    /// The BGP route reflectors, in the order they were added.
    reflectors: Vec<NodeId>,
    /// Sessions that came up or went down, and UPDATE errors, across the fabric.
    bgp_log: Vec<BgpLogEntry>,
    next_mac: u32,
    events_processed: u64,
    /// Reused buffer for frames handed to a VTEP (no allocation per hop).
    scratch: Vec<u8>,
}

impl Sim {
    pub fn new(config: SimConfig) -> Sim {
        Sim {
            config,
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            rng: Rng::new(config.seed),
            mode: config.learning,
            nodes: Vec::new(),
            links: Vec::new(),
            sites: Vec::new(),
            names: BTreeMap::new(),
            trace: Vec::new(),
            apps: BTreeMap::new(),
            reports: BTreeMap::new(),
            next_app: 0,
            vnis: BTreeMap::new(),
            underlay_mtu: 1500,
            routes_dirty: true,
            reflectors: Vec::new(),
            bgp_log: Vec::new(),
            next_mac: 0,
            events_processed: 0,
            scratch: Vec::new(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub fn learning_mode(&self) -> LearningMode {
        self.mode
    }

    /// Events processed so far (frame arrivals, wake-ups).
    pub fn events_processed(&self) -> u64 {
        self.events_processed
    }

    fn schedule(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        }));
    }

    /// The time of the next event, if any.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse(s)| s.at)
    }

    /// Processes every event up to and including `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) {
        while let Some(Reverse(next)) = self.queue.peek() {
            if next.at > until {
                break;
            }
            let Some(Reverse(s)) = self.queue.pop() else {
                break;
            };
            self.now = s.at;
            self.events_processed += 1;
            self.dispatch(s.ev);
        }
        if until > self.now {
            self.now = until;
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Processes one event; false when the queue is empty.
    pub fn step(&mut self) -> bool {
        let Some(Reverse(s)) = self.queue.pop() else {
            return false;
        };
        self.now = s.at;
        self.events_processed += 1;
        self.dispatch(s.ev);
        true
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Arrive { hop } => self.arrive(hop),
            Ev::HostWake(id) => {
                let due = matches!(self.host_node(id), Some(h) if h.wake_at == Some(self.now));
                if due {
                    if let Some(h) = self.host_node_mut(id) {
                        h.wake_at = None;
                    }
                    self.poll_host(id, None);
                }
            }
            Ev::HvWake(id) => {
                let now = self.now;
                let Some(hv) = self.hv_mut(id) else { return };
                if hv.wake_at != Some(now) {
                    return;
                }
                hv.wake_at = None;
                if let Some(vtep) = hv.vtep.as_mut() {
                    vtep.handle_input(now, Input::Timeout);
                }
                self.drain_vtep(id, &mut [], None, id, false);
            }
            Ev::Resume { host, hv } => self.resume_host(host, hv),
            Ev::BgpWake(id) => {
                let now = self.now;
                let up = self.node(id).is_some_and(|n| n.up);
                let Some(agent) = self.agent_mut(id) else {
                    return;
                };
                if agent.wake_at != Some(now) {
                    return;
                }
                agent.wake_at = None;
                if up {
                    self.bgp_service(id, None);
                }
            }
        }
    }
}
