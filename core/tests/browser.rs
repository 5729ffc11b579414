//! The core in a real browser (run by `wasm-pack test --headless --chrome core`): the same
//! engine the playground uses, exercised where the playground runs it.
#![cfg(target_arch = "wasm32")]

use vtep_core::vtep::{Input, NetworkConfig, Output, Vtep, VtepConfig};
use vtep_core::wire::outer::{self, MAX_HEADROOM};
use vtep_core::wire::{EthernetAddress, EthernetFrame, IpAddress, Ipv4Address, vxlan};
use vtep_core::{Destination, Instant, PortId, Vni, sample};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const VNI: Vni = Vni::from_u24_truncating(5001);

fn vtep(last: u8, peer: u8) -> Vtep {
    let ip = |n| IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n));
    let mut v = Vtep::new(VtepConfig::new(ip(last)), Instant::ZERO).unwrap();
    v.add_network(NetworkConfig::new(VNI), Instant::ZERO)
        .unwrap();
    v.add_port(VNI).unwrap();
    v.add_flood_peer(VNI, ip(peer)).unwrap();
    v
}

#[wasm_bindgen_test]
fn sample_frame_carries_vni_5001() {
    let bytes = sample::encapsulated_arp();
    let eth = EthernetFrame::new_checked(&bytes[..]).unwrap();
    let (_, payload) = outer::parse(eth.payload()).unwrap();
    let header = vxlan::Packet::new_checked(&eth.payload()[payload]).unwrap();
    assert_eq!(header.vni(), VNI);
}

#[wasm_bindgen_test]
fn a_frame_crosses_from_one_vtep_to_the_other_and_is_learned() {
    let (mut a, mut b) = (vtep(1, 2), vtep(2, 1));
    let host = EthernetAddress([2, 0, 0, 0, 0, 1]);
    let mut frame = vec![0u8; 60];
    frame[..6].copy_from_slice(&EthernetAddress::BROADCAST.0);
    frame[6..12].copy_from_slice(&host.0);
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    let mut buf = vec![0u8; MAX_HEADROOM];
    buf.extend_from_slice(&frame);
    let len = buf.len();
    a.handle_input(
        Instant::ZERO,
        Input::Local {
            port: PortId(0),
            buf: &mut buf,
            frame: MAX_HEADROOM..len,
        },
    );
    let mut packet = None;
    loop {
        match a.poll_output() {
            Output::Transmit(t) => {
                let whole = t.outer.emit(&mut buf, t.payload.clone()).unwrap();
                packet = Some(buf[whole].to_vec());
            }
            Output::Timeout(_) => break,
            _ => {}
        }
    }
    let mut packet = packet.expect("the broadcast is flooded to the peer");
    let (outer_repr, payload) = outer::parse(&packet).unwrap();
    b.handle_input(
        Instant::ZERO,
        Input::Underlay {
            from: outer_repr.src,
            transport: outer_repr.transport,
            buf: &mut packet,
            payload,
        },
    );
    let mut delivered = Vec::new();
    loop {
        match b.poll_output() {
            Output::Deliver(d) => delivered.push(packet[d.frame].to_vec()),
            Output::Timeout(_) => break,
            _ => {}
        }
    }
    assert_eq!(delivered, [frame]);
    assert_eq!(
        b.fdb().lookup(VNI, &host).map(|e| e.dest),
        Some(Destination::Remote(outer_repr.src))
    );
}
