//! Regressions found by the cargo-fuzz targets in `fuzz/` (see RELIABILITY.md, "Fuzzing"). The crash
//! inputs themselves are kept as seeds in `fuzz/seeds/TARGET/`; these tests state the bug.

// In the browser (`wasm-pack test core`, suite `wasm-pack-core`) these same tests run as
// wasm-bindgen tests: the playground runs this code on a 32-bit target.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::ops::Range;

use vtep_core::vtep::{DropReason, Input, NetworkConfig, Output, Vtep, VtepConfig};
use vtep_core::wire::outer::Transport;
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address, vxlan};
use vtep_core::{Destination, Instant, PortId, Vni};

const LOCAL: IpAddress = IpAddress::Ipv4(Ipv4Address::new(10, 200, 0, 2));
const HOST: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);

fn drain(vtep: &mut Vtep) -> Vec<Output> {
    let mut out = Vec::new();
    loop {
        match vtep.poll_output() {
            Output::Timeout(_) => return out,
            other => out.push(other),
        }
    }
}

/// `frame` (a range of `buf`) from local `port`, and what the VTEP then outputs.
fn from_port(
    vtep: &mut Vtep,
    now: Instant,
    port: PortId,
    buf: &mut [u8],
    frame: Range<usize>,
) -> Vec<Output> {
    vtep.handle_input(now, Input::Local { port, buf, frame });
    drain(vtep)
}

/// vtep_ops: a datagram whose outer source is this VTEP's own address taught the FDB that a
/// MAC lives behind ourselves, and frames to that MAC were then sent to our own address.
#[test]
fn underlay_from_own_address_is_not_learned() {
    let now = Instant::from_secs(1);
    let vni = Vni::new(42).unwrap();
    let mut vtep = Vtep::new(VtepConfig::new(LOCAL), now).unwrap();
    vtep.add_network(NetworkConfig::new(vni), now).unwrap();
    let port = vtep.add_port(vni).unwrap();

    // VXLAN, VNI 42, around a broadcast frame from HOST.
    let mut buf = vec![0u8; vxlan::HEADER_LEN];
    vxlan::Repr { vni }.emit(&mut vxlan::Packet::new_unchecked(&mut buf[..]));
    buf.extend_from_slice(&[0xff; 6]);
    buf.extend_from_slice(&HOST.0);
    buf.extend_from_slice(&[0x08, 0x00]);
    buf.resize(vxlan::HEADER_LEN + 60, 0);
    let payload = 0..buf.len();
    vtep.handle_input(
        now,
        Input::Underlay {
            from: LOCAL,
            transport: Transport::Udp {
                src_port: 50000,
                dst_port: 4789,
            },
            buf: &mut buf,
            payload,
        },
    );
    let outputs = drain(&mut vtep);
    assert!(
        !outputs.iter().any(|o| matches!(o, Output::Deliver(_))),
        "{outputs:?}"
    );
    assert_eq!(vtep.fdb().destination(vni, &HOST), None);
    assert_eq!(
        vtep.global_counters().drops.get(DropReason::NotAPeer),
        1,
        "counted as a datagram from no peer"
    );

    // A frame for HOST from the local port is flooded (to nobody), never sent to ourselves.
    let mut frame = vec![0u8; 128];
    frame.extend_from_slice(&HOST.0);
    frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    frame.resize(128 + 60, 0);
    let range = 128..frame.len();
    for output in from_port(&mut vtep, now, port, &mut frame, range) {
        if let Output::Transmit(t) = output {
            panic!("sent to {} ({t:?})", t.outer.dst);
        }
    }
    assert_eq!(
        vtep.fdb()
            .destination(vni, &EthernetAddress([2, 0, 0, 0, 0, 2])),
        Some(Destination::Local(PortId(0)))
    );
}

/// wire_ndisc and vtep_ops: a Neighbour Solicitation from a multicast source address (which no
/// packet may have, RFC 4291 section 2.7) was answered, and the answer, to that group with the
/// Solicited flag set, was itself malformed. Such a solicitation is now refused as
/// `malformed_nd`.
#[test]
fn a_solicitation_from_a_multicast_source_is_refused_not_answered() {
    use vtep_core::wire::Ipv6Address;
    use vtep_core::wire::ndisc::{self, Malformed, Solicitation};
    let now = Instant::from_secs(1);
    let vni = Vni::new(42).unwrap();
    let mut vtep = Vtep::new(VtepConfig::new(LOCAL), now).unwrap();
    let mut network = NetworkConfig::new(vni);
    network.arp_proxy = true;
    vtep.add_network(network, now).unwrap();
    let port = vtep.add_port(vni).unwrap();
    let target = Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 2);
    vtep.add_static_neighbour(
        now,
        vni,
        IpAddress::Ipv6(target),
        EthernetAddress([2, 0, 0, 0, 0, 2]),
    )
    .unwrap();
    let ns = Solicitation {
        eth_src: HOST,
        eth_dst: EthernetAddress([0x33, 0x33, 0xff, 0, 0, 2]),
        src: Ipv6Address::new(0xff42, 0, 0, 0, 0, 0, 0, 1),
        dst: Ipv6Address::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2),
        traffic_class: 0,
        target,
        source_lladdr: Some(HOST),
    };
    let mut buf = vec![0u8; 64 + ns.buffer_len()];
    ns.emit(&mut buf[64..]);
    assert_eq!(ndisc::parse(&buf[64..]), Err(Malformed::MulticastSource));
    let frame = 64..buf.len();
    let outputs = from_port(&mut vtep, now, port, &mut buf, frame);
    assert!(
        outputs
            .iter()
            .all(|o| !matches!(o, Output::Deliver(_) | Output::Transmit(_))),
        "{outputs:?}"
    );
    let counters = vtep.counters(vni).unwrap();
    assert_eq!(counters.drops.get(DropReason::MalformedNd), 1);
    assert_eq!(counters.nd_suppressed, 0);
}
