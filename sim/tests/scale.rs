//! S5: the counting model agrees with the event-level simulation, and gives the article's
//! case exactly.

use vtep_sim::scale::{Figures, Variant, model, simulate};

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
            assert_eq!(measured.figures, expected, "{n}x{m} {}", variant.name());
        }
    }
}

/// The article's case, 5000 servers x 100 containers, from the counting rules of the model's
/// documentation (sim/src/scale.rs) with N = 5000, M = 100, H = N x M = 500,000:
/// - flat L2: the core switch learns every container (H); each container gets every other
///   container's request plus the reply to its own (H); an uplink carries its M requests up,
///   the H - M others down and the two crossing replies (H + 2 = 500,002), N uplinks of it
///   (5000 x 500,002 = 2,500,010,000); each bridge learns every container (H).
/// - flood and learn: the router sees the N VTEPs (5000); containers get the same H frames;
///   an uplink carries each local request once per remote VTEP, M (N - 1) = 499,900, one copy
///   of each remote request, H - M = 499,900, and the 2 replies: 999,802, times N =
///   4,999,010,000; each VTEP learns every container (H).
/// - control plane: the router sees the N VTEPs and the route server (5001); each container
///   gets 2 ARP replies from its VTEP and no ARP crosses the underlay; each FDB holds H routes.
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
            },
        ),
        (
            Variant::ControlPlane,
            Figures {
                underlay_mac_entries: 5001,
                arp_frames_per_host: 2,
                arp_frames_per_uplink: 0,
                underlay_arp_frames: 0,
                server_fdb_entries: 500_000,
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
}
