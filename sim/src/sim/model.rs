//! The model: what the simulator is made of. The public specs and infos (fabric, learning
//! mode, link and host specs, node and link summaries), the nodes' private state (routers,
//! hypervisors with their VTEP or bridge and BGP agent, hosts, switches, route reflectors),
//! links and sites, and `Sim`'s access to them by id.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use vtep_core::rate::RateLimit;
use vtep_core::vtep::{Encapsulation, Vtep};
use vtep_core::wire::outer::MAX_HEADROOM;
use vtep_core::wire::{EthernetAddress, Ipv4Address};
use vtep_core::{Duration, Instant, Vni};
use vtep_core::{Mac, PortId};

use super::Sim;
use crate::agent::Agent;
use crate::error::SimError;
use crate::host::Host;
use crate::id::{LinkId, NodeId, SiteId};

/// The kind of network: an overlay (VTEPs on hypervisors, routed underlay) or the flat-L2
/// baseline (hypervisors are plain bridges, sites are core switches, all hosts share one
/// broadcast domain). (`Fabric` alone names the test harnesses' wired-up VTEPs.)
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum FabricKind {
    #[default]
    Overlay,
    FlatL2,
}

/// How VTEPs find remote MACs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum LearningMode {
    /// Static head-end replication lists, data-plane learning, ARP flooded.
    #[default]
    FloodAndLearn,
    /// The operator's static entries: whoever places a VM writes its MAC and IP into every
    /// VTEP of its VNI (`bridge fdb add ... static`, `ip neigh add`), at once and without a
    /// message on the wire; learning off, ARP answered by the VTEP.
    Static,
    /// BGP EVPN: every hypervisor runs a `vtep-evpn` speaker with iBGP sessions over TCP to
    /// the route reflectors; type-2 routes carry MACs and IPs, type-3 routes build the flood
    /// lists; learning from the underlay off, ARP answered by the VTEP. (Scripts saved before
    /// it existed named its forerunner, a private route server, `control_plane`.)
    #[cfg_attr(feature = "serde", serde(alias = "control_plane"))]
    BgpEvpn,
}

impl LearningMode {
    pub const ALL: [LearningMode; 3] = [
        LearningMode::FloodAndLearn,
        LearningMode::Static,
        LearningMode::BgpEvpn,
    ];

    /// The words the playground uses.
    pub fn name(self) -> &'static str {
        match self {
            LearningMode::FloodAndLearn => "flood and learn",
            LearningMode::Static => "static",
            LearningMode::BgpEvpn => "BGP EVPN",
        }
    }

    /// Remote MACs come from configuration or routes, not from the traffic; ARP is answered
    /// by the VTEP.
    pub fn suppresses_arp(self) -> bool {
        self != LearningMode::FloodAndLearn
    }
}

impl core::fmt::Display for LearningMode {
    /// In the playground's words: `flood and learn`, `static`, `BGP EVPN`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Physical properties of a link.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct LinkSpec {
    /// One-way propagation delay.
    pub latency: Duration,
    /// Bits per second (serialisation delay = bits / bandwidth).
    pub bandwidth_bps: u64,
    /// Largest IP packet (frame minus its 14-byte Ethernet header).
    pub mtu: u16,
    /// Probability that a frame is lost.
    pub loss: f64,
}

impl LinkSpec {
    /// A VM's virtual NIC to its hypervisor: 1 us, 10 Gbit/s, MTU 1500.
    pub fn access() -> LinkSpec {
        LinkSpec {
            latency: Duration::from_micros(1),
            bandwidth_bps: 10_000_000_000,
            mtu: 1500,
            loss: 0.0,
        }
    }

    /// A hypervisor's uplink to its site router: 20 us, 10 Gbit/s, MTU 1500.
    pub fn underlay() -> LinkSpec {
        LinkSpec {
            latency: Duration::from_micros(20),
            bandwidth_bps: 10_000_000_000,
            mtu: 1500,
            loss: 0.0,
        }
    }

