//! Routes: local ones from the engine's events, received ones into the Adj-RIB-In, the best
//! path per MAC (RFC 7432 section 15) and the FDB actions that follow from it.

use alloc::vec::Vec;

use vtep_core::Vni;
use vtep_core::vtep;
use vtep_core::wire::bgp::evpn::IpKey;
use vtep_core::wire::bgp::{
    EvpnRoute, ExtCommunity, Malformed, MpReach, MpUnreach, NextHop, Origin, RouteKey,
    UpdatePacket, UpdateRepr,
};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};
use vtep_core::{Destination, Mac};

use crate::PeerId;
use crate::error::SessionError;
use crate::rib::{FLOODS, Group, IMPORTED, PathAttributes, Record};
use crate::speaker::{Event, FdbAction, Output, Speaker};

/// A MAC this VTEP has at a local port, and what is advertised for it.
#[derive(Clone, Debug, Default)]
pub struct LocalMac {
    pub seq: u32,
    /// Duplicate detection froze it: not advertised (RFC 7432 section 15.1).
    pub frozen: bool,
    /// Its IPv4 and IPv6 addresses (link-local ones too), each a MAC/IP route.
    pub ips: Vec<NeighIp>,
}

/// An IP address of a MAC and its Router flag (IPv6 only: RFC 9047's ARP/ND extended
/// community carries it, RFC 9161's proxy answers with it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NeighIp {
    pub ip: IpAddress,
    pub router: bool,
}

/// ESI and labels of a type-2 route, stored with its attributes.
type RouteData = ([u8; 10], u32, Option<u32>);

/// A flood-list entry: a remote VTEP of a VNI.
pub type FloodKey = (Vni, Ipv4Address);

/// IPs of a MAC kept per best path without allocating; more are not installed. A dual-stack
/// host has an IPv4 address, a link-local and one or two global IPv6 addresses.
const MAX_IPS: usize = 8;

/// The path that decides where a MAC's frames go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Best {
    None,
    Local,
    Remote {
        vtep: Ipv4Address,
        seq: u32,
        peer: PeerId,
        ips: [Option<NeighIp>; MAX_IPS],
    },
}

fn v4(key: IpKey) -> Option<Ipv4Address> {
    match key {
        IpKey::V4(b) => Some(Ipv4Address::from(b)),
        IpKey::V6(_) => None,
    }
}

impl Speaker {
    pub(crate) fn imet_key(&self, vni: Vni) -> RouteKey {
        let rd = self.vnis.get(&vni).map(|v| v.rd).unwrap_or_default();
        RouteKey::InclusiveMulticast {
            rd,
            ethernet_tag: 0,
            originator: IpKey::V4(self.config.vtep.octets()),
        }
    }

    pub(crate) fn mac_key(&self, vni: Vni, mac: [u8; 6], ip: Option<IpAddress>) -> RouteKey {
        RouteKey::MacIp {
            rd: self.vnis.get(&vni).map(|v| v.rd).unwrap_or_default(),
            ethernet_tag: 0,
            mac,
            ip: ip.map(IpKey::from),
        }
    }

    /// A local route changed: every established peer gets it (or its withdrawal).
    pub(crate) fn local_changed(&mut self, key: RouteKey) {
        for peer in self.peers.iter_mut().flatten() {
            if peer.is_established() {
                peer.pending.insert(key);
            }
        }
    }

    /// The engine's events that make, change or remove local routes.
    pub(crate) fn on_vtep_event(&mut self, event: vtep::Event) {
        use vtep::Event as E;
        match event {
            E::Learned {
                vni,
                mac,
                dest: Destination::Local(_),
            } => self.originate(vni, mac, 0),
            E::Moved {
                vni,
                mac,
                to: Destination::Local(_),
                seq,
                ..
            } => self.originate(vni, mac, seq),
            E::Moved {
                vni,
                mac,
                from: Destination::Local(_),
                to: Destination::Remote(_),
                ..
            }
            | E::AgedOut {
                vni,
                mac,
                dest: Destination::Local(_),
            } => self.withdraw_local(vni, mac),
            // Every unicast address, IPv6 link-local ones included: a VNI is one link, where a
            // link-local address is unique (duplicate address detection spans it) and what
            // hosts resolve for their routers; FRR advertises them too.
            E::NeighbourLearned {
                vni,
                ip,
                mac,
                router,
            } => self.add_local_ip(vni, mac, NeighIp { ip, router }),
            E::DuplicateFrozen { vni, mac, .. } => self.freeze_local(vni, mac),
            _ => {}
        }
    }

