//! The selected frame, as the inspector shows it: its layers and bytes, what the node it
//! reached decided (and for a drop, why), its journey (the hops that carried this very frame:
//! the same host frame outside and inside the tunnel, never the ARP that let it leave), the
//! reply it caused as a journey of its own, and per device on the way what came in, what the
//! device did and what went out (Packet Tracer's device view).

use std::collections::BTreeSet;
use std::sync::Arc;

use vtep_sim::trace::{Layers, Tunnel};
use vtep_sim::{Hop, HopId, NodeKind};

use super::dissect::{Dissection, dissect};
use super::explain;
use super::lab::{self, Lab, kind};
use super::view::fmt_time;

/// One hop of a journey.
#[derive(Clone, Debug, PartialEq)]
pub struct PathStep {
    pub hop: u32,
    pub label: String,
    /// "in at hv1", "out of hv1", ...
    pub tag: Option<String>,
}

/// What one device did with the frame: in, decisions, out.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceStep {
    pub node: String,
    /// "host", "hv", "router", "switch", "rs".
    pub kind: &'static str,
    pub hop: u32,
    pub came_in: String,
    pub did: Vec<String>,
    pub went_out: Vec<String>,
}

/// A frame the selected one caused (the reply), with its own journey.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub hop: u32,
    pub summary: String,
    pub path: Vec<PathStep>,
}

/// Everything the inspector shows about one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameDetail {
    pub hop: u32,
    pub title: String,
    pub times: String,
    pub bytes: Arc<[u8]>,
    pub dissection: Dissection,
    pub decisions: Vec<String>,
    /// Why it was dropped, in words (with the arithmetic where there is one).
    pub why: Option<String>,
    pub path: Vec<PathStep>,
    /// The frame whose arrival sent this one (an ARP reply that let an echo request leave).
    pub caused_by: Option<(u32, String)>,
    pub reply: Option<Reply>,
    pub devices: Vec<DeviceStep>,
    /// The trace length and view time it was made at, and whether nothing about it can change
    /// any more (every hop of it arrived by the view time).
    made_at: (usize, vtep_core::Instant),
    complete: bool,
}

/// The bytes that make a frame the same frame across hops: the host's Ethernet frame (inside
/// the tunnel on the underlay), or a control-plane message's payload.
fn identity(h: &Hop) -> Vec<u8> {
    let l = Layers::parse(&h.bytes);
    match l.outer.map(|o| o.tunnel) {
        Some(Tunnel::Encap { .. }) => h.bytes[l.overhead.min(h.bytes.len())..].to_vec(),
        // A BGP segment is the same segment whatever the routers did to its IP header.
        Some(Tunnel::Bgp(_)) => {
            let ihl = h.bytes.get(14).map_or(20, |b| usize::from(b & 0x0f) * 4);
            h.bytes.get(14 + ihl..).unwrap_or_default().to_vec()
        }
        None => h.bytes.to_vec(),
    }
}

/// How far after a frame its journey is looked for, in hops of the trace.
const LOOK_AHEAD: usize = 20_000;

/// The hops carrying the same frame as `id`: up its parents, then down to every copy, in
/// trace order.
fn same_frame(lab: &Lab, id: u32) -> Vec<u32> {
    let trace = lab.sim().trace();
    let Some(hop) = trace.get(id as usize) else {
        return Vec::new();
    };
    let me = identity(hop);
    let mut root = hop;
    while let Some(p) = root.parent.and_then(|p| trace.get(p.0 as usize)) {
        if identity(p) != me {
            break;
        }
        root = p;
    }
    let mut set: BTreeSet<HopId> = BTreeSet::from([root.id]);
    let from = root.id.0 as usize + 1;
    for h in trace[from.min(trace.len())..].iter().take(LOOK_AHEAD) {
        if h.parent.is_some_and(|p| set.contains(&p)) && identity(h) == me {
            set.insert(h.id);
        }
    }
    set.into_iter().map(|h| h.0).collect()
}

fn node_kind(lab: &Lab, id: vtep_sim::NodeId) -> &'static str {
    match lab.kind(id) {
        Some(NodeKind::Host) => "host",
        Some(NodeKind::Hypervisor) => "hv",
        Some(NodeKind::Router) => "router",
        Some(NodeKind::Switch) => "switch",
        Some(NodeKind::Reflector) => "rs",
        None => "gone",
    }
}

fn summary(lab: &Lab, id: u32) -> String {
    lab.rows()
        .get(id as usize)
        .map(|r| r.summary.clone())
        .unwrap_or_default()
}

