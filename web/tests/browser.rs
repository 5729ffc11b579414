//! Browser tests: mount the playground into a fresh `<div>` and read the DOM back.
//!
//! Run with `wasm-pack test --headless --chrome web` (or `cargo xtask test --only wasm-pack-web`).
#![cfg(target_arch = "wasm32")]

use vtep_web::App;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::Element;

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts a fresh [`App`] in a new `<div>` under `<body>` and waits until it has rendered.
async fn mount() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    yew::Renderer::<App>::with_root(root.clone()).render();
    yew::scheduler::flush().await;
    root
}

fn text(root: &Element, selector: &str) -> Option<String> {
    root.query_selector(selector)
        .unwrap()
        .map(|e| e.text_content().unwrap_or_default())
}

/// The hex bytes shown on every `.hex-bytes` line, in order.
fn shown_bytes(root: &Element) -> Vec<u8> {
    let lines = root.query_selector_all(".hex-bytes").unwrap();
    let mut bytes = Vec::new();
    for i in 0..lines.length() {
        let line = lines.item(i).unwrap().text_content().unwrap_or_default();
        for pair in line.split_whitespace() {
            bytes.push(u8::from_str_radix(pair, 16).expect("a hex byte"));
        }
    }
    bytes
}

#[wasm_bindgen_test]
async fn shows_title_and_core_version() {
    let root = mount().await;
    assert_eq!(text(&root, ".title").as_deref(), Some("Overlay Lab"));
    assert_eq!(text(&root, ".version").as_deref(), Some(vtep_core::VERSION));
}

#[wasm_bindgen_test]
async fn hex_dump_shows_every_byte_of_the_sample() {
    let root = mount().await;
    let sample = vtep_core::sample::encapsulated_arp();
    assert_eq!(shown_bytes(&root), sample);
    if sample.is_empty() {
        assert!(
            text(&root, ".frame-empty").is_some(),
            "empty case not explained"
        );
    } else {
        assert_eq!(text(&root, ".len"), Some(sample.len().to_string()));
        let lines = root.query_selector_all(".hex-line").unwrap().length() as usize;
        assert_eq!(lines, sample.len().div_ceil(16));
    }
}

/// Fails until `vtep_core::sample::encapsulated_arp` returns a real frame.
#[wasm_bindgen_test]
fn sample_frame_is_not_empty() {
    assert!(
        !vtep_core::sample::encapsulated_arp().is_empty(),
        "vtep_core::sample::encapsulated_arp() is still the empty placeholder"
    );
}
