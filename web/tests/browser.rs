//! Browser tests: mount components into a fresh `<div>` and read the DOM back.
//!
//! Run with `wasm-pack test --headless --chrome web` (or `cargo xtask test --only wasm-pack-web`).
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use vtep_web::App;
use vtep_web::components::inspector::{Inspector, InspectorProps};
use vtep_web::components::panels::{Tables, TablesProps};
use vtep_web::model::frame::FrameDetail;
use vtep_web::model::lab::Lab;
use vtep_web::model::script::{Action, Script};
use vtep_web::model::tables::{Table, tables};
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

/// An `Inspector` showing `frame`, mounted in a fresh root and rendered.
async fn inspect(frame: FrameDetail) -> Element {
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
    root
}

/// `Tables` of `node` showing `tables`, mounted in a fresh root and rendered; a link to a
/// frame goes to `on_goto`.
async fn show_tables(tables: Vec<Table>, node: &str, on_goto: Callback<u32>) -> Element {
    let root = root();
    yew::Renderer::<Tables>::with_root_and_props(
        root.clone(),
        TablesProps {
            tables: Rc::new(tables),
            node: node.into(),
            nodes: vec![],
            on_node: Callback::noop(),
            on_goto,
        },
    )
    .render();
    yew::scheduler::flush().await;
    root
}

/// The elements under `root` that `selector` matches, in document order.
fn all(root: &Element, selector: &str) -> Vec<Element> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

fn texts(root: &Element, selector: &str) -> Vec<String> {
    all(root, selector)
        .iter()
        .map(|e| e.text_content().unwrap_or_default())
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
    let root = inspect(frame).await;
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
    let port = all(&root, ".field")
        .into_iter()
        .find(|r| {
            r.text_content()
                .unwrap_or_default()
                .starts_with("Destination port")
        })
        .unwrap();
    port.unchecked_into::<HtmlElement>().click();
    yew::scheduler::flush().await;
    assert_eq!(texts(&root, ".b.lit"), [" 12", " b5"]);
}

#[wasm_bindgen_test]
async fn tables_update_after_a_simulated_ping() {
    let mut lab = Lab::new(Script::sandbox());
    let hv1 = lab.node("hv1").unwrap();
    let before = tables(lab.sim(), hv1);
    assert!(before[0].rows.is_empty(), "hv1's FDB starts empty");
    let empty = show_tables(before, "hv1", Callback::noop()).await;
    assert_eq!(all(&empty, "table.fdb tbody tr").len(), 0);
    lab.act(Action::ping("p", "red-1", [10, 0, 0, 4], 1, 10, 56))
        .unwrap();
    lab.advance_to(vtep_core::Instant::from_millis(50));
    assert_eq!(
        lab.sim().app_report(lab.app("p").unwrap()).unwrap().replies,
        1
    );
    let after = show_tables(tables(lab.sim(), hv1), "hv1", Callback::noop()).await;
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
    all(root, ".event")
        .iter()
        .map(|el| {
            (
                el.get_attribute("data-hop").unwrap_or_default(),
                el.class_name(),
            )
        })
        .collect()
}

/// The first field row of the inspector named `name` whose value contains `value`.
fn field_row(root: &Element, name: &str, value: &str) -> HtmlElement {
    let text = |r: &Element, sel: &str| {
        r.query_selector(sel)
            .ok()
            .flatten()
            .and_then(|n| n.text_content())
            .unwrap_or_default()
    };
    all(root, "tr.field")
        .into_iter()
        .find(|r| text(r, ".fname").trim() == name && text(r, ".fvalue").contains(value))
        .unwrap_or_else(|| panic!("no field {name}"))
        .unchecked_into()
}

