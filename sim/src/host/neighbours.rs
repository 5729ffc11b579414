//! What a host knows of its neighbours, as the simulator sees it from the frames: smoltcp's
//! neighbour cache (which it keeps private; ARP for IPv4, Neighbour Discovery for IPv6), and the
//! addresses the host is asking for, so an app can give up on one that never answers.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use vtep_core::Mac;
use vtep_core::wire::ndisc::{self, Message};
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, IpAddress, Ipv4Address,
    Ipv6Address,
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

/// smoltcp's (and Linux's) time between ARP requests (or Neighbour Solicitations) for one
/// address. The same tries and retry apply to IPv6's solicitations.
pub const ARP_RETRY: Duration = Duration::from_secs(1);

/// What a host knows of its neighbours, mirrored by the simulator from the frames (smoltcp
/// keeps its own private): the neighbour cache, and the addresses it is asking for.
#[derive(Debug, Default)]
pub struct Neighbours {
    /// smoltcp's neighbour cache: IP -> (MAC, expiry). Filled by the same rules (any ARP aimed
    /// at our IPv4 address from a unicast sender; ND as `Host::observe_nd` says), expiring
    /// after [`ARP_ENTRY_LIFETIME`].
    pub cache: BTreeMap<IpAddress, (Mac, Instant)>,
    /// Addresses asked for and not answered yet: ARP requests or Neighbour Solicitations
    /// sent, the last one's time.
    pub asked: BTreeMap<IpAddress, (u32, Instant)>,
}

impl Neighbours {
    /// Whether `ip` has a live entry at `now`.
    pub fn resolved(&self, ip: IpAddress, now: Instant) -> bool {
        self.cache.get(&ip).is_some_and(|(_, exp)| *exp > now)
    }

    /// When the host gives up on `ip`: one retry after its last of [`ARP_TRIES`] requests.
    pub fn give_up_at(&self, ip: IpAddress) -> Option<Instant> {
        let (tries, last) = self.asked.get(&ip)?;
        (*tries >= ARP_TRIES).then_some(*last + ARP_RETRY)
    }

    /// `ip` is at `mac` from `now` on (for [`ARP_ENTRY_LIFETIME`]); no longer asked for.
    pub(super) fn fill(&mut self, now: Instant, ip: IpAddress, mac: Mac) {
        self.cache.insert(ip, (mac, now + ARP_ENTRY_LIFETIME));
        self.asked.remove(&ip);
    }

    /// Notes the ARP requests and Neighbour Solicitations among frames the host, whose
    /// addresses are `me`, sends.
    pub(super) fn note_sent(
        &mut self,
        me: (Ipv4Address, Ipv6Address),
        frames: &[Vec<u8>],
        now: Instant,
    ) {
        for f in frames {
            let mine = |ip: IpAddress| ip == IpAddress::Ipv4(me.0) || ip == IpAddress::Ipv6(me.1);
            if let Some((sender, target)) = request_of(f)
                && mine(sender)
                && !mine(target)
            {
                let e = self.asked.entry(target).or_insert((0, now));
                *e = (e.0 + 1, now);
            }
        }
    }
}

/// The sender and target IPs of an ARP request frame or of a Neighbour Solicitation.
fn request_of(frame: &[u8]) -> Option<(IpAddress, IpAddress)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() == EthernetProtocol::Ipv6 {
        return match ndisc::parse(frame).ok()?? {
            Message::Solicitation(ns) => Some((ns.src.into(), ns.target.into())),
            Message::Advertisement(_) => None,
        };
    }
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    match ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()? {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } => Some((source_protocol_addr.into(), target_protocol_addr.into())),
        _ => None,
    }
}
