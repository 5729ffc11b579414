//! The data path: a frame put on a link becomes a hop in the trace and, unless the link drops
//! it, arrives later at the other end, where the node decides what to do with it. Hosts run
//! their smoltcp stacks, routers forward, switches and flat-L2 bridges learn and flood,
//! hypervisors hand frames to their VTEP (or, for a BGP segment, to their speaker's TCP stack)
//! and carry out its outputs, and route reflectors hand every frame to their speaker.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use vtep_core::vtep::{Event, Input, Output};
use vtep_core::wire::outer;
use vtep_core::wire::{ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Ipv4Packet};
use vtep_core::{Duration, Instant, Vni};

use super::model::{HEADROOM, NodeKind, State, micros_to_ns, node_mac, wake_earlier};
use super::{Ev, Sim};
use crate::id::{HopId, LinkId, NodeId};
use crate::trace::{Decision, DropCause, Hop};

impl Sim {
    pub(super) fn schedule_host_wake(&mut self, host: NodeId, at: Instant) {
        if self
            .host_node_mut(host)
            .is_some_and(|h| wake_earlier(&mut h.wake_at, at))
        {
            self.schedule(at, Ev::HostWake(host));
        }
    }

    pub(super) fn schedule_hv_wake(&mut self, hv: NodeId, at: Instant) {
        if self
            .hv_mut(hv)
            .is_some_and(|h| wake_earlier(&mut h.wake_at, at))
        {
            self.schedule(at, Ev::HvWake(hv));
        }
    }

    /// Puts a frame on a link; returns its hop.
    pub(super) fn transmit(
        &mut self,
        from: NodeId,
        link: LinkId,
        bytes: Arc<[u8]>,
        parent: Option<HopId>,
        origin: NodeId,
    ) -> HopId {
        let id = HopId(self.trace.len() as u32);
        let now = self.now;
        let keep = self.config.keep_bytes;
        let Some(l) = self.links.get_mut(link.0 as usize).and_then(Option::as_mut) else {
            self.trace.push(Hop {
                id,
                start: now,
                end: now,
                from,
                to: from,
                link,
                bytes,
                parent,
                origin,
                decisions: vec![Decision::Dropped(DropCause::LinkDown)],
            });
            return id;
        };
        let dir = usize::from(l.ends[0] != from);
        let to = l.ends[1 - dir];
        let start_ns = micros_to_ns(now).max(l.busy_until_ns[dir]);
        let bits = (bytes.len() as u64 + 20) * 8; // + preamble and inter-frame gap
        let ser_ns =
            (u128::from(bits) * 1_000_000_000).div_ceil(u128::from(l.spec.bandwidth_bps.max(1)));
        let sent_ns = start_ns.saturating_add(u64::try_from(ser_ns).unwrap_or(u64::MAX));
        let start = Instant::from_micros((start_ns / 1000) as i64);
        let end = Instant::from_micros(sent_ns.div_ceil(1000) as i64) + l.spec.latency;
        let mut drop = None;
        if !l.up {
            drop = Some(DropCause::LinkDown);
        } else if bytes.len().saturating_sub(14) > usize::from(l.spec.mtu) {
            drop = Some(DropCause::LinkMtu);
        } else {
            l.busy_until_ns[dir] = sent_ns;
        }
        let loss = l.spec.loss;
        if drop.is_none() && self.rng.chance(loss) {
            drop = Some(DropCause::LinkLoss);
        }
        let stored: Arc<[u8]> = if keep || drop.is_none() {
            bytes
        } else {
            Arc::from(&[][..])
        };
        self.trace.push(Hop {
            id,
            start,
            end,
            from,
            to,
            link,
            bytes: stored,
            parent,
            origin,
            decisions: drop.map(Decision::Dropped).into_iter().collect(),
        });
        if drop.is_none() {
            self.schedule(end, Ev::Arrive { hop: id });
        }
        id
    }

    pub(super) fn decide(&mut self, hop: HopId, d: Decision) {
        if let Some(h) = self.trace.get_mut(hop.0 as usize) {
            h.decisions.push(d);
        }
    }

    pub(super) fn arrive(&mut self, hop: HopId) {
        self.arrive_inner(hop);
        if !self.config.keep_bytes
            && let Some(h) = self.trace.get_mut(hop.0 as usize)
        {
            h.bytes = Arc::from(&[][..]);
        }
    }

