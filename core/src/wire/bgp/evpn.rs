//! EVPN routes, the NLRI of L2VPN/EVPN (RFC 7432 section 7, VXLAN use in RFC 8365).
//!
//! ```text
//! NLRI:    Route type (1) | Length (1) | Route (Length octets)
//! type 2:  RD (8) | ESI (10) | Ethernet tag (4) | MAC len (1) = 48 | MAC (6)
//!          | IP len (1) = 0/32/128 | IP (0/4/16) | Label1 (3) | [Label2 (3)]
//! type 3:  RD (8) | Ethernet tag (4) | IP len (1) = 32/128 | Originator IP (4/16)
//! ```
//!
//! Types 2 (MAC/IP advertisement) and 3 (inclusive multicast Ethernet tag) are typed; other
//! types are carried intact as [`EvpnRoute::Other`]. With VXLAN the 24-bit label field holds the
//! VNI (RFC 8365 section 5.1.3).

use core::fmt;
use core::ops::Range;

use super::{Error, Malformed, Result, WireItem, be16, be24, be32};
use crate::Vni;
use crate::wire::{EthernetAddress, IpAddress, Ipv4Address, Ipv6Address};

/// Route types (RFC 7432 section 7, RFC 9136).
pub mod route_type {
    pub const ETHERNET_AUTO_DISCOVERY: u8 = 1;
    pub const MAC_IP: u8 = 2;
    pub const INCLUSIVE_MULTICAST: u8 = 3;
    pub const ETHERNET_SEGMENT: u8 = 4;
    pub const IP_PREFIX: u8 = 5;
}

/// Offsets inside a type-2 route (after the route type and length octets), for a dissector.
pub const MAC_IP_FIELDS: &[(&str, Range<usize>)] = &[
    ("rd", 0..8),
    ("esi", 8..18),
    ("ethernet_tag", 18..22),
    ("mac_len", 22..23),
    ("mac", 23..29),
    ("ip_len", 29..30),
];

/// Offsets inside a type-3 route (after the route type and length octets).
pub const INCLUSIVE_MULTICAST_FIELDS: &[(&str, Range<usize>)] =
    &[("rd", 0..8), ("ethernet_tag", 8..12), ("ip_len", 12..13)];

/// A route distinguisher (RFC 4364 section 4.2): makes routes of different VTEPs distinct.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct RouteDistinguisher(pub [u8; 8]);

impl RouteDistinguisher {
    /// Type 1, `ip:index`: what FRR derives automatically (router ID and a per-VNI index).
    pub fn from_ip(ip: Ipv4Address, index: u16) -> RouteDistinguisher {
        let mut b = [0u8; 8];
        b[..2].copy_from_slice(&1u16.to_be_bytes());
        b[2..6].copy_from_slice(&ip.octets());
        b[6..].copy_from_slice(&index.to_be_bytes());
        RouteDistinguisher(b)
    }

    /// Type 0, `asn:value`.
    pub fn from_as2(asn: u16, value: u32) -> RouteDistinguisher {
        let mut b = [0u8; 8];
        b[2..4].copy_from_slice(&asn.to_be_bytes());
        b[4..].copy_from_slice(&value.to_be_bytes());
        RouteDistinguisher(b)
    }

    pub fn kind(&self) -> u16 {
        be16(&self.0, 0)
    }
}

impl fmt::Display for RouteDistinguisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        match self.kind() {
            0 => write!(f, "{}:{}", be16(b, 2), be32(b, 4)),
            1 => write!(f, "{}.{}.{}.{}:{}", b[2], b[3], b[4], b[5], be16(b, 6)),
            2 => write!(f, "{}:{}", be32(b, 2), be16(b, 6)),
            kind => write!(f, "type{kind}:{:02x?}", &b[2..]),
        }
    }
}

/// An Ethernet segment identifier; all zeros for a single-homed VTEP.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct EthernetSegment(pub [u8; 10]);

impl EthernetSegment {
    pub const SINGLE_HOMED: EthernetSegment = EthernetSegment([0; 10]);
}

/// A type-2 route: `mac` (and `ip`) live behind the VTEP in the route's next hop.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MacIpRoute {
    pub rd: RouteDistinguisher,
    pub esi: EthernetSegment,
    pub ethernet_tag: u32,
    pub mac: EthernetAddress,
    pub ip: Option<IpAddress>,
    /// 24 bits: the VNI with VXLAN.
    pub label1: u32,
    /// 24 bits: the L3 VNI of symmetric IRB.
    pub label2: Option<u32>,
}

impl MacIpRoute {
    /// The VNI in the label (RFC 8365).
    pub fn vni(&self) -> Vni {
        Vni::from_u24_truncating(self.label1)
    }

