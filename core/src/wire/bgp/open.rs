//! OPEN (RFC 4271 section 4.2) with capabilities (RFC 5492) and extended optional parameters
//! (RFC 9072).
//!
//! ```text
//! header | Version (1) | My AS (2) | Hold Time (2) | BGP Identifier (4) | Opt Parm Len (1)
//!        | Optional parameters: Type (1) Length (1) Value, ...
//! capability (inside a parameter of type 2): Code (1) Length (1) Value
//! ```
//!
//! Capabilities this speaker understands are typed: multiprotocol (RFC 4760), route refresh
//! (RFC 2918, and the enhanced one of RFC 7313), 4-octet AS (RFC 6793), extended message
//! (RFC 8654) and graceful restart (RFC 4724, noted only). Others are skipped.

use core::ops::Range;

use super::{AS_TRANS, Error, Family, HEADER_LEN, Malformed, MessageType, Result, VERSION};
use super::{be16, be32, message_of};
use crate::wire::Ipv4Address;

/// Byte ranges of the OPEN body, as offsets into the message.
pub mod field {
    pub type Field = core::ops::Range<usize>;
    pub const VERSION: usize = 19;
    pub const MY_AS: Field = 20..22;
    pub const HOLD_TIME: Field = 22..24;
    pub const BGP_ID: Field = 24..28;
    pub const OPT_PARAMS_LEN: usize = 28;
    pub const OPT_PARAMS: usize = 29;
}

/// Fixed fields of the OPEN body with their byte ranges, for a dissector.
pub const FIELDS: &[(&str, Range<usize>)] = &[
    ("version", field::VERSION..field::VERSION + 1),
    ("my_as", field::MY_AS),
    ("hold_time", field::HOLD_TIME),
    ("bgp_identifier", field::BGP_ID),
    (
        "opt_params_len",
        field::OPT_PARAMS_LEN..field::OPT_PARAMS_LEN + 1,
    ),
];

/// Optional parameter type of capabilities.
pub const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: this type in the first parameter, after a length of 255, marks the extended form.
const PARAM_EXTENDED: u8 = 255;

/// Capability codes.
pub mod code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
}

/// One capability of an OPEN.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Capability<'a> {
    Multiprotocol(Family),
    RouteRefresh,
    EnhancedRouteRefresh,
    FourOctetAs(u32),
    ExtendedMessage,
    /// Graceful restart: noted, not acted on (this speaker is not a helper yet).
    GracefulRestart(&'a [u8]),
    /// A capability this speaker does not use: skipped (RFC 5492 section 4).
    Unknown {
        code: u8,
        value: &'a [u8],
    },
}

impl<'a> Capability<'a> {
    /// Reads a capability's value; `None` when a known capability has the wrong length.
    fn parse(code: u8, value: &'a [u8]) -> Option<Capability<'a>> {
        Some(match code {
            code::MULTIPROTOCOL if value.len() == 4 => Capability::Multiprotocol(Family {
                afi: be16(value, 0),
                safi: value[3],
            }),
            code::ROUTE_REFRESH if value.is_empty() => Capability::RouteRefresh,
            code::ENHANCED_ROUTE_REFRESH if value.is_empty() => Capability::EnhancedRouteRefresh,
            code::FOUR_OCTET_AS if value.len() == 4 => Capability::FourOctetAs(be32(value, 0)),
            code::EXTENDED_MESSAGE if value.is_empty() => Capability::ExtendedMessage,
            code::GRACEFUL_RESTART if value.len() >= 2 => Capability::GracefulRestart(value),
            code::MULTIPROTOCOL
            | code::ROUTE_REFRESH
            | code::ENHANCED_ROUTE_REFRESH
            | code::FOUR_OCTET_AS
            | code::EXTENDED_MESSAGE
            | code::GRACEFUL_RESTART => return None,
            code => Capability::Unknown { code, value },
        })
    }
}

packet! {
    /// A read-only view of an OPEN message.
    pub struct OpenPacket;
    /// Checks the header, the type, and that every optional parameter and capability lies
    /// within the message with a length its code allows.
    fn new_checked;
}

impl<T: AsRef<[u8]>> OpenPacket<T> {
    pub fn check_len(&self) -> Result<()> {
        let message = message_of(self.buffer.as_ref(), MessageType::Open)?;
        let (params, _) = param_area(message)?;
        for param in Params::new(message, params.clone(), self.extended()) {
            let (kind, value) = param?;
            if kind != PARAM_CAPABILITIES {
                return Err(Error::new(Malformed::UnsupportedOptionalParameter, value));
            }
            let mut at = value.start;
            while at < value.end {
                if at + 2 > value.end {
                    return Err(Error::new(Malformed::MalformedOpen, at..value.end));
                }
                let (code, len) = (message[at], message[at + 1]);
                let end = at + 2 + usize::from(len);
                if end > value.end || Capability::parse(code, &message[at + 2..end]).is_none() {
                    return Err(Error::new(Malformed::MalformedOpen, at..value.end.min(end)));
                }
                at = end;
            }
        }
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..usize::from(be16(b, 16))]
    }

