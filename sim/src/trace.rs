//! The trace: one [`Hop`] per frame per link, with its times, its bytes and what the receiving
//! node decided ([`Decision`], worded by its `Display`; [`Decision::from_event`] turns the
//! VTEP's events into decisions, [`BgpNote`] what a BGP speaker made of a segment). [`Layers`]
//! reads the bytes back into a layer summary (outer Ethernet / IP / UDP / VXLAN | Geneve |
//! NVGRE / inner Ethernet / ARP | IPv4 | IPv6 / ICMP | ICMPv6 (echo, Neighbour Discovery) |
//! UDP | TCP, or a BGP session's TCP segment), and its `Display` is the one place a frame is
//! summarised in a line. The transport layers of both IP families are read and worded in
//! `trace/l4.rs`.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use vtep_core::vtep::{DropReason, Encapsulation, Event};
use vtep_core::wire::{
    self, ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol,
    Ipv4Address, Ipv4Packet, Ipv6Address, Ipv6Packet, TcpPacket, UdpPacket, geneve, nvgre, vxlan,
};
use vtep_core::{Destination, Mac};
use vtep_core::{Instant, Vni};

use vtep_evpn::FdbAction;

use crate::bgp::Segment;
use crate::id::{HopId, LinkId, NodeId};

mod l4;

pub use l4::NdFlags;

/// One frame crossing one link.
#[derive(Clone, PartialEq, Debug)]
pub struct Hop {
    pub id: HopId,
    /// When the first bit left `from` (after waiting for the link to be free).
    pub start: Instant,
    /// When the last bit reached `to` (serialisation + propagation); for a frame lost on the
    /// way, when it would have.
    pub end: Instant,
    pub from: NodeId,
    pub to: NodeId,
    pub link: LinkId,
    /// The Ethernet frame as it was on the wire.
    pub bytes: Arc<[u8]>,
    /// The hop whose arrival caused this one (a VTEP's encapsulation, a router's forward).
    pub parent: Option<HopId>,
    /// The node that first sent the frame this hop carries (a host, a hypervisor, a route
    /// reflector); kept through encapsulation and forwarding.
    pub origin: NodeId,
    /// What happened at `to` (empty while in flight).
    pub decisions: Vec<Decision>,
}

impl Hop {
    /// The layer summary, parsed from the bytes.
    pub fn layers(&self) -> Layers {
        Layers::parse(&self.bytes)
    }

    pub fn dropped(&self) -> Option<DropCause> {
        self.decisions.iter().find_map(|d| match d {
            Decision::Dropped(cause) => Some(*cause),
            _ => None,
        })
    }
}

/// What a node did with a frame it received.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decision {
    /// A host's stack took the frame.
    Received,
    /// A router forwarded it on `link`.
    Routed {
        link: LinkId,
    },
    /// A switch sent it out of `ports` ports (one when the destination was known).
    Switched {
        ports: usize,
        flooded: bool,
    },
    /// A VTEP encapsulated it to `copies` remote VTEPs.
    Encapsulated {
        vni: Vni,
        copies: usize,
    },
    /// A VTEP decapsulated it.
    Decapsulated {
        vni: Vni,
    },
    /// A VTEP handed it to `ports` local ports.
    DeliveredLocally {
        vni: Vni,
        ports: usize,
    },
    /// A VTEP learned (or moved) a MAC.
    Learned {
        vni: Vni,
        mac: Mac,
        dest: Destination,
        moved: bool,
    },
    /// A VTEP flooded a BUM frame to local ports and remote VTEPs.
    Flooded {
        vni: Vni,
        local_ports: usize,
        remote_copies: usize,
    },
    /// A VTEP answered an ARP request itself.
    ArpSuppressed {
        vni: Vni,
        ip: Ipv4Address,
        mac: Mac,
    },
    /// A VTEP answered an IPv6 Neighbour Solicitation itself (ND suppression).
    NdSuppressed {
        vni: Vni,
        ip: Ipv6Address,
        mac: Mac,
    },
    /// Duplicate-MAC detection froze a MAC that moved `moves` times in the window (RFC 7432
    /// section 15.1): the VTEP stops following it, and under BGP EVPN stops advertising it.
    DuplicateFrozen {
        vni: Vni,
        mac: Mac,
        moves: u32,
    },
    /// A BGP speaker (a hypervisor's or a reflector's) took the segment, and what followed.
    Bgp(BgpNote),
    Dropped(DropCause),
}

