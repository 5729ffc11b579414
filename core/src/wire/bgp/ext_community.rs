//! Extended communities (RFC 4360), eight octets each: the ones EVPN over VXLAN uses are typed.
//!
//! ```text
//! Type (1) | Sub-type (1) | Value (6)
//! route target          0x00/0x02 AS2:u32   0x01/0x02 IPv4:u16   0x02/0x02 AS4:u16 (RFC 4360, 5668)
//! encapsulation         0x03/0x0c reserved (4) | tunnel type (2)              (RFC 9012 4.1)
//! MAC mobility          0x06/0x00 flags (1, bit 0 sticky) | reserved (1) | seq (4) (RFC 7432 7.7)
//! router's MAC          0x06/0x03 MAC (6)                                     (RFC 9135 8.1)
//! ARP/ND                0x06/0x08 flags (1: 0x01 R, 0x02 O, 0x04 I) | reserved (5) (RFC 9047)
//! ```
//!
//! A community is typed only in its canonical form (reserved octets zero), so re-emitting a
//! parsed one gives back the same bytes; anything else stays [`ExtCommunity::Other`].

use core::fmt;

use super::{WireItem, be16, be32};
use crate::wire::{EthernetAddress, Ipv4Address};

/// Tunnel types of the encapsulation community (RFC 9012 / IANA).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TunnelType {
    Vxlan,
    Nvgre,
    Mpls,
    Geneve,
    Unknown(u16),
}

impl From<u16> for TunnelType {
    fn from(value: u16) -> Self {
        match value {
            8 => TunnelType::Vxlan,
            9 => TunnelType::Nvgre,
            10 => TunnelType::Mpls,
            19 => TunnelType::Geneve,
            other => TunnelType::Unknown(other),
        }
    }
}

impl From<TunnelType> for u16 {
    fn from(value: TunnelType) -> u16 {
        match value {
            TunnelType::Vxlan => 8,
            TunnelType::Nvgre => 9,
            TunnelType::Mpls => 10,
            TunnelType::Geneve => 19,
            TunnelType::Unknown(other) => other,
        }
    }
}

/// A route target: which VRFs / MAC-VRFs import a route.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RouteTarget {
    /// `asn:value` with a 2-octet AS and 4-octet value (FRR's automatic `AS:VNI`).
    As2 {
        asn: u16,
        value: u32,
    },
    Ipv4 {
        ip: [u8; 4],
        value: u16,
    },
    As4 {
        asn: u32,
        value: u16,
    },
}

impl RouteTarget {
    /// FRR's automatic route target of a VNI: `(AS & 0xffff):VNI`.
    pub fn auto(asn: u32, vni: u32) -> RouteTarget {
        RouteTarget::As2 {
            asn: (asn & 0xffff) as u16,
            value: vni,
        }
    }

    /// The local administrator part: the VNI in an automatic route target. FRR matches
    /// automatic route targets on this alone, whatever the AS.
    pub fn local_admin(&self) -> u32 {
        match *self {
            RouteTarget::As2 { value, .. } => value,
            RouteTarget::Ipv4 { value, .. } | RouteTarget::As4 { value, .. } => u32::from(value),
        }
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RouteTarget::As2 { asn, value } => write!(f, "{asn}:{value}"),
            RouteTarget::Ipv4 { ip, value } => write!(f, "{}:{value}", Ipv4Address::from(ip)),
            RouteTarget::As4 { asn, value } => write!(f, "{asn}:{value}"),
        }
    }
}

/// One extended community.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ExtCommunity {
    RouteTarget(RouteTarget),
    Encapsulation(TunnelType),
    /// RFC 7432 section 7.7: the MAC moved `seq` times; `sticky` marks a static MAC that must
    /// not move.
    MacMobility {
        sticky: bool,
        seq: u32,
    },
    RouterMac(EthernetAddress),
    /// RFC 9047's ARP/ND extended community on a MAC/IP route, which RFC 9161's proxy ND
    /// reads: the IPv6 address belongs to a router (`router`, the R flag its Neighbour
    /// Advertisements carry), its advertisements override (`override_`, O), the binding must
    /// not move (`immutable`, I; FRR uses that bit as its multihoming proxy flag).
    ArpNd {
        router: bool,
        override_: bool,
        immutable: bool,
    },
    /// Anything else, kept as the eight octets.
    Other([u8; 8]),
}

/// MAC mobility flag: static (sticky) MAC.
pub const MAC_MOBILITY_STICKY: u8 = 0x01;

/// ARP/ND flags (RFC 9047 section 3): the low bits of the community's third octet.
pub mod arp_nd {
    pub const ROUTER: u8 = 0x01;
    pub const OVERRIDE: u8 = 0x02;
    pub const IMMUTABLE: u8 = 0x04;
}

