//! The BGP EVPN scenarios (E1..E4) and the control plane's pieces: the route reflector, the
//! static mode, switching modes; every figure measured on the run, each claim asserted.

use vtep_core::fdb::Origin;
use vtep_core::wire::bgp::{ExtCommunity, MpReach, RouteKey, UpdatePacket, UpdateRepr};
use vtep_core::wire::{EthernetFrame, IpAddress, Ipv4Address, Ipv4Packet, TcpPacket};
use vtep_core::{Destination, Mac};
use vtep_evpn::{Event, FdbAction, State};
use vtep_sim::bgp::MessageKind;
use vtep_sim::scenario::{self, Scenario};
use vtep_sim::script::Run;
use vtep_sim::sim::HostSpec;
use vtep_sim::*;

mod common;

use common::{SEED, fdb_entry, nodes, run};

fn vni() -> Vni {
    Vni::new(100).unwrap()
}

/// Host `name` of `r` and its MAC.
fn host_mac(r: &Run, name: &str) -> (NodeId, Mac) {
    let id = r.node(name).unwrap();
    (id, r.sim.host_addr(id).unwrap().0)
}

/// When scenario `s` migrates its host (microseconds).
fn migrated_at(s: &Scenario) -> u64 {
    s.script
        .actions
        .iter()
        .find(|t| matches!(t.action, script::Action::Migrate { .. }))
        .unwrap()
        .at_us
}

fn ip_of(r: &Run, hv: &str) -> Ipv4Address {
    r.sim.hypervisor_ip(r.node(hv).unwrap()).unwrap()
}

/// The BGP messages of one TCP segment (whole ones), as the core's codec reads them.
fn messages(h: &Hop) -> Vec<Vec<u8>> {
    let Ok(eth) = EthernetFrame::new_checked(&h.bytes[..]) else {
        return Vec::new();
    };
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
        return Vec::new();
    };
    let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else {
        return Vec::new();
    };
    let mut rest = tcp.payload();
    let mut out = Vec::new();
    while let Ok(Some(len)) = vtep_core::wire::bgp::frame_len(rest) {
        if len > rest.len() {
            break;
        }
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    out
}

/// The UPDATEs of a hop that announce a type-2 route for `mac`.
fn announces(h: &Hop, mac: [u8; 6]) -> Vec<Vec<u8>> {
    messages(h)
        .into_iter()
        .filter(|m| {
            let Ok(p) = UpdatePacket::new_checked(&m[..]) else {
                return false;
            };
            let Ok((u, _)) = UpdateRepr::parse(&p, true) else {
                return false;
            };
            matches!(u.mp_reach, Some(MpReach::Evpn { routes, .. })
                if routes.iter().any(|r| matches!(r.key(), Some(RouteKey::MacIp { mac: m, .. }) if m == mac)))
        })
        .collect()
}

