//! Claim S5 in numbers: for N servers x M containers, the MAC entries the underlay must hold
//! and the ARP frames each container and each server uplink receive, for the flat L2 network,
//! the flood-and-learn overlay and the overlay with a control plane and ARP suppression.
//!
//! [`model`] counts exactly, in constant time, for one traffic pattern that the event-level
//! simulation can also run ([`simulate`]): one site, N servers (one uplink each to the site's
//! router or core switch), M containers per server on one network (H = N x M), and every
//! container `k` resolving and pinging container `k + 1 mod H` once (a ring: nobody's target
//! is also its pinger, so nobody learns its target from a request first). Tests check that both
//! give equal numbers at small sizes.
//!
//! Counting, with H = N x M, N >= 2, H >= 3:
//! - Flat L2: every request is broadcast to all H - 1 others; each container gets those plus
//!   the reply to its own request: H frames. A server uplink carries its M requests up, the
//!   H - M others' requests down, and, because exactly one ring pair crosses each server
//!   boundary in each direction, one reply up and one down: H + 2. The core switch learns
//!   every container MAC: H entries.
//! - Flood-and-learn VXLAN: containers receive the same H frames (the VNI is one broadcast
//!   domain), but the uplink carries each local request once per remote VTEP (head-end
//!   replication, M (N - 1) up), one copy of every remote request down (H - M) and the two
//!   crossing replies: M (N - 1) + H - M + 2. The underlay router only sees the N VTEP MACs.
//! - Control plane + suppression: every request is answered by the local VTEP. A container
//!   that was never asked for its address must also resolve its pinger: 2 replies each, and
//!   no ARP frame at all on the underlay. The router sees the N VTEPs and the route server.

use alloc::format;
use alloc::vec::Vec;

use vtep_core::Duration;
use vtep_core::wire::Ipv4Address;

use crate::sim::HostSpec;
use crate::{FabricKind, LearningMode, NodeId, Sim, SimConfig, SimError};

/// The three ways to build the network.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Variant {
    FlatL2,
    FloodAndLearn,
    ControlPlane,
}

impl Variant {
    pub const ALL: [Variant; 3] = [
        Variant::FlatL2,
        Variant::FloodAndLearn,
        Variant::ControlPlane,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::FlatL2 => "flat L2",
            Variant::FloodAndLearn => "VXLAN, flood and learn",
            Variant::ControlPlane => "VXLAN, control plane + ARP suppression",
        }
    }
}

/// What the scale view shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Figures {
    /// MAC entries in the underlay's central device (core switch or site router).
    pub underlay_mac_entries: u64,
    /// ARP frames each container receives.
    pub arp_frames_per_host: u64,
    /// ARP frames crossing each server's uplink (both directions).
    pub arp_frames_per_uplink: u64,
    /// ARP frames on all underlay links together.
    pub underlay_arp_frames: u64,
    /// Entries in each server's bridge or VTEP FDB.
    pub server_fdb_entries: u64,
}

/// The exact counts for `servers` x `per_server` containers (see the module documentation).
/// `None` outside the pattern's domain (fewer than 2 servers or 3 containers) or on overflow.
pub fn model(servers: u64, per_server: u64, variant: Variant) -> Option<Figures> {
    let (n, m) = (servers, per_server);
    let h = n.checked_mul(m)?;
    if n < 2 || h < 3 {
        return None;
    }
    let f = match variant {
        Variant::FlatL2 => {
            let uplink = h.checked_add(2)?;
            Figures {
                underlay_mac_entries: h,
                arp_frames_per_host: h,
                arp_frames_per_uplink: uplink,
                underlay_arp_frames: n.checked_mul(uplink)?,
                server_fdb_entries: h,
            }
        }
        Variant::FloodAndLearn => {
            let uplink = m.checked_mul(n - 1)?.checked_add(h - m)?.checked_add(2)?;
            Figures {
                underlay_mac_entries: n,
                arp_frames_per_host: h,
                arp_frames_per_uplink: uplink,
                underlay_arp_frames: n.checked_mul(uplink)?,
                server_fdb_entries: h,
            }
        }
        Variant::ControlPlane => Figures {
            underlay_mac_entries: n + 1,
            arp_frames_per_host: 2,
            arp_frames_per_uplink: 0,
            underlay_arp_frames: 0,
            server_fdb_entries: h,
        },
    };
    Some(f)
}

/// The same figures measured on the event-level simulation, with the spread across hosts
/// and uplinks (min, max) so a test can check they are uniform.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Measured {
    pub figures: Figures,
    pub per_host: (u64, u64),
    pub per_uplink: (u64, u64),
    /// Pingers that got at least one reply.
    pub pings_answered: u64,
}

fn spread(v: &[u64]) -> (u64, u64) {
    (
        v.iter().copied().min().unwrap_or(0),
        v.iter().copied().max().unwrap_or(0),
    )
}

