//! The engine end to end: ping, UDP, TCP across VTEPs; determinism; bad operations.

use vtep_core::wire::Ipv4Address;
use vtep_sim::sim::HostSpec;
use vtep_sim::trace::L3;
use vtep_sim::*;

fn ip(n: u8) -> Ipv4Address {
    Ipv4Address::new(192, 168, 0, n)
}

/// One site, `hvs` hypervisors, one host per hypervisor on VNI 100.
fn small(config: SimConfig, hvs: u8) -> (Sim, Vec<NodeId>, Vec<NodeId>) {
    let mut sim = Sim::new(config);
    let site = sim.add_site("dc1").unwrap();
    let mut hv = Vec::new();
    let mut hosts = Vec::new();
    for i in 0..hvs {
        let h = sim.add_hypervisor(site, &format!("hv{i}")).unwrap();
        hv.push(h);
        hosts.push(
            sim.add_host(h, HostSpec::new(&format!("vm{i}"), 100, ip(i + 1)))
                .unwrap(),
        );
    }
    (sim, hv, hosts)
}

#[test]
fn ping_across_two_vteps() {
    let (mut sim, hv, hosts) = small(SimConfig::default(), 2);
    let app = sim
        .start_ping(hosts[0], ip(2), 5, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(200));
    for h in sim.trace().iter().take(30) {
        eprintln!(
            "{:>6}-{:>6} {}->{} {:#} {:?}",
            h.start.total_micros(),
            h.end.total_micros(),
            h.from.0,
            h.to.0,
            h.layers(),
            h.decisions
        );
    }
    let r = sim.app_report(app).unwrap();
    assert_eq!((r.sent, r.replies), (5, 5), "{r:?}");
    // The first ping waited for ARP; the others take about 4 underlay hops of 20 us.
    let fdb = sim.fdb(hv[0]).unwrap();
    assert_eq!(fdb.len(), 2, "{fdb:?}");
    let arp = sim.arp_cache(hosts[0]).unwrap();
    assert_eq!(arp.len(), 1);
    for h in sim.trace().iter().take(12) {
        eprintln!(
            "{:>6}-{:>6} {}->{} {:#} {:?}",
            h.start.total_micros(),
            h.end.total_micros(),
            h.from.0,
            h.to.0,
            h.layers(),
            h.decisions
        );
    }
    assert!(sim.trace().iter().any(|h| h.layers().outer.is_some()
        && matches!(h.layers().inner.map(|i| i.l3), Some(L3::Arp { .. }))));
}

#[test]
fn tcp_and_udp_across_vteps() {
    let (mut sim, _hv, hosts) = small(SimConfig::default(), 3);
    let tcp = sim
        .start_tcp_transfer(hosts[0], hosts[1], 5001, 200_000)
        .unwrap();
    let udp = sim
        .start_udp_flow(
            hosts[2],
            hosts[1],
            7,
            20,
            Duration::from_millis(1),
            200,
            true,
        )
        .unwrap();
    sim.run_for(Duration::from_millis(500));
    let t = sim.app_report(tcp).unwrap();
    assert_eq!(t.received, 200_000, "{t:?}");
    assert!(t.duration().unwrap() < Duration::from_millis(100), "{t:?}");
    let u = sim.app_report(udp).unwrap();
    assert_eq!((u.sent, u.received, u.replies), (20, 20, 20), "{u:?}");
}

fn run_trace(seed: u64) -> Vec<(u64, u64, u32, u32, Vec<u8>, String)> {
    let mut config = SimConfig {
        seed,
        ..SimConfig::default()
    };
    config.seed = seed;
    let (mut sim, _hv, hosts) = small(config, 3);
    let links: Vec<_> = sim
        .links()
        .iter()
        .filter(|l| l.underlay)
        .map(|l| l.id)
        .collect();
    for l in links {
        let mut spec = LinkSpec::underlay();
        spec.loss = 0.05;
        sim.set_link_spec(l, spec).unwrap();
    }
    sim.start_ping(hosts[0], ip(2), 20, Duration::from_millis(5), 56)
        .unwrap();
    sim.start_tcp_transfer(hosts[2], hosts[0], 80, 50_000)
        .unwrap();
    sim.run_for(Duration::from_millis(300));
    sim.trace()
        .iter()
        .map(|h| {
            (
                h.start.total_micros() as u64,
                h.end.total_micros() as u64,
                h.from.0,
                h.to.0,
                h.bytes.to_vec(),
                format!("{:?}", h.decisions),
            )
        })
        .collect()
}