#[test]
fn e1_a_mac_route_travels_from_one_update_to_every_vtep() {
    let r = run(scenario::e1());
    let (vm_a, mac) = host_mac(&r, "vm-a");
    let [hv1, hv2, hv3, rr1] = nodes(&r, ["hv1", "hv2", "hv3", "rr1"]);
    let first = r.sim.trace().iter().find(|h| h.from == vm_a).unwrap();
    assert!(first.layers().is_arp(), "vm-a's first frame announces it");
    // The route: one UPDATE from hv1 to rr1, one reflected to each of hv2 and hv3.
    let carrying: Vec<&Hop> = r
        .sim
        .trace()
        .iter()
        .filter(|h| !announces(h, mac.0).is_empty())
        .filter(|h| h.to == rr1 || [hv2, hv3].contains(&h.to))
        .collect();
    assert_eq!(carrying.len(), 3, "one UPDATE in, two reflected");
    assert_eq!(carrying.iter().filter(|h| h.to == rr1).count(), 1);
    // Reflected with ORIGINATOR_ID hv1 and CLUSTER_LIST rr1 (RFC 4456).
    for h in carrying.iter().filter(|h| h.to != rr1) {
        let m = &announces(h, mac.0)[0];
        let p = UpdatePacket::new_checked(&m[..]).unwrap();
        let (u, _) = UpdateRepr::parse(&p, true).unwrap();
        assert_eq!(u.originator_id, Some(ip_of(&r, "hv1")));
        let cluster: Vec<Ipv4Address> = u.cluster_list.unwrap().iter().collect();
        assert_eq!(
            cluster,
            [r.sim.node_info(rr1).unwrap().underlay_ip.unwrap()]
        );
        let ecs: Vec<ExtCommunity> = u.ext_communities.unwrap().iter().collect();
        assert!(
            ecs.iter()
                .any(|e| matches!(e, ExtCommunity::RouteTarget(rt) if rt.local_admin() == 100))
        );
    }
    // Installed at hv2 and hv3 within a millisecond of the first frame.
    for hv in [hv2, hv3] {
        let installed = r
            .sim
            .trace()
            .iter()
            .find(|h| {
                h.to == hv
                    && h.decisions.iter().any(|d| {
                        matches!(d, Decision::Bgp(BgpNote::Fdb(FdbAction::InstallMac { mac: m, .. })) if *m == mac)
                    })
            })
            .unwrap();
        let took = installed.end.total_micros() - first.start.total_micros();
        assert!((0..1000).contains(&took), "{took} us");
        let entry = fdb_entry(&r.sim, hv, None, mac);
        assert_eq!(
            (entry.dest, entry.origin, entry.mobility_seq),
            (
                Destination::Remote(IpAddress::Ipv4(ip_of(&r, "hv1"))),
                Origin::ControlPlane,
                0
            )
        );
    }
    // Flood lists from type-3 routes: each VTEP lists the two others.
    for hv in [hv1, hv2, hv3] {
        let list = r.sim.speaker(hv).unwrap().flood_list(vni());
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(r.sim.vtep(hv).unwrap().fdb().flood_list(vni()).len(), 2);
    }
    // Nothing flooded to learn: no ARP and no BUM frame on the underlay.
    let under = r.sim.underlay_links();
    for h in r.sim.trace().iter().filter(|h| under.contains(&h.link)) {
        let l = h.layers();
        assert!(!l.is_arp(), "{l}");
        if let Some(inner) = l.inner {
            assert!(inner.dst_mac.is_unicast(), "{l}");
        }
    }
    let ping = r.sim.app_report(r.app("ping").unwrap()).unwrap();
    assert_eq!((ping.sent, ping.replies), (3, 2), "{ping:?}");
    assert_eq!(ping.unanswered, [0], "the first while vm-a resolves vm-b");
    // Every route hv2 received is linked to the segment that carried its UPDATE to hv2.
    let table = r.sim.evpn_table(hv2).unwrap();
    for (peer, routes) in &table.peers {
        for route in routes {
            let hop = r.sim.route_carried_by(hv2, peer.address, &route.key);
            let hop = r
                .sim
                .hop(hop.unwrap_or_else(|| panic!("{route:?}")))
                .unwrap();
            assert_eq!(hop.to, hv2);
            if let RouteKey::MacIp { mac, .. } = route.key {
                assert!(
                    !announces(hop, mac).is_empty(),
                    "{route:?} in hop {:?}",
                    hop.id
                );
            }
        }
    }
}

/// Pings lost from the first one sent at or after `from_us`.
fn lost_from(r: &Run, app: &str, interval_us: u64, from_us: u64) -> usize {
    let ping = r.sim.app_report(r.app(app).unwrap()).unwrap();
    let started = ping.started.unwrap().total_micros() as u64;
    ping.unanswered
        .iter()
        .filter(|s| started + u64::from(**s) * interval_us >= from_us)
        .count()
}

#[test]
fn e2_a_migration_raises_the_sequence_and_the_old_vtep_withdraws() {
    let r = run(scenario::e2());
    let (_, mac) = host_mac(&r, "vm-b");
    let [hv1, hv2, hv3] = nodes(&r, ["hv1", "hv2", "hv3"]);
    assert_eq!(r.sim.speaker(hv1).unwrap().local_seq(vni(), mac.0), Some(1));
    assert_eq!(r.sim.speaker(hv2).unwrap().local_seq(vni(), mac.0), None);
    assert_eq!(
        r.sim.speaker(hv3).unwrap().best_remote(vni(), mac.0),
        Some((ip_of(&r, "hv1"), 1))
    );
    // hv2's withdrawal is on the wire after the move.
    let moved_at = migrated_at(&scenario::e2());
    let withdrawn = r
        .sim
        .trace()
        .iter()
        .filter(|h| h.from == hv2 && h.start.total_micros() as u64 >= moved_at)
        .filter_map(|h| h.layers().bgp())
        .any(|s| s.withdrawn > 0);
    assert!(withdrawn, "hv2 withdrew");
    let entry = fdb_entry(&r.sim, hv3, None, mac);
    assert_eq!(entry.mobility_seq, 1);
    // The move costs what it costs under flood and learn on the same fabric (S4).
    let evpn = lost_from(&r, "ping", 10_000, moved_at);
    let s4 = scenario::s4().run(SEED).unwrap();
    let flood_and_learn = lost_from(&s4, "ping", 10_000, migrated_at(&scenario::s4()));
    eprintln!("E2: {evpn} pings lost in the move, S4: {flood_and_learn}");
    assert!((1..=6).contains(&evpn));
    assert_eq!(evpn, flood_and_learn);
}