fn steps(lab: &Lab, hops: &[u32]) -> Vec<PathStep> {
    hops.iter()
        .filter_map(|i| lab.hop(*i))
        .map(|h| {
            let tag = if lab.kind(h.to) == Some(NodeKind::Hypervisor) {
                Some(format!("in at {}", lab.name(h.to)))
            } else if lab.kind(h.from) == Some(NodeKind::Hypervisor) {
                Some(format!("out of {}", lab.name(h.from)))
            } else {
                None
            };
            let encap = lab
                .rows()
                .get(h.id.0 as usize)
                .is_some_and(|r| r.kinds & kind::ENCAP != 0);
            PathStep {
                hop: h.id.0,
                label: format!(
                    "{} → {}: {} B{}",
                    lab.name(h.from),
                    lab.name(h.to),
                    h.bytes.len(),
                    if encap { " (encapsulated)" } else { "" }
                ),
                tag,
            }
        })
        .collect()
}

fn devices(lab: &Lab, hops: &[u32]) -> Vec<DeviceStep> {
    hops.iter()
        .filter_map(|i| lab.hop(*i))
        .map(|h| {
            let went_out = hops
                .iter()
                .filter_map(|i| lab.hop(*i))
                .filter(|o| o.parent == Some(h.id))
                .map(|o| {
                    format!(
                        "to {}: {} ({} B)",
                        lab.name(o.to),
                        summary(lab, o.id.0),
                        o.bytes.len()
                    )
                })
                .collect();
            DeviceStep {
                node: lab.name(h.to),
                kind: node_kind(lab, h.to),
                hop: h.id.0,
                came_in: format!(
                    "from {}: {} ({} B)",
                    lab.name(h.from),
                    summary(lab, h.id.0),
                    h.bytes.len()
                ),
                did: if h.end <= lab.now() {
                    h.decisions.iter().map(ToString::to_string).collect()
                } else {
                    vec!["(still on its way)".to_string()]
                },
                went_out,
            }
        })
        .collect()
}

/// The first frame a host sent in answer to the journey `hops` (its parent is one of them).
fn reply_to(lab: &Lab, hops: &[u32]) -> Option<Reply> {
    let trace = lab.sim().trace();
    let set: BTreeSet<u32> = hops.iter().copied().collect();
    let first = *hops.first()? as usize;
    let me = identity(trace.get(first)?);
    let root = trace[first + 1..].iter().take(LOOK_AHEAD).find(|h| {
        h.parent.is_some_and(|p| set.contains(&p.0))
            && lab.kind(h.from) == Some(NodeKind::Host)
            && identity(h) != me
    })?;
    let path = same_frame(lab, root.id.0);
    Some(Reply {
        hop: root.id.0,
        summary: summary(lab, root.id.0),
        path: steps(lab, &path),
    })
}

impl FrameDetail {
    /// The detail of hop `id`, if there is such a hop.
    pub fn new(lab: &Lab, id: u32) -> Option<FrameDetail> {
        let hop = lab.hop(id)?;
        let trace = lab.sim().trace();
        let journey = same_frame(lab, id);
        let caused_by = journey
            .first()
            .and_then(|r| trace.get(*r as usize)?.parent)
            .map(|p| (p.0, summary(lab, p.0)));
        let reply = reply_to(lab, &journey);
        let sim_now = lab.now();
        let arrived = |hops: &mut dyn Iterator<Item = u32>| {
            hops.filter_map(|i| trace.get(i as usize))
                .all(|h| h.end <= sim_now)
        };
        let last_end = journey
            .iter()
            .filter_map(|i| trace.get(*i as usize))
            .map(|h| h.end)
            .max();
        let complete = arrived(&mut journey.iter().copied())
            && arrived(&mut reply.iter().flat_map(|r| r.path.iter().map(|s| s.hop)))
            && (reply.is_some()
                || last_end.is_some_and(|e| sim_now > e + vtep_core::Duration::from_secs(1)));
        Some(FrameDetail {
            hop: id,
            title: format!(
                "{} → {}: {}",
                lab.name(hop.from),
                lab.name(hop.to),
                summary(lab, id)
            ),
            times: format!(
                "on the link from {} to {}; {} bytes",
                fmt_time(lab::us(hop.start)),
                fmt_time(lab::us(hop.end)),
                hop.bytes.len()
            ),
            bytes: hop.bytes.clone(),
            dissection: dissect(&hop.bytes),
            decisions: hop
                .decisions
                .iter()
                .filter(|_| hop.end <= lab.now())
                .map(|d| format!("at {}: {}", lab.name(hop.to), d))
                .collect(),
            why: explain::drop_detail(lab, id),
            path: steps(lab, &journey),
            caused_by,
            reply,
            devices: devices(lab, &journey),
            made_at: (trace.len(), lab.now()),
            complete,
        })
    }

