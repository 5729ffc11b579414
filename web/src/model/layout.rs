//! Where each node of the topology is drawn: sites side by side, each with its router (or core
//! switch) on top, its hypervisors below and their hosts under them. Plain numbers for an SVG
//! `viewBox`; recomputed when the topology changes.

use std::collections::BTreeMap;

use vtep_sim::{NodeId, NodeKind, Sim};

#[derive(Clone, Debug, PartialEq)]
pub struct SiteView {
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    pub id: u32,
    pub name: String,
    /// "router", "switch", "hv", "host" or "rs".
    pub kind: &'static str,
    pub x: f64,
    pub y: f64,
    pub up: bool,
    /// Hosts: their VNI, IPv4 and IPv6 addresses and colour index (position of the VNI among
    /// all VNIs).
    pub vni: Option<u32>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub color: usize,
    /// Hosts: migrating (paused, detached).
    pub detached: bool,
    /// Hypervisors and routers: underlay IP.
    pub underlay_ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinkView {
    pub id: u32,
    pub a: (f64, f64),
    pub b: (f64, f64),
    /// "wan", "underlay" or "access".
    pub class: &'static str,
    pub up: bool,
    pub ends: (u32, u32),
}

/// The drawn topology.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub sites: Vec<SiteView>,
    pub nodes: Vec<NodeView>,
    pub links: Vec<LinkView>,
    /// Every VNI in use, sorted (colour index = position).
    pub vnis: Vec<u32>,
    pos: BTreeMap<u32, (f64, f64)>,
}

const HOST_DX: f64 = 44.0;
const HOST_DY: f64 = 46.0;
const HOST_COLS: usize = 3;
const SITE_GAP: f64 = 36.0;
const ROUTER_Y: f64 = 92.0;
const HV_Y: f64 = 196.0;
const HOST_Y: f64 = 276.0;