#[test]
fn same_seed_same_trace() {
    let a = run_trace(42);
    let b = run_trace(42);
    assert!(a.len() > 100);
    assert_eq!(a, b);
    let c = run_trace(43);
    assert_ne!(a, c, "another seed loses other frames");
}

#[test]
fn bad_operations_are_typed_errors() {
    let (mut sim, hv, hosts) = small(SimConfig::default(), 2);
    let ghost = NodeId(999);
    let cases: Vec<(Result<(), SimError>, &str)> = vec![
        (sim.migrate_host(ghost, hv[0]), "not a host"),
        (
            sim.migrate_host(hosts[0], hv[0]),
            "already runs on hypervisor",
        ),
        (sim.migrate_host(hosts[0], hosts[1]), "not a hypervisor"),
        (
            sim.add_host(hv[0], HostSpec::new("big", 1 << 24, ip(9)))
                .map(|_| ()),
            "out of range",
        ),
        (sim.set_underlay_mtu(80), "below the encapsulation overhead"),
        (sim.set_rate_limit(1 << 25, None), "out of range"),
        (
            sim.add_host(hv[0], HostSpec::new("dup", 100, ip(1)))
                .map(|_| ()),
            "already used",
        ),
        (
            sim.add_host(hv[0], HostSpec::new("vm0", 100, ip(50)))
                .map(|_| ()),
            "already taken",
        ),
        (sim.fail_link(LinkId(999)), "does not exist"),
        (sim.stop_app(AppId(7)), "does not exist"),
        (
            sim.start_ping(ghost, ip(1), 1, Duration::from_millis(1), 56)
                .map(|_| ()),
            "not a host",
        ),
    ];
    for (result, needle) in cases {
        let err = result.unwrap_err();
        assert!(
            err.to_string().contains(needle),
            "{err} should say {needle:?}"
        );
    }
    assert!(matches!(
        sim.set_underlay_mtu(80),
        Err(SimError::MtuBelowOverhead {
            mtu: 80,
            needed: 96
        })
    ));
    assert!(matches!(
        sim.migrate_host(hosts[0], hv[0]),
        Err(SimError::SameHypervisor { .. })
    ));
}

#[test]
fn bgp_evpn_migration_bumps_the_mobility_sequence() {
    let mut sim = Sim::new(SimConfig::default());
    let site = sim.add_site("dc1").unwrap();
    sim.set_learning_mode(LearningMode::BgpEvpn).unwrap();
    let hv: Vec<NodeId> = (0..3)
        .map(|i| sim.add_hypervisor(site, &format!("hv{i}")).unwrap())
        .collect();
    let a = sim.add_host(hv[0], HostSpec::new("a", 7, ip(1))).unwrap();
    let b = sim.add_host(hv[1], HostSpec::new("b", 7, ip(2))).unwrap();
    sim.run_for(Duration::from_millis(10));
    let ping = sim
        .start_ping(a, ip(2), 300, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(1500));
    sim.migrate_host(b, hv[2]).unwrap();
    sim.run_for(Duration::from_millis(1600));
    let r = sim.app_report(ping).unwrap();
    assert!(r.lost() <= 6, "lost {} {:?}", r.lost(), r.unanswered);
    let (mac, _, vni) = sim.host_addr(b).unwrap();
    // The new VTEP advertises the MAC with sequence 1; the old one withdrew its route.
    let new = sim.speaker(hv[2]).unwrap();
    assert_eq!(new.local_seq(vni, mac.0), Some(1));
    assert_eq!(sim.speaker(hv[1]).unwrap().local_seq(vni, mac.0), None);
    assert_eq!(
        sim.speaker(hv[0]).unwrap().best_remote(vni, mac.0),
        Some((sim.hypervisor_ip(hv[2]).unwrap(), 1))
    );
    let entry = sim
        .fdb(hv[0])
        .unwrap()
        .into_iter()
        .find(|(_, m, _)| *m == mac)
        .unwrap()
        .2;
    assert_eq!(entry.mobility_seq, 1);
    assert_eq!(entry.origin, vtep_core::fdb::Origin::ControlPlane);
}

#[test]
fn flat_l2_baseline_switches_without_tunnels() {
    let config = SimConfig {
        fabric: FabricKind::FlatL2,
        ..SimConfig::default()
    };
    let (mut sim, _hv, hosts) = small(config, 3);
    let app = sim
        .start_ping(hosts[0], ip(3), 3, Duration::from_millis(10), 56)
        .unwrap();
    let tcp = sim
        .start_tcp_transfer(hosts[1], hosts[2], 80, 100_000)
        .unwrap();
    sim.run_for(Duration::from_millis(300));
    assert_eq!(sim.app_report(app).unwrap().replies, 3);
    assert_eq!(sim.app_report(tcp).unwrap().received, 100_000);
    assert!(sim.trace().iter().all(|h| h.layers().outer.is_none()));
    assert!(matches!(
        sim.set_learning_mode(LearningMode::BgpEvpn),
        Err(SimError::FlatL2(_))
    ));
}

