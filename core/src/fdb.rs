//! The forwarding database: where each MAC address of each virtual network lives.
//!
//! An entry maps `(VNI, MAC)` to a [`Destination`]: a local port of this VTEP, or the underlay
//! address of the remote VTEP behind which the MAC lives. Entries come from three places
//! ([`Origin`]): data-plane learning (the inner source MAC of a decapsulated frame, paired with
//! the outer source IP), static configuration (`bridge fdb add`), or a control plane (EVPN-like
//! type-2 routes with MAC-mobility sequence numbers).
//!
//! Besides entries, the FDB keeps per-VNI head-end replication (HER) lists: the remote VTEPs
//! that receive a copy of every broadcast, unknown-unicast and multicast (BUM) frame. In Linux
//! these are the all-zeros-MAC entries added with `bridge fdb append 00:00:00:00:00:00 dst IP`.
//!
//! The table never reads a clock: every call that needs the time takes `now`.

use alloc::vec::Vec;
use core::fmt;

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::wire::{EthernetAddress, IpAddress};
use crate::{Duration, Instant, Vni, elapsed};

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

/// Who put an entry in the table. The origin decides what may overwrite it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Origin {
    /// Learned from traffic; ages out; moves when the MAC shows up elsewhere.
    Learned,
    /// Configured by an operator; never ages and never moves by learning.
    Static,
    /// Installed by a control plane; never ages, moves only by a newer control-plane route.
    ControlPlane,
}

impl Origin {
    /// The word `bridge fdb show` would use.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Learned => "learned",
            Origin::Static => "static",
            Origin::ControlPlane => "control",
        }
    }
}

/// One FDB entry, as callers see it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FdbEntry {
    pub dest: Destination,
    pub origin: Origin,
    /// When a frame from this MAC was last seen (or when the entry was installed).
    pub last_seen: Instant,
    /// MAC-mobility sequence number (RFC 7432 section 15): bumped on every move.
    pub mobility_seq: u32,
    /// Duplicate-MAC detection froze the entry: it no longer follows moves.
    pub frozen: bool,
}

/// FDB limits and timers. The defaults follow the Linux bridge and RFC 7432.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FdbConfig {
    /// Learned entries not refreshed for this long are removed (Linux `ageing`: 300 s).
    pub ageing: Duration,
    /// Largest number of entries, all VNIs together (Linux `maxaddress`). When full, new MACs
    /// are not learned (and counted); traffic still flows, flooded.
    pub max_entries: usize,
    /// Duplicate-MAC detection: this many moves...
    pub dup_max_moves: u32,
    /// ...within this window freeze the entry (RFC 7432 defaults: 5 moves in 180 s).
    pub dup_window: Duration,
    /// When full, drop frames from MACs that cannot be learned, like a switch port's MAC limit,
    /// instead of forwarding them unlearned (the Linux driver's behaviour, the default). A flood
    /// of random source MACs then costs the attacker its own traffic, not everyone's.
    pub drop_when_full: bool,
}

impl Default for FdbConfig {
    fn default() -> Self {
        FdbConfig {
            ageing: Duration::from_secs(300),
            max_entries: 65_536,
            dup_max_moves: 5,
            dup_window: Duration::from_secs(180),
            drop_when_full: false,
        }
    }
}

/// What a call to [`Fdb::learn`] or [`Fdb::install`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LearnOutcome {
    /// A new entry.
    Learned,
    /// The entry was already there with this destination; its age was refreshed.
    Refreshed,
    /// The MAC moved: its entry now points elsewhere, with a bumped sequence number.
    Moved { from: Destination, seq: u32 },
    /// This move was one too many in the window: the entry is frozen where it was.
    Frozen { moves: u32 },
    /// Left alone: see the reason.
    Ignored(IgnoreReason),
    /// The table is full: the MAC was not learned.
    Full,
}

