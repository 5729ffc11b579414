//! The playground: the one stateful component. It owns the [`Lab`], turns user input and
//! animation frames into calls on it, and refreshes the view-models of [`crate::model::view`]
//! when what they are made from changed (named cache keys), so unchanged parts skip
//! re-rendering.

use std::rc::Rc;

use gloo_events::EventListener;
use gloo_render::AnimationFrame;
use vtep_core::Duration;
use vtep_sim::scenario::{self, Scenario};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::inspector::Inspector;
use super::panels::{self, Actions, EventList, FormAction, Scenarios, Tables};
use super::scale;
use super::topology::Topology;
use crate::dom;
use crate::model::lab::{self, Lab};
use crate::model::layout::Layout;
use crate::model::outcome::{Outcome, outcome};
use crate::model::script::{Action, Script};
use crate::model::tables::{Table, Tracker, tables};
use crate::model::view::{
    self, EventRows, FrameDetail, Glyph, LayoutKey, Names, TablesKey, fmt_time, speed_label,
    speed_us_per_s,
};

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
    tables_key: Option<TablesKey>,
    layout: Rc<Layout>,
    layout_key: Option<LayoutKey>,
    /// Read from the simulator when the layout changes, not every frame.
    names: Names,
    /// The script's scenario id and that guided scenario (none for the sandbox or `load`).
    scenario: (Option<String>, Option<Rc<Scenario>>),
    events: EventRows,
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

/// The script the URL asks for: `#S4`, `#scenario=S4`, `#sandbox`, `#load`, `#script=<json>`.
fn script_from_hash(hash: &str) -> Result<Script, String> {
    match hash.trim().strip_prefix("script=") {
        Some(json) => dom::script_from_json(json),
        None => view::script_named(hash),
    }
}

impl App {
    fn load(&mut self, script: Script) {
        self.speed = view::default_speed(&script);
        self.lab = Lab::new(script);
        self.events.clear();
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
        if let Some(short) = view::short_hash(s) {
            dom::set_hash(&short);
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
        self.refresh_glyphs();
    }

    fn refresh_layout(&mut self) {
        let key = LayoutKey::of(&self.lab);
        if Some(key) != self.layout_key {
            self.layout = Rc::new(Layout::new(self.lab.sim(), Some(&self.layout)));
            self.layout_key = Some(key);
            self.names = Names::new(&self.lab, &self.layout);
        }
        let id = &self.lab.script().scenario;
        if self.scenario.0 != *id {
            self.scenario = (
                id.clone(),
                id.as_deref().and_then(view::find_scenario).map(Rc::new),
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
        let key = TablesKey::of(&self.lab, node);
        if Some(key) == self.tables_key {
            return;
        }
        self.tables_key = Some(key);
        let mut t = tables(self.lab.sim(), node);
        self.tracker.stamp(node, &mut t);
        self.tables = Rc::new(t);
    }

    fn refresh_events(&mut self) {
        // Playing, the list scrolls to the newest row at every update, so only the rows near
        // the bottom can be seen: keep fewer (a burst of frames then rebuilds 40 rows, not
        // 150). Paused, the last 150, to scroll back through.
        let cap = if self.playing {
            EVENTS_PLAYING
        } else {
            EVENTS_PAUSED
        };
        self.events
            .refresh(&self.lab, self.filters, self.selected, cap);
    }

    fn refresh_detail(&mut self) {
        let Some(id) = self.selected else {
            self.detail = None;
            return;
        };
        if self
            .detail
            .as_ref()
            .is_some_and(|d| d.is_current(&self.lab, id))
        {
            return;
        }
        self.detail = FrameDetail::new(&self.lab, id).map(Rc::new);
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

    fn refresh_glyphs(&mut self) {
        let layout = self.layout.clone();
        self.glyphs = Rc::new(view::glyphs(
            &mut self.lab,
            &layout,
            self.speed,
            self.selected,
        ));
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
            speed: view::default_speed(&script),
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
            tables_key: None,
            layout: Rc::new(Layout::default()),
            layout_key: None,
            names: Names::default(),
            scenario: (None, None),
            events: EventRows::default(),
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
                    self.refresh_glyphs();
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
                let name = view::download_name(self.lab.script(), "json");
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
                let name = view::download_name(self.lab.script(), "pcap");
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
                            <EventList rows={self.events.rows.clone()} total={self.events.total} filters={self.filters} selected={self.selected}
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

/// A 24x24 toolbar icon from one path.
fn icon(d: &'static str) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d={d} /></svg>
    }
}
