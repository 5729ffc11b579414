//! What each peer is told: local routes (every speaker) and reflected ones (a route
//! reflector), encoded into UPDATEs only while the peer's send buffer has room.
//!
//! A peer keeps a set of route keys whose advertisement changed. When its buffer drains, each
//! key is resolved against the current state (advertise with these attributes, or withdraw) and
//! keys that resolve to the same attributes are packed into one UPDATE. Nothing per peer is kept
//! of what was sent: a withdrawal of a route the peer never had is harmless.

use alloc::vec::Vec;

use vtep_core::Vni;
use vtep_core::wire::bgp::attr::pmsi_type;
use vtep_core::wire::bgp::evpn::IpKey;
use vtep_core::wire::bgp::{
    self, AsPath, EthernetSegment, EvpnRoute, ExtCommunity, InclusiveMulticastRoute, MacIpRoute,
    MessageType, MpReach, MpUnreach, NextHop, PmsiTunnel, RouteKey, Seq, TunnelType, UpdateRepr,
};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};

use crate::PeerId;
use crate::rib::{AttrId, Group};
use crate::session::TX_HIGH_WATER;
use crate::speaker::Speaker;

/// The order of reflected paths (RFC 4271 9.1.2.2, RFC 4456 9): higher is better.
type ReflectRank = (u32, usize, u8, u32, usize, u32, u16);

/// What a route key is now, for one peer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Resolved {
    Withdraw,
    LocalMac {
        vni: Vni,
        seq: u32,
        /// An IPv6 router's address: the route carries the ARP/ND community with R set.
        router: bool,
    },
    LocalImet {
        vni: Vni,
    },
    Reflected {
        attrs: AttrId,
        originator: Ipv4Address,
    },
}

/// The route a key names, with the data of its attributes.
fn route_of(key: &RouteKey, esi: [u8; 10], label1: u32, label2: Option<u32>) -> EvpnRoute<'static> {
    match *key {
        RouteKey::MacIp {
            rd,
            ethernet_tag,
            mac,
            ip,
        } => EvpnRoute::MacIp(MacIpRoute {
            rd,
            esi: EthernetSegment(esi),
            ethernet_tag,
            mac: EthernetAddress(mac),
            ip: ip.map(IpAddress::from),
            label1,
            label2,
        }),
        RouteKey::InclusiveMulticast {
            rd,
            ethernet_tag,
            originator,
        } => EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
            rd,
            ethernet_tag,
            originator: originator.into(),
        }),
    }
}

impl Speaker {
    /// Queues every route this speaker advertises to `peer` (a new session, a ROUTE-REFRESH).
    pub(crate) fn advertise_all(&mut self, peer: PeerId) {
        let mut keys: Vec<RouteKey> = Vec::new();
        for vni in self.vnis.keys() {
            keys.push(self.imet_key(*vni));
        }
        for ((vni, mac), local) in &self.local {
            if local.frozen {
                continue;
            }
            keys.push(self.mac_key(*vni, *mac, None));
            for n in &local.ips {
                keys.push(self.mac_key(*vni, *mac, Some(n.ip)));
            }
        }
        if self.config.route_reflector.is_some() {
            keys.extend(self.rib.iter().filter(|r| r.peer != peer).map(|r| r.key));
        }
        if let Some(p) = self.peer_mut(peer) {
            p.pending.extend(keys);
        }
    }

    fn resolve(&self, peer: PeerId, key: &RouteKey) -> Resolved {
        let (rd, own) = match key {
            RouteKey::MacIp { rd, .. } | RouteKey::InclusiveMulticast { rd, .. } => (*rd, true),
        };
        if let (Some(vni), true) = (self.rd_to_vni.get(&rd), own) {
            let vni = *vni;
            return match *key {
                RouteKey::MacIp { mac, ip, .. } => {
                    let Some(local) = self.local_mac(vni, mac) else {
                        return Resolved::Withdraw;
                    };
                    let seq = local.seq;
                    match ip {
                        None => Resolved::LocalMac {
                            vni,
                            seq,
                            router: false,
                        },
                        Some(k) => match local.ips.iter().find(|n| IpKey::from(n.ip) == k) {
                            Some(n) => Resolved::LocalMac {
                                vni,
                                seq,
                                router: n.router,
                            },
                            None => Resolved::Withdraw,
                        },
                    }
                }
                RouteKey::InclusiveMulticast { originator, .. }
                    if originator == IpKey::V4(self.config.vtep.octets()) =>
                {
                    Resolved::LocalImet { vni }
                }
                RouteKey::InclusiveMulticast { .. } => Resolved::Withdraw,
            };
        }
        if self.config.route_reflector.is_none() {
            return Resolved::Withdraw;
        }
        self.reflected(peer, key)
    }

