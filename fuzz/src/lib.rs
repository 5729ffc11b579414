//! Shared by the fuzz targets: the packets the Linux kernel (and Scapy) put on the wire in
//! `core/tests/fixtures/`, so structured targets start from real traffic and mutate it.

use std::sync::OnceLock;

use vtep_core::pcap::PcapReader;

/// The fixture captures, compiled in: a target needs no files at run time.
pub const FIXTURES: &[(&str, &[u8])] = &[
    (
        "vxlan-ipv4",
        include_bytes!("../../core/tests/fixtures/vxlan-ipv4.pcap"),
    ),
    (
        "vxlan-ipv6",
        include_bytes!("../../core/tests/fixtures/vxlan-ipv6.pcap"),
    ),
    (
        "geneve-ipv4",
        include_bytes!("../../core/tests/fixtures/geneve-ipv4.pcap"),
    ),
    (
        "geneve-options",
        include_bytes!("../../core/tests/fixtures/geneve-options.pcap"),
    ),
    (
        "nvgre-ipv4",
        include_bytes!("../../core/tests/fixtures/nvgre-ipv4.pcap"),
    ),
];

/// Length of the outer Ethernet header of the fixtures (untagged).
const ETHERNET_LEN: usize = 14;

/// Every captured underlay IP packet (outer Ethernet header removed), in fixture order.
pub fn captured_ip_packets() -> &'static [Vec<u8>] {
    static PACKETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PACKETS.get_or_init(|| {
        FIXTURES
            .iter()
            .flat_map(|(name, bytes)| {
                PcapReader::new(bytes)
                    .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
                    .map(|record| record.expect("fixture records parse").data)
            })
            .filter_map(|frame| frame.get(ETHERNET_LEN..).map(<[u8]>::to_vec))
            .collect()
    })
}

/// Every captured inner Ethernet frame: the tunnel payloads of [`captured_ip_packets`].
pub fn captured_inner_frames() -> &'static [Vec<u8>] {
    static FRAMES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        captured_ip_packets()
            .iter()
            .filter_map(|ip| {
                let (outer, range) = vtep_core::wire::outer::parse(ip).ok()?;
                let tunnel = &ip[range];
                let header = match outer.transport {
                    vtep_core::wire::outer::Transport::Gre => 8,
                    vtep_core::wire::outer::Transport::Udp { .. } => {
                        // VXLAN is 8 bytes; Geneve adds its options.
                        if tunnel.first()? >> 6 == 0 && tunnel.get(2..4)? == [0x65, 0x58] {
                            8 + usize::from(tunnel[0] & 0x3f) * 4
                        } else {
                            8
                        }
                    }
                };
                tunnel.get(header..).map(<[u8]>::to_vec)
            })
            .collect()
    })
}

/// Loads a config text as `native-vtep --config FILE` would, checks what an accepted config
/// promises, then builds the engine from it as the daemon does (without devices or sockets).
pub fn check_config(args: &native_vtep::cli::RunArgs, text: &str) {
    use std::collections::HashSet;
    use std::path::Path;

    let settings = match native_vtep::config::load_str(args, Path::new("fuzz.toml"), text) {
        Ok(settings) => settings,
        Err(e) => {
            assert!(!e.0.trim().is_empty(), "an error says something");
            return;
        }
    };
    let s = &settings;
    assert!(!s.networks.is_empty(), "accepted with no network");
    assert!(s.vxlan_port != 0 && s.geneve_port != 0 && s.vxlan_port != s.geneve_port);
    assert!(s.srcport.0 >= 1 && s.srcport.0 <= s.srcport.1);
    assert!(!s.local.is_unspecified() && !s.local.is_multicast());
    let same_family = |ip: &std::net::IpAddr| ip.is_ipv4() == s.local.is_ipv4();
    assert!(s.accept_peers.iter().flatten().all(same_family));
    let mut vnis = HashSet::new();
    let mut taps = HashSet::new();
    for n in &s.networks {
        assert!(vnis.insert(n.vni), "VNI {} twice", n.vni);
        assert!(taps.insert(n.tap.clone()), "TAP {} twice", n.tap);
        assert!(!n.tap.is_empty() && !n.tap.contains('/'));
        assert!(n.remotes.iter().all(same_family));
        assert!(n.fdb.iter().all(|(_, ip)| same_family(ip)));
        // EVPN carries VXLAN networks, and takes their remote MACs from routes only.
        assert!(!n.evpn || (s.evpn.is_some() && !n.learning));
        assert!(n.evpn || n.route_target.is_none());
    }
    if let Some(evpn) = &s.evpn {
        assert!(
            s.networks.iter().any(|n| n.evpn),
            "EVPN with no network under it"
        );
        assert!(evpn.asn != 0 && !evpn.peers.is_empty() && !evpn.peers.contains(&evpn.vtep));
        assert!(evpn.hold_time == 0 || evpn.hold_time >= 3);
        build_speaker(s, evpn);
    }
    build_engine(s);
}

/// The speaker part of `Daemon::new`: accepted EVPN settings give a speaker its VNIs and peers
/// without an error.
fn build_speaker(
    s: &native_vtep::config::Settings,
    evpn: &native_vtep::config::evpn::EvpnSettings,
) {
    use vtep_evpn::{PeerConfig, Speaker, SpeakerConfig, VniConfig};
    let now = vtep_core::Instant::from_secs(1);
    let mut config = SpeakerConfig::new(evpn.asn, evpn.vtep);
    config.router_id = evpn.router_id;
    config.hold_time = evpn.hold_time;
    let mut speaker = Speaker::new(config, now);
    for n in s.networks.iter().filter(|n| n.evpn) {
        let vni = VniConfig {
            route_target: n.route_target,
        };
        speaker.add_vni(n.vni, vni).expect("unique VNIs");
    }
    for peer in &evpn.peers {
        speaker
            .add_peer(PeerConfig::active(*peer, evpn.asn))
            .expect("unique peers of our AS");
    }
}

/// The engine part of `Daemon::new` (the same `NetworkSettings::install`): every accepted
/// setting reaches vtep-core, which may refuse it with an error but must not panic.
fn build_engine(s: &native_vtep::config::Settings) {
    use vtep_core::vtep::Vtep;
    use vtep_core::{Duration, Instant};

    let now = Instant::from_secs(1);
    let Ok(mut vtep) = Vtep::new(s.vtep_config(), now) else {
        return;
    };
    for n in &s.networks {
        if n.install(&mut vtep, now).is_err() {
            return;
        }
    }
    // One sweep past the ageing time, as the poll loop would do eventually.
    vtep.handle_input(
        now + Duration::from_secs(s.ageing_secs.min(1 << 30)),
        vtep_core::vtep::Input::Timeout,
    );
    while !matches!(vtep.poll_output(), vtep_core::vtep::Output::Timeout(_)) {}
}
