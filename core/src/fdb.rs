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
//!
//! Storage is compact (see `record`): 24 bytes per entry in a `hashbrown::HashTable`, with the
//! destination interned (a 2-byte index into the few ports and remote VTEPs in use) and times
//! kept as milliseconds since the table's epoch. So [`Fdb::lookup`] and [`Fdb::iter`] return
//! [`FdbEntry`] values built from the record, not references; `last_seen` is rounded up to the
//! millisecond.
//!
//! This file holds the rules (what learning, a route or an operator may change); `record`
//! holds the storage and `flood` the flood lists.

mod flood;
mod record;

use alloc::vec::Vec;
use core::fmt;

use foldhash::fast::FixedState;

use self::flood::FloodLists;
use self::record::{Clock, Dests, Key, Record, Records, duration_ms};
use crate::addr::{Destination, Mac, PortId};
use crate::wire::IpAddress;
use crate::{Duration, Instant, Vni, elapsed};

pub use self::record::MAX_COUNTED_MOVES;

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
    /// Duplicate-MAC detection: this many moves... (0 turns detection off; values above
    /// [`MAX_COUNTED_MOVES`] act as that: an entry counts its moves in 5 bits)
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

/// Entries reserved when a table is made (see [`Fdb::new`]).
pub const INITIAL_CAPACITY: usize = 1024;

/// Whether a MAC may have an entry: unicast and not all zeros.
pub fn is_learnable(mac: &Mac) -> bool {
    mac.is_unicast() && mac.0 != [0; 6]
}

/// Where a caller last found a key in the table (a bucket position), so that learning the same
/// MAC again can skip hashing and probing: a local port keeps one for the MAC behind it, which
/// is the source of nearly every frame it sends. [`Fdb::learn_at_port`] checks the record there
/// before trusting it, so a stale hint (the table grew, the entry went or moved) only costs the
/// normal lookup; the outcome is always the one [`Fdb::learn`] gives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LearnHint(usize);

impl Default for LearnHint {
    fn default() -> Self {
        LearnHint(usize::MAX)
    }
}

/// The forwarding database of one VTEP, all VNIs together.
#[derive(Clone)]
pub struct Fdb {
    config: FdbConfig,
    records: Records,
    dests: Dests,
    clock: Clock,
    flood: FloodLists,
}

