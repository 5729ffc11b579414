//! Received routes: one compact record per (peer, route), the path attributes interned.
//!
//! Records live in one `hashbrown::HashTable`, hashed by the route's *group*: `(VNI, MAC)` for a
//! type-2 route, `(VNI, originator)` for a type-3 route. Every path for one MAC (from any peer,
//! under any RD, with or without an IP) is then found by one probe sequence
//! (`HashTable::iter_hash`), which is what best-path selection and the FDB diff need, and no
//! second index is kept. A record is ~56 bytes; the attributes it points to are shared by the
//! routes of one UPDATE and usually by every route of a VTEP and VNI.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::evpn::IpKey;
use vtep_core::wire::bgp::{ExtCommunity, Origin, RouteKey};

use crate::PeerId;

/// Path attributes of a route, as stored (owned, 4-octet AS_PATH).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PathAttributes {
    pub next_hop: Ipv4Address,
    pub origin: Origin,
    pub local_pref: u32,
    pub med: Option<u32>,
    /// AS_PATH segments with 4-octet ASNs.
    pub as_path: Box<[u8]>,
    pub originator_id: Option<Ipv4Address>,
    pub cluster_list: Box<[Ipv4Address]>,
    pub ext_communities: Box<[[u8; 8]]>,
    /// PMSI tunnel: flags, type, label, identifier.
    pub pmsi: Option<(u8, u8, u32, Box<[u8]>)>,
    /// Route data that is the same for the routes of an UPDATE: ESI and labels.
    pub esi: [u8; 10],
    pub label1: u32,
    pub label2: Option<u32>,
}

impl PathAttributes {
    /// MAC mobility (sticky, sequence) from the extended communities (RFC 7432 section 7.7).
    pub fn mobility(&self) -> (bool, u32) {
        self.ext_communities
            .iter()
            .find_map(|b| match ExtCommunity::parse(*b) {
                ExtCommunity::MacMobility { sticky, seq } => Some((sticky, seq)),
                _ => None,
            })
            .unwrap_or((false, 0))
    }

    /// The R flag of RFC 9047's ARP/ND extended community: the route's IPv6 address belongs
    /// to a router (FRR sends the community only then).
    pub fn router_flag(&self) -> bool {
        self.ext_communities.iter().any(|b| {
            matches!(
                ExtCommunity::parse(*b),
                ExtCommunity::ArpNd { router: true, .. }
            )
        })
    }

    /// Ingress replication to an IPv4 endpoint.
    pub fn ingress_replication(&self) -> bool {
        matches!(&self.pmsi, Some((_, 6, _, id)) if id.len() == 4)
    }
}

/// Index of interned attributes.
pub type AttrId = u32;

/// Interned attributes with reference counts.
#[derive(Debug)]
pub struct AttrTable {
    slots: Vec<Option<(PathAttributes, u32)>>,
    free: Vec<AttrId>,
    index: HashTable<AttrId>,
    hasher: FixedState,
}

impl AttrTable {
    pub fn new(seed: u64) -> AttrTable {
        AttrTable {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: FixedState::with_seed(seed),
        }
    }

    fn hash(&self, attrs: &PathAttributes) -> u64 {
        self.hasher.hash_one(attrs)
    }

    /// The id of `attrs`, adding a reference.
    pub fn intern(&mut self, attrs: PathAttributes) -> AttrId {
        let hash = self.hash(&attrs);
        let slots = &self.slots;
        let found = self.index.find(
            hash,
            |id| matches!(&slots[*id as usize], Some((a, _)) if *a == attrs),
        );
        if let Some(&id) = found {
            if let Some((_, refs)) = &mut self.slots[id as usize] {
                *refs += 1;
            }
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some((attrs, 1));
                id
            }
            None => {
                self.slots.push(Some((attrs, 1)));
                (self.slots.len() - 1) as AttrId
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, id, |id| match &slots[*id as usize] {
                Some((a, _)) => hasher.hash_one(a),
                None => 0,
            });
        id
    }

    /// Adds a reference to an interned id.
    pub fn retain(&mut self, id: AttrId) {
        if let Some(Some((_, refs))) = self.slots.get_mut(id as usize) {
            *refs += 1;
        }
    }

