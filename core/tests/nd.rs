//! ND suppression, IPv6's ARP suppression, through the engine's public API (`common::Fabric`):
//! solicitations for known targets answered in place and never in the underlay, unknown
//! targets flooded and learned from the answer, duplicate address detection left to the
//! owner, unsolicited advertisements moving MACs and addresses, control-plane routes with IPv6
//! addresses, the proxy off changing nothing; and, as properties, that any solicitation the
//! proxy answers is answered correctly while any malformed one is dropped and counted, never
//! answered. Malformed ND in the hostile catalogue's style is in `hostile.rs`.

// In the browser (`wasm-pack test core`, suite `wasm-pack-core`) the deterministic tests run
// as wasm-bindgen tests; the property tests are native only.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use common::*;
use vtep_core::vtep::{DropReason, Event, NetworkConfig};
use vtep_core::wire::ndisc::{self, ADVERT_FRAME_LEN, Message, NeighborFlags, Solicitation};
use vtep_core::wire::{EthernetAddress, IpAddress};
use vtep_core::{Destination, PortId};

/// Two VTEPs, their network configured by `network`, VTEP 0 holding host 2's IPv6 address as
/// a static neighbour at `at`.
fn knowing_host_2(network: impl Fn(NetworkConfig) -> NetworkConfig, at: EthernetAddress) -> Fabric {
    let mut f = Fabric::new(2, network);
    let now = f.now;
    f.vteps[0]
        .add_static_neighbour(now, VNI, v6(2), at)
        .unwrap();
    f
}

fn v6(n: u8) -> IpAddress {
    IpAddress::Ipv6(host_ip6(n))
}

/// The advertisement in `frame`, which must be one.
#[track_caller]
fn advert(frame: &[u8]) -> ndisc::Advertisement {
    match ndisc::parse(frame) {
        Ok(Some(Message::Advertisement(na))) => na,
        other => panic!("not an advertisement: {other:?}"),
    }
}

/// What VTEP `v` was told since the last call.
fn events(f: &mut Fabric, v: usize) -> Vec<Event> {
    let (mine, rest) = std::mem::take(&mut f.events)
        .into_iter()
        .partition(|(i, _)| *i == v);
    f.events = rest;
    mine.into_iter().map(|(_, e)| e).collect()
}

#[test]
fn a_solicitation_for_a_known_target_is_answered_in_place() {
    let mut f = knowing_host_2(proxy, mac(2));
    let ask = ns(mac(1), host_ip6(1), host_ip6(2));
    f.send(0, P0, &ns_frame(&ask));
    assert!(
        f.take_wire().is_empty(),
        "the solicitation crossed the underlay"
    );
    let got = f.take_delivered();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].vtep, got[0].port), (0, P0));
    assert_eq!(got[0].frame.len(), ADVERT_FRAME_LEN);
    // The answer is the target's own (and its checksum verified by the parse).
    let na = advert(&got[0].frame);
    assert_eq!(na, ask.answer(mac(2), false));
    assert_eq!(na.flags, NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE);
    assert_eq!((na.eth_dst, na.dst), (mac(1), host_ip6(1)));
    let c = f.vteps[0].counters(VNI).unwrap();
    assert_eq!(
        (c.nd_suppressed, c.arp_suppressed, c.flooded_frames),
        (1, 0, 0)
    );
    // Counted like ARP suppression, and the asker was learned from its option.
    let told = events(&mut f, 0);
    assert!(told.contains(&Event::NdSuppressed {
        vni: VNI,
        ip: host_ip6(2),
        mac: mac(2)
    }));
    assert!(told.contains(&Event::NeighbourLearned {
        vni: VNI,
        ip: v6(1),
        mac: mac(1),
        router: false
    }));
    // A router's answer says so.
    assert!(f.vteps[0].neighbours_mut().set_router(VNI, &v6(2), true));
    f.send(0, P0, &ns_frame(&ask));
    let na = advert(&f.take_delivered()[0].frame);
    assert!(na.flags.contains(NeighborFlags::ROUTER));
}

