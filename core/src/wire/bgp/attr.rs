//! Path attributes (RFC 4271 section 4.3 and 5), and the typed ones an EVPN speaker uses.
//!
//! ```text
//! Flags (1): Optional 0x80 | Transitive 0x40 | Partial 0x20 | Extended length 0x10
//! Type (1) | Length (1, or 2 with extended length) | Value
//! ```

use core::fmt;
use core::ops::Range;

use super::evpn::{self, EvpnRoute};
use super::{Error, Family, Malformed, Result, Seq, be16, be24, be32};
use crate::wire::{Ipv4Address, Ipv6Address};

/// Attribute flags.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct AttributeFlags(pub u8);

impl AttributeFlags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;

    pub fn optional(self) -> bool {
        self.0 & Self::OPTIONAL != 0
    }
    pub fn transitive(self) -> bool {
        self.0 & Self::TRANSITIVE != 0
    }
    pub fn partial(self) -> bool {
        self.0 & Self::PARTIAL != 0
    }
    pub fn extended_length(self) -> bool {
        self.0 & Self::EXTENDED_LENGTH != 0
    }
}

/// Attribute type codes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum AttributeType {
    Origin,
    AsPath,
    NextHop,
    MultiExitDisc,
    LocalPref,
    AtomicAggregate,
    Aggregator,
    Communities,
    OriginatorId,
    ClusterList,
    MpReachNlri,
    MpUnreachNlri,
    ExtendedCommunities,
    As4Path,
    As4Aggregator,
    PmsiTunnel,
    Unknown(u8),
}

impl From<u8> for AttributeType {
    fn from(value: u8) -> Self {
        use AttributeType::*;
        match value {
            1 => Origin,
            2 => AsPath,
            3 => NextHop,
            4 => MultiExitDisc,
            5 => LocalPref,
            6 => AtomicAggregate,
            7 => Aggregator,
            8 => Communities,
            9 => OriginatorId,
            10 => ClusterList,
            14 => MpReachNlri,
            15 => MpUnreachNlri,
            16 => ExtendedCommunities,
            17 => As4Path,
            18 => As4Aggregator,
            22 => PmsiTunnel,
            other => Unknown(other),
        }
    }
}

impl From<AttributeType> for u8 {
    fn from(value: AttributeType) -> u8 {
        use AttributeType::*;
        match value {
            Origin => 1,
            AsPath => 2,
            NextHop => 3,
            MultiExitDisc => 4,
            LocalPref => 5,
            AtomicAggregate => 6,
            Aggregator => 7,
            Communities => 8,
            OriginatorId => 9,
            ClusterList => 10,
            MpReachNlri => 14,
            MpUnreachNlri => 15,
            ExtendedCommunities => 16,
            As4Path => 17,
            As4Aggregator => 18,
            PmsiTunnel => 22,
            Unknown(other) => other,
        }
    }
}

impl AttributeType {
    /// The (optional, transitive) bits the attribute must have; `None` for unknown ones.
    pub fn expected_flags(self) -> Option<u8> {
        use AttributeType::*;
        const WELL_KNOWN: u8 = AttributeFlags::TRANSITIVE;
        const OPTIONAL_TRANSITIVE: u8 = AttributeFlags::OPTIONAL | AttributeFlags::TRANSITIVE;
        const OPTIONAL: u8 = AttributeFlags::OPTIONAL;
        Some(match self {
            Origin | AsPath | NextHop | LocalPref | AtomicAggregate => WELL_KNOWN,
            MultiExitDisc | OriginatorId | ClusterList | MpReachNlri | MpUnreachNlri => OPTIONAL,
            Aggregator | Communities | ExtendedCommunities | As4Path | As4Aggregator
            | PmsiTunnel => OPTIONAL_TRANSITIVE,
            Unknown(_) => return None,
        })
    }

    /// The name RFCs and Wireshark use.
    pub fn name(self) -> &'static str {
        use AttributeType::*;
        match self {
            Origin => "ORIGIN",
            AsPath => "AS_PATH",
            NextHop => "NEXT_HOP",
            MultiExitDisc => "MULTI_EXIT_DISC",
            LocalPref => "LOCAL_PREF",
            AtomicAggregate => "ATOMIC_AGGREGATE",
            Aggregator => "AGGREGATOR",
            Communities => "COMMUNITIES",
            OriginatorId => "ORIGINATOR_ID",
            ClusterList => "CLUSTER_LIST",
            MpReachNlri => "MP_REACH_NLRI",
            MpUnreachNlri => "MP_UNREACH_NLRI",
            ExtendedCommunities => "EXTENDED_COMMUNITIES",
            As4Path => "AS4_PATH",
            As4Aggregator => "AS4_AGGREGATOR",
            PmsiTunnel => "PMSI_TUNNEL",
            Unknown(_) => "unknown",
        }
    }
}