    /// Between sites: 2 ms, 1 Gbit/s, MTU 1500.
    pub fn wan() -> LinkSpec {
        LinkSpec {
            latency: Duration::from_millis(2),
            bandwidth_bps: 1_000_000_000,
            mtu: 1500,
            loss: 0.0,
        }
    }
}

/// Settings fixed at creation.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub fabric: FabricKind,
    pub learning: LearningMode,
    /// How long a live-migrating host is paused (stop-and-copy).
    pub migration_downtime: Duration,
    /// Keep each hop's bytes in the trace (off: a hop's bytes are emptied once it has
    /// arrived, for big runs; layer summaries and pcap export then see nothing).
    pub keep_bytes: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            fabric: FabricKind::Overlay,
            learning: LearningMode::FloodAndLearn,
            migration_downtime: Duration::from_millis(30),
            keep_bytes: true,
        }
    }
}

/// What a node is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NodeKind {
    Router,
    Hypervisor,
    Host,
    Switch,
    /// A BGP route reflector (RFC 4456) of the EVPN control plane.
    Reflector,
}

#[derive(Debug)]
pub(super) struct Router {
    pub(super) ip: Ipv4Address,
    /// Destination underlay address -> outgoing link.
    pub(super) routes: BTreeMap<Ipv4Address, LinkId>,
    /// Source MACs seen: what this device's MAC table holds.
    pub(super) macs_seen: BTreeSet<Mac>,
}

#[derive(Debug)]
pub(super) struct Hypervisor {
    pub(super) ip: Ipv4Address,
    /// `None` in the flat-L2 baseline (the hypervisor is then a learning bridge).
    pub(super) vtep: Option<Vtep>,
    pub(super) uplink: Option<LinkId>,
    pub(super) ports: BTreeMap<PortId, (NodeId, LinkId)>,
    pub(super) port_of_link: BTreeMap<LinkId, PortId>,
    /// Flat L2: the bridge's MAC table.
    pub(super) l2: BTreeMap<Mac, LinkId>,
    pub(super) wake_at: Option<Instant>,
    /// The BGP EVPN speaker beside the VTEP (BGP EVPN mode only).
    pub(super) bgp: Option<Box<Agent>>,
}