#[test]
fn a_solicitation_without_options_is_answered_to_its_ethernet_source() {
    let mut f = knowing_host_2(proxy, mac(2));
    // A reachability check: unicast to the target, no source link-layer address, 78 bytes,
    // so the 86-byte answer takes headroom in front of it.
    let check = Solicitation {
        eth_dst: mac(2),
        dst: host_ip6(2),
        source_lladdr: None,
        traffic_class: 0x2c,
        ..ns(mac(1), host_ip6(1), host_ip6(2))
    };
    let frame = ns_frame(&check);
    assert_eq!(frame.len(), 78);
    f.send(0, P0, &frame);
    assert!(f.take_wire().is_empty());
    let na = advert(&f.take_delivered()[0].frame);
    assert_eq!(na.eth_dst, mac(1));
    assert_eq!(
        na.traffic_class, 0x20,
        "the priority nibble, as the kernel copies it"
    );
    assert_eq!(na, check.answer(mac(2), false));
}

#[test]
fn unknown_targets_flood_and_the_answer_teaches_the_table() {
    let mut f = Fabric::new(2, proxy);
    let ask = ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2)));
    f.send(0, P0, &ask);
    assert_eq!(f.take_wire().len(), 1, "flooded to the one peer");
    let got = f.take_delivered();
    assert_eq!((got[0].vtep, &got[0].frame), (1, &ask));
    assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 0);
    // VTEP 1 snooped the asker from the underlay.
    assert_eq!(
        f.vteps[1].neighbours().lookup(VNI, &v6(1)).unwrap().mac,
        mac(1)
    );
    // Host 2 answers; VTEP 0 learns the target from the answer on its way through.
    let answer = ns(mac(1), host_ip6(1), host_ip6(2)).answer(mac(2), false);
    f.send(1, P0, &na_frame(&answer));
    assert_eq!(f.take_wire().len(), 1, "a unicast to host 1's VTEP");
    assert_eq!(f.take_delivered()[0].vtep, 0);
    assert_eq!(
        f.vteps[0].neighbours().lookup(VNI, &v6(2)).unwrap().mac,
        mac(2)
    );
    // The next solicitation stays home.
    f.send(0, P0, &ask);
    assert!(f.take_wire().is_empty());
    assert_eq!(
        advert(&f.take_delivered()[0].frame).target_lladdr,
        Some(mac(2))
    );
    assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 1);
}

#[test]
fn duplicate_address_detection_probes_reach_the_owner() {
    let mut f = knowing_host_2(proxy, mac(2));
    // Host 1 tries host 2's address: its probe is not answered by the proxy, which would
    // answer to the unspecified address, but flooded to the owner.
    let probe = ns_frame(&dad_probe(mac(1), host_ip6(2)));
    f.send(0, P0, &probe);
    assert_eq!(f.take_wire().len(), 1);
    let got = f.take_delivered();
    assert_eq!((got.len(), got[0].vtep, &got[0].frame), (1, 1, &probe));
    assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 0);
    // The unspecified source is nobody's address.
    assert_eq!(f.vteps[1].neighbours().len(), 0);
    // The owner defends it, to all nodes, and the prober hears it.
    let defence = unsolicited_na(mac(2), host_ip6(2));
    f.send(1, P0, &na_frame(&defence));
    let got = f.take_delivered();
    assert_eq!((got.len(), got[0].vtep), (1, 0));
    assert_eq!(advert(&got[0].frame), defence);
}

