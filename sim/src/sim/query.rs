//! Read-only views of the simulator: nodes, links, sites, tables, BGP speakers and their
//! routes, apps and the trace.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use vtep_core::Mac;
use vtep_core::Vni;
use vtep_core::fdb::FdbEntry;
use vtep_core::neigh::NeighEntry;
use vtep_core::vtep::Vtep;
use vtep_core::wire::{IpAddress, Ipv4Address, Ipv6Address};

use vtep_core::wire::bgp::RouteKey;
use vtep_evpn::{PeerStatus, RouteView, Speaker};

use super::Sim;
use super::model::{LinkInfo, NodeInfo, NodeKind, State, VniSettings, vni_of};
use crate::error::SimError;
use crate::host::AppReport;
use crate::id::{AppId, HopId, LinkId, NodeId, SiteId};
use crate::trace::Hop;

/// A node's EVPN table ([`Sim::evpn_table`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvpnTable {
    /// The routes it originates (a hypervisor's), with the best-path flag.
    pub local: Vec<RouteView>,
    /// Each peer's session, and the routes received from it.
    pub peers: Vec<(PeerStatus, Vec<RouteView>)>,
}

impl Sim {
    /// Looks a node up by name.
    pub fn node_id(&self, name: &str) -> Result<NodeId, SimError> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| SimError::UnknownName(name.to_string()))
    }

    /// `e`'s message with every node called by its name ("red-1 already runs on hv1"), or by
    /// kind and number when it has none.
    pub fn describe(&self, e: &SimError) -> alloc::string::String {
        e.describe(&|id, kind| match self.node(id) {
            Some(n) => n.name.clone(),
            None => format!("{kind} {}", id.0),
        })
    }

    pub fn node_info(&self, id: NodeId) -> Result<NodeInfo, SimError> {
        let n = self.node(id).ok_or(SimError::UnknownNode(id))?;
        Ok(NodeInfo {
            id,
            name: n.name.clone(),
            kind: n.kind(),
            site: n.site,
            up: n.up,
            mac: n.mac,
            underlay_ip: n.underlay_ip(),
        })
    }

    pub fn nodes(&self) -> Vec<NodeInfo> {
        (0..self.nodes.len() as u32)
            .filter_map(|i| self.node_info(NodeId(i)).ok())
            .collect()
    }

    pub fn links(&self) -> Vec<LinkInfo> {
        self.links
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let l = l.as_ref()?;
                Some(LinkInfo {
                    id: LinkId(i as u32),
                    ends: l.ends,
                    spec: l.spec,
                    up: l.up,
                    underlay: l.underlay,
                })
            })
            .collect()
    }

    /// The underlay's links (router to router, hypervisor to router), in id order.
    pub fn underlay_links(&self) -> Vec<LinkId> {
        self.links()
            .iter()
            .filter(|l| l.underlay)
            .map(|l| l.id)
            .collect()
    }

    /// Links attached to a node.
    pub fn node_links(&self, id: NodeId) -> Result<Vec<LinkId>, SimError> {
        Ok(self
            .node(id)
            .ok_or(SimError::UnknownNode(id))?
            .links
            .clone())
    }

    /// The hypervisor a host currently runs on (`None` while migrating).
    pub fn host_hypervisor(&self, host: NodeId) -> Result<Option<NodeId>, SimError> {
        Ok(self.check_host(host)?.hv)
    }

    /// The hosts of a hypervisor.
    pub fn hosts_of(&self, hv: NodeId) -> Result<Vec<NodeId>, SimError> {
        Ok(self.check_hv(hv)?.ports.values().map(|(h, _)| *h).collect())
    }

    pub fn host_addr(&self, host: NodeId) -> Result<(Mac, Ipv4Address, Vni), SimError> {
        let h = &self.check_host(host)?.host;
        Ok((h.mac, h.ip, h.vni))
    }

    /// A host's IPv6 address (`host::ipv6_of` its IPv4 address).
    pub fn host_ipv6(&self, host: NodeId) -> Result<Ipv6Address, SimError> {
        Ok(self.check_host(host)?.host.ip6)
    }

    pub fn hypervisor_ip(&self, hv: NodeId) -> Result<Ipv4Address, SimError> {
        Ok(self.check_hv(hv)?.ip)
    }

    pub fn site_core(&self, site: SiteId) -> Result<NodeId, SimError> {
        Ok(self.check_site(site)?.core)
    }

    /// The whole trace so far.
    pub fn trace(&self) -> &[Hop] {
        &self.trace
    }

    pub fn hop(&self, id: HopId) -> Option<&Hop> {
        self.trace.get(id.0 as usize)
    }

    /// A hypervisor's VTEP (for counters and anything else read-only).
    pub fn vtep(&self, hv: NodeId) -> Result<&Vtep, SimError> {
        self.check_hv(hv)?
            .vtep
            .as_ref()
            .ok_or(SimError::FlatL2("a VTEP"))
    }

    /// FDB snapshot of a hypervisor's VTEP, sorted.
    pub fn fdb(&self, hv: NodeId) -> Result<Vec<(Vni, Mac, FdbEntry)>, SimError> {
        Ok(self.vtep(hv)?.fdb().sorted())
    }

    /// Neighbour (ARP and ND suppression) table snapshot of a hypervisor's VTEP.
    pub fn neighbours(&self, hv: NodeId) -> Result<Vec<(Vni, IpAddress, NeighEntry)>, SimError> {
        Ok(self.vtep(hv)?.neighbours().sorted())
    }

    /// A host's neighbour cache now (IP, MAC): its ARP cache and its IPv6 neighbours.
    pub fn arp_cache(&self, host: NodeId) -> Result<Vec<(IpAddress, Mac)>, SimError> {
        Ok(self.check_host(host)?.host.arp_entries(self.now))
    }

    /// The MAC table of an underlay device: a switch's (flat L2) or a router's neighbours
    /// (overlay), or a flat-L2 hypervisor bridge's.
    pub fn mac_table(&self, node: NodeId) -> Result<Vec<Mac>, SimError> {
        match &self.node(node).ok_or(SimError::UnknownNode(node))?.state {
            State::Switch(t) => Ok(t.keys().copied().collect()),
            State::Router(r) => Ok(r.macs_seen.iter().copied().collect()),
            State::Hypervisor(h) => Ok(h.l2.keys().copied().collect()),
            _ => Err(SimError::BadArgument(format!(
                "node {} has no MAC table",
                node.0
            ))),
        }
    }

    /// A node's BGP speaker (a hypervisor's under BGP EVPN, a route reflector's), for its
    /// views: `peers`, `received_routes`, `local_routes`, `flood_list`, `best_remote`.
    pub fn speaker(&self, node: NodeId) -> Result<&Speaker, SimError> {
        self.node(node).ok_or(SimError::UnknownNode(node))?;
        self.agent(node)
            .map(|a| &a.speaker)
            .ok_or_else(|| SimError::BadArgument(format!("node {} runs no BGP speaker", node.0)))
    }

    /// A node's EVPN table: what it originates, and per peer the session and the routes
    /// received, with the best-path flags.
    pub fn evpn_table(&self, node: NodeId) -> Result<EvpnTable, SimError> {
        let speaker = self.speaker(node)?;
        Ok(EvpnTable {
            local: speaker.local_routes(),
            peers: speaker
                .peers()
                .into_iter()
                .map(|p| {
                    let routes = speaker.received_routes(p.id);
                    (p, routes)
                })
                .collect(),
        })
    }

    /// The hop that completed the last UPDATE from `peer` to `node` announcing `key`.
    pub fn route_carried_by(
        &self,
        node: NodeId,
        peer: Ipv4Address,
        key: &RouteKey,
    ) -> Option<HopId> {
        self.agent(node)?.carried_by(peer, key)
    }

    pub fn app_report(&self, app: AppId) -> Result<&AppReport, SimError> {
        self.reports.get(&app).ok_or(SimError::UnknownApp(app))
    }

    pub fn vni_settings(&self, vni: u32) -> Result<VniSettings, SimError> {
        let vni = vni_of(vni)?;
        Ok(self.vnis.get(&vni).copied().unwrap_or_default())
    }

    pub fn site_name(&self, site: SiteId) -> Result<&str, SimError> {
        Ok(&self.check_site(site)?.name)
    }

    /// Looks a site up by name.
    pub fn site_id(&self, name: &str) -> Result<SiteId, SimError> {
        self.sites
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.name == name))
            .map(|i| SiteId(i as u32))
            .ok_or_else(|| SimError::UnknownName(name.to_string()))
    }

    /// All hypervisors.
    pub fn hypervisors(&self) -> Vec<NodeId> {
        self.ids_of(NodeKind::Hypervisor)
    }

    /// All hosts.
    pub fn hosts(&self) -> Vec<NodeId> {
        self.ids_of(NodeKind::Host)
    }
}
