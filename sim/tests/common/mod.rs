//! What the simulator's tests share: the seed every scenario runs with, running one, naming
//! its nodes, reading an FDB entry.
#![allow(dead_code)]

use vtep_core::Mac;
use vtep_core::fdb::FdbEntry;
use vtep_sim::scenario::Scenario;
use vtep_sim::script::Run;
use vtep_sim::{NodeId, Sim, Vni};

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

/// `hv`'s FDB entry for `mac`, in `vni` (in any VNI when `None`), as `Sim::fdb` lists it.
pub fn fdb_entry(sim: &Sim, hv: NodeId, vni: Option<Vni>, mac: Mac) -> FdbEntry {
    sim.fdb(hv)
        .unwrap()
        .into_iter()
        .find(|(v, m, _)| vni.is_none_or(|vni| *v == vni) && *m == mac)
        .unwrap()
        .2
}
