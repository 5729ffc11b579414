//! The underlay's routing: every router's static shortest paths (by latency) to every
//! underlay address, recomputed lazily after any change to nodes or links.

use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::format;
use alloc::vec::Vec;
use core::cmp::Reverse;

use vtep_core::wire::Ipv4Address;

use super::Sim;
use super::model::{NodeKind, State};
use crate::error::SimError;
use crate::id::{LinkId, NodeId};

impl Sim {
    /// Static shortest-path routing (by latency) from every router to every underlay address.
    pub(super) fn recompute_routes(&mut self) {
        self.routes_dirty = false;
        for r in self.ids_of(NodeKind::Router) {
            let mut table = BTreeMap::new();
            let mut dist: BTreeMap<NodeId, u64> = BTreeMap::new();
            let mut heap = BinaryHeap::new();
            dist.insert(r, 0);
            heap.push(Reverse((0u64, r, None::<LinkId>)));
            while let Some(Reverse((d, n, first))) = heap.pop() {
                if dist.get(&n).is_some_and(|best| *best < d) {
                    continue;
                }
                let Some(node) = self.node(n) else { continue };
                if let (Some(ip), Some(f)) = (node.underlay_ip(), first) {
                    table.entry(ip).or_insert(f);
                }
                // Only routers forward; hypervisors and route reflectors are leaves.
                if n != r && node.kind() != NodeKind::Router {
                    continue;
                }
                if !node.up {
                    continue;
                }
                for &l in &node.links {
                    let Some(link) = self.link(l) else { continue };
                    if !link.up || !link.underlay {
                        continue;
                    }
                    let Some(p) = self.peer(l, n) else { continue };
                    if !self.node(p).is_some_and(|pn| pn.up) {
                        continue;
                    }
                    let nd = d + link.spec.latency.total_micros() + 1;
                    if dist.get(&p).is_none_or(|best| nd < *best) {
                        dist.insert(p, nd);
                        heap.push(Reverse((nd, p, Some(first.unwrap_or(l)))));
                    }
                }
            }
            if let Some(State::Router(router)) = self.node_mut(r).map(|n| &mut n.state) {
                router.routes = table;
            }
        }
    }

    /// Recomputes routes now (they are also recomputed lazily after any change).
    pub fn routes_of(&mut self, router: NodeId) -> Result<Vec<(Ipv4Address, LinkId)>, SimError> {
        if self.routes_dirty {
            self.recompute_routes();
        }
        match &self
            .node(router)
            .ok_or(SimError::UnknownNode(router))?
            .state
        {
            State::Router(r) => Ok(r.routes.iter().map(|(a, l)| (*a, *l)).collect()),
            _ => Err(SimError::BadArgument(format!(
                "node {} is not a router",
                router.0
            ))),
        }
    }
}
