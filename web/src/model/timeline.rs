//! The run as a timeline: its chapters (each step of the script after the start, what a live
//! migration sets off, the first drop of each kind, the first MAC move, BGP sessions coming up
//! and going down, a duplicate MAC frozen), and the next interesting event from the view time
//! (an encapsulation or decapsulation, a drop, a move, a flood, an answer from a VTEP, a
//! gratuitous ARP, a BGP OPEN, UPDATE or NOTIFICATION).

use vtep_core::Duration;
use vtep_evpn::Event;
use vtep_sim::trace::L3;
use vtep_sim::{Decision, Hop};

use super::lab::{self, HopRow, Lab, kind};
use super::script::Action;
use super::view::fmt_time;

/// A moment worth jumping to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chapter {
    pub at_us: u64,
    pub label: String,
    /// The frame to select there, if the chapter is a frame.
    pub hop: Option<u32>,
    /// "step" (a script action), "garp", "drop", "move", "bgp".
    pub kind: &'static str,
}

impl Chapter {
    /// `"1000.000 ms: migrate vm-b to hv1"`.
    pub fn title(&self) -> String {
        format!("{}: {}", fmt_time(self.at_us), self.label)
    }
}

/// The run's chapters known at the view time, in time order: the script's actions after the
/// start (known ahead), and what the trace shows so far.
pub fn chapters(lab: &Lab) -> Vec<Chapter> {
    let mut out = Vec::new();
    let downtime = lab.sim().config().migration_downtime;
    for t in lab.script().actions.iter().filter(|t| t.at_us > 0) {
        out.push(Chapter {
            at_us: t.at_us,
            label: t.action.to_string(),
            hop: None,
            kind: "step",
        });
        if let Action::Migrate { host, to } = &t.action {
            out.push(Chapter {
                at_us: t.at_us + downtime.total_micros(),
                label: format!("{host} resumes on {to} and sends a gratuitous ARP"),
                hop: None,
                kind: "garp",
            });
        }
    }
    let now = lab.now();
    let mut seen_drops: Vec<String> = Vec::new();
    let mut seen_moves = 0;
    for h in lab.sim().trace().iter().filter(|h| h.end <= now) {
        if let Some(c) = h.dropped() {
            let c = c.to_string();
            if !seen_drops.contains(&c) {
                out.push(Chapter {
                    at_us: lab::us(h.end),
                    label: format!("first {c} drop, at {}", lab.name(h.to)),
                    hop: Some(h.id.0),
                    kind: "drop",
                });
                seen_drops.push(c);
            }
        }
        if seen_moves < 3
            && let Some(Decision::Learned { mac, .. }) = h
                .decisions
                .iter()
                .find(|d| matches!(d, Decision::Learned { moved: true, .. }))
        {
            seen_moves += 1;
            out.push(Chapter {
                at_us: lab::us(h.end),
                label: format!("{} learns that {mac} moved", lab.name(h.to)),
                hop: Some(h.id.0),
                kind: "move",
            });
        }
    }
    bgp_chapters(lab, &mut out);
    out.sort_by_key(|c| c.at_us);
    out
}

/// The BGP sessions' story so far: the first session up, each session down (and why), each
/// one back; a duplicate MAC frozen.
fn bgp_chapters(lab: &Lab, out: &mut Vec<Chapter>) {
    let now = lab.now();
    let mut first = true;
    let mut down: Vec<(vtep_sim::NodeId, vtep_core::wire::Ipv4Address)> = Vec::new();
    let peer = |ip| {
        let sim = lab.sim();
        sim.nodes()
            .into_iter()
            .find(|n| n.underlay_ip == Some(ip))
            .map_or_else(|| ip.to_string(), |n| n.name)
    };
    for e in lab.sim().bgp_log().iter().filter(|e| e.at <= now) {
        let (who, with) = (lab.name(e.node), peer(e.peer));
        let label = match &e.event {
            Event::SessionEstablished { .. } if first => {
                first = false;
                format!("first BGP session Established: {who} and {with}")
            }
            Event::SessionEstablished { .. } if down.contains(&(e.node, e.peer)) => {
                down.retain(|d| *d != (e.node, e.peer));
                format!("{who}'s BGP session with {with} is back")
            }
            // Failed attempts repeat while a peer is away: the first loss says it.
            Event::SessionDown { error, .. } if !down.contains(&(e.node, e.peer)) => {
                down.push((e.node, e.peer));
                format!("{who} drops its BGP session with {with}: {error}")
            }
            _ => continue,
        };
        out.push(Chapter {
            at_us: lab::us(e.at),
            label,
            hop: None,
            kind: "bgp",
        });
    }
    for h in lab.sim().trace().iter().filter(|h| h.end <= now) {
        for d in &h.decisions {
            if let Decision::DuplicateFrozen { mac, moves, .. } = d {
                out.push(Chapter {
                    at_us: lab::us(h.end),
                    label: format!(
                        "{} freezes duplicate MAC {mac} after {moves} moves",
                        lab.name(h.to)
                    ),
                    hop: Some(h.id.0),
                    kind: "bgp",
                });
            }
        }
    }
}

