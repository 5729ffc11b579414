//! A ready-made encapsulated frame, made by the engine itself: the playground's first page shows
//! it, and tests check it against Wireshark.

use alloc::vec;
use alloc::vec::Vec;

use crate::addr::PortId;
use crate::vtep::{Input, NetworkConfig, Output, Vtep, VtepConfig};
use crate::wire::outer::{self, MAX_HEADROOM};
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr,
};
use crate::{Instant, Vni};

/// VNI of the sample.
pub const SAMPLE_VNI: Vni = Vni::from_u24_truncating(5001);

/// An inner frame, before encapsulation: Ethernet 02:00:00:00:00:0a -> 02:00:00:00:00:0b / IPv4
/// 192.168.50.1 -> 192.168.50.2 / ICMP echo request, ident 0x1234, sequence 7, 16 bytes of
/// data ("overlay lab ping"). The tests that compare dissectors with Wireshark's start from it.
pub fn echo_request() -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest {
        ident: 0x1234,
        seq_no: 7,
        data: b"overlay lab ping",
    };
    let mut message = vec![0u8; icmp.buffer_len()];
    icmp.emit(
        &mut Icmpv4Packet::new_unchecked(&mut message[..]),
        &Default::default(),
    );
    ipv4_frame(
        (
            EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]),
            EthernetAddress([0x02, 0, 0, 0, 0, 0x0b]),
        ),
        (
            Ipv4Address::new(192, 168, 50, 1),
            Ipv4Address::new(192, 168, 50, 2),
        ),
        IpProtocol::Icmp,
        &message,
    )
}

/// An Ethernet frame (source, destination) around an IPv4 packet (source, destination, hop
/// limit 64, header checksum filled in) that carries `payload` as `protocol`.
pub fn ipv4_frame(
    (eth_src, eth_dst): (EthernetAddress, EthernetAddress),
    (ip_src, ip_dst): (Ipv4Address, Ipv4Address),
    protocol: IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: ip_src,
        dst_addr: ip_dst,
        next_header: protocol,
        payload_len: payload.len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: eth_src,
        dst_addr: eth_dst,
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut frame = vec![0u8; eth.buffer_len() + ip.buffer_len() + payload.len()];
    let mut f = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.emit(&mut f);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    ip.emit(&mut p, &Default::default());
    p.payload_mut().copy_from_slice(payload);
    frame
}

/// A complete underlay frame: outer Ethernet / IPv4 10.0.0.1 -> 10.0.0.2 / UDP 4789 / VXLAN
/// VNI 5001 / inner Ethernet / ARP "who has 192.168.1.2? tell 192.168.1.1". The VTEP floods the
/// broadcast to its one peer; the outer headers are written in the same buffer, in place.
pub fn encapsulated_arp() -> Vec<u8> {
    let now = Instant::ZERO;
    let mut vtep = Vtep::new(VtepConfig::new(ipv4(1)), now).expect("valid sample config");
    vtep.add_network(NetworkConfig::new(SAMPLE_VNI), now)
        .expect("fresh VTEP");
    let port: PortId = vtep.add_port(SAMPLE_VNI).expect("network exists");
    vtep.add_flood_peer(SAMPLE_VNI, ipv4(2))
        .expect("same family");

    let host = EthernetAddress([0x02, 0x00, 0x00, 0x00, 0x01, 0x01]);
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: host,
        source_protocol_addr: Ipv4Address::new(192, 168, 1, 1),
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: Ipv4Address::new(192, 168, 1, 2),
    };
    let frame_len = 14 + arp.buffer_len();
    let mut buf = vec![0u8; MAX_HEADROOM + frame_len];
    let frame = MAX_HEADROOM..buf.len();
    EthernetRepr {
        src_addr: host,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut buf[frame.clone()]));
    arp.emit(&mut ArpPacket::new_unchecked(&mut buf[frame.start + 14..]));

    vtep.handle_input(
        now,
        Input::Local {
            port,
            buf: &mut buf,
            frame,
        },
    );
    loop {
        match vtep.poll_output() {
            Output::Transmit(t) => {
                let Ok(ip) = t.outer.emit(&mut buf, t.payload.clone()) else {
                    return Vec::new();
                };
                let Ok(start) = outer::emit_ethernet(
                    &mut buf,
                    ip.start,
                    EthernetAddress([0x02, 0x00, 0x0a, 0x00, 0x00, 0x01]),
                    EthernetAddress([0x02, 0x00, 0x0a, 0x00, 0x00, 0x02]),
                    EthernetProtocol::Ipv4,
                ) else {
                    return Vec::new();
                };
                return buf[start..ip.end].to_vec();
            }
            Output::Timeout(_) => return Vec::new(),
            Output::Deliver(_) | Output::Event(_) => {}
        }
    }
}

fn ipv4(last: u8) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, last))
}

#[cfg(test)]
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    use crate::wire::vxlan;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn sample_is_a_whole_vxlan_frame() {
        let bytes = encapsulated_arp();
        // 14 outer Ethernet + 20 IPv4 + 8 UDP + 8 VXLAN + 14 inner Ethernet + 28 ARP.
        assert_eq!(bytes.len(), 92);
        let eth = EthernetFrame::new_checked(&bytes[..]).unwrap();
        assert_eq!(eth.ethertype(), EthernetProtocol::Ipv4);
        let (outer_repr, payload) = outer::parse(eth.payload()).unwrap();
        assert_eq!(outer_repr.dst, ipv4(2));
        let vx = vxlan::Packet::new_checked(&eth.payload()[payload]).unwrap();
        assert_eq!(vx.vni(), SAMPLE_VNI);
        let inner = EthernetFrame::new_checked(vx.payload()).unwrap();
        assert_eq!(inner.ethertype(), EthernetProtocol::Arp);
    }
}
