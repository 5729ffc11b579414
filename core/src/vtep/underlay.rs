//! Underlay ingress: a tunnel datagram from a peer, checked, decapsulated, its inner source
//! (and, with the proxy on, what its ARP or ND says) learned, and the inner frame delivered to
//! one local port or flooded to all of them (never back into the underlay: split horizon).

use core::ops::Range;

use super::config::{is_ipv6, same_family};
use super::encap::read_tunnel_header;
use super::fanout::{Pending, RemoteFanout};
use super::io::check_range;
use super::local::parse_arp;
use super::nd::read_nd;
use super::{DropReason, Encapsulation, InnerVlanPolicy, Vtep};
use crate::addr::{Destination, Mac};
use crate::fdb::is_learnable;
use crate::wire::outer::Transport;
use crate::wire::{ETHERNET_HEADER_LEN, EthernetFrame, EthernetProtocol, IpAddress, dot1q};
use crate::{Instant, Vni};

impl Vtep {
    pub(super) fn on_underlay(
        &mut self,
        now: Instant,
        from: IpAddress,
        transport: Transport,
        buf: &mut [u8],
        payload: Range<usize>,
    ) {
        if !check_range(buf, &payload) {
            return self.drop_frame(None, DropReason::BadBuffer);
        }
        if !same_family(&from, &self.config.local) {
            return self.drop_frame(None, DropReason::AddressFamily);
        }
        // A VTEP is not its own peer: learning a MAC behind our own address (a spoofed source)
        // would send its traffic back to ourselves (found by fuzz target vtep_ops).
        if from == self.config.local
            || self
                .config
                .accept_peers
                .as_ref()
                .is_some_and(|peers| !peers.contains(&from))
        {
            return self.drop_frame(None, DropReason::NotAPeer);
        }
        let encapsulation = match transport {
            Transport::Udp { dst_port, .. } if dst_port == self.config.vxlan_port => {
                Encapsulation::Vxlan
            }
            Transport::Udp { dst_port, .. } if dst_port == self.config.geneve_port => {
                Encapsulation::Geneve
            }
            Transport::Udp { .. } => return self.drop_frame(None, DropReason::UnknownUdpPort),
            Transport::Gre => Encapsulation::Nvgre,
        };
        let (vni, header_len) = match read_tunnel_header(
            encapsulation,
            &buf[payload.clone()],
            self.config.reserved_bits,
        ) {
            Ok(parsed) => parsed,
            Err(e) => return self.drop_frame(None, e.into()),
        };
        let Some(slot) = self.networks.slot(&vni) else {
            return self.drop_frame(None, DropReason::UnknownVni);
        };
        let config = self.networks.slots[slot].config;
        if config.encapsulation != encapsulation {
            return self.drop_frame(Some(vni), DropReason::EncapsulationMismatch);
        }
        let frame = payload.start + header_len..payload.end;
        if frame.len() < ETHERNET_HEADER_LEN {
            return self.drop_frame(Some(vni), DropReason::TruncatedFrame);
        }
        // The mirror of the encapsulation check: a frame this VTEP could not have sent does not
        // fit its ports either (a TAP's MTU is sized from the underlay's), whether a peer has a
        // larger MTU or the datagram came reassembled from IP fragments.
        let ip_overhead = encapsulation.ip_overhead(is_ipv6(&self.config.local));
        if ip_overhead + frame.len() > usize::from(self.config.underlay_mtu) {
            return self.drop_frame(Some(vni), DropReason::TooBig);
        }
        if dot1q::is_tagged(&buf[frame.clone()]) && config.inner_vlan != InnerVlanPolicy::Keep {
            return self.drop_frame(Some(vni), DropReason::InnerVlanTag);
        }
        let eth = EthernetFrame::new_unchecked(&buf[frame.clone()]);
        let (src, dst, ethertype) = (eth.src_addr(), eth.dst_addr(), eth.ethertype());
        if !is_learnable(&src) {
            return self.drop_frame(Some(vni), DropReason::InvalidSourceMac);
        }
        // Malformed ND is refused before anything is learned from it.
        let nd = match read_nd(config.arp_proxy, ethertype, &buf[frame.clone()]) {
            Ok(nd) => nd,
            Err(reason) => return self.drop_frame(Some(vni), reason),
        };
        let counters = &mut self.networks.slots[slot].counters;
        counters.decap_frames += 1;
        counters.decap_bytes += payload.len() as u64;
        if config.learning {
            if !self.learn_source(now, vni, src, Destination::Remote(from)) {
                return self.drop_frame(Some(vni), DropReason::FdbFull);
            }
            if config.arp_proxy
                && ethertype == EthernetProtocol::Arp
                && let Some(arp) = parse_arp(&buf[frame.start + ETHERNET_HEADER_LEN..frame.end])
            {
                self.snoop_arp(now, vni, &arp);
            }
            if let Some(message) = &nd {
                self.snoop_nd(now, vni, message);
            }
        }
        if dst.is_unicast() {
            match self.fdb.destination(vni, &dst) {
                Some(Destination::Local(port)) => {
                    self.pending = Some(Pending::to_port(vni, slot, frame, port));
                    return;
                }
                Some(Destination::Remote(_)) => {
                    return self.drop_frame(Some(vni), DropReason::SplitHorizon);
                }
                None => {}
            }
        }
        if self.networks.slots[slot].ports.is_empty() {
            return self.drop_frame(Some(vni), DropReason::NoDestination);
        }
        self.pending = Some(Pending::flood(vni, slot, frame, None, RemoteFanout::None));
    }

    /// Learns that `src` sends from `dest`, with its events and counters. Returns false when the
    /// frame must be dropped: the FDB is full and `FdbConfig::drop_when_full` is set.
    #[inline]
    fn learn_source(&mut self, now: Instant, vni: Vni, src: Mac, dest: Destination) -> bool {
        let outcome = self.fdb.learn(now, vni, src, dest);
        self.learned(vni, src, dest, outcome)
    }
}
