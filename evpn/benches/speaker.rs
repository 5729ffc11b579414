//! `bench evpn`, the speaker's part: how fast vtep-evpn parses and installs type-2 routes, and
//! what each installed route costs in memory (speaker tables and the engine's FDB).
//!
//! ```text
//! cargo bench -p vtep-evpn --bench speaker -- [--routes N] [--runs N]
//! ```
//!
//! A peer's stream of UPDATEs, 100 MAC-only type-2 routes each from 100 VTEPs (as a reflector
//! packs them: routes with the same attributes share an UPDATE), 100,000 routes by default,
//! generated with the core's codec, is fed to an established session in 16 KiB reads, as a
//! socket delivers it; every FDB action is applied to a `Vtep`. Parse + install rate: best and
//! median of `--runs` runs (5). Memory: live heap bytes (allocation-counter's counting
//! allocator) of the speaker and engine after the routes, less before, per route. Targets
//! (issue #13): at least 500,000 routes/s on one core, under 200 bytes per route.

use std::time::Instant as Wall;

use vtep_core::fdb::FdbConfig;
use vtep_core::vtep::{NetworkConfig, Vtep, VtepConfig};
use vtep_core::wire::bgp::attr::NextHop;
use vtep_core::wire::bgp::{
    Capabilities, EthernetSegment, EvpnRoute, ExtCommunity, MacIpRoute, OpenRepr,
    RouteDistinguisher, RouteTarget, TunnelType, UpdateRepr,
};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};
use vtep_core::{Instant, Vni};
use vtep_evpn::{Input, Output, PeerId, Speaker, SpeakerConfig};

fn vni() -> Vni {
    Vni::new(42).unwrap()
}

/// A speaker with an established session to 10.0.0.254, and its engine with room for
/// `routes` entries.
fn established(routes: u32, now: Instant) -> (Speaker, PeerId, Vtep) {
    let local = Ipv4Address::new(10, 0, 0, 1);
    let mut config = VtepConfig::new(IpAddress::Ipv4(local));
    config.fdb = FdbConfig {
        max_entries: routes as usize * 2,
        ..FdbConfig::default()
    };
    let mut engine = Vtep::new(config, now).unwrap();
    engine.add_network(NetworkConfig::new(vni()), now).unwrap();
    let mut s = Speaker::new(SpeakerConfig::new(65000, local), now);
    s.add_vni(vni(), Default::default()).unwrap();
    let rr = Ipv4Address::new(10, 0, 0, 254);
    let p = s
        .add_peer(vtep_evpn::PeerConfig::active(rr, 65000))
        .unwrap();
    while !matches!(s.poll_output(), Output::Timeout(_)) {}
    s.handle_input(now, Input::Connected(p));
    let open = OpenRepr::new(65000, 90, rr, Capabilities::evpn(65000));
    let mut stream = vec![0; open.buffer_len()];
    open.emit(&mut stream);
    stream.extend_from_slice(&[&[0xff; 16][..], &[0, 19, 4]].concat());
    s.handle_input(now, Input::Data(p, &stream));
    while !matches!(s.poll_output(), Output::Timeout(_)) {}
    (s, p, engine)
}

/// `routes` MAC-only type-2 routes, 100 per UPDATE, from 100 VTEPs.
fn stream(routes: u32) -> Vec<u8> {
    let ecs = [
        ExtCommunity::RouteTarget(RouteTarget::auto(65000, 42)),
        ExtCommunity::Encapsulation(TunnelType::Vxlan),
    ];
    let mut wire = Vec::new();
    for chunk in 0..routes.div_ceil(100) {
        let vtep = Ipv4Address::new(10, 0, 1, (chunk % 100) as u8 + 2);
        let batch: Vec<_> = (chunk * 100..((chunk + 1) * 100).min(routes))
            .map(|n| {
                let b = n.to_be_bytes();
                EvpnRoute::MacIp(MacIpRoute {
                    rd: RouteDistinguisher::from_ip(vtep, 1),
                    esi: EthernetSegment::SINGLE_HOMED,
                    ethernet_tag: 0,
                    mac: EthernetAddress([2, 0, b[0], b[1], b[2], b[3]]),
                    ip: None,
                    label1: 42,
                    label2: None,
                })
            })
            .collect();
        let u = UpdateRepr::announce(NextHop::V4(vtep), &batch, &ecs);
        let start = wire.len();
        wire.resize(start + u.buffer_len(), 0);
        u.emit(&mut wire[start..]);
    }
    wire
}

/// Feeds the stream in socket-sized reads and applies every FDB action; returns how many MACs
/// were installed.
fn feed(s: &mut Speaker, p: PeerId, engine: &mut Vtep, wire: &[u8], now: Instant) -> u32 {
    let mut installed = 0;
    for piece in wire.chunks(16 * 1024) {
        s.handle_input(now, Input::Data(p, piece));
        loop {
            match s.poll_output() {
                Output::Timeout(_) => break,
                Output::Fdb(action) => {
                    action.apply(engine, now).expect("the FDB has room");
                    installed += 1;
                }
                _ => {}
            }
        }
        // The engine's events (one per install) are the driver's to drain.
        while let vtep_core::vtep::Output::Event(_) = engine.poll_output() {}
    }
    installed
}

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let routes = arg("--routes", 100_000);
    let runs = arg("--runs", 5).max(1);
    let now = Instant::from_secs(10);
    let wire = stream(routes);
    println!(
        "speaker: {routes} type-2 routes in {} UPDATEs ({} bytes), fed in 16 KiB reads, each \
         route installed in the engine's FDB",
        routes.div_ceil(100),
        wire.len()
    );

    let mut rates = Vec::new();
    for _ in 0..runs {
        let (mut s, p, mut engine) = established(routes, now);
        let t = Wall::now();
        let installed = feed(&mut s, p, &mut engine, &wire, now);
        let elapsed = t.elapsed();
        assert_eq!(installed, routes);
        assert_eq!(engine.fdb().len(), routes as usize);
        rates.push(f64::from(routes) / elapsed.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let best = rates[rates.len() - 1];
    println!(
        "  parse + install: best {:.0} routes/s, median {:.0} routes/s over {runs} runs \
         (target: at least 500000 on one core)",
        best, median
    );

    // Memory: what the routes add to the live heap of the speaker and the engine.
    let mut base = None;
    let empty = allocation_counter::measure(|| base = Some(established(routes, now))).bytes_current;
    drop(base);
    let mut full = None;
    let with_routes = allocation_counter::measure(|| {
        let (mut s, p, mut engine) = established(routes, now);
        feed(&mut s, p, &mut engine, &wire, now);
        full = Some((s, engine));
    })
    .bytes_current;
    let (s, engine) = full.expect("filled inside measure");
    let per_route = (with_routes - empty) as f64 / f64::from(routes);
    let memory = s.memory();
    println!(
        "  memory: {per_route:.1} bytes per installed route, speaker and FDB together (live \
         heap {with_routes} bytes with the routes, {empty} without; {} Adj-RIB-In records, {} \
         attribute sets, {} FDB entries) (target: under 200)",
        memory.records,
        memory.attribute_sets,
        engine.fdb().len()
    );
}
