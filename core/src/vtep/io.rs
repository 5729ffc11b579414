//! What goes in and out of the engine: [`Input`] to `Vtep::handle_input`, [`Output`] from
//! `Vtep::poll_output`, and the [`Event`]s among the outputs.

use core::ops::Range;

use super::{DropReason, Encapsulation};
use crate::addr::{Destination, Mac, PortId};
use crate::wire::outer::{OuterRepr, Transport};
use crate::wire::{IpAddress, Ipv4Address, Ipv6Address};
use crate::{Instant, Vni};

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
    DuplicateFrozen { vni: Vni, mac: Mac, moves: u32 },
    AgedOut {
        vni: Vni,
        mac: Mac,
        dest: Destination,
    },
    /// A new MAC was not learned because the FDB is full.
    FdbFull { vni: Vni, mac: Mac },
    /// An IP address was learned at a MAC, or moved to another (snooped from ARP or IPv6
    /// Neighbour Discovery).
    NeighbourLearned { vni: Vni, ip: IpAddress, mac: Mac },
    /// A BUM or unknown-unicast frame went to `local_ports` local ports and `remote_copies`
    /// remote VTEPs.
    Flooded {
        vni: Vni,
        local_ports: usize,
        remote_copies: usize,
    },
    /// An ARP request was answered locally.
    ArpSuppressed { vni: Vni, ip: Ipv4Address, mac: Mac },
    /// An IPv6 Neighbour Solicitation for `ip` was answered locally with `mac` (ND
    /// suppression).
    NdSuppressed { vni: Vni, ip: Ipv6Address, mac: Mac },
    Dropped {
        vni: Option<Vni>,
        reason: DropReason,
    },
}

/// One input to the engine.
#[derive(Debug)]
pub enum Input<'a> {
    /// An Ethernet frame (no FCS) from a local port, at `buf[frame]`. Leave headroom in front
    /// of `frame.start` (at least [`crate::wire::outer::MAX_HEADROOM`] for a caller that also
    /// writes outer headers) so the frame can be encapsulated in place.
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

/// Whether `range` is a range of `buf` (the caller's ranges are not trusted).
#[inline]
pub(super) fn check_range(buf: &[u8], range: &Range<usize>) -> bool {
    range.start <= range.end && range.end <= buf.len()
}
