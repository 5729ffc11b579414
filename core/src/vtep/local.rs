//! Local ingress: a frame from a local port, learned, then sent to one remote VTEP (the short
//! way, `ReadyTransmit`), to one local port, or flooded; or, with ARP or ND suppression,
//! answered in place (ND in `nd`).

use core::ops::Range;

use super::encap::encap_in_place;
use super::fanout::Pending;
use super::io::check_range;
use super::nd::read_nd;
use super::{DropReason, Event, InnerVlanPolicy, PortBinding, ReadyTransmit, Remote, Vtep};
use crate::addr::{Destination, Mac, PortId};
use crate::fdb::{IgnoreReason, LearnOutcome};
use crate::neigh::NeighOutcome;
use crate::wire::{
    self, ArpOperation, ArpPacket, ArpRepr, ETHERNET_HEADER_LEN, EthernetFrame, EthernetProtocol,
    IpAddress, dot1q,
};
use crate::{Instant, Vni};

/// A frame's way in from a local port: when, its network (VNI, and slot in the network index)
/// and the port. The steps after learning (ARP and ND answers, flooding) all start from it.
#[derive(Clone, Copy, Debug)]
pub(super) struct FromPort {
    pub(super) now: Instant,
    pub(super) vni: Vni,
    pub(super) slot: usize,
    pub(super) port: PortId,
}

impl Vtep {
    pub(super) fn on_local(
        &mut self,
        now: Instant,
        port: PortId,
        buf: &mut [u8],
        mut frame: Range<usize>,
    ) {
        let Some(PortBinding {
            vni,
            slot,
            source: mut hint,
        }) = self.port_binding(port)
        else {
            return self.drop_frame(None, DropReason::UnknownPort);
        };
        if !check_range(buf, &frame) {
            return self.drop_frame(Some(vni), DropReason::BadBuffer);
        }
        let Some(network) = self.networks.slots.get_mut(slot) else {
            return self.drop_frame(None, DropReason::UnknownPort);
        };
        network.counters.local_rx_frames += 1;
        network.counters.local_rx_bytes += frame.len() as u64;
        let (inner_vlan, arp_proxy) = (network.config.inner_vlan, network.config.arp_proxy);
        let Some(header) = buf[frame.clone()].first_chunk::<ETHERNET_HEADER_LEN>() else {
            return self.drop_frame(Some(vni), DropReason::TruncatedFrame);
        };
        if dot1q::is_tagged(header) {
            match inner_vlan {
                InnerVlanPolicy::Drop => {
                    return self.drop_frame(Some(vni), DropReason::InnerVlanTag);
                }
                InnerVlanPolicy::Strip => match dot1q::strip_tag(&mut buf[frame.clone()]) {
                    Ok(offset) => frame.start += offset,
                    Err(_) => return self.drop_frame(Some(vni), DropReason::TruncatedFrame),
                },
                InnerVlanPolicy::Keep => {}
            }
        }
        let Some(header) = buf[frame.clone()].first_chunk::<ETHERNET_HEADER_LEN>() else {
            return self.drop_frame(Some(vni), DropReason::TruncatedFrame);
        };
        let (dst, src) = (mac_at(header, 0), mac_at(header, 6));
        let ethertype = EthernetProtocol::from(u16::from_be_bytes([header[12], header[13]]));
        // Malformed ND is refused before its source is learned: it teaches nothing.
        let nd = match read_nd(arp_proxy, ethertype, &buf[frame.clone()]) {
            Ok(nd) => nd,
            Err(reason) => return self.drop_frame(Some(vni), reason),
        };
        let outcome = self.fdb.learn_at_port(now, vni, src, port, &mut hint);
        // Learning is what refuses a group or all-zeros source, so a known one skips the check.
        if matches!(outcome, LearnOutcome::Ignored(IgnoreReason::NotUnicast)) {
            return self.drop_frame(Some(vni), DropReason::InvalidSourceMac);
        }
        if let Some(Some(binding)) = self.ports.get_mut(usize::from(port.0))
            && binding.source != hint
        {
            binding.source = hint;
        }
        if !self.learned(vni, src, Destination::Local(port), outcome) {
            return self.drop_frame(Some(vni), DropReason::FdbFull);
        }

        let from = FromPort {
            now,
            vni,
            slot,
            port,
        };
        if ethertype == EthernetProtocol::Arp && arp_proxy {
            match self.answer_local_arp(from, buf, &frame) {
                Suppression::Answered => return,
                // Like Linux's `neigh_suppress` ports: an announcement goes to the local
                // ports only; remote VTEPs hear of the address from the control plane.
                Suppression::Announcement => {
                    return self.flood(from, buf, frame, false);
                }
                Suppression::Flood => {}
            }
        }
        if let Some(message) = &nd
            && self.answer_local_nd(from, buf, &frame, message)
        {
            return;
        }

        if dst.is_unicast() {
            match self.fdb.destination(vni, &dst) {
                Some(Destination::Local(p)) if p == port => {
                    return self.drop_frame(Some(vni), DropReason::SamePort);
                }
                Some(Destination::Local(p)) => {
                    self.pending = Some(Pending::to_port(vni, slot, frame, p));
                    return;
                }
                Some(Destination::Remote(ip)) => {
                    return self.encapsulate_to(now, vni, slot, buf, frame, ip);
                }
                None => {}
            }
        }
        self.flood(from, buf, frame, true);
    }