impl Layout {
    /// Lays `sim` out; hosts that are migrating keep their place in `prev`.
    pub fn new(sim: &Sim, prev: Option<&Layout>) -> Layout {
        let nodes = sim.nodes();
        let mut sites: Vec<vtep_sim::SiteId> = nodes.iter().map(|n| n.site).collect();
        sites.sort();
        sites.dedup();
        let mut vnis: Vec<u32> = nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Host)
            .filter_map(|n| sim.host_addr(n.id).ok().map(|(_, _, v)| v.get()))
            .collect();
        vnis.sort_unstable();
        vnis.dedup();
        let color = |v: u32| vnis.iter().position(|x| *x == v).unwrap_or(0);
        let mut out = Layout {
            vnis: vnis.clone(),
            ..Layout::default()
        };
        let info: BTreeMap<NodeId, &vtep_sim::sim::NodeInfo> =
            nodes.iter().map(|n| (n.id, n)).collect();
        let mut x = 16.0;
        let mut height: f64 = 360.0;
        let reflectors = sim.reflectors().to_vec();
        for site in sites {
            let Ok(core) = sim.site_core(site) else {
                continue;
            };
            let hvs: Vec<&vtep_sim::sim::NodeInfo> = nodes
                .iter()
                .filter(|n| n.site == site && n.kind == NodeKind::Hypervisor)
                .collect();
            let slots: Vec<(NodeId, Vec<NodeId>, f64)> = hvs
                .iter()
                .map(|hv| {
                    let hosts = sim.hosts_of(hv.id).unwrap_or_default();
                    let cols = hosts.len().clamp(1, HOST_COLS);
                    (hv.id, hosts, (cols as f64 * HOST_DX + 24.0).max(112.0))
                })
                .collect();
            let here: Vec<NodeId> = reflectors
                .iter()
                .copied()
                .filter(|r| info.get(r).is_some_and(|i| i.site == site))
                .collect();
            let has_rs = !here.is_empty();
            let inner_w: f64 = slots.iter().map(|s| s.2).sum::<f64>().max(if has_rs {
                300.0 + 110.0 * (here.len() - 1) as f64
            } else {
                180.0
            });
            let w = inner_w + 24.0;
            let mut rows = 1usize;
            let mut sx = x + 12.0;
            for (hv, hosts, sw) in &slots {
                let cx = sx + sw / 2.0;
                out.pos.insert(hv.0, (cx, HV_Y));
                let cols = hosts.len().clamp(1, HOST_COLS);
                rows = rows.max(hosts.len().div_ceil(HOST_COLS));
                for (i, h) in hosts.iter().enumerate() {
                    let (r, c) = (i / HOST_COLS, i % HOST_COLS);
                    let hx = cx + (c as f64 - (cols as f64 - 1.0) / 2.0) * HOST_DX;
                    out.pos.insert(h.0, (hx, HOST_Y + r as f64 * HOST_DY));
                }
                sx += sw;
            }
            let cx = x + w / 2.0;
            if has_rs {
                // The router, and the route reflectors beside it (side by side when several).
                let left = cx - 70.0 - 55.0 * (here.len() - 1) as f64;
                out.pos.insert(core.0, (left, ROUTER_Y));
                for (i, r) in here.iter().enumerate() {
                    out.pos
                        .insert(r.0, (left + 160.0 + 110.0 * i as f64, ROUTER_Y - 10.0));
                }
            } else {
                out.pos.insert(core.0, (cx, ROUTER_Y));
            }
            let h = HOST_Y + rows as f64 * HOST_DY;
            height = height.max(h + 24.0);
            out.sites.push(SiteView {
                name: sim.site_name(site).unwrap_or("?").to_string(),
                x,
                y: 16.0,
                w,
                h: h - 16.0,
            });
            x += w + SITE_GAP;
        }
        for s in &mut out.sites {
            s.h = height - 32.0;
        }
        out.width = x - SITE_GAP + 16.0;
        out.height = height;
        for n in &nodes {
            let kind = match n.kind {
                NodeKind::Router => "router",
                NodeKind::Switch => "switch",
                NodeKind::Hypervisor => "hv",
                NodeKind::Host => "host",
                NodeKind::Reflector => "rs",
            };
            let mut detached = false;
            let p = match out.pos.get(&n.id.0) {
                Some(p) => *p,
                None => {
                    // A migrating host: where it was, slightly lifted.
                    detached = true;
                    let p = prev
                        .and_then(|l| l.pos.get(&n.id.0).copied())
                        .unwrap_or((24.0, height - 30.0));
                    out.pos.insert(n.id.0, p);
                    p
                }
            };
            let addr = sim.host_addr(n.id).ok();
            out.nodes.push(NodeView {
                id: n.id.0,
                name: n.name.clone(),
                kind,
                x: p.0,
                y: p.1,
                up: n.up,
                vni: addr.map(|a| a.2.get()),
                ip: addr.map(|a| a.1.to_string()),
                ip6: sim.host_ipv6(n.id).ok().map(|a| a.to_string()),
                color: addr.map(|a| color(a.2.get())).unwrap_or(0),
                detached: detached && kind == "host",
                underlay_ip: n.underlay_ip.map(|i| i.to_string()),
            });
        }
        for l in sim.links() {
            let (Some(a), Some(b)) = (out.pos.get(&l.ends[0].0), out.pos.get(&l.ends[1].0)) else {
                continue;
            };
            let routerish = |id: NodeId| {
                matches!(
                    info.get(&id).map(|i| i.kind),
                    Some(NodeKind::Router | NodeKind::Switch)
                )
            };
            let class = if routerish(l.ends[0]) && routerish(l.ends[1]) {
                "wan"
            } else if l.underlay {
                "underlay"
            } else {
                "access"
            };
            out.links.push(LinkView {
                id: l.id.0,
                a: *a,
                b: *b,
                class,
                up: l.up,
                ends: (l.ends[0].0, l.ends[1].0),
            });
        }
        out
    }

    /// Where node `id` is drawn.
    pub fn pos(&self, id: NodeId) -> Option<(f64, f64)> {
        self.pos.get(&id.0).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_and_link_of_s10_is_placed() {
        let run = vtep_sim::scenario::s10().run(1).unwrap();
        let l = Layout::new(&run.sim, None);
        assert_eq!(l.nodes.len(), run.sim.nodes().len());
        assert_eq!(l.links.len(), run.sim.links().len());
        assert_eq!(l.sites.len(), 2);
        for n in &l.nodes {
            assert!(
                n.x > 0.0 && n.x < l.width && n.y > 0.0 && n.y < l.height,
                "{n:?}"
            );
        }
        assert!(l.links.iter().any(|k| k.class == "wan"));
    }
}
