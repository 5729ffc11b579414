//! One test per claim of the article (S1..S10): the scenario's stated outcome, asserted. (The
//! BGP EVPN scenarios E1..E4 are in `tests/evpn.rs`.)

use std::ops::RangeInclusive;

use vtep_core::fdb::Origin;
use vtep_core::vni::id_space;
use vtep_core::vtep::{DropReason, Encapsulation};
use vtep_core::wire::IpAddress;
use vtep_core::wire::bgp::RouteKey;
use vtep_core::{Destination, NetworkCounters};
use vtep_sim::bgp::MessageKind;
use vtep_sim::host::AppReport;
use vtep_sim::scale::{Variant, model, simulate};
use vtep_sim::scenario;
use vtep_sim::script::Run;
use vtep_sim::trace::{L3, L4, Tunnel};
use vtep_sim::*;

mod common;

use common::{SEED, fdb_entry, nodes, run};

#[test]
fn all_scenarios_have_text_and_actions() {
    let all = scenario::all();
    assert_eq!(all.len(), 14);
    for (i, s) in all.iter().enumerate() {
        let id = if i < 10 {
            format!("S{}", i + 1)
        } else {
            format!("E{}", i - 9)
        };
        assert_eq!(s.id, id);
        assert!(!s.title.is_empty() && !s.narrative.is_empty() && !s.outcome.is_empty());
        assert!(s.script.actions.len() >= 3);
        assert_eq!(s.script.scenario.as_deref(), Some(s.id));
    }
}

#[test]
fn s1_overlay_on_top_of_a_routed_underlay() {
    let r = run(scenario::s1());
    let ping = r.sim.app_report(r.app("ping").unwrap()).unwrap();
    assert_eq!((ping.sent, ping.replies), (5, 5));
    let vm_a = r.node("vm-a").unwrap();
    let vm_b = r.node("vm-b").unwrap();
    let underlay = r.sim.underlay_links();
    // Follow echo request seq 3 from vm-a to vm-b.
    let is_req3 = |h: &Hop| {
        matches!(
            h.layers().inner.map(|i| i.l3),
            Some(L3::Ipv4 {
                l4: L4::IcmpEchoRequest { seq: 3, .. },
                ..
            })
        )
    };
    let hops: Vec<&Hop> = r.sim.trace().iter().filter(|h| is_req3(h)).collect();
    let on_underlay = hops.iter().filter(|h| underlay.contains(&h.link)).count();
    assert_eq!(on_underlay, 3, "hv1 -> dc1 router -> dc2 router -> hv3");
    let sent = hops.iter().find(|h| h.from == vm_a).unwrap();
    let got = hops.iter().find(|h| h.to == vm_b).unwrap();
    assert_eq!(sent.bytes, got.bytes, "the inner frame is untouched");
    assert!(
        got.end.total_micros() - sent.start.total_micros() > 2000,
        "the WAN's 2 ms"
    );
    assert!(
        hops.iter()
            .filter(|h| underlay.contains(&h.link))
            .all(|h| h.layers().vni() == Some(Vni::new(100).unwrap()))
    );
}

#[test]
fn s2_vxlan_carries_arp_icmp_and_tcp() {
    let r = run(scenario::s2());
    let ping = r.sim.app_report(r.app("ping").unwrap()).unwrap();
    assert_eq!(ping.replies, 3);
    let tcp = r.sim.app_report(r.app("tcp").unwrap()).unwrap();
    assert_eq!(tcp.received, 1_000_000, "{tcp:?}");
    assert!(tcp.completed.is_some());
    let underlay = r.sim.underlay_links();
    let mut arp = 0;
    let mut tcp_frames = 0;
    for h in r.sim.trace().iter().filter(|h| underlay.contains(&h.link)) {
        let l = h.layers();
        let outer = l.outer.unwrap();
        assert_eq!(outer.udp.map(|(_, dst)| dst), Some(4789));
        assert!(matches!(
            outer.tunnel,
            Tunnel::Encap {
                encapsulation: Encapsulation::Vxlan,
                ..
            }
        ));
        match l.inner.unwrap().l3 {
            L3::Arp { .. } => arp += 1,
            L3::Ipv4 {
                l4: L4::Tcp { .. }, ..
            } => tcp_frames += 1,
            _ => {}
        }
    }
    assert!(arp >= 2 && tcp_frames > 700, "{arp} {tcp_frames}");
}

