//! Why a session went down, in words an operator can act on.

use alloc::string::String;
use core::fmt;

use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::{ErrorCode, Malformed, NotificationRepr};

/// Why a session is not (or no longer) established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// The TCP connection to the peer could not be made.
    Unreachable { address: Ipv4Address },
    /// The peer closed the TCP connection without a NOTIFICATION.
    ConnectionClosed,
    /// The peer sent a NOTIFICATION.
    NotificationReceived {
        code: ErrorCode,
        subcode: u8,
        /// RFC 9003 shutdown communication, if any.
        message: Option<String>,
        /// The session was up (the peer ended it) rather than coming up (the peer refused it).
        established: bool,
    },
    /// This speaker sent a NOTIFICATION for a malformed message.
    Malformed {
        reason: Malformed,
        code: ErrorCode,
        subcode: u8,
    },
    /// The peer's OPEN names another AS.
    AsMismatch { expected: u32, received: u32 },
    /// The peer's BGP identifier is this speaker's.
    SameRouterId(Ipv4Address),
    /// The peer does not offer the L2VPN/EVPN address family.
    NoEvpnCapability,
    /// Nothing arrived for the hold time.
    HoldTimerExpired { hold_time: u16 },
    /// A message that the session's state does not allow.
    UnexpectedMessage { subcode: u8 },
    /// The peer sent more routes than its limit.
    RouteLimit { limit: usize },
    /// Stopped or removed by the operator.
    AdministrativeStop,
}

impl SessionError {
    /// The NOTIFICATION this error sends, if it sends one: (code, subcode).
    pub fn notification(&self) -> Option<(ErrorCode, u8)> {
        Some(match *self {
            SessionError::Malformed { code, subcode, .. } => (code, subcode),
            SessionError::AsMismatch { .. } => (ErrorCode::OpenMessage, 2),
            SessionError::SameRouterId(_) => (ErrorCode::OpenMessage, 3),
            SessionError::NoEvpnCapability => (ErrorCode::OpenMessage, 7),
            SessionError::HoldTimerExpired { .. } => (ErrorCode::HoldTimerExpired, 0),
            SessionError::UnexpectedMessage { subcode } => (ErrorCode::FiniteStateMachine, subcode),
            SessionError::RouteLimit { .. } => (ErrorCode::Cease, 1),
            SessionError::AdministrativeStop => (ErrorCode::Cease, 2),
            _ => return None,
        })
    }
}

fn words(code: ErrorCode, subcode: u8) -> NotificationRepr<'static> {
    NotificationRepr {
        code,
        subcode,
        data: &[],
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Unreachable { address } => write!(
                f,
                "peer {address} unreachable: no TCP connection to port 179 (refused, or no \
                 answer in time); check the address, the underlay route, and that the peer \
                 listens (FRR: `neighbor` or `bgp listen range` covering this address)"
            ),
            SessionError::ConnectionClosed => f.write_str(
                "the peer closed the connection without saying why; see its log (FRR: `show bgp \
                 neighbors`)",
            ),
            SessionError::NotificationReceived {
                code,
                subcode,
                message,
                established,
            } => {
                write!(
                    f,
                    "the peer {} the session: {}",
                    if *established { "closed" } else { "refused" },
                    words(*code, *subcode)
                )?;
                if let Some(text) = message {
                    write!(f, " (\"{text}\")")?;
                }
                match (code, subcode) {
                    (ErrorCode::OpenMessage, 2) => f.write_str(
                        "; both sides must use the same AS (iBGP): set the peer's remote-as to ours",
                    ),
                    (ErrorCode::OpenMessage, 7) => f.write_str(
                        "; activate the l2vpn evpn address family for this neighbour on the peer",
                    ),
                    (ErrorCode::Cease, 5) => f.write_str(
                        "; the peer does not accept connections from this address: configure it \
                         as a neighbour or widen its listen range",
                    ),
                    _ => Ok(()),
                }
            }
            SessionError::Malformed {
                reason,
                code,
                subcode,
            } => write!(
                f,
                "the peer sent a malformed message ({reason}); sent NOTIFICATION {}",
                words(*code, *subcode)
            ),
            SessionError::AsMismatch { expected, received } => write!(
                f,
                "AS mismatch: the peer says AS {received}, this speaker expects {expected} (iBGP \
                 only); set the same AS on both sides"
            ),
            SessionError::SameRouterId(id) => write!(
                f,
                "the peer uses this speaker's router ID {id}; give each speaker its own"
            ),
            SessionError::NoEvpnCapability => f.write_str(
                "the peer does not offer l2vpn evpn; on FRR: `address-family l2vpn evpn` / \
                 `neighbor X activate`",
            ),
            SessionError::HoldTimerExpired { hold_time } => write!(
                f,
                "hold time expired: nothing from the peer for {hold_time} s; check the underlay \
                 path and the peer's load"
            ),
            SessionError::UnexpectedMessage { subcode } => write!(
                f,
                "unexpected message: {}",
                words(ErrorCode::FiniteStateMachine, *subcode)
            ),
            SessionError::RouteLimit { limit } => write!(
                f,
                "the peer sent more than {limit} routes, the limit for one peer (native-vtep: \
                 --max-address); raise it if the fabric is that large, or find why the peer \
                 floods"
            ),
            SessionError::AdministrativeStop => f.write_str("stopped by the operator"),
        }
    }
}

impl core::error::Error for SessionError {}
