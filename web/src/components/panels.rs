//! The side and bottom panels: guided scenarios and their narration, actions, the event list
//! with its filters, and the live tables.

use std::rc::Rc;

use vtep_core::vtep::Encapsulation;
use vtep_sim::LearningMode;
use vtep_sim::scenario::{self, Scenario};
use yew::prelude::*;

use crate::model::lab::{Lab, kind};
use crate::model::outcome::Outcome;
use crate::model::script::Action;
use crate::model::tables::{Row, Table};
use crate::model::view::EventRow;

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
                <button class={classes!("scenario", on.then_some("on"))} data-scenario={id.clone()} onclick={load} aria-current={on.then_some("true")}>
                    <span class="sid">{ &id }</span>{ title }
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
}

#[function_component(Narration)]
pub fn narration(p: &NarrationProps) -> Html {
    let Some(s) = &p.scenario else {
        return html! {
            <section class="narration">
                <h3>{ "Sandbox" }</h3>
                <p>{ "Two sites, four hypervisors, two tenants. Use the actions below: start a ping, \
                      migrate a host, fail a hypervisor, switch to the control plane. Everything you do \
                      is recorded in the URL and the JSON export." }</p>
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
                <p class="hint">{ "Press play (space) to watch, step (→) one event at a time, step back (←), or run to the end (End) for the outcome." }</p>
            }
        </section>
    }
}

// ------------------------------------------------------------------ actions

/// What the user asked for in the actions panel, before it becomes script actions.
#[derive(Clone, Debug, PartialEq)]
pub enum FormAction {
    Traffic {
        what: String,
        from: String,
        to: String,
    },
    Migrate {
        host: String,
        to: String,
    },
    Hypervisor {
        name: String,
        fail: bool,
    },
    Uplink {
        name: String,
        fail: bool,
    },
    AddSite,
    AddHypervisor {
        site: String,
    },
    AddHost {
        hypervisor: String,
        vni: u32,
    },
    AddTenant,
    Learning(LearningMode),
    Encap {
        vni: u32,
        encap: Encapsulation,
    },
    UnderlayMtu(u16),
    RateLimit {
        vni: u32,
        mbps: Option<f64>,
    },
}

fn unique(lab: &Lab, prefix: &str) -> String {
    (1..)
        .map(|i| format!("{prefix}{i}"))
        .find(|n| lab.node(n).is_none() && lab.node(&format!("{n}-router")).is_none())
        .unwrap_or_default()
}

fn free_ip(lab: &Lab, vni: u32) -> [u8; 4] {
    let sim = lab.sim();
    let used: Vec<[u8; 4]> = sim
        .hosts()
        .into_iter()
        .filter_map(|h| sim.host_addr(h).ok())
        .filter(|a| a.2.get() == vni)
        .map(|a| a.1.octets())
        .collect();
    let net =
        used.first()
            .map(|o| [o[0], o[1], o[2]])
            .unwrap_or([10, ((vni / 100) % 250) as u8, 0]);
    let last = (1..=250u8)
        .find(|x| !used.contains(&[net[0], net[1], net[2], *x]))
        .unwrap_or(250);
    [net[0], net[1], net[2], last]
}

