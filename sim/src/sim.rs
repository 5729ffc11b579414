//! The simulator: a virtual clock in microseconds, an event queue ordered by (time, sequence
//! number), a seeded RNG; the model (sites, routers, links, hypervisors with a VTEP each, hosts,
//! the route server); and the operations API.
//!
//! Driving it: build a topology with the `add_*` calls, start apps, then [`Sim::run_for`] /
//! [`Sim::run_until`]. Operations may be called between runs at any virtual time. Nothing
//! panics on bad input: operations return [`SimError`].

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, BinaryHeap};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::{Ordering, Reverse};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpProtocol, Ipv4Repr, UdpRepr};
use vtep_core::fdb::{Destination, FdbEntry, Mac, PortId};
use vtep_core::neigh::NeighEntry;
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{Encapsulation, Event, Input, NetworkConfig, Output, Vtep, VtepConfig};
use vtep_core::wire::outer::{self, MAX_HEADROOM};
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, Ipv4Address, Ipv4Packet, UdpPacket,
};
use vtep_core::{Duration, Instant, Vni};

use crate::cp::{self, RouteMsg, RouteServer};
use crate::host::{AppReport, Host, PartSpec};
use crate::rng::Rng;
use crate::trace::{Decision, DropCause, Hop, HopId};
use crate::{AppId, LinkId, NodeId, SimError, SiteId};

/// Overlay (VTEPs on hypervisors, routed underlay) or the flat-L2 baseline (hypervisors are
/// plain bridges, sites are core switches, all hosts share one broadcast domain).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Fabric {
    #[default]
    Overlay,
    FlatL2,
}

/// How VTEPs find remote MACs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum LearningMode {
    /// Static head-end replication lists, data-plane learning, ARP flooded.
    #[default]
    FloodAndLearn,
    /// The route server distributes MAC/IP and flood-list routes; learning off; ARP answered
    /// by the VTEP (suppression).
    ControlPlane,
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
    pub fabric: Fabric,
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
            fabric: Fabric::Overlay,
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
    RouteServer,
}

#[derive(Debug)]
struct Router {
    ip: Ipv4Address,
    /// Destination underlay address -> outgoing link.
    routes: BTreeMap<Ipv4Address, LinkId>,
    /// Source MACs seen: what this device's MAC table holds.
    macs_seen: BTreeSet<Mac>,
}

#[derive(Debug)]
struct Hypervisor {
    ip: Ipv4Address,
    /// `None` in the flat-L2 baseline (the hypervisor is then a learning bridge).
    vtep: Option<Vtep>,
    uplink: Option<LinkId>,
    ports: BTreeMap<PortId, (NodeId, LinkId)>,
    port_of_link: BTreeMap<LinkId, PortId>,
    /// Flat L2: the bridge's MAC table.
    l2: BTreeMap<Mac, LinkId>,
    wake_at: Option<Instant>,
}

#[derive(Debug)]
struct HostNode {
    host: Host,
    hv: Option<NodeId>,
    link: Option<LinkId>,
    /// Paused by a migration: frames to it are lost, it does not run.
    paused: bool,
    wake_at: Option<Instant>,
}

#[derive(Debug)]
struct RsNode {
    ip: Ipv4Address,
    rs: RouteServer,
}

#[derive(Debug)]
enum State {
    Router(Router),
    Hypervisor(Box<Hypervisor>),
    Host(Box<HostNode>),
    Switch(BTreeMap<Mac, LinkId>),
    RouteServer(RsNode),
}

#[derive(Debug)]
struct Node {
    name: String,
    site: SiteId,
    up: bool,
    mac: Mac,
    links: Vec<LinkId>,
    state: State,
}

impl Node {
    fn kind(&self) -> NodeKind {
        match self.state {
            State::Router(_) => NodeKind::Router,
            State::Hypervisor(_) => NodeKind::Hypervisor,
            State::Host(_) => NodeKind::Host,
            State::Switch(_) => NodeKind::Switch,
            State::RouteServer(_) => NodeKind::RouteServer,
        }
    }

