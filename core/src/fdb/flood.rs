//! Head-end replication (HER) lists: per VNI, the remote VTEPs that receive a copy of every
//! broadcast, unknown-unicast and multicast (BUM) frame. In Linux these are the all-zeros-MAC
//! entries added with `bridge fdb append 00:00:00:00:00:00 dst IP`, which is why the FDB keeps
//! them.

use alloc::vec::Vec;

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::Vni;
use crate::wire::IpAddress;

/// The flood lists of every VNI: ordered sets, in the order the peers were added.
#[derive(Clone)]
pub(super) struct FloodLists(HashMap<Vni, Vec<IpAddress>, FixedState>);

impl FloodLists {
    pub(super) fn new(hasher: FixedState) -> FloodLists {
        FloodLists(HashMap::with_hasher(hasher))
    }

    /// Adds `remote` to the list of `vni`. Returns false if it was there.
    pub(super) fn append(&mut self, vni: Vni, remote: IpAddress) -> bool {
        let list = self.0.entry(vni).or_default();
        if list.contains(&remote) {
            return false;
        }
        list.push(remote);
        true
    }

    /// Removes `remote` from the list of `vni`. Returns false if it was not there.
    pub(super) fn remove(&mut self, vni: Vni, remote: &IpAddress) -> bool {
        let Some(list) = self.0.get_mut(&vni) else {
            return false;
        };
        let before = list.len();
        list.retain(|r| r != remote);
        before != list.len()
    }

    pub(super) fn get(&self, vni: Vni) -> &[IpAddress] {
        self.0.get(&vni).map_or(&[], Vec::as_slice)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (Vni, &[IpAddress])> + '_ {
        self.0.iter().map(|(vni, list)| (*vni, list.as_slice()))
    }

    /// Forgets the list of `vni`.
    pub(super) fn remove_vni(&mut self, vni: Vni) {
        self.0.remove(&vni);
    }

    /// How many VNIs have a list.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}
