//! BGP-4 messages (RFC 4271) as an EVPN speaker needs them: OPEN with capabilities, UPDATE with
//! the path attributes and the L2VPN/EVPN NLRI (RFC 4760, RFC 7432, RFC 8365), KEEPALIVE,
//! NOTIFICATION and ROUTE-REFRESH, with the malformed-input handling of RFC 7606.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                         Marker (16 x 0xff)                    +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |  body ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The shape is smoltcp's: a zero-copy `Packet` view per message kind (over the whole message,
//! header included, so every byte range a view reports is an offset into the message, which is
//! what a dissector wants), checked once by `new_checked`, and a `Repr` with `parse`,
//! `buffer_len` and `emit` into the caller's buffer. Parsing never allocates: lists (capabilities,
//! attributes, routes, extended communities) are iterators over the validated bytes, or
//! [`Seq`]s that are either such bytes or a caller's slice of typed items.
//!
//! Errors carry a [`Malformed`] reason and the byte range at fault. Each reason maps to the
//! RFC 7606 action ([`Action`]): ignore the route, discard the attribute, treat the UPDATE as a
//! withdrawal, or reset the session with a NOTIFICATION whose code and subcode the reason
//! names.

use core::fmt;
use core::ops::Range;

pub mod attr;
pub mod evpn;
pub mod ext_community;
pub mod notification;
pub mod open;
pub mod update;

pub use attr::{AsPath, AttributeFlags, AttributeType, MpReach, MpUnreach, NextHop, Origin};
pub use attr::{PmsiTunnel, RawAttribute};
pub use evpn::{EthernetSegment, EvpnRoute, InclusiveMulticastRoute, MacIpRoute};
pub use evpn::{RouteDistinguisher, RouteKey};
pub use ext_community::{ExtCommunity, RouteTarget, TunnelType};
pub use notification::{ErrorCode, KeepaliveRepr, NotificationRepr, RouteRefreshRepr};
pub use open::{Capabilities, Capability, OpenRepr};
pub use update::{Ipv4Prefix, UpdatePacket, UpdateRepr, Verdict};

/// The well-known TCP port of BGP.
pub const PORT: u16 = 179;
/// Length of the message header.
pub const HEADER_LEN: usize = 19;
/// Largest message without the extended-message capability (RFC 4271 section 4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The only version spoken.
pub const VERSION: u8 = 4;
/// The AS number a 2-octet field carries for a 4-octet AS (RFC 6793).
pub const AS_TRANS: u16 = 23456;

/// Byte ranges of the header, for accessors and dissectors.
pub mod field {
    pub type Field = core::ops::Range<usize>;
    pub const MARKER: Field = 0..16;
    pub const LENGTH: Field = 16..18;
    pub const TYPE: usize = 18;
    pub const BODY: usize = 19;
}

/// The header's fields with their byte ranges, in order (the body's fields depend on the type).
pub const FIELDS: &[(&str, Range<usize>)] = &[
    ("marker", field::MARKER),
    ("length", field::LENGTH),
    ("type", field::TYPE..field::TYPE + 1),
];

/// An address family and subsequent address family (RFC 4760).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Family {
    pub afi: u16,
    pub safi: u8,
}

impl Family {
    pub const IPV4_UNICAST: Family = Family { afi: 1, safi: 1 };
    pub const IPV6_UNICAST: Family = Family { afi: 2, safi: 1 };
    /// L2VPN (AFI 25) / EVPN (SAFI 70), RFC 7432.
    pub const L2VPN_EVPN: Family = Family { afi: 25, safi: 70 };

    /// AFI (2 octets) then SAFI (1) at the start of `bytes` (3 octets at least), as
    /// MP_REACH_NLRI and MP_UNREACH_NLRI carry them.
    pub(crate) fn read(bytes: &[u8]) -> Family {
        Family {
            afi: be16(bytes, 0),
            safi: bytes[2],
        }
    }

    /// Writes AFI and SAFI into `buf[..3]`, as [`Family::read`] reads them.
    pub(crate) fn write(self, buf: &mut [u8]) {
        buf[..2].copy_from_slice(&self.afi.to_be_bytes());
        buf[2] = self.safi;
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Family::IPV4_UNICAST => f.write_str("ipv4 unicast"),
            Family::IPV6_UNICAST => f.write_str("ipv6 unicast"),
            Family::L2VPN_EVPN => f.write_str("l2vpn evpn"),
            Family { afi, safi } => write!(f, "afi {afi} safi {safi}"),
        }
    }
}

