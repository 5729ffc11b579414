//! NVGRE (RFC 7637): GRE (RFC 2784) with the key extension (RFC 2890), where the key holds a
//! 24-bit virtual subnet ID (VSID) and an 8-bit FlowID.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |0| |1|0|   Reserved0     | Ver |   Protocol Type 0x6558        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Virtual Subnet ID (VSID)        |    FlowID     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The view reads any GRE header's flags (so [`Packet::header_len`] is right for generic GRE
//! with checksum or sequence number), but the key accessors use NVGRE's layout, where the key
//! directly follows the protocol type.

use super::{ETHERTYPE_TRANSPARENT_ETHERNET, Error, Fields, Result};
use crate::Vni;

/// Length of an NVGRE header: GRE base header plus key.
pub const HEADER_LEN: usize = 8;

mod field {
    use crate::wire::field::*;

    pub const FLAGS_VERSION: Field = 0..2;
    pub const PROTOCOL: Field = 2..4;
    pub const KEY: Field = 4..8;
    pub const VSID: Field = 4..7;
    pub const FLOW_ID: usize = 7;
}

/// The NVGRE header's fields and their byte ranges (see [`super`]); the key is shown as its two
/// parts, VSID and FlowID. The inner frame follows.
pub const FIELDS: Fields = &[
    ("Flags / version", field::FLAGS_VERSION),
    ("Protocol", field::PROTOCOL),
    ("VSID", field::VSID),
    ("Flow ID", field::FLOW_ID..field::FLOW_ID + 1),
];

const FLAG_CHECKSUM: u16 = 0x8000;
const FLAG_KEY: u16 = 0x2000;
const FLAG_SEQUENCE: u16 = 0x1000;
/// Bits 1 (routing), 4 (strict source route) and 5: RFC 2784 section 2.3 says a receiver
/// MUST discard a packet where any of bits 1-5 is set, bits 2 and 3 being K and S since
/// RFC 2890.
const FLAGS_MUST_BE_ZERO: u16 = 0x4000 | 0x0800 | 0x0400;
const VERSION_MASK: u16 = 0x0007;

