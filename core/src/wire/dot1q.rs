//! The IEEE 802.1Q VLAN tag (and the 802.1ad service tag of the same shape).
//!
//! ```text
//! | dst MAC (6) | src MAC (6) | TPID (2) | PCP(3) DEI(1) VID(12) | EtherType (2) | ...
//! ```
//!
//! A VTEP maps a VLAN on its access side to a VNI, so it has to see, strip and push tags. The
//! functions work on whole frames in place: stripping moves the two MAC addresses forward
//! rather than the (longer) payload back.

use super::{ETHERNET_HEADER_LEN, Error, Result};

/// TPID of a customer VLAN tag (802.1Q).
pub const TPID_8021Q: u16 = 0x8100;
/// TPID of a service VLAN tag (802.1ad, "QinQ" outer tag).
pub const TPID_8021AD: u16 = 0x88a8;
/// Bytes a tag adds to a frame.
pub const TAG_LEN: usize = 4;

/// Destination + source MAC: what moves when a tag is stripped or pushed.
const MACS_LEN: usize = 12;

/// Whether the frame carries a VLAN tag right after the MAC addresses. False for a frame too
/// short to have an EtherType.
pub fn is_tagged(frame: &[u8]) -> bool {
    matches!(
        ethertype_at(frame, MACS_LEN),
        Some(TPID_8021Q | TPID_8021AD)
    )
}

fn ethertype_at(frame: &[u8], at: usize) -> Option<u16> {
    let b = frame.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// The tag control information.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tag {
    /// Priority code point, 3 bits.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN ID, 12 bits; 0 means "priority tag only", 4095 is reserved.
    pub vid: u16,
}

impl Tag {
    /// Decode a 16-bit TCI.
    pub const fn from_tci(tci: u16) -> Tag {
        Tag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
        }
    }

    /// Encode as a 16-bit TCI; out-of-range PCP and VID bits are dropped.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }

    /// The outermost tag of an Ethernet frame and the EtherType behind it, or `None` if the
    /// frame is untagged. [`Error::Truncated`] if the frame is too short for its header or
    /// its tag.
    pub fn parse(frame: &[u8]) -> Result<Option<(Tag, u16)>> {
        if frame.len() < ETHERNET_HEADER_LEN {
            return Err(Error::Truncated);
        }
        if !is_tagged(frame) {
            return Ok(None);
        }
        let (Some(tci), Some(inner)) = (
            ethertype_at(frame, MACS_LEN + 2),
            ethertype_at(frame, MACS_LEN + TAG_LEN),
        ) else {
            return Err(Error::Truncated);
        };
        Ok(Some((Tag::from_tci(tci), inner)))
    }
}

/// Remove the outermost tag in place: the MAC addresses move 4 bytes forward, and the untagged
/// frame is `frame[returned..]`. Returns 0 for an untagged frame (nothing to strip);
/// [`Error::Truncated`] if the frame is too short for its header or tag.
pub fn strip_tag(frame: &mut [u8]) -> Result<usize> {
    if Tag::parse(frame)?.is_none() {
        return Ok(0);
    }
    frame.copy_within(..MACS_LEN, TAG_LEN);
    Ok(TAG_LEN)
}

/// Add a tag in front of the frame at `buf[start..]`, using 4 bytes of headroom: the MAC
/// addresses move 4 bytes back and the tag goes between them and the EtherType. Returns the new
/// start. [`Error::NoRoom`] without headroom; [`Error::Truncated`] if `buf[start..]` is shorter
/// than an Ethernet header.
pub fn push_tag(buf: &mut [u8], start: usize, tpid: u16, tag: Tag) -> Result<usize> {
    if start < TAG_LEN {
        return Err(Error::NoRoom);
    }
    if buf.len() < start || buf.len() - start < ETHERNET_HEADER_LEN {
        return Err(Error::Truncated);
    }
    let new_start = start - TAG_LEN;
    buf.copy_within(start..start + MACS_LEN, new_start);
    let at = new_start + MACS_LEN;
    buf[at..at + 2].copy_from_slice(&tpid.to_be_bytes());
    buf[at + 2..at + 4].copy_from_slice(&tag.tci().to_be_bytes());
    Ok(new_start)
}