impl fmt::Debug for Fdb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fdb")
            .field("config", &self.config)
            .field("entries", &self.records.len())
            .field("destinations", &self.dests.ids.len())
            .field("flood_vnis", &self.flood.len())
            .finish()
    }
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
            records: Records::with_capacity(reserve, hasher.clone()),
            dests: Dests::new(hasher.clone()),
            clock: Clock::unset(),
            flood: FloodLists::new(hasher),
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
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.len() == 0
    }

    pub fn is_full(&self) -> bool {
        self.records.len() >= self.config.max_entries
    }

    #[inline]
    fn entry_of(&self, record: &Record) -> FdbEntry {
        record.entry(&self.dests, &self.clock)
    }

    /// The timestamp of `now`, moving the epoch first if `now` is outside its range.
    fn stamp(&mut self, now: Instant) -> u32 {
        if let Some(stamp) = self.clock.stamp(now) {
            return stamp;
        }
        self.clock.rebase(now, &mut self.records);
        self.clock.stamp(now).unwrap_or(u32::MAX)
    }

    /// The entry for `mac` in `vni`, without refreshing it.
    #[inline]
    pub fn lookup(&self, vni: Vni, mac: &Mac) -> Option<FdbEntry> {
        self.find(vni, mac).map(|r| self.entry_of(r))
    }

    /// Just the destination of `mac` in `vni`: what the data path needs.
    #[inline(always)]
    pub fn destination(&self, vni: Vni, mac: &Mac) -> Option<Destination> {
        self.find(vni, mac).map(|r| self.dests.get(r.dest))
    }

    /// The record of `mac` in `vni`. (Callers that change or insert records use
    /// `Records::key` and its `find_*` directly: they keep the key for the insertion, and
    /// borrow the records apart from the destinations.)
    #[inline(always)]
    fn find(&self, vni: Vni, mac: &Mac) -> Option<&Record> {
        self.records.find(self.records.key(vni, mac))
    }

    /// Data-plane learning: a frame from `mac` arrived from `dest` at `now`.
    #[inline]
    pub fn learn(&mut self, now: Instant, vni: Vni, mac: Mac, dest: Destination) -> LearnOutcome {
        self.learn_probing(now, vni, mac, dest, None)
    }

    /// [`Fdb::learn`] of a MAC seen on local `port` (`Destination::Local(port)`), trying the
    /// record at `hint` first (see [`LearnHint`]); `hint` is left pointing at the entry.
    #[inline(always)]
    pub fn learn_at_port(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        port: PortId,
        hint: &mut LearnHint,
    ) -> LearnOutcome {
        // Only learnable MACs have records, so a record with this key needs no more checks than
        // the refresh below makes.
        if let Some(record) = self.records.at_bucket(hint.0, vni, &mac)
            && matches!(self.dests.get(record.dest), Destination::Local(p) if p == port)
            && let Some(stamp) = self.clock.stamp(now)
        {
            if record.last_seen != stamp {
                record.last_seen = stamp;
            }
            return LearnOutcome::Refreshed;
        }
        self.learn_at_port_probing(now, vni, mac, port, hint)
    }

    /// The rest of [`Fdb::learn_at_port`], out of line: the `Destination` it builds then lives
    /// in memory only on this path. (Inline, its bytes were stored and read back wider on every
    /// frame, which the CPU cannot forward from store to load.)
    #[cold]
    #[inline(never)]
    fn learn_at_port_probing(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        port: PortId,
        hint: &mut LearnHint,
    ) -> LearnOutcome {
        self.learn_probing(now, vni, mac, Destination::Local(port), Some(hint))
    }

    #[inline]
    fn learn_probing(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        dest: Destination,
        hint: Option<&mut LearnHint>,
    ) -> LearnOutcome {
        if !is_learnable(&mac) {
            return LearnOutcome::Ignored(IgnoreReason::NotUnicast);
        }
        let stamp = self.stamp(now);
        let key = self.records.key(vni, &mac);
        // The common case, a refresh: one probe, no other work.
        let Ok(mut found) = self.records.find_entry(key) else {
            return self.insert_new(key, vni, mac, dest, Origin::Learned, 0, stamp);
        };
        if let Some(hint) = hint {
            hint.0 = found.bucket_index();
        }
        let record = found.get_mut();
        if self.dests.get(record.dest) == dest {
            if record.last_seen != stamp {
                record.last_seen = stamp;
            }
            return LearnOutcome::Refreshed;
        }
        self.learn_changed(key, dest, stamp)
    }

    /// Learning from another destination than the entry's: a move, or ignored.
    #[cold]
    fn learn_changed(&mut self, key: Key, dest: Destination, stamp: u32) -> LearnOutcome {
        let config = self.config;
        let Some(record) = self.records.find_mut(key) else {
            // Not reached: `learn` found the record just before.
            return LearnOutcome::Full;
        };
        let current = self.dests.get(record.dest);
        let from_route_to_port =
            matches!(dest, Destination::Local(_)) && matches!(current, Destination::Remote(_));
        match record.origin() {
            Origin::Static => LearnOutcome::Ignored(IgnoreReason::Static),
            _ if record.frozen() => LearnOutcome::Ignored(IgnoreReason::Frozen),
            Origin::ControlPlane if !from_route_to_port => {
                LearnOutcome::Ignored(IgnoreReason::ControlPlane)
            }
            // A learned entry saw its MAC elsewhere, or a host that now sends from a local port
            // moved here, whatever a route says (the new VTEP takes it over, RFC 7432 section
            // 15): follow it with a higher sequence, unless that makes too many moves in the
            // window (RFC 7432 15.1: stop following a MAC that flaps; an operator, or ageing,
            // clears it). A move from a route counts like a learned one.
            Origin::Learned | Origin::ControlPlane => {
                let window = duration_ms(config.dup_window);
                if let Some(moves) = record.count_move(stamp, window, config.dup_max_moves) {
                    return LearnOutcome::Frozen { moves };
                }
                if !record.repoint(&mut self.dests, dest) {
                    return LearnOutcome::Full;
                }
                let seq = record.seq.wrapping_add(1);
                record.reassign(Origin::Learned, seq, stamp);
                LearnOutcome::Moved { from: current, seq }
            }
        }
    }

    /// A new record (the key is known to be absent), unless the table is full.
    #[allow(clippy::too_many_arguments)]
    fn insert_new(
        &mut self,
        key: Key,
        vni: Vni,
        mac: Mac,
        dest: Destination,
        origin: Origin,
        seq: u32,
        stamp: u32,
    ) -> LearnOutcome {
        if self.is_full() {
            return LearnOutcome::Full;
        }
        let Some(id) = self.dests.acquire(dest) else {
            return LearnOutcome::Full;
        };
        self.records
            .insert_new(key, Record::new(vni, mac, id, origin, seq, stamp));
        LearnOutcome::Learned
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
        let stamp = self.stamp(now);
        let key = self.records.key(vni, &mac);
        let Some(record) = self.records.find_mut(key) else {
            return match self.insert_new(key, vni, mac, dest, Origin::ControlPlane, seq, stamp) {
                LearnOutcome::Full => Err(self.full_error()),
                outcome => Ok(outcome),
            };
        };
        match record.origin() {
            Origin::Static => return Ok(LearnOutcome::Ignored(IgnoreReason::Static)),
            // Duplicate detection froze it: routes for it are ignored too (RFC 7432 15.1).
            _ if record.frozen() => return Ok(LearnOutcome::Ignored(IgnoreReason::Frozen)),
            Origin::ControlPlane if seq < record.seq => {
                return Ok(LearnOutcome::Ignored(IgnoreReason::StaleSequence));
            }
            _ => {}
        }
        let from = self.dests.get(record.dest);
        // A route taking a MAC away from a local port is a move, counted like a learned one.
        if matches!(from, Destination::Local(_))
            && matches!(dest, Destination::Remote(_))
            && let Some(moves) = record.count_move(
                stamp,
                duration_ms(self.config.dup_window),
                self.config.dup_max_moves,
            )
        {
            return Ok(LearnOutcome::Frozen { moves });
        }
        if !record.repoint(&mut self.dests, dest) {
            return Err(self.full_error());
        }
        record.reassign(Origin::ControlPlane, seq, stamp);
        Ok(if from == dest {
            LearnOutcome::Refreshed
        } else {
            LearnOutcome::Moved { from, seq }
        })
    }

    fn full_error(&self) -> FdbError {
        FdbError::Full {
            max_entries: self.config.max_entries,
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
        let stamp = self.stamp(now);
        let key = self.records.key(vni, &mac);
        let Some(record) = self.records.find_mut(key) else {
            return match self.insert_new(key, vni, mac, dest, Origin::Static, 0, stamp) {
                LearnOutcome::Full => Err(self.full_error()),
                _ => Ok(()),
            };
        };
        if !record.repoint(&mut self.dests, dest) {
            return Err(self.full_error());
        }
        record.renew(Origin::Static, 0, stamp);
        Ok(())
    }

    /// Removes one entry, whatever its origin.
    pub fn remove(&mut self, vni: Vni, mac: &Mac) -> Option<FdbEntry> {
        let key = self.records.key(vni, mac);
        let (record, _) = self.records.find_entry(key).ok()?.remove();
        let entry = self.entry_of(&record);
        self.dests.release(record.dest);
        Some(entry)
    }

    /// Removes every entry that `keep` rejects, telling `removed` about each.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(Vni, &Mac, &FdbEntry) -> bool,
        mut removed: impl FnMut(Vni, Mac, FdbEntry),
    ) {
        let Fdb {
            records,
            dests,
            clock,
            ..
        } = self;
        records.retain(|record| {
            let (vni, mac) = (record.vni(), record.mac());
            let entry = record.entry(dests, clock);
            let keep = keep(vni, &mac, &entry);
            if !keep {
                dests.release(record.dest);
                removed(vni, mac, entry);
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

    /// Every entry, in no particular order (the same order for the same seed and history).
    pub fn iter(&self) -> impl Iterator<Item = (Vni, Mac, FdbEntry)> + '_ {
        self.records
            .iter()
            .map(|r| (r.vni(), r.mac(), self.entry_of(r)))
    }

    /// Every entry sorted by VNI then MAC: for display and for deterministic snapshots.
    pub fn sorted(&self) -> Vec<(Vni, Mac, FdbEntry)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by_key(|(vni, mac, _)| (*vni, mac.0));
        all
    }

    /// Adds `remote` to the head-end replication list of `vni`, like
    /// `bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst REMOTE`. Returns false if it was there.
    pub fn append_flood(&mut self, vni: Vni, remote: IpAddress) -> bool {
        self.flood.append(vni, remote)
    }

    /// Removes `remote` from the flood list of `vni`. Returns false if it was not there.
    pub fn remove_flood(&mut self, vni: Vni, remote: &IpAddress) -> bool {
        self.flood.remove(vni, remote)
    }

    /// The VTEPs that receive a copy of every BUM frame of `vni`, in the order they were added.
    pub fn flood_list(&self, vni: Vni) -> &[IpAddress] {
        self.flood.get(vni)
    }

    /// Every VNI that has a flood list, with the list.
    pub fn flood_lists(&self) -> impl Iterator<Item = (Vni, &[IpAddress])> + '_ {
        self.flood.iter()
    }

    /// Forgets everything about `vni`: entries and flood list.
    pub fn remove_vni(&mut self, vni: Vni) {
        self.retain(|v, _, _| v != vni, |_, _, _| {});
        self.flood.remove_vni(vni);
    }
}

