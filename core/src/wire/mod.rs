//! Wire formats, in smoltcp's shape: a zero-copy `Packet<T: AsRef<[u8]>>` view plus a parsed
//! `Repr` with `parse`, `buffer_len` and `emit`.
//!
//! smoltcp already has Ethernet, ARP, IPv4, IPv6, UDP and ICMP; they are re-exported here so the
//! rest of the project has one place to import wire types from. This module adds what smoltcp
//! lacks: the tunnel headers (VXLAN, Geneve, NVGRE/GRE), the 802.1Q tag, the outer IP/UDP
//! headers of the underlay, the flow hash that picks a tunnel's UDP source port, and IPv6
//! Neighbour Discovery as a proxying VTEP checks and answers it (`ndisc`, over smoltcp's
//! ICMPv6 types).
//!
//! Each header module keeps its byte ranges in a private `mod field` (the accessors read them)
//! and publishes them as `FIELDS`: every field's name, as a protocol analyser shows it, and its
//! range from the start of the header, in wire order. A frame inspector lights those bytes.

use core::fmt;
use core::ops::Range;

/// The shell of a zero-copy view, the same for every header (as smoltcp writes it out for
/// each): the struct over a buffer, `new_unchecked`, `new_checked` (`new_unchecked` plus the
/// module's own `check_len`, the only way untrusted bytes get in) and `into_inner`. The module
/// writes `check_len` and the accessors; the `Result` is the module's.
macro_rules! packet {
    (
        $(#[$meta:meta])*
        pub struct $name:ident;
        $(#[$checked:meta])*
        fn new_checked;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wrap a buffer without checking its length: accessors may panic until
            /// [`check_len`](Self::check_len) succeeds.
            pub const fn new_unchecked(buffer: T) -> $name<T> {
                $name { buffer }
            }

            $(#[$checked])*
            pub fn new_checked(buffer: T) -> Result<$name<T>> {
                let packet = Self::new_unchecked(buffer);
                packet.check_len()?;
                Ok(packet)
            }

            /// The underlying buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }
        }
    };
}

pub mod bgp;
pub mod dot1q;
pub mod flow;
pub mod geneve;
pub mod ndisc;
pub mod nvgre;
pub mod outer;
pub mod vxlan;

/// The range types of every module's private `mod field`, declared once (as in smoltcp).
mod field {
    pub type Field = core::ops::Range<usize>;
    pub type Rest = core::ops::RangeFrom<usize>;
}

/// A header's fields in wire order: name and byte range from the start of the header (see the
/// module documentation). Fields narrower than a byte share that byte's range.
pub type Fields = &'static [(&'static str, Range<usize>)];

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

/// A named setter for [`check_fields`]: writes one field of a header.
#[cfg(test)]
pub(crate) type Setter<'a> = &'a dyn Fn(&mut [u8]);

/// Checks a module's [`Fields`] against its setters: in a zeroed `header_len`-byte header, the
/// `i`th setter (named like the `i`th field) changes some bytes and only bytes of that field's
/// range, and the fields cover every byte of the header, in order.
#[cfg(test)]
pub(crate) fn check_fields(fields: Fields, header_len: usize, setters: &[(&str, Setter<'_>)]) {
    use std::{vec, vec::Vec};
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    let setter_names: Vec<&str> = setters.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, setter_names, "one setter per field, in order");
    let mut covered = vec![false; header_len];
    let mut start = 0;
    for ((name, range), (_, set)) in fields.iter().zip(setters) {
        assert!(range.start >= start, "{name}: fields are in wire order");
        assert!(
            range.end <= header_len && !range.is_empty(),
            "{name}: {range:?}"
        );
        start = range.start;
        let mut bytes = vec![0u8; header_len];
        set(&mut bytes);
        let changed: Vec<usize> = (0..header_len).filter(|i| bytes[*i] != 0).collect();
        assert!(!changed.is_empty(), "{name}: the setter wrote nothing");
        assert!(
            changed.iter().all(|i| range.contains(i)),
            "{name}: the setter wrote bytes {changed:?}, outside {range:?}"
        );
        for i in range.clone() {
            covered[i] = true;
        }
    }
    assert!(
        covered.iter().all(|c| *c),
        "every header byte belongs to a field"
    );
}