/// One attribute as it is on the wire, with where it is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RawAttribute<'a> {
    pub flags: AttributeFlags,
    pub type_code: u8,
    pub value: &'a [u8],
    /// The whole attribute (flags to the end of the value), as offsets into the message.
    pub start: usize,
    /// Where the value starts, as an offset into the message.
    pub value_start: usize,
}

impl RawAttribute<'_> {
    pub fn kind(&self) -> AttributeType {
        AttributeType::from(self.type_code)
    }

    /// The attribute's bytes in the message (what a NOTIFICATION quotes).
    pub fn range(&self) -> Range<usize> {
        self.start..self.value_start + self.value.len()
    }

    pub fn value_range(&self) -> Range<usize> {
        self.value_start..self.value_start + self.value.len()
    }
}

/// Iterator over the attributes of an UPDATE. Yields an [`Malformed::AttributeOverrun`] error
/// (once, then stops) when an attribute does not fit: RFC 7606 section 4 makes that a
/// treat-as-withdraw, found by the type code the caller reads from the error's span.
#[derive(Clone, Debug)]
pub struct AttributeIter<'a> {
    bytes: &'a [u8],
    at: usize,
    base: usize,
}

impl<'a> AttributeIter<'a> {
    /// Attributes in `bytes`, which start at offset `base` of the message.
    pub fn new(bytes: &'a [u8], base: usize) -> AttributeIter<'a> {
        AttributeIter { bytes, at: 0, base }
    }
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = Result<RawAttribute<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        let b = self.bytes;
        if self.at >= b.len() {
            return None;
        }
        let start = self.at;
        let overrun = |this: &mut Self| {
            this.at = b.len();
            Some(Err(Error::new(
                Malformed::AttributeOverrun,
                this.base + start..this.base + b.len(),
            )))
        };
        let flags = AttributeFlags(b[start]);
        let head = if flags.extended_length() { 4 } else { 3 };
        if b.len() - start < head {
            return overrun(self);
        }
        let len = if flags.extended_length() {
            usize::from(be16(b, start + 2))
        } else {
            usize::from(b[start + 2])
        };
        let value_start = start + head;
        let Some(value) = b.get(value_start..value_start + len) else {
            return overrun(self);
        };
        self.at = value_start + len;
        Some(Ok(RawAttribute {
            flags,
            type_code: b[start + 1],
            value,
            start: self.base + start,
            value_start: self.base + value_start,
        }))
    }
}

/// Writes an attribute header for a value of `len` bytes, with the extended length when it needs
/// it or when `flags` asks for it. Returns the header length.
///
/// # Panics
/// If `buf` is shorter than the header.
pub fn emit_header(buf: &mut [u8], flags: u8, kind: AttributeType, len: usize) -> usize {
    let extended = len > 255 || flags & AttributeFlags::EXTENDED_LENGTH != 0;
    buf[0] = (flags & !AttributeFlags::EXTENDED_LENGTH)
        | if extended {
            AttributeFlags::EXTENDED_LENGTH
        } else {
            0
        };
    buf[1] = kind.into();
    if extended {
        buf[2..4].copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        4
    } else {
        buf[2] = len as u8;
        3
    }
}

/// Length of an attribute with a value of `len` bytes (header without extended length when
/// the value fits in 255 bytes).
pub const fn attribute_len(len: usize) -> usize {
    len + if len > 255 { 4 } else { 3 }
}

/// Length of an attribute always written with the extended length.
pub const fn extended_attribute_len(len: usize) -> usize {
    len + 4
}

/// ORIGIN values.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

impl Origin {
    pub fn parse(value: &[u8]) -> Option<Origin> {
        match value {
            [0] => Some(Origin::Igp),
            [1] => Some(Origin::Egp),
            [2] => Some(Origin::Incomplete),
            _ => None,
        }
    }

    pub fn to_u8(self) -> u8 {
        self as u8
    }
}

