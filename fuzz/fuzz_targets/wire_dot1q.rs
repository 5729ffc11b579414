//! 802.1Q / 802.1ad tags: parse, strip in place, push in place, and that they undo each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::dot1q::{
    TAG_LEN, TPID_8021AD, TPID_8021Q, Tag, is_tagged, push_tag, strip_tag,
};

fuzz_target!(|input: (u8, u16, bool, &[u8])| {
    let (start, tci, qinq, data) = input;
    let tag = Tag::from_tci(tci);
    assert_eq!(tag.tci(), tci, "a TCI survives decode and encode");

    let parsed = Tag::parse(data);
    if let Ok(Some(_)) = parsed {
        assert!(is_tagged(data));
    }
    let mut stripped = data.to_vec();
    match strip_tag(&mut stripped) {
        Ok(0) => {
            assert!(!is_tagged(data));
            assert_eq!(stripped, data);
        }
        Ok(offset) => {
            assert_eq!(offset, TAG_LEN);
            let Ok(Some((_, inner))) = parsed else {
                panic!("stripped a tag that parse did not see");
            };
            let untagged = &stripped[offset..];
            assert_eq!(&untagged[..12], &data[..12], "MACs moved forward");
            assert_eq!(&untagged[12..14], &inner.to_be_bytes());
            assert_eq!(&untagged[12..], &data[12 + TAG_LEN..]);
        }
        Err(_) => assert!(parsed.is_err()),
    }

    // Push at an arbitrary start, then strip: the frame comes back.
    let start = usize::from(start);
    let tpid = if qinq { TPID_8021AD } else { TPID_8021Q };
    let mut buf = data.to_vec();
    let original = buf.get(start..).map(<[u8]>::to_vec);
    match push_tag(&mut buf, start, tpid, tag) {
        Ok(new_start) => {
            assert_eq!(new_start + TAG_LEN, start);
            let frame = &mut buf[new_start..];
            assert_eq!(
                Tag::parse(frame),
                Ok(Some((
                    tag,
                    u16::from_be_bytes([data[start + 12], data[start + 13]])
                )))
            );
            let offset = strip_tag(frame).expect("a pushed tag strips");
            assert_eq!(offset, TAG_LEN);
            assert_eq!(Some(frame[offset..].to_vec()), original);
        }
        Err(_) => assert!(start < TAG_LEN || data.len() < start + 14),
    }
});