/// Builds the pattern of the module documentation and runs it.
pub fn simulate(
    servers: u16,
    per_server: u16,
    variant: Variant,
    seed: u64,
) -> Result<Measured, SimError> {
    let config = SimConfig {
        seed,
        fabric: if variant == Variant::FlatL2 {
            FabricKind::FlatL2
        } else {
            FabricKind::Overlay
        },
        ..SimConfig::default()
    };
    let mut sim = Sim::new(config);
    let site = sim.add_site("dc")?;
    if variant == Variant::ControlPlane {
        sim.set_learning_mode(LearningMode::BgpEvpn)?;
    }
    let mut hvs = Vec::new();
    let mut hosts: Vec<NodeId> = Vec::new();
    let ip = |k: u32| Ipv4Address::new(10, 200, (k >> 8) as u8, (k & 0xff) as u8 + 1);
    for s in 0..servers {
        let hv = sim.add_hypervisor(site, &format!("server{s}"))?;
        hvs.push(hv);
        for c in 0..per_server {
            let k = u32::from(s) * u32::from(per_server) + u32::from(c);
            hosts.push(sim.add_host(hv, HostSpec::new(&format!("c{k}"), 100, ip(k)))?);
        }
    }
    // Let the control plane converge before anyone talks.
    sim.run_for(Duration::from_millis(50));
    let start = sim.trace().len();
    let total = hosts.len() as u32;
    let mut apps = Vec::new();
    for (k, host) in hosts.iter().enumerate() {
        let target = ip((k as u32 + 1) % total);
        // Three pings 1.5 s apart. Under ARP suppression a target never hears its pinger's
        // request, so it must resolve the pinger itself, and smoltcp (unlike Linux) sends at
        // most one ARP request per second per interface and drops an automatic echo reply
        // whose destination it cannot resolve yet: the first pings go unanswered there.
        apps.push(sim.start_ping(*host, target, 3, Duration::from_millis(1500), 56)?);
    }
    sim.run_for(Duration::from_secs(5));
    let mut per_host = alloc::vec![0u64; hosts.len()];
    let uplinks: Vec<_> = hvs
        .iter()
        .map(|hv| sim.node_links(*hv).ok().and_then(|ls| ls.first().copied()))
        .collect();
    let mut per_uplink = alloc::vec![0u64; hvs.len()];
    let mut underlay = 0;
    let underlay_links: Vec<_> = sim
        .links()
        .iter()
        .filter(|l| l.underlay)
        .map(|l| l.id)
        .collect();
    for hop in &sim.trace()[start..] {
        let layers = hop.layers();
        if !layers.is_arp() {
            continue;
        }
        if let Some(i) = hosts.iter().position(|h| *h == hop.to) {
            per_host[i] += 1;
        }
        if let Some(i) = uplinks.iter().position(|l| *l == Some(hop.link)) {
            per_uplink[i] += 1;
        }
        if underlay_links.contains(&hop.link) {
            underlay += 1;
        }
    }
    let core = sim.site_core(site)?;
    let server_fdb = hvs
        .iter()
        .map(|hv| match variant {
            Variant::FlatL2 => sim.mac_table(*hv).map(|t| t.len() as u64),
            _ => sim.fdb(*hv).map(|t| t.len() as u64),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pings_answered = apps
        .iter()
        .map(|a| sim.app_report(*a).map(|r| u64::from(r.replies > 0)))
        .sum::<Result<u64, _>>()?;
    let (_, host_max) = spread(&per_host);
    let (_, uplink_max) = spread(&per_uplink);
    Ok(Measured {
        figures: Figures {
            underlay_mac_entries: sim.mac_table(core)?.len() as u64,
            arp_frames_per_host: host_max,
            arp_frames_per_uplink: uplink_max,
            underlay_arp_frames: underlay,
            server_fdb_entries: server_fdb.iter().copied().max().unwrap_or(0),
        },
        per_host: spread(&per_host),
        per_uplink: spread(&per_uplink),
        pings_answered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_case_in_numbers() {
        // 5000 nodes x 100 containers = 500,000 containers.
        let flat = model(5000, 100, Variant::FlatL2).unwrap();
        let fl = model(5000, 100, Variant::FloodAndLearn).unwrap();
        let cp = model(5000, 100, Variant::ControlPlane).unwrap();
        assert_eq!(flat.underlay_mac_entries, 500_000);
        assert_eq!(fl.underlay_mac_entries, 5000);
        assert_eq!(cp.underlay_mac_entries, 5001);
        assert_eq!(flat.arp_frames_per_host, 500_000);
        assert_eq!(cp.arp_frames_per_host, 2);
        assert_eq!(cp.underlay_arp_frames, 0);
        assert_eq!(model(1, 100, Variant::FlatL2), None);
        assert_eq!(model(u64::MAX, 3, Variant::FlatL2), None);
    }
}
