//! `vtep-core`: the tunnel endpoint every part of Overlay Lab runs.
//!
//! A VXLAN tunnel endpoint (VTEP) takes Ethernet frames from local ports, looks the destination
//! MAC up in its forwarding database (FDB), and sends the frame inside a UDP datagram to the VTEP
//! behind which that MAC lives (or to every VTEP of the network when it does not know). The other
//! end strips the envelope, learns where the sender lives, and delivers the inner frame.
//!
//! The crate is `no_std` + `alloc` and sans-IO: it owns no sockets, reads no clock and allocates
//! nothing per packet. The caller feeds it inputs and time ([`Vtep::handle_input`]) and
//! carries out what it asks for ([`Vtep::poll_output`]). A browser tick, a discrete-event
//! simulator and an epoll loop drive the same engine.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

// The unit tests also run in headless Chromium (`wasm-pack test core`).
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// A counter per reason, for a reason enum with `ALL` and `COUNT` (drops by `DropReason`,
/// malformed BGP input by `Malformed`): the array and its `get`, `total` and `nonzero`,
/// declared once. The module adds how a count goes up.
macro_rules! reason_counters {
    ($(#[$meta:meta])* pub struct $name:ident($reason:ident);) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub struct $name([u64; $reason::COUNT]);

        impl Default for $name {
            fn default() -> Self {
                $name([0; $reason::COUNT])
            }
        }

        impl $name {
            pub fn get(&self, reason: $reason) -> u64 {
                self.0[reason as usize]
            }

            pub fn total(&self) -> u64 {
                self.0.iter().sum()
            }

            /// The reasons counted at least once, with their counts.
            pub fn nonzero(&self) -> impl Iterator<Item = ($reason, u64)> + '_ {
                $reason::ALL
                    .iter()
                    .map(|r| (*r, self.get(*r)))
                    .filter(|(_, n)| *n > 0)
            }
        }
    };
}

pub mod addr;
pub mod fdb;
pub mod neigh;
pub mod pcap;
pub mod rate;
pub mod sample;
pub mod vni;
pub mod vtep;
pub mod wire;

// What every driver names: the engine, its inputs and outputs, and the overlay's addresses.
pub use addr::{Destination, Mac, PortId};
pub use smoltcp::time::{Duration, Instant};
pub use vni::Vni;
pub use vtep::{
    ConfigError, Deliver, DropReason, Encapsulation, Event, InnerVlanPolicy, Input, NetworkConfig,
    NetworkCounters, Output, Transmit, Vtep, VtepConfig,
};

/// The version of this crate, shown by the playground and `native-vtep --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Time from `earlier` to `now`; zero if `now` is not later. smoltcp's `Instant - Instant` is
/// an absolute difference, which would make a clock that steps back look like time passing.
pub(crate) fn elapsed(now: Instant, earlier: Instant) -> Duration {
    let micros = now.total_micros().saturating_sub(earlier.total_micros());
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}
