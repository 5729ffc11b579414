//! Every layer of every fixture capture, parsed with this crate (pcap, outer IP/UDP, tunnel
//! headers) and smoltcp (Ethernet, ARP, IPv4, ICMP), checked against a one-line description.
//!
//! The fixtures (tests/fixtures/, see capture.sh and reencap.py there): VXLAN over IPv4 and
//! IPv6 captured from the Linux kernel's own `vxlan` devices, Geneve and NVGRE built by Scapy
//! around the same inner frames (the capturing kernel has no Geneve or GRE devices). Each holds
//! one ping from 192.168.42.1 to 192.168.42.2: ARP request, ARP reply, echo request, echo reply.

// In the browser (`wasm-pack test core`, suite `wasm-pack-core`) these same tests run as
// wasm-bindgen tests: the playground runs this code on a 32-bit target.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use std::fmt::Write as _;

use smoltcp::phy::ChecksumCapabilities;
use vtep_core::pcap::{LINKTYPE_ETHERNET, PcapReader};
use vtep_core::wire::{
    self, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Icmpv4Packet, Icmpv4Repr,
    IpProtocol, Ipv4Packet, Ipv4Repr, geneve, nvgre,
    outer::{self, Transport},
    vxlan,
};

fn err(layer: &'static str) -> impl Fn(wire::Error) -> String {
    move |e| format!("{layer}: {e}")
}

/// One line per layer group: outer IP and transport, tunnel, inner frame.
fn describe(frame: &[u8]) -> Result<String, String> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| "outer ethernet: truncated")?;
    let mut out = String::new();
    let ip = eth.payload();
    let (repr, tunnel) = match eth.ethertype() {
        EthernetProtocol::Ipv4 | EthernetProtocol::Ipv6 => {
            outer::parse(ip).map_err(err("outer"))?
        }
        other => return Err(format!("outer ethertype {other}")),
    };
    write!(out, "{} > {} ttl {}", repr.src, repr.dst, repr.hop_limit).unwrap();
    let tunnel = &ip[tunnel];
    let inner = match repr.transport {
        Transport::Udp { src_port, dst_port } => {
            write!(out, " udp {src_port} > {dst_port}").unwrap();
            match dst_port {
                4789 => {
                    let p = vxlan::Packet::new_checked(tunnel).map_err(err("vxlan"))?;
                    let r = vxlan::Repr::parse(&p, vxlan::ReservedBitsPolicy::Strict)
                        .map_err(err("vxlan"))?;
                    write!(out, " vxlan {}", r.vni).unwrap();
                    p.payload()
                }
                6081 => {
                    let p = geneve::Packet::new_checked(tunnel).map_err(err("geneve"))?;
                    let r = geneve::Repr::parse(&p).map_err(err("geneve"))?;
                    write!(out, " geneve {}", r.vni).unwrap();
                    for o in geneve::OptionsIter::new(r.options) {
                        let o = o.map_err(err("geneve option"))?;
                        write!(out, " opt {:04x}:{:02x}/{}", o.class, o.kind, o.data.len())
                            .unwrap();
                    }
                    p.payload()
                }
                port => return Err(format!("udp port {port}")),
            }
        }
        Transport::Gre => {
            let p = nvgre::Packet::new_checked(tunnel).map_err(err("nvgre"))?;
            let r = nvgre::Repr::parse(&p).map_err(err("nvgre"))?;
            write!(out, " nvgre {} flow {}", r.vsid, r.flow_id).unwrap();
            p.payload()
        }
    };
    out.push_str(" | ");
    describe_inner(inner, &mut out)?;
    Ok(out)
}

