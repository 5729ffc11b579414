//! How the FDB stores its entries: 24-byte records in a hash table, destinations interned,
//! times as milliseconds from a movable epoch. [`super::Fdb`] decides what to store; this
//! module only stores it.

use alloc::vec::Vec;
use core::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::hash_table::{AbsentEntry, OccupiedEntry};
use hashbrown::{HashMap, HashTable};

use super::{FdbEntry, Origin};
use crate::addr::{Destination, Mac};
use crate::wire::EthernetAddress;
use crate::{Duration, Instant, Vni};

/// Compact storage: one 24-byte record per entry, kept directly in a `hashbrown::HashTable`
/// (24-byte bucket + 1 control byte; at hashbrown's 44-87% load, 29-57 bytes per entry
/// whatever the size, against 64-136 before). A lookup touches one control group and one
/// record. The destination is an index into a small interned table of destinations (a few
/// local ports and remote VTEPs), and times are milliseconds since the table's epoch.
#[derive(Clone, Copy, Debug)]
pub(super) struct Record {
    mac: [u8; 6],
    /// Little-endian (see `vni_key`).
    vni: [u8; 3],
    /// Bits 0-1: origin; bit 2: frozen; bits 3-7: moves in the current duplicate window.
    flags: u8,
    /// Index into [`Dests`].
    pub(super) dest: u16,
    pub(super) seq: u32,
    /// Milliseconds since [`Clock::epoch_us`].
    pub(super) last_seen: u32,
    /// Start of the duplicate-detection window, in the same unit.
    pub(super) window_start: u32,
}

const _: () = assert!(size_of::<Record>() == 24);

const FLAG_FROZEN: u8 = 0b100;
const MOVES_SHIFT: u32 = 3;
/// The most moves a record can count: [`super::FdbConfig::dup_max_moves`] above this acts as
/// this.
pub const MAX_COUNTED_MOVES: u32 = 31;

impl Record {
    pub(super) fn new(vni: Vni, mac: Mac, dest: u16, origin: Origin, seq: u32, now: u32) -> Record {
        Record {
            mac: mac.0,
            vni: vni_key(vni),
            flags: origin_bits(origin),
            dest,
            seq,
            last_seen: now,
            window_start: now,
        }
    }

    /// Whether the record's key is `(vni, mac)`, both as [`Key`] holds them.
    #[inline(always)]
    fn is(&self, vni: u32, mac: u64) -> bool {
        mac_bits(&self.mac) == mac && vni_bits(&self.vni) == vni
    }

    pub(super) fn vni(&self) -> Vni {
        Vni::from_u24_truncating(vni_bits(&self.vni))
    }

    pub(super) fn mac(&self) -> Mac {
        EthernetAddress(self.mac)
    }

    #[inline]
    pub(super) fn origin(&self) -> Origin {
        match self.flags & 0b11 {
            0 => Origin::Learned,
            1 => Origin::Static,
            _ => Origin::ControlPlane,
        }
    }

    #[inline]
    pub(super) fn frozen(&self) -> bool {
        self.flags & FLAG_FROZEN != 0
    }

    /// Stops the record following moves (duplicate-MAC detection).
    pub(super) fn freeze(&mut self) {
        self.flags |= FLAG_FROZEN;
    }

    pub(super) fn moves(&self) -> u32 {
        u32::from(self.flags >> MOVES_SHIFT)
    }

    pub(super) fn set_moves(&mut self, moves: u32) {
        let moves = moves.min(MAX_COUNTED_MOVES) as u8;
        self.flags = (self.flags & 0b111) | (moves << MOVES_SHIFT);
    }

    /// The entry as callers see it.
    #[inline]
    pub(super) fn entry(&self, dests: &Dests, clock: &Clock) -> FdbEntry {
        FdbEntry {
            dest: dests.get(self.dest),
            origin: self.origin(),
            last_seen: clock.instant(self.last_seen),
            mobility_seq: self.seq,
            frozen: self.frozen(),
        }
    }

    /// Points the record at `dest`, moving its reference in `dests` from the old destination.
    /// False (and the record unchanged) when 65,536 distinct destinations are in use.
    #[must_use]
    pub(super) fn repoint(&mut self, dests: &mut Dests, dest: Destination) -> bool {
        let Some(id) = dests.acquire(dest) else {
            return false;
        };
        dests.release(self.dest);
        self.dest = id;
        true
    }

    /// Takes a new origin and sequence number, seen at `stamp`, keeping the moves counted in
    /// the duplicate-detection window: a MAC that flaps between a local port and a route
    /// counts every move, whichever side made it (RFC 7432 section 15.1).
    pub(super) fn reassign(&mut self, origin: Origin, seq: u32, stamp: u32) {
        self.flags = (self.flags & !0b11) | origin_bits(origin);
        self.seq = seq;
        self.last_seen = stamp;
    }

