//! The few browser calls the playground makes: downloads, the URL fragment and the history,
//! the JSON of exports and links, the theme and file reading. Kept out of the model and the
//! components.

use wasm_bindgen::JsCast;

use crate::model::fragment::{Moment, Shared};
use crate::model::script::Script;

fn window() -> Option<web_sys::Window> {
    web_sys::window()
}

/// Offers `bytes` as a file download named `name`.
pub fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)
        .map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let document = window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// The script as JSON (through serde-wasm-bindgen and the browser's JSON), pretty or compact.
pub fn script_to_json(script: &Script, pretty: bool) -> Result<String, String> {
    to_json(script, pretty)
}

/// The export: the script and a moment of it, as JSON.
pub fn shared_to_json(shared: &Shared, pretty: bool) -> Result<String, String> {
    to_json(shared, pretty)
}

fn to_json<T: serde::Serialize>(v: &T, pretty: bool) -> Result<String, String> {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    let value = v.serialize(&ser).map_err(|e| e.to_string())?;
    let text = if pretty {
        js_sys::JSON::stringify_with_replacer_and_space(
            &value,
            &wasm_bindgen::JsValue::NULL,
            &wasm_bindgen::JsValue::from_f64(2.0),
        )
    } else {
        js_sys::JSON::stringify(&value)
    };
    text.map(String::from).map_err(|e| format!("{e:?}"))
}

/// A script, and the moment saved with it (if any), from JSON text: an export of this build or
/// an earlier one (which has no moment).
pub fn script_from_json(text: &str) -> Result<Shared, String> {
    let value = js_sys::JSON::parse(text).map_err(|_| "not valid JSON".to_string())?;
    let shared: Shared =
        serde_wasm_bindgen::from_value(value).map_err(|e| format!("not a script: {e}"))?;
    if shared.script.format != crate::model::script::FORMAT {
        return Err(format!("unknown format {:?}", shared.script.format));
    }
    Ok(shared)
}

/// The script a fragment's script part names: `S4`, `scenario=S4`, `sandbox`, `load`,
/// `script=<json>` (and a moment saved in that JSON).
pub fn script_from_spec(spec: &str) -> Result<(Script, Moment), String> {
    match spec.trim().strip_prefix("script=") {
        Some(json) => script_from_json(json).map(|s| (s.script.clone(), s.moment())),
        None => crate::model::view::script_named(spec).map(|s| (s, Moment::default())),
    }
}

/// The URL fragment without `#`, as in the address bar (percent-encoded): see
/// [`crate::model::fragment::split`].
pub fn raw_hash() -> String {
    let raw = window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default();
    raw.trim_start_matches('#').to_string()
}

/// Sets the URL fragment without scrolling: as a new history entry (`push`, so Back returns
/// to what was before) or in place of the current one.
pub fn set_hash(fragment: &str, push: bool) {
    if let Some(w) = window()
        && let Ok(h) = w.history()
    {
        let url = format!("#{fragment}");
        let null = wasm_bindgen::JsValue::NULL;
        let _ = if push {
            h.push_state_with_url(&null, "", Some(&url))
        } else {
            h.replace_state_with_url(&null, "", Some(&url))
        };
    }
}

/// `encodeURIComponent`.
pub fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

/// Sets `data-theme` on `<html>` ("light" or "dark").
pub fn set_theme(dark: bool) {
    if let Some(el) = window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = el.set_attribute("data-theme", if dark { "dark" } else { "light" });
    }
    if let Some(s) = window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item("overlay-lab-theme", if dark { "dark" } else { "light" });
    }
}

/// The saved theme, else the system's preference.
pub fn prefers_dark() -> bool {
    let saved = window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item("overlay-lab-theme").ok().flatten());
    match saved.as_deref() {
        Some("dark") => true,
        Some("light") => false,
        _ => window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches()),
    }
}

/// Reads the first file of an `<input type=file>` as text.
pub async fn read_file(input: web_sys::HtmlInputElement) -> Result<String, String> {
    let file = input
        .files()
        .and_then(|f| f.get(0))
        .ok_or("no file chosen")?;
    let text = wasm_bindgen_futures::JsFuture::from(file.text())
        .await
        .map_err(|e| format!("{e:?}"))?;
    text.as_string().ok_or_else(|| "not text".to_string())
}

/// `performance.now()` in milliseconds (0 where there is no `performance`).
pub fn now_ms() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Where each animation frame's time goes inside the app, for `e2e/bench.mjs`: simulator
/// stepping, model updates (lists, tables, frame positions) and Yew's view + DOM patch.
/// Published as `window.__phases` (totals in ms and the worst frame of each phase) every 10
/// frames; reading the clock costs a few calls per frame.
#[derive(Debug, Default)]
pub struct Phases {
    frames: u32,
    sum: [f64; 3],
    max: [f64; 3],
    mark: f64,
}

/// Phase indices of [`Phases`].
pub const SIM: usize = 0;
pub const MODEL: usize = 1;
pub const VIEW: usize = 2;

impl Phases {
    /// Starts timing the next phase.
    pub fn start(&mut self) {
        self.mark = now_ms();
    }

    /// Ends `phase` (one of [`SIM`], [`MODEL`], [`VIEW`]) and starts the next.
    pub fn lap(&mut self, phase: usize) {
        let t = now_ms();
        let d = t - self.mark;
        self.sum[phase] += d;
        self.max[phase] = self.max[phase].max(d);
        self.mark = t;
        if phase == VIEW {
            self.frames += 1;
            if self.frames.is_multiple_of(10) {
                self.publish();
            }
        }
    }

    fn publish(&self) {
        let Some(w) = window() else { return };
        let o = js_sys::Object::new();
        let set = |k: &str, v: f64| {
            let _ = js_sys::Reflect::set(&o, &k.into(), &v.into());
        };
        set("frames", f64::from(self.frames));
        for (i, name) in ["sim", "model", "view"].iter().enumerate() {
            set(&format!("{name}_ms"), self.sum[i]);
            set(&format!("{name}_worst_ms"), self.max[i]);
        }
        let _ = js_sys::Reflect::set(&w, &"__phases".into(), &o);
    }
}