/// What a BGP speaker made of a TCP segment it received.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BgpNote {
    /// Its TCP took the segment.
    Segment,
    /// The session with `peer` reached Established.
    SessionUp { peer: Ipv4Address },
    /// The session with `peer` ended (a NOTIFICATION, a closed connection).
    SessionDown { peer: Ipv4Address },
    /// The best path changed: the speaker told its VTEP this.
    Fdb(FdbAction),
}

impl fmt::Display for BgpNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BgpNote::Segment => f.write_str("taken by the BGP speaker"),
            BgpNote::SessionUp { peer } => write!(f, "BGP session with {peer} Established"),
            BgpNote::SessionDown { peer } => write!(f, "BGP session with {peer} down"),
            BgpNote::Fdb(a) => match *a {
                FdbAction::InstallMac { mac, vtep, seq, .. } => {
                    write!(f, "route installed: {mac} behind {vtep} (seq {seq})")
                }
                FdbAction::InstallIp { ip, mac, .. } => {
                    write!(f, "route installed: {ip} is {mac} (ARP suppression)")
                }
                FdbAction::WithdrawMac { mac, .. } => write!(f, "route withdrawn: {mac}"),
                FdbAction::WithdrawIp { ip, .. } => write!(f, "route withdrawn: {ip}"),
                FdbAction::AddFloodPeer { vni, vtep } => {
                    write!(f, "flood list of VNI {vni}: + {vtep}")
                }
                FdbAction::RemoveFloodPeer { vni, vtep } => {
                    write!(f, "flood list of VNI {vni}: - {vtep}")
                }
            },
        }
    }
}

impl Decision {
    /// What a VTEP's event says about the frame that caused it. `None` for the events that
    /// are bookkeeping rather than a decision about the frame (an aged-out entry, a full FDB,
    /// a learned neighbour).
    pub fn from_event(event: &Event) -> Option<Decision> {
        Some(match *event {
            Event::Learned { vni, mac, dest } => Decision::Learned {
                vni,
                mac,
                dest,
                moved: false,
            },
            Event::Moved { vni, mac, to, .. } => Decision::Learned {
                vni,
                mac,
                dest: to,
                moved: true,
            },
            Event::Flooded {
                vni,
                local_ports,
                remote_copies,
            } => Decision::Flooded {
                vni,
                local_ports,
                remote_copies,
            },
            Event::ArpSuppressed { vni, ip, mac } => Decision::ArpSuppressed { vni, ip, mac },
            Event::Dropped { reason, .. } => Decision::Dropped(DropCause::Vtep(reason)),
            Event::DuplicateFrozen { vni, mac, moves } => {
                Decision::DuplicateFrozen { vni, mac, moves }
            }
            Event::NdSuppressed { vni, ip, mac } => Decision::NdSuppressed { vni, ip, mac },
            Event::AgedOut { .. } | Event::FdbFull { .. } | Event::NeighbourLearned { .. } => {
                return None;
            }
        })
    }
}