/// Why learning left an entry alone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IgnoreReason {
    /// Multicast, broadcast and the all-zeros MAC are never learned.
    NotUnicast,
    /// Static entries never move by learning.
    Static,
    /// Control-plane entries move only by a newer control-plane route.
    ControlPlane,
    /// The entry is frozen by duplicate detection.
    Frozen,
    /// A control-plane route older than the entry's sequence number.
    StaleSequence,
}

/// Errors of the management calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FdbError {
    /// The table holds `max_entries` entries already.
    Full { max_entries: usize },
    /// Only unicast MACs can have entries.
    NotUnicast(Mac),
}

impl fmt::Display for FdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdbError::Full { max_entries } => write!(
                f,
                "the FDB is full ({max_entries} entries): remove entries or raise the maximum"
            ),
            FdbError::NotUnicast(mac) => write!(
                f,
                "{mac} is not a unicast MAC: multicast, broadcast and all-zeros MACs have no entry \
                 (use the flood list for BUM traffic)"
            ),
        }
    }
}

impl core::error::Error for FdbError {}

/// An entry plus the bookkeeping of duplicate detection.
#[derive(Clone, Copy, Debug)]
struct Slot {
    entry: FdbEntry,
    window_start: Instant,
    moves_in_window: u32,
}

/// The forwarding database of one VTEP, all VNIs together.
#[derive(Clone)]
pub struct Fdb {
    config: FdbConfig,
    entries: HashMap<(Vni, Mac), Slot, FixedState>,
    flood: HashMap<Vni, Vec<IpAddress>, FixedState>,
}

impl fmt::Debug for Fdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fdb")
            .field("config", &self.config)
            .field("entries", &self.entries.len())
            .field("flood_vnis", &self.flood.len())
            .finish()
    }
}

/// Entries reserved when a table is made (see [`Fdb::new`]).
pub const INITIAL_CAPACITY: usize = 1024;

/// Whether a MAC may have an entry: unicast and not all zeros.
pub fn is_learnable(mac: &Mac) -> bool {
    mac.is_unicast() && mac.0 != [0; 6]
}

impl Fdb {
    /// An empty table. `hash_seed` keys the hash (keep it secret where traffic is hostile; fix it
    /// where runs must replay).
    ///
    /// Room for [`INITIAL_CAPACITY`] entries (or `max_entries`, if smaller) is reserved up front;
    /// beyond that the table grows when a *new* MAC is learned, never when a known one is looked
    /// up or refreshed, so the steady-state data path allocates nothing. Reserving the whole
    /// maximum would cost megabytes per VTEP in a simulation of hundreds of them.
    pub fn new(config: FdbConfig, hash_seed: u64) -> Fdb {
        let hasher = FixedState::with_seed(hash_seed);
        let reserve = config.max_entries.min(INITIAL_CAPACITY);
        Fdb {
            config,
            entries: HashMap::with_capacity_and_hasher(reserve, hasher.clone()),
            flood: HashMap::with_hasher(hasher),
        }
    }

    pub fn config(&self) -> &FdbConfig {
        &self.config
    }

    /// Changes limits and timers. Entries beyond a lowered maximum stay until they age out.
    pub fn set_config(&mut self, config: FdbConfig) {
        self.config = config;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.config.max_entries
    }

    /// The entry for `mac` in `vni`, without refreshing it.
    pub fn lookup(&self, vni: Vni, mac: &Mac) -> Option<&FdbEntry> {
        self.entries.get(&(vni, *mac)).map(|slot| &slot.entry)
    }