#[test]
fn an_unsolicited_advertisement_moves_the_mac_and_the_address() {
    let mut f = Fabric::new(3, proxy);
    // Host 2 announces itself behind VTEP 1: VTEP 0 learns its MAC there and its address.
    f.send(1, P0, &na_frame(&unsolicited_na(mac(2), host_ip6(2))));
    assert_eq!(
        f.vteps[0].fdb().lookup(VNI, &mac(2)).unwrap().dest,
        Destination::Remote(underlay(2))
    );
    assert_eq!(
        f.vteps[0].neighbours().lookup(VNI, &v6(2)).unwrap().mac,
        mac(2)
    );
    events(&mut f, 0);
    // It migrates behind VTEP 2 and announces itself again, as IPv6 hosts do after a move:
    // the MAC moves, as after a gratuitous ARP.
    f.send(2, P0, &na_frame(&unsolicited_na(mac(2), host_ip6(2))));
    assert_eq!(
        f.vteps[0].fdb().lookup(VNI, &mac(2)).unwrap().dest,
        Destination::Remote(underlay(3))
    );
    let moved = |e: &Event| match e {
        Event::Moved {
            mac: m,
            to: Destination::Remote(to),
            ..
        } => *m == mac(2) && *to == underlay(3),
        _ => false,
    };
    assert!(events(&mut f, 0).iter().any(moved));
    // Its replacement takes the address with another MAC: the address moves too, and the
    // proxy answers with the new MAC.
    f.send(2, P0, &na_frame(&unsolicited_na(mac(4), host_ip6(2))));
    assert!(events(&mut f, 0).contains(&Event::NeighbourLearned {
        vni: VNI,
        ip: v6(2),
        mac: mac(4),
        router: false
    }));
    f.take_delivered();
    f.take_wire();
    f.send(0, P0, &ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2))));
    assert!(f.take_wire().is_empty());
    assert_eq!(advert(&f.take_delivered()[0].frame).eth_src, mac(4));
}

/// A host that starts routing says so in its advertisements (R set): the entry follows and
/// the change is an event, which is what an EVPN speaker advertises (RFC 9161); the same
/// flag again is no news.
#[test]
fn a_change_of_the_router_flag_is_an_event() {
    let mut f = Fabric::new(2, proxy);
    let announce = |router: bool| {
        let mut na = unsolicited_na(mac(1), host_ip6(1));
        if router {
            na.flags |= NeighborFlags::ROUTER;
        }
        na_frame(&na)
    };
    let learned = |router: bool| Event::NeighbourLearned {
        vni: VNI,
        ip: v6(1),
        mac: mac(1),
        router,
    };
    f.send(0, P0, &announce(false));
    assert!(events(&mut f, 0).contains(&learned(false)));
    f.send(0, P0, &announce(true));
    assert!(events(&mut f, 0).contains(&learned(true)));
    assert!(f.vteps[0].neighbours().lookup(VNI, &v6(1)).unwrap().router);
    f.send(0, P0, &announce(true));
    let again = events(&mut f, 0);
    assert!(
        !again
            .iter()
            .any(|e| matches!(e, Event::NeighbourLearned { .. })),
        "{again:?}"
    );
    f.send(0, P0, &announce(false));
    assert!(events(&mut f, 0).contains(&learned(false)));
}

#[test]
fn control_plane_routes_carry_ipv6_neighbours() {
    let mut f = Fabric::new(2, proxy);
    let now = f.now;
    let route = |f: &mut Fabric| {
        f.vteps[0]
            .install_route(
                now,
                VNI,
                mac(2),
                Some(v6(2)),
                Destination::Remote(underlay(2)),
                1,
            )
            .unwrap()
    };
    route(&mut f);
    let ask = ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2)));
    f.send(0, P0, &ask);
    assert!(f.take_wire().is_empty());
    assert_eq!(advert(&f.take_delivered()[0].frame).eth_src, mac(2));
    // Withdrawn, the address is unknown again: flooded.
    assert!(f.vteps[0].withdraw_route(VNI, &mac(2), Some(v6(2))));
    f.send(0, P0, &ask);
    assert_eq!(f.take_wire().len(), 1);
    // Both families side by side on one MAC.
    route(&mut f);
    f.vteps[0]
        .install_route(
            now,
            VNI,
            mac(2),
            Some(IpAddress::Ipv4(host_ip(2))),
            Destination::Remote(underlay(2)),
            1,
        )
        .unwrap();
    let ips: Vec<IpAddress> = f.vteps[0]
        .neighbours()
        .sorted()
        .iter()
        .filter(|(_, _, e)| e.mac == mac(2))
        .map(|(_, ip, _)| *ip)
        .collect();
    assert_eq!(ips, [IpAddress::Ipv4(host_ip(2)), v6(2)]);
}

