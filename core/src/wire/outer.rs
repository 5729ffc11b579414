//! The underlay headers in front of a tunnel header: IPv4 or IPv6, then UDP (VXLAN, Geneve)
//! or nothing more (GRE is IP protocol 47 and follows IP directly), and the outer Ethernet
//! header.
//!
//! Encapsulation happens in place: the caller keeps the inner frame in a buffer with headroom
//! in front, writes the tunnel header just before it, then asks [`OuterRepr::emit`] to write
//! IP and UDP before that, and [`emit_ethernet`] before that. Each step returns the new start.
//!
//! The IP and UDP fields themselves are read and written with smoltcp's views; this module
//! adds the policy of a tunnel endpoint (DF set, checksums, no fragments, no extension
//! headers).

use core::ops::Range;

use super::{
    ETHERNET_HEADER_LEN, Error, EthernetAddress, EthernetFrame, EthernetProtocol, Fields,
    IpAddress, IpProtocol, Ipv4Packet, Ipv6Packet, Result, UdpPacket, geneve,
};

/// Length of an Ethernet header without VLAN tag (smoltcp's [`ETHERNET_HEADER_LEN`]).
pub const ETHERNET_LEN: usize = ETHERNET_HEADER_LEN;
/// Length of an IPv4 header without options (what [`OuterRepr::emit`] writes).
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of a UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// IP protocol number of GRE.
pub const IP_PROTOCOL_GRE: u8 = 47;

/// The Ethernet header's fields and their byte ranges (see [`super`]), as smoltcp's
/// `EthernetFrame` reads them; the same for an inner frame's header.
pub const ETHERNET_FIELDS: Fields = &[
    ("Destination", 0..6),
    ("Source", 6..12),
    ("Type", 12..ETHERNET_LEN),
];

/// The fields of an IPv4 header without options and their byte ranges, from the start of the IP
/// header, as smoltcp's `Ipv4Packet` reads them; the same for an inner packet's header.
pub const IPV4_FIELDS: Fields = &[
    ("Version", 0..1),
    ("Header length", 0..1),
    ("DSCP / ECN", 1..2),
    ("Total length", 2..4),
    ("Identification", 4..6),
    ("Flags / fragment", 6..8),
    ("TTL", 8..9),
    ("Protocol", 9..10),
    ("Checksum", 10..12),
    ("Source", 12..16),
    ("Destination", 16..IPV4_HEADER_LEN),
];

/// The UDP header's fields and their byte ranges, as smoltcp's `UdpPacket` reads them.
pub const UDP_FIELDS: Fields = &[
    ("Source port", 0..2),
    ("Destination port", 2..4),
    ("Length", 4..6),
    ("Checksum", 6..UDP_HEADER_LEN),
];

/// Headroom the engine requires in front of an inner frame: outer Ethernet (14) + IPv6 (40) +
/// UDP (8) + Geneve without options (8) = 70, rounded up to 128 so a cache-line-aligned frame
/// stays aligned. Every encapsulation this crate emits without Geneve options fits; Geneve
/// options need their length on top.
pub const MAX_HEADROOM: usize = 128;

const _: () =
    assert!(ETHERNET_LEN + IPV6_HEADER_LEN + UDP_HEADER_LEN + geneve::HEADER_LEN <= MAX_HEADROOM);

/// What follows the IP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP, for VXLAN and Geneve.
    Udp {
        /// Source port: entropy from the inner flow (see [`super::flow::source_port`]).
        src_port: u16,
        /// Destination port: the tunnel's well-known port.
        dst_port: u16,
    },
    /// IP protocol 47; the payload starts with the GRE header (NVGRE).
    Gre,
}

/// Whether to compute the UDP checksum of an IPv4 underlay packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UdpChecksum {
    /// Send zero, "no checksum": RFC 7348 recommends it for VXLAN over IPv4, as the inner frame
    /// has its own FCS-less protection and the checksum costs a pass over the packet.
    #[default]
    Zero,
    /// Compute it. IPv6 always does, whatever this says: RFC 6935's zero-checksum exception
    /// needs configuration on both ends and is not used here.
    Compute,
}

/// The outer IP (+UDP) headers of a tunnel packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OuterRepr {
    /// Local tunnel endpoint address.
    pub src: IpAddress,
    /// Remote tunnel endpoint address; same family as `src`.
    pub dst: IpAddress,
    /// UDP ports, or GRE.
    pub transport: Transport,
    /// IPv4 TTL or IPv6 hop limit.
    pub hop_limit: u8,
    /// UDP checksum policy for IPv4. After [`parse`], `Compute` means "a checksum was present
    /// (and verified)"; always `Zero` for GRE.
    pub udp_checksum: UdpChecksum,
}

