//! The topology: sites, routers, hypervisors (VTEPs), hosts coloured by VNI, links; and the
//! frames on the links at the view time. The static part re-renders only when the layout
//! changes; the frames layer every animation frame, by moving its elements in place.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::model::bgp::Badge;
use crate::model::layout::Layout;
use crate::model::view::Glyph;

#[derive(Properties, PartialEq)]
pub struct TopologyProps {
    pub layout: Rc<Layout>,
    pub glyphs: Rc<Vec<Glyph>>,
    /// Each BGP speaker's sessions (BGP EVPN mode).
    pub badges: Rc<Vec<Badge>>,
    pub selected: Option<u32>,
    pub selected_node: Option<u32>,
    pub on_frame: Callback<u32>,
    pub on_node: Callback<u32>,
}

#[function_component(Topology)]
pub fn topology(p: &TopologyProps) -> Html {
    let l = &p.layout;
    let view_box = format!("0 0 {:.0} {:.0}", l.width, l.height);
    // Two stacked SVGs with the same viewBox: the static drawing, and above it the frames in
    // flight, which the page composites as a layer of its own (index.html), so moving frames
    // repaint only themselves.
    html! {
        <>
        <div class="topo">
            <svg class="topology" viewBox={view_box.clone()}
                 preserveAspectRatio="xMidYMid meet" role="img"
                 aria-label="topology: sites, routers, hypervisors with their VTEPs, hosts, and frames in flight">
                <Static layout={p.layout.clone()} selected_node={p.selected_node} on_node={p.on_node.clone()} />
                <Badges badges={p.badges.clone()} />
            </svg>
            <svg class="topology-frames" viewBox={view_box} preserveAspectRatio="xMidYMid meet" aria-hidden="true">
                <Frames glyphs={p.glyphs.clone()} selected={p.selected} on_frame={p.on_frame.clone()} />
            </svg>
        </div>
        <Legend vnis={p.layout.vnis.clone()} />
        </>
    }
}

#[derive(Properties, PartialEq)]
struct BadgesProps {
    badges: Rc<Vec<Badge>>,
}

/// A pill under each BGP speaker: its sessions' state (Idle ... Established), the details in
/// its tooltip.
#[function_component(Badges)]
fn badges(p: &BadgesProps) -> Html {
    html! {
        <g class="bgp-badges">
            { for p.badges.iter().map(|b| {
                let w = b.text.chars().count() as f64 * 5.9 + 12.0;
                let (x, y) = (b.x as f64 / 10.0, b.y as f64 / 10.0);
                html! {
                    <g class={classes!("bgp-badge", b.class)} key={b.node} data-node={b.name.clone()} data-state={b.states.clone()}
                       transform={format!("translate({x:.1} {y:.1})")}>
                        <title>{ &b.title }</title>
                        <rect x={f(-w / 2.0)} y="-8" width={f(w)} height="16" rx="8" />
                        <text y="3.5">{ &b.text }</text>
                    </g>
                }
            }) }
        </g>
    }
}

#[derive(Properties, PartialEq)]
struct LegendProps {
    vnis: Vec<u32>,
}

