//! The sockets a host's apps open (ICMP for ping and ping6, UDP, TCP), and the echo messages
//! ping writes and reads: ICMP to an IPv4 address, ICMPv6 to an IPv6 one.

use alloc::vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr, IpAddress, Ipv6Address};

pub(super) fn udp_socket() -> udp::Socket<'static> {
    udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 256], vec![0; 1 << 18]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 256], vec![0; 1 << 18]),
    )
}

pub(super) fn icmp_socket(ident: u16) -> icmp::Socket<'static> {
    let mut s = icmp::Socket::new(
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 65536]),
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 65536]),
    );
    let _ = s.bind(icmp::Endpoint::Ident(ident));
    s
}

pub(super) fn tcp_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 65535]),
        tcp::SocketBuffer::new(vec![0; 65535]),
    )
}

/// Hands an echo request (ICMP to an IPv4 target, ICMPv6 to an IPv6 one) to the socket; false
/// when it has no room. smoltcp fills in the ICMPv6 checksum once it picks the source address.
pub(super) fn send_echo(
    s: &mut icmp::Socket<'_>,
    to: IpAddress,
    ident: u16,
    seq_no: u16,
    data: &[u8],
) -> bool {
    match to {
        IpAddress::Ipv4(_) => {
            let repr = Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            };
            let Ok(buf) = s.send(repr.buffer_len(), to) else {
                return false;
            };
            repr.emit(
                &mut Icmpv4Packet::new_unchecked(buf),
                &ChecksumCapabilities::default(),
            );
        }
        IpAddress::Ipv6(dst) => {
            let repr = Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            };
            let Ok(buf) = s.send(repr.buffer_len(), to) else {
                return false;
            };
            let caps = ChecksumCapabilities::ignored();
            repr.emit(
                &Ipv6Address::UNSPECIFIED,
                &dst,
                &mut Icmpv6Packet::new_unchecked(buf),
                &caps,
            );
        }
    }
    true
}

/// The identifier and sequence number of an echo reply the socket received from `from`.
pub(super) fn echo_reply(bytes: &[u8], from: IpAddress) -> Option<(u16, u16)> {
    match from {
        IpAddress::Ipv4(_) => {
            let packet = Icmpv4Packet::new_checked(bytes).ok()?;
            match Icmpv4Repr::parse(&packet, &ChecksumCapabilities::default()).ok()? {
                Icmpv4Repr::EchoReply { ident, seq_no, .. } => Some((ident, seq_no)),
                _ => None,
            }
        }
        IpAddress::Ipv6(src) => {
            // The stack checked the checksum on the way in.
            let packet = Icmpv6Packet::new_checked(bytes).ok()?;
            let caps = ChecksumCapabilities::ignored();
            let any = Ipv6Address::UNSPECIFIED;
            match Icmpv6Repr::parse(&src, &any, &packet, &caps).ok()? {
                Icmpv6Repr::EchoReply { ident, seq_no, .. } => Some((ident, seq_no)),
                _ => None,
            }
        }
    }
}