/// Length of the IP (+UDP) headers for a source address family and transport: 20 or 40, plus
/// 8 for UDP.
pub fn header_len(src: &IpAddress, transport: &Transport) -> usize {
    let ip = match src {
        IpAddress::Ipv4(_) => IPV4_HEADER_LEN,
        IpAddress::Ipv6(_) => IPV6_HEADER_LEN,
    };
    match transport {
        Transport::Udp { .. } => ip + UDP_HEADER_LEN,
        Transport::Gre => ip,
    }
}

impl OuterRepr {
    /// Length of the IP (+UDP) headers this emits.
    pub fn header_len(&self) -> usize {
        header_len(&self.src, &self.transport)
    }

    /// Parse an underlay IP packet; see [`parse`].
    pub fn parse(ip_packet: &[u8]) -> Result<(OuterRepr, Range<usize>)> {
        parse(ip_packet)
    }

    /// Write the IP (+UDP) headers immediately before `buf[payload]` (the tunnel header and
    /// what follows) and return the range of the whole IP packet.
    ///
    /// IPv4: no options, DSCP/ECN 0, ident 0 with DF set (RFC 6864: an atomic datagram's ident
    /// is meaningless, and tunnels must not be fragmented on the way), header checksum.
    /// IPv6: traffic class and flow label 0. UDP checksum as [`UdpChecksum`] says.
    ///
    /// [`Error::NoRoom`] if `payload.start` leaves too little headroom;
    /// [`Error::BadLength`] if `src` and `dst` are of different families, the range is not
    /// inside `buf`, or the packet would exceed the 16-bit length fields.
    #[inline]
    pub fn emit(&self, buf: &mut [u8], payload: Range<usize>) -> Result<Range<usize>> {
        if payload.start > payload.end || payload.end > buf.len() {
            return Err(Error::BadLength);
        }
        // VXLAN and Geneve over IPv4 without a UDP checksum, the common case: one straight path.
        if let (
            IpAddress::Ipv4(src),
            IpAddress::Ipv4(dst),
            Transport::Udp { src_port, dst_port },
            UdpChecksum::Zero,
        ) = (self.src, self.dst, self.transport, self.udp_checksum)
        {
            return emit_ipv4_udp(
                buf,
                payload,
                [src, dst],
                [src_port, dst_port],
                self.hop_limit,
            );
        }
        self.emit_general(buf, payload)
    }

    fn emit_general(&self, buf: &mut [u8], payload: Range<usize>) -> Result<Range<usize>> {
        let ip_header_len = match (self.src, self.dst) {
            (IpAddress::Ipv4(_), IpAddress::Ipv4(_)) => IPV4_HEADER_LEN,
            (IpAddress::Ipv6(_), IpAddress::Ipv6(_)) => IPV6_HEADER_LEN,
            _ => return Err(Error::BadLength),
        };
        let start = payload
            .start
            .checked_sub(self.header_len())
            .ok_or(Error::NoRoom)?;
        let packet = &mut buf[start..payload.end];
        let ip_payload_len =
            u16::try_from(packet.len() - ip_header_len).map_err(|_| Error::BadLength)?;

        if let Transport::Udp { src_port, dst_port } = self.transport {
            let [s0, s1] = src_port.to_be_bytes();
            let [d0, d1] = dst_port.to_be_bytes();
            let [l0, l1] = ip_payload_len.to_be_bytes();
            // One 8-byte store; the checksum field is zero ("none") unless computed below.
            packet[ip_header_len..ip_header_len + UDP_HEADER_LEN]
                .copy_from_slice(&[s0, s1, d0, d1, l0, l1, 0, 0]);
            if self.udp_checksum == UdpChecksum::Compute || ip_header_len == IPV6_HEADER_LEN {
                UdpPacket::new_unchecked(&mut packet[ip_header_len..])
                    .fill_checksum(&self.src, &self.dst);
            }
        }
        let next_header = match self.transport {
            Transport::Udp { .. } => IpProtocol::Udp,
            Transport::Gre => IpProtocol::from(IP_PROTOCOL_GRE),
        };
        match (self.src, self.dst) {
            (IpAddress::Ipv4(src), IpAddress::Ipv4(dst)) => {
                let total_len = u16::try_from(packet.len()).map_err(|_| Error::BadLength)?;
                let header = ipv4_header(total_len, self.hop_limit, next_header, src, dst);
                packet[..IPV4_HEADER_LEN].copy_from_slice(&header);
            }
            (IpAddress::Ipv6(src), IpAddress::Ipv6(dst)) => {
                let mut ip = Ipv6Packet::new_unchecked(&mut packet[..]);
                ip.set_version(6);
                ip.set_traffic_class(0);
                ip.set_flow_label(0);
                ip.set_payload_len(ip_payload_len);
                ip.set_next_header(next_header);
                ip.set_hop_limit(self.hop_limit);
                ip.set_src_addr(src);
                ip.set_dst_addr(dst);
            }
            _ => return Err(Error::BadLength),
        }
        Ok(start..payload.end)
    }
}

