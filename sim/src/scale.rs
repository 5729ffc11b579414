//! Claim S5 in numbers: for N servers x M containers, the MAC entries the underlay must hold,
//! the ARP frames each container and each server uplink receive, and the control traffic each
//! VTEP exchanges, for the flat L2 network, the flood-and-learn overlay and the overlay with BGP
//! EVPN (route reflectors, ARP suppression).
//!
//! [`model`] counts exactly, in constant time in N, for one traffic pattern that the
//! event-level simulation can also run ([`simulate`]): one site, N servers (one uplink each to
//! the site's router or core switch), M containers per server on one network (H = N x M), and
//! every container `k` resolving and pinging container `k + 1 mod H` once (a ring: nobody's
//! target is also its pinger, so nobody learns its target from a request first). Tests check
//! that both give equal numbers at small sizes.
//!
//! Counting, with H = N x M, N >= 2, H >= 3:
//! - Flat L2: every request is broadcast to all H - 1 others; each container gets those plus
//!   the reply to its own request: H frames. A server uplink carries its M requests up, the
//!   H - M others' requests down, and, because exactly one ring pair crosses each server
//!   boundary in each direction, one reply up and one down: H + 2. The core switch learns
//!   every container MAC: H entries. An ARP frame is 42 bytes.
//! - Flood-and-learn VXLAN: containers receive the same H frames (the VNI is one broadcast
//!   domain), but the uplink carries each local request once per remote VTEP (head-end
//!   replication, M (N - 1) up), one copy of every remote request down (H - M) and the two
//!   crossing replies: M (N - 1) + H - M + 2, each 42 + 50 = 92 bytes in VXLAN. The underlay
//!   router only sees the N VTEP MACs.
//! - BGP EVPN + suppression, with R route reflectors: every request is answered by the local
//!   VTEP. A container that was never asked for its address must also resolve its pinger: 2
//!   replies each, and no ARP frame at all on the underlay. The router sees the N VTEPs and
//!   the R reflectors. The control traffic instead: each VTEP has one iBGP session per
//!   reflector and, to converge, sends an OPEN, a KEEPALIVE, its type-3 route (one 100-byte
//!   UPDATE) and its 2M type-2 routes (a MAC route of 35 bytes and a MAC/IP route of 39 per
//!   container) packed into UPDATEs of at most 4096 bytes on 69 bytes of header and
//!   attributes; it receives an OPEN, a KEEPALIVE and, for each of the N - 1 other VTEPs, the
//!   reflected type-3 route (114 bytes: ORIGINATOR_ID and CLUSTER_LIST add 14) and the
//!   reflected type-2 routes, each UPDATE it sent repacked on 83 bytes (a reflector reflects
//!   what arrives as it arrives). An OPEN is 45 bytes (its capabilities: L2VPN EVPN, route
//!   refresh, 4-octet AS), a KEEPALIVE 19. Once converged, a
//!   session carries a KEEPALIVE each way every 3 s (hold time 9 s): 40 per minute per
//!   reflector. Bytes are BGP's (the TCP payload), not the TCP/IP headers around them.

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
    /// BGP EVPN with one route reflector ([`model_with`] takes more).
    Evpn,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::FlatL2, Variant::FloodAndLearn, Variant::Evpn];

    pub fn name(self) -> &'static str {
        match self {
            Variant::FlatL2 => "flat L2",
            Variant::FloodAndLearn => "VXLAN, flood and learn",
            Variant::Evpn => "VXLAN, BGP EVPN + ARP suppression",
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
    /// Bytes of the ARP frames crossing each server's uplink.
    pub arp_bytes_per_uplink: u64,
    /// BGP messages each VTEP sends and receives to converge, all its sessions together.
    pub bgp_messages_per_vtep: u64,
    /// Their bytes (BGP's: headers, attributes, routes).
    pub bgp_bytes_per_vtep: u64,
    /// KEEPALIVEs each VTEP sends and receives per minute once converged.
    pub keepalives_per_minute_per_vtep: u64,
}

/// An ARP frame on the wire: Ethernet 14 + ARP 28.
pub const ARP_FRAME: u64 = 42;
/// VXLAN over IPv4 around an inner frame: 14 + 20 + 8 + 8.
pub const VXLAN_OVERHEAD: u64 = 50;
/// BGP's sizes, as the `vtep-evpn` speaker writes its messages (see the module documentation).
pub mod bgp_bytes {
    use vtep_core::wire::bgp;