    /// `mac` is at a local port: advertise it with a sequence that beats every remote path.
    fn originate(&mut self, vni: Vni, mac: Mac, seq_hint: u32) {
        if !self.vnis.contains_key(&vni) {
            return;
        }
        if self
            .local
            .get(&(vni, mac.0))
            .is_some_and(|l| l.frozen || l.seq >= seq_hint)
        {
            return;
        }
        let remote_max = self
            .remote_paths(vni, mac.0)
            .map(|(_, _, seq, _)| seq)
            .max();
        let seq = match remote_max {
            Some(max) => seq_hint.max(max.saturating_add(1)),
            None => seq_hint,
        };
        let before = self.best(vni, mac.0);
        let entry = self.local.entry((vni, mac.0)).or_default();
        entry.seq = seq;
        let ips = entry.ips.clone();
        self.fdb_diff(vni, mac, before);
        self.local_routes_changed(vni, mac, &ips);
    }

    /// `mac` left this VTEP (aged out, or a newer remote route took it).
    pub(crate) fn withdraw_local(&mut self, vni: Vni, mac: Mac) {
        let before = self.best(vni, mac.0);
        let Some(local) = self.local.remove(&(vni, mac.0)) else {
            return;
        };
        self.local_routes_changed(vni, mac, &local.ips);
        self.fdb_diff(vni, mac, before);
    }

    /// The routes of local `mac` changed: its MAC route and its MAC/IP route per address in
    /// `ips`, for every established peer.
    fn local_routes_changed(&mut self, vni: Vni, mac: Mac, ips: &[NeighIp]) {
        self.local_changed(self.mac_key(vni, mac.0, None));
        for n in ips {
            self.local_changed(self.mac_key(vni, mac.0, Some(n.ip)));
        }
    }

    /// An address of a local MAC, or its Router flag changed: (re-)advertised.
    fn add_local_ip(&mut self, vni: Vni, mac: Mac, new: NeighIp) {
        let Some(local) = self.local.get_mut(&(vni, mac.0)) else {
            return;
        };
        // ARP has no routers (the engine never says so, but a route must not either).
        let new = NeighIp {
            router: new.router && matches!(new.ip, IpAddress::Ipv6(_)),
            ..new
        };
        let full = local.ips.len() >= MAX_IPS;
        match local.ips.iter_mut().find(|n| n.ip == new.ip) {
            Some(n) if *n == new => return,
            Some(n) => *n = new,
            None if full => return,
            None => local.ips.push(new),
        }
        let frozen = local.frozen;
        if !frozen {
            self.local_changed(self.mac_key(vni, mac.0, Some(new.ip)));
        }
    }

    fn freeze_local(&mut self, vni: Vni, mac: Mac) {
        if !self.vnis.contains_key(&vni) {
            return;
        }
        let before = self.best(vni, mac.0);
        let local = self.local.entry((vni, mac.0)).or_default();
        if local.frozen {
            return;
        }
        local.frozen = true;
        let ips = local.ips.clone();
        self.local_routes_changed(vni, mac, &ips);
        self.fdb_diff(vni, mac, before);
    }

