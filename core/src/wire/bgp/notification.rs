//! NOTIFICATION (RFC 4271 section 4.5), KEEPALIVE (section 4.4) and ROUTE-REFRESH (RFC 2918).
//!
//! ```text
//! NOTIFICATION: header | Error code (1) | Error subcode (1) | Data (variable)
//! ROUTE-REFRESH: header | AFI (2) | Reserved / subtype (1) | SAFI (1)
//! KEEPALIVE:    header only
//! ```

use core::fmt;

use super::{Family, HEADER_LEN, MessageType, Result, be16, message_of};

/// Byte ranges of NOTIFICATION and ROUTE-REFRESH bodies, as offsets into the message.
pub mod field {
    pub const ERROR_CODE: usize = 19;
    pub const ERROR_SUBCODE: usize = 20;
    pub const DATA: core::ops::RangeFrom<usize> = 21..;
    pub const AFI: core::ops::Range<usize> = 19..21;
    pub const SUBTYPE: usize = 21;
    pub const SAFI: usize = 22;
}

/// NOTIFICATION error codes (RFC 4271 section 4.5, RFC 7313).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ErrorCode {
    MessageHeader,
    OpenMessage,
    UpdateMessage,
    HoldTimerExpired,
    FiniteStateMachine,
    Cease,
    RouteRefreshMessage,
    Unknown(u8),
}

impl From<u8> for ErrorCode {
    fn from(value: u8) -> Self {
        match value {
            1 => ErrorCode::MessageHeader,
            2 => ErrorCode::OpenMessage,
            3 => ErrorCode::UpdateMessage,
            4 => ErrorCode::HoldTimerExpired,
            5 => ErrorCode::FiniteStateMachine,
            6 => ErrorCode::Cease,
            7 => ErrorCode::RouteRefreshMessage,
            other => ErrorCode::Unknown(other),
        }
    }
}

impl From<ErrorCode> for u8 {
    fn from(value: ErrorCode) -> u8 {
        match value {
            ErrorCode::MessageHeader => 1,
            ErrorCode::OpenMessage => 2,
            ErrorCode::UpdateMessage => 3,
            ErrorCode::HoldTimerExpired => 4,
            ErrorCode::FiniteStateMachine => 5,
            ErrorCode::Cease => 6,
            ErrorCode::RouteRefreshMessage => 7,
            ErrorCode::Unknown(other) => other,
        }
    }
}