impl fmt::Display for Decision {
    /// In the playground's words: `encapsulated in VNI 100, 2 copies`, `DROPPED: link_mtu`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural =
            |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        match self {
            Decision::Received => f.write_str("received by the host"),
            Decision::Routed { .. } => f.write_str("routed"),
            Decision::Switched {
                ports,
                flooded: true,
            } => write!(f, "flooded to {ports} ports"),
            Decision::Switched { flooded: false, .. } => f.write_str("switched"),
            Decision::Encapsulated { vni, copies } => write!(
                f,
                "encapsulated in VNI {vni}, {copies} cop{}",
                plural(*copies, "y", "ies")
            ),
            Decision::Decapsulated { vni } => write!(f, "decapsulated from VNI {vni}"),
            Decision::DeliveredLocally { ports, .. } => write!(
                f,
                "delivered to {ports} local port{}",
                plural(*ports, "", "s")
            ),
            Decision::Learned { mac, moved, .. } => {
                write!(f, "{} {mac}", if *moved { "moved" } else { "learned" })
            }
            Decision::Flooded {
                local_ports,
                remote_copies,
                ..
            } => write!(
                f,
                "BUM: flooded to {local_ports} local ports + {remote_copies} VTEPs (head-end \
                 replication)"
            ),
            Decision::ArpSuppressed { ip, .. } => {
                write!(f, "ARP for {ip} answered by the VTEP (suppressed)")
            }
            Decision::NdSuppressed { ip, .. } => {
                write!(
                    f,
                    "Neighbour Solicitation for {ip} answered by the VTEP (suppressed)"
                )
            }
            Decision::DuplicateFrozen { mac, moves, .. } => write!(
                f,
                "duplicate MAC {mac}: frozen after {moves} moves (RFC 7432 15.1)"
            ),
            Decision::Bgp(note) => note.fmt(f),
            Decision::Dropped(cause) => write!(f, "DROPPED: {cause}"),
        }
    }
}

/// Why a frame went no further.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DropCause {
    /// The VTEP dropped it, and says why.
    Vtep(DropReason),
    /// Lost on the link (random loss).
    LinkLoss,
    /// The link is down (or went down while the frame was on it).
    LinkDown,
    /// Larger than the link MTU.
    LinkMtu,
    /// The receiving node is failed.
    NodeDown,
    /// A host NIC got a unicast frame for another MAC.
    NotForMe,
    /// A host is paused (migrating) or detached.
    HostDetached,
    /// A router has no route to the destination.
    NoRoute,
    /// The TTL reached zero.
    TtlExpired,
    /// Unreadable headers.
    Malformed,
    /// A switch's destination is the port the frame came from.
    SamePort,
}

impl fmt::Display for DropCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropCause::Vtep(r) => write!(f, "vtep:{r}"),
            DropCause::LinkLoss => f.write_str("link_loss"),
            DropCause::LinkDown => f.write_str("link_down"),
            DropCause::LinkMtu => f.write_str("link_mtu"),
            DropCause::NodeDown => f.write_str("node_down"),
            DropCause::NotForMe => f.write_str("not_for_me"),
            DropCause::HostDetached => f.write_str("host_detached"),
            DropCause::NoRoute => f.write_str("no_route"),
            DropCause::TtlExpired => f.write_str("ttl_expired"),
            DropCause::Malformed => f.write_str("malformed"),
            DropCause::SamePort => f.write_str("same_port"),
        }
    }
}

/// The tunnel layer of an underlay frame, or the BGP segment it carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tunnel {
    Encap {
        encapsulation: Encapsulation,
        vni: Vni,
    },
    Bgp(Segment),
}

/// Outer headers of an underlay frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Outer {
    pub src_mac: Mac,
    pub dst_mac: Mac,
    pub src_ip: Ipv4Address,
    pub dst_ip: Ipv4Address,
    pub ttl: u8,
    /// UDP source and destination port (none for GRE).
    pub udp: Option<(u16, u16)>,
    pub tunnel: Tunnel,
}

/// Inner (or only) Ethernet frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Inner {
    pub src_mac: Mac,
    pub dst_mac: Mac,
    pub len: usize,
    pub l3: L3,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum L3 {
    Arp {
        op: ArpOperation,
        sender: (Mac, Ipv4Address),
        target_ip: Ipv4Address,
    },
    Ipv4 {
        src: Ipv4Address,
        dst: Ipv4Address,
        l4: L4,
    },
    Ipv6 {
        src: Ipv6Address,
        dst: Ipv6Address,
        l4: L4,
    },
    Other(u16),
}

