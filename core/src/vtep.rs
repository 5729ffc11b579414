//! The sans-IO VTEP engine.
//!
//! [`Vtep`] owns the FDB, the neighbour table, the per-VNI configuration and counters, and
//! nothing else: no socket, no thread, no clock. Two calls drive it:
//!
//! - [`Vtep::handle_input`] gives it one input (a frame from a local port, a datagram from the
//!   underlay, or a timeout) together with the current time;
//! - [`Vtep::poll_output`] then returns, one at a time, what the caller must do: transmit into
//!   the underlay, deliver to a local port, note an event. It returns
//!   [`Output::Timeout`] when there is nothing more to do; call `handle_input(Input::Timeout)`
//!   at that instant (or earlier, with the next input).
//!
//! **Buffers belong to the caller.** Outputs name byte ranges of the buffer passed with the last
//! input: the engine writes the tunnel header in place, in the headroom in front of the inner
//! frame, and a flood to N peers is N [`Transmit`]s of the same bytes. Drain `poll_output` until
//! it returns [`Output::Timeout`] before reusing the buffer or giving the next input; outputs not
//! yet polled when the next input arrives are discarded. Nothing is allocated per packet:
//! lookups and refreshes never allocate (only learning a new MAC may grow a table), fan-out is a
//! cursor, and the event queue has a fixed capacity (overflow is counted, never grown).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::addr::{Destination, Mac, PortId};
use crate::fdb::{Fdb, FdbConfig, IgnoreReason, LearnHint, LearnOutcome, Origin};
use crate::neigh::{NeighOutcome, NeighbourTable};
use crate::rate::{RateLimit, TokenBucket};
use crate::wire::outer::{OuterRepr, Transport, UdpChecksum};
use crate::wire::vxlan::ReservedBitsPolicy;
use crate::wire::{
    self, ArpOperation, ArpPacket, ArpRepr, ETHERNET_HEADER_LEN, EthernetFrame, EthernetProtocol,
    IpAddress, Ipv4Address, Ipv6Address, dot1q, flow, geneve, nvgre, vxlan,
};
use crate::{Duration, Instant, Vni};

/// How a virtual network's frames are wrapped for the underlay (claim S9).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Encapsulation {
    /// RFC 7348: UDP (4789) + 8-byte VXLAN header.
    #[default]
    Vxlan,
    /// RFC 8926: UDP (6081) + 8-byte Geneve header (+ options, none sent here).
    Geneve,
    /// RFC 7637: GRE (IP protocol 47) with a key holding the 24-bit VSID; no UDP.
    Nvgre,
}

impl Encapsulation {
    pub const ALL: [Encapsulation; 3] = [
        Encapsulation::Vxlan,
        Encapsulation::Geneve,
        Encapsulation::Nvgre,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Encapsulation::Vxlan => "VXLAN",
            Encapsulation::Geneve => "Geneve",
            Encapsulation::Nvgre => "NVGRE",
        }
    }

    /// Length of the tunnel header itself (the part after the outer IP/UDP headers).
    pub fn header_len(self) -> usize {
        match self {
            Encapsulation::Vxlan => vxlan::HEADER_LEN,
            Encapsulation::Geneve => geneve::HEADER_LEN,
            Encapsulation::Nvgre => nvgre::HEADER_LEN,
        }
    }

    /// Bytes added in front of the inner frame inside the underlay IP packet: outer IP header,
    /// UDP header (not for NVGRE) and tunnel header. This is what the underlay MTU must absorb.
    pub fn ip_overhead(self, ipv6_underlay: bool) -> usize {
        let ip = if ipv6_underlay { 40 } else { 20 };
        let udp = if self == Encapsulation::Nvgre { 0 } else { 8 };
        ip + udp + self.header_len()
    }

    /// Total bytes added on the wire, outer Ethernet header included (VXLAN over IPv4: 50).
    pub fn wire_overhead(self, ipv6_underlay: bool) -> usize {
        ETHERNET_HEADER_LEN + self.ip_overhead(ipv6_underlay)
    }
}

impl fmt::Display for Encapsulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do with 802.1Q-tagged inner frames (RFC 7348 section 6.1: a VTEP should not put an
/// inner VLAN tag into a tunnel, and should discard decapsulated frames that carry one,
/// "unless configured otherwise").
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum InnerVlanPolicy {
    /// Drop tagged frames in both directions (the RFC's default).
    #[default]
    Drop,
    /// Remove the tag before encapsulating; drop tagged frames arriving from the underlay.
    Strip,
    /// Carry tagged frames in both directions.
    Keep,
}

/// Settings shared by every network of a VTEP.
#[derive(Clone, Debug)]
pub struct VtepConfig {
    /// This VTEP's underlay address: the outer source of everything it sends.
    pub local: IpAddress,
    /// UDP destination port for VXLAN (4789; Linux's legacy default is 8472).
    pub vxlan_port: u16,
    /// UDP destination port for Geneve (6081).
    pub geneve_port: u16,
    /// Inclusive range for the flow-hashed UDP source port (default 49152..=65535).
    pub source_ports: (u16, u16),
    /// UDP checksum over IPv4 (IPv6 always computes one).
    pub udp_checksum: UdpChecksum,
    /// Outer TTL / hop limit.
    pub hop_limit: u8,
    /// Reserved bits in received VXLAN headers: ignore (RFC) or drop (Linux).
    pub reserved_bits: ReservedBitsPolicy,
    /// Largest IP packet the underlay carries. Frames that would exceed it once encapsulated
    /// are dropped: VTEPs do not fragment (RFC 7348 section 4.3).
    pub underlay_mtu: u16,
    pub fdb: FdbConfig,
    /// Size of the neighbour table (ARP suppression).
    pub max_neighbours: usize,
    /// Only accept tunnel traffic from these addresses, if set.
    pub accept_peers: Option<Vec<IpAddress>>,
    /// Keys every hash (FDB, flow hash). Fix it to replay; randomise it against hash flooding.
    pub hash_seed: u64,
    /// How often ageing runs; entries expire within this much after their ageing time.
    pub sweep_interval: Duration,
    /// Capacity of the event queue; events beyond it are counted as lost.
    pub event_capacity: usize,
}

impl VtepConfig {
    /// The smallest underlay MTU a VTEP accepts: the largest encapsulation overhead (Geneve)
    /// plus a minimum-size (60-byte) inner frame.
    pub fn min_underlay_mtu(ipv6_underlay: bool) -> usize {
        Encapsulation::Geneve.ip_overhead(ipv6_underlay) + 60
    }

    /// Defaults as in Linux (`ip link add ... type vxlan local LOCAL dstport 4789`).
    pub fn new(local: IpAddress) -> VtepConfig {
        VtepConfig {
            local,
            vxlan_port: flow::VXLAN_PORT,
            geneve_port: flow::GENEVE_PORT,
            source_ports: flow::DEFAULT_SOURCE_PORTS,
            udp_checksum: UdpChecksum::Zero,
            hop_limit: 64,
            reserved_bits: ReservedBitsPolicy::Rfc,
            underlay_mtu: 1500,
            fdb: FdbConfig::default(),
            max_neighbours: 16_384,
            accept_peers: None,
            hash_seed: 0x6f76_6572_6c61_7921,
            sweep_interval: Duration::from_secs(1),
            event_capacity: 256,
        }
    }
}

/// Settings of one virtual network (one VNI) on a VTEP.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NetworkConfig {
    pub vni: Vni,
    pub encapsulation: Encapsulation,
    /// Learn remote MACs from decapsulated traffic (Linux `learning`); off when a control plane
    /// or static entries provide them.
    pub learning: bool,
    /// Answer ARP requests from the neighbour table instead of flooding them (Linux `proxy`).
    pub arp_proxy: bool,
    /// Bandwidth cap for this network's traffic into the underlay (claim S7).
    pub rate_limit: Option<RateLimit>,
    pub inner_vlan: InnerVlanPolicy,
}

