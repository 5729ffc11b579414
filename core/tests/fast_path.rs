//! The shortcuts of the local data path change nothing a driver can see: a port finds its
//! network after other networks are removed, a port's remembered source entry never hides a
//! move or a removal, and a unicast encapsulation is counted when it is polled, as a fan-out
//! copy is.

// In the browser (`wasm-pack test core`, suite `wasm-pack-core`) these same tests run as
// wasm-bindgen tests: the playground runs this code on a 32-bit target.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use vtep_core::vtep::{Event, Input, NetworkConfig, Output, Transmit, Vtep, VtepConfig};
use vtep_core::wire::outer::{MAX_HEADROOM, Transport};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address, flow};
use vtep_core::{Destination, Instant, PortId, Vni};

fn ip(n: u8) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n))
}

fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([2, 0, 0, 0, 0, n])
}

fn vni(n: u32) -> Vni {
    Vni::from_u24_truncating(n)
}

/// A UDP/IPv4 frame from `src` to `dst`, with headroom in front.
fn frame(src: EthernetAddress, dst: EthernetAddress) -> Vec<u8> {
    let mut buf = vec![0u8; MAX_HEADROOM + 64];
    let f = &mut buf[MAX_HEADROOM..];
    f[..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 17;
    f[26..34].copy_from_slice(&[192, 168, 1, 1, 192, 168, 1, 2]);
    f[34..38].copy_from_slice(&[0x30, 0x39, 0x00, 0x35]);
    buf
}

/// Gives `vtep` the frame from `port` and returns its outputs.
fn send(vtep: &mut Vtep, now: Instant, port: PortId, buf: &mut [u8]) -> Vec<Output> {
    let frame = MAX_HEADROOM..buf.len();
    vtep.handle_input(now, Input::Local { port, buf, frame });
    let mut outputs = Vec::new();
    loop {
        match vtep.poll_output() {
            Output::Timeout(_) => return outputs,
            output => outputs.push(output),
        }
    }
}

/// The transmits and the events among `outputs`, each in order.
fn by_kind(outputs: &[Output]) -> (Vec<&Transmit>, Vec<&Event>) {
    let (mut transmits, mut events) = (Vec::new(), Vec::new());
    for output in outputs {
        match output {
            Output::Transmit(t) => transmits.push(t),
            Output::Event(e) => events.push(e),
            _ => {}
        }
    }
    (transmits, events)
}

#[test]
fn ports_follow_their_network_when_another_is_removed() {
    let now = Instant::ZERO;
    let mut vtep = Vtep::new(VtepConfig::new(ip(1)), now).unwrap();
    let mut ports = Vec::new();
    for n in 1..=3 {
        vtep.add_network(NetworkConfig::new(vni(n)), now).unwrap();
        ports.push(vtep.add_port(vni(n)).unwrap());
        let peer = Destination::Remote(ip(10 + n as u8));
        vtep.add_static_fdb(now, vni(n), mac(100), peer).unwrap();
    }
    // VNI 3 takes VNI 1's place in the engine's tables.
    vtep.remove_network(vni(1)).unwrap();
    for (n, port) in [(2, ports[1]), (3, ports[2])] {
        let outputs = send(&mut vtep, now, port, &mut frame(mac(n as u8), mac(100)));
        let (sent, _) = by_kind(&outputs);
        assert_eq!(sent.len(), 1, "VNI {n}: {outputs:?}");
        assert_eq!(sent[0].vni, vni(n));
        assert_eq!(sent[0].outer.dst, ip(10 + n as u8));
        let counters = vtep.counters(vni(n)).unwrap();
        assert_eq!(
            (counters.local_rx_frames, counters.encap_frames),
            (1, 1),
            "VNI {n}"
        );
    }
}

#[test]
fn a_port_remembering_its_source_still_sees_moves_and_removals() {
    let now = Instant::ZERO;
    let mut vtep = Vtep::new(VtepConfig::new(ip(1)), now).unwrap();
    vtep.add_network(NetworkConfig::new(vni(7)), now).unwrap();
    let (a, b) = (
        vtep.add_port(vni(7)).unwrap(),
        vtep.add_port(vni(7)).unwrap(),
    );
    vtep.add_static_fdb(now, vni(7), mac(100), Destination::Remote(ip(2)))
        .unwrap();
    let learned = |outputs: &[Output]| {
        by_kind(outputs)
            .1
            .into_iter()
            .filter(|e| matches!(e, Event::Learned { .. } | Event::Moved { .. }))
            .count()
    };
    let from = |vtep: &mut Vtep, port| send(vtep, now, port, &mut frame(mac(5), mac(100)));
    assert_eq!(learned(&from(&mut vtep, a)), 1, "learned behind port a");
    assert_eq!(learned(&from(&mut vtep, a)), 0, "refreshed");
    assert_eq!(learned(&from(&mut vtep, b)), 1, "moved to port b");
    assert_eq!(learned(&from(&mut vtep, a)), 1, "moved back to port a");
    assert_eq!(
        vtep.fdb().lookup(vni(7), &mac(5)).unwrap().dest,
        Destination::Local(a)
    );
    vtep.fdb_mut().remove(vni(7), &mac(5));
    assert_eq!(
        learned(&from(&mut vtep, a)),
        1,
        "learned again after removal"
    );
    // A group source is refused whatever the port remembers.
    let outputs = send(
        &mut vtep,
        now,
        a,
        &mut frame(EthernetAddress::BROADCAST, mac(100)),
    );
    let (sent, events) = by_kind(&outputs);
    assert!(sent.is_empty());
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Dropped {
            reason: vtep_core::vtep::DropReason::InvalidSourceMac,
            ..
        }
    )));
}

