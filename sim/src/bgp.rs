//! BGP on the simulated underlay, as the trace reads it: what one TCP segment of a BGP session
//! carries ([`Segment`]: the TCP flags, and the BGP messages that start in it, by kind, with
//! the EVPN routes their UPDATEs announce and withdraw), and the speakers' settings the
//! simulator uses ([`ASN`], the timers).
//!
//! The speakers are `vtep_evpn::Speaker`s over smoltcp TCP sockets (see `sim/agent.rs`); they
//! write whole messages with Nagle off, so a segment starts at a message's marker unless the
//! one before it was full: a message cut at a segment's end continues in the next one, whose
//! [`Segment`] then starts with the rest of it (`messages` counts only those that start).

use core::fmt;

use vtep_core::Duration;
use vtep_core::wire::bgp::{self, MessageType, MpReach, MpUnreach, UpdatePacket, UpdateRepr};
use vtep_core::wire::{IpProtocol, Ipv4Packet, TcpPacket};

use crate::trace::TcpFlags;

/// The AS of every speaker in the simulated fabric (iBGP to the reflectors).
pub const ASN: u32 = 65000;
/// Hold time offered in OPEN, seconds: KEEPALIVEs every 3 s, a silent peer is dropped after
/// 9 s (FRR's `timers 3 9`, the lab's setting; RFC 4271 suggests 90).
pub const HOLD_TIME: u16 = 9;
/// The first reconnection after a failure; it doubles per failure in a row, up to
/// [`MAX_CONNECT_RETRY`].
pub const CONNECT_RETRY: Duration = Duration::from_secs(1);
pub const MAX_CONNECT_RETRY: Duration = Duration::from_secs(4);

/// The kinds of BGP message (RFC 4271 section 4, RFC 2918), numbered by their type codes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum MessageKind {
    Open = 1,
    Update = 2,
    Notification = 3,
    Keepalive = 4,
    RouteRefresh = 5,
}

impl MessageKind {
    pub const ALL: [MessageKind; 5] = [
        MessageKind::Open,
        MessageKind::Update,
        MessageKind::Notification,
        MessageKind::Keepalive,
        MessageKind::RouteRefresh,
    ];