impl NetworkConfig {
    /// VXLAN, learning on, no ARP suppression, no rate limit, tagged frames dropped.
    pub fn new(vni: Vni) -> NetworkConfig {
        NetworkConfig {
            vni,
            encapsulation: Encapsulation::Vxlan,
            learning: true,
            arp_proxy: false,
            rate_limit: None,
            inner_vlan: InnerVlanPolicy::Drop,
        }
    }
}

/// Errors of the management calls: each says what is wrong and how to fix it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ConfigError {
    NetworkExists(Vni),
    UnknownNetwork(Vni),
    UnknownPort(PortId),
    TooManyPorts,
    /// A remote of another IP family than the local address.
    AddressFamilyMismatch {
        local: IpAddress,
        remote: IpAddress,
    },
    /// The local address cannot source tunnel traffic (unspecified, multicast, broadcast).
    BadLocalAddress(IpAddress),
    /// VXLAN and Geneve were given the same UDP port.
    PortClash(u16),
    /// The source port range is empty or includes port 0.
    BadSourcePorts(u16, u16),
    /// The underlay MTU leaves no room for an inner frame.
    MtuTooSmall {
        mtu: u16,
        needed: usize,
    },
    /// A rate limit whose burst is smaller than one frame would drop everything.
    BurstTooSmall {
        burst_bytes: u64,
    },
    Fdb(crate::fdb::FdbError),
    Neigh(crate::neigh::NeighError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NetworkExists(vni) => {
                write!(
                    f,
                    "VNI {vni} is already configured: remove it first or pick another VNI"
                )
            }
            ConfigError::UnknownNetwork(vni) => {
                write!(
                    f,
                    "VNI {vni} is not configured on this VTEP: add the network first"
                )
            }
            ConfigError::UnknownPort(port) => write!(f, "{port} does not exist on this VTEP"),
            ConfigError::TooManyPorts => write!(f, "this VTEP already has 65536 ports"),
            ConfigError::AddressFamilyMismatch { local, remote } => write!(
                f,
                "remote {remote} and local {local} are of different IP families: the underlay \
                 must be all IPv4 or all IPv6"
            ),
            ConfigError::BadLocalAddress(ip) => write!(
                f,
                "{ip} cannot be a VTEP's local address: use this host's unicast underlay address"
            ),
            ConfigError::PortClash(port) => write!(
                f,
                "VXLAN and Geneve both use UDP port {port}: give each its own port"
            ),
            ConfigError::BadSourcePorts(min, max) => write!(
                f,
                "source port range {min}-{max} is invalid: use MIN <= MAX, both 1..=65535"
            ),
            ConfigError::MtuTooSmall { mtu, needed } => write!(
                f,
                "underlay MTU {mtu} is too small: encapsulation needs at least {needed} bytes \
                 (headers plus a minimal 60-byte frame)"
            ),
            ConfigError::BurstTooSmall { burst_bytes } => write!(
                f,
                "rate-limit burst of {burst_bytes} bytes is smaller than one full frame: use at \
                 least 1514 bytes"
            ),
            ConfigError::Fdb(e) => fmt::Display::fmt(e, f),
            ConfigError::Neigh(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for ConfigError {}

impl From<crate::fdb::FdbError> for ConfigError {
    fn from(e: crate::fdb::FdbError) -> Self {
        ConfigError::Fdb(e)
    }
}

impl From<crate::neigh::NeighError> for ConfigError {
    fn from(e: crate::neigh::NeighError) -> Self {
        ConfigError::Neigh(e)
    }
}

macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $name:ident = $text:literal,)*) => {
        /// Why a frame or datagram was dropped. Every drop is counted under one of these.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum DropReason { $($(#[$doc])* $name,)* }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            pub const COUNT: usize = Self::ALL.len();

            /// A short, stable, snake_case name (for `stats` and JSON).
            pub fn as_str(self) -> &'static str {
                match self { $(DropReason::$name => $text,)* }
            }
        }
    };
}

drop_reasons! {
    /// The caller's buffer range is out of bounds.
    BadBuffer = "bad_buffer",
    /// No room in front of the frame for the tunnel header.
    NoHeadroom = "no_headroom",
    /// The inner frame is shorter than an Ethernet header.
    TruncatedFrame = "truncated_frame",
    /// The tunnel header is truncated or its lengths are inconsistent.
    MalformedTunnel = "malformed_tunnel",
    /// VXLAN I flag clear, GRE flags other than key-only, and the like.
    BadFlags = "bad_flags",
    /// A header version this VTEP does not implement.
    BadVersion = "bad_version",
    /// Reserved bits set while the receive policy is strict.
    ReservedBitsSet = "reserved_bits",
    /// A Geneve option or header marked critical that is not understood.
    UnknownCriticalOption = "critical_option",
    /// A tunnel carrying something other than Ethernet.
    UnsupportedPayload = "unsupported_payload",
    /// A datagram to a UDP port that is neither the VXLAN nor the Geneve port.
    UnknownUdpPort = "unknown_udp_port",
    /// The source is not in the accepted peer list, or is this VTEP's own address.
    NotAPeer = "not_a_peer",
    /// The underlay source is of the other IP family.
    AddressFamily = "address_family",
    /// A VNI this VTEP does not serve.
    UnknownVni = "unknown_vni",
    /// The VNI is served with another encapsulation.
    EncapsulationMismatch = "encapsulation_mismatch",
    /// A frame from a port that does not exist.
    UnknownPort = "unknown_port",
    /// The source MAC is multicast, broadcast or all zeros.
    InvalidSourceMac = "invalid_source_mac",
    /// An 802.1Q-tagged inner frame (RFC 7348 section 6.1).
    InnerVlanTag = "inner_vlan_tag",
    /// Larger than the underlay MTU once encapsulated (VTEPs do not fragment), or decapsulated
    /// but larger than a frame this VTEP could encapsulate (its ports' MTU).
    TooBig = "too_big",
    /// Over the network's rate limit.
    RateLimited = "rate_limited",
    /// The destination is the port the frame came from.
    SamePort = "same_port",
    /// From the underlay to a MAC known to be behind another VTEP: never sent back into the
    /// underlay (split horizon).
    SplitHorizon = "split_horizon",
    /// Nowhere to send it: no other local port and an empty flood list.
    NoDestination = "no_destination",
    /// A new source MAC while the FDB is full and `FdbConfig::drop_when_full` is set.
    FdbFull = "fdb_full",
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<wire::Error> for DropReason {
    fn from(e: wire::Error) -> Self {
        match e {
            wire::Error::Truncated
            | wire::Error::BadLength
            | wire::Error::BadChecksum
            | wire::Error::NoRoom => DropReason::MalformedTunnel,
            wire::Error::BadFlags => DropReason::BadFlags,
            wire::Error::BadVersion => DropReason::BadVersion,
            wire::Error::ReservedBitsSet => DropReason::ReservedBitsSet,
            wire::Error::Unsupported => DropReason::UnsupportedPayload,
            wire::Error::UnknownCriticalOption => DropReason::UnknownCriticalOption,
        }
    }
}

/// Drops by reason.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DropCounters([u64; DropReason::COUNT]);

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters([0; DropReason::COUNT])
    }
}

impl DropCounters {
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The reasons with a non-zero count.
    pub fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }

    fn bump(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }
}

/// Per-network counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NetworkCounters {
    /// Frames received from local ports.
    pub local_rx_frames: u64,
    pub local_rx_bytes: u64,
    /// Frames delivered to local ports (each copy counts).
    pub local_tx_frames: u64,
    pub local_tx_bytes: u64,
    /// Datagrams sent into the underlay (each copy counts); bytes include the tunnel header.
    pub encap_frames: u64,
    pub encap_bytes: u64,
    /// Datagrams from the underlay whose tunnel header and inner frame were valid.
    pub decap_frames: u64,
    pub decap_bytes: u64,
    /// BUM or unknown-unicast frames from local ports that were flooded.
    pub flooded_frames: u64,
    /// Underlay copies made by head-end replication.
    pub flood_copies: u64,
    pub arp_suppressed: u64,
    pub learned: u64,
    pub moved: u64,
    pub aged_out: u64,
    /// MACs not learned because the FDB was full.
    pub fdb_full: u64,
    /// Entries frozen by duplicate-MAC detection.
    pub duplicates_frozen: u64,
    pub drops: DropCounters,
}

