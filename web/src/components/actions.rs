//! The actions panel: traffic between hosts, migration, failures (of route reflectors too),
//! adding hosts, tenants, hypervisors, sites and route reflectors, the learning mode, each
//! VNI's encapsulation, the underlay MTU and rate limits. Each form shows exactly what its
//! button sends ([`Choices`] gives the values shown before the user picks), what is current is
//! shown as current (the learning mode, the chosen VNI's encapsulation), and a number box that
//! does not hold a valid number is refused inline with the reason.

use std::rc::Rc;

use vtep_sim::LearningMode;
use yew::prelude::*;

use crate::model::forms::{
    Choices, ENCAPSULATIONS, FormAction, chosen, encap_name, parse_mtu, parse_rate,
};

#[derive(Properties, PartialEq)]
pub struct ActionsProps {
    pub choices: Rc<Choices>,
    pub on_act: Callback<FormAction>,
}

fn select(
    id: &str,
    label: &str,
    options: &[String],
    shown: &str,
    set: &UseStateHandle<String>,
) -> Html {
    let v = set.clone();
    let onchange = Callback::from(move |e: Event| {
        v.set(
            e.target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value(),
        );
    });
    html! {
        <select id={id.to_string()} aria-label={label.to_string()} {onchange}>
            { for options.iter().map(|o| html! { <option value={o.clone()} selected={o == shown}>{ o }</option> }) }
        </select>
    }
}

/// A number box: its text, and the reason it was refused (shown under it).
fn number(
    label: &'static str,
    text: &UseStateHandle<String>,
    error: &UseStateHandle<Option<String>>,
) -> Html {
    let (t, e) = (text.clone(), error.clone());
    let oninput = Callback::from(move |ev: InputEvent| {
        t.set(
            ev.target_unchecked_into::<web_sys::HtmlInputElement>()
                .value(),
        );
        e.set(None);
    });
    html! {
        <input type="text" class={classes!("num", error.is_some().then_some("bad"))} aria-label={label}
            aria-invalid={error.is_some().then_some("true")} value={(**text).clone()} {oninput} />
    }
}

fn reason(error: &UseStateHandle<Option<String>>) -> Html {
    match &**error {
        Some(e) => html! { <p class="invalid" role="alert">{ e }</p> },
        None => html! {},
    }
}

