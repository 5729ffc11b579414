//! The hostile-input catalogue (issue #7), one test per entry, against the engine alone. Each
//! test checks that the input is dropped under the right `DropReason`, charged to the right
//! network (or to none), by exactly the expected amount and under no other reason; that nothing
//! is delivered or transmitted that should not be, nothing is learned that should not be; and
//! that legitimate traffic still flows afterwards. Malformed IPv6 Neighbour Discovery
//! (`malformed_nd`) is an entry too; `nd.rs` holds ND suppression's properties.
//! `native-vtep/tests/hostile.rs` runs the same catalogue end to end against the daemon with
//! packets crafted by scapy.

// In the browser (`wasm-pack test core`, suite `wasm-pack-core`) these same tests run as
// wasm-bindgen tests: the playground runs this code on a 32-bit target.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

mod common;

use common::*;
use smoltcp::wire::Icmpv6Packet;
use vtep_core::fdb::Origin;
use vtep_core::vtep::{DropReason, Encapsulation, InnerVlanPolicy, NetworkConfig, VtepConfig};
use vtep_core::wire::ndisc::{self, Malformed};
use vtep_core::wire::outer::{self, OuterRepr, Transport, UdpChecksum};
use vtep_core::wire::vxlan::ReservedBitsPolicy;
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, IpAddress, Ipv4Address,
    Ipv6Address, Ipv6Packet,
};
use vtep_core::{Destination, Instant, PortId, Vni};

const VXLAN: Transport = Transport::Udp {
    src_port: 50000,
    dst_port: 4789,
};
const GENEVE: Transport = Transport::Udp {
    src_port: 50000,
    dst_port: 6081,
};

/// VTEP 0 of a two-VTEP fabric after host 2 (behind VTEP 1) and host 1 (behind VTEP 0) have
/// talked, so both are learned; returns the fabric and a good datagram from VTEP 1 to VTEP 0.
fn victim(
    network: impl Fn(NetworkConfig) -> NetworkConfig,
    vtep: impl Fn(VtepConfig) -> VtepConfig,
) -> (Fabric, Vec<u8>, Transport) {
    let mut f = Fabric::with_config(2, network, vtep);
    f.send(0, P0, &frame(mac(1), mac(2), 46));
    let (good, transport) = f.datagram_from_1(&frame(mac(2), mac(1), 46));
    f.take_delivered();
    f.take_wire();
    (f, good, transport)
}

/// [`victim`] with ARP and ND suppression on, and `ip` a static neighbour of VTEP 0 at host 2's
/// MAC; returns the fabric and the transport of the good datagram.
fn proxy_victim(ip: IpAddress) -> (Fabric, Transport) {
    let (mut f, _, transport) = victim(proxy, |c| c);
    let now = f.now;
    f.vteps[0]
        .add_static_neighbour(now, VNI, ip, mac(2))
        .unwrap();
    (f, transport)
}

/// Legitimate traffic still flows both ways, unicast (no flooding: the FDB is intact).
#[track_caller]
fn still_works(f: &mut Fabric) {
    f.take_delivered();
    f.take_wire();
    f.send(1, P0, &frame(mac(2), mac(1), 46));
    f.send(0, P0, &frame(mac(1), mac(2), 46));
    let got: Vec<(usize, PortId)> = f
        .take_delivered()
        .iter()
        .map(|d| (d.vtep, d.port))
        .collect();
    assert_eq!(got, [(0, P0), (1, P0)], "legit traffic after the attack");
    assert_eq!(
        f.take_wire().len(),
        2,
        "one datagram each way, nothing flooded"
    );
}

/// Nothing reached a local port and nothing went into the underlay.
#[track_caller]
fn nothing_out(f: &mut Fabric) {
    assert!(f.take_delivered().is_empty(), "delivered to a port");
    assert!(f.take_wire().is_empty(), "sent into the underlay");
}

/// Since `before` (see [`drops`]) VTEP 0 dropped exactly `want`, and nothing came out.
#[track_caller]
fn only_dropped(
    f: &mut Fabric,
    before: &[(Option<Vni>, DropReason, u64)],
    want: &[(Option<Vni>, DropReason, u64)],
) {
    assert_drops(&f.vteps[0], before, want);
    nothing_out(f);
}