#[test]
fn failed_links_reroute_and_failed_hypervisors_drop() {
    let mut sim = Sim::new(SimConfig::default());
    let s: Vec<SiteId> = (0..3)
        .map(|i| sim.add_site(&format!("dc{i}")).unwrap())
        .collect();
    let direct = sim.connect_sites(s[0], s[1], LinkSpec::wan()).unwrap();
    sim.connect_sites(s[0], s[2], LinkSpec::wan()).unwrap();
    sim.connect_sites(s[2], s[1], LinkSpec::wan()).unwrap();
    let h0 = sim.add_hypervisor(s[0], "hv0").unwrap();
    let h1 = sim.add_hypervisor(s[1], "hv1").unwrap();
    let a = sim.add_host(h0, HostSpec::new("a", 1, ip(1))).unwrap();
    sim.add_host(h1, HostSpec::new("b", 1, ip(2))).unwrap();
    // The second ping: the first one also waited for ARP.
    let p1 = sim
        .start_ping(a, ip(2), 2, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(100));
    let rtt_direct = sim.app_report(p1).unwrap().rtts[1].1;
    sim.fail_link(direct).unwrap();
    let p2 = sim
        .start_ping(a, ip(2), 1, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(100));
    let rtt_detour = sim.app_report(p2).unwrap().rtts[0].1;
    assert!(
        rtt_detour.total_micros() > rtt_direct.total_micros() + 3900,
        "{rtt_direct} {rtt_detour}"
    );
    sim.fail_hypervisor(h1).unwrap();
    let p3 = sim
        .start_ping(a, ip(2), 2, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.app_report(p3).unwrap().replies, 0);
    // The underlay withdraws the failed hypervisor's address: routers drop with no_route.
    assert!(
        sim.trace()
            .iter()
            .any(|h| h.dropped() == Some(DropCause::NoRoute))
    );
    sim.restore_hypervisor(h1).unwrap();
    let p4 = sim
        .start_ping(a, ip(2), 2, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(100));
    assert_eq!(sim.app_report(p4).unwrap().replies, 2);
}

#[test]
fn add_and_remove_sites_hypervisors_hosts_and_apps() {
    let (mut sim, hv, hosts) = small(SimConfig::default(), 2);
    let site2 = sim.add_site("dc2").unwrap();
    let link = sim
        .connect_sites(SiteId(0), site2, LinkSpec::wan())
        .unwrap();
    let hv3 = sim.add_hypervisor(site2, "hv3").unwrap();
    assert!(matches!(
        sim.remove_site(site2),
        Err(SimError::SiteNotEmpty(_))
    ));
    let app = sim
        .start_ping(hosts[0], ip(2), 100, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(100));
    sim.stop_app(app).unwrap();
    let sent = sim.app_report(app).unwrap().sent;
    sim.run_for(Duration::from_millis(100));
    assert_eq!(
        sim.app_report(app).unwrap().sent,
        sent,
        "a stopped app sends nothing"
    );
    assert!(sim.app_report(app).unwrap().stopped);
    // A hypervisor with hosts cannot go; without, it can.
    assert!(sim.remove_hypervisor(hv[1]).is_err());
    sim.remove_host(hosts[1]).unwrap();
    assert!(sim.app_report(app).is_ok(), "reports outlive their host");
    sim.remove_hypervisor(hv[1]).unwrap();
    assert!(sim.fdb(hv[1]).is_err());
    sim.remove_hypervisor(hv3).unwrap();
    sim.remove_site(site2).unwrap();
    assert!(sim.links().iter().all(|l| l.id != link));
    assert_eq!(sim.hypervisors(), vec![hv[0]]);
    assert_eq!(sim.hosts(), vec![hosts[0]]);
    // The name is free again.
    // (A new address: vm0's ARP cache still maps 192.168.0.2 to the removed host's MAC.)
    let b = sim
        .add_host(hv[0], HostSpec::new("vm1", 100, ip(3)))
        .unwrap();
    let p = sim
        .start_ping(hosts[0], ip(3), 2, Duration::from_millis(10), 56)
        .unwrap();
    // smoltcp sends at most one ARP request per second: vm0's last was at 0.
    sim.run_for(Duration::from_millis(1500));
    assert_eq!(sim.app_report(p).unwrap().replies, 2);
    assert_eq!(sim.host_hypervisor(b).unwrap(), Some(hv[0]));
}