    /// A frame to a MAC known behind the VTEP at `remote`, the common case: encapsulates it
    /// and readies the one transmit.
    #[inline(always)]
    fn encapsulate_to(
        &mut self,
        now: Instant,
        vni: Vni,
        slot: usize,
        buf: &mut [u8],
        frame: Range<usize>,
        remote: IpAddress,
    ) {
        let Some(network) = self.networks.slots.get_mut(slot) else {
            return;
        };
        let encapsulation = network.config.encapsulation;
        match encap_in_place(&self.config, network, now, vni, buf, &frame) {
            Ok((payload, source_port)) => {
                self.ready = Some(ReadyTransmit {
                    slot,
                    vni,
                    encapsulation,
                    remote: Remote::new(remote),
                    source_port,
                    payload,
                });
            }
            Err(reason) => self.drop_frame(Some(vni), reason),
        }
    }

    /// With ARP suppression on: snoops ARP into the neighbour table and answers requests for
    /// known IPs in place.
    fn answer_local_arp(
        &mut self,
        from: FromPort,
        buf: &mut [u8],
        frame: &Range<usize>,
    ) -> Suppression {
        let (now, vni, slot, port) = (from.now, from.vni, from.slot, from.port);
        let Some(arp) = parse_arp(&buf[frame.start + ETHERNET_HEADER_LEN..frame.end]) else {
            return Suppression::Flood;
        };
        self.snoop_arp(now, vni, &arp);
        let ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: asker_mac,
            source_protocol_addr: asker_ip,
            target_protocol_addr: wanted_ip,
            ..
        } = arp
        else {
            return Suppression::Flood;
        };
        if asker_ip == wanted_ip {
            return Suppression::Announcement; // a gratuitous ARP: nobody should answer it
        }
        let wanted = IpAddress::Ipv4(wanted_ip);
        let Some(answer) = self.neighbours.lookup(vni, &wanted).map(|e| e.mac) else {
            return Suppression::Flood; // unknown: flood the request as usual
        };
        if answer == asker_mac {
            return Suppression::Flood;
        }
        let reply = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: answer,
            source_protocol_addr: wanted_ip,
            target_hardware_addr: asker_mac,
            target_protocol_addr: asker_ip,
        };
        let bytes = &mut buf[frame.clone()];
        let mut eth = EthernetFrame::new_unchecked(&mut *bytes);
        eth.set_dst_addr(asker_mac);
        eth.set_src_addr(answer);
        reply.emit(&mut ArpPacket::new_unchecked(
            &mut bytes[ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + reply.buffer_len()],
        ));
        self.record_in(
            slot,
            Event::ArpSuppressed {
                vni,
                ip: wanted_ip,
                mac: answer,
            },
        );
        self.pending = Some(Pending::to_port(vni, slot, frame.clone(), port));
        Suppression::Answered
    }

    /// Learns the sender of an ARP packet into the neighbour table.
    pub(super) fn snoop_arp(&mut self, now: Instant, vni: Vni, arp: &ArpRepr) {
        let ArpRepr::EthernetIpv4 {
            source_hardware_addr: mac,
            source_protocol_addr: ip,
            ..
        } = *arp
        else {
            return;
        };
        let ip = IpAddress::Ipv4(ip);
        if matches!(
            self.neighbours.learn(now, vni, ip, mac),
            NeighOutcome::Learned | NeighOutcome::Changed { .. }
        ) {
            let router = false; // ARP has no routers
            self.sink.push(Event::NeighbourLearned {
                vni,
                ip,
                mac,
                router,
            });
        }
    }
}

/// What ARP suppression did with an ARP frame from a local port.
enum Suppression {
    /// A request answered in place from the neighbour table.
    Answered,
    /// A gratuitous ARP: to the local ports only.
    Announcement,
    /// Anything else: on as usual (a request for an unknown address is flooded).
    Flood,
}

pub(super) fn parse_arp(bytes: &[u8]) -> Option<ArpRepr> {
    let packet = ArpPacket::new_checked(bytes).ok()?;
    ArpRepr::parse(&packet).ok()
}

/// The MAC address at `header[at..at + 6]`.
#[inline(always)]
fn mac_at(header: &[u8; ETHERNET_HEADER_LEN], at: usize) -> Mac {
    let mut mac = [0; 6];
    mac.copy_from_slice(&header[at..at + 6]);
    wire::EthernetAddress(mac)
}