    fn from_type(t: MessageType) -> Option<MessageKind> {
        Some(match t {
            MessageType::Open => MessageKind::Open,
            MessageType::Update => MessageKind::Update,
            MessageType::Notification => MessageKind::Notification,
            MessageType::Keepalive => MessageKind::Keepalive,
            MessageType::RouteRefresh => MessageKind::RouteRefresh,
            MessageType::Unknown(_) => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The name RFC 4271 and Wireshark use (the codec's).
    pub fn name(self) -> &'static str {
        MessageType::from(self as u8).name()
    }
}

/// One TCP segment of a BGP session (port 179 at one end).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Segment {
    pub src_port: u16,
    pub dst_port: u16,
    pub flags: TcpFlags,
    /// TCP payload bytes.
    pub payload: u16,
    /// BGP messages that start in this segment.
    pub messages: u8,
    /// It starts with the rest of a message begun in an earlier segment.
    pub continues: bool,
    /// Their kinds, one bit each ([`Segment::has`]).
    kinds: u8,
    /// The kind of the first one.
    pub first: Option<MessageKind>,
    /// EVPN routes announced by the whole UPDATEs in this segment.
    pub announced: u16,
    /// EVPN routes withdrawn by them.
    pub withdrawn: u16,
}

impl Segment {
    /// Reads a TCP segment in an IPv4 packet, if one end is port 179.
    pub fn parse(ip_bytes: &[u8]) -> Option<Segment> {
        let ip = Ipv4Packet::new_checked(ip_bytes).ok()?;
        if ip.next_header() != IpProtocol::Tcp {
            return None;
        }
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        let (src_port, dst_port) = (tcp.src_port(), tcp.dst_port());
        if src_port != bgp::PORT && dst_port != bgp::PORT {
            return None;
        }
        let payload = tcp.payload();
        let mut seg = Segment {
            src_port,
            dst_port,
            flags: TcpFlags::of(&tcp),
            payload: u16::try_from(payload.len()).unwrap_or(u16::MAX),
            messages: 0,
            continues: false,
            kinds: 0,
            first: None,
            announced: 0,
            withdrawn: 0,
        };
        // A segment that continues a message cut at the end of the one before starts with its
        // rest; the next message starts at the next marker.
        let first = marker_at(payload);
        seg.continues = first > 0;
        let mut rest = &payload[first..];
        // `check_header` checks the length, the marker and the type.
        while let Ok(len) = bgp::check_header(rest) {
            let kind = MessageKind::from_type(MessageType::from(rest[18]));
            seg.messages = seg.messages.saturating_add(1);
            if let Some(k) = kind {
                seg.kinds |= k.bit();
                seg.first = seg.first.or(Some(k));
            }
            let Some(whole) = rest.get(..len) else {
                break;
            };
            if kind == Some(MessageKind::Update) {
                let (a, w) = update_routes(whole);
                seg.announced = seg.announced.saturating_add(a);
                seg.withdrawn = seg.withdrawn.saturating_add(w);
            }
            rest = &rest[len..];
        }
        Some(seg)
    }

    /// Whether a message of `kind` starts in this segment.
    pub fn has(&self, kind: MessageKind) -> bool {
        self.kinds & kind.bit() != 0
    }

    /// The kinds of the messages that start here.
    pub fn kinds(&self) -> impl Iterator<Item = MessageKind> + '_ {
        MessageKind::ALL.into_iter().filter(|k| self.has(*k))
    }
}

/// Where the first BGP marker (16 bytes of 0xff with a plausible length) starts in a TCP
/// payload: 0 for a segment that starts with a message, the payload's length if none does.
pub fn marker_at(payload: &[u8]) -> usize {
    (0..payload.len())
        .find(|&i| {
            let rest = &payload[i..];
            bgp::check_header(rest).is_ok()
                || rest.len() < bgp::HEADER_LEN && rest.iter().all(|b| *b == 0xff)
        })
        .unwrap_or(payload.len())
}

/// EVPN routes (announced, withdrawn) in one whole UPDATE.
fn update_routes(message: &[u8]) -> (u16, u16) {
    let Ok(packet) = UpdatePacket::new_checked(message) else {
        return (0, 0);
    };
    let Ok((repr, _)) = UpdateRepr::parse(&packet, true) else {
        return (0, 0);
    };
    let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let announced = match repr.mp_reach {
        Some(MpReach::Evpn { routes, .. }) => count(routes.iter().count()),
        _ => 0,
    };
    let withdrawn = match repr.mp_unreach {
        Some(MpUnreach::Evpn { routes }) => count(routes.iter().count()),
        _ => 0,
    };
    (announced, withdrawn)
}

impl fmt::Display for Segment {
    /// `BGP UPDATE (3 routes)`, `BGP KEEPALIVE`, `BGP OPEN + KEEPALIVE`, `BGP TCP [S]`,
    /// `BGP (rest of a message, 1240 bytes)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BGP ")?;
        if self.payload == 0 {
            return write!(f, "TCP [{}]", self.flags);
        }
        if self.messages == 0 {
            return write!(f, "(rest of a message, {} bytes)", self.payload);
        }
        if self.continues {
            f.write_str("(rest of a message) + ")?;
        }
        let mut first = true;
        for k in self.kinds() {
            if !first {
                f.write_str(" + ")?;
            }
            first = false;
            f.write_str(k.name())?;
        }
        if self.messages as usize > self.kinds().count() {
            write!(f, " ({} messages)", self.messages)?;
        }
        let plural = |n: u16| if n == 1 { "" } else { "s" };
        match (self.announced, self.withdrawn) {
            (0, 0) => Ok(()),
            (a, 0) => write!(f, ": {a} route{}", plural(a)),
            (0, w) => write!(f, ": {w} withdrawn",),
            (a, w) => write!(f, ": {a} route{}, {w} withdrawn", plural(a)),
        }
    }
}
