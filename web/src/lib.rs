//! `vtep-web`: the Overlay Lab playground, a Yew app that runs the overlay simulator
//! (`vtep-sim`, on `vtep-core`) in the browser.
//!
//! The split follows the Yew examples: [`model`] knows nothing of Yew and holds everything the
//! page shows (plain data, tested natively); [`components`] only render it; [`dom`] holds the
//! few browser calls (downloads, URL, theme).

pub mod components;
pub mod dom;
pub mod model;

pub use components::App;

/// Mounts the playground into the page's `<body>`.
pub fn start() {
    yew::Renderer::<App>::new().render();
}
