//! Frames built with this crate's wire, outer and pcap APIs, decoded by Wireshark's tshark: an
//! independent implementation must see the VNI, ports, checksums and inner protocols we meant.
//!
//! Without tshark on PATH the tests print why and pass, unless OVERLAY_LAB_REQUIRE_TOOLS is set
//! (as CI does), where they fail.
#![cfg(not(target_arch = "wasm32"))] // runs the tshark program: native only

mod common;

use common::tshark;
use vtep_core::Vni;
use vtep_core::wire::{
    ArpOperation, EthernetAddress, EthernetProtocol, IpAddress, Ipv4Address, Ipv6Address,
    flow::{self, DEFAULT_SOURCE_PORTS, GENEVE_PORT, VXLAN_PORT},
    geneve, nvgre,
    outer::{self, OuterRepr, Transport, UdpChecksum},
    vxlan,
};

const VNI: u32 = 5001;
const MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]);
const UNDERLAY_MAC_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0xaa, 0x01]);
const UNDERLAY_MAC_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0xaa, 0x02]);
const INNER_A: Ipv4Address = Ipv4Address::new(192, 168, 50, 1);
const INNER_B: Ipv4Address = Ipv4Address::new(192, 168, 50, 2);
const SEED: u64 = 0x6f76_6572_6c61_7921;

fn arp_request() -> Vec<u8> {
    common::arp(ArpOperation::Request, (MAC_A, INNER_A), INNER_B)
}

/// Between MAC_A / INNER_A and MAC_B / INNER_B.
fn echo_request() -> Vec<u8> {
    vtep_core::sample::echo_request()
}

#[derive(Clone, Copy)]
enum Tunnel<'a> {
    Vxlan,
    Geneve { options: &'a [u8] },
    Nvgre,
}

/// Encapsulate in place, the way the engine does: inner frame after MAX_HEADROOM (+ options),
/// then tunnel header, outer IP (+UDP) and Ethernet written in front of it.
fn encapsulate(
    inner: &[u8],
    tunnel: Tunnel<'_>,
    src: IpAddress,
    dst: IpAddress,
    udp_checksum: UdpChecksum,
) -> Vec<u8> {
    let vni = Vni::new(VNI).unwrap();
    let extra = match tunnel {
        Tunnel::Geneve { options } => options.len(),
        _ => 0,
    };
    let headroom = outer::MAX_HEADROOM + extra;
    let mut buf = vec![0u8; headroom + inner.len()];
    buf[headroom..].copy_from_slice(inner);
    let hash = flow::flow_hash(inner, SEED);
    let (min, max) = DEFAULT_SOURCE_PORTS;
    let udp = |dst_port| Transport::Udp {
        src_port: flow::source_port(hash, min, max),
        dst_port,
    };
    let (start, transport) = match tunnel {
        Tunnel::Vxlan => {
            let r = vxlan::Repr { vni };
            let start = headroom - r.buffer_len();
            r.emit(&mut vxlan::Packet::new_unchecked(&mut buf[start..]));
            (start, udp(VXLAN_PORT))
        }
        Tunnel::Geneve { options } => {
            let r = geneve::Repr {
                vni,
                oam: false,
                critical: false,
                protocol: vtep_core::wire::ETHERTYPE_TRANSPARENT_ETHERNET,
                options,
            };
            let start = headroom - r.buffer_len();
            r.emit(&mut geneve::Packet::new_unchecked(&mut buf[start..]));
            (start, udp(GENEVE_PORT))
        }
        Tunnel::Nvgre => {
            let r = nvgre::Repr {
                vsid: vni,
                flow_id: (hash >> 24) as u8,
            };
            let start = headroom - r.buffer_len();
            r.emit(&mut nvgre::Packet::new_unchecked(&mut buf[start..]));
            (start, Transport::Gre)
        }
    };
    let repr = OuterRepr {
        src,
        dst,
        transport,
        hop_limit: 64,
        udp_checksum,
    };
    let end = buf.len();
    let ip = repr.emit(&mut buf, start..end).unwrap();
    let ethertype = match src {
        IpAddress::Ipv4(_) => EthernetProtocol::Ipv4,
        IpAddress::Ipv6(_) => EthernetProtocol::Ipv6,
    };
    let start = outer::emit_ethernet(
        &mut buf,
        ip.start,
        UNDERLAY_MAC_A,
        UNDERLAY_MAC_B,
        ethertype,
    )
    .unwrap();
    buf.drain(..start);
    buf
}

