//! How VTEPs learn where remote MACs are, by learning mode: flood and learn (static flood
//! lists, learning from the underlay), static (the operator's entries, written when a VM is
//! placed) and BGP EVPN (a `vtep-evpn` speaker per hypervisor, iBGP over TCP to the route
//! reflectors, the speakers' FDB actions applied to the VTEPs and the VTEPs' learning events
//! handed back). Also the reflectors: added, failed and restored.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use vtep_core::vtep::{Event as VtepEvent, Output as VtepOutput, Vtep};
use vtep_core::wire::{
    EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, Ipv4Address, Ipv4Packet,
};
use vtep_core::{Destination, Duration, Instant, Mac, Vni};
use vtep_evpn::{Event, FdbAction, SessionError};

use super::model::{
    FIRST_REFLECTOR_IP, FabricKind, Hypervisor, LearningMode, LinkSpec, ReflectorNode, State,
    wake_earlier,
};
use super::{Ev, Sim};
use crate::agent::{self, Agent, Serviced};
use crate::error::SimError;
use crate::id::{HopId, NodeId, SiteId};
use crate::trace::{BgpNote, Decision};

/// A BGP session event somewhere in the fabric: a session up or down, or an UPDATE accepted
/// with errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpLogEntry {
    pub at: Instant,
    /// The speaker's node (a hypervisor or a reflector).
    pub node: NodeId,
    /// The peer's address.
    pub peer: Ipv4Address,
    pub event: Event,
}

/// Rounds of speaker work and FDB actions per input, at most (a safety net).
const MAX_ROUNDS: usize = 64;

