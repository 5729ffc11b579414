//! The live tables of one node, as rows of text: a VTEP's FDB, neighbour table and per-VNI
//! counters; a host's ARP and ND cache; a router's or switch's MAC table. [`Tracker`] remembers when
//! each row last changed, so the view can flash it.

use std::collections::BTreeMap;

use vtep_core::Destination;
use vtep_core::fdb::Origin;
use vtep_core::vtep::NetworkCounters;
use vtep_sim::{NodeId, NodeKind, Sim};

/// One row: a stable key, the cells compared for changes, and cells that change all the time
/// (ages), shown but not compared.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Row {
    pub key: String,
    pub cells: Vec<String>,
    pub volatile: Vec<String>,
    /// Set by [`Tracker`]: the update in which the row last changed (0: never since shown).
    pub changed: u64,
    /// Cells that lead somewhere: (cell index, where).
    pub links: Vec<(usize, Link)>,
}

impl Row {
    /// A row of `cells` under `key`: nothing volatile, no links, not changed.
    pub fn new(key: String, cells: Vec<String>) -> Row {
        Row {
            key,
            cells,
            ..Row::default()
        }
    }
}

/// Where a table cell leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// The row with this key, in another table of the same node.
    Row(String),
    /// A frame of the trace (the inspector shows it).
    Hop(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub id: &'static str,
    pub title: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Row>,
    pub empty: &'static str,
}

fn origin(o: Origin) -> &'static str {
    match o {
        Origin::Learned => "learned",
        Origin::Static => "static",
        Origin::ControlPlane => "control plane",
    }
}

fn age(now: vtep_core::Instant, then: vtep_core::Instant) -> String {
    let us = (now - then).total_micros();
    if us >= 1_000_000 {
        format!("{:.1} s", us as f64 / 1e6)
    } else {
        format!("{:.1} ms", us as f64 / 1e3)
    }
}

/// The column of a counter of [`NetworkCounters::FIELDS`] in the counters table, if it has
/// one: the table shows the counters of the story (tunnelled, flooded, learned, dropped), in
/// the order of `FIELDS`.
fn counter_column(field: &str) -> Option<&'static str> {
    COUNTER_COLUMNS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, column)| *column)
}

/// Counter field -> column header.
const COUNTER_COLUMNS: [(&str, &str); 9] = [
    ("encap_frames", "encap'd"),
    ("decap_frames", "decap'd"),
    ("flooded_frames", "flooded"),
    ("flood_copies", "HER copies"),
    ("arp_suppressed", "ARP supp."),
    ("nd_suppressed", "ND supp."),
    ("learned", "learned"),
    ("moved", "moved"),
    ("drops_total", "drops"),
];

/// What a column of the tables means ("" when its name says it).
pub fn header_tip(header: &str) -> &'static str {
    match header {
        "destination" => {
            "Where the VTEP sends frames for this MAC: a local port, or the remote VTEP's underlay address"
        }
        "origin" => {
            "How the entry got there: learned from traffic, static, or installed by the control plane"
        }
        "moves" => "Times this MAC moved to another port or VTEP (a migration)",
        "age" => "Since the entry was last seen; learned entries age out",
        "encap" => "The VNI's encapsulation: VXLAN, Geneve or NVGRE",
        "encap'd" => "Frames this VTEP wrapped in the tunnel headers for the underlay",
        "decap'd" => "Frames this VTEP took out of the tunnel headers, for its hosts",
        "flooded" => "BUM frames (broadcast, unknown unicast, multicast) it flooded",
        "HER copies" => {
            "Head-end replication: one copy per remote VTEP of the VNI for each flooded frame"
        }
        "ARP supp." => {
            "ARP requests the VTEP answered itself from its neighbour table (ARP suppression): they never crossed the underlay"
        }
        "ND supp." => {
            "IPv6 Neighbour Solicitations the VTEP answered itself from its neighbour table (ND suppression): they never crossed the underlay"
        }
        "learned" => "MACs learned from traffic (flood and learn)",
        "moved" => "MACs that moved to another port or VTEP",
        "drops" => "Frames the VTEP dropped, for any reason (the event list says which)",
        "VTEP" => "The VTEP the route says the MAC is behind",
        "seq" => {
            "The route's mobility sequence number: it goes up at each move, and the highest wins"
        }
        _ => "",
    }
}