    pub(super) fn arrive_inner(&mut self, hop: HopId) {
        let Some(h) = self.trace.get(hop.0 as usize) else {
            return;
        };
        let (to, link, origin) = (h.to, h.link, h.origin);
        let bytes = h.bytes.clone();
        if !self.link(link).is_some_and(|l| l.up) {
            return self.decide(hop, Decision::Dropped(DropCause::LinkDown));
        }
        let Some(node) = self.node(to) else {
            return self.decide(hop, Decision::Dropped(DropCause::NodeDown));
        };
        if !node.up {
            return self.decide(hop, Decision::Dropped(DropCause::NodeDown));
        }
        match node.kind() {
            NodeKind::Host => self.host_rx(to, hop, &bytes),
            NodeKind::Router => self.router_rx(to, hop, link, &bytes, origin),
            NodeKind::Switch => self.switch_rx(to, hop, link, &bytes, origin),
            NodeKind::Hypervisor => self.hv_rx(to, hop, link, &bytes, origin),
            NodeKind::Reflector => self.reflector_rx(to, hop, &bytes),
        }
    }

    pub(super) fn host_rx(&mut self, id: NodeId, hop: HopId, bytes: &Arc<[u8]>) {
        let now = self.now;
        let Some(h) = self.host_node_mut(id) else {
            return;
        };
        if h.paused || h.hv.is_none() {
            return self.decide(hop, Decision::Dropped(DropCause::HostDetached));
        }
        let Ok(eth) = EthernetFrame::new_checked(bytes) else {
            return self.decide(hop, Decision::Dropped(DropCause::Malformed));
        };
        let dst = eth.dst_addr();
        if dst != h.host.mac && !dst.is_broadcast() && !dst.is_multicast() {
            return self.decide(hop, Decision::Dropped(DropCause::NotForMe));
        }
        if eth.ethertype() == EthernetProtocol::Arp
            && let Ok(p) = ArpPacket::new_checked(eth.payload())
            && let Ok(ArpRepr::EthernetIpv4 {
                source_hardware_addr,
                source_protocol_addr,
                target_protocol_addr,
                ..
            }) = ArpRepr::parse(&p)
        {
            h.host.observe_arp(
                now,
                (source_hardware_addr, source_protocol_addr),
                target_protocol_addr,
            );
        }
        // An unsolicited Neighbour Advertisement the host ignores never reaches its stack.
        if eth.ethertype() != EthernetProtocol::Ipv6 || h.host.observe_nd(now, bytes) {
            h.host.nic.rx.push_back(bytes.clone());
        }
        self.decide(hop, Decision::Received);
        self.poll_host(id, Some(hop));
    }

    pub(super) fn poll_host(&mut self, id: NodeId, cause: Option<HopId>) {
        let now = self.now;
        let up = self.node(id).is_some_and(|n| n.up);
        let Some(State::Host(h)) = self
            .nodes
            .get_mut(id.0 as usize)
            .and_then(Option::as_mut)
            .map(|n| &mut n.state)
        else {
            return;
        };
        if h.paused || !up {
            return;
        }
        let next = h.host.poll(now, &mut self.reports);
        let frames = core::mem::take(&mut h.host.nic.tx);
        let link = h.link;
        for f in frames {
            match link {
                Some(l) => {
                    self.transmit(id, l, Arc::from(f), cause, id);
                }
                None => break,
            }
        }
        if let Some(t) = next {
            let t = if t <= now {
                now + Duration::from_micros(1)
            } else {
                t
            };
            self.schedule_host_wake(id, t);
        }
    }