    /// Drops a reference; the attributes go when the last one does.
    pub fn release(&mut self, id: AttrId) {
        let Some(Some((attrs, refs))) = self.slots.get_mut(id as usize) else {
            return;
        };
        *refs -= 1;
        if *refs > 0 {
            return;
        }
        let hash = self.hasher.hash_one(&*attrs);
        if let Ok(entry) = self.index.find_entry(hash, |i| *i == id) {
            entry.remove();
        }
        self.slots[id as usize] = None;
        self.free.push(id);
    }

    pub fn get(&self, id: AttrId) -> &PathAttributes {
        match &self.slots[id as usize] {
            Some((attrs, _)) => attrs,
            None => unreachable!("a record points at released attributes"),
        }
    }

    /// Interned attribute sets alive.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

/// Record flags.
pub const IMPORTED: u8 = 1;
/// The record counts toward a flood-list entry (type 3 with ingress replication, imported).
pub const FLOODS: u8 = 2;

/// One route from one peer.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    pub key: RouteKey,
    /// The VNI it was imported into (by route target), or its label when none matched.
    pub vni: u32,
    pub peer: PeerId,
    pub flags: u8,
    pub attrs: AttrId,
}

impl Record {
    pub fn imported(&self) -> bool {
        self.flags & IMPORTED != 0
    }
}

/// What groups routes in the table: a MAC (type 2, every VNI and RD), or a VTEP's type-3
/// routes. The VNI is left out so that a record is found from its route key alone (a
/// withdrawal carries no route target); selection filters the group by VNI.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Group {
    Mac([u8; 6]),
    Flood(IpKey),
}

impl Group {
    pub fn of(key: &RouteKey) -> Group {
        match *key {
            RouteKey::MacIp { mac, .. } => Group::Mac(mac),
            RouteKey::InclusiveMulticast { originator, .. } => Group::Flood(originator),
        }
    }
}

/// Every received route.
#[derive(Debug)]
pub struct Rib {
    records: HashTable<Record>,
    hasher: FixedState,
    pub attrs: AttrTable,
}

impl Rib {
    pub fn new(seed: u64) -> Rib {
        Rib {
            records: HashTable::new(),
            hasher: FixedState::with_seed(seed),
            attrs: AttrTable::new(seed ^ 0x5bd1_e995),
        }
    }

    pub fn group_hash(&self, group: &Group) -> u64 {
        self.hasher.hash_one(group)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Every record of a group.
    pub fn group(&self, group: &Group) -> impl Iterator<Item = &Record> + use<'_> {
        let group = *group;
        self.records
            .iter_hash(self.group_hash(&group))
            .filter(move |r| Group::of(&r.key) == group)
    }

    /// The record of `peer` for `key` in `group`.
    pub fn find(&self, group: &Group, peer: PeerId, key: &RouteKey) -> Option<&Record> {
        self.group(group).find(|r| r.peer == peer && r.key == *key)
    }

    /// Adds a record (none with the same group, peer and key may exist).
    pub fn insert(&mut self, record: Record) {
        let hash = self.group_hash(&Group::of(&record.key));
        let hasher = &self.hasher;
        self.records
            .insert_unique(hash, record, |r| hasher.hash_one(Group::of(&r.key)));
    }

    /// Removes the record of `peer` for `key` in `group`, releasing nothing (the caller
    /// releases its attributes).
    pub fn remove(&mut self, group: &Group, peer: PeerId, key: &RouteKey) -> Option<Record> {
        let hash = self.group_hash(group);
        let group = *group;
        let entry = self
            .records
            .find_entry(hash, |r| {
                r.peer == peer && r.key == *key && Group::of(&r.key) == group
            })
            .ok()?;
        Some(entry.remove().0)
    }

    /// Every record, in table order (the same for the same seed and history).
    pub fn iter(&self) -> impl Iterator<Item = &Record> + '_ {
        self.records.iter()
    }

    /// Records of one peer (for a session going down), collected so the caller can remove
    /// them.
    pub fn of_peer(&self, peer: PeerId) -> Vec<RouteKey> {
        self.records
            .iter()
            .filter(|r| r.peer == peer)
            .map(|r| r.key)
            .collect()
    }

    /// Heap bytes of the tables (not of the attribute sets' own boxes).
    pub fn heap_bytes(&self) -> usize {
        self.records.capacity() * (core::mem::size_of::<Record>() + 1)
            + self.attrs.slots.capacity() * core::mem::size_of::<Option<(PathAttributes, u32)>>()
            + self.attrs.index.capacity() * (core::mem::size_of::<AttrId>() + 1)
    }
}