/// The hops of a run on the underlay, split at `at_us`: before, and from then on.
fn split_underlay(r: &Run, at_us: u64) -> (Vec<&Hop>, Vec<&Hop>) {
    let underlay = r.sim.underlay_links();
    r.sim
        .trace()
        .iter()
        .filter(|h| underlay.contains(&h.link))
        .partition(|h| (h.start.total_micros() as u64) < at_us)
}

/// `hv`'s counters for VNI `vni`.
fn counters(r: &Run, hv: NodeId, vni: u32) -> NetworkCounters {
    *r.sim
        .vtep(hv)
        .unwrap()
        .counters(Vni::new(vni).unwrap())
        .unwrap()
}

/// Every hypervisor's counters for VNI `vni`.
fn vtep_counters(r: &Run, vni: u32) -> Vec<NetworkCounters> {
    r.sim
        .hypervisors()
        .iter()
        .map(|hv| counters(r, *hv, vni))
        .collect()
}

#[test]
fn s2_over_ipv6_the_solicitation_is_flooded_and_ping6_and_tcp_work() {
    let r = run(scenario::s2());
    let ping6 = r.sim.app_report(r.app("ping6").unwrap()).unwrap();
    assert_eq!((ping6.sent, ping6.replies), (3, 3), "{ping6:?}");
    let tcp6 = r.sim.app_report(r.app("tcp6").unwrap()).unwrap();
    assert_eq!(tcp6.received, 1_000_000, "{tcp6:?}");
    assert!(tcp6.completed.is_some());
    let (ipv4_part, ipv6_part) = split_underlay(&r, scenario::S2_IPV6_AT_US);
    assert!(
        ipv4_part.iter().all(|h| h.layers().ipv6().is_none()),
        "no IPv6 before the IPv6 step"
    );
    // vm-a's solicitation for vm-b went to vm-b's solicited-node group, flooded by hv1 to hv2
    // (flood and learn: the VTEPs do not read ND).
    let (a, b) = (r.node("vm-a").unwrap(), r.node("vm-b").unwrap());
    let b6 = r.sim.host_ipv6(b).unwrap();
    let solicits: Vec<&&Hop> = ipv6_part
        .iter()
        .filter(|h| h.layers().is_nd_solicit())
        .collect();
    assert!(!solicits.is_empty());
    let first = solicits[0].layers().inner.unwrap();
    let group = vtep_sim::host::solicited_node(b6);
    assert_eq!(
        first.l3,
        L3::Ipv6 {
            src: r.sim.host_ipv6(a).unwrap(),
            dst: group,
            l4: L4::NeighbourSolicit {
                target: b6,
                lladdr: Some(r.sim.host_addr(a).unwrap().0),
            },
        }
    );
    assert_eq!(first.dst_mac.0[..2], [0x33, 0x33], "an IPv6 multicast MAC");
    let flooded = r.sim.trace().iter().any(|h| {
        h.layers().is_nd_solicit()
            && h.decisions.iter().any(|d| {
                matches!(
                    d,
                    Decision::Flooded {
                        remote_copies: 1,
                        ..
                    }
                )
            })
    });
    assert!(flooded, "hv1 flooded the solicitation to hv2");
    // vm-b's answer, a solicited advertisement with its MAC, crossed back.
    let answered = ipv6_part.iter().any(|h| {
        matches!(h.layers().ipv6(), Some(L4::NeighbourAdvert { target, flags, lladdr })
            if target == b6 && flags.solicited && lladdr == Some(r.sim.host_addr(b).unwrap().0))
    });
    assert!(answered);
    let tcp6_frames = ipv6_part
        .iter()
        .filter(|h| matches!(h.layers().ipv6(), Some(L4::Tcp { .. })))
        .count();
    assert!(tcp6_frames > 700, "{tcp6_frames}");
    let suppressed: u64 = vtep_counters(&r, 100).iter().map(|c| c.nd_suppressed).sum();
    assert_eq!(suppressed, 0, "flood and learn answers nothing itself");
}