fn vxlan_header(flags: u8, reserved1: [u8; 3], vni: u32, reserved2: u8) -> [u8; 8] {
    let v = vni.to_be_bytes();
    [
        flags,
        reserved1[0],
        reserved1[1],
        reserved1[2],
        v[1],
        v[2],
        v[3],
        reserved2,
    ]
}

fn with_header(header: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut d = header.to_vec();
    d.extend_from_slice(inner);
    d
}

/// A Geneve header for VNI 5001 carrying Ethernet, with `options` and the C bit.
fn geneve_header(options: &[u8], critical: bool) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut h = vec![
        (options.len() / 4) as u8,
        if critical { 0x40 } else { 0 },
        0x65,
        0x58,
    ];
    h.extend_from_slice(&[0x00, 0x13, 0x89, 0x00]); // VNI 5001
    h.extend_from_slice(options);
    h
}

/// One Geneve option of class 0xffff (experimental) with 4 bytes of data; the high bit of the
/// type marks it critical.
fn geneve_option(critical: bool) -> [u8; 8] {
    let kind = if critical { 0x91 } else { 0x11 };
    [0xff, 0xff, kind, 1, 1, 2, 3, 4]
}

#[test]
fn truncated_outer_and_inner_headers() {
    // Outer headers: every cut of a real IP/UDP/VXLAN packet is refused by `outer::parse`, the
    // only way a driver that reads raw IP turns bytes into an `Input::Underlay`.
    let (mut f, good, transport) = victim(|n| n, |c| c);
    let repr = OuterRepr {
        src: underlay(2),
        dst: underlay(1),
        transport,
        hop_limit: 64,
        udp_checksum: UdpChecksum::Compute,
    };
    let headroom = outer::header_len(&repr.src, &repr.transport);
    let mut packet = vec![0u8; headroom];
    packet.extend_from_slice(&good);
    let end = packet.len();
    let whole = repr.emit(&mut packet, headroom..end).unwrap();
    let packet = packet[whole].to_vec();
    assert!(outer::parse(&packet).is_ok());
    for cut in 0..packet.len() {
        assert!(
            outer::parse(&packet[..cut]).is_err(),
            "outer headers cut at {cut} of {} parsed",
            packet.len()
        );
    }

    // The tunnel header cut short: malformed, charged to no network (the VNI is unreadable).
    let before = drops(&f.vteps[0]);
    for cut in 0..8 {
        f.underlay_input(0, underlay(2), transport, &good[..cut]);
    }
    assert_drops(
        &f.vteps[0],
        &before,
        &[(None, DropReason::MalformedTunnel, 8)],
    );
    // The header whole, the inner Ethernet header cut short.
    let before = drops(&f.vteps[0]);
    for cut in 8..8 + 14 {
        f.underlay_input(0, underlay(2), transport, &good[..cut]);
    }
    assert_drops(
        &f.vteps[0],
        &before,
        &[(Some(VNI), DropReason::TruncatedFrame, 14)],
    );
    // Geneve whose option length runs past the end of the datagram.
    let mut g = victim(
        |n| NetworkConfig {
            encapsulation: Encapsulation::Geneve,
            ..n
        },
        |c| c,
    );
    let before = drops(&g.0.vteps[0]);
    let long = with_header(&geneve_header(&geneve_option(false), false), &[]);
    g.0.underlay_input(0, underlay(2), GENEVE, &long[..12]);
    only_dropped(&mut g.0, &before, &[(None, DropReason::MalformedTunnel, 1)]);
    still_works(&mut g.0);
    // From a port: frames shorter than an Ethernet header.
    let before = drops(&f.vteps[0]);
    let whole = frame(mac(1), mac(2), 46);
    for cut in 0..14 {
        f.send(0, P0, &whole[..cut]);
    }
    only_dropped(
        &mut f,
        &before,
        &[(Some(VNI), DropReason::TruncatedFrame, 14)],
    );
    still_works(&mut f);
}

