//! `vtep-web`: the Overlay Lab playground, a Yew app that runs `vtep-core` in the browser.
//!
//! The split follows the Yew examples: [`model`] knows nothing of Yew and holds everything the
//! page shows (plain data, tested natively); [`components`] only render it.

pub mod components;
pub mod model;

pub use components::App;

/// Mounts the playground into the page's `<body>`.
pub fn start() {
    yew::Renderer::<App>::new().render();
}