    /// The best path for `key` among other peers' that may be reflected to `peer`: a client's
    /// route goes to everyone, a non-client's to clients only (RFC 4456 section 6).
    fn reflected(&self, peer: PeerId, key: &RouteKey) -> Resolved {
        let to_client = self
            .peer(peer)
            .is_some_and(|p| p.config.route_reflector_client);
        let mut best: Option<(ReflectRank, Resolved)> = None;
        for record in self.rib.group(&Group::of(key)) {
            if record.key != *key || record.peer == peer {
                continue;
            }
            let Some(source) = self.peer(record.peer) else {
                continue;
            };
            if !(to_client || source.config.route_reflector_client) {
                continue;
            }
            let attrs = self.rib.attrs.get(record.attrs);
            let originator = attrs
                .originator_id
                .or(source.negotiated.map(|n| n.peer_id))
                .unwrap_or(source.config.address);
            let path_len = AsPath::parse(&attrs.as_path, true).map_or(0, |p| p.path_len());
            // Lower is better except LOCAL_PREF: invert the rest (RFC 4271 9.1.2.2, RFC 4456 9).
            let rank = (
                attrs.local_pref,
                usize::MAX - path_len,
                u8::MAX - attrs.origin.to_u8(),
                u32::MAX - attrs.med.unwrap_or(0),
                usize::MAX - attrs.cluster_list.len(),
                u32::MAX - u32::from(originator),
                u16::MAX - record.peer.0,
            );
            if best.is_none_or(|(b, _)| rank > b) {
                best = Some((
                    rank,
                    Resolved::Reflected {
                        attrs: record.attrs,
                        originator,
                    },
                ));
            }
        }
        best.map_or(Resolved::Withdraw, |(_, r)| r)
    }

    /// Encodes queued advertisements for every established peer with room to send.
    pub(crate) fn encode_pending(&mut self) {
        for id in self.peer_ids().collect::<Vec<_>>() {
            let mut sent = false;
            while let Some(p) = self.peer(id)
                && p.is_established()
                && p.tx.len() < TX_HIGH_WATER
                && !p.pending.is_empty()
            {
                self.encode_one(id);
                sent = true;
            }
            if sent {
                let now = self.now;
                if let Some(p) = self.peer_mut(id) {
                    p.keepalive_sent(now);
                }
                self.signal(id);
            }
        }
    }

    /// Encodes one UPDATE from the peer's queue: the first key and the following ones that
    /// resolve alike, as many as fit in a message.
    fn encode_one(&mut self, id: PeerId) {
        let Some(first) = self.peer_mut(id).and_then(|p| p.pending.pop_first()) else {
            return;
        };
        let class = self.resolve(id, &first);
        let mut keys = alloc::vec![first];
        let base = self.update_len(id, class, &[]);
        let mut size = base + self.route_len(class, &first);
        while let Some(next) = self.peer(id).and_then(|p| p.pending.first().copied()) {
            if self.resolve(id, &next) != class {
                break;
            }
            let len = self.route_len(class, &next);
            if size + len > bgp::MAX_MESSAGE_LEN {
                break;
            }
            size += len;
            keys.push(next);
            if let Some(p) = self.peer_mut(id) {
                p.pending.pop_first();
            }
        }
        self.emit_update(id, class, &keys);
    }

    fn route_len(&self, class: Resolved, key: &RouteKey) -> usize {
        self.routes_for(class, core::slice::from_ref(key))[0].buffer_len()
    }

    fn update_len(&self, id: PeerId, class: Resolved, keys: &[RouteKey]) -> usize {
        let mut len = 0;
        self.with_update(id, class, keys, |u| len = u.buffer_len());
        len
    }

