//! The topology: sites, routers, hypervisors (VTEPs), hosts coloured by VNI, links; and the
//! frames on the links at the view time. The static part re-renders only when the layout
//! changes; the frames layer every animation frame.

use std::rc::Rc;

use yew::prelude::*;

use crate::model::layout::Layout;

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

#[derive(Properties, PartialEq)]
pub struct TopologyProps {
    pub layout: Rc<Layout>,
    pub glyphs: Rc<Vec<Glyph>>,
    pub selected: Option<u32>,
    pub selected_node: Option<u32>,
    pub on_frame: Callback<u32>,
    pub on_node: Callback<u32>,
}

#[function_component(Topology)]
pub fn topology(p: &TopologyProps) -> Html {
    let l = &p.layout;
    html! {
        <svg class="topology" viewBox={format!("0 0 {:.0} {:.0}", l.width, l.height)}
             preserveAspectRatio="xMidYMid meet" role="img"
             aria-label="topology: sites, routers, hypervisors with their VTEPs, hosts, and frames in flight">
            <Static layout={p.layout.clone()} selected_node={p.selected_node} on_node={p.on_node.clone()} />
            <g class="frames">
                { for p.glyphs.iter().map(|g| glyph(g, p.selected == Some(g.hop), &p.on_frame)) }
            </g>
        </svg>
    }
}

fn glyph(g: &Glyph, selected: bool, on_frame: &Callback<u32>) -> Html {
    let hop = g.hop;
    let onclick = on_frame.reform(move |e: MouseEvent| {
        e.stop_propagation();
        hop
    });
    let t = format!("translate({:.1} {:.1})", g.x, g.y);
    if g.dropped {
        return html! {
            <g class="drop" transform={t} key={format!("d{hop}")} {onclick}>
                <title>{ format!("dropped: {}", g.title) }</title>
                <circle r="11" />
                <path d="M-6 -6 L6 6 M6 -6 L-6 6" />
            </g>
        };
    }
    let sel = if selected { " selected" } else { "" };
    let bum = if g.bum { " bum" } else { "" };
    if g.control {
        return html! {
            <g class={format!("frame ctrl{sel}")} transform={t} key={hop.to_string()} {onclick}>
                <title>{ &g.title }</title>
                <path d="M0 -9 L9 0 L0 9 L-9 0 Z" />
            </g>
        };
    }
    match g.envelope {
        Some(c) => html! {
            <g class={format!("frame encap{sel}{bum}")} transform={t} key={hop.to_string()} {onclick}>
                <title>{ &g.title }</title>
                <rect class={format!("envelope vni-{}", c % 8)} x="-16" y="-10" width="32" height="20" rx="4" />
                <rect class={format!("inner p-{}", g.proto)} x="-7" y="-5.5" width="14" height="11" rx="2" />
            </g>
        },
        None => html! {
            <g class={format!("frame plain{sel}{bum}")} transform={t} key={hop.to_string()} {onclick}>
                <title>{ &g.title }</title>
                <rect class={format!("inner p-{}", g.proto)} x="-8" y="-6.5" width="16" height="13" rx="2" />
            </g>
        },
    }
}

#[derive(Properties, PartialEq)]
struct StaticProps {
    layout: Rc<Layout>,
    selected_node: Option<u32>,
    on_node: Callback<u32>,
}

