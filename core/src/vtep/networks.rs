//! The networks (VNIs) a VTEP serves, each with its settings, ports, counters and rate limit.

use alloc::vec::Vec;

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use super::{ConfigError, NetworkConfig, NetworkCounters};
use crate::addr::PortId;
use crate::rate::{RateLimit, TokenBucket};
use crate::{Instant, Vni};

#[derive(Clone, Debug)]
pub(super) struct Network {
    pub(super) config: NetworkConfig,
    pub(super) ports: Vec<PortId>,
    pub(super) counters: NetworkCounters,
    pub(super) bucket: Option<TokenBucket>,
}

impl Network {
    /// A network with no ports yet, its rate limit's bucket full at `now`.
    pub(super) fn new(config: NetworkConfig, now: Instant) -> Result<Network, ConfigError> {
        Ok(Network {
            bucket: bucket_for(config.rate_limit, now)?,
            config,
            ports: Vec::new(),
            counters: NetworkCounters::default(),
        })
    }
}

/// The token bucket of a rate limit, full at `now`; refused if its burst cannot hold one frame.
pub(super) fn bucket_for(
    limit: Option<RateLimit>,
    now: Instant,
) -> Result<Option<TokenBucket>, ConfigError> {
    match limit {
        Some(limit) if limit.burst_bytes < 1514 => Err(ConfigError::BurstTooSmall {
            burst_bytes: limit.burst_bytes,
        }),
        Some(limit) => Ok(Some(TokenBucket::new(limit, now))),
        None => Ok(None),
    }
}

/// The networks of a VTEP: a dense vector, and the VNI -> position index. The data path looks
/// a network up by VNI once per input and then works with its position (the pending outputs
/// keep it), instead of hashing the VNI again at every step.
#[derive(Clone, Debug)]
pub(super) struct Networks {
    pub(super) slots: Vec<Network>,
    index: HashMap<Vni, usize, FixedState>,
}

impl Networks {
    pub(super) fn new(hasher: FixedState) -> Networks {
        Networks {
            slots: Vec::new(),
            index: HashMap::with_hasher(hasher),
        }
    }

    #[inline]
    pub(super) fn slot(&self, vni: &Vni) -> Option<usize> {
        self.index.get(vni).copied()
    }

    pub(super) fn get(&self, vni: &Vni) -> Option<&Network> {
        self.slot(vni).map(|i| &self.slots[i])
    }

    pub(super) fn get_mut(&mut self, vni: &Vni) -> Option<&mut Network> {
        self.slot(vni).map(|i| &mut self.slots[i])
    }

    pub(super) fn contains_key(&self, vni: &Vni) -> bool {
        self.index.contains_key(vni)
    }

    /// Adds a network whose VNI is not there yet.
    pub(super) fn insert(&mut self, vni: Vni, network: Network) {
        self.index.insert(vni, self.slots.len());
        self.slots.push(network);
    }

    /// Removes a network; the last one takes its position (outputs pending are discarded by
    /// the caller).
    pub(super) fn remove(&mut self, vni: &Vni) -> Option<Network> {
        let i = self.index.remove(vni)?;
        let network = self.slots.swap_remove(i);
        if let Some(moved) = self.slots.get(i) {
            self.index.insert(moved.config.vni, i);
        }
        Some(network)
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Network> {
        self.slots.iter()
    }
}
