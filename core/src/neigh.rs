//! The neighbour table behind ARP suppression: `(VNI, IPv4) -> MAC`.
//!
//! A VTEP that knows which MAC owns an IP can answer an ARP request itself, on the local port it
//! came from, instead of flooding it to every VTEP of the network (claim S8). Entries are learned
//! by snooping ARP (requests, replies and gratuitous ARP), installed by an operator
//! (`ip neigh add ... dev vxlan0`), or installed by a control plane (EVPN MAC/IP routes).

use alloc::vec::Vec;
use core::fmt;

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::addr::Mac;
use crate::fdb::{Origin, is_learnable};
use crate::wire::Ipv4Address;
use crate::{Duration, Instant, Vni, elapsed};

/// One neighbour entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NeighEntry {
    pub mac: Mac,
    pub origin: Origin,
    pub last_seen: Instant,
}

/// What [`NeighbourTable::learn`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NeighOutcome {
    Learned,
    Refreshed,
    /// The IP now answers from another MAC (a VM was replaced, or a GARP announced a move).
    Changed {
        from: Mac,
    },
    /// Left alone: a static or control-plane entry, an unusable address, or a full table.
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
    /// 0.0.0.0, broadcast or multicast addresses have no neighbour entry.
    BadAddress(Ipv4Address),
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
                write!(f, "{ip} cannot be a neighbour: use a unicast IPv4 address")
            }
        }
    }
}

impl core::error::Error for NeighError {}

/// `(VNI, IPv4) -> MAC` for ARP suppression, all VNIs together.
#[derive(Clone)]
pub struct NeighbourTable {
    entries: HashMap<(Vni, Ipv4Address), NeighEntry, FixedState>,
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

fn is_usable(ip: &Ipv4Address) -> bool {
    !ip.is_multicast() && !ip.is_broadcast() && !ip.is_unspecified()
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

    pub fn lookup(&self, vni: Vni, ip: &Ipv4Address) -> Option<&NeighEntry> {
        self.entries.get(&(vni, *ip))
    }

    /// Snooped from ARP: `ip` is at `mac`.
    pub fn learn(&mut self, now: Instant, vni: Vni, ip: Ipv4Address, mac: Mac) -> NeighOutcome {
        if !is_usable(&ip) || !is_learnable(&mac) {
            return NeighOutcome::Ignored;
        }
        let full = self.entries.len() >= self.max_entries;
        match self.entries.get_mut(&(vni, ip)) {
            Some(entry) if entry.origin == Origin::Static => NeighOutcome::Ignored,
            // A host that answers from a local port takes its address over from a route (it
            // moved here), as its MAC takes over the route's FDB entry (RFC 7432 section 15).
            Some(entry) if entry.origin == Origin::ControlPlane => {
                let from = entry.mac;
                *entry = NeighEntry {
                    mac,
                    origin: Origin::Learned,
                    last_seen: now,
                };
                if from == mac {
                    NeighOutcome::Learned
                } else {
                    NeighOutcome::Changed { from }
                }
            }
            Some(entry) if entry.mac == mac => {
                entry.last_seen = now;
                NeighOutcome::Refreshed
            }
            Some(entry) => {
                let from = entry.mac;
                entry.mac = mac;
                entry.last_seen = now;
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
                    },
                );
                NeighOutcome::Learned
            }
        }
    }

    /// An operator's or control plane's entry; replaces whatever was there.
    pub fn insert(
        &mut self,
        now: Instant,
        vni: Vni,
        ip: Ipv4Address,
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
            },
        );
        Ok(())
    }

    pub fn remove(&mut self, vni: Vni, ip: &Ipv4Address) -> Option<NeighEntry> {
        self.entries.remove(&(vni, *ip))
    }

    /// Removes learned entries not refreshed for the ageing time.
    pub fn age(&mut self, now: Instant, mut aged_out: impl FnMut(Vni, Ipv4Address, NeighEntry)) {
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

    pub fn iter(&self) -> impl Iterator<Item = (Vni, Ipv4Address, &NeighEntry)> + '_ {
        self.entries.iter().map(|((vni, ip), e)| (*vni, *ip, e))
    }

    /// Every entry sorted by VNI then IP, for display and deterministic snapshots.
    pub fn sorted(&self) -> Vec<(Vni, Ipv4Address, NeighEntry)> {
        let mut all: Vec<_> = self.iter().map(|(v, ip, e)| (v, ip, *e)).collect();
        all.sort_unstable_by_key(|(vni, ip, _)| (*vni, ip.octets()));
        all
    }
}

