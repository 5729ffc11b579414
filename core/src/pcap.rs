//! Classic libpcap files (the format `tcpdump -w` writes), in memory.
//!
//! The engine records what it sends and receives so the playground can offer a download that
//! Wireshark opens, and tests can feed real captures back in. No I/O: the writer fills a
//! `Vec<u8>`, the reader walks a byte slice.
//!
//! ```text
//! global header (24): magic u32, version 2.4, thiszone i32, sigfigs u32, snaplen u32, linktype u32
//! per record   (16): ts_sec u32, ts_usec (or ts_nsec) u32, incl_len u32, orig_len u32, data
//! ```

use alloc::vec::Vec;
use core::fmt;

use crate::Instant;

/// Link type of Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length written by [`PcapWriter`]: tcpdump's default, larger than any frame.
pub const SNAPLEN: u32 = 262_144;
/// Length of the global header.
pub const GLOBAL_HEADER_LEN: usize = 24;
/// Length of a record header.
pub const RECORD_HEADER_LEN: usize = 16;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const VERSION_MAJOR: u16 = 2;
const VERSION_MINOR: u16 = 4;

/// Builds a pcap file in memory: little-endian, microsecond timestamps, LINKTYPE_ETHERNET.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapWriter {
    bytes: Vec<u8>,
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    /// A file holding only the global header.
    pub fn new() -> Self {
        let mut bytes = Vec::with_capacity(GLOBAL_HEADER_LEN);
        bytes.extend_from_slice(&MAGIC_MICROS.to_le_bytes());
        bytes.extend_from_slice(&VERSION_MAJOR.to_le_bytes());
        bytes.extend_from_slice(&VERSION_MINOR.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes()); // thiszone: timestamps are UTC
        bytes.extend_from_slice(&0u32.to_le_bytes()); // sigfigs: always 0 in practice
        bytes.extend_from_slice(&SNAPLEN.to_le_bytes());
        bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        PcapWriter { bytes }
    }

    /// Append one Ethernet frame seen at `at`. Frames longer than [`SNAPLEN`] are cut (the
    /// record keeps the original length). Instants before the epoch are written as 0: the
    /// format has no negative times, and a virtual clock starts at 0 anyway.
    pub fn write_frame(&mut self, at: Instant, frame: &[u8]) {
        let micros = at.total_micros().max(0);
        let secs = u32::try_from(micros / 1_000_000).unwrap_or(u32::MAX);
        let usecs = (micros % 1_000_000) as u32;
        let incl = frame.len().min(SNAPLEN as usize);
        let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        self.bytes.reserve(RECORD_HEADER_LEN + incl);
        self.bytes.extend_from_slice(&secs.to_le_bytes());
        self.bytes.extend_from_slice(&usecs.to_le_bytes());
        self.bytes.extend_from_slice(&(incl as u32).to_le_bytes());
        self.bytes.extend_from_slice(&orig.to_le_bytes());
        self.bytes.extend_from_slice(&frame[..incl]);
    }

    /// The file so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The file, ending the writer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Why bytes could not be read as a pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcapError {
    /// Fewer than 24 bytes: no global header.
    TruncatedHeader {
        /// Bytes there were.
        len: usize,
    },
    /// Not a classic pcap magic number (pcapng files start with `0a 0d 0d 0a`).
    BadMagic(u32),
    /// A record header or its data runs past the end of the file.
    TruncatedRecord {
        /// Offset of the record header in the file.
        offset: usize,
    },
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::TruncatedHeader { len } => {
                write!(
                    f,
                    "not a pcap file: {len} bytes, shorter than the 24-byte header"
                )
            }
            PcapError::BadMagic(0x0a0d_0d0a) => {
                f.write_str("this is a pcapng file; only classic pcap is read (save as pcap)")
            }
            PcapError::BadMagic(magic) => {
                write!(f, "not a pcap file: magic number {magic:#010x}")
            }
            PcapError::TruncatedRecord { offset } => {
                write!(f, "pcap file truncated in the record at byte {offset}")
            }
        }
    }
}

impl core::error::Error for PcapError {}

/// One captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapRecord<'a> {
    /// When it was captured (microsecond resolution; nanosecond files are rounded down).
    pub at: Instant,
    /// The captured bytes (at most the snapshot length).
    pub data: &'a [u8],
    /// The frame's length on the wire, at least `data.len()` in a sane file.
    pub orig_len: u32,
}

/// Reads a classic pcap file from memory: either byte order, microsecond or nanosecond
/// timestamps. Iterates over records; a truncated record yields one error and ends it.
#[derive(Clone, Debug)]
pub struct PcapReader<'a> {
    bytes: &'a [u8],
    offset: usize,
    big_endian: bool,
    nanos: bool,
    link_type: u32,
    snaplen: u32,
}

