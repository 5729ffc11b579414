//! NVGRE (GRE with key) header: checked view, parse, emit round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::nvgre::{HEADER_LEN, Packet, Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::new_checked(data) else {
        return;
    };
    let _ = (
        packet.checksum_present(),
        packet.key_present(),
        packet.sequence_present(),
        packet.must_be_zero_flags(),
        packet.version(),
        packet.protocol(),
        packet.key(),
        packet.vsid(),
        packet.flow_id(),
    );
    assert!(packet.header_len() <= data.len());
    assert_eq!(packet.payload().len(), data.len() - packet.header_len());
    let Ok(repr) = Repr::parse(&packet) else {
        return;
    };
    assert_eq!(packet.header_len(), HEADER_LEN, "only K may be set");
    assert_eq!(repr.vsid, packet.vsid());
    assert_eq!(packet.payload().len(), data.len() - HEADER_LEN);

    let mut buf = data.to_vec();
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    let again = Packet::new_checked(&buf[..]).expect("emitted header is whole");
    assert_eq!(Repr::parse(&again), Ok(repr));
    assert_eq!(again.payload(), packet.payload());
    assert_eq!(again.key(), packet.key());
});