#[test]
fn vxlan_with_the_i_flag_clear() {
    for policy in [ReservedBitsPolicy::Rfc, ReservedBitsPolicy::Strict] {
        let (mut f, good, transport) = victim(
            |n| n,
            |c| VtepConfig {
                reserved_bits: policy,
                ..c
            },
        );
        let before = drops(&f.vteps[0]);
        // I clear alone, and I clear with every other flag set: no VNI either way.
        for flags in [0x00, 0xf7] {
            let mut d = good.clone();
            d[0] = flags;
            f.underlay_input(0, underlay(2), transport, &d);
        }
        only_dropped(&mut f, &before, &[(None, DropReason::BadFlags, 2)]);
        still_works(&mut f);
    }
}

#[test]
fn vxlan_with_reserved_bits_set() {
    let inner = frame(mac(2), mac(1), 46);
    let headers = [
        // Every reserved field and flag set besides I.
        vxlan_header(0xff, [0xab, 0xcd, 0xef], 5001, 0x5a),
        // Group-Based Policy: the G bit and a policy ID in the first reserved field.
        vxlan_header(0x88, [0x00, 0x12, 0x34], 5001, 0),
        // Only the last reserved byte.
        vxlan_header(0x08, [0, 0, 0], 5001, 0x01),
    ];
    // RFC 7348: reserved bits "MUST be ignored on receipt": delivered as plain VXLAN.
    let (mut f, _, transport) = victim(|n| n, |c| c);
    let before = drops(&f.vteps[0]);
    for h in &headers {
        f.underlay_input(0, underlay(2), transport, &with_header(h, &inner));
    }
    assert_drops(&f.vteps[0], &before, &[]);
    let delivered = f.take_delivered();
    assert_eq!(delivered.len(), 3);
    assert!(delivered.iter().all(|d| d.frame == inner));
    // Strict (the Linux driver): dropped, charged to no network.
    let (mut f, _, transport) = victim(
        |n| n,
        |c| VtepConfig {
            reserved_bits: ReservedBitsPolicy::Strict,
            ..c
        },
    );
    let before = drops(&f.vteps[0]);
    for h in &headers {
        f.underlay_input(0, underlay(2), transport, &with_header(h, &inner));
    }
    only_dropped(&mut f, &before, &[(None, DropReason::ReservedBitsSet, 3)]);
    still_works(&mut f);
}

#[test]
fn vni_not_configured() {
    let (mut f, good, transport) = victim(|n| n, |c| c);
    let before = drops(&f.vteps[0]);
    for vni in [0, 5000, 5002, 0xff_ffff] {
        let mut d = good.clone();
        d[4..7].copy_from_slice(&(vni as u32).to_be_bytes()[1..]);
        f.underlay_input(0, underlay(2), transport, &d);
    }
    only_dropped(&mut f, &before, &[(None, DropReason::UnknownVni, 4)]);
    // The source MAC of an unknown VNI is learned nowhere.
    assert_eq!(f.vteps[0].fdb().len(), 2);
    still_works(&mut f);
}

#[test]
fn geneve_with_unknown_critical_options() {
    let (mut f, _, _) = victim(
        |n| NetworkConfig {
            encapsulation: Encapsulation::Geneve,
            ..n
        },
        |c| c,
    );
    let inner = frame(mac(2), mac(1), 46);
    let hostile = [
        geneve_header(&geneve_option(true), true),
        // A critical option without the C bit (a sender bug): still critical.
        geneve_header(&geneve_option(true), false),
        // The C bit without a critical option.
        geneve_header(&geneve_option(false), true),
        // A critical option after a non-critical one.
        geneve_header(&[geneve_option(false), geneve_option(true)].concat(), true),
    ];
    let before = drops(&f.vteps[0]);
    for h in &hostile {
        f.underlay_input(0, underlay(2), GENEVE, &with_header(h, &inner));
    }
    only_dropped(
        &mut f,
        &before,
        &[(None, DropReason::UnknownCriticalOption, 4)],
    );
    // Non-critical options are skipped (RFC 8926 3.5): the frame is delivered.
    let h = geneve_header(
        &[geneve_option(false), geneve_option(false)].concat(),
        false,
    );
    f.underlay_input(0, underlay(2), GENEVE, &with_header(&h, &inner));
    assert_eq!(f.take_delivered()[0].frame, inner);
    still_works(&mut f);
}

