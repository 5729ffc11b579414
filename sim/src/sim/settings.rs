//! Settings that apply across the fabric: each VNI's encapsulation and rate limit (and the
//! VTEP networks that carry them, as the learning mode wants them), the underlay MTU and
//! hosts' MTUs. (The learning mode itself is switched in `evpn`.)

use alloc::format;
use alloc::string::ToString;

use vtep_core::Vni;
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{Encapsulation, NetworkConfig, VtepConfig};

use super::Sim;
use super::model::{FabricKind, LearningMode, VniSettings, vni_of};
use crate::error::SimError;
use crate::id::NodeId;

impl Sim {
    pub(super) fn network_config(&self, vni: Vni) -> NetworkConfig {
        let s = self.vnis.get(&vni).copied().unwrap_or_default();
        let suppress = self.mode.suppresses_arp();
        NetworkConfig {
            encapsulation: s.encapsulation,
            rate_limit: s.rate_limit,
            learning: !suppress,
            arp_proxy: suppress,
            ..NetworkConfig::new(vni)
        }
    }

    /// Makes sure `hv`'s VTEP serves `vni`: static flood lists (flood and learn, static), or
    /// the VNI in its speaker (BGP EVPN: its type-3 route builds the others' flood lists).
    pub(super) fn ensure_network(&mut self, hv: NodeId, vni: Vni) -> Result<(), SimError> {
        let config = self.network_config(vni);
        let now = self.now;
        let added = {
            let h = self.hv_mut(hv).ok_or(SimError::UnknownHypervisor(hv))?;
            let Some(vtep) = h.vtep.as_mut() else {
                return Ok(());
            };
            if vtep.network(vni).is_some() {
                false
            } else {
                vtep.add_network(config, now)?;
                true
            }
        };
        if !added {
            return Ok(());
        }
        match self.mode {
            LearningMode::FloodAndLearn | LearningMode::Static => self.static_flood_lists(hv)?,
            LearningMode::BgpEvpn => {
                if let Some(agent) = self.agent_mut(hv) {
                    agent.add_vni(vni);
                }
                self.schedule_bgp_wake(hv, now);
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