    pub const OPEN: u64 = 45;
    /// A bare header.
    pub const KEEPALIVE: u64 = bgp::HEADER_LEN as u64;
    /// A type-2 route without, and with, an IPv4 address.
    pub const MAC_ROUTE: u64 = 35;
    pub const MAC_IP_ROUTE: u64 = 39;
    /// An UPDATE around type-2 routes, as originated and as reflected.
    pub const TYPE2_BASE: u64 = 69;
    pub const TYPE2_REFLECTED_BASE: u64 = 83;
    /// The UPDATE of one type-3 route with its PMSI tunnel, as originated and as reflected.
    pub const TYPE3: u64 = 100;
    pub const TYPE3_REFLECTED: u64 = 114;
    pub const MAX_MESSAGE: u64 = bgp::MAX_MESSAGE_LEN as u64;
}

/// Type-2 routes `first..first + count` of one VTEP's sequence (a MAC route, then its MAC/IP
/// route, container after container) packed greedily, as the speaker packs them, into
/// UPDATEs on `base` bytes of header and attributes: the routes and route bytes of each.
fn pack(first: u64, count: u64, base: u64) -> Vec<(u64, u64)> {
    use bgp_bytes::{MAC_IP_ROUTE, MAC_ROUTE, MAX_MESSAGE};
    let mut out = Vec::new();
    let (mut routes, mut bytes) = (0u64, 0u64);
    for i in first..first + count {
        let len = if i % 2 == 0 { MAC_ROUTE } else { MAC_IP_ROUTE };
        if routes > 0 && base + bytes + len > MAX_MESSAGE {
            out.push((routes, bytes));
            (routes, bytes) = (0, 0);
        }
        routes += 1;
        bytes += len;
    }
    if routes > 0 {
        out.push((routes, bytes));
    }
    out
}

/// One VTEP's BGP messages and bytes to converge, over `reflectors` sessions.
fn bgp_convergence(n: u64, m: u64, reflectors: u64) -> Option<(u64, u64)> {
    use bgp_bytes::*;
    let sent = pack(0, m.checked_mul(2)?, TYPE2_BASE);
    let sent_msgs = 3 + sent.len() as u64;
    let sent_bytes =
        OPEN + KEEPALIVE + TYPE3 + sent.iter().map(|(_, b)| TYPE2_BASE + b).sum::<u64>();
    // What the reflector sends on for one originator: its type-3 route, and each UPDATE it
    // sent repacked on the reflected base.
    let (mut origin_msgs, mut origin_bytes) = (1u64, TYPE3_REFLECTED);
    let mut first = 0;
    for (routes, _) in &sent {
        for (_, bytes) in pack(first, *routes, TYPE2_REFLECTED_BASE) {
            origin_msgs += 1;
            origin_bytes += TYPE2_REFLECTED_BASE + bytes;
        }
        first += routes;
    }
    let others = n.checked_sub(1)?;
    let received_msgs = others.checked_mul(origin_msgs)?.checked_add(2)?;
    let received_bytes = others
        .checked_mul(origin_bytes)?
        .checked_add(OPEN + KEEPALIVE)?;
    Some((
        reflectors.checked_mul(sent_msgs.checked_add(received_msgs)?)?,
        reflectors.checked_mul(sent_bytes.checked_add(received_bytes)?)?,
    ))
}

/// The exact counts for `servers` x `per_server` containers (see the module documentation),
/// with one route reflector under BGP EVPN. `None` outside the pattern's domain (fewer than 2
/// servers or 3 containers) or on overflow.
pub fn model(servers: u64, per_server: u64, variant: Variant) -> Option<Figures> {
    model_with(servers, per_server, variant, 1)
}