    fn extended(&self) -> bool {
        let b = self.bytes();
        b[field::OPT_PARAMS_LEN] == 255 && b.get(field::OPT_PARAMS) == Some(&PARAM_EXTENDED)
    }

    pub fn version(&self) -> u8 {
        self.bytes()[field::VERSION]
    }

    pub fn my_as(&self) -> u16 {
        be16(self.bytes(), field::MY_AS.start)
    }

    pub fn hold_time(&self) -> u16 {
        be16(self.bytes(), field::HOLD_TIME.start)
    }

    pub fn bgp_id(&self) -> Ipv4Address {
        let b = &self.bytes()[field::BGP_ID];
        Ipv4Address::new(b[0], b[1], b[2], b[3])
    }

    /// Every capability with its byte range (code, length and value) in the message.
    pub fn capabilities(&self) -> impl Iterator<Item = (Range<usize>, Capability<'_>)> + '_ {
        let message = self.bytes();
        let params = param_area(message).map(|(p, _)| p).unwrap_or(0..0);
        Params::new(message, params, self.extended())
            .filter_map(core::result::Result::ok)
            .flat_map(move |(_, value)| {
                let mut at = value.start;
                core::iter::from_fn(move || {
                    let len = usize::from(*message.get(at + 1)?);
                    let end = (at + 2 + len).min(value.end);
                    let cap = Capability::parse(message[at], message.get(at + 2..end)?)?;
                    let range = at..end;
                    at = end;
                    (range.end <= value.end).then_some((range, cap))
                })
            })
    }
}

/// The range of the optional parameters, and whether they use RFC 9072's extended form.
fn param_area(message: &[u8]) -> Result<(Range<usize>, bool)> {
    let len = usize::from(message[field::OPT_PARAMS_LEN]);
    if len == 255 && message.get(field::OPT_PARAMS) == Some(&PARAM_EXTENDED) {
        let Some(ext) = message.get(30..32) else {
            return Err(Error::new(
                Malformed::MalformedOpen,
                field::OPT_PARAMS..message.len(),
            ));
        };
        let end = 32 + usize::from(u16::from_be_bytes([ext[0], ext[1]]));
        if end != message.len() {
            return Err(Error::new(Malformed::MalformedOpen, 30..32));
        }
        return Ok((32..end, true));
    }
    if field::OPT_PARAMS + len != message.len() {
        return Err(Error::new(
            Malformed::MalformedOpen,
            field::OPT_PARAMS_LEN..field::OPT_PARAMS,
        ));
    }
    Ok((field::OPT_PARAMS..message.len(), false))
}

/// Iterator over optional parameters: (type, range of the value).
struct Params<'a> {
    message: &'a [u8],
    at: usize,
    end: usize,
    extended: bool,
}

