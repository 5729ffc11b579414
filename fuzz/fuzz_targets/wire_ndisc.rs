//! IPv6 Neighbour Discovery as the proxy reads it: any frame parses or is refused without a
//! panic; what parses emits back to a frame that parses the same; a solicitation's answer is a
//! valid, solicited, overriding advertisement for its target, to its asker. (Under
//! `cfg(fuzzing)` smoltcp accepts every checksum; the unit tests check the sums.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::EthernetAddress;
use vtep_core::wire::ndisc::{self, ADVERT_FRAME_LEN, Message, NeighborFlags};

fn emitted(message: &Message) -> Vec<u8> {
    let mut out = vec![0u8; message.buffer_len()];
    message.emit(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let (router, frame) = match data.split_first() {
        Some((first, rest)) => (first & 1 == 1, rest),
        None => (false, data),
    };
    let Ok(Some(message)) = ndisc::parse(frame) else {
        return;
    };
    assert_eq!(ndisc::parse(&emitted(&message)), Ok(Some(message)));
    let Message::Solicitation(ns) = message else {
        return;
    };
    assert!(!ns.target.is_multicast());
    if ns.is_probe() {
        assert!(ndisc::is_solicited_node(&ns.dst) && ns.source_lladdr.is_none());
        return;
    }
    let owner = EthernetAddress([0x02, 0, 0, 0, 0x4e, 0x44]);
    let na = ns.answer(owner, router);
    let bytes = emitted(&Message::Advertisement(na));
    assert_eq!(bytes.len(), ADVERT_FRAME_LEN);
    let Ok(Some(Message::Advertisement(back))) = ndisc::parse(&bytes) else {
        panic!("the answer does not parse: {bytes:02x?}");
    };
    assert_eq!(back, na);
    assert_eq!(back.eth_dst, ns.reply_to());
    assert_eq!(
        (back.src, back.dst, back.target),
        (ns.target, ns.src, ns.target)
    );
    assert_eq!(back.target_lladdr, Some(owner));
    assert_eq!(back.traffic_class, ns.traffic_class & 0xf0);
    assert!(
        back.flags
            .contains(NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE)
    );
    assert_eq!(back.flags.contains(NeighborFlags::ROUTER), router);
});
