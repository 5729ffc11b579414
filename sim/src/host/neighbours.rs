//! What a host knows of its neighbours, as the simulator sees it from the frames: smoltcp's ARP
//! cache (which it keeps private), and the addresses the host is asking for, so an app can give
//! up on one that never answers.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use vtep_core::Mac;
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Ipv4Address,
};
use vtep_core::{Duration, Instant};

/// smoltcp's neighbour cache entry lifetime.
pub const ARP_ENTRY_LIFETIME: Duration = Duration::from_secs(60);

/// ARP requests a host sends for an address before it gives up on it (Linux's
/// `mcast_solicit`): the frames waiting for the address are dropped and the apps learn the
/// destination is unreachable, one [`ARP_RETRY`] after the last request. Without this, smoltcp
/// would ask forever, and as it sends at most one ARP request a second per interface, every
/// other destination of the host would wait behind the one that never answers.
pub const ARP_TRIES: u32 = 3;

/// smoltcp's (and Linux's) time between ARP requests for one address.
pub const ARP_RETRY: Duration = Duration::from_secs(1);

/// What a host knows of its neighbours, mirrored by the simulator from the frames (smoltcp
/// keeps its own private): the ARP cache, and the addresses it is asking for.
#[derive(Debug, Default)]
pub struct Neighbours {
    /// smoltcp's ARP cache: IP -> (MAC, expiry). Filled by the same rule (any ARP aimed at our
    /// IP from a unicast sender), expiring after [`ARP_ENTRY_LIFETIME`].
    pub cache: BTreeMap<Ipv4Address, (Mac, Instant)>,
    /// Addresses asked for and not answered yet: ARP requests sent, the last one's time.
    pub asked: BTreeMap<Ipv4Address, (u32, Instant)>,
}

impl Neighbours {
    /// Whether `ip` has a live entry at `now`.
    pub fn resolved(&self, ip: Ipv4Address, now: Instant) -> bool {
        self.cache.get(&ip).is_some_and(|(_, exp)| *exp > now)
    }

    /// When the host gives up on `ip`: one retry after its last of [`ARP_TRIES`] requests.
    pub fn give_up_at(&self, ip: Ipv4Address) -> Option<Instant> {
        let (tries, last) = self.asked.get(&ip)?;
        (*tries >= ARP_TRIES).then_some(*last + ARP_RETRY)
    }

    /// Notes the ARP requests among frames the host sends.
    pub(super) fn note_sent(&mut self, me: Ipv4Address, frames: &[Vec<u8>], now: Instant) {
        for f in frames {
            if let Some((sender, target)) = arp_request_of(f)
                && sender == me
                && target != me
            {
                let e = self.asked.entry(target).or_insert((0, now));
                *e = (e.0 + 1, now);
            }
        }
    }
}

/// The sender and target IPs of an ARP request frame.
fn arp_request_of(frame: &[u8]) -> Option<(Ipv4Address, Ipv4Address)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    match ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()? {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } => Some((source_protocol_addr, target_protocol_addr)),
        _ => None,
    }
}
