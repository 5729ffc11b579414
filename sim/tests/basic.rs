//! The engine end to end: ping, UDP, TCP across VTEPs; determinism; bad operations.

use vtep_core::wire::Ipv4Address;
use vtep_sim::sim::HostSpec;
use vtep_sim::trace::L3;
use vtep_sim::*;

mod common;

use common::fdb_entry;

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

/// The first `n` hops of the trace, a line each on stderr (shown when a test fails).
fn print_hops(sim: &Sim, n: usize) {
    for h in sim.trace().iter().take(n) {
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
}

#[test]
fn ping_across_two_vteps() {
    let (mut sim, hv, hosts) = small(SimConfig::default(), 2);
    let app = sim
        .start_ping(hosts[0], ip(2), 5, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_millis(200));
    print_hops(&sim, 30);
    let r = sim.app_report(app).unwrap();
    assert_eq!((r.sent, r.replies), (5, 5), "{r:?}");
    // The first ping waited for ARP; the others take about 4 underlay hops of 20 us.
    let fdb = sim.fdb(hv[0]).unwrap();
    assert_eq!(fdb.len(), 2, "{fdb:?}");
    let arp = sim.arp_cache(hosts[0]).unwrap();
    assert_eq!(arp.len(), 1);
    print_hops(&sim, 12);
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
    for l in sim.underlay_links() {
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
    let entry = fdb_entry(&sim, hv[0], None, mac);
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
    // `count` pings from a to b, 10 ms apart, and 100 ms for them: the app's report.
    let ping = |sim: &mut Sim, count| {
        let p = sim
            .start_ping(a, ip(2), count, Duration::from_millis(10), 56)
            .unwrap();
        sim.run_for(Duration::from_millis(100));
        sim.app_report(p).unwrap().clone()
    };
    // The second ping: the first one also waited for ARP.
    let rtt_direct = ping(&mut sim, 2).rtts[1].1;
    sim.fail_link(direct).unwrap();
    let rtt_detour = ping(&mut sim, 1).rtts[0].1;
    assert!(
        rtt_detour.total_micros() > rtt_direct.total_micros() + 3900,
        "{rtt_direct} {rtt_detour}"
    );
    sim.fail_hypervisor(h1).unwrap();
    assert_eq!(ping(&mut sim, 2).replies, 0);
    // The underlay withdraws the failed hypervisor's address: routers drop with no_route.
    assert!(
        sim.trace()
            .iter()
            .any(|h| h.dropped() == Some(DropCause::NoRoute))
    );
    sim.restore_hypervisor(h1).unwrap();
    assert_eq!(ping(&mut sim, 2).replies, 2);
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

/// The playground's sandbox, built: two sites, two tenants (red VNI 100, blue VNI 200).
fn sandbox() -> script::Run {
    let script = script::Script::sandbox();
    let mut run = script::Run::new(&script);
    for t in &script.actions {
        run.apply(&t.action).unwrap();
    }
    run
}

fn ping_action(app: &str, from: &str, to: [u8; 4], count: u32) -> script::Action {
    script::Action::Ping {
        app: app.into(),
        from: from.into(),
        to,
        count,
        interval_ms: 20,
        size: 56,
    }
}

/// ARP requests `from` sent for `target`, by start time in microseconds.
fn arp_requests(sim: &Sim, from: NodeId, target: Ipv4Address) -> Vec<i64> {
    sim.trace()
        .iter()
        .filter(|h| h.from == from)
        .filter(|h| {
            matches!(h.layers().inner.map(|i| i.l3),
                Some(L3::Arp { target_ip, .. }) if target_ip == target)
        })
        .map(|h| h.start.total_micros())
        .collect()
}

/// UX-REVIEW B1: red-1 pings 10.0.0.105, blue-2's address in the other tenant: nobody in VNI
/// 100 answers its ARP. red-1 asks 3 times, 1 s apart, then drops the 5 requests and the ping
/// ends, unreachable. red-1 then talks on: its ping to red-3, started at 0.5 s, gets every
/// reply. (It starts once red-1 gives up on 10.0.0.105: smoltcp sends at most one ARP request
/// a second per interface, and the older wait goes first.)
#[test]
fn a_destination_that_never_resolves_is_given_up_and_the_host_talks_on() {
    let mut run = sandbox();
    let red1 = run.node("red-1").unwrap();
    run.apply(&ping_action("lost", "red-1", [10, 0, 0, 105], 5))
        .unwrap();
    run.sim.run_for(Duration::from_millis(500));
    run.apply(&ping_action("red", "red-1", [10, 0, 0, 4], 5))
        .unwrap();
    run.sim.run_for(Duration::from_secs(10));

    let lost = run.sim.app_report(run.app("lost").unwrap()).unwrap();
    assert_eq!(
        arp_requests(&run.sim, red1, Ipv4Address::new(10, 0, 0, 105)),
        [0, 1_000_000, 2_000_000],
        "three ARP requests, 1 s apart, then silence"
    );
    assert_eq!((lost.sent, lost.replies, lost.unreachable), (5, 0, 5));
    assert_eq!(lost.unanswered, [0, 1, 2, 3, 4]);
    assert_eq!(lost.finished, Some(Instant::from_secs(3)));

    let red = run.sim.app_report(run.app("red").unwrap()).unwrap();
    assert_eq!(
        (red.sent, red.replies, red.unreachable),
        (5, 5, 0),
        "{red:?}"
    );
    let asked = arp_requests(&run.sim, red1, Ipv4Address::new(10, 0, 0, 4));
    assert_eq!(
        asked,
        [3_500_000],
        "red-3 is asked for once red-1 gave up on the other"
    );
    let done = red.finished.expect("the second ping ends");
    assert!(
        (Instant::from_millis(3500)..=Instant::from_millis(3600)).contains(&done),
        "done at its last reply, not before: {done:?}"
    );
}

/// A ping whose requests are all answered is done at its last reply; one with losses
/// `PING_WAIT` after its last request.
#[test]
fn a_ping_is_done_when_answered_or_waited_for() {
    let mut run = sandbox();
    run.apply(&ping_action("ok", "red-1", [10, 0, 0, 3], 3))
        .unwrap();
    run.sim.run_for(Duration::from_secs(2));
    let ok = run.sim.app_report(run.app("ok").unwrap()).unwrap();
    let last_reply =
        ok.started.unwrap() + Duration::from_millis(40) + ok.rtts.last().map(|r| r.1).unwrap();
    assert_eq!(ok.replies, 3);
    assert_eq!(ok.finished, Some(last_reply));
    // red-2's hypervisor fails after red-1 learned its address: requests go out, unanswered.
    run.apply(&script::Action::FailHypervisor { name: "hv2".into() })
        .unwrap();
    run.apply(&ping_action("down", "red-1", [10, 0, 0, 3], 3))
        .unwrap();
    let start = run.sim.now();
    run.sim.run_for(Duration::from_secs(3));
    let down = run.sim.app_report(run.app("down").unwrap()).unwrap();
    assert_eq!((down.sent, down.replies, down.unreachable), (3, 0, 0));
    assert_eq!(
        down.finished,
        Some(start + Duration::from_millis(40) + host::PING_WAIT)
    );
}

/// A TCP connection to an address that never resolves is abandoned after the same 3 ARP
/// requests (the kernel's "no route to host"), and stops asking.
#[test]
fn a_tcp_connection_to_an_unresolved_address_is_abandoned() {
    let mut run = sandbox();
    let red1 = run.node("red-1").unwrap();
    // A host of VNI 100 with blue-2's address is not there: add one in VNI 200 only.
    run.apply(&script::Action::Host {
        name: "blue-3".into(),
        hypervisor: "hv3".into(),
        vni: 200,
        ip: [10, 0, 0, 9],
        mac: None,
    })
    .unwrap();
    let (c, s) = (red1, run.node("blue-3").unwrap());
    let app = run.sim.start_tcp_transfer(c, s, 5001, 10_000).unwrap();
    run.sim.run_for(Duration::from_secs(10));
    let r = run.sim.app_report(app).unwrap();
    assert_eq!((r.unreachable, r.received), (1, 0), "{r:?}");
    assert_eq!(r.finished, Some(Instant::from_secs(3)));
    assert_eq!(
        arp_requests(&run.sim, red1, Ipv4Address::new(10, 0, 0, 9)).len(),
        3
    );
}

/// Two pings at once from one host, to two peers, each get all their replies.
#[test]
fn two_pings_from_one_host_both_get_replies() {
    let mut run = sandbox();
    run.apply(&ping_action("a", "red-1", [10, 0, 0, 3], 5))
        .unwrap();
    run.apply(&ping_action("b", "red-1", [10, 0, 0, 4], 5))
        .unwrap();
    run.sim.run_for(Duration::from_secs(3));
    for app in ["a", "b"] {
        let r = run.sim.app_report(run.app(app).unwrap()).unwrap();
        assert_eq!((r.sent, r.replies), (5, 5), "{app}: {r:?}");
    }
}

/// Errors name nodes as the user named them; their `Display` alone says kind and number.
#[test]
fn errors_call_nodes_by_their_names() {
    let mut run = sandbox();
    let (red1, hv1) = (run.node("red-1").unwrap(), run.node("hv1").unwrap());
    let e = run.sim.migrate_host(red1, hv1).unwrap_err();
    assert_eq!(
        run.sim.describe(&e),
        "red-1 already runs on hv1: pick another hypervisor to migrate to"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "host {} already runs on hypervisor {}: pick another hypervisor to migrate to",
            red1.0, hv1.0
        )
    );
    let hv4 = run.node("hv4").unwrap();
    run.sim.fail_hypervisor(hv4).unwrap();
    let e = run.sim.migrate_host(red1, hv4).unwrap_err();
    assert_eq!(run.sim.describe(&e), "hv4 is failed: restore it first");
    let e = run.sim.remove_hypervisor(hv1).unwrap_err();
    assert_eq!(
        run.sim.describe(&e),
        "hv1 still has hosts: migrate or remove them first"
    );
}

/// Every host is dual-stack: ping6, UDP and TCP over IPv6 across VTEPs, neighbours resolved by
/// Neighbour Discovery (no ARP), and each host's neighbour cache holding the IPv6 addresses.
#[test]
fn ping6_udp_and_tcp_over_ipv6_across_vteps() {
    let (mut sim, _hv, hosts) = small(SimConfig::default(), 3);
    let v6 = |h: NodeId| sim.host_ipv6(h).unwrap();
    assert_eq!(
        v6(hosts[1]).to_string(),
        "fd00:c0a8::2",
        "from 192.168.0.2/24"
    );
    let target = v6(hosts[1]);
    let ping = sim
        .start_ping(hosts[0], target, 5, Duration::from_millis(10), 56)
        .unwrap();
    let tcp = sim
        .start_tcp_transfer_over(sim::Family::Ipv6, hosts[0], hosts[1], 5001, 200_000)
        .unwrap();
    let udp = sim
        .start_udp_flow_over(
            sim::Family::Ipv6,
            hosts[2],
            hosts[1],
            7,
            (20, Duration::from_millis(1), 200),
            true,
        )
        .unwrap();
    sim.run_for(Duration::from_millis(500));
    let p = sim.app_report(ping).unwrap();
    assert_eq!((p.sent, p.replies), (5, 5), "{p:?}");
    let t = sim.app_report(tcp).unwrap();
    assert_eq!(t.received, 200_000, "{t:?}");
    let u = sim.app_report(udp).unwrap();
    assert_eq!((u.sent, u.received, u.replies), (20, 20, 20), "{u:?}");
    // All of it over IPv6: no ARP, no IPv4.
    for h in sim.trace() {
        let l3 = h.layers().inner.map(|i| i.l3);
        assert!(matches!(l3, Some(L3::Ipv6 { .. })), "{:#}", h.layers());
    }
    let mac1 = sim.host_addr(hosts[1]).unwrap().0;
    let cache = sim.arp_cache(hosts[0]).unwrap();
    assert_eq!(cache, [(target.into(), mac1)]);
    let echo = sim.trace().iter().find(|h| {
        matches!(
            h.layers().ipv6(),
            Some(trace::L4::IcmpEchoRequest { seq: 0, .. })
        )
    });
    assert_eq!(
        echo.map(|h| h.layers().to_string()),
        Some("fd00:c0a8::1 > fd00:c0a8::2 ICMPv6 echo request seq 0".to_string())
    );
}

/// As with ARP: a host that solicits an IPv6 address 3 times without an answer gives up, and
/// the ping ends unreachable.
#[test]
fn an_ipv6_destination_that_never_answers_is_given_up() {
    let (mut sim, _hv, hosts) = small(SimConfig::default(), 2);
    let nobody: vtep_core::wire::Ipv6Address = "fd00:c0a8::99".parse().unwrap();
    let ping = sim
        .start_ping(hosts[0], nobody, 3, Duration::from_millis(100), 56)
        .unwrap();
    sim.run_for(Duration::from_secs(5));
    let r = sim.app_report(ping).unwrap();
    assert_eq!((r.sent, r.replies, r.unreachable), (3, 0, 3), "{r:?}");
    let solicits: Vec<i64> = sim
        .trace()
        .iter()
        .filter(|h| h.from == hosts[0])
        .filter(|h| {
            matches!(h.layers().ipv6(),
                Some(trace::L4::NeighbourSolicit { target, .. }) if target == nobody)
        })
        .map(|h| h.start.total_micros())
        .collect();
    assert_eq!(solicits, [0, 1_000_000, 2_000_000]);
    assert_eq!(r.finished, Some(Instant::from_secs(3)));
}

/// IPv4-only traffic looks as it did before the hosts had IPv6: nothing IPv6 on any link.
#[test]
fn dual_stack_hosts_send_no_ipv6_unasked() {
    let (mut sim, _hv, hosts) = small(SimConfig::default(), 2);
    sim.start_ping(hosts[0], ip(2), 3, Duration::from_millis(10), 56)
        .unwrap();
    sim.run_for(Duration::from_secs(2));
    assert!(sim.trace().len() > 6);
    assert!(sim.trace().iter().all(|h| h.layers().ipv6().is_none()));
}