/// [`model`] with `reflectors` route reflectors (at least one) under BGP EVPN.
pub fn model_with(
    servers: u64,
    per_server: u64,
    variant: Variant,
    reflectors: u64,
) -> Option<Figures> {
    let (n, m) = (servers, per_server);
    if reflectors == 0 {
        return None;
    }
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
                arp_bytes_per_uplink: uplink.checked_mul(ARP_FRAME)?,
                bgp_messages_per_vtep: 0,
                bgp_bytes_per_vtep: 0,
                keepalives_per_minute_per_vtep: 0,
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
                arp_bytes_per_uplink: uplink.checked_mul(ARP_FRAME + VXLAN_OVERHEAD)?,
                bgp_messages_per_vtep: 0,
                bgp_bytes_per_vtep: 0,
                keepalives_per_minute_per_vtep: 0,
            }
        }
        Variant::Evpn => {
            let (messages, bytes) = bgp_convergence(n, m, reflectors)?;
            Figures {
                underlay_mac_entries: n.checked_add(reflectors)?,
                arp_frames_per_host: 2,
                arp_frames_per_uplink: 0,
                underlay_arp_frames: 0,
                server_fdb_entries: h,
                arp_bytes_per_uplink: 0,
                bgp_messages_per_vtep: messages,
                bgp_bytes_per_vtep: bytes,
                keepalives_per_minute_per_vtep: reflectors.checked_mul(40)?,
            }
        }
    };
    Some(f)
}

/// The same figures measured on the event-level simulation, with the spread across hosts,
/// uplinks and VTEPs (min, max) so a test can check they are uniform.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Measured {
    pub figures: Figures,
    pub per_host: (u64, u64),
    pub per_uplink: (u64, u64),
    /// BGP messages per VTEP to converge.
    pub per_vtep_bgp: (u64, u64),
    /// Pingers that got at least one reply.
    pub pings_answered: u64,
}

fn spread(v: &[u64]) -> (u64, u64) {
    (
        v.iter().copied().min().unwrap_or(0),
        v.iter().copied().max().unwrap_or(0),
    )
}

/// The pattern's network, built at time zero: the simulator, its site, servers and hosts.
struct Built {
    sim: Sim,
    site: crate::SiteId,
    servers: Vec<NodeId>,
    hosts: Vec<NodeId>,
}

fn ip_of(k: u32) -> Ipv4Address {
    Ipv4Address::new(10, 200, (k >> 8) as u8, (k & 0xff) as u8 + 1)
}

fn build(
    servers: u16,
    per_server: u16,
    variant: Variant,
    reflectors: u8,
    seed: u64,
) -> Result<Built, SimError> {
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
    if variant == Variant::Evpn {
        sim.set_learning_mode(LearningMode::BgpEvpn)?;
        for r in 1..reflectors {
            sim.add_reflector(site, &format!("rr{}", r + 1))?;
        }
    }
    let mut hvs = Vec::new();
    let mut hosts: Vec<NodeId> = Vec::new();
    for s in 0..servers {
        let hv = sim.add_hypervisor(site, &format!("server{s}"))?;
        hvs.push(hv);
        for c in 0..per_server {
            let k = u32::from(s) * u32::from(per_server) + u32::from(c);
            hosts.push(sim.add_host(hv, HostSpec::new(&format!("c{k}"), 100, ip_of(k)))?);
        }
    }
    Ok(Built {
        sim,
        site,
        servers: hvs,
        hosts,
    })
}

/// Each server's uplink.
fn uplinks(sim: &Sim, servers: &[NodeId]) -> Vec<Option<crate::LinkId>> {
    servers
        .iter()
        .map(|hv| sim.node_links(*hv).ok().and_then(|ls| ls.first().copied()))
        .collect()
}

/// Builds the pattern of the module documentation and runs it (one reflector under EVPN).
pub fn simulate(
    servers: u16,
    per_server: u16,
    variant: Variant,
    seed: u64,
) -> Result<Measured, SimError> {
    simulate_with(servers, per_server, variant, 1, seed)
}