fn describe_inner(frame: &[u8], out: &mut String) -> Result<(), String> {
    let caps = ChecksumCapabilities::default(); // verify every checksum
    let eth = EthernetFrame::new_checked(frame).map_err(|_| "inner ethernet")?;
    write!(out, "{} > {} ", eth.src_addr(), eth.dst_addr()).unwrap();
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let arp = ArpPacket::new_checked(eth.payload()).map_err(|_| "arp")?;
            let ArpRepr::EthernetIpv4 {
                operation,
                source_protocol_addr,
                target_protocol_addr,
                ..
            } = ArpRepr::parse(&arp).map_err(|_| "arp")?
            else {
                return Err("arp: not Ethernet/IPv4".into());
            };
            write!(
                out,
                "arp {operation:?} {source_protocol_addr} > {target_protocol_addr}"
            )
            .unwrap();
        }
        EthernetProtocol::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| "ipv4")?;
            let repr = Ipv4Repr::parse(&ip, &caps).map_err(|_| "ipv4")?;
            write!(out, "{} > {} ", repr.src_addr, repr.dst_addr).unwrap();
            if repr.next_header != IpProtocol::Icmp {
                return Err(format!("inner protocol {}", repr.next_header));
            }
            let icmp = Icmpv4Packet::new_checked(ip.payload()).map_err(|_| "icmp")?;
            match Icmpv4Repr::parse(&icmp, &caps).map_err(|_| "icmp")? {
                Icmpv4Repr::EchoRequest { seq_no, data, .. } => {
                    write!(out, "echo request seq {seq_no} len {}", data.len()).unwrap();
                }
                Icmpv4Repr::EchoReply { seq_no, data, .. } => {
                    write!(out, "echo reply seq {seq_no} len {}", data.len()).unwrap();
                }
                other => return Err(format!("icmp {other:?}")),
            }
        }
        other => return Err(format!("inner ethertype {other}")),
    }
    Ok(())
}

/// The capture files, compiled in so the tests need no file system (they run in the browser).
fn fixture(file: &str) -> &'static [u8] {
    match file {
        "vxlan-ipv4.pcap" => include_bytes!("fixtures/vxlan-ipv4.pcap"),
        "vxlan-ipv6.pcap" => include_bytes!("fixtures/vxlan-ipv6.pcap"),
        "geneve-ipv4.pcap" => include_bytes!("fixtures/geneve-ipv4.pcap"),
        "geneve-options.pcap" => include_bytes!("fixtures/geneve-options.pcap"),
        "nvgre-ipv4.pcap" => include_bytes!("fixtures/nvgre-ipv4.pcap"),
        other => panic!("no fixture {other}"),
    }
}

fn check(file: &str, expect: &[&str]) {
    let reader = PcapReader::new(fixture(file)).unwrap();
    assert_eq!(reader.link_type(), LINKTYPE_ETHERNET, "{file}");
    let got: Vec<String> = reader
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(
                r.data.len(),
                r.orig_len as usize,
                "{file}: whole frames captured"
            );
            describe(r.data).unwrap_or_else(|e| format!("error: {e}"))
        })
        .collect();
    assert_eq!(got, expect, "{file}");
}

/// [`check`] of a capture of the exchange [`ping`] describes.
fn check_ping(file: &str, underlay: &str, ports: [&str; 2]) {
    let expect = ping(underlay, ports);
    let expect: Vec<&str> = expect.iter().map(String::as_str).collect();
    check(file, &expect);
}

const A: &str = "02-00-00-00-00-01";
const B: &str = "02-00-00-00-00-02";

fn ping(underlay: &str, ports: [&str; 2]) -> Vec<String> {
    let flip = |s: &str| {
        let (a, b) = s.split_once(" > ").unwrap();
        let (b, rest) = b.split_once(' ').unwrap();
        format!("{b} > {a} {rest}")
    };
    let fwd = |i: usize| format!("{underlay}{}", ports[i]);
    let rev = |i: usize| flip(&fwd(i));
    vec![
        format!(
            "{} | {A} > ff-ff-ff-ff-ff-ff arp Request 192.168.42.1 > 192.168.42.2",
            fwd(0)
        ),
        format!(
            "{} | {B} > {A} arp Reply 192.168.42.2 > 192.168.42.1",
            rev(0)
        ),
        format!(
            "{} | {A} > {B} 192.168.42.1 > 192.168.42.2 echo request seq 1 len 56",
            fwd(1)
        ),
        format!(
            "{} | {B} > {A} 192.168.42.2 > 192.168.42.1 echo reply seq 1 len 56",
            rev(1)
        ),
    ]
}

