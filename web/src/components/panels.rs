//! The side and bottom panels: guided scenarios, their narration and outcome, the results of
//! the user's actions, and the live tables. (The actions panel is `actions`, the event list
//! `events`.)

use std::rc::Rc;

use vtep_sim::scenario::{self, Scenario};
use yew::prelude::*;

use crate::model::outcome::Outcome;
use crate::model::results::ResultLine;
use crate::model::tables::{Row, Table, header_tip};

// ------------------------------------------------------------------ scenarios and narration

#[derive(Properties, PartialEq)]
pub struct ScenariosProps {
    pub current: Option<String>,
    pub on_load: Callback<String>,
}

#[function_component(Scenarios)]
pub fn scenarios(p: &ScenariosProps) -> Html {
    let item = |id: String, title: String| {
        let on = p.current.as_deref() == Some(id.as_str());
        let load = p.on_load.reform({
            let id = id.clone();
            move |_: MouseEvent| id.clone()
        });
        html! {
            <li key={id.clone()}>
                <button class={classes!("scenario", on.then_some("on"))} data-scenario={id.clone()} onclick={load} aria-current={on.then_some("true")} title={format!("{id}: {title}")}>
                    <span class="sid">{ if id == "sandbox" { "✎" } else { id.as_str() } }</span>{ title }
                </button>
            </li>
        }
    };
    html! {
        <nav class="scenarios" aria-label="guided scenarios">
            <h2>{ "Guided scenarios" }</h2>
            <ol>
                { for scenario::all().into_iter().map(|s| item(s.id.to_string(), short(s.id).to_string())) }
                { item("sandbox".into(), "Sandbox: build your own".into()) }
            </ol>
        </nav>
    }
}

fn short(id: &str) -> &'static str {
    match id {
        "S1" => "An overlay on the underlay",
        "S2" => "VXLAN: one L2 over L3",
        "S3" => "Overhead and MTU",
        "S4" => "Live migration",
        "S5" => "Scale: ARP and MAC tables",
        "S6" => "Isolation: 24-bit VNIs",
        "S7" => "Bandwidth per network",
        "S8" => "Control plane, ARP suppression",
        "S9" => "VXLAN, Geneve, NVGRE",
        "S10" => "Multi-DC and failure",
        _ => "",
    }
}

#[derive(Properties, PartialEq)]
pub struct NarrationProps {
    pub scenario: Option<Rc<Scenario>>,
    pub outcome: Option<Rc<Outcome>>,
    pub at_end: bool,
    pub results: Rc<Vec<ResultLine>>,
}

/// The result line of each action the user started.
fn results(lines: &[ResultLine]) -> Html {
    if lines.is_empty() {
        return html! {};
    }
    html! {
        <section class="results" aria-label="results of your actions">
            <h4>{ "Results" }</h4>
            <ul>
                { for lines.iter().rev().map(|r| html! {
                    <li class={classes!("result", r.state)} data-app={r.app.clone()} data-state={r.state}>
                        <span class="mark">{ match r.state { "ok" => "✓", "bad" => "✗", _ => "…" } }</span>
                        { &r.text }
                    </li>
                }) }
            </ul>
        </section>
    }
}

#[function_component(Narration)]
pub fn narration(p: &NarrationProps) -> Html {
    let Some(s) = &p.scenario else {
        return html! {
            <section class="narration">
                <h3>{ "Sandbox" }</h3>
                <p>{ "Two sites, four hypervisors, two tenants (red, VNI 100; blue, VNI 200). Use the \
                      actions below: ping between hosts, migrate one, fail a hypervisor, switch to the \
                      control plane. Each action ends with a result line; everything you do is recorded \
                      in the URL and the JSON export." }</p>
                { results(&p.results) }
            </section>
        };
    };
    html! {
        <section class="narration">
            <h3>{ format!("{}: {}", s.id, s.title) }</h3>
            <p class="narrative">{ s.narrative }</p>
            if let Some(o) = &p.outcome {
                <div class={classes!("outcome", if o.ok { "ok" } else { "bad" })} data-ok={o.ok.to_string()} data-scenario={s.id}>
                    <h4>{ if o.ok { "Outcome ✓" } else { "Outcome: the claim did not hold in this run" } }</h4>
                    <p class="headline">{ &o.headline }</p>
                    <dl>
                        { for o.facts.iter().map(|(label, value, key)| html! {
                            <>
                                <dt>{ label }</dt>
                                <dd data-fact={*key}>{ value }</dd>
                            </>
                        }) }
                    </dl>
                </div>
            } else if !p.at_end {
                <p class="hint">{ "Press play (space) to watch, step (→) one event at a time, step back (←), jump to the next interesting event (n), or run to the end (End) for the outcome." }</p>
            }
            { results(&p.results) }
        </section>
    }
}

