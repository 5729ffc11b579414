//! Underlay IPv4/IPv6 + UDP/GRE headers: parse whatever arrives, then emit what was parsed in
//! front of the same tunnel payload and parse it back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::IpAddress;
use vtep_core::wire::outer::{
    self, ETHERNET_LEN, IPV4_HEADER_LEN, OuterRepr, Transport, UdpChecksum, emit_ethernet,
};
use vtep_core::wire::{EthernetAddress, EthernetFrame, EthernetProtocol};

fuzz_target!(|data: &[u8]| {
    let Ok((repr, range)) = outer::parse(data) else {
        return;
    };
    assert!(range.start <= range.end && range.end <= data.len());
    assert!(range.start >= IPV4_HEADER_LEN);
    assert_eq!(
        matches!(repr.src, IpAddress::Ipv4(_)),
        matches!(repr.dst, IpAddress::Ipv4(_))
    );
    if repr.transport == Transport::Gre {
        assert_eq!(repr.udp_checksum, UdpChecksum::Zero);
    }
    assert_eq!(OuterRepr::parse(data), Ok((repr, range.clone())));

    // Emit the same headers in front of the same payload: it parses back to the same repr.
    let payload = &data[range];
    let headroom = ETHERNET_LEN + repr.header_len();
    let mut buf = vec![0u8; headroom + payload.len()];
    buf[headroom..].copy_from_slice(payload);
    let Ok(ip) = repr.emit(&mut buf, headroom..headroom + payload.len()) else {
        // Only a packet too long for the 16-bit length fields may fail.
        assert!(payload.len() + repr.header_len() > usize::from(u16::MAX));
        return;
    };
    assert_eq!(ip.start, ETHERNET_LEN);
    let (again, again_range) = outer::parse(&buf[ip.clone()]).expect("emitted headers parse");
    let mut expect = repr;
    if matches!(repr.src, IpAddress::Ipv6(_)) {
        // IPv6 always carries a UDP checksum.
        expect.udp_checksum = again.udp_checksum;
    }
    assert_eq!(again, expect);
    assert_eq!(&buf[ip.start..][again_range], payload);

    let mac = EthernetAddress([2, 0, 0, 0, 0, 1]);
    let start = emit_ethernet(&mut buf, ip.start, mac, mac, EthernetProtocol::Ipv4)
        .expect("room for Ethernet");
    assert_eq!(start, 0);
    assert!(EthernetFrame::new_checked(&buf[..]).is_ok());
});
