//! Browser tests: mount components into a fresh `<div>` and read the DOM back.
//!
//! Run with `wasm-pack test --headless --chrome web` (or `cargo xtask test --only wasm-pack-web`).
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use vtep_web::App;
use vtep_web::components::inspector::{Inspector, InspectorProps};
use vtep_web::components::panels::{Tables, TablesProps};
use vtep_web::model::frame::FrameDetail;
use vtep_web::model::lab::Lab;
use vtep_web::model::script::{Action, Script};
use vtep_web::model::tables::tables;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

fn root() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    root
}

fn texts(root: &Element, selector: &str) -> Vec<String> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().text_content().unwrap_or_default())
        .collect()
}

fn click(root: &Element, selector: &str) {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("{selector} not found"))
        .unchecked_into::<HtmlElement>()
        .click();
}

#[wasm_bindgen_test]
async fn inspector_decodes_a_known_frame() {
    let bytes = vtep_core::sample::encapsulated_arp();
    let frame = FrameDetail::from_bytes(7, "sample", bytes.clone().into());
    let root = root();
    yew::Renderer::<Inspector>::with_root_and_props(
        root.clone(),
        InspectorProps {
            frame: Some(Rc::new(frame)),
            on_select: Callback::noop(),
            on_close: Callback::noop(),
        },
    )
    .render();
    yew::scheduler::flush().await;
    let layers = texts(&root, ".layer-name");
    assert_eq!(
        layers,
        [
            "Outer Ethernet",
            "Outer IPv4",
            "Outer UDP",
            "VXLAN",
            "Inner Ethernet",
            "ARP"
        ]
    );
    // Every byte is in the dump, and the VNI (selected by default) lights bytes 46..49.
    let shown: Vec<u8> = texts(&root, ".hex-bytes")
        .join(" ")
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    assert_eq!(shown, bytes);
    let lit: Vec<String> = texts(&root, ".b.lit");
    let vni = vtep_core::sample::SAMPLE_VNI.get().to_be_bytes();
    let want: Vec<String> = vni[1..].iter().map(|b| format!(" {b:02x}")).collect();
    assert_eq!(lit, want);
    let vni_row = texts(&root, ".field.sel .fvalue");
    let v = vtep_core::sample::SAMPLE_VNI.get();
    assert_eq!(
        vni_row,
        [format!("{v} (0x{v:06x})")],
        "the VNI in decimal and in hex"
    );
    // The selected field says what it is for.
    let help = texts(&root, ".field-help").concat();
    assert!(help.contains("24 bits"), "{help}");
    // Selecting the outer UDP destination port lights its two bytes: 12b5 = 4789.
    let rows = root.query_selector_all(".field").unwrap();
    let port = (0..rows.length())
        .map(|i| rows.item(i).unwrap().unchecked_into::<HtmlElement>())
        .find(|r| {
            r.text_content()
                .unwrap_or_default()
                .starts_with("Destination port")
        })
        .unwrap();
    port.click();
    yew::scheduler::flush().await;
    assert_eq!(texts(&root, ".b.lit"), [" 12", " b5"]);
}

#[wasm_bindgen_test]
async fn tables_update_after_a_simulated_ping() {
    let mut lab = Lab::new(Script::sandbox());
    let hv1 = lab.node("hv1").unwrap();
    let before = tables(lab.sim(), hv1);
    assert!(before[0].rows.is_empty(), "hv1's FDB starts empty");
    let render = |t| {
        let root = root();
        yew::Renderer::<Tables>::with_root_and_props(
            root.clone(),
            TablesProps {
                tables: Rc::new(t),
                node: "hv1".into(),
                nodes: vec![],
                on_node: Callback::noop(),
            },
        )
        .render();
        root
    };
    let empty = render(before);
    yew::scheduler::flush().await;
    assert_eq!(
        empty
            .query_selector_all("table.fdb tbody tr")
            .unwrap()
            .length(),
        0
    );
    lab.act(Action::Ping {
        app: "p".into(),
        from: "red-1".into(),
        to: [10, 0, 0, 4],
        count: 1,
        interval_ms: 10,
        size: 56,
    })
    .unwrap();
    lab.advance_to(vtep_core::Instant::from_millis(50));
    assert_eq!(
        lab.sim().app_report(lab.app("p").unwrap()).unwrap().replies,
        1
    );
    let after = render(tables(lab.sim(), hv1));
    yew::scheduler::flush().await;
    let rows = texts(&after, "table.fdb tbody tr");
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(
        rows.iter().any(|r| r.contains("(hv3)")),
        "red-3 learned behind hv3: {rows:?}"
    );
}