/// What the map's shapes and colours mean.
#[function_component(Legend)]
fn legend(p: &LegendProps) -> Html {
    let item = |svg: Html, label: &str, tip: &str| {
        html! {
            <li title={tip.to_string()}>
                <svg viewBox="-18 -12 36 24" width="30" height="20" aria-hidden="true">{ svg }</svg>
                <span>{ label.to_string() }</span>
            </li>
        }
    };
    html! {
        <ul class="legend-bar" aria-label="legend">
            { item(html! { <g class="frame plain"><rect class="inner p-icmp" x="-8" y="-6.5" width="16" height="13" rx="2"/></g> },
                "frame", "A host's Ethernet frame on an access link, coloured by protocol (see below)") }
            { item(html! { <g class="frame encap"><rect class="envelope vni-0" x="-16" y="-10" width="32" height="20" rx="4"/><rect class="inner p-icmp" x="-7" y="-5.5" width="14" height="11" rx="2"/></g> },
                "encapsulated", "The same frame inside the tunnel headers (VXLAN, Geneve or NVGRE) on the underlay: the envelope has its VNI's colour") }
            { item(html! { <g class="frame encap bum"><rect class="envelope vni-0" x="-16" y="-10" width="32" height="20" rx="4"/><rect class="inner p-arp" x="-7" y="-5.5" width="14" height="11" rx="2"/></g> },
                "BUM (dashed)", "Broadcast, unknown-unicast or multicast: flooded, one copy per VTEP of the VNI (head-end replication)") }
            { item(html! { <g class="frame ctrl"><path class="p-update" d="M0 -10 L10 0 L0 10 L-10 0 Z"/><text y="4">{ "U" }</text></g> },
                "BGP", "A BGP EVPN message on a TCP session (port 179) between a VTEP and a route reflector: U UPDATE (routes: where a MAC lives, which VTEPs serve a VNI), K KEEPALIVE, O OPEN, N NOTIFICATION; a small grey diamond is TCP alone (handshake, acknowledgement)") }
            { item(html! { <g class="drop"><circle r="9"/><path d="M-5 -5 L5 5 M5 -5 L-5 5"/></g> },
                "drop", "A frame went no further here: hover it, or select it, to see why") }
            { for [("arp", "ARP"), ("icmp", "ICMP"), ("tcp", "TCP"), ("udp", "UDP"), ("update", "UPDATE"), ("keepalive", "KEEPALIVE"), ("open", "OPEN"), ("notification", "NOTIFICATION")].iter().map(|(c, n)| html! {
                <li class="swatch-item" title={format!("{n} frames")}><span class={format!("sw p-{c}")} />{ *n }</li>
            }) }
            { for p.vnis.iter().enumerate().map(|(i, v)| html! {
                <li class="swatch-item" title={format!("hosts and envelopes of VNI {v}")}>
                    <svg viewBox="-7 -7 14 14" width="12" height="12" aria-hidden="true"><circle class={format!("host-dot vni-{}", i % 8)} r="6" /></svg>
                    { format!("VNI {v}") }
                </li>
            }) }
            <li class="swatch-item" title="Click a node to show its tables below; the outlined one is shown">{ "thick outline: tables shown" }</li>
        </ul>
    }
}

#[derive(Properties, PartialEq)]
struct FramesProps {
    glyphs: Rc<Vec<Glyph>>,
    selected: Option<u32>,
    on_frame: Callback<u32>,
}

/// The frames in flight. This layer changes every animation frame, so it bypasses the virtual
/// DOM: [`Drawn`] keeps one `<g>` per frame, keyed by hop, creates it once, and afterwards only
/// moves it (one `transform` attribute) or changes its class (selection). One click listener
/// on the layer finds the frame by its `data-hop`.
#[function_component(Frames)]
fn frames(p: &FramesProps) -> Html {
    let layer = use_node_ref();
    let drawn = use_mut_ref(Drawn::default);
    {
        let (layer, drawn) = (layer.clone(), drawn.clone());
        use_effect_with((p.glyphs.clone(), p.selected), move |(glyphs, selected)| {
            if let Some(g) = layer.cast::<web_sys::Element>() {
                drawn.borrow_mut().sync(&g, glyphs, *selected);
            }
        });
    }
    let on_frame = p.on_frame.clone();
    let onclick = Callback::from(move |e: MouseEvent| {
        let hop = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("[data-hop]").ok().flatten())
            .and_then(|el| el.get_attribute("data-hop"))
            .and_then(|h| h.parse().ok());
        if let Some(hop) = hop {
            e.stop_propagation();
            on_frame.emit(hop);
        }
    });
    html! { <g class="frames" ref={layer} {onclick} /> }
}

/// One drawn frame: its element and what was last written to it.
struct Mark {
    el: web_sys::Element,
    /// Position in tenths of a viewBox unit (what the `transform` says).
    at: (i64, i64),
    class: String,
    /// The shapes' markup (after the `<title>`), and the title's text.
    shape: String,
    title: String,
    /// The [`Drawn::sync`] call that last saw it.
    seen: u64,
}

/// The frames layer's elements, by hop (and whether drawn as a drop mark). Elements of frames
/// gone are hidden and kept for the next ones: at a fast pace dozens of frames come and go
/// every animation frame, and making elements is what costs.
#[derive(Default)]
struct Drawn {
    marks: HashMap<(u32, bool), Mark>,
    free: Vec<Mark>,
    sync: u64,
}

/// Hidden elements kept for reuse, at most.
const POOL: usize = 400;

