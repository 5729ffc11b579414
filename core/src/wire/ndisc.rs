//! IPv6 Neighbour Discovery (RFC 4861) as a proxying VTEP reads and answers it: a Neighbour
//! Solicitation or Advertisement found in an Ethernet frame, checked as section 7.1 says a
//! receiver must check it, and the Neighbour Advertisement that answers a solicitation for a
//! known target, laid out as the Linux vxlan driver's `proxy` lays it out (`vxlan_na_create`),
//! so that hosts see the same answer from either.
//!
//! The ICMPv6 and ND formats themselves are smoltcp's (`Icmpv6Packet`, `NdiscRepr`,
//! `Ipv6Packet`); this module adds the checks, the frame-level view and the answer.

use core::fmt;

use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IPV6_HEADER_LEN, Icmpv6Message,
    Icmpv6Packet, IpProtocol, Ipv6Address, Ipv6Packet, Ipv6Repr, NdiscRepr, RawHardwareAddress,
};

pub use smoltcp::wire::NdiscNeighborFlags as NeighborFlags;

use super::ETHERNET_HEADER_LEN;

/// The only IP hop limit ND accepts (RFC 4861 section 7.1): anything else was forwarded by a
/// router, so it did not come from this link.
pub const HOP_LIMIT: u8 = 255;

/// A Neighbour Solicitation or Advertisement without options: type, code, checksum, flags and
/// reserved bytes, target address.
pub const MESSAGE_LEN: usize = 24;

/// The Neighbour Advertisement a proxy answers with, as a whole Ethernet frame: Ethernet (14),
/// IPv6 (40), the advertisement (24) and its Target Link-Layer Address option (8).
pub const ADVERT_FRAME_LEN: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN + MESSAGE_LEN + 8;

/// Where the ICMPv6 message starts in an Ethernet frame (no extension headers: ND never has
/// any).
const ICMP_AT: usize = ETHERNET_HEADER_LEN + IPV6_HEADER_LEN;

/// Why a Neighbour Solicitation or Advertisement must be discarded (RFC 4861 section 7.1).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Malformed {
    /// The IPv6 payload length runs past the end of the frame, or the message is shorter than
    /// its 24 fixed bytes.
    Truncated,
    /// An IP hop limit other than 255.
    HopLimit(u8),
    /// An ICMP code other than 0.
    Code(u8),
    /// The ICMPv6 checksum does not verify.
    Checksum,
    /// An option of length 0, or one that runs past the end of the message.
    Options,
    /// The IPv6 source is multicast, which is never a source (RFC 4291 section 2.7): an answer
    /// would go to a group, solicited.
    MulticastSource,
    /// The target address is multicast.
    MulticastTarget,
    /// A duplicate address detection probe (unspecified source) that is not sent to a
    /// solicited-node multicast address, or that carries a source link-layer address.
    BadProbe,
    /// An advertisement to a multicast address with the Solicited flag set.
    SolicitedToMulticast,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Truncated => f.write_str("truncated"),
            Malformed::HopLimit(h) => write!(f, "hop limit {h}, not 255"),
            Malformed::Code(c) => write!(f, "ICMPv6 code {c}, not 0"),
            Malformed::Checksum => f.write_str("bad ICMPv6 checksum"),
            Malformed::Options => f.write_str("an option of length 0 or past the end"),
            Malformed::MulticastSource => f.write_str("multicast source address"),
            Malformed::MulticastTarget => f.write_str("multicast target address"),
            Malformed::BadProbe => f.write_str("malformed duplicate address detection probe"),
            Malformed::SolicitedToMulticast => {
                f.write_str("solicited advertisement to a multicast address")
            }
        }
    }
}

/// A Neighbour Solicitation in an Ethernet frame, as [`parse`] read it (checked) or as
/// [`Solicitation::emit`] writes it (hop limit 255, flow label 0).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Solicitation {
    pub eth_src: EthernetAddress,
    pub eth_dst: EthernetAddress,
    /// The IPv6 source: unspecified for a duplicate address detection probe.
    pub src: Ipv6Address,
    pub dst: Ipv6Address,
    pub traffic_class: u8,
    pub target: Ipv6Address,
    /// The Source Link-Layer Address option.
    pub source_lladdr: Option<EthernetAddress>,
}