#[test]
fn e3_a_duplicate_mac_is_frozen_after_five_moves() {
    let r = run(scenario::e3());
    let mac = vtep_core::wire::EthernetAddress(scenario::CLONED_MAC);
    let frozen: Vec<(&Hop, u32)> = r
        .sim
        .trace()
        .iter()
        .flat_map(|h| {
            h.decisions.iter().filter_map(move |d| match d {
                Decision::DuplicateFrozen { mac: m, moves, .. } if *m == mac => Some((h, *moves)),
                _ => None,
            })
        })
        .collect();
    assert_eq!(frozen.len(), 1, "one VTEP freezes it");
    let (at, moves) = frozen[0];
    assert_eq!(moves, 5);
    let froze = at.to;
    let entry = fdb_entry(&r.sim, froze, None, mac);
    assert!(entry.frozen);
    // The moves: MAC routes with rising sequence numbers, within 180 s of the first.
    let mut seqs = Vec::new();
    let mut first_move = None;
    for h in r.sim.trace() {
        for d in &h.decisions {
            if let Decision::Bgp(BgpNote::Fdb(FdbAction::InstallMac { mac: m, seq, .. })) = d
                && *m == mac
            {
                seqs.push(*seq);
                first_move.get_or_insert(h.end);
            }
        }
    }
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
    assert!(*seqs.last().unwrap() >= 4, "{seqs:?}");
    let window = at.end.total_micros() - first_move.unwrap().total_micros();
    assert!(window < 180_000_000, "{window} us");
    // The VTEP that froze it advertises it no more; the reflector holds one route for it.
    assert_eq!(r.sim.speaker(froze).unwrap().local_seq(vni(), mac.0), None);
    let rr = r.sim.evpn_table(r.node("rr1").unwrap()).unwrap();
    let holders: Vec<Ipv4Address> = rr
        .peers
        .iter()
        .filter(|(_, routes)| {
            routes
                .iter()
                .any(|rt| matches!(rt.key, RouteKey::MacIp { mac: m, ip: None, .. } if m == mac.0))
        })
        .map(|(p, _)| p.address)
        .collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert_ne!(
        IpAddress::Ipv4(holders[0]),
        r.sim.vtep(froze).unwrap().local_address()
    );
}

/// When the hold timer of hypervisor `hv`'s session to `peer` expired, if it did.
fn hold_expired(r: &Run, hv: &str, peer: Ipv4Address) -> Option<Instant> {
    r.sim.hold_expired(r.node(hv).unwrap(), peer)
}

