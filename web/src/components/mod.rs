//! Yew components. They only render the [`crate::model`]; the one stateful component, [`App`]
//! (in `app.rs`), owns the lab and turns user input and animation frames into calls on it.
//!
//! One file per part of the page: [`topology`] (the network and the frames on its links),
//! [`inspector`] (the selected frame), [`panels`] (scenarios, actions, events, tables) and
//! [`scale`] (the S5 scale view).

// Props and component structs hold callbacks and handles; Debug on them would say nothing.
#![allow(missing_debug_implementations)]

mod app;
pub mod inspector;
pub mod panels;
pub mod scale;
pub mod topology;

pub use app::{App, Msg, Tab};
