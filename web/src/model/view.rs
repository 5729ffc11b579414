//! What the playground's views show, worked out from the [`Lab`]: the event list's rows (kept
//! by hop, so an unchanged row is not rebuilt), the selected frame's detail and journey, the
//! frames drawn on the links, the names in the pickers, the clock and speed labels, the words
//! for each decision, download names and the URL fragment. Plain data, no Yew: the components
//! render these, [`crate::components::App`] decides when to refresh them.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use vtep_core::Duration;
use vtep_sim::NodeId;
use vtep_sim::scenario::{self, Scenario};

use super::dissect::{Dissection, dissect};
use super::lab::{self, Lab, kind};
use super::layout::Layout;
use super::script::{Action, Script};

// ------------------------------------------------------------------ clock, speed, names

/// Virtual time as the clock shows it: `1234567` -> `"1234.567 ms"`.
pub fn fmt_time(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

/// Virtual microseconds per real second at slider position `pos` (0..=100): 1 us .. 1 s,
/// logarithmic.
pub fn speed_us_per_s(pos: u32) -> f64 {
    10f64.powf(f64::from(pos) * 6.0 / 100.0)
}

/// The speed slider's label.
pub fn speed_label(pos: u32) -> String {
    let us = speed_us_per_s(pos);
    if us >= 1e6 {
        format!("{:.1} s/s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.1} ms/s", us / 1e3)
    } else {
        format!("{us:.0} µs/s")
    }
}

/// A good default speed: slow enough to watch the underlay links, faster with WAN links.
pub fn default_speed(script: &Script) -> u32 {
    if script
        .actions
        .iter()
        .any(|a| matches!(a.action, Action::ConnectSites { .. }))
    {
        50
    } else {
        34
    }
}

/// The file name of a download of the lab's script (`ext` "json") or capture ("pcap").
pub fn download_name(script: &Script, ext: &str) -> String {
    format!(
        "overlay-lab-{}.{ext}",
        script.scenario.clone().unwrap_or_else(|| "custom".into())
    )
}

/// The guided scenario with this id (any case).
pub fn find_scenario(id: &str) -> Option<Scenario> {
    scenario::all()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The script a short URL fragment names: `S4` or `scenario=S4`, `sandbox`, `load`, or nothing
/// for S1. (`script=<json>` is read by the app, with the browser's JSON.)
pub fn script_named(hash: &str) -> Result<Script, String> {
    let h = hash.trim();
    let id = h.strip_prefix("scenario=").unwrap_or(h);
    match id {
        "" => Ok(scenario::s1().script),
        "sandbox" => Ok(Script::sandbox()),
        "load" => Ok(Script::load_test()),
        _ => find_scenario(id)
            .map(|s| s.script)
            .ok_or_else(|| format!("unknown scenario {id:?}")),
    }
}

/// The short URL fragment that gives back `s` (see [`script_named`]); none when the user
/// changed it, so the whole script goes in the URL.
pub fn short_hash(s: &Script) -> Option<String> {
    let pristine = s
        .scenario
        .as_deref()
        .and_then(|id| match id {
            "load" => Some(Script::load_test()),
            id => find_scenario(id).map(|sc| sc.script),
        })
        .is_some_and(|p| p == *s);
    if pristine {
        Some(s.scenario.as_deref().unwrap_or("").to_string())
    } else if *s == Script::sandbox() {
        Some("sandbox".to_string())
    } else {
        None
    }
}

/// Node names for the actions and tables panels.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub hosts: Vec<String>,
    pub hypervisors: Vec<String>,
    pub sites: Vec<String>,
    /// Nodes whose tables can be shown, id and name: hypervisors, hosts, then routers and the
    /// route server.
    pub table_nodes: Vec<(u32, String)>,
}

impl Names {
    pub fn new(lab: &Lab, layout: &Layout) -> Names {
        Names {
            hosts: host_names(lab),
            hypervisors: hv_names(lab),
            sites: site_names(layout),
            table_nodes: table_nodes(layout),
        }
    }
}

fn host_names(lab: &Lab) -> Vec<String> {
    lab.sim().hosts().into_iter().map(|h| lab.name(h)).collect()
}

fn hv_names(lab: &Lab) -> Vec<String> {
    lab.sim()
        .hypervisors()
        .into_iter()
        .map(|h| lab.name(h))
        .collect()
}

fn site_names(layout: &Layout) -> Vec<String> {
    layout.sites.iter().map(|s| s.name.clone()).collect()
}

/// Nodes whose tables can be shown: hypervisors, hosts, routers, the route server.
fn table_nodes(layout: &Layout) -> Vec<(u32, String)> {
    let mut v: Vec<(u32, String, u8)> = layout
        .nodes
        .iter()
        .map(|n| {
            let order = match n.kind {
                "hv" => 0,
                "host" => 1,
                _ => 2,
            };
            (n.id, n.name.clone(), order)
        })
        .collect();
    v.sort_by_key(|x| x.2);
    v.into_iter().map(|(i, n, _)| (i, n)).collect()
}

// ------------------------------------------------------------------ cache keys

/// What the topology's layout is drawn from: when it changes, the layout is made again.
/// Migrations finish on their own (links change), so the links are watched too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutKey {
    topology_rev: u64,
    replays: u64,
    links: usize,
    /// A digest of every link's id, first end and state.
    links_sig: u64,
}

