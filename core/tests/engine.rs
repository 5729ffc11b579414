//! The VTEP engine driven through its public API only, by a small deterministic underlay
//! (`common::Fabric`). The hostile-input catalogue is in `hostile.rs`, tenant isolation in
//! `isolation.rs`.

// In the browser (`wasm-pack test core`, suite `wasm-pack-core`) these same tests run as
// wasm-bindgen tests: the playground runs this code on a 32-bit target.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use common::*;
use vtep_core::fdb::Origin;
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{DropReason, Encapsulation, Event, NetworkConfig};
use vtep_core::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetFrame, IpAddress};
use vtep_core::{Destination, Duration, Instant, PortId, Vni};

#[test]
fn two_vteps_flood_then_learn_and_unicast_both_ways() {
    for encapsulation in Encapsulation::ALL {
        let mut f = Fabric::new(2, |n| NetworkConfig { encapsulation, ..n });
        // A broadcast from host 1 behind VTEP 0 is flooded to VTEP 1.
        let request = arp(ArpOperation::Request, (mac(1), host_ip(1)), host_ip(2));
        f.send(0, P0, &request);
        assert_eq!(
            f.take_delivered(),
            [Delivered {
                vtep: 1,
                port: P0,
                frame: request.clone()
            }],
            "{encapsulation}"
        );
        let wire = f.take_wire();
        assert_eq!(wire.len(), 1);
        // VTEP 1 learned host 1 behind VTEP 0: the reply is unicast, not flooded.
        let reply = frame(mac(2), mac(1), 46);
        f.send(1, P0, &reply);
        assert_eq!(
            f.take_delivered()[..],
            [Delivered {
                vtep: 0,
                port: P0,
                frame: reply
            }]
        );
        assert_eq!(f.take_wire().len(), 1);
        for (i, other) in [(0usize, 2u8), (1, 1)] {
            let entry = f.vteps[i].fdb().lookup(VNI, &mac(other)).unwrap();
            assert_eq!(
                entry.dest,
                Destination::Remote(underlay(other)),
                "{encapsulation}"
            );
            assert_eq!(entry.origin, Origin::Learned);
        }
        let c0 = f.vteps[0].counters(VNI).unwrap();
        let c1 = f.vteps[1].counters(VNI).unwrap();
        assert_eq!(
            (c0.flooded_frames, c0.flood_copies, c0.decap_frames),
            (1, 1, 1)
        );
        assert_eq!(
            (c1.flooded_frames, c1.encap_frames, c1.decap_frames),
            (0, 1, 1)
        );
    }
}

#[test]
fn three_vteps_replicate_broadcast_once_each_then_stop_flooding() {
    let mut f = Fabric::new(3, |n| n);
    f.who_has(host_ip(3));
    let mut receivers: Vec<usize> = f.take_delivered().iter().map(|d| d.vtep).collect();
    receivers.sort();
    assert_eq!(receivers, [1, 2], "each peer gets exactly one copy");
    assert_eq!(f.take_wire().len(), 2);
    // Host 3 answers; from now on 0 and 2 talk unicast.
    f.send(2, P0, &frame(mac(3), mac(1), 46));
    for _ in 0..10 {
        f.send(0, P0, &frame(mac(1), mac(3), 46));
        f.send(2, P0, &frame(mac(3), mac(1), 46));
    }
    let wire = f.take_wire();
    assert!(
        wire.iter().all(|(_, to, _)| *to != underlay(2)),
        "VTEP 1 hears nothing more"
    );
    assert_eq!(f.vteps[0].counters(VNI).unwrap().flooded_frames, 1);
    assert_eq!(f.vteps[2].counters(VNI).unwrap().flooded_frames, 0);
    assert_eq!(f.vteps[1].counters(VNI).unwrap().decap_frames, 1);
}

#[test]
fn a_migrated_host_is_followed_after_its_gratuitous_arp() {
    let mut f = Fabric::new(3, |n| n);
    // Host 9 lives behind VTEP 1 and talks to host 1 behind VTEP 0.
    f.send(1, P0, &frame(mac(9), mac(1), 46));
    assert_eq!(
        f.vteps[0].fdb().lookup(VNI, &mac(9)).unwrap().dest,
        Destination::Remote(underlay(2))
    );
    // It moves to VTEP 2 and announces itself with a gratuitous ARP.
    f.advance(Duration::from_secs(5));
    f.send(
        2,
        P0,
        &arp(ArpOperation::Request, (mac(9), host_ip(9)), host_ip(9)),
    );
    let entry = f.vteps[0].fdb().lookup(VNI, &mac(9)).unwrap();
    assert_eq!(entry.dest, Destination::Remote(underlay(3)));
    assert_eq!(entry.mobility_seq, 1);
    assert!(f.events.iter().any(|(i, e)| *i == 0
        && *e
            == Event::Moved {
                vni: VNI,
                mac: mac(9),
                from: Destination::Remote(underlay(2)),
                to: Destination::Remote(underlay(3)),
                seq: 1
            }));
    // Traffic to it now goes to VTEP 2 only.
    f.take_wire();
    f.send(0, P0, &frame(mac(1), mac(9), 46));
    let wire = f.take_wire();
    assert_eq!(wire.len(), 1);
    assert_eq!(wire[0].1, underlay(3));
}