#[test]
fn s3_overhead_and_mtu() {
    let r = run(scenario::s3());
    let report = |name| r.sim.app_report(r.app(name).unwrap()).unwrap().clone();
    assert_eq!(report("fits").replies, 3);
    assert_eq!(report("too-big").replies, 0);
    assert_eq!(report("jumbo-underlay").replies, 3);
    let drops = counters(&r, r.node("hv1").unwrap(), 100).drops;
    assert_eq!(drops.get(DropReason::TooBig), 3);
    for h in r.sim.trace().iter().filter(|h| h.layers().vni().is_some()) {
        let l = h.layers();
        assert_eq!(l.overhead, 50);
        assert_eq!(h.bytes.len(), l.inner.unwrap().len + 50);
    }
}

/// The app "ping" of `r`, a migration scenario (`id`): it sent `sent` requests and lost a
/// number in `lost` of them (printed, with `why`).
fn migration_ping<'a>(
    r: &'a Run,
    id: &str,
    sent: u64,
    lost: RangeInclusive<u64>,
    why: &str,
) -> &'a AppReport {
    let ping = r.sim.app_report(r.app("ping").unwrap()).unwrap();
    assert_eq!(ping.sent, sent);
    let n = ping.lost();
    eprintln!("{id}: {n} of {sent} pings lost {why}");
    assert!(lost.contains(&n), "lost {n}: {:?}", ping.unanswered);
    ping
}

#[test]
fn s4_live_migration_keeps_the_ip_and_loses_a_handful() {
    let r = run(scenario::s4());
    migration_ping(&r, "S4", 200, 1..=6, "during the migration");
    let [vm_b, hv1] = nodes(&r, ["vm-b", "hv1"]);
    assert_eq!(r.sim.host_hypervisor(vm_b).unwrap(), Some(hv1));
    let (mac, ip, vni) = r.sim.host_addr(vm_b).unwrap();
    assert_eq!(ip.octets(), [192, 168, 10, 2]);
    let new_vtep = IpAddress::Ipv4(r.sim.hypervisor_ip(hv1).unwrap());
    for hv in r.sim.hypervisors() {
        let entry = fdb_entry(&r.sim, hv, Some(vni), mac);
        if hv == hv1 {
            assert!(matches!(entry.dest, Destination::Local(_)));
        } else {
            assert_eq!(entry.dest, Destination::Remote(new_vtep), "hv {hv:?}");
        }
        if hv == r.node("hv3").unwrap() {
            // hv3 had learned vm-b behind hv2: the entry moved (hv2 lost its local entry with
            // the port and learned the new place afresh).
            assert_eq!(entry.mobility_seq, 1);
        }
    }
}

#[test]
fn s5_counting_model_matches_the_event_simulation() {
    let r = run(scenario::s5());
    for i in 1..=8 {
        let app = r.app(&format!("c{i}")).unwrap();
        assert_eq!(r.sim.app_report(app).unwrap().replies, 1);
    }
    for variant in Variant::ALL {
        let m = simulate(4, 2, variant, SEED).unwrap();
        assert_eq!(
            m.figures,
            model(4, 2, variant).unwrap(),
            "{}",
            variant.name()
        );
    }
    let flat = model(5000, 100, Variant::FlatL2).unwrap();
    let overlay = model(5000, 100, Variant::FloodAndLearn).unwrap();
    assert_eq!(
        (flat.underlay_mac_entries, overlay.underlay_mac_entries),
        (500_000, 5000)
    );
}

