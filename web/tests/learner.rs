//! The playground as a learner uses it: each test mounts the whole `App` on a URL fragment
//! (`#sandbox`, `#S4`, ...) and drives it only through the page, as UX-REVIEW.md's steps do.
//! One test per bug of the review (B1..B11); each was seen failing before its fix.
//!
//! Run with `wasm-pack test --headless --chrome web` (or `cargo xtask test --only wasm-pack-web`).
#![cfg(target_arch = "wasm32")]

use vtep_web::App;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement, HtmlInputElement, HtmlSelectElement};

wasm_bindgen_test_configure!(run_in_browser);

/// The sandbox's hosts and their addresses (`Script::sandbox`).
const SANDBOX: [(&str, &str); 5] = [
    ("red-1", "10.0.0.1"),
    ("blue-1", "10.0.0.102"),
    ("red-2", "10.0.0.3"),
    ("red-3", "10.0.0.4"),
    ("blue-2", "10.0.0.105"),
];

fn window() -> web_sys::Window {
    web_sys::window().unwrap()
}

/// The app mounted in a fresh `<div>`, opened on `#fragment` (set without a history entry,
/// as a link would open it).
struct Page {
    root: Element,
    handle: Option<yew::AppHandle<App>>,
}

/// The page's stylesheet (index.html's `<style>`), so the app is laid out as in the page: the
/// event list scrolls, rows have their height.
fn add_stylesheet(document: &web_sys::Document) {
    if document.get_element_by_id("page-style").is_some() {
        return;
    }
    let html = include_str!("../../index.html");
    let css = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(css, _)| css)
        .unwrap();
    let style = document.create_element("style").unwrap();
    style.set_id("page-style");
    style.set_text_content(Some(css));
    document.head().unwrap().append_child(&style).unwrap();
}

impl Page {
    async fn open(fragment: &str) -> Page {
        let url = format!("#{fragment}");
        window()
            .history()
            .unwrap()
            .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
            .unwrap();
        let document = window().document().unwrap();
        add_stylesheet(&document);
        let root = document.create_element("div").unwrap();
        document.body().unwrap().append_child(&root).unwrap();
        let handle = yew::Renderer::<App>::with_root(root.clone()).render();
        yew::scheduler::flush().await;
        Page {
            root,
            handle: Some(handle),
        }
    }

    fn find(&self, selector: &str) -> Element {
        self.root
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("{selector} not found"))
    }

    fn all(&self, selector: &str) -> Vec<Element> {
        let list = self.root.query_selector_all(selector).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into())
            .collect()
    }

    fn texts(&self, selector: &str) -> Vec<String> {
        self.all(selector)
            .iter()
            .map(|e| e.text_content().unwrap_or_default())
            .collect()
    }

    async fn click(&self, selector: &str) {
        self.find(selector).unchecked_into::<HtmlElement>().click();
        yew::scheduler::flush().await;
    }

    /// Clicks the button of the actions panel that reads `text`.
    async fn button(&self, text: &str) {
        let b = self
            .all(".actions button")
            .into_iter()
            .find(|b| b.text_content().unwrap_or_default().trim() == text)
            .unwrap_or_else(|| panic!("no button {text:?} in the actions panel"));
        b.unchecked_into::<HtmlElement>().click();
        yew::scheduler::flush().await;
    }

    /// Picks `value` in the `<select>` with this id, as a user does (a `change` event).
    async fn pick(&self, id: &str, value: &str) {
        let s: HtmlSelectElement = self.find(&format!("#{id}")).unchecked_into();
        s.set_value(value);
        assert_eq!(s.value(), value, "#{id} has no option {value:?}");
        fire(&s, "change").await;
    }

    /// What the `<select>` with this id shows.
    fn shown(&self, id: &str) -> String {
        self.find(&format!("#{id}"))
            .unchecked_into::<HtmlSelectElement>()
            .value()
    }

    /// Types `text` into the input with this `aria-label` (an `input` event).
    async fn type_into(&self, label: &str, text: &str) {
        let i: HtmlInputElement = self
            .find(&format!("input[aria-label=\"{label}\"]"))
            .unchecked_into();
        i.set_value(text);
        fire(&i, "input").await;
    }

    /// The message bar's text and whether it is an error.
    fn message(&self) -> (String, bool) {
        let Ok(Some(m)) = self.root.query_selector(".message") else {
            return (String::new(), false);
        };
        (
            m.text_content().unwrap_or_default(),
            m.class_name().split_whitespace().any(|c| c == "error"),
        )
    }

    /// Virtual time on screen, microseconds.
    fn t(&self) -> u64 {
        self.find(".app")
            .get_attribute("data-t")
            .unwrap()
            .parse()
            .unwrap()
    }

    fn current_scenario(&self) -> Option<String> {
        self.root
            .query_selector("button.scenario.on")
            .unwrap()
            .and_then(|b| b.get_attribute("data-scenario"))
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.destroy();
        }
        self.root.remove();
    }
}

