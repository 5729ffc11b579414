//! The event list: every frame that left a node up to the view time, one row each, filtered
//! by kind (ARP, ICMP, ..., any of those ticked), by node (sent or received by it) and by
//! virtual network, all three at once. The whole run is listed, and the page draws only the
//! rows in view ([`Window`]): by default the newest [`NEWEST`], on demand all of them. A row
//! whose hop did not change keeps its `Rc`, so its view is not rebuilt.

use std::collections::HashMap;
use std::rc::Rc;

use vtep_sim::NodeId;

use super::explain;
use super::lab::{self, Lab, kind};
use super::view::fmt_time;

/// How many of the newest rows the list holds until the user asks for all.
pub const NEWEST: usize = 150;

/// What the list shows: kinds (bits of [`kind`], none = every kind), and optionally only the
/// frames of one node or one virtual network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub kinds: u16,
    pub node: Option<u32>,
    pub vni: Option<u32>,
}

/// The rows the page draws: `len` rows from row `first` of the list, which holds every
/// matching frame (`all`) or the newest [`NEWEST`]; `follow` keeps the newest in view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub first: usize,
    pub len: usize,
    pub all: bool,
    pub follow: bool,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            first: 0,
            len: 60,
            all: false,
            follow: true,
        }
    }
}

/// One row of the event list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub hop: u32,
    pub time: String,
    pub route: String,
    pub summary: String,
    pub proto: &'static str,
    pub encap: bool,
    pub bum: bool,
    pub outcome: String,
    pub dropped: bool,
    /// The whole row in words, and for a drop why it happened: the row's tooltip.
    pub tip: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    now: i64,
    visible: usize,
    filters: Filters,
    replays: u64,
    selected: Option<u32>,
    window: Window,
}

/// The event list's rows. See the module documentation.
#[derive(Debug, Default)]
pub struct EventRows {
    /// The rows drawn (the window), oldest first.
    pub rows: Rc<Vec<Rc<EventRow>>>,
    /// Where the window starts in the list.
    pub start: usize,
    /// Rows in the list (all matching frames, or the newest [`NEWEST`] of them).
    pub listed: usize,
    /// Frames that match the filters up to the view time.
    pub total: usize,
    key: Option<Key>,
    cache: HashMap<u32, (bool, usize, Rc<EventRow>)>,
    cache_replays: u64,
}

/// Whether hop `i` of the lab passes `f` at the view time.
fn passes(lab: &Lab, i: usize, f: &Filters) -> bool {
    let (row, hop) = (&lab.rows()[i], &lab.sim().trace()[i]);
    if let Some(n) = f.node
        && hop.from != NodeId(n)
        && hop.to != NodeId(n)
    {
        return false;
    }
    if f.vni.is_some() && row.net_vni != f.vni {
        return false;
    }
    if f.kinds == 0 {
        return true;
    }
    let mut k = row.kinds;
    if f.kinds & kind::DROP != 0 && hop.end <= lab.now() && hop.dropped().is_some() {
        k |= kind::DROP;
    }
    k & f.kinds != 0
}

impl EventRows {
    /// Forgets every row (a new script).
    pub fn clear(&mut self) {
        self.cache.clear();
        self.key = None;
    }