    fn routes_for(&self, class: Resolved, keys: &[RouteKey]) -> Vec<EvpnRoute<'static>> {
        keys.iter()
            .map(|key| match class {
                Resolved::Withdraw | Resolved::LocalImet { .. } => route_of(key, [0; 10], 0, None),
                Resolved::LocalMac { vni, .. } => route_of(key, [0; 10], vni.get(), None),
                Resolved::Reflected { attrs, .. } => {
                    let a = self.rib.attrs.get(attrs);
                    route_of(key, a.esi, a.label1, a.label2)
                }
            })
            .collect()
    }

    /// Builds the UPDATE for `keys` resolved as `class` and hands it to `f`.
    fn with_update(
        &self,
        id: PeerId,
        class: Resolved,
        keys: &[RouteKey],
        f: impl FnOnce(&UpdateRepr<'_>),
    ) {
        let routes = self.routes_for(class, keys);
        let four_octet = self
            .peer(id)
            .and_then(|p| p.negotiated)
            .is_none_or(|n| n.four_octet_as);
        let vtep = NextHop::V4(self.config.vtep);
        let local = |vni: Vni, extra: &[Option<ExtCommunity>]| {
            let rt = self.vnis.get(&vni).map(|v| v.rt);
            let mut ecs: Vec<ExtCommunity> =
                rt.map(ExtCommunity::RouteTarget).into_iter().collect();
            ecs.push(ExtCommunity::Encapsulation(TunnelType::Vxlan));
            ecs.extend(extra.iter().flatten());
            ecs
        };
        match class {
            Resolved::Withdraw => f(&UpdateRepr {
                mp_unreach: Some(MpUnreach::Evpn {
                    routes: Seq::Items(&routes),
                }),
                ..UpdateRepr::default()
            }),
            Resolved::LocalMac { vni, seq, router } => {
                // FRR leaves MAC mobility out at sequence 0; so does this speaker.
                let mobility =
                    (seq > 0).then_some(ExtCommunity::MacMobility { sticky: false, seq });
                // RFC 9047's ARP/ND community only for a router, as FRR 8.4 sends it (its
                // absence means R clear, O set); O set with R, since the router's own
                // advertisements override and a receiver that honours O must not answer
                // without it.
                let nd = router.then_some(ExtCommunity::ArpNd {
                    router: true,
                    override_: true,
                    immutable: false,
                });
                let ecs = local(vni, &[mobility, nd]);
                f(&UpdateRepr::announce(vtep, &routes, &ecs));
            }
            Resolved::LocalImet { vni } => {
                let ecs = local(vni, &[]);
                let endpoint = self.config.vtep.octets();
                f(&UpdateRepr {
                    pmsi_tunnel: Some(PmsiTunnel {
                        flags: 0,
                        tunnel_type: pmsi_type::INGRESS_REPLICATION,
                        label: vni.get(),
                        identifier: &endpoint,
                    }),
                    ..UpdateRepr::announce(vtep, &routes, &ecs)
                });
            }
            Resolved::Reflected { attrs, originator } => {
                let a = self.rib.attrs.get(attrs);
                let ecs: Vec<ExtCommunity> = a
                    .ext_communities
                    .iter()
                    .map(|b| ExtCommunity::parse(*b))
                    .collect();
                let mut cluster: Vec<Ipv4Address> =
                    self.config.route_reflector.into_iter().collect();
                cluster.extend_from_slice(&a.cluster_list);
                let mut path_bytes = alloc::vec![0u8; a.as_path.len()];
                let path = AsPath::parse(&a.as_path, true).unwrap_or(AsPath::EMPTY);
                let n = path.write(four_octet, &mut path_bytes);
                path_bytes.truncate(n);
                let path = AsPath::parse(&path_bytes, four_octet).unwrap_or(AsPath::EMPTY);
                let pmsi = a.pmsi.as_ref().map(|(flags, kind, label, id)| PmsiTunnel {
                    flags: *flags,
                    tunnel_type: *kind,
                    label: *label,
                    identifier: id,
                });
                f(&UpdateRepr {
                    mp_reach: Some(MpReach::Evpn {
                        next_hop: NextHop::V4(a.next_hop),
                        routes: Seq::Items(&routes),
                    }),
                    origin: Some(a.origin),
                    as_path: Some(path),
                    med: a.med,
                    local_pref: Some(a.local_pref),
                    originator_id: Some(originator),
                    cluster_list: Some(Seq::Items(&cluster)),
                    ext_communities: Some(Seq::Items(&ecs)),
                    pmsi_tunnel: pmsi,
                    ..UpdateRepr::default()
                });
            }
        }
    }

    fn emit_update(&mut self, id: PeerId, class: Resolved, keys: &[RouteKey]) {
        let mut bytes = Vec::new();
        self.with_update(id, class, keys, |u| {
            bytes.resize(u.buffer_len(), 0);
            u.emit(&mut bytes);
        });
        if let Some(p) = self.peer_mut(id) {
            let len = bytes.len();
            p.send(MessageType::Update, len, |b| {
                b[..len].copy_from_slice(&bytes);
                len
            });
        }
    }
}