/// The message type octet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MessageType {
    Open,
    Update,
    Notification,
    Keepalive,
    /// RFC 2918.
    RouteRefresh,
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(value: u8) -> Self {
        match value {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(value: MessageType) -> u8 {
        match value {
            MessageType::Open => 1,
            MessageType::Update => 2,
            MessageType::Notification => 3,
            MessageType::Keepalive => 4,
            MessageType::RouteRefresh => 5,
            MessageType::Unknown(other) => other,
        }
    }
}

impl MessageType {
    /// Shortest valid message of this type (RFC 4271 section 4, RFC 2918).
    pub const fn min_len(self) -> usize {
        match self {
            MessageType::Open => 29,
            MessageType::Update => 23,
            MessageType::Notification => 21,
            MessageType::Keepalive => HEADER_LEN,
            MessageType::RouteRefresh => 23,
            MessageType::Unknown(_) => HEADER_LEN,
        }
    }

    /// The name Wireshark and vtysh use.
    pub const fn name(self) -> &'static str {
        match self {
            MessageType::Open => "OPEN",
            MessageType::Update => "UPDATE",
            MessageType::Notification => "NOTIFICATION",
            MessageType::Keepalive => "KEEPALIVE",
            MessageType::RouteRefresh => "ROUTE-REFRESH",
            MessageType::Unknown(_) => "unknown",
        }
    }
}

/// What RFC 7606 (and RFC 4271 where 7606 is silent) says to do about an error. Ordered from
/// the mildest to the strongest: when an UPDATE has several errors, the strongest wins (RFC
/// 7606 section 3 j).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Action {
    /// Drop the one route and go on (RFC 7606 section 5.4: an EVPN route type not understood,
    /// or a route this speaker does not carry).
    IgnoreRoute,
    /// Drop the attribute and process the UPDATE as if it were absent (section 2).
    AttributeDiscard,
    /// Withdraw every route the UPDATE carries, announced or withdrawn (section 2).
    TreatAsWithdraw,
    /// Send a NOTIFICATION with this code and subcode and close the session.
    SessionReset(ErrorCode, u8),
}

/// UPDATE message error subcodes (RFC 4271 section 6.3).
pub mod update_subcode {
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN: u8 = 2;
    pub const MISSING_WELL_KNOWN: u8 = 3;
    pub const ATTRIBUTE_FLAGS: u8 = 4;
    pub const ATTRIBUTE_LENGTH: u8 = 5;
    pub const INVALID_ORIGIN: u8 = 6;
    pub const INVALID_NEXT_HOP: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// What to put in a NOTIFICATION's data field for an error (RFC 4271 section 6).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NotifyData {
    /// Nothing.
    None,
    /// The bytes at fault (the length field, the type octet, the attribute, the capability).
    Span,
    /// The largest version supported, as two octets (RFC 4271 section 6.2).
    Version,
}