impl Sim {
    /// Switches the learning mode of every VTEP. Each VTEP's remote entries, neighbours and
    /// flood lists are rebuilt for the new mode: flood and learn floods to every VTEP of the
    /// VNI and learns; static writes every host's MAC and IP into the other VTEPs of its VNI;
    /// BGP EVPN adds a route reflector `rr1` to the first site if there is none, starts a
    /// speaker on every hypervisor, and has the hypervisors announce their VMs (a gratuitous
    /// ARP each) so the VTEPs learn them and originate their routes.
    pub fn set_learning_mode(&mut self, mode: LearningMode) -> Result<(), SimError> {
        if self.config.fabric == FabricKind::FlatL2 {
            return Err(SimError::FlatL2("a learning mode"));
        }
        if mode == LearningMode::BgpEvpn && self.reflectors.is_empty() {
            let site = self
                .sites
                .iter()
                .position(Option::is_some)
                .ok_or_else(|| SimError::BadArgument("add a site first".to_string()))?;
            self.add_reflector(SiteId(site as u32), "rr1")?;
        }
        let old = self.mode;
        if old == mode {
            return Ok(());
        }
        self.mode = mode;
        let now = self.now;
        for hv in self.hypervisors() {
            if old == LearningMode::BgpEvpn {
                self.stop_agent(hv);
            }
            let vnis = self.hv(hv).map(Hypervisor::vnis).unwrap_or_default();
            let configs: Vec<_> = vnis.iter().map(|v| self.network_config(*v)).collect();
            let Some(vtep) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) else {
                continue;
            };
            for config in configs {
                vtep.update_network(config, now)?;
            }
            // Only what the VTEP has at its own ports stays.
            vtep.fdb_mut().retain(
                |_, _, e| matches!(e.dest, Destination::Local(_)),
                |_, _, _| {},
            );
            for vni in &vnis {
                for ip in vtep.fdb().flood_list(*vni).to_vec() {
                    vtep.remove_flood_peer(*vni, &ip);
                }
            }
            let neighbours: Vec<(Vni, IpAddress)> =
                vtep.neighbours().iter().map(|(v, ip, _)| (v, ip)).collect();
            for (vni, ip) in neighbours {
                vtep.neighbours_mut().remove(vni, &ip);
            }
        }
        match mode {
            LearningMode::FloodAndLearn | LearningMode::Static => {
                for hv in self.hypervisors() {
                    self.static_flood_lists(hv)?;
                }
                if mode == LearningMode::Static {
                    for host in self.hosts() {
                        self.provision_static(host)?;
                    }
                }
            }
            LearningMode::BgpEvpn => {
                for hv in self.hypervisors() {
                    self.start_agent(hv);
                }
                for host in self.hosts() {
                    self.announce(host);
                }
            }
        }
        Ok(())
    }

    /// Flood lists of `hv`'s VNIs with every other VTEP of each (and `hv` in theirs).
    pub(super) fn static_flood_lists(&mut self, hv: NodeId) -> Result<(), SimError> {
        let h = self.check_hv(hv)?;
        let (ip, vnis) = (h.ip, h.vnis());
        for other in self.hypervisors() {
            if other == hv {
                continue;
            }
            let Some(oh) = self.hv_mut(other) else {
                continue;
            };
            let oip = oh.ip;
            let Some(ov) = oh.vtep.as_mut() else { continue };
            let mut shared = Vec::new();
            for vni in &vnis {
                if ov.network(*vni).is_some() {
                    ov.add_flood_peer(*vni, IpAddress::Ipv4(ip))?;
                    shared.push(*vni);
                }
            }
            if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                for vni in shared {
                    v.add_flood_peer(vni, IpAddress::Ipv4(oip))?;
                }
            }
        }
        Ok(())
    }

    /// Static mode: `host`'s MAC and IP written into every VTEP of its VNI (behind its
    /// hypervisor elsewhere; its IP also locally, for ARP answers), as an orchestrator that
    /// placed the VM would.
    pub(super) fn provision_static(&mut self, host: NodeId) -> Result<(), SimError> {
        let Some(hv) = self.host_node(host).and_then(|h| h.hv) else {
            return Ok(());
        };
        let (mac, ip, vni) = self.host_addr(host)?;
        let at = IpAddress::Ipv4(self.hypervisor_ip(hv)?);
        let now = self.now;
        for other in self.hypervisors() {
            let Some(v) = self.hv_mut(other).and_then(|h| h.vtep.as_mut()) else {
                continue;
            };
            if v.network(vni).is_none() {
                continue;
            }
            if other == hv {
                // A static entry left from where the VM was before would shadow its port.
                if static_remote(v, vni, &mac) {
                    v.fdb_mut().remove(vni, &mac);
                }
            } else {
                v.add_static_fdb(now, vni, mac, Destination::Remote(at))?;
            }
            v.add_static_neighbour(now, vni, IpAddress::Ipv4(ip), mac)?;
        }
        Ok(())
    }

    /// Static mode: the entries of a host that left (removed, or migrating) go from the other
    /// VTEPs.
    pub(super) fn unprovision_static(&mut self, mac: Mac, ip: Ipv4Address, vni: Vni) {
        for other in self.hypervisors() {
            let Some(v) = self.hv_mut(other).and_then(|h| h.vtep.as_mut()) else {
                continue;
            };
            if static_remote(v, vni, &mac) {
                v.fdb_mut().remove(vni, &mac);
                v.neighbours_mut().remove(vni, &IpAddress::Ipv4(ip));
            }
        }
    }

    /// A gratuitous ARP from `host` on its link: how a VM announces itself (at boot, after a
    /// migration), so its VTEP learns its MAC and IP.
    pub(super) fn announce(&mut self, host: NodeId) {
        let Some(h) = self.host_node(host) else {
            return;
        };
        if h.paused {
            return;
        }
        let (Some(link), mac, ip) = (h.link, h.host.mac, h.host.ip) else {
            return;
        };
        let garp = super::gratuitous_arp(mac, ip);
        self.transmit(host, link, Arc::from(garp), None, host);
    }

    /// A route reflector in `site`: a BGP speaker in reflector mode (RFC 4456) on its own
    /// underlay address, linked to the site's router, accepting clients from the whole
    /// underlay. Every hypervisor's speaker peers with every reflector.
    pub fn add_reflector(&mut self, site: SiteId, name: &str) -> Result<NodeId, SimError> {
        if self.config.fabric == FabricKind::FlatL2 {
            return Err(SimError::FlatL2("a route reflector"));
        }
        let core = self.check_site(site)?.core;
        let [a, b, c, d] = FIRST_REFLECTOR_IP;
        let last = u8::try_from(usize::from(d) + self.reflectors.len())
            .map_err(|_| SimError::BadArgument("too many route reflectors".to_string()))?;
        let ip = Ipv4Address::new(a, b, c, last);
        let agent = self.new_agent(agent::reflector_config(ip, self.config.seed), ip);
        let id = self.add_node(
            name,
            site,
            State::Reflector(Box::new(ReflectorNode { ip, agent })),
        )?;
        let mut spec = LinkSpec::underlay();
        spec.mtu = self.underlay_mtu;
        self.add_link(id, core, spec, true);
        self.reflectors.push(id);
        for hv in self.hypervisors() {
            if let Some(agent) = self.agent_mut(hv) {
                agent.add_peer(ip);
            }
            self.schedule_bgp_wake(hv, self.now);
        }
        self.schedule_bgp_wake(id, self.now);
        Ok(id)
    }

    /// The route reflectors, in the order they were added.
    pub fn reflectors(&self) -> &[NodeId] {
        &self.reflectors
    }

    /// Fails a route reflector: it and its sessions go silent (frames to it are lost); its
    /// clients drop their sessions when their hold timers expire.
    pub fn fail_reflector(&mut self, rr: NodeId) -> Result<(), SimError> {
        self.check_reflector(rr)?;
        if let Some(n) = self.node_mut(rr) {
            n.up = false;
        }
        self.routes_dirty = true;
        Ok(())
    }

    /// Restores a failed reflector: it boots with empty tables and a fresh TCP stack, and its
    /// clients reconnect when their retry timers say.
    pub fn restore_reflector(&mut self, rr: NodeId) -> Result<(), SimError> {
        let ip = self.check_reflector(rr)?;
        if self.node(rr).is_some_and(|n| n.up) {
            return Ok(());
        }
        let agent = self.new_agent(agent::reflector_config(ip, self.config.seed), ip);
        if let Some(State::Reflector(r)) = self.node_mut(rr).map(|n| &mut n.state) {
            r.agent = agent;
        }
        if let Some(n) = self.node_mut(rr) {
            n.up = true;
        }
        self.routes_dirty = true;
        self.schedule_bgp_wake(rr, self.now);
        Ok(())
    }

    fn check_reflector(&self, rr: NodeId) -> Result<Ipv4Address, SimError> {
        match self.node(rr).map(|n| &n.state) {
            Some(State::Reflector(r)) => Ok(r.ip),
            _ => Err(SimError::BadArgument(format!(
                "node {} is not a route reflector",
                rr.0
            ))),
        }
    }

    fn new_agent(&mut self, config: vtep_evpn::SpeakerConfig, ip: Ipv4Address) -> Box<Agent> {
        let seed = self.rng.next_u64();
        Box::new(Agent::new(
            config,
            ip,
            usize::from(self.underlay_mtu),
            seed,
            self.now,
        ))
    }

    /// Starts `hv`'s speaker: a peer per reflector, its VNIs, and the MACs (and IPs) its VTEP
    /// already has at its ports, as a speaker starting beside a running bridge reads them.
    pub(super) fn start_agent(&mut self, hv: NodeId) {
        let Some(h) = self.hv(hv) else { return };
        let ip = h.ip;
        let Some(vtep) = h.vtep.as_ref() else { return };
        let vnis = h.vnis();
        let mut known: Vec<VtepEvent> = Vec::new();
        for (vni, mac, e) in vtep.fdb().iter() {
            if let Destination::Local(_) = e.dest {
                known.push(VtepEvent::Learned {
                    vni,
                    mac,
                    dest: e.dest,
                });
            }
        }
        for (vni, ip, e) in vtep.neighbours().iter() {
            if e.origin == vtep_core::fdb::Origin::Learned {
                known.push(VtepEvent::NeighbourLearned {
                    vni,
                    ip,
                    mac: e.mac,
                    router: e.router,
                });
            }
        }
        let reflectors: Vec<Ipv4Address> = self
            .reflectors
            .iter()
            .filter_map(|r| self.node(*r)?.underlay_ip())
            .collect();
        let mut agent = self.new_agent(agent::vtep_config(ip, self.config.seed), ip);
        for r in reflectors {
            agent.add_peer(r);
        }
        for vni in vnis {
            agent.add_vni(vni);
        }
        let now = self.now;
        for e in known {
            agent.vtep_event(now, e);
        }
        if let Some(h) = self.hv_mut(hv) {
            h.bgp = Some(agent);
        }
        self.schedule_bgp_wake(hv, now);
    }

    /// Stops `hv`'s speaker: a NOTIFICATION (cease) to each peer, then it is gone.
    pub(super) fn stop_agent(&mut self, hv: NodeId) {
        let peers: Vec<vtep_evpn::PeerId> = self
            .agent(hv)
            .map(|a| a.speaker.peers().iter().map(|p| p.id).collect())
            .unwrap_or_default();
        if let Some(agent) = self.agent_mut(hv) {
            for p in peers {
                let _ = agent.speaker.stop_peer(p);
            }
        }
        self.bgp_service(hv, None);
        if let Some(h) = self.hv_mut(hv) {
            h.bgp = None;
        }
    }

    pub(super) fn schedule_bgp_wake(&mut self, id: NodeId, at: Instant) {
        if self
            .agent_mut(id)
            .is_some_and(|a| wake_earlier(&mut a.wake_at, at))
        {
            self.schedule(at, Ev::BgpWake(id));
        }
    }

    /// A TCP segment (the IP packet) for node `id`'s BGP agent arrived on `hop`.
    pub(super) fn bgp_rx(&mut self, id: NodeId, hop: HopId, ip_bytes: &[u8]) {
        let Some(agent) = self.agent_mut(id) else {
            return self.decide(hop, Decision::Dropped(crate::trace::DropCause::NoRoute));
        };
        agent.receive(ip_bytes);
        self.decide(hop, Decision::Bgp(BgpNote::Segment));
        self.bgp_service(id, Some(hop));
    }

    /// Learning events of `hv`'s VTEP for its speaker; then the speaker runs.
    pub(super) fn bgp_vtep_events(&mut self, hv: NodeId, events: &[VtepEvent], hop: Option<HopId>) {
        let now = self.now;
        let Some(agent) = self.agent_mut(hv) else {
            return;
        };
        for e in events {
            agent.vtep_event(now, *e);
        }
        self.bgp_service(hv, hop);
    }

    /// Runs node `id`'s agent at the current instant: its packets go out on the uplink, its
    /// FDB actions are applied to the VTEP (whose events go back to the speaker), its session
    /// events are logged; then its next wake-up is scheduled.
    pub(super) fn bgp_service(&mut self, id: NodeId, hop: Option<HopId>) {
        let now = self.now;
        if !self.node(id).is_some_and(|n| n.up) {
            return;
        }
        for _ in 0..MAX_ROUNDS {
            let mut out = Serviced::default();
            let Some(agent) = self.agent_mut(id) else {
                return;
            };
            agent.service(now, hop, &mut out);
            let addresses: Vec<Ipv4Address> = out
                .events
                .iter()
                .map(|e| agent.address_of(event_peer(e)))
                .collect();
            for packet in out.packets {
                self.bgp_transmit(id, &packet, hop);
            }
            for (event, peer) in out.events.into_iter().zip(addresses) {
                if let Some(hop) = hop {
                    match &event {
                        Event::SessionEstablished { .. } => {
                            self.decide(hop, Decision::Bgp(BgpNote::SessionUp { peer }));
                        }
                        Event::SessionDown { .. } => {
                            self.decide(hop, Decision::Bgp(BgpNote::SessionDown { peer }));
                        }
                        Event::UpdateErrors { .. } => {}
                    }
                }
                self.bgp_log.push(BgpLogEntry {
                    at: now,
                    node: id,
                    peer,
                    event,
                });
            }
            if out.actions.is_empty() {
                break;
            }
            self.apply_fdb_actions(id, &out.actions, hop);
        }
        let next = self.agent_mut(id).and_then(|a| a.next_wake(now));
        if let Some(t) = next {
            let t = if t <= now {
                now + Duration::from_micros(1)
            } else {
                t
            };
            self.schedule_bgp_wake(id, t);
        }
    }

    /// The speaker's FDB actions on `hv`'s VTEP; the VTEP's events go back to the speaker.
    fn apply_fdb_actions(&mut self, hv: NodeId, actions: &[FdbAction], hop: Option<HopId>) {
        let now = self.now;
        let mut decisions = Vec::new();
        let mut events = Vec::new();
        let wake;
        {
            let Some(vtep) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) else {
                return;
            };
            for a in actions {
                // Refused actions (a full table) leave the route uninstalled, as on Linux.
                let _ = a.apply(vtep, now);
                decisions.push(Decision::Bgp(BgpNote::Fdb(*a)));
            }
            loop {
                match vtep.poll_output() {
                    VtepOutput::Event(e) => {
                        decisions.extend(Decision::from_event(&e));
                        events.push(e);
                    }
                    VtepOutput::Timeout(t) => {
                        wake = t;
                        break;
                    }
                    VtepOutput::Transmit(_) | VtepOutput::Deliver(_) => {}
                }
            }
        }
        if let Some(hop) = hop {
            for d in decisions {
                self.decide(hop, d);
            }
        }
        if let Some(agent) = self.agent_mut(hv) {
            for e in events {
                agent.vtep_event(now, e);
            }
        }
        self.schedule_hv_wake(hv, wake);
    }

    /// An IP packet of node `id`'s agent onto its uplink, in an Ethernet frame to the next hop.
    fn bgp_transmit(&mut self, id: NodeId, packet: &[u8], parent: Option<HopId>) {
        let uplink = match self.node(id).map(|n| &n.state) {
            Some(State::Hypervisor(h)) => h.uplink,
            Some(State::Reflector(_)) => self.node(id).and_then(|n| n.links.first().copied()),
            _ => None,
        };
        let Some(link) = uplink else { return };
        let Some(next) = self.peer(link, id) else {
            return;
        };
        let mut bytes = alloc::vec![0u8; 14 + packet.len()];
        EthernetRepr {
            src_addr: super::model::node_mac(id),
            dst_addr: super::model::node_mac(next),
            ethertype: EthernetProtocol::Ipv4,
        }
        .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
        bytes[14..].copy_from_slice(packet);
        self.transmit(id, link, Arc::from(bytes), parent, id);
    }

    /// A frame from the underlay for a reflector.
    pub(super) fn reflector_rx(&mut self, id: NodeId, hop: HopId, bytes: &[u8]) {
        let ip = match EthernetFrame::new_checked(bytes) {
            Ok(eth) if eth.ethertype() == EthernetProtocol::Ipv4 => eth.payload().to_vec(),
            _ => {
                return self.decide(hop, Decision::Dropped(crate::trace::DropCause::Malformed));
            }
        };
        self.bgp_rx(id, hop, &ip);
    }

    /// Whether an IP packet from the uplink is for `hv`'s BGP agent (TCP to its address).
    pub(super) fn is_for_agent(&self, hv: NodeId, ip_bytes: &[u8]) -> bool {
        let Some(h) = self.hv(hv) else { return false };
        h.bgp.is_some()
            && Ipv4Packet::new_checked(ip_bytes).is_ok_and(|p| {
                p.next_header() == vtep_core::wire::IpProtocol::Tcp && p.dst_addr() == h.ip
            })
    }

    /// The route reflectors' and hypervisors' nodes that run a speaker.
    pub fn speakers(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.as_ref().is_some_and(|n| match &n.state {
                    State::Hypervisor(h) => h.bgp.is_some(),
                    State::Reflector(_) => true,
                    _ => false,
                })
            })
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }

    /// Every BGP session event so far, in time order.
    pub fn bgp_log(&self) -> &[BgpLogEntry] {
        &self.bgp_log
    }

    /// When `node`'s session to `peer` first went down on its hold timer, if it did.
    pub fn hold_expired(&self, node: NodeId, peer: Ipv4Address) -> Option<Instant> {
        self.bgp_log.iter().find_map(|e| {
            (e.node == node
                && e.peer == peer
                && matches!(
                    e.event,
                    Event::SessionDown {
                        error: SessionError::HoldTimerExpired { .. },
                        ..
                    }
                ))
            .then_some(e.at)
        })
    }
}

/// Whether `v` holds a static entry for `mac` behind another VTEP (static mode's
/// provisioning), as opposed to one learned, routed or at its own ports.
fn static_remote(v: &Vtep, vni: Vni, mac: &Mac) -> bool {
    v.fdb().lookup(vni, mac).is_some_and(|e| {
        e.origin == vtep_core::fdb::Origin::Static && matches!(e.dest, Destination::Remote(_))
    })
}

fn event_peer(e: &Event) -> vtep_evpn::PeerId {
    match e {
        Event::SessionEstablished { peer }
        | Event::SessionDown { peer, .. }
        | Event::UpdateErrors { peer, .. } => *peer,
    }
}
