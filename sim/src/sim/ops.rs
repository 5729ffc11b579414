//! The topology operations: sites, hypervisors and hosts added and removed, hosts attached
//! to and detached from hypervisors, live migration, and failures of hypervisors and links.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::wire::IPV6_LINK_LOCAL_ALL_NODES;
use vtep_core::Duration;
use vtep_core::vtep::{Vtep, VtepConfig};
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, Ipv4Address, Ipv6Address, ndisc,
};
use vtep_core::{Destination, Mac, PortId};

use super::model::{
    FabricKind, HostNode, HostSpec, Hypervisor, LearningMode, Link, LinkSpec, NodeKind, Router,
    Site, State, vni_of,
};
use super::{Ev, Sim};
use crate::error::SimError;
use crate::host::Host;
use crate::id::{AppId, HopId, LinkId, NodeId, SiteId};

/// An ARP request from `mac`/`sender` for `target`, broadcast (what `arping` sends).
pub fn arp_request(mac: Mac, sender: Ipv4Address, target: Ipv4Address) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: mac,
        source_protocol_addr: sender,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    let mut bytes = vec![0u8; 14 + repr.buffer_len()];
    EthernetRepr {
        src_addr: mac,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
    repr.emit(&mut ArpPacket::new_unchecked(&mut bytes[14..]));
    bytes
}

/// A gratuitous ARP request from `mac`/`ip` (what a hypervisor sends for a VM after a live
/// migration, like QEMU's `announce_self`).
pub fn gratuitous_arp(mac: Mac, ip: Ipv4Address) -> Vec<u8> {
    arp_request(mac, ip, ip)
}

/// An unsolicited Neighbour Advertisement from `mac` for `ip`, to all nodes (`ff02::1`) with
/// the Override flag and a Target Link-Layer Address option: how an IPv6 host announces its
/// address (RFC 4861 section 7.2.6), IPv6's gratuitous ARP.
pub fn unsolicited_na(mac: Mac, ip: Ipv6Address) -> Vec<u8> {
    let na = ndisc::Advertisement {
        eth_src: mac,
        eth_dst: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
        src: ip,
        dst: IPV6_LINK_LOCAL_ALL_NODES,
        traffic_class: 0,
        flags: ndisc::NeighborFlags::OVERRIDE,
        target: ip,
        target_lladdr: Some(mac),
    };
    let mut bytes = vec![0u8; na.buffer_len()];
    na.emit(&mut bytes);
    bytes
}

impl Sim {
    /// Host `host` announces its IPv6 address with an unsolicited Neighbour Advertisement
    /// ([`unsolicited_na`]), so that its VTEP learns it (and, under BGP EVPN, advertises it)
    /// before anyone solicits it.
    pub fn announce_ipv6(&mut self, host: NodeId) -> Result<HopId, SimError> {
        let h = &self.check_host(host)?.host;
        let na = unsolicited_na(h.mac, h.ip6);
        self.inject_from_host(host, na)
    }

    /// A new site with its router (overlay) or core switch (flat L2).
    pub fn add_site(&mut self, name: &str) -> Result<SiteId, SimError> {
        let index = u8::try_from(self.sites.len() + 1)
            .map_err(|_| SimError::BadArgument("at most 255 sites".to_string()))?;
        let id = SiteId(self.sites.len() as u32);
        let state = match self.config.fabric {
            FabricKind::Overlay => State::Router(Router {
                ip: Ipv4Address::new(10, index, 0, 1),
                routes: BTreeMap::new(),
                macs_seen: BTreeSet::new(),
            }),
            FabricKind::FlatL2 => State::Switch(BTreeMap::new()),
        };
        let core = self.add_node(&format!("{name}-core"), id, state)?;
        self.sites.push(Some(Site {
            name: name.to_string(),
            core,
            index,
            next_host_number: 2,
        }));
        self.routes_dirty = true;
        Ok(id)
    }