    /// Counts one move in the duplicate-detection window that starts at `window_start` and
    /// lasts `window_ms`; freezes the record when the count reaches `limit` (0: never) and
    /// returns the count then.
    pub(super) fn count_move(&mut self, stamp: u32, window_ms: u32, limit: u32) -> Option<u32> {
        if stamp.saturating_sub(self.window_start) >= window_ms {
            self.window_start = stamp;
            self.set_moves(0);
        }
        let moves = self.moves() + 1;
        self.set_moves(moves);
        if limit > 0 && moves >= limit.min(MAX_COUNTED_MOVES) {
            self.freeze();
            self.last_seen = stamp;
            return Some(moves);
        }
        None
    }

    /// Starts the record over with this origin and sequence number, seen at `stamp`: not
    /// frozen, no moves counted. The key and destination stay.
    pub(super) fn renew(&mut self, origin: Origin, seq: u32, stamp: u32) {
        *self = Record {
            flags: origin_bits(origin),
            seq,
            last_seen: stamp,
            window_start: stamp,
            ..*self
        };
    }
}

fn origin_bits(origin: Origin) -> u8 {
    match origin {
        Origin::Learned => 0,
        Origin::Static => 1,
        Origin::ControlPlane => 2,
    }
}

/// A `(VNI, MAC)` key with its hash: what every lookup starts from. The MAC and VNI are held
/// as whole words, not as the records' byte arrays: a key the compiler keeps in memory (it is
/// handed to the slow paths) is then written and read back in whole words, which the CPU
/// forwards from store to load; built from bytes, it was read back wider than written.
#[derive(Clone, Copy)]
pub(super) struct Key {
    hash: u64,
    /// The 48-bit MAC, little-endian (see `mac_bits`).
    mac: u64,
    /// The 24-bit VNI.
    vni: u32,
}

impl Key {
    #[inline(always)]
    fn matches(self) -> impl Fn(&Record) -> bool {
        let Key { mac, vni, .. } = self;
        move |r| r.is(vni, mac)
    }
}

/// The records, in a hash table keyed by a seeded hash of `(VNI, MAC)`.
#[derive(Clone)]
pub(super) struct Records {
    table: HashTable<Record>,
    hasher: FixedState,
}

impl Records {
    pub(super) fn with_capacity(capacity: usize, hasher: FixedState) -> Records {
        Records {
            table: HashTable::with_capacity(capacity),
            hasher,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    /// The key of `mac` in `vni`, hashed once for the lookups and the insertion that follow.
    #[inline(always)]
    pub(super) fn key(&self, vni: Vni, mac: &Mac) -> Key {
        let (vni, mac) = (vni.get(), mac_bits(&mac.0));
        Key {
            hash: hash_key(&self.hasher, vni, mac),
            mac,
            vni,
        }
    }

    #[inline(always)]
    pub(super) fn find(&self, key: Key) -> Option<&Record> {
        self.table.find(key.hash, key.matches())
    }

    #[inline(always)]
    pub(super) fn find_mut(&mut self, key: Key) -> Option<&mut Record> {
        self.table.find_mut(key.hash, key.matches())
    }

    /// The record's slot, to read its bucket position or remove it.
    #[inline(always)]
    pub(super) fn find_entry(
        &mut self,
        key: Key,
    ) -> Result<OccupiedEntry<'_, Record>, AbsentEntry<'_, Record>> {
        self.table.find_entry(key.hash, key.matches())
    }

    /// The record at a bucket position found earlier, if it still holds `mac` in `vni` (the
    /// bucket may be empty or hold another key since). No hashing, no probing.
    #[inline(always)]
    pub(super) fn at_bucket(&mut self, index: usize, vni: Vni, mac: &Mac) -> Option<&mut Record> {
        let (vni, mac) = (vni.get(), mac_bits(&mac.0));
        self.table.get_bucket_mut(index).filter(|r| r.is(vni, mac))
    }

    /// Adds a record whose key is known to be absent.
    pub(super) fn insert_new(&mut self, key: Key, record: Record) {
        let hasher = &self.hasher;
        self.table.insert_unique(key.hash, record, |r| {
            hash_key(hasher, vni_bits(&r.vni), mac_bits(&r.mac))
        });
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Record> + '_ {
        self.table.iter()
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Record> + '_ {
        self.table.iter_mut()
    }

    pub(super) fn retain(&mut self, keep: impl FnMut(&mut Record) -> bool) {
        self.table.retain(keep);
    }
}

/// The destinations records point to, interned: a VTEP has a few local ports and talks to a
/// few remote VTEPs, so a 2-byte index replaces a 20-byte `Destination` in every record.
/// Reference-counted; a freed index is reused.
#[derive(Clone)]
pub(super) struct Dests {
    pub(super) list: Vec<Destination>,
    refs: Vec<u32>,
    pub(super) ids: HashMap<Destination, u16, FixedState>,
    free: Vec<u16>,
}

impl Dests {
    pub(super) fn new(hasher: FixedState) -> Dests {
        Dests {
            list: Vec::new(),
            refs: Vec::new(),
            ids: HashMap::with_hasher(hasher),
            free: Vec::new(),
        }
    }

    #[inline]
    pub(super) fn get(&self, id: u16) -> Destination {
        self.list[usize::from(id)]
    }

    /// One more reference to `dest`; `None` when 65,536 distinct destinations are in use.
    pub(super) fn acquire(&mut self, dest: Destination) -> Option<u16> {
        if let Some(&id) = self.ids.get(&dest) {
            self.refs[usize::from(id)] += 1;
            return Some(id);
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.list[usize::from(id)] = dest;
                self.refs[usize::from(id)] = 1;
                id
            }
            None => {
                let id = u16::try_from(self.list.len()).ok()?;
                self.list.push(dest);
                self.refs.push(1);
                id
            }
        };
        self.ids.insert(dest, id);
        Some(id)
    }

    pub(super) fn release(&mut self, id: u16) {
        let refs = &mut self.refs[usize::from(id)];
        *refs -= 1;
        if *refs == 0 {
            self.ids.remove(&self.list[usize::from(id)]);
            self.free.push(id);
        }
    }
}

/// Millisecond timestamps relative to an epoch, in a `u32`. The epoch is set by the first
/// timestamp, 2^31 ms (24.8 days) before it, so times up to 24.8 days either side fit; a time
/// outside moves the epoch (rebasing every record, a pass as cheap as one ageing sweep): with a
/// clock that only moves forward, once every 24.8 days. Times older than 24.8 days before the
/// new epoch's centre are clamped to it. Timestamps round up to the millisecond, so an entry
/// never ages out early (at most 1 ms late).
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    epoch_us: i64,
    set: bool,
}

