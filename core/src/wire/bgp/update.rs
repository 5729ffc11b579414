//! UPDATE (RFC 4271 section 4.3) and its error handling (RFC 7606).
//!
//! ```text
//! header | Withdrawn Routes Length (2) | Withdrawn Routes | Total Path Attribute Length (2)
//!        | Path Attributes | NLRI (to the end of the message)
//! ```
//!
//! [`UpdatePacket`] checks the two lengths and gives iterators over each part. [`UpdateRepr`]
//! reads the attributes into typed fields and returns, beside it, the RFC 7606 [`Verdict`]: the
//! errors that leave the session up (attribute discard, treat-as-withdraw) are counted there,
//! and the ones that reset it are the `Err`.

use core::ops::Range;

use super::attr::{self, AsPath, AttributeFlags, AttributeIter, AttributeType, MpReach, MpUnreach};
use super::attr::{NextHop, Origin, PmsiTunnel};
use super::{Action, Error, ExtCommunity, HEADER_LEN, Malformed, MessageType, Result};
use super::{EvpnRoute, Seq, WireItem, be16, be32, message_of};
use crate::wire::Ipv4Address;

/// Offsets of the fixed part of the UPDATE body.
pub mod field {
    pub const WITHDRAWN_LEN: core::ops::Range<usize> = 19..21;
    pub const WITHDRAWN: usize = 21;
}

/// An IPv4 prefix of the Withdrawn Routes and NLRI fields: length in bits, then the octets that
/// hold them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ipv4Prefix {
    pub len: u8,
    pub addr: [u8; 4],
}

impl<'a> WireItem<'a> for Ipv4Prefix {
    fn read(bytes: &mut &'a [u8]) -> Option<Self> {
        let len = *bytes.first()?;
        if len > 32 {
            return None;
        }
        let octets = usize::from(len).div_ceil(8);
        let body = bytes.get(1..1 + octets)?;
        let mut addr = [0u8; 4];
        addr[..octets].copy_from_slice(body);
        *bytes = &bytes[1 + octets..];
        Some(Ipv4Prefix { len, addr })
    }

    fn wire_len(&self) -> usize {
        1 + usize::from(self.len.min(32)).div_ceil(8)
    }

    fn write(&self, buf: &mut [u8]) {
        let octets = self.wire_len() - 1;
        buf[0] = self.len.min(32);
        buf[1..1 + octets].copy_from_slice(&self.addr[..octets]);
    }
}

/// Whether `bytes` is a whole sequence of prefixes.
fn check_prefixes(mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        if Ipv4Prefix::read(&mut bytes).is_none() {
            return false;
        }
    }
    true
}

packet! {
    /// A read-only view of an UPDATE.
    pub struct UpdatePacket;
    /// Checks the header and that the withdrawn routes and the attributes fit the message
    /// (else [`Malformed::BadUpdateLengths`], RFC 4271 section 6.3).
    fn new_checked;
}

impl<T: AsRef<[u8]>> UpdatePacket<T> {
    pub fn check_len(&self) -> Result<()> {
        let message = message_of(self.buffer.as_ref(), MessageType::Update)?;
        let withdrawn_end = field::WITHDRAWN + usize::from(be16(message, 19));
        // The attribute length field must fit after the withdrawn routes, and the attributes
        // within the message.
        if withdrawn_end + 2 > message.len()
            || withdrawn_end + 2 + usize::from(be16(message, withdrawn_end)) > message.len()
        {
            return Err(Error::new(
                Malformed::BadUpdateLengths,
                HEADER_LEN..message.len(),
            ));
        }
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..usize::from(be16(b, 16))]
    }

    /// The withdrawn routes, as a byte range of the message.
    pub fn withdrawn_range(&self) -> Range<usize> {
        field::WITHDRAWN..field::WITHDRAWN + usize::from(be16(self.bytes(), 19))
    }

    /// The path attributes, as a byte range of the message.
    pub fn attributes_range(&self) -> Range<usize> {
        let start = self.withdrawn_range().end + 2;
        start..start + usize::from(be16(self.bytes(), start - 2))
    }

    /// The NLRI field, as a byte range of the message.
    pub fn nlri_range(&self) -> Range<usize> {
        self.attributes_range().end..self.bytes().len()
    }

    pub fn withdrawn(&self) -> &[u8] {
        &self.bytes()[self.withdrawn_range()]
    }

    pub fn attributes(&self) -> AttributeIter<'_> {
        let range = self.attributes_range();
        AttributeIter::new(&self.bytes()[range.clone()], range.start)
    }

    pub fn nlri(&self) -> &[u8] {
        &self.bytes()[self.nlri_range()]
    }

    /// The message (header included).
    pub fn message(&self) -> &[u8] {
        self.bytes()
    }

    /// An End-of-RIB marker for EVPN (RFC 4724 section 2): only an empty MP_UNREACH_NLRI.
    pub fn is_evpn_end_of_rib(&self) -> bool {
        let mut attrs = self.attributes();
        self.withdrawn().is_empty()
            && self.nlri().is_empty()
            && matches!(
                (attrs.next(), attrs.next()),
                (Some(Ok(a)), None) if a.kind() == AttributeType::MpUnreachNlri && a.value == [0, 25, 70]
            )
    }
}

