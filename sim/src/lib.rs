//! `vtep-sim`: a deterministic discrete-event simulator of overlay networks.
//!
//! Hosts are real TCP/IP stacks (smoltcp: ARP, ICMP echo, UDP, TCP); each hypervisor runs one
//! `vtep_core::vtep::Vtep` whose local ports are its hosts' virtual NICs; the underlay is a
//! routed IPv4 network of sites, routers and links with latency, bandwidth, MTU and loss. A
//! control-plane mode adds an EVPN-like route server. Every frame on every link is a [`Hop`]
//! in the trace, with start and end times for animation and the decision of the receiving
//! node. The same seed and the same operations give the same trace.
//!
//! Code map: [`sim`] (`Sim`: the clock, the event queue and dispatch; beside it in `sim/` the
//! model, the operations, the apps, the data path and routing), [`id`] (node, link, site, app
//! and hop ids), [`host`] (smoltcp hosts and apps), [`trace`] (hops, decisions, layer
//! summaries), [`cp`] (route server and its messages), [`scenario`] (claims S1..S10 as data),
//! [`scale`] (the exact counting model of S5), [`capture`] (pcap export), [`rng`].
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod capture;
pub mod cp;
pub mod error;
pub mod host;
pub mod id;
pub mod rng;
pub mod scale;
pub mod scenario;
pub mod script;
pub mod sim;
pub mod trace;

pub use error::SimError;
pub use id::{AppId, HopId, LinkId, NodeId, SiteId};
pub use sim::{FabricKind, LearningMode, LinkSpec, NodeKind, Sim, SimConfig};
pub use trace::{Decision, DropCause, Hop, Layers};
pub use vtep_core::{Duration, Instant, Vni};
