//! Read-only views for `bgp summary` / `bgp routes` style displays and for tests.

use alloc::vec::Vec;

use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::{ExtCommunity, RouteKey, RouteTarget};
use vtep_core::{Instant, Vni};

use crate::PeerId;
use crate::error::SessionError;
use crate::rib::Group;
use crate::routes::Best;
use crate::session::{Negotiated, PeerCounters, State};
use crate::speaker::Speaker;

/// One peer, as `show bgp l2vpn evpn summary` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    pub id: PeerId,
    pub address: Ipv4Address,
    pub remote_as: u32,
    pub state: State,
    /// Since when the session is established.
    pub established_at: Option<Instant>,
    pub negotiated: Option<Negotiated>,
    /// Routes in the peer's Adj-RIB-In.
    pub routes: usize,
    /// Routes queued to be sent to the peer.
    pub pending: usize,
    /// Bytes of a partial message held from the stream (at most 4096).
    pub rx_buffered: usize,
    /// Bytes waiting to be written.
    pub tx_buffered: usize,
    pub counters: PeerCounters,
    pub last_error: Option<SessionError>,
    pub dynamic: bool,
    pub route_reflector_client: bool,
}

/// Where a route came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RouteSource {
    Local,
    Peer(PeerId),
}

/// One route, as `show bgp l2vpn evpn route` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteView {
    pub key: RouteKey,
    /// The VNI it belongs to (imported by route target, or its label when not imported).
    pub vni: Vni,
    pub imported: bool,
    pub next_hop: Ipv4Address,
    pub seq: u32,
    pub sticky: bool,
    pub route_targets: Vec<RouteTarget>,
    pub source: RouteSource,
    /// This path decides the FDB entry (type 2) or is in the flood list (type 3).
    pub best: bool,
}

/// What the speaker holds, for the memory budget.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MemoryUse {
    pub records: usize,
    pub attribute_sets: usize,
    pub local_macs: usize,
    /// Table bytes (records, attribute index, local MACs; not each attribute set's boxes).
    pub table_bytes: usize,
}

impl Speaker {
    /// Every peer, in id order.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.peer_ids()
            .filter_map(|id| self.peer_status(id))
            .collect()
    }

    pub fn peer_status(&self, id: PeerId) -> Option<PeerStatus> {
        let p = self.peer(id)?;
        Some(PeerStatus {
            id,
            address: p.address(),
            remote_as: p.config.remote_as,
            state: p.state,
            established_at: p.established_at,
            negotiated: p.negotiated,
            routes: p.routes,
            pending: p.pending.len(),
            rx_buffered: p.rx.len(),
            tx_buffered: p.tx.len(),
            counters: p.counters,
            last_error: p.last_error.clone(),
            dynamic: p.dynamic,
            route_reflector_client: p.config.route_reflector_client,
        })
    }

    /// The routes received from `peer`, sorted by key, with the best-path flag.
    pub fn received_routes(&self, peer: PeerId) -> Vec<RouteView> {
        let mut routes: Vec<RouteView> = self
            .rib
            .iter()
            .filter(|r| r.peer == peer)
            .map(|r| {
                let attrs = self.rib.attrs.get(r.attrs);
                let (sticky, seq) = attrs.mobility();
                let vni = Vni::from_u24_truncating(r.vni);
                let best = r.imported()
                    && match r.key {
                        RouteKey::MacIp { mac, .. } => matches!(
                            self.best(vni, mac),
                            Best::Remote { peer: p, vtep, .. } if p == peer && vtep == attrs.next_hop
                        ),
                        RouteKey::InclusiveMulticast { .. } => r.flags & crate::rib::FLOODS != 0,
                    };
                RouteView {
                    key: r.key,
                    vni,
                    imported: r.imported(),
                    next_hop: attrs.next_hop,
                    seq,
                    sticky,
                    route_targets: attrs
                        .ext_communities
                        .iter()
                        .filter_map(|b| match ExtCommunity::parse(*b) {
                            ExtCommunity::RouteTarget(rt) => Some(rt),
                            _ => None,
                        })
                        .collect(),
                    source: RouteSource::Peer(peer),
                    best,
                }
            })
            .collect();
        routes.sort_by_key(|r| r.key);
        routes
    }

    /// The routes this speaker originates (advertised to every peer), sorted by key.
    pub fn local_routes(&self) -> Vec<RouteView> {
        let mut routes = Vec::new();
        let view = |key, vni: Vni, seq, best| RouteView {
            key,
            vni,
            imported: true,
            next_hop: self.config.vtep,
            seq,
            sticky: false,
            route_targets: self.vnis.get(&vni).map(|v| v.rt).into_iter().collect(),
            source: RouteSource::Local,
            best,
        };
        for vni in self.vnis.keys() {
            routes.push(view(self.imet_key(*vni), *vni, 0, true));
        }
        for ((vni, mac), local) in &self.local {
            if local.frozen {
                continue;
            }
            let best = self.best(*vni, *mac) == Best::Local;
            routes.push(view(self.mac_key(*vni, *mac, None), *vni, local.seq, best));
            for ip in &local.ips {
                routes.push(view(
                    self.mac_key(*vni, *mac, Some(*ip)),
                    *vni,
                    local.seq,
                    best,
                ));
            }
        }
        routes.sort_by_key(|r| r.key);
        routes
    }

    /// Where frames for `mac` go by the routes: `Some((vtep, seq))` for a remote best path,
    /// `None` when there is none or the local path wins.
    pub fn best_remote(&self, vni: Vni, mac: [u8; 6]) -> Option<(Ipv4Address, u32)> {
        match self.best(vni, mac) {
            Best::Remote { vtep, seq, .. } => Some((vtep, seq)),
            _ => None,
        }
    }

    /// The peer whose route decides where `mac` goes, when a remote path wins.
    pub fn best_peer(&self, vni: Vni, mac: [u8; 6]) -> Option<PeerId> {
        match self.best(vni, mac) {
            Best::Remote { peer, .. } => Some(peer),
            _ => None,
        }
    }

    /// The sequence number this speaker advertises for a local MAC.
    pub fn local_seq(&self, vni: Vni, mac: [u8; 6]) -> Option<u32> {
        self.local_mac(vni, mac).map(|l| l.seq)
    }

    /// The remote VTEPs of a VNI's flood list, by the routes.
    pub fn flood_list(&self, vni: Vni) -> Vec<Ipv4Address> {
        let mut list: Vec<_> = self
            .flood
            .keys()
            .filter(|(v, _)| *v == vni)
            .map(|(_, ip)| *ip)
            .collect();
        list.sort_unstable();
        list
    }

    /// Records of the type-3 routes of one VTEP (any VNI), for tests.
    pub fn routes_from_vtep(&self, vtep: Ipv4Address) -> usize {
        let key = vtep_core::wire::bgp::evpn::IpKey::V4(vtep.octets());
        self.rib.group(&Group::Flood(key)).count()
    }

    pub fn memory(&self) -> MemoryUse {
        MemoryUse {
            records: self.rib.len(),
            attribute_sets: self.rib.attrs.len(),
            local_macs: self.local.len(),
            table_bytes: self.rib.heap_bytes()
                + self.local.capacity()
                    * (core::mem::size_of::<((Vni, [u8; 6]), crate::routes::LocalMac)>() + 1),
        }
    }
}