/// IPv4 and UDP headers without a UDP checksum in front of `buf[payload]` (a range already
/// checked to be inside `buf`): 28 bytes built in registers and stored at once.
#[inline]
fn emit_ipv4_udp(
    buf: &mut [u8],
    payload: Range<usize>,
    [src, dst]: [super::Ipv4Address; 2],
    [src_port, dst_port]: [u16; 2],
    ttl: u8,
) -> Result<Range<usize>> {
    const LEN: usize = IPV4_HEADER_LEN + UDP_HEADER_LEN;
    let start = payload.start.checked_sub(LEN).ok_or(Error::NoRoom)?;
    let total_len = u16::try_from(payload.end - start).map_err(|_| Error::BadLength)?;
    let ip = ipv4_header(total_len, ttl, IpProtocol::Udp, src, dst);
    let [s0, s1] = src_port.to_be_bytes();
    let [d0, d1] = dst_port.to_be_bytes();
    let [l0, l1] = (total_len - IPV4_HEADER_LEN as u16).to_be_bytes();
    let mut header = [0u8; LEN];
    header[..IPV4_HEADER_LEN].copy_from_slice(&ip);
    header[IPV4_HEADER_LEN..].copy_from_slice(&[s0, s1, d0, d1, l0, l1, 0, 0]);
    if let Some(out) = buf[start..].first_chunk_mut::<LEN>() {
        *out = header;
    }
    Ok(start..payload.end)
}

