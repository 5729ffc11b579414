//! Geneve header (RFC 8926 section 3.4) and its option TLVs (section 3.5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Virtual Network Identifier (VNI)       |    Reserved   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Variable-Length Options                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Option:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Option Class         |      Type     |R|R|R| Length  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  Variable-Length Option Data                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Both length fields count 4-byte words, not bytes; the accessors here speak bytes.

use super::{ETHERTYPE_TRANSPARENT_ETHERNET, Error, Fields, Result};
use crate::Vni;

/// Length of the base header, without options.
pub const HEADER_LEN: usize = 8;

/// Longest option area: the 6-bit Opt Len field counts up to 63 words.
pub const MAX_OPTIONS_LEN: usize = 63 * 4;

/// Length of an option's own header (class, type, length).
pub const OPTION_HEADER_LEN: usize = 4;

/// Longest data of one option: the 5-bit length field counts up to 31 words.
pub const MAX_OPTION_DATA_LEN: usize = 31 * 4;

mod field {
    use crate::wire::field::*;

    pub const VER_OPT_LEN: usize = 0;
    pub const FLAGS: usize = 1;
    pub const PROTOCOL: Field = 2..4;
    pub const VNI: Field = 4..7;
    pub const RESERVED: usize = 7;
    pub const OPTIONS_START: usize = 8;

    pub const OPT_CLASS: Field = 0..2;
    pub const OPT_TYPE: usize = 2;
    pub const OPT_LEN: usize = 3;
}

/// The base header's fields and their byte ranges (see [`super`]). The options follow, as long
/// as the header says ([`Packet::options`]), then the inner frame.
pub const FIELDS: Fields = &[
    ("Version", field::VER_OPT_LEN..field::VER_OPT_LEN + 1),
    ("Options length", field::VER_OPT_LEN..field::VER_OPT_LEN + 1),
    ("Flags", field::FLAGS..field::FLAGS + 1),
    ("Protocol", field::PROTOCOL),
    ("VNI", field::VNI),
    ("Reserved", field::RESERVED..field::RESERVED + 1),
];

const FLAG_OAM: u8 = 0x80;
const FLAG_CRITICAL: u8 = 0x40;
const FLAGS_RESERVED: u8 = 0x3f;
const OPT_TYPE_CRITICAL: u8 = 0x80;

packet! {
    /// A read/write view of a Geneve header, its options and the frame behind them.
    pub struct Packet;
    /// Wrap a buffer and check that it holds the base header and all the options the header
    /// announces.
    fn new_checked;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// After this succeeds no accessor can panic. Invalidated by
    /// [`set_options_len`](Self::set_options_len).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < self.header_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The 2-bit version; 0 is the only one defined.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_OPT_LEN] >> 6
    }

    /// Length of the options in bytes (the Opt Len field times 4).
    pub fn options_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_OPT_LEN] & 0x3f) * 4
    }

    /// The O bit: a control (OAM) packet, not to be forwarded to a tenant.
    pub fn oam(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_OAM != 0
    }

    /// The C bit: critical options are present.
    pub fn critical(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_CRITICAL != 0
    }

    /// The 6 reserved bits after O and C (receivers ignore them).
    pub fn reserved_flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS] & FLAGS_RESERVED
    }

    /// The EtherType of the payload; 0x6558 for an Ethernet frame.
    pub fn protocol_type(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PROTOCOL];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The 24-bit virtual network identifier.
    pub fn vni(&self) -> Vni {
        let b = &self.buffer.as_ref()[field::VNI];
        Vni::from_be_bytes([b[0], b[1], b[2]])
    }

    /// The reserved byte after the VNI.
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::RESERVED]
    }

    /// Length of base header plus options: where the payload starts.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }
}