impl<'a> Params<'a> {
    fn new(message: &'a [u8], area: Range<usize>, extended: bool) -> Params<'a> {
        Params {
            message,
            at: area.start,
            end: area.end,
            extended,
        }
    }
}

impl Iterator for Params<'_> {
    type Item = Result<(u8, Range<usize>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let head = if self.extended { 3 } else { 2 };
        let fail = |at, end| Some(Err(Error::new(Malformed::MalformedOpen, at..end)));
        let Some(h) = self
            .message
            .get(self.at..self.at + head)
            .filter(|_| self.at + head <= self.end)
        else {
            let at = self.at;
            self.at = self.end;
            return fail(at, self.end);
        };
        let len = if self.extended {
            usize::from(u16::from_be_bytes([h[1], h[2]]))
        } else {
            usize::from(h[1])
        };
        let start = self.at + head;
        let end = start + len;
        if end > self.end {
            let at = self.at;
            self.at = self.end;
            return fail(at, self.end);
        }
        self.at = end;
        Some(Ok((h[0], start..end)))
    }
}

/// The families of the multiprotocol capabilities this speaker knows, as a set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct FamilySet(u8);

impl FamilySet {
    /// The families a [`FamilySet`] can hold; others are skipped like unknown capabilities.
    pub const KNOWN: [Family; 3] = [
        Family::IPV4_UNICAST,
        Family::IPV6_UNICAST,
        Family::L2VPN_EVPN,
    ];

    pub fn insert(&mut self, family: Family) -> bool {
        match Self::KNOWN.iter().position(|f| *f == family) {
            Some(i) => {
                self.0 |= 1 << i;
                true
            }
            None => false,
        }
    }

    pub fn contains(&self, family: Family) -> bool {
        Self::KNOWN
            .iter()
            .position(|f| *f == family)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Family> + '_ {
        Self::KNOWN
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, f)| f)
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// What an OPEN offers, from its capabilities.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Capabilities {
    pub families: FamilySet,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    /// The speaker's AS from the 4-octet AS capability.
    pub four_octet_as: Option<u32>,
    pub extended_message: bool,
    pub graceful_restart: bool,
}

impl Capabilities {
    /// What this project's speaker offers: L2VPN/EVPN, route refresh, 4-octet AS `asn`.
    pub fn evpn(asn: u32) -> Capabilities {
        let mut families = FamilySet::default();
        families.insert(Family::L2VPN_EVPN);
        Capabilities {
            families,
            route_refresh: true,
            four_octet_as: Some(asn),
            ..Capabilities::default()
        }
    }

    fn wire_len(&self) -> usize {
        let flags = [
            self.route_refresh,
            self.enhanced_route_refresh,
            self.extended_message,
        ];
        self.families.iter().count() * 6
            + flags.iter().filter(|f| **f).count() * 2
            + if self.graceful_restart { 4 } else { 0 }
            + if self.four_octet_as.is_some() { 6 } else { 0 }
    }
}

/// A parsed OPEN.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OpenRepr {
    /// The 2-octet My AS field (AS_TRANS when the AS needs 4 octets).
    pub my_as: u16,
    /// Seconds; 0 (no keepalives) or at least 3.
    pub hold_time: u16,
    pub bgp_id: Ipv4Address,
    pub capabilities: Capabilities,
}

impl OpenRepr {
    /// An OPEN for AS `asn` offering `capabilities` (My AS becomes AS_TRANS above 65535).
    pub fn new(
        asn: u32,
        hold_time: u16,
        bgp_id: Ipv4Address,
        capabilities: Capabilities,
    ) -> OpenRepr {
        OpenRepr {
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            capabilities,
        }
    }