/// The 20-byte IPv4 header [`OuterRepr::emit`] writes (version 4, IHL 5, DSCP/ECN 0, ident 0,
/// DF, no fragment offset), checksum included: built in registers and stored at once, as
/// field-by-field setters and a generic checksum loop cost several times more per packet.
#[inline]
fn ipv4_header(
    total_len: u16,
    ttl: u8,
    protocol: IpProtocol,
    src: super::Ipv4Address,
    dst: super::Ipv4Address,
) -> [u8; IPV4_HEADER_LEN] {
    let src = u32::from_be_bytes(src.octets());
    let dst = u32::from_be_bytes(dst.octets());
    // The header as five big-endian 32-bit words, the checksum field zero.
    let w0 = 0x4500_0000 | u32::from(total_len);
    let w1 = 0x0000_4000; // ident 0, DF
    let w2 = u32::from(ttl) << 24 | u32::from(u8::from(protocol)) << 16;
    // The one's-complement sum of 16-bit words, from sums of 32-bit words folded down.
    let mut sum = u64::from(w0) + u64::from(w1) + u64::from(w2) + u64::from(src) + u64::from(dst);
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    let w2 = w2 | u32::from(!(sum as u16));
    let mut h = [0u8; IPV4_HEADER_LEN];
    for (i, w) in [w0, w1, w2, src, dst].into_iter().enumerate() {
        h[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
    }
    h
}

/// Parse an underlay IP packet (starting at the IP header) addressed to a tunnel endpoint.
/// Returns the outer headers and the range of `ip_packet` after IP (+UDP): where the VXLAN,
/// Geneve or GRE header starts, up to the end the length fields give (Ethernet padding and
/// UDP-length trimming, as Linux does, are excluded).
///
/// Errors: [`Error::Truncated`] / [`Error::BadLength`] for lengths; [`Error::BadVersion`] for
/// a version other than 4 and 6; [`Error::BadChecksum`] for a wrong IPv4 header checksum, a
/// wrong nonzero UDP checksum or a zero UDP checksum over IPv6; [`Error::Unsupported`] for IPv4
/// fragments (a VTEP does not reassemble), IPv6 extension headers, and any transport other
/// than UDP and GRE.
pub fn parse(ip_packet: &[u8]) -> Result<(OuterRepr, Range<usize>)> {
    let first = *ip_packet.first().ok_or(Error::Truncated)?;
    match first >> 4 {
        4 => parse_ipv4(ip_packet),
        6 => parse_ipv6(ip_packet),
        _ => Err(Error::BadVersion),
    }
}

fn parse_ipv4(bytes: &[u8]) -> Result<(OuterRepr, Range<usize>)> {
    if bytes.len() < IPV4_HEADER_LEN {
        return Err(Error::Truncated);
    }
    let ip = Ipv4Packet::new_unchecked(bytes);
    let header_len = usize::from(ip.header_len());
    let total_len = usize::from(ip.total_len());
    if header_len < IPV4_HEADER_LEN || total_len < header_len {
        return Err(Error::BadLength);
    }
    if bytes.len() < total_len {
        return Err(Error::Truncated);
    }
    let ip = Ipv4Packet::new_unchecked(&bytes[..total_len]);
    if !ip.verify_checksum() {
        return Err(Error::BadChecksum);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(Error::Unsupported);
    }
    transport(
        bytes,
        header_len..total_len,
        ip.next_header(),
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
        ip.hop_limit(),
    )
}

fn parse_ipv6(bytes: &[u8]) -> Result<(OuterRepr, Range<usize>)> {
    if bytes.len() < IPV6_HEADER_LEN {
        return Err(Error::Truncated);
    }
    let ip = Ipv6Packet::new_unchecked(bytes);
    let total_len = ip.total_len();
    if bytes.len() < total_len {
        return Err(Error::Truncated);
    }
    transport(
        bytes,
        IPV6_HEADER_LEN..total_len,
        ip.next_header(),
        IpAddress::Ipv6(ip.src_addr()),
        IpAddress::Ipv6(ip.dst_addr()),
        ip.hop_limit(),
    )
}

fn transport(
    bytes: &[u8],
    ip_payload: Range<usize>,
    protocol: IpProtocol,
    src: IpAddress,
    dst: IpAddress,
    hop_limit: u8,
) -> Result<(OuterRepr, Range<usize>)> {
    let repr = |transport, udp_checksum| OuterRepr {
        src,
        dst,
        transport,
        hop_limit,
        udp_checksum,
    };
    match protocol {
        IpProtocol::Udp => {
            let segment = &bytes[ip_payload.clone()];
            if segment.len() < UDP_HEADER_LEN {
                return Err(Error::Truncated);
            }
            let udp_len = usize::from(UdpPacket::new_unchecked(segment).len());
            if udp_len < UDP_HEADER_LEN {
                return Err(Error::BadLength);
            }
            if udp_len > segment.len() {
                return Err(Error::Truncated);
            }
            let udp = UdpPacket::new_unchecked(&segment[..udp_len]);
            let udp_checksum = match (udp.checksum(), src) {
                (0, IpAddress::Ipv4(_)) => UdpChecksum::Zero,
                (0, IpAddress::Ipv6(_)) => return Err(Error::BadChecksum),
                _ if !udp.verify_checksum(&src, &dst) => return Err(Error::BadChecksum),
                _ => UdpChecksum::Compute,
            };
            let transport = Transport::Udp {
                src_port: udp.src_port(),
                dst_port: udp.dst_port(),
            };
            let start = ip_payload.start + UDP_HEADER_LEN;
            Ok((
                repr(transport, udp_checksum),
                start..ip_payload.start + udp_len,
            ))
        }
        p if u8::from(p) == IP_PROTOCOL_GRE => {
            Ok((repr(Transport::Gre, UdpChecksum::Zero), ip_payload))
        }
        _ => Err(Error::Unsupported),
    }
}

/// Write an Ethernet header into the 14 bytes before `buf[start]` and return the new start.
/// [`Error::NoRoom`] if `start < 14`; [`Error::BadLength`] if `start` is past the buffer.
pub fn emit_ethernet(
    buf: &mut [u8],
    start: usize,
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: EthernetProtocol,
) -> Result<usize> {
    if start > buf.len() {
        return Err(Error::BadLength);
    }
    let new_start = start.checked_sub(ETHERNET_LEN).ok_or(Error::NoRoom)?;
    let mut frame = EthernetFrame::new_unchecked(&mut buf[new_start..start]);
    frame.set_dst_addr(dst);
    frame.set_src_addr(src);
    frame.set_ethertype(ethertype);
    Ok(new_start)
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // data-driven case tables read best inline
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    use crate::pcap::PcapReader;
    use crate::wire::{Ipv4Address, Ipv6Address, vxlan};
    use alloc::vec::Vec;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The header built in registers equals smoltcp's, field by field and checksum included,
    /// over lengths, TTLs and addresses that make the checksum carry.
    #[test]
    fn ipv4_header_matches_smoltcp() {
        let addrs = [
            Ipv4Address::new(10, 0, 0, 1),
            Ipv4Address::new(255, 255, 255, 254),
            Ipv4Address::new(192, 168, 200, 77),
            Ipv4Address::new(0, 0, 0, 0),
        ];
        for total_len in [20u16, 28, 1500, 9000, 0xffff] {
            for ttl in [0u8, 1, 64, 255] {
                for (src, dst) in addrs.iter().zip(addrs.iter().rev()) {
                    for protocol in [IpProtocol::Udp, IpProtocol::from(IP_PROTOCOL_GRE)] {
                        let ours = ipv4_header(total_len, ttl, protocol, *src, *dst);
                        let mut theirs = [0u8; IPV4_HEADER_LEN];
                        let mut ip = Ipv4Packet::new_unchecked(&mut theirs[..]);
                        ip.set_version(4);
                        ip.set_header_len(IPV4_HEADER_LEN as u8);
                        ip.set_total_len(total_len);
                        ip.set_dont_frag(true);
                        ip.set_hop_limit(ttl);
                        ip.set_next_header(protocol);
                        ip.set_src_addr(*src);
                        ip.set_dst_addr(*dst);
                        ip.fill_checksum();
                        assert_eq!(ours, theirs, "{total_len} {ttl} {src} {dst}");
                    }
                }
            }
        }
    }

    /// The published field ranges are the bytes smoltcp's setters write.
    #[test]
    fn fields_are_what_smoltcp_writes() {
        use crate::wire::{UdpPacket, check_fields};
        fn eth(b: &mut [u8]) -> EthernetFrame<&mut [u8]> {
            EthernetFrame::new_unchecked(b)
        }
        fn ip(b: &mut [u8]) -> Ipv4Packet<&mut [u8]> {
            Ipv4Packet::new_unchecked(b)
        }
        fn udp(b: &mut [u8]) -> UdpPacket<&mut [u8]> {
            UdpPacket::new_unchecked(b)
        }
        let ones = Ipv4Address::new(255, 255, 255, 255);
        check_fields(
            ETHERNET_FIELDS,
            ETHERNET_LEN,
            &[
                ("Destination", &|b| {
                    eth(b).set_dst_addr(EthernetAddress::BROADCAST);
                }),
                ("Source", &|b| {
                    eth(b).set_src_addr(EthernetAddress::BROADCAST);
                }),
                ("Type", &|b| {
                    eth(b).set_ethertype(EthernetProtocol::Unknown(0xffff));
                }),
            ],
        );
        check_fields(
            IPV4_FIELDS,
            IPV4_HEADER_LEN,
            &[
                ("Version", &|b| ip(b).set_version(15)),
                ("Header length", &|b| ip(b).set_header_len(60)),
                ("DSCP / ECN", &|b| {
                    let mut p = ip(b);
                    p.set_dscp(0x3f);
                    p.set_ecn(3);
                }),
                ("Total length", &|b| ip(b).set_total_len(0xffff)),
                ("Identification", &|b| ip(b).set_ident(0xffff)),
                ("Flags / fragment", &|b| {
                    let mut p = ip(b);
                    p.set_dont_frag(true);
                    p.set_more_frags(true);
                    p.set_frag_offset(0xfff8);
                }),
                ("TTL", &|b| ip(b).set_hop_limit(255)),
                ("Protocol", &|b| {
                    ip(b).set_next_header(IpProtocol::Unknown(255));
                }),
                ("Checksum", &|b| ip(b).set_checksum(0xffff)),
                ("Source", &|b| ip(b).set_src_addr(ones)),
                ("Destination", &|b| ip(b).set_dst_addr(ones)),
            ],
        );
        check_fields(
            UDP_FIELDS,
            UDP_HEADER_LEN,
            &[
                ("Source port", &|b| udp(b).set_src_port(0xffff)),
                ("Destination port", &|b| udp(b).set_dst_port(0xffff)),
                ("Length", &|b| udp(b).set_len(0xffff)),
                ("Checksum", &|b| udp(b).set_checksum(0xffff)),
            ],
        );
    }

    /// Real captures of the Linux `vxlan` driver; tests/fixtures/capture.sh says how.
    static VXLAN_IPV4: &[u8] = include_bytes!("../../tests/fixtures/vxlan-ipv4.pcap");
    static VXLAN_IPV6: &[u8] = include_bytes!("../../tests/fixtures/vxlan-ipv6.pcap");
    static NVGRE_IPV4: &[u8] = include_bytes!("../../tests/fixtures/nvgre-ipv4.pcap");

    fn frames(pcap: &[u8]) -> Vec<&[u8]> {
        PcapReader::new(pcap)
            .unwrap()
            .map(|r| r.unwrap().data)
            .collect()
    }

    /// The IP packet of frame `n`.
    fn ip_packet(pcap: &'static [u8], n: usize) -> &'static [u8] {
        let frame = PcapReader::new(pcap).unwrap().nth(n).unwrap().unwrap().data;
        &frame[ETHERNET_LEN..]
    }

    const V4_A: IpAddress = IpAddress::Ipv4(Ipv4Address::new(10, 200, 0, 1));
    const V4_B: IpAddress = IpAddress::Ipv4(Ipv4Address::new(10, 200, 0, 2));
    const V6_A: IpAddress = IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 1));
    const V6_B: IpAddress = IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 2));

    /// The outer headers of frame 0 of VXLAN_IPV4, as `parse` reads them.
    const KERNEL_V4: OuterRepr = OuterRepr {
        src: V4_A,
        dst: V4_B,
        transport: Transport::Udp {
            src_port: 44517,
            dst_port: 4789,
        },
        hop_limit: 64,
        udp_checksum: UdpChecksum::Compute,
    };

    /// The outer headers of frame 2 of VXLAN_IPV6, as `parse` reads them.
    const KERNEL_V6: OuterRepr = OuterRepr {
        src: V6_A,
        dst: V6_B,
        transport: Transport::Udp {
            src_port: 57775,
            dst_port: 4789,
        },
        ..KERNEL_V4
    };

    #[test]
    fn deconstruct_kernel_vxlan_ipv4() {
        let ip = ip_packet(VXLAN_IPV4, 0);
        let (repr, payload) = parse(ip).unwrap();
        assert_eq!(repr, KERNEL_V4);
        assert_eq!(payload, 28..78);
        assert_eq!(
            &ip[payload.start..payload.start + 8],
            &[8, 0, 0, 0, 0, 0, 42, 0]
        );
    }

    #[test]
    fn deconstruct_kernel_vxlan_ipv6() {
        let ip = ip_packet(VXLAN_IPV6, 2);
        let (repr, payload) = parse(ip).unwrap();
        assert_eq!(repr, KERNEL_V6);
        assert_eq!(payload, 48..ip.len());
        let vxlan = vxlan::Packet::new_checked(&ip[payload]).unwrap();
        assert_eq!(vxlan.vni().get(), 42);
    }

    #[test]
    fn deconstruct_gre() {
        let ip = ip_packet(NVGRE_IPV4, 0);
        let (repr, payload) = parse(ip).unwrap();
        assert_eq!(repr.transport, Transport::Gre);
        assert_eq!(repr.udp_checksum, UdpChecksum::Zero);
        assert_eq!(payload, 20..ip.len());
        assert_eq!(&ip[20..24], &[0x20, 0x00, 0x65, 0x58]);
    }

    #[test]
    fn every_fixture_frame_parses() {
        for pcap in [VXLAN_IPV4, VXLAN_IPV6, NVGRE_IPV4] {
            for frame in frames(pcap) {
                let (_, payload) = parse(&frame[ETHERNET_LEN..]).unwrap();
                assert!(payload.len() >= 8 + 42, "tunnel header + ARP at least");
            }
        }
    }

    /// Emit into a buffer of 0xa5 holding the captured tunnel payload, and compare with the
    /// capture. The kernel sends ident != 0 and DF clear; this crate sends ident 0 and DF,
    /// so the expected IPv4 header differs from the capture in exactly those fields.
    #[test]
    fn construct_ipv4_udp_with_checksum() {
        let ip = ip_packet(VXLAN_IPV4, 0);
        let mut buf = [0xa5u8; 100];
        let payload = 100 - 50..100;
        buf[payload.clone()].copy_from_slice(&ip[28..]);
        let repr = KERNEL_V4;
        assert_eq!(repr.header_len(), 28);
        let range = repr.emit(&mut buf, payload).unwrap();
        assert_eq!(range, 22..100);
        #[rustfmt::skip]
        let expect_headers = [
            0x45, 0x00, 0x00, 0x4e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x25, 0x0d,
            0x0a, 0xc8, 0x00, 0x01, 0x0a, 0xc8, 0x00, 0x02,
            0xad, 0xe5, 0x12, 0xb5, 0x00, 0x3a, 0x07, 0xea,
        ];
        assert_eq!(buf[22..50], expect_headers);
        assert_eq!(buf[..22], [0xa5; 22], "nothing written before the headers");
        assert_eq!(parse(&buf[range]).unwrap(), (repr, 28..78));
    }

    #[test]
    fn construct_ipv6_matches_kernel_bytes_exactly() {
        let ip = ip_packet(VXLAN_IPV6, 2);
        let mut buf = alloc::vec![0xa5u8; ip.len() + 10];
        let payload = 58..buf.len();
        buf[payload.clone()].copy_from_slice(&ip[48..]);
        let repr = OuterRepr {
            // Ignored for IPv6: the checksum is always computed.
            udp_checksum: UdpChecksum::Zero,
            ..KERNEL_V6
        };
        let range = repr.emit(&mut buf, payload).unwrap();
        assert_eq!(range, 10..buf.len());
        assert_eq!(&buf[range], ip);
    }

    #[test]
    fn construct_ipv4_zero_checksum_and_gre() {
        let mut buf = [0xa5u8; 40];
        let repr = OuterRepr {
            transport: Transport::Udp {
                src_port: 1,
                dst_port: 2,
            },
            hop_limit: 7,
            udp_checksum: UdpChecksum::Zero,
            ..KERNEL_V4
        };
        let range = repr.emit(&mut buf, 30..40).unwrap();
        assert_eq!(range, 2..40);
        assert_eq!(buf[22..30], [0, 1, 0, 2, 0, 18, 0, 0]);
        assert_eq!(parse(&buf[range]).unwrap(), (repr, 28..38));

        let gre = OuterRepr {
            transport: Transport::Gre,
            ..repr
        };
        let range = gre.emit(&mut buf, 30..40).unwrap();
        assert_eq!(range, 10..40);
        assert_eq!(buf[10 + 9], 47);
        assert_eq!(parse(&buf[range]).unwrap(), (gre, 20..30));
    }

    #[test]
    fn emit_errors() {
        let repr = OuterRepr {
            transport: Transport::Udp {
                src_port: 1,
                dst_port: 2,
            },
            udp_checksum: UdpChecksum::Zero,
            ..KERNEL_V4
        };
        let mut buf = [0u8; 64];
        let cases: &[(OuterRepr, Range<usize>, Result<Range<usize>>)] = &[
            (repr, 28..64, Ok(0..64)),
            (repr, 27..64, Err(Error::NoRoom)),
            (repr, 30..65, Err(Error::BadLength)),
            #[allow(clippy::reversed_empty_ranges)] // an inverted range is the point
            (repr, 40..30, Err(Error::BadLength)),
            (
                OuterRepr { dst: V6_B, ..repr },
                60..64,
                Err(Error::BadLength),
            ),
            (
                OuterRepr {
                    src: V6_A,
                    dst: V6_B,
                    ..repr
                },
                47..64,
                Err(Error::NoRoom),
            ),
            (
                OuterRepr {
                    src: V6_A,
                    dst: V6_B,
                    ..repr
                },
                48..64,
                Ok(0..64),
            ),
        ];
        for (repr, payload, expect) in cases {
            assert_eq!(
                repr.emit(&mut buf, payload.clone()),
                *expect,
                "{repr:?} {payload:?}"
            );
        }
        let mut big = alloc::vec![0u8; 70_000];
        assert_eq!(repr.emit(&mut big, 28..65_536), Err(Error::BadLength));
        assert_eq!(repr.emit(&mut big, 28..65_535), Ok(0..65_535));
    }

    /// Mutate the captured IPv4 packet and check what parse says.
    fn check_v4(case: usize, mutate: impl Fn(&mut Vec<u8>), expect: Result<Range<usize>>) {
        let mut ip = ip_packet(VXLAN_IPV4, 0).to_vec();
        mutate(&mut ip);
        assert_eq!(parse(&ip).map(|(_, r)| r), expect, "case {case}");
    }

    fn fix_ipv4_checksum(ip: &mut [u8]) {
        Ipv4Packet::new_unchecked(ip).fill_checksum();
    }

    #[test]
    fn parse_errors_ipv4() {
        use Error::*;
        type Mutation = fn(&mut Vec<u8>);
        let cases: &[(Mutation, Result<Range<usize>>)] = &[
            (|_| {}, Ok(28..78)),
            // Ethernet padding after the IP packet is not payload.
            (|ip| ip.extend_from_slice(&[0; 6]), Ok(28..78)),
            (|ip| ip.truncate(77), Err(Truncated)),
            (|ip| ip.truncate(19), Err(Truncated)),
            (|ip| ip.clear(), Err(Truncated)),
            (|ip| ip[40] ^= 1, Err(BadChecksum)),
            // Checksum 0 over IPv4: not checked.
            (
                |ip| {
                    ip[40] ^= 1;
                    ip[26] = 0;
                    ip[27] = 0;
                },
                Ok(28..78),
            ),
            // UDP length shorter: trimmed, the checksum then wrong (so left out).
            (
                |ip| {
                    ip[25] = 57;
                    ip[26] = 0;
                    ip[27] = 0;
                },
                Ok(28..77),
            ),
            // IP payload too short for UDP.
            (
                |ip| {
                    ip[3] = 27;
                    ip.truncate(27);
                    fix_ipv4_checksum(ip);
                },
                Err(Truncated),
            ),
        ];
        for (i, (mutate, expect)) in cases.iter().enumerate() {
            check_v4(i, mutate, expect.clone());
        }
        // One byte set to a value, the IPv4 header checksum then filled in again or not.
        let bytes: &[(usize, u8, bool, Result<Range<usize>>)] = &[
            (0, 0x55, false, Err(BadVersion)),
            (0, 0x44, true, Err(BadLength)),
            (3, 19, true, Err(BadLength)),
            (8, 63, false, Err(BadChecksum)),
            // More fragments; a fragment offset.
            (6, 0x20, true, Err(Unsupported)),
            (7, 0x01, true, Err(Unsupported)),
            // TCP.
            (9, 6, true, Err(Unsupported)),
            // UDP length longer than the datagram, below 8.
            (25, 59, false, Err(Truncated)),
            (25, 7, false, Err(BadLength)),
        ];
        for (i, &(at, value, fix, ref expect)) in bytes.iter().enumerate() {
            let mutate = |ip: &mut Vec<u8>| {
                ip[at] = value;
                if fix {
                    fix_ipv4_checksum(ip);
                }
            };
            check_v4(cases.len() + i, mutate, expect.clone());
        }
    }

    #[test]
    fn parse_errors_ipv6() {
        let ip = ip_packet(VXLAN_IPV6, 2);
        let mut zero = ip.to_vec();
        zero[46] = 0;
        zero[47] = 0;
        assert_eq!(
            parse(&zero),
            Err(Error::BadChecksum),
            "RFC 8200: zero UDP checksum"
        );
        let mut ext = ip.to_vec();
        ext[6] = 0; // Hop-by-hop options header
        assert_eq!(parse(&ext), Err(Error::Unsupported));
        assert_eq!(parse(&ip[..ip.len() - 1]), Err(Error::Truncated));
        assert_eq!(parse(&ip[..39]), Err(Error::Truncated));
    }

    #[test]
    fn ethernet() {
        let mut buf = [0xa5u8; 20];
        let src = EthernetAddress([2, 0, 0, 0, 0xaa, 1]);
        let dst = EthernetAddress([2, 0, 0, 0, 0xaa, 2]);
        assert_eq!(
            emit_ethernet(&mut buf, 16, src, dst, EthernetProtocol::Ipv4),
            Ok(2)
        );
        assert_eq!(
            buf[..16],
            [
                0xa5, 0xa5, 2, 0, 0, 0, 0xaa, 2, 2, 0, 0, 0, 0xaa, 1, 0x08, 0x00
            ]
        );
        assert_eq!(
            emit_ethernet(&mut buf, 13, src, dst, EthernetProtocol::Ipv4),
            Err(Error::NoRoom)
        );
        assert_eq!(
            emit_ethernet(&mut buf, 21, src, dst, EthernetProtocol::Ipv4),
            Err(Error::BadLength)
        );
    }

    #[test]
    fn header_lengths() {
        let udp = Transport::Udp {
            src_port: 0,
            dst_port: 0,
        };
        assert_eq!(header_len(&V4_A, &udp), 28);
        assert_eq!(header_len(&V6_A, &udp), 48);
        assert_eq!(header_len(&V4_A, &Transport::Gre), 20);
        assert_eq!(header_len(&V6_A, &Transport::Gre), 40);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn addr_pair() -> impl Strategy<Value = (IpAddress, IpAddress)> {
            prop_oneof![
                (any::<u32>(), any::<u32>()).prop_map(|(a, b)| (
                    IpAddress::Ipv4(Ipv4Address::from_bits(a)),
                    IpAddress::Ipv4(Ipv4Address::from_bits(b))
                )),
                (any::<u128>(), any::<u128>()).prop_map(|(a, b)| (
                    IpAddress::Ipv6(Ipv6Address::from_bits(a)),
                    IpAddress::Ipv6(Ipv6Address::from_bits(b))
                )),
            ]
        }

        proptest! {
            /// The straight IPv4/UDP path writes what the general one writes.
            #[test]
            fn ipv4_udp_path_matches_the_general_one(
                src: [u8; 4],
                dst: [u8; 4],
                ports: (u16, u16),
                hop_limit: u8,
                payload_len in 0usize..2000,
            ) {
                let repr = OuterRepr {
                    src: IpAddress::Ipv4(Ipv4Address::from(src)),
                    dst: IpAddress::Ipv4(Ipv4Address::from(dst)),
                    transport: Transport::Udp { src_port: ports.0, dst_port: ports.1 },
                    hop_limit,
                    udp_checksum: UdpChecksum::Zero,
                };
                let mut straight = std::vec![0xa5u8; 64 + payload_len];
                let mut general = straight.clone();
                let range = 64..straight.len();
                prop_assert_eq!(
                    repr.emit(&mut straight, range.clone()),
                    repr.emit_general(&mut general, range)
                );
                prop_assert_eq!(straight, general);
            }

            #[test]
            fn emit_then_parse_round_trips(
                (src, dst) in addr_pair(),
                udp: Option<(u16, u16)>,
                hop_limit: u8,
                compute: bool,
                payload in proptest::collection::vec(any::<u8>(), 0..64),
                headroom in 48usize..64,
            ) {
                let transport = match udp {
                    Some((src_port, dst_port)) => Transport::Udp { src_port, dst_port },
                    None => Transport::Gre,
                };
                let v6 = matches!(src, IpAddress::Ipv6(_));
                let udp_checksum = if compute { UdpChecksum::Compute } else { UdpChecksum::Zero };
                let repr = OuterRepr { src, dst, transport, hop_limit, udp_checksum };
                let mut buf = std::vec![0xa5u8; headroom];
                buf.extend_from_slice(&payload);
                let end = buf.len();
                let range = repr.emit(&mut buf, headroom..end).unwrap();
                prop_assert_eq!(range.clone(), headroom - repr.header_len()..buf.len());
                let (parsed, inner) = parse(&buf[range]).unwrap();
                let expect_checksum = match transport {
                    Transport::Gre => UdpChecksum::Zero,
                    Transport::Udp { .. } if v6 => UdpChecksum::Compute,
                    Transport::Udp { .. } => udp_checksum,
                };
                prop_assert_eq!(parsed, OuterRepr { udp_checksum: expect_checksum, ..repr });
                prop_assert_eq!(inner, repr.header_len()..repr.header_len() + payload.len());
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
                if let Ok((_, range)) = parse(&bytes) {
                    prop_assert!(range.start <= range.end && range.end <= bytes.len());
                }
            }

            #[test]
            fn mutated_capture_never_panics(
                n in 0usize..4,
                flips in proptest::collection::vec((0usize..160, any::<u8>()), 1..4),
            ) {
                let mut ip = ip_packet(if n % 2 == 0 { VXLAN_IPV4 } else { VXLAN_IPV6 }, n).to_vec();
                for (at, x) in flips {
                    let len = ip.len();
                    ip[at % len] ^= x;
                }
                if let Ok((_, range)) = parse(&ip) {
                    prop_assert!(range.end <= ip.len());
                }
            }
        }
    }
}
