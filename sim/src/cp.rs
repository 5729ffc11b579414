//! The EVPN-like control plane: a route server node that VTEPs tell which MACs (and IPs) they
//! host (type 2, with the MAC-mobility sequence number of RFC 7432 section 15) and which VNIs
//! they serve (type 3, the flood list), and which reflects those routes to every other VTEP of
//! the VNI. Messages are tiny UDP datagrams to [`PORT`], so they cross the underlay and appear
//! in the trace like any other frame.
//!
//! `udp_frame` wraps a message for the wire and `control_message` finds one in an IPv4 packet.
//!
//! Encoding (network byte order): `type (2|3), op (1 advertise | 2 withdraw), VNI (3 bytes)`,
//! then for type 2 `MAC (6), has-IP (1), IP (4), VTEP (4), seq (4)` and for type 3 `VTEP (4)`.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpProtocol, Ipv4Repr, UdpRepr};
use vtep_core::Mac;
use vtep_core::Vni;
use vtep_core::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, Ipv4Address,
    Ipv4Packet, UdpPacket,
};

/// UDP port of the route server (and of the VTEP agents).
pub const PORT: u16 = 1790;

/// One control-plane message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteMsg {
    /// Type 2, MAC/IP advertisement: `mac` (with `ip`) is behind `vtep`.
    MacIp {
        withdraw: bool,
        vni: Vni,
        mac: Mac,
        ip: Option<Ipv4Address>,
        vtep: Ipv4Address,
        seq: u32,
    },
    /// Type 3, inclusive multicast (flood list): `vtep` serves `vni`.
    Imet {
        withdraw: bool,
        vni: Vni,
        vtep: Ipv4Address,
    },
    /// Placeholder for "not read".
    Empty,
}

impl fmt::Display for RouteMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RouteMsg::MacIp {
                withdraw,
                vni,
                mac,
                ip,
                vtep,
                seq,
            } => {
                let verb = if withdraw { "withdraw" } else { "type-2" };
                write!(f, "{verb} vni {vni} {mac}")?;
                if let Some(ip) = ip {
                    write!(f, " {ip}")?;
                }
                write!(f, " via {vtep} seq {seq}")
            }
            RouteMsg::Imet {
                withdraw,
                vni,
                vtep,
            } => {
                let verb = if withdraw { "withdraw" } else { "type-3" };
                write!(f, "{verb} vni {vni} flood to {vtep}")
            }
            RouteMsg::Empty => f.write_str("empty"),
        }
    }
}

impl RouteMsg {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        match *self {
            RouteMsg::MacIp {
                withdraw,
                vni,
                mac,
                ip,
                vtep,
                seq,
            } => {
                out.extend_from_slice(&[2, 1 + u8::from(withdraw)]);
                out.extend_from_slice(&vni.to_be_bytes());
                out.extend_from_slice(&mac.0);
                out.push(u8::from(ip.is_some()));
                out.extend_from_slice(&ip.unwrap_or(Ipv4Address::UNSPECIFIED).octets());
                out.extend_from_slice(&vtep.octets());
                out.extend_from_slice(&seq.to_be_bytes());
            }
            RouteMsg::Imet {
                withdraw,
                vni,
                vtep,
            } => {
                out.extend_from_slice(&[3, 1 + u8::from(withdraw)]);
                out.extend_from_slice(&vni.to_be_bytes());
                out.extend_from_slice(&vtep.octets());
            }
            RouteMsg::Empty => out.push(0),
        }
        out
    }

    /// `None` for anything malformed.
    pub fn decode(b: &[u8]) -> Option<RouteMsg> {
        let (&kind, rest) = b.split_first()?;
        let (&op, rest) = rest.split_first()?;
        let withdraw = match op {
            1 => false,
            2 => true,
            _ => return None,
        };
        let vni = Vni::from_be_bytes(rest.get(..3)?.try_into().ok()?);
        let rest = &rest[3..];
        let ip4 = |b: &[u8]| -> Option<Ipv4Address> {
            let o: [u8; 4] = b.try_into().ok()?;
            Some(Ipv4Address::from(o))
        };
        match kind {
            2 if rest.len() == 19 => Some(RouteMsg::MacIp {
                withdraw,
                vni,
                mac: EthernetAddress(rest[..6].try_into().ok()?),
                ip: if rest[6] == 1 {
                    ip4(&rest[7..11])
                } else {
                    None
                },
                vtep: ip4(&rest[11..15])?,
                seq: u32::from_be_bytes(rest[15..19].try_into().ok()?),
            }),
            3 if rest.len() == 4 => Some(RouteMsg::Imet {
                withdraw,
                vni,
                vtep: ip4(rest)?,
            }),
            _ => None,
        }
    }
}

/// A type-2 route as the route server holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MacRoute {
    pub ip: Option<Ipv4Address>,
    pub vtep: Ipv4Address,
    pub seq: u32,
}

/// The route server's tables.
#[derive(Clone, Debug, Default)]
pub struct RouteServer {
    pub macs: BTreeMap<(Vni, Mac), MacRoute>,
    pub members: BTreeMap<Vni, BTreeSet<Ipv4Address>>,
}

