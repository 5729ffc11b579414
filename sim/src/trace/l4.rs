//! The layer above IP in a trace summary, for both families: ICMP echo, ICMPv6 echo and
//! Neighbour Discovery, UDP, TCP; read from an IP payload ([`parse`]) and worded on the event
//! line (`L4::fmt_line`).

use core::fmt;

use vtep_core::Mac;
use vtep_core::wire::{EthernetAddress, IpProtocol, Ipv6Address, TcpPacket, UdpPacket};

use super::{L4, TcpFlags};

/// The flags of a Neighbour Advertisement (RFC 4861 section 4.4).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct NdFlags {
    /// R: the sender is a router.
    pub router: bool,
    /// S: an answer to a solicitation.
    pub solicited: bool,
    /// O: the answer overrides a cached link-layer address.
    pub override_: bool,
}

impl fmt::Display for NdFlags {
    /// The set flags' letters in brackets, as tcpdump's `-v` lists them: `[S O]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        let mut first = true;
        for (on, letter) in [
            (self.router, "R"),
            (self.solicited, "S"),
            (self.override_, "O"),
        ] {
            if on {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(letter)?;
                first = false;
            }
        }
        f.write_str("]")
    }
}

/// ICMPv6 message types the summary names.
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const NEIGHBOUR_SOLICIT: u8 = 135;
const NEIGHBOUR_ADVERT: u8 = 136;

/// Reads the payload of an IP packet whose next header is `proto`.
pub(super) fn parse(proto: IpProtocol, payload: &[u8]) -> L4 {
    match proto {
        IpProtocol::Icmp if payload.len() >= 8 => {
            let (ident, seq) = echo_fields(payload);
            match payload[0] {
                8 => L4::IcmpEchoRequest { ident, seq },
                0 => L4::IcmpEchoReply { ident, seq },
                t => L4::Icmp { msg_type: t },
            }
        }
        IpProtocol::Icmpv6 if payload.len() >= 8 => icmpv6(payload),
        IpProtocol::Udp => match UdpPacket::new_checked(payload) {
            Ok(u) => L4::Udp {
                src: u.src_port(),
                dst: u.dst_port(),
                len: u.payload().len(),
            },
            Err(_) => L4::Other(17),
        },
        IpProtocol::Tcp => match TcpPacket::new_checked(payload) {
            Ok(t) => L4::Tcp {
                src: t.src_port(),
                dst: t.dst_port(),
                flags: TcpFlags::of(&t),
                payload: t.payload().len(),
            },
            Err(_) => L4::Other(6),
        },
        p => L4::Other(u8::from(p)),
    }
}

fn echo_fields(payload: &[u8]) -> (u16, u16) {
    (
        u16::from_be_bytes([payload[4], payload[5]]),
        u16::from_be_bytes([payload[6], payload[7]]),
    )
}

/// An ICMPv6 message of at least 8 bytes. A Neighbour Solicitation or Advertisement shorter
/// than its 24 fixed bytes is "another ICMPv6 message" here: the summary never guesses.
fn icmpv6(payload: &[u8]) -> L4 {
    let msg_type = payload[0];
    let (ident, seq) = echo_fields(payload);
    let target = payload
        .get(8..24)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(Ipv6Address::from);
    match (msg_type, target) {
        (ECHO_REQUEST_V6, _) => L4::IcmpEchoRequest { ident, seq },
        (ECHO_REPLY_V6, _) => L4::IcmpEchoReply { ident, seq },
        (NEIGHBOUR_SOLICIT, Some(target)) => L4::NeighbourSolicit {
            target,
            lladdr: lladdr_option(&payload[24..], 1),
        },
        (NEIGHBOUR_ADVERT, Some(target)) => L4::NeighbourAdvert {
            target,
            flags: NdFlags {
                router: payload[4] & 0x80 != 0,
                solicited: payload[4] & 0x40 != 0,
                override_: payload[4] & 0x20 != 0,
            },
            lladdr: lladdr_option(&payload[24..], 2),
        },
        _ => L4::Icmpv6 { msg_type },
    }
}

/// The Ethernet address in the first ND option of type `kind` (1 source, 2 target link-layer
/// address) among `options`; none when an option's length is 0 or runs past the end.
fn lladdr_option(mut options: &[u8], kind: u8) -> Option<Mac> {
    while let [t, len, ..] = *options {
        let n = usize::from(len) * 8;
        if n == 0 || n > options.len() {
            return None;
        }
        if t == kind && n >= 8 {
            let mac: [u8; 6] = options[2..8].try_into().ok()?;
            return Some(EthernetAddress(mac));
        }
        options = &options[n..];
    }
    None
}

impl L4 {
    /// `v6`: the packet is IPv6 (its echo is ICMPv6's).
    pub(super) fn fmt_line(&self, f: &mut fmt::Formatter<'_>, full: bool, v6: bool) -> fmt::Result {
        let to = if full { ">" } else { " > " };
        let icmp = if v6 { "ICMPv6" } else { "ICMP" };
        match *self {
            L4::IcmpEchoRequest { ident, seq } | L4::IcmpEchoReply { ident, seq } => {
                let kind = match self {
                    L4::IcmpEchoRequest { .. } => "request",
                    _ => "reply",
                };
                if full {
                    write!(f, "{icmp} echo {kind} id {ident} seq {seq}")
                } else {
                    write!(f, "{icmp} echo {kind} seq {seq}")
                }
            }
            L4::Icmp { msg_type } => write!(f, "ICMP type {msg_type}"),
            L4::NeighbourSolicit { target, lladdr } => {
                write!(f, "ICMPv6 neighbour solicitation who-has {target}")?;
                match lladdr {
                    Some(mac) if full => write!(f, " source lladdr {mac}"),
                    _ => Ok(()),
                }
            }
            L4::NeighbourAdvert {
                target,
                flags,
                lladdr,
            } => {
                write!(f, "ICMPv6 neighbour advertisement {target}")?;
                if let Some(mac) = lladdr {
                    write!(f, " is-at {mac}")?;
                }
                write!(f, " {flags}")
            }
            L4::Icmpv6 { msg_type } => write!(f, "ICMPv6 type {msg_type}"),
            L4::Udp { src, dst, len } => write!(f, "UDP {src}{to}{dst} len {len}"),
            L4::Tcp {
                src,
                dst,
                flags,
                payload,
            } => write!(f, "TCP {src}{to}{dst} [{flags}] len {payload}"),
            L4::Other(p) if full => write!(f, "proto {p}"),
            L4::Other(p) => write!(f, "IP proto {p}"),
        }
    }
}