    /// Brings the rows up to the lab's view time. Does nothing when nothing they depend on
    /// changed.
    pub fn refresh(&mut self, lab: &Lab, filters: Filters, selected: Option<u32>, window: Window) {
        let now = lab.now();
        let trace = lab.sim().trace();
        let visible = trace
            .partition_point(|h| h.start <= now)
            .min(lab.rows().len());
        let key = Key {
            now: now.total_micros(),
            visible,
            filters,
            replays: lab.replays(),
            selected,
            window,
        };
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        let matches: Vec<usize> = (0..visible)
            .filter(|i| trace[*i].start <= now && passes(lab, *i, &filters))
            .collect();
        self.total = matches.len();
        let listed = if window.all {
            &matches[..]
        } else {
            &matches[matches.len().saturating_sub(NEWEST)..]
        };
        self.listed = listed.len();
        let len = window.len.min(listed.len());
        self.start = if window.follow {
            listed.len() - len
        } else {
            window.first.min(listed.len() - len)
        };
        if self.cache_replays != lab.replays() {
            self.cache.clear();
            self.cache_replays = lab.replays();
        }
        let mut cache = std::mem::take(&mut self.cache);
        let mut fresh = HashMap::with_capacity(len);
        let out: Vec<Rc<EventRow>> = listed[self.start..self.start + len]
            .iter()
            .map(|&i| {
                let h = &trace[i];
                let state = (h.end <= now, h.decisions.len());
                let row = match cache.remove(&h.id.0) {
                    Some((a, n, row)) if (a, n) == state => row,
                    _ => Rc::new(row_of(lab, i, state.0)),
                };
                fresh.insert(h.id.0, (state.0, state.1, row.clone()));
                row
            })
            .collect();
        self.cache = fresh;
        self.rows = Rc::new(out);
    }
}

fn row_of(lab: &Lab, i: usize, arrived: bool) -> EventRow {
    let (h, r) = (&lab.sim().trace()[i], &lab.rows()[i]);
    let outcome = if arrived {
        h.decisions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        "in flight".to_string()
    };
    let dropped = arrived && h.dropped().is_some();
    let route = format!("{} → {}", lab.name(h.from), lab.name(h.to));
    let mut tip = format!("#{} {route}: {}\n{outcome}", h.id.0, r.summary);
    if dropped && let Some(why) = explain::drop_detail(lab, h.id.0) {
        tip.push_str("\n\n");
        tip.push_str(&why);
    }
    EventRow {
        hop: h.id.0,
        time: fmt_time(lab::us(h.start)),
        route,
        summary: r.summary.clone(),
        proto: r.proto,
        encap: r.kinds & kind::ENCAP != 0,
        bum: r.kinds & kind::BUM != 0,
        outcome,
        dropped,
        tip,
    }
}

