//! The event list as a timeline: the run's chapters (click one to go there), filters by kind,
//! node and virtual network, "next interesting event", and the list itself. Only the rows in
//! view are drawn (the list scrolls over all of them: see `model::events`); clicking a row
//! moves the clock and the map to that frame.

use std::rc::Rc;

use yew::prelude::*;

use crate::model::events::{EventRow, Filters, count_label};
use crate::model::lab::kind;
use crate::model::timeline::Chapter;
use crate::model::view::fmt_time;

/// Height of a row, in CSS pixels (index.html's `.event` has the same).
pub const ROW_PX: f64 = 20.0;

/// Rows drawn above the first one in view (and as many below), so scrolling shows no gap.
pub const OVERSCAN: usize = 20;

#[derive(Properties, PartialEq)]
pub struct EventListProps {
    /// The rows drawn, oldest first; `start` is the first one's place in the list.
    pub rows: Rc<Vec<Rc<EventRow>>>,
    pub start: usize,
    pub listed: usize,
    pub total: usize,
    /// The whole run listed, not only the newest rows.
    pub all: bool,
    /// The newest row kept in view.
    pub follow: bool,
    pub filters: Filters,
    /// Nodes and VNIs to filter by.
    pub nodes: Rc<Vec<(u32, String)>>,
    pub vnis: Rc<Vec<u32>>,
    pub selected: Option<u32>,
    pub chapters: Rc<Vec<Chapter>>,
    pub now_us: u64,
    pub end_us: Option<u64>,
    pub on_filter: Callback<Filters>,
    pub on_goto: Callback<u32>,
    pub on_seek: Callback<u64>,
    /// The first row in view, and whether the list is scrolled to its end.
    pub on_scroll: Callback<(usize, bool)>,
    pub on_all: Callback<bool>,
    pub on_next: Callback<()>,
}