#[test]
fn frames_above_the_mtu() {
    for encapsulation in Encapsulation::ALL {
        let (mut f, _, _) = victim(|n| NetworkConfig { encapsulation, ..n }, |c| c);
        // The largest inner frame: the 1500-byte underlay minus the tunnel's IP overhead (VXLAN
        // over IPv4: 50 bytes with the outer Ethernet header, so 1450 bytes of inner IP).
        let max = 1500 - encapsulation.ip_overhead(false);
        f.send(0, P0, &frame(mac(1), mac(2), max - 14));
        assert_eq!(f.take_delivered().len(), 1, "{encapsulation}: {max} bytes");
        assert_eq!(f.take_wire().len(), 1);
        // One byte more is dropped, not fragmented (RFC 7348 4.3).
        let before = drops(&f.vteps[0]);
        f.send(0, P0, &frame(mac(1), mac(2), max - 14 + 1));
        only_dropped(&mut f, &before, &[(Some(VNI), DropReason::TooBig, 1)]);

        // From the underlay (a peer with a larger MTU, or reassembled IP fragments): a frame
        // that does not fit this side's ports is dropped as well, not handed to a TAP whose
        // MTU it exceeds.
        let transport = match encapsulation {
            Encapsulation::Vxlan => VXLAN,
            Encapsulation::Geneve => GENEVE,
            Encapsulation::Nvgre => Transport::Gre,
        };
        let mut big = Fabric::with_config(
            2,
            |n| NetworkConfig { encapsulation, ..n },
            |c| VtepConfig {
                underlay_mtu: 9000,
                ..c
            },
        );
        let (fits, _) = big.datagram_from_1(&frame(mac(2), mac(1), max - 14));
        let (too_big, _) = big.datagram_from_1(&frame(mac(2), mac(1), max - 14 + 1));
        let before = drops(&f.vteps[0]);
        f.underlay_input(0, underlay(2), transport, &fits);
        assert_eq!(f.take_delivered().len(), 1, "{encapsulation}");
        f.underlay_input(0, underlay(2), transport, &too_big);
        only_dropped(&mut f, &before, &[(Some(VNI), DropReason::TooBig, 1)]);
        still_works(&mut f);
    }
}

#[test]
fn multicast_broadcast_or_zero_source_macs() {
    let bad = [
        EthernetAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]),
        EthernetAddress([0x33, 0x33, 0x00, 0x00, 0x00, 0x01]),
        EthernetAddress::BROADCAST,
        EthernetAddress([0; 6]),
    ];
    let (mut f, good, transport) = victim(|n| n, |c| c);
    let before = drops(&f.vteps[0]);
    for src in bad {
        // From the underlay...
        let mut d = good.clone();
        d[8 + 6..8 + 12].copy_from_slice(&src.0);
        f.underlay_input(0, underlay(2), transport, &d);
        // ...and from a port, to a known host and to everyone.
        f.send(0, P0, &frame(src, mac(2), 46));
        f.send(0, P0, &frame(src, EthernetAddress::BROADCAST, 46));
    }
    only_dropped(
        &mut f,
        &before,
        &[(Some(VNI), DropReason::InvalidSourceMac, 12)],
    );
    for src in bad {
        assert!(
            f.vteps[0].fdb().lookup(VNI, &src).is_none(),
            "{src} learned"
        );
    }
    assert_eq!(f.vteps[0].fdb().len(), 2);
    still_works(&mut f);
}

