//! Why frames are dropped, and what the engine counts: per network, and for traffic that
//! belongs to none.

use core::fmt;

use super::Event;
use crate::wire;

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
    /// With the proxy on, an IPv6 Neighbour Solicitation or Advertisement that RFC 4861
    /// section 7.1 says to discard: hop limit not 255, ICMPv6 code not 0, a bad checksum,
    /// truncated, an option of length 0 or past the end, a multicast target (or a multicast
    /// source, which RFC 4291 forbids any packet), a malformed duplicate address detection
    /// probe, or a solicited advertisement to a multicast address.
    MalformedNd = "malformed_nd",
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

reason_counters! {
    /// Drops by reason.
    pub struct DropCounters(DropReason);
}

impl DropCounters {
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
    /// IPv6 Neighbour Solicitations answered locally.
    pub nd_suppressed: u64,
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
    // Spelled out rather than behind an alias: callers (daemon, client, playground) read it.
    #[allow(clippy::type_complexity)]
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
        ("nd_suppressed", |c| c.nd_suppressed),
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

impl NetworkCounters {
    /// Counts what `event` reports happened in this network (the one table of which event
    /// bumps which counter; the traffic counters are bumped where the traffic passes).
    pub(super) fn count(&mut self, event: &Event) {
        match *event {
            Event::Learned { .. } => self.learned += 1,
            Event::Moved { .. } => self.moved += 1,
            Event::DuplicateFrozen { .. } => self.duplicates_frozen += 1,
            Event::AgedOut { .. } => self.aged_out += 1,
            Event::FdbFull { .. } => self.fdb_full += 1,
            Event::Flooded { remote_copies, .. } => {
                self.flooded_frames += 1;
                self.flood_copies += remote_copies as u64;
            }
            Event::ArpSuppressed { .. } => self.arp_suppressed += 1,
            Event::NdSuppressed { .. } => self.nd_suppressed += 1,
            Event::Dropped { reason, .. } => self.drops.bump(reason),
            Event::NeighbourLearned { .. } => {}
        }
    }
}

impl GlobalCounters {
    /// Counts what `event` reports of traffic that belongs to no network: only drops.
    pub(super) fn count(&mut self, event: &Event) {
        if let Event::Dropped { reason, .. } = *event {
            self.drops.bump(reason);
        }
    }
}