const US_PER_MS: i64 = 1000;
const HALF_RANGE_MS: i64 = 1 << 31;

impl Clock {
    /// A clock whose epoch the first timestamp sets.
    pub(super) fn unset() -> Clock {
        Clock {
            epoch_us: 0,
            set: false,
        }
    }

    /// The timestamp of `now`, or `None` if it does not fit (then rebase).
    #[inline]
    pub(super) fn stamp(&self, now: Instant) -> Option<u32> {
        let d = now.total_micros().checked_sub(self.epoch_us)?;
        if !self.set || d < 0 {
            return None;
        }
        u32::try_from((d + US_PER_MS - 1) / US_PER_MS).ok()
    }

    #[inline]
    pub(super) fn instant(&self, stamp: u32) -> Instant {
        Instant::from_micros(self.epoch_us + i64::from(stamp) * US_PER_MS)
    }

    /// Centres the epoch on `now`: every record's times shift by whole milliseconds, so they
    /// read back unchanged unless clamped.
    #[cold]
    pub(super) fn rebase(&mut self, now: Instant, records: &mut Records) {
        let us = now.total_micros();
        let target = us.saturating_sub(HALF_RANGE_MS * US_PER_MS);
        if !self.set {
            *self = Clock {
                epoch_us: target,
                set: true,
            };
            return;
        }
        // A whole number of milliseconds, so the epoch keeps its sub-millisecond phase.
        let shift_ms = target.saturating_sub(self.epoch_us) / US_PER_MS;
        self.epoch_us += shift_ms * US_PER_MS;
        let shift = |t: u32| -> u32 {
            let moved = i64::from(t) - shift_ms;
            moved.clamp(0, i64::from(u32::MAX)) as u32
        };
        for record in records.iter_mut() {
            record.last_seen = shift(record.last_seen);
            record.window_start = shift(record.window_start);
        }
    }
}

/// A VNI as records keep it: little-endian, so that building and comparing keys needs no byte
/// swap.
#[inline(always)]
fn vni_key(vni: Vni) -> [u8; 3] {
    let [a, b, c, _] = vni.get().to_le_bytes();
    [a, b, c]
}

/// The 24-bit VNI of a record's little-endian bytes.
#[inline(always)]
fn vni_bits(vni: &[u8; 3]) -> u32 {
    let [a, b, c] = *vni;
    u32::from_le_bytes([a, b, c, 0])
}

/// A MAC's 48 bits, little-endian (byte 0 lowest): no byte swap to build or compare.
#[inline(always)]
fn mac_bits(mac: &[u8; 6]) -> u64 {
    let [a, b, c, d, e, f] = *mac;
    u64::from_le_bytes([a, b, c, d, e, f, 0, 0])
}

/// The key's hash: MAC and VNI packed into two words, one seeded foldhash.
#[inline]
fn hash_key(hasher: &FixedState, vni: u32, mac: u64) -> u64 {
    // All 72 bits go in (an injective packing: no collisions an attacker could build without
    // the seed): the MAC and the VNI's upper 16 bits in one word, its low byte in the other.
    let word = mac | u64::from(vni >> 8) << 48;
    hasher.hash_one((word, vni as u8))
}

/// A duration in whole milliseconds, saturating at `u32::MAX`.
pub(super) fn duration_ms(d: Duration) -> u32 {
    u32::try_from(d.total_millis()).unwrap_or(u32::MAX)
}
