//! The encapsulations (VXLAN, Geneve, NVGRE): what each adds to a frame, its tunnel header
//! written and read, and the one sequence that wraps a frame in place for the underlay.

use core::fmt;
use core::ops::Range;

use smoltcp::wire::{IPV4_HEADER_LEN, IPV6_HEADER_LEN, UDP_HEADER_LEN};

use super::config::is_ipv6;
use super::networks::Network;
use super::{DropReason, VtepConfig};
use crate::wire::vxlan::ReservedBitsPolicy;
use crate::wire::{self, ETHERNET_HEADER_LEN, flow, geneve, nvgre, vxlan};
use crate::{Instant, Vni};

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
        let ip = if ipv6_underlay {
            IPV6_HEADER_LEN
        } else {
            IPV4_HEADER_LEN
        };
        let udp = if self == Encapsulation::Nvgre {
            0
        } else {
            UDP_HEADER_LEN
        };
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

/// Wraps `buf[frame]` for the underlay in place, as `network` says: checks that it fits the
/// underlay MTU once encapsulated (VTEPs do not fragment) and that the headroom holds the
/// tunnel header, takes its bytes from the rate limit, hashes the inner flow for the UDP
/// source port (and NVGRE's FlowID), and writes the tunnel header in front of the frame.
/// Returns the payload to transmit (tunnel header + frame) and the source port. The one
/// transmit of a unicast and the copies of a flood both come from here.
#[inline(always)]
pub(super) fn encap_in_place(
    config: &VtepConfig,
    network: &mut Network,
    now: Instant,
    vni: Vni,
    buf: &mut [u8],
    frame: &Range<usize>,
) -> Result<(Range<usize>, u16), DropReason> {
    let encapsulation = network.config.encapsulation;
    let header_len = encapsulation.header_len();
    let ip_len = encapsulation.ip_overhead(is_ipv6(&config.local)) + frame.len();
    if ip_len > usize::from(config.underlay_mtu) {
        return Err(DropReason::TooBig);
    }
    if frame.start < header_len {
        return Err(DropReason::NoHeadroom);
    }
    if let Some(bucket) = &mut network.bucket
        && !bucket.try_consume(now, frame.len())
    {
        return Err(DropReason::RateLimited);
    }
    let hash = flow::flow_hash(&buf[frame.clone()], config.hash_seed);
    let (min, max) = config.source_ports;
    let source_port = flow::source_port(hash, min, max);
    let payload = frame.start - header_len..frame.end;
    write_tunnel_header(encapsulation, &mut buf[payload.clone()], vni, hash);
    Ok((payload, source_port))
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
#[inline]
pub(super) fn read_tunnel_header(
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
