//! The playground: the one stateful component. It owns the [`Lab`], turns user input and
//! animation frames into calls on it (the [`Pacer`] moves the clock while playing), and
//! refreshes the view-models of [`crate::model`] when what they are made from changed (named
//! cache keys), so unchanged parts skip re-rendering. The URL follows the run: a new scenario
//! is a history entry (Back returns to the last one), and when paused the fragment carries the
//! time and the selected frame, so any moment can be linked.

use std::rc::Rc;

use gloo_events::EventListener;
use gloo_render::AnimationFrame;
use vtep_core::{Duration, Instant};
use vtep_sim::scenario::{self, Scenario};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::actions::Actions;
use super::events::EventList;
use super::header::{Control, Header};
use super::inspector::Inspector;
use super::panels::{self, Scenarios, Tables};
use super::scale;
use super::topology::Topology;
use crate::dom;
use crate::model::events::{EventRows, Filters, Window};
use crate::model::forms::{Choices, FormAction};
use crate::model::fragment::{self, Moment, Shared};
use crate::model::frame::FrameDetail;
use crate::model::lab::{self, Lab};
use crate::model::layout::Layout;
use crate::model::outcome::{Outcome, outcome};
use crate::model::pace::{self, DEFAULT_SPEED, Pacer};
use crate::model::results::{self, ResultLine};
use crate::model::script::{Action, Script, at};
use crate::model::tables::{Table, Tracker, tables};
use crate::model::timeline::{self, Chapter};
use crate::model::view::{self, Glyph, LayoutKey, Names, TablesKey, fmt_time};

pub use super::header::Tab;

pub enum Msg {
    Frame(f64),
    /// A header control (also the keyboard's).
    Control(Control),
    /// A frame clicked on the map (it is on screen: the clock stays).
    SelectFrame(Option<u32>),
    /// Go to a frame: the clock and the map move to it, and it is selected.
    Goto(u32),
    /// Go to a time (microseconds).
    Seek(u64),
    SelectNode(u32),
    Filter(Filters),
    Scroll((usize, bool)),
    ShowAll(bool),
    Load(String),
    /// The user went Back or Forward in the history.
    PopState,
    Act(FormAction),
    Key(web_sys::KeyboardEvent),
    Dismiss,
}

/// Callbacks made once, so children whose props did not change skip re-rendering (a new
/// `Callback` each view would never compare equal).
struct Cbs {
    load: Callback<String>,
    act: Callback<FormAction>,
    frame: Callback<u32>,
    goto: Callback<u32>,
    seek: Callback<u64>,
    node: Callback<u32>,
    filter: Callback<Filters>,
    scroll: Callback<(usize, bool)>,
    all: Callback<bool>,
    next: Callback<()>,
    control: Callback<Control>,
    close: Callback<()>,
}

/// How long a drop's cross stays on the map while playing, and how long the note on skipped
/// idle time stays, in real milliseconds.
const DROP_MS: f64 = 1500.0;
/// Rows of the event list built while playing and following the newest.
const PLAYING_ROWS: usize = 30;
const SKIP_MS: f64 = 1500.0;