#[wasm_bindgen_test]
async fn inspector_dissects_a_bgp_update_to_the_mobility_sequence() {
    // E2: after the migration hv1 advertises vm-b with MAC mobility sequence 1, and rr1
    // reflects it.
    let script = vtep_sim::scenario::e2().script;
    let mut lab = Lab::new(script);
    lab.advance_to(lab.end().unwrap());
    let rr1 = lab.node("rr1").unwrap();
    let hop = lab
        .sim()
        .trace()
        .iter()
        .find(|h| {
            h.from == rr1
                && vtep_web::model::dissect::dissect(&h.bytes)
                    .layers
                    .iter()
                    .any(|l| l.fields.iter().any(|f| f.name == "Sticky"))
        })
        .expect("a reflected UPDATE with MAC mobility")
        .clone();
    let frame = FrameDetail::from_bytes(hop.id.0, "update", hop.bytes.clone());
    let root = inspect(frame).await;
    let layers = texts(&root, ".layer-name");
    for want in [
        "Ethernet",
        "IPv4",
        "TCP",
        "BGP",
        "Path attribute",
        "EVPN route",
    ] {
        assert!(layers.iter().any(|l| l == want), "{want} in {layers:?}");
    }
    // The sequence lights its four bytes, 00 00 00 01, and says what it is for.
    field_row(&root, "Sequence", "moves so far").click();
    yew::scheduler::flush().await;
    assert_eq!(texts(&root, ".b.lit"), [" 00", " 00", " 00", " 01"]);
    let help = texts(&root, ".field-help").concat();
    assert!(help.contains("MAC mobility"), "{help}");
    // Label 1 reads as the VNI, and the route target as AS:VNI.
    let values = texts(&root, "tr.field .fvalue");
    assert!(
        values.iter().any(|v| v.starts_with("100 (0x000064)")),
        "{values:?}"
    );
    assert!(
        values.iter().any(|v| v.starts_with("65000:100")),
        "{values:?}"
    );
}

#[wasm_bindgen_test]
async fn the_evpn_table_links_an_fdb_row_to_its_route_and_the_route_to_its_update() {
    let mut lab = Lab::new(vtep_sim::scenario::e1().script);
    lab.advance_to(lab.end().unwrap());
    let hv2 = lab.node("hv2").unwrap();
    let vm_a = lab.node("vm-a").unwrap();
    let (mac, _, _) = lab.sim().host_addr(vm_a).unwrap();
    let t = tables(lab.sim(), hv2);
    let ids: Vec<&str> = t.iter().map(|t| t.id).collect();
    assert_eq!(ids, ["fdb", "neigh", "counters", "bgp", "evpn"]);
    let went = Rc::new(Cell::new(None::<u32>));
    let root = show_tables(t, "hv2", {
        let went = went.clone();
        Callback::from(move |h| went.set(Some(h)))
    })
    .await;
    // vm-a's FDB row came from a route: its origin is a link to it.
    let row = all(&root, "table.fdb tbody tr")
        .into_iter()
        .find(|r| {
            r.text_content()
                .unwrap_or_default()
                .contains(&mac.to_string())
        })
        .expect("vm-a in hv2's FDB");
    row.query_selector("button.cell-link")
        .unwrap()
        .expect("a link to the route")
        .unchecked_into::<HtmlElement>()
        .click();
    yew::scheduler::flush().await;
    let lit = texts(&root, "table.evpn tr.lit");
    assert_eq!(lit.len(), 1, "{lit:?}");
    assert!(lit[0].contains(&format!("type 2 MAC {mac}")), "{lit:?}");
    assert!(lit[0].contains('✓'), "the best route: {lit:?}");
    // ...and the route to the frame that carried its UPDATE to hv2.
    click(&root, "table.evpn tr.lit button.cell-link");
    let hop = went.get().expect("a frame to go to");
    let h = lab.sim().hop(vtep_sim::HopId(hop)).unwrap();
    assert_eq!(h.to, hv2);
    let segment = h.layers().bgp().expect("a BGP segment");
    assert!(segment.announced > 0, "{segment:?}");
}