/// [`simulate`] with `reflectors` route reflectors under BGP EVPN.
pub fn simulate_with(
    servers: u16,
    per_server: u16,
    variant: Variant,
    reflectors: u8,
    seed: u64,
) -> Result<Measured, SimError> {
    let Built {
        mut sim,
        site,
        servers: hvs,
        hosts,
    } = build(servers, per_server, variant, reflectors, seed)?;
    // Let the control plane converge before anyone talks.
    sim.run_for(Duration::from_millis(50));
    let start = sim.trace().len();
    let uplinks = uplinks(&sim, &hvs);
    // The control traffic so far: each server's BGP messages, as its speaker counted them
    // sent and received, and their bytes, the TCP payload on its uplink (both directions).
    let mut bgp = alloc::vec![(0u64, 0u64); hvs.len()];
    for (i, hv) in hvs.iter().enumerate() {
        if let Ok(speaker) = sim.speaker(*hv) {
            bgp[i].0 = speaker
                .peers()
                .iter()
                .map(|p| p.counters.messages_sent() + p.counters.messages_received())
                .sum();
        }
    }
    for hop in &sim.trace()[..start] {
        if let (Some(i), Some(seg)) = (
            uplinks.iter().position(|l| *l == Some(hop.link)),
            hop.layers().bgp(),
        ) {
            bgp[i].1 += u64::from(seg.payload);
        }
    }
    let total = hosts.len() as u32;
    let mut apps = Vec::new();
    for (k, host) in hosts.iter().enumerate() {
        let target = ip_of((k as u32 + 1) % total);
        // Three pings 1.5 s apart. Under ARP suppression a target never hears its pinger's
        // request, so it must resolve the pinger itself, and smoltcp (unlike Linux) sends at
        // most one ARP request per second per interface and drops an automatic echo reply
        // whose destination it cannot resolve yet: the first pings go unanswered there.
        apps.push(sim.start_ping(*host, target, 3, Duration::from_millis(1500), 56)?);
    }
    sim.run_for(Duration::from_secs(5));
    let mut per_host = alloc::vec![0u64; hosts.len()];
    let mut per_uplink = alloc::vec![0u64; hvs.len()];
    let mut uplink_bytes = alloc::vec![0u64; hvs.len()];
    let mut underlay = 0;
    let underlay_links = sim.underlay_links();
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
            uplink_bytes[i] += hop.bytes.len() as u64;
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
    let messages: Vec<u64> = bgp.iter().map(|b| b.0).collect();
    let bytes: Vec<u64> = bgp.iter().map(|b| b.1).collect();
    Ok(Measured {
        figures: Figures {
            underlay_mac_entries: sim.mac_table(core)?.len() as u64,
            arp_frames_per_host: host_max,
            arp_frames_per_uplink: uplink_max,
            underlay_arp_frames: underlay,
            server_fdb_entries: server_fdb.iter().copied().max().unwrap_or(0),
            arp_bytes_per_uplink: spread(&uplink_bytes).1,
            bgp_messages_per_vtep: spread(&messages).1,
            bgp_bytes_per_vtep: spread(&bytes).1,
            keepalives_per_minute_per_vtep: if variant == Variant::Evpn {
                keepalives_per_minute(&mut sim, &hvs)
            } else {
                0
            },
        },
        per_host: spread(&per_host),
        per_uplink: spread(&per_uplink),
        per_vtep_bgp: spread(&messages),
        pings_answered,
    })
}

/// KEEPALIVEs on each server's uplink (both directions) over the next quiet minute, after the
/// pings are over: the most any server saw.
fn keepalives_per_minute(sim: &mut Sim, servers: &[NodeId]) -> u64 {
    sim.run_for(Duration::from_secs(5));
    let from = sim.trace().len();
    sim.run_for(Duration::from_secs(60));
    let uplinks = uplinks(sim, servers);
    let mut counts = alloc::vec![0u64; servers.len()];
    for hop in &sim.trace()[from..] {
        if let (Some(i), Some(seg)) = (
            uplinks.iter().position(|l| *l == Some(hop.link)),
            hop.layers().bgp(),
        ) && seg.has(crate::bgp::MessageKind::Keepalive)
        {
            // A KEEPALIVE is 19 bytes: count them by the bytes, whatever shares a segment.
            counts[i] += u64::from(seg.payload) / crate::scale::bgp_bytes::KEEPALIVE;
        }
    }
    spread(&counts).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_case_in_numbers() {
        // 5000 nodes x 100 containers = 500,000 containers.
        let flat = model(5000, 100, Variant::FlatL2).unwrap();
        let fl = model(5000, 100, Variant::FloodAndLearn).unwrap();
        let cp = model(5000, 100, Variant::Evpn).unwrap();
        assert_eq!(flat.underlay_mac_entries, 500_000);
        assert_eq!(fl.underlay_mac_entries, 5000);
        assert_eq!(cp.underlay_mac_entries, 5001);
        assert_eq!(cp.keepalives_per_minute_per_vtep, 40);
        assert_eq!(flat.arp_frames_per_host, 500_000);
        assert_eq!(cp.arp_frames_per_host, 2);
        assert_eq!(cp.underlay_arp_frames, 0);
        assert_eq!(model(1, 100, Variant::FlatL2), None);
        assert_eq!(model(u64::MAX, 3, Variant::FlatL2), None);
    }
}