    /// Removes an empty site (no hypervisors) with its router and its links.
    pub fn remove_site(&mut self, site: SiteId) -> Result<(), SimError> {
        let core = self.check_site(site)?.core;
        let has_hvs = self
            .nodes
            .iter()
            .flatten()
            .any(|n| n.site == site && n.kind() == NodeKind::Hypervisor);
        if has_hvs {
            return Err(SimError::SiteNotEmpty(site));
        }
        if self
            .reflectors
            .iter()
            .any(|rr| self.node(*rr).is_some_and(|n| n.site == site))
        {
            return Err(SimError::BadArgument(
                "a route reflector is attached to this site".to_string(),
            ));
        }
        for l in self.node(core).map(|n| n.links.clone()).unwrap_or_default() {
            self.remove_link(l);
        }
        self.remove_node(core);
        self.sites[site.0 as usize] = None;
        Ok(())
    }

    /// Joins two sites' routers (or core switches) with a link.
    pub fn connect_sites(
        &mut self,
        a: SiteId,
        b: SiteId,
        spec: LinkSpec,
    ) -> Result<LinkId, SimError> {
        let ca = self.check_site(a)?.core;
        let cb = self.check_site(b)?.core;
        if a == b {
            return Err(SimError::BadArgument(
                "cannot connect a site to itself".to_string(),
            ));
        }
        if self.config.fabric == FabricKind::FlatL2 && self.l2_connected(ca, cb) {
            return Err(SimError::WouldLoop);
        }
        Ok(self.add_link(ca, cb, spec, true))
    }

    pub(super) fn l2_connected(&self, a: NodeId, b: NodeId) -> bool {
        let mut seen = BTreeSet::from([a]);
        let mut stack = vec![a];
        while let Some(n) = stack.pop() {
            if n == b {
                return true;
            }
            for l in self.node(n).map(|n| n.links.clone()).unwrap_or_default() {
                if let Some(p) = self.peer(l, n)
                    && seen.insert(p)
                {
                    stack.push(p);
                }
            }
        }
        false
    }

    /// A hypervisor in `site`, with an uplink to the site router (or core switch).
    pub fn add_hypervisor(&mut self, site: SiteId, name: &str) -> Result<NodeId, SimError> {
        let (core, index, number) = {
            let s = self.check_site(site)?;
            (s.core, s.index, s.next_host_number)
        };
        let ip = Ipv4Address::new(10, index, (number >> 8) as u8, (number & 0xff) as u8);
        let vtep = match self.config.fabric {
            FabricKind::Overlay => {
                let mut config = VtepConfig::new(IpAddress::Ipv4(ip));
                config.underlay_mtu = self.underlay_mtu;
                config.hash_seed = self.config.seed;
                Some(Vtep::new(config, self.now)?)
            }
            FabricKind::FlatL2 => None,
        };
        let id = self.add_node(
            name,
            site,
            State::Hypervisor(Box::new(Hypervisor {
                ip,
                vtep,
                uplink: None,
                ports: BTreeMap::new(),
                port_of_link: BTreeMap::new(),
                l2: BTreeMap::new(),
                wake_at: None,
                bgp: None,
            })),
        )?;
        if let Some(Some(s)) = self.sites.get_mut(site.0 as usize) {
            s.next_host_number = number.wrapping_add(1);
        }
        let mut spec = LinkSpec::underlay();
        spec.mtu = self.underlay_mtu;
        let link = self.add_link(id, core, spec, true);
        if let Some(hv) = self.hv_mut(id) {
            hv.uplink = Some(link);
        }
        if self.config.fabric == FabricKind::Overlay {
            self.schedule_hv_wake(id, self.now + Duration::from_secs(1));
        }
        if self.mode == LearningMode::BgpEvpn {
            self.start_agent(id);
        }
        Ok(id)
    }