#[cfg(test)]
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    use crate::wire::EthernetAddress;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const VNI: Vni = Vni::from_u24_truncating(5001);
    const IP: Ipv4Address = Ipv4Address::new(192, 168, 1, 10);

    fn mac(last: u8) -> Mac {
        EthernetAddress([0x02, 0, 0, 0, 0, last])
    }

    fn table() -> NeighbourTable {
        NeighbourTable::new(2, Duration::from_secs(300), 1)
    }

    #[test]
    fn learn_refresh_change_and_age() {
        let mut t = table();
        let cases = [
            (0, mac(1), NeighOutcome::Learned),
            (10, mac(1), NeighOutcome::Refreshed),
            (20, mac(2), NeighOutcome::Changed { from: mac(1) }),
        ];
        for (secs, mac, expect) in cases {
            assert_eq!(t.learn(Instant::from_secs(secs), VNI, IP, mac), expect);
        }
        let mut aged = 0;
        t.age(Instant::from_secs(319), |_, _, _| aged += 1);
        assert_eq!(aged, 0);
        t.age(Instant::from_secs(320), |_, _, _| aged += 1);
        assert_eq!((aged, t.len()), (1, 0));
    }

    #[test]
    fn probes_and_group_addresses_are_not_learned() {
        let mut t = table();
        let now = Instant::ZERO;
        assert_eq!(
            t.learn(now, VNI, Ipv4Address::UNSPECIFIED, mac(1)),
            NeighOutcome::Ignored
        );
        assert_eq!(
            t.learn(now, VNI, Ipv4Address::BROADCAST, mac(1)),
            NeighOutcome::Ignored
        );
        assert_eq!(
            t.learn(now, VNI, IP, EthernetAddress::BROADCAST),
            NeighOutcome::Ignored
        );
        assert_eq!(
            t.insert(
                now,
                VNI,
                Ipv4Address::new(224, 0, 0, 1),
                mac(1),
                Origin::Static
            ),
            Err(NeighError::BadAddress(Ipv4Address::new(224, 0, 0, 1)))
        );
        assert!(t.is_empty());
    }

    #[test]
    fn a_local_host_takes_its_address_over_from_a_route() {
        let mut t = table();
        let now = Instant::ZERO;
        t.insert(now, VNI, IP, mac(1), Origin::ControlPlane)
            .unwrap();
        assert_eq!(t.learn(now, VNI, IP, mac(1)), NeighOutcome::Learned);
        assert_eq!(t.lookup(VNI, &IP).unwrap().origin, Origin::Learned);
        t.insert(now, VNI, IP, mac(1), Origin::ControlPlane)
            .unwrap();
        assert_eq!(
            t.learn(now, VNI, IP, mac(2)),
            NeighOutcome::Changed { from: mac(1) }
        );
        assert_eq!(t.lookup(VNI, &IP).unwrap().mac, mac(2));
    }

    #[test]
    fn static_entries_win_over_snooping_and_full_is_reported() {
        let mut t = table();
        let now = Instant::ZERO;
        t.insert(now, VNI, IP, mac(1), Origin::Static).unwrap();
        assert_eq!(t.learn(now, VNI, IP, mac(2)), NeighOutcome::Ignored);
        assert_eq!(t.lookup(VNI, &IP).unwrap().mac, mac(1));
        t.learn(now, VNI, Ipv4Address::new(192, 168, 1, 11), mac(3));
        assert_eq!(
            t.learn(now, VNI, Ipv4Address::new(192, 168, 1, 12), mac(4)),
            NeighOutcome::Full
        );
        assert_eq!(
            t.insert(
                now,
                VNI,
                Ipv4Address::new(192, 168, 1, 12),
                mac(4),
                Origin::Static
            ),
            Err(NeighError::Full { max_entries: 2 })
        );
    }
}
