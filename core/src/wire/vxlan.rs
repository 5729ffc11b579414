//! VXLAN header (RFC 7348 section 5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                VXLAN Network Identifier (VNI) |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The inner Ethernet frame follows directly.

use super::{Error, Fields, Result};
use crate::Vni;

/// Length of the VXLAN header.
pub const HEADER_LEN: usize = 8;

/// The I flag: the VNI field is valid. RFC 7348 says it MUST be set.
pub const FLAG_VNI_VALID: u8 = 0x08;

mod field {
    use crate::wire::field::*;

    pub const FLAGS: usize = 0;
    pub const RESERVED1: Field = 1..4;
    pub const VNI: Field = 4..7;
    pub const RESERVED2: usize = 7;
    pub const PAYLOAD: Rest = 8..;
}

/// The header's fields and their byte ranges (see [`super`]); the inner frame follows.
pub const FIELDS: Fields = &[
    ("Flags", field::FLAGS..field::FLAGS + 1),
    ("Reserved", field::RESERVED1),
    ("VNI", field::VNI),
    ("Reserved", field::RESERVED2..field::RESERVED2 + 1),
];

/// How strictly a receiver treats the bits RFC 7348 reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReservedBitsPolicy {
    /// RFC 7348: reserved fields and the other flags "MUST be ignored on receipt". Lets
    /// extensions that use them (GBP, GPE) through as plain VXLAN.
    #[default]
    Rfc,
    /// Any reserved bit or flag other than I is an error ([`Error::ReservedBitsSet`]), as the
    /// Linux driver does: a peer speaking an extension is noticed instead of misread.
    Strict,
}