macro_rules! malformed {
    ($($(#[$doc:meta])* $name:ident = $label:literal, $action:expr, $data:ident;)*) => {
        /// Why a message, attribute or route was refused; each is counted and has its RFC 7606
        /// (or RFC 4271 / 5492 / 7432) action.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[repr(u8)]
        pub enum Malformed { $($(#[$doc])* $name,)* }

        impl Malformed {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Malformed] = &[$(Malformed::$name,)*];
            /// How many reasons there are.
            pub const COUNT: usize = Malformed::ALL.len();

            /// A short snake_case label for counters and logs.
            pub const fn as_str(self) -> &'static str {
                match self { $(Malformed::$name => $label,)* }
            }

            /// What to do about it.
            pub const fn action(self) -> Action {
                use Action::*;
                use ErrorCode::*;
                use update_subcode::*;
                match self { $(Malformed::$name => $action,)* }
            }

            const fn notify_data(self) -> NotifyData {
                match self { $(Malformed::$name => NotifyData::$data,)* }
            }
        }
    };
}

malformed! {
    // Message header (RFC 4271 section 6.1): always a session reset.
    /// The marker is not sixteen 0xff octets.
    BadMarker = "bad_marker", SessionReset(MessageHeader, 1), None;
    /// The length field is under 19, over 4096, or under the minimum of the message type.
    BadMessageLength = "bad_message_length", SessionReset(MessageHeader, 2), Span;
    /// A type other than OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH.
    BadMessageType = "bad_message_type", SessionReset(MessageHeader, 3), Span;
    // OPEN (RFC 4271 section 6.2, RFC 5492).
    /// Version other than 4.
    UnsupportedVersion = "unsupported_version", SessionReset(OpenMessage, 1), Version;
    /// The peer's AS is not the one configured (the speaker's check).
    BadPeerAs = "bad_peer_as", SessionReset(OpenMessage, 2), Span;
    /// BGP identifier zero, or equal to ours on an iBGP session (the speaker's check).
    BadBgpIdentifier = "bad_bgp_identifier", SessionReset(OpenMessage, 3), Span;
    /// An optional parameter other than capabilities.
    UnsupportedOptionalParameter = "unsupported_optional_parameter", SessionReset(OpenMessage, 4), Span;
    /// Hold time of 1 or 2 seconds.
    UnacceptableHoldTime = "unacceptable_hold_time", SessionReset(OpenMessage, 6), Span;
    /// The peer does not offer L2VPN/EVPN (the speaker's check; data = the capability wanted).
    UnsupportedCapability = "unsupported_capability", SessionReset(OpenMessage, 7), Span;
    /// Optional parameters or capabilities whose lengths overrun their container.
    MalformedOpen = "malformed_open", SessionReset(OpenMessage, 0), None;
    // UPDATE framing (RFC 4271 section 6.3, RFC 7606 sections 4 and 5.3).
    /// Withdrawn Routes Length and Total Path Attribute Length exceed the message.
    BadUpdateLengths = "bad_update_lengths", SessionReset(UpdateMessage, MALFORMED_ATTRIBUTE_LIST), None;
    /// A withdrawn route or NLRI prefix that is longer than 32 bits or overruns the field.
    InvalidNetworkField = "invalid_network_field", SessionReset(UpdateMessage, INVALID_NETWORK_FIELD), None;
    /// An attribute overruns the path attributes (RFC 7606 section 4).
    AttributeOverrun = "attribute_overrun", TreatAsWithdraw, None;
    /// MP_REACH_NLRI or MP_UNREACH_NLRI twice (RFC 7606 section 3 g).
    DuplicateMpAttribute = "duplicate_mp_attribute", SessionReset(UpdateMessage, MALFORMED_ATTRIBUTE_LIST), None;
    /// Any other attribute twice: later copies are dropped (RFC 7606 section 3 g).
    DuplicateAttribute = "duplicate_attribute", AttributeDiscard, None;
    /// Optional or transitive bit wrong for a known attribute (RFC 7606 section 3 c).
    BadAttributeFlags = "bad_attribute_flags", TreatAsWithdraw, None;
    /// A well-known attribute this speaker does not know (RFC 4271 section 6.3).
    UnrecognizedWellKnown = "unrecognized_well_known", SessionReset(UpdateMessage, UNRECOGNIZED_WELL_KNOWN), Span;
    /// ORIGIN or AS_PATH missing from an UPDATE that announces routes (RFC 7606 section 3 d).
    MissingWellKnown = "missing_well_known", TreatAsWithdraw, None;
    /// ORIGIN of the wrong length or value (RFC 7606 section 7.1).
    BadOrigin = "bad_origin", TreatAsWithdraw, None;
    /// AS_PATH segments that overrun, are empty or of an unknown type (RFC 7606 section 7.2).
    BadAsPath = "bad_as_path", TreatAsWithdraw, None;
    /// NEXT_HOP not 4 octets (RFC 7606 section 7.3).
    BadNextHop = "bad_next_hop", TreatAsWithdraw, None;
    /// MULTI_EXIT_DISC not 4 octets (RFC 7606 section 7.4).
    BadMultiExitDisc = "bad_med", TreatAsWithdraw, None;
    /// LOCAL_PREF not 4 octets (RFC 7606 section 7.5).
    BadLocalPref = "bad_local_pref", TreatAsWithdraw, None;
    /// ATOMIC_AGGREGATE not empty (RFC 7606 section 7.6).
    BadAtomicAggregate = "bad_atomic_aggregate", AttributeDiscard, None;
    /// AGGREGATOR neither 6 nor 8 octets (RFC 7606 section 7.7).
    BadAggregator = "bad_aggregator", AttributeDiscard, None;
    /// COMMUNITIES not a multiple of 4 octets (RFC 7606 section 7.8).
    BadCommunities = "bad_communities", TreatAsWithdraw, None;
    /// ORIGINATOR_ID not 4 octets (RFC 7606 section 7.9).
    BadOriginatorId = "bad_originator_id", TreatAsWithdraw, None;
    /// CLUSTER_LIST not a non-zero multiple of 4 octets (RFC 7606 section 7.10).
    BadClusterList = "bad_cluster_list", TreatAsWithdraw, None;
    /// MP_REACH_NLRI too short, or a next hop of a length the family does not have: its routes
    /// cannot be located (RFC 7606 section 7.11).
    BadMpReach = "bad_mp_reach", SessionReset(UpdateMessage, OPTIONAL_ATTRIBUTE), Span;
    /// MP_UNREACH_NLRI too short (RFC 7606 section 7.11).
    BadMpUnreach = "bad_mp_unreach", SessionReset(UpdateMessage, OPTIONAL_ATTRIBUTE), Span;
    /// An EVPN route that overruns, or whose MAC, IP or originator length is invalid: the
    /// routes after it cannot be located, so none can be withdrawn (RFC 7606 section 5.3).
    BadEvpnNlri = "bad_evpn_nlri", SessionReset(UpdateMessage, OPTIONAL_ATTRIBUTE), Span;
    /// EXTENDED_COMMUNITIES not a multiple of 8 octets (RFC 7606 section 7.14).
    BadExtCommunities = "bad_ext_communities", TreatAsWithdraw, None;
    /// PMSI_TUNNEL shorter than 5 octets, or ingress replication not 9 (IPv4) or 21 (IPv6).
    /// RFC 6514 predates RFC 7606 and names no action; the attribute decides whether a type-3
    /// route floods at all, so it gets treat-as-withdraw (FRR resets iBGP sessions instead).
    BadPmsiTunnel = "bad_pmsi_tunnel", TreatAsWithdraw, None;
    /// An attribute error in an UPDATE that announces nothing: RFC 7606 section 5.2 requires a
    /// reset when the action would be anything stronger than discarding an attribute.
    MalformedWithoutNlri = "malformed_without_nlri", SessionReset(UpdateMessage, MALFORMED_ATTRIBUTE_LIST), None;
    // Routes (RFC 7606 section 5.4, RFC 4760 section 7).
    /// An EVPN route type other than 2 and 3.
    UnknownRouteType = "unknown_route_type", IgnoreRoute, None;
    /// Routes of an address family not negotiated (IPv4 unicast NLRI, other MP families).
    UnnegotiatedFamily = "unnegotiated_family", IgnoreRoute, None;
    // NOTIFICATION and ROUTE-REFRESH.
    /// ROUTE-REFRESH whose length is not 23 (RFC 7313 section 5).
    BadRouteRefresh = "bad_route_refresh", SessionReset(RouteRefreshMessage, 1), Span;
}

/// Where an error is: a byte range of the message (empty when the error is the message as a
/// whole). Compact (`Copy`) because errors are values passed around and counted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Span {
    pub start: u16,
    pub end: u16,
}

impl Span {
    /// The span of `range`, clamped to the largest message.
    pub fn new(range: Range<usize>) -> Span {
        let clamp = |v: usize| u16::try_from(v.min(usize::from(u16::MAX))).unwrap_or(u16::MAX);
        Span {
            start: clamp(range.start),
            end: clamp(range.end.max(range.start)),
        }
    }

    pub fn range(self) -> Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }
}

/// A message, attribute or route that could not be used, and where.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Error {
    pub reason: Malformed,
    /// The bytes at fault, as offsets into the message.
    pub at: Span,
}