#[test]
fn s6_tenants_with_identical_addresses_never_see_each_other() {
    let r = run(scenario::s6());
    for app in ["red", "blue"] {
        assert_eq!(
            r.sim.app_report(r.app(app).unwrap()).unwrap().replies,
            5,
            "{app}"
        );
    }
    let vni_of = |n: NodeId| r.sim.host_addr(n).map(|(_, _, v)| v).ok();
    let mut delivered = 0;
    for h in r.sim.trace() {
        if let (Some(to), Some(from)) = (vni_of(h.to), vni_of(h.origin))
            && h.decisions.contains(&Decision::Received)
        {
            assert_eq!(to, from, "hop {:?}: {:#}", h.id, h.layers());
            delivered += 1;
        }
    }
    assert!(delivered >= 20);
}

#[test]
fn s6_id_space_figures_are_the_ones_the_simulator_enforces() {
    // The narrative quotes the ID spaces of the core's arithmetic, as it writes numbers...
    let narrative = scenario::s6().narrative;
    for (figure, written) in [
        (id_space::VLAN_IDS_USABLE, "4094"),
        (id_space::VNI_IDS, "16,777,216"),
    ] {
        assert_eq!(written.replace(',', ""), figure.to_string());
        assert!(narrative.contains(written), "{figure}: {narrative}");
    }
    // ...and the simulator takes exactly that many networks: VNIs 0..VNI_IDS.
    let mut sim = Sim::new(SimConfig::default());
    let site = sim.add_site("dc1").unwrap();
    let hv = sim.add_hypervisor(site, "hv1").unwrap();
    let ip = vtep_core::wire::Ipv4Address::new(10, 0, 0, 1);
    let last = id_space::VNI_IDS - 1;
    sim.add_host(hv, sim::HostSpec::new("last", last, ip))
        .unwrap();
    assert_eq!(
        sim.add_host(hv, sim::HostSpec::new("beyond", id_space::VNI_IDS, ip)),
        Err(SimError::VniOutOfRange(u64::from(id_space::VNI_IDS)))
    );
}

#[test]
fn s7_a_tenant_over_its_rate_is_limited_the_other_not() {
    let r = run(scenario::s7());
    let red = r.sim.app_report(r.app("red").unwrap()).unwrap();
    let blue = r.sim.app_report(r.app("blue").unwrap()).unwrap();
    assert_eq!((blue.sent, blue.received), (1000, 1000));
    assert_eq!(red.sent, 1000);
    assert!(
        (100..=200).contains(&red.received),
        "red got {}",
        red.received
    );
    let c = counters(&r, r.node("hv1").unwrap(), 100);
    assert_eq!(c.drops.get(DropReason::RateLimited), 1000 - red.received);
}