/// AS_PATH segment types.
pub mod segment {
    pub const AS_SET: u8 = 1;
    pub const AS_SEQUENCE: u8 = 2;
    pub const AS_CONFED_SEQUENCE: u8 = 3;
    pub const AS_CONFED_SET: u8 = 4;
}

/// An AS_PATH: validated segments, 2- or 4-octet ASNs as the session negotiated.
#[derive(Clone, Copy, Debug)]
pub struct AsPath<'a> {
    pub four_octet: bool,
    segments: &'a [u8],
}

impl<'a> AsPath<'a> {
    /// The empty path of routes originated inside the AS.
    pub const EMPTY: AsPath<'static> = AsPath {
        four_octet: true,
        segments: &[],
    };

    /// Checks segments: each has a known type, at least one AS, and fits (RFC 7606 7.2).
    pub fn parse(value: &'a [u8], four_octet: bool) -> Option<AsPath<'a>> {
        let width = if four_octet { 4 } else { 2 };
        let mut at = 0;
        while at < value.len() {
            let kind = *value.get(at)?;
            let count = usize::from(*value.get(at + 1)?);
            if !(segment::AS_SET..=segment::AS_CONFED_SET).contains(&kind) || count == 0 {
                return None;
            }
            at += 2 + count * width;
        }
        (at == value.len()).then_some(AsPath {
            four_octet,
            segments: value,
        })
    }

    /// Segments as (type, ASNs).
    pub fn segments(&self) -> impl Iterator<Item = (u8, impl Iterator<Item = u32> + 'a)> + 'a {
        let (b, width) = (self.segments, if self.four_octet { 4 } else { 2 });
        let mut at = 0;
        core::iter::from_fn(move || {
            let kind = *b.get(at)?;
            let count = usize::from(*b.get(at + 1)?);
            let start = at + 2;
            at = start + count * width;
            let asns = b.get(start..at)?;
            Some((
                kind,
                asns.chunks_exact(width).map(move |c| {
                    if width == 4 {
                        be32(c, 0)
                    } else {
                        u32::from(be16(c, 0))
                    }
                }),
            ))
        })
    }

    /// Every AS in the path.
    pub fn asns(&self) -> impl Iterator<Item = u32> + 'a {
        self.segments().flat_map(|(_, asns)| asns)
    }

    /// Whether `asn` is in the path (RFC 4271 section 9.1.2 loop detection).
    pub fn contains(&self, asn: u32) -> bool {
        self.asns().any(|a| a == asn)
    }

    /// The path length used in route selection: an AS_SET counts one, confederation segments
    /// none (RFC 5065).
    pub fn path_len(&self) -> usize {
        self.segments()
            .map(|(kind, asns)| match kind {
                segment::AS_SEQUENCE => asns.count(),
                segment::AS_SET => 1,
                _ => 0,
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The segment bytes as received (in the width of `four_octet`).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.segments
    }

    /// Bytes the path takes when written with `four_octet` ASNs.
    pub fn wire_len(&self, four_octet: bool) -> usize {
        let width = if four_octet { 4 } else { 2 };
        self.segments()
            .map(|(_, asns)| 2 + asns.count() * width)
            .sum()
    }

    /// Writes the path with `four_octet` ASNs (an AS above 65535 becomes AS_TRANS in 2-octet
    /// form, RFC 6793). Returns the bytes written.
    pub fn write(&self, four_octet: bool, buf: &mut [u8]) -> usize {
        if four_octet == self.four_octet {
            buf[..self.segments.len()].copy_from_slice(self.segments);
            return self.segments.len();
        }
        let mut at = 0;
        for (kind, asns) in self.segments() {
            let count_at = at + 1;
            buf[at] = kind;
            at += 2;
            let mut count = 0u8;
            for asn in asns {
                if four_octet {
                    buf[at..at + 4].copy_from_slice(&asn.to_be_bytes());
                    at += 4;
                } else {
                    let two = u16::try_from(asn).unwrap_or(super::AS_TRANS);
                    buf[at..at + 2].copy_from_slice(&two.to_be_bytes());
                    at += 2;
                }
                count += 1;
            }
            buf[count_at] = count;
        }
        at
    }
}

impl PartialEq for AsPath<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.segments()
            .map(|(k, _)| k)
            .eq(other.segments().map(|(k, _)| k))
            && self
                .segments()
                .map(|(_, a)| a.count())
                .eq(other.segments().map(|(_, a)| a.count()))
            && self.asns().eq(other.asns())
    }
}