    /// Data-plane learning: a frame from `mac` arrived from `dest` at `now`.
    pub fn learn(&mut self, now: Instant, vni: Vni, mac: Mac, dest: Destination) -> LearnOutcome {
        if !is_learnable(&mac) {
            return LearnOutcome::Ignored(IgnoreReason::NotUnicast);
        }
        let full = self.is_full();
        let config = self.config;
        match self.entries.get_mut(&(vni, mac)) {
            Some(slot) if slot.entry.dest == dest => {
                slot.entry.last_seen = now;
                LearnOutcome::Refreshed
            }
            Some(slot) => match slot.entry.origin {
                Origin::Static => LearnOutcome::Ignored(IgnoreReason::Static),
                // A host that now sends from a local port moved here, whatever a route says: the
                // new VTEP takes it over with a higher sequence (RFC 7432 section 15).
                Origin::ControlPlane
                    if matches!(dest, Destination::Local(_))
                        && matches!(slot.entry.dest, Destination::Remote(_)) =>
                {
                    let from = slot.entry.dest;
                    let seq = slot.entry.mobility_seq.wrapping_add(1);
                    *slot = Slot::new(now, dest, Origin::Learned, seq);
                    LearnOutcome::Moved { from, seq }
                }
                Origin::ControlPlane => LearnOutcome::Ignored(IgnoreReason::ControlPlane),
                Origin::Learned if slot.entry.frozen => LearnOutcome::Ignored(IgnoreReason::Frozen),
                Origin::Learned => slot.record_move(now, dest, &config),
            },
            None if full => LearnOutcome::Full,
            None => {
                self.entries
                    .insert((vni, mac), Slot::new(now, dest, Origin::Learned, 0));
                LearnOutcome::Learned
            }
        }
    }

    /// A control-plane route (EVPN type 2): `mac` lives at `dest` with sequence number `seq`.
    /// A route replaces a learned entry, and a control-plane entry when `seq` is not older
    /// (RFC 7432 section 15.1); static entries stay.
    pub fn install(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        dest: Destination,
        seq: u32,
    ) -> Result<LearnOutcome, FdbError> {
        if !is_learnable(&mac) {
            return Err(FdbError::NotUnicast(mac));
        }
        let full = self.is_full();
        match self.entries.get_mut(&(vni, mac)) {
            Some(slot) if slot.entry.origin == Origin::Static => {
                Ok(LearnOutcome::Ignored(IgnoreReason::Static))
            }
            Some(slot)
                if slot.entry.origin == Origin::ControlPlane && seq < slot.entry.mobility_seq =>
            {
                Ok(LearnOutcome::Ignored(IgnoreReason::StaleSequence))
            }
            Some(slot) => {
                let from = slot.entry.dest;
                *slot = Slot::new(now, dest, Origin::ControlPlane, seq);
                Ok(if from == dest {
                    LearnOutcome::Refreshed
                } else {
                    LearnOutcome::Moved { from, seq }
                })
            }
            None if full => Err(FdbError::Full {
                max_entries: self.config.max_entries,
            }),
            None => {
                self.entries
                    .insert((vni, mac), Slot::new(now, dest, Origin::ControlPlane, seq));
                Ok(LearnOutcome::Learned)
            }
        }
    }

    /// An operator's entry (`bridge fdb add ... static`): replaces whatever was there.
    pub fn insert_static(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        dest: Destination,
    ) -> Result<(), FdbError> {
        if !is_learnable(&mac) {
            return Err(FdbError::NotUnicast(mac));
        }
        if !self.entries.contains_key(&(vni, mac)) && self.is_full() {
            return Err(FdbError::Full {
                max_entries: self.config.max_entries,
            });
        }
        self.entries
            .insert((vni, mac), Slot::new(now, dest, Origin::Static, 0));
        Ok(())
    }

    /// Removes one entry, whatever its origin.
    pub fn remove(&mut self, vni: Vni, mac: &Mac) -> Option<FdbEntry> {
        self.entries.remove(&(vni, *mac)).map(|slot| slot.entry)
    }