#[test]
fn arp_suppression_answers_locally_and_sends_nothing() {
    let mut f = Fabric::new(2, proxy);
    f.vteps[0]
        .add_static_neighbour(f.now, VNI, host_ip(2).into(), mac(2))
        .unwrap();
    f.who_has(host_ip(2));
    assert!(f.take_wire().is_empty(), "no ARP crosses the underlay");
    let delivered = f.take_delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!((delivered[0].vtep, delivered[0].port), (0, P0));
    let eth = EthernetFrame::new_checked(&delivered[0].frame[..]).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (mac(2), mac(1)));
    let reply = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(
        reply,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: mac(2),
            source_protocol_addr: host_ip(2),
            target_hardware_addr: mac(1),
            target_protocol_addr: host_ip(1),
        }
    );
    assert_eq!(f.vteps[0].counters(VNI).unwrap().arp_suppressed, 1);
    // An unknown IP is flooded as usual.
    f.who_has(host_ip(7));
    assert_eq!(f.take_wire().len(), 1);
}

#[test]
fn under_arp_suppression_an_announcement_stays_local() {
    // Linux's `neigh_suppress` ports: a gratuitous ARP from a local port reaches the other
    // local ports, not the flood list (the control plane carries the address).
    let mut f = Fabric::new(2, proxy);
    let other_port = f.vteps[0].add_port(VNI).unwrap();
    f.who_has(host_ip(1));
    assert!(f.take_wire().is_empty(), "not over the tunnels");
    let delivered = f.take_delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].port, other_port);
    assert_eq!(
        f.vteps[0]
            .neighbours()
            .lookup(VNI, &IpAddress::Ipv4(host_ip(1)))
            .unwrap()
            .mac,
        mac(1),
        "snooped"
    );
    // Without suppression it is flooded like any broadcast.
    let mut g = Fabric::new(2, |n| n);
    g.who_has(host_ip(1));
    assert_eq!(g.take_wire().len(), 1);
}

#[test]
fn withdrawing_a_route_leaves_an_address_a_local_host_took_over() {
    let mut f = Fabric::new(2, proxy);
    let ip = IpAddress::Ipv4(host_ip(2));
    let route = |f: &mut Fabric| {
        let now = f.now;
        f.vteps[0]
            .install_route(
                now,
                VNI,
                mac(2),
                Some(ip),
                Destination::Remote(underlay(2)),
                1,
            )
            .unwrap();
    };
    // The route's own entry goes with it.
    route(&mut f);
    assert!(f.vteps[0].withdraw_neighbour(VNI, &ip));
    assert!(f.vteps[0].neighbours().lookup(VNI, &ip).is_none());
    // Host 2 announces itself at a local port: the address is its own now, not the route's.
    route(&mut f);
    f.send(
        0,
        P0,
        &arp(ArpOperation::Request, (mac(2), host_ip(2)), host_ip(2)),
    );
    assert!(!f.vteps[0].withdraw_neighbour(VNI, &ip));
    f.vteps[0].withdraw_route(VNI, &mac(2), Some(ip));
    let entry = f.vteps[0].neighbours().lookup(VNI, &ip).unwrap();
    assert_eq!((entry.mac, entry.origin), (mac(2), Origin::Learned));
}

#[test]
fn a_mac_flapping_between_a_port_and_routes_is_frozen() {
    // RFC 7432 15.1 under a control plane: the same MAC at a local port and behind another
    // VTEP's routes, each route and each frame a move; the fifth in the window freezes it.
    let mut f = Fabric::new(2, |n| NetworkConfig {
        learning: false,
        ..n
    });
    let mut seq = 0;
    let mut outcomes = Vec::new();
    for i in 0..6u64 {
        f.advance(Duration::from_secs(1));
        let now = f.now;
        if i % 2 == 0 {
            seq += 1;
            outcomes.push(format!(
                "{:?}",
                f.vteps[0]
                    .install_route(
                        now,
                        VNI,
                        mac(9),
                        None,
                        Destination::Remote(underlay(2)),
                        seq
                    )
                    .unwrap()
            ));
        } else {
            f.send(0, P0, &frame(mac(9), mac(1), 46));
            let entry = f.vteps[0].fdb().lookup(VNI, &mac(9)).unwrap();
            outcomes.push(format!("{:?} seq {}", entry.dest, entry.mobility_seq));
            seq = entry.mobility_seq;
        }
    }
    let entry = f.vteps[0].fdb().lookup(VNI, &mac(9)).unwrap();
    assert!(entry.frozen, "{outcomes:?}");
    // A frozen entry ignores routes and frames alike.
    let dest = entry.dest;
    let now = f.now;
    f.vteps[0]
        .install_route(now, VNI, mac(9), None, Destination::Remote(underlay(2)), 99)
        .unwrap();
    f.send(0, P0, &frame(mac(9), mac(1), 46));
    assert_eq!(f.vteps[0].fdb().lookup(VNI, &mac(9)).unwrap().dest, dest);
    assert!(f.vteps[0].counters(VNI).unwrap().duplicates_frozen >= 1);
}

