//! The scale view (claim S5, and S6's arithmetic): N servers x M containers, the MAC entries
//! the underlay must hold and the ARP frames each container receives, for flat L2, flood and
//! learn VXLAN, and VXLAN with BGP EVPN; the control traffic each server pays for it (ARP
//! frames and bytes on its uplink, or BGP messages and bytes with 1 to 4 route reflectors);
//! the article's 5000-node case marked.

use std::str::FromStr;

use crate::model::fmt_n;
use vtep_core::vni::id_space;
use vtep_sim::scale::{Figures, Variant, model, model_with};
use wasm_bindgen::JsCast;
use web_sys::{EventTarget, HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

const K8S_NODES: u64 = 5000;

/// Slider position (0..=1000) to a node count (2..=20000), logarithmic.
fn n_of(pos: u32) -> u64 {
    (2.0 * 10f64.powf(f64::from(pos) / 1000.0 * 4.0)).round() as u64
}

fn pos_of(n: u64) -> u32 {
    ((n as f64 / 2.0).log10() / 4.0 * 1000.0).round() as u32
}

fn class(v: Variant) -> &'static str {
    match v {
        Variant::FlatL2 => "flat",
        Variant::FloodAndLearn => "flood",
        Variant::Evpn => "cp",
    }
}

/// The number in the event's `<input>` or `<select>` (`value` reads it), `or` if it holds none.
fn number<E: AsRef<EventTarget> + JsCast, T: FromStr>(
    e: &Event,
    value: fn(&E) -> String,
    or: T,
) -> T {
    value(&e.target_unchecked_into::<E>()).parse().unwrap_or(or)
}