/// Slices borrow from the buffer rather than the view (as in smoltcp), so they outlive the
/// `Packet`.
impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    fn bytes(&self) -> &'a [u8] {
        let buffer: &'a T = self.buffer;
        buffer.as_ref()
    }

    /// The raw option TLVs.
    pub fn options(&self) -> &'a [u8] {
        &self.bytes()[field::OPTIONS_START..self.header_len()]
    }

    /// The option TLVs, one by one.
    pub fn options_iter(&self) -> OptionsIter<'a> {
        OptionsIter::new(self.options())
    }

    /// The inner frame.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the version (2 bits; higher bits are dropped).
    pub fn set_version(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_OPT_LEN];
        *b = (*b & 0x3f) | ((value & 0x03) << 6);
    }

    /// Set the options length in bytes. Only whole words up to [`MAX_OPTIONS_LEN`] can be
    /// expressed: the value is rounded down to a multiple of 4 and cut to 6 bits.
    pub fn set_options_len(&mut self, bytes: usize) {
        let words = ((bytes / 4) & 0x3f) as u8;
        let b = &mut self.buffer.as_mut()[field::VER_OPT_LEN];
        *b = (*b & 0xc0) | words;
    }

    /// Set the O bit.
    pub fn set_oam(&mut self, value: bool) {
        self.set_flag(FLAG_OAM, value);
    }

    /// Set the C bit.
    pub fn set_critical(&mut self, value: bool) {
        self.set_flag(FLAG_CRITICAL, value);
    }

    /// Set the 6 reserved flag bits.
    pub fn set_reserved_flags(&mut self, value: u8) {
        let b = &mut self.buffer.as_mut()[field::FLAGS];
        *b = (*b & !FLAGS_RESERVED) | (value & FLAGS_RESERVED);
    }

    fn set_flag(&mut self, flag: u8, value: bool) {
        let b = &mut self.buffer.as_mut()[field::FLAGS];
        *b = if value { *b | flag } else { *b & !flag };
    }

    /// Set the protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        self.buffer.as_mut()[field::PROTOCOL].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the VNI.
    pub fn set_vni(&mut self, value: Vni) {
        self.buffer.as_mut()[field::VNI].copy_from_slice(&value.to_be_bytes());
    }

    /// Set the reserved byte after the VNI.
    pub fn set_reserved(&mut self, value: u8) {
        self.buffer.as_mut()[field::RESERVED] = value;
    }

    /// The option area, writable; its length is the one set with `set_options_len`.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS_START..end]
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

/// One option TLV.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneveOption<'a> {
    /// The option class: the namespace the type belongs to (IANA registry).
    pub class: u16,
    /// The type; its high bit marks the option critical.
    pub kind: u8,
    /// The option data, a multiple of 4 bytes.
    pub data: &'a [u8],
}

impl GeneveOption<'_> {
    /// A receiver that does not understand a critical option must drop the packet.
    pub fn is_critical(&self) -> bool {
        self.kind & OPT_TYPE_CRITICAL != 0
    }

    /// Bytes this option takes on the wire.
    pub fn buffer_len(&self) -> usize {
        OPTION_HEADER_LEN + self.data.len()
    }

    /// Write the option at the start of `buf`, returning the bytes written.
    ///
    /// [`Error::BadLength`] if the data is not whole words or longer than
    /// [`MAX_OPTION_DATA_LEN`]; [`Error::NoRoom`] if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if !self.data.len().is_multiple_of(4) || self.data.len() > MAX_OPTION_DATA_LEN {
            return Err(Error::BadLength);
        }
        let len = self.buffer_len();
        let out = buf.get_mut(..len).ok_or(Error::NoRoom)?;
        out[field::OPT_CLASS].copy_from_slice(&self.class.to_be_bytes());
        out[field::OPT_TYPE] = self.kind;
        out[field::OPT_LEN] = (self.data.len() / 4) as u8;
        out[OPTION_HEADER_LEN..].copy_from_slice(self.data);
        Ok(len)
    }
}

/// Iterates over option TLVs. A malformed TLV yields one [`Error::BadLength`] and ends the
/// iteration: the rest cannot be framed.
#[derive(Clone, Debug)]
pub struct OptionsIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> OptionsIter<'a> {
    /// Iterate over a raw option area (as [`Packet::options`] returns).
    pub fn new(options: &'a [u8]) -> OptionsIter<'a> {
        OptionsIter {
            rest: options,
            failed: false,
        }
    }
}

impl<'a> Iterator for OptionsIter<'a> {
    type Item = Result<GeneveOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let parsed = (|| {
            let header = self.rest.get(..OPTION_HEADER_LEN)?;
            let data_len = usize::from(header[field::OPT_LEN] & 0x1f) * 4;
            let data = self
                .rest
                .get(OPTION_HEADER_LEN..OPTION_HEADER_LEN + data_len)?;
            let option = GeneveOption {
                class: u16::from_be_bytes([header[0], header[1]]),
                kind: header[field::OPT_TYPE],
                data,
            };
            Some((option, OPTION_HEADER_LEN + data_len))
        })();
        match parsed {
            Some((option, len)) => {
                self.rest = &self.rest[len..];
                Some(Ok(option))
            }
            None => {
                self.failed = true;
                Some(Err(Error::BadLength))
            }
        }
    }
}

impl core::iter::FusedIterator for OptionsIter<'_> {}