#[function_component(EventList)]
pub fn event_list(p: &EventListProps) -> Html {
    let list = use_node_ref();
    // Where the list last scrolled itself to: the scroll event that causes comes later (maybe
    // after more rows arrived) and must not read as the user scrolling up.
    let scrolled_to = use_mut_ref(|| None::<i32>);
    {
        // Following, keep the newest event in view.
        let (list, scrolled_to) = (list.clone(), scrolled_to.clone());
        let newest = (p.rows.last().map(|r| r.hop), p.listed, p.follow);
        use_effect_with(newest, move |(_, _, follow)| {
            if *follow && let Some(el) = list.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
                *scrolled_to.borrow_mut() = Some(el.scroll_top());
            }
        });
    }
    let onscroll = {
        let cb = p.on_scroll.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::Element = e.target_unchecked_into();
            let at = el.scroll_top();
            if scrolled_to.borrow_mut().take() == Some(at) {
                return;
            }
            let top = f64::from(at);
            let first = (top / ROW_PX) as usize;
            let bottom =
                top + f64::from(el.client_height()) >= f64::from(el.scroll_height()) - ROW_PX;
            cb.emit((first.saturating_sub(OVERSCAN), bottom));
        })
    };
    let f = p.filters;
    let set = |g: Filters| p.on_filter.reform(move |_: MouseEvent| g);
    let on_node = on_select(&p.on_filter, move |v| Filters {
        node: v.parse().ok(),
        ..f
    });
    let on_vni = on_select(&p.on_filter, move |v| Filters {
        vni: v.parse().ok(),
        ..f
    });
    let height = format!("height: {}px", p.listed as f64 * ROW_PX);
    let shift = format!("transform: translateY({}px)", p.start as f64 * ROW_PX);
    let all = p.all;
    html! {
        <section class="events">
            <Timeline chapters={p.chapters.clone()} now_us={p.now_us} end_us={p.end_us} on_seek={p.on_seek.clone()} on_goto={p.on_goto.clone()} />
            <div class="filters" role="group" aria-label="event filters">
                <h2>{ "Events" }</h2>
                { for kind::FILTERS.iter().map(|(bit, label, tip)| {
                    let b = *bit;
                    let on = f.kinds & b != 0;
                    html! {
                        <button class={classes!("filter", on.then_some("on"))} title={*tip}
                            data-filter={*label} aria-pressed={on.to_string()}
                            onclick={set(Filters { kinds: f.kinds ^ b, ..f })}>{ *label }</button>
                    }
                }) }
                <select class="node-filter" aria-label="only the frames of a node" onchange={on_node}>
                    <option value="" selected={f.node.is_none()}>{ "any node" }</option>
                    { for p.nodes.iter().map(|(id, name)| html! {
                        <option value={id.to_string()} selected={f.node == Some(*id)}>{ name }</option>
                    }) }
                </select>
                <select class="vni-filter" aria-label="only the frames of a virtual network" onchange={on_vni}>
                    <option value="" selected={f.vni.is_none()}>{ "any VNI" }</option>
                    { for p.vnis.iter().map(|v| html! {
                        <option value={v.to_string()} selected={f.vni == Some(*v)}>{ format!("VNI {v}") }</option>
                    }) }
                </select>
                <button class="next" title="Next interesting event (n): an encapsulation or decapsulation, a drop, a MAC move, a flood, an ARP answered by a VTEP, a gratuitous ARP, a control-plane message"
                    onclick={p.on_next.reform(|_: MouseEvent| ())}>{ "next »" }</button>
                <span class="count">{ count_label(p.listed, p.total) }</span>
                if p.listed < p.total || all {
                    <button class="show-all" title={if all { "List only the newest 150 frames" } else { "List every frame of the run (the list draws only the rows in view)" }}
                        onclick={p.on_all.reform(move |_: MouseEvent| !all)}>{ if all { "newest only" } else { "show all" } }</button>
                }
            </div>
            <div class="event-list" ref={list} {onscroll} data-follow={p.follow.to_string()}>
                if p.rows.is_empty() {
                    <p class="hint">{ "No frames yet. Press play (space) or step (→)." }</p>
                }
                <div class="event-space" style={height}>
                    <div class="event-rows" style={shift}>
                        { for p.rows.iter().map(|r| html! {
                            <EventItem key={r.hop} row={r.clone()} selected={p.selected == Some(r.hop)} on_select={p.on_goto.clone()} />
                        }) }
                    </div>
                </div>
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct EventItemProps {
    pub row: Rc<EventRow>,
    pub selected: bool,
    pub on_select: Callback<u32>,
}

/// One event: re-rendered only when its row or its selection changes.
#[function_component(EventItem)]
pub fn event_item(p: &EventItemProps) -> Html {
    let r = &p.row;
    let hop = r.hop;
    html! {
        <div class={classes!("event", format!("p-{}", r.proto), r.dropped.then_some("dropped"), p.selected.then_some("sel"))}
             title={r.tip.clone()} onclick={p.on_select.reform(move |_: MouseEvent| hop)} data-hop={r.hop.to_string()}>
            <span class="et">{ &r.time }</span>
            <span class="er">{ &r.route }</span>
            <span class="es">
                if r.encap { <span class="badge encap" title="On the underlay, inside the tunnel headers">{ "encap" }</span> }
                if r.bum { <span class="badge bum" title="Broadcast, unknown-unicast or multicast: flooded to every VTEP of the VNI (head-end replication)">{ "BUM" }</span> }
                { &r.summary }
            </span>
            <span class="eo">{ &r.outcome }</span>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct TimelineProps {
    chapters: Rc<Vec<Chapter>>,
    now_us: u64,
    end_us: Option<u64>,
    on_seek: Callback<u64>,
    on_goto: Callback<u32>,
}

/// The run's chapters on a track (the clock's place on it), and as buttons.
#[function_component(Timeline)]
fn timeline(p: &TimelineProps) -> Html {
    if p.chapters.is_empty() {
        return html! {};
    }
    let span = p
        .end_us
        .unwrap_or(0)
        .max(p.now_us)
        .max(p.chapters.last().map_or(0, |c| c.at_us))
        .max(1) as f64;
    let pct = |us: u64| format!("left: {:.2}%", us as f64 * 100.0 / span);
    let go = |c: &Chapter| match c.hop {
        Some(h) => p.on_goto.reform(move |_: MouseEvent| h),
        None => {
            let at = c.at_us;
            p.on_seek.reform(move |_: MouseEvent| at)
        }
    };
    html! {
        <nav class="timeline" aria-label="chapters of the run">
            <div class="track">
                { for p.chapters.iter().map(|c| html! {
                    <button class={classes!("mark", c.kind)} style={pct(c.at_us)} title={c.title()} aria-label={c.title()} onclick={go(c)} />
                }) }
                <span class="now" style={pct(p.now_us)} title={format!("now: {}", fmt_time(p.now_us))} />
            </div>
            <div class="chapters">
                { for p.chapters.iter().map(|c| html! {
                    <button class={classes!("chapter", c.kind, (c.at_us <= p.now_us).then_some("past"))} data-at={c.at_us.to_string()} title={c.title()} onclick={go(c)}>
                        <span class="ct">{ fmt_time(c.at_us) }</span>{ " " }{ &c.label }
                    </button>
                }) }
            </div>
        </nav>
    }
}

/// A `<select>`'s change: `filters` of the chosen value, sent to `on_filter`.
fn on_select(
    on_filter: &Callback<Filters>,
    filters: impl Fn(&str) -> Filters + 'static,
) -> Callback<Event> {
    let cb = on_filter.clone();
    Callback::from(move |e: Event| {
        let v = e
            .target_unchecked_into::<web_sys::HtmlSelectElement>()
            .value();
        cb.emit(filters(&v));
    })
}