/// The errors of an UPDATE that left the session up (RFC 7606).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Verdict {
    /// The strongest action: `None` for a clean UPDATE, else attribute discard or
    /// treat-as-withdraw.
    pub action: Option<Action>,
    /// Every reason found, as a bit set over [`Malformed`].
    pub reasons: u64,
    /// The first error found, for logs.
    pub first: Option<Error>,
}

impl Verdict {
    fn note(&mut self, error: Error) {
        self.reasons |= 1 << (error.reason as u64);
        self.first.get_or_insert(error);
        let action = error.reason.action();
        if self.action.is_none_or(|a| a < action) {
            self.action = Some(action);
        }
    }

    /// The reasons found, in declaration order.
    pub fn reasons(&self) -> impl Iterator<Item = Malformed> + '_ {
        Malformed::ALL
            .iter()
            .copied()
            .filter(|r| self.reasons & (1 << (*r as u64)) != 0)
    }

    /// Whether every route of the UPDATE must be taken as withdrawn.
    pub fn treat_as_withdraw(&self) -> bool {
        self.action == Some(Action::TreatAsWithdraw)
    }
}

/// A parsed UPDATE: the typed attributes (first occurrence of each), the routes, and for
/// emitting, the same fields filled by the caller. Attributes this speaker does not type are
/// visible through [`UpdatePacket::attributes`] only.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct UpdateRepr<'a> {
    pub withdrawn: Seq<'a, Ipv4Prefix>,
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath<'a>>,
    pub next_hop: Option<Ipv4Address>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub originator_id: Option<Ipv4Address>,
    pub cluster_list: Option<Seq<'a, Ipv4Address>>,
    pub mp_reach: Option<MpReach<'a>>,
    pub mp_unreach: Option<MpUnreach<'a>>,
    pub ext_communities: Option<Seq<'a, ExtCommunity>>,
    pub pmsi_tunnel: Option<PmsiTunnel<'a>>,
    pub nlri: Seq<'a, Ipv4Prefix>,
}

impl<'a, T: WireItem<'a>> Default for Seq<'a, T> {
    fn default() -> Self {
        Seq::EMPTY
    }
}

/// Set of attribute type codes seen.
struct Seen([u64; 4]);

impl Seen {
    /// Marks `code`; false if it was seen before.
    fn insert(&mut self, code: u8) -> bool {
        let (word, bit) = (usize::from(code / 64), code % 64);
        let fresh = self.0[word] & (1 << bit) == 0;
        self.0[word] |= 1 << bit;
        fresh
    }
}