    /// A frame seen outside any run (a sample, a test): its title and bytes, dissected.
    pub fn from_bytes(hop: u32, title: &str, bytes: Arc<[u8]>) -> FrameDetail {
        FrameDetail {
            hop,
            title: title.to_string(),
            times: String::new(),
            dissection: dissect(&bytes),
            bytes,
            decisions: Vec::new(),
            why: None,
            path: Vec::new(),
            caused_by: None,
            reply: None,
            devices: Vec::new(),
            made_at: (0, vtep_core::Instant::ZERO),
            complete: true,
        }
    }

    /// Whether this still shows hop `id` as it is in `lab`: its journey and reply grow while
    /// the run goes on, until every hop of them arrived.
    pub fn is_current(&self, lab: &Lab, id: u32) -> bool {
        self.hop == id
            && self.decisions.len() == lab.hop(id).map(|h| h.decisions.len()).unwrap_or(0)
            && (self.complete || self.made_at == (lab.sim().trace().len(), lab.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::view::{first_drop, lab_at_end as at_end};

    /// The first hop of S1 whose summary contains `what`.
    fn first(lab: &Lab, what: &str) -> u32 {
        (0..lab.rows().len())
            .find(|i| lab.rows()[*i].summary.contains(what))
            .unwrap() as u32
    }

    #[test]
    fn the_journey_is_the_frames_own_hops_and_the_reply_its_own_section() {
        let lab = at_end("S1");
        let encap = (0..lab.rows().len())
            .find(|i| {
                lab.rows()[*i].kinds & kind::ENCAP != 0
                    && lab.rows()[*i].summary.contains("echo request seq 0")
            })
            .unwrap() as u32;
        let d = FrameDetail::new(&lab, encap).unwrap();
        assert_eq!(d.dissection.layers[3].name, "VXLAN");
        // vm-a -> hv1 -> dc1-core -> dc2-core -> hv3 -> vm-b: 5 hops of one echo request.
        let route: Vec<String> = d.path.iter().map(|s| s.label.clone()).collect();
        assert_eq!(route.len(), 5, "{route:?}");
        assert!(route[0].starts_with("vm-a → hv1"), "{route:?}");
        assert!(route[4].starts_with("hv3 → vm-b"), "{route:?}");
        for s in &d.path {
            assert!(
                lab.rows()[s.hop as usize]
                    .summary
                    .contains("echo request seq 0")
            );
        }
        let tags: Vec<&str> = d.path.iter().filter_map(|s| s.tag.as_deref()).collect();
        assert!(
            tags.contains(&"in at hv1") && tags.contains(&"out of hv3"),
            "{tags:?}"
        );
        // What let it leave: the ARP reply. What it caused: vm-b's echo reply, 5 hops back.
        let (_, cause) = d.caused_by.clone().unwrap();
        assert!(cause.contains("ARP") && cause.contains("is-at"), "{cause}");
        let reply = d.reply.clone().unwrap();
        assert!(
            reply.summary.contains("echo reply seq 0"),
            "{}",
            reply.summary
        );
        assert_eq!(reply.path.len(), 5);
        // Devices: hv1 took the plain frame in and sent VXLAN out.
        let hv1 = d.devices.iter().find(|x| x.node == "hv1").unwrap();
        assert!(
            hv1.came_in
                .starts_with("from vm-a: 192.168.10.1 > 192.168.10.2")
        );
        assert!(
            hv1.did
                .iter()
                .any(|x| x.starts_with("encapsulated in VNI 100")),
            "{:?}",
            hv1.did
        );
        assert!(
            hv1.went_out[0].starts_with("to dc1-core: VXLAN 100 ["),
            "{:?}",
            hv1.went_out
        );
        let vm_b = d.devices.last().unwrap();
        assert_eq!((vm_b.node.as_str(), vm_b.kind), ("vm-b", "host"));
        assert_eq!(vm_b.did, ["received by the host"]);
        assert!(FrameDetail::new(&lab, u32::MAX).is_none());
    }

    #[test]
    fn a_flooded_arp_request_has_every_copy_and_the_reply() {
        let lab = at_end("S1");
        let d = FrameDetail::new(&lab, first(&lab, "ARP who-has 192.168.10.2")).unwrap();
        assert!(d.caused_by.is_none());
        assert!(d.path.iter().all(|s| !s.label.is_empty()));
        let reply = d.reply.unwrap();
        assert!(reply.summary.contains("is-at"), "{}", reply.summary);
    }

    #[test]
    fn a_dropped_frame_says_why() {
        let lab = at_end("S3");
        let drop = first_drop(&lab);
        let d = FrameDetail::new(&lab, drop).unwrap();
        assert!(d.why.unwrap().contains("1500 + 50 = 1550"));
        assert!(d.reply.is_none());
    }
}