impl NetworkCounters {
    /// Every counter with its stable snake_case name, in display order: the one list the
    /// daemon's `stats`, its client and the playground's tables read (drops are listed by
    /// `DropReason::ALL`; `drops_total` sums them).
    pub const FIELDS: &'static [(&'static str, fn(&NetworkCounters) -> u64)] = &[
        ("local_rx_frames", |c| c.local_rx_frames),
        ("local_rx_bytes", |c| c.local_rx_bytes),
        ("local_tx_frames", |c| c.local_tx_frames),
        ("local_tx_bytes", |c| c.local_tx_bytes),
        ("encap_frames", |c| c.encap_frames),
        ("encap_bytes", |c| c.encap_bytes),
        ("decap_frames", |c| c.decap_frames),
        ("decap_bytes", |c| c.decap_bytes),
        ("flooded_frames", |c| c.flooded_frames),
        ("flood_copies", |c| c.flood_copies),
        ("arp_suppressed", |c| c.arp_suppressed),
        ("learned", |c| c.learned),
        ("moved", |c| c.moved),
        ("aged_out", |c| c.aged_out),
        ("fdb_full", |c| c.fdb_full),
        ("duplicates_frozen", |c| c.duplicates_frozen),
        ("drops_total", |c| c.drops.total()),
    ];

    /// The counters as `(name, value)` pairs, in the order of [`NetworkCounters::FIELDS`].
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Self::FIELDS
            .iter()
            .map(move |(name, get)| (*name, get(self)))
    }
}

/// Counters that belong to no network (the VNI was unknown or unreadable).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct GlobalCounters {
    pub drops: DropCounters,
    /// Events not queued because the queue was full.
    pub events_lost: u64,
}

/// Something the caller may want to log, animate or count.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    Learned {
        vni: Vni,
        mac: Mac,
        dest: Destination,
    },
    /// A MAC showed up behind another port or VTEP (a VM migrated).
    Moved {
        vni: Vni,
        mac: Mac,
        from: Destination,
        to: Destination,
        seq: u32,
    },
    /// Duplicate-MAC detection froze an entry that moved too often.
    DuplicateFrozen {
        vni: Vni,
        mac: Mac,
        moves: u32,
    },
    AgedOut {
        vni: Vni,
        mac: Mac,
        dest: Destination,
    },
    /// A new MAC was not learned because the FDB is full.
    FdbFull {
        vni: Vni,
        mac: Mac,
    },
    NeighbourLearned {
        vni: Vni,
        ip: Ipv4Address,
        mac: Mac,
    },
    /// A BUM or unknown-unicast frame went to `local_ports` local ports and `remote_copies`
    /// remote VTEPs.
    Flooded {
        vni: Vni,
        local_ports: usize,
        remote_copies: usize,
    },
    /// An ARP request was answered locally.
    ArpSuppressed {
        vni: Vni,
        ip: Ipv4Address,
        mac: Mac,
    },
    Dropped {
        vni: Option<Vni>,
        reason: DropReason,
    },
}

/// One input to the engine.
#[derive(Debug)]
pub enum Input<'a> {
    /// An Ethernet frame (no FCS) from a local port, at `buf[frame]`. Leave headroom in front
    /// of `frame.start` (at least [`wire::outer::MAX_HEADROOM`] for a caller that also writes
    /// outer headers) so the frame can be encapsulated in place.
    Local {
        port: PortId,
        buf: &'a mut [u8],
        frame: Range<usize>,
    },
    /// A tunnel datagram from the underlay: `buf[payload]` starts at the VXLAN, Geneve or GRE
    /// header; `from` is the outer source address and `transport` says how it arrived.
    Underlay {
        from: IpAddress,
        transport: Transport,
        buf: &'a mut [u8],
        payload: Range<usize>,
    },
    /// Nothing arrived; time passed.
    Timeout,
}

/// Send `buf[payload]` (tunnel header + inner frame) to `outer.dst` in the underlay.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transmit {
    pub vni: Vni,
    pub encapsulation: Encapsulation,
    /// Outer addresses, ports and checksum policy; [`OuterRepr::emit`] writes them in place
    /// for callers that build whole IP packets.
    pub outer: OuterRepr,
    pub payload: Range<usize>,
    /// One of several copies of a flooded frame.
    pub flooded: bool,
}

/// Deliver `buf[frame]` (an Ethernet frame) out of a local port.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Deliver {
    pub port: PortId,
    pub vni: Vni,
    pub frame: Range<usize>,
    /// One of several copies of a flooded frame.
    pub flooded: bool,
}

/// What the caller must do next. See the module documentation for when to poll.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Output {
    Transmit(Transmit),
    Deliver(Deliver),
    Event(Event),
    /// Nothing more for now: give the next input, or `Input::Timeout` at this instant.
    Timeout(Instant),
}

/// Which local ports still get a copy of the current frame.
#[derive(Clone, Copy, Debug)]
enum LocalFanout {
    None,
    One(PortId),
    AllExcept { next: usize, except: Option<PortId> },
}

/// Which remote VTEPs still get a copy of the current frame (a unicast to one remote VTEP
/// takes the shorter way of [`ReadyTransmit`]).
#[derive(Clone, Copy, Debug)]
enum RemoteFanout {
    None,
    Flood { next: usize },
}

/// The outputs of the current input that have not been polled yet.
#[derive(Clone, Debug)]
struct Pending {
    vni: Vni,
    /// The network's position in [`Networks::slots`].
    slot: usize,
    frame: Range<usize>,
    payload: Range<usize>,
    encapsulation: Encapsulation,
    source_port: u16,
    /// A BUM or unknown-unicast frame: every copy is marked as flooded.
    flooded: bool,
    local: LocalFanout,
    remote: RemoteFanout,
}

#[derive(Clone, Debug)]
struct Network {
    config: NetworkConfig,
    ports: Vec<PortId>,
    counters: NetworkCounters,
    bucket: Option<TokenBucket>,
}

/// The networks of a VTEP: a dense vector, and the VNI -> position index. The data path looks
/// a network up by VNI once per input and then works with its position (the pending outputs
/// keep it), instead of hashing the VNI again at every step.
#[derive(Clone, Debug)]
struct Networks {
    slots: Vec<Network>,
    index: HashMap<Vni, usize, FixedState>,
}

impl Networks {
    #[inline]
    fn slot(&self, vni: &Vni) -> Option<usize> {
        self.index.get(vni).copied()
    }

    fn get(&self, vni: &Vni) -> Option<&Network> {
        self.slot(vni).map(|i| &self.slots[i])
    }

    fn get_mut(&mut self, vni: &Vni) -> Option<&mut Network> {
        self.slot(vni).map(|i| &mut self.slots[i])
    }

    fn contains_key(&self, vni: &Vni) -> bool {
        self.index.contains_key(vni)
    }

    /// Adds a network whose VNI is not there yet.
    fn insert(&mut self, vni: Vni, network: Network) {
        self.index.insert(vni, self.slots.len());
        self.slots.push(network);
    }

    /// Removes a network; the last one takes its position (outputs pending are discarded by
    /// the caller).
    fn remove(&mut self, vni: &Vni) -> Option<Network> {
        let i = self.index.remove(vni)?;
        let network = self.slots.swap_remove(i);
        if let Some(moved) = self.slots.get(i) {
            self.index.insert(moved.config.vni, i);
        }
        Some(network)
    }

    fn values(&self) -> impl Iterator<Item = &Network> {
        self.slots.iter()
    }
}

/// A VXLAN / Geneve / NVGRE tunnel endpoint. See the module documentation.
#[derive(Debug)]
pub struct Vtep {
    config: VtepConfig,
    fdb: Fdb,
    neighbours: NeighbourTable,
    networks: Networks,
    /// `ports[id]`: the network of port `id`, or `None` for a removed port.
    ports: Vec<Option<PortBinding>>,
    global: GlobalCounters,
    events: VecDeque<Event>,
    pending: Option<Pending>,
    /// The one transmit of a frame to a known remote MAC, built whole by `handle_input`: the
    /// common case skips the fan-out cursor.
    ready: Option<ReadyTransmit>,
    next_sweep: Instant,
}