impl<'a> PcapReader<'a> {
    /// Read the global header.
    pub fn new(bytes: &'a [u8]) -> Result<Self, PcapError> {
        let header = bytes
            .get(..GLOBAL_HEADER_LEN)
            .ok_or(PcapError::TruncatedHeader { len: bytes.len() })?;
        let magic_le = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let (big_endian, nanos) = match magic_le {
            MAGIC_MICROS => (false, false),
            MAGIC_NANOS => (false, true),
            m if m.swap_bytes() == MAGIC_MICROS => (true, false),
            m if m.swap_bytes() == MAGIC_NANOS => (true, true),
            _ => {
                let magic_be = magic_le.swap_bytes();
                return Err(PcapError::BadMagic(magic_be));
            }
        };
        let mut reader = PcapReader {
            bytes,
            offset: GLOBAL_HEADER_LEN,
            big_endian,
            nanos,
            link_type: 0,
            snaplen: 0,
        };
        reader.snaplen = reader.u32_at(16);
        reader.link_type = reader.u32_at(20);
        Ok(reader)
    }

    /// `u32` at `at`, which the caller has bounds-checked.
    fn u32_at(&self, at: usize) -> u32 {
        let b = [
            self.bytes[at],
            self.bytes[at + 1],
            self.bytes[at + 2],
            self.bytes[at + 3],
        ];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// The link type of every record ([`LINKTYPE_ETHERNET`] for the files this crate uses).
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// The snapshot length the capture was taken with.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Whether timestamps are in nanoseconds.
    pub fn is_nanosecond(&self) -> bool {
        self.nanos
    }

    /// Whether the file is big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }
}

impl<'a> Iterator for PcapReader<'a> {
    type Item = Result<PcapRecord<'a>, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        let offset = self.offset;
        if offset >= self.bytes.len() {
            return None;
        }
        let data_start = offset + RECORD_HEADER_LEN;
        let fail = |reader: &mut Self| {
            reader.offset = reader.bytes.len();
            Some(Err(PcapError::TruncatedRecord { offset }))
        };
        if data_start > self.bytes.len() {
            return fail(self);
        }
        let secs = self.u32_at(offset);
        let frac = self.u32_at(offset + 4);
        let incl = self.u32_at(offset + 8) as usize;
        let orig_len = self.u32_at(offset + 12);
        let Some(data) = data_start
            .checked_add(incl)
            .and_then(|end| self.bytes.get(data_start..end))
        else {
            return fail(self);
        };
        self.offset = data_start + incl;
        let micros = if self.nanos { frac / 1_000 } else { frac };
        let at = Instant::from_micros(i64::from(secs) * 1_000_000 + i64::from(micros));
        Some(Ok(PcapRecord { at, data, orig_len }))
    }
}

impl core::iter::FusedIterator for PcapReader<'_> {}