/// The layer above IP. The echo variants are ICMP's under IPv4 and ICMPv6's under IPv6.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum L4 {
    IcmpEchoRequest {
        ident: u16,
        seq: u16,
    },
    IcmpEchoReply {
        ident: u16,
        seq: u16,
    },
    Icmp {
        msg_type: u8,
    },
    /// ICMPv6 Neighbour Solicitation for `target`, with its Source Link-Layer Address option.
    NeighbourSolicit {
        target: Ipv6Address,
        lladdr: Option<Mac>,
    },
    /// ICMPv6 Neighbour Advertisement for `target`, its flags and its Target Link-Layer
    /// Address option.
    NeighbourAdvert {
        target: Ipv6Address,
        flags: NdFlags,
        lladdr: Option<Mac>,
    },
    /// Any other ICMPv6 message.
    Icmpv6 {
        msg_type: u8,
    },
    Udp {
        src: u16,
        dst: u16,
        len: usize,
    },
    Tcp {
        src: u16,
        dst: u16,
        flags: TcpFlags,
        payload: usize,
    },
    Other(u8),
}

/// TCP flags: SYN, ACK, FIN, RST, PSH.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

impl TcpFlags {
    /// The flags of a TCP header.
    pub(crate) fn of<T: AsRef<[u8]>>(tcp: &TcpPacket<T>) -> TcpFlags {
        TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            psh: tcp.psh(),
        }
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump's letters: `S` SYN, `.` ACK, `F` FIN, `R` RST, `P` PSH.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, letter) in [
            (self.syn, "S"),
            (self.ack, "."),
            (self.fin, "F"),
            (self.rst, "R"),
            (self.psh, "P"),
        ] {
            if on {
                f.write_str(letter)?;
            }
        }
        Ok(())
    }
}

/// A frame read layer by layer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layers {
    /// Present for tunnelled frames and BGP segments on the underlay.
    pub outer: Option<Outer>,
    /// The Ethernet frame the hosts exchanged (absent for BGP segments and unreadable
    /// frames).
    pub inner: Option<Inner>,
    /// Bytes added in front of the inner frame (outer headers): 50 for VXLAN over IPv4.
    pub overhead: usize,
}

impl Layers {
    pub fn parse(bytes: &[u8]) -> Layers {
        let none = Layers {
            outer: None,
            inner: None,
            overhead: 0,
        };
        let Ok(eth) = EthernetFrame::new_checked(bytes) else {
            return none;
        };
        if eth.ethertype() == EthernetProtocol::Ipv4
            && let Some((outer, inner_start)) = parse_outer(&eth)
        {
            let inner = match outer.tunnel {
                Tunnel::Encap { .. } => parse_inner(&bytes[inner_start..]),
                Tunnel::Bgp(_) => None,
            };
            return Layers {
                outer: Some(outer),
                inner,
                overhead: inner_start,
            };
        }
        Layers {
            inner: parse_inner(bytes),
            ..none
        }
    }

    pub fn is_arp(&self) -> bool {
        matches!(
            self.inner,
            Some(Inner {
                l3: L3::Arp { .. },
                ..
            })
        )
    }

    pub fn is_arp_request(&self) -> bool {
        matches!(
            self.inner,
            Some(Inner {
                l3: L3::Arp {
                    op: ArpOperation::Request,
                    ..
                },
                ..
            })
        )
    }

    /// The IPv6 layer of the inner frame (for IPv6 frames).
    pub fn ipv6(&self) -> Option<L4> {
        match self.inner?.l3 {
            L3::Ipv6 { l4, .. } => Some(l4),
            _ => None,
        }
    }

    /// A Neighbour Solicitation (IPv6's ARP request).
    pub fn is_nd_solicit(&self) -> bool {
        matches!(self.ipv6(), Some(L4::NeighbourSolicit { .. }))
    }

    /// A Neighbour Solicitation or Advertisement.
    pub fn is_nd(&self) -> bool {
        matches!(
            self.ipv6(),
            Some(L4::NeighbourSolicit { .. } | L4::NeighbourAdvert { .. })
        )
    }

    pub fn vni(&self) -> Option<Vni> {
        match self.outer?.tunnel {
            Tunnel::Encap { vni, .. } => Some(vni),
            Tunnel::Bgp(_) => None,
        }
    }

    /// The BGP segment, for frames of a BGP session.
    pub fn bgp(&self) -> Option<Segment> {
        match self.outer?.tunnel {
            Tunnel::Bgp(segment) => Some(segment),
            Tunnel::Encap { .. } => None,
        }
    }
}

