//! IPv6 neighbours over EVPN, speakers connected in memory: a host's Neighbour Advertisement
//! at one VTEP becomes a MAC/IP route with a 128-bit IP, the other VTEP's neighbour table holds
//! it and answers solicitations for it in place; a router's R flag travels in RFC 9047's
//! ARP/ND extended community both ways; link-local addresses travel too.

mod common;

use common::*;
use vtep_core::Duration;
use vtep_core::fdb::Origin;
use vtep_core::wire::bgp::{EvpnRoute, ExtCommunity, MpReach, MpUnreach};
use vtep_core::wire::ndisc::{self, Advertisement, Message, NeighborFlags, Solicitation};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv6Address};
use vtep_evpn::State;

/// A (10.0.0.1) connects to B (10.0.0.2).
fn pair() -> Net {
    let mut net = Net::new();
    net.add_pair(vtep_config(1), vtep_config(2));
    net
}

fn global(n: u16) -> Ipv6Address {
    Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, n)
}

fn link_local(n: u16) -> Ipv6Address {
    Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, n)
}

/// The unsolicited Neighbour Advertisement a host sends for `ip` (Override set; Router set
/// by a router), as after its address came up or it moved.
fn announce(mac: EthernetAddress, ip: Ipv6Address, router: bool) -> Vec<u8> {
    let mut flags = NeighborFlags::OVERRIDE;
    if router {
        flags |= NeighborFlags::ROUTER;
    }
    let na = Advertisement {
        eth_src: mac,
        eth_dst: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
        src: ip,
        dst: Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        traffic_class: 0,
        flags,
        target: ip,
        target_lladdr: Some(mac),
    };
    let mut out = vec![0u8; na.buffer_len()];
    na.emit(&mut out);
    out
}

/// The Neighbour Solicitation `mac` (at `src`) sends for `target`, to its solicited-node group.
fn solicit(mac: EthernetAddress, src: Ipv6Address, target: Ipv6Address) -> Vec<u8> {
    let t = target.octets();
    let ns = Solicitation {
        eth_src: mac,
        eth_dst: EthernetAddress([0x33, 0x33, 0xff, t[13], t[14], t[15]]),
        src,
        dst: Ipv6Address::new(
            0xff02,
            0,
            0,
            0,
            0,
            1,
            0xff00 | u16::from(t[13]),
            u16::from_be_bytes([t[14], t[15]]),
        ),
        traffic_class: 0,
        target,
        source_lladdr: Some(mac),
    };
    let mut out = vec![0u8; ns.buffer_len()];
    ns.emit(&mut out);
    out
}

/// The type-2 routes A sent B with an IPv6 address, each with its extended communities.
fn ipv6_routes(net: &Net) -> Vec<(IpAddress, Vec<ExtCommunity>)> {
    let mut out = Vec::new();
    for u in net.updates(0, 1) {
        let repr = parse_update(&u);
        let Some(MpReach::Evpn { routes, .. }) = repr.mp_reach else {
            continue;
        };
        let ecs: Vec<ExtCommunity> = repr
            .ext_communities
            .map_or(Vec::new(), |e| e.iter().collect());
        for route in routes.iter() {
            if let EvpnRoute::MacIp(r) = route
                && let Some(ip @ IpAddress::Ipv6(_)) = r.ip
            {
                out.push((ip, ecs.clone()));
            }
        }
    }
    out
}

fn nd_community(ecs: &[ExtCommunity]) -> Option<ExtCommunity> {
    ecs.iter()
        .copied()
        .find(|c| matches!(c, ExtCommunity::ArpNd { .. }))
}

#[test]
fn an_ipv6_host_travels_as_a_128_bit_mac_ip_route_and_is_answered_in_place() {
    let mut net = pair();
    let host = mac(1);
    net.local_frame(0, &announce(host, global(1), false));
    net.local_frame(0, &announce(host, link_local(1), false));
    net.run_for(Duration::from_secs(1));

    // On the wire: one route per address, IP length 128, no ARP/ND community (not a router).
    let sent = ipv6_routes(&net);
    let ips: Vec<IpAddress> = sent.iter().map(|(ip, _)| *ip).collect();
    assert_eq!(
        ips,
        [IpAddress::Ipv6(global(1)), IpAddress::Ipv6(link_local(1))]
    );
    assert!(sent.iter().all(|(_, ecs)| nd_community(ecs).is_none()));
    let raw = net.updates(0, 1);
    assert!(
        raw.iter().any(|u| u
            .windows(17)
            .any(|w| w[0] == 128 && w[1..] == global(1).octets())),
        "an IP length octet of 128 before the address"
    );

    // B holds both from the route, and answers a solicitation for them in place.
    let b = net.nodes[1].vtep.as_ref().unwrap();
    for ip in [global(1), link_local(1)] {
        let entry = b.neighbours().lookup(vni(), &IpAddress::Ipv6(ip)).unwrap();
        assert_eq!(
            (entry.mac, entry.origin, entry.router),
            (host, Origin::ControlPlane, false)
        );
    }
    let asker = mac(2);
    let (answers, sent) = net.local_frame(1, &solicit(asker, global(2), global(1)));
    assert_eq!(sent, 0, "nothing into the underlay");
    let Ok(Some(Message::Advertisement(na))) = ndisc::parse(&answers[0]) else {
        panic!("not an advertisement: {answers:02x?}");
    };
    assert_eq!((na.target, na.target_lladdr), (global(1), Some(host)));
    assert!(!na.flags.contains(NeighborFlags::ROUTER));

    // The host leaves A: every route of its MAC is withdrawn, B forgets its addresses.
    let (now, port) = (net.now, net.nodes[0].port.unwrap());
    net.nodes[0].speaker.handle_input(
        now,
        vtep_evpn::Input::Vtep(vtep_core::vtep::Event::AgedOut {
            vni: vni(),
            mac: host,
            dest: vtep_core::Destination::Local(port),
        }),
    );
    net.run_for(Duration::from_secs(1));
    let withdrawn = net
        .updates(0, 1)
        .iter()
        .filter_map(|u| match parse_update(u).mp_unreach {
            Some(MpUnreach::Evpn { routes }) => Some(routes.iter().count()),
            _ => None,
        })
        .sum::<usize>();
    assert_eq!(withdrawn, 3, "the MAC and its two addresses");
    let b = net.nodes[1].vtep.as_ref().unwrap();
    let left: Vec<_> = b.neighbours().sorted();
    assert!(
        left.iter().all(|(_, _, e)| e.mac == asker),
        "only the asker, snooped from its solicitation: {left:?}"
    );
    assert_eq!(net.fdb(1, host), None);
}