/// The playground.
pub struct App {
    cbs: Cbs,
    lab: Lab,
    pacer: Pacer,
    playing: bool,
    /// Slider position 0..=100: screen time per hop ([`pace::hop_ms`]).
    speed: u32,
    last_ts: Option<f64>,
    raf: Option<AnimationFrame>,
    _keys: Option<EventListener>,
    _history: Option<EventListener>,
    selected: Option<u32>,
    selected_node: Option<u32>,
    filters: Filters,
    window: Window,
    tab: Tab,
    dark: bool,
    tracker: Tracker,
    tables: Rc<Vec<Table>>,
    tables_key: Option<TablesKey>,
    layout: Rc<Layout>,
    layout_key: Option<LayoutKey>,
    /// Read from the simulator when the layout changes, not every frame.
    names: Names,
    nodes: Rc<Vec<(u32, String)>>,
    vnis: Rc<Vec<u32>>,
    choices: Rc<Choices>,
    /// The script's scenario id and that guided scenario (none for the sandbox or `load`).
    scenario: (Option<String>, Option<Rc<Scenario>>),
    events: EventRows,
    detail: Option<Rc<FrameDetail>>,
    glyphs: Rc<Vec<Glyph>>,
    outcome: Option<Rc<Outcome>>,
    results: Rc<Vec<ResultLine>>,
    results_key: Option<(u64, u64, usize)>,
    chapters: Rc<Vec<Chapter>>,
    chapters_key: Option<(usize, u64, u64)>,
    /// The view time the event list and timeline were last refreshed at (they follow ten
    /// times a second while playing, not every animation frame).
    events_us: u64,
    message: Option<(bool, String)>,
    /// Drop crosses on the map: hop, and since when (real ms) while playing.
    drops: Vec<(u32, f64)>,
    pause_on_drop: bool,
    /// Idle time skipped lately (virtual), and until when (real ms) to say so.
    skipped: Option<(Duration, f64)>,
    frames: u64,
    /// Per-frame timings, for the bench; `timing` while an animation frame is being rendered.
    phases: dom::Phases,
    timing: bool,
}

impl App {
    fn stop(&mut self) {
        self.playing = false;
        self.raf = None;
        self.pacer.reset();
    }

    fn load(&mut self, script: Script, moment: Moment, push: bool) {
        self.stop();
        self.lab = Lab::new(script);
        self.events.clear();
        self.window = Window::default();
        self.selected = None;
        self.selected_node = None;
        self.tracker.reset();
        self.outcome = None;
        self.message = None;
        self.drops.clear();
        self.skipped = None;
        self.apply_moment(moment);
        self.refresh_all();
        self.update_hash(push);
    }

    /// Goes to a shared moment: its time, its frame selected.
    fn apply_moment(&mut self, m: Moment) {
        if let Some(t) = m.t_us {
            self.lab.seek(at(t));
            self.settle_drops();
        }
        self.selected = m.frame.filter(|f| self.lab.hop(*f).is_some());
    }

    fn moment(&self) -> Moment {
        Moment {
            t_us: Some(lab::us(self.lab.now())).filter(|t| *t > 0),
            frame: self.selected,
        }
    }