impl FormAction {
    /// The script actions this asks for, resolved against the lab.
    pub fn into_actions(self, lab: &Lab) -> Result<Vec<Action>, String> {
        let sim = lab.sim();
        let need = |n: &str| lab.node(n).ok_or_else(|| format!("no node named {n:?}"));
        Ok(match self {
            FormAction::Traffic { what, from, to } => {
                need(&from)?;
                let dst = need(&to)?;
                let ip = sim.host_addr(dst).map_err(|e| e.to_string())?.1.octets();
                let app = unique(lab, &format!("{what}-{from}-"));
                vec![match what.as_str() {
                    "arping" => Action::Arping { from, to: ip },
                    "tcp" => Action::Tcp {
                        app,
                        from,
                        to,
                        bytes: 100_000,
                    },
                    _ => Action::Ping {
                        app,
                        from,
                        to: ip,
                        count: 5,
                        interval_ms: 20,
                        size: 56,
                    },
                }]
            }
            FormAction::Migrate { host, to } => vec![Action::Migrate { host, to }],
            FormAction::Hypervisor { name, fail: true } => vec![Action::FailHypervisor { name }],
            FormAction::Hypervisor { name, fail: false } => {
                vec![Action::RestoreHypervisor { name }]
            }
            FormAction::Uplink { name, fail } => {
                let hv = need(&name)?;
                let site = sim.node_info(hv).map_err(|e| e.to_string())?.site;
                let core = sim.site_core(site).map_err(|e| e.to_string())?;
                let b = lab.name(core);
                vec![if fail {
                    Action::FailLink { a: name, b }
                } else {
                    Action::RestoreLink { a: name, b }
                }]
            }
            FormAction::AddSite => {
                let name = unique(lab, "dc");
                let first = lab
                    .sim()
                    .nodes()
                    .first()
                    .and_then(|n| sim.site_name(n.site).ok().map(str::to_string));
                let mut v = vec![Action::Site { name: name.clone() }];
                if let Some(first) = first {
                    v.push(Action::ConnectSites {
                        a: first,
                        b: name.clone(),
                        latency_us: 2000,
                    });
                }
                v.push(Action::Hypervisor {
                    site: name,
                    name: unique(lab, "hv"),
                });
                v
            }
            FormAction::AddHypervisor { site } => {
                vec![Action::Hypervisor {
                    site,
                    name: unique(lab, "hv"),
                }]
            }
            FormAction::AddHost { hypervisor, vni } => vec![Action::Host {
                name: unique(lab, &format!("vm{vni}-")),
                hypervisor,
                vni,
                ip: free_ip(lab, vni),
                mac: None,
            }],
            FormAction::AddTenant => {
                let vnis: Vec<u32> = sim
                    .hosts()
                    .into_iter()
                    .filter_map(|h| sim.host_addr(h).ok().map(|a| a.2.get()))
                    .collect();
                let vni = vnis.iter().max().map_or(100, |v| v + 100);
                let hvs = sim.hypervisors();
                if hvs.is_empty() {
                    return Err("add a hypervisor first".into());
                }
                let net = [10, ((vni / 100) % 250) as u8, 0];
                (0..2)
                    .map(|i| Action::Host {
                        name: format!("t{vni}-{}", i + 1),
                        hypervisor: lab.name(hvs[(i * hvs.len().div_ceil(2)) % hvs.len()]),
                        vni,
                        ip: [net[0], net[1], net[2], i as u8 + 1],
                        mac: None,
                    })
                    .collect()
            }
            FormAction::Learning(mode) => vec![Action::LearningMode { mode }],
            FormAction::Encap { vni, encap } => vec![Action::Encapsulation {
                vni,
                encapsulation: encap,
            }],
            FormAction::UnderlayMtu(mtu) => vec![Action::UnderlayMtu { mtu }],
            FormAction::RateLimit { vni, mbps } => vec![Action::RateLimit {
                vni,
                bits_per_sec: mbps.map(|m| (m * 1e6) as u64),
            }],
        })
    }
}

#[derive(Properties, PartialEq)]
pub struct ActionsProps {
    pub lab_rev: u64,
    pub hosts: Vec<String>,
    pub hypervisors: Vec<String>,
    pub sites: Vec<String>,
    pub vnis: Vec<u32>,
    pub on_act: Callback<FormAction>,
}

fn select(id: &str, label: &str, options: &[String], value: &UseStateHandle<String>) -> Html {
    let v = value.clone();
    let onchange = Callback::from(move |e: Event| {
        v.set(
            e.target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value(),
        );
    });
    let current = if options.contains(&**value) {
        (**value).clone()
    } else {
        options.first().cloned().unwrap_or_default()
    };
    html! {
        <select id={id.to_string()} aria-label={label.to_string()} {onchange}>
            { for options.iter().map(|o| html! { <option value={o.clone()} selected={*o == current}>{ o }</option> }) }
        </select>
    }
}

fn pick(v: &UseStateHandle<String>, options: &[String], nth: usize) -> String {
    if options.contains(&**v) {
        (**v).clone()
    } else {
        options
            .get(nth.min(options.len().saturating_sub(1)))
            .cloned()
            .unwrap_or_default()
    }
}