#[test]
fn s8_control_plane_sends_no_arp_across_the_underlay() {
    let r = run(scenario::s8());
    for i in 1..=8 {
        let app = r.app(&format!("c{i}")).unwrap();
        assert!(r.sim.app_report(app).unwrap().replies >= 1, "c{i}");
    }
    // The IPv4 part, before the IPv6 step (its own test below).
    let (on_underlay, ipv6_part) = split_underlay(&r, s8_ipv6_at_us());
    assert_eq!(
        on_underlay
            .iter()
            .chain(&ipv6_part)
            .filter(|h| h.layers().is_arp())
            .count(),
        0,
        "no ARP frame of any kind crosses the underlay"
    );
    // The control plane is BGP on TCP port 179: every hypervisor's OPEN, its UPDATEs (a
    // type-3 route, and type-2 routes for its 2 containers' MACs and MAC/IPs), and the
    // reflector's copies of them to the 3 others.
    let segments: Vec<vtep_sim::bgp::Segment> = on_underlay
        .iter()
        .filter_map(|h| h.layers().bgp())
        .collect();
    let from_rr = |k: MessageKind| {
        on_underlay
            .iter()
            .filter(|h| h.from == r.node("rr1").unwrap())
            .filter_map(|h| h.layers().bgp())
            .filter(|s| s.has(k))
            .count()
    };
    assert!(
        segments
            .iter()
            .all(|s| s.src_port == 179 || s.dst_port == 179)
    );
    assert_eq!(from_rr(MessageKind::Open), 4, "one OPEN per client");
    let reflected: u16 = on_underlay
        .iter()
        .filter(|h| h.from == r.node("rr1").unwrap())
        .filter_map(|h| h.layers().bgp())
        .map(|s| s.announced)
        .sum();
    assert_eq!(reflected, 4 * 3 * 5, "each VTEP's 5 routes to the 3 others");
    let suppressed: u64 = vtep_counters(&r, 100)
        .iter()
        .map(|c| c.arp_suppressed)
        .sum();
    assert_eq!(
        suppressed, 16,
        "each container resolves its target and its pinger"
    );
    let hv1 = r.node("hv1").unwrap();
    let remote: Vec<_> = r
        .sim
        .fdb(hv1)
        .unwrap()
        .into_iter()
        .filter(|(_, _, e)| matches!(e.dest, Destination::Remote(_)))
        .collect();
    assert_eq!(remote.len(), 6);
    assert!(
        remote
            .iter()
            .all(|(_, _, e)| e.origin == Origin::ControlPlane)
    );
    // Read from the speakers' tables: the reflector holds every VTEP's routes (3 type-2 per
    // container: its MAC, its MAC and IPv4, its MAC and IPv6; one type-3 per VTEP), hv1
    // installed the 6 remote MACs from its session.
    let rr = r.sim.evpn_table(r.node("rr1").unwrap()).unwrap();
    assert_eq!(rr.peers.len(), 4);
    let (mut type2, mut type3) = (0, 0);
    for (peer, routes) in &rr.peers {
        assert_eq!(peer.state, vtep_evpn::State::Established);
        for route in routes {
            match route.key {
                RouteKey::MacIp { .. } => type2 += 1,
                RouteKey::InclusiveMulticast { .. } => type3 += 1,
            }
        }
    }
    assert_eq!((type2, type3), (24, 4));
    let speaker = r.sim.speaker(hv1).unwrap();
    let vni = Vni::new(100).unwrap();
    for (_, mac, e) in &remote {
        let Destination::Remote(IpAddress::Ipv4(vtep)) = e.dest else {
            panic!("{e:?}")
        };
        assert_eq!(speaker.best_remote(vni, mac.0), Some((vtep, 0)));
    }
    assert_eq!(speaker.flood_list(vni).len(), 3);
}

/// When S8's IPv6 step starts: its first announcement.
fn s8_ipv6_at_us() -> u64 {
    scenario::s8()
        .script
        .actions
        .iter()
        .find(|t| matches!(t.action, script::Action::AnnounceIpv6 { .. }))
        .unwrap()
        .at_us
}