#[wasm_bindgen_test]
async fn controls_change_state() {
    let root = root();
    yew::Renderer::<App>::with_root(root.clone()).render();
    yew::scheduler::flush().await;
    let app = root.query_selector(".app").unwrap().unwrap();
    let t = || app.get_attribute("data-t").unwrap().parse::<u64>().unwrap();
    assert_eq!(app.get_attribute("data-playing").as_deref(), Some("false"));
    click(&root, ".ctl.play");
    yew::scheduler::flush().await;
    assert_eq!(app.get_attribute("data-playing").as_deref(), Some("true"));
    click(&root, ".ctl.play");
    yew::scheduler::flush().await;
    assert_eq!(app.get_attribute("data-playing").as_deref(), Some("false"));
    click(&root, ".ctl.reset");
    yew::scheduler::flush().await;
    assert_eq!(t(), 0);
    click(&root, ".ctl.step");
    click(&root, ".ctl.step");
    yew::scheduler::flush().await;
    let two = t();
    assert!(two > 0);
    assert!(!texts(&root, ".event").is_empty(), "stepping shows events");
    click(&root, ".ctl.step");
    yew::scheduler::flush().await;
    assert!(t() > two);
    click(&root, ".ctl.back");
    yew::scheduler::flush().await;
    assert_eq!(t(), two, "step back replays to the previous event");
    click(&root, ".ctl.end");
    yew::scheduler::flush().await;
    assert_eq!(
        root.query_selector(".outcome")
            .unwrap()
            .unwrap()
            .get_attribute("data-ok")
            .as_deref(),
        Some("true")
    );
    // The ARP filter: only ARP frames stay in the list (at the end of S1 it also holds the
    // pings), and the count shrinks; off again, the pings come back.
    let before = events(&root);
    let ping = before
        .iter()
        .find(|(_, class)| !class.contains("p-arp"))
        .expect("S1's pings are in the list")
        .0
        .clone();
    let count = |root: &Element| -> usize {
        let text = texts(root, ".events .count").concat();
        text.trim_end_matches(" frames").parse().unwrap()
    };
    let all = count(&root);
    click(&root, "button[data-filter=ARP]");
    yew::scheduler::flush().await;
    assert_eq!(texts(&root, "button.filter.on"), ["ARP"]);
    let arp = events(&root);
    assert!(!arp.is_empty(), "S1 starts with ARP");
    assert!(
        arp.iter().all(|(_, class)| class.contains("p-arp")),
        "{arp:?}"
    );
    assert!(
        arp.iter().all(|(hop, _)| *hop != ping),
        "{ping} is still listed"
    );
    assert!(count(&root) < all, "{} of {all} frames", count(&root));
    click(&root, "button[data-filter=ARP]");
    yew::scheduler::flush().await;
    assert!(texts(&root, "button.filter.on").is_empty());
    assert_eq!(count(&root), all);
    assert!(events(&root).iter().any(|(hop, _)| *hop == ping));
}

/// The event rows shown: hop number and class list.
fn events(root: &Element) -> Vec<(String, String)> {
    let list = root.query_selector_all(".event").unwrap();
    (0..list.length())
        .map(|i| {
            let el: Element = list.item(i).unwrap().unchecked_into();
            (
                el.get_attribute("data-hop").unwrap_or_default(),
                el.class_name(),
            )
        })
        .collect()
}