#[function_component(Actions)]
pub fn actions(p: &ActionsProps) -> Html {
    let what = use_state(|| "ping".to_string());
    let from = use_state(String::new);
    let to = use_state(String::new);
    let mhost = use_state(String::new);
    let mto = use_state(String::new);
    let hv = use_state(String::new);
    let site = use_state(String::new);
    let vni = use_state(String::new);
    let encap = use_state(|| "geneve".to_string());
    let num = use_state(|| "1550".to_string());
    let rate = use_state(|| "1".to_string());
    let vnis: Vec<String> = p.vnis.iter().map(u32::to_string).collect();
    let act = |f: Box<dyn Fn() -> FormAction>| {
        let on = p.on_act.clone();
        Callback::from(move |_: MouseEvent| on.emit(f()))
    };
    let (hosts, hvs, sites) = (p.hosts.clone(), p.hypervisors.clone(), p.sites.clone());
    let traffic = {
        let (w, f, t, h) = (what.clone(), from.clone(), to.clone(), hosts.clone());
        act(Box::new(move || FormAction::Traffic {
            what: (*w).clone(),
            from: pick(&f, &h, 0),
            to: pick(&t, &h, 1),
        }))
    };
    let migrate = {
        let (m, t, h, v) = (mhost.clone(), mto.clone(), hosts.clone(), hvs.clone());
        act(Box::new(move || FormAction::Migrate {
            host: pick(&m, &h, 0),
            to: pick(&t, &v, 1),
        }))
    };
    let hv_op = |fail: bool, uplink: bool| {
        let (x, v) = (hv.clone(), hvs.clone());
        act(Box::new(move || {
            let name = pick(&x, &v, 0);
            if uplink {
                FormAction::Uplink { name, fail }
            } else {
                FormAction::Hypervisor { name, fail }
            }
        }))
    };
    let add_host = {
        let (x, v, n, ns) = (hv.clone(), hvs.clone(), vni.clone(), vnis.clone());
        act(Box::new(move || FormAction::AddHost {
            hypervisor: pick(&x, &v, 0),
            vni: pick(&n, &ns, 0).parse().unwrap_or(100),
        }))
    };
    let add_hv = {
        let (s, ss) = (site.clone(), sites.clone());
        act(Box::new(move || FormAction::AddHypervisor {
            site: pick(&s, &ss, 0),
        }))
    };
    let set_encap = {
        let (n, ns, e) = (vni.clone(), vnis.clone(), encap.clone());
        act(Box::new(move || FormAction::Encap {
            vni: pick(&n, &ns, 0).parse().unwrap_or(100),
            encap: match e.as_str() {
                "vxlan" => Encapsulation::Vxlan,
                "nvgre" => Encapsulation::Nvgre,
                _ => Encapsulation::Geneve,
            },
        }))
    };
    let set_rate = |off: bool| {
        let (n, ns, r) = (vni.clone(), vnis.clone(), rate.clone());
        act(Box::new(move || FormAction::RateLimit {
            vni: pick(&n, &ns, 0).parse().unwrap_or(100),
            mbps: if off { None } else { r.parse().ok() },
        }))
    };
    let set_mtu = {
        let m = num.clone();
        act(Box::new(move || {
            FormAction::UnderlayMtu(m.parse().unwrap_or(1500))
        }))
    };
    let text = |v: &UseStateHandle<String>, label: &'static str| {
        let v2 = v.clone();
        html! { <input type="text" class="num" aria-label={label} value={(**v).clone()}
        oninput={Callback::from(move |e: InputEvent| v2.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))} /> }
    };
    let kinds = vec!["ping".to_string(), "arping".to_string(), "tcp".to_string()];
    let encs = vec![
        "vxlan".to_string(),
        "geneve".to_string(),
        "nvgre".to_string(),
    ];
    let from_default = use_state(String::new);
    let _ = from_default;
    html! {
        <details class="actions" open=true>
            <summary><h2>{ "Actions" }</h2></summary>
            <div class="row">
                { select("act-what", "traffic kind", &kinds, &what) }
                { select("act-from", "from host", &hosts, &from) }
                <span>{ "→" }</span>
                { select("act-to", "to host", &hosts, &to) }
                <button class="go" id="act-traffic" onclick={traffic}>{ "Go" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "Migrate" }</span>
                { select("act-mhost", "host to migrate", &hosts, &mhost) }
                <span>{ "to" }</span>
                { select("act-mto", "destination hypervisor", &hvs, &mto) }
                <button id="act-migrate" onclick={migrate}>{ "Move" }</button>
            </div>
            <div class="row">
                { select("act-hv", "hypervisor", &hvs, &hv) }
                <button title="Fail the hypervisor: it and its hosts stop" onclick={hv_op(true, false)}>{ "Fail" }</button>
                <button onclick={hv_op(false, false)}>{ "Restore" }</button>
                <button title="Cut the hypervisor's underlay uplink" onclick={hv_op(true, true)}>{ "Cut link" }</button>
                <button onclick={hv_op(false, true)}>{ "Fix link" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "Add" }</span>
                <button title="A host on the hypervisor above, in the VNI below" onclick={add_host}>{ "host" }</button>
                <button title="A new VNI with two hosts" onclick={act(Box::new(|| FormAction::AddTenant))}>{ "tenant" }</button>
                { select("act-site", "site", &sites, &site) }
                <button onclick={add_hv}>{ "hypervisor" }</button>
                <button title="A new site, 2 ms away, with one hypervisor" onclick={act(Box::new(|| FormAction::AddSite))}>{ "site" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "VNI" }</span>
                { select("act-vni", "VNI", &vnis, &vni) }
                { select("act-encap", "encapsulation", &encs, &encap) }
                <button onclick={set_encap}>{ "Set encap" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "Rate" }</span>
                { text(&rate, "rate limit in Mbit/s") }<span>{ "Mbit/s" }</span>
                <button onclick={set_rate(false)}>{ "Limit VNI" }</button>
                <button onclick={set_rate(true)}>{ "Unlimit" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "MTU" }</span>
                { text(&num, "underlay MTU") }
                <button onclick={set_mtu}>{ "Set underlay MTU" }</button>
            </div>
            <div class="row">
                <span class="lbl"><abbr class="tip" title="How VTEPs find remote MACs: flood and learn (BUM frames are replicated head-end to every VTEP of the VNI, and MACs are learned from traffic), or a control plane (EVPN-like routes, ARP suppression)">{ "Learning" }</abbr></span>
                <button onclick={act(Box::new(|| FormAction::Learning(LearningMode::FloodAndLearn)))}>{ "flood & learn" }</button>
                <button id="act-cp" onclick={act(Box::new(|| FormAction::Learning(LearningMode::BgpEvpn)))}>{ "BGP EVPN" }</button>
            </div>
        </details>
    }
}