impl Error {
    pub fn new(reason: Malformed, at: Range<usize>) -> Error {
        Error {
            reason,
            at: Span::new(at),
        }
    }

    /// The NOTIFICATION to send for this error, if it resets the session. `message` is the
    /// message the error was found in: its bytes at fault become the data field (RFC 4271
    /// section 6).
    pub fn notification<'a>(&self, message: &'a [u8]) -> Option<NotificationRepr<'a>> {
        static SUPPORTED_VERSION: [u8; 2] = [0, VERSION];
        let Action::SessionReset(code, subcode) = self.reason.action() else {
            return None;
        };
        let data = match self.reason.notify_data() {
            NotifyData::None => &[][..],
            NotifyData::Version => &SUPPORTED_VERSION[..],
            NotifyData::Span => message.get(self.at.range()).unwrap_or(&[]),
        };
        Some(NotificationRepr {
            code,
            subcode,
            data,
        })
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at bytes {:?}", self.reason, self.at.range())
    }
}

impl core::error::Error for Error {}

/// Result of parsing a message or a part of one.
pub type Result<T> = core::result::Result<T, Error>;

reason_counters! {
    /// One counter per [`Malformed`] reason.
    pub struct MalformedCounters(Malformed);
}

impl MalformedCounters {
    pub fn add(&mut self, reason: Malformed) {
        let slot = &mut self.0[reason as usize];
        *slot = slot.saturating_add(1);
    }
}