    /// Removes every entry that `keep` rejects, telling `removed` about each.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(Vni, &Mac, &FdbEntry) -> bool,
        mut removed: impl FnMut(Vni, Mac, FdbEntry),
    ) {
        self.entries.retain(|(vni, mac), slot| {
            let keep = keep(*vni, mac, &slot.entry);
            if !keep {
                removed(*vni, *mac, slot.entry);
            }
            keep
        });
    }

    /// Removes learned entries not seen for `ageing`, calling `aged_out` for each.
    pub fn age(&mut self, now: Instant, aged_out: impl FnMut(Vni, Mac, FdbEntry)) {
        let ageing = self.config.ageing;
        self.retain(
            |_, _, entry| entry.origin != Origin::Learned || elapsed(now, entry.last_seen) < ageing,
            aged_out,
        );
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Vni, Mac, &FdbEntry)> + '_ {
        self.entries
            .iter()
            .map(|((vni, mac), slot)| (*vni, *mac, &slot.entry))
    }

    /// Every entry sorted by VNI then MAC: for display and for deterministic snapshots.
    pub fn sorted(&self) -> Vec<(Vni, Mac, FdbEntry)> {
        let mut all: Vec<_> = self.iter().map(|(v, m, e)| (v, m, *e)).collect();
        all.sort_unstable_by_key(|(vni, mac, _)| (*vni, mac.0));
        all
    }

    /// Adds `remote` to the head-end replication list of `vni`, like
    /// `bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst REMOTE`. Returns false if it was there.
    pub fn append_flood(&mut self, vni: Vni, remote: IpAddress) -> bool {
        let list = self.flood.entry(vni).or_default();
        if list.contains(&remote) {
            return false;
        }
        list.push(remote);
        true
    }

    /// Removes `remote` from the flood list of `vni`. Returns false if it was not there.
    pub fn remove_flood(&mut self, vni: Vni, remote: &IpAddress) -> bool {
        let Some(list) = self.flood.get_mut(&vni) else {
            return false;
        };
        let before = list.len();
        list.retain(|r| r != remote);
        before != list.len()
    }

    /// The VTEPs that receive a copy of every BUM frame of `vni`, in the order they were added.
    pub fn flood_list(&self, vni: Vni) -> &[IpAddress] {
        self.flood.get(&vni).map_or(&[], Vec::as_slice)
    }

    /// Every VNI that has a flood list, with the list.
    pub fn flood_lists(&self) -> impl Iterator<Item = (Vni, &[IpAddress])> + '_ {
        self.flood.iter().map(|(vni, list)| (*vni, list.as_slice()))
    }

    /// Forgets everything about `vni`: entries and flood list.
    pub fn remove_vni(&mut self, vni: Vni) {
        self.entries.retain(|(v, _), _| *v != vni);
        self.flood.remove(&vni);
    }
}

impl Slot {
    fn new(now: Instant, dest: Destination, origin: Origin, seq: u32) -> Slot {
        Slot {
            entry: FdbEntry {
                dest,
                origin,
                last_seen: now,
                mobility_seq: seq,
                frozen: false,
            },
            window_start: now,
            moves_in_window: 0,
        }
    }

    /// A learned entry saw its MAC elsewhere: follow it, unless that makes too many moves.
    fn record_move(&mut self, now: Instant, dest: Destination, config: &FdbConfig) -> LearnOutcome {
        if elapsed(now, self.window_start) >= config.dup_window {
            self.window_start = now;
            self.moves_in_window = 0;
        }
        self.moves_in_window += 1;
        if config.dup_max_moves > 0 && self.moves_in_window >= config.dup_max_moves {
            // RFC 7432 15.1: stop following a MAC that flaps; an operator (or ageing) clears it.
            self.entry.frozen = true;
            self.entry.last_seen = now;
            return LearnOutcome::Frozen {
                moves: self.moves_in_window,
            };
        }
        let from = self.entry.dest;
        self.entry.dest = dest;
        self.entry.last_seen = now;
        self.entry.mobility_seq = self.entry.mobility_seq.wrapping_add(1);
        LearnOutcome::Moved {
            from,
            seq: self.entry.mobility_seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Address;

    const VNI: Vni = Vni::from_u24_truncating(42);

    fn mac(last: u8) -> Mac {
        EthernetAddress([0x02, 0, 0, 0, 0, last])
    }

    fn remote(last: u8) -> Destination {
        Destination::Remote(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, last)))
    }

    fn at(secs: u64) -> Instant {
        Instant::from_secs(secs as i64)
    }

    fn fdb(max_entries: usize) -> Fdb {
        Fdb::new(
            FdbConfig {
                max_entries,
                ..FdbConfig::default()
            },
            7,
        )
    }