/// Whether a hop is worth stopping at: what the node it reached did is a lesson.
pub fn interesting(hop: &Hop, row: &HopRow) -> bool {
    let garp = matches!(hop.layers().inner.map(|i| i.l3),
        Some(L3::Arp { sender, target_ip, .. }) if sender.1 == target_ip);
    garp || row.kinds & (kind::OPEN | kind::UPDATE | kind::NOTIFICATION) != 0
        || hop.decisions.iter().any(|d| {
            matches!(
                d,
                Decision::Encapsulated { .. }
                    | Decision::Decapsulated { .. }
                    | Decision::Dropped(_)
                    | Decision::Learned { moved: true, .. }
                    | Decision::Flooded { .. }
                    | Decision::ArpSuppressed { .. }
                    | Decision::NdSuppressed { .. }
            )
        })
}

/// How far ahead "next interesting event" looks in a script without an end.
pub const LOOK_AHEAD: Duration = Duration::from_secs(10);

/// The next interesting hop after the view time (see [`interesting`]), up to the end of the
/// script (or [`LOOK_AHEAD`] on). The view may have moved: the caller seeks.
pub fn next_interesting(lab: &mut Lab) -> Option<u32> {
    let limit = lab.end().unwrap_or(lab.now() + LOOK_AHEAD);
    lab.find_next(limit, interesting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::view::{lab_at_end, script_named};
    use vtep_core::Instant;

    #[test]
    fn s4_marks_the_migration_and_its_gratuitous_arp() {
        let mut lab = Lab::new(script_named("S4").unwrap());
        let ahead = chapters(&lab);
        let titles: Vec<String> = ahead.iter().map(Chapter::title).collect();
        assert_eq!(
            titles,
            [
                "1000.000 ms: migrate vm-b to hv1",
                "1030.000 ms: vm-b resumes on hv1 and sends a gratuitous ARP"
            ]
        );
        lab.advance_to(lab.end().unwrap());
        let all = chapters(&lab);
        assert!(all.windows(2).all(|w| w[0].at_us <= w[1].at_us));
        assert!(
            all.iter().any(|c| c.kind == "move" && c.at_us >= 1_030_000),
            "{all:?}"
        );
    }

    #[test]
    fn s3_marks_its_first_drop() {
        let lab = lab_at_end("S3");
        let drop = chapters(&lab)
            .into_iter()
            .find(|c| c.kind == "drop")
            .unwrap();
        assert_eq!(drop.label, "first vtep:too_big drop, at hv1");
        assert!(lab.hop(drop.hop.unwrap()).unwrap().dropped().is_some());
    }

    #[test]
    fn next_interesting_walks_the_encapsulations_of_s1() {
        let mut lab = Lab::new(script_named("S1").unwrap());
        let mut seen = Vec::new();
        for _ in 0..4 {
            let hop = next_interesting(&mut lab).unwrap();
            let h = lab.hop(hop).unwrap().clone();
            assert!(h.end > lab.now() || seen.is_empty() || h.end >= lab.now());
            lab.seek(h.end);
            seen.push((lab.name(h.to), h.decisions.clone()));
        }
        // The ARP request flooded at hv1, then decapsulated and flooded at hv3, ...
        assert_eq!(seen[0].0, "hv1");
        assert!(seen.iter().all(|(_, d)| !d.is_empty()));
        let times: Vec<Instant> = seen.iter().map(|_| lab.now()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
    }
}