#[test]
fn s8_over_ipv6_the_vteps_answer_every_solicitation() {
    let r = run(scenario::s8());
    // Every container's ping6 is answered. Not its first two requests: the target gets them
    // before it knows its asker's MAC (its asker's solicitation was answered by the VTEP, never
    // reached it), and smoltcp drops an echo reply it cannot address yet; with one
    // solicitation a second per interface (the first went to its own target) it resolves its
    // asker 1.5 s later, in time for the third. IPv4's pings in S8 fare the same.
    for i in 1..=8 {
        let app = r.app(&format!("c{i}-6")).unwrap();
        let report = r.sim.app_report(app).unwrap();
        assert_eq!((report.sent, report.replies), (3, 1), "c{i}-6: {report:?}");
        assert_eq!(report.unanswered, [0, 1], "c{i}-6");
    }
    let (before, ipv6_part) = split_underlay(&r, s8_ipv6_at_us());
    assert!(before.iter().all(|h| h.layers().ipv6().is_none()));
    assert_eq!(
        ipv6_part
            .iter()
            .filter(|h| h.layers().is_nd_solicit())
            .count(),
        0,
        "no Neighbour Solicitation crosses the underlay"
    );
    let counters = vtep_counters(&r, 100);
    let suppressed: u64 = counters.iter().map(|c| c.nd_suppressed).sum();
    assert_eq!(
        suppressed, 16,
        "each container solicits its target and its pinger, and its VTEP answers"
    );
    assert!(
        counters.iter().all(|c| c.nd_suppressed == 4),
        "2 containers per VTEP"
    );
    let answers = r
        .sim
        .trace()
        .iter()
        .filter(|h| {
            h.decisions
                .iter()
                .any(|d| matches!(d, Decision::NdSuppressed { .. }))
        })
        .count();
    assert_eq!(answers, 16, "each answer is a decision in the trace");
    // The announcements went to all nodes: flooded, as any multicast (8 containers, 3 other
    // VTEPs each, one underlay hop each way through the site's router).
    let adverts = ipv6_part
        .iter()
        .filter(|h| matches!(h.layers().ipv6(), Some(L4::NeighbourAdvert { flags, .. }) if !flags.solicited))
        .count();
    assert_eq!(adverts, 8 * 3 * 2);
    // Each VTEP advertised its 2 containers' IPv6 addresses, 128-bit IPs in MAC/IP routes,
    // and rr1 reflected them to the 3 others.
    let rr1 = r.node("rr1").unwrap();
    let reflected: u16 = ipv6_part
        .iter()
        .filter(|h| h.from == rr1)
        .filter_map(|h| h.layers().bgp())
        .map(|s| s.announced)
        .sum();
    assert_eq!(reflected, 4 * 3 * 2);
    let hv1 = r.node("hv1").unwrap();
    let v6: Vec<_> = r
        .sim
        .neighbours(hv1)
        .unwrap()
        .into_iter()
        .filter(|(_, ip, _)| matches!(ip, IpAddress::Ipv6(_)))
        .collect();
    assert_eq!(v6.len(), 8, "hv1 knows every container's IPv6 address");
}

#[test]
fn s9_three_encapsulations() {
    let r = run(scenario::s9());
    for app in ["vx-a", "gn-a", "gre-a"] {
        assert_eq!(
            r.sim.app_report(r.app(app).unwrap()).unwrap().replies,
            3,
            "{app}"
        );
    }
    let mut seen = std::collections::BTreeMap::new();
    for h in r.sim.trace() {
        let l = h.layers();
        if let Some(Tunnel::Encap { encapsulation, vni }) = l.outer.map(|o| o.tunnel) {
            seen.insert(vni.get(), (encapsulation, l.overhead));
        }
    }
    assert_eq!(seen[&100], (Encapsulation::Vxlan, 50));
    assert_eq!(seen[&200], (Encapsulation::Geneve, 50));
    assert_eq!(seen[&300], (Encapsulation::Nvgre, 42));
}

#[test]
fn s10_across_sites_and_back_after_a_failure() {
    let r = run(scenario::s10());
    // The failure window (200 ms = 20 pings) plus the two pauses.
    let why = "(migration + 200 ms failure + restart)";
    let ping = migration_ping(&r, "S10", 300, 20..=40, why);
    let last = ping.rtts.last().unwrap().0;
    assert!(last >= 295, "pings answered to the end: last {last}");
    let [vm_b, hv1, hv2] = nodes(&r, ["vm-b", "hv1", "hv2"]);
    assert_eq!(r.sim.host_hypervisor(vm_b).unwrap(), Some(hv2));
    let (mac, ip, vni) = r.sim.host_addr(vm_b).unwrap();
    assert_eq!(ip.octets(), [192, 168, 10, 2]);
    let entry = fdb_entry(&r.sim, hv1, Some(vni), mac);
    assert_eq!(
        entry.dest,
        Destination::Remote(IpAddress::Ipv4(r.sim.hypervisor_ip(hv2).unwrap()))
    );
}

#[test]
fn scenarios_replay_identically_for_the_same_seed() {
    for s in [scenario::s4(), scenario::s8(), scenario::s10()] {
        let (a, b) = (s.run(11).unwrap(), s.run(11).unwrap());
        assert!(a.sim.trace().len() > 100, "{}", s.id);
        // Every observable of every hop: times, nodes, link, bytes, lineage, decisions.
        assert!(
            a.sim.trace() == b.sim.trace(),
            "{} differs between two runs with the same seed",
            s.id
        );
    }
}