    #[test]
    fn learns_refreshes_and_ages_out() {
        let mut fdb = fdb(16);
        assert_eq!(
            fdb.learn(at(0), VNI, mac(1), remote(1)),
            LearnOutcome::Learned
        );
        assert_eq!(
            fdb.learn(at(200), VNI, mac(1), remote(1)),
            LearnOutcome::Refreshed
        );
        let mut aged = Vec::new();
        fdb.age(at(499), |v, m, _| aged.push((v, m)));
        assert!(aged.is_empty(), "refreshed at 200 s, so alive until 500 s");
        fdb.age(at(500), |v, m, _| aged.push((v, m)));
        assert_eq!(aged, [(VNI, mac(1))]);
        assert!(fdb.lookup(VNI, &mac(1)).is_none());
    }

    #[test]
    fn never_learns_group_or_zero_macs() {
        let mut fdb = fdb(16);
        for bad in [
            EthernetAddress::BROADCAST,
            EthernetAddress([0x01, 0x00, 0x5e, 0, 0, 1]),
            EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
            EthernetAddress([0; 6]),
        ] {
            assert_eq!(
                fdb.learn(at(0), VNI, bad, remote(1)),
                LearnOutcome::Ignored(IgnoreReason::NotUnicast),
                "{bad}"
            );
            assert_eq!(
                fdb.insert_static(at(0), VNI, bad, remote(1)),
                Err(FdbError::NotUnicast(bad))
            );
        }
        assert!(fdb.is_empty());
    }

    #[test]
    fn same_mac_in_two_vnis_is_two_entries() {
        let mut fdb = fdb(16);
        let other = Vni::new(43).unwrap();
        fdb.learn(at(0), VNI, mac(1), remote(1));
        fdb.learn(at(0), other, mac(1), remote(2));
        assert_eq!(fdb.lookup(VNI, &mac(1)).unwrap().dest, remote(1));
        assert_eq!(fdb.lookup(other, &mac(1)).unwrap().dest, remote(2));
    }

    #[test]
    fn a_move_follows_the_mac_and_bumps_the_sequence() {
        let mut fdb = fdb(16);
        fdb.learn(at(0), VNI, mac(1), remote(1));
        assert_eq!(
            fdb.learn(at(1), VNI, mac(1), remote(2)),
            LearnOutcome::Moved {
                from: remote(1),
                seq: 1
            }
        );
        let entry = fdb.lookup(VNI, &mac(1)).unwrap();
        assert_eq!((entry.dest, entry.mobility_seq), (remote(2), 1));
    }

    #[test]
    fn static_entries_never_move_or_age() {
        let mut fdb = fdb(16);
        fdb.insert_static(at(0), VNI, mac(1), remote(1)).unwrap();
        assert_eq!(
            fdb.learn(at(1), VNI, mac(1), remote(2)),
            LearnOutcome::Ignored(IgnoreReason::Static)
        );
        fdb.age(at(10_000), |_, _, _| panic!("static entries do not age"));
        let entry = fdb.lookup(VNI, &mac(1)).unwrap();
        assert_eq!((entry.dest, entry.origin), (remote(1), Origin::Static));
    }

    #[test]
    fn full_table_learns_nothing_new_but_still_refreshes() {
        let mut fdb = fdb(2);
        fdb.learn(at(0), VNI, mac(1), remote(1));
        fdb.learn(at(0), VNI, mac(2), remote(1));
        assert_eq!(fdb.learn(at(1), VNI, mac(3), remote(1)), LearnOutcome::Full);
        assert_eq!(
            fdb.learn(at(1), VNI, mac(1), remote(1)),
            LearnOutcome::Refreshed
        );
        assert!(matches!(
            fdb.learn(at(1), VNI, mac(2), remote(2)),
            LearnOutcome::Moved { .. }
        ));
        assert_eq!(
            fdb.insert_static(at(1), VNI, mac(3), remote(1)),
            Err(FdbError::Full { max_entries: 2 })
        );
        assert_eq!(fdb.len(), 2);
    }