#[test]
fn a_tenant_over_its_rate_is_limited_while_another_is_not() {
    // S7: tenant 5001 is capped at 1 Mbit/s, tenant 5002 is not.
    let other = Vni::new(5002).unwrap();
    let mut f = Fabric::new(2, |n| NetworkConfig {
        rate_limit: Some(RateLimit {
            bytes_per_sec: 125_000,
            burst_bytes: 3_000,
        }),
        ..n
    });
    for (i, v) in f.vteps.iter_mut().enumerate() {
        v.add_network(NetworkConfig::new(other), Instant::ZERO)
            .unwrap();
        assert_eq!(v.add_port(other).unwrap(), PortId(1));
        v.add_flood_peer(other, underlay(2 - i as u8)).unwrap();
    }
    // Both offer 1000-byte frames every millisecond (8 Mbit/s) for one second.
    for _ in 0..1000 {
        f.send(0, P0, &frame(mac(1), mac(2), 986));
        f.send(0, PortId(1), &frame(mac(1), mac(2), 986));
        f.advance(Duration::from_millis(1));
    }
    let capped = f.vteps[0].counters(VNI).unwrap();
    let free = f.vteps[0].counters(other).unwrap();
    assert_eq!(free.encap_frames, 1000);
    assert_eq!(free.drops.total(), 0);
    // 1 Mbit/s is 125 frames of 1000 bytes per second, plus the 3-frame burst.
    assert!(
        (120..=130).contains(&capped.encap_frames),
        "{}",
        capped.encap_frames
    );
    assert_eq!(
        capped.drops.get(DropReason::RateLimited),
        1000 - capped.encap_frames
    );
}

#[test]
fn learned_entries_age_out_on_timeout() {
    let mut f = Fabric::new(2, |n| n);
    f.send(1, P0, &frame(mac(2), mac(1), 46));
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(2)).is_some());
    f.advance(Duration::from_secs(299));
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(2)).is_some());
    f.advance(Duration::from_secs(2));
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(2)).is_none());
    assert!(f.events.iter().any(|(i, e)| *i == 0
        && *e
            == Event::AgedOut {
                vni: VNI,
                mac: mac(2),
                dest: Destination::Remote(underlay(2))
            }));
}

#[test]
fn local_ports_switch_without_encapsulation() {
    let mut f = Fabric::new(2, |n| n);
    let p1 = f.vteps[0].add_port(VNI).unwrap();
    f.send(0, p1, &frame(mac(5), mac(1), 46)); // flooded: VTEP 0 port 0 and VTEP 1
    f.take_delivered();
    f.take_wire();
    f.send(0, P0, &frame(mac(1), mac(5), 46));
    assert_eq!(
        f.take_delivered()
            .iter()
            .map(|d| (d.vtep, d.port))
            .collect::<Vec<_>>(),
        [(0, p1)]
    );
    assert!(f.take_wire().is_empty());
    // And a frame to the port it came from goes nowhere.
    f.send(0, P0, &frame(mac(1), mac(1), 46));
    assert_eq!(
        f.vteps[0]
            .counters(VNI)
            .unwrap()
            .drops
            .get(DropReason::SamePort),
        1
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use vtep_core::vtep::{Input, Output};
    use vtep_core::wire::outer::{self, MAX_HEADROOM};

    proptest! {
        /// Arbitrary bytes from the underlay or a port never panic, and every one is counted.
        #[test]
        fn garbage_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            from_port in any::<bool>(),
            dst_port in prop_oneof![Just(4789u16), Just(6081), any::<u16>()],
            gre in any::<bool>(),
        ) {
            let mut f = Fabric::new(2, |n| n);
            let mut buf = vec![0u8; MAX_HEADROOM];
            buf.extend_from_slice(&data);
            let range = MAX_HEADROOM..buf.len();
            let input = if from_port {
                Input::Local { port: P0, buf: &mut buf, frame: range }
            } else {
                let transport = if gre {
                    outer::Transport::Gre
                } else {
                    outer::Transport::Udp { src_port: 50000, dst_port }
                };
                Input::Underlay { from: underlay(2), transport, buf: &mut buf, payload: range }
            };
            f.vteps[0].handle_input(f.now, input);
            let mut outputs = 0;
            while !matches!(f.vteps[0].poll_output(), Output::Timeout(_)) {
                outputs += 1;
                prop_assert!(outputs < 100);
            }
            let c = f.vteps[0].counters(VNI).unwrap();
            let handled = c.drops.total() + f.vteps[0].global_counters().drops.total()
                + c.local_tx_frames + c.encap_frames;
            // One port per VTEP and one flood peer: a frame is delivered once, sent once or
            // dropped once, never two of these and never none.
            prop_assert_eq!(handled, 1, "every input is forwarded or counted as dropped, once");
        }
    }
}
