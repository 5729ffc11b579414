//! Parse + install throughput and memory per installed route, for the figures of issue #13
//! (the bench proper comes later). Run: `cargo test -p vtep-evpn --release --test scale --
//! --ignored --nocapture`.

use std::time::Instant as Wall;

use vtep_core::fdb::FdbConfig;
use vtep_core::vtep::{NetworkConfig, Vtep, VtepConfig};
use vtep_core::wire::bgp::attr::{AsPath, MpReach, NextHop, Origin};
use vtep_core::wire::bgp::{
    Capabilities, EthernetSegment, EvpnRoute, ExtCommunity, MacIpRoute, OpenRepr,
    RouteDistinguisher, RouteTarget, Seq, TunnelType, UpdateRepr,
};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};
use vtep_core::{Instant, Vni};
use vtep_evpn::{Input, Output, PeerConfig, Speaker, SpeakerConfig};

const ROUTES: u32 = 200_000;

#[test]
#[ignore = "a measurement: run in release"]
fn parse_and_install_200k_type2_routes() {
    let now = Instant::from_secs(10);
    let vni = Vni::new(42).unwrap();
    let local = Ipv4Address::new(10, 0, 0, 1);
    let mut config = VtepConfig::new(IpAddress::Ipv4(local));
    config.fdb = FdbConfig {
        max_entries: 1 << 20,
        ..FdbConfig::default()
    };
    let mut engine = Vtep::new(config, now).unwrap();
    engine.add_network(NetworkConfig::new(vni), now).unwrap();
    let mut s = Speaker::new(SpeakerConfig::new(65000, local), now);
    s.add_vni(vni, Default::default()).unwrap();
    let rr = Ipv4Address::new(10, 0, 0, 254);
    let p = s.add_peer(PeerConfig::active(rr, 65000)).unwrap();
    while !matches!(s.poll_output(), Output::Timeout(_)) {}
    s.handle_input(now, Input::Connected(p));
    let open = OpenRepr::new(65000, 90, rr, Capabilities::evpn(65000));
    let mut stream = vec![0; open.buffer_len()];
    open.emit(&mut stream);
    stream.extend_from_slice(&[&[0xff; 16][..], &[0, 19, 4]].concat());
    s.handle_input(now, Input::Data(p, &stream));
    while !matches!(s.poll_output(), Output::Timeout(_)) {}

    // 100 type-2 routes (MAC only) per UPDATE, from 100 VTEPs.
    let ecs = [
        ExtCommunity::RouteTarget(RouteTarget::auto(65000, 42)),
        ExtCommunity::Encapsulation(TunnelType::Vxlan),
    ];
    let mut wire = Vec::new();
    for chunk in 0..ROUTES / 100 {
        let vtep = Ipv4Address::new(10, 0, 1, (chunk % 100) as u8 + 2);
        let routes: Vec<_> = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
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
        let u = UpdateRepr {
            mp_reach: Some(MpReach::Evpn {
                next_hop: NextHop::V4(vtep),
                routes: Seq::Items(&routes),
            }),
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::EMPTY),
            local_pref: Some(100),
            ext_communities: Some(Seq::Items(&ecs)),
            ..UpdateRepr::default()
        };
        let start = wire.len();
        wire.resize(start + u.buffer_len(), 0);
        u.emit(&mut wire[start..]);
    }
    let t = Wall::now();
    let mut installed = 0u32;
    for piece in wire.chunks(16 * 1024) {
        s.handle_input(now, Input::Data(p, piece));
        loop {
            match s.poll_output() {
                Output::Timeout(_) => break,
                Output::Fdb(action) => {
                    action.apply(&mut engine, now).unwrap();
                    installed += 1;
                }
                _ => {}
            }
        }
    }
    let elapsed = t.elapsed();
    assert_eq!(installed, ROUTES);
    assert_eq!(engine.fdb().len(), ROUTES as usize);
    let memory = s.memory();
    let per_route = memory.table_bytes as f64 / f64::from(ROUTES);
    println!(
        "{ROUTES} type-2 routes parsed and installed in {elapsed:?}: {:.0} routes/s; speaker tables {} bytes = {per_route:.0} bytes per route ({} attribute sets)",
        f64::from(ROUTES) / elapsed.as_secs_f64(),
        memory.table_bytes,
        memory.attribute_sets
    );
    assert!(per_route < 200.0);
}
