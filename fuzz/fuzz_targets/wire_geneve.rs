//! Geneve header and its option TLVs: checked view, option walker, parse, emit round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::ETHERTYPE_TRANSPARENT_ETHERNET;
use vtep_core::wire::geneve::{
    GeneveOption, HEADER_LEN, MAX_OPTION_DATA_LEN, MAX_OPTIONS_LEN, OPTION_HEADER_LEN, OptionsIter,
    Packet, Repr,
};

fuzz_target!(|data: &[u8]| {
    // The option walker over any bytes: it ends, frames within the input, fails at most once.
    let mut framed = 0;
    let mut items = 0;
    for option in OptionsIter::new(data) {
        items += 1;
        assert!(
            items <= data.len() / OPTION_HEADER_LEN + 1,
            "walker does not advance"
        );
        match option {
            Ok(option) => {
                assert!(option.data.len() <= MAX_OPTION_DATA_LEN);
                assert!(option.data.len().is_multiple_of(4));
                framed += option.buffer_len();
                assert!(framed <= data.len());
            }
            Err(_) => assert!(framed < data.len()),
        }
    }

    let Ok(packet) = Packet::new_checked(data) else {
        return;
    };
    let _ = (
        packet.version(),
        packet.oam(),
        packet.critical(),
        packet.reserved_flags(),
        packet.protocol_type(),
        packet.vni(),
        packet.reserved(),
    );
    assert!(packet.options_len() <= MAX_OPTIONS_LEN);
    assert_eq!(packet.options().len(), packet.options_len());
    assert_eq!(
        HEADER_LEN + packet.options().len() + packet.payload().len(),
        data.len()
    );
    let Ok(repr) = Repr::parse(&packet) else {
        return;
    };
    assert!(!repr.critical, "critical options are never accepted");
    assert_eq!(repr.protocol, ETHERTYPE_TRANSPARENT_ETHERNET);
    assert_eq!(repr.buffer_len(), packet.header_len());
    let options: Vec<GeneveOption<'_>> = OptionsIter::new(repr.options)
        .map(|o| o.expect("parse accepted only well-formed options"))
        .collect();
    assert!(options.iter().all(|o| !o.is_critical()));

    // Re-emitting the options one by one frames them the same way.
    let mut rebuilt = vec![0; repr.options.len()];
    let mut at = 0;
    for option in &options {
        at += option
            .emit(&mut rebuilt[at..])
            .expect("room for every option");
    }
    assert_eq!(at, repr.options.len());
    let reparsed: Vec<GeneveOption<'_>> = OptionsIter::new(&rebuilt)
        .map(|o| o.expect("emitted options parse"))
        .collect();
    assert_eq!(reparsed, options);

    // The whole header round-trips, payload untouched.
    let mut buf = data.to_vec();
    repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
    let again = Packet::new_checked(&buf[..]).expect("emitted header is whole");
    assert_eq!(Repr::parse(&again), Ok(repr));
    assert_eq!(again.payload(), packet.payload());
});