impl RouteServer {
    /// Processes a message from VTEP `from`; returns the messages to send, as (VTEP, message).
    pub fn handle(&mut self, from: Ipv4Address, msg: RouteMsg) -> Vec<(Ipv4Address, RouteMsg)> {
        let mut out = Vec::new();
        match msg {
            RouteMsg::Imet {
                withdraw: false,
                vni,
                vtep,
            } => {
                let members = self.members.entry(vni).or_default();
                if !members.insert(vtep) {
                    return out;
                }
                for &m in members.iter().filter(|m| **m != vtep) {
                    out.push((m, msg));
                    out.push((
                        vtep,
                        RouteMsg::Imet {
                            withdraw: false,
                            vni,
                            vtep: m,
                        },
                    ));
                }
                // A new member gets the whole table of the VNI.
                for ((v, mac), r) in self.macs.range((vni, Mac::from_bytes(&[0; 6]))..) {
                    if *v != vni {
                        break;
                    }
                    if r.vtep != vtep {
                        out.push((
                            vtep,
                            RouteMsg::MacIp {
                                withdraw: false,
                                vni,
                                mac: *mac,
                                ip: r.ip,
                                vtep: r.vtep,
                                seq: r.seq,
                            },
                        ));
                    }
                }
            }
            RouteMsg::Imet {
                withdraw: true,
                vni,
                vtep,
            } => {
                let Some(members) = self.members.get_mut(&vni) else {
                    return out;
                };
                if members.remove(&vtep) {
                    for &m in members.iter() {
                        out.push((m, msg));
                    }
                }
            }
            RouteMsg::MacIp {
                withdraw: false,
                vni,
                mac,
                ip,
                vtep,
                ..
            } => {
                // RFC 7432 15.1: a MAC advertised from a new place gets the next sequence number.
                let seq = match self.macs.get(&(vni, mac)) {
                    Some(old) if old.vtep == vtep => old.seq,
                    Some(old) => old.seq + 1,
                    None => 0,
                };
                self.macs.insert((vni, mac), MacRoute { ip, vtep, seq });
                let update = RouteMsg::MacIp {
                    withdraw: false,
                    vni,
                    mac,
                    ip,
                    vtep,
                    seq,
                };
                for &m in self.members.get(&vni).into_iter().flatten() {
                    if m != vtep {
                        out.push((m, update));
                    }
                }
            }
            RouteMsg::MacIp {
                withdraw: true,
                vni,
                mac,
                vtep,
                ..
            } => {
                // Only the current owner may withdraw (a stale withdraw after a move is ignored).
                if self.macs.get(&(vni, mac)).is_some_and(|r| r.vtep == vtep) {
                    self.macs.remove(&(vni, mac));
                    for &m in self.members.get(&vni).into_iter().flatten() {
                        if m != from {
                            out.push((m, msg));
                        }
                    }
                }
            }
            RouteMsg::Empty => {}
        }
        out
    }
}

/// An Ethernet/IPv4/UDP frame (the control plane's messages).
pub(crate) fn udp_frame(
    src_mac: Mac,
    dst_mac: Mac,
    src: Ipv4Address,
    dst: Ipv4Address,
    port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut bytes = vec![0u8; 14 + 20 + 8 + payload.len()];
    EthernetRepr {
        src_addr: src_mac,
        dst_addr: dst_mac,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
    let caps = ChecksumCapabilities::default();
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Udp,
        payload_len: 8 + payload.len(),
        hop_limit: 64,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut bytes[14..34]), &caps);
    UdpRepr {
        src_port: port,
        dst_port: port,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut bytes[34..]),
        &IpAddress::Ipv4(src),
        &IpAddress::Ipv4(dst),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &caps,
    );
    bytes
}

/// The route message in an IPv4 packet to the control-plane port, if it is one.
pub(crate) fn control_message(ip_bytes: &[u8]) -> Option<RouteMsg> {
    let ip = Ipv4Packet::new_checked(ip_bytes).ok()?;
    if ip.next_header() != IpProtocol::Udp {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.dst_port() != PORT {
        return None;
    }
    RouteMsg::decode(udp.payload())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Ipv4Address {
        Ipv4Address::new(10, 0, 0, n)
    }

    #[test]
    fn messages_round_trip() {
        let vni = Vni::new(5001).unwrap();
        for msg in [
            RouteMsg::MacIp {
                withdraw: false,
                vni,
                mac: EthernetAddress([2, 0, 0, 0, 0, 9]),
                ip: Some(Ipv4Address::new(192, 168, 0, 9)),
                vtep: ip(1),
                seq: 7,
            },
            RouteMsg::MacIp {
                withdraw: true,
                vni,
                mac: EthernetAddress([2, 0, 0, 0, 0, 9]),
                ip: None,
                vtep: ip(1),
                seq: 0,
            },
            RouteMsg::Imet {
                withdraw: false,
                vni,
                vtep: ip(3),
            },
        ] {
            assert_eq!(RouteMsg::decode(&msg.encode()), Some(msg));
        }
        assert_eq!(RouteMsg::decode(&[2, 1, 0]), None);
        assert_eq!(RouteMsg::decode(&[9, 1, 0, 0, 1, 1, 2, 3, 4]), None);
    }

    #[test]
    fn a_move_bumps_the_sequence_and_reaches_every_other_member() {
        let vni = Vni::new(1).unwrap();
        let mac = EthernetAddress([2, 0, 0, 0, 0, 1]);
        let mut rs = RouteServer::default();
        for n in 1..=3 {
            rs.handle(
                ip(n),
                RouteMsg::Imet {
                    withdraw: false,
                    vni,
                    vtep: ip(n),
                },
            );
        }
        let adv = |vtep| RouteMsg::MacIp {
            withdraw: false,
            vni,
            mac,
            ip: None,
            vtep,
            seq: 0,
        };
        let out = rs.handle(ip(1), adv(ip(1)));
        assert_eq!(out.len(), 2);
        let out = rs.handle(ip(2), adv(ip(2)));
        assert_eq!(
            out.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
            [ip(1), ip(3)]
        );
        assert!(matches!(out[0].1, RouteMsg::MacIp { seq: 1, .. }));
    }
}