// ------------------------------------------------------------------ events

#[derive(Properties, PartialEq)]
pub struct EventListProps {
    /// The rows shown, oldest first. A row that did not change keeps its `Rc`, so its
    /// [`EventItem`] skips re-rendering.
    pub rows: Rc<Vec<Rc<EventRow>>>,
    pub total: usize,
    pub filters: u16,
    pub selected: Option<u32>,
    pub on_filter: Callback<u16>,
    pub on_select: Callback<u32>,
}

#[function_component(EventList)]
pub fn event_list(p: &EventListProps) -> Html {
    let list = use_node_ref();
    {
        // Keep the newest event in view.
        let list = list.clone();
        use_effect_with(p.rows.last().map(|r| r.hop), move |_| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    html! {
        <section class="events">
            <div class="filters" role="group" aria-label="event filters">
                <h2>{ "Events" }</h2>
                { for kind::FILTERS.iter().map(|(bit, label, tip)| {
                    let b = *bit;
                    html! {
                        <button class={classes!("filter", (p.filters & b != 0).then_some("on"))} title={*tip}
                            data-filter={*label} aria-pressed={(p.filters & b != 0).to_string()}
                            onclick={p.on_filter.reform(move |_: MouseEvent| b)}>{ *label }</button>
                    }
                }) }
                <span class="count">{ format!("{} frames", p.total) }</span>
            </div>
            <div class="event-list" ref={list}>
                if p.rows.is_empty() {
                    <p class="hint">{ "No frames yet. Press play (space) or step (→)." }</p>
                }
                { for p.rows.iter().map(|r| html! {
                    <EventItem key={r.hop} row={r.clone()} selected={p.selected == Some(r.hop)} on_select={p.on_select.clone()} />
                }) }
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
             onclick={p.on_select.reform(move |_: MouseEvent| hop)} data-hop={r.hop.to_string()}>
            <span class="et">{ &r.time }</span>
            <span class="er">{ &r.route }</span>
            <span class="es">
                if r.encap { <span class="badge encap">{ "encap" }</span> }
                if r.bum { <span class="badge bum">{ "BUM" }</span> }
                { &r.summary }
            </span>
            <span class="eo">{ &r.outcome }</span>
        </div>
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
                        <thead><tr>{ for t.headers.iter().map(|h| html! { <th>{ *h }</th> }) }</tr></thead>
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
        "counters" => html! { "counters" },
        "arp" => html! { "ARP cache" },
        "mac" => html! { "MAC table" },
        "routes" => html! { "routes" },
        other => html! { { other.to_string() } },
    }
}
