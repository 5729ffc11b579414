//! What the playground's views show, worked out from the [`Lab`]: the names in the pickers and
//! the tables' node list, the clock label, the frames drawn on the links, download names, the
//! short URL fragments, and the named keys that say when the layout and tables must be made
//! again. The event list is [`super::events`], the selected frame [`super::frame`]. Plain data,
//! no Yew: the components render these, [`crate::components::App`] decides when to refresh
//! them.

use vtep_sim::NodeId;
use vtep_sim::scenario::{self, Scenario};

use super::lab::{self, Lab, kind};
use super::layout::Layout;
use super::script::Script;

// ------------------------------------------------------------------ clock, speed, names

/// Virtual time as the clock shows it: `1234567` -> `"1234.567 ms"`.
pub fn fmt_time(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
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

/// The script a short URL fragment names: `S4` or `scenario=S4`, `sandbox`, `load` (the load
/// test; `load-evpn` under BGP EVPN), or nothing for S1. (`script=<json>` is read by the app,
/// with the browser's JSON.)
pub fn script_named(hash: &str) -> Result<Script, String> {
    let h = hash.trim();
    let id = h.strip_prefix("scenario=").unwrap_or(h);
    match id {
        "" => Ok(scenario::s1().script),
        "sandbox" => Ok(Script::sandbox()),
        "load" => Ok(Script::load_test()),
        "load-evpn" => Ok(Script::load_test_evpn()),
        _ => find_scenario(id)
            .map(|s| s.script)
            .ok_or_else(|| format!("unknown scenario {id:?}")),
    }
}

/// A lab on the script a short URL fragment names ([`script_named`]), run to its end: where
/// the model's tests start.
#[cfg(test)]
pub(crate) fn lab_at_end(hash: &str) -> Lab {
    let mut lab = Lab::new(script_named(hash).unwrap());
    lab.advance_to(lab.end().unwrap());
    lab
}

/// The id of the first hop of `lab`'s run that ended in a drop.
#[cfg(test)]
pub(crate) fn first_drop(lab: &Lab) -> u32 {
    lab.sim()
        .trace()
        .iter()
        .find(|h| h.dropped().is_some())
        .unwrap()
        .id
        .0
}

/// The short URL fragment that gives back `s` (see [`script_named`]); none when the user
/// changed it, so the whole script goes in the URL.
pub fn short_hash(s: &Script) -> Option<String> {
    let pristine = s
        .scenario
        .as_deref()
        .and_then(|id| match id {
            "load" => Some(Script::load_test()),
            "load-evpn" => Some(Script::load_test_evpn()),
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

/// Nodes whose tables can be shown: hypervisors, hosts, routers, route reflectors.
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

// ------------------------------------------------------------------ frames on the links

/// How far from a node's centre a frame is drawn at the start and end of its hop (viewBox
/// units, at most 40% of the link), so it sits beside the node it leaves or reaches, not on
/// its name.
pub const EDGE: f64 = 36.0;

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

/// The frames on the links at the view time, placed on `layout`, and a cross at the node of
/// each hop in `drops` (dropped there; the caller decides how long a cross stays). A flood can
/// put a thousand copies on the links at once; past [`MAX_GLYPHS`] they only stack on each
/// other, so the oldest are drawn, and the `selected` frame always.
pub fn glyphs(lab: &mut Lab, layout: &Layout, selected: Option<u32>, drops: &[u32]) -> Vec<Glyph> {
    let mut flights = lab.flights();
    if flights.len() > MAX_GLYPHS {
        let mut n = 0;
        flights.retain(|f| {
            n += 1;
            n <= MAX_GLYPHS || selected == Some(f.hop)
        });
    }
    for d in drops {
        if let Some(h) = lab.hop(*d) {
            flights.push(lab::Flight {
                hop: *d,
                from: h.from,
                to: h.to,
                progress: 1.0,
                dropped: true,
            });
        }
    }
    let vnis = &layout.vnis;
    flights
        .into_iter()
        .filter_map(|f| {
            let a = layout.pos(f.from)?;
            let b = layout.pos(f.to)?;
            let row = lab.rows().get(f.hop as usize)?;
            // From one node's edge to the other's: a frame never hides a node's name, a drop's
            // cross sits just before the node.
            let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt().max(1.0);
            let edge = (EDGE / len).min(0.4);
            let p = if f.dropped {
                1.0 - edge
            } else {
                edge + (1.0 - 2.0 * edge) * f.progress
            };
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
    use crate::model::script::Action;
    use vtep_core::Instant;

    #[test]
    fn clock_labels() {
        assert_eq!(fmt_time(0), "0.000 ms");
        assert_eq!(fmt_time(1_234_567), "1234.567 ms");
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
        for name in ["sandbox", "load", "load-evpn"] {
            let s = script_named(name).unwrap();
            assert_eq!(short_hash(&s).as_deref(), Some(name));
        }
        // A changed script has no short name: it goes in the URL whole.
        let mut s = script_named("S4").unwrap();
        s.actions.pop();
        assert_eq!(short_hash(&s), None);
    }

    #[test]
    fn frames_on_the_links_are_placed_between_their_ends() {
        let mut lab = Lab::new(script_named("S1").unwrap());
        let layout = Layout::new(lab.sim(), None);
        let mut drawn = Vec::new();
        for _ in 0..40 {
            lab.step_forward();
            drawn = glyphs(&mut lab, &layout, None, &[]);
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