packet! {
    /// A read/write view of an NVGRE (GRE with key) header and the frame behind it.
    pub struct Packet;
    /// Wrap a buffer and check that it holds an 8-byte header and all the optional GRE fields
    /// the flags announce.
    fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// After this succeeds no accessor can panic.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < self.header_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The first 16 bits as they are: the C, K and S flags, the reserved bits and the version.
    pub fn flags_version(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::FLAGS_VERSION];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The C bit: a checksum (and reserved word) follows the protocol type.
    pub fn checksum_present(&self) -> bool {
        self.flags_version() & FLAG_CHECKSUM != 0
    }

    /// The K bit: a key follows. NVGRE requires it.
    pub fn key_present(&self) -> bool {
        self.flags_version() & FLAG_KEY != 0
    }

    /// The S bit: a sequence number follows.
    pub fn sequence_present(&self) -> bool {
        self.flags_version() & FLAG_SEQUENCE != 0
    }

    /// The flag bits a receiver must find clear (routing, strict source route, bit 5).
    pub fn must_be_zero_flags(&self) -> u16 {
        self.flags_version() & FLAGS_MUST_BE_ZERO
    }

    /// The 3-bit version; GRE is 0.
    pub fn version(&self) -> u8 {
        (self.flags_version() & VERSION_MASK) as u8
    }

    /// The EtherType of the payload; 0x6558 for NVGRE.
    pub fn protocol(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PROTOCOL];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// GRE header length the flags announce: 4, plus 4 for each of checksum, key, sequence.
    pub fn header_len(&self) -> usize {
        4 + 4
            * (usize::from(self.checksum_present())
                + usize::from(self.key_present())
                + usize::from(self.sequence_present()))
    }

    /// The 32-bit key, at NVGRE's place (bytes 4..8; only meaningful when the C bit is clear).
    pub fn key(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::KEY];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The virtual subnet ID: the key's upper 24 bits.
    pub fn vsid(&self) -> Vni {
        let b = &self.buffer.as_ref()[field::VSID];
        Vni::from_be_bytes([b[0], b[1], b[2]])
    }

    /// The FlowID: the key's low 8 bits, entropy for ECMP in the underlay.
    pub fn flow_id(&self) -> u8 {
        self.buffer.as_ref()[field::FLOW_ID]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The inner frame (after all the optional fields the flags announce), borrowed from the
    /// buffer rather than the view, so it outlives the `Packet`.
    pub fn payload(&self) -> &'a [u8] {
        let buffer: &'a T = self.buffer;
        &buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_flags_version(&mut self, value: u16) {
        self.buffer.as_mut()[field::FLAGS_VERSION].copy_from_slice(&value.to_be_bytes());
    }

    fn set_flag(&mut self, flag: u16, value: bool) {
        let v = self.flags_version();
        self.set_flags_version(if value { v | flag } else { v & !flag });
    }

    /// Clear all flags and reserved bits and the version.
    pub fn clear_flags(&mut self) {
        self.set_flags_version(0);
    }

    /// Set the C bit.
    pub fn set_checksum_present(&mut self, value: bool) {
        self.set_flag(FLAG_CHECKSUM, value);
    }

    /// Set the K bit.
    pub fn set_key_present(&mut self, value: bool) {
        self.set_flag(FLAG_KEY, value);
    }

    /// Set the S bit.
    pub fn set_sequence_present(&mut self, value: bool) {
        self.set_flag(FLAG_SEQUENCE, value);
    }

    /// Set the version (3 bits; higher bits are dropped).
    pub fn set_version(&mut self, value: u8) {
        let v = self.flags_version() & !VERSION_MASK;
        self.set_flags_version(v | (u16::from(value) & VERSION_MASK));
    }

    /// Set the protocol type.
    pub fn set_protocol(&mut self, value: u16) {
        self.buffer.as_mut()[field::PROTOCOL].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the whole 32-bit key.
    pub fn set_key(&mut self, value: u32) {
        self.buffer.as_mut()[field::KEY].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the VSID (upper 24 bits of the key).
    pub fn set_vsid(&mut self, value: Vni) {
        self.buffer.as_mut()[field::VSID].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the FlowID (low 8 bits of the key).
    pub fn set_flow_id(&mut self, value: u8) {
        self.buffer.as_mut()[field::FLOW_ID] = value;
    }

    /// The inner frame, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A parsed NVGRE header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// The virtual subnet the inner frame belongs to.
    pub vsid: Vni,
    /// Per-flow entropy; RFC 7637 lets the sender choose it and the receiver ignore it.
    pub flow_id: u8,
}

impl Repr {
    /// Parse an NVGRE header: version 0 ([`Error::BadVersion`]); K set, C and S clear and the
    /// RFC 2784 must-be-zero bits clear ([`Error::BadFlags`]); protocol 0x6558
    /// ([`Error::Unsupported`]).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != 0 {
            return Err(Error::BadVersion);
        }
        if !packet.key_present()
            || packet.checksum_present()
            || packet.sequence_present()
            || packet.must_be_zero_flags() != 0
        {
            return Err(Error::BadFlags);
        }
        if packet.protocol() != ETHERTYPE_TRANSPARENT_ETHERNET {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            vsid: packet.vsid(),
            flow_id: packet.flow_id(),
        })
    }

    /// Length of the header this emits.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header: only K set, version 0, protocol 0x6558.
    ///
    /// # Panics
    /// If the buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        packet.clear_flags();
        packet.set_key_present(true);
        packet.set_protocol(ETHERTYPE_TRANSPARENT_ETHERNET);
        packet.set_vsid(self.vsid);
        packet.set_flow_id(self.flow_id);
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // data-driven case tables read best inline
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Frame 1 of tests/fixtures/nvgre-ipv4.pcap, IP payload only: Scapy's GRE
    /// (tests/fixtures/reencap.py, K bit, key 0x00002a01) around the ARP request the Linux kernel
    /// sent in vxlan-ipv4.pcap. It is what `ip link add gt0 type gretap key 10753` sends; this
    /// machine's kernel has no gretap device to capture from.
    static PACKET_BYTES: [u8; 50] = [
        0x20, 0x00, 0x65, 0x58, 0x00, 0x00, 0x2a, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
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
        assert!(!packet.checksum_present());
        assert!(packet.key_present());
        assert!(!packet.sequence_present());
        assert_eq!(packet.must_be_zero_flags(), 0);
        assert_eq!(packet.version(), 0);
        assert_eq!(packet.protocol(), 0x6558);
        assert_eq!(packet.header_len(), 8);
        assert_eq!(packet.key(), 0x2a01);
        assert_eq!(packet.vsid(), vni(42));
        assert_eq!(packet.flow_id(), 1);
        assert_eq!(packet.payload(), &PACKET_BYTES[8..]);
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
                ("Flags / version", &|b| {
                    let mut p = view(b);
                    p.set_checksum_present(true);
                    p.set_key_present(true);
                    p.set_sequence_present(true);
                    p.set_version(7);
                }),
                ("Protocol", &|b| view(b).set_protocol(0xffff)),
                ("VSID", &|b| view(b).set_vsid(Vni::MAX)),
                ("Flow ID", &|b| view(b).set_flow_id(0xff)),
            ],
        );
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5; 50];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.clear_flags();
        packet.set_checksum_present(false);
        packet.set_key_present(true);
        packet.set_sequence_present(false);
        packet.set_version(0);
        packet.set_protocol(0x6558);
        packet.set_key(0xdead_beef);
        packet.set_vsid(vni(42));
        packet.set_flow_id(1);
        packet.payload_mut().copy_from_slice(&PACKET_BYTES[8..]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet),
            Ok(Repr {
                vsid: vni(42),
                flow_id: 1
            })
        );
    }

    #[test]
    fn emit() {
        let repr = Repr {
            vsid: vni(42),
            flow_id: 1,
        };
        assert_eq!(repr.buffer_len(), HEADER_LEN);
        let mut bytes = [0xa5; 50];
        bytes[8..].copy_from_slice(&PACKET_BYTES[8..]);
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, PACKET_BYTES);
    }

    /// Header bytes -> parse result as (vsid, flow id).
    fn check(bytes: &[u8], expect: Result<(u32, u8)>) {
        let got = Packet::new_checked(bytes)
            .and_then(|p| Repr::parse(&p))
            .map(|r| (r.vsid.get(), r.flow_id));
        assert_eq!(got, expect, "bytes {bytes:02x?}");
    }

    #[test]
    fn parse_cases() {
        use Error::*;
        let cases: &[(&[u8], Result<(u32, u8)>)] = &[
            (
                &[0x20, 0x00, 0x65, 0x58, 0xff, 0xff, 0xff, 0xfe],
                Ok((0xff_ffff, 0xfe)),
            ),
            // Reserved bits 6-12 are ignored on receipt (RFC 2784).
            (&[0x23, 0xf8, 0x65, 0x58, 0, 0, 1, 0], Ok((1, 0))),
            // No key.
            (&[0x00, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(BadFlags)),
            // Checksum present: 12-byte header.
            (
                &[0xa0, 0x00, 0x65, 0x58, 0, 0, 0, 0, 0, 0, 1, 0],
                Err(BadFlags),
            ),
            (&[0xa0, 0x00, 0x65, 0x58, 0, 0, 0, 0], Err(Truncated)),
            // Sequence number present.
            (
                &[0x30, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 7],
                Err(BadFlags),
            ),
            // Routing, strict source route, bit 5.
            (&[0x60, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(BadFlags)),
            (&[0x28, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(BadFlags)),
            (&[0x24, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(BadFlags)),
            // Version 1 is PPTP's enhanced GRE.
            (&[0x20, 0x01, 0x65, 0x58, 0, 0, 1, 0], Err(BadVersion)),
            // IPv4 over GRE, not Ethernet.
            (&[0x20, 0x00, 0x08, 0x00, 0, 0, 1, 0], Err(Unsupported)),
            (&[0x20, 0x00, 0x65, 0x58, 0, 0, 1], Err(Truncated)),
            (&[], Err(Truncated)),
        ];
        for &(bytes, expect) in cases {
            check(bytes, expect);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn emit_then_parse_round_trips(v in 0..=Vni::MAX.get(), flow_id: u8) {
                let repr = Repr { vsid: Vni::new(v).unwrap(), flow_id };
                let mut bytes = [0xa5; HEADER_LEN + 2];
                repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
                let packet = Packet::new_checked(&bytes[..]).unwrap();
                prop_assert_eq!(Repr::parse(&packet), Ok(repr));
                prop_assert_eq!(packet.key(), (v << 8) | u32::from(flow_id));
                prop_assert_eq!(packet.payload(), &[0xa5, 0xa5]);
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
                if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                    let _ = Repr::parse(&packet);
                    let _ = (packet.key(), packet.vsid(), packet.flow_id(), packet.protocol());
                    prop_assert_eq!(packet.payload().len(), bytes.len() - packet.header_len());
                }
            }
        }
    }
}