#[test]
fn an_inner_8021q_tag() {
    let tagged = {
        let plain = frame(mac(1), mac(2), 46);
        let mut t = plain[..12].to_vec();
        t.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]); // VLAN 100
        t.extend_from_slice(&plain[12..]);
        t
    };
    let tagged_from_2 = {
        let mut t = tagged.clone();
        t[..6].copy_from_slice(&mac(1).0);
        t[6..12].copy_from_slice(&mac(2).0);
        t
    };
    // RFC 7348 6.1 by default: dropped in both directions.
    let (mut f, _, transport) = victim(|n| n, |c| c);
    let mut keep = Fabric::with_config(
        2,
        |n| NetworkConfig {
            inner_vlan: InnerVlanPolicy::Keep,
            ..n
        },
        |c| c,
    );
    let (tagged_datagram, _) = keep.datagram_from_1(&tagged_from_2);
    let before = drops(&f.vteps[0]);
    f.send(0, P0, &tagged);
    f.underlay_input(0, underlay(2), transport, &tagged_datagram);
    only_dropped(&mut f, &before, &[(Some(VNI), DropReason::InnerVlanTag, 2)]);
    still_works(&mut f);
    // Strip: the tag comes off on the way in; tagged frames from the underlay are still dropped.
    let (mut f, _, transport) = victim(
        |n| NetworkConfig {
            inner_vlan: InnerVlanPolicy::Strip,
            ..n
        },
        |c| c,
    );
    f.send(0, P0, &tagged);
    assert_eq!(f.take_delivered()[0].frame, frame(mac(1), mac(2), 46));
    let before = drops(&f.vteps[0]);
    f.underlay_input(0, underlay(2), transport, &tagged_datagram);
    assert_drops(
        &f.vteps[0],
        &before,
        &[(Some(VNI), DropReason::InnerVlanTag, 1)],
    );
    // Keep, when configured so: carried both ways.
    keep.take_delivered();
    keep.send(0, P0, &tagged);
    assert_eq!(keep.take_delivered()[0].frame, tagged);
}

#[test]
fn a_flood_of_random_source_macs_beyond_max_address() {
    for drop_when_full in [false, true] {
        let mut f = Fabric::with_config(
            2,
            |n| n,
            |mut c| {
                c.fdb.max_entries = 4;
                c.fdb.drop_when_full = drop_when_full;
                c
            },
        );
        // Two real hosts talk first: each VTEP has learned 2 of its 4 entries.
        f.send(0, P0, &frame(mac(1), mac(2), 46));
        f.send(1, P0, &frame(mac(2), mac(1), 46));
        f.take_delivered();
        // A burst of 20 random source MACs from behind VTEP 1, interleaved with the real hosts'
        // traffic; each table holds 4.
        let mut rng = 0x5eed_u64;
        let mut pings = 0;
        for n in 0..20 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let b = (rng >> 16).to_be_bytes();
            let random = EthernetAddress([0x02, b[0], b[1], b[2], b[3], n]);
            f.send(1, P0, &frame(random, EthernetAddress::BROADCAST, 46));
            // The real hosts keep talking, by unicast, throughout.
            f.take_delivered();
            f.take_wire();
            f.send(0, P0, &frame(mac(1), mac(2), 46));
            f.send(1, P0, &frame(mac(2), mac(1), 46));
            let d: Vec<_> = f.take_delivered().iter().map(|d| d.vtep).collect();
            assert_eq!(d, [1, 0], "real hosts during the flood");
            assert_eq!(f.take_wire().len(), 2, "still unicast: nothing flooded");
            pings += 1;
        }
        assert_eq!(pings, 20);
        // The ingress VTEP meets the limit first: 2 more learned, 18 not.
        let ingress = *f.vteps[1].counters(VNI).unwrap();
        assert_eq!((ingress.learned, ingress.fdb_full), (4, 18));
        for v in &f.vteps {
            assert!(v.fdb().len() <= 4, "the table stays capped");
            for host in [mac(1), mac(2)] {
                assert!(
                    v.fdb().lookup(VNI, &host).is_some(),
                    "a real host was evicted"
                );
            }
        }
        let dropped: u64 = f
            .vteps
            .iter()
            .map(|v| v.counters(VNI).unwrap().drops.get(DropReason::FdbFull))
            .sum();
        // Dropping when full is what native-vtep does (exposed to a network); otherwise the
        // frames still go through, unlearned.
        assert_eq!(dropped, if drop_when_full { 18 } else { 0 });
        still_works(&mut f);
    }
}

