//! Yew components. They only render the [`crate::model`]; the one stateful component, [`App`],
//! owns the [`Lab`] and turns user input and animation frames into calls on it.

// Props and component structs hold callbacks and handles; Debug on them would say nothing.
#![allow(missing_debug_implementations)]

pub mod inspector;
pub mod panels;
pub mod scale;
pub mod topology;

use std::collections::HashMap;
use std::rc::Rc;

use gloo_events::EventListener;
use gloo_render::AnimationFrame;
use vtep_core::Duration;
use vtep_sim::scenario::{self, Scenario};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::dom;
use crate::model::dissect::dissect;
use crate::model::lab::{self, Lab, kind};
use crate::model::layout::Layout;
use crate::model::outcome::{Outcome, outcome};
use crate::model::script::{Action, Script};
use crate::model::tables::{Table, Tracker, tables};
use inspector::{FrameDetail, Inspector, PathStep};
use panels::{Actions, EventList, EventRow, FormAction, Scenarios, Tables};
use topology::{Glyph, Topology};

/// Which main view is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tab {
    Lab,
    Scale,
}

pub enum Msg {
    Frame(f64),
    TogglePlay,
    Step,
    Back,
    Reset,
    End,
    Speed(u32),
    SelectFrame(Option<u32>),
    SelectNode(u32),
    Filter(u16),
    Load(String),
    Tab(Tab),
    Theme,
    Act(FormAction),
    ExportJson,
    Import(String),
    ImportError(String),
    Pcap,
    Key(web_sys::KeyboardEvent),
    Dismiss,
}

/// Callbacks made once, so children whose props did not change skip re-rendering (a new
/// `Callback` each view would never compare equal).
struct Cbs {
    load: Callback<String>,
    act: Callback<FormAction>,
    frame: Callback<u32>,
    node: Callback<u32>,
    filter: Callback<u16>,
}

/// Rows of the event list while playing and while paused (see `App::refresh_events`).
const EVENTS_PLAYING: usize = 40;
const EVENTS_PAUSED: usize = 150;

/// Frames drawn on the topology at once, at most (see `App::glyphs`).
const MAX_GLYPHS: usize = 300;

/// Node names for the actions and tables panels.
#[derive(Default)]
struct Names {
    hosts: Vec<String>,
    hypervisors: Vec<String>,
    sites: Vec<String>,
    table_nodes: Vec<(u32, String)>,
}

/// The playground.
pub struct App {
    cbs: Cbs,
    lab: Lab,
    playing: bool,
    /// Slider position 0..=100: virtual time per real second, 1 us .. 1 s, logarithmic.
    speed: u32,
    last_ts: Option<f64>,
    carry_us: f64,
    raf: Option<AnimationFrame>,
    _keys: Option<EventListener>,
    selected: Option<u32>,
    selected_node: Option<u32>,
    filters: u16,
    tab: Tab,
    dark: bool,
    tracker: Tracker,
    tables: Rc<Vec<Table>>,
    tables_key: (u64, u64, u32, u64),
    layout: Rc<Layout>,
    layout_key: (u64, usize, u64),
    /// Read from the simulator when the layout changes, not every frame.
    names: Names,
    /// The script's scenario id and that guided scenario (none for the sandbox or `load`).
    scenario: (Option<String>, Option<Rc<Scenario>>),
    events: Rc<Vec<Rc<EventRow>>>,
    /// The rows last shown, by hop, with the hop's state they were made from (arrived, number
    /// of decisions) and the replay they belong to: an unchanged row is reused, not rebuilt.
    event_cache: HashMap<u32, (bool, usize, Rc<EventRow>)>,
    event_cache_replays: u64,
    events_total: usize,
    events_key: (usize, u16, u64, u64, usize),
    detail: Option<Rc<FrameDetail>>,
    glyphs: Rc<Vec<Glyph>>,
    outcome: Option<Rc<Outcome>>,
    message: Option<(bool, String)>,
    skipped: bool,
    frames: u64,
    /// Per-frame timings, for the bench; `timing` while an animation frame is being rendered.
    phases: dom::Phases,
    timing: bool,
}