packet! {
    /// A read-only view of a message header (and the body its length covers).
    pub struct Packet;
    /// Wrap a buffer that starts with a message: the marker is all ones, the length is within
    /// 19..=4096 and at least the type's minimum, the type is known, and the buffer holds the
    /// whole message. Bytes after it are ignored (they belong to the next message).
    fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// After this succeeds no accessor can panic.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let len = check_header(b)?;
        if b.len() < len {
            return Err(Error::new(Malformed::BadMessageLength, field::LENGTH));
        }
        Ok(())
    }

    pub fn marker(&self) -> &[u8] {
        &self.buffer.as_ref()[field::MARKER]
    }

    /// The length field: the whole message, header included.
    pub fn length(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn message_type(&self) -> MessageType {
        MessageType::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The message, header included: exactly `length` bytes.
    pub fn message(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.length())]
    }

    /// The bytes after the header, up to `length`.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[field::BODY..usize::from(self.length())]
    }
}

/// The whole message at the start of `bytes`, once [`Packet::new_checked`] accepts it and its
/// type is `kind` (else [`Malformed::BadMessageType`]).
pub(crate) fn message_of(bytes: &[u8], kind: MessageType) -> Result<&[u8]> {
    let header = Packet::new_checked(bytes)?;
    if header.message_type() != kind {
        return Err(Error::new(Malformed::BadMessageType, 18..19));
    }
    Ok(&bytes[..usize::from(header.length())])
}

/// Checks the header at the start of `bytes` (which may hold only the header) and returns the
/// message length it announces.
pub fn check_header(bytes: &[u8]) -> Result<usize> {
    if bytes.len() < HEADER_LEN {
        // Not malformed yet: the caller has not got the whole header.
        return Err(Error::new(Malformed::BadMessageLength, 0..bytes.len()));
    }
    if bytes[field::MARKER].iter().any(|b| *b != 0xff) {
        return Err(Error::new(Malformed::BadMarker, field::MARKER));
    }
    let len = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    let kind = MessageType::from(bytes[field::TYPE]);
    if let MessageType::Unknown(_) = kind {
        return Err(Error::new(Malformed::BadMessageType, 18..19));
    }
    let fixed = matches!(kind, MessageType::Keepalive | MessageType::RouteRefresh);
    if len < kind.min_len() || len > MAX_MESSAGE_LEN || (fixed && len != kind.min_len()) {
        let reason = if kind == MessageType::RouteRefresh && len >= HEADER_LEN {
            Malformed::BadRouteRefresh
        } else {
            Malformed::BadMessageLength
        };
        // RFC 7313 section 5: the data of a ROUTE-REFRESH error is the whole message.
        let at = if reason == Malformed::BadRouteRefresh {
            0..len.min(bytes.len())
        } else {
            field::LENGTH
        };
        return Err(Error::new(reason, at));
    }
    Ok(len)
}

/// How many bytes the message at the start of a TCP byte stream takes: `Ok(None)` until the
/// header has arrived, then its length (which may exceed `stream.len()`: wait for more). The
/// header is checked as soon as it is whole, so garbage is refused after 19 bytes and a peer
/// can make a receiver buffer at most [`MAX_MESSAGE_LEN`] bytes.
pub fn frame_len(stream: &[u8]) -> Result<Option<usize>> {
    if stream.len() < HEADER_LEN {
        return Ok(None);
    }
    check_header(stream).map(Some)
}