impl Eq for AsPath<'_> {}

impl fmt::Display for AsPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (kind, asns) in self.segments() {
            let (open, close) = match kind {
                segment::AS_SET => ("{", "}"),
                segment::AS_CONFED_SEQUENCE => ("(", ")"),
                segment::AS_CONFED_SET => ("[", "]"),
                _ => ("", ""),
            };
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(open)?;
            for (i, asn) in asns.enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{asn}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// The next hop of MP_REACH_NLRI for EVPN: the VTEP's address (RFC 7432 section 7).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum NextHop {
    V4(Ipv4Address),
    V6(Ipv6Address),
    /// A global and a link-local address (RFC 2545).
    V6WithLinkLocal(Ipv6Address, Ipv6Address),
}

impl NextHop {
    fn parse(b: &[u8]) -> Option<NextHop> {
        let v6 = |b: &[u8]| {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Ipv6Address::from(a)
        };
        match b.len() {
            4 => Some(NextHop::V4(Ipv4Address::new(b[0], b[1], b[2], b[3]))),
            16 => Some(NextHop::V6(v6(b))),
            32 => Some(NextHop::V6WithLinkLocal(v6(&b[..16]), v6(&b[16..]))),
            _ => None,
        }
    }

    pub fn wire_len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6(_) => 16,
            NextHop::V6WithLinkLocal(..) => 32,
        }
    }

    fn write(&self, buf: &mut [u8]) {
        match self {
            NextHop::V4(a) => buf[..4].copy_from_slice(&a.octets()),
            NextHop::V6(a) => buf[..16].copy_from_slice(&a.octets()),
            NextHop::V6WithLinkLocal(a, b) => {
                buf[..16].copy_from_slice(&a.octets());
                buf[16..32].copy_from_slice(&b.octets());
            }
        }
    }
}

/// MP_REACH_NLRI (RFC 4760 section 3): AFI (2) | SAFI (1) | NH len (1) | NH | Reserved (1) | NLRI.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MpReach<'a> {
    Evpn {
        next_hop: NextHop,
        routes: Seq<'a, EvpnRoute<'a>>,
    },
    /// Another family, not read further (the session did not negotiate it).
    Other {
        family: Family,
        next_hop: &'a [u8],
        nlri: &'a [u8],
    },
}