const SVG: Option<&str> = Some("http://www.w3.org/2000/svg");

impl Drawn {
    fn sync(&mut self, layer: &web_sys::Element, glyphs: &[Glyph], selected: Option<u32>) {
        let Some(doc) = layer.owner_document() else {
            return;
        };
        self.sync += 1;
        for g in glyphs {
            let at = ((g.x * 10.0).round() as i64, (g.y * 10.0).round() as i64);
            let class = class(g, selected == Some(g.hop));
            let mark = match self.marks.entry((g.hop, g.dropped)) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => {
                    let reused = self.free.pop().map(|mut m| {
                        let _ = m.el.remove_attribute("display");
                        m.at = (i64::MIN, i64::MIN);
                        m.title.clear();
                        m
                    });
                    let Some(m) = reused.or_else(|| {
                        let el = doc.create_element_ns(SVG, "g").ok()?;
                        let _ = layer.append_child(&el);
                        Some(Mark {
                            el,
                            at: (i64::MIN, i64::MIN),
                            class: String::new(),
                            shape: String::new(),
                            title: String::new(),
                            seen: 0,
                        })
                    }) else {
                        continue;
                    };
                    let _ = m.el.set_attribute("data-hop", &g.hop.to_string());
                    v.insert(m)
                }
            };
            mark.seen = self.sync;
            if mark.class != class {
                let _ = mark.el.set_attribute("class", &class);
                mark.class = class;
            }
            if mark.at != at {
                mark.at = at;
                let t = format!(
                    "translate({:.1} {:.1})",
                    at.0 as f64 / 10.0,
                    at.1 as f64 / 10.0
                );
                let _ = mark.el.set_attribute("transform", &t);
            }
            let shape = shape(g);
            if mark.shape != shape {
                mark.el.set_inner_html(&format!("<title></title>{shape}"));
                mark.shape = shape;
                mark.title.clear();
            }
            let title = if g.dropped {
                format!("dropped: {}", g.title)
            } else {
                g.title.clone()
            };
            if mark.title != title
                && let Some(t) = mark.el.first_element_child()
            {
                t.set_text_content(Some(&title));
                mark.title = title;
            }
        }
        let sync = self.sync;
        let gone: Vec<(u32, bool)> = self
            .marks
            .iter()
            .filter(|(_, m)| m.seen != sync)
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            if let Some(m) = self.marks.remove(&k) {
                if self.free.len() < POOL {
                    let mut m = m;
                    let _ = m.el.set_attribute("display", "none");
                    let _ = m.el.set_attribute("class", "pooled");
                    m.class = "pooled".to_string();
                    let _ = m.el.remove_attribute("data-hop");
                    self.free.push(m);
                } else {
                    m.el.remove();
                }
            }
        }
    }
}