/// The label of the list's count: `"1 frame"`, `"150 frames"`, `"last 150 of 1,598"`.
pub fn count_label(listed: usize, total: usize) -> String {
    if listed < total {
        format!(
            "last {} of {}",
            super::fmt_n(listed as u64),
            super::fmt_n(total as u64)
        )
    } else if total == 1 {
        "1 frame".to_string()
    } else {
        format!("{} frames", super::fmt_n(total as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::view::{lab_at_end as at_end, script_named};

    fn all(len: usize) -> Window {
        Window {
            first: 0,
            len,
            all: true,
            follow: false,
        }
    }

    #[test]
    fn rows_follow_filters_and_are_reused() {
        let lab = at_end("S1");
        let now = lab.now();
        let started = lab.sim().trace().iter().filter(|h| h.start <= now).count();
        let mut every = EventRows::default();
        every.refresh(&lab, Filters::default(), None, all(1000));
        assert_eq!(every.total, started);
        assert_eq!(every.rows.len(), started);
        assert!(every.rows.windows(2).all(|w| w[0].hop < w[1].hop));
        assert!(
            every
                .rows
                .iter()
                .any(|r| r.encap && r.outcome.contains("decapsulated from VNI 100")),
            "hv3 unwraps vm-a's frames"
        );
        let mut arp = EventRows::default();
        let only_arp = Filters {
            kinds: kind::ARP,
            ..Filters::default()
        };
        arp.refresh(&lab, only_arp, None, all(1000));
        assert!(0 < arp.total && arp.total < every.total, "{}", arp.total);
        assert!(arp.rows.iter().all(|r| r.proto == "arp"));
        // Nothing changed: nothing rebuilt. Another selection: a new list of the same rows.
        let before = every.rows.clone();
        every.refresh(&lab, Filters::default(), None, all(1000));
        assert!(Rc::ptr_eq(&before, &every.rows));
        every.refresh(&lab, Filters::default(), Some(3), all(1000));
        assert!(!Rc::ptr_eq(&before, &every.rows));
        assert!(
            before
                .iter()
                .zip(every.rows.iter())
                .all(|(a, b)| Rc::ptr_eq(a, b))
        );
    }

    #[test]
    fn the_whole_run_is_reachable_and_the_count_says_how_much_is_listed() {
        let lab = at_end("S4");
        let mut rows = EventRows::default();
        rows.refresh(&lab, Filters::default(), None, Window::default());
        assert!(rows.total > 1000, "{}", rows.total);
        assert_eq!(rows.listed, NEWEST);
        assert_eq!(rows.rows.len(), 60, "the newest 60 drawn");
        assert_eq!(rows.start, NEWEST - 60);
        assert_eq!(
            count_label(rows.listed, rows.total),
            format!("last 150 of {}", crate::model::fmt_n(rows.total as u64))
        );
        // All of it, scrolled to the top: the first frame.
        rows.refresh(&lab, Filters::default(), None, all(40));
        assert_eq!(rows.listed, rows.total);
        assert_eq!(rows.rows[0].hop, 0);
        assert_eq!(rows.rows.len(), 40);
        assert_eq!(count_label(1, 1), "1 frame");
    }

    #[test]
    fn filters_by_node_and_vni_combine_with_kinds() {
        let lab = at_end("S6");
        let hv2 = lab.node("hv2").unwrap();
        let blue1 = lab.node("blue-1").unwrap();
        let mut rows = EventRows::default();
        let by = |node: Option<NodeId>, vni: Option<u32>, kinds: u16| Filters {
            kinds,
            node: node.map(|n| n.0),
            vni,
        };
        rows.refresh(&lab, by(Some(hv2), None, 0), None, all(5000));
        assert!(rows.total > 0);
        assert!(
            rows.rows.iter().all(|r| r.route.contains("hv2")),
            "{:?}",
            rows.rows[0]
        );
        rows.refresh(&lab, by(None, Some(200), 0), None, all(5000));
        let blue = rows.total;
        assert!(blue > 0);
        for r in rows.rows.iter() {
            let vni = lab.rows()[r.hop as usize].net_vni;
            assert_eq!(vni, Some(200), "{r:?}");
        }
        // Blue's ICMP from blue-1: fewer than blue's frames, all ICMP, all touching blue-1.
        rows.refresh(
            &lab,
            by(Some(blue1), Some(200), kind::ICMP),
            None,
            all(5000),
        );
        assert!(0 < rows.total && rows.total < blue);
        assert!(
            rows.rows
                .iter()
                .all(|r| r.proto == "icmp" && r.route.contains("blue-1"))
        );
    }

    #[test]
    fn a_drop_row_says_why_in_its_tooltip() {
        let lab = at_end("S3");
        let mut rows = EventRows::default();
        let drops = Filters {
            kinds: kind::DROP,
            ..Filters::default()
        };
        rows.refresh(&lab, drops, None, all(100));
        assert_eq!(rows.total, 3, "S3 drops 3 too-big pings");
        for r in rows.rows.iter() {
            assert!(r.dropped && r.outcome.contains("DROPPED"));
            assert!(
                r.tip.contains("1500 + 50 = 1550 > underlay MTU 1500"),
                "{}",
                r.tip
            );
        }
    }

    #[test]
    fn a_row_in_flight_is_rebuilt_when_it_arrives() {
        let mut lab = Lab::new(script_named("S1").unwrap());
        let mut rows = EventRows::default();
        let flying = loop {
            lab.step_forward();
            let now = lab.now();
            if let Some(h) = lab
                .sim()
                .trace()
                .iter()
                .find(|h| h.start <= now && now < h.end)
            {
                break h.id.0;
            }
        };
        rows.refresh(&lab, Filters::default(), None, Window::default());
        let row = rows.rows.iter().find(|r| r.hop == flying).unwrap().clone();
        assert_eq!(row.outcome, "in flight");
        let end = lab.hop(flying).unwrap().end;
        lab.advance_to(end);
        rows.refresh(&lab, Filters::default(), None, Window::default());
        let arrived = rows.rows.iter().find(|r| r.hop == flying).unwrap();
        assert!(!Rc::ptr_eq(&row, arrived));
        assert_ne!(arrived.outcome, "in flight");
    }
}