#[test]
fn vxlan_ipv4_kernel_capture() {
    // The kernel picks the UDP source port from the inner flow hash: one for the ARP
    // exchange, another for the ICMP one, both in its default range.
    check_ping(
        "vxlan-ipv4.pcap",
        "10.200.0.1 > 10.200.0.2 ttl 64",
        [" udp 44517 > 4789 vxlan 42", " udp 57775 > 4789 vxlan 42"],
    );
}

#[test]
fn vxlan_ipv6_kernel_capture() {
    check_ping(
        "vxlan-ipv6.pcap",
        "fd00:200::1 > fd00:200::2 ttl 64",
        [" udp 44517 > 4789 vxlan 42", " udp 57775 > 4789 vxlan 42"],
    );
}

#[test]
fn geneve_ipv4() {
    check_ping(
        "geneve-ipv4.pcap",
        "10.200.0.1 > 10.200.0.2 ttl 64",
        [" udp 44517 > 6081 geneve 42", " udp 57775 > 6081 geneve 42"],
    );
}

#[test]
fn geneve_options() {
    check(
        "geneve-options.pcap",
        &[
            &format!(
                "10.200.0.1 > 10.200.0.2 ttl 64 udp 44517 > 6081 geneve 42 \
                 opt ff00:01/4 opt ff01:02/8 | {A} > ff-ff-ff-ff-ff-ff \
                 arp Request 192.168.42.1 > 192.168.42.2"
            ),
            "error: geneve: a critical option is not understood",
        ],
    );
}

#[test]
fn nvgre_ipv4() {
    check_ping(
        "nvgre-ipv4.pcap",
        "10.200.0.1 > 10.200.0.2 ttl 64",
        [" nvgre 42 flow 1"; 2],
    );
}

/// The kernel's VXLAN frames, re-emitted by this crate around the same inner frame, must
/// parse to the same outer headers (ident and DF are the only fields that differ, by design).
#[test]
fn re_encapsulating_kernel_frames_round_trips() {
    use outer::{OuterRepr, UdpChecksum};
    for file in ["vxlan-ipv4.pcap", "vxlan-ipv6.pcap"] {
        for record in PcapReader::new(fixture(file)).unwrap() {
            let frame = record.unwrap().data;
            let eth = EthernetFrame::new_checked(frame).unwrap();
            let (repr, tunnel) = outer::parse(eth.payload()).unwrap();
            let vx = vxlan::Packet::new_checked(&eth.payload()[tunnel]).unwrap();
            let vxr = vxlan::Repr::parse(&vx, Default::default()).unwrap();
            let inner = vx.payload();

            let mut buf = vec![0xa5u8; outer::MAX_HEADROOM + inner.len()];
            buf[outer::MAX_HEADROOM..].copy_from_slice(inner);
            let start = outer::MAX_HEADROOM - vxr.buffer_len();
            vxr.emit(&mut vxlan::Packet::new_unchecked(&mut buf[start..]));
            let emitted = OuterRepr {
                udp_checksum: UdpChecksum::Compute,
                ..repr
            };
            let end = buf.len();
            let ip = emitted.emit(&mut buf, start..end).unwrap();
            let start = outer::emit_ethernet(
                &mut buf,
                ip.start,
                eth.src_addr(),
                eth.dst_addr(),
                eth.ethertype(),
            )
            .unwrap();
            assert_eq!(describe(&buf[start..]), describe(frame), "{file}");
        }
    }
}