    /// The speaker's AS: the 4-octet capability's if present, else My AS.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .four_octet_as
            .unwrap_or(u32::from(self.my_as))
    }

    /// Parses and checks the fields RFC 4271 section 6.2 lets a receiver check alone: version,
    /// hold time, BGP identifier. (The peer AS and the capabilities a session needs are the
    /// speaker's checks.) A capability repeated keeps its last value.
    pub fn parse<T: AsRef<[u8]>>(packet: &OpenPacket<T>) -> Result<OpenRepr> {
        packet.check_len()?;
        if packet.version() != VERSION {
            return Err(Error::new(
                Malformed::UnsupportedVersion,
                field::VERSION..field::VERSION + 1,
            ));
        }
        let hold_time = packet.hold_time();
        if matches!(hold_time, 1 | 2) {
            return Err(Error::new(
                Malformed::UnacceptableHoldTime,
                field::HOLD_TIME,
            ));
        }
        let bgp_id = packet.bgp_id();
        if bgp_id.is_unspecified() {
            return Err(Error::new(Malformed::BadBgpIdentifier, field::BGP_ID));
        }
        let mut capabilities = Capabilities::default();
        for (_, cap) in packet.capabilities() {
            match cap {
                Capability::Multiprotocol(family) => {
                    capabilities.families.insert(family);
                }
                Capability::RouteRefresh => capabilities.route_refresh = true,
                Capability::EnhancedRouteRefresh => capabilities.enhanced_route_refresh = true,
                Capability::FourOctetAs(asn) => capabilities.four_octet_as = Some(asn),
                Capability::ExtendedMessage => capabilities.extended_message = true,
                Capability::GracefulRestart(_) => capabilities.graceful_restart = true,
                Capability::Unknown { .. } => {}
            }
        }
        Ok(OpenRepr {
            my_as: packet.my_as(),
            hold_time,
            bgp_id,
            capabilities,
        })
    }

    /// The message length.
    pub fn buffer_len(&self) -> usize {
        let caps = self.capabilities.wire_len();
        HEADER_LEN + 10 + if caps > 0 { 2 + caps } else { 0 }
    }

    /// Writes the message (all capabilities in one optional parameter) into
    /// `buf[..buffer_len]`. Graceful restart, when set, is written as bare awareness (restart
    /// time 0, no families), which is all a parsed OPEN keeps of it.
    ///
    /// # Panics
    /// If `buf` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        super::emit_header(buf, MessageType::Open, len);
        buf[field::VERSION] = VERSION;
        buf[field::MY_AS].copy_from_slice(&self.my_as.to_be_bytes());
        buf[field::HOLD_TIME].copy_from_slice(&self.hold_time.to_be_bytes());
        buf[field::BGP_ID].copy_from_slice(&self.bgp_id.octets());
        let caps = &self.capabilities;
        let caps_len = caps.wire_len();
        if caps_len == 0 {
            buf[field::OPT_PARAMS_LEN] = 0;
            return len;
        }
        // At most 3 families, 3 flags and AS4: 34 bytes, well within one parameter.
        buf[field::OPT_PARAMS_LEN] = (2 + caps_len) as u8;
        buf[29] = PARAM_CAPABILITIES;
        buf[30] = caps_len as u8;
        let mut at = 31;
        let mut put = |code: u8, value: &[u8]| {
            buf[at] = code;
            buf[at + 1] = value.len() as u8;
            buf[at + 2..at + 2 + value.len()].copy_from_slice(value);
            at += 2 + value.len();
        };
        for family in caps.families.iter() {
            let afi = family.afi.to_be_bytes();
            put(code::MULTIPROTOCOL, &[afi[0], afi[1], 0, family.safi]);
        }
        if caps.route_refresh {
            put(code::ROUTE_REFRESH, &[]);
        }
        if caps.enhanced_route_refresh {
            put(code::ENHANCED_ROUTE_REFRESH, &[]);
        }
        if caps.extended_message {
            put(code::EXTENDED_MESSAGE, &[]);
        }
        if caps.graceful_restart {
            put(code::GRACEFUL_RESTART, &[0, 0]);
        }
        if let Some(asn) = caps.four_octet_as {
            put(code::FOUR_OCTET_AS, &asn.to_be_bytes());
        }
        len
    }
}
