//! The run as a timeline: its chapters (each step of the script after the start, what a live
//! migration sets off, the first drop of each kind, the first MAC move), and the next
//! interesting event from the view time (an encapsulation or decapsulation, a drop, a move, a
//! flood, an answer from a VTEP, a gratuitous ARP, a control-plane message).

use vtep_core::Duration;
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
    /// "step" (a script action), "garp", "drop", "move".
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
    out.sort_by_key(|c| c.at_us);
    out
}

/// Whether a hop is worth stopping at: what the node it reached did is a lesson.
pub fn interesting(hop: &Hop, row: &HopRow) -> bool {
    let garp = matches!(hop.layers().inner.map(|i| i.l3),
        Some(L3::Arp { sender, target_ip, .. }) if sender.1 == target_ip);
    garp || row.kinds & kind::CONTROL != 0
        || hop.decisions.iter().any(|d| {
            matches!(
                d,
                Decision::Encapsulated { .. }
                    | Decision::Decapsulated { .. }
                    | Decision::Dropped(_)
                    | Decision::Learned { moved: true, .. }
                    | Decision::Flooded { .. }
                    | Decision::ArpSuppressed { .. }
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
    use crate::model::view::script_named;
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
        let mut lab = Lab::new(script_named("S3").unwrap());
        lab.advance_to(lab.end().unwrap());
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