    fn underlay_ip(&self) -> Option<Ipv4Address> {
        match &self.state {
            State::Router(r) => Some(r.ip),
            State::Hypervisor(h) => Some(h.ip),
            State::RouteServer(r) => Some(r.ip),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Link {
    ends: [NodeId; 2],
    spec: LinkSpec,
    up: bool,
    /// Per direction (0: ends[0] -> ends[1]): when the transmitter is free again.
    /// Nanoseconds, so small frames on fast links do not each round up to a microsecond.
    busy_until_ns: [u64; 2],
    /// An underlay link (not a host's virtual NIC).
    underlay: bool,
}

#[derive(Debug)]
struct Site {
    name: String,
    /// The site router (overlay) or core switch (flat L2).
    core: NodeId,
    index: u8,
    next_host_number: u16,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ev {
    Arrive { hop: HopId },
    HostWake(NodeId),
    HvWake(NodeId),
    Resume { host: NodeId, hv: NodeId },
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

/// Per-VNI settings applied on every VTEP that serves the VNI.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct VniSettings {
    pub encapsulation: Encapsulation,
    pub rate_limit: Option<RateLimit>,
}

#[derive(Debug)]
struct AppInfo {
    hosts: Vec<NodeId>,
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
}

impl HostSpec {
    pub fn new(name: &str, vni: u32, ip: Ipv4Address) -> HostSpec {
        HostSpec {
            name: name.to_string(),
            vni,
            ip,
            prefix_len: 16,
            mac: None,
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

const HEADROOM: usize = MAX_HEADROOM;
const ROUTE_SERVER_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 100);

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
    route_server: Option<NodeId>,
    next_mac: u32,
    events_processed: u64,
    /// Reused buffer for frames handed to a VTEP (no allocation per hop).
    scratch: Vec<u8>,
}

fn node_mac(id: NodeId) -> Mac {
    let b = id.0.to_be_bytes();
    EthernetAddress([0x02, 0x4c, b[0], b[1], b[2], b[3]])
}

fn vni_of(v: u32) -> Result<Vni, SimError> {
    Vni::new(v).map_err(|_| SimError::VniOutOfRange(u64::from(v)))
}

/// A gratuitous ARP request from `mac`/`ip` (what a hypervisor sends for a VM after a live
/// migration, like QEMU's `announce_self`).
pub fn gratuitous_arp(mac: Mac, ip: Ipv4Address) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: mac,
        source_protocol_addr: ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: ip,
    };
    let mut bytes = vec![0u8; 14 + repr.buffer_len()];
    EthernetRepr {
        src_addr: mac,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
    repr.emit(&mut ArpPacket::new_unchecked(&mut bytes[14..]));
    bytes
}

/// An Ethernet/IPv4/UDP frame (the control plane's messages).
fn udp_frame(
    src_mac: Mac,
    dst_mac: Mac,
    src: Ipv4Address,
    dst: Ipv4Address,
    port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut bytes = vec![0u8; 14 + 20 + 8 + payload.len()];
    EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
    let caps = ChecksumCapabilities::default();
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload.len(),
        hop_limit: 64,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut bytes[14..34]), &caps);
    UdpRepr {
        src_port: port,
        dst_port: port,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut bytes[34..]),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &caps,
    );
    bytes
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
            route_server: None,
            next_mac: 0,
            events_processed: 0,
            scratch: Vec::new(),
        }
    }

    // ---------------------------------------------------------------- clock and queue

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
        }
    }

    // ---------------------------------------------------------------- node access

    fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0 as usize)?.as_ref()
    }

    fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.nodes.get_mut(id.0 as usize)?.as_mut()
    }

    fn host_node(&self, id: NodeId) -> Option<&HostNode> {
        match &self.node(id)?.state {
            State::Host(h) => Some(h),
            _ => None,
        }
    }

    fn host_node_mut(&mut self, id: NodeId) -> Option<&mut HostNode> {
        match &mut self.node_mut(id)?.state {
            State::Host(h) => Some(h),
            _ => None,
        }
    }

    fn hv(&self, id: NodeId) -> Option<&Hypervisor> {
        match &self.node(id)?.state {
            State::Hypervisor(h) => Some(h),
            _ => None,
        }
    }

    fn hv_mut(&mut self, id: NodeId) -> Option<&mut Hypervisor> {
        match &mut self.node_mut(id)?.state {
            State::Hypervisor(h) => Some(h),
            _ => None,
        }
    }

    fn link(&self, id: LinkId) -> Option<&Link> {
        self.links.get(id.0 as usize)?.as_ref()
    }

    fn check_host(&self, id: NodeId) -> Result<&HostNode, SimError> {
        self.host_node(id).ok_or(SimError::UnknownHost(id))
    }

    fn check_hv(&self, id: NodeId) -> Result<&Hypervisor, SimError> {
        self.hv(id).ok_or(SimError::UnknownHypervisor(id))
    }

    fn check_site(&self, id: SiteId) -> Result<&Site, SimError> {
        self.sites
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(SimError::UnknownSite(id))
    }

    fn add_node(&mut self, name: &str, site: SiteId, state: State) -> Result<NodeId, SimError> {
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

    fn add_link(&mut self, a: NodeId, b: NodeId, spec: LinkSpec, underlay: bool) -> LinkId {
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

    fn remove_link(&mut self, id: LinkId) {
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

    fn peer(&self, link: LinkId, me: NodeId) -> Option<NodeId> {
        let l = self.link(link)?;
        Some(if l.ends[0] == me {
            l.ends[1]
        } else {
            l.ends[0]
        })
    }

    // ---------------------------------------------------------------- queries

    /// Looks a node up by name.
    pub fn node_id(&self, name: &str) -> Result<NodeId, SimError> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| SimError::UnknownName(name.to_string()))
    }

    pub fn node_info(&self, id: NodeId) -> Result<NodeInfo, SimError> {
        let n = self.node(id).ok_or(SimError::UnknownNode(id))?;
        Ok(NodeInfo {
            id,
            name: n.name.clone(),
            kind: n.kind(),
            site: n.site,
            up: n.up,
            mac: n.mac,
            underlay_ip: n.underlay_ip(),
        })
    }

    pub fn nodes(&self) -> Vec<NodeInfo> {
        (0..self.nodes.len() as u32)
            .filter_map(|i| self.node_info(NodeId(i)).ok())
            .collect()
    }

    pub fn links(&self) -> Vec<LinkInfo> {
        self.links
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let l = l.as_ref()?;
                Some(LinkInfo {
                    id: LinkId(i as u32),
                    ends: l.ends,
                    spec: l.spec,
                    up: l.up,
                    underlay: l.underlay,
                })
            })
            .collect()
    }

    /// Links attached to a node.
    pub fn node_links(&self, id: NodeId) -> Result<Vec<LinkId>, SimError> {
        Ok(self
            .node(id)
            .ok_or(SimError::UnknownNode(id))?
            .links
            .clone())
    }

    /// The hypervisor a host currently runs on (`None` while migrating).
    pub fn host_hypervisor(&self, host: NodeId) -> Result<Option<NodeId>, SimError> {
        Ok(self.check_host(host)?.hv)
    }

    /// The hosts of a hypervisor.
    pub fn hosts_of(&self, hv: NodeId) -> Result<Vec<NodeId>, SimError> {
        Ok(self.check_hv(hv)?.ports.values().map(|(h, _)| *h).collect())
    }

    pub fn host_addr(&self, host: NodeId) -> Result<(Mac, Ipv4Address, Vni), SimError> {
        let h = &self.check_host(host)?.host;
        Ok((h.mac, h.ip, h.vni))
    }

    pub fn hypervisor_ip(&self, hv: NodeId) -> Result<Ipv4Address, SimError> {
        Ok(self.check_hv(hv)?.ip)
    }

    pub fn site_core(&self, site: SiteId) -> Result<NodeId, SimError> {
        Ok(self.check_site(site)?.core)
    }

    pub fn route_server(&self) -> Option<NodeId> {
        self.route_server
    }

    /// The whole trace so far.
    pub fn trace(&self) -> &[Hop] {
        &self.trace
    }

    pub fn hop(&self, id: HopId) -> Option<&Hop> {
        self.trace.get(id.0 as usize)
    }

    /// A hypervisor's VTEP (for counters and anything else read-only).
    pub fn vtep(&self, hv: NodeId) -> Result<&Vtep, SimError> {
        self.check_hv(hv)?
            .vtep
            .as_ref()
            .ok_or(SimError::FlatL2("a VTEP"))
    }

    /// FDB snapshot of a hypervisor's VTEP, sorted.
    pub fn fdb(&self, hv: NodeId) -> Result<Vec<(Vni, Mac, FdbEntry)>, SimError> {
        Ok(self.vtep(hv)?.fdb().sorted())
    }

    /// Neighbour (ARP suppression) table snapshot of a hypervisor's VTEP.
    pub fn neighbours(&self, hv: NodeId) -> Result<Vec<(Vni, Ipv4Address, NeighEntry)>, SimError> {
        Ok(self.vtep(hv)?.neighbours().sorted())
    }

    /// A host's ARP cache (IP, MAC) now.
    pub fn arp_cache(&self, host: NodeId) -> Result<Vec<(Ipv4Address, Mac)>, SimError> {
        Ok(self.check_host(host)?.host.arp_entries(self.now))
    }

    /// The MAC table of an underlay device: a switch's (flat L2) or a router's neighbours
    /// (overlay), or a flat-L2 hypervisor bridge's.
    pub fn mac_table(&self, node: NodeId) -> Result<Vec<Mac>, SimError> {
        match &self.node(node).ok_or(SimError::UnknownNode(node))?.state {
            State::Switch(t) => Ok(t.keys().copied().collect()),
            State::Router(r) => Ok(r.macs_seen.iter().copied().collect()),
            State::Hypervisor(h) => Ok(h.l2.keys().copied().collect()),
            _ => Err(SimError::BadArgument(format!(
                "node {} has no MAC table",
                node.0
            ))),
        }
    }

    /// The route server's type-2 routes: (VNI, MAC, IP, VTEP, sequence).
    pub fn routes(&self) -> Vec<(Vni, Mac, Option<Ipv4Address>, Ipv4Address, u32)> {
        let Some(rs) = self
            .route_server
            .and_then(|id| match &self.node(id)?.state {
                State::RouteServer(r) => Some(r),
                _ => None,
            })
        else {
            return Vec::new();
        };
        rs.rs
            .macs
            .iter()
            .map(|((v, m), r)| (*v, *m, r.ip, r.vtep, r.seq))
            .collect()
    }

    pub fn app_report(&self, app: AppId) -> Result<&AppReport, SimError> {
        self.reports.get(&app).ok_or(SimError::UnknownApp(app))
    }

    pub fn vni_settings(&self, vni: u32) -> Result<VniSettings, SimError> {
        let vni = vni_of(vni)?;
        Ok(self.vnis.get(&vni).copied().unwrap_or_default())
    }

    // ---------------------------------------------------------------- topology operations

    /// A new site with its router (overlay) or core switch (flat L2).
    pub fn add_site(&mut self, name: &str) -> Result<SiteId, SimError> {
        let index = u8::try_from(self.sites.len() + 1)
            .map_err(|_| SimError::BadArgument("at most 255 sites".to_string()))?;
        let id = SiteId(self.sites.len() as u32);
        let state = match self.config.fabric {
            Fabric::Overlay => State::Router(Router {
                ip: Ipv4Address::new(10, index, 0, 1),
                routes: BTreeMap::new(),
                macs_seen: BTreeSet::new(),
            }),
            Fabric::FlatL2 => State::Switch(BTreeMap::new()),
        };
        let core = self.add_node(&format!("{name}-core"), id, state)?;
        self.sites.push(Some(Site {
            name: name.to_string(),
            core,
            index,
            next_host_number: 2,
        }));
        self.routes_dirty = true;
        Ok(id)
    }

    pub fn site_name(&self, site: SiteId) -> Result<&str, SimError> {
        Ok(&self.check_site(site)?.name)
    }

    /// Removes an empty site (no hypervisors) with its router and its links.
    pub fn remove_site(&mut self, site: SiteId) -> Result<(), SimError> {
        let core = self.check_site(site)?.core;
        let has_hvs = self
            .nodes
            .iter()
            .flatten()
            .any(|n| n.site == site && n.kind() == NodeKind::Hypervisor);
        if has_hvs {
            return Err(SimError::SiteNotEmpty(site));
        }
        if self
            .route_server
            .is_some_and(|rs| self.node(rs).is_some_and(|n| n.site == site))
        {
            return Err(SimError::BadArgument(
                "the route server is attached to this site".to_string(),
            ));
        }
        for l in self.node(core).map(|n| n.links.clone()).unwrap_or_default() {
            self.remove_link(l);
        }
        self.remove_node(core);
        self.sites[site.0 as usize] = None;
        Ok(())
    }

    fn remove_node(&mut self, id: NodeId) {
        if let Some(slot) = self.nodes.get_mut(id.0 as usize)
            && let Some(node) = slot.take()
        {
            self.names.remove(&node.name);
        }
        self.routes_dirty = true;
    }

    /// Joins two sites' routers (or core switches) with a link.
    pub fn connect_sites(
        &mut self,
        a: SiteId,
        b: SiteId,
        spec: LinkSpec,
    ) -> Result<LinkId, SimError> {
        let ca = self.check_site(a)?.core;
        let cb = self.check_site(b)?.core;
        if a == b {
            return Err(SimError::BadArgument(
                "cannot connect a site to itself".to_string(),
            ));
        }
        if self.config.fabric == Fabric::FlatL2 && self.l2_connected(ca, cb) {
            return Err(SimError::WouldLoop);
        }
        Ok(self.add_link(ca, cb, spec, true))
    }

    fn l2_connected(&self, a: NodeId, b: NodeId) -> bool {
        let mut seen = BTreeSet::from([a]);
        let mut stack = vec![a];
        while let Some(n) = stack.pop() {
            if n == b {
                return true;
            }
            for l in self.node(n).map(|n| n.links.clone()).unwrap_or_default() {
                if let Some(p) = self.peer(l, n)
                    && seen.insert(p)
                {
                    stack.push(p);
                }
            }
        }
        false
    }

    /// A hypervisor in `site`, with an uplink to the site router (or core switch).
    pub fn add_hypervisor(&mut self, site: SiteId, name: &str) -> Result<NodeId, SimError> {
        let (core, index, number) = {
            let s = self.check_site(site)?;
            (s.core, s.index, s.next_host_number)
        };
        let ip = Ipv4Address::new(10, index, (number >> 8) as u8, (number & 0xff) as u8);
        let vtep = match self.config.fabric {
            Fabric::Overlay => {
                let mut config = VtepConfig::new(IpAddress::Ipv4(ip));
                config.underlay_mtu = self.underlay_mtu;
                config.hash_seed = self.config.seed;
                Some(Vtep::new(config, self.now)?)
            }
            Fabric::FlatL2 => None,
        };
        let id = self.add_node(
            name,
            site,
            State::Hypervisor(Box::new(Hypervisor {
                ip,
                vtep,
                uplink: None,
                ports: BTreeMap::new(),
                port_of_link: BTreeMap::new(),
                l2: BTreeMap::new(),
                wake_at: None,
            })),
        )?;
        if let Some(Some(s)) = self.sites.get_mut(site.0 as usize) {
            s.next_host_number = number.wrapping_add(1);
        }
        let mut spec = LinkSpec::underlay();
        spec.mtu = self.underlay_mtu;
        let link = self.add_link(id, core, spec, true);
        if let Some(hv) = self.hv_mut(id) {
            hv.uplink = Some(link);
        }
        if self.config.fabric == Fabric::Overlay {
            self.schedule_hv_wake(id, self.now + Duration::from_secs(1));
        }
        Ok(id)
    }

    /// Removes a hypervisor that has no hosts.
    pub fn remove_hypervisor(&mut self, hv: NodeId) -> Result<(), SimError> {
        let h = self.check_hv(hv)?;
        if !h.ports.is_empty() {
            return Err(SimError::BadArgument(format!(
                "hypervisor {} still has hosts: migrate or remove them first",
                hv.0
            )));
        }
        let ip = h.ip;
        let vnis: Vec<Vni> = h
            .vtep
            .as_ref()
            .map(|v| v.networks().iter().map(|n| n.vni).collect())
            .unwrap_or_default();
        // The others stop flooding to it; the route server drops its flood-list routes.
        for other in self.hypervisor_ids() {
            if let Some(v) = self.hv_mut(other).and_then(|h| h.vtep.as_mut()) {
                for vni in &vnis {
                    v.remove_flood_peer(*vni, &IpAddress::Ipv4(ip));
                }
            }
        }
        if self.mode == LearningMode::ControlPlane {
            for vni in vnis {
                self.route_server_input(
                    ip,
                    RouteMsg::Imet {
                        withdraw: true,
                        vni,
                        vtep: ip,
                    },
                    None,
                );
            }
        }
        for l in self.node(hv).map(|n| n.links.clone()).unwrap_or_default() {
            self.remove_link(l);
        }
        self.remove_node(hv);
        Ok(())
    }

    fn hypervisor_ids(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                matches!(
                    n,
                    Some(Node {
                        state: State::Hypervisor(_),
                        ..
                    })
                )
            })
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }

    /// All hypervisors.
    pub fn hypervisors(&self) -> Vec<NodeId> {
        self.hypervisor_ids()
    }

    /// All hosts.
    pub fn hosts(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                matches!(
                    n,
                    Some(Node {
                        state: State::Host(_),
                        ..
                    })
                )
            })
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }

    fn network_config(&self, vni: Vni) -> NetworkConfig {
        let s = self.vnis.get(&vni).copied().unwrap_or_default();
        let cp = self.mode == LearningMode::ControlPlane;
        NetworkConfig {
            encapsulation: s.encapsulation,
            rate_limit: s.rate_limit,
            learning: !cp,
            arp_proxy: cp,
            ..NetworkConfig::new(vni)
        }
    }

    /// Makes sure `hv`'s VTEP serves `vni`; wires up flood lists or tells the route server.
    fn ensure_network(&mut self, hv: NodeId, vni: Vni) -> Result<(), SimError> {
        let config = self.network_config(vni);
        let now = self.now;
        let (ip, added) = {
            let h = self.hv_mut(hv).ok_or(SimError::UnknownHypervisor(hv))?;
            let ip = h.ip;
            let Some(vtep) = h.vtep.as_mut() else {
                return Ok(());
            };
            if vtep.network(vni).is_some() {
                (ip, false)
            } else {
                vtep.add_network(config, now)?;
                (ip, true)
            }
        };
        if !added {
            return Ok(());
        }
        match self.mode {
            LearningMode::FloodAndLearn => {
                for other in self.hypervisor_ids() {
                    if other == hv {
                        continue;
                    }
                    let Some(oh) = self.hv_mut(other) else {
                        continue;
                    };
                    let oip = oh.ip;
                    let Some(ov) = oh.vtep.as_mut() else { continue };
                    if ov.network(vni).is_some() {
                        ov.add_flood_peer(vni, IpAddress::Ipv4(ip))?;
                        if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                            v.add_flood_peer(vni, IpAddress::Ipv4(oip))?;
                        }
                    }
                }
            }
            LearningMode::ControlPlane => {
                self.cp_send(
                    hv,
                    RouteMsg::Imet {
                        withdraw: false,
                        vni,
                        vtep: ip,
                    },
                );
            }
        }
        Ok(())
    }

    /// Adds a host (VM or container) on a hypervisor.
    pub fn add_host(&mut self, hv: NodeId, spec: HostSpec) -> Result<NodeId, SimError> {
        let vni = vni_of(spec.vni)?;
        let site = self.node(hv).map(|n| n.site);
        self.check_hv(hv)?;
        let site = site.ok_or(SimError::UnknownHypervisor(hv))?;
        if !self.node(hv).is_some_and(|n| n.up) {
            return Err(SimError::HypervisorDown(hv));
        }
        if spec.prefix_len == 0 || spec.prefix_len > 30 {
            return Err(SimError::BadArgument(format!(
                "prefix length {} is out of range 1..=30",
                spec.prefix_len
            )));
        }
        let mac = match spec.mac {
            Some(m) => m,
            None => {
                self.next_mac += 1;
                let b = self.next_mac.to_be_bytes();
                EthernetAddress([0x02, 0x48, b[0], b[1], b[2], b[3]])
            }
        };
        if !mac.is_unicast() || mac == EthernetAddress([0; 6]) {
            return Err(SimError::NotUnicast(mac));
        }
        for h in self.nodes.iter().flatten() {
            if let State::Host(h) = &h.state
                && h.host.vni == vni
            {
                if h.host.mac == mac {
                    return Err(SimError::DuplicateMac { vni, mac });
                }
                if h.host.ip == spec.ip {
                    return Err(SimError::DuplicateIp { vni, ip: spec.ip });
                }
            }
        }
        let seed = self.rng.next_u64();
        // Like OpenStack and flannel: in the overlay the VM's MTU leaves room for the tunnel
        // headers (1450 for VXLAN over a 1500-byte underlay).
        let mtu = match self.config.fabric {
            Fabric::Overlay => {
                let encapsulation = self
                    .vnis
                    .get(&vni)
                    .copied()
                    .unwrap_or_default()
                    .encapsulation;
                usize::from(self.underlay_mtu) - encapsulation.wire_overhead(false)
            }
            Fabric::FlatL2 => 1500,
        };
        let host = Host::new(mac, spec.ip, spec.prefix_len, vni, mtu, seed, self.now);
        let id = self.add_node(
            &spec.name,
            site,
            State::Host(Box::new(HostNode {
                host,
                hv: None,
                link: None,
                paused: false,
                wake_at: None,
            })),
        )?;
        if let Err(e) = self.attach(id, hv) {
            self.remove_node(id);
            return Err(e);
        }
        self.schedule_host_wake(id, self.now);
        Ok(id)
    }

    /// Connects a host to a hypervisor: a virtual NIC link and a VTEP port.
    fn attach(&mut self, host: NodeId, hv: NodeId) -> Result<(), SimError> {
        let (mac, ip, vni) = self.host_addr(host)?;
        self.ensure_network(hv, vni)?;
        let now = self.now;
        let cp = self.mode == LearningMode::ControlPlane;
        let port = match self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
            Some(vtep) => {
                let port = vtep.add_port(vni)?;
                if cp {
                    // A route for this MAC pointing elsewhere (before a move) would make the
                    // VTEP ignore the local learn: drop it (see the report on vtep-core).
                    if vtep
                        .fdb()
                        .lookup(vni, &mac)
                        .is_some_and(|e| matches!(e.dest, Destination::Remote(_)))
                    {
                        vtep.fdb_mut().remove(vni, &mac);
                    }
                    vtep.add_static_neighbour(now, vni, ip, mac)?;
                }
                Some(port)
            }
            None => None,
        };
        let link = self.add_link(host, hv, LinkSpec::access(), false);
        let hv_ip = {
            let h = self.hv_mut(hv).ok_or(SimError::UnknownHypervisor(hv))?;
            let port = port.unwrap_or(PortId(link.0 as u16));
            h.ports.insert(port, (host, link));
            h.port_of_link.insert(link, port);
            h.ip
        };
        if let Some(h) = self.host_node_mut(host) {
            h.hv = Some(hv);
            h.link = Some(link);
        }
        if self.mode == LearningMode::ControlPlane && self.config.fabric == Fabric::Overlay {
            self.cp_send(
                hv,
                RouteMsg::MacIp {
                    withdraw: false,
                    vni,
                    mac,
                    ip: Some(ip),
                    vtep: hv_ip,
                    seq: 0,
                },
            );
        }
        Ok(())
    }

    /// Disconnects a host from its hypervisor (port and link removed).
    fn detach(&mut self, host: NodeId, withdraw: bool) {
        let Some((Some(hv), Some(link))) = self.host_node(host).map(|h| (h.hv, h.link)) else {
            return;
        };
        let Ok((mac, ip, vni)) = self.host_addr(host) else {
            return;
        };
        let mut hv_ip = None;
        if let Some(h) = self.hv_mut(hv) {
            hv_ip = Some(h.ip);
            if let Some(port) = h.port_of_link.remove(&link) {
                h.ports.remove(&port);
                if let Some(vtep) = h.vtep.as_mut() {
                    let _ = vtep.remove_port(port);
                    vtep.neighbours_mut().remove(vni, &ip);
                }
            }
            h.l2.retain(|_, l| *l != link);
        }
        self.remove_link(link);
        if let Some(h) = self.host_node_mut(host) {
            h.hv = None;
            h.link = None;
        }
        if withdraw
            && self.mode == LearningMode::ControlPlane
            && let Some(vtep_ip) = hv_ip
        {
            self.cp_send(
                hv,
                RouteMsg::MacIp {
                    withdraw: true,
                    vni,
                    mac,
                    ip: Some(ip),
                    vtep: vtep_ip,
                    seq: 0,
                },
            );
        }
    }

    /// Removes a host and its apps.
    pub fn remove_host(&mut self, host: NodeId) -> Result<(), SimError> {
        self.check_host(host)?;
        self.detach(host, true);
        let ids: Vec<AppId> = self
            .apps
            .iter()
            .filter(|(_, a)| a.hosts.contains(&host))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let _ = self.stop_app(id);
        }
        self.remove_node(host);
        Ok(())
    }

    /// Live-migrates a host to another hypervisor: same MAC and IP; it is paused for
    /// `migration_downtime`, then attached to `to` and announces itself with a gratuitous ARP.
    /// From a failed hypervisor this is a restart elsewhere (the host keeps its state).
    pub fn migrate_host(&mut self, host: NodeId, to: NodeId) -> Result<(), SimError> {
        let h = self.check_host(host)?;
        let (from, paused) = (h.hv, h.paused);
        self.check_hv(to)?;
        if from == Some(to) {
            return Err(SimError::SameHypervisor {
                host,
                hypervisor: to,
            });
        }
        if paused {
            return Err(SimError::BadArgument(format!(
                "host {} is already migrating",
                host.0
            )));
        }
        if !self.node(to).is_some_and(|n| n.up) {
            return Err(SimError::HypervisorDown(to));
        }
        self.detach(host, false);
        if let Some(h) = self.host_node_mut(host) {
            h.paused = true;
        }
        if let Some(n) = self.node_mut(host) {
            n.up = true;
        }
        let at = self.now + self.config.migration_downtime;
        self.schedule(at, Ev::Resume { host, hv: to });
        Ok(())
    }

    fn resume_host(&mut self, host: NodeId, hv: NodeId) {
        let hv_ok = self.node(hv).is_some_and(|n| n.up) && self.hv(hv).is_some();
        if !hv_ok || self.attach(host, hv).is_err() {
            // The destination failed meanwhile: the host stays paused, detached.
            return;
        }
        if let Some(site) = self.node(hv).map(|n| n.site)
            && let Some(n) = self.node_mut(host)
        {
            n.site = site;
        }
        let Some(h) = self.host_node_mut(host) else {
            return;
        };
        h.paused = false;
        let garp = gratuitous_arp(h.host.mac, h.host.ip);
        let link = h.link;
        if let Some(link) = link {
            self.transmit(host, link, Arc::from(garp), None, host);
        }
        self.poll_host(host, None);
    }

    /// Fails a hypervisor: it and its hosts stop; frames to them are lost.
    pub fn fail_hypervisor(&mut self, hv: NodeId) -> Result<(), SimError> {
        self.set_hypervisor_up(hv, false)
    }

    /// Restores a failed hypervisor and the hosts still on it.
    pub fn restore_hypervisor(&mut self, hv: NodeId) -> Result<(), SimError> {
        self.set_hypervisor_up(hv, true)
    }

    fn set_hypervisor_up(&mut self, hv: NodeId, up: bool) -> Result<(), SimError> {
        let hosts: Vec<NodeId> = self.check_hv(hv)?.ports.values().map(|(h, _)| *h).collect();
        for n in core::iter::once(hv).chain(hosts.iter().copied()) {
            if let Some(node) = self.node_mut(n) {
                node.up = up;
            }
        }
        self.routes_dirty = true;
        if up {
            for h in hosts {
                self.schedule_host_wake(h, self.now);
            }
            self.schedule_hv_wake(hv, self.now);
        }
        Ok(())
    }

    pub fn fail_link(&mut self, link: LinkId) -> Result<(), SimError> {
        self.set_link_up(link, false)
    }

    pub fn restore_link(&mut self, link: LinkId) -> Result<(), SimError> {
        self.set_link_up(link, true)
    }

    fn set_link_up(&mut self, link: LinkId, up: bool) -> Result<(), SimError> {
        let l = self
            .links
            .get_mut(link.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(SimError::UnknownLink(link))?;
        l.up = up;
        self.routes_dirty = true;
        Ok(())
    }

    /// Changes a link's latency, bandwidth, MTU and loss.
    pub fn set_link_spec(&mut self, link: LinkId, spec: LinkSpec) -> Result<(), SimError> {
        if !(0.0..=1.0).contains(&spec.loss) || spec.bandwidth_bps == 0 {
            return Err(SimError::BadArgument(
                "loss must be in 0..=1 and bandwidth above 0".to_string(),
            ));
        }
        let l = self
            .links
            .get_mut(link.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(SimError::UnknownLink(link))?;
        l.spec = spec;
        self.routes_dirty = true;
        Ok(())
    }

    /// Switches the learning mode of every VTEP. To the control plane: a route server is
    /// attached to the first site and every hypervisor advertises its VNIs and hosts.
    pub fn set_learning_mode(&mut self, mode: LearningMode) -> Result<(), SimError> {
        if self.config.fabric == Fabric::FlatL2 {
            return Err(SimError::FlatL2("a learning mode"));
        }
        if mode == LearningMode::ControlPlane && self.route_server.is_none() {
            let site = self
                .sites
                .iter()
                .position(Option::is_some)
                .ok_or_else(|| SimError::BadArgument("add a site first".to_string()))?;
            let site = SiteId(site as u32);
            let core = self.check_site(site)?.core;
            let rs = self.add_node(
                "route-server",
                site,
                State::RouteServer(RsNode {
                    ip: ROUTE_SERVER_IP,
                    rs: RouteServer::default(),
                }),
            )?;
            self.add_link(rs, core, LinkSpec::underlay(), true);
            self.route_server = Some(rs);
        }
        let old = self.mode;
        self.mode = mode;
        if old == mode {
            return Ok(());
        }
        let now = self.now;
        for hv in self.hypervisor_ids() {
            let vnis: Vec<Vni> = self
                .vtep(hv)
                .map(|v| v.networks().iter().map(|n| n.vni).collect())
                .unwrap_or_default();
            for vni in &vnis {
                let config = self.network_config(*vni);
                if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                    v.update_network(config, now)?;
                }
            }
            if mode == LearningMode::ControlPlane {
                let ip = self.hypervisor_ip(hv)?;
                for vni in vnis {
                    self.cp_send(
                        hv,
                        RouteMsg::Imet {
                            withdraw: false,
                            vni,
                            vtep: ip,
                        },
                    );
                }
                let hosts: Vec<(NodeId, PortId)> = self
                    .hv(hv)
                    .map(|h| h.ports.iter().map(|(p, (n, _))| (*n, *p)).collect())
                    .unwrap_or_default();
                for (host, _) in hosts {
                    let (mac, hip, vni) = self.host_addr(host)?;
                    if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                        v.add_static_neighbour(now, vni, hip, mac)?;
                    }
                    self.cp_send(
                        hv,
                        RouteMsg::MacIp {
                            withdraw: false,
                            vni,
                            mac,
                            ip: Some(hip),
                            vtep: ip,
                            seq: 0,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    fn update_vni(&mut self, vni: Vni, f: impl Fn(&mut VniSettings)) -> Result<(), SimError> {
        let mut s = self.vnis.get(&vni).copied().unwrap_or_default();
        f(&mut s);
        self.vnis.insert(vni, s);
        let config = self.network_config(vni);
        let now = self.now;
        for hv in self.hypervisor_ids() {
            if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut())
                && v.network(vni).is_some()
            {
                v.update_network(config, now)?;
            }
        }
        Ok(())
    }

    /// The encapsulation of a VNI, on every VTEP (claim S9).
    pub fn set_encapsulation(
        &mut self,
        vni: u32,
        encapsulation: Encapsulation,
    ) -> Result<(), SimError> {
        if self.config.fabric == Fabric::FlatL2 {
            return Err(SimError::FlatL2("an encapsulation"));
        }
        let vni = vni_of(vni)?;
        self.update_vni(vni, |s| s.encapsulation = encapsulation)
    }

    /// A per-VNI rate limit into the underlay, on every VTEP (claim S7).
    pub fn set_rate_limit(&mut self, vni: u32, limit: Option<RateLimit>) -> Result<(), SimError> {
        if self.config.fabric == Fabric::FlatL2 {
            return Err(SimError::FlatL2("a rate limit"));
        }
        let vni = vni_of(vni)?;
        if let Some(l) = limit
            && l.bytes_per_sec == 0
        {
            return Err(SimError::BadArgument(
                "a rate limit needs bytes_per_sec > 0".to_string(),
            ));
        }
        self.update_vni(vni, |s| s.rate_limit = limit)
    }

    /// The underlay MTU: every VTEP's and every underlay link's (claim S3).
    pub fn set_underlay_mtu(&mut self, mtu: u16) -> Result<(), SimError> {
        let needed = Encapsulation::Geneve.ip_overhead(false) + 60;
        if usize::from(mtu) < needed {
            return Err(SimError::MtuBelowOverhead { mtu, needed });
        }
        for hv in self.hypervisor_ids() {
            if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                v.set_underlay_mtu(mtu)?;
            }
        }
        for l in self.links.iter_mut().flatten() {
            if l.underlay {
                l.spec.mtu = mtu;
            }
        }
        self.underlay_mtu = mtu;
        Ok(())
    }

    /// A host's NIC MTU (IP bytes). The host's interface is re-created (see `Host::set_mtu`).
    pub fn set_host_mtu(&mut self, host: NodeId, mtu: u16) -> Result<(), SimError> {
        if mtu < 576 {
            return Err(SimError::BadArgument(format!(
                "host MTU {mtu} is below 576"
            )));
        }
        let seed = self.rng.next_u64();
        let now = self.now;
        let h = self
            .host_node_mut(host)
            .ok_or(SimError::UnknownHost(host))?;
        h.host.set_mtu(usize::from(mtu), seed, now);
        Ok(())
    }

    // ---------------------------------------------------------------- apps

    fn new_app(&mut self, hosts: Vec<NodeId>, target_bytes: u64) -> AppId {
        let id = AppId(self.next_app);
        self.next_app += 1;
        let report = AppReport {
            started: Some(self.now),
            target_bytes,
            ..AppReport::default()
        };
        self.reports.insert(id, report);
        self.apps.insert(id, AppInfo { hosts });
        id
    }

    fn start_part(&mut self, host: NodeId, id: AppId, spec: PartSpec) {
        let now = self.now;
        if let Some(h) = self.host_node_mut(host) {
            let part = h.host.start(spec, now);
            h.host.apps.push((id, part));
        }
        self.schedule_host_wake(host, now);
    }

    /// `ping -c count -i interval -s size target` from `host`.
    pub fn start_ping(
        &mut self,
        host: NodeId,
        target: Ipv4Address,
        count: u32,
        interval: Duration,
        size: usize,
    ) -> Result<AppId, SimError> {
        self.check_host(host)?;
        if size > 65000 || interval == Duration::ZERO {
            return Err(SimError::BadArgument(
                "ping size above 65000 or zero interval".to_string(),
            ));
        }
        let id = self.new_app(vec![host], 0);
        let ident = 0x1000u16.wrapping_add(id.0 as u16);
        self.start_part(
            host,
            id,
            PartSpec::Ping {
                target,
                count,
                interval,
                size,
                ident,
            },
        );
        Ok(id)
    }

    /// A UDP flow: `count` datagrams of `size` bytes every `interval` from `client` to a
    /// server on `server`:`port`, which echoes them back if `echo`.
    #[allow(clippy::too_many_arguments)]
    pub fn start_udp_flow(
        &mut self,
        client: NodeId,
        server: NodeId,
        port: u16,
        count: u32,
        interval: Duration,
        size: usize,
        echo: bool,
    ) -> Result<AppId, SimError> {
        self.check_host(client)?;
        let target = self.check_host(server)?.host.ip;
        if size > 65000 || interval == Duration::ZERO {
            return Err(SimError::BadArgument(
                "UDP size above 65000 or zero interval".to_string(),
            ));
        }
        let id = self.new_app(vec![client, server], 0);
        self.start_part(server, id, PartSpec::UdpServer { port, echo });
        self.start_part(
            client,
            id,
            PartSpec::UdpClient {
                target,
                port,
                count,
                interval,
                size,
            },
        );
        Ok(id)
    }

    /// A TCP bulk transfer of `bytes` from `client` to a sink on `server`:`port`.
    pub fn start_tcp_transfer(
        &mut self,
        client: NodeId,
        server: NodeId,
        port: u16,
        bytes: u64,
    ) -> Result<AppId, SimError> {
        self.check_host(client)?;
        let target = self.check_host(server)?.host.ip;
        if bytes == 0 || port == 0 {
            return Err(SimError::BadArgument(
                "a transfer needs bytes > 0 and a port".to_string(),
            ));
        }
        let id = self.new_app(vec![client, server], bytes);
        self.start_part(server, id, PartSpec::TcpSink { port });
        self.start_part(
            client,
            id,
            PartSpec::TcpSource {
                target,
                port,
                bytes,
            },
        );
        Ok(id)
    }

    /// Stops an app (its report stays readable).
    pub fn stop_app(&mut self, app: AppId) -> Result<(), SimError> {
        let info = self.apps.remove(&app).ok_or(SimError::UnknownApp(app))?;
        for h in info.hosts {
            if let Some(hn) = self.host_node_mut(h) {
                hn.host.stop(app);
            }
        }
        if let Some(r) = self.reports.get_mut(&app) {
            r.stopped = true;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- data path

    fn schedule_host_wake(&mut self, host: NodeId, at: Instant) {
        let Some(h) = self.host_node_mut(host) else {
            return;
        };
        if h.wake_at.is_some_and(|w| w <= at) {
            return;
        }
        h.wake_at = Some(at);
        self.schedule(at, Ev::HostWake(host));
    }

    fn schedule_hv_wake(&mut self, hv: NodeId, at: Instant) {
        let Some(h) = self.hv_mut(hv) else { return };
        if h.wake_at.is_some_and(|w| w <= at) {
            return;
        }
        h.wake_at = Some(at);
        self.schedule(at, Ev::HvWake(hv));
    }

    /// Puts a frame on a link; returns its hop.
    fn transmit(
        &mut self,
        from: NodeId,
        link: LinkId,
        bytes: Arc<[u8]>,
        parent: Option<HopId>,
        origin: NodeId,
    ) -> HopId {
        let id = HopId(self.trace.len() as u32);
        let now = self.now;
        let keep = self.config.keep_bytes;
        let Some(l) = self.links.get_mut(link.0 as usize).and_then(Option::as_mut) else {
            self.trace.push(Hop {
                id,
                start: now,
                end: now,
                from,
                to: from,
                link,
                bytes,
                parent,
                origin,
                decisions: vec![Decision::Dropped(DropCause::LinkDown)],
            });
            return id;
        };
        let dir = usize::from(l.ends[0] != from);
        let to = l.ends[1 - dir];
        let start_ns = micros_to_ns(now).max(l.busy_until_ns[dir]);
        let bits = (bytes.len() as u64 + 20) * 8; // + preamble and inter-frame gap
        let ser_ns =
            (u128::from(bits) * 1_000_000_000).div_ceil(u128::from(l.spec.bandwidth_bps.max(1)));
        let sent_ns = start_ns.saturating_add(u64::try_from(ser_ns).unwrap_or(u64::MAX));
        let start = Instant::from_micros((start_ns / 1000) as i64);
        let end = Instant::from_micros(sent_ns.div_ceil(1000) as i64) + l.spec.latency;
        let mut drop = None;
        if !l.up {
            drop = Some(DropCause::LinkDown);
        } else if bytes.len().saturating_sub(14) > usize::from(l.spec.mtu) {
            drop = Some(DropCause::LinkMtu);
        } else {
            l.busy_until_ns[dir] = sent_ns;
        }
        let loss = l.spec.loss;
        if drop.is_none() && self.rng.chance(loss) {
            drop = Some(DropCause::LinkLoss);
        }
        let stored: Arc<[u8]> = if keep || drop.is_none() {
            bytes
        } else {
            Arc::from(&[][..])
        };
        self.trace.push(Hop {
            id,
            start,
            end,
            from,
            to,
            link,
            bytes: stored,
            parent,
            origin,
            decisions: drop.map(Decision::Dropped).into_iter().collect(),
        });
        if drop.is_none() {
            self.schedule(end, Ev::Arrive { hop: id });
        }
        id
    }

    fn decide(&mut self, hop: HopId, d: Decision) {
        if let Some(h) = self.trace.get_mut(hop.0 as usize) {
            h.decisions.push(d);
        }
    }

    fn arrive(&mut self, hop: HopId) {
        self.arrive_inner(hop);
        if !self.config.keep_bytes
            && let Some(h) = self.trace.get_mut(hop.0 as usize)
        {
            h.bytes = Arc::from(&[][..]);
        }
    }

    fn arrive_inner(&mut self, hop: HopId) {
        let Some(h) = self.trace.get(hop.0 as usize) else {
            return;
        };
        let (to, link, origin) = (h.to, h.link, h.origin);
        let bytes = h.bytes.clone();
        if !self.link(link).is_some_and(|l| l.up) {
            return self.decide(hop, Decision::Dropped(DropCause::LinkDown));
        }
        let Some(node) = self.node(to) else {
            return self.decide(hop, Decision::Dropped(DropCause::NodeDown));
        };
        if !node.up {
            return self.decide(hop, Decision::Dropped(DropCause::NodeDown));
        }
        match node.kind() {
            NodeKind::Host => self.host_rx(to, hop, &bytes),
            NodeKind::Router => self.router_rx(to, hop, link, &bytes, origin),
            NodeKind::Switch => self.switch_rx(to, hop, link, &bytes, origin),
            NodeKind::Hypervisor => self.hv_rx(to, hop, link, &bytes, origin),
            NodeKind::RouteServer => self.rs_rx(to, hop, &bytes),
        }
    }

    fn host_rx(&mut self, id: NodeId, hop: HopId, bytes: &Arc<[u8]>) {
        let now = self.now;
        let Some(h) = self.host_node_mut(id) else {
            return;
        };
        if h.paused || h.hv.is_none() {
            return self.decide(hop, Decision::Dropped(DropCause::HostDetached));
        }
        let Ok(eth) = EthernetFrame::new_checked(bytes) else {
            return self.decide(hop, Decision::Dropped(DropCause::Malformed));
        };
        let dst = eth.dst_addr();
        if dst != h.host.mac && !dst.is_broadcast() && !dst.is_multicast() {
            return self.decide(hop, Decision::Dropped(DropCause::NotForMe));
        }
        if eth.ethertype() == EthernetProtocol::Arp
            && let Ok(p) = ArpPacket::new_checked(eth.payload())
            && let Ok(ArpRepr::EthernetIpv4 {
                source_hardware_addr,
                source_protocol_addr,
                target_protocol_addr,
                ..
            }) = ArpRepr::parse(&p)
        {
            h.host.observe_arp(
                now,
                (source_hardware_addr, source_protocol_addr),
                target_protocol_addr,
            );
        }
        h.host.nic.rx.push_back(bytes.clone());
        self.decide(hop, Decision::Received);
        self.poll_host(id, Some(hop));
    }

    fn poll_host(&mut self, id: NodeId, cause: Option<HopId>) {
        let now = self.now;
        let up = self.node(id).is_some_and(|n| n.up);
        let Some(State::Host(h)) = self
            .nodes
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .map(|n| &mut n.state)
        else {
            return;
        };
        if h.paused || !up {
            return;
        }
        let next = h.host.poll(now, &mut self.reports);
        let frames = core::mem::take(&mut h.host.nic.tx);
        let link = h.link;
        for f in frames {
            match link {
                Some(l) => {
                    self.transmit(id, l, Arc::from(f), cause, id);
                }
                None => break,
            }
        }
        if let Some(t) = next {
            let t = if t <= now {
                now + Duration::from_micros(1)
            } else {
                t
            };
            self.schedule_host_wake(id, t);
        }
    }

    fn router_rx(&mut self, id: NodeId, hop: HopId, _link: LinkId, bytes: &[u8], origin: NodeId) {
        if self.routes_dirty {
            self.recompute_routes();
        }
        let Ok(eth) = EthernetFrame::new_checked(bytes) else {
            return self.decide(hop, Decision::Dropped(DropCause::Malformed));
        };
        let src_mac = eth.src_addr();
        let ip = match Ipv4Packet::new_checked(eth.payload()) {
            Ok(ip) if eth.ethertype() == EthernetProtocol::Ipv4 => ip,
            _ => return self.decide(hop, Decision::Dropped(DropCause::Malformed)),
        };
        let (dst, ttl) = (ip.dst_addr(), ip.hop_limit());
        let my_mac = node_mac(id);
        let Some(State::Router(r)) = self.node_mut(id).map(|n| &mut n.state) else {
            return;
        };
        r.macs_seen.insert(src_mac);
        if dst == r.ip {
            return self.decide(hop, Decision::Received);
        }
        let Some(out) = r.routes.get(&dst).copied() else {
            return self.decide(hop, Decision::Dropped(DropCause::NoRoute));
        };
        if ttl <= 1 {
            return self.decide(hop, Decision::Dropped(DropCause::TtlExpired));
        }
        let Some(next) = self.peer(out, id) else {
            return self.decide(hop, Decision::Dropped(DropCause::NoRoute));
        };
        let mut copy = bytes.to_vec();
        {
            let mut eth = EthernetFrame::new_unchecked(&mut copy[..]);
            eth.set_src_addr(my_mac);
            eth.set_dst_addr(node_mac(next));
            let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
            ip.set_hop_limit(ttl - 1);
            ip.fill_checksum();
        }
        self.decide(hop, Decision::Routed { link: out });
        self.transmit(id, out, Arc::from(copy), Some(hop), origin);
    }

    /// Learning switch: the flat-L2 core switches and hypervisor bridges.
    fn switch_rx(
        &mut self,
        id: NodeId,
        hop: HopId,
        link: LinkId,
        bytes: &Arc<[u8]>,
        origin: NodeId,
    ) {
        let Ok(eth) = EthernetFrame::new_checked(bytes) else {
            return self.decide(hop, Decision::Dropped(DropCause::Malformed));
        };
        let (src, dst) = (eth.src_addr(), eth.dst_addr());
        let links = self.node(id).map(|n| n.links.clone()).unwrap_or_default();
        let table = match self.node_mut(id).map(|n| &mut n.state) {
            Some(State::Switch(t)) => t,
            Some(State::Hypervisor(h)) => &mut h.l2,
            _ => return,
        };
        if src.is_unicast() {
            table.insert(src, link);
        }
        let known = if dst.is_unicast() {
            table.get(&dst).copied()
        } else {
            None
        };
        match known {
            Some(out) if out == link => self.decide(hop, Decision::Dropped(DropCause::SamePort)),
            Some(out) => {
                self.decide(
                    hop,
                    Decision::Switched {
                        ports: 1,
                        flooded: false,
                    },
                );
                self.transmit(id, out, bytes.clone(), Some(hop), origin);
            }
            None => {
                let outs: Vec<LinkId> = links.into_iter().filter(|l| *l != link).collect();
                self.decide(
                    hop,
                    Decision::Switched {
                        ports: outs.len(),
                        flooded: true,
                    },
                );
                for out in outs {
                    self.transmit(id, out, bytes.clone(), Some(hop), origin);
                }
            }
        }
    }

    fn hv_rx(&mut self, id: NodeId, hop: HopId, link: LinkId, bytes: &Arc<[u8]>, origin: NodeId) {
        let Some(h) = self.hv(id) else { return };
        if h.vtep.is_none() {
            return self.switch_rx(id, hop, link, bytes, origin);
        }
        let now = self.now;
        if h.uplink == Some(link) {
            // From the underlay: a control-plane message or a tunnel packet.
            let Ok(eth) = EthernetFrame::new_checked(bytes) else {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            };
            if eth.ethertype() != EthernetProtocol::Ipv4 {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            }
            let ip_bytes = eth.payload();
            if let Some(msg) = control_message(ip_bytes) {
                return self.hv_control(id, hop, msg);
            }
            let Ok((outer, payload)) = outer::parse(ip_bytes) else {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            };
            let mut buf = core::mem::take(&mut self.scratch);
            buf.clear();
            buf.extend_from_slice(ip_bytes);
            if let Some(vtep) = self.hv_mut(id).and_then(|h| h.vtep.as_mut()) {
                vtep.handle_input(
                    now,
                    Input::Underlay {
                        from: outer.src,
                        transport: outer.transport,
                        buf: &mut buf,
                        payload,
                    },
                );
            }
            self.drain_vtep(id, &mut buf, Some(hop), origin, true);
            self.scratch = buf;
        } else {
            let Some(port) = h.port_of_link.get(&link).copied() else {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            };
            let mut buf = core::mem::take(&mut self.scratch);
            buf.clear();
            buf.resize(HEADROOM, 0);
            buf.extend_from_slice(bytes);
            let frame = HEADROOM..buf.len();
            if let Some(vtep) = self.hv_mut(id).and_then(|h| h.vtep.as_mut()) {
                vtep.handle_input(
                    now,
                    Input::Local {
                        port,
                        buf: &mut buf,
                        frame,
                    },
                );
            }
            self.drain_vtep(id, &mut buf, Some(hop), origin, false);
            self.scratch = buf;
        }
    }

    /// Carries out a VTEP's outputs for the input in `buf`.
    fn drain_vtep(
        &mut self,
        id: NodeId,
        buf: &mut [u8],
        hop: Option<HopId>,
        origin: NodeId,
        from_underlay: bool,
    ) {
        let Some(h) = self.hv(id) else { return };
        let uplink = h.uplink;
        let next_mac = uplink.and_then(|l| self.peer(l, id)).map(node_mac);
        let my_mac = node_mac(id);
        let mut sends: Vec<(LinkId, Arc<[u8]>)> = Vec::new();
        let mut decisions: Vec<Decision> = Vec::new();
        let mut encap: BTreeMap<Vni, usize> = BTreeMap::new();
        let mut delivered: BTreeMap<Vni, usize> = BTreeMap::new();
        let mut decap = None;
        let timeout;
        {
            let Some(h) = self.hv_mut(id) else { return };
            let Some(vtep) = h.vtep.as_mut() else { return };
            loop {
                match vtep.poll_output() {
                    Output::Transmit(t) => {
                        *encap.entry(t.vni).or_default() += 1;
                        let (Some(up), Some(nm)) = (uplink, next_mac) else {
                            decisions.push(Decision::Dropped(DropCause::NoRoute));
                            continue;
                        };
                        let Ok(whole) = t.outer.emit(buf, t.payload.clone()) else {
                            decisions.push(Decision::Dropped(DropCause::Malformed));
                            continue;
                        };
                        let Ok(start) = outer::emit_ethernet(
                            buf,
                            whole.start,
                            my_mac,
                            nm,
                            EthernetProtocol::Ipv4,
                        ) else {
                            decisions.push(Decision::Dropped(DropCause::Malformed));
                            continue;
                        };
                        sends.push((up, Arc::from(&buf[start..whole.end])));
                    }
                    Output::Deliver(d) => {
                        if from_underlay {
                            decap = Some(d.vni);
                        }
                        *delivered.entry(d.vni).or_default() += 1;
                        if let Some((_, l)) = h.ports.get(&d.port) {
                            sends.push((*l, Arc::from(&buf[d.frame])));
                        }
                    }
                    Output::Event(e) => match e {
                        Event::Learned { vni, mac, dest } => decisions.push(Decision::Learned {
                            vni,
                            mac,
                            dest,
                            moved: false,
                        }),
                        Event::Moved { vni, mac, to, .. } => decisions.push(Decision::Learned {
                            vni,
                            mac,
                            dest: to,
                            moved: true,
                        }),
                        Event::Flooded {
                            vni,
                            local_ports,
                            remote_copies,
                        } => decisions.push(Decision::Flooded {
                            vni,
                            local_ports,
                            remote_copies,
                        }),
                        Event::ArpSuppressed { vni, ip, mac } => {
                            decisions.push(Decision::ArpSuppressed { vni, ip, mac });
                        }
                        Event::Dropped { reason, .. } => {
                            decisions.push(Decision::Dropped(DropCause::Vtep(reason)));
                        }
                        _ => {}
                    },
                    Output::Timeout(t) => {
                        timeout = t;
                        break;
                    }
                }
            }
        }
        if let Some(hop) = hop {
            if let Some(vni) = decap {
                self.decide(hop, Decision::Decapsulated { vni });
            }
            for d in decisions {
                self.decide(hop, d);
            }
            for (vni, copies) in encap {
                self.decide(hop, Decision::Encapsulated { vni, copies });
            }
            for (vni, ports) in delivered {
                self.decide(hop, Decision::DeliveredLocally { vni, ports });
            }
        }
        for (l, bytes) in sends {
            self.transmit(id, l, bytes, hop, origin);
        }
        self.schedule_hv_wake(id, timeout);
    }

    /// A VTEP agent applies a route from the route server.
    fn hv_control(&mut self, id: NodeId, hop: HopId, msg: RouteMsg) {
        self.decide(hop, Decision::ControlPlane(msg));
        let now = self.now;
        let Some(h) = self.hv_mut(id) else { return };
        let my_ip = h.ip;
        let Some(vtep) = h.vtep.as_mut() else { return };
        match msg {
            RouteMsg::MacIp {
                withdraw: false,
                vni,
                mac,
                ip,
                vtep: at,
                seq,
            } if at != my_ip => {
                // A MAC that is attached here is ours whatever an older route says.
                let local = vtep
                    .fdb()
                    .lookup(vni, &mac)
                    .is_some_and(|e| matches!(e.dest, Destination::Local(_)));
                if !local {
                    let _ = vtep.install_route(
                        now,
                        vni,
                        mac,
                        ip,
                        Destination::Remote(IpAddress::Ipv4(at)),
                        seq,
                    );
                }
            }
            RouteMsg::MacIp {
                withdraw: true,
                vni,
                mac,
                ip,
                ..
            } => {
                vtep.withdraw_route(vni, &mac, ip);
            }
            RouteMsg::Imet {
                withdraw,
                vni,
                vtep: at,
            } if at != my_ip => {
                if withdraw {
                    vtep.remove_flood_peer(vni, &IpAddress::Ipv4(at));
                } else {
                    let _ = vtep.add_flood_peer(vni, IpAddress::Ipv4(at));
                }
            }
            _ => {}
        }
        self.drain_vtep(id, &mut [], Some(hop), id, false);
    }

    /// A hypervisor's agent sends a message to the route server.
    fn cp_send(&mut self, hv: NodeId, msg: RouteMsg) {
        let Some(h) = self.hv(hv) else { return };
        let (ip, uplink) = (h.ip, h.uplink);
        let Some(up) = uplink else { return };
        let Some(next) = self.peer(up, hv) else {
            return;
        };
        let bytes = udp_frame(
            node_mac(hv),
            node_mac(next),
            ip,
            ROUTE_SERVER_IP,
            cp::PORT,
            &msg.encode(),
        );
        self.transmit(hv, up, Arc::from(bytes), None, hv);
    }

    fn rs_rx(&mut self, id: NodeId, hop: HopId, bytes: &[u8]) {
        let Some((src, msg)) = EthernetFrame::new_checked(bytes).ok().and_then(|eth| {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            Some((ip.src_addr(), control_message(eth.payload())?))
        }) else {
            return self.decide(hop, Decision::Dropped(DropCause::Malformed));
        };
        self.decide(hop, Decision::ControlPlane(msg));
        let _ = id;
        self.route_server_input(src, msg, Some(hop));
    }

    fn route_server_input(&mut self, from: Ipv4Address, msg: RouteMsg, hop: Option<HopId>) {
        let Some(rs_id) = self.route_server else {
            return;
        };
        let Some(State::RouteServer(rs)) = self.node_mut(rs_id).map(|n| &mut n.state) else {
            return;
        };
        let rs_ip = rs.ip;
        let out = rs.rs.handle(from, msg);
        let Some(up) = self.node(rs_id).and_then(|n| n.links.first().copied()) else {
            return;
        };
        let Some(next) = self.peer(up, rs_id) else {
            return;
        };
        for (to, m) in out {
            let bytes = udp_frame(
                node_mac(rs_id),
                node_mac(next),
                rs_ip,
                to,
                cp::PORT,
                &m.encode(),
            );
            self.transmit(rs_id, up, Arc::from(bytes), hop, rs_id);
        }
    }

    /// Static shortest-path routing (by latency) from every router to every underlay address.
    fn recompute_routes(&mut self) {
        self.routes_dirty = false;
        let routers: Vec<NodeId> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                matches!(
                    n,
                    Some(Node {
                        state: State::Router(_),
                        ..
                    })
                )
            })
            .map(|(i, _)| NodeId(i as u32))
            .collect();
        for r in routers {
            let mut table = BTreeMap::new();
            let mut dist: BTreeMap<NodeId, u64> = BTreeMap::new();
            let mut heap = BinaryHeap::new();
            dist.insert(r, 0);
            heap.push(Reverse((0u64, r, None::<LinkId>)));
            while let Some(Reverse((d, n, first))) = heap.pop() {
                if dist.get(&n).is_some_and(|best| *best < d) {
                    continue;
                }
                let Some(node) = self.node(n) else { continue };
                if let (Some(ip), Some(f)) = (node.underlay_ip(), first) {
                    table.entry(ip).or_insert(f);
                }
                // Only routers forward; hypervisors and the route server are leaves.
                if n != r && node.kind() != NodeKind::Router {
                    continue;
                }
                if !node.up {
                    continue;
                }
                for &l in &node.links {
                    let Some(link) = self.link(l) else { continue };
                    if !link.up || !link.underlay {
                        continue;
                    }
                    let Some(p) = self.peer(l, n) else { continue };
                    if !self.node(p).is_some_and(|pn| pn.up) {
                        continue;
                    }
                    let nd = d + link.spec.latency.total_micros() + 1;
                    if dist.get(&p).is_none_or(|best| nd < *best) {
                        dist.insert(p, nd);
                        heap.push(Reverse((nd, p, Some(first.unwrap_or(l)))));
                    }
                }
            }
            if let Some(State::Router(router)) = self.node_mut(r).map(|n| &mut n.state) {
                router.routes = table;
            }
        }
    }

    /// Recomputes routes now (they are also recomputed lazily after any change).
    pub fn routes_of(&mut self, router: NodeId) -> Result<Vec<(Ipv4Address, LinkId)>, SimError> {
        if self.routes_dirty {
            self.recompute_routes();
        }
        match &self
            .node(router)
            .ok_or(SimError::UnknownNode(router))?
            .state
        {
            State::Router(r) => Ok(r.routes.iter().map(|(a, l)| (*a, *l)).collect()),
            _ => Err(SimError::BadArgument(format!(
                "node {} is not a router",
                router.0
            ))),
        }
    }

    /// Injects a raw Ethernet frame from a host onto its link (for tests and demos).
    pub fn inject_from_host(&mut self, host: NodeId, frame: Vec<u8>) -> Result<HopId, SimError> {
        let link = self
            .check_host(host)?
            .link
            .ok_or_else(|| SimError::BadArgument(format!("host {} is detached", host.0)))?;
        Ok(self.transmit(host, link, Arc::from(frame), None, host))
    }
}

fn micros_to_ns(t: Instant) -> u64 {
    u64::try_from(t.total_micros())
        .unwrap_or(0)
        .saturating_mul(1000)
}

/// The route message in an IPv4 packet to the control-plane port, if it is one.
fn control_message(ip_bytes: &[u8]) -> Option<RouteMsg> {
    let ip = Ipv4Packet::new_checked(ip_bytes).ok()?;
    if ip.next_header() != IpProtocol::Udp {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.dst_port() != cp::PORT {
        return None;
    }
    RouteMsg::decode(udp.payload())
}