    /// The URL follows the run (a new history entry when `push`).
    fn update_hash(&self, push: bool) {
        let s = self.lab.script();
        let spec = if let Some(short) = view::short_hash(s) {
            short
        } else if let Ok(json) = dom::script_to_json(s, false) {
            format!("script={}", dom::encode(&json))
        } else {
            return;
        };
        let m = if self.playing {
            Moment::default()
        } else {
            self.moment()
        };
        dom::set_hash(&fragment::join(&spec, m), push);
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
            self.nodes = Rc::new(self.names.table_nodes.clone());
            self.vnis = Rc::new(self.layout.vnis.clone());
            self.choices = Rc::new(Choices::new(&self.lab));
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
        self.events_us = lab::us(self.lab.now());
        // Playing and following the newest, only the rows near the bottom can be seen: fewer
        // rows to build ten times a second.
        let window = Window {
            len: if self.playing && self.window.follow {
                PLAYING_ROWS
            } else {
                self.window.len
            },
            ..self.window
        };
        self.events
            .refresh(&self.lab, self.filters, self.selected, window);
        // The chapters scan the whole trace: while playing, once a second.
        if self.playing && !self.frames.is_multiple_of(60) {
            return;
        }
        let key = (
            self.lab.sim().trace().len(),
            self.lab.replays(),
            lab::us(self.lab.now()),
        );
        if self.chapters_key != Some(key) {
            self.chapters_key = Some(key);
            self.chapters = Rc::new(timeline::chapters(&self.lab));
        }
        let key = results::key(&self.lab);
        if self.results_key != Some(key) {
            self.results_key = Some(key);
            self.results = Rc::new(results::results(&self.lab));
        }
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

    /// The outcome box, once the run reached its end; it stays while the user goes back over
    /// the run, until the script changes or the clock is reset.
    fn refresh_outcome(&mut self) {
        if self.lab.at_end() && self.outcome.is_none() {
            self.outcome = outcome(&self.lab).map(Rc::new);
        }
    }

    fn refresh_glyphs(&mut self) {
        let layout = self.layout.clone();
        let drops: Vec<u32> = self.drops.iter().map(|d| d.0).collect();
        self.glyphs = Rc::new(view::glyphs(&mut self.lab, &layout, self.selected, &drops));
    }

    /// After a move that is not playing (a step, a seek): the crosses are the drops at the
    /// new time, and stay until the next move.
    fn settle_drops(&mut self) {
        let t = self.lab.now();
        self.show_drops_since(
            t.max(Instant::ZERO + Duration::from_micros(1)) - Duration::from_micros(1),
        );
    }

    /// The crosses of the drops since `before`, until the next move.
    fn show_drops_since(&mut self, before: Instant) {
        let now = self.lab.now();
        self.drops = self
            .lab
            .drops_in(before, now)
            .into_iter()
            .map(|h| (h, 0.0))
            .collect();
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
            }
            Err(e) => self.message = Some((true, e)),
        }
        self.refresh_all();
    }

    /// Goes to hop `id`: the clock to the moment it is on its link (a drop: when it is
    /// dropped), the frame selected.
    fn goto(&mut self, id: u32, at_decision: bool) {
        let Some(h) = self.lab.hop(id) else { return };
        let t = if at_decision || h.dropped().is_some() {
            h.end
        } else {
            h.start + (h.end - h.start) / 2
        };
        self.stop();
        self.lab.seek(t);
        self.selected = Some(id);
        // The list shows the newest rows again, the frame among them.
        self.window.follow = true;
        self.settle_drops();
        self.refresh_all();
        self.update_hash(false);
    }

    /// One animation frame of playing.
    fn frame(&mut self, ctx: &Context<Self>, ts: f64) {
        self.frames += 1;
        self.phases.start();
        self.timing = true;
        let dt = self
            .last_ts
            .map(|l| (ts - l).clamp(0.0, 100.0))
            .unwrap_or(0.0);
        self.last_ts = Some(ts);
        let tick = self.pacer.tick(&mut self.lab, dt, pace::hop_ms(self.speed));
        if tick.skipped > Duration::ZERO {
            let before = self
                .skipped
                .filter(|s| s.1 > ts)
                .map_or(Duration::ZERO, |s| s.0);
            self.skipped = Some((before + tick.skipped, ts + SKIP_MS));
        }
        self.drops.retain(|d| ts - d.1 < DROP_MS);
        let first_drop = tick.dropped.first().copied();
        self.drops.extend(tick.dropped.into_iter().map(|h| (h, ts)));
        self.phases.lap(dom::SIM);
        if self.pause_on_drop
            && let Some(h) = first_drop
        {
            self.stop();
            self.selected = Some(h);
            self.refresh_all();
            self.update_hash(false);
        } else if self.lab.at_end() {
            self.stop();
            self.refresh_all();
            self.update_hash(false);
        } else {
            self.request_frame(ctx);
            // The frames move every animation frame; the lists and tables (text, many rows)
            // follow ten times a second, which reads the same and keeps 60 fps.
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
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let dark = dom::prefers_dark();
        dom::set_theme(dark);
        let (spec, url_moment) = fragment::split(&dom::raw_hash());
        let (script, moment, message) = match dom::script_from_spec(&spec) {
            Ok((s, m)) => {
                let m = Moment {
                    t_us: url_moment.t_us.or(m.t_us),
                    frame: url_moment.frame.or(m.frame),
                };
                (s, m, None)
            }
            Err(e) => (
                scenario::s1().script,
                Moment::default(),
                Some((true, format!("could not load the link: {e}"))),
            ),
        };
        let window = web_sys::window();
        let keys = window.as_ref().map(|w| {
            let link = ctx.link().clone();
            EventListener::new_with_options(
                w,
                "keydown",
                gloo_events::EventListenerOptions::enable_prevent_default(),
                move |e| {
                    if let Some(k) = e.dyn_ref::<web_sys::KeyboardEvent>() {
                        link.send_message(Msg::Key(k.clone()));
                    }
                },
            )
        });
        let history = window.as_ref().map(|w| {
            let link = ctx.link().clone();
            EventListener::new(w, "popstate", move |_| link.send_message(Msg::PopState))
        });
        let link = ctx.link();
        let cbs = Cbs {
            load: link.callback(Msg::Load),
            act: link.callback(Msg::Act),
            frame: link.callback(|h| Msg::SelectFrame(Some(h))),
            goto: link.callback(Msg::Goto),
            seek: link.callback(Msg::Seek),
            node: link.callback(Msg::SelectNode),
            filter: link.callback(Msg::Filter),
            scroll: link.callback(Msg::Scroll),
            all: link.callback(Msg::ShowAll),
            next: link.callback(|()| Msg::Control(Control::Next)),
            control: link.callback(Msg::Control),
            close: link.callback(|()| Msg::SelectFrame(None)),
        };
        let mut app = App {
            cbs,
            lab: Lab::new(script),
            pacer: Pacer::default(),
            playing: false,
            speed: DEFAULT_SPEED,
            last_ts: None,
            raf: None,
            _keys: keys,
            _history: history,
            selected: None,
            selected_node: None,
            filters: Filters::default(),
            window: Window::default(),
            tab: Tab::Lab,
            dark,
            tracker: Tracker::default(),
            tables: Rc::new(Vec::new()),
            tables_key: None,
            layout: Rc::new(Layout::default()),
            layout_key: None,
            names: Names::default(),
            nodes: Rc::new(Vec::new()),
            vnis: Rc::new(Vec::new()),
            choices: Rc::new(Choices::default()),
            scenario: (None, None),
            events: EventRows::default(),
            detail: None,
            glyphs: Rc::new(Vec::new()),
            outcome: None,
            results: Rc::new(Vec::new()),
            results_key: None,
            chapters: Rc::new(Vec::new()),
            chapters_key: None,
            events_us: 0,
            message,
            drops: Vec::new(),
            pause_on_drop: false,
            skipped: None,
            frames: 0,
            phases: dom::Phases::default(),
            timing: false,
        };
        app.apply_moment(moment);
        app.refresh_all();
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        match msg {
            Msg::Frame(ts) => {
                if !self.playing {
                    return false;
                }
                self.frame(ctx, ts);
            }
            Msg::Control(Control::Play) => {
                if self.playing {
                    self.stop();
                    self.update_hash(false);
                } else {
                    if self.lab.at_end() {
                        self.lab.seek(Instant::ZERO);
                        self.tracker.reset();
                        self.outcome = None;
                    }
                    self.playing = true;
                    self.pacer.reset();
                    self.drops.clear();
                    self.last_ts = None;
                    self.request_frame(ctx);
                }
                self.refresh_all();
            }
            Msg::Control(Control::Step) => {
                self.stop();
                if !self.lab.at_end() {
                    let before = self.lab.now();
                    self.lab.step_forward();
                    self.show_drops_since(before);
                }
                self.refresh_all();
                self.update_hash(false);
            }
            Msg::Control(Control::Back) => {
                self.stop();
                self.lab.step_back();
                self.settle_drops();
                self.refresh_all();
                self.update_hash(false);
            }
            Msg::Control(Control::Reset) => {
                self.stop();
                self.outcome = None;
                self.lab.seek(Instant::ZERO);
                self.tracker.reset();
                self.drops.clear();
                self.refresh_all();
                self.update_hash(false);
            }
            Msg::Control(Control::End) => {
                self.stop();
                let to = self
                    .lab
                    .end()
                    .unwrap_or(self.lab.now() + Duration::from_secs(1));
                self.lab.advance_to(to);
                self.settle_drops();
                self.refresh_all();
                self.update_hash(false);
            }
            Msg::Control(Control::Next) => {
                self.stop();
                let before = self.lab.now();
                match timeline::next_interesting(&mut self.lab) {
                    Some(h) => self.goto(h, true),
                    None => {
                        if self.lab.now() != before {
                            self.lab.seek(before);
                        }
                        self.message = Some((false, "nothing more of interest ahead".into()));
                        self.refresh_all();
                    }
                }
            }
            Msg::Control(Control::Speed(s)) => self.speed = s.min(100),
            Msg::SelectFrame(h) => {
                self.selected = h;
                self.refresh_detail();
                self.refresh_events();
                if !self.playing {
                    self.update_hash(false);
                }
            }
            Msg::Goto(h) => self.goto(h, false),
            Msg::Seek(us) => {
                self.stop();
                self.lab.seek(at(us));
                self.settle_drops();
                self.refresh_all();
                self.update_hash(false);
            }
            Msg::SelectNode(n) => {
                self.selected_node = Some(n);
                self.refresh_tables();
            }
            Msg::Filter(f) => {
                self.filters = f;
                self.window.follow = true;
                self.refresh_events();
            }
            Msg::Scroll((first, bottom)) => {
                if self.window.first == first && self.window.follow == bottom {
                    return false;
                }
                self.window.first = first;
                self.window.follow = bottom;
                self.refresh_events();
            }
            Msg::ShowAll(all) => {
                self.window.all = all;
                self.window.follow = true;
                self.refresh_events();
            }
            Msg::Control(Control::PauseOnDrop(on)) => self.pause_on_drop = on,
            Msg::Load(id) => match view::script_named(&id) {
                Ok(s) => self.load(s, Moment::default(), true),
                Err(e) => self.message = Some((true, e)),
            },
            Msg::PopState => {
                let (spec, m) = fragment::split(&dom::raw_hash());
                match dom::script_from_spec(&spec) {
                    Ok((s, _)) if s == *self.lab.script() => {
                        self.stop();
                        if let Some(t) = m.t_us.or(Some(0)) {
                            self.lab.seek(at(t));
                        }
                        self.selected = m.frame;
                        self.settle_drops();
                        self.refresh_all();
                    }
                    Ok((s, _)) => {
                        self.load(s, Moment::default(), false);
                        self.apply_moment(m);
                        self.refresh_all();
                    }
                    Err(e) => self.message = Some((true, format!("could not load the link: {e}"))),
                }
            }
            Msg::Control(Control::Tab(t)) => self.tab = t,
            Msg::Control(Control::Theme) => {
                self.dark = !self.dark;
                dom::set_theme(self.dark);
            }
            Msg::Act(a) => {
                let before = self.lab.script().actions.len();
                match a.into_actions(&self.lab) {
                    Ok(actions) => {
                        for action in actions {
                            self.act(action);
                        }
                    }
                    Err(e) => self.message = Some((true, e)),
                }
                if self.lab.script().actions.len() != before {
                    self.update_hash(false);
                }
            }
            Msg::Control(Control::Export) => {
                let name = view::download_name(self.lab.script(), "json");
                let m = self.moment();
                let shared = Shared {
                    script: self.lab.script().clone(),
                    t_us: m.t_us,
                    frame: m.frame,
                };
                if let Err(e) = dom::shared_to_json(&shared, true)
                    .and_then(|j| dom::download(&name, "application/json", j.as_bytes()))
                {
                    self.message = Some((true, e));
                }
            }
            Msg::Control(Control::Import(text)) => match dom::script_from_json(&text) {
                Ok(s) => {
                    let m = s.moment();
                    self.load(s.script, m, true);
                    self.message = Some((false, "script imported".into()));
                }
                Err(e) => self.message = Some((true, format!("import failed: {e}"))),
            },
            Msg::Control(Control::ImportError(e)) => self.message = Some((true, e)),
            Msg::Control(Control::Pcap) => {
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
                    " " => Msg::Control(Control::Play),
                    "ArrowRight" => Msg::Control(Control::Step),
                    "ArrowLeft" => Msg::Control(Control::Back),
                    "Home" => Msg::Control(Control::Reset),
                    "End" => Msg::Control(Control::End),
                    "n" | "N" => Msg::Control(Control::Next),
                    "+" | "=" => Msg::Control(Control::Speed(self.speed + 5)),
                    "-" => Msg::Control(Control::Speed(self.speed.saturating_sub(5))),
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
        let script = self.lab.script();
        // A script of no guided scenario is the sandbox (or built on it).
        let current = Some(script.scenario.clone().unwrap_or_else(|| "sandbox".into()));
        let now_us = lab::us(self.lab.now());
        let end_us = script.end_us;
        let skipped = self
            .skipped
            .filter(|s| self.playing && s.1 > self.last_ts.unwrap_or(0.0));
        html! {
            <div class="app" data-playing={self.playing.to_string()} data-t={now_us.to_string()}>
                <Header playing={self.playing} speed={self.speed} pause_on_drop={self.pause_on_drop} now_us={now_us} end_us={end_us}
                    skipped={skipped.map(|s| s.0)} dark={self.dark} tab={self.tab} on={self.cbs.control.clone()} />
                if let Some((err, text)) = &self.message {
                    <div class={classes!("message", err.then_some("error"))} role="status">
                        <span>{ text }</span><button onclick={ctx.link().callback(|_| Msg::Dismiss)} aria-label="dismiss">{ "×" }</button>
                    </div>
                }
                if self.tab == Tab::Scale {
                    <main class="scale-main"><scale::ScaleView /></main>
                } else {
                    <main class="lab">
                        <aside class="side">
                            <Scenarios current={current.clone()} on_load={self.cbs.load.clone()} />
                            <panels::Narration scenario={self.scenario.1.clone()} outcome={self.outcome.clone()} at_end={self.lab.at_end()} results={self.results.clone()} />
                            <Actions choices={self.choices.clone()} on_act={self.cbs.act.clone()} />
                        </aside>
                        <section class="stage">
                            <Topology layout={self.layout.clone()} glyphs={self.glyphs.clone()} selected={self.selected} selected_node={self.table_node().map(|n| n.0)}
                                on_frame={self.cbs.frame.clone()} on_node={self.cbs.node.clone()} />
                        </section>
                        <aside class={classes!("right", self.detail.is_none().then_some("idle"))}>
                            <Inspector frame={self.detail.clone()} on_select={self.cbs.goto.clone()} on_close={self.cbs.close.clone()} />
                        </aside>
                        <section class="bottom">
                            <EventList rows={self.events.rows.clone()} start={self.events.start} listed={self.events.listed} total={self.events.total}
                                all={self.window.all} follow={self.window.follow} filters={self.filters} nodes={self.nodes.clone()} vnis={self.vnis.clone()}
                                selected={self.selected} chapters={self.chapters.clone()} now_us={self.events_us} end_us={end_us}
                                on_filter={self.cbs.filter.clone()} on_goto={self.cbs.goto.clone()} on_seek={self.cbs.seek.clone()}
                                on_scroll={self.cbs.scroll.clone()} on_all={self.cbs.all.clone()} on_next={self.cbs.next.clone()} />
                            <Tables tables={self.tables.clone()} node={self.table_node().map(|n| self.lab.name(n)).unwrap_or_default()}
                                nodes={self.names.table_nodes.clone()} on_node={self.cbs.node.clone()} />
                        </section>
                    </main>
                }
            </div>
        }
    }
}
