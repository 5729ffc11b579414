//! The page's header: the tabs, the time controls (reset, step back, play, step, next
//! interesting event, end, the speed as screen time per hop, pause on drop), the clock with the
//! idle time it just skipped, and the downloads, import and theme. It only renders; every
//! button is a [`Control`] for the app.

use vtep_core::Duration;
use yew::prelude::*;

use crate::dom;
use crate::model::pace::{DEFAULT_SPEED, speed_label};
use crate::model::results::fmt_dur;
use crate::model::view::fmt_time;

/// Which main view is shown.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tab {
    Lab,
    Scale,
}

/// What a header control asks the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Reset,
    Back,
    Play,
    Step,
    Next,
    End,
    Speed(u32),
    PauseOnDrop(bool),
    Pcap,
    Export,
    Import(String),
    ImportError(String),
    Theme,
    Tab(Tab),
}

#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    pub playing: bool,
    pub speed: u32,
    pub pause_on_drop: bool,
    pub now_us: u64,
    pub end_us: Option<u64>,
    /// Idle time the clock just jumped over, to say so.
    pub skipped: Option<Duration>,
    pub dark: bool,
    pub tab: Tab,
    pub on: Callback<Control>,
}

/// A 24x24 toolbar icon from one path.
fn icon(d: &'static str) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d={d} /></svg>
    }
}

#[function_component(Header)]
pub fn header(p: &HeaderProps) -> Html {
    let on = |c: Control| p.on.reform(move |_: MouseEvent| c.clone());
    let speed = p.on.reform(|e: InputEvent| {
        let v = e
            .target_unchecked_into::<web_sys::HtmlInputElement>()
            .value();
        Control::Speed(v.parse().unwrap_or(DEFAULT_SPEED))
    });
    let pause = p.on.reform(|e: Event| {
        Control::PauseOnDrop(
            e.target_unchecked_into::<web_sys::HtmlInputElement>()
                .checked(),
        )
    });
    let import = {
        let cb = p.on.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let cb = cb.clone();
            wasm_bindgen_futures::spawn_local(async move {
                cb.emit(match dom::read_file(input).await {
                    Ok(t) => Control::Import(t),
                    Err(e) => Control::ImportError(e),
                });
            });
        })
    };
    let tab = |t: Tab, class: &'static str, label: &'static str| {
        html! {
            <button class={classes!(class, (p.tab == t).then_some("on"))} onclick={on(Control::Tab(t))}>{ label }</button>
        }
    };
    html! {
        <header class="top">
            <h1 class="title">{ "Overlay Lab" }</h1>
            <nav class="tabs">
                { tab(Tab::Lab, "tab-lab", "Simulation") }
                { tab(Tab::Scale, "tab-scale", "Scale (S5)") }
            </nav>
            <div class="controls" role="toolbar" aria-label="time controls">
                <button class="ctl reset" title="Reset to t = 0 (Home)" onclick={on(Control::Reset)}>{ icon("M5 4v16M19 4 8 12l11 8z") }</button>
                <button class="ctl back" title="Step back: replay to the previous event (←)" onclick={on(Control::Back)}>{ icon("M17 4 6 12l11 8z") }</button>
                <button class={classes!("ctl", "play", p.playing.then_some("on"))} title="Play / pause (space)" aria-pressed={p.playing.to_string()} onclick={on(Control::Play)}>{ if p.playing { icon("M7 4h4v16H7zM14 4h4v16h-4z") } else { icon("M7 4l13 8-13 8z") } }</button>
                <button class="ctl step" title="Step to the next event (→)" onclick={on(Control::Step)}>{ icon("M7 4l11 8-11 8z") }</button>
                <button class="ctl next-ev" title="Next interesting event (n): an encapsulation, a drop, a MAC move, a flood, an ARP answered by a VTEP, a control-plane message" onclick={on(Control::Next)}>{ icon("M3 4l8 8-8 8zM12 4l8 8-8 8z") }</button>
                <button class="ctl end" title="Run to the end (End); in the sandbox, one second on" onclick={on(Control::End)}>{ icon("M5 4l11 8-11 8zM19 4v16") }</button>
                <label class="speed" title="Screen time each hop takes while playing (+ / -): short hops get their share, idle time is skipped">
                    <input type="range" min="0" max="100" value={p.speed.to_string()} aria-label="speed" oninput={speed} />
                    <span class="speed-label">{ speed_label(p.speed) }</span>
                </label>
                <label class="pod" title="Pause when a frame is dropped, with it selected">
                    <input type="checkbox" checked={p.pause_on_drop} aria-label="pause on drop" onchange={pause} />
                    { "pause on drop" }
                </label>
                <span class="clock" title="virtual time">
                    { "t = " }<b class="time">{ fmt_time(p.now_us) }</b>
                    { p.end_us.map(|e| format!(" / {}", fmt_time(e))).unwrap_or_default() }
                    if let Some(d) = p.skipped {
                        <span class="skip" data-skipped-us={d.total_micros().to_string()} title="nothing was on the wire: the clock jumped to the next frame">{ format!(" ⏩ skipped {} idle", fmt_dur(d)) }</span>
                    }
                </span>
            </div>
            <div class="io">
                <button class="pcap" title="Download every frame so far as a pcap file (opens in Wireshark)" onclick={on(Control::Pcap)}>{ "pcap" }</button>
                <button class="export" title="Export the scenario, your actions, the time and the selected frame as JSON" onclick={on(Control::Export)}>{ "export" }</button>
                <label class="import button" title="Import a scenario exported as JSON">{ "import" }
                    <input type="file" accept=".json,application/json" onchange={import} />
                </label>
                <button class="theme" title="Light / dark theme" onclick={on(Control::Theme)}>{ if p.dark { "☀" } else { "☾" } }</button>
            </div>
        </header>
    }
}