#[test]
fn datagrams_from_outside_the_peer_list() {
    let (mut f, good, transport) = victim(|n| n, |c| c);
    f.vteps[0]
        .set_accept_peers(Some(vec![underlay(2)]))
        .unwrap();
    let before = drops(&f.vteps[0]);
    // A well-formed datagram from a stranger, one carrying a new MAC, and one from the other
    // address family.
    f.underlay_input(0, underlay(9), transport, &good);
    let mut d = good.clone();
    d[8 + 6..8 + 12].copy_from_slice(&mac(66).0);
    f.underlay_input(0, underlay(9), transport, &d);
    let v6 = IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));
    f.underlay_input(0, v6, transport, &good);
    only_dropped(
        &mut f,
        &before,
        &[
            (None, DropReason::NotAPeer, 2),
            (None, DropReason::AddressFamily, 1),
        ],
    );
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(66)).is_none());
    // The stranger did not move host 2 either.
    assert_eq!(
        f.vteps[0].fdb().lookup(VNI, &mac(2)).unwrap().dest,
        Destination::Remote(underlay(2))
    );
    still_works(&mut f);
}

#[test]
fn gratuitous_arp_against_a_static_neighbour() {
    let (mut f, transport) = proxy_victim(host_ip(2).into());
    let evil = mac(66);
    let garp = |op| arp(op, (evil, host_ip(2)), host_ip(2));
    let mut keep = Fabric::new(2, |n| n);
    let before = drops(&f.vteps[0]);
    for op in [ArpOperation::Request, ArpOperation::Reply] {
        // From the local port, and from the underlay.
        f.send(0, P0, &garp(op));
        let (d, _) = keep.datagram_from_1(&garp(op));
        f.underlay_input(0, underlay(2), transport, &d);
    }
    // A gratuitous ARP announces: it is forwarded, not dropped (from a local port under ARP
    // suppression, to the other local ports only, as Linux's `neigh_suppress` does: none here).
    assert_drops(&f.vteps[0], &before, &[]);
    let entry = *f.vteps[0]
        .neighbours()
        .lookup(VNI, &host_ip(2).into())
        .unwrap();
    assert_eq!((entry.mac, entry.origin), (mac(2), Origin::Static));
    // A request for it is still answered locally, with the static MAC.
    f.take_delivered();
    f.take_wire();
    f.who_has(host_ip(2));
    assert!(f.take_wire().is_empty());
    let answer = f.take_delivered();
    let eth = EthernetFrame::new_checked(&answer[0].frame[..]).unwrap();
    let reply = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    let ArpRepr::EthernetIpv4 {
        source_hardware_addr,
        ..
    } = reply
    else {
        panic!("{reply:?}")
    };
    assert_eq!(source_hardware_addr, mac(2));
    // Snooping itself works: a learned (not static) entry does follow a gratuitous ARP.
    let other = Ipv4Address::new(192, 168, 1, 3);
    f.send(0, P0, &arp(ArpOperation::Request, (mac(3), other), other));
    f.send(0, P0, &arp(ArpOperation::Request, (evil, other), other));
    assert_eq!(
        f.vteps[0]
            .neighbours()
            .lookup(VNI, &other.into())
            .unwrap()
            .mac,
        evil
    );
    still_works(&mut f);
}