/// The tables of `node`.
pub fn tables(sim: &Sim, node: NodeId) -> Vec<Table> {
    let now = sim.now();
    let Ok(info) = sim.node_info(node) else {
        return Vec::new();
    };
    let name = info.name.clone();
    let names: Vec<(String, String)> = sim
        .hypervisors()
        .into_iter()
        .filter_map(|hv| {
            Some((
                sim.hypervisor_ip(hv).ok()?.to_string(),
                sim.node_info(hv).ok()?.name,
            ))
        })
        .collect();
    let vtep_name = |ip: &str| {
        names
            .iter()
            .find(|(i, _)| i == ip)
            .map(|(_, n)| format!("{ip} ({n})"))
            .unwrap_or_else(|| ip.to_string())
    };
    let host_of_port = |hv: NodeId, port: &str| {
        let _ = hv;
        format!("local port {port}")
    };
    match info.kind {
        NodeKind::Hypervisor => {
            let mut out = Vec::new();
            let routed = super::bgp::fdb_links(sim, node);
            if let Ok(fdb) = sim.fdb(node) {
                out.push(Table {
                    id: "fdb",
                    title: format!("{name} FDB"),
                    headers: vec!["MAC", "VNI", "destination", "origin", "moves", "age"],
                    rows: fdb
                        .iter()
                        .map(|(vni, mac, e)| Row {
                            volatile: vec![age(now, e.last_seen)],
                            links: routed
                                .iter()
                                .find(|(fdb, _)| *fdb == format!("{vni}/{mac}"))
                                .map(|(_, route)| (3, Link::Row(route.clone())))
                                .into_iter()
                                .collect(),
                            ..Row::new(
                                format!("{vni}/{mac}"),
                                vec![
                                    mac.to_string(),
                                    vni.get().to_string(),
                                    match e.dest {
                                        Destination::Local(p) => host_of_port(node, &p.to_string()),
                                        Destination::Remote(ip) => vtep_name(&ip.to_string()),
                                    },
                                    format!(
                                        "{}{}",
                                        origin(e.origin),
                                        if e.frozen { ", frozen" } else { "" }
                                    ),
                                    e.mobility_seq.to_string(),
                                ],
                            )
                        })
                        .collect(),
                    empty: "No entries yet: the VTEP learns a MAC when a frame from it arrives \
                            (or from the control plane).",
                });
                out.push(Table {
                    id: "neigh",
                    title: format!("{name} neighbours, IPv4 and IPv6 (ARP and ND suppression)"),
                    headers: vec!["IP", "VNI", "MAC", "origin", "age"],
                    rows: sim
                        .neighbours(node)
                        .unwrap_or_default()
                        .iter()
                        .map(|(vni, ip, e)| Row {
                            volatile: vec![age(now, e.last_seen)],
                            ..Row::new(
                                format!("{vni}/{ip}"),
                                vec![
                                    ip.to_string(),
                                    vni.get().to_string(),
                                    e.mac.to_string(),
                                    origin(e.origin).to_string(),
                                ],
                            )
                        })
                        .collect(),
                    empty: "Empty: with flood and learn, ARP requests and Neighbour \
                            Solicitations are flooded, not answered by the VTEP.",
                });
                let mut rows = Vec::new();
                if let Ok(vtep) = sim.vtep(node) {
                    for net in vtep.networks() {
                        if let Some(c) = vtep.counters(net.vni) {
                            let mut cells = vec![
                                net.vni.get().to_string(),
                                net.encapsulation.name().to_string(),
                            ];
                            cells.extend(
                                c.fields()
                                    .filter(|(name, _)| counter_column(name).is_some())
                                    .map(|(_, value)| value.to_string()),
                            );
                            rows.push(Row::new(net.vni.get().to_string(), cells));
                        }
                    }
                }
                let mut headers = vec!["VNI", "encap"];
                headers.extend(
                    NetworkCounters::FIELDS
                        .iter()
                        .filter_map(|(name, _)| counter_column(name)),
                );
                out.push(Table {
                    id: "counters",
                    title: format!("{name} counters per VNI"),
                    headers,
                    rows,
                    empty: "No virtual network on this hypervisor.",
                });
                // Under BGP EVPN, beside the FDB: the sessions and the EVPN table.
                out.extend(super::bgp::speaker_tables(sim, node, &name));
            } else if let Ok(macs) = sim.mac_table(node) {
                out.push(mac_table(&name, macs));
            }
            out
        }
        NodeKind::Host => vec![Table {
            id: "arp",
            title: format!(
                "{name} ARP and ND cache ({}, {})",
                sim.host_addr(node)
                    .map(|a| a.1.to_string())
                    .unwrap_or_default(),
                sim.host_ipv6(node)
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            ),
            headers: vec!["IP", "MAC"],
            rows: sim
                .arp_cache(node)
                .unwrap_or_default()
                .iter()
                .map(|(ip, mac)| Row::new(ip.to_string(), vec![ip.to_string(), mac.to_string()]))
                .collect(),
            empty: "Empty: the host has not resolved anyone yet.",
        }],
        NodeKind::Router | NodeKind::Switch => {
            vec![mac_table(&name, sim.mac_table(node).unwrap_or_default())]
        }
        NodeKind::Reflector => super::bgp::speaker_tables(sim, node, &name),
    }
}