#[test]
fn e4_a_failed_reflector_stops_traffic_at_hold_expiry_and_two_do_not() {
    let r = run(scenario::e4());
    let rr1 = r.sim.node_info(r.node("rr1").unwrap()).unwrap();
    let rr1_ip = rr1.underlay_ip.unwrap();
    let at = |op: fn(&script::Action) -> bool| {
        scenario::e4()
            .script
            .actions
            .iter()
            .find(|t| op(&t.action))
            .unwrap()
            .at_us as i64
    };
    let failed = at(|a| matches!(a, script::Action::FailReflector { .. }));
    let restored = at(|a| matches!(a, script::Action::RestoreReflector { .. }));
    // The hold timer: 9 s after the last message heard, so 7 s after the failure here.
    let expired = hold_expired(&r, "hv1", rr1_ip).unwrap().total_micros();
    assert!(
        expired > failed && expired <= failed + 9_000_000,
        "{expired}"
    );
    // Back after rr1's return, within the retry timer's 4 s (and a handshake).
    let hv1 = r.node("hv1").unwrap();
    let back = r
        .sim
        .bgp_log()
        .iter()
        .find(|e| {
            e.node == hv1
                && e.at.total_micros() >= restored
                && matches!(e.event, Event::SessionEstablished { .. })
        })
        .unwrap()
        .at
        .total_micros();
    let retry = vtep_sim::bgp::MAX_CONNECT_RETRY.total_micros() as i64;
    assert!(back - restored <= retry + 10_000, "{back}");
    // The pings: answered until the hold timers expired, lost until the session came back,
    // answered after (the first is lost while vm-b resolves vm-a).
    let ping = r.sim.app_report(r.app("ping").unwrap()).unwrap();
    let started = ping.started.unwrap().total_micros();
    for seq in 0..u16::try_from(ping.sent).unwrap() {
        let sent = started + i64::from(seq) * 100_000;
        let lost = ping.unanswered.contains(&seq);
        let dark = sent >= expired && sent < back;
        let at_an_edge = (sent - expired).abs() < 1000 || (sent - back).abs() < 1000;
        if seq > 0 && !at_an_edge {
            assert_eq!(lost, dark, "ping {seq} sent at {sent} us");
        }
    }
    // Stopped, not flooded: hv1's flood list and vm-b's route were gone meanwhile.
    let (_, mac_b) = host_mac(&r, "vm-b");
    let withdrawn = r.sim.trace().iter().any(|h| {
        h.decisions.iter().any(|d| {
            matches!(
                d,
                Decision::Dropped(DropCause::Vtep(vtep_core::vtep::DropReason::NoDestination))
            )
        }) && h.start.total_micros() > expired
            && h.start.total_micros() < back
            && h.layers().inner.is_some_and(|i| i.dst_mac == mac_b)
    });
    assert!(withdrawn, "frames for vm-b had nowhere to go");
    // With a second reflector nothing is lost to the failure.
    let two = run(scenario::e4_two_reflectors());
    let rr2 = two
        .sim
        .node_info(two.node("rr2").unwrap())
        .unwrap()
        .underlay_ip
        .unwrap();
    assert!(hold_expired(&two, "hv1", rr1_ip).is_some());
    assert!(hold_expired(&two, "hv1", rr2).is_none());
    let ping = two.sim.app_report(two.app("ping").unwrap()).unwrap();
    assert_eq!(ping.unanswered, [0], "{ping:?}");
    let peers = two.sim.speaker(two.node("hv1").unwrap()).unwrap().peers();
    assert!(peers.iter().all(|p| p.state == State::Established));
}

#[test]
fn the_scenarios_are_listed_with_their_stories() {
    let ids: Vec<&str> = scenario::all().iter().map(|s| s.id).collect();
    assert_eq!(&ids[10..], ["E1", "E2", "E3", "E4"]);
    for s in &scenario::all()[10..] {
        assert!(
            s.narrative.contains("BGP") || s.narrative.contains("rr1"),
            "{}",
            s.id
        );
        assert!(s.script.actions.iter().any(|t| matches!(
            t.action,
            script::Action::LearningMode {
                mode: LearningMode::BgpEvpn
            }
        )));
    }
}

/// One site, three hypervisors with a host each in VNI 7, in `mode`.
fn three(mode: LearningMode) -> (Sim, Vec<NodeId>, Vec<NodeId>) {
    let mut sim = Sim::new(SimConfig::default());
    let site = sim.add_site("dc1").unwrap();
    sim.set_learning_mode(mode).unwrap();
    let mut hvs = Vec::new();
    let mut hosts = Vec::new();
    for i in 0..3u8 {
        let hv = sim.add_hypervisor(site, &format!("hv{i}")).unwrap();
        hvs.push(hv);
        let ip = Ipv4Address::new(192, 168, 7, i + 1);
        hosts.push(
            sim.add_host(hv, HostSpec::new(&format!("h{i}"), 7, ip))
                .unwrap(),
        );
    }
    (sim, hvs, hosts)
}

fn arp_on_underlay(sim: &Sim) -> usize {
    let under = sim.underlay_links();
    sim.trace()
        .iter()
        .filter(|h| under.contains(&h.link) && h.layers().is_arp())
        .count()
}

#[test]
fn static_entries_need_no_control_traffic_and_follow_a_migration() {
    let (mut sim, hvs, hosts) = three(LearningMode::Static);
    let ping = sim
        .start_ping(
            hosts[0],
            Ipv4Address::new(192, 168, 7, 2),
            3,
            Duration::from_millis(10),
            56,
        )
        .unwrap();
    sim.run_for(Duration::from_millis(100));
    assert!(sim.app_report(ping).unwrap().replies >= 2);
    assert_eq!(arp_on_underlay(&sim), 0);
    assert!(sim.reflectors().is_empty());
    assert!(sim.trace().iter().all(|h| h.layers().bgp().is_none()));
    let (mac, _, v) = sim.host_addr(hosts[1]).unwrap();
    let entry = |sim: &Sim, hv: NodeId| {
        sim.fdb(hv)
            .unwrap()
            .into_iter()
            .find(|(vv, m, _)| *vv == v && *m == mac)
            .unwrap()
            .2
    };
    assert_eq!(entry(&sim, hvs[0]).origin, Origin::Static);
    sim.migrate_host(hosts[1], hvs[2]).unwrap();
    sim.run_for(Duration::from_millis(100));
    let e = entry(&sim, hvs[0]);
    assert_eq!(
        e.dest,
        Destination::Remote(IpAddress::Ipv4(sim.hypervisor_ip(hvs[2]).unwrap()))
    );
    assert_eq!(e.origin, Origin::Static);
}