#[function_component(Static)]
fn static_part(p: &StaticProps) -> Html {
    let l = &p.layout;
    html! {
        <g class="static">
            { for l.sites.iter().map(|s| html! {
                <g class="site" key={s.name.clone()}>
                    <rect x={f(s.x)} y={f(s.y)} width={f(s.w)} height={f(s.h)} rx="14" />
                    <text class="site-name" x={f(s.x + 14.0)} y={f(s.y + 22.0)}>{ format!("site {}", s.name) }</text>
                </g>
            }) }
            { for l.links.iter().map(|k| html! {
                <line key={k.id.to_string()} class={classes!("link", k.class, (!k.up).then_some("down"))}
                      x1={f(k.a.0)} y1={f(k.a.1)} x2={f(k.b.0)} y2={f(k.b.1)}>
                    <title>{ match k.class { "wan" => "WAN link between sites (underlay)", "underlay" => "underlay link: routed IP between the VTEP and the site router", _ => "access link: the host's virtual NIC on its hypervisor" } }</title>
                </line>
            }) }
            { for l.nodes.iter().map(|n| node(n, p.selected_node == Some(n.id), &p.on_node)) }
            <g class="legend" transform={format!("translate({:.0} {:.0})", 16.0, l.height - 8.0)}>
                { for l.vnis.iter().enumerate().map(|(i, v)| html! {
                    <g key={v.to_string()} transform={format!("translate({} 0)", i * 86)}>
                        <circle class={format!("host-dot vni-{}", i % 8)} cx="6" cy="-5" r="6" />
                        <text x="16" y="0">{ format!("VNI {v}") }</text>
                    </g>
                }) }
            </g>
        </g>
    }
}

fn f(x: f64) -> String {
    format!("{x:.1}")
}

fn node(n: &crate::model::layout::NodeView, selected: bool, on_node: &Callback<u32>) -> Html {
    let id = n.id;
    let onclick = on_node.reform(move |_: MouseEvent| id);
    let class = classes!(
        "node",
        n.kind,
        (!n.up).then_some("failed"),
        n.detached.then_some("detached"),
        selected.then_some("selected")
    );
    let t = format!("translate({:.1} {:.1})", n.x, n.y);
    let down = (!n.up).then(|| html! { <path class="x" d="M-14 -14 L14 14 M14 -14 L-14 14" /> });
    match n.kind {
        "hv" => html! {
            <g {class} transform={t} key={id.to_string()} {onclick} data-node={n.name.clone()}>
                <title>{ format!("hypervisor {} - its VTEP (VXLAN tunnel endpoint) wraps its hosts' frames for the underlay; underlay IP {}", n.name, n.underlay_ip.clone().unwrap_or_default()) }</title>
                <rect x="-50" y="-22" width="100" height="44" rx="8" />
                <text class="label" y="-4">{ &n.name }</text>
                <text class="sub" y="12">{ format!("VTEP {}", n.underlay_ip.clone().unwrap_or_default()) }</text>
                { down.unwrap_or_default() }
            </g>
        },
        "host" => html! {
            <g {class} transform={t} key={id.to_string()} {onclick} data-node={n.name.clone()}>
                <title>{ format!("host {} - {} on VNI {}{}", n.name, n.ip.clone().unwrap_or_default(), n.vni.unwrap_or(0), if n.detached { " (migrating: paused)" } else { "" }) }</title>
                <circle class={format!("host-dot vni-{}", n.color % 8)} r="14" />
                <text class="label" y="30">{ &n.name }</text>
                { down.unwrap_or_default() }
            </g>
        },
        "rs" => html! {
            <g {class} transform={t} key={id.to_string()} {onclick} data-node={n.name.clone()}>
                <title>{ "route server: the control plane (EVPN-like) that tells every VTEP where each MAC/IP lives" }</title>
                <rect x="-44" y="-16" width="88" height="32" rx="16" />
                <text class="label" y="5">{ "route server" }</text>
            </g>
        },
        _ => html! {
            <g {class} transform={t} key={id.to_string()} {onclick} data-node={n.name.clone()}>
                <title>{ format!("{} {} - underlay {}", if n.kind == "switch" { "core switch" } else { "router" }, n.name, n.underlay_ip.clone().unwrap_or_default()) }</title>
                <circle r="20" />
                <path class="arrows" d="M-9 -4 L9 -4 M5 -8 L9 -4 L5 0 M9 4 L-9 4 M-5 0 L-9 4 L-5 8" />
                <text class="label" y="36">{ &n.name }</text>
                { down.unwrap_or_default() }
            </g>
        },
    }
}
