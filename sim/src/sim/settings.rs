//! Settings that apply across the fabric: the learning mode, each VNI's encapsulation and
//! rate limit (and the VTEP networks that carry them), the underlay MTU and hosts' MTUs.

use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;

use vtep_core::PortId;
use vtep_core::Vni;
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{Encapsulation, NetworkConfig, VtepConfig};
use vtep_core::wire::IpAddress;

use super::Sim;
use super::model::{
    FabricKind, LearningMode, LinkSpec, ROUTE_SERVER_IP, RsNode, State, VniSettings, vni_of,
};
use crate::cp::{RouteMsg, RouteServer};
use crate::error::SimError;
use crate::id::{NodeId, SiteId};

impl Sim {
    pub(super) fn network_config(&self, vni: Vni) -> NetworkConfig {
        let s = self.vnis.get(&vni).copied().unwrap_or_default();
        let cp = self.mode == LearningMode::ControlPlane;
        NetworkConfig {
            encapsulation: s.encapsulation,
            rate_limit: s.rate_limit,
            learning: !cp,
            arp_proxy: cp,
            ..NetworkConfig::new(vni)
        }
    }

    /// Makes sure `hv`'s VTEP serves `vni`; wires up flood lists or tells the route server.
    pub(super) fn ensure_network(&mut self, hv: NodeId, vni: Vni) -> Result<(), SimError> {
        let config = self.network_config(vni);
        let now = self.now;
        let (ip, added) = {
            let h = self.hv_mut(hv).ok_or(SimError::UnknownHypervisor(hv))?;
            let ip = h.ip;
            let Some(vtep) = h.vtep.as_mut() else {
                return Ok(());
            };
            if vtep.network(vni).is_some() {
                (ip, false)
            } else {
                vtep.add_network(config, now)?;
                (ip, true)
            }
        };
        if !added {
            return Ok(());
        }
        match self.mode {
            LearningMode::FloodAndLearn => {
                for other in self.hypervisors() {
                    if other == hv {
                        continue;
                    }
                    let Some(oh) = self.hv_mut(other) else {
                        continue;
                    };
                    let oip = oh.ip;
                    let Some(ov) = oh.vtep.as_mut() else { continue };
                    if ov.network(vni).is_some() {
                        ov.add_flood_peer(vni, IpAddress::Ipv4(ip))?;
                        if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                            v.add_flood_peer(vni, IpAddress::Ipv4(oip))?;
                        }
                    }
                }
            }
            LearningMode::ControlPlane => {
                self.cp_send(
                    hv,
                    RouteMsg::Imet {
                        withdraw: false,
                        vni,
                        vtep: ip,
                    },
                );
            }
        }
        Ok(())
    }

    /// Switches the learning mode of every VTEP. To the control plane: a route server is
    /// attached to the first site and every hypervisor advertises its VNIs and hosts.
    pub fn set_learning_mode(&mut self, mode: LearningMode) -> Result<(), SimError> {
        if self.config.fabric == FabricKind::FlatL2 {
            return Err(SimError::FlatL2("a learning mode"));
        }
        if mode == LearningMode::ControlPlane && self.route_server.is_none() {
            let site = self
                .sites
                .iter()
                .position(Option::is_some)
                .ok_or_else(|| SimError::BadArgument("add a site first".to_string()))?;
            let site = SiteId(site as u32);
            let core = self.check_site(site)?.core;
            let rs = self.add_node(
                "route-server",
                site,
                State::RouteServer(RsNode {
                    ip: ROUTE_SERVER_IP,
                    rs: RouteServer::default(),
                }),
            )?;
            self.add_link(rs, core, LinkSpec::underlay(), true);
            self.route_server = Some(rs);
        }
        let old = self.mode;
        self.mode = mode;
        if old == mode {
            return Ok(());
        }
        let now = self.now;
        for hv in self.hypervisors() {
            let vnis: Vec<Vni> = self
                .vtep(hv)
                .map(|v| v.networks().iter().map(|n| n.vni).collect())
                .unwrap_or_default();
            for vni in &vnis {
                let config = self.network_config(*vni);
                if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                    v.update_network(config, now)?;
                }
            }
            if mode == LearningMode::ControlPlane {
                let ip = self.hypervisor_ip(hv)?;
                for vni in vnis {
                    self.cp_send(
                        hv,
                        RouteMsg::Imet {
                            withdraw: false,
                            vni,
                            vtep: ip,
                        },
                    );
                }
                let hosts: Vec<(NodeId, PortId)> = self
                    .hv(hv)
                    .map(|h| h.ports.iter().map(|(p, (n, _))| (*n, *p)).collect())
                    .unwrap_or_default();
                for (host, _) in hosts {
                    let (mac, hip, vni) = self.host_addr(host)?;
                    if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                        v.add_static_neighbour(now, vni, IpAddress::Ipv4(hip), mac)?;
                    }
                    self.cp_send(
                        hv,
                        RouteMsg::MacIp {
                            withdraw: false,
                            vni,
                            mac,
                            ip: Some(hip),
                            vtep: ip,
                            seq: 0,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    pub(super) fn update_vni(
        &mut self,
        vni: Vni,
        f: impl Fn(&mut VniSettings),
    ) -> Result<(), SimError> {
        let mut s = self.vnis.get(&vni).copied().unwrap_or_default();
        f(&mut s);
        self.vnis.insert(vni, s);
        let config = self.network_config(vni);
        let now = self.now;
        for hv in self.hypervisors() {
            if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut())
                && v.network(vni).is_some()
            {
                v.update_network(config, now)?;
            }
        }
        Ok(())
    }

    /// The encapsulation of a VNI, on every VTEP (claim S9).
    pub fn set_encapsulation(
        &mut self,
        vni: u32,
        encapsulation: Encapsulation,
    ) -> Result<(), SimError> {
        if self.config.fabric == FabricKind::FlatL2 {
            return Err(SimError::FlatL2("an encapsulation"));
        }
        let vni = vni_of(vni)?;
        self.update_vni(vni, |s| s.encapsulation = encapsulation)
    }

    /// A per-VNI rate limit into the underlay, on every VTEP (claim S7).
    pub fn set_rate_limit(&mut self, vni: u32, limit: Option<RateLimit>) -> Result<(), SimError> {
        if self.config.fabric == FabricKind::FlatL2 {
            return Err(SimError::FlatL2("a rate limit"));
        }
        let vni = vni_of(vni)?;
        if let Some(l) = limit
            && l.bytes_per_sec == 0
        {
            return Err(SimError::BadArgument(
                "a rate limit needs bytes_per_sec > 0".to_string(),
            ));
        }
        self.update_vni(vni, |s| s.rate_limit = limit)
    }

    /// The underlay MTU: every VTEP's and every underlay link's (claim S3).
    pub fn set_underlay_mtu(&mut self, mtu: u16) -> Result<(), SimError> {
        // The simulator's underlay is IPv4.
        let needed = VtepConfig::min_underlay_mtu(false);
        if usize::from(mtu) < needed {
            return Err(SimError::MtuBelowOverhead { mtu, needed });
        }
        for hv in self.hypervisors() {
            if let Some(v) = self.hv_mut(hv).and_then(|h| h.vtep.as_mut()) {
                v.set_underlay_mtu(mtu)?;
            }
        }
        for l in self.links.iter_mut().flatten() {
            if l.underlay {
                l.spec.mtu = mtu;
            }
        }
        self.underlay_mtu = mtu;
        Ok(())
    }

    /// A host's NIC MTU (IP bytes). The host's interface is re-created (see `Host::set_mtu`).
    pub fn set_host_mtu(&mut self, host: NodeId, mtu: u16) -> Result<(), SimError> {
        if mtu < 576 {
            return Err(SimError::BadArgument(format!(
                "host MTU {mtu} is below 576"
            )));
        }
        let seed = self.rng.next_u64();
        let now = self.now;
        let h = self
            .host_node_mut(host)
            .ok_or(SimError::UnknownHost(host))?;
        h.host.set_mtu(usize::from(mtu), seed, now);
        Ok(())
    }
}