/// Compare tshark's rows with the expected ones, field by field with names in the message.
fn check(name: &str, frames: &[Vec<u8>], expect: &[(&str, [&str; 2])]) {
    let fields: Vec<&str> = expect.iter().map(|(f, _)| *f).collect();
    let rows = tshark::decode(name, frames, &fields);
    assert_eq!(rows.len(), frames.len(), "{name}: one row per frame");
    for (i, row) in rows.iter().enumerate() {
        let got: Vec<(&str, &str)> = fields
            .iter()
            .zip(row)
            .map(|(f, v)| (*f, v.as_str()))
            .collect();
        let want: Vec<(&str, &str)> = expect.iter().map(|(f, v)| (*f, v[i])).collect();
        assert_eq!(got, want, "{name}: frame {i}");
    }
}

fn v4(a: [u8; 4]) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::from(a))
}

fn src_port(inner: &[u8]) -> String {
    let (min, max) = DEFAULT_SOURCE_PORTS;
    flow::source_port(flow::flow_hash(inner, SEED), min, max).to_string()
}

/// tshark's checksum status values.
const GOOD: &str = "1";
const NOT_PRESENT: &str = "3";

#[test]
fn vxlan_over_ipv4() {
    if !tshark::present() {
        return;
    }
    let (arp, icmp) = (arp_request(), echo_request());
    let (a, b) = (v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    let frames = [
        encapsulate(&arp, Tunnel::Vxlan, a, b, UdpChecksum::Zero),
        encapsulate(&icmp, Tunnel::Vxlan, a, b, UdpChecksum::Compute),
    ];
    let (p_arp, p_icmp) = (src_port(&arp), src_port(&icmp));
    check(
        "vxlan",
        &frames,
        &[
            (
                "frame.protocols",
                [
                    "eth:ethertype:ip:udp:vxlan:eth:ethertype:arp",
                    "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data",
                ],
            ),
            ("vxlan.vni", ["5001", "5001"]),
            ("vxlan.flags", ["0x0800", "0x0800"]),
            ("udp.dstport", ["4789", "4789"]),
            ("udp.srcport", [&p_arp, &p_icmp]),
            ("udp.checksum.status", [NOT_PRESENT, GOOD]),
            ("ip.src", ["10.0.0.1", "10.0.0.1,192.168.50.1"]),
            ("ip.flags.df", ["1", "1,1"]), // smoltcp sets DF on the inner packet too
            ("ip.ttl", ["64", "64,64"]),
            ("ip.checksum.status", [GOOD, "1,1"]),
            (
                "eth.dst",
                [
                    "02:00:00:00:aa:02,ff:ff:ff:ff:ff:ff",
                    "02:00:00:00:aa:02,02:00:00:00:00:0b",
                ],
            ),
            ("arp.opcode", ["1", ""]),
            ("arp.dst.proto_ipv4", ["192.168.50.2", ""]),
            ("icmp.type", ["", "8"]),
            ("icmp.seq", ["", "7"]),
            ("icmp.checksum.status", ["", GOOD]),
        ],
    );
    assert!(p_arp.parse::<u16>().unwrap() >= 49152 && p_icmp.parse::<u16>().unwrap() >= 49152);
}

#[test]
fn geneve_over_ipv6_with_option() {
    if !tshark::present() {
        return;
    }
    let (arp, icmp) = (arp_request(), echo_request());
    let a = IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 1));
    let b = IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 2));
    let mut option = [0u8; 8];
    geneve::GeneveOption {
        class: 0xff00,
        kind: 0x01,
        data: &[0xde, 0xad, 0xbe, 0xef],
    }
    .emit(&mut option)
    .unwrap();
    let frames = [
        encapsulate(
            &arp,
            Tunnel::Geneve { options: &[] },
            a,
            b,
            UdpChecksum::Zero,
        ),
        encapsulate(
            &icmp,
            Tunnel::Geneve { options: &option },
            a,
            b,
            UdpChecksum::Zero,
        ),
    ];
    let (p_arp, p_icmp) = (src_port(&arp), src_port(&icmp));
    check(
        "geneve",
        &frames,
        &[
            (
                "frame.protocols",
                [
                    "eth:ethertype:ipv6:udp:geneve:eth:ethertype:arp",
                    "eth:ethertype:ipv6:udp:geneve:eth:ethertype:ip:icmp:data",
                ],
            ),
            ("geneve.vni", ["0x001389", "0x001389"]),
            ("geneve.version", ["0", "0"]),
            ("geneve.proto_type", ["0x6558", "0x6558"]),
            ("geneve.option.class", ["", "0xff00"]),
            ("geneve.option.type", ["", "0x01"]),
            ("udp.dstport", ["6081", "6081"]),
            ("udp.srcport", [&p_arp, &p_icmp]),
            // IPv6: computed whatever the policy says.
            ("udp.checksum.status", [GOOD, GOOD]),
            ("ipv6.dst", ["fd00:200::2", "fd00:200::2"]),
            ("ipv6.hlim", ["64", "64"]),
            ("arp.opcode", ["1", ""]),
            ("icmp.type", ["", "8"]),
        ],
    );
}