packet! {
    /// A read/write view of a VXLAN header and the frame behind it.
    pub struct Packet;
    /// Wrap a buffer and check that it holds a whole header: the only way untrusted bytes
    /// should get in.
    fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// After this succeeds no accessor can panic.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The flags byte; only [`FLAG_VNI_VALID`] is defined.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The 24-bit VXLAN network identifier.
    pub fn vni(&self) -> Vni {
        let b = &self.buffer.as_ref()[field::VNI];
        Vni::from_be_bytes([b[0], b[1], b[2]])
    }

    /// The 24 reserved bits after the flags.
    pub fn reserved1(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::RESERVED1];
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }

    /// The reserved byte after the VNI.
    pub fn reserved2(&self) -> u8 {
        self.buffer.as_ref()[field::RESERVED2]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The inner Ethernet frame, borrowed from the buffer rather than the view (as in smoltcp),
    /// so it outlives the `Packet`.
    pub fn payload(&self) -> &'a [u8] {
        let buffer: &'a T = self.buffer;
        &buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the flags byte.
    pub fn set_flags(&mut self, value: u8) {
        self.buffer.as_mut()[field::FLAGS] = value;
    }

    /// Set the VNI.
    pub fn set_vni(&mut self, value: Vni) {
        self.buffer.as_mut()[field::VNI].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the 24 reserved bits after the flags; bits above 24 are dropped.
    pub fn set_reserved1(&mut self, value: u32) {
        let b = value.to_be_bytes();
        self.buffer.as_mut()[field::RESERVED1].copy_from_slice(&b[1..]);
    }

    /// Set the reserved byte after the VNI.
    pub fn set_reserved2(&mut self, value: u8) {
        self.buffer.as_mut()[field::RESERVED2] = value;
    }

    /// The inner Ethernet frame, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed VXLAN header: all it carries is the VNI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// The virtual network the inner frame belongs to.
    pub vni: Vni,
}

impl Repr {
    /// Parse a header. The I flag must be set under either policy ([`Error::BadFlags`]): without
    /// it the VNI means nothing.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&T>,
        policy: ReservedBitsPolicy,
    ) -> Result<Repr> {
        packet.check_len()?;
        if packet.flags() & FLAG_VNI_VALID == 0 {
            return Err(Error::BadFlags);
        }
        if policy == ReservedBitsPolicy::Strict
            && (packet.flags() != FLAG_VNI_VALID
                || packet.reserved1() != 0
                || packet.reserved2() != 0)
        {
            return Err(Error::ReservedBitsSet);
        }
        Ok(Repr { vni: packet.vni() })
    }

    /// Length of the header this emits.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header: I flag set, every reserved bit zero.
    ///
    /// # Panics
    /// If the buffer is shorter than [`buffer_len`](Self::buffer_len).
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        // The whole header in one store: flags, the VNI in network order, reserved fields zero.
        let header = u64::from(FLAG_VNI_VALID) << 56 | u64::from(self.vni.get()) << 8;
        packet.buffer.as_mut()[..HEADER_LEN].copy_from_slice(&header.to_be_bytes());
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // data-driven case tables read best inline
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The first frame of tests/fixtures/vxlan-ipv4.pcap, UDP payload only: the Linux kernel's
    /// `vxlan` device (`ip link add vx0 type vxlan id 42 dstport 4789 ...`, see
    /// tests/fixtures/capture.sh) sending an ARP request from 02:00:00:00:00:01 for
    /// 192.168.42.2.
    static PACKET_BYTES: [u8; 50] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x2a, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0xc0, 0xa8, 0x2a, 0x02,
    ];

    fn vni(v: u32) -> Vni {
        Vni::new(v).unwrap()
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.flags(), FLAG_VNI_VALID);
        assert_eq!(packet.reserved1(), 0);
        assert_eq!(packet.vni(), vni(42));
        assert_eq!(packet.reserved2(), 0);
        assert_eq!(packet.payload(), &PACKET_BYTES[8..]);
        assert_eq!(
            &packet.payload()[12..14],
            &[0x08, 0x06],
            "inner EtherType is ARP"
        );
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5; 50];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_flags(FLAG_VNI_VALID);
        packet.set_reserved1(0);
        packet.set_vni(vni(42));
        packet.set_reserved2(0);
        packet.payload_mut().copy_from_slice(&PACKET_BYTES[8..]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        for policy in [ReservedBitsPolicy::Rfc, ReservedBitsPolicy::Strict] {
            assert_eq!(Repr::parse(&packet, policy), Ok(Repr { vni: vni(42) }));
        }
    }

    #[test]
    fn emit() {
        let repr = Repr { vni: vni(42) };
        assert_eq!(repr.buffer_len(), HEADER_LEN);
        let mut bytes = [0xa5; 50];
        bytes[8..].copy_from_slice(&PACKET_BYTES[8..]);
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn setters_keep_to_their_fields() {
        let mut bytes = [0u8; 8];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_reserved1(0xff12_3456);
        packet.set_vni(Vni::MAX);
        packet.set_reserved2(0x9a);
        assert_eq!(packet.reserved1(), 0x12_3456, "only 24 bits are stored");
        assert_eq!(packet.vni(), Vni::MAX);
        assert_eq!(bytes, [0, 0x12, 0x34, 0x56, 0xff, 0xff, 0xff, 0x9a]);
    }

    #[test]
    fn fields_are_what_the_setters_write() {
        fn view(b: &mut [u8]) -> Packet<&mut [u8]> {
            Packet::new_unchecked(b)
        }
        super::super::check_fields(
            FIELDS,
            HEADER_LEN,
            &[
                ("Flags", &|b| view(b).set_flags(0xff)),
                ("Reserved", &|b| view(b).set_reserved1(0xff_ffff)),
                ("VNI", &|b| view(b).set_vni(Vni::MAX)),
                ("Reserved", &|b| view(b).set_reserved2(0xff)),
            ],
        );
    }

    /// Header bytes -> result under (Rfc, Strict).
    fn check(header: [u8; 8], expect: (Result<u32>, Result<u32>)) {
        let packet = Packet::new_checked(&header[..]).unwrap();
        let got = |policy| Repr::parse(&packet, policy).map(|r| r.vni.get());
        assert_eq!(
            (
                got(ReservedBitsPolicy::Rfc),
                got(ReservedBitsPolicy::Strict)
            ),
            expect,
            "header {header:02x?}"
        );
    }

    #[test]
    fn reserved_bits_policies() {
        use Error::*;
        let cases: &[([u8; 8], (Result<u32>, Result<u32>))] = &[
            (
                [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0],
                (Ok(0x12_3456), Ok(0x12_3456)),
            ),
            (
                [0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0],
                (Ok(0xff_ffff), Ok(0xff_ffff)),
            ),
            // I flag clear: an error under both policies.
            ([0x00, 0, 0, 0, 0, 0, 42, 0], (Err(BadFlags), Err(BadFlags))),
            ([0xf7, 0, 0, 0, 0, 0, 42, 0], (Err(BadFlags), Err(BadFlags))),
            // Another flag beside I (e.g. the GBP G bit 0x80, the GPE P bit 0x04).
            ([0x88, 0, 0, 0, 0, 0, 42, 0], (Ok(42), Err(ReservedBitsSet))),
            ([0x0c, 0, 0, 0, 0, 0, 42, 0], (Ok(42), Err(ReservedBitsSet))),
            ([0x09, 0, 0, 0, 0, 0, 42, 0], (Ok(42), Err(ReservedBitsSet))),
            // Reserved fields.
            (
                [0x08, 0x01, 0, 0, 0, 0, 42, 0],
                (Ok(42), Err(ReservedBitsSet)),
            ),
            (
                [0x08, 0, 0, 0x80, 0, 0, 42, 0],
                (Ok(42), Err(ReservedBitsSet)),
            ),
            (
                [0x08, 0, 0, 0, 0, 0, 42, 0x01],
                (Ok(42), Err(ReservedBitsSet)),
            ),
        ];
        for &(header, expect) in cases {
            check(header, expect);
        }
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(
                Packet::new_checked(&PACKET_BYTES[..len]).unwrap_err(),
                Error::Truncated
            );
            let unchecked = Packet::new_unchecked(&PACKET_BYTES[..len]);
            assert_eq!(
                Repr::parse(&unchecked, ReservedBitsPolicy::Rfc),
                Err(Error::Truncated)
            );
        }
        let header_only = Packet::new_checked(&PACKET_BYTES[..HEADER_LEN]).unwrap();
        assert_eq!(header_only.payload(), &[] as &[u8]);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn emit_then_parse_round_trips(v in 0..=Vni::MAX.get(), tail in proptest::collection::vec(any::<u8>(), 0..32)) {
                let repr = Repr { vni: Vni::new(v).unwrap() };
                let mut bytes = std::vec![0xa5; HEADER_LEN + tail.len()];
                bytes[HEADER_LEN..].copy_from_slice(&tail);
                repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
                let packet = Packet::new_checked(&bytes[..]).unwrap();
                prop_assert_eq!(Repr::parse(&packet, ReservedBitsPolicy::Strict), Ok(repr));
                prop_assert_eq!(packet.payload(), &tail[..]);
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
                if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                    let rfc = Repr::parse(&packet, ReservedBitsPolicy::Rfc);
                    let strict = Repr::parse(&packet, ReservedBitsPolicy::Strict);
                    // Strict never accepts what Rfc rejects, and agrees when it accepts.
                    if let Ok(r) = strict { prop_assert_eq!(rfc, Ok(r)); }
                    prop_assert_eq!(packet.payload().len(), bytes.len() - HEADER_LEN);
                } else {
                    prop_assert!(bytes.len() < HEADER_LEN);
                }
            }
        }
    }
}