fn mac_table(name: &str, macs: Vec<vtep_core::Mac>) -> Table {
    Table {
        id: "mac",
        title: format!("{name} MAC table ({} entries)", macs.len()),
        headers: vec!["MAC"],
        rows: macs
            .iter()
            .map(|m| Row::new(m.to_string(), vec![m.to_string()]))
            .collect(),
        empty: "Empty.",
    }
}

/// Remembers rows between updates and stamps the ones that changed.
#[derive(Debug, Default)]
pub struct Tracker {
    node: Option<NodeId>,
    update: u64,
    seen: BTreeMap<(&'static str, String), (Vec<String>, u64)>,
}

impl Tracker {
    /// Stamps `tables` of `node`: a row new or different since the last update gets
    /// `changed` = this update's number (rows of the first update of a node stay 0).
    pub fn stamp(&mut self, node: NodeId, tables: &mut [Table]) {
        let first = self.node != Some(node);
        if first {
            self.seen.clear();
            self.node = Some(node);
        }
        self.update += 1;
        for t in tables.iter_mut() {
            for r in &mut t.rows {
                let key = (t.id, r.key.clone());
                match self.seen.get_mut(&key) {
                    Some((cells, changed)) => {
                        if *cells != r.cells {
                            cells.clone_from(&r.cells);
                            *changed = self.update;
                        }
                        r.changed = *changed;
                    }
                    None => {
                        let changed = if first { 0 } else { self.update };
                        self.seen.insert(key, (r.cells.clone(), changed));
                        r.changed = changed;
                    }
                }
            }
        }
    }

    /// Forget everything (a replay).
    pub fn reset(&mut self) {
        self.node = None;
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column names a counter the core lists, in the core's order (a renamed counter
    /// would otherwise drop out of the table silently).
    #[test]
    fn counter_columns_follow_the_core_list() {
        let listed: Vec<&str> = NetworkCounters::FIELDS
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| counter_column(name).is_some())
            .collect();
        let columns: Vec<&str> = COUNTER_COLUMNS.iter().map(|(f, _)| *f).collect();
        assert_eq!(listed, columns);
    }

    /// A hypervisor's counters after S2's ping and transfer: one row per VNI, a cell per header,
    /// the numbers the engine counted.
    #[test]
    fn counters_table_reads_the_engine() {
        let run = vtep_sim::scenario::s2().run(1).unwrap();
        let hv = run.sim.hypervisors()[0];
        let t = tables(&run.sim, hv);
        let counters = t.iter().find(|t| t.id == "counters").unwrap();
        assert_eq!(
            counters.headers,
            [
                "VNI",
                "encap",
                "encap'd",
                "decap'd",
                "flooded",
                "HER copies",
                "ARP supp.",
                "ND supp.",
                "learned",
                "moved",
                "drops"
            ]
        );
        let vtep = run.sim.vtep(hv).unwrap();
        assert_eq!(counters.rows.len(), vtep.networks().len());
        for row in &counters.rows {
            assert_eq!(row.cells.len(), counters.headers.len());
            let vni = vtep_core::Vni::new(row.cells[0].parse().unwrap()).unwrap();
            let c = vtep.counters(vni).unwrap();
            assert_eq!(row.cells[2], c.encap_frames.to_string());
            assert_eq!(row.cells[3], c.decap_frames.to_string());
            assert_eq!(row.cells[7], c.nd_suppressed.to_string());
            assert_eq!(row.cells[10], c.drops.total().to_string());
            assert!(c.encap_frames > 0, "S2 tunnels frames");
        }
    }
}