    pub(super) fn router_rx(
        &mut self,
        id: NodeId,
        hop: HopId,
        _link: LinkId,
        bytes: &[u8],
        origin: NodeId,
    ) {
        if self.routes_dirty {
            self.recompute_routes();
        }
        let Ok(eth) = EthernetFrame::new_checked(bytes) else {
            return self.decide(hop, Decision::Dropped(DropCause::Malformed));
        };
        let src_mac = eth.src_addr();
        let ip = match Ipv4Packet::new_checked(eth.payload()) {
            Ok(ip) if eth.ethertype() == EthernetProtocol::Ipv4 => ip,
            _ => return self.decide(hop, Decision::Dropped(DropCause::Malformed)),
        };
        let (dst, ttl) = (ip.dst_addr(), ip.hop_limit());
        let my_mac = node_mac(id);
        let Some(State::Router(r)) = self.node_mut(id).map(|n| &mut n.state) else {
            return;
        };
        r.macs_seen.insert(src_mac);
        if dst == r.ip {
            return self.decide(hop, Decision::Received);
        }
        let Some(out) = r.routes.get(&dst).copied() else {
            return self.decide(hop, Decision::Dropped(DropCause::NoRoute));
        };
        if ttl <= 1 {
            return self.decide(hop, Decision::Dropped(DropCause::TtlExpired));
        }
        let Some(next) = self.peer(out, id) else {
            return self.decide(hop, Decision::Dropped(DropCause::NoRoute));
        };
        let mut copy = bytes.to_vec();
        {
            let mut eth = EthernetFrame::new_unchecked(&mut copy[..]);
            eth.set_src_addr(my_mac);
            eth.set_dst_addr(node_mac(next));
            let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
            ip.set_hop_limit(ttl - 1);
            ip.fill_checksum();
        }
        self.decide(hop, Decision::Routed { link: out });
        self.transmit(id, out, Arc::from(copy), Some(hop), origin);
    }

    /// Learning switch: the flat-L2 core switches and hypervisor bridges.
    pub(super) fn switch_rx(
        &mut self,
        id: NodeId,
        hop: HopId,
        link: LinkId,
        bytes: &Arc<[u8]>,
        origin: NodeId,
    ) {
        let Ok(eth) = EthernetFrame::new_checked(bytes) else {
            return self.decide(hop, Decision::Dropped(DropCause::Malformed));
        };
        let (src, dst) = (eth.src_addr(), eth.dst_addr());
        let links = self.node(id).map(|n| n.links.clone()).unwrap_or_default();
        let table = match self.node_mut(id).map(|n| &mut n.state) {
            Some(State::Switch(t)) => t,
            Some(State::Hypervisor(h)) => &mut h.l2,
            _ => return,
        };
        if src.is_unicast() {
            table.insert(src, link);
        }
        let known = if dst.is_unicast() {
            table.get(&dst).copied()
        } else {
            None
        };
        match known {
            Some(out) if out == link => self.decide(hop, Decision::Dropped(DropCause::SamePort)),
            Some(out) => {
                self.decide(
                    hop,
                    Decision::Switched {
                        ports: 1,
                        flooded: false,
                    },
                );
                self.transmit(id, out, bytes.clone(), Some(hop), origin);
            }
            None => {
                let outs: Vec<LinkId> = links.into_iter().filter(|l| *l != link).collect();
                self.decide(
                    hop,
                    Decision::Switched {
                        ports: outs.len(),
                        flooded: true,
                    },
                );
                for out in outs {
                    self.transmit(id, out, bytes.clone(), Some(hop), origin);
                }
            }
        }
    }

    pub(super) fn hv_rx(
        &mut self,
        id: NodeId,
        hop: HopId,
        link: LinkId,
        bytes: &Arc<[u8]>,
        origin: NodeId,
    ) {
        let Some(h) = self.hv(id) else { return };
        if h.vtep.is_none() {
            return self.switch_rx(id, hop, link, bytes, origin);
        }
        let now = self.now;
        if h.uplink == Some(link) {
            // From the underlay: a segment of a BGP session or a tunnel packet.
            let Ok(eth) = EthernetFrame::new_checked(bytes) else {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            };
            if eth.ethertype() != EthernetProtocol::Ipv4 {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            }
            let ip_bytes = eth.payload();
            if self.is_for_agent(id, ip_bytes) {
                return self.bgp_rx(id, hop, ip_bytes);
            }
            let Ok((outer, payload)) = outer::parse(ip_bytes) else {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            };
            let mut buf = core::mem::take(&mut self.scratch);
            buf.clear();
            buf.extend_from_slice(ip_bytes);
            if let Some(vtep) = self.hv_mut(id).and_then(|h| h.vtep.as_mut()) {
                vtep.handle_input(
                    now,
                    Input::Underlay {
                        from: outer.src,
                        transport: outer.transport,
                        buf: &mut buf,
                        payload,
                    },
                );
            }
            self.drain_vtep(id, &mut buf, Some(hop), origin, true);
            self.scratch = buf;
        } else {
            let Some(port) = h.port_of_link.get(&link).copied() else {
                return self.decide(hop, Decision::Dropped(DropCause::Malformed));
            };
            let mut buf = core::mem::take(&mut self.scratch);
            buf.clear();
            buf.resize(HEADROOM, 0);
            buf.extend_from_slice(bytes);
            let frame = HEADROOM..buf.len();
            if let Some(vtep) = self.hv_mut(id).and_then(|h| h.vtep.as_mut()) {
                vtep.handle_input(
                    now,
                    Input::Local {
                        port,
                        buf: &mut buf,
                        frame,
                    },
                );
            }
            self.drain_vtep(id, &mut buf, Some(hop), origin, false);
            self.scratch = buf;
        }
    }