impl fmt::Display for Layers {
    /// One line, outermost layer first. `{}` is the playground's event line, `{:#}` every
    /// header:
    /// - `VXLAN 100 [10.0.0.1 > 10.0.0.2 ICMP echo request seq 3]`
    /// - `Eth/IPv4 10.1.0.2>10.1.0.3 ttl 64/UDP 50123>4789/VXLAN 100 | Eth 02:48:..>02:48:..`
    ///   `/IPv4 10.0.0.1>10.0.0.2/ICMP echo request id 4096 seq 3`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = f.alternate();
        if let Some(o) = &self.outer {
            o.fmt_line(f, full)?;
        }
        if let Some(i) = &self.inner {
            i.fmt_line(f, full)?;
        }
        let encapsulated = self.vni().is_some();
        if encapsulated && !full {
            f.write_str("]")?;
        }
        if self.outer.is_none() && self.inner.is_none() && !full {
            f.write_str("unreadable frame")?;
        }
        Ok(())
    }
}

impl Outer {
    fn fmt_line(&self, f: &mut fmt::Formatter<'_>, full: bool) -> fmt::Result {
        if full {
            write!(
                f,
                "Eth/IPv4 {}>{} ttl {}",
                self.src_ip, self.dst_ip, self.ttl
            )?;
            if let Some((sp, dp)) = self.udp {
                write!(f, "/UDP {sp}>{dp}")?;
            }
        }
        match (self.tunnel, full) {
            (Tunnel::Encap { encapsulation, vni }, true) => write!(f, "/{encapsulation} {vni} | "),
            (Tunnel::Encap { encapsulation, vni }, false) => write!(f, "{encapsulation} {vni} ["),
            (Tunnel::Bgp(seg), true) => {
                write!(
                    f,
                    "/TCP {}>{} [{}] len {}/",
                    seg.src_port, seg.dst_port, seg.flags, seg.payload
                )?;
                fmt::Display::fmt(&seg, f)
            }
            (Tunnel::Bgp(seg), false) => fmt::Display::fmt(&seg, f),
        }
    }
}

impl Inner {
    fn fmt_line(&self, f: &mut fmt::Formatter<'_>, full: bool) -> fmt::Result {
        if full {
            write!(f, "Eth {}>{}/", self.src_mac, self.dst_mac)?;
        }
        match self.l3 {
            L3::Arp {
                op,
                sender: (mac, ip),
                target_ip,
            } if full => {
                let op = match op {
                    ArpOperation::Request => "who-has",
                    ArpOperation::Reply => "is-at",
                    ArpOperation::Unknown(_) => "?",
                };
                write!(f, "ARP {op} {target_ip} from {ip} {mac}")
            }
            L3::Arp {
                op,
                sender: (mac, ip),
                target_ip,
            } => match op {
                ArpOperation::Request if ip == target_ip => {
                    write!(f, "ARP gratuitous {ip} is-at {mac}")
                }
                ArpOperation::Request => write!(f, "ARP who-has {target_ip} tell {ip}"),
                ArpOperation::Reply => write!(f, "ARP {ip} is-at {mac}"),
                ArpOperation::Unknown(_) => f.write_str("ARP ?"),
            },
            L3::Ipv4 { src, dst, l4 } => ip_line(f, full, src.into(), dst.into(), l4),
            L3::Ipv6 { src, dst, l4 } => ip_line(f, full, src.into(), dst.into(), l4),
            L3::Other(t) => write!(f, "ethertype {t:#06x}"),
        }
    }
}

/// An inner IP packet's line: the version (in full), the addresses, then the layer above.
fn ip_line(
    f: &mut fmt::Formatter<'_>,
    full: bool,
    src: IpAddress,
    dst: IpAddress,
    l4: L4,
) -> fmt::Result {
    let v6 = matches!(src, IpAddress::Ipv6(_));
    if full {
        write!(f, "IPv{} {src}>{dst}/", if v6 { 6 } else { 4 })?;
    } else {
        write!(f, "{src} > {dst} ")?;
    }
    l4.fmt_line(f, full, v6)
}