/// A port's network: its VNI and its position in [`Networks::slots`], so a frame from a port
/// finds its network without hashing; and where the FDB entry of the port's last source MAC
/// was, so refreshing it usually skips the lookup.
#[derive(Clone, Copy, Debug)]
struct PortBinding {
    vni: Vni,
    slot: usize,
    source: LearnHint,
}

/// What [`Vtep::poll_output`] needs to build the [`Transmit`]; the rest comes from the
/// configuration.
#[derive(Clone, Debug)]
struct ReadyTransmit {
    /// The network's position in [`Networks::slots`], for its counters.
    slot: usize,
    vni: Vni,
    encapsulation: Encapsulation,
    remote: Remote,
    source_port: u16,
    payload: Range<usize>,
}

/// An underlay address as `poll_output` reads it back right after `handle_input` wrote it:
/// two whole words. (An `IpAddress` is 17 bytes; its copies are pieced together from
/// overlapping moves, which the CPU cannot forward to the wide load that reads them back.)
#[derive(Clone, Copy, Debug)]
struct Remote {
    words: [u64; 2],
    v6: bool,
}

impl Remote {
    #[inline(always)]
    fn new(ip: IpAddress) -> Remote {
        match ip {
            IpAddress::Ipv4(ip) => Remote {
                words: [u64::from(ip.to_bits()), 0],
                v6: false,
            },
            IpAddress::Ipv6(ip) => {
                let bits = ip.to_bits();
                Remote {
                    words: [bits as u64, (bits >> 64) as u64],
                    v6: true,
                }
            }
        }
    }

    #[inline(always)]
    fn ip(self) -> IpAddress {
        let [lo, hi] = self.words;
        if self.v6 {
            IpAddress::Ipv6(Ipv6Address::from_bits(
                u128::from(hi) << 64 | u128::from(lo),
            ))
        } else {
            IpAddress::Ipv4(Ipv4Address::from_bits(lo as u32))
        }
    }
}

fn same_family(a: &IpAddress, b: &IpAddress) -> bool {
    matches!(
        (a, b),
        (IpAddress::Ipv4(_), IpAddress::Ipv4(_)) | (IpAddress::Ipv6(_), IpAddress::Ipv6(_))
    )
}

/// Whether a flood-list entry gets a copy: never this VTEP itself, nor an address of the other
/// family (the list can be edited directly through `Vtep::fdb_mut`).
fn is_flood_target(ip: &IpAddress, local: &IpAddress) -> bool {
    ip != local && same_family(ip, local)
}

fn is_ipv6(ip: &IpAddress) -> bool {
    matches!(ip, IpAddress::Ipv6(_))
}

fn check_range(buf: &[u8], range: &Range<usize>) -> bool {
    range.start <= range.end && range.end <= buf.len()
}

/// The MAC address at `header[at..at + 6]`.
#[inline(always)]
fn mac_at(header: &[u8; ETHERNET_HEADER_LEN], at: usize) -> Mac {
    let mut mac = [0; 6];
    mac.copy_from_slice(&header[at..at + 6]);
    wire::EthernetAddress(mac)
}

impl Vtep {
    /// A VTEP with no networks yet, at time `now`.
    pub fn new(config: VtepConfig, now: Instant) -> Result<Vtep, ConfigError> {
        Self::validate(&config)?;
        let seed = config.hash_seed;
        Ok(Vtep {
            fdb: Fdb::new(config.fdb, seed),
            neighbours: NeighbourTable::new(config.max_neighbours, config.fdb.ageing, seed),
            networks: Networks {
                slots: Vec::new(),
                index: HashMap::with_hasher(FixedState::with_seed(seed)),
            },
            ports: Vec::new(),
            global: GlobalCounters::default(),
            events: VecDeque::with_capacity(config.event_capacity),
            pending: None,
            ready: None,
            next_sweep: now + config.sweep_interval,
            config,
        })
    }

    fn validate(config: &VtepConfig) -> Result<(), ConfigError> {
        let local_ok = match config.local {
            IpAddress::Ipv4(ip) => !ip.is_multicast() && !ip.is_broadcast() && !ip.is_unspecified(),
            IpAddress::Ipv6(ip) => !ip.is_multicast() && !ip.is_unspecified(),
        };
        if !local_ok {
            return Err(ConfigError::BadLocalAddress(config.local));
        }
        if config.vxlan_port == config.geneve_port {
            return Err(ConfigError::PortClash(config.vxlan_port));
        }
        let (min, max) = config.source_ports;
        if min == 0 || min > max {
            return Err(ConfigError::BadSourcePorts(min, max));
        }
        let needed = VtepConfig::min_underlay_mtu(is_ipv6(&config.local));
        if usize::from(config.underlay_mtu) < needed {
            return Err(ConfigError::MtuTooSmall {
                mtu: config.underlay_mtu,
                needed,
            });
        }
        if let Some(peers) = &config.accept_peers
            && let Some(peer) = peers.iter().find(|p| !same_family(p, &config.local))
        {
            return Err(ConfigError::AddressFamilyMismatch {
                local: config.local,
                remote: *peer,
            });
        }
        Ok(())
    }

    pub fn config(&self) -> &VtepConfig {
        &self.config
    }

    pub fn local_address(&self) -> IpAddress {
        self.config.local
    }

    /// Changes the underlay MTU (checked like at creation).
    pub fn set_underlay_mtu(&mut self, mtu: u16) -> Result<(), ConfigError> {
        let mut config = self.config.clone();
        config.underlay_mtu = mtu;
        Self::validate(&config)?;
        self.config.underlay_mtu = mtu;
        Ok(())
    }

    /// Sets (or clears) the accepted peer list.
    pub fn set_accept_peers(&mut self, peers: Option<Vec<IpAddress>>) -> Result<(), ConfigError> {
        let mut config = self.config.clone();
        config.accept_peers = peers;
        Self::validate(&config)?;
        self.config = config;
        Ok(())
    }

    /// Adds a virtual network.
    pub fn add_network(&mut self, config: NetworkConfig, now: Instant) -> Result<(), ConfigError> {
        if self.networks.contains_key(&config.vni) {
            return Err(ConfigError::NetworkExists(config.vni));
        }
        let bucket = Self::bucket_for(config.rate_limit, now)?;
        self.networks.insert(
            config.vni,
            Network {
                config,
                ports: Vec::new(),
                counters: NetworkCounters::default(),
                bucket,
            },
        );
        Ok(())
    }

    fn bucket_for(
        limit: Option<RateLimit>,
        now: Instant,
    ) -> Result<Option<TokenBucket>, ConfigError> {
        match limit {
            Some(limit) if limit.burst_bytes < 1514 => Err(ConfigError::BurstTooSmall {
                burst_bytes: limit.burst_bytes,
            }),
            Some(limit) => Ok(Some(TokenBucket::new(limit, now))),
            None => Ok(None),
        }
    }

    /// Removes a network, its ports, FDB entries, flood list and neighbours.
    pub fn remove_network(&mut self, vni: Vni) -> Result<(), ConfigError> {
        let network = self
            .networks
            .remove(&vni)
            .ok_or(ConfigError::UnknownNetwork(vni))?;
        for port in network.ports {
            self.ports[usize::from(port.0)] = None;
        }
        // The last network took the removed one's position: rebind every port.
        for (slot, moved) in self.networks.slots.iter().enumerate() {
            for port in &moved.ports {
                if let Some(binding) = &mut self.ports[usize::from(port.0)] {
                    binding.slot = slot;
                }
            }
        }
        self.fdb.remove_vni(vni);
        self.neighbours.remove_vni(vni);
        self.pending = None;
        self.ready = None;
        Ok(())
    }