#[function_component(Actions)]
pub fn actions(p: &ActionsProps) -> Html {
    let c = &p.choices;
    let what = use_state(|| "ping".to_string());
    let from = use_state(String::new);
    let to = use_state(String::new);
    let mhost = use_state(String::new);
    let mto = use_state(String::new);
    let hv = use_state(String::new);
    let rr = use_state(String::new);
    let site = use_state(String::new);
    let vni = use_state(String::new);
    // The encapsulation picked, and for which VNI (another VNI shows its own).
    let encap = use_state(|| (0u32, String::new()));
    let mtu = use_state(|| "1550".to_string());
    let mtu_err = use_state(|| None::<String>);
    let rate = use_state(|| "1".to_string());
    let rate_err = use_state(|| None::<String>);

    let hosts = c.host_names();
    let vnis = c.vni_names();
    // What each select shows is what its button sends.
    let from_v = chosen(&from, &hosts, &c.default_from());
    let to_v = chosen(&to, &hosts, &c.default_to(&from_v));
    let mhost_v = chosen(&mhost, &hosts, &c.default_from());
    let mto_v = chosen(&mto, &c.hypervisors, &c.default_migrate_to(&mhost_v));
    let hv_v = chosen(&hv, &c.hypervisors, c.hypervisors.first().map_or("", |s| s));
    let rr_v = chosen(&rr, &c.reflectors, c.reflectors.first().map_or("", |s| s));
    let site_v = chosen(&site, &c.sites, c.sites.first().map_or("", |s| s));
    let vni_v = chosen(&vni, &vnis, vnis.first().map_or("", |s| s));
    let vni_n: u32 = vni_v.parse().unwrap_or(100);
    let encap_v = if encap.0 == vni_n && !encap.1.is_empty() {
        encap.1.clone()
    } else {
        encap_name(c.encap_of(vni_n)).to_string()
    };

    let emit = |f: FormAction| {
        let on = p.on_act.clone();
        Callback::from(move |_: MouseEvent| on.emit(f.clone()))
    };
    let traffic = emit(FormAction::Traffic {
        what: (*what).clone(),
        from: from_v.clone(),
        to: to_v.clone(),
    });
    let migrate = emit(FormAction::Migrate {
        host: mhost_v.clone(),
        to: mto_v.clone(),
    });
    let hv_op = |fail: bool, uplink: bool| {
        let name = hv_v.clone();
        emit(if uplink {
            FormAction::Uplink { name, fail }
        } else {
            FormAction::Hypervisor { name, fail }
        })
    };
    let rr_op = |fail: bool| {
        emit(FormAction::Reflector {
            name: rr_v.clone(),
            fail,
        })
    };
    let add_rr = emit(FormAction::AddReflector {
        site: site_v.clone(),
    });
    let add_host = emit(FormAction::AddHost {
        hypervisor: hv_v.clone(),
        vni: vni_n,
    });
    let add_hv = emit(FormAction::AddHypervisor {
        site: site_v.clone(),
    });
    let set_encap = emit(FormAction::Encap {
        vni: vni_n,
        encap: ENCAPSULATIONS
            .iter()
            .find(|(n, _)| *n == encap_v)
            .map_or(Default::default(), |(_, e)| *e),
    });
    let set_rate = |off: bool| {
        let (on, text, err) = (p.on_act.clone(), rate.clone(), rate_err.clone());
        Callback::from(move |_: MouseEvent| {
            let mbps = if off {
                None
            } else {
                match parse_rate(&text) {
                    Ok(v) => Some(v),
                    Err(e) => return err.set(Some(e)),
                }
            };
            err.set(None);
            on.emit(FormAction::RateLimit { vni: vni_n, mbps });
        })
    };
    let set_mtu = {
        let (on, text, err) = (p.on_act.clone(), mtu.clone(), mtu_err.clone());
        Callback::from(move |_: MouseEvent| match parse_mtu(&text) {
            Ok(v) => {
                err.set(None);
                on.emit(FormAction::UnderlayMtu(v));
            }
            Err(e) => err.set(Some(e)),
        })
    };
    let on_encap = {
        let e = encap.clone();
        Callback::from(move |ev: Event| {
            let v = ev
                .target_unchecked_into::<web_sys::HtmlSelectElement>()
                .value();
            e.set((vni_n, v));
        })
    };
    let mode = |m: LearningMode, id: &'static str, label: &'static str| {
        let on = c.learning == m;
        html! {
            <button id={id} class={classes!(on.then_some("on"))} aria-pressed={on.to_string()}
                title={if on { "the current learning mode" } else { "switch to this learning mode" }}
                onclick={emit(FormAction::Learning(m))}>{ label }</button>
        }
    };
    let kinds = ["ping", "ping6", "arping", "tcp"].map(String::from);
    html! {
        <details class="actions" open=true>
            <summary><h2>{ "Actions" }</h2></summary>
            <div class="row">
                { select("act-what", "traffic kind", &kinds, &what, &what) }
                { select("act-from", "from host", &hosts, &from_v, &from) }
                <span>{ "→" }</span>
                { select("act-to", "to host", &hosts, &to_v, &to) }
                <button class="go" id="act-traffic" onclick={traffic}>{ "Go" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "Migrate" }</span>
                { select("act-mhost", "host to migrate", &hosts, &mhost_v, &mhost) }
                <span>{ "to" }</span>
                { select("act-mto", "destination hypervisor", &c.hypervisors, &mto_v, &mto) }
                <button id="act-migrate" onclick={migrate}>{ "Move" }</button>
            </div>
            <div class="row">
                { select("act-hv", "hypervisor", &c.hypervisors, &hv_v, &hv) }
                <button title="Fail the hypervisor: it and its hosts stop" onclick={hv_op(true, false)}>{ "Fail" }</button>
                <button title="Restore a failed hypervisor" onclick={hv_op(false, false)}>{ "Restore" }</button>
                <button title="Cut the hypervisor's underlay uplink" onclick={hv_op(true, true)}>{ "Cut link" }</button>
                <button title="Fix a cut uplink" onclick={hv_op(false, true)}>{ "Fix link" }</button>
            </div>
            if !c.reflectors.is_empty() {
                <div class="row">
                    <span class="lbl"><abbr class="tip" title="A BGP route reflector: every VTEP's speaker has an iBGP session with it, and it passes each VTEP's EVPN routes to the others">{ "Reflector" }</abbr></span>
                    { select("act-rr", "route reflector", &c.reflectors, &rr_v, &rr) }
                    <button id="act-rr-fail" title="Fail the route reflector: its sessions go silent, and end when the VTEPs' hold timers expire" onclick={rr_op(true)}>{ "Fail" }</button>
                    <button id="act-rr-restore" title="Restore it: it boots with empty tables, and the VTEPs reconnect" onclick={rr_op(false)}>{ "Restore" }</button>
                    <button id="act-add-rr" title="Another route reflector, in the site picked below: every VTEP peers with it too" onclick={add_rr}>{ "add one" }</button>
                </div>
            }
            <div class="row">
                <span class="lbl">{ "Add" }</span>
                <button id="act-add-host" title="A host on the hypervisor above, in the VNI below" onclick={add_host}>{ "host" }</button>
                <button id="act-add-tenant" title="A new VNI with two hosts" onclick={emit(FormAction::AddTenant)}>{ "tenant" }</button>
                { select("act-site", "site", &c.sites, &site_v, &site) }
                <button id="act-add-hv" title="A hypervisor in the site at its left" onclick={add_hv}>{ "hypervisor" }</button>
                <button id="act-add-site" title="A new site, 2 ms away from the first, with one hypervisor" onclick={emit(FormAction::AddSite)}>{ "site" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "VNI" }</span>
                { select("act-vni", "VNI", &vnis, &vni_v, &vni) }
                <select id="act-encap" aria-label="encapsulation" onchange={on_encap}>
                    { for ENCAPSULATIONS.iter().map(|(n, e)| html! {
                        <option value={*n} selected={*n == encap_v}>{ e.name() }</option>
                    }) }
                </select>
                <button onclick={set_encap}>{ "Set encap" }</button>
            </div>
            <div class="row">
                <span class="lbl">{ "Rate" }</span>
                { number("rate limit in Mbit/s", &rate, &rate_err) }<span>{ "Mbit/s" }</span>
                <button onclick={set_rate(false)}>{ "Limit VNI" }</button>
                <button onclick={set_rate(true)}>{ "Unlimit" }</button>
            </div>
            { reason(&rate_err) }
            <div class="row">
                <span class="lbl">{ "MTU" }</span>
                { number("underlay MTU", &mtu, &mtu_err) }
                <button onclick={set_mtu}>{ "Set underlay MTU" }</button>
            </div>
            { reason(&mtu_err) }
            <div class="row">
                <span class="lbl"><abbr class="tip" title="How VTEPs find remote MACs: flood and learn (BUM frames are replicated head-end to every VTEP of the VNI, and MACs are learned from traffic); static (the operator writes every host's MAC and IP into every VTEP of its VNI, no message on the wire); or BGP EVPN (each VTEP's speaker advertises its hosts as routes through a route reflector; ARP answered by the VTEP)">{ "Learning" }</abbr></span>
                { mode(LearningMode::FloodAndLearn, "act-fl", "flood & learn") }
                { mode(LearningMode::Static, "act-static", "static") }
                { mode(LearningMode::BgpEvpn, "act-cp", "BGP EVPN") }
            </div>
        </details>
    }
}