/// Outer IPv4 (+UDP) + tunnel header; returns the summary and where the inner frame starts.
fn parse_outer(eth: &EthernetFrame<&[u8]>) -> Option<(Outer, usize)> {
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    let ip_start = wire::ETHERNET_HEADER_LEN;
    let header_len = usize::from(ip.header_len());
    let payload_start = ip_start + header_len;
    let src_ip = ip.src_addr();
    let dst_ip = ip.dst_addr();
    let ttl = ip.hop_limit();
    let base = Outer {
        src_mac: eth.src_addr(),
        dst_mac: eth.dst_addr(),
        src_ip,
        dst_ip,
        ttl,
        udp: None,
        tunnel: Tunnel::Encap {
            encapsulation: Encapsulation::Vxlan,
            vni: Vni::from_u24_truncating(0),
        },
    };
    match ip.next_header() {
        IpProtocol::Tcp => {
            let segment = Segment::parse(eth.payload())?;
            Some((
                Outer {
                    tunnel: Tunnel::Bgp(segment),
                    ..base
                },
                // No inner frame: nothing is overhead.
                0,
            ))
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(ip.payload()).ok()?;
            let ports = (udp.src_port(), udp.dst_port());
            let body = udp.payload();
            let body_start = payload_start + 8;
            let (tunnel, inner_start) = match ports.1 {
                vtep_core::wire::flow::VXLAN_PORT => {
                    let p = vxlan::Packet::new_checked(body).ok()?;
                    let repr = vxlan::Repr::parse(&p, vxlan::ReservedBitsPolicy::Rfc).ok()?;
                    (
                        Tunnel::Encap {
                            encapsulation: Encapsulation::Vxlan,
                            vni: repr.vni,
                        },
                        body_start + vxlan::HEADER_LEN,
                    )
                }
                vtep_core::wire::flow::GENEVE_PORT => {
                    let p = geneve::Packet::new_checked(body).ok()?;
                    let repr = geneve::Repr::parse(&p).ok()?;
                    (
                        Tunnel::Encap {
                            encapsulation: Encapsulation::Geneve,
                            vni: repr.vni,
                        },
                        body_start + repr.buffer_len(),
                    )
                }
                _ => return None,
            };
            Some((
                Outer {
                    udp: Some(ports),
                    tunnel,
                    ..base
                },
                inner_start,
            ))
        }
        p if u8::from(p) == vtep_core::wire::outer::IP_PROTOCOL_GRE => {
            let p = nvgre::Packet::new_checked(ip.payload()).ok()?;
            let repr = nvgre::Repr::parse(&p).ok()?;
            Some((
                Outer {
                    tunnel: Tunnel::Encap {
                        encapsulation: Encapsulation::Nvgre,
                        vni: repr.vsid,
                    },
                    ..base
                },
                payload_start + nvgre::HEADER_LEN,
            ))
        }
        _ => None,
    }
}