    fn wire_len(&self) -> usize {
        33 + ip_len(&self.ip) + if self.label2.is_some() { 3 } else { 0 }
    }
}

/// A type-3 route: the VTEP at `originator` wants a copy of the network's BUM traffic.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct InclusiveMulticastRoute {
    pub rd: RouteDistinguisher,
    pub ethernet_tag: u32,
    pub originator: IpAddress,
}

/// One EVPN route.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EvpnRoute<'a> {
    MacIp(MacIpRoute),
    InclusiveMulticast(InclusiveMulticastRoute),
    /// Another route type, carried intact (RFC 7606 section 5.4: a receiver that does not
    /// understand it discards it).
    Other {
        route_type: u8,
        value: &'a [u8],
    },
}

/// What identifies a route (RFC 7432 sections 7.2 and 7.3): a withdrawal names this, and a
/// newer announcement with the same key replaces the older.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RouteKey {
    MacIp {
        rd: RouteDistinguisher,
        ethernet_tag: u32,
        mac: [u8; 6],
        ip: Option<IpKey>,
    },
    InclusiveMulticast {
        rd: RouteDistinguisher,
        ethernet_tag: u32,
        originator: IpKey,
    },
}

/// An IP address as an ordered, hashable key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum IpKey {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl From<IpAddress> for IpKey {
    fn from(ip: IpAddress) -> Self {
        match ip {
            IpAddress::Ipv4(v4) => IpKey::V4(v4.octets()),
            IpAddress::Ipv6(v6) => IpKey::V6(v6.octets()),
        }
    }
}

impl From<IpKey> for IpAddress {
    fn from(key: IpKey) -> Self {
        match key {
            IpKey::V4(b) => IpAddress::Ipv4(Ipv4Address::from(b)),
            IpKey::V6(b) => IpAddress::Ipv6(Ipv6Address::from(b)),
        }
    }
}

impl EvpnRoute<'_> {
    /// The route type octet.
    pub fn route_type(&self) -> u8 {
        match self {
            EvpnRoute::MacIp(_) => route_type::MAC_IP,
            EvpnRoute::InclusiveMulticast(_) => route_type::INCLUSIVE_MULTICAST,
            EvpnRoute::Other { route_type, .. } => *route_type,
        }
    }

    /// The key of a typed route; `None` for other types.
    pub fn key(&self) -> Option<RouteKey> {
        match self {
            EvpnRoute::MacIp(r) => Some(RouteKey::MacIp {
                rd: r.rd,
                ethernet_tag: r.ethernet_tag,
                mac: r.mac.0,
                ip: r.ip.map(IpKey::from),
            }),
            EvpnRoute::InclusiveMulticast(r) => Some(RouteKey::InclusiveMulticast {
                rd: r.rd,
                ethernet_tag: r.ethernet_tag,
                originator: r.originator.into(),
            }),
            EvpnRoute::Other { .. } => None,
        }
    }
}

fn ip_len(ip: &Option<IpAddress>) -> usize {
    match ip {
        None => 0,
        Some(IpAddress::Ipv4(_)) => 4,
        Some(IpAddress::Ipv6(_)) => 16,
    }
}

fn read_ip(bits: u8, bytes: &[u8]) -> Option<Option<IpAddress>> {
    match (bits, bytes.len()) {
        (0, 0) => Some(None),
        (32, 4) => Some(Some(IpAddress::Ipv4(Ipv4Address::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        )))),
        (128, 16) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(bytes);
            Some(Some(IpAddress::Ipv6(Ipv6Address::from(b))))
        }
        _ => None,
    }
}

fn rd(b: &[u8]) -> RouteDistinguisher {
    let mut rd = [0u8; 8];
    rd.copy_from_slice(&b[..8]);
    RouteDistinguisher(rd)
}