#[cfg(test)]
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The first record of tests/fixtures/vxlan-ipv4.pcap as tcpdump wrote it (global header +
    /// record header + 92 bytes), see tests/fixtures/capture.sh.
    static TCPDUMP: &[u8] = include_bytes!("../tests/fixtures/vxlan-ipv4.pcap");

    #[test]
    fn reads_tcpdump_output() {
        let reader = PcapReader::new(TCPDUMP).unwrap();
        assert_eq!(reader.link_type(), LINKTYPE_ETHERNET);
        assert_eq!(reader.snaplen(), SNAPLEN);
        assert!(!reader.is_nanosecond());
        let records: Vec<_> = reader.map(Result::unwrap).collect();
        let lens: Vec<_> = records.iter().map(|r| (r.data.len(), r.orig_len)).collect();
        assert_eq!(lens, [(92, 92), (92, 92), (148, 148), (148, 148)]);
        assert!(records.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(&records[0].data[12..14], &[0x08, 0x00]);
    }

    #[test]
    fn writer_bytes_exact() {
        let mut w = PcapWriter::new();
        w.write_frame(Instant::from_micros(1_500_002), &[0xaa, 0xbb]);
        #[rustfmt::skip]
        let expect: &[u8] = &[
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x00, 0x00, 0x04, 0x00, 1, 0, 0, 0,
            1, 0, 0, 0, 0x22, 0xa1, 0x07, 0x00, 2, 0, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb,
        ];
        assert_eq!(w.as_bytes(), expect);
        assert_eq!(w.into_bytes(), expect);
    }

    #[test]
    fn write_then_read() {
        let mut w = PcapWriter::default();
        let frames: [(i64, &[u8]); 3] =
            [(0, &[1, 2, 3]), (999_999, &[]), (4_000_000_123, &[9; 60])];
        for (t, f) in frames {
            w.write_frame(Instant::from_micros(t), f);
        }
        let got: Vec<_> = PcapReader::new(w.as_bytes())
            .unwrap()
            .map(|r| r.map(|r| (r.at.total_micros(), r.data, r.orig_len)))
            .collect();
        let expect: Vec<_> = frames
            .iter()
            .map(|&(t, f)| Ok((t, f, f.len() as u32)))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn negative_instant_is_written_as_zero_and_huge_frames_are_cut() {
        let mut w = PcapWriter::new();
        w.write_frame(Instant::from_micros(-5), &[1]);
        let big = vec![7u8; SNAPLEN as usize + 10];
        w.write_frame(Instant::from_micros(0), &big);
        let got: Vec<_> = PcapReader::new(w.as_bytes())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got[0].at, Instant::from_micros(0));
        assert_eq!(got[1].data.len(), SNAPLEN as usize);
        assert_eq!(got[1].orig_len, SNAPLEN + 10);
    }

    /// A one-record file in the given byte order and resolution.
    fn file(big_endian: bool, magic: u32, frac: u32) -> Vec<u8> {
        let w = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend_from_slice(&w(magic));
        f.extend_from_slice(&if big_endian {
            [0, 2, 0, 4]
        } else {
            [2, 0, 4, 0]
        }); // 2.4
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&w(65535));
        f.extend_from_slice(&w(1));
        for v in [3, frac, 2, 60] {
            f.extend_from_slice(&w(v));
        }
        f.extend_from_slice(&[0xde, 0xad]);
        f
    }

    #[test]
    fn byte_orders_and_resolutions() {
        // (big endian, magic, fraction) -> (micros, nanosecond file)
        let cases = [
            ((false, MAGIC_MICROS, 250_000), (3_250_000, false)),
            ((true, MAGIC_MICROS, 250_000), (3_250_000, false)),
            ((false, MAGIC_NANOS, 250_000_999), (3_250_000, true)),
            ((true, MAGIC_NANOS, 1_999), (3_000_001, true)),
        ];
        for ((be, magic, frac), (micros, nanos)) in cases {
            let bytes = file(be, magic, frac);
            let mut r = PcapReader::new(&bytes).unwrap();
            assert_eq!((r.is_big_endian(), r.is_nanosecond()), (be, nanos));
            assert_eq!((r.link_type(), r.snaplen()), (1, 65535));
            let rec = r.next().unwrap().unwrap();
            assert_eq!(
                rec,
                PcapRecord {
                    at: Instant::from_micros(micros),
                    data: &[0xde, 0xad],
                    orig_len: 60
                }
            );
            assert!(r.next().is_none());
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            PcapReader::new(&TCPDUMP[..23]).unwrap_err(),
            PcapError::TruncatedHeader { len: 23 }
        );
        let pcapng = [
            0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let err = PcapReader::new(&pcapng).unwrap_err();
        assert_eq!(err, PcapError::BadMagic(0x0a0d_0d0a));
        assert!(err.to_string().contains("pcapng"), "{err}");
        assert!(
            PcapReader::new(&[0u8; 24])
                .unwrap_err()
                .to_string()
                .contains("0x00000000")
        );

        // Cut inside the first record header, then inside its data.
        for cut in [24 + 1, 24 + 15, 24 + 16, 24 + 16 + 91] {
            let got: Vec<_> = PcapReader::new(&TCPDUMP[..cut]).unwrap().collect();
            assert_eq!(
                got,
                [Err(PcapError::TruncatedRecord { offset: 24 })],
                "cut at {cut}"
            );
        }
        // A whole first record, then a cut second one.
        let got: Vec<_> = PcapReader::new(&TCPDUMP[..24 + 16 + 92 + 3])
            .unwrap()
            .collect();
        assert!(got[0].is_ok());
        assert_eq!(
            got[1],
            Err(PcapError::TruncatedRecord {
                offset: 24 + 16 + 92
            })
        );
        assert_eq!(got.len(), 2);
        // incl_len near u32::MAX must not overflow the offset arithmetic.
        let mut huge = file(false, MAGIC_MICROS, 0);
        huge[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let got: Vec<_> = PcapReader::new(&huge).unwrap().collect();
        assert_eq!(got, [Err(PcapError::TruncatedRecord { offset: 24 })]);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..128), magic in 0usize..5) {
                // Give most inputs a valid magic so the record walk is exercised too.
                let magics = [MAGIC_MICROS.to_le_bytes(), MAGIC_MICROS.to_be_bytes(), MAGIC_NANOS.to_le_bytes(), MAGIC_NANOS.to_be_bytes()];
                if let (Some(m), true) = (magics.get(magic), bytes.len() >= 4) {
                    bytes[..4].copy_from_slice(m);
                }
                if let Ok(reader) = PcapReader::new(&bytes) {
                    let mut total = GLOBAL_HEADER_LEN;
                    let mut errors = 0;
                    for rec in reader {
                        match rec {
                            Ok(r) => total += RECORD_HEADER_LEN + r.data.len(),
                            Err(_) => errors += 1,
                        }
                    }
                    prop_assert!(errors <= 1);
                    prop_assert!(total <= bytes.len());
                    prop_assert_eq!(total == bytes.len(), errors == 0);
                }
            }

            #[test]
            fn write_read_round_trip(frames in proptest::collection::vec((0i64..(1 << 40), proptest::collection::vec(any::<u8>(), 0..80)), 0..6)) {
                let mut w = PcapWriter::new();
                for (t, f) in &frames {
                    w.write_frame(Instant::from_micros(*t), f);
                }
                let back: Vec<_> = PcapReader::new(w.as_bytes()).unwrap()
                    .map(|r| r.map(|r| (r.at.total_micros(), r.data.to_vec())))
                    .collect::<Result<_, _>>().unwrap();
                prop_assert_eq!(back, frames);
            }
        }
    }
}