impl ErrorCode {
    /// The code in words, as `show bgp neighbor` puts it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MessageHeader => "message header error",
            ErrorCode::OpenMessage => "OPEN message error",
            ErrorCode::UpdateMessage => "UPDATE message error",
            ErrorCode::HoldTimerExpired => "hold timer expired",
            ErrorCode::FiniteStateMachine => "finite state machine error",
            ErrorCode::Cease => "cease",
            ErrorCode::RouteRefreshMessage => "ROUTE-REFRESH message error",
            ErrorCode::Unknown(_) => "unknown error code",
        }
    }

    /// A subcode of this code in words (RFC 4271, 4486, 5492, 6608, 7313, 8203, 9234), or
    /// `None` for one not assigned.
    pub const fn subcode_str(self, subcode: u8) -> Option<&'static str> {
        Some(match (self, subcode) {
            (_, 0) => "unspecific",
            (ErrorCode::MessageHeader, 1) => "connection not synchronized",
            (ErrorCode::MessageHeader, 2) => "bad message length",
            (ErrorCode::MessageHeader, 3) => "bad message type",
            (ErrorCode::OpenMessage, 1) => "unsupported version number",
            (ErrorCode::OpenMessage, 2) => "bad peer AS",
            (ErrorCode::OpenMessage, 3) => "bad BGP identifier",
            (ErrorCode::OpenMessage, 4) => "unsupported optional parameter",
            (ErrorCode::OpenMessage, 6) => "unacceptable hold time",
            (ErrorCode::OpenMessage, 7) => "unsupported capability",
            (ErrorCode::OpenMessage, 11) => "role mismatch",
            (ErrorCode::UpdateMessage, 1) => "malformed attribute list",
            (ErrorCode::UpdateMessage, 2) => "unrecognized well-known attribute",
            (ErrorCode::UpdateMessage, 3) => "missing well-known attribute",
            (ErrorCode::UpdateMessage, 4) => "attribute flags error",
            (ErrorCode::UpdateMessage, 5) => "attribute length error",
            (ErrorCode::UpdateMessage, 6) => "invalid ORIGIN attribute",
            (ErrorCode::UpdateMessage, 8) => "invalid NEXT_HOP attribute",
            (ErrorCode::UpdateMessage, 9) => "optional attribute error",
            (ErrorCode::UpdateMessage, 10) => "invalid network field",
            (ErrorCode::UpdateMessage, 11) => "malformed AS_PATH",
            (ErrorCode::FiniteStateMachine, 1) => "unexpected message in OpenSent state",
            (ErrorCode::FiniteStateMachine, 2) => "unexpected message in OpenConfirm state",
            (ErrorCode::FiniteStateMachine, 3) => "unexpected message in Established state",
            (ErrorCode::Cease, 1) => "maximum number of prefixes reached",
            (ErrorCode::Cease, 2) => "administrative shutdown",
            (ErrorCode::Cease, 3) => "peer de-configured",
            (ErrorCode::Cease, 4) => "administrative reset",
            (ErrorCode::Cease, 5) => "connection rejected",
            (ErrorCode::Cease, 6) => "other configuration change",
            (ErrorCode::Cease, 7) => "connection collision resolution",
            (ErrorCode::Cease, 8) => "out of resources",
            (ErrorCode::Cease, 9) => "hard reset",
            (ErrorCode::RouteRefreshMessage, 1) => "invalid message length",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Unknown(code) => write!(f, "unknown error code {code}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A NOTIFICATION: the sender closes the connection after it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NotificationRepr<'a> {
    pub code: ErrorCode,
    pub subcode: u8,
    pub data: &'a [u8],
}

impl<'a> NotificationRepr<'a> {
    /// Parses a whole NOTIFICATION message (header included). Unknown codes are data.
    pub fn parse(message: &'a [u8]) -> Result<NotificationRepr<'a>> {
        let message = message_of(message, MessageType::Notification)?;
        Ok(NotificationRepr {
            code: ErrorCode::from(message[field::ERROR_CODE]),
            subcode: message[field::ERROR_SUBCODE],
            data: &message[field::DATA],
        })
    }

    /// The message length: header, code, subcode, data (capped so it fits a message).
    pub fn buffer_len(&self) -> usize {
        (HEADER_LEN + 2 + self.data.len()).min(super::MAX_MESSAGE_LEN)
    }

    /// Writes the message into `buf[..buffer_len]`; data that would not fit in a message is cut.
    ///
    /// # Panics
    /// If `buf` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        super::emit_header(buf, MessageType::Notification, len);
        buf[field::ERROR_CODE] = self.code.into();
        buf[field::ERROR_SUBCODE] = self.subcode;
        buf[21..len].copy_from_slice(&self.data[..len - 21]);
        len
    }

    /// The shutdown communication of an administrative shutdown or reset (RFC 9003): a length
    /// octet then UTF-8 text; `None` when absent or not valid.
    pub fn shutdown_message(&self) -> Option<&'a str> {
        if self.code != ErrorCode::Cease || !matches!(self.subcode, 2 | 4) {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        core::str::from_utf8(text).ok().filter(|t| !t.is_empty())
    }
}

impl fmt::Display for NotificationRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        match self.code.subcode_str(self.subcode) {
            Some(words) => write!(f, " / {words}")?,
            None => write!(f, " / subcode {}", self.subcode)?,
        }
        if let Some(text) = self.shutdown_message() {
            write!(f, " (\"{text}\")")?;
        }
        Ok(())
    }
}

/// A KEEPALIVE: the header alone.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct KeepaliveRepr;

impl KeepaliveRepr {
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// # Panics
    /// If `buf` is shorter than [`HEADER_LEN`].
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        super::emit_header(buf, MessageType::Keepalive, HEADER_LEN);
        HEADER_LEN
    }
}

/// A ROUTE-REFRESH: "send me your routes of this family again" (RFC 2918; subtype of RFC 7313).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RouteRefreshRepr {
    pub family: Family,
    /// 0 for a plain refresh; 1 and 2 mark the start and end of an enhanced refresh.
    pub subtype: u8,
}

impl RouteRefreshRepr {
    pub const LEN: usize = 23;

    pub fn parse(message: &[u8]) -> Result<RouteRefreshRepr> {
        let message = message_of(message, MessageType::RouteRefresh)?;
        Ok(RouteRefreshRepr {
            family: Family {
                afi: be16(message, field::AFI.start),
                safi: message[field::SAFI],
            },
            subtype: message[field::SUBTYPE],
        })
    }

    pub const fn buffer_len(&self) -> usize {
        Self::LEN
    }

    /// # Panics
    /// If `buf` is shorter than 23 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        super::emit_header(buf, MessageType::RouteRefresh, Self::LEN);
        buf[field::AFI].copy_from_slice(&self.family.afi.to_be_bytes());
        buf[field::SUBTYPE] = self.subtype;
        buf[field::SAFI] = self.family.safi;
        Self::LEN
    }
}