impl LayoutKey {
    pub fn of(lab: &Lab) -> LayoutKey {
        let links = lab.sim().links();
        let links_sig: u64 = links
            .iter()
            .map(|l| u64::from(l.id.0) * 31 + u64::from(l.ends[0].0) * 7 + u64::from(l.up))
            .sum();
        LayoutKey {
            topology_rev: lab.topology_rev(),
            replays: lab.replays(),
            links: links.len(),
            links_sig,
        }
    }
}

/// What the tables of a node are read from: the simulator's progress, and the view time in
/// steps of 10 ms (ages move with time; idle, the tables refresh at most that often).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TablesKey {
    events_processed: u64,
    replays: u64,
    node: u32,
    tick: u64,
}

impl TablesKey {
    pub fn of(lab: &Lab, node: NodeId) -> TablesKey {
        TablesKey {
            events_processed: lab.sim().events_processed(),
            replays: lab.replays(),
            node: node.0,
            tick: lab::us(lab.now()) / 10_000,
        }
    }
}

/// What the event list shows: the frames started by the view time, the filters, the run,
/// the selected frame and how many rows are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EventsKey {
    visible: usize,
    filters: u16,
    replays: u64,
    selected: Option<u32>,
    cap: usize,
}

// ------------------------------------------------------------------ event list

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
}

/// The event list: the last rows that match the filters up to the view time. A row whose hop
/// did not change (arrival, decisions) keeps its `Rc`, so its view skips re-rendering.
#[derive(Debug, Default)]
pub struct EventRows {
    /// The rows shown, oldest first.
    pub rows: Rc<Vec<Rc<EventRow>>>,
    /// How many frames match the filters up to the view time (the list keeps the last few).
    pub total: usize,
    key: Option<EventsKey>,
    /// The rows last shown, by hop, with the hop's state they were made from (arrived, number
    /// of decisions). Belongs to the replay `cache_replays`.
    cache: HashMap<u32, (bool, usize, Rc<EventRow>)>,
    cache_replays: u64,
}

impl EventRows {
    /// Forgets every row (a new script).
    pub fn clear(&mut self) {
        self.cache.clear();
        self.key = None;
    }