#[test]
fn zero_length_and_65535_byte_datagrams() {
    for (encapsulation, transport) in [
        (Encapsulation::Vxlan, VXLAN),
        (Encapsulation::Geneve, GENEVE),
        (Encapsulation::Nvgre, Transport::Gre),
    ] {
        let (mut f, good, _) = victim(|n| NetworkConfig { encapsulation, ..n }, |c| c);
        let before = drops(&f.vteps[0]);
        f.underlay_input(0, underlay(2), transport, &[]);
        assert_drops(
            &f.vteps[0],
            &before,
            &[(None, DropReason::MalformedTunnel, 1)],
        );
        // The largest UDP payload IPv4 carries (65535 - 20 - 8 bytes): a valid header and a
        // 65499-byte frame, which no port of a 1500-byte underlay can take.
        let header_len = encapsulation.header_len();
        let mut max = good[..header_len].to_vec();
        max.extend_from_slice(&frame(mac(2), mac(1), 65507 - header_len - 14));
        assert_eq!(max.len(), 65507);
        let before = drops(&f.vteps[0]);
        f.underlay_input(0, underlay(2), transport, &max);
        assert_drops(&f.vteps[0], &before, &[(Some(VNI), DropReason::TooBig, 1)]);
        // 65535 bytes of garbage: counted once, whatever it parses as.
        let before = drops(&f.vteps[0]);
        f.underlay_input(0, underlay(2), transport, &[0xff; 65535]);
        let moved: u64 = drops(&f.vteps[0])
            .iter()
            .zip(&before)
            .map(|(a, b)| a.2 - b.2)
            .sum();
        assert_eq!(moved, 1, "{encapsulation}");
        // A 65535-byte frame from a port (a TAP with a huge MTU) does not leave either.
        let before = drops(&f.vteps[0]);
        f.send(0, P0, &frame(mac(1), mac(2), 65535 - 14));
        only_dropped(&mut f, &before, &[(Some(VNI), DropReason::TooBig, 1)]);
        still_works(&mut f);
    }
    // The VNI of the garbage above, 0xffffff, is not served; serve it and the garbage is a
    // 65527-byte frame (with a broadcast source): too big, counted once, no panic.
    let mut f = Fabric::new(2, |n| n);
    let all_ones = Vni::new(0xff_ffff).unwrap();
    f.vteps[0]
        .add_network(NetworkConfig::new(all_ones), Instant::ZERO)
        .unwrap();
    f.vteps[0].add_port(all_ones).unwrap();
    let before = drops(&f.vteps[0]);
    f.underlay_input(0, underlay(2), VXLAN, &[0xff; 65535]);
    only_dropped(&mut f, &before, &[(Some(all_ones), DropReason::TooBig, 1)]);
}

/// Neighbour Discovery that RFC 4861 section 7.1 says to discard, each from an attacker's MAC
/// with the proxy on and the target known: the engine drops it as `malformed_nd`, answers
/// none, floods none, learns nothing from it (neither the MAC nor an address), from a port and
/// from the underlay alike.
fn malformed_nd_frames() -> Vec<(Malformed, Vec<u8>)> {
    let evil = mac(66);
    let ask = ns(evil, host_ip6(66), host_ip6(2));
    let good_ns = ns_frame(&ask);
    let good_na = na_frame(&unsolicited_na(evil, host_ip6(2)));
    // The frame with `edit` applied and the ICMPv6 checksum made right again, so the one
    // fault is the one named.
    let edited = |frame: &[u8], edit: &dyn Fn(&mut Vec<u8>)| {
        let mut f = frame.to_vec();
        edit(&mut f);
        let ip = Ipv6Packet::new_unchecked(&f[14..]);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let end = (54 + usize::from(ip.payload_len())).min(f.len());
        Icmpv6Packet::new_unchecked(&mut f[54..end]).fill_checksum(&src, &dst);
        f
    };
    vec![
        // Forwarded by a router: not from this link.
        (Malformed::HopLimit(64), edited(&good_ns, &|f| f[21] = 64)),
        (Malformed::HopLimit(1), edited(&good_na, &|f| f[21] = 1)),
        (Malformed::Code(1), edited(&good_ns, &|f| f[55] = 1)),
        (Malformed::Checksum, {
            let mut f = good_ns.clone();
            f[57] ^= 0xff;
            f
        }),
        (Malformed::Options, edited(&good_ns, &|f| f[79] = 0)),
        // The source link-layer option claims 16 bytes where 8 remain.
        (Malformed::Options, edited(&good_ns, &|f| f[79] = 2)),
        // Two stray bytes after the last option: a truncated option header.
        (
            Malformed::Options,
            edited(&good_ns, &|f| {
                f.extend_from_slice(&[1, 1]);
                f[19] += 2;
            }),
        ),
        // The IPv6 payload length says 8 bytes more than the frame holds.
        (Malformed::Truncated, edited(&good_ns, &|f| f[19] += 8)),
        // From a group address, which no packet may come from.
        (
            Malformed::MulticastSource,
            edited(&good_ns, &|f| {
                f[22..38].copy_from_slice(&Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets());
            }),
        ),
        (
            Malformed::MulticastTarget,
            edited(&good_ns, &|f| {
                f[62..78].copy_from_slice(&solicited_node(host_ip6(2)).0.octets());
            }),
        ),
        // A duplicate address detection probe that carries a link-layer address.
        (
            Malformed::BadProbe,
            edited(&good_ns, &|f| f[22..38].fill(0)),
        ),
        // A solicited advertisement to all nodes.
        (
            Malformed::SolicitedToMulticast,
            edited(&good_na, &|f| f[58] |= 0x40),
        ),
    ]
}