#[cfg(test)]
mod tests {
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    use super::*;
    use crate::wire::{EthernetAddress, Ipv4Address};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

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

    /// A hint only saves the lookup: whatever happened to the entry since, the outcome and
    /// the stored time are those of `learn`.
    #[test]
    fn learning_with_a_hint_gives_what_learning_gives() {
        let mut fdb = fdb(4096);
        let mut hint = LearnHint::default();
        let learn = |fdb: &mut Fdb, secs, port, hint: &mut LearnHint| {
            fdb.learn_at_port(at(secs), VNI, mac(1), PortId(port), hint)
        };
        assert_eq!(learn(&mut fdb, 0, 1, &mut hint), LearnOutcome::Learned);
        assert_eq!(learn(&mut fdb, 1, 1, &mut hint), LearnOutcome::Refreshed);
        assert_ne!(hint, LearnHint::default(), "found: the hint is set");
        assert_eq!(learn(&mut fdb, 200, 1, &mut hint), LearnOutcome::Refreshed);
        assert_eq!(fdb.lookup(VNI, &mac(1)).unwrap().last_seen, at(200));
        // Moved elsewhere: the record at the hint no longer matches the destination.
        for (secs, dest) in [(201, remote(2)), (202, Destination::Local(PortId(2)))] {
            assert!(matches!(
                fdb.learn(at(secs), VNI, mac(1), dest),
                LearnOutcome::Moved { .. }
            ));
        }
        assert!(matches!(
            learn(&mut fdb, 203, 1, &mut hint),
            LearnOutcome::Moved { .. }
        ));
        // Removed, then other MACs fill its bucket and the table grows (rehashing).
        fdb.remove(VNI, &mac(1));
        for n in 0..2000u16 {
            let [a, b] = n.to_be_bytes();
            let other = EthernetAddress([0x02, 0, 0, a, b, 0xee]);
            fdb.learn(at(203), VNI, other, remote(3));
        }
        assert_eq!(learn(&mut fdb, 204, 1, &mut hint), LearnOutcome::Learned);
        assert_eq!(learn(&mut fdb, 205, 1, &mut hint), LearnOutcome::Refreshed);
        assert_eq!(
            fdb.lookup(VNI, &mac(1)).unwrap().dest,
            Destination::Local(PortId(1))
        );
        // A hint left by another key, or another VNI's entry, is only a wrong guess.
        let mut other_hint = hint;
        let other_vni = Vni::from_u24_truncating(43);
        assert_eq!(
            fdb.learn_at_port(at(206), other_vni, mac(1), PortId(1), &mut other_hint),
            LearnOutcome::Learned
        );
        assert_eq!(fdb.lookup(VNI, &mac(1)).unwrap().last_seen, at(205));
        let group = EthernetAddress::BROADCAST;
        assert_eq!(
            fdb.learn_at_port(at(206), VNI, group, PortId(1), &mut hint),
            LearnOutcome::Ignored(IgnoreReason::NotUnicast)
        );
        // Refreshed through the hint at 205 s: alive until 505 s.
        let mut aged = Vec::new();
        fdb.age(at(504), |v, m, _| aged.push((v, m)));
        assert!(!aged.contains(&(VNI, mac(1))));
        fdb.age(at(505), |v, m, _| aged.push((v, m)));
        assert!(aged.contains(&(VNI, mac(1))));
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
    fn a_record_is_24_bytes() {
        assert_eq!(size_of::<Record>(), 24);
    }

    #[test]
    fn times_survive_epoch_moves_in_both_directions() {
        let mut fdb = fdb(16);
        let t0 = Instant::from_micros(1_234_567);
        fdb.insert_static(t0, VNI, mac(1), remote(1)).unwrap();
        // 60 days later: beyond the u32 millisecond range of the first epoch.
        let later = t0 + Duration::from_secs(60 * 86_400);
        fdb.learn(later, VNI, mac(2), remote(2));
        assert_eq!(fdb.lookup(VNI, &mac(2)).unwrap().last_seen, later);
        // The static entry's time is clamped to 24.8 days before the new centre, not lost.
        let old = fdb.lookup(VNI, &mac(1)).unwrap().last_seen;
        assert!(old <= later && old >= t0, "{old} {t0} {later}");
        // Back in time (a clock that steps back) also moves the epoch.
        fdb.learn(t0, VNI, mac(3), remote(3));
        assert_eq!(fdb.lookup(VNI, &mac(3)).unwrap().last_seen, t0);
        // Whole-millisecond times read back exactly; others round up to the millisecond.
        let odd = Instant::from_micros(t0.total_micros() + 1_500);
        fdb.learn(odd, VNI, mac(4), remote(3));
        assert_eq!(
            fdb.lookup(VNI, &mac(4)).unwrap().last_seen,
            Instant::from_micros(t0.total_micros() + 2_000)
        );
    }

    #[test]
    fn destinations_are_interned_and_recycled() {
        let mut fdb = fdb(64);
        for i in 1..=10 {
            fdb.learn(at(0), VNI, mac(i), remote(i));
        }
        assert_eq!(fdb.dests.ids.len(), 10);
        for i in 1..=10 {
            fdb.learn(at(1), VNI, mac(i), remote(1));
        }
        assert_eq!(
            fdb.dests.ids.len(),
            1,
            "moved entries release their old destination"
        );
        fdb.remove(VNI, &mac(1));
        fdb.age(at(1000), |_, _, _| {});
        assert!(fdb.is_empty());
        assert!(fdb.dests.ids.is_empty());
        fdb.learn(at(1000), VNI, mac(1), Destination::Local(PortId(7)));
        assert_eq!(
            fdb.lookup(VNI, &mac(1)).unwrap().dest,
            Destination::Local(PortId(7))
        );
        assert!(fdb.dests.list.len() <= 10, "freed indices are reused");
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
