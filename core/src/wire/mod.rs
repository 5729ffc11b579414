//! Wire formats, in smoltcp's shape: a zero-copy `Packet<T: AsRef<[u8]>>` view plus a parsed
//! `Repr` with `parse`, `buffer_len` and `emit`.
//!
//! smoltcp already has Ethernet, ARP, IPv4, IPv6, UDP and ICMP; they are re-exported here so the
//! rest of the project has one place to import wire types from. This module adds what smoltcp
//! lacks: the tunnel headers (VXLAN, Geneve, NVGRE/GRE), the 802.1Q tag, the outer IP/UDP
//! headers of the underlay, and the flow hash that picks a tunnel's UDP source port.

use core::fmt;

pub mod bgp;
pub mod dot1q;
pub mod flow;
pub mod geneve;
pub mod nvgre;
pub mod outer;
pub mod vxlan;

pub use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame,
    EthernetProtocol, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address,
    Ipv4Packet, Ipv4Repr, Ipv6Address, Ipv6Packet, Ipv6Repr, TcpPacket, UdpPacket, UdpRepr,
};

/// EtherType of an Ethernet frame carried inside GRE or Geneve ("Transparent Ethernet
/// Bridging").
pub const ETHERTYPE_TRANSPARENT_ETHERNET: u16 = 0x6558;

/// Why bytes could not be read as a header. Every parser in this module returns one of these
/// for untrusted input instead of panicking.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// The buffer is shorter than the header (or than a length field inside it says).
    Truncated,
    /// A length field is inconsistent with the buffer or with another field.
    BadLength,
    /// A flag that must be set is clear, or one that must be clear is set.
    BadFlags,
    /// A version field other than the one implemented.
    BadVersion,
    /// A reserved field is not zero and the receive policy is strict.
    ReservedBitsSet,
    /// A protocol or payload type this implementation does not carry.
    Unsupported,
    /// A Geneve option marked critical that this endpoint does not understand (RFC 8926 3.5).
    UnknownCriticalOption,
    /// The output buffer has too little room (headroom in front, or space behind).
    NoRoom,
    /// An IPv4 header checksum or UDP checksum does not verify (or an IPv6 UDP checksum is
    /// zero, which RFC 8200 forbids).
    BadChecksum,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated: the buffer is shorter than the header",
            Error::BadLength => "a length field does not match the buffer",
            Error::BadFlags => "flags are invalid for this header",
            Error::BadVersion => "unsupported header version",
            Error::ReservedBitsSet => "reserved bits are set (strict receive policy)",
            Error::Unsupported => "unsupported protocol or payload type",
            Error::UnknownCriticalOption => "a critical option is not understood",
            Error::NoRoom => "not enough room in the buffer",
            Error::BadChecksum => "checksum does not verify",
        })
    }
}

impl core::error::Error for Error {}

/// Result of parsing or emitting a header.
pub type Result<T> = core::result::Result<T, Error>;