#[test]
fn the_learning_mode_switches_back_and_forth_and_traffic_flows_in_each() {
    let (mut sim, hvs, hosts) = three(LearningMode::FloodAndLearn);
    let target = Ipv4Address::new(192, 168, 7, 3);
    for (i, mode) in [
        LearningMode::BgpEvpn,
        LearningMode::Static,
        LearningMode::FloodAndLearn,
        LearningMode::BgpEvpn,
    ]
    .into_iter()
    .enumerate()
    {
        sim.set_learning_mode(mode).unwrap();
        sim.run_for(Duration::from_millis(50));
        let ping = sim
            .start_ping(hosts[0], target, 3, Duration::from_millis(200), 56)
            .unwrap();
        sim.run_for(Duration::from_millis(700));
        let r = sim.app_report(ping).unwrap();
        assert!(r.replies >= 2, "{i} {mode}: {r:?}");
        for hv in &hvs {
            let remote: Vec<_> = sim
                .fdb(*hv)
                .unwrap()
                .into_iter()
                .filter(|(_, _, e)| matches!(e.dest, Destination::Remote(_)))
                .collect();
            let want = match mode {
                LearningMode::FloodAndLearn => Origin::Learned,
                LearningMode::Static => Origin::Static,
                LearningMode::BgpEvpn => Origin::ControlPlane,
            };
            assert!(
                remote.iter().all(|(_, _, e)| e.origin == want),
                "{mode} {remote:?}"
            );
        }
    }
    // Under BGP EVPN each hypervisor's speaker is established with the reflector.
    for hv in hvs {
        let peers = sim.speaker(hv).unwrap().peers();
        assert_eq!(peers.len(), 1);
        assert_eq!(peers[0].state, State::Established);
    }
}

#[test]
fn a_reflector_counts_its_clients_and_reflects_every_route() {
    let (mut sim, hvs, _) = three(LearningMode::BgpEvpn);
    sim.run_for(Duration::from_millis(20));
    let rr = sim.reflectors()[0];
    let table = sim.evpn_table(rr).unwrap();
    assert_eq!(table.peers.len(), 3);
    assert!(table.local.is_empty(), "a reflector originates nothing");
    for (peer, routes) in &table.peers {
        assert!(peer.dynamic && peer.route_reflector_client);
        // Each client's type-3 route, and its host's MAC and MAC/IP routes.
        assert_eq!(routes.len(), 3, "{peer:?}");
    }
    // Every message kind of a session's life is in the trace, and nothing else on port 179.
    let kinds: Vec<MessageKind> = sim
        .trace()
        .iter()
        .filter_map(|h| h.layers().bgp())
        .flat_map(|s| s.kinds().collect::<Vec<_>>())
        .collect();
    for k in [
        MessageKind::Open,
        MessageKind::Keepalive,
        MessageKind::Update,
    ] {
        assert!(kinds.contains(&k), "{k:?}");
    }
    // A hypervisor removed: the reflector drops its session at hold expiry, and its routes.
    let gone = hvs[2];
    let gone_ip = sim.hypervisor_ip(gone).unwrap();
    let host = sim.hosts_of(gone).unwrap()[0];
    sim.remove_host(host).unwrap();
    sim.remove_hypervisor(gone).unwrap();
    sim.run_for(Duration::from_secs(12));
    for e in sim.bgp_log() {
        eprintln!("{e:?}");
    }
    let table = sim.evpn_table(rr).unwrap();
    assert_eq!(table.peers.len(), 2);
    assert!(table.peers.iter().all(|(p, _)| p.address != gone_ip));
    let flood = sim
        .speaker(hvs[0])
        .unwrap()
        .flood_list(Vni::new(7).unwrap());
    assert_eq!(flood, [sim.hypervisor_ip(hvs[1]).unwrap()]);
}
