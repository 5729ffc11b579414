//! S5: the counting model agrees with the event-level simulation, and answers fast.

use vtep_sim::scale::{Variant, model, simulate};

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

#[test]
fn the_5000_by_100_case_is_instant() {
    let start = std::time::Instant::now();
    for variant in Variant::ALL {
        let f = model(5000, 100, variant).unwrap();
        assert!(f.underlay_mac_entries >= 5000);
    }
    assert!(start.elapsed() < std::time::Duration::from_millis(100));
}