    /// Replaces a network's settings (encapsulation, learning, ARP proxy, rate limit, VLAN
    /// policy), keeping its ports, entries and counters.
    pub fn update_network(
        &mut self,
        config: NetworkConfig,
        now: Instant,
    ) -> Result<(), ConfigError> {
        let bucket = Self::bucket_for(config.rate_limit, now)?;
        let network = self
            .networks
            .get_mut(&config.vni)
            .ok_or(ConfigError::UnknownNetwork(config.vni))?;
        if network.config.rate_limit != config.rate_limit {
            network.bucket = bucket;
        }
        network.config = config;
        Ok(())
    }

    pub fn network(&self, vni: Vni) -> Option<&NetworkConfig> {
        self.networks.get(&vni).map(|n| &n.config)
    }

    /// Every network's settings, sorted by VNI.
    pub fn networks(&self) -> Vec<NetworkConfig> {
        let mut all: Vec<_> = self.networks.values().map(|n| n.config).collect();
        all.sort_unstable_by_key(|c| c.vni);
        all
    }

    /// A new local port on network `vni`.
    pub fn add_port(&mut self, vni: Vni) -> Result<PortId, ConfigError> {
        let slot = self
            .networks
            .slot(&vni)
            .ok_or(ConfigError::UnknownNetwork(vni))?;
        let network = &mut self.networks.slots[slot];
        let index = match self.ports.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.ports.len() <= usize::from(u16::MAX) => {
                self.ports.push(None);
                self.ports.len() - 1
            }
            None => return Err(ConfigError::TooManyPorts),
        };
        let port = PortId(u16::try_from(index).map_err(|_| ConfigError::TooManyPorts)?);
        self.ports[index] = Some(PortBinding {
            vni,
            slot,
            source: LearnHint::default(),
        });
        network.ports.push(port);
        Ok(port)
    }

    /// Removes a port and the FDB entries that point to it.
    pub fn remove_port(&mut self, port: PortId) -> Result<(), ConfigError> {
        let vni = self
            .port_network(port)
            .ok_or(ConfigError::UnknownPort(port))?;
        self.ports[usize::from(port.0)] = None;
        if let Some(network) = self.networks.get_mut(&vni) {
            network.ports.retain(|p| *p != port);
        }
        self.fdb.retain(
            |_, _, entry| entry.dest != Destination::Local(port),
            |_, _, _| {},
        );
        self.pending = None;
        self.ready = None;
        Ok(())
    }

    /// The network a port belongs to.
    pub fn port_network(&self, port: PortId) -> Option<Vni> {
        self.port_binding(port).map(|b| b.vni)
    }

    #[inline]
    fn port_binding(&self, port: PortId) -> Option<PortBinding> {
        self.ports.get(usize::from(port.0)).copied().flatten()
    }

    /// The local ports of a network.
    pub fn ports(&self, vni: Vni) -> &[PortId] {
        self.networks.get(&vni).map_or(&[], |n| n.ports.as_slice())
    }

    /// Adds a remote VTEP to the head-end replication list of `vni`.
    pub fn add_flood_peer(&mut self, vni: Vni, remote: IpAddress) -> Result<bool, ConfigError> {
        self.check_remote(vni, &remote)?;
        Ok(self.fdb.append_flood(vni, remote))
    }

    pub fn remove_flood_peer(&mut self, vni: Vni, remote: &IpAddress) -> bool {
        self.fdb.remove_flood(vni, remote)
    }

    fn check_remote(&self, vni: Vni, remote: &IpAddress) -> Result<(), ConfigError> {
        if !self.networks.contains_key(&vni) {
            return Err(ConfigError::UnknownNetwork(vni));
        }
        if !same_family(remote, &self.config.local) {
            return Err(ConfigError::AddressFamilyMismatch {
                local: self.config.local,
                remote: *remote,
            });
        }
        Ok(())
    }

    /// A static FDB entry (`bridge fdb add MAC dev vxlan0 dst IP static`).
    pub fn add_static_fdb(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        dest: Destination,
    ) -> Result<(), ConfigError> {
        self.check_dest(vni, &dest)?;
        Ok(self.fdb.insert_static(now, vni, mac, dest)?)
    }

    /// A control-plane route (EVPN type 2): `mac` (and optionally its IP, for ARP suppression)
    /// lives at `dest` with MAC-mobility sequence `seq`. Emits `Learned`/`Moved` events.
    pub fn install_route(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        ip: Option<Ipv4Address>,
        dest: Destination,
        seq: u32,
    ) -> Result<LearnOutcome, ConfigError> {
        self.check_dest(vni, &dest)?;
        let outcome = self.fdb.install(now, vni, mac, dest, seq)?;
        if let Some(ip) = ip {
            self.neighbours
                .insert(now, vni, ip, mac, Origin::ControlPlane)?;
        }
        self.record_learn(vni, mac, dest, outcome);
        Ok(outcome)
    }

    /// Withdraws a control-plane route.
    pub fn withdraw_route(&mut self, vni: Vni, mac: &Mac, ip: Option<Ipv4Address>) -> bool {
        if let Some(ip) = ip {
            self.neighbours.remove(vni, &ip);
        }
        match self.fdb.lookup(vni, mac) {
            Some(entry) if entry.origin == Origin::ControlPlane => {
                self.fdb.remove(vni, mac);
                true
            }
            _ => false,
        }
    }

    fn check_dest(&self, vni: Vni, dest: &Destination) -> Result<(), ConfigError> {
        match dest {
            Destination::Remote(ip) => self.check_remote(vni, ip),
            Destination::Local(port) if self.port_network(*port) == Some(vni) => Ok(()),
            Destination::Local(port) => Err(ConfigError::UnknownPort(*port)),
        }
    }

    /// A static neighbour entry for ARP suppression (`ip neigh add IP lladdr MAC dev vxlan0`).
    pub fn add_static_neighbour(
        &mut self,
        now: Instant,
        vni: Vni,
        ip: Ipv4Address,
        mac: Mac,
    ) -> Result<(), ConfigError> {
        if !self.networks.contains_key(&vni) {
            return Err(ConfigError::UnknownNetwork(vni));
        }
        Ok(self.neighbours.insert(now, vni, ip, mac, Origin::Static)?)
    }

    pub fn fdb(&self) -> &Fdb {
        &self.fdb
    }

    /// Direct access for operators' deletions and flushes.
    pub fn fdb_mut(&mut self) -> &mut Fdb {
        &mut self.fdb
    }

    pub fn neighbours(&self) -> &NeighbourTable {
        &self.neighbours
    }

    pub fn neighbours_mut(&mut self) -> &mut NeighbourTable {
        &mut self.neighbours
    }

    pub fn counters(&self, vni: Vni) -> Option<&NetworkCounters> {
        self.networks.get(&vni).map(|n| &n.counters)
    }

    pub fn global_counters(&self) -> &GlobalCounters {
        &self.global
    }

    /// Gives the engine one input at time `now`. Then call [`Vtep::poll_output`] until it
    /// returns [`Output::Timeout`].
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.pending = None;
        self.ready = None;
        if now >= self.next_sweep {
            self.sweep(now);
        }
        match input {
            Input::Local { port, buf, frame } => self.on_local(now, port, buf, frame),
            Input::Underlay {
                from,
                transport,
                buf,
                payload,
            } => self.on_underlay(now, from, transport, buf, payload),
            Input::Timeout => {}
        }
    }

    /// The next thing to do. Returns [`Output::Timeout`] when there is nothing more.
    #[must_use]
    #[inline]
    pub fn poll_output(&mut self) -> Output {
        if let Some(event) = self.events.pop_front() {
            return Output::Event(event);
        }
        // Tested before taking, so that the call that finds nothing reads only the tag.
        if self.ready.is_some()
            && let Some(ready) = self.ready.take()
        {
            if let Some(network) = self.networks.slots.get_mut(ready.slot) {
                network.counters.encap_frames += 1;
                network.counters.encap_bytes += ready.payload.len() as u64;
            }
            return Output::Transmit(Transmit {
                vni: ready.vni,
                encapsulation: ready.encapsulation,
                outer: self.outer(ready.encapsulation, ready.remote.ip(), ready.source_port),
                payload: ready.payload,
                flooded: false,
            });
        }
        if self.pending.is_some() {
            if let Some(output) = self.next_fanout() {
                return output;
            }
            self.pending = None;
        }
        Output::Timeout(self.next_sweep)
    }

    #[inline(never)]
    fn next_fanout(&mut self) -> Option<Output> {
        let pending = self.pending.as_mut()?;
        if matches!(
            (&pending.local, &pending.remote),
            (LocalFanout::None, RemoteFanout::None)
        ) {
            return None;
        }
        let network = self.networks.slots.get_mut(pending.slot)?;
        // Local copies first: they need no encapsulation.
        loop {
            let port = match &mut pending.local {
                LocalFanout::None => break,
                LocalFanout::One(port) => {
                    let port = *port;
                    pending.local = LocalFanout::None;
                    port
                }
                LocalFanout::AllExcept { next, except } => {
                    let Some(port) = network.ports.get(*next).copied() else {
                        pending.local = LocalFanout::None;
                        break;
                    };
                    *next += 1;
                    if Some(port) == *except {
                        continue;
                    }
                    port
                }
            };
            network.counters.local_tx_frames += 1;
            network.counters.local_tx_bytes += pending.frame.len() as u64;
            return Some(Output::Deliver(Deliver {
                port,
                vni: pending.vni,
                frame: pending.frame.clone(),
                flooded: pending.flooded,
            }));
        }
        let remote = match &mut pending.remote {
            RemoteFanout::None => return None,
            RemoteFanout::Flood { next } => {
                let list = self.fdb.flood_list(pending.vni);
                let local = self.config.local;
                let found = list[(*next).min(list.len())..]
                    .iter()
                    .position(|ip| is_flood_target(ip, &local));
                match found {
                    Some(offset) => {
                        let ip = list[*next + offset];
                        *next += offset + 1;
                        ip
                    }
                    None => {
                        pending.remote = RemoteFanout::None;
                        return None;
                    }
                }
            }
        };
        network.counters.encap_frames += 1;
        network.counters.encap_bytes += pending.payload.len() as u64;
        let (encapsulation, source_port) = (pending.encapsulation, pending.source_port);
        let (vni, payload, flooded) = (pending.vni, pending.payload.clone(), pending.flooded);
        Some(Output::Transmit(Transmit {
            vni,
            encapsulation,
            outer: self.outer(encapsulation, remote, source_port),
            payload,
            flooded,
        }))
    }

    /// The outer headers of a transmit to `remote`.
    #[inline]
    fn outer(&self, encapsulation: Encapsulation, remote: IpAddress, src_port: u16) -> OuterRepr {
        let transport = match encapsulation {
            Encapsulation::Vxlan => Transport::Udp {
                src_port,
                dst_port: self.config.vxlan_port,
            },
            Encapsulation::Geneve => Transport::Udp {
                src_port,
                dst_port: self.config.geneve_port,
            },
            Encapsulation::Nvgre => Transport::Gre,
        };
        OuterRepr {
            src: self.config.local,
            dst: remote,
            transport,
            hop_limit: self.config.hop_limit,
            udp_checksum: self.config.udp_checksum,
        }
    }

    fn push_event(&mut self, event: Event) {
        push_event(&mut self.events, &mut self.global, event);
    }

    fn drop_frame(&mut self, vni: Option<Vni>, reason: DropReason) {
        match vni.and_then(|v| self.networks.get_mut(&v)) {
            Some(network) => network.counters.drops.bump(reason),
            None => self.global.drops.bump(reason),
        }
        self.push_event(Event::Dropped { vni, reason });
    }

    #[cold]
    fn sweep(&mut self, now: Instant) {
        let Vtep {
            fdb,
            neighbours,
            networks,
            events,
            global,
            ..
        } = self;
        fdb.age(now, |vni, mac, entry| {
            if let Some(network) = networks.get_mut(&vni) {
                network.counters.aged_out += 1;
            }
            push_event(
                events,
                global,
                Event::AgedOut {
                    vni,
                    mac,
                    dest: entry.dest,
                },
            );
        });
        neighbours.age(now, |_, _, _| {});
        self.next_sweep = now + self.config.sweep_interval;
    }

    fn on_local(&mut self, now: Instant, port: PortId, buf: &mut [u8], mut frame: Range<usize>) {
        let Some(PortBinding {
            vni,
            slot,
            source: mut hint,
        }) = self.port_binding(port)
        else {
            return self.drop_frame(None, DropReason::UnknownPort);
        };
        if !check_range(buf, &frame) {
            return self.drop_frame(Some(vni), DropReason::BadBuffer);
        }
        let Some(network) = self.networks.slots.get_mut(slot) else {
            return self.drop_frame(None, DropReason::UnknownPort);
        };
        network.counters.local_rx_frames += 1;
        network.counters.local_rx_bytes += frame.len() as u64;
        let (inner_vlan, arp_proxy) = (network.config.inner_vlan, network.config.arp_proxy);
        let Some(header) = buf[frame.clone()].first_chunk::<ETHERNET_HEADER_LEN>() else {
            return self.drop_frame(Some(vni), DropReason::TruncatedFrame);
        };
        if dot1q::is_tagged(header) {
            match inner_vlan {
                InnerVlanPolicy::Drop => {
                    return self.drop_frame(Some(vni), DropReason::InnerVlanTag);
                }
                InnerVlanPolicy::Strip => match dot1q::strip_tag(&mut buf[frame.clone()]) {
                    Ok(offset) => frame.start += offset,
                    Err(_) => return self.drop_frame(Some(vni), DropReason::TruncatedFrame),
                },
                InnerVlanPolicy::Keep => {}
            }
        }
        let Some(header) = buf[frame.clone()].first_chunk::<ETHERNET_HEADER_LEN>() else {
            return self.drop_frame(Some(vni), DropReason::TruncatedFrame);
        };
        let (dst, src) = (mac_at(header, 0), mac_at(header, 6));
        let ethertype = EthernetProtocol::from(u16::from_be_bytes([header[12], header[13]]));
        let outcome = self.fdb.learn_at_port(now, vni, src, port, &mut hint);
        // Learning is what refuses a group or all-zeros source, so a known one skips the check.
        if matches!(outcome, LearnOutcome::Ignored(IgnoreReason::NotUnicast)) {
            return self.drop_frame(Some(vni), DropReason::InvalidSourceMac);
        }
        if let Some(Some(binding)) = self.ports.get_mut(usize::from(port.0))
            && binding.source != hint
        {
            binding.source = hint;
        }
        if !self.learned(vni, src, Destination::Local(port), outcome) {
            return self.drop_frame(Some(vni), DropReason::FdbFull);
        }

        if ethertype == EthernetProtocol::Arp
            && self.handle_local_arp(now, vni, arp_proxy, port, buf, &frame)
        {
            return;
        }

        let (local, remote) = if dst.is_unicast() {
            match self.fdb.destination(vni, &dst) {
                Some(Destination::Local(p)) if p == port => {
                    return self.drop_frame(Some(vni), DropReason::SamePort);
                }
                Some(Destination::Local(p)) => (LocalFanout::One(p), RemoteFanout::None),
                Some(Destination::Remote(ip)) => {
                    return self.encapsulate_to(now, vni, slot, buf, frame, ip);
                }
                None => Self::flood_from(port),
            }
        } else {
            Self::flood_from(port)
        };
        self.start_fanout(now, vni, slot, port, buf, frame, local, remote);
    }

    /// A frame to a MAC known behind the VTEP at `remote`, the common case: encapsulates it
    /// and readies the one transmit.
    #[inline(always)]
    fn encapsulate_to(
        &mut self,
        now: Instant,
        vni: Vni,
        slot: usize,
        buf: &mut [u8],
        frame: Range<usize>,
        remote: IpAddress,
    ) {
        let Some(network) = self.networks.slots.get_mut(slot) else {
            return;
        };
        let encapsulation = network.config.encapsulation;
        let header_len = encapsulation.header_len();
        let ip_len = encapsulation.ip_overhead(is_ipv6(&self.config.local)) + frame.len();
        let reason = if ip_len > usize::from(self.config.underlay_mtu) {
            DropReason::TooBig
        } else if frame.start < header_len {
            DropReason::NoHeadroom
        } else if let Some(bucket) = &mut network.bucket
            && !bucket.try_consume(now, frame.len())
        {
            DropReason::RateLimited
        } else {
            let hash = flow::flow_hash(&buf[frame.clone()], self.config.hash_seed);
            let (min, max) = self.config.source_ports;
            let source_port = flow::source_port(hash, min, max);
            let payload = frame.start - header_len..frame.end;
            write_tunnel_header(encapsulation, &mut buf[payload.clone()], vni, hash);
            self.ready = Some(ReadyTransmit {
                slot,
                vni,
                encapsulation,
                remote: Remote::new(remote),
                source_port,
                payload,
            });
            return;
        };
        self.drop_frame(Some(vni), reason);
    }

    /// Fan-out of a BUM frame from local `port`: every other local port and every flood peer.
    fn flood_from(port: PortId) -> (LocalFanout, RemoteFanout) {
        (
            LocalFanout::AllExcept {
                next: 0,
                except: Some(port),
            },
            RemoteFanout::Flood { next: 0 },
        )
    }

    /// Encapsulates (if anything goes remote), counts, and arms the fan-out cursor.
    #[allow(clippy::too_many_arguments)]
    fn start_fanout(
        &mut self,
        now: Instant,
        vni: Vni,
        slot: usize,
        port: PortId,
        buf: &mut [u8],
        frame: Range<usize>,
        local: LocalFanout,
        mut remote: RemoteFanout,
    ) {
        let local_addr = self.config.local;
        let flooded = matches!(local, LocalFanout::AllExcept { .. });
        let local_ports = match local {
            LocalFanout::None => 0,
            LocalFanout::One(_) => 1,
            LocalFanout::AllExcept { .. } => self.ports(vni).iter().filter(|p| **p != port).count(),
        };
        let mut remote_copies = match remote {
            RemoteFanout::None => 0,
            RemoteFanout::Flood { .. } => self
                .fdb
                .flood_list(vni)
                .iter()
                .filter(|ip| is_flood_target(ip, &local_addr))
                .count(),
        };
        let Some(network) = self.networks.slots.get_mut(slot) else {
            return;
        };
        let encapsulation = network.config.encapsulation;
        let mut payload = frame.clone();
        let mut source_port = 0;
        let mut remote_drop = None;
        if remote_copies > 0 {
            let header_len = encapsulation.header_len();
            let ip_len = encapsulation.ip_overhead(is_ipv6(&local_addr)) + frame.len();
            if ip_len > usize::from(self.config.underlay_mtu) {
                remote_drop = Some(DropReason::TooBig);
            } else if frame.start < header_len {
                remote_drop = Some(DropReason::NoHeadroom);
            } else if let Some(bucket) = &mut network.bucket
                && !bucket.try_consume(now, frame.len())
            {
                remote_drop = Some(DropReason::RateLimited);
            } else {
                let hash = flow::flow_hash(&buf[frame.clone()], self.config.hash_seed);
                let (min, max) = self.config.source_ports;
                source_port = flow::source_port(hash, min, max);
                payload.start = frame.start - header_len;
                write_tunnel_header(encapsulation, &mut buf[payload.clone()], vni, hash);
            }
        }
        if remote_drop.is_some() {
            remote = RemoteFanout::None;
            remote_copies = 0;
        } else if remote_copies == 0 {
            remote = RemoteFanout::None;
        }
        if flooded {
            network.counters.flooded_frames += 1;
            network.counters.flood_copies += remote_copies as u64;
        }
        if let Some(reason) = remote_drop {
            self.drop_frame(Some(vni), reason);
        }
        if flooded {
            self.push_event(Event::Flooded {
                vni,
                local_ports,
                remote_copies,
            });
        }
        if local_ports == 0 && remote_copies == 0 {
            if remote_drop.is_none() {
                self.drop_frame(Some(vni), DropReason::NoDestination);
            }
            return;
        }
        self.pending = Some(Pending {
            vni,
            slot,
            frame,
            payload,
            encapsulation,
            source_port,
            flooded,
            local,
            remote,
        });
    }

    /// Snoops ARP into the neighbour table and, with ARP suppression on, answers requests for
    /// known IPs in place. Returns true if the frame was consumed.
    fn handle_local_arp(
        &mut self,
        now: Instant,
        vni: Vni,
        proxy: bool,
        port: PortId,
        buf: &mut [u8],
        frame: &Range<usize>,
    ) -> bool {
        if !proxy {
            return false;
        }
        let Some(arp) = parse_arp(&buf[frame.start + ETHERNET_HEADER_LEN..frame.end]) else {
            return false;
        };
        self.snoop_arp(now, vni, &arp);
        let ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: asker_mac,
            source_protocol_addr: asker_ip,
            target_protocol_addr: wanted_ip,
            ..
        } = arp
        else {
            return false;
        };
        if asker_ip == wanted_ip {
            return false; // a gratuitous ARP announces; nobody should answer it
        }
        let Some(answer) = self.neighbours.lookup(vni, &wanted_ip).map(|e| e.mac) else {
            return false; // unknown: flood the request as usual
        };
        if answer == asker_mac {
            return false;
        }
        let Some(slot) = self.networks.slot(&vni) else {
            return false;
        };
        let reply = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: answer,
            source_protocol_addr: wanted_ip,
            target_hardware_addr: asker_mac,
            target_protocol_addr: asker_ip,
        };
        let bytes = &mut buf[frame.clone()];
        let mut eth = EthernetFrame::new_unchecked(&mut *bytes);
        eth.set_dst_addr(asker_mac);
        eth.set_src_addr(answer);
        reply.emit(&mut ArpPacket::new_unchecked(
            &mut bytes[ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + reply.buffer_len()],
        ));
        self.networks.slots[slot].counters.arp_suppressed += 1;
        self.push_event(Event::ArpSuppressed {
            vni,
            ip: wanted_ip,
            mac: answer,
        });
        self.pending = Some(Pending {
            vni,
            slot,
            frame: frame.clone(),
            payload: frame.clone(),
            encapsulation: Encapsulation::Vxlan,
            source_port: 0,
            flooded: false,
            local: LocalFanout::One(port),
            remote: RemoteFanout::None,
        });
        true
    }

    fn snoop_arp(&mut self, now: Instant, vni: Vni, arp: &ArpRepr) {
        let ArpRepr::EthernetIpv4 {
            source_hardware_addr: mac,
            source_protocol_addr: ip,
            ..
        } = *arp
        else {
            return;
        };
        if matches!(
            self.neighbours.learn(now, vni, ip, mac),
            NeighOutcome::Learned | NeighOutcome::Changed { .. }
        ) {
            self.push_event(Event::NeighbourLearned { vni, ip, mac });
        }
    }

    fn on_underlay(
        &mut self,
        now: Instant,
        from: IpAddress,
        transport: Transport,
        buf: &mut [u8],
        payload: Range<usize>,
    ) {
        if !check_range(buf, &payload) {
            return self.drop_frame(None, DropReason::BadBuffer);
        }
        if !same_family(&from, &self.config.local) {
            return self.drop_frame(None, DropReason::AddressFamily);
        }
        // A VTEP is not its own peer: learning a MAC behind our own address (a spoofed source)
        // would send its traffic back to ourselves (found by fuzz target vtep_ops).
        if from == self.config.local
            || self
                .config
                .accept_peers
                .as_ref()
                .is_some_and(|peers| !peers.contains(&from))
        {
            return self.drop_frame(None, DropReason::NotAPeer);
        }
        let encapsulation = match transport {
            Transport::Udp { dst_port, .. } if dst_port == self.config.vxlan_port => {
                Encapsulation::Vxlan
            }
            Transport::Udp { dst_port, .. } if dst_port == self.config.geneve_port => {
                Encapsulation::Geneve
            }
            Transport::Udp { .. } => return self.drop_frame(None, DropReason::UnknownUdpPort),
            Transport::Gre => Encapsulation::Nvgre,
        };
        let (vni, header_len) = match read_tunnel_header(
            encapsulation,
            &buf[payload.clone()],
            self.config.reserved_bits,
        ) {
            Ok(parsed) => parsed,
            Err(e) => return self.drop_frame(None, e.into()),
        };
        let Some(slot) = self.networks.slot(&vni) else {
            return self.drop_frame(None, DropReason::UnknownVni);
        };
        let config = self.networks.slots[slot].config;
        if config.encapsulation != encapsulation {
            return self.drop_frame(Some(vni), DropReason::EncapsulationMismatch);
        }
        let frame = payload.start + header_len..payload.end;
        if frame.len() < ETHERNET_HEADER_LEN {
            return self.drop_frame(Some(vni), DropReason::TruncatedFrame);
        }
        // The mirror of the encapsulation check: a frame this VTEP could not have sent does not
        // fit its ports either (a TAP's MTU is sized from the underlay's), whether a peer has a
        // larger MTU or the datagram came reassembled from IP fragments.
        let ip_overhead = encapsulation.ip_overhead(is_ipv6(&self.config.local));
        if ip_overhead + frame.len() > usize::from(self.config.underlay_mtu) {
            return self.drop_frame(Some(vni), DropReason::TooBig);
        }
        if dot1q::is_tagged(&buf[frame.clone()]) && config.inner_vlan != InnerVlanPolicy::Keep {
            return self.drop_frame(Some(vni), DropReason::InnerVlanTag);
        }
        let eth = EthernetFrame::new_unchecked(&buf[frame.clone()]);
        let (src, dst, ethertype) = (eth.src_addr(), eth.dst_addr(), eth.ethertype());
        if !crate::fdb::is_learnable(&src) {
            return self.drop_frame(Some(vni), DropReason::InvalidSourceMac);
        }
        let counters = &mut self.networks.slots[slot].counters;
        counters.decap_frames += 1;
        counters.decap_bytes += payload.len() as u64;
        if config.learning {
            if !self.learn_source(now, vni, src, Destination::Remote(from)) {
                return self.drop_frame(Some(vni), DropReason::FdbFull);
            }
            if config.arp_proxy
                && ethertype == EthernetProtocol::Arp
                && let Some(arp) = parse_arp(&buf[frame.start + ETHERNET_HEADER_LEN..frame.end])
            {
                self.snoop_arp(now, vni, &arp);
            }
        }
        let local = if dst.is_unicast() {
            match self.fdb.destination(vni, &dst) {
                Some(Destination::Local(port)) => LocalFanout::One(port),
                Some(Destination::Remote(_)) => {
                    return self.drop_frame(Some(vni), DropReason::SplitHorizon);
                }
                None => LocalFanout::AllExcept {
                    next: 0,
                    except: None,
                },
            }
        } else {
            LocalFanout::AllExcept {
                next: 0,
                except: None,
            }
        };
        let local_ports = match local {
            LocalFanout::AllExcept { .. } => self.ports(vni).len(),
            _ => 1,
        };
        if local_ports == 0 {
            return self.drop_frame(Some(vni), DropReason::NoDestination);
        }
        self.pending = Some(Pending {
            vni,
            slot,
            frame: frame.clone(),
            payload: frame,
            encapsulation,
            source_port: 0,
            flooded: matches!(local, LocalFanout::AllExcept { .. }),
            local,
            remote: RemoteFanout::None,
        });
    }

    #[inline]
    /// Learns that `src` sends from `dest`, with its events and counters. Returns false when the
    /// frame must be dropped: the FDB is full and `FdbConfig::drop_when_full` is set.
    fn learn_source(&mut self, now: Instant, vni: Vni, src: Mac, dest: Destination) -> bool {
        let outcome = self.fdb.learn(now, vni, src, dest);
        self.learned(vni, src, dest, outcome)
    }

    /// Records what learning a frame's source did. Returns false when the frame must be dropped
    /// (see [`Vtep::learn_source`]).
    #[inline(always)]
    fn learned(&mut self, vni: Vni, src: Mac, dest: Destination, outcome: LearnOutcome) -> bool {
        // A refresh (nearly every frame) has nothing to count or tell.
        if matches!(outcome, LearnOutcome::Refreshed) {
            return true;
        }
        self.record_learn(vni, src, dest, outcome);
        !(matches!(outcome, LearnOutcome::Full) && self.config.fdb.drop_when_full)
    }

    fn record_learn(&mut self, vni: Vni, mac: Mac, dest: Destination, outcome: LearnOutcome) {
        // A refresh (every frame from a known source) has nothing to count or tell.
        if matches!(outcome, LearnOutcome::Refreshed | LearnOutcome::Ignored(_)) {
            return;
        }
        let Vtep {
            networks,
            events,
            global,
            ..
        } = self;
        if let Some(network) = networks.get_mut(&vni) {
            record_learn(
                events,
                global,
                &mut network.counters,
                vni,
                mac,
                dest,
                outcome,
            );
        }
    }
}