#[test]
fn with_the_proxy_off_nd_travels_untouched() {
    let mut f = knowing_host_2(|n| n, mac(2));
    let ask = ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2)));
    let mut bad_hop_limit = ask.clone();
    bad_hop_limit[21] = 64;
    let before = drops(&f.vteps[0]);
    for frame in [&ask, &bad_hop_limit] {
        f.send(0, P0, frame);
        let got = f.take_delivered();
        assert_eq!((got.len(), got[0].vtep, &got[0].frame), (1, 1, frame));
    }
    assert_drops(&f.vteps[0], &before, &[]);
    assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 0);
    assert_eq!(f.vteps[1].neighbours().len(), 0, "nothing snooped");
}

#[test]
fn an_asker_is_not_answered_with_its_own_mac() {
    let mut f = knowing_host_2(proxy, mac(1));
    f.send(0, P0, &ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2))));
    assert_eq!(f.take_wire().len(), 1, "flooded, as ARP is in that case");
    assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 0);
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A solicitation for a known target with any bytes changed, cut or added: no panic;
        /// if the proxy answers, the answer is exactly the target's answer to what the frame
        /// says; if the frame is malformed ND, it is one `malformed_nd` drop and nothing else
        /// (no answer, no flood, nothing learned); otherwise it is forwarded or answered.
        #[test]
        fn malformed_solicitations_are_dropped_and_valid_ones_answered_right(
            edits in proptest::collection::vec((0usize..90, any::<u8>()), 0..4),
            cut in proptest::option::of(0usize..90),
            tail in proptest::collection::vec(any::<u8>(), 0..12),
            router: bool,
        ) {
            let mut f = knowing_host_2(proxy, mac(2));
            f.vteps[0].neighbours_mut().set_router(VNI, &v6(2), router);
            let mut frame = ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2)));
            for (at, value) in &edits {
                if let Some(b) = frame.get_mut(*at) {
                    *b = *value;
                }
            }
            if let Some(cut) = cut {
                frame.truncate(cut);
            }
            frame.extend_from_slice(&tail);
            let parsed = ndisc::parse(&frame);
            let before = drops(&f.vteps[0]);
            let neighbours = f.vteps[0].neighbours().len();
            f.send(0, P0, &frame);
            let delivered = f.take_delivered();
            let wire = f.take_wire();
            match parsed {
                Err(_) => {
                    assert_drops(&f.vteps[0], &before, &[(Some(VNI), DropReason::MalformedNd, 1)]);
                    prop_assert!(delivered.is_empty() && wire.is_empty());
                    prop_assert_eq!(f.vteps[0].neighbours().len(), neighbours);
                    prop_assert!(f.vteps[0].fdb().lookup(VNI, &mac(1)).is_none());
                }
                Ok(Some(Message::Solicitation(ns)))
                    if !ns.is_probe()
                        && ns.target == host_ip6(2)
                        && ns.reply_to() != mac(2)
                        && EthernetAddress::from_bytes(&frame[6..12]).is_unicast()
                        && frame[6..12] != [0; 6] =>
                {
                    prop_assert!(wire.is_empty(), "a known target's solicitation left");
                    prop_assert_eq!(delivered.len(), 1);
                    prop_assert_eq!((delivered[0].vtep, delivered[0].port), (0, PortId(0)));
                    let na = advert(&delivered[0].frame);
                    prop_assert_eq!(na, ns.answer(mac(2), router));
                }
                Ok(_) => {
                    // Not ND, another message, or not answerable: never answered.
                    prop_assert!(delivered.iter().all(|d| d.vtep == 1));
                    prop_assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 0);
                }
            }
        }
    }
}