/// Dispatches a bubbling `kind` event at `target`, as the browser does on user input, and
/// waits for the render.
async fn fire(target: &web_sys::EventTarget, kind: &str) {
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    let e = web_sys::Event::new_with_event_init_dict(kind, &init).unwrap();
    target.dispatch_event(&e).unwrap();
    yew::scheduler::flush().await;
}

fn hash() -> String {
    window().location().hash().unwrap()
}

async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}

/// B1: a ping to a host that never answers (another tenant) must not stop the host from
/// talking to everyone else: red-1 pings blue-2, then red-3, and red-3's replies arrive.
#[wasm_bindgen_test]
async fn b1_an_unanswered_ping_does_not_silence_the_host() {
    let page = Page::open("sandbox").await;
    page.pick("act-from", "red-1").await;
    page.pick("act-to", "blue-2").await;
    page.click("#act-traffic").await;
    page.pick("act-to", "red-3").await;
    page.click("#act-traffic").await;
    for _ in 0..6 {
        page.click(".ctl.end").await;
    }
    page.click("button[data-filter=ICMP]").await;
    let rows = page.texts(".event");
    let replies = rows
        .iter()
        .filter(|r| r.contains("ICMP echo reply") && r.contains("→ red-1"))
        .filter(|r| r.contains("received by the host"))
        .count();
    assert!(
        replies > 0,
        "no echo reply from red-3 reached red-1 after the unanswered ping: {:?}",
        &rows[rows.len().saturating_sub(5)..]
    );
    // Both pings ended, each with its own result line (apps named apart).
    let apps: Vec<String> = page
        .all(".results .result")
        .iter()
        .filter_map(|e| e.get_attribute("data-app"))
        .collect();
    assert_eq!(apps.len(), 2, "{apps:?}");
    assert_ne!(apps[0], apps[1]);
    let lines = page.texts(".results .result").join(" | ");
    assert!(
        lines.contains("tenants are isolated") && lines.contains("5/5"),
        "{lines}"
    );
}

/// B2: Go with untouched selects pings the host the form shows, and Move migrates to the
/// hypervisor it shows (and neither shows something that cannot work: a host pinging itself,
/// a host moving to where it already is).
#[wasm_bindgen_test]
async fn b2_the_forms_send_what_they_show() {
    let page = Page::open("sandbox").await;
    let (from, to) = (page.shown("act-from"), page.shown("act-to"));
    page.click("#act-traffic").await;
    let ip = SANDBOX.iter().find(|(n, _)| *n == to).unwrap().1;
    let (text, error) = page.message();
    assert!(
        text.contains(&format!("{from}: ping {ip} ")),
        "the form shows {from} -> {to} ({ip}) but the action was: {text}"
    );
    assert!(!error, "{text}");
    assert_ne!(from, to, "the form offers {from} -> {to}");
    drop(page);

    // ping6 goes to the same host, at its IPv6 address (made from its IPv4 one).
    let page = Page::open("sandbox").await;
    page.pick("act-what", "ping6").await;
    let (from, to) = (page.shown("act-from"), page.shown("act-to"));
    page.click("#act-traffic").await;
    let ip = SANDBOX.iter().find(|(n, _)| *n == to).unwrap().1;
    let ip6 = format!(
        "fd00:a00::{:x}",
        ip.rsplit('.').next().unwrap().parse::<u8>().unwrap()
    );
    let (text, error) = page.message();
    assert!(
        text.contains(&format!("{from}: ping6 {ip6} ")),
        "the form shows ping6 {from} -> {to} ({ip6}) but the action was: {text}"
    );
    assert!(!error, "{text}");
    drop(page);

    let page = Page::open("S4").await;
    let (host, hv) = (page.shown("act-mhost"), page.shown("act-mto"));
    page.click("#act-migrate").await;
    let (text, error) = page.message();
    assert!(!error, "the form offered {host} -> {hv}: {text}");
    assert!(
        text.contains(&format!("migrate {host} to {hv}")),
        "the form shows {host} -> {hv} but the action was: {text}"
    );
}