fn push_event(events: &mut VecDeque<Event>, global: &mut GlobalCounters, event: Event) {
    if events.len() < events.capacity() {
        events.push_back(event);
    } else {
        global.events_lost += 1;
    }
}

fn record_learn(
    events: &mut VecDeque<Event>,
    global: &mut GlobalCounters,
    counters: &mut NetworkCounters,
    vni: Vni,
    mac: Mac,
    dest: Destination,
    outcome: LearnOutcome,
) {
    let event = match outcome {
        LearnOutcome::Learned => {
            counters.learned += 1;
            Event::Learned { vni, mac, dest }
        }
        LearnOutcome::Moved { from, seq } => {
            counters.moved += 1;
            Event::Moved {
                vni,
                mac,
                from,
                to: dest,
                seq,
            }
        }
        LearnOutcome::Frozen { moves } => {
            counters.duplicates_frozen += 1;
            Event::DuplicateFrozen { vni, mac, moves }
        }
        LearnOutcome::Full => {
            counters.fdb_full += 1;
            Event::FdbFull { vni, mac }
        }
        LearnOutcome::Refreshed | LearnOutcome::Ignored(_) => return,
    };
    push_event(events, global, event);
}

fn parse_arp(bytes: &[u8]) -> Option<ArpRepr> {
    let packet = ArpPacket::new_checked(bytes).ok()?;
    ArpRepr::parse(&packet).ok()
}

