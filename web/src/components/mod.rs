//! Yew components. They only render the [`crate::model`]; the one stateful component, [`App`]
//! (in `app.rs`), owns the lab and turns user input and animation frames into calls on it.
//!
//! One file per part of the page: [`header`] (tabs, time controls, clock, downloads),
//! [`topology`] (the network, the frames on its links and the
//! legend), [`inspector`] (the selected frame), [`events`] (the event list as a timeline),
//! [`actions`] (the actions panel), [`panels`] (scenarios, narration and results, tables) and
//! [`scale`] (the S5 scale view).

// Props and component structs hold callbacks and handles; Debug on them would say nothing.
#![allow(missing_debug_implementations)]

pub mod actions;
mod app;
pub mod events;
pub mod header;
pub mod inspector;
pub mod panels;
pub mod scale;
pub mod topology;

pub use app::{App, Msg, Tab};