impl ExtCommunity {
    pub const LEN: usize = 8;

    pub fn parse(b: [u8; 8]) -> ExtCommunity {
        match (b[0], b[1]) {
            (0x00, 0x02) => ExtCommunity::RouteTarget(RouteTarget::As2 {
                asn: be16(&b, 2),
                value: be32(&b, 4),
            }),
            (0x01, 0x02) => ExtCommunity::RouteTarget(RouteTarget::Ipv4 {
                ip: [b[2], b[3], b[4], b[5]],
                value: be16(&b, 6),
            }),
            (0x02, 0x02) => ExtCommunity::RouteTarget(RouteTarget::As4 {
                asn: be32(&b, 2),
                value: be16(&b, 6),
            }),
            (0x03, 0x0c) if b[2..6] == [0; 4] => {
                ExtCommunity::Encapsulation(TunnelType::from(be16(&b, 6)))
            }
            (0x06, 0x00) if b[2] & !MAC_MOBILITY_STICKY == 0 && b[3] == 0 => {
                ExtCommunity::MacMobility {
                    sticky: b[2] & MAC_MOBILITY_STICKY != 0,
                    seq: be32(&b, 4),
                }
            }
            (0x06, 0x08) if b[2] & !0x07 == 0 && b[3..] == [0; 5] => ExtCommunity::ArpNd {
                router: b[2] & arp_nd::ROUTER != 0,
                override_: b[2] & arp_nd::OVERRIDE != 0,
                immutable: b[2] & arp_nd::IMMUTABLE != 0,
            },
            (0x06, 0x03) => {
                ExtCommunity::RouterMac(EthernetAddress([b[2], b[3], b[4], b[5], b[6], b[7]]))
            }
            _ => ExtCommunity::Other(b),
        }
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match *self {
            ExtCommunity::RouteTarget(RouteTarget::As2 { asn, value }) => {
                b[..2].copy_from_slice(&[0x00, 0x02]);
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..].copy_from_slice(&value.to_be_bytes());
            }
            ExtCommunity::RouteTarget(RouteTarget::Ipv4 { ip, value }) => {
                b[..2].copy_from_slice(&[0x01, 0x02]);
                b[2..6].copy_from_slice(&ip);
                b[6..].copy_from_slice(&value.to_be_bytes());
            }
            ExtCommunity::RouteTarget(RouteTarget::As4 { asn, value }) => {
                b[..2].copy_from_slice(&[0x02, 0x02]);
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..].copy_from_slice(&value.to_be_bytes());
            }
            ExtCommunity::Encapsulation(tunnel) => {
                b[..2].copy_from_slice(&[0x03, 0x0c]);
                b[6..].copy_from_slice(&u16::from(tunnel).to_be_bytes());
            }
            ExtCommunity::MacMobility { sticky, seq } => {
                b[..2].copy_from_slice(&[0x06, 0x00]);
                b[2] = if sticky { MAC_MOBILITY_STICKY } else { 0 };
                b[4..].copy_from_slice(&seq.to_be_bytes());
            }
            ExtCommunity::RouterMac(mac) => {
                b[..2].copy_from_slice(&[0x06, 0x03]);
                b[2..].copy_from_slice(&mac.0);
            }
            ExtCommunity::ArpNd {
                router,
                override_,
                immutable,
            } => {
                b[..2].copy_from_slice(&[0x06, 0x08]);
                b[2] = [
                    (router, arp_nd::ROUTER),
                    (override_, arp_nd::OVERRIDE),
                    (immutable, arp_nd::IMMUTABLE),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .fold(0, |flags, (_, bit)| flags | bit);
            }
            ExtCommunity::Other(raw) => b = raw,
        }
        b
    }
}

impl<'a> WireItem<'a> for ExtCommunity {
    fn read(bytes: &mut &'a [u8]) -> Option<Self> {
        let (head, rest) = bytes.split_first_chunk::<8>()?;
        *bytes = rest;
        Some(ExtCommunity::parse(*head))
    }

    fn wire_len(&self) -> usize {
        Self::LEN
    }

    fn write(&self, buf: &mut [u8]) {
        buf[..8].copy_from_slice(&self.to_bytes());
    }
}

impl<'a> WireItem<'a> for Ipv4Address {
    fn read(bytes: &mut &'a [u8]) -> Option<Self> {
        let (head, rest) = bytes.split_first_chunk::<4>()?;
        *bytes = rest;
        Some(Ipv4Address::from(*head))
    }

    fn wire_len(&self) -> usize {
        4
    }

    fn write(&self, buf: &mut [u8]) {
        buf[..4].copy_from_slice(&self.octets());
    }
}
