//! One peer's session: the RFC 4271 state, its timers as deadlines, the framing of the TCP
//! byte stream, the bytes waiting to be sent, and its counters.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::fmt;

use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::{self, MalformedCounters, MessageType};
use vtep_core::{Duration, Instant};

use crate::config::PeerConfig;
use crate::error::SessionError;
use vtep_core::wire::bgp::RouteKey;

/// The RFC 4271 section 8 states.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Not trying: waiting for the reconnection time, or stopped.
    Idle,
    /// A TCP connection was asked for ([`crate::Output::Connect`]).
    Connect,
    /// Waiting for the peer to connect (passive peers).
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    /// The word `show bgp summary` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the OPENs agreed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Negotiated {
    pub peer_id: Ipv4Address,
    pub peer_as: u32,
    /// Seconds; 0: no keepalives, no hold timer.
    pub hold_time: u16,
    pub four_octet_as: bool,
    pub route_refresh: bool,
}

/// Counters of one peer, for `bgp summary` and tests.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PeerCounters {
    /// Messages received, by type (OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH).
    pub received: [u64; 5],
    /// Messages sent, by type.
    pub sent: [u64; 5],
    /// Routes announced to us and accepted into the Adj-RIB-In.
    pub routes_accepted: u64,
    /// Routes withdrawn by the peer (explicitly or by treat-as-withdraw).
    pub routes_withdrawn: u64,
    /// Routes ignored: unknown route types, families not negotiated, IPv6 next hops.
    pub routes_ignored: u64,
    /// Routes dropped as loops: our AS in the AS_PATH, our cluster ID in the CLUSTER_LIST
    /// (RFC 4271 9.1.2, RFC 4456 8).
    pub routes_looped: u64,
    /// Our own routes coming back with our router ID as ORIGINATOR_ID, dropped (RFC 4456 8).
    /// Not a fault: FRR's reflector sends a client's routes back to it (its update groups
    /// leave the check to the receiver), so this counts every route we originate.
    pub routes_own_reflected: u64,
    /// Malformed messages and attributes, by reason.
    pub malformed: MalformedCounters,
    /// Times the session reached Established.
    pub established: u64,
    /// Times it went down from OpenSent or later.
    pub dropped: u64,
}

impl PeerCounters {
    fn slot(kind: MessageType) -> Option<usize> {
        match kind {
            MessageType::Open => Some(0),
            MessageType::Update => Some(1),
            MessageType::Notification => Some(2),
            MessageType::Keepalive => Some(3),
            MessageType::RouteRefresh => Some(4),
            MessageType::Unknown(_) => None,
        }
    }

    pub fn count_received(&mut self, kind: MessageType) {
        if let Some(i) = Self::slot(kind) {
            self.received[i] += 1;
        }
    }

    pub fn count_sent(&mut self, kind: MessageType) {
        if let Some(i) = Self::slot(kind) {
            self.sent[i] += 1;
        }
    }

    pub fn messages_received(&self) -> u64 {
        self.received.iter().sum()
    }

    pub fn messages_sent(&self) -> u64 {
        self.sent.iter().sum()
    }
}

/// The bytes a peer may leave unread before this speaker stops encoding more UPDATEs for it.
pub const TX_HIGH_WATER: usize = 64 * 1024;

/// Holding time in OpenSent, before the peer's OPEN says otherwise (RFC 4271 suggests 4 min).
pub const OPEN_HOLD: Duration = Duration::from_secs(240);

/// One peer.
#[derive(Debug)]
pub struct Peer {
    pub config: PeerConfig,
    /// Created by an accepted connection from the listen range; removed when it ends.
    pub dynamic: bool,
    pub state: State,
    /// Stopped by the operator: no reconnection.
    pub stopped: bool,
    /// The TCP connection is up (between `Connected` and `Closed`, or our `Close`).
    pub connected: bool,
    pub connect_at: Option<Instant>,
    pub hold_at: Option<Instant>,
    pub keepalive_at: Option<Instant>,
    /// Connection failures in a row, for the reconnection backoff.
    pub failures: u32,
    pub negotiated: Option<Negotiated>,
    /// A partial message from the stream (at most [`bgp::MAX_MESSAGE_LEN`] bytes).
    pub rx: Vec<u8>,
    /// Bytes for the driver to write.
    pub tx: Vec<u8>,
    /// A [`crate::Output::Transmit`] is queued and not yet polled.
    pub tx_signalled: bool,
    /// Routes to (re-)advertise or withdraw to this peer.
    pub pending: BTreeSet<RouteKey>,
    pub counters: PeerCounters,
    pub last_error: Option<SessionError>,
    pub established_at: Option<Instant>,
    /// Records in the Adj-RIB-In.
    pub routes: usize,
}

impl Peer {
    pub fn new(config: PeerConfig, dynamic: bool) -> Peer {
        Peer {
            config,
            dynamic,
            state: if config.passive {
                State::Active
            } else {
                State::Idle
            },
            stopped: false,
            connected: false,
            connect_at: None,
            hold_at: None,
            keepalive_at: None,
            failures: 0,
            negotiated: None,
            rx: Vec::new(),
            tx: Vec::new(),
            tx_signalled: false,
            pending: BTreeSet::new(),
            counters: PeerCounters::default(),
            last_error: None,
            established_at: None,
            routes: 0,
        }
    }

    /// The earliest deadline of this peer.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.connect_at, self.hold_at, self.keepalive_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Appends a message built by `emit` (which returns its length) to the send buffer.
    pub fn send(&mut self, kind: MessageType, len: usize, emit: impl FnOnce(&mut [u8]) -> usize) {
        let start = self.tx.len();
        self.tx.resize(start + len, 0);
        let written = emit(&mut self.tx[start..]);
        self.tx.truncate(start + written);
        self.counters.count_sent(kind);
    }

    pub fn send_keepalive(&mut self) {
        self.send(MessageType::Keepalive, bgp::HEADER_LEN, |b| {
            bgp::KeepaliveRepr.emit(b)
        });
    }

    pub fn send_notification(&mut self, n: &bgp::NotificationRepr<'_>) {
        self.send(MessageType::Notification, n.buffer_len(), |b| n.emit(b));
    }

    /// Restarts the keepalive timer after sending a KEEPALIVE or UPDATE.
    pub fn keepalive_sent(&mut self, now: Instant) {
        if let Some(n) = self.negotiated
            && n.hold_time > 0
        {
            self.keepalive_at = Some(now + Duration::from_secs(u64::from(n.hold_time / 3).max(1)));
        }
    }

    /// Restarts the hold timer after a message from the peer.
    pub fn heard(&mut self, now: Instant) {
        if let Some(n) = self.negotiated {
            self.hold_at =
                (n.hold_time > 0).then(|| now + Duration::from_secs(u64::from(n.hold_time)));
        }
    }

    /// The session as `bgp summary` shows it.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    pub fn address(&self) -> Ipv4Address {
        self.config.address
    }
}