#[test]
fn a_unicast_transmit_carries_the_flow_port_and_counts_when_polled() {
    let now = Instant::ZERO;
    let config = VtepConfig::new(ip(1));
    let (seed, (min, max)) = (config.hash_seed, config.source_ports);
    let mut vtep = Vtep::new(config, now).unwrap();
    vtep.add_network(NetworkConfig::new(vni(9)), now).unwrap();
    let port = vtep.add_port(vni(9)).unwrap();
    vtep.add_static_fdb(now, vni(9), mac(100), Destination::Remote(ip(2)))
        .unwrap();
    let mut buf = frame(mac(5), mac(100));
    let inner = buf[MAX_HEADROOM..].to_vec();
    let outputs = send(&mut vtep, now, port, &mut buf);
    let (sent, _) = by_kind(&outputs);
    assert_eq!(sent.len(), 1, "{outputs:?}");
    let t = sent[0];
    let src_port = flow::source_port(flow::flow_hash(&inner, seed), min, max);
    assert_eq!(
        t.outer.transport,
        Transport::Udp {
            src_port,
            dst_port: flow::VXLAN_PORT
        }
    );
    assert_eq!((t.outer.src, t.outer.dst, t.flooded), (ip(1), ip(2), false));
    assert_eq!(t.payload, MAX_HEADROOM - 8..buf.len());
    assert_eq!(&buf[t.payload.clone()][8..], &inner[..]);
    let counters = *vtep.counters(vni(9)).unwrap();
    assert_eq!(
        (counters.encap_frames, counters.encap_bytes),
        (1, t.payload.len() as u64)
    );

    // Not polled before the next input: discarded, and not counted.
    let mut buf = frame(mac(5), mac(100));
    let frame_range = MAX_HEADROOM..buf.len();
    vtep.handle_input(
        now,
        Input::Local {
            port,
            buf: &mut buf,
            frame: frame_range,
        },
    );
    let outputs = send(&mut vtep, now, port, &mut frame(mac(5), mac(100)));
    assert_eq!(by_kind(&outputs).0.len(), 1);
    assert_eq!(vtep.counters(vni(9)).unwrap().encap_frames, 2);
}