impl<'a> UpdateRepr<'a> {
    /// An UPDATE announcing EVPN `routes` behind `next_hop` with the attributes an iBGP
    /// speaker gives them: ORIGIN IGP, an empty AS_PATH, LOCAL_PREF 100, and
    /// `ext_communities` (route target, encapsulation, MAC mobility).
    pub fn announce(
        next_hop: NextHop,
        routes: &'a [EvpnRoute<'a>],
        ext_communities: &'a [ExtCommunity],
    ) -> UpdateRepr<'a> {
        UpdateRepr {
            mp_reach: Some(MpReach::Evpn {
                next_hop,
                routes: Seq::Items(routes),
            }),
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::EMPTY),
            local_pref: Some(100),
            ext_communities: Some(Seq::Items(ext_communities)),
            ..UpdateRepr::default()
        }
    }

    /// Reads an UPDATE. `four_octet_as` says how wide the AS_PATH's ASNs are (both sides
    /// offered the 4-octet AS capability). `Err` is a session reset (its reason names the
    /// NOTIFICATION); `Ok` carries the [`Verdict`] of the errors RFC 7606 lets a session
    /// survive. On treat-as-withdraw the routes of the result are all to be withdrawn.
    pub fn parse(
        packet: &UpdatePacket<&'a [u8]>,
        four_octet_as: bool,
    ) -> Result<(UpdateRepr<'a>, Verdict)> {
        packet.check_len()?;
        let message: &'a [u8] = &packet.buffer[..usize::from(be16(packet.buffer, 16))];
        let withdrawn = &message[packet.withdrawn_range()];
        let nlri = &message[packet.nlri_range()];
        if !check_prefixes(withdrawn) {
            return Err(Error::new(
                Malformed::InvalidNetworkField,
                packet.withdrawn_range(),
            ));
        }
        if !check_prefixes(nlri) {
            return Err(Error::new(
                Malformed::InvalidNetworkField,
                packet.nlri_range(),
            ));
        }
        let mut repr = UpdateRepr {
            withdrawn: Seq::Wire(withdrawn),
            nlri: Seq::Wire(nlri),
            ..UpdateRepr::default()
        };
        let mut verdict = Verdict::default();
        let mut seen = Seen([0; 4]);
        let range = packet.attributes_range();
        for attribute in AttributeIter::new(&message[range.clone()], range.start) {
            let attribute = match attribute {
                Ok(a) => a,
                Err(overrun) => {
                    // An MP attribute that overruns hides its routes: nothing can be withdrawn.
                    let kind = message.get(overrun.at.range().start + 1).copied();
                    match kind.map(AttributeType::from) {
                        Some(AttributeType::MpReachNlri) => {
                            return Err(Error {
                                reason: Malformed::BadMpReach,
                                ..overrun
                            });
                        }
                        Some(AttributeType::MpUnreachNlri) => {
                            return Err(Error {
                                reason: Malformed::BadMpUnreach,
                                ..overrun
                            });
                        }
                        _ => verdict.note(overrun),
                    }
                    break;
                }
            };
            let kind = attribute.kind();
            let at = attribute.range();
            let is_mp = matches!(
                kind,
                AttributeType::MpReachNlri | AttributeType::MpUnreachNlri
            );
            if !seen.insert(attribute.type_code) {
                if is_mp {
                    return Err(Error::new(Malformed::DuplicateMpAttribute, at));
                }
                verdict.note(Error::new(Malformed::DuplicateAttribute, at));
                continue;
            }
            let Some(expected) = kind.expected_flags() else {
                if !attribute.flags.optional() {
                    return Err(Error::new(Malformed::UnrecognizedWellKnown, at));
                }
                continue;
            };
            let mask = AttributeFlags::OPTIONAL | AttributeFlags::TRANSITIVE;
            let flags_ok = attribute.flags.0 & mask == expected;
            if !flags_ok {
                verdict.note(Error::new(Malformed::BadAttributeFlags, at.clone()));
                // The routes of an MP attribute are still read, so that they can be withdrawn.
                if !is_mp {
                    continue;
                }
            }
            let v = attribute.value;
            let mut bad = |reason| verdict.note(Error::new(reason, at.clone()));
            match kind {
                AttributeType::Origin => match Origin::parse(v) {
                    Some(o) => repr.origin = Some(o),
                    None => bad(Malformed::BadOrigin),
                },
                AttributeType::AsPath => match AsPath::parse(v, four_octet_as) {
                    Some(p) => repr.as_path = Some(p),
                    None => bad(Malformed::BadAsPath),
                },
                AttributeType::NextHop => match v {
                    &[a, b, c, d] => repr.next_hop = Some(Ipv4Address::new(a, b, c, d)),
                    _ => bad(Malformed::BadNextHop),
                },
                AttributeType::MultiExitDisc => match v.len() {
                    4 => repr.med = Some(be32(v, 0)),
                    _ => bad(Malformed::BadMultiExitDisc),
                },
                AttributeType::LocalPref => match v.len() {
                    4 => repr.local_pref = Some(be32(v, 0)),
                    _ => bad(Malformed::BadLocalPref),
                },
                AttributeType::AtomicAggregate => match v.len() {
                    0 => repr.atomic_aggregate = true,
                    _ => bad(Malformed::BadAtomicAggregate),
                },
                AttributeType::Aggregator if !matches!(v.len(), 6 | 8) => {
                    bad(Malformed::BadAggregator);
                }
                AttributeType::Communities if v.len() % 4 != 0 => bad(Malformed::BadCommunities),
                AttributeType::OriginatorId => match v {
                    &[a, b, c, d] => repr.originator_id = Some(Ipv4Address::new(a, b, c, d)),
                    _ => bad(Malformed::BadOriginatorId),
                },
                AttributeType::ClusterList => match v.len() {
                    n if n > 0 && n % 4 == 0 => repr.cluster_list = Some(Seq::Wire(v)),
                    _ => bad(Malformed::BadClusterList),
                },
                AttributeType::ExtendedCommunities => match v.len() % 8 {
                    0 => repr.ext_communities = Some(Seq::Wire(v)),
                    _ => bad(Malformed::BadExtCommunities),
                },
                AttributeType::PmsiTunnel => match PmsiTunnel::parse(v) {
                    Some(p) => repr.pmsi_tunnel = Some(p),
                    None => bad(Malformed::BadPmsiTunnel),
                },
                AttributeType::MpReachNlri => {
                    repr.mp_reach = Some(MpReach::parse(v, attribute.value_start)?);
                }
                AttributeType::MpUnreachNlri => {
                    repr.mp_unreach = Some(MpUnreach::parse(v, attribute.value_start)?);
                }
                // Typed elsewhere or kept raw: AGGREGATOR, COMMUNITIES, AS4_PATH, AS4_AGGREGATOR.
                _ => {}
            }
        }
        let announces = !nlri.is_empty()
            || matches!(repr.mp_reach, Some(MpReach::Evpn { routes, .. }) if !routes.is_empty())
            || matches!(repr.mp_reach, Some(MpReach::Other { nlri, .. }) if !nlri.is_empty());
        if announces {
            // RFC 7606 section 3 d; NEXT_HOP only matters to the NLRI field (RFC 4760).
            let missing = repr.origin.is_none()
                || repr.as_path.is_none()
                || (!nlri.is_empty() && repr.next_hop.is_none());
            // A missing attribute that was present but malformed is already counted.
            if missing && verdict.action != Some(Action::TreatAsWithdraw) {
                verdict.note(Error::new(Malformed::MissingWellKnown, range.clone()));
            }
        } else if verdict.action.is_some_and(|a| a > Action::AttributeDiscard) {
            // RFC 7606 section 5.2: no reachable NLRI, so only attribute discard may stand.
            return Err(Error::new(Malformed::MalformedWithoutNlri, range));
        }
        Ok((repr, verdict))
    }

    /// Length of the attributes this writes.
    fn attributes_len(&self) -> usize {
        let a = attr::attribute_len;
        let mut len = 0;
        if let Some(mp) = &self.mp_reach {
            len += attr::extended_attribute_len(mp.value_len());
        }
        if let Some(mp) = &self.mp_unreach {
            len += attr::extended_attribute_len(mp.value_len());
        }
        len += self.origin.map_or(0, |_| a(1));
        if let Some(path) = &self.as_path {
            len += a(path.wire_len(path.four_octet));
        }
        len += self.next_hop.map_or(0, |_| a(4));
        len += self.med.map_or(0, |_| a(4));
        len += self.local_pref.map_or(0, |_| a(4));
        len += if self.atomic_aggregate { a(0) } else { 0 };
        len += self.originator_id.map_or(0, |_| a(4));
        if let Some(list) = &self.cluster_list {
            len += a(list.wire_len());
        }
        if let Some(ecs) = &self.ext_communities {
            len += a(ecs.wire_len());
        }
        if let Some(pmsi) = &self.pmsi_tunnel {
            len += a(pmsi.value_len());
        }
        len
    }

    /// The message length. A caller keeps it within [`super::MAX_MESSAGE_LEN`].
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 4 + self.withdrawn.wire_len() + self.attributes_len() + self.nlri.wire_len()
    }

    /// Writes the message into `buf[..buffer_len]`, MP_REACH_NLRI first (RFC 7606 section
    /// 5.1), then MP_UNREACH_NLRI, then the other attributes by type code. The MP attributes
    /// always have the extended length, as FRR writes them.
    ///
    /// # Panics
    /// If `buf` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        super::emit_header(buf, MessageType::Update, len);
        let withdrawn_len = self.withdrawn.wire_len();
        buf[19..21].copy_from_slice(&(withdrawn_len as u16).to_be_bytes());
        let mut at = 21 + self.withdrawn.write(&mut buf[21..]);
        let attrs_len = self.attributes_len();
        buf[at..at + 2].copy_from_slice(&(attrs_len as u16).to_be_bytes());
        at += 2;
        let mut put = |flags: u8, kind: AttributeType, value_len: usize, f: &dyn Fn(&mut [u8])| {
            let head = attr::emit_header(&mut buf[at..], flags, kind, value_len);
            f(&mut buf[at + head..at + head + value_len]);
            at += head + value_len;
        };
        const WELL_KNOWN: u8 = AttributeFlags::TRANSITIVE;
        const OPTIONAL: u8 = AttributeFlags::OPTIONAL;
        const OPTIONAL_TRANSITIVE: u8 = AttributeFlags::OPTIONAL | AttributeFlags::TRANSITIVE;
        const MP: u8 = AttributeFlags::OPTIONAL | AttributeFlags::EXTENDED_LENGTH;
        if let Some(mp) = &self.mp_reach {
            put(MP, AttributeType::MpReachNlri, mp.value_len(), &|b| {
                mp.write(b);
            });
        }
        if let Some(mp) = &self.mp_unreach {
            put(MP, AttributeType::MpUnreachNlri, mp.value_len(), &|b| {
                mp.write(b);
            });
        }
        if let Some(origin) = self.origin {
            put(WELL_KNOWN, AttributeType::Origin, 1, &|b| {
                b[0] = origin.to_u8();
            });
        }
        if let Some(path) = &self.as_path {
            let n = path.wire_len(path.four_octet);
            put(WELL_KNOWN, AttributeType::AsPath, n, &|b| {
                path.write(path.four_octet, b);
            });
        }
        let be = |v: [u8; 4]| move |b: &mut [u8]| b[..4].copy_from_slice(&v);
        if let Some(nh) = self.next_hop {
            put(WELL_KNOWN, AttributeType::NextHop, 4, &be(nh.octets()));
        }
        if let Some(med) = self.med {
            put(
                OPTIONAL,
                AttributeType::MultiExitDisc,
                4,
                &be(med.to_be_bytes()),
            );
        }
        if let Some(pref) = self.local_pref {
            put(
                WELL_KNOWN,
                AttributeType::LocalPref,
                4,
                &be(pref.to_be_bytes()),
            );
        }
        if self.atomic_aggregate {
            put(WELL_KNOWN, AttributeType::AtomicAggregate, 0, &|_| {});
        }
        if let Some(id) = self.originator_id {
            put(OPTIONAL, AttributeType::OriginatorId, 4, &be(id.octets()));
        }
        if let Some(list) = &self.cluster_list {
            put(
                OPTIONAL,
                AttributeType::ClusterList,
                list.wire_len(),
                &|b| {
                    list.write(b);
                },
            );
        }
        if let Some(ecs) = &self.ext_communities {
            put(
                OPTIONAL_TRANSITIVE,
                AttributeType::ExtendedCommunities,
                ecs.wire_len(),
                &|b| {
                    ecs.write(b);
                },
            );
        }
        if let Some(pmsi) = &self.pmsi_tunnel {
            put(
                OPTIONAL_TRANSITIVE,
                AttributeType::PmsiTunnel,
                pmsi.value_len(),
                &|b| {
                    pmsi.write(b);
                },
            );
        }
        self.nlri.write(&mut buf[at..]);
        len
    }
}
