//! Prints the simulator's performance figures (not a timed test):
//! `cargo run --release -p vtep-sim --example bench`.
//!
//! 1. Frame-hops per second: a TCP bulk transfer between two VMs across the underlay.
//! 2. 200 hypervisors x 20 hosts (4,000 hosts), every host pinging one random peer of its
//!    network, with flood-and-learn (100 tenants of 40 hosts) and with the control plane.
//! 3. The playground's load test (16 hypervisors x 64 hosts pinging every 20 ms) with flood
//!    and learn and under BGP EVPN (a route reflector, a speaker per hypervisor), as the
//!    playground runs it (bytes kept).
//! 4. The counting model at 5000 x 100.

use std::time::Instant as Wall;

use vtep_core::wire::Ipv4Address;
use vtep_sim::rng::Rng;
use vtep_sim::scale::{Variant, model};
use vtep_sim::sim::HostSpec;
use vtep_sim::*;

fn tcp_hops() {
    let mut sim = Sim::new(SimConfig {
        keep_bytes: false,
        ..SimConfig::default()
    });
    let site = sim.add_site("dc").unwrap();
    let a = sim.add_hypervisor(site, "hv-a").unwrap();
    let b = sim.add_hypervisor(site, "hv-b").unwrap();
    let x = sim
        .add_host(a, HostSpec::new("x", 1, Ipv4Address::new(10, 0, 0, 1)))
        .unwrap();
    let y = sim
        .add_host(b, HostSpec::new("y", 1, Ipv4Address::new(10, 0, 0, 2)))
        .unwrap();
    let app = sim.start_tcp_transfer(x, y, 5001, 200_000_000).unwrap();
    let start = Wall::now();
    sim.run_for(Duration::from_secs(5));
    let wall = start.elapsed().as_secs_f64();
    let hops = sim.trace().len() as f64;
    let r = sim.app_report(app).unwrap();
    println!(
        "tcp bulk: {:.0} frame-hops ({} events) in {wall:.2} s = {:.0} frame-hops/s ({} MB moved in {} of virtual time)",
        hops,
        sim.events_processed(),
        hops / wall,
        r.received / 1_000_000,
        r.duration().map_or("-".to_string(), |d| d.to_string()),
    );
}

fn ping_storm(mode: LearningMode, vnis: u32) {
    let mut sim = Sim::new(SimConfig {
        keep_bytes: false,
        ..SimConfig::default()
    });
    let site = sim.add_site("dc").unwrap();
    if mode == LearningMode::BgpEvpn {
        sim.set_learning_mode(mode).unwrap();
    }
    let mut hosts = Vec::new();
    let build = Wall::now();
    for h in 0..200u32 {
        let hv = sim.add_hypervisor(site, &format!("hv{h}")).unwrap();
        for i in 0..20u32 {
            let k = h * 20 + i;
            let vni = 1000 + k % vnis;
            let n = k / vnis + 1;
            let ip = Ipv4Address::new(10, 0, (n >> 8) as u8, (n & 0xff) as u8);
            let id = sim
                .add_host(hv, HostSpec::new(&format!("h{k}"), vni, ip))
                .unwrap();
            hosts.push((id, vni, ip));
        }
    }
    sim.run_for(Duration::from_millis(100));
    let mut rng = Rng::new(9);
    let mut apps = Vec::new();
    for (i, (id, vni, _)) in hosts.iter().enumerate() {
        let peers: Vec<_> = hosts
            .iter()
            .enumerate()
            .filter(|(j, p)| *j != i && p.1 == *vni)
            .collect();
        let peer = peers[rng.below(peers.len() as u64) as usize].1.2;
        apps.push(
            // Several pings: under ARP suppression a target that several hosts ping must
            // resolve each of them, and smoltcp sends one ARP request per second and drops
            // the echo replies it cannot address meanwhile.
            sim.start_ping(*id, peer, 6, Duration::from_millis(1200), 56)
                .unwrap(),
        );
    }
    let built = build.elapsed().as_secs_f64();
    let start = Wall::now();
    let before = sim.trace().len();
    sim.run_for(Duration::from_secs(8));
    let wall = start.elapsed().as_secs_f64();
    let answered = apps
        .iter()
        .filter(|a| sim.app_report(**a).unwrap().replies > 0)
        .count();
    println!(
        "4000 hosts ({mode:?}, {vnis} VNIs): built in {built:.2} s, ran 8 s of virtual time in {wall:.2} s; {} frame-hops ({:.0}/s); {answered}/4000 pingers answered",
        sim.trace().len() - before,
        (sim.trace().len() - before) as f64 / wall,
    );
}

fn load_test(script: vtep_sim::script::Script) {
    let build = Wall::now();
    let mut run = script.run().unwrap();
    let sim = &mut run.sim;
    sim.run_for(Duration::from_millis(100));
    let built = build.elapsed().as_secs_f64();
    let before = sim.trace().len();
    let start = Wall::now();
    sim.run_for(Duration::from_secs(5));
    let wall = start.elapsed().as_secs_f64();
    let hops = sim.trace()[before..].len();
    let bgp = sim.trace()[before..]
        .iter()
        .filter(|h| h.layers().bgp().is_some())
        .count();
    let answered: u64 = run
        .apps
        .values()
        .map(|a| run.sim.app_report(*a).unwrap().replies)
        .sum();
    println!(
        "load test {}: built in {built:.2} s; 5 s of virtual time in {wall:.2} s: {hops} frame-hops ({:.0}/s, {bgp} of them BGP segments), {answered} echo replies",
        script.scenario.as_deref().unwrap_or("?"),
        hops as f64 / wall,
    );
}

fn main() {
    tcp_hops();
    load_test(vtep_sim::script::Script::load_test());
    load_test(vtep_sim::script::Script::load_test_evpn());
    ping_storm(LearningMode::FloodAndLearn, 100);
    ping_storm(LearningMode::BgpEvpn, 100);
    let start = Wall::now();
    for v in Variant::ALL {
        let f = model(5000, 100, v).unwrap();
        println!("model 5000 x 100, {}: {f:?}", v.name());
    }
    println!("model answered in {:?}", start.elapsed());
}
