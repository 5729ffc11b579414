//! What the scenario tests (`tests/scenarios.rs`, `tests/evpn.rs`) share: the seed every
//! scenario runs with, and running one or naming its nodes.
#![allow(dead_code)]

use vtep_sim::NodeId;
use vtep_sim::scenario::Scenario;
use vtep_sim::script::Run;

/// The seed every scenario test runs with.
pub const SEED: u64 = 2026;

/// `s` run with [`SEED`]; a failure names the scenario.
pub fn run(s: Scenario) -> Run {
    s.run(SEED).unwrap_or_else(|e| panic!("{}: {e}", s.id))
}

/// The nodes of `r` called `names`, in that order.
pub fn nodes<const N: usize>(r: &Run, names: [&str; N]) -> [NodeId; N] {
    names.map(|n| r.node(n).unwrap())
}