    /// Carries out a VTEP's outputs for the input in `buf`.
    pub(super) fn drain_vtep(
        &mut self,
        id: NodeId,
        buf: &mut [u8],
        hop: Option<HopId>,
        origin: NodeId,
        from_underlay: bool,
    ) {
        let Some(h) = self.hv(id) else { return };
        let uplink = h.uplink;
        let next_mac = uplink.and_then(|l| self.peer(l, id)).map(node_mac);
        let my_mac = node_mac(id);
        let mut sends: Vec<(LinkId, Arc<[u8]>)> = Vec::new();
        let mut decisions: Vec<Decision> = Vec::new();
        let mut encap: BTreeMap<Vni, usize> = BTreeMap::new();
        let mut delivered: BTreeMap<Vni, usize> = BTreeMap::new();
        let mut decap = None;
        let mut learning: Vec<Event> = Vec::new();
        let timeout;
        {
            let Some(h) = self.hv_mut(id) else { return };
            let speaker = h.bgp.is_some();
            let Some(vtep) = h.vtep.as_mut() else { return };
            loop {
                match vtep.poll_output() {
                    Output::Transmit(t) => {
                        *encap.entry(t.vni).or_default() += 1;
                        let (Some(up), Some(nm)) = (uplink, next_mac) else {
                            decisions.push(Decision::Dropped(DropCause::NoRoute));
                            continue;
                        };
                        let Ok(whole) = t.outer.emit(buf, t.payload.clone()) else {
                            decisions.push(Decision::Dropped(DropCause::Malformed));
                            continue;
                        };
                        let Ok(start) = outer::emit_ethernet(
                            buf,
                            whole.start,
                            my_mac,
                            nm,
                            EthernetProtocol::Ipv4,
                        ) else {
                            decisions.push(Decision::Dropped(DropCause::Malformed));
                            continue;
                        };
                        sends.push((up, Arc::from(&buf[start..whole.end])));
                    }
                    Output::Deliver(d) => {
                        if from_underlay {
                            decap = Some(d.vni);
                        }
                        *delivered.entry(d.vni).or_default() += 1;
                        if let Some((_, l)) = h.ports.get(&d.port) {
                            sends.push((*l, Arc::from(&buf[d.frame])));
                        }
                    }
                    Output::Event(e) => {
                        decisions.extend(Decision::from_event(&e));
                        // What the speaker turns into routes.
                        if speaker
                            && matches!(
                                e,
                                Event::Learned { .. }
                                    | Event::Moved { .. }
                                    | Event::AgedOut { .. }
                                    | Event::NeighbourLearned { .. }
                                    | Event::DuplicateFrozen { .. }
                            )
                        {
                            learning.push(e);
                        }
                    }
                    Output::Timeout(t) => {
                        timeout = t;
                        break;
                    }
                }
            }
        }
        if let Some(hop) = hop {
            if let Some(vni) = decap {
                self.decide(hop, Decision::Decapsulated { vni });
            }
            for d in decisions {
                self.decide(hop, d);
            }
            for (vni, copies) in encap {
                self.decide(hop, Decision::Encapsulated { vni, copies });
            }
            for (vni, ports) in delivered {
                self.decide(hop, Decision::DeliveredLocally { vni, ports });
            }
        }
        for (l, bytes) in sends {
            self.transmit(id, l, bytes, hop, origin);
        }
        self.schedule_hv_wake(id, timeout);
        if !learning.is_empty() {
            self.bgp_vtep_events(id, &learning, hop);
        }
    }
}