// ------------------------------------------------------------------ tables

#[derive(Properties, PartialEq)]
pub struct TablesProps {
    pub tables: Rc<Vec<Table>>,
    pub node: String,
    pub nodes: Vec<(u32, String)>,
    pub on_node: Callback<u32>,
}

#[function_component(Tables)]
pub fn tables_view(p: &TablesProps) -> Html {
    let tab = use_state(|| 0usize);
    let i = (*tab).min(p.tables.len().saturating_sub(1));
    let on_node = p.on_node.reform(|e: Event| {
        e.target_unchecked_into::<web_sys::HtmlSelectElement>()
            .value()
            .parse()
            .unwrap_or(0)
    });
    html! {
        <section class="tables">
            <div class="table-tabs">
                <h2>{ "Tables" }</h2>
                <select aria-label="node" onchange={on_node}>
                    { for p.nodes.iter().map(|(id, name)| html! { <option value={id.to_string()} selected={*name == p.node}>{ name }</option> }) }
                </select>
                { for p.tables.iter().enumerate().map(|(k, t)| {
                    let tab = tab.clone();
                    html! { <button class={classes!("ttab", (k == i).then_some("on"))} data-table={t.id} onclick={Callback::from(move |_: MouseEvent| tab.set(k))}>{ table_label(t.id) }</button> }
                }) }
            </div>
            if let Some(t) = p.tables.get(i) {
                <div class="table-wrap">
                    <table class={format!("live {}", t.id)} aria-label={t.title.clone()}>
                        <thead><tr>{ for t.headers.iter().map(|h| html! { <th title={header_tip(h)}>{ *h }</th> }) }</tr></thead>
                        <tbody>
                            { for t.rows.iter().map(|r| html! {
                                <LiveRow key={format!("{}#{}", r.key, r.changed)} row={r.clone()} />
                            }) }
                        </tbody>
                    </table>
                    if t.rows.is_empty() { <p class="hint">{ t.empty }</p> }
                </div>
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct LiveRowProps {
    row: Row,
}

/// One table row: re-rendered only when its cells change (a changed row gets a new key, so
/// it is drawn afresh and flashes).
#[function_component(LiveRow)]
fn live_row(p: &LiveRowProps) -> Html {
    let r = &p.row;
    html! {
        <tr class={classes!((r.changed > 0).then_some("flash"))}>
            { for r.cells.iter().chain(r.volatile.iter()).map(|c| html! { <td>{ c }</td> }) }
        </tr>
    }
}

fn table_label(id: &str) -> Html {
    match id {
        "fdb" => {
            html! { <abbr class="tip" title="Forwarding database: which VTEP (or local port) each MAC is behind, per VNI">{ "FDB" }</abbr> }
        }
        "neigh" => {
            html! { <abbr class="tip" title="IP-to-MAC bindings the VTEP uses to answer ARP requests itself (ARP suppression)">{ "neighbours" }</abbr> }
        }
        "counters" => {
            html! { <abbr class="tip" title="Per-VNI counters of this VTEP: what it encapsulated, decapsulated, flooded, answered and dropped">{ "counters" }</abbr> }
        }
        "arp" => {
            html! { <abbr class="tip" title="The host's own ARP cache: the IP -> MAC bindings its stack learned (entries live 60 s)">{ "ARP cache" }</abbr> }
        }
        "mac" => {
            html! { <abbr class="tip" title="The MACs this underlay device has seen: with an overlay, only the VTEPs', not the hosts'">{ "MAC table" }</abbr> }
        }
        "routes" => {
            html! { <abbr class="tip" title="The route server's type-2 routes: where each MAC/IP lives, with its mobility sequence number">{ "routes" }</abbr> }
        }
        other => html! { { other.to_string() } },
    }
}
