//! The BGP codec under arbitrary bytes: framing, every message parser and the attribute and
//! route iterators never panic; what parses re-emits and parses again to the same Repr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::bgp::{self, Message, OpenRepr, UpdatePacket, UpdateRepr, open::OpenPacket};

fuzz_target!(|data: &[u8]| {
    let _ = bgp::frame_len(data);
    // The EVPN route parser on its own, over the same bytes.
    if bgp::evpn::check_nlri(data, 0).is_ok() {
        let routes: Vec<_> = bgp::evpn::routes_with_ranges(data, 0).collect();
        let total: usize = routes.iter().map(|(r, _)| r.len()).sum();
        assert_eq!(total, data.len(), "checked NLRI is read whole");
        for (range, route) in routes {
            let mut out = vec![0u8; route.buffer_len()];
            route.emit(&mut out);
            assert_eq!(&out[..], &data[range], "a route re-emits to its bytes");
        }
    }
    let message = match Message::parse(data) {
        Ok(m) => m,
        Err(e) => {
            // Every error names a NOTIFICATION or a milder action, and a span inside the input
            // or empty.
            let _ = e.notification(data);
            return;
        }
    };
    match message {
        Message::Open(repr) => {
            let packet = OpenPacket::new_checked(data).expect("parsed");
            let _ = packet.capabilities().count();
            let mut out = vec![0xa5; repr.buffer_len()];
            repr.emit(&mut out);
            let again = OpenRepr::parse(&OpenPacket::new_checked(&out[..]).expect("emitted OPEN"));
            assert_eq!(again, Ok(repr));
        }
        Message::Update(packet) => {
            for attribute in packet.attributes() {
                let Ok(a) = attribute else { break };
                assert!(a.range().end <= data.len());
            }
            for four_octet in [false, true] {
                let Ok((repr, _)) = UpdateRepr::parse(&packet, four_octet) else {
                    continue;
                };
                let len = repr.buffer_len();
                if len > bgp::MAX_MESSAGE_LEN {
                    // The MP attributes are re-emitted with the extended length: may not fit.
                    continue;
                }
                let mut out = vec![0xa5; len];
                assert_eq!(repr.emit(&mut out), len);
                let packet = UpdatePacket::new_checked(&out[..]).expect("emitted UPDATE frames");
                let (again, _) =
                    UpdateRepr::parse(&packet, four_octet).expect("emitted UPDATE parses");
                assert_eq!(again, repr);
            }
        }
        Message::Notification(repr) => {
            let mut out = vec![0xa5; repr.buffer_len()];
            repr.emit(&mut out);
            assert_eq!(Message::parse(&out), Ok(Message::Notification(repr)));
            let _ = repr.to_string();
        }
        Message::RouteRefresh(repr) => {
            let mut out = vec![0xa5; repr.buffer_len()];
            repr.emit(&mut out);
            assert_eq!(Message::parse(&out), Ok(Message::RouteRefresh(repr)));
        }
        Message::Keepalive => assert_eq!(data.get(16..18), Some(&[0, 19][..])),
    }
});