/// Writes a header for a message of `len` bytes (header included) into `buf[..19]`.
///
/// # Panics
/// If `buf` is shorter than [`HEADER_LEN`].
pub fn emit_header(buf: &mut [u8], kind: MessageType, len: usize) {
    buf[field::MARKER].fill(0xff);
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    buf[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    buf[field::TYPE] = kind.into();
}

/// A list inside a message: either the validated wire bytes of a parsed message, or a slice of
/// typed items to emit. Both iterate as items; two `Seq`s are equal when their items are.
#[derive(Clone, Copy, Debug)]
pub enum Seq<'a, T: WireItem<'a>> {
    Wire(&'a [u8]),
    Items(&'a [T]),
}

/// An item of a [`Seq`]: read from validated bytes, written back.
pub trait WireItem<'a>: Sized + Clone + PartialEq {
    /// Reads the next item, advancing `bytes`; `None` at the end. Only called on bytes that
    /// were validated when the message was parsed, so it stops rather than fails.
    fn read(bytes: &mut &'a [u8]) -> Option<Self>;
    fn wire_len(&self) -> usize;
    /// Writes the item into `buf[..wire_len]`.
    fn write(&self, buf: &mut [u8]);
}

impl<'a, T: WireItem<'a>> Seq<'a, T> {
    pub const EMPTY: Seq<'a, T> = Seq::Items(&[]);

    pub fn iter(&self) -> SeqIter<'a, T> {
        match *self {
            Seq::Wire(bytes) => SeqIter::Wire(bytes),
            Seq::Items(items) => SeqIter::Items(items.iter()),
        }
    }

    /// Bytes the items take on the wire.
    pub fn wire_len(&self) -> usize {
        match *self {
            Seq::Wire(bytes) => bytes.len(),
            Seq::Items(items) => items.iter().map(WireItem::wire_len).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match *self {
            Seq::Wire(bytes) => bytes.is_empty(),
            Seq::Items(items) => items.is_empty(),
        }
    }

    /// Writes every item into `buf`, returning the bytes written.
    pub fn write(&self, buf: &mut [u8]) -> usize {
        match *self {
            Seq::Wire(bytes) => {
                buf[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }
            Seq::Items(items) => {
                let mut at = 0;
                for item in items {
                    let len = item.wire_len();
                    item.write(&mut buf[at..at + len]);
                    at += len;
                }
                at
            }
        }
    }
}

impl<'a, T: WireItem<'a>> PartialEq for Seq<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<'a, T: WireItem<'a> + Eq> Eq for Seq<'a, T> {}

/// Iterator over a [`Seq`].
#[derive(Clone, Debug)]
pub enum SeqIter<'a, T> {
    Wire(&'a [u8]),
    Items(core::slice::Iter<'a, T>),
}

impl<'a, T: WireItem<'a>> Iterator for SeqIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self {
            SeqIter::Wire(bytes) => T::read(bytes),
            SeqIter::Items(items) => items.next().cloned(),
        }
    }
}

/// Any message, parsed: what a receiver dispatches on. UPDATE stays a checked view, because its
/// attributes are read with the session's context (4-octet AS) by [`UpdateRepr::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    Open(OpenRepr),
    Update(UpdatePacket<&'a [u8]>),
    Notification(NotificationRepr<'a>),
    Keepalive,
    RouteRefresh(RouteRefreshRepr),
}

impl<'a> Message<'a> {
    /// Parses the message at the start of `bytes` (exactly one message, or one message and the
    /// start of the next: only `length` bytes are read).
    pub fn parse(bytes: &'a [u8]) -> Result<Message<'a>> {
        let packet = Packet::new_checked(bytes)?;
        let message = &bytes[..usize::from(packet.length())];
        Ok(match packet.message_type() {
            MessageType::Open => {
                Message::Open(OpenRepr::parse(&open::OpenPacket::new_checked(message)?)?)
            }
            MessageType::Update => Message::Update(UpdatePacket::new_checked(message)?),
            MessageType::Notification => Message::Notification(NotificationRepr::parse(message)?),
            MessageType::Keepalive => Message::Keepalive,
            MessageType::RouteRefresh => Message::RouteRefresh(RouteRefreshRepr::parse(message)?),
            MessageType::Unknown(_) => return Err(Error::new(Malformed::BadMessageType, 18..19)),
        })
    }
}

/// Reads a big-endian u16 at `at` (callers have checked the length).
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian u32 at `at` (callers have checked the length).
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads a 24-bit big-endian value at `at` (callers have checked the length).
pub(crate) fn be24(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]])
}

#[cfg(test)]
mod tests;
