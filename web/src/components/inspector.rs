//! The frame inspector: the selected frame's decisions (and for a drop, why), its journey
//! (in at / out of each VTEP) and the reply it caused, what each device on the way did with it
//! (in, decision, out), its layer tree with every field explained, and a hex dump whose bytes
//! light up with the selected field. Clicking a hop of a journey goes there.

use std::ops::Range;
use std::rc::Rc;

use yew::prelude::*;

use crate::model::frame::{FrameDetail, PathStep};

#[derive(Properties, PartialEq)]
pub struct InspectorProps {
    pub frame: Option<Rc<FrameDetail>>,
    /// Go to a hop of the journey.
    pub on_select: Callback<u32>,
    /// Clear the selection (Esc).
    pub on_close: Callback<()>,
}

#[function_component(Inspector)]
pub fn inspector(p: &InspectorProps) -> Html {
    let Some(fr) = p.frame.clone() else {
        return html! {
            <section class="inspector empty">
                <h2>{ "Inspector" }</h2>
                <p class="hint">{ "Click a frame on a link or in the event list to take it apart: every header, every field, every byte." }</p>
            </section>
        };
    };
    html! {
        <section class="inspector">
            <h2>{ format!("Frame #{}", fr.hop) }<button class="close" title="Close (Esc)" aria-label="close the inspector" onclick={p.on_close.reform(|_: MouseEvent| ())}>{ "×" }</button></h2>
            <FrameView key={fr.hop} frame={fr.clone()} on_select={p.on_select.clone()} />
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct FrameViewProps {
    frame: Rc<FrameDetail>,
    on_select: Callback<u32>,
}

#[function_component(FrameView)]
fn frame_view(p: &FrameViewProps) -> Html {
    let fr = &p.frame;
    // Selected byte range (a layer or a field); the innermost tunnel header by default.
    let default = fr
        .dissection
        .layers
        .iter()
        .find(|l| matches!(l.name.as_str(), "VXLAN" | "Geneve" | "NVGRE (GRE)"))
        .and_then(|l| {
            l.fields
                .iter()
                .find(|f| f.name == "VNI" || f.name == "VSID")
        })
        .map(|f| (f.range.clone(), f.name.to_string()));
    let selected = use_state(|| default);
    let collapsed = use_state(Vec::<usize>::new);
    let sel_range: Option<Range<usize>> = selected.as_ref().map(|s| s.0.clone());
    let sel_help = selected.as_ref().and_then(|(r, name)| {
        fr.dissection
            .layers
            .iter()
            .flat_map(|l| l.fields.iter())
            .find(|f| f.range == *r && f.name == name.as_str() && !f.help.is_empty())
            .map(|f| (f.name, f.value.clone(), f.help))
    });
    let path = |steps: &[PathStep], current: u32| {
        html! {
            <ol>
                { for steps.iter().map(|s| {
                    let hop = s.hop;
                    let cb = p.on_select.reform(move |_: MouseEvent| hop);
                    html! {
                        <li class={classes!((s.hop == current).then_some("current"))} onclick={cb} title="go to this hop">
                            if let Some(tag) = &s.tag { <span class="tag">{ tag }</span> }
                            { &s.label }
                        </li>
                    }
                }) }
            </ol>
        }
    };
    html! {
        <>
            <p class="frame-title">{ &fr.title }</p>
            <p class="frame-times">{ &fr.times }</p>
            if !fr.decisions.is_empty() {
                <ul class="decisions">
                    { for fr.decisions.iter().map(|d| html! { <li>{ d }</li> }) }
                </ul>
            }
            if let Some(why) = &fr.why {
                <p class="why" role="note">{ why }</p>
            }
            if let Some((hop, what)) = &fr.caused_by {
                <p class="caused">
                    { "Sent when " }
                    <a href="#" onclick={let h = *hop; p.on_select.reform(move |e: MouseEvent| { e.prevent_default(); h })}>{ format!("frame #{hop}") }</a>
                    { format!(" arrived ({what}).") }
                </p>
            }
            if fr.path.len() > 1 {
                <details class="path" open=true>
                    <summary>{ format!("Journey of this frame ({} hops): encapsulation and decapsulation as steps", fr.path.len()) }</summary>
                    { path(&fr.path, fr.hop) }
                </details>
            }
            if let Some(reply) = &fr.reply {
                <details class="path reply" open=true>
                    <summary>{ format!("Its reply: {} ({} hops)", reply.summary, reply.path.len()) }</summary>
                    { path(&reply.path, fr.hop) }
                </details>
            }
            if !fr.devices.is_empty() {
                <details class="devices">
                    <summary>{ "What each device did with it" }</summary>
                    <table>
                        <tbody>
                        { for fr.devices.iter().map(|d| html! {
                            <tr class={classes!("device", d.kind, (d.hop == fr.hop).then_some("current"))}>
                                <th>{ &d.node }</th>
                                <td>
                                    <div><span class="io">{ "in" }</span>{ &d.came_in }</div>
                                    { for d.did.iter().map(|x| html! { <div><span class="io did">{ "did" }</span>{ x }</div> }) }
                                    { for d.went_out.iter().map(|x| html! { <div><span class="io">{ "out" }</span>{ x }</div> }) }
                                </td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                </details>
            }
            <div class="layers" role="tree">
                { for fr.dissection.layers.iter().enumerate().map(|(i, l)| {
                    let open = !collapsed.contains(&i);
                    let toggle = {
                        let collapsed = collapsed.clone();
                        Callback::from(move |_: MouseEvent| {
                            let mut v = (*collapsed).clone();
                            if let Some(k) = v.iter().position(|x| *x == i) { v.remove(k); } else { v.push(i); }
                            collapsed.set(v);
                        })
                    };
                    let pick_layer = {
                        let selected = selected.clone();
                        let r = l.range.clone();
                        let n = l.name.clone();
                        Callback::from(move |_: MouseEvent| selected.set(Some((r.clone(), n.clone()))))
                    };
                    let layer_sel = sel_range.as_ref() == Some(&l.range);
                    html! {
                        <div class="layer" key={i}>
                            <div class={classes!("layer-head", layer_sel.then_some("sel"))}>
                                <button class="twisty" onclick={toggle} aria-label="expand or collapse">{ if open { "▾" } else { "▸" } }</button>
                                <span class="layer-name" onclick={pick_layer}>{ &l.name }</span>
                                <span class="layer-sum">{ &l.summary }</span>
                            </div>
                            if open {
                                <table class="fields">
                                    { for l.fields.iter().map(|fd| {
                                        let r = fd.range.clone();
                                        let name = fd.name.to_string();
                                        let is_sel = sel_range.as_ref() == Some(&fd.range);
                                        let selected = selected.clone();
                                        let onclick = Callback::from(move |_: MouseEvent| selected.set(Some((r.clone(), name.clone()))));
                                        html! {
                                            <tr class={classes!("field", is_sel.then_some("sel"))} {onclick} title={fd.help}>
                                                <td class="fname">{ fd.name }</td>
                                                <td class="fvalue">{ &fd.value }</td>
                                                <td class="frange">{ format!("{}..{}", fd.range.start, fd.range.end) }</td>
                                            </tr>
                                        }
                                    }) }
                                </table>
                            }
                        </div>
                    }
                }) }
            </div>
            if let Some((name, value, help)) = sel_help {
                <p class="field-help"><b>{ format!("{name} {value}: ") }</b>{ help }</p>
            }
            <HexView bytes={fr.bytes.clone()} highlight={sel_range} />
        </>
    }
}

#[derive(Properties, PartialEq)]
pub struct HexViewProps {
    pub bytes: std::sync::Arc<[u8]>,
    pub highlight: Option<Range<usize>>,
}

/// A hex dump, 16 bytes a line, with the highlighted range lit.
#[function_component(HexView)]
pub fn hex_view(p: &HexViewProps) -> Html {
    let hl = p.highlight.clone().unwrap_or(0..0);
    html! {
        <pre class="hexdump" aria-label="frame hex dump">
            { for p.bytes.chunks(16).enumerate().map(|(line, chunk)| html! {
                <div class="hex-line" key={line}>
                    <span class="hex-offset">{ format!("{:04x}", line * 16) }</span>
                    { " " }
                    <span class="hex-bytes">
                        { for chunk.iter().enumerate().map(|(i, b)| {
                            let at = line * 16 + i;
                            let lit = hl.contains(&at);
                            html! { <>
                                { if i == 8 { " " } else { "" } }
                                <span class={classes!("b", lit.then_some("lit"))}>{ format!(" {b:02x}") }</span>
                            </> }
                        }) }
                    </span>
                </div>
            }) }
        </pre>
    }
}
