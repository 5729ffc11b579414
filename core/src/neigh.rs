//! The neighbour table behind ARP and ND suppression: `(VNI, IP) -> MAC`, for IPv4 and IPv6
//! addresses alike.
//!
//! A VTEP that knows which MAC owns an IP can answer an ARP request or an IPv6 Neighbour
//! Solicitation itself, on the local port it came from, instead of flooding it to every VTEP of
//! the network (claim S8). Entries are learned by snooping ARP (requests, replies and gratuitous
//! ARP) and Neighbour Discovery (solicitations that carry the sender's link-layer address,
//! advertisements, and the unsolicited advertisements a host sends after a move), installed by
//! an operator (`ip neigh add ... dev vxlan0`), or installed by a control plane (EVPN MAC/IP
//! routes).

use alloc::vec::Vec;
use core::fmt;

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::addr::Mac;
use crate::fdb::{Origin, is_learnable};
use crate::wire::IpAddress;
use crate::{Duration, Instant, Vni, elapsed};

/// One neighbour entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NeighEntry {
    pub mac: Mac,
    pub origin: Origin,
    pub last_seen: Instant,
    /// The neighbour is an IPv6 router: the R flag of its last Neighbour Advertisement, or
    /// what a control plane or operator set ([`NeighbourTable::set_router`]). A proxied answer
    /// repeats it, since a host that hears R clear from a router it uses drops that router from
    /// its default router list (RFC 4861 section 7.2.5). Always false for IPv4.
    pub router: bool,
}

/// What [`NeighbourTable::learn`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NeighOutcome {
    Learned,
    Refreshed,
    /// The IP now answers from another MAC (a VM was replaced, or a GARP or unsolicited
    /// Neighbour Advertisement announced a move).
    Changed {
        from: Mac,
    },
    /// Left alone: a static or control-plane entry, an unusable address, or an advertisement
    /// without the Override flag for an IP known at another MAC.
    Ignored,
    Full,
}

/// Errors of the management calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NeighError {
    Full {
        max_entries: usize,
    },
    NotUnicast(Mac),
    /// An unspecified, broadcast, multicast (or IPv6 loopback) address has no neighbour entry.
    BadAddress(IpAddress),
}

impl fmt::Display for NeighError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NeighError::Full { max_entries } => write!(
                f,
                "the neighbour table is full ({max_entries} entries): remove entries or raise the maximum"
            ),
            NeighError::NotUnicast(mac) => write!(f, "{mac} is not a unicast MAC"),
            NeighError::BadAddress(ip) => {
                write!(
                    f,
                    "{ip} cannot be a neighbour: use a unicast IPv4 or IPv6 address"
                )
            }
        }
    }
}

impl core::error::Error for NeighError {}

/// `(VNI, IP) -> MAC` for ARP and ND suppression, all VNIs and both address families together.
#[derive(Clone)]
pub struct NeighbourTable {
    entries: HashMap<(Vni, IpAddress), NeighEntry, FixedState>,
    max_entries: usize,
    ageing: Duration,
}

impl fmt::Debug for NeighbourTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NeighbourTable")
            .field("entries", &self.entries.len())
            .field("max_entries", &self.max_entries)
            .field("ageing", &self.ageing)
            .finish()
    }
}

/// Whether `ip` can be a neighbour: a unicast address (IPv6 link-local ones included, since
/// hosts resolve their routers' link-local addresses).
pub fn is_usable(ip: &IpAddress) -> bool {
    match ip {
        IpAddress::Ipv4(ip) => !ip.is_multicast() && !ip.is_broadcast() && !ip.is_unspecified(),
        IpAddress::Ipv6(ip) => !ip.is_multicast() && !ip.is_unspecified() && !ip.is_loopback(),
    }
}

/// The order of [`NeighbourTable::sorted`]: IPv4 before IPv6, then by address.
fn sort_key(ip: &IpAddress) -> (u8, u128) {
    match ip {
        IpAddress::Ipv4(ip) => (4, u128::from(ip.to_bits())),
        IpAddress::Ipv6(ip) => (6, ip.to_bits()),
    }
}