    /// Removes a hypervisor that has no hosts.
    pub fn remove_hypervisor(&mut self, hv: NodeId) -> Result<(), SimError> {
        let h = self.check_hv(hv)?;
        if !h.ports.is_empty() {
            return Err(SimError::HasHosts(hv));
        }
        let ip = h.ip;
        let vnis = h.vnis();
        // The others stop flooding to it (static flood lists). Under BGP EVPN its speaker
        // stops its sessions; the frames on its link are lost with the link, so the reflectors
        // notice at their hold timers and withdraw its type-3 routes then.
        for other in self.hypervisors() {
            if let Some(v) = self.hv_mut(other).and_then(|h| h.vtep.as_mut()) {
                for vni in &vnis {
                    v.remove_flood_peer(*vni, &IpAddress::Ipv4(ip));
                }
            }
        }
        self.stop_agent(hv);
        for l in self.node(hv).map(|n| n.links.clone()).unwrap_or_default() {
            self.remove_link(l);
        }
        self.remove_node(hv);
        Ok(())
    }

    /// Adds a host (VM or container) on a hypervisor.
    pub fn add_host(&mut self, hv: NodeId, spec: HostSpec) -> Result<NodeId, SimError> {
        let vni = vni_of(spec.vni)?;
        let site = self.node(hv).map(|n| n.site);
        self.check_hv(hv)?;
        let site = site.ok_or(SimError::UnknownHypervisor(hv))?;
        if !self.node(hv).is_some_and(|n| n.up) {
            return Err(SimError::HypervisorDown(hv));
        }
        if spec.prefix_len == 0 || spec.prefix_len > 30 {
            return Err(SimError::BadArgument(format!(
                "prefix length {} is out of range 1..=30",
                spec.prefix_len
            )));
        }
        let mac = match spec.mac {
            Some(m) => m,
            None => {
                self.next_mac += 1;
                let b = self.next_mac.to_be_bytes();
                EthernetAddress([0x02, 0x48, b[0], b[1], b[2], b[3]])
            }
        };
        if !mac.is_unicast() || mac == EthernetAddress([0; 6]) {
            return Err(SimError::NotUnicast(mac));
        }
        for h in self.nodes.iter().flatten() {
            if let State::Host(h) = &h.state
                && h.host.vni == vni
            {
                if h.host.mac == mac && !spec.duplicate_mac {
                    return Err(SimError::DuplicateMac { vni, mac });
                }
                if h.host.ip == spec.ip {
                    return Err(SimError::DuplicateIp { vni, ip: spec.ip });
                }
            }
        }
        let seed = self.rng.next_u64();
        // Like OpenStack and flannel: in the overlay the VM's MTU leaves room for the tunnel
        // headers (1450 for VXLAN over a 1500-byte underlay).
        let mtu = match self.config.fabric {
            FabricKind::Overlay => {
                let encapsulation = self
                    .vnis
                    .get(&vni)
                    .copied()
                    .unwrap_or_default()
                    .encapsulation;
                usize::from(self.underlay_mtu) - encapsulation.wire_overhead(false)
            }
            FabricKind::FlatL2 => 1500,
        };
        let host = Host::new(mac, spec.ip, spec.prefix_len, vni, mtu, seed, self.now);
        let id = self.add_node(
            &spec.name,
            site,
            State::Host(Box::new(HostNode {
                host,
                hv: None,
                link: None,
                paused: false,
                wake_at: None,
            })),
        )?;
        if let Err(e) = self.attach(id, hv) {
            self.remove_node(id);
            return Err(e);
        }
        self.schedule_host_wake(id, self.now);
        if self.mode == LearningMode::BgpEvpn {
            // Under EVPN a VM announces itself when it comes up, so its VTEP learns it and
            // advertises its route before anyone asks for it (RFC 5227's ARP announcement).
            self.announce(id);
        }
        Ok(id)
    }

