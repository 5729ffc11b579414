//! `vtep-evpn`: a sans-IO BGP EVPN speaker (RFC 4271, RFC 7432, RFC 8365) for the project's VTEP.
//!
//! It speaks iBGP L2VPN/EVPN to one or more route reflectors (or is one, RFC 4456), turns the
//! engine's learning events into type-2 and type-3 routes, and turns the best received routes
//! into FDB entries and flood lists of the engine. Like `vtep_core::vtep::Vtep` it owns no
//! socket and reads no clock: the driver owns the TCP connections and time.
//!
//! ```text
//! driver                                  Speaker
//!   accept()/Connected/Data/Closed  ---->  handle_input(now, Input)
//!   Vtep events (Learned, Moved, ...) -->    sessions (RFC 4271 FSM, timers as deadlines)
//!                                            Adj-RIB-In per peer, best path per MAC
//!   connect, write, close, apply  <-----  poll_output() -> Output
//!   to the Vtep, sleep until Timeout        local routes from events
//! ```
//!
//! After each [`Speaker::handle_input`] (and whenever the driver wrote bytes and may send more),
//! call [`Speaker::poll_output`] until it returns [`Output::Timeout`]; call `handle_input` with
//! [`Input::Timeout`] at that instant if nothing else arrives. The same inputs at the same
//! instants give the same outputs (hashing is seeded by [`SpeakerConfig::hash_seed`]).
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod config;
mod error;
mod export;
mod io;
mod rib;
mod routes;
mod session;
mod speaker;
mod view;

pub use config::{PeerConfig, SpeakerConfig, VniConfig};
pub use error::SessionError;
pub use rib::PathAttributes;
pub use session::{Negotiated, PeerCounters, State};
pub use speaker::{ConfigError, Event, FdbAction, Input, Output, Speaker};
pub use view::{MemoryUse, PeerStatus, RouteSource, RouteView};

/// A peer of the speaker: an index that stays valid until the peer is removed.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PeerId(pub u16);

impl core::fmt::Display for PeerId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "peer{}", self.0)
    }
}
