//! VXLAN header: checked view, both receive policies, and emit/parse round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::vxlan::{HEADER_LEN, Packet, Repr, ReservedBitsPolicy};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::new_checked(data) else {
        assert!(
            data.len() < HEADER_LEN,
            "a full header must pass the length check"
        );
        return;
    };
    // After a successful check no accessor may panic.
    let _ = (packet.flags(), packet.reserved1(), packet.reserved2());
    assert_eq!(packet.payload().len(), data.len() - HEADER_LEN);

    let rfc = Repr::parse(&packet, ReservedBitsPolicy::Rfc);
    let strict = Repr::parse(&packet, ReservedBitsPolicy::Strict);
    // Strict accepts a subset of what the RFC policy accepts, and reads the same VNI.
    if let Ok(repr) = strict {
        assert_eq!(rfc, Ok(repr));
    }
    let Ok(repr) = rfc else { return };
    assert_eq!(repr.vni, packet.vni());

    // What we emit, both policies accept, with the payload untouched.
    let mut buf = data.to_vec();
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    let again = Packet::new_checked(&buf[..]).expect("emitted header is whole");
    assert_eq!(Repr::parse(&again, ReservedBitsPolicy::Strict), Ok(repr));
    assert_eq!(again.payload(), packet.payload());
    assert_eq!(repr.buffer_len(), HEADER_LEN);
});