    /// Connects a host to a hypervisor: a virtual NIC link and a VTEP port.
    pub(super) fn attach(&mut self, host: NodeId, hv: NodeId) -> Result<(), SimError> {
        let (_, _, vni) = self.host_addr(host)?;
        self.ensure_network(hv, vni)?;
        let port = match self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
            Some(vtep) => Some(vtep.add_port(vni)?),
            None => None,
        };
        let link = self.add_link(host, hv, LinkSpec::access(), false);
        {
            let h = self.hv_mut(hv).ok_or(SimError::UnknownHypervisor(hv))?;
            let port = port.unwrap_or(PortId(link.0 as u16));
            h.ports.insert(port, (host, link));
            h.port_of_link.insert(link, port);
        }
        if let Some(h) = self.host_node_mut(host) {
            h.hv = Some(hv);
            h.link = Some(link);
        }
        if self.mode == LearningMode::Static {
            // This host everywhere, and (if the VTEP just joined the VNI) every other host
            // of the VNI here.
            for other in self.hosts() {
                if self.host_addr(other).is_ok_and(|(_, _, v)| v == vni) {
                    self.provision_static(other)?;
                }
            }
        }
        Ok(())
    }

    /// Disconnects a host from its hypervisor (port and link removed). `removed`: the host is
    /// going away (not migrating): under BGP EVPN its VTEP withdraws its routes at once (a
    /// migrating host's old VTEP withdraws when the new VTEP's route with the higher sequence
    /// number arrives, RFC 7432 section 15); in static mode its entries go.
    pub(super) fn detach(&mut self, host: NodeId, removed: bool) {
        let Some((Some(hv), Some(link))) = self.host_node(host).map(|h| (h.hv, h.link)) else {
            return;
        };
        let Ok((mac, ip, vni)) = self.host_addr(host) else {
            return;
        };
        let mut gone = None;
        if let Some(h) = self.hv_mut(hv) {
            if let Some(port) = h.port_of_link.remove(&link) {
                h.ports.remove(&port);
                if let Some(vtep) = h.vtep.as_mut() {
                    let _ = vtep.remove_port(port);
                    vtep.neighbours_mut().remove(vni, &IpAddress::Ipv4(ip));
                }
                gone = Some(port);
            }
            h.l2.retain(|_, l| *l != link);
        }
        self.remove_link(link);
        if let Some(h) = self.host_node_mut(host) {
            h.hv = None;
            h.link = None;
        }
        if !removed {
            return;
        }
        match (self.mode, gone) {
            (LearningMode::BgpEvpn, Some(port)) => {
                let aged = vtep_core::vtep::Event::AgedOut {
                    vni,
                    mac,
                    dest: Destination::Local(port),
                };
                self.bgp_vtep_events(hv, &[aged], None);
            }
            (LearningMode::Static, _) => self.unprovision_static(mac, ip, vni),
            _ => {}
        }
    }

    /// Removes a host and its apps.
    pub fn remove_host(&mut self, host: NodeId) -> Result<(), SimError> {
        self.check_host(host)?;
        self.detach(host, true);
        let ids: Vec<AppId> = self
            .apps
            .iter()
            .filter(|(_, a)| a.hosts.contains(&host))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let _ = self.stop_app(id);
        }
        self.remove_node(host);
        Ok(())
    }

    /// Live-migrates a host to another hypervisor: same MAC and IP; it is paused for
    /// `migration_downtime`, then attached to `to` and announces itself with a gratuitous ARP.
    /// From a failed hypervisor this is a restart elsewhere (the host keeps its state).
    pub fn migrate_host(&mut self, host: NodeId, to: NodeId) -> Result<(), SimError> {
        let h = self.check_host(host)?;
        let (from, paused) = (h.hv, h.paused);
        self.check_hv(to)?;
        if from == Some(to) {
            return Err(SimError::SameHypervisor {
                host,
                hypervisor: to,
            });
        }
        if paused {
            return Err(SimError::Migrating(host));
        }
        if !self.node(to).is_some_and(|n| n.up) {
            return Err(SimError::HypervisorDown(to));
        }
        if self.mode == LearningMode::BgpEvpn {
            // As libvirt does, the destination's port is ready (its VTEP joins the VNI, its
            // speaker fetches the VNI's routes) while the source keeps its port until the VM
            // resumes at the destination: the new VTEP then learns the MAC over an existing
            // route and advertises it with the next sequence number, and the old VTEP
            // withdraws when that route reaches it (RFC 7432 section 15).
            let (_, _, vni) = self.host_addr(host)?;
            self.ensure_network(to, vni)?;
        } else {
            self.detach(host, false);
        }
        if let Some(h) = self.host_node_mut(host) {
            h.paused = true;
        }
        if let Some(n) = self.node_mut(host) {
            n.up = true;
        }
        let at = self.now + self.config.migration_downtime;
        self.schedule(at, Ev::Resume { host, hv: to });
        Ok(())
    }

    pub(super) fn resume_host(&mut self, host: NodeId, hv: NodeId) {
        // Under BGP EVPN the source kept its port until now.
        self.detach(host, false);
        let hv_ok = self.node(hv).is_some_and(|n| n.up) && self.hv(hv).is_some();
        if !hv_ok || self.attach(host, hv).is_err() {
            // The destination failed meanwhile: the host stays paused, detached.
            return;
        }
        if let Some(site) = self.node(hv).map(|n| n.site)
            && let Some(n) = self.node_mut(host)
        {
            n.site = site;
        }
        let Some(h) = self.host_node_mut(host) else {
            return;
        };
        h.paused = false;
        let garp = gratuitous_arp(h.host.mac, h.host.ip);
        let link = h.link;
        if let Some(link) = link {
            self.transmit(host, link, Arc::from(garp), None, host);
        }
        self.poll_host(host, None);
    }

    /// Fails a hypervisor: it and its hosts stop; frames to them are lost.
    pub fn fail_hypervisor(&mut self, hv: NodeId) -> Result<(), SimError> {
        self.set_hypervisor_up(hv, false)
    }

    /// Restores a failed hypervisor and the hosts still on it.
    pub fn restore_hypervisor(&mut self, hv: NodeId) -> Result<(), SimError> {
        self.set_hypervisor_up(hv, true)
    }

    pub(super) fn set_hypervisor_up(&mut self, hv: NodeId, up: bool) -> Result<(), SimError> {
        let hosts: Vec<NodeId> = self.check_hv(hv)?.ports.values().map(|(h, _)| *h).collect();
        for n in core::iter::once(hv).chain(hosts.iter().copied()) {
            if let Some(node) = self.node_mut(n) {
                node.up = up;
            }
        }
        self.routes_dirty = true;
        if up {
            for h in hosts {
                self.schedule_host_wake(h, self.now);
            }
            self.schedule_hv_wake(hv, self.now);
            if self.mode == LearningMode::BgpEvpn {
                // It booted: its speaker starts afresh (its old sessions died with it).
                self.start_agent(hv);
            }
        }
        Ok(())
    }

    pub fn fail_link(&mut self, link: LinkId) -> Result<(), SimError> {
        self.change_link(link, |l| l.up = false)
    }

    pub fn restore_link(&mut self, link: LinkId) -> Result<(), SimError> {
        self.change_link(link, |l| l.up = true)
    }

    /// Applies `change` to a link, then has the routes worked out again.
    fn change_link(
        &mut self,
        link: LinkId,
        change: impl FnOnce(&mut Link),
    ) -> Result<(), SimError> {
        let l = self
            .links
            .get_mut(link.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(SimError::UnknownLink(link))?;
        change(l);
        self.routes_dirty = true;
        Ok(())
    }

    /// Changes a link's latency, bandwidth, MTU and loss.
    pub fn set_link_spec(&mut self, link: LinkId, spec: LinkSpec) -> Result<(), SimError> {
        if !(0.0..=1.0).contains(&spec.loss) || spec.bandwidth_bps == 0 {
            return Err(SimError::BadArgument(
                "loss must be in 0..=1 and bandwidth above 0".to_string(),
            ));
        }
        self.change_link(link, |l| l.spec = spec)
    }

    /// Injects a raw Ethernet frame from a host onto its link (for tests and demos).
    pub fn inject_from_host(&mut self, host: NodeId, frame: Vec<u8>) -> Result<HopId, SimError> {
        let link = self
            .check_host(host)?
            .link
            .ok_or(SimError::Detached(host))?;
        Ok(self.transmit(host, link, Arc::from(frame), None, host))
    }
}