/// A parsed Geneve header. `options` are raw but known to be well-formed TLVs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The virtual network the inner frame belongs to.
    pub vni: Vni,
    /// The O bit: a control packet.
    pub oam: bool,
    /// The C bit: critical options are present.
    pub critical: bool,
    /// The payload's EtherType.
    pub protocol: u16,
    /// Option TLVs, whole words, at most [`MAX_OPTIONS_LEN`] bytes.
    pub options: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parse a header this endpoint can act on.
    ///
    /// - version other than 0: [`Error::BadVersion`];
    /// - a malformed option TLV: [`Error::BadLength`];
    /// - any critical option, or the C bit: [`Error::UnknownCriticalOption`]. This endpoint
    ///   understands no option, and RFC 8926 3.5 says to drop packets with critical options
    ///   one does not understand; a C bit without a critical option is a sender bug that is
    ///   treated the same way, the safe side;
    /// - a payload other than Ethernet (0x6558): [`Error::Unsupported`].
    ///
    /// Non-critical options are skipped, as the RFC asks.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        if packet.version() != 0 {
            return Err(Error::BadVersion);
        }
        let options = packet.options();
        for option in OptionsIter::new(options) {
            if option?.is_critical() {
                return Err(Error::UnknownCriticalOption);
            }
        }
        if packet.critical() {
            return Err(Error::UnknownCriticalOption);
        }
        if packet.protocol_type() != ETHERTYPE_TRANSPARENT_ETHERNET {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            vni: packet.vni(),
            oam: packet.oam(),
            critical: packet.critical(),
            protocol: packet.protocol_type(),
            options,
        })
    }

    /// Length of the header this emits: base header plus options.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Write the header and copy the options; reserved fields zero.
    ///
    /// # Panics
    /// If `options` is not whole words or longer than [`MAX_OPTIONS_LEN`] (a `Repr` from
    /// `parse` never is), or the buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(&self, packet: &mut Packet<&mut T>) {
        assert!(
            self.options.len().is_multiple_of(4) && self.options.len() <= MAX_OPTIONS_LEN,
            "Geneve options must be whole 4-byte words, at most {MAX_OPTIONS_LEN} bytes"
        );
        packet.set_version(0);
        packet.set_options_len(self.options.len());
        packet.set_oam(self.oam);
        packet.set_critical(self.critical);
        packet.set_reserved_flags(0);
        packet.set_protocol_type(self.protocol);
        packet.set_vni(self.vni);
        packet.set_reserved(0);
        packet.options_mut().copy_from_slice(self.options);
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // data-driven case tables read best inline
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    use alloc::vec::Vec;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Frame 1 of tests/fixtures/geneve-options.pcap, UDP payload only: Scapy's Geneve
    /// (tests/fixtures/reencap.py) around the ARP request the Linux kernel sent in
    /// vxlan-ipv4.pcap; VNI 42, two non-critical options. (This machine's kernel has no Geneve
    /// device to capture from.)
    static PACKET_BYTES: [u8; 70] = [
        0x05, 0x00, 0x65, 0x58, 0x00, 0x00, 0x2a, 0x00, 0xff, 0x00, 0x01, 0x01, 0xde, 0xad, 0xbe,
        0xef, 0xff, 0x01, 0x02, 0x02, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x01, 0x08,
        0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x2a, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x2a, 0x02,
    ];
    const OPTIONS: core::ops::Range<usize> = 8..28;

    /// Frame 2 of the same file, header only: the C bit and a critical option (type 0x80).
    static CRITICAL_BYTES: [u8; 16] = [
        0x02, 0x40, 0x65, 0x58, 0x00, 0x00, 0x2a, 0x00, 0xff, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00,
        0x01,
    ];

    fn vni(v: u32) -> Vni {
        Vni::new(v).unwrap()
    }

    fn repr(options: &[u8]) -> Repr<'_> {
        Repr {
            vni: vni(42),
            oam: false,
            critical: false,
            protocol: ETHERTYPE_TRANSPARENT_ETHERNET,
            options,
        }
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.version(), 0);
        assert_eq!(packet.options_len(), 20);
        assert!(!packet.oam());
        assert!(!packet.critical());
        assert_eq!(packet.reserved_flags(), 0);
        assert_eq!(packet.protocol_type(), 0x6558);
        assert_eq!(packet.vni(), vni(42));
        assert_eq!(packet.reserved(), 0);
        assert_eq!(packet.header_len(), 28);
        assert_eq!(packet.options(), &PACKET_BYTES[OPTIONS]);
        assert_eq!(packet.payload(), &PACKET_BYTES[28..]);
        let options: Vec<_> = packet.options_iter().collect();
        assert_eq!(
            options,
            [
                Ok(GeneveOption {
                    class: 0xff00,
                    kind: 0x01,
                    data: &[0xde, 0xad, 0xbe, 0xef]
                }),
                Ok(GeneveOption {
                    class: 0xff01,
                    kind: 0x02,
                    data: &[1, 2, 3, 4, 5, 6, 7, 8]
                }),
            ]
        );
        assert!(options.iter().all(|o| !o.unwrap().is_critical()));
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
                ("Version", &|b| view(b).set_version(3)),
                ("Options length", &|b| {
                    view(b).set_options_len(MAX_OPTIONS_LEN);
                }),
                ("Flags", &|b| {
                    let mut p = view(b);
                    p.set_oam(true);
                    p.set_critical(true);
                    p.set_reserved_flags(0xff);
                }),
                ("Protocol", &|b| view(b).set_protocol_type(0xffff)),
                ("VNI", &|b| view(b).set_vni(Vni::MAX)),
                ("Reserved", &|b| view(b).set_reserved(0xff)),
            ],
        );
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5; 70];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version(0);
        packet.set_options_len(20);
        packet.set_oam(false);
        packet.set_critical(false);
        packet.set_reserved_flags(0);
        packet.set_protocol_type(0x6558);
        packet.set_vni(vni(42));
        packet.set_reserved(0);
        let opts = packet.options_mut();
        let n = GeneveOption {
            class: 0xff00,
            kind: 1,
            data: &[0xde, 0xad, 0xbe, 0xef],
        }
        .emit(opts)
        .unwrap();
        GeneveOption {
            class: 0xff01,
            kind: 2,
            data: &[1, 2, 3, 4, 5, 6, 7, 8],
        }
        .emit(&mut opts[n..])
        .unwrap();
        packet.payload_mut().copy_from_slice(&PACKET_BYTES[28..]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Repr::parse(&packet), Ok(repr(&PACKET_BYTES[OPTIONS])));
    }

    #[test]
    fn emit() {
        let r = repr(&PACKET_BYTES[OPTIONS]);
        assert_eq!(r.buffer_len(), 28);
        let mut bytes = [0xa5; 70];
        bytes[28..].copy_from_slice(&PACKET_BYTES[28..]);
        r.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn emit_flags_and_no_options() {
        let r = Repr {
            oam: true,
            critical: true,
            ..repr(&[])
        };
        let mut bytes = [0xa5; HEADER_LEN];
        r.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, [0x00, 0xc0, 0x65, 0x58, 0, 0, 42, 0]);
    }

    #[test]
    fn critical_option_from_capture_is_refused() {
        let packet = Packet::new_checked(&CRITICAL_BYTES[..]).unwrap();
        assert!(packet.critical());
        let option = packet.options_iter().next().unwrap().unwrap();
        assert!(option.is_critical());
        assert_eq!(Repr::parse(&packet), Err(Error::UnknownCriticalOption));
    }

    /// Header bytes (base + options) -> parse result, as (vni, oam, options length).
    fn check(bytes: &[u8], expect: Result<(u32, bool, usize)>) {
        let got = Packet::new_checked(bytes)
            .and_then(|p| Repr::parse(&p).map(|r| (r.vni.get(), r.oam, r.options.len())));
        assert_eq!(got, expect, "bytes {bytes:02x?}");
    }

    #[test]
    fn parse_cases() {
        use Error::*;
        let cases: &[(&[u8], Result<(u32, bool, usize)>)] = &[
            (
                &[0x00, 0x00, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00],
                Ok((0x12_3456, false, 0)),
            ),
            // O bit: parsed and reported; reserved bits are ignored.
            (&[0x00, 0x80, 0x65, 0x58, 0, 0, 1, 0], Ok((1, true, 0))),
            (&[0x00, 0x3f, 0x65, 0x58, 0, 0, 1, 0xff], Ok((1, false, 0))),
            // Versions 1..3.
            (&[0x40, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(BadVersion)),
            (&[0xc0, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(BadVersion)),
            // C bit with no options.
            (
                &[0x00, 0x40, 0x65, 0x58, 0, 0, 1, 0],
                Err(UnknownCriticalOption),
            ),
            // Critical option without C bit.
            (
                &[0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0x01, 0x02, 0x83, 0x00],
                Err(UnknownCriticalOption),
            ),
            // Non-critical option with no data.
            (
                &[0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0x01, 0x02, 0x03, 0x00],
                Ok((1, false, 4)),
            ),
            // Option length says 1 word of data but the area is 1 word in total.
            (
                &[0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0x01, 0x02, 0x03, 0x01],
                Err(BadLength),
            ),
            // Option area is announced but absent.
            (&[0x01, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(Truncated)),
            (&[0x3f, 0x00, 0x65, 0x58, 0, 0, 1, 0], Err(Truncated)),
            // IPv4 payload (0x0800), allowed by RFC 8926 but not carried here.
            (&[0x00, 0x00, 0x08, 0x00, 0, 0, 1, 0], Err(Unsupported)),
            (&[0x00, 0x00, 0x65], Err(Truncated)),
        ];
        for &(bytes, expect) in cases {
            check(bytes, expect);
        }
    }

    #[test]
    fn options_iter_stops_after_error() {
        // A good option, then a header that claims 31 words of data.
        let bytes = [0, 1, 2, 0, 0, 1, 3, 31, 0, 0, 0, 0];
        let got: Vec<_> = OptionsIter::new(&bytes).collect();
        assert_eq!(
            got,
            [
                Ok(GeneveOption {
                    class: 1,
                    kind: 2,
                    data: &[]
                }),
                Err(Error::BadLength)
            ]
        );
        // Fewer than 4 bytes left.
        assert_eq!(
            OptionsIter::new(&[0, 1, 2]).collect::<Vec<_>>(),
            [Err(Error::BadLength)]
        );
        assert_eq!(OptionsIter::new(&[]).count(), 0);
    }

    #[test]
    fn option_emit_rejects_bad_data() {
        let mut buf = [0u8; 256];
        let odd = GeneveOption {
            class: 0,
            kind: 0,
            data: &[1, 2, 3],
        };
        assert_eq!(odd.emit(&mut buf), Err(Error::BadLength));
        let long = GeneveOption {
            class: 0,
            kind: 0,
            data: &[0; 128],
        };
        assert_eq!(long.emit(&mut buf), Err(Error::BadLength));
        let fine = GeneveOption {
            class: 0,
            kind: 0,
            data: &[0; 124],
        };
        assert_eq!(fine.emit(&mut buf[..127]), Err(Error::NoRoom));
        assert_eq!(fine.emit(&mut buf), Ok(128));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn option() -> impl Strategy<Value = (u16, u8, Vec<u8>)> {
            (any::<u16>(), 0u8..0x80, 0usize..8).prop_flat_map(|(c, k, words)| {
                (
                    Just(c),
                    Just(k),
                    proptest::collection::vec(any::<u8>(), words * 4),
                )
            })
        }

        proptest! {
            #[test]
            fn emit_then_parse_round_trips(
                v in 0..=Vni::MAX.get(),
                oam: bool,
                opts in proptest::collection::vec(option(), 0..6),
            ) {
                let mut area = std::vec![0u8; 0];
                for (class, kind, data) in &opts {
                    let o = GeneveOption { class: *class, kind: *kind, data };
                    let mut b = std::vec![0; o.buffer_len()];
                    o.emit(&mut b).unwrap();
                    area.extend_from_slice(&b);
                }
                prop_assume!(area.len() <= MAX_OPTIONS_LEN);
                let r = Repr { vni: Vni::new(v).unwrap(), oam, ..repr(&area) };
                let mut bytes = std::vec![0xa5; r.buffer_len() + 3];
                r.emit(&mut Packet::new_unchecked(&mut bytes[..]));
                let packet = Packet::new_checked(&bytes[..]).unwrap();
                prop_assert_eq!(Repr::parse(&packet), Ok(r));
                let back: Vec<_> = packet.options_iter().map(|o| {
                    let o = o.unwrap();
                    (o.class, o.kind, o.data.to_vec())
                }).collect();
                prop_assert_eq!(back, opts);
                prop_assert_eq!(packet.payload(), &[0xa5; 3]);
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
                if let Ok(packet) = Packet::new_checked(&bytes[..]) {
                    prop_assert!(packet.header_len() <= bytes.len());
                    let _ = Repr::parse(&packet);
                    let total: usize = packet.options_iter().flatten().map(|o| o.buffer_len()).sum();
                    prop_assert!(total <= packet.options_len());
                    prop_assert_eq!(packet.payload().len(), bytes.len() - packet.header_len());
                }
                // The iterator alone over any bytes: terminates, never panics.
                prop_assert!(OptionsIter::new(&bytes).count() <= bytes.len() / 4 + 1);
            }
        }
    }
}