/// A Neighbour Advertisement in an Ethernet frame, as [`parse`] read it (checked) or as
/// [`Advertisement::emit`] writes it (hop limit 255, flow label 0).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Advertisement {
    pub eth_src: EthernetAddress,
    pub eth_dst: EthernetAddress,
    pub src: Ipv6Address,
    pub dst: Ipv6Address,
    pub traffic_class: u8,
    pub flags: NeighborFlags,
    pub target: Ipv6Address,
    /// The Target Link-Layer Address option.
    pub target_lladdr: Option<EthernetAddress>,
}

/// A Neighbour Discovery message a VTEP acts on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Message {
    Solicitation(Solicitation),
    Advertisement(Advertisement),
}

/// Whether `ip` is a solicited-node multicast address (`ff02::1:ffXX:XXXX`, RFC 4291).
pub fn is_solicited_node(ip: &Ipv6Address) -> bool {
    ip.octets()[..13] == [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

/// Reads the Ethernet frame `frame`. `Ok(None)`: it is no Neighbour Solicitation or
/// Advertisement (not IPv6, an extension header or another ICMPv6 message first, or too short
/// to tell), and is forwarded like any frame. `Err`: it is one, and RFC 4861 says to discard it.
pub fn parse(frame: &[u8]) -> Result<Option<Message>, Malformed> {
    if !is_nd(frame) {
        return Ok(None);
    }
    let ip = Ipv6Packet::new_unchecked(&frame[ETHERNET_HEADER_LEN..]);
    let end = ICMP_AT + usize::from(ip.payload_len());
    if end > frame.len() || end - ICMP_AT < MESSAGE_LEN {
        return Err(Malformed::Truncated);
    }
    if ip.hop_limit() != HOP_LIMIT {
        return Err(Malformed::HopLimit(ip.hop_limit()));
    }
    let bytes = &frame[ICMP_AT..end];
    let packet = Icmpv6Packet::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
    if packet.msg_code() != 0 {
        return Err(Malformed::Code(packet.msg_code()));
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    if !packet.verify_checksum(&src, &dst) {
        return Err(Malformed::Checksum);
    }
    if src.is_multicast() {
        return Err(Malformed::MulticastSource);
    }
    let eth = EthernetFrame::new_unchecked(frame);
    let (eth_src, eth_dst, traffic_class) = (eth.src_addr(), eth.dst_addr(), ip.traffic_class());
    // An Ethernet link-layer address option holds 6 bytes (RFC 2464 section 8); smoltcp
    // hands over the first 6 of a longer one.
    let lladdr = |raw: Option<RawHardwareAddress>| {
        raw.and_then(|a| a.as_bytes().get(..6).map(EthernetAddress::from_bytes))
    };
    let message = match NdiscRepr::parse(&packet).map_err(|_| Malformed::Options)? {
        NdiscRepr::NeighborSolicit {
            target_addr,
            lladdr: source,
        } => {
            if target_addr.is_multicast() {
                return Err(Malformed::MulticastTarget);
            }
            if src.is_unspecified() && (!is_solicited_node(&dst) || source.is_some()) {
                return Err(Malformed::BadProbe);
            }
            Message::Solicitation(Solicitation {
                eth_src,
                eth_dst,
                src,
                dst,
                traffic_class,
                target: target_addr,
                source_lladdr: lladdr(source),
            })
        }
        NdiscRepr::NeighborAdvert {
            flags,
            target_addr,
            lladdr: target,
        } => {
            if target_addr.is_multicast() {
                return Err(Malformed::MulticastTarget);
            }
            if dst.is_multicast() && flags.contains(NeighborFlags::SOLICITED) {
                return Err(Malformed::SolicitedToMulticast);
            }
            Message::Advertisement(Advertisement {
                eth_src,
                eth_dst,
                src,
                dst,
                traffic_class,
                flags,
                target: target_addr,
                target_lladdr: lladdr(target),
            })
        }
        // `is_nd` let only these two through.
        _ => return Ok(None),
    };
    Ok(Some(message))
}

/// Whether `frame` is IPv6 whose next header is ICMPv6 and whose message is a Neighbour
/// Solicitation or Advertisement (by its type; nothing else is checked yet).
fn is_nd(frame: &[u8]) -> bool {
    let Some(header) = frame.get(..=ICMP_AT) else {
        return false;
    };
    u16::from_be_bytes([header[12], header[13]]) == u16::from(EthernetProtocol::Ipv6)
        && header[ETHERNET_HEADER_LEN] >> 4 == 6
        && IpProtocol::from(header[ETHERNET_HEADER_LEN + 6]) == IpProtocol::Icmpv6
        && matches!(
            Icmpv6Message::from(header[ICMP_AT]),
            Icmpv6Message::NeighborSolicit | Icmpv6Message::NeighborAdvert
        )
}

impl Solicitation {
    /// A duplicate address detection probe: its sender has no address yet, and only the
    /// address's owner may answer it.
    pub fn is_probe(&self) -> bool {
        self.src.is_unspecified()
    }

    /// Where the answer goes: the Source Link-Layer Address option, or else the frame's
    /// Ethernet source (as the kernel's `vxlan_na_create` picks it).
    pub fn reply_to(&self) -> EthernetAddress {
        self.source_lladdr.unwrap_or(self.eth_src)
    }

    /// The Neighbour Advertisement that answers this solicitation on behalf of its target,
    /// whose link-layer address is `target_mac`, as the kernel's vxlan `proxy` builds it:
    ///
    /// - Ethernet from `target_mac` to [`Solicitation::reply_to`];
    /// - IPv6 from the target to the solicitation's source, the solicitation's traffic class
    ///   with its low four bits cleared (the kernel copies the header's `priority` nibble);
    /// - flags Solicited and Override (RFC 4861 section 7.2.4: the answer speaks for the owner
    ///   and carries the owner's own address, so it overrides as the owner's would), and
    ///   Router if `router`;
    /// - a Target Link-Layer Address option with `target_mac`.
    ///
    /// Not for probes ([`Solicitation::is_probe`]): their answer would go to the unspecified
    /// address.
    pub fn answer(&self, target_mac: EthernetAddress, router: bool) -> Advertisement {
        let mut flags = NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE;
        if router {
            flags |= NeighborFlags::ROUTER;
        }
        Advertisement {
            eth_src: target_mac,
            eth_dst: self.reply_to(),
            src: self.target,
            dst: self.src,
            traffic_class: self.traffic_class & 0xf0,
            flags,
            target: self.target,
            target_lladdr: Some(target_mac),
        }
    }

    /// The length of the frame [`Solicitation::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        Message::Solicitation(*self).buffer_len()
    }

    /// Writes the frame into `out[..self.buffer_len()]`, checksum included.
    pub fn emit(&self, out: &mut [u8]) {
        Message::Solicitation(*self).emit(out);
    }
}

impl Advertisement {
    /// An unsolicited advertisement: a host announcing its address, typically after a move or
    /// a change of MAC (IPv6's gratuitous ARP).
    pub fn is_unsolicited(&self) -> bool {
        !self.flags.contains(NeighborFlags::SOLICITED)
    }

    /// The length of the frame [`Advertisement::emit`] writes ([`ADVERT_FRAME_LEN`] with a
    /// target link-layer address).
    pub fn buffer_len(&self) -> usize {
        Message::Advertisement(*self).buffer_len()
    }

    /// Writes the frame into `out[..self.buffer_len()]`, checksum included.
    pub fn emit(&self, out: &mut [u8]) {
        Message::Advertisement(*self).emit(out);
    }
}

impl Message {
    /// The ICMPv6 message, options included.
    fn ndisc(&self) -> NdiscRepr<'static> {
        match self {
            Message::Solicitation(ns) => NdiscRepr::NeighborSolicit {
                target_addr: ns.target,
                lladdr: ns.source_lladdr.map(RawHardwareAddress::from),
            },
            Message::Advertisement(na) => NdiscRepr::NeighborAdvert {
                flags: na.flags,
                target_addr: na.target,
                lladdr: na.target_lladdr.map(RawHardwareAddress::from),
            },
        }
    }

    /// The length of the frame [`Message::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        ICMP_AT + self.ndisc().buffer_len()
    }

    /// Writes the Ethernet frame carrying the message in IPv6 (hop limit 255, flow label 0)
    /// into `out[..self.buffer_len()]`, and fills in the ICMPv6 checksum.
    pub fn emit(&self, out: &mut [u8]) {
        let (eth_src, eth_dst, src, dst, traffic_class) = match self {
            Message::Solicitation(m) => (m.eth_src, m.eth_dst, m.src, m.dst, m.traffic_class),
            Message::Advertisement(m) => (m.eth_src, m.eth_dst, m.src, m.dst, m.traffic_class),
        };
        let message = self.ndisc();
        let out = &mut out[..ICMP_AT + message.buffer_len()];
        EthernetRepr {
            src_addr: eth_src,
            dst_addr: eth_dst,
            ethertype: EthernetProtocol::Ipv6,
        }
        .emit(&mut EthernetFrame::new_unchecked(&mut *out));
        let mut ip = Ipv6Packet::new_unchecked(&mut out[ETHERNET_HEADER_LEN..ICMP_AT]);
        Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Icmpv6,
            payload_len: message.buffer_len(),
            hop_limit: HOP_LIMIT,
        }
        .emit(&mut ip);
        ip.set_traffic_class(traffic_class);
        let mut icmp = Icmpv6Packet::new_unchecked(&mut out[ICMP_AT..]);
        message.emit(&mut icmp);
        icmp.fill_checksum(&src, &dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const ASKER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    const TARGET_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
    const ASKER: Ipv6Address = Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 1);
    const TARGET: Ipv6Address = Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 2);
    /// ff02::1:ff00:2, the solicited-node group of TARGET.
    const GROUP: Ipv6Address = Ipv6Address::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2);
    const GROUP_MAC: EthernetAddress = EthernetAddress([0x33, 0x33, 0xff, 0, 0, 2]);
    const ALL_NODES: Ipv6Address = Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

    fn solicitation() -> Solicitation {
        Solicitation {
            eth_src: ASKER_MAC,
            eth_dst: GROUP_MAC,
            src: ASKER,
            dst: GROUP,
            traffic_class: 0,
            target: TARGET,
            source_lladdr: Some(ASKER_MAC),
        }
    }

    fn bytes(message: Message) -> Vec<u8> {
        let mut out = vec![0u8; message.buffer_len()];
        message.emit(&mut out);
        out
    }

    /// The frame of `message` with `edit` applied and the ICMPv6 checksum computed again.
    fn edited(message: Message, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
        let mut frame = bytes(message);
        edit(&mut frame);
        refill_checksum(&mut frame);
        frame
    }

    fn refill_checksum(frame: &mut [u8]) {
        let ip = Ipv6Packet::new_unchecked(&frame[ETHERNET_HEADER_LEN..]);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let end = (ICMP_AT + usize::from(ip.payload_len())).min(frame.len());
        Icmpv6Packet::new_unchecked(&mut frame[ICMP_AT..end]).fill_checksum(&src, &dst);
    }

    /// The RFC 1071 sum over the IPv6 pseudo-header and the message, written out here rather
    /// than taken from smoltcp, so the answer's checksum is checked independently.
    fn checksum_ok(frame: &[u8]) -> bool {
        let icmp = &frame[ICMP_AT..];
        let mut words: Vec<u8> = frame[22..54].to_vec(); // source and destination
        words.extend_from_slice(&(icmp.len() as u32).to_be_bytes());
        words.extend_from_slice(&[0, 0, 0, 58]);
        words.extend_from_slice(icmp);
        if words.len() % 2 == 1 {
            words.push(0);
        }
        let mut sum: u32 = words
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum == 0xffff
    }

    #[test]
    fn a_solicitation_round_trips() {
        let ns = solicitation();
        let frame = bytes(Message::Solicitation(ns));
        assert_eq!(frame.len(), 86);
        assert!(checksum_ok(&frame));
        assert_eq!(parse(&frame), Ok(Some(Message::Solicitation(ns))));
        // Without the option (a unicast solicitation for reachability).
        let unicast = Solicitation {
            eth_dst: TARGET_MAC,
            dst: TARGET,
            source_lladdr: None,
            ..ns
        };
        let frame = bytes(Message::Solicitation(unicast));
        assert_eq!(frame.len(), 78);
        assert_eq!(parse(&frame), Ok(Some(Message::Solicitation(unicast))));
        assert_eq!(unicast.reply_to(), ASKER_MAC);
        // Ethernet padding after the IPv6 payload is not part of the message.
        let mut padded = frame.clone();
        padded.extend_from_slice(&[0xee; 10]);
        assert_eq!(parse(&padded), Ok(Some(Message::Solicitation(unicast))));
    }

    /// The answer, byte by byte, as the kernel's `vxlan_na_create` lays it out (written out
    /// here field by field, not through smoltcp).
    #[test]
    fn the_answer_is_the_kernels_byte_for_byte() {
        let ns = Solicitation {
            traffic_class: 0xb8,
            source_lladdr: Some(EthernetAddress([0x02, 0, 0, 0, 0, 0xaa])),
            ..solicitation()
        };
        let mut out = vec![0x5au8; ADVERT_FRAME_LEN + 4];
        let na = ns.answer(TARGET_MAC, false);
        na.emit(&mut out);
        assert_eq!(out[ADVERT_FRAME_LEN..], [0x5a; 4], "wrote past the answer");
        let mut want = Vec::new();
        want.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xaa]); // to the option's address
        want.extend_from_slice(&TARGET_MAC.0);
        want.extend_from_slice(&[0x86, 0xdd]);
        // Version 6, priority 0xb (the traffic class's high nibble), flow label 0.
        want.extend_from_slice(&[0x6b, 0x00, 0x00, 0x00]);
        want.extend_from_slice(&[0x00, 32, 58, 255]); // payload length, ICMPv6, hop limit
        want.extend_from_slice(&TARGET.octets()); // from the target
        want.extend_from_slice(&ASKER.octets()); // to the asker
        want.extend_from_slice(&[136, 0, 0, 0]); // NA, code 0, checksum (below)
        want.extend_from_slice(&[0x60, 0, 0, 0]); // Solicited + Override
        want.extend_from_slice(&TARGET.octets());
        want.extend_from_slice(&[2, 1]); // Target Link-Layer Address, 8 bytes
        want.extend_from_slice(&TARGET_MAC.0);
        want[56..58].copy_from_slice(&out[56..58]);
        assert_eq!(out[..ADVERT_FRAME_LEN], want[..]);
        assert!(checksum_ok(&out[..ADVERT_FRAME_LEN]));
        assert_eq!(
            parse(&out[..ADVERT_FRAME_LEN]),
            Ok(Some(Message::Advertisement(na)))
        );
        // A router's answer carries R as well.
        let na = ns.answer(TARGET_MAC, true);
        assert_eq!(na.flags.bits(), 0xe0);
        assert!(!na.is_unsolicited());
    }

    #[test]
    fn other_frames_are_not_nd() {
        let ns = bytes(Message::Solicitation(solicitation()));
        let not = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut frame = ns.clone();
            edit(&mut frame);
            assert_eq!(parse(&frame), Ok(None), "{frame:02x?}");
        };
        not(&|f| f[12..14].copy_from_slice(&[0x08, 0x00])); // IPv4
        not(&|f| f[14] = 0x45); // IP version 4 in an IPv6 frame
        not(&|f| f[20] = 0); // a hop-by-hop header first
        for kind in [128u8, 129, 133, 134, 137, 143] {
            // Echo, router solicitation and advertisement, redirect, MLDv2 report.
            not(&|f| f[54] = kind);
        }
        for cut in 0..=54 {
            assert_eq!(parse(&ns[..cut]), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn rfc_4861_checks_discard_what_a_host_would() {
        let ns = Message::Solicitation(solicitation());
        let na = Message::Advertisement(solicitation().answer(TARGET_MAC, false));
        let cases: Vec<(Vec<u8>, Malformed)> = vec![
            (edited(ns, |f| f[21] = 254), Malformed::HopLimit(254)),
            (edited(na, |f| f[21] = 1), Malformed::HopLimit(1)),
            (edited(ns, |f| f[55] = 1), Malformed::Code(1)),
            (
                {
                    let mut f = bytes(ns);
                    f[70] ^= 1;
                    f
                },
                Malformed::Checksum,
            ),
            // The option's length byte 0.
            (edited(ns, |f| f[79] = 0), Malformed::Options),
            // An option that claims 16 bytes where 8 remain.
            (edited(na, |f| f[79] = 2), Malformed::Options),
            // Three stray bytes after the option: a truncated option header.
            (
                edited(ns, |f| {
                    f.extend_from_slice(&[1, 0, 0]);
                    f[19] += 3;
                }),
                Malformed::Options,
            ),
            // The IPv6 payload length says more than the frame holds.
            (edited(ns, |f| f[19] = 40), Malformed::Truncated),
            // The message cut below its 24 fixed bytes.
            (
                edited(ns, |f| {
                    f.truncate(ICMP_AT + 20);
                    f[19] = 20;
                }),
                Malformed::Truncated,
            ),
            (
                edited(ns, |f| f[22..38].copy_from_slice(&ALL_NODES.octets())),
                Malformed::MulticastSource,
            ),
            (
                edited(ns, |f| f[62..78].copy_from_slice(&ALL_NODES.octets())),
                Malformed::MulticastTarget,
            ),
            (
                edited(na, |f| f[62..78].copy_from_slice(&ALL_NODES.octets())),
                Malformed::MulticastTarget,
            ),
            // A probe (unspecified source) with a source link-layer address option.
            (edited(ns, |f| f[22..38].fill(0)), Malformed::BadProbe),
            // A probe to a unicast address.
            (
                bytes(Message::Solicitation(Solicitation {
                    src: Ipv6Address::UNSPECIFIED,
                    dst: TARGET,
                    source_lladdr: None,
                    ..solicitation()
                })),
                Malformed::BadProbe,
            ),
            // Solicited, to all nodes.
            (
                edited(na, |f| f[38..54].copy_from_slice(&ALL_NODES.octets())),
                Malformed::SolicitedToMulticast,
            ),
        ];
        for (frame, why) in cases {
            assert_eq!(parse(&frame), Err(why), "{frame:02x?}");
        }
    }

    #[test]
    fn probes_and_announcements_are_recognised() {
        let probe = Solicitation {
            src: Ipv6Address::UNSPECIFIED,
            source_lladdr: None,
            ..solicitation()
        };
        let frame = bytes(Message::Solicitation(probe));
        assert_eq!(parse(&frame), Ok(Some(Message::Solicitation(probe))));
        assert!(probe.is_probe() && !solicitation().is_probe());
        // An unsolicited advertisement to all nodes, overriding: a host that moved.
        let moved = Advertisement {
            eth_src: TARGET_MAC,
            eth_dst: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
            src: TARGET,
            dst: ALL_NODES,
            traffic_class: 0,
            flags: NeighborFlags::OVERRIDE,
            target: TARGET,
            target_lladdr: Some(TARGET_MAC),
        };
        let frame = bytes(Message::Advertisement(moved));
        assert_eq!(parse(&frame), Ok(Some(Message::Advertisement(moved))));
        assert!(moved.is_unsolicited());
        assert!(is_solicited_node(&GROUP) && !is_solicited_node(&ALL_NODES));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes: no panic, and whatever parses as an advertisement or solicitation
            /// emits back to a frame that parses the same.
            #[test]
            fn arbitrary_frames_never_panic(
                mut frame in proptest::collection::vec(any::<u8>(), 0..160),
                nd: bool,
            ) {
                if nd && frame.len() > 55 {
                    frame[12..14].copy_from_slice(&[0x86, 0xdd]);
                    frame[14] = 0x60;
                    frame[20] = 58;
                    frame[54] = 135 + (frame[54] & 1);
                }
                if let Ok(Some(message)) = parse(&frame) {
                    prop_assert_eq!(parse(&bytes(message)), Ok(Some(message)));
                }
            }

            /// One byte of a valid solicitation changed: either still valid, or refused;
            /// never answered with garbage, never a panic.
            #[test]
            fn a_flipped_byte_is_caught(at in 0usize..86, bits in 1u8..=255) {
                let mut frame = bytes(Message::Solicitation(solicitation()));
                frame[at] ^= bits;
                match parse(&frame) {
                    Ok(Some(Message::Solicitation(ns))) => {
                        // Only the bytes the checksum does not cover (Ethernet, traffic class
                        // and flow label) may change and still pass.
                        prop_assert!(at < 14 || (14..18).contains(&at), "byte {at} passed");
                        let mut out = [0u8; ADVERT_FRAME_LEN];
                        ns.answer(TARGET_MAC, false).emit(&mut out);
                        prop_assert!(checksum_ok(&out));
                    }
                    Ok(_) => prop_assert!(at < 22 || at == 54, "byte {at}: no longer ND"),
                    Err(_) => {}
                }
            }
        }
    }
}