    #[test]
    fn duplicate_detection_freezes_after_n_moves_in_window() {
        let mut fdb = fdb(16);
        fdb.learn(at(0), VNI, mac(1), remote(1));
        // Four moves within 180 s are followed; the fifth freezes the entry where it is.
        for i in 0..4u8 {
            let out = fdb.learn(at(10 + u64::from(i)), VNI, mac(1), remote(2 + i % 2));
            assert!(
                matches!(out, LearnOutcome::Moved { .. }),
                "move {i}: {out:?}"
            );
        }
        let where_it_was = fdb.lookup(VNI, &mac(1)).unwrap().dest;
        assert_eq!(
            fdb.learn(at(20), VNI, mac(1), remote(9)),
            LearnOutcome::Frozen { moves: 5 }
        );
        assert_eq!(
            fdb.learn(at(21), VNI, mac(1), remote(8)),
            LearnOutcome::Ignored(IgnoreReason::Frozen)
        );
        let entry = fdb.lookup(VNI, &mac(1)).unwrap();
        assert!(entry.frozen);
        assert_eq!(entry.dest, where_it_was);
    }

    #[test]
    fn moves_spread_over_windows_do_not_freeze() {
        let mut fdb = fdb(16);
        fdb.learn(at(0), VNI, mac(1), remote(1));
        for i in 0..20u64 {
            let out = fdb.learn(
                at(100 * (i + 1)),
                VNI,
                mac(1),
                remote(1 + (i % 2) as u8 + 1),
            );
            assert!(
                matches!(out, LearnOutcome::Moved { .. }),
                "move {i}: {out:?}"
            );
        }
    }

    #[test]
    fn control_plane_routes_obey_sequence_numbers() {
        let mut fdb = fdb(16);
        fdb.learn(at(0), VNI, mac(1), remote(1));
        // A route replaces a learned entry.
        assert_eq!(
            fdb.install(at(1), VNI, mac(1), remote(2), 3),
            Ok(LearnOutcome::Moved {
                from: remote(1),
                seq: 3
            })
        );
        assert_eq!(
            fdb.install(at(2), VNI, mac(1), remote(3), 2),
            Ok(LearnOutcome::Ignored(IgnoreReason::StaleSequence))
        );
        assert_eq!(
            fdb.learn(at(3), VNI, mac(1), remote(4)),
            LearnOutcome::Ignored(IgnoreReason::ControlPlane)
        );
        fdb.age(at(100_000), |_, _, _| {
            panic!("control-plane entries do not age")
        });
        assert_eq!(fdb.lookup(VNI, &mac(1)).unwrap().dest, remote(2));
    }

    #[test]
    fn a_host_seen_locally_takes_over_its_remote_route() {
        let mut fdb = fdb(16);
        let here = Destination::Local(PortId(3));
        fdb.install(at(0), VNI, mac(1), remote(2), 4).unwrap();
        assert_eq!(
            fdb.learn(at(1), VNI, mac(1), here),
            LearnOutcome::Moved {
                from: remote(2),
                seq: 5
            }
        );
        let entry = fdb.lookup(VNI, &mac(1)).unwrap();
        assert_eq!((entry.dest, entry.origin), (here, Origin::Learned));
    }

    #[test]
    fn flood_lists_are_ordered_sets_per_vni() {
        let mut fdb = fdb(16);
        let ip = |n| IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n));
        assert!(fdb.append_flood(VNI, ip(2)));
        assert!(fdb.append_flood(VNI, ip(3)));
        assert!(!fdb.append_flood(VNI, ip(2)), "no duplicates");
        assert_eq!(fdb.flood_list(VNI), [ip(2), ip(3)]);
        assert!(fdb.flood_list(Vni::new(7).unwrap()).is_empty());
        assert!(fdb.remove_flood(VNI, &ip(2)));
        assert!(!fdb.remove_flood(VNI, &ip(2)));
        assert_eq!(fdb.flood_list(VNI), [ip(3)]);
    }
}