    /// Imported remote type-2 paths of a MAC: (record, vtep, seq, sticky).
    fn remote_paths(
        &self,
        vni: Vni,
        mac: [u8; 6],
    ) -> impl Iterator<Item = (&Record, Ipv4Address, u32, bool)> + '_ {
        let own = self.config.vtep;
        self.rib
            .group(&Group::Mac(mac))
            .filter(move |r| r.imported() && r.vni == vni.get())
            .filter_map(move |r| {
                let attrs = self.rib.attrs.get(r.attrs);
                let (sticky, seq) = attrs.mobility();
                (attrs.next_hop != own).then_some((r, attrs.next_hop, seq, sticky))
            })
    }

    /// The best path of a MAC: sticky first, then the higher sequence, then the lower VTEP
    /// address (RFC 7432 section 15); the local path competes as this VTEP.
    pub(crate) fn best(&self, vni: Vni, mac: [u8; 6]) -> Best {
        // Higher is better: (sticky, seq, lower address, lower peer id).
        let rank = |sticky: bool, seq: u32, vtep: Ipv4Address, peer: u16| {
            (sticky, seq, u32::MAX - u32::from(vtep), u16::MAX - peer)
        };
        let mut best: Option<((bool, u32, u32, u16), Best)> = None;
        if let Some(local) = self.local.get(&(vni, mac))
            && !local.frozen
        {
            best = Some((
                rank(false, local.seq, self.config.vtep, u16::MAX),
                Best::Local,
            ));
        }
        for (record, vtep, seq, sticky) in self.remote_paths(vni, mac) {
            let r = rank(sticky, seq, vtep, record.peer.0);
            if best.is_none_or(|(b, _)| r > b) {
                best = Some((
                    r,
                    Best::Remote {
                        vtep,
                        seq,
                        peer: record.peer,
                        ips: [None; MAX_IPS],
                    },
                ));
            }
        }
        let Some((_, mut best)) = best else {
            return Best::None;
        };
        if let Best::Remote { vtep, ips, .. } = &mut best {
            let mut n = 0;
            for (record, nh, _, _) in self.remote_paths(vni, mac) {
                let RouteKey::MacIp { ip: Some(key), .. } = record.key else {
                    continue;
                };
                let ip = IpAddress::from(key);
                // A multicast, unspecified or loopback address names no neighbour: the
                // route's MAC is installed, not that.
                if nh == *vtep
                    && n < MAX_IPS
                    && vtep_core::neigh::is_usable(&ip)
                    && !ips.iter().flatten().any(|i| i.ip == ip)
                {
                    let router = matches!(ip, IpAddress::Ipv6(_))
                        && self.rib.attrs.get(record.attrs).router_flag();
                    ips[n] = Some(NeighIp { ip, router });
                    n += 1;
                }
            }
        }
        best
    }

    /// The FDB actions that take the engine from `before` to the current best path. A remote
    /// path that beats our own route for a local MAC (a higher sequence number: the host moved
    /// there) makes us withdraw ours (RFC 7432 section 15), whether or not the engine still
    /// has the MAC at a port.
    pub(crate) fn fdb_diff(&mut self, vni: Vni, mac: Mac, before: Best) {
        let after = self.best(vni, mac.0);
        if after == before {
            return;
        }
        if before == Best::Local
            && matches!(after, Best::Remote { .. })
            && let Some(local) = self.local.remove(&(vni, mac.0))
        {
            self.local_routes_changed(vni, mac, &local.ips);
        }
        let old_ips = match before {
            Best::Remote { ips, .. } => ips,
            _ => [None; MAX_IPS],
        };
        let mut push = |a| self.outputs.push_back(Output::Fdb(a));
        match after {
            Best::Remote {
                vtep,
                seq,
                peer,
                ips,
            } => {
                let same_mac =
                    matches!(before, Best::Remote { vtep: v, seq: s, .. } if v == vtep && s == seq);
                if !same_mac {
                    push(FdbAction::InstallMac {
                        vni,
                        mac,
                        vtep,
                        seq,
                        peer,
                    });
                }
                for n in ips.into_iter().flatten() {
                    // A new address, or a known one whose Router flag changed.
                    if !same_mac || !old_ips.contains(&Some(n)) {
                        push(FdbAction::InstallIp {
                            vni,
                            mac,
                            ip: n.ip,
                            router: n.router,
                            vtep,
                            seq,
                        });
                    }
                }
                for old in old_ips.into_iter().flatten() {
                    if !ips.iter().flatten().any(|n| n.ip == old.ip) {
                        push(FdbAction::WithdrawIp { vni, ip: old.ip });
                    }
                }
            }
            Best::Local | Best::None => {
                if matches!(before, Best::Remote { .. }) {
                    for old in old_ips.into_iter().flatten() {
                        push(FdbAction::WithdrawIp { vni, ip: old.ip });
                    }
                    push(FdbAction::WithdrawMac { vni, mac });
                }
            }
        }
    }

    /// The VNI a route imports into, by route target: an explicit one matches exactly, an
    /// automatic one matches any route target whose local part is the VNI (as FRR does).
    fn import_vni(&self, ext_communities: &[[u8; 8]]) -> Option<Vni> {
        for raw in ext_communities {
            let ExtCommunity::RouteTarget(rt) = ExtCommunity::parse(*raw) else {
                continue;
            };
            for (vni, local) in &self.vnis {
                let matches = if local.auto_rt {
                    rt.local_admin() == vni.get()
                } else {
                    rt == local.rt
                };
                if matches {
                    return Some(*vni);
                }
            }
        }
        None
    }

    /// Adds, replaces (`Some`) or removes (`None`) the route `key` of `peer`, keeping the
    /// flood lists, the FDB and the reflected advertisements in step.
    fn set_route(&mut self, peer: PeerId, key: RouteKey, new: Option<(u32, u8, u32)>) {
        let group = Group::of(&key);
        let old = self.rib.find(&group, peer, &key).copied();
        if old.is_none() && new.is_none() {
            return;
        }
        if let (Some(o), Some((vni, flags, attrs))) = (old, new)
            && o.vni == vni
            && o.flags == flags
            && o.attrs == attrs
        {
            // The same route again: nothing changes (drop the extra reference).
            self.rib.attrs.release(attrs);
            return;
        }
        let mac = match key {
            RouteKey::MacIp { mac, .. } => Some(mac),
            RouteKey::InclusiveMulticast { .. } => None,
        };
        // Best paths before, for the VNIs the old and new record touch.
        let vnis: [Option<Vni>; 2] = [
            old.filter(|o| o.imported())
                .map(|o| Vni::from_u24_truncating(o.vni)),
            new.filter(|(_, f, _)| f & IMPORTED != 0)
                .map(|(v, _, _)| Vni::from_u24_truncating(v)),
        ];
        let befores = mac.map(|m| vnis.map(|v| v.map(|v| self.best(v, m))));
        if let Some(o) = old {
            self.rib.remove(&group, peer, &key);
            self.flood_ref(&o, -1);
            self.rib.attrs.release(o.attrs);
            if let Some(p) = self.peer_mut(peer) {
                p.routes -= 1;
            }
        }
        if let Some((vni, flags, attrs)) = new {
            let record = Record {
                key,
                vni,
                peer,
                flags,
                attrs,
            };
            self.rib.insert(record);
            self.flood_ref(&record, 1);
            if let Some(p) = self.peer_mut(peer) {
                p.routes += 1;
            }
        }
        if let (Some(m), Some(befores)) = (mac, befores) {
            for (vni, before) in vnis.into_iter().zip(befores) {
                if let (Some(vni), Some(before)) = (vni, before) {
                    self.fdb_diff(vni, EthernetAddress(m), before);
                }
                if vnis[0] == vnis[1] {
                    break;
                }
            }
        }
        if self.config.route_reflector.is_some() {
            for (i, p) in self.peers.iter_mut().enumerate() {
                if let Some(p) = p
                    && p.is_established()
                    && i != usize::from(peer.0)
                {
                    p.pending.insert(key);
                }
            }
        }
    }

    /// Counts a type-3 record in (or out of) the flood list of its VNI.
    fn flood_ref(&mut self, record: &Record, delta: i32) {
        if record.flags & FLOODS == 0 {
            return;
        }
        let RouteKey::InclusiveMulticast { originator, .. } = record.key else {
            return;
        };
        let Some(vtep) = v4(originator) else { return };
        let vni = Vni::from_u24_truncating(record.vni);
        let count = self.flood.entry((vni, vtep)).or_insert(0);
        if delta > 0 {
            *count += 1;
            if *count == 1 {
                self.outputs
                    .push_back(Output::Fdb(FdbAction::AddFloodPeer { vni, vtep }));
            }
        } else {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.flood.remove(&(vni, vtep));
                self.outputs
                    .push_back(Output::Fdb(FdbAction::RemoveFloodPeer { vni, vtep }));
            }
        }
    }

    /// Every route of a peer goes (its session ended).
    pub(crate) fn drop_routes_of(&mut self, peer: PeerId) {
        for key in self.rib.of_peer(peer) {
            self.set_route(peer, key, None);
        }
    }

    /// An UPDATE in Established; false when it reset the session.
    pub(crate) fn on_update(&mut self, peer: PeerId, message: &[u8]) -> bool {
        let four_octet = self
            .peer(peer)
            .and_then(|p| p.negotiated)
            .is_some_and(|n| n.four_octet_as);
        let parsed = UpdatePacket::new_checked(message)
            .and_then(|packet| UpdateRepr::parse(&packet, four_octet))
            .map_err(|e| self.malformed(peer, e, message));
        let Ok((repr, verdict)) = parsed else {
            return false;
        };
        let Some(p) = self.peer_mut(peer) else {
            return false;
        };
        for reason in verdict.reasons() {
            p.counters.malformed.add(reason);
        }
        if let (Some(action), Some(first)) = (verdict.action, verdict.first) {
            self.event(Event::UpdateErrors {
                peer,
                action,
                first: first.reason,
            });
        }
        let ignored = repr.nlri.iter().count() + repr.withdrawn.iter().count();
        let other_family = matches!(repr.mp_reach, Some(MpReach::Other { .. }))
            || matches!(repr.mp_unreach, Some(MpUnreach::Other { .. }));
        if ignored > 0 || other_family {
            self.note_ignored(peer, Malformed::UnnegotiatedFamily, ignored.max(1));
        }
        if let Some(MpUnreach::Evpn { routes }) = repr.mp_unreach {
            for route in routes.iter() {
                self.withdraw_route(peer, &route);
            }
        }
        let Some(MpReach::Evpn { next_hop, routes }) = repr.mp_reach else {
            return true;
        };
        // Our own routes reflected back (RFC 4456 section 8) are dropped like loops, but
        // counted apart: a reflector may send them in normal operation (FRR does).
        let own = repr.originator_id == Some(self.config.router_id);
        let looped = self.looped(&repr);
        if (own || looped)
            && let Some(p) = self.peer_mut(peer)
        {
            let n = routes.iter().count() as u64;
            if own {
                p.counters.routes_own_reflected += n;
            } else {
                p.counters.routes_looped += n;
            }
        }
        if verdict.treat_as_withdraw() || looped || own {
            for route in routes.iter() {
                self.withdraw_route(peer, &route);
            }
            return true;
        }
        let NextHop::V4(next_hop) = next_hop else {
            // IPv6 VTEPs are not carried by this version.
            let n = routes.iter().count();
            self.note_ignored(peer, Malformed::UnnegotiatedFamily, n);
            return true;
        };
        let mut as_path = alloc::vec![0u8; repr.as_path.map_or(0, |p| p.wire_len(true))];
        if let Some(path) = repr.as_path {
            path.write(true, &mut as_path);
        }
        let ext: Vec<[u8; 8]> = repr
            .ext_communities
            .map(|e| e.iter().map(|c| c.to_bytes()).collect())
            .unwrap_or_default();
        let import = self.import_vni(&ext);
        let base = PathAttributes {
            next_hop,
            origin: repr.origin.unwrap_or(Origin::Incomplete),
            local_pref: repr.local_pref.unwrap_or(100),
            med: repr.med,
            as_path: as_path.into_boxed_slice(),
            originator_id: repr.originator_id,
            cluster_list: repr
                .cluster_list
                .map(|c| c.iter().collect())
                .unwrap_or_default(),
            ext_communities: ext.into_boxed_slice(),
            pmsi: repr
                .pmsi_tunnel
                .map(|t| (t.flags, t.tunnel_type, t.label, t.identifier.into())),
            esi: [0; 10],
            label1: 0,
            label2: None,
        };
        let ingress = base.ingress_replication();
        // Routes of one UPDATE share their attributes; ESI and labels usually too.
        let mut last: Option<(RouteData, u32)> = None;
        let mut accepted = 0;
        for route in routes.iter() {
            let (key, route_data, label) = match route {
                EvpnRoute::MacIp(r) => (route.key(), (r.esi.0, r.label1, r.label2), r.label1),
                EvpnRoute::InclusiveMulticast(_) => {
                    let label = base.pmsi.as_ref().map_or(0, |p| p.2);
                    (route.key(), ([0; 10], 0, None), label)
                }
                EvpnRoute::Other { .. } => {
                    self.note_ignored(peer, Malformed::UnknownRouteType, 1);
                    continue;
                }
            };
            let Some(key) = key else { continue };
            let attrs = match last {
                Some((data, id)) if data == route_data => {
                    self.rib.attrs.retain(id);
                    id
                }
                _ => {
                    let mut attrs = base.clone();
                    (attrs.esi, attrs.label1, attrs.label2) = route_data;
                    let id = self.rib.attrs.intern(attrs);
                    last = Some((route_data, id));
                    id
                }
            };
            let (vni, mut flags) = match import {
                Some(v) => (v.get(), IMPORTED),
                None => (label & 0xff_ffff, 0),
            };
            let own = IpKey::V4(self.config.vtep.octets());
            if let RouteKey::InclusiveMulticast { originator, .. } = key
                && flags & IMPORTED != 0
                && ingress
                && originator != own
                && v4(originator).is_some()
            {
                flags |= FLOODS;
            }
            self.set_route(peer, key, Some((vni, flags, attrs)));
            accepted += 1;
        }
        let limit = self.peer(peer).map_or(usize::MAX, |p| {
            p.config
                .max_routes
                .unwrap_or(self.config.max_routes_per_peer)
        });
        let Some(p) = self.peer_mut(peer) else {
            return false;
        };
        p.counters.routes_accepted += accepted;
        if p.routes > limit {
            self.reset(peer, SessionError::RouteLimit { limit }, &[]);
            return false;
        }
        true
    }

    fn note_ignored(&mut self, peer: PeerId, reason: Malformed, n: usize) {
        if let Some(p) = self.peer_mut(peer) {
            p.counters.malformed.add(reason);
            p.counters.routes_ignored += n as u64;
        }
    }

    /// Routes that crossed our AS or our cluster (RFC 4271 section 9.1.2, RFC 4456 section 8).
    fn looped(&self, repr: &UpdateRepr<'_>) -> bool {
        repr.as_path.is_some_and(|p| p.contains(self.config.asn))
            || self.config.route_reflector.is_some_and(|cluster| {
                repr.cluster_list
                    .is_some_and(|list| list.iter().any(|id| id == cluster))
            })
    }

    fn withdraw_route(&mut self, peer: PeerId, route: &EvpnRoute<'_>) {
        let Some(key) = route.key() else {
            self.note_ignored(peer, Malformed::UnknownRouteType, 1);
            return;
        };
        let group = Group::of(&key);
        if self.rib.find(&group, peer, &key).is_some() {
            if let Some(p) = self.peer_mut(peer) {
                p.counters.routes_withdrawn += 1;
            }
            self.set_route(peer, key, None);
        }
    }

    /// Local MAC: the sequence advertised, if advertised.
    pub(crate) fn local_mac(&self, vni: Vni, mac: [u8; 6]) -> Option<&LocalMac> {
        self.local.get(&(vni, mac)).filter(|l| !l.frozen)
    }
}