impl<'a> MpReach<'a> {
    /// Reads the attribute value; `value_start` is its offset in the message, for error spans.
    pub fn parse(value: &'a [u8], value_start: usize) -> Result<MpReach<'a>> {
        let bad = || {
            Error::new(
                Malformed::BadMpReach,
                value_start..value_start + value.len(),
            )
        };
        if value.len() < 5 {
            return Err(bad());
        }
        let family = Family::read(value);
        let nh_end = 4 + usize::from(value[3]);
        let next_hop = value.get(4..nh_end).ok_or_else(bad)?;
        // The reserved octet follows the next hop.
        let nlri = value.get(nh_end + 1..).ok_or_else(bad)?;
        if family != Family::L2VPN_EVPN {
            return Ok(MpReach::Other {
                family,
                next_hop,
                nlri,
            });
        }
        let next_hop = NextHop::parse(next_hop).ok_or_else(bad)?;
        evpn::check_nlri(nlri, value_start + nh_end + 1)?;
        Ok(MpReach::Evpn {
            next_hop,
            routes: Seq::Wire(nlri),
        })
    }

    pub fn family(&self) -> Family {
        match self {
            MpReach::Evpn { .. } => Family::L2VPN_EVPN,
            MpReach::Other { family, .. } => *family,
        }
    }

    pub fn value_len(&self) -> usize {
        match self {
            MpReach::Evpn { next_hop, routes } => 5 + next_hop.wire_len() + routes.wire_len(),
            MpReach::Other { next_hop, nlri, .. } => 5 + next_hop.len() + nlri.len(),
        }
    }

    /// Writes the value into `buf[..value_len]`.
    pub fn write(&self, buf: &mut [u8]) {
        self.family().write(buf);
        match self {
            MpReach::Evpn { next_hop, routes } => {
                let nh = next_hop.wire_len();
                buf[3] = nh as u8;
                next_hop.write(&mut buf[4..]);
                buf[4 + nh] = 0;
                routes.write(&mut buf[5 + nh..]);
            }
            MpReach::Other { next_hop, nlri, .. } => {
                let nh = next_hop.len().min(255);
                buf[3] = nh as u8;
                buf[4..4 + nh].copy_from_slice(&next_hop[..nh]);
                buf[4 + nh] = 0;
                buf[5 + nh..5 + nh + nlri.len()].copy_from_slice(nlri);
            }
        }
    }
}

/// MP_UNREACH_NLRI (RFC 4760 section 4): AFI (2) | SAFI (1) | withdrawn routes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MpUnreach<'a> {
    Evpn { routes: Seq<'a, EvpnRoute<'a>> },
    Other { family: Family, nlri: &'a [u8] },
}

impl<'a> MpUnreach<'a> {
    pub fn parse(value: &'a [u8], value_start: usize) -> Result<MpUnreach<'a>> {
        if value.len() < 3 {
            return Err(Error::new(
                Malformed::BadMpUnreach,
                value_start..value_start + value.len(),
            ));
        }
        let family = Family::read(value);
        let nlri = &value[3..];
        if family != Family::L2VPN_EVPN {
            return Ok(MpUnreach::Other { family, nlri });
        }
        evpn::check_nlri(nlri, value_start + 3)?;
        Ok(MpUnreach::Evpn {
            routes: Seq::Wire(nlri),
        })
    }

    pub fn family(&self) -> Family {
        match self {
            MpUnreach::Evpn { .. } => Family::L2VPN_EVPN,
            MpUnreach::Other { family, .. } => *family,
        }
    }

    pub fn value_len(&self) -> usize {
        3 + match self {
            MpUnreach::Evpn { routes } => routes.wire_len(),
            MpUnreach::Other { nlri, .. } => nlri.len(),
        }
    }

    pub fn write(&self, buf: &mut [u8]) {
        self.family().write(buf);
        match self {
            MpUnreach::Evpn { routes } => {
                routes.write(&mut buf[3..]);
            }
            MpUnreach::Other { nlri, .. } => buf[3..3 + nlri.len()].copy_from_slice(nlri),
        }
    }
}

/// PMSI tunnel types (RFC 6514 section 5, RFC 7432 section 11.2).
pub mod pmsi_type {
    pub const NO_TUNNEL: u8 = 0;
    pub const INGRESS_REPLICATION: u8 = 6;
}

/// PMSI_TUNNEL (RFC 6514 section 5): Flags (1) | Tunnel type (1) | MPLS label (3) | Tunnel id.
/// A type-3 route carries ingress replication with the VNI as label (RFC 8365 section 5.1.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PmsiTunnel<'a> {
    pub flags: u8,
    pub tunnel_type: u8,
    /// 24 bits: the VNI with VXLAN.
    pub label: u32,
    /// For ingress replication, the IPv4 or IPv6 address to replicate to.
    pub identifier: &'a [u8],
}

impl<'a> PmsiTunnel<'a> {
    /// Reads the value: at least 5 octets, and ingress replication with an IPv4 (9 octets) or
    /// IPv6 (21) endpoint.
    pub fn parse(value: &'a [u8]) -> Option<PmsiTunnel<'a>> {
        if value.len() < 5 {
            return None;
        }
        if value[1] == pmsi_type::INGRESS_REPLICATION && !matches!(value.len(), 9 | 21) {
            return None;
        }
        Some(PmsiTunnel {
            flags: value[0],
            tunnel_type: value[1],
            label: be24(value, 2),
            identifier: &value[5..],
        })
    }

    /// The endpoint of ingress replication over IPv4.
    pub fn ingress_replication_v4(&self) -> Option<Ipv4Address> {
        match (self.tunnel_type, self.identifier) {
            (pmsi_type::INGRESS_REPLICATION, &[a, b, c, d]) => Some(Ipv4Address::new(a, b, c, d)),
            _ => None,
        }
    }

    pub fn value_len(&self) -> usize {
        5 + self.identifier.len()
    }

    pub fn write(&self, buf: &mut [u8]) {
        buf[0] = self.flags;
        buf[1] = self.tunnel_type;
        buf[2..5].copy_from_slice(&self.label.to_be_bytes()[1..]);
        buf[5..5 + self.identifier.len()].copy_from_slice(self.identifier);
    }
}
