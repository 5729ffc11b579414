//! The side and bottom panels: guided scenarios, their narration and outcome, the results of
//! the user's actions, and the live tables. (The actions panel is `actions`, the event list
//! `events`.)

use std::rc::Rc;

use vtep_sim::scenario::{self, Scenario};
use yew::prelude::*;

use crate::model::outcome::Outcome;
use crate::model::results::ResultLine;
use crate::model::tables::{Link, Row, Table, header_tip};

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
        "E1" => "BGP EVPN: a MAC route travels",
        "E2" => "BGP EVPN: migration, sequence up",
        "E3" => "BGP EVPN: a duplicate MAC frozen",
        "E4" => "BGP EVPN: the reflector fails",
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
                      actions below: ping between hosts, migrate one, fail a hypervisor, switch the learning \
                      mode (flood and learn, static entries, or BGP EVPN with a route reflector). Each action ends with a result line; everything you do is recorded \
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
    /// A cell that links to a frame: go to it.
    pub on_goto: Callback<u32>,
}

#[function_component(Tables)]
pub fn tables_view(p: &TablesProps) -> Html {
    let tab = use_state(|| 0usize);
    // The row a link led to: lit, and scrolled into view.
    let lit = use_state(|| None::<String>);
    let i = (*tab).min(p.tables.len().saturating_sub(1));
    let on_node = p.on_node.reform(|e: Event| {
        e.target_unchecked_into::<web_sys::HtmlSelectElement>()
            .value()
            .parse()
            .unwrap_or(0)
    });
    let on_link = {
        let (tab, lit, tables, goto) = (
            tab.clone(),
            lit.clone(),
            p.tables.clone(),
            p.on_goto.clone(),
        );
        Callback::from(move |link: Link| match link {
            Link::Hop(h) => goto.emit(h),
            Link::Row(key) => {
                if let Some(k) = tables
                    .iter()
                    .position(|t| t.rows.iter().any(|r| r.key == key))
                {
                    tab.set(k);
                }
                lit.set(Some(key));
            }
        })
    };
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
                                <LiveRow key={format!("{}#{}", r.key, r.changed)} row={r.clone()}
                                    lit={lit.as_deref() == Some(r.key.as_str())} on_link={on_link.clone()} />
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
    lit: bool,
    on_link: Callback<Link>,
}

/// One table row: re-rendered only when its cells change (a changed row gets a new key, so
/// it is drawn afresh and flashes). A linked cell is a button to where it leads.
#[function_component(LiveRow)]
fn live_row(p: &LiveRowProps) -> Html {
    let r = &p.row;
    let tr = use_node_ref();
    {
        let (tr, lit) = (tr.clone(), p.lit);
        use_effect_with(lit, move |lit| {
            if *lit && let Some(el) = tr.cast::<web_sys::Element>() {
                el.scroll_into_view_with_bool(false);
            }
        });
    }
    let cell = |k: usize, c: &String| match r.links.iter().find(|(i, _)| *i == k) {
        Some((_, link)) => {
            let (link, on_link) = (link.clone(), p.on_link.clone());
            let tip = match &link {
                Link::Hop(h) => format!("show frame #{h}, the UPDATE that carried this route"),
                Link::Row(_) => "show the route this entry came from".to_string(),
            };
            html! { <td><button class="cell-link" title={tip} onclick={Callback::from(move |_: MouseEvent| on_link.emit(link.clone()))}>{ c }</button></td> }
        }
        None => html! { <td>{ c }</td> },
    };
    html! {
        <tr ref={tr} class={classes!((r.changed > 0).then_some("flash"), p.lit.then_some("lit"))} data-key={r.key.clone()}>
            { for r.cells.iter().chain(r.volatile.iter()).enumerate().map(|(k, c)| cell(k, c)) }
        </tr>
    }
}

fn table_label(id: &str) -> Html {
    let (name, tip) = match id {
        "fdb" => (
            "FDB",
            "Forwarding database: which VTEP (or local port) each MAC is behind, per VNI",
        ),
        "neigh" => (
            "neighbours",
            "IP-to-MAC bindings, IPv4 and IPv6, the VTEP uses to answer ARP requests and IPv6 Neighbour Solicitations itself (ARP and ND suppression)",
        ),
        "counters" => (
            "counters",
            "Per-VNI counters of this VTEP: what it encapsulated, decapsulated, flooded, answered and dropped",
        ),
        "arp" => (
            "ARP / ND cache",
            "The host's own neighbour cache: the IP -> MAC bindings its stack learned, by ARP (IPv4) and Neighbour Discovery (IPv6); entries live 60 s",
        ),
        "mac" => (
            "MAC table",
            "The MACs this underlay device has seen: with an overlay, only the VTEPs', not the hosts'",
        ),
        "bgp" => (
            "BGP",
            "This speaker's BGP sessions: state (Idle ... Established), since when, messages each way, routes received",
        ),
        "evpn" => (
            "EVPN",
            "The EVPN table: the routes this speaker originates and those each peer sent, the best marked; a route links to the UPDATE that carried it",
        ),
        other => return html! { { other.to_string() } },
    };
    html! { <abbr class="tip" title={tip}>{ name }</abbr> }
}