fn find_scenario(id: &str) -> Option<Scenario> {
    scenario::all()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The script the URL asks for: `#S4`, `#scenario=S4`, `#sandbox`, `#load`, `#script=<json>`.
fn script_from_hash(hash: &str) -> Result<Script, String> {
    let h = hash.trim();
    if let Some(json) = h.strip_prefix("script=") {
        return dom::script_from_json(json);
    }
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

fn speed_us_per_s(pos: u32) -> f64 {
    10f64.powf(f64::from(pos) * 6.0 / 100.0)
}

fn speed_label(pos: u32) -> String {
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
fn default_speed(script: &Script) -> u32 {
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

pub fn fmt_time(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

impl App {
    fn load(&mut self, script: Script) {
        self.speed = default_speed(&script);
        self.lab = Lab::new(script);
        self.event_cache.clear();
        self.playing = false;
        self.raf = None;
        self.selected = None;
        self.selected_node = None;
        self.tracker.reset();
        self.outcome = None;
        self.message = None;
        self.refresh_all();
        self.update_hash();
    }

    fn update_hash(&self) {
        let s = self.lab.script();
        let pristine = s
            .scenario
            .as_deref()
            .and_then(|id| match id {
                "load" => Some(Script::load_test()),
                id => find_scenario(id).map(|sc| sc.script),
            })
            .is_some_and(|p| p == *s);
        if pristine {
            dom::set_hash(s.scenario.as_deref().unwrap_or(""));
        } else if *s == Script::sandbox() {
            dom::set_hash("sandbox");
        } else if let Ok(json) = dom::script_to_json(s, false) {
            dom::set_hash(&format!("script={}", dom::encode(&json)));
        }
    }

    fn refresh_all(&mut self) {
        self.refresh_layout();
        self.refresh_tables();
        self.refresh_events();
        self.refresh_detail();
        self.refresh_outcome();
        self.glyphs = self.glyphs();
    }

    fn refresh_layout(&mut self) {
        // Migrations finish on their own (links change): also watch the links.
        let links = self.lab.sim().links();
        let links_sig: u64 = links
            .iter()
            .map(|l| u64::from(l.id.0) * 31 + u64::from(l.ends[0].0) * 7 + u64::from(l.up))
            .sum();
        let key = (
            self.lab.topology_rev(),
            links.len(),
            self.lab.replays() ^ links_sig.rotate_left(20),
        );
        if key != self.layout_key {
            self.layout = Rc::new(Layout::new(self.lab.sim(), Some(&self.layout)));
            self.layout_key = key;
            self.names = Names {
                hosts: host_names(&self.lab),
                hypervisors: hv_names(&self.lab),
                sites: site_names(&self.layout),
                table_nodes: table_nodes(&self.layout),
            };
        }
        let id = &self.lab.script().scenario;
        if self.scenario.0 != *id {
            self.scenario = (
                id.clone(),
                id.as_deref().and_then(find_scenario).map(Rc::new),
            );
        }
    }

    fn table_node(&self) -> Option<vtep_sim::NodeId> {
        self.selected_node
            .map(vtep_sim::NodeId)
            .filter(|n| self.lab.sim().node_info(*n).is_ok())
            .or_else(|| self.lab.sim().hypervisors().first().copied())
    }

    fn refresh_tables(&mut self) {
        let Some(node) = self.table_node() else {
            self.tables = Rc::new(Vec::new());
            return;
        };
        // Ages move with time: refresh at most every 10 ms of virtual time when idle.
        let key = (
            self.lab.sim().events_processed(),
            self.lab.replays(),
            node.0,
            lab::us(self.lab.now()) / 10_000,
        );
        if key == self.tables_key {
            return;
        }
        self.tables_key = key;
        let mut t = tables(self.lab.sim(), node);
        self.tracker.stamp(node, &mut t);
        self.tables = Rc::new(t);
    }

    fn refresh_events(&mut self) {
        let now = self.lab.now();
        let trace = self.lab.sim().trace();
        let visible = trace.partition_point(|h| h.start <= now);
        // Playing, the list scrolls to the newest row at every update, so only the rows near
        // the bottom can be seen: keep fewer (a burst of frames then rebuilds 40 rows, not
        // 150). Paused, the last 150, to scroll back through.
        let cap = if self.playing {
            EVENTS_PLAYING
        } else {
            EVENTS_PAUSED
        };
        let key = (
            visible,
            self.filters,
            self.lab.replays(),
            u64::from(self.selected.unwrap_or(u32::MAX)),
            cap,
        );
        if key == self.events_key {
            return;
        }
        self.events_key = key;
        let rows = self.lab.rows();
        let matches = |i: usize| {
            if self.filters == 0 {
                return true;
            }
            let mut k = rows[i].kinds;
            if self.filters & kind::DROP != 0 && trace[i].end <= now && trace[i].dropped().is_some()
            {
                k |= kind::DROP;
            }
            k & self.filters != 0
        };
        let mut idx: Vec<usize> = (0..visible.min(rows.len()))
            .rev()
            .filter(|i| trace[*i].start <= now && matches(*i))
            .take(cap)
            .collect();
        idx.reverse();
        self.events_total = (0..visible.min(rows.len())).filter(|i| matches(*i)).count();
        if self.event_cache_replays != self.lab.replays() {
            self.event_cache.clear();
            self.event_cache_replays = self.lab.replays();
        }
        let mut cache = std::mem::take(&mut self.event_cache);
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
                        route: format!("{} → {}", self.lab.name(h.from), self.lab.name(h.to)),
                        summary: rows[i].summary.clone(),
                        proto: rows[i].proto,
                        encap: rows[i].kinds & kind::ENCAP != 0,
                        bum: rows[i].kinds & kind::BUM != 0,
                        outcome: if arrived {
                            h.decisions
                                .iter()
                                .map(|d| self.decision(d))
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
        self.event_cache = fresh;
        self.events = Rc::new(out);
    }

    fn decision(&self, d: &vtep_sim::Decision) -> String {
        use vtep_sim::Decision as D;
        match d {
            D::Received => "received by the host".into(),
            D::Routed { .. } => "routed".into(),
            D::Switched { ports, flooded } => {
                if *flooded {
                    format!("flooded to {ports} ports")
                } else {
                    "switched".into()
                }
            }
            D::Encapsulated { vni, copies } => format!(
                "encapsulated in VNI {vni}, {copies} cop{}",
                if *copies == 1 { "y" } else { "ies" }
            ),
            D::Decapsulated { vni } => format!("decapsulated from VNI {vni}"),
            D::DeliveredLocally { ports, .. } => format!(
                "delivered to {ports} local port{}",
                if *ports == 1 { "" } else { "s" }
            ),
            D::Learned { mac, moved, .. } => {
                format!("{} {mac}", if *moved { "moved" } else { "learned" })
            }
            D::Flooded {
                local_ports,
                remote_copies,
                ..
            } => format!(
                "BUM: flooded to {local_ports} local ports + {remote_copies} VTEPs (head-end replication)"
            ),
            D::ArpSuppressed { ip, .. } => {
                format!("ARP for {ip} answered by the VTEP (suppressed)")
            }
            D::ControlPlane(msg) => format!("control plane: {msg}"),
            D::Dropped(cause) => format!("DROPPED: {cause}"),
        }
    }

    fn refresh_detail(&mut self) {
        let Some(id) = self.selected else {
            self.detail = None;
            return;
        };
        if self.detail.as_ref().is_some_and(|d| {
            d.hop == id
                && d.decisions.len() == self.lab.hop(id).map(|h| h.decisions.len()).unwrap_or(0)
        }) {
            return;
        }
        let Some(hop) = self.lab.hop(id) else {
            self.detail = None;
            return;
        };
        let trace = self.lab.sim().trace();
        // The journey: ancestors, then every descendant, in time order.
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
        let steps = path
            .iter()
            .filter_map(|i| trace.get(*i as usize))
            .map(|h| {
                let to_hv = self.lab.kind(h.to) == Some(vtep_sim::NodeKind::Hypervisor);
                let from_hv = self.lab.kind(h.from) == Some(vtep_sim::NodeKind::Hypervisor);
                let tag = if to_hv {
                    Some(format!("in at {}", self.lab.name(h.to)))
                } else if from_hv {
                    Some(format!("out of {}", self.lab.name(h.from)))
                } else {
                    None
                };
                PathStep {
                    hop: h.id.0,
                    label: format!(
                        "{} → {}: {} B{}",
                        self.lab.name(h.from),
                        self.lab.name(h.to),
                        h.bytes.len(),
                        if self
                            .lab
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
            .collect();
        let summary = self
            .lab
            .rows()
            .get(id as usize)
            .map(|r| r.summary.clone())
            .unwrap_or_default();
        self.detail = Some(Rc::new(FrameDetail {
            hop: id,
            title: format!(
                "{} → {}: {summary}",
                self.lab.name(hop.from),
                self.lab.name(hop.to)
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
                .map(|d| format!("at {}: {}", self.lab.name(hop.to), self.decision(d)))
                .collect(),
            path: steps,
        }));
    }

    fn refresh_outcome(&mut self) {
        if self.lab.at_end() {
            if self.outcome.is_none() {
                self.outcome = outcome(&self.lab).map(Rc::new);
            }
        } else {
            self.outcome = None;
        }
    }

    fn glyphs(&mut self) -> Rc<Vec<Glyph>> {
        let linger = Duration::from_micros((speed_us_per_s(self.speed) * 0.6) as u64);
        let mut flights = self.lab.flights(linger);
        // A flood can put a thousand copies on the links at once; past a few hundred they
        // only stack on each other. Draw the oldest, and the selected frame always.
        if flights.len() > MAX_GLYPHS {
            let selected = self.selected;
            let mut n = 0;
            flights.retain(|f| {
                n += 1;
                n <= MAX_GLYPHS || selected == Some(f.hop)
            });
        }
        let layout = self.layout.clone();
        let vnis = &layout.vnis;
        Rc::new(
            flights
                .into_iter()
                .filter_map(|f| {
                    let a = layout.pos(f.from)?;
                    let b = layout.pos(f.to)?;
                    let row = self.lab.rows().get(f.hop as usize)?;
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
                .collect(),
        )
    }

    fn request_frame(&mut self, ctx: &Context<Self>) {
        let link = ctx.link().clone();
        self.raf = Some(gloo_render::request_animation_frame(move |ts| {
            link.send_message(Msg::Frame(ts));
        }));
    }

    fn act(&mut self, action: Action) {
        match self.lab.act(action.clone()) {
            Ok(()) => {
                self.message = Some((
                    false,
                    format!("at {}: {}", fmt_time(lab::us(self.lab.now())), action),
                ));
                self.outcome = None;
                self.update_hash();
            }
            Err(e) => self.message = Some((true, e)),
        }
        self.refresh_all();
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let dark = dom::prefers_dark();
        dom::set_theme(dark);
        let (script, message) = match script_from_hash(&dom::hash()) {
            Ok(s) => (s, None),
            Err(e) => (
                scenario::s1().script,
                Some((true, format!("could not load the link: {e}"))),
            ),
        };
        let keys = web_sys::window().map(|w| {
            let link = ctx.link().clone();
            EventListener::new_with_options(
                &w,
                "keydown",
                gloo_events::EventListenerOptions::enable_prevent_default(),
                move |e| {
                    if let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() {
                        link.send_message(Msg::Key(k.clone()));
                    }
                },
            )
        });
        let link = ctx.link();
        let cbs = Cbs {
            load: link.callback(Msg::Load),
            act: link.callback(Msg::Act),
            frame: link.callback(|h| Msg::SelectFrame(Some(h))),
            node: link.callback(Msg::SelectNode),
            filter: link.callback(Msg::Filter),
        };
        let mut app = App {
            cbs,
            speed: default_speed(&script),
            lab: Lab::new(script),
            playing: false,
            last_ts: None,
            carry_us: 0.0,
            raf: None,
            _keys: keys,
            selected: None,
            selected_node: None,
            filters: 0,
            tab: Tab::Lab,
            dark,
            tracker: Tracker::default(),
            tables: Rc::new(Vec::new()),
            tables_key: (u64::MAX, 0, 0, 0),
            layout: Rc::new(Layout::default()),
            layout_key: (u64::MAX, 0, 0),
            names: Names::default(),
            scenario: (None, None),
            events: Rc::new(Vec::new()),
            event_cache: HashMap::new(),
            event_cache_replays: 0,
            events_total: 0,
            events_key: (usize::MAX, 0, 0, 0, 0),
            detail: None,
            glyphs: Rc::new(Vec::new()),
            outcome: None,
            message,
            skipped: false,
            frames: 0,
            phases: dom::Phases::default(),
            timing: false,
        };
        app.refresh_all();
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Frame(ts) => {
                if !self.playing {
                    return false;
                }
                self.frames += 1;
                self.phases.start();
                self.timing = true;
                let dt = self
                    .last_ts
                    .map(|l| (ts - l).clamp(0.0, 100.0))
                    .unwrap_or(0.0);
                self.last_ts = Some(ts);
                self.carry_us += dt / 1000.0 * speed_us_per_s(self.speed);
                let whole = self.carry_us.floor();
                self.carry_us -= whole;
                let mut target = self.lab.now() + Duration::from_micros(whole as u64);
                if let Some(end) = self.lab.end() {
                    target = target.min(end);
                }
                self.lab.advance_to(target);
                // Nothing on the wire: jump to the next frame instead of showing an empty
                // network (at most half a second of virtual time per animation frame).
                self.skipped = self.lab.skip_idle(Duration::from_millis(500));
                self.phases.lap(dom::SIM);
                if self.lab.at_end() {
                    self.playing = false;
                    self.raf = None;
                    self.refresh_all();
                } else {
                    self.request_frame(ctx);
                    // The frames move every animation frame; the lists and tables (text, many
                    // rows) follow ten times a second, which reads the same and keeps 60 fps.
                    self.refresh_layout();
                    if self.frames.is_multiple_of(6) {
                        self.refresh_events();
                        self.refresh_tables();
                        self.refresh_detail();
                    }
                    self.glyphs = self.glyphs();
                }
                self.phases.lap(dom::MODEL);
            }
            Msg::TogglePlay => {
                self.playing = !self.playing;
                if self.playing {
                    if self.lab.at_end() {
                        self.lab.seek(vtep_core::Instant::ZERO);
                        self.tracker.reset();
                    }
                    self.last_ts = None;
                    self.request_frame(ctx);
                } else {
                    self.raf = None;
                }
                self.refresh_all();
            }
            Msg::Step => {
                self.playing = false;
                self.raf = None;
                if !self.lab.at_end() {
                    self.lab.step_forward();
                }
                self.refresh_all();
            }
            Msg::Back => {
                self.playing = false;
                self.raf = None;
                self.lab.step_back();
                self.refresh_all();
            }
            Msg::Reset => {
                self.playing = false;
                self.raf = None;
                self.lab.seek(vtep_core::Instant::ZERO);
                self.tracker.reset();
                self.refresh_all();
            }
            Msg::End => {
                self.playing = false;
                self.raf = None;
                let to = self
                    .lab
                    .end()
                    .unwrap_or(self.lab.now() + Duration::from_secs(1));
                self.lab.advance_to(to);
                self.refresh_all();
            }
            Msg::Speed(s) => self.speed = s.min(100),
            Msg::SelectFrame(h) => {
                self.selected = h;
                self.refresh_detail();
                self.refresh_events();
            }
            Msg::SelectNode(n) => {
                self.selected_node = Some(n);
                self.refresh_tables();
            }
            Msg::Filter(bit) => {
                self.filters ^= bit;
                self.refresh_events();
            }
            Msg::Load(id) => match script_from_hash(&id) {
                Ok(s) => self.load(s),
                Err(e) => self.message = Some((true, e)),
            },
            Msg::Tab(t) => self.tab = t,
            Msg::Theme => {
                self.dark = !self.dark;
                dom::set_theme(self.dark);
            }
            Msg::Act(a) => match a.into_actions(&self.lab) {
                Ok(actions) => {
                    for action in actions {
                        self.act(action);
                    }
                }
                Err(e) => self.message = Some((true, e)),
            },
            Msg::ExportJson => {
                let name = format!(
                    "overlay-lab-{}.json",
                    self.lab
                        .script()
                        .scenario
                        .clone()
                        .unwrap_or_else(|| "custom".into())
                );
                if let Err(e) = dom::script_to_json(self.lab.script(), true)
                    .and_then(|j| dom::download(&name, "application/json", j.as_bytes()))
                {
                    self.message = Some((true, e));
                }
            }
            Msg::Import(text) => match dom::script_from_json(&text) {
                Ok(s) => {
                    self.load(s);
                    self.message = Some((false, "script imported".into()));
                }
                Err(e) => self.message = Some((true, format!("import failed: {e}"))),
            },
            Msg::ImportError(e) => self.message = Some((true, e)),
            Msg::Pcap => {
                let name = format!(
                    "overlay-lab-{}.pcap",
                    self.lab
                        .script()
                        .scenario
                        .clone()
                        .unwrap_or_else(|| "custom".into())
                );
                if let Err(e) =
                    dom::download(&name, "application/vnd.tcpdump.pcap", &self.lab.pcap())
                {
                    self.message = Some((true, e));
                }
            }
            Msg::Key(e) => {
                let typing = e
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|el| {
                        matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA")
                    });
                if typing || e.ctrl_key() || e.meta_key() || e.alt_key() {
                    return false;
                }
                let msg = match e.key().as_str() {
                    " " => Msg::TogglePlay,
                    "ArrowRight" => Msg::Step,
                    "ArrowLeft" => Msg::Back,
                    "Home" => Msg::Reset,
                    "End" => Msg::End,
                    "+" | "=" => Msg::Speed(self.speed + 5),
                    "-" => Msg::Speed(self.speed.saturating_sub(5)),
                    "Escape" => Msg::SelectFrame(None),
                    _ => return false,
                };
                e.prevent_default();
                return <Self as Component>::update(self, ctx, msg);
            }
            Msg::Dismiss => self.message = None,
        }
        true
    }

    fn rendered(&mut self, _ctx: &Context<Self>, _first_render: bool) {
        if std::mem::take(&mut self.timing) {
            self.phases.lap(dom::VIEW);
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let link = ctx.link();
        let script = self.lab.script();
        let current = script.scenario.clone();
        let now_us = lab::us(self.lab.now());
        let end_us = script.end_us;
        html! {
            <div class="app" data-playing={self.playing.to_string()} data-t={now_us.to_string()}>
                <header class="top">
                    <h1 class="title">{ "Overlay Lab" }</h1>
                    <nav class="tabs">
                        <button class={classes!((self.tab == Tab::Lab).then_some("on"))} onclick={link.callback(|_| Msg::Tab(Tab::Lab))}>{ "Simulation" }</button>
                        <button class={classes!("tab-scale", (self.tab == Tab::Scale).then_some("on"))} onclick={link.callback(|_| Msg::Tab(Tab::Scale))}>{ "Scale (S5)" }</button>
                    </nav>
                    <div class="controls" role="toolbar" aria-label="time controls">
                        <button class="ctl reset" title="Reset to t = 0 (Home)" onclick={link.callback(|_| Msg::Reset)}>{ icon("M5 4v16M19 4 8 12l11 8z") }</button>
                        <button class="ctl back" title="Step back: replay to the previous event (←)" onclick={link.callback(|_| Msg::Back)}>{ icon("M17 4 6 12l11 8z") }</button>
                        <button class={classes!("ctl", "play", self.playing.then_some("on"))} title="Play / pause (space)" aria-pressed={self.playing.to_string()} onclick={link.callback(|_| Msg::TogglePlay)}>{ if self.playing { icon("M7 4h4v16H7zM14 4h4v16h-4z") } else { icon("M7 4l13 8-13 8z") } }</button>
                        <button class="ctl step" title="Step to the next event (→)" onclick={link.callback(|_| Msg::Step)}>{ icon("M7 4l11 8-11 8z") }</button>
                        <button class="ctl end" title="Run to the end (End)" onclick={link.callback(|_| Msg::End)}>{ icon("M5 4l11 8-11 8zM19 4v16") }</button>
                        <label class="speed" title="Virtual time per real second (+ / -)">
                            <input type="range" min="0" max="100" value={self.speed.to_string()} aria-label="speed"
                                oninput={link.callback(|e: InputEvent| Msg::Speed(e.target_unchecked_into::<web_sys::HtmlInputElement>().value().parse().unwrap_or(40)))} />
                            <span class="speed-label">{ speed_label(self.speed) }</span>
                        </label>
                        <span class="clock" title="virtual time">
                            { "t = " }<b class="time">{ fmt_time(now_us) }</b>
                            { end_us.map(|e| format!(" / {}", fmt_time(e))).unwrap_or_default() }
                            if self.skipped && self.playing { <span class="skip" title="nothing was on the wire: idle time skipped">{ " ≫ idle skipped" }</span> }
                        </span>
                    </div>
                    <div class="io">
                        <button class="pcap" title="Download every frame so far as a pcap file (opens in Wireshark)" onclick={link.callback(|_| Msg::Pcap)}>{ "pcap" }</button>
                        <button class="export" title="Export the scenario and your actions as JSON" onclick={link.callback(|_| Msg::ExportJson)}>{ "export" }</button>
                        <label class="import button" title="Import a scenario exported as JSON">{ "import" }
                            <input type="file" accept=".json,application/json" onchange={link.callback_future(|e: Event| async move {
                                let input: web_sys::HtmlInputElement = e.target_unchecked_into();
                                match dom::read_file(input).await { Ok(t) => Msg::Import(t), Err(e) => Msg::ImportError(e) }
                            })} />
                        </label>
                        <button class="theme" title="Light / dark theme" onclick={link.callback(|_| Msg::Theme)}>{ if self.dark { "☀" } else { "☾" } }</button>
                    </div>
                </header>
                if let Some((err, text)) = &self.message {
                    <div class={classes!("message", err.then_some("error"))} role="status">
                        { text }<button onclick={link.callback(|_| Msg::Dismiss)} aria-label="dismiss">{ "×" }</button>
                    </div>
                }
                if self.tab == Tab::Scale {
                    <main class="scale-main"><scale::ScaleView /></main>
                } else {
                    <main class="lab">
                        <aside class="side">
                            <Scenarios current={current.clone()} on_load={self.cbs.load.clone()} />
                            <panels::Narration scenario={self.scenario.1.clone()} outcome={self.outcome.clone()} at_end={self.lab.at_end()} />
                            <Actions lab_rev={self.lab.topology_rev()} hosts={self.names.hosts.clone()} hypervisors={self.names.hypervisors.clone()} sites={self.names.sites.clone()} vnis={self.layout.vnis.clone()} on_act={self.cbs.act.clone()} />
                        </aside>
                        <section class="stage">
                            <Topology layout={self.layout.clone()} glyphs={self.glyphs.clone()} selected={self.selected} selected_node={self.table_node().map(|n| n.0)}
                                on_frame={self.cbs.frame.clone()} on_node={self.cbs.node.clone()} />
                        </section>
                        <aside class="right">
                            <Inspector frame={self.detail.clone()} on_select={self.cbs.frame.clone()} />
                        </aside>
                        <section class="bottom">
                            <EventList rows={self.events.clone()} total={self.events_total} filters={self.filters} selected={self.selected}
                                on_filter={self.cbs.filter.clone()} on_select={self.cbs.frame.clone()} />
                            <Tables tables={self.tables.clone()} node={self.table_node().map(|n| self.lab.name(n)).unwrap_or_default()}
                                nodes={self.names.table_nodes.clone()} on_node={self.cbs.node.clone()} />
                        </section>
                    </main>
                }
            </div>
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

/// A 24x24 toolbar icon from one path.
fn icon(d: &'static str) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d={d} /></svg>
    }
}