impl Hypervisor {
    /// The VNIs its VTEP has networks for (none in the flat-L2 baseline).
    pub(super) fn vnis(&self) -> Vec<Vni> {
        self.vtep
            .as_ref()
            .map(|v| v.networks().iter().map(|n| n.vni).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(super) struct HostNode {
    pub(super) host: Host,
    pub(super) hv: Option<NodeId>,
    pub(super) link: Option<LinkId>,
    /// Paused by a migration: frames to it are lost, it does not run.
    pub(super) paused: bool,
    pub(super) wake_at: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct ReflectorNode {
    pub(super) ip: Ipv4Address,
    pub(super) agent: Box<Agent>,
}

#[derive(Debug)]
pub(super) enum State {
    Router(Router),
    Hypervisor(Box<Hypervisor>),
    Host(Box<HostNode>),
    Switch(BTreeMap<Mac, LinkId>),
    Reflector(Box<ReflectorNode>),
}

#[derive(Debug)]
pub(super) struct Node {
    pub(super) name: String,
    pub(super) site: SiteId,
    pub(super) up: bool,
    pub(super) mac: Mac,
    pub(super) links: Vec<LinkId>,
    pub(super) state: State,
}

impl Node {
    pub(super) fn kind(&self) -> NodeKind {
        match self.state {
            State::Router(_) => NodeKind::Router,
            State::Hypervisor(_) => NodeKind::Hypervisor,
            State::Host(_) => NodeKind::Host,
            State::Switch(_) => NodeKind::Switch,
            State::Reflector(_) => NodeKind::Reflector,
        }
    }

    pub(super) fn underlay_ip(&self) -> Option<Ipv4Address> {
        match &self.state {
            State::Router(r) => Some(r.ip),
            State::Hypervisor(h) => Some(h.ip),
            State::Reflector(r) => Some(r.ip),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(super) struct Link {
    pub(super) ends: [NodeId; 2],
    pub(super) spec: LinkSpec,
    pub(super) up: bool,
    /// Per direction (0: ends[0] -> ends[1]): when the transmitter is free again.
    /// Nanoseconds, so small frames on fast links do not each round up to a microsecond.
    pub(super) busy_until_ns: [u64; 2],
    /// An underlay link (not a host's virtual NIC).
    pub(super) underlay: bool,
}

#[derive(Debug)]
pub(super) struct Site {
    pub(super) name: String,
    /// The site router (overlay) or core switch (flat L2).
    pub(super) core: NodeId,
    pub(super) index: u8,
    pub(super) next_host_number: u16,
}

/// Per-VNI settings applied on every VTEP that serves the VNI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VniSettings {
    pub encapsulation: Encapsulation,
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug)]
pub(super) struct AppInfo {
    pub(super) hosts: Vec<NodeId>,
}

/// A host to add.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct HostSpec {
    pub name: String,
    pub vni: u32,
    pub ip: Ipv4Address,
    pub prefix_len: u8,
    /// `None`: one is made up from a counter.
    pub mac: Option<Mac>,
    /// Let the MAC be one another host of the VNI uses already (a cloned VM nobody gave a
    /// new MAC: the duplicate-MAC scenario). Refused otherwise.
    pub duplicate_mac: bool,
}

impl HostSpec {
    pub fn new(name: &str, vni: u32, ip: Ipv4Address) -> HostSpec {
        HostSpec {
            name: name.to_string(),
            vni,
            ip,
            prefix_len: 16,
            mac: None,
            duplicate_mac: false,
        }
    }

    pub fn with_mac(mut self, mac: Mac) -> HostSpec {
        self.mac = Some(mac);
        self
    }
}

/// Summary of a node for listings.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NodeInfo {
    pub id: NodeId,
    pub name: String,
    pub kind: NodeKind,
    pub site: SiteId,
    pub up: bool,
    pub mac: Mac,
    pub underlay_ip: Option<Ipv4Address>,
}

/// Summary of a link.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct LinkInfo {
    pub id: LinkId,
    pub ends: [NodeId; 2],
    pub spec: LinkSpec,
    pub up: bool,
    pub underlay: bool,
}

pub(super) const HEADROOM: usize = MAX_HEADROOM;
/// The first route reflector's address; the next ones follow (the sites' addresses are
/// 10.<site>.x.y from 10.1).
pub(super) const FIRST_REFLECTOR_IP: [u8; 4] = [10, 0, 0, 100];

pub(super) fn node_mac(id: NodeId) -> Mac {
    let b = id.0.to_be_bytes();
    EthernetAddress([0x02, 0x4c, b[0], b[1], b[2], b[3]])
}

pub(super) fn vni_of(v: u32) -> Result<Vni, SimError> {
    Vni::new(v).map_err(|_| SimError::VniOutOfRange(u64::from(v)))
}

/// Sets a wake-up to `at` unless one is already due by then: true when it was set, so the
/// caller schedules the event.
pub(super) fn wake_earlier(wake_at: &mut Option<Instant>, at: Instant) -> bool {
    if wake_at.is_some_and(|w| w <= at) {
        return false;
    }
    *wake_at = Some(at);
    true
}

pub(super) fn micros_to_ns(t: Instant) -> u64 {
    u64::try_from(t.total_micros())
        .unwrap_or(0)
        .saturating_mul(1000)
}

impl Sim {
    pub(super) fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0 as usize)?.as_ref()
    }

