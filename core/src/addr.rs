//! The names the overlay forwards by: a MAC address says *who*, a local port or a remote VTEP
//! says *where*.
//!
//! They are not the FDB's own types: the neighbour table keys on them, the engine's inputs,
//! outputs and events carry them, and every driver (simulator, playground, daemon) speaks them.
//! So they live here, below every table that stores them, and the crate root re-exports them.

use core::fmt;

use crate::wire::{EthernetAddress, IpAddress};

/// A MAC address, as smoltcp spells it.
pub type Mac = EthernetAddress;

/// A local port of a VTEP: a TAP device, a bridge port, a simulated VM's virtual NIC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PortId(pub u16);

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port{}", self.0)
    }
}

/// Where frames for a MAC go.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Destination {
    /// Out of a local port, without encapsulation.
    Local(PortId),
    /// Encapsulated, to the VTEP at this underlay address.
    Remote(IpAddress),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Local(port) => write!(f, "{port}"),
            Destination::Remote(ip) => write!(f, "dst {ip}"),
        }
    }
}