#[test]
fn a_routers_r_flag_travels_both_ways_in_the_arp_nd_community() {
    let mut net = pair();
    let router = mac(1);
    net.local_frame(0, &announce(router, link_local(1), true));
    net.run_for(Duration::from_secs(1));
    let nd = nd_community(&ipv6_routes(&net)[0].1);
    assert_eq!(
        nd,
        Some(ExtCommunity::ArpNd {
            router: true,
            override_: true,
            immutable: false
        })
    );
    let entry = |net: &Net| {
        *net.nodes[1]
            .vtep
            .as_ref()
            .unwrap()
            .neighbours()
            .lookup(vni(), &IpAddress::Ipv6(link_local(1)))
            .unwrap()
    };
    assert!(entry(&net).router);
    // B's proxied answer says router, as the router's own would (RFC 4861 7.2.5: a host that
    // hears R clear drops the router from its default router list).
    let (answers, _) = net.local_frame(1, &solicit(mac(2), link_local(2), link_local(1)));
    let Ok(Some(Message::Advertisement(na))) = ndisc::parse(&answers[0]) else {
        panic!("not an advertisement");
    };
    assert!(na.flags.contains(NeighborFlags::ROUTER));
    let shown = net.nodes[1].speaker.received_routes(vtep_evpn::PeerId(0));
    assert!(shown.iter().any(|r| r.router), "{shown:?}");

    // It stops routing: its next advertisement has R clear; the route is replaced without
    // the community and B's entry follows.
    let before = net.updates(0, 1).len();
    net.local_frame(0, &announce(router, link_local(1), false));
    net.run_for(Duration::from_secs(1));
    let after = net.updates(0, 1);
    assert_eq!(after.len(), before + 1, "one UPDATE replaces the route");
    let last = parse_update(&after[before]);
    assert!(last.mp_unreach.is_none(), "replaced, not withdrawn");
    assert_eq!(
        nd_community(&last.ext_communities.unwrap().iter().collect::<Vec<_>>()),
        None
    );
    assert!(!entry(&net).router);
    assert_eq!(net.state(1, vtep_evpn::PeerId(0)), State::Established);
}

/// Both families on one MAC, side by side: the IPv4 address's route never carries the
/// community, whatever the engine says, and each lands in its table.
#[test]
fn ipv4_and_ipv6_addresses_of_one_mac_each_have_a_route() {
    let mut net = pair();
    let host = mac(1);
    net.frame_from(0, host);
    let now = net.now;
    for (ip, router) in [
        (
            IpAddress::Ipv4(vtep_core::wire::Ipv4Address::new(192, 168, 42, 1)),
            true,
        ),
        (IpAddress::Ipv6(global(1)), false),
    ] {
        net.nodes[0].speaker.handle_input(
            now,
            vtep_evpn::Input::Vtep(vtep_core::vtep::Event::NeighbourLearned {
                vni: vni(),
                ip,
                mac: host,
                router,
            }),
        );
    }
    net.run_for(Duration::from_secs(1));
    let local = net.nodes[0].speaker.local_routes();
    assert_eq!(local.iter().filter(|r| r.router).count(), 0, "{local:?}");
    let b = net.nodes[1].vtep.as_ref().unwrap();
    let mut ips: Vec<IpAddress> = b
        .neighbours()
        .sorted()
        .iter()
        .map(|(_, ip, _)| *ip)
        .collect();
    ips.sort_by_key(|ip| matches!(ip, IpAddress::Ipv6(_)));
    assert_eq!(
        ips,
        [
            IpAddress::Ipv4(vtep_core::wire::Ipv4Address::new(192, 168, 42, 1)),
            IpAddress::Ipv6(global(1))
        ]
    );
}