/// B3: "site" adds a site (with a hypervisor in it), not a hypervisor in dc1.
#[wasm_bindgen_test]
async fn b3_add_site_adds_a_site() {
    let page = Page::open("sandbox").await;
    assert_eq!(page.texts(".site-name"), ["site dc1", "site dc2"]);
    page.button("site").await;
    assert_eq!(
        page.texts(".site-name"),
        ["site dc1", "site dc2", "site dc3"],
        "{:?}",
        page.message()
    );
    page.button("site").await;
    assert_eq!(page.texts(".site-name").len(), 4, "{:?}", page.message());
}

/// B6: a number box that does not hold a valid number refuses, inline, with the reason; nothing
/// is added to the run. A valid one (spaces around it allowed) is applied as typed.
#[wasm_bindgen_test]
async fn b6_bad_numbers_are_refused_inline() {
    let page = Page::open("sandbox").await;
    for bad in ["abc", "99999", "1e3", "", "12"] {
        page.type_into("underlay MTU", bad).await;
        page.button("Set underlay MTU").await;
        let input = page.find("input[aria-label=\"underlay MTU\"]");
        assert_eq!(
            input.get_attribute("aria-invalid").as_deref(),
            Some("true"),
            "MTU {bad:?} was accepted: {:?}",
            page.message()
        );
        let why = page.texts(".invalid").concat();
        assert!(!why.is_empty(), "MTU {bad:?}: no reason shown");
        assert_eq!(hash(), "#sandbox", "MTU {bad:?} changed the run");
    }
    page.type_into("rate limit in Mbit/s", "abc").await;
    page.button("Limit VNI").await;
    let rate = page.find("input[aria-label=\"rate limit in Mbit/s\"]");
    assert_eq!(rate.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert_eq!(hash(), "#sandbox", "rate \"abc\" changed the run");
    page.type_into("underlay MTU", " 1400 ").await;
    page.button("Set underlay MTU").await;
    let (text, error) = page.message();
    assert!(!error && text.contains("underlay MTU 1400"), "{text}");
    let input = page.find("input[aria-label=\"underlay MTU\"]");
    assert_ne!(input.get_attribute("aria-invalid").as_deref(), Some("true"));
}

/// B7: what is current is shown as current: the sandbox in the list, the learning mode, the
/// encapsulation of the chosen VNI.
#[wasm_bindgen_test]
async fn b7_current_state_is_shown() {
    for (fragment, mode) in [("sandbox", "flood & learn"), ("S8", "BGP EVPN")] {
        let page = Page::open(fragment).await;
        assert_eq!(page.current_scenario().as_deref(), Some(fragment));
        let pressed = page.texts(".actions button.on");
        assert!(
            pressed.contains(&mode.to_string()),
            "{fragment} runs {mode}: {pressed:?}"
        );
    }
    let page = Page::open("S9").await;
    for (vni, encap) in [("300", "nvgre"), ("100", "vxlan"), ("200", "geneve")] {
        page.pick("act-vni", vni).await;
        assert_eq!(page.shown("act-encap"), encap, "VNI {vni}");
    }
}

/// B8: messages use the names the user sees, never internal ids or debug names.
#[wasm_bindgen_test]
async fn b8_messages_use_the_names_shown() {
    let page = Page::open("sandbox").await;
    page.pick("act-mhost", "red-1").await;
    page.pick("act-mto", "hv1").await;
    page.click("#act-migrate").await;
    let (text, error) = page.message();
    assert!(error, "{text}");
    assert!(
        text.contains("red-1") && text.contains("hv1") && !text.contains("host 6"),
        "{text}"
    );
    page.pick("act-hv", "hv4").await;
    page.button("Fail").await;
    page.pick("act-mto", "hv4").await;
    page.click("#act-migrate").await;
    let (text, _) = page.message();
    assert!(
        text.contains("hv4") && !text.contains("hypervisor 5"),
        "{text}"
    );
    page.button("BGP EVPN").await;
    let (text, _) = page.message();
    assert!(
        text.contains("BGP EVPN") && !text.contains("BgpEvpn"),
        "{text}"
    );
    page.pick("act-encap", "nvgre").await;
    page.button("Set encap").await;
    let (text, _) = page.message();
    assert!(text.contains("NVGRE") && !text.contains("Nvgre"), "{text}");
}

/// B9: one step past the last sandbox event moves the clock a little, not an hour.
#[wasm_bindgen_test]
async fn b9_a_step_in_an_idle_sandbox_is_short() {
    let page = Page::open("sandbox").await;
    page.click(".ctl.step").await;
    assert!(
        page.t() <= 1_000_000,
        "one step went to t = {} us",
        page.t()
    );
}

/// B10: changing scenario adds a history entry, so Back returns to the previous scenario.
#[wasm_bindgen_test]
async fn b10_back_returns_to_the_previous_scenario() {
    let page = Page::open("S1").await;
    let history = window().history().unwrap();
    let before = history.length().unwrap();
    page.click("button.scenario[data-scenario=S4]").await;
    assert_eq!(page.current_scenario().as_deref(), Some("S4"));
    assert_eq!(
        history.length().unwrap(),
        before + 1,
        "loading S4 added no history entry: Back would leave the page"
    );
    history.back().unwrap();
    sleep(100).await;
    yew::scheduler::flush().await;
    assert_eq!(page.current_scenario().as_deref(), Some("S1"));
    assert_eq!(hash(), "#S1");
}

/// B11: an action that would change nothing is refused with the reason, not recorded.
#[wasm_bindgen_test]
async fn b11_no_op_actions_are_refused() {
    let page = Page::open("sandbox").await;
    page.pick("act-hv", "hv1").await;
    page.button("Restore").await;
    let (text, error) = page.message();
    assert!(
        error && text.contains("hv1"),
        "restoring a healthy hv1: {text}"
    );
    assert_eq!(
        hash(),
        "#sandbox",
        "restoring a healthy hypervisor was recorded"
    );
    page.button("Fail").await;
    let (text, error) = page.message();
    assert!(!error, "{text}");
    let recorded = hash();
    page.button("Fail").await;
    let (text, error) = page.message();
    assert!(error && text.contains("hv1"), "failing hv1 twice: {text}");
    assert_eq!(hash(), recorded, "failing a failed hypervisor was recorded");
    page.pick("act-from", "red-1").await;
    page.pick("act-to", "red-2").await;
    page.click("#act-traffic").await;
    let (text, error) = page.message();
    assert!(
        error && text.contains("hv1"),
        "ping from a host on a failed hypervisor: {text}"
    );
    assert_eq!(hash(), recorded);
}

/// B5: the event list says how much of the run it shows, and the whole run is reachable: the
/// first frame of S4 after running to its end.
#[wasm_bindgen_test]
async fn b5_the_whole_run_is_reachable_in_the_event_list() {
    let page = Page::open("S4").await;
    page.click(".ctl.end").await;
    let count = page.texts(".events .count").concat();
    assert!(
        count.contains(" of "),
        "the list does not say it is partial: {count:?}"
    );
    page.click(".events button.show-all").await;
    let list = page.find(".event-list");
    list.set_scroll_top(0);
    let e = web_sys::Event::new("scroll").unwrap();
    list.dispatch_event(&e).unwrap();
    sleep(50).await;
    yew::scheduler::flush().await;
    let first = page.all(".event[data-hop=\"0\"]");
    assert_eq!(first.len(), 1, "frame #0 cannot be reached");
}