impl NeighbourTable {
    /// An empty table; like the FDB it reserves a modest start and grows only on new entries.
    pub fn new(max_entries: usize, ageing: Duration, hash_seed: u64) -> NeighbourTable {
        NeighbourTable {
            entries: HashMap::with_capacity_and_hasher(
                max_entries.min(crate::fdb::INITIAL_CAPACITY),
                FixedState::with_seed(hash_seed ^ 0x6e65_6967),
            ),
            max_entries,
            ageing,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn lookup(&self, vni: Vni, ip: &IpAddress) -> Option<&NeighEntry> {
        self.entries.get(&(vni, *ip))
    }

    /// Snooped from ARP or a Neighbour Solicitation: `ip` is at `mac`. A new entry is not a
    /// router; an existing one keeps its router flag (RFC 4861 section 7.2.3).
    pub fn learn(&mut self, now: Instant, vni: Vni, ip: IpAddress, mac: Mac) -> NeighOutcome {
        self.learn_inner(now, vni, ip, mac, None, true)
    }

    /// Snooped from a Neighbour Advertisement for `ip` with target link-layer address `mac`,
    /// its Router flag `router` and its Override flag `override_`. Without Override, an
    /// advertisement does not replace a known MAC (RFC 4861 section 7.2.5: a proxy's or an
    /// anycast answer must not displace the owner's).
    pub fn learn_advert(
        &mut self,
        now: Instant,
        vni: Vni,
        ip: IpAddress,
        mac: Mac,
        router: bool,
        override_: bool,
    ) -> NeighOutcome {
        self.learn_inner(now, vni, ip, mac, Some(router), override_)
    }

    fn learn_inner(
        &mut self,
        now: Instant,
        vni: Vni,
        ip: IpAddress,
        mac: Mac,
        router: Option<bool>,
        override_: bool,
    ) -> NeighOutcome {
        if !is_usable(&ip) || !is_learnable(&mac) {
            return NeighOutcome::Ignored;
        }
        let full = self.entries.len() >= self.max_entries;
        match self.entries.get_mut(&(vni, ip)) {
            Some(entry) if entry.origin != Origin::Learned => NeighOutcome::Ignored,
            Some(entry) if entry.mac == mac => {
                entry.last_seen = now;
                entry.router = router.unwrap_or(entry.router);
                NeighOutcome::Refreshed
            }
            Some(_) if !override_ => NeighOutcome::Ignored,
            Some(entry) => {
                let from = entry.mac;
                entry.mac = mac;
                entry.last_seen = now;
                entry.router = router.unwrap_or(entry.router);
                NeighOutcome::Changed { from }
            }
            None if full => NeighOutcome::Full,
            None => {
                self.entries.insert(
                    (vni, ip),
                    NeighEntry {
                        mac,
                        origin: Origin::Learned,
                        last_seen: now,
                        router: router.unwrap_or(false),
                    },
                );
                NeighOutcome::Learned
            }
        }
    }

    /// An operator's or control plane's entry; replaces whatever was there (not a router: see
    /// [`NeighbourTable::set_router`]).
    pub fn insert(
        &mut self,
        now: Instant,
        vni: Vni,
        ip: IpAddress,
        mac: Mac,
        origin: Origin,
    ) -> Result<(), NeighError> {
        if !is_usable(&ip) {
            return Err(NeighError::BadAddress(ip));
        }
        if !is_learnable(&mac) {
            return Err(NeighError::NotUnicast(mac));
        }
        if !self.entries.contains_key(&(vni, ip)) && self.entries.len() >= self.max_entries {
            return Err(NeighError::Full {
                max_entries: self.max_entries,
            });
        }
        self.entries.insert(
            (vni, ip),
            NeighEntry {
                mac,
                origin,
                last_seen: now,
                router: false,
            },
        );
        Ok(())
    }

    /// Marks the IPv6 neighbour `ip` as a router or not (`ip -6 neigh ... router`; the R flag
    /// of an EVPN route's ND extended community, RFC 9161). Returns false if there is no such
    /// entry, or `ip` is IPv4 (ARP has no routers).
    pub fn set_router(&mut self, vni: Vni, ip: &IpAddress, router: bool) -> bool {
        match self.entries.get_mut(&(vni, *ip)) {
            Some(entry) if matches!(ip, IpAddress::Ipv6(_)) => {
                entry.router = router;
                true
            }
            _ => false,
        }
    }

    pub fn remove(&mut self, vni: Vni, ip: &IpAddress) -> Option<NeighEntry> {
        self.entries.remove(&(vni, *ip))
    }

    /// Removes learned entries not refreshed for the ageing time.
    pub fn age(&mut self, now: Instant, mut aged_out: impl FnMut(Vni, IpAddress, NeighEntry)) {
        let ageing = self.ageing;
        self.entries.retain(|(vni, ip), entry| {
            let keep = entry.origin != Origin::Learned || elapsed(now, entry.last_seen) < ageing;
            if !keep {
                aged_out(*vni, *ip, *entry);
            }
            keep
        });
    }

    /// Forgets every entry of `vni`.
    pub fn remove_vni(&mut self, vni: Vni) {
        self.entries.retain(|(v, _), _| *v != vni);
    }

    pub fn iter(&self) -> impl Iterator<Item = (Vni, IpAddress, &NeighEntry)> + '_ {
        self.entries.iter().map(|((vni, ip), e)| (*vni, *ip, e))
    }

    /// Every entry sorted by VNI, then IPv4 before IPv6, then address: for display and
    /// deterministic snapshots.
    pub fn sorted(&self) -> Vec<(Vni, IpAddress, NeighEntry)> {
        let mut all: Vec<_> = self.iter().map(|(v, ip, e)| (v, ip, *e)).collect();
        all.sort_unstable_by_key(|(vni, ip, _)| (*vni, sort_key(ip)));
        all
    }
}

#[cfg(test)]
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    use crate::wire::{EthernetAddress, Ipv4Address, Ipv6Address};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const VNI: Vni = Vni::from_u24_truncating(5001);
    const IP: IpAddress = IpAddress::Ipv4(Ipv4Address::new(192, 168, 1, 10));
    const IP6: IpAddress = IpAddress::Ipv6(Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 10));

    fn mac(last: u8) -> Mac {
        EthernetAddress([0x02, 0, 0, 0, 0, last])
    }

    fn v4(last: u8) -> IpAddress {
        IpAddress::Ipv4(Ipv4Address::new(192, 168, 1, last))
    }

    fn table() -> NeighbourTable {
        NeighbourTable::new(2, Duration::from_secs(300), 1)
    }

    #[test]
    fn learn_refresh_change_and_age() {
        for ip in [IP, IP6] {
            let mut t = table();
            let cases = [
                (0, mac(1), NeighOutcome::Learned),
                (10, mac(1), NeighOutcome::Refreshed),
                (20, mac(2), NeighOutcome::Changed { from: mac(1) }),
            ];
            for (secs, mac, expect) in cases {
                assert_eq!(t.learn(Instant::from_secs(secs), VNI, ip, mac), expect);
            }
            let mut aged = 0;
            t.age(Instant::from_secs(319), |_, _, _| aged += 1);
            assert_eq!(aged, 0);
            t.age(Instant::from_secs(320), |_, _, _| aged += 1);
            assert_eq!((aged, t.len()), (1, 0));
        }
    }

    #[test]
    fn both_families_live_side_by_side_and_sort_ipv4_first() {
        let mut t = NeighbourTable::new(8, Duration::from_secs(300), 1);
        let now = Instant::ZERO;
        let low6 = IpAddress::Ipv6(Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 1));
        for (ip, m) in [(IP6, 3), (v4(11), 2), (low6, 4), (IP, 1)] {
            assert_eq!(t.learn(now, VNI, ip, mac(m)), NeighOutcome::Learned);
        }
        let order: Vec<IpAddress> = t.sorted().iter().map(|(_, ip, _)| *ip).collect();
        assert_eq!(order, [IP, v4(11), low6, IP6]);
        assert_eq!(t.lookup(VNI, &IP6).unwrap().mac, mac(3));
        assert_eq!(t.remove(VNI, &IP6).unwrap().mac, mac(3));
        assert!(t.lookup(VNI, &IP6).is_none());
        assert_eq!(t.lookup(VNI, &IP).unwrap().mac, mac(1));
    }

    #[test]
    fn probes_and_group_addresses_are_not_learned() {
        let mut t = table();
        let now = Instant::ZERO;
        for ip in [
            IpAddress::Ipv4(Ipv4Address::UNSPECIFIED),
            IpAddress::Ipv4(Ipv4Address::BROADCAST),
            IpAddress::Ipv6(Ipv6Address::UNSPECIFIED),
            IpAddress::Ipv6(Ipv6Address::LOCALHOST),
            // All-nodes and a solicited-node group.
            IpAddress::Ipv6(Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1)),
            IpAddress::Ipv6(Ipv6Address::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 10)),
        ] {
            assert_eq!(t.learn(now, VNI, ip, mac(1)), NeighOutcome::Ignored, "{ip}");
        }
        assert_eq!(
            t.learn(now, VNI, IP, EthernetAddress::BROADCAST),
            NeighOutcome::Ignored
        );
        let group = IpAddress::Ipv4(Ipv4Address::new(224, 0, 0, 1));
        assert_eq!(
            t.insert(now, VNI, group, mac(1), Origin::Static),
            Err(NeighError::BadAddress(group))
        );
        assert!(t.is_empty());
        // A link-local address is a neighbour (hosts resolve their router's).
        let link_local = IpAddress::Ipv6(Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
        assert_eq!(t.learn(now, VNI, link_local, mac(1)), NeighOutcome::Learned);
    }

    #[test]
    fn static_entries_win_over_snooping_and_full_is_reported() {
        let mut t = table();
        let now = Instant::ZERO;
        t.insert(now, VNI, IP, mac(1), Origin::Static).unwrap();
        assert_eq!(t.learn(now, VNI, IP, mac(2)), NeighOutcome::Ignored);
        assert_eq!(
            t.learn_advert(now, VNI, IP, mac(2), true, true),
            NeighOutcome::Ignored
        );
        assert_eq!(t.lookup(VNI, &IP).unwrap().mac, mac(1));
        t.learn(now, VNI, v4(11), mac(3));
        assert_eq!(t.learn(now, VNI, v4(12), mac(4)), NeighOutcome::Full);
        assert_eq!(
            t.insert(now, VNI, v4(12), mac(4), Origin::Static),
            Err(NeighError::Full { max_entries: 2 })
        );
    }

    #[test]
    fn advertisements_carry_the_router_flag_and_respect_override() {
        let mut t = table();
        let now = Instant::ZERO;
        // A router announces itself.
        assert_eq!(
            t.learn_advert(now, VNI, IP6, mac(1), true, true),
            NeighOutcome::Learned
        );
        assert!(t.lookup(VNI, &IP6).unwrap().router);
        // A solicitation from it says nothing about R: the flag stays.
        assert_eq!(t.learn(now, VNI, IP6, mac(1)), NeighOutcome::Refreshed);
        assert!(t.lookup(VNI, &IP6).unwrap().router);
        // Without Override, another MAC does not take the address (a proxy's answer).
        assert_eq!(
            t.learn_advert(now, VNI, IP6, mac(2), false, false),
            NeighOutcome::Ignored
        );
        assert_eq!(t.lookup(VNI, &IP6).unwrap().mac, mac(1));
        // With it, the address moves, and the new owner is a host.
        assert_eq!(
            t.learn_advert(now, VNI, IP6, mac(2), false, true),
            NeighOutcome::Changed { from: mac(1) }
        );
        let entry = *t.lookup(VNI, &IP6).unwrap();
        assert_eq!((entry.mac, entry.router), (mac(2), false));
        // Operators and control planes set it on IPv6 entries only.
        assert!(t.set_router(VNI, &IP6, true));
        assert!(t.lookup(VNI, &IP6).unwrap().router);
        t.insert(now, VNI, IP, mac(3), Origin::Static).unwrap();
        assert!(!t.set_router(VNI, &IP, true));
        assert!(!t.lookup(VNI, &IP).unwrap().router);
    }
}