    pub(super) fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.nodes.get_mut(id.0 as usize)?.as_mut()
    }

    pub(super) fn host_node(&self, id: NodeId) -> Option<&HostNode> {
        match &self.node(id)?.state {
            State::Host(h) => Some(h),
            _ => None,
        }
    }

    pub(super) fn host_node_mut(&mut self, id: NodeId) -> Option<&mut HostNode> {
        match &mut self.node_mut(id)?.state {
            State::Host(h) => Some(h),
            _ => None,
        }
    }

    pub(super) fn hv(&self, id: NodeId) -> Option<&Hypervisor> {
        match &self.node(id)?.state {
            State::Hypervisor(h) => Some(h),
            _ => None,
        }
    }

    pub(super) fn hv_mut(&mut self, id: NodeId) -> Option<&mut Hypervisor> {
        match &mut self.node_mut(id)?.state {
            State::Hypervisor(h) => Some(h),
            _ => None,
        }
    }

    /// The BGP agent of a hypervisor (BGP EVPN mode) or route reflector.
    pub(super) fn agent(&self, id: NodeId) -> Option<&Agent> {
        match &self.node(id)?.state {
            State::Hypervisor(h) => h.bgp.as_deref(),
            State::Reflector(r) => Some(&r.agent),
            _ => None,
        }
    }

    pub(super) fn agent_mut(&mut self, id: NodeId) -> Option<&mut Agent> {
        match &mut self.node_mut(id)?.state {
            State::Hypervisor(h) => h.bgp.as_deref_mut(),
            State::Reflector(r) => Some(&mut r.agent),
            _ => None,
        }
    }

    pub(super) fn link(&self, id: LinkId) -> Option<&Link> {
        self.links.get(id.0 as usize)?.as_ref()
    }

    pub(super) fn check_host(&self, id: NodeId) -> Result<&HostNode, SimError> {
        self.host_node(id).ok_or(SimError::UnknownHost(id))
    }

    pub(super) fn check_hv(&self, id: NodeId) -> Result<&Hypervisor, SimError> {
        self.hv(id).ok_or(SimError::UnknownHypervisor(id))
    }

    pub(super) fn check_site(&self, id: SiteId) -> Result<&Site, SimError> {
        self.sites
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(SimError::UnknownSite(id))
    }

    pub(super) fn add_node(
        &mut self,
        name: &str,
        site: SiteId,
        state: State,
    ) -> Result<NodeId, SimError> {
        if self.names.contains_key(name) {
            return Err(SimError::DuplicateName(name.to_string()));
        }
        let id = NodeId(
            u32::try_from(self.nodes.len())
                .map_err(|_| SimError::BadArgument("too many nodes".to_string()))?,
        );
        let mac = match &state {
            State::Host(h) => h.host.mac,
            _ => node_mac(id),
        };
        self.nodes.push(Some(Node {
            name: name.to_string(),
            site,
            up: true,
            mac,
            links: Vec::new(),
            state,
        }));
        self.names.insert(name.to_string(), id);
        Ok(id)
    }

    pub(super) fn add_link(
        &mut self,
        a: NodeId,
        b: NodeId,
        spec: LinkSpec,
        underlay: bool,
    ) -> LinkId {
        let id = LinkId(self.links.len() as u32);
        self.links.push(Some(Link {
            ends: [a, b],
            spec,
            up: true,
            busy_until_ns: [micros_to_ns(self.now); 2],
            underlay,
        }));
        for n in [a, b] {
            if let Some(node) = self.node_mut(n) {
                node.links.push(id);
            }
        }
        if underlay {
            self.routes_dirty = true;
        }
        id
    }

    pub(super) fn remove_link(&mut self, id: LinkId) {
        let Some(link) = self.links.get_mut(id.0 as usize).and_then(Option::take) else {
            return;
        };
        for n in link.ends {
            if let Some(node) = self.node_mut(n) {
                node.links.retain(|l| *l != id);
            }
        }
        self.routes_dirty = true;
    }

    /// The nodes of one kind, in id order.
    pub(super) fn ids_of(&self, kind: NodeKind) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.as_ref().is_some_and(|n| n.kind() == kind))
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }

    pub(super) fn peer(&self, link: LinkId, me: NodeId) -> Option<NodeId> {
        let l = self.link(link)?;
        Some(if l.ends[0] == me {
            l.ends[1]
        } else {
            l.ends[0]
        })
    }

    pub(super) fn remove_node(&mut self, id: NodeId) {
        if let Some(slot) = self.nodes.get_mut(id.0 as usize)
            && let Some(node) = slot.take()
        {
            self.names.remove(&node.name);
        }
        self.routes_dirty = true;
    }
}