impl<'a> EvpnRoute<'a> {
    /// Reads a route from its type and value (the octets after the length); `None` if a typed
    /// route's lengths are inconsistent.
    pub fn parse(kind: u8, v: &'a [u8]) -> Option<EvpnRoute<'a>> {
        match kind {
            route_type::MAC_IP => {
                if v.len() < 30 || v[22] != 48 {
                    return None;
                }
                let ip_end = 30
                    + match v[29] {
                        0 => 0,
                        32 => 4,
                        128 => 16,
                        _ => return None,
                    };
                let ip = read_ip(v[29], v.get(30..ip_end)?)?;
                let label2 = match v.len().checked_sub(ip_end)? {
                    3 => None,
                    6 => Some(be24(v, ip_end + 3)),
                    _ => return None,
                };
                let mut esi = [0u8; 10];
                esi.copy_from_slice(&v[8..18]);
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&v[23..29]);
                Some(EvpnRoute::MacIp(MacIpRoute {
                    rd: rd(v),
                    esi: EthernetSegment(esi),
                    ethernet_tag: be32(v, 18),
                    mac: EthernetAddress(mac),
                    ip,
                    label1: be24(v, ip_end),
                    label2,
                }))
            }
            route_type::INCLUSIVE_MULTICAST => {
                if v.len() < 13 {
                    return None;
                }
                let originator = read_ip(v[12], &v[13..])??;
                Some(EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
                    rd: rd(v),
                    ethernet_tag: be32(v, 8),
                    originator,
                }))
            }
            route_type => Some(EvpnRoute::Other {
                route_type,
                value: v,
            }),
        }
    }

    /// Bytes of the route on the wire, type and length octets included.
    pub fn buffer_len(&self) -> usize {
        2 + match self {
            EvpnRoute::MacIp(r) => r.wire_len(),
            EvpnRoute::InclusiveMulticast(r) => 13 + ip_len(&Some(r.originator)),
            // The length octet caps an intact route at 255 bytes.
            EvpnRoute::Other { value, .. } => value.len().min(255),
        }
    }

    /// Writes the route (type, length, value) into `buf[..buffer_len]`.
    ///
    /// # Panics
    /// If `buf` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        buf[0] = self.route_type();
        buf[1] = (len - 2) as u8;
        let v = &mut buf[2..len];
        let put_ip = |v: &mut [u8], at: usize, ip: &Option<IpAddress>| -> usize {
            match ip {
                None => {
                    v[at] = 0;
                    at + 1
                }
                Some(IpAddress::Ipv4(a)) => {
                    v[at] = 32;
                    v[at + 1..at + 5].copy_from_slice(&a.octets());
                    at + 5
                }
                Some(IpAddress::Ipv6(a)) => {
                    v[at] = 128;
                    v[at + 1..at + 17].copy_from_slice(&a.octets());
                    at + 17
                }
            }
        };
        match self {
            EvpnRoute::MacIp(r) => {
                v[..8].copy_from_slice(&r.rd.0);
                v[8..18].copy_from_slice(&r.esi.0);
                v[18..22].copy_from_slice(&r.ethernet_tag.to_be_bytes());
                v[22] = 48;
                v[23..29].copy_from_slice(&r.mac.0);
                let at = put_ip(v, 29, &r.ip);
                v[at..at + 3].copy_from_slice(&r.label1.to_be_bytes()[1..]);
                if let Some(label2) = r.label2 {
                    v[at + 3..at + 6].copy_from_slice(&label2.to_be_bytes()[1..]);
                }
            }
            EvpnRoute::InclusiveMulticast(r) => {
                v[..8].copy_from_slice(&r.rd.0);
                v[8..12].copy_from_slice(&r.ethernet_tag.to_be_bytes());
                put_ip(v, 12, &Some(r.originator));
            }
            EvpnRoute::Other { value, .. } => v.copy_from_slice(&value[..len - 2]),
        }
        len
    }
}

/// Checks that `nlri` is a sequence of whole routes, typed ones well formed. `base` is the
/// offset of `nlri` in the message, for the error's span.
pub fn check_nlri(nlri: &[u8], base: usize) -> Result<()> {
    let mut at = 0;
    while at < nlri.len() {
        let fail = |end: usize| Err(Error::new(Malformed::BadEvpnNlri, base + at..base + end));
        let Some(&len) = nlri.get(at + 1) else {
            return fail(nlri.len());
        };
        let end = at + 2 + usize::from(len);
        let Some(value) = nlri.get(at + 2..end) else {
            return fail(nlri.len());
        };
        if EvpnRoute::parse(nlri[at], value).is_none() {
            return fail(end);
        }
        at = end;
    }
    Ok(())
}

/// The routes of checked NLRI bytes with their byte ranges (relative to `base`).
pub fn routes_with_ranges(
    nlri: &[u8],
    base: usize,
) -> impl Iterator<Item = (Range<usize>, EvpnRoute<'_>)> + '_ {
    let mut at = 0;
    core::iter::from_fn(move || {
        let len = usize::from(*nlri.get(at + 1)?);
        let end = at + 2 + len;
        let route = EvpnRoute::parse(nlri[at], nlri.get(at + 2..end)?)?;
        let range = base + at..base + end;
        at = end;
        Some((range, route))
    })
}

impl<'a> WireItem<'a> for EvpnRoute<'a> {
    fn read(bytes: &mut &'a [u8]) -> Option<Self> {
        let b: &'a [u8] = bytes;
        let end = 2 + usize::from(*b.get(1)?);
        let route = EvpnRoute::parse(b[0], b.get(2..end)?)?;
        *bytes = &b[end..];
        Some(route)
    }

    fn wire_len(&self) -> usize {
        self.buffer_len()
    }

    fn write(&self, buf: &mut [u8]) {
        self.emit(buf);
    }
}