    /// Brings the rows up to the lab's view time: the last `cap` frames that match `filters`
    /// (bits of [`kind`]; none means all). Does nothing when nothing they depend on changed.
    pub fn refresh(&mut self, lab: &Lab, filters: u16, selected: Option<u32>, cap: usize) {
        let now = lab.now();
        let trace = lab.sim().trace();
        let visible = trace.partition_point(|h| h.start <= now);
        let key = EventsKey {
            visible,
            filters,
            replays: lab.replays(),
            selected,
            cap,
        };
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        let rows = lab.rows();
        let matches = |i: usize| {
            if filters == 0 {
                return true;
            }
            let mut k = rows[i].kinds;
            if filters & kind::DROP != 0 && trace[i].end <= now && trace[i].dropped().is_some() {
                k |= kind::DROP;
            }
            k & filters != 0
        };
        let mut idx: Vec<usize> = (0..visible.min(rows.len()))
            .rev()
            .filter(|i| trace[*i].start <= now && matches(*i))
            .take(cap)
            .collect();
        idx.reverse();
        self.total = (0..visible.min(rows.len())).filter(|i| matches(*i)).count();
        if self.cache_replays != lab.replays() {
            self.cache.clear();
            self.cache_replays = lab.replays();
        }
        let mut cache = std::mem::take(&mut self.cache);
        let mut fresh = HashMap::with_capacity(idx.len());
        let out: Vec<Rc<EventRow>> = idx
            .into_iter()
            .map(|i| {
                let h = &trace[i];
                let arrived = h.end <= now;
                let state = (arrived, h.decisions.len());
                let row = match cache.remove(&h.id.0) {
                    Some((a, n, row)) if (a, n) == state => row,
                    _ => Rc::new(EventRow {
                        hop: h.id.0,
                        time: fmt_time(lab::us(h.start)),
                        route: format!("{} → {}", lab.name(h.from), lab.name(h.to)),
                        summary: rows[i].summary.clone(),
                        proto: rows[i].proto,
                        encap: rows[i].kinds & kind::ENCAP != 0,
                        bum: rows[i].kinds & kind::BUM != 0,
                        outcome: if arrived {
                            h.decisions
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join("; ")
                        } else {
                            "in flight".to_string()
                        },
                        dropped: arrived && h.dropped().is_some(),
                    }),
                };
                fresh.insert(h.id.0, (state.0, state.1, row.clone()));
                row
            })
            .collect();
        self.cache = fresh;
        self.rows = Rc::new(out);
    }
}

// ------------------------------------------------------------------ the selected frame

/// One hop of the selected frame's journey.
#[derive(Clone, Debug, PartialEq)]
pub struct PathStep {
    pub hop: u32,
    pub label: String,
    /// "in at hv1", "out of hv1", ...
    pub tag: Option<String>,
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
    pub path: Vec<PathStep>,
}

impl FrameDetail {
    /// The detail of hop `id`, if there is such a hop.
    pub fn new(lab: &Lab, id: u32) -> Option<FrameDetail> {
        let hop = lab.hop(id)?;
        let summary = lab
            .rows()
            .get(id as usize)
            .map(|r| r.summary.clone())
            .unwrap_or_default();
        Some(FrameDetail {
            hop: id,
            title: format!("{} → {}: {summary}", lab.name(hop.from), lab.name(hop.to)),
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
                .map(|d| format!("at {}: {}", lab.name(hop.to), d))
                .collect(),
            path: journey(lab, id),
        })
    }

    /// Whether this still shows hop `id` as it is in `lab` (a hop changes only by getting
    /// its decisions when it arrives).
    pub fn is_current(&self, lab: &Lab, id: u32) -> bool {
        self.hop == id
            && self.decisions.len() == lab.hop(id).map(|h| h.decisions.len()).unwrap_or(0)
    }
}

/// The journey of hop `id`: its ancestors, then every descendant (at most 60 hops), in time
/// order.
fn journey(lab: &Lab, id: u32) -> Vec<PathStep> {
    let Some(hop) = lab.hop(id) else {
        return Vec::new();
    };
    let trace = lab.sim().trace();
    let mut path: Vec<u32> = Vec::new();
    let mut cur = Some(hop.id);
    while let Some(c) = cur {
        path.push(c.0);
        cur = trace.get(c.0 as usize).and_then(|h| h.parent);
    }
    path.reverse();
    let mut frontier = vec![hop.id];
    let start = hop.id.0 as usize;
    while let Some(p) = frontier.pop() {
        for h in trace[start..].iter().filter(|h| h.parent == Some(p)) {
            if path.len() < 60 {
                path.push(h.id.0);
                frontier.push(h.id);
            }
        }
    }
    path.sort_unstable();
    path.dedup();
    path.iter()
        .filter_map(|i| trace.get(*i as usize))
        .map(|h| {
            let to_hv = lab.kind(h.to) == Some(vtep_sim::NodeKind::Hypervisor);
            let from_hv = lab.kind(h.from) == Some(vtep_sim::NodeKind::Hypervisor);
            let tag = if to_hv {
                Some(format!("in at {}", lab.name(h.to)))
            } else if from_hv {
                Some(format!("out of {}", lab.name(h.from)))
            } else {
                None
            };
            PathStep {
                hop: h.id.0,
                label: format!(
                    "{} → {}: {} B{}",
                    lab.name(h.from),
                    lab.name(h.to),
                    h.bytes.len(),
                    if lab
                        .rows()
                        .get(h.id.0 as usize)
                        .is_some_and(|r| r.kinds & kind::ENCAP != 0)
                    {
                        " (encapsulated)"
                    } else {
                        ""
                    }
                ),
                tag,
            }
        })
        .collect()
}