fn parse_inner(bytes: &[u8]) -> Option<Inner> {
    let eth = EthernetFrame::new_checked(bytes).ok()?;
    let l3 = match eth.ethertype() {
        EthernetProtocol::Arp => {
            let packet = ArpPacket::new_checked(eth.payload()).ok()?;
            match ArpRepr::parse(&packet).ok()? {
                ArpRepr::EthernetIpv4 {
                    operation,
                    source_hardware_addr,
                    source_protocol_addr,
                    target_protocol_addr,
                    ..
                } => L3::Arp {
                    op: operation,
                    sender: (source_hardware_addr, source_protocol_addr),
                    target_ip: target_protocol_addr,
                },
                _ => L3::Other(0x0806),
            }
        }
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
            let l4 = l4::parse(ip.next_header(), ip.payload());
            L3::Ipv4 {
                src: ip.src_addr(),
                dst: ip.dst_addr(),
                l4,
            }
        }
        EthernetProtocol::Ipv6 => {
            // No extension headers in the simulated hosts' traffic: the next header is L4.
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            L3::Ipv6 {
                src: ip.src_addr(),
                dst: ip.dst_addr(),
                l4: l4::parse(ip.next_header(), ip.payload()),
            }
        }
        other => L3::Other(u16::from(other)),
    };
    Some(Inner {
        src_mac: eth.src_addr(),
        dst_mac: eth.dst_addr(),
        len: bytes.len(),
        l3,
    })
}

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::string::ToString;

    use vtep_core::wire::EthernetAddress;

    use super::*;

    #[test]
    fn decisions_in_the_playgrounds_words() {
        let vni = Vni::new(100).unwrap();
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
        let dest = Destination::Remote(Ipv4Address::new(10, 1, 0, 3).into());
        let cases = [
            (Decision::Received, "received by the host"),
            (Decision::Routed { link: LinkId(3) }, "routed"),
            (
                Decision::Switched {
                    ports: 3,
                    flooded: true,
                },
                "flooded to 3 ports",
            ),
            (
                Decision::Switched {
                    ports: 1,
                    flooded: false,
                },
                "switched",
            ),
            (
                Decision::Encapsulated { vni, copies: 1 },
                "encapsulated in VNI 100, 1 copy",
            ),
            (
                Decision::Encapsulated { vni, copies: 2 },
                "encapsulated in VNI 100, 2 copies",
            ),
            (Decision::Decapsulated { vni }, "decapsulated from VNI 100"),
            (
                Decision::DeliveredLocally { vni, ports: 1 },
                "delivered to 1 local port",
            ),
            (
                Decision::DeliveredLocally { vni, ports: 2 },
                "delivered to 2 local ports",
            ),
            (
                Decision::Learned {
                    vni,
                    mac,
                    dest,
                    moved: false,
                },
                "learned 02-00-00-00-00-01",
            ),
            (
                Decision::Learned {
                    vni,
                    mac,
                    dest,
                    moved: true,
                },
                "moved 02-00-00-00-00-01",
            ),
            (
                Decision::Flooded {
                    vni,
                    local_ports: 1,
                    remote_copies: 3,
                },
                "BUM: flooded to 1 local ports + 3 VTEPs (head-end replication)",
            ),
            (
                Decision::ArpSuppressed {
                    vni,
                    ip: Ipv4Address::new(10, 0, 0, 2),
                    mac,
                },
                "ARP for 10.0.0.2 answered by the VTEP (suppressed)",
            ),
            (
                Decision::Dropped(DropCause::Vtep(DropReason::TooBig)),
                "DROPPED: vtep:too_big",
            ),
            (Decision::Dropped(DropCause::LinkMtu), "DROPPED: link_mtu"),
        ];
        for (decision, expect) in cases {
            assert_eq!(decision.to_string(), expect, "{decision:?}");
        }
    }

    #[test]
    fn events_become_decisions_or_nothing() {
        let vni = Vni::new(100).unwrap();
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
        let (here, there) = (
            Destination::Local(vtep_core::PortId(1)),
            Destination::Remote(Ipv4Address::new(10, 1, 0, 3).into()),
        );
        let moved = Event::Moved {
            vni,
            mac,
            from: here,
            to: there,
            seq: 2,
        };
        assert_eq!(
            Decision::from_event(&moved),
            Some(Decision::Learned {
                vni,
                mac,
                dest: there,
                moved: true,
            })
        );
        let dropped = Event::Dropped {
            vni: Some(vni),
            reason: DropReason::RateLimited,
        };
        assert_eq!(
            Decision::from_event(&dropped),
            Some(Decision::Dropped(DropCause::Vtep(DropReason::RateLimited)))
        );
        let aged = Event::AgedOut {
            vni,
            mac,
            dest: there,
        };
        assert_eq!(Decision::from_event(&aged), None);
    }

    #[test]
    fn a_frame_in_one_line_short_and_full() {
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
        let garp = crate::sim::gratuitous_arp(mac, Ipv4Address::new(10, 0, 0, 1));
        let layers = Layers::parse(&garp);
        assert_eq!(
            format!("{layers}"),
            "ARP gratuitous 10.0.0.1 is-at 02-00-00-00-00-01"
        );
        assert_eq!(
            format!("{layers:#}"),
            "Eth 02-00-00-00-00-01>ff-ff-ff-ff-ff-ff/ARP who-has 10.0.0.1 from 10.0.0.1 \
             02-00-00-00-00-01"
        );
        let nothing = Layers::parse(&[]);
        assert_eq!(nothing.to_string(), "unreadable frame");
        assert_eq!(format!("{nothing:#}"), "");
    }
}
