//! `vtep-sim`: a deterministic discrete-event simulator of overlay networks.
//!
//! Hosts are real TCP/IP stacks (smoltcp: ARP, ICMP echo, UDP, TCP); each hypervisor runs one
//! `vtep_core::vtep::Vtep` whose local ports are its hosts' virtual NICs; the underlay is a
//! routed IPv4 network of sites, routers and links with latency, bandwidth, MTU and loss. In
//! the BGP EVPN learning mode every hypervisor also runs a `vtep_evpn::Speaker` over a smoltcp
//! TCP stack on the underlay, in iBGP sessions with route reflectors that run the same
//! speaker in reflector mode. Every frame on every link is a [`Hop`] in the trace, with start
//! and end times for animation and the decision of the receiving node. The same seed and the
//! same operations give the same trace.
//!
//! Code map: [`sim`] (`Sim`: the clock, the event queue and dispatch; beside it in `sim/` the
//! model, the operations, the apps, the data path and routing), [`id`] (node, link, site, app
//! and hop ids), [`host`] (smoltcp hosts and apps), [`trace`] (hops, decisions, layer
//! summaries), [`bgp`] (BGP segments as the trace reads them, the speakers' settings),
//! [`agent`] (a speaker and its TCP/IP stack), [`scenario`] (claims S1..S10 and the EVPN
//! scenarios as data), [`scale`] (the exact counting model of S5), [`capture`] (pcap export),
//! [`rng`].
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod agent;
pub mod bgp;
pub mod capture;
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
pub use trace::{BgpNote, Decision, DropCause, Hop, Layers};
pub use vtep_core::{Duration, Instant, Vni};