/// Writes the tunnel header into `header` (exactly `encapsulation.header_len()` bytes).
#[inline(always)]
fn write_tunnel_header(encapsulation: Encapsulation, header: &mut [u8], vni: Vni, flow_hash: u32) {
    match encapsulation {
        Encapsulation::Vxlan => {
            vxlan::Repr { vni }.emit(&mut vxlan::Packet::new_unchecked(header));
        }
        Encapsulation::Geneve => geneve::Repr {
            vni,
            oam: false,
            critical: false,
            protocol: wire::ETHERTYPE_TRANSPARENT_ETHERNET,
            options: &[],
        }
        .emit(&mut geneve::Packet::new_unchecked(header)),
        Encapsulation::Nvgre => nvgre::Repr {
            vsid: vni,
            // RFC 7637: the FlowID gives the underlay per-flow entropy, like VXLAN's source port.
            flow_id: flow_hash as u8,
        }
        .emit(&mut nvgre::Packet::new_unchecked(header)),
    }
}

/// Reads the tunnel header at the start of `payload`: the VNI and the header's length.
fn read_tunnel_header(
    encapsulation: Encapsulation,
    payload: &[u8],
    policy: ReservedBitsPolicy,
) -> wire::Result<(Vni, usize)> {
    match encapsulation {
        Encapsulation::Vxlan => {
            let packet = vxlan::Packet::new_checked(payload)?;
            let repr = vxlan::Repr::parse(&packet, policy)?;
            Ok((repr.vni, vxlan::HEADER_LEN))
        }
        Encapsulation::Geneve => {
            let packet = geneve::Packet::new_checked(payload)?;
            let repr = geneve::Repr::parse(&packet)?;
            Ok((repr.vni, repr.buffer_len()))
        }
        Encapsulation::Nvgre => {
            let packet = nvgre::Packet::new_checked(payload)?;
            let repr = nvgre::Repr::parse(&packet)?;
            Ok((repr.vsid, nvgre::HEADER_LEN))
        }
    }
}