#[test]
fn nvgre_over_ipv4() {
    if !tshark::present() {
        return;
    }
    let (arp, icmp) = (arp_request(), echo_request());
    let (a, b) = (v4([10, 0, 0, 1]), v4([10, 0, 0, 2]));
    let frames = [
        encapsulate(&arp, Tunnel::Nvgre, a, b, UdpChecksum::Zero),
        encapsulate(&icmp, Tunnel::Nvgre, a, b, UdpChecksum::Zero),
    ];
    // tshark 4.0 has no NVGRE dissector of its own: GRE with key, and the key is
    // VSID << 8 | FlowID.
    let key = |inner: &[u8]| {
        let flow_id = flow::flow_hash(inner, SEED) >> 24;
        format!("{:#010x}", (VNI << 8) | flow_id)
    };
    let (k_arp, k_icmp) = (key(&arp), key(&icmp));
    check(
        "nvgre",
        &frames,
        &[
            (
                "frame.protocols",
                [
                    "eth:ethertype:ip:gre:eth:ethertype:arp",
                    "eth:ethertype:ip:gre:eth:ethertype:ip:icmp:data",
                ],
            ),
            ("ip.proto", ["47", "47,1"]),
            ("gre.flags_and_version", ["0x2000", "0x2000"]),
            ("gre.proto", ["0x6558", "0x6558"]),
            ("gre.key", [&k_arp, &k_icmp]),
            ("ip.checksum.status", [GOOD, "1,1"]),
            ("arp.opcode", ["1", ""]),
            ("icmp.type", ["", "8"]),
        ],
    );
}

/// The frame the engine itself encapsulated (the playground's sample): `Vtep` floods an ARP
/// request to its one peer and the outer headers are written in place.
#[test]
fn engine_sample_decodes_as_vxlan_arp() {
    if !tshark::present() {
        return;
    }
    let frame = vtep_core::sample::encapsulated_arp();
    check(
        "engine-sample",
        &[frame],
        &[
            (
                "frame.protocols",
                ["eth:ethertype:ip:udp:vxlan:eth:ethertype:arp", ""],
            ),
            ("vxlan.vni", ["5001", ""]),
            ("udp.dstport", ["4789", ""]),
            ("ip.dst", ["10.0.0.2", ""]),
            ("ip.checksum.status", [GOOD, ""]),
            ("arp.dst.proto_ipv4", ["192.168.1.2", ""]),
        ],
    );
}

/// ND suppression: the engine (proxy on) answers a Neighbour Solicitation for a static IPv6
/// neighbour, and Wireshark reads the answer as a Neighbour Advertisement with the flags,
/// target and link-layer option the kernel's proxy sends, and a good ICMPv6 checksum.
#[test]
fn nd_answer_decodes_as_a_neighbour_advertisement() {
    use common::{Fabric, P0, host_ip6, proxy};
    if !tshark::present() {
        return;
    }
    // VTEP 10.0.0.1, VNI 5001, proxy on, knowing fd42::2 at MAC_B.
    let mut f = Fabric::new(1, proxy);
    let now = f.now;
    f.vteps[0]
        .add_static_neighbour(now, common::VNI, IpAddress::Ipv6(host_ip6(2)), MAC_B)
        .unwrap();
    // From fd42::1 to fd42::2's solicited-node group, MAC_A as the source link-layer address.
    let solicitation = common::ns_frame(&common::ns(MAC_A, host_ip6(1), host_ip6(2)));
    f.send(0, P0, &solicitation);
    assert!(f.take_wire().is_empty(), "sent into the underlay");
    let answer = f.take_delivered().pop().expect("answered").frame;
    check(
        "nd-answer",
        &[solicitation, answer],
        &[
            (
                "frame.protocols",
                ["eth:ethertype:ipv6:icmpv6", "eth:ethertype:ipv6:icmpv6"],
            ),
            ("eth.src", ["02:00:00:00:00:0a", "02:00:00:00:00:0b"]),
            ("eth.dst", ["33:33:ff:00:00:02", "02:00:00:00:00:0a"]),
            ("ipv6.src", ["fd42::1", "fd42::2"]),
            ("ipv6.dst", ["ff02::1:ff00:2", "fd42::1"]),
            ("ipv6.hlim", ["255", "255"]),
            ("icmpv6.type", ["135", "136"]),
            ("icmpv6.checksum.status", [GOOD, GOOD]),
            ("icmpv6.nd.ns.target_address", ["fd42::2", ""]),
            ("icmpv6.nd.na.target_address", ["", "fd42::2"]),
            ("icmpv6.nd.na.flag.r", ["", "0"]),
            ("icmpv6.nd.na.flag.s", ["", "1"]),
            ("icmpv6.nd.na.flag.o", ["", "1"]),
            ("icmpv6.opt.type", ["1", "2"]),
            (
                "icmpv6.opt.linkaddr",
                ["02:00:00:00:00:0a", "02:00:00:00:00:0b"],
            ),
        ],
    );
}