#[cfg(test)]
#[allow(clippy::type_complexity)] // data-driven case tables read best inline
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The start of an 802.1Q-tagged ARP request: VID 100, PCP 5, DEI 0. Assembled by hand (the
    /// kernel the fixtures were captured on has no 802.1Q devices); tshark 4.0 decodes it as
    /// `vlan.id 100, vlan.priority 5, vlan.dei 0, vlan.etype 0x0806`.
    static TAGGED: [u8; 22] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x00, 0xa0,
        0x64, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00,
    ];
    static UNTAGGED: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00,
    ];

    #[test]
    fn deconstruct() {
        assert!(is_tagged(&TAGGED));
        assert!(!is_tagged(&UNTAGGED));
        let expect = Tag {
            pcp: 5,
            dei: false,
            vid: 100,
        };
        assert_eq!(Tag::parse(&TAGGED), Ok(Some((expect, 0x0806))));
        assert_eq!(Tag::parse(&UNTAGGED), Ok(None));
    }

    /// Bytes from the TPID on -> parse result.
    fn check(after_macs: &[u8], expect: Result<Option<(Tag, u16)>>) {
        let mut frame = alloc::vec![0u8; MACS_LEN];
        frame.extend_from_slice(after_macs);
        assert_eq!(Tag::parse(&frame), expect, "{after_macs:02x?}");
    }

    #[test]
    fn parse_cases() {
        let tag = |pcp, dei, vid| Some((Tag { pcp, dei, vid }, 0x0800));
        let cases: &[(&[u8], Result<Option<(Tag, u16)>>)] = &[
            (&[0x81, 0x00, 0x00, 0x01, 0x08, 0x00], Ok(tag(0, false, 1))),
            (
                &[0x88, 0xa8, 0xff, 0xff, 0x08, 0x00],
                Ok(tag(7, true, 4095)),
            ),
            (&[0x81, 0x00, 0x10, 0x00, 0x08, 0x00], Ok(tag(0, true, 0))),
            (&[0x86, 0xdd], Ok(None)),
            (&[0x81, 0x00, 0x00, 0x01], Err(Error::Truncated)),
            (&[0x81], Err(Error::Truncated)),
            (&[], Err(Error::Truncated)),
        ];
        for &(bytes, expect) in cases {
            check(bytes, expect);
        }
        assert!(!is_tagged(&[0x81, 0x00]));
    }

    #[test]
    fn tci_round_trip_and_masking() {
        let tag = Tag {
            pcp: 5,
            dei: true,
            vid: 100,
        };
        assert_eq!(tag.tci(), 0xb064);
        assert_eq!(Tag::from_tci(0xb064), tag);
        assert_eq!(
            Tag {
                pcp: 0xff,
                dei: false,
                vid: 0xffff
            }
            .tci(),
            0xefff
        );
    }

    #[test]
    fn strip() {
        let mut frame = TAGGED;
        assert_eq!(strip_tag(&mut frame), Ok(TAG_LEN));
        assert_eq!(frame[TAG_LEN..], UNTAGGED);

        let mut frame = UNTAGGED;
        assert_eq!(strip_tag(&mut frame), Ok(0));
        assert_eq!(frame, UNTAGGED);

        let mut short = [0u8; 17];
        short[12..14].copy_from_slice(&TPID_8021Q.to_be_bytes());
        assert_eq!(strip_tag(&mut short), Err(Error::Truncated));
        assert_eq!(strip_tag(&mut short[..13]), Err(Error::Truncated));
    }

    #[test]
    fn push() {
        let mut buf = [0xa5u8; 22];
        buf[4..].copy_from_slice(&UNTAGGED);
        let tag = Tag {
            pcp: 5,
            dei: false,
            vid: 100,
        };
        assert_eq!(push_tag(&mut buf, 4, TPID_8021Q, tag), Ok(0));
        assert_eq!(buf, TAGGED);

        let mut buf = [0u8; 20];
        assert_eq!(push_tag(&mut buf, 3, TPID_8021Q, tag), Err(Error::NoRoom));
        assert_eq!(
            push_tag(&mut buf, 7, TPID_8021Q, tag),
            Err(Error::Truncated)
        );
        assert_eq!(
            push_tag(&mut buf, 30, TPID_8021Q, tag),
            Err(Error::Truncated)
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn push_then_strip_round_trips(
                frame in proptest::collection::vec(any::<u8>(), 14..40),
                tci: u16,
                ad: bool,
            ) {
                let tpid = if ad { TPID_8021AD } else { TPID_8021Q };
                let mut buf = std::vec![0u8; TAG_LEN];
                buf.extend_from_slice(&frame);
                let start = push_tag(&mut buf, TAG_LEN, tpid, Tag::from_tci(tci)).unwrap();
                prop_assert_eq!(start, 0);
                prop_assert_eq!(Tag::parse(&buf), Ok(Some((Tag::from_tci(tci), u16::from_be_bytes([frame[12], frame[13]])))));
                prop_assert_eq!(strip_tag(&mut buf), Ok(TAG_LEN));
                prop_assert_eq!(&buf[TAG_LEN..], &frame[..]);
            }

            #[test]
            fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
                let tagged = is_tagged(&bytes);
                let parsed = Tag::parse(&bytes);
                prop_assert_eq!(parsed.map(|t| t.is_some()).unwrap_or(tagged), tagged);
                let _ = strip_tag(&mut bytes);
            }
        }
    }
}