#[test]
fn malformed_neighbour_discovery() {
    let (mut f, transport) = proxy_victim(host_ip6(2).into());
    let frames = malformed_nd_frames();
    let mut keep = Fabric::new(2, |n| n);
    let neighbours = f.vteps[0].neighbours().len();
    let before = drops(&f.vteps[0]);
    for (what, bad) in &frames {
        assert_eq!(ndisc::parse(bad), Err(*what), "the catalogue's frame");
        f.send(0, P0, bad);
        assert!(
            f.take_delivered().is_empty(),
            "{what:?}: answered or forwarded"
        );
        assert!(f.take_wire().is_empty(), "{what:?}: flooded");
    }
    let n = frames.len() as u64;
    assert_drops(
        &f.vteps[0],
        &before,
        &[(Some(VNI), DropReason::MalformedNd, n)],
    );
    // From the underlay: the same, charged to the network.
    let before = drops(&f.vteps[0]);
    for (_, bad) in &frames {
        let (d, _) = keep.datagram_from_1(bad);
        f.underlay_input(0, underlay(2), transport, &d);
    }
    only_dropped(&mut f, &before, &[(Some(VNI), DropReason::MalformedNd, n)]);
    // Nothing learned from any of it: no MAC, no address, the static entry untouched.
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(66)).is_none());
    assert_eq!(f.vteps[0].neighbours().len(), neighbours);
    assert_eq!(
        f.vteps[0]
            .neighbours()
            .lookup(VNI, &host_ip6(2).into())
            .unwrap()
            .mac,
        mac(2)
    );
    assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 0);
    // A well-formed solicitation is still answered.
    f.send(0, P0, &ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2))));
    assert!(f.take_wire().is_empty());
    assert_eq!(f.take_delivered().len(), 1);
    assert_eq!(f.vteps[0].counters(VNI).unwrap().nd_suppressed, 1);
    still_works(&mut f);
}

#[test]
fn unsolicited_advertisement_against_a_static_neighbour() {
    let target = IpAddress::Ipv6(host_ip6(2));
    let (mut f, transport) = proxy_victim(target);
    let evil = mac(66);
    let claim = na_frame(&unsolicited_na(evil, host_ip6(2)));
    let mut keep = Fabric::new(2, |n| n);
    let before = drops(&f.vteps[0]);
    f.send(0, P0, &claim);
    let (d, _) = keep.datagram_from_1(&claim);
    f.underlay_input(0, underlay(2), transport, &d);
    // An announcement is forwarded like any multicast, not dropped; the static entry stands.
    assert_drops(&f.vteps[0], &before, &[]);
    let entry = *f.vteps[0].neighbours().lookup(VNI, &target).unwrap();
    assert_eq!((entry.mac, entry.origin), (mac(2), Origin::Static));
    f.take_delivered();
    f.take_wire();
    f.send(0, P0, &ns_frame(&ns(mac(1), host_ip6(1), host_ip6(2))));
    assert!(f.take_wire().is_empty());
    let answer = f.take_delivered();
    assert_eq!(
        &answer[0].frame[6..12],
        &mac(2).0,
        "answered with the static MAC"
    );
    still_works(&mut f);
}
