//! S5: the counting model agrees with the event-level simulation, and gives the article's
//! case exactly.

use vtep_sim::scale::{Figures, Variant, model, model_with, simulate, simulate_with};

#[test]
fn model_equals_simulation_at_small_sizes() {
    for (n, m) in [(2u16, 2u16), (3, 1), (4, 3), (5, 2)] {
        for variant in Variant::ALL {
            let measured = simulate(n, m, variant, 7).unwrap();
            let expected = model(u64::from(n), u64::from(m), variant).unwrap();
            let hosts = u64::from(n) * u64::from(m);
            assert_eq!(
                measured.pings_answered, hosts,
                "{n}x{m} {variant:?}: every ping answered"
            );
            assert_eq!(
                measured.per_host.0, measured.per_host.1,
                "{n}x{m} {variant:?}: uniform per host"
            );
            assert_eq!(
                measured.per_uplink.0, measured.per_uplink.1,
                "{n}x{m} {variant:?}: uniform per uplink"
            );
            assert_eq!(
                measured.per_vtep_bgp.0, measured.per_vtep_bgp.1,
                "{n}x{m} {variant:?}: uniform per VTEP"
            );
            assert_eq!(measured.figures, expected, "{n}x{m} {}", variant.name());
        }
    }
}

/// The article's case, 5000 servers x 100 containers, from the counting rules of the model's
/// documentation (sim/src/scale.rs) with N = 5000, M = 100, H = N x M = 500,000:
/// - flat L2: the core switch learns every container (H); each container gets every other
///   container's request plus the reply to its own (H); an uplink carries its M requests up,
///   the H - M others down and the two crossing replies (H + 2 = 500,002, of 42 bytes:
///   21,000,084), N uplinks of it (5000 x 500,002 = 2,500,010,000); each bridge learns every
///   container (H).
/// - flood and learn: the router sees the N VTEPs (5000); containers get the same H frames;
///   an uplink carries each local request once per remote VTEP, M (N - 1) = 499,900, one copy
///   of each remote request, H - M = 499,900, and the 2 replies: 999,802 (of 92 bytes in
///   VXLAN: 91,981,784), times N = 4,999,010,000; each VTEP learns every container (H).
/// - BGP EVPN, one reflector: the router sees the N VTEPs and the reflector (5001); each
///   container gets 2 ARP replies from its VTEP and no ARP crosses the underlay; each FDB
///   holds H routes. A VTEP's 200 type-2 routes (35 + 39 bytes a container) fill one UPDATE
///   with 54 containers' (69 + 54 x 74 = 4065 bytes; a 55th MAC route would make 4100) and a
///   second with the other 46 (69 + 3404 = 3473): it sends OPEN 45 + KEEPALIVE 19 + its
///   type-3 UPDATE 100 + 4065 + 3473 = 7702 bytes in 5 messages. The reflector passes each of
///   those UPDATEs on with 14 bytes more (4079 and 3487: both still fit) and the type-3 route
///   (114): 3 messages and 7680 bytes per other VTEP, 4999 of them, after its OPEN and
///   KEEPALIVE: 14,999 messages and 64 + 4999 x 7680 = 38,392,384 bytes. In all 15,004
///   messages and 38,400,086 bytes to converge; then 40 KEEPALIVEs a minute.
#[test]
fn the_5000_by_100_case_in_exact_figures() {
    let cases = [
        (
            Variant::FlatL2,
            Figures {
                underlay_mac_entries: 500_000,
                arp_frames_per_host: 500_000,
                arp_frames_per_uplink: 500_002,
                underlay_arp_frames: 2_500_010_000,
                server_fdb_entries: 500_000,
                arp_bytes_per_uplink: 21_000_084,
                bgp_messages_per_vtep: 0,
                bgp_bytes_per_vtep: 0,
                keepalives_per_minute_per_vtep: 0,
            },
        ),
        (
            Variant::FloodAndLearn,
            Figures {
                underlay_mac_entries: 5000,
                arp_frames_per_host: 500_000,
                arp_frames_per_uplink: 999_802,
                underlay_arp_frames: 4_999_010_000,
                server_fdb_entries: 500_000,
                arp_bytes_per_uplink: 91_981_784,
                bgp_messages_per_vtep: 0,
                bgp_bytes_per_vtep: 0,
                keepalives_per_minute_per_vtep: 0,
            },
        ),
        (
            Variant::Evpn,
            Figures {
                underlay_mac_entries: 5001,
                arp_frames_per_host: 2,
                arp_frames_per_uplink: 0,
                underlay_arp_frames: 0,
                server_fdb_entries: 500_000,
                arp_bytes_per_uplink: 0,
                bgp_messages_per_vtep: 15_004,
                bgp_bytes_per_vtep: 38_400_086,
                keepalives_per_minute_per_vtep: 40,
            },
        ),
    ];
    for (variant, expected) in cases {
        assert_eq!(
            model(5000, 100, variant),
            Some(expected),
            "{}",
            variant.name()
        );
    }
    // A second reflector doubles the control traffic, and nothing else.
    let two = model_with(5000, 100, Variant::Evpn, 2).unwrap();
    assert_eq!(
        (
            two.bgp_messages_per_vtep,
            two.bgp_bytes_per_vtep,
            two.underlay_mac_entries
        ),
        (30_008, 76_800_172, 5002)
    );
}

#[test]
fn control_traffic_with_two_reflectors_and_routes_in_several_updates() {
    // Two reflectors double every VTEP's sessions; 60 containers a server make 120 type-2
    // routes, more than one UPDATE holds (54 containers' worth).
    for (n, m, reflectors) in [(3u16, 2u16, 2u8), (2, 60, 1)] {
        let measured = simulate_with(n, m, Variant::Evpn, reflectors, 7).unwrap();
        let expected = model_with(
            u64::from(n),
            u64::from(m),
            Variant::Evpn,
            u64::from(reflectors),
        )
        .unwrap();
        assert_eq!(measured.per_vtep_bgp.0, measured.per_vtep_bgp.1);
        assert_eq!(
            measured.figures, expected,
            "{n}x{m}, {reflectors} reflectors"
        );
    }
}