fn class(g: &Glyph, selected: bool) -> String {
    if g.dropped {
        return "drop".to_string();
    }
    let sel = if selected { " selected" } else { "" };
    let bum = if g.bum { " bum" } else { "" };
    if g.control {
        format!("frame ctrl{sel}")
    } else if g.envelope.is_some() {
        format!("frame encap{sel}{bum}")
    } else {
        format!("frame plain{sel}{bum}")
    }
}
/// The shapes of a frame's `<g>` around (0, 0) (markup for `innerHTML`, after its `<title>`;
/// the group's `transform` places it).
fn shape(g: &Glyph) -> String {
    if g.dropped {
        return r#"<circle r="11"/><path d="M-6 -6 L6 6 M6 -6 L-6 6"/>"#.to_string();
    }
    if g.control {
        // A BGP segment: its message's initial in a diamond of its colour; TCP alone (a
        // handshake, an acknowledgement) a small grey diamond.
        let letter = match g.proto {
            "update" => "U",
            "open" => "O",
            "keepalive" => "K",
            "notification" => "N",
            _ => return r#"<path d="M0 -6 L6 0 L0 6 L-6 0 Z"/>"#.to_string(),
        };
        return format!(
            r#"<path class="p-{}" d="M0 -12 L12 0 L0 12 L-12 0 Z"/><text y="4">{letter}</text>"#,
            g.proto
        );
    }
    match g.envelope {
        Some(v) => format!(
            r#"<rect class="envelope vni-{}" x="-16" y="-10" width="32" height="20" rx="4"/><rect class="inner p-{}" x="-7" y="-5.5" width="14" height="11" rx="2"/>"#,
            v % 8,
            g.proto
        ),
        None => format!(
            r#"<rect class="inner p-{}" x="-8" y="-6.5" width="16" height="13" rx="2"/>"#,
            g.proto
        ),
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
                <g class="site" key={format!("site {}", s.name)}>
                    <rect x={f(s.x)} y={f(s.y)} width={f(s.w)} height={f(s.h)} rx="14" />
                    <text class="site-name" x={f(s.x + 14.0)} y={f(s.y + 22.0)}>{ format!("site {}", s.name) }</text>
                </g>
            }) }
            { for l.links.iter().map(|k| html! {
                <line key={format!("link {}", k.id)} class={classes!("link", k.class, (!k.up).then_some("down"))}
                      x1={f(k.a.0)} y1={f(k.a.1)} x2={f(k.b.0)} y2={f(k.b.1)}>
                    <title>{ match k.class { "wan" => "WAN link between sites (underlay)", "underlay" => "underlay link: routed IP between the VTEP and the site router", _ => "access link: the host's virtual NIC on its hypervisor" } }</title>
                </line>
            }) }
            { for l.nodes.iter().map(|n| node(n, p.selected_node == Some(n.id), &p.on_node)) }
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
    // A failed node's cross: beside a hypervisor's name, over a host's or router's dot.
    let cross = if n.kind == "hv" {
        "M36 -16 L48 -4 M48 -16 L36 -4"
    } else {
        "M-14 -14 L14 14 M14 -14 L-14 14"
    };
    let down =
        (!n.up).then(|| html! { <path class="x" d={cross}><title>{ "failed" }</title></path> });
    match n.kind {
        "hv" => html! {
            <g {class} transform={t} key={format!("node {id}")} {onclick} data-node={n.name.clone()}>
                <title>{ format!("hypervisor {} - its VTEP (VXLAN tunnel endpoint) wraps its hosts' frames for the underlay; underlay IP {}", n.name, n.underlay_ip.clone().unwrap_or_default()) }</title>
                <rect x="-50" y="-22" width="100" height="44" rx="8" />
                <text class="label" y="-4">{ &n.name }</text>
                <text class="sub" y="12">{ format!("VTEP {}", n.underlay_ip.clone().unwrap_or_default()) }</text>
                { down.unwrap_or_default() }
            </g>
        },
        "host" => html! {
            <g {class} transform={t} key={format!("node {id}")} {onclick} data-node={n.name.clone()}>
                <title>{ format!("host {} - {} and {} on VNI {}{}", n.name, n.ip.clone().unwrap_or_default(), n.ip6.clone().unwrap_or_default(), n.vni.unwrap_or(0), if n.detached { " (migrating: paused)" } else { "" }) }</title>
                <circle class={format!("host-dot vni-{}", n.color % 8)} r="14" />
                <text class="label" y="30">{ &n.name }</text>
                { down.unwrap_or_default() }
            </g>
        },
        "rs" => html! {
            <g {class} transform={t} key={format!("node {id}")} {onclick} data-node={n.name.clone()}>
                <title>{ format!("route reflector {} ({}): a BGP speaker (RFC 4456) that passes each VTEP's EVPN routes to all the others, over iBGP sessions on TCP port 179; it forwards no traffic", n.name, n.underlay_ip.clone().unwrap_or_default()) }</title>
                <rect x="-48" y="-20" width="96" height="40" rx="18" />
                <text class="label" y="-3">{ format!("{} reflector", n.name) }</text>
                <text class="sub" y="11">{ format!("BGP {}", n.underlay_ip.clone().unwrap_or_default()) }</text>
                { down.unwrap_or_default() }
            </g>
        },
        _ => html! {
            <g {class} transform={t} key={format!("node {id}")} {onclick} data-node={n.name.clone()}>
                <title>{ format!("{} {} - underlay {}", if n.kind == "switch" { "core switch" } else { "router" }, n.name, n.underlay_ip.clone().unwrap_or_default()) }</title>
                <circle r="20" />
                <path class="arrows" d="M-9 -4 L9 -4 M5 -8 L9 -4 L5 0 M9 4 L-9 4 M-5 0 L-9 4 L-5 8" />
                <text class="label" y="36">{ &n.name }</text>
                { down.unwrap_or_default() }
            </g>
        },
    }
}