// ------------------------------------------------------------------ frames on the links

/// Frames drawn on the topology at once, at most (see [`glyphs`]).
pub const MAX_GLYPHS: usize = 300;

/// A frame to draw, positioned.
#[derive(Clone, Debug, PartialEq)]
pub struct Glyph {
    pub hop: u32,
    pub x: f64,
    pub y: f64,
    /// Colour class of the innermost protocol.
    pub proto: &'static str,
    /// Tunnel colour index (the VNI's), when encapsulated.
    pub envelope: Option<usize>,
    pub bum: bool,
    pub control: bool,
    pub dropped: bool,
    pub title: String,
}

/// The frames on the links at the view time, placed on `layout`. A dropped frame stays
/// visible for 0.6 s of real time at slider position `speed`. A flood can put a thousand
/// copies on the links at once; past [`MAX_GLYPHS`] they only stack on each other, so the
/// oldest are drawn, and the `selected` frame always.
pub fn glyphs(lab: &mut Lab, layout: &Layout, speed: u32, selected: Option<u32>) -> Vec<Glyph> {
    let linger = Duration::from_micros((speed_us_per_s(speed) * 0.6) as u64);
    let mut flights = lab.flights(linger);
    if flights.len() > MAX_GLYPHS {
        let mut n = 0;
        flights.retain(|f| {
            n += 1;
            n <= MAX_GLYPHS || selected == Some(f.hop)
        });
    }
    let vnis = &layout.vnis;
    flights
        .into_iter()
        .filter_map(|f| {
            let a = layout.pos(f.from)?;
            let b = layout.pos(f.to)?;
            let row = lab.rows().get(f.hop as usize)?;
            let p = f.progress;
            Some(Glyph {
                hop: f.hop,
                x: a.0 + (b.0 - a.0) * p,
                y: a.1 + (b.1 - a.1) * p,
                proto: row.proto,
                envelope: row
                    .vni
                    .map(|v| vnis.iter().position(|x| *x == v).unwrap_or(0)),
                bum: row.kinds & kind::BUM != 0,
                control: row.kinds & kind::CONTROL != 0,
                dropped: f.dropped,
                title: row.summary.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtep_core::Instant;

    /// A lab on a short-fragment script, run to its end.
    fn at_end(name: &str) -> Lab {
        let mut lab = Lab::new(script_named(name).unwrap());
        lab.advance_to(lab.end().unwrap());
        lab
    }

    #[test]
    fn clock_and_speed_labels() {
        assert_eq!(fmt_time(0), "0.000 ms");
        assert_eq!(fmt_time(1_234_567), "1234.567 ms");
        let labels: Vec<String> = [0, 34, 50, 75, 100].map(speed_label).into();
        assert_eq!(
            labels,
            ["1 µs/s", "110 µs/s", "1.0 ms/s", "31.6 ms/s", "1.0 s/s"]
        );
        // Two sites joined by a WAN link: faster (S1); one site: slower (S2).
        assert_eq!(default_speed(&script_named("S1").unwrap()), 50);
        assert_eq!(default_speed(&script_named("S2").unwrap()), 34);
    }

    #[test]
    fn download_names() {
        let s4 = script_named("S4").unwrap();
        assert_eq!(download_name(&s4, "json"), "overlay-lab-S4.json");
        assert_eq!(
            download_name(&Script::sandbox(), "pcap"),
            "overlay-lab-custom.pcap"
        );
    }

    #[test]
    fn short_fragments_name_scripts_and_come_back() {
        assert_eq!(script_named(""), Ok(scenario::s1().script));
        assert_eq!(script_named(" scenario=s4 "), Ok(scenario::s4().script));
        assert_eq!(
            script_named("S99"),
            Err("unknown scenario \"S99\"".to_string())
        );
        for sc in scenario::all() {
            let s = script_named(sc.id).unwrap();
            assert_eq!(s.scenario.as_deref(), Some(sc.id));
            assert_eq!(short_hash(&s).as_deref(), Some(sc.id));
        }
        for name in ["sandbox", "load"] {
            let s = script_named(name).unwrap();
            assert_eq!(short_hash(&s).as_deref(), Some(name));
        }
        // A changed script has no short name: it goes in the URL whole.
        let mut s = script_named("S4").unwrap();
        s.actions.pop();
        assert_eq!(short_hash(&s), None);
    }

    #[test]
    fn event_rows_follow_filters_and_are_reused() {
        let lab = at_end("S1");
        let now = lab.now();
        let started = lab.sim().trace().iter().filter(|h| h.start <= now).count();
        let mut all = EventRows::default();
        all.refresh(&lab, 0, None, 150);
        assert_eq!(all.total, started);
        assert_eq!(all.rows.len(), started.min(150));
        assert!(all.rows.windows(2).all(|w| w[0].hop < w[1].hop));
        assert!(
            all.rows
                .iter()
                .any(|r| r.encap && r.outcome.contains("decapsulated from VNI 100")),
            "hv3 unwraps vm-a's frames"
        );
        // The ARP filter keeps ARP frames only, and fewer than all.
        let mut arp = EventRows::default();
        arp.refresh(&lab, kind::ARP, None, 150);
        assert!(0 < arp.total && arp.total < all.total, "{}", arp.total);
        assert!(arp.rows.iter().all(|r| r.proto == "arp"));
        // Nothing changed: nothing is rebuilt. Another selection: a new list of the same rows.
        let before = all.rows.clone();
        all.refresh(&lab, 0, None, 150);
        assert!(Rc::ptr_eq(&before, &all.rows));
        all.refresh(&lab, 0, Some(3), 150);
        assert!(!Rc::ptr_eq(&before, &all.rows));
        assert!(
            before
                .iter()
                .zip(all.rows.iter())
                .all(|(a, b)| Rc::ptr_eq(a, b))
        );
        // Playing keeps the newest few.
        let mut playing = EventRows::default();
        playing.refresh(&lab, 0, None, 40);
        assert_eq!(playing.rows[..], all.rows[all.rows.len() - 40..]);
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
        rows.refresh(&lab, 0, None, 150);
        let row = rows.rows.iter().find(|r| r.hop == flying).unwrap().clone();
        assert_eq!(row.outcome, "in flight");
        let end = lab.hop(flying).unwrap().end;
        lab.advance_to(end);
        rows.refresh(&lab, 0, None, 150);
        let arrived = rows.rows.iter().find(|r| r.hop == flying).unwrap();
        assert!(!Rc::ptr_eq(&row, arrived));
        assert_ne!(arrived.outcome, "in flight");
        // Cleared (a new script), every row is made afresh, even with nothing else changed.
        let kept = rows.rows.clone();
        rows.clear();
        rows.refresh(&lab, 0, None, 150);
        assert_eq!(rows.rows, kept);
        assert!(
            rows.rows
                .iter()
                .zip(kept.iter())
                .all(|(a, b)| !Rc::ptr_eq(a, b))
        );
    }

    #[test]
    fn drops_filter_shows_dropped_frames_only() {
        let lab = at_end("S10");
        let mut drops = EventRows::default();
        drops.refresh(&lab, kind::DROP, None, 150);
        assert!(drops.total > 0);
        assert!(
            drops
                .rows
                .iter()
                .all(|r| r.dropped && r.outcome.contains("DROPPED"))
        );
    }

    #[test]
    fn the_selected_frame_and_its_journey() {
        let lab = at_end("S1");
        let first_encap = (0..lab.rows().len())
            .find(|i| lab.rows()[*i].kinds & kind::ENCAP != 0)
            .unwrap() as u32;
        let d = FrameDetail::new(&lab, first_encap).unwrap();
        assert!(d.title.starts_with("hv1 → "), "{}", d.title);
        assert_eq!(d.dissection.layers[3].name, "VXLAN");
        assert!(d.decisions.iter().all(|x| x.starts_with("at ")));
        assert!(d.is_current(&lab, first_encap));
        assert!(!d.is_current(&lab, first_encap + 1));
        // From vm-a's plain frame, wrapped by hv1, across the routers, unwrapped at hv3, to vm-b.
        let hops: Vec<u32> = d.path.iter().map(|s| s.hop).collect();
        assert!(hops.windows(2).all(|w| w[0] < w[1]), "{hops:?}");
        assert!(hops.contains(&first_encap));
        let first = lab.hop(hops[0]).unwrap();
        assert_eq!(first.parent, None);
        assert_eq!(lab.name(first.from), "vm-a");
        let tags: Vec<&str> = d.path.iter().filter_map(|s| s.tag.as_deref()).collect();
        assert!(
            tags.contains(&"in at hv1") && tags.contains(&"out of hv1"),
            "{tags:?}"
        );
        assert!(
            tags.contains(&"in at hv3") && tags.contains(&"out of hv3"),
            "{tags:?}"
        );
        assert!(
            d.path
                .iter()
                .any(|s| s.hop == first_encap && s.label.ends_with(" (encapsulated)"))
        );
        assert!(FrameDetail::new(&lab, u32::MAX).is_none());
    }

    #[test]
    fn frames_on_the_links_are_placed_between_their_ends() {
        let mut lab = Lab::new(script_named("S1").unwrap());
        let layout = Layout::new(lab.sim(), None);
        let mut drawn = Vec::new();
        for _ in 0..40 {
            lab.step_forward();
            drawn = glyphs(&mut lab, &layout, 34, None);
            if drawn.iter().any(|g| g.envelope.is_some()) {
                break;
            }
        }
        let tunnelled = drawn.iter().find(|g| g.envelope.is_some()).unwrap();
        assert_eq!(tunnelled.envelope, Some(0), "VNI 100, the first colour");
        for g in &drawn {
            let hop = lab.hop(g.hop).unwrap();
            let (a, b) = (layout.pos(hop.from).unwrap(), layout.pos(hop.to).unwrap());
            let within = |v: f64, p: f64, q: f64| p.min(q) - 1e-9 <= v && v <= p.max(q) + 1e-9;
            assert!(within(g.x, a.0, b.0) && within(g.y, a.1, b.1), "{g:?}");
        }
    }

    #[test]
    fn names_and_keys() {
        let mut lab = Lab::new(script_named("S1").unwrap());
        let layout = Layout::new(lab.sim(), None);
        let names = Names::new(&lab, &layout);
        assert_eq!(names.hosts, ["vm-a", "vm-b"]);
        assert_eq!(names.hypervisors, ["hv1", "hv3"]);
        assert_eq!(names.sites, ["dc1", "dc2"]);
        let order: Vec<&str> = names.table_nodes.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(order[..4], ["hv1", "hv3", "vm-a", "vm-b"]);
        assert!(order.len() > 4, "the routers too: {order:?}");
        // Keys change with what they are made from, and only then.
        let (hv1, hv3) = (lab.node("hv1").unwrap(), lab.node("hv3").unwrap());
        let layout_key = LayoutKey::of(&lab);
        let tables_key = TablesKey::of(&lab, hv1);
        assert_eq!(LayoutKey::of(&lab), layout_key);
        assert_eq!(TablesKey::of(&lab, hv1), tables_key);
        assert_ne!(TablesKey::of(&lab, hv3), tables_key);
        lab.act(Action::Host {
            name: "vm-c".into(),
            hypervisor: "hv3".into(),
            vni: 100,
            ip: [192, 168, 10, 3],
            mac: None,
        })
        .unwrap();
        assert_ne!(LayoutKey::of(&lab), layout_key);
        lab.advance_to(Instant::from_millis(30));
        assert_ne!(TablesKey::of(&lab, hv1), tables_key);
    }
}