#[function_component(ScaleView)]
pub fn scale_view() -> Html {
    let n = use_state(|| K8S_NODES);
    let m = use_state(|| 100u64);
    let on_n = {
        let n = n.clone();
        Callback::from(move |e: InputEvent| n.set(n_of(number(&e, HtmlInputElement::value, 0))))
    };
    let on_m = {
        let m = m.clone();
        Callback::from(move |e: InputEvent| m.set(number(&e, HtmlInputElement::value, 1).max(1)))
    };
    let k8s = {
        let (n, m) = (n.clone(), m.clone());
        Callback::from(move |_: MouseEvent| {
            n.set(K8S_NODES);
            m.set(100);
        })
    };
    let reflectors = use_state(|| 1u64);
    let on_rr = {
        let reflectors = reflectors.clone();
        Callback::from(move |e: Event| {
            reflectors.set(number(&e, HtmlSelectElement::value, 1).clamp(1, 4));
        })
    };
    let rows: Vec<(Variant, Option<Figures>)> = Variant::ALL
        .iter()
        .map(|v| (*v, model_with(*n, *m, *v, *reflectors)))
        .collect();
    html! {
        <section class="scale">
            <div class="scale-controls">
                <label>{ "Nodes (servers) N: " }<b class="n">{ fmt_n(*n) }</b>
                    <input type="range" min="0" max="1000" value={pos_of(*n).to_string()} oninput={on_n} aria-label="nodes" />
                </label>
                <label>{ "Containers per node M: " }<b class="m">{ fmt_n(*m) }</b>
                    <input type="range" min="1" max="500" value={m.to_string()} oninput={on_m} aria-label="containers per node" />
                </label>
                <button onclick={k8s} title="Kubernetes supports clusters of up to 5000 nodes">{ "The article's case: 5000 x 100" }</button>
                <span class="total">{ format!("{} containers in one L2 network", fmt_n(*n * *m)) }</span>
            </div>
            <table class="scale-table">
                <thead><tr><th>{ "design" }</th><th>{ "MAC entries in the underlay" }</th><th>{ "ARP frames each container receives" }</th><th>{ "ARP frames per server uplink" }</th><th>{ "ARP frames on the whole underlay" }</th></tr></thead>
                <tbody>
                    { for rows.iter().map(|(v, f)| html! {
                        <tr class={class(*v)}>
                            <td><span class={format!("swatch {}", class(*v))}></span>{ v.name() }</td>
                            { for f.iter().flat_map(|f| [f.underlay_mac_entries, f.arp_frames_per_host, f.arp_frames_per_uplink, f.underlay_arp_frames]).map(|x| html! { <td class="num">{ fmt_n(x) }</td> }) }
                            if f.is_none() { <td colspan="4">{ "needs at least 2 nodes and 3 containers" }</td> }
                        </tr>
                    }) }
                </tbody>
            </table>
            <h3 class="control-h">{ "What each server pays to learn: its control traffic" }
                <label>{ " route reflectors: " }
                    <select aria-label="route reflectors" onchange={on_rr}>
                        { for (1..=4u64).map(|r| html! { <option value={r.to_string()} selected={r == *reflectors}>{ r }</option> }) }
                    </select>
                </label>
            </h3>
            <table class="scale-table control">
                <thead><tr>
                    <th>{ "design" }</th>
                    <th>{ "ARP frames per server uplink" }</th>
                    <th>{ "ARP bytes per server uplink" }</th>
                    <th><abbr class="tip" title="To converge: per session an OPEN and a KEEPALIVE each way, the VTEP's type-3 route and its containers' type-2 routes (MAC and MAC/IP) out, every other VTEP's reflected in; counted by the same speakers the simulator runs">{ "BGP messages per VTEP" }</abbr></th>
                    <th>{ "BGP bytes per VTEP" }</th>
                    <th>{ "KEEPALIVEs a minute, once quiet" }</th>
                </tr></thead>
                <tbody>
                    { for rows.iter().map(|(v, f)| html! {
                        <tr class={class(*v)}>
                            <td><span class={format!("swatch {}", class(*v))}></span>{ v.name() }</td>
                            { for f.iter().flat_map(|f| [f.arp_frames_per_uplink, f.arp_bytes_per_uplink, f.bgp_messages_per_vtep, f.bgp_bytes_per_vtep, f.keepalives_per_minute_per_vtep]).map(|x| html! { <td class="num">{ fmt_n(x) }</td> }) }
                            if f.is_none() { <td colspan="5">{ "needs at least 2 nodes and 3 containers" }</td> }
                        </tr>
                    }) }
                </tbody>
            </table>
            <p class="note">{ "Every container resolves one other once (a ring, as in S5's run). Under flood and learn each request is replicated to every VTEP of the network and crosses every uplink; under BGP EVPN no ARP frame leaves its server: the VTEP answers from routes it got once over its sessions. The counts match the event-level simulation at small sizes (S5's outcome, sim/tests/scale.rs)." }</p>
            <div class="charts">
                <Chart title="MAC entries in the underlay vs nodes" m={*m} n={*n} pick={Pick::Mac} />
                <Chart title="ARP frames each container receives vs nodes" m={*m} n={*n} pick={Pick::Arp} />
            </div>
            <div class="idspace">
                <h3>{ "How many isolated networks?" }</h3>
                <p>
                    { format!("A VLAN ID has {} bits: 2^{} = {} IDs, {} usable (0 and 4095 are reserved). ",
                        id_space::VLAN_ID_BITS, id_space::VLAN_ID_BITS, fmt_n(u64::from(id_space::VLAN_IDS)), fmt_n(u64::from(id_space::VLAN_IDS_USABLE))) }
                    <abbr class="tip" title="VXLAN Network Identifier: the 24-bit number in the VXLAN header that says which virtual network a frame belongs to">{ "VNI" }</abbr>
                    { format!(": {} bits: 2^{} = {} networks, {} times as many. ",
                        vtep_core::Vni::BITS, vtep_core::Vni::BITS, fmt_n(u64::from(id_space::VNI_IDS)), fmt_n(u64::from(id_space::VNI_PER_VLAN))) }
                    { format!("More IDs are sufficient, not necessary: two stacked VLAN tags (QinQ) give {} x {} = {} too.",
                        fmt_n(u64::from(id_space::VLAN_IDS)), fmt_n(u64::from(id_space::VLAN_IDS)), fmt_n(u64::from(id_space::QINQ_IDS))) }
                </p>
            </div>
        </section>
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Pick {
    Mac,
    Arp,
}

#[derive(Properties, PartialEq)]
struct ChartProps {
    title: &'static str,
    n: u64,
    m: u64,
    pick: Pick,
}

/// A log-log chart over N = 2..20000 for the current M, the 5000-node mark and the current N.
#[function_component(Chart)]
fn chart(p: &ChartProps) -> Html {
    let (w, h, l, r, t, b) = (460.0, 230.0, 54.0, 26.0, 12.0, 30.0);
    let value = |n: u64, v: Variant| {
        model(n, p.m, v).map(|f| match p.pick {
            Pick::Mac => f.underlay_mac_entries,
            Pick::Arp => f.arp_frames_per_host,
        })
    };
    let xmax = 4.0 + 2f64.log10() + 0.01;
    let ymax = (value(20000, Variant::FlatL2).unwrap_or(10).max(10) as f64)
        .log10()
        .ceil();
    let x = |n: f64| l + (n.log10() - 2f64.log10()) / (xmax - 2f64.log10()) * (w - l - r);
    let y = |v: f64| h - b - v.max(1.0).log10() / ymax * (h - t - b);
    let line = |v: Variant| {
        let mut d = String::new();
        for i in 0..=60 {
            let n = (2.0 * 10f64.powf(f64::from(i) / 60.0 * 4.0)).round() as u64;
            if let Some(val) = value(n, v) {
                d.push_str(&format!(
                    "{}{:.1} {:.1} ",
                    if d.is_empty() { "M" } else { "L" },
                    x(n as f64),
                    y(val as f64)
                ));
            }
        }
        d
    };
    html! {
        <figure class="chart">
            <figcaption>{ p.title }</figcaption>
            <svg viewBox={format!("0 0 {w} {h}")} role="img" aria-label={p.title}>
                { for (0..=ymax as u32).map(|k| html! {
                    <g class="grid">
                        <line x1={l.to_string()} x2={(w - r).to_string()} y1={format!("{:.1}", y(10f64.powi(k as i32)))} y2={format!("{:.1}", y(10f64.powi(k as i32)))} />
                        <text x={(l - 6.0).to_string()} y={format!("{:.1}", y(10f64.powi(k as i32)) + 4.0)} text-anchor="end">{ format!("1e{k}") }</text>
                    </g>
                }) }
                { for [2u64, 20, 200, 2000, 20000].iter().map(|n| html! {
                    <text class="grid" x={format!("{:.1}", x(*n as f64))} y={(h - 10.0).to_string()} text-anchor="middle">{ fmt_n(*n) }</text>
                }) }
                <line class="mark k8s" x1={format!("{:.1}", x(5000.0))} x2={format!("{:.1}", x(5000.0))} y1={t.to_string()} y2={(h - b).to_string()} />
                <text class="mark-label" x={format!("{:.1}", x(5000.0) - 4.0)} y={(t + 10.0).to_string()} text-anchor="end">{ "5000 nodes (Kubernetes)" }</text>
                { for Variant::ALL.iter().map(|v| html! { <path class={format!("series {}", class(*v))} d={line(*v)} /> }) }
                { for Variant::ALL.iter().filter_map(|v| value(p.n, *v).map(|val| (v, val))).map(|(v, val)| html! {
                    <circle class={format!("dot {}", class(*v))} cx={format!("{:.1}", x(p.n as f64))} cy={format!("{:.1}", y(val as f64))} r="4">
                        <title>{ format!("{}: {}", v.name(), fmt_n(val)) }</title>
                    </circle>
                }) }
            </svg>
        </figure>
    }
}
