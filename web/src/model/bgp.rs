//! The control plane on the page: each VTEP's BGP sessions as a badge under its hypervisor
//! (Idle ... Established), and the tables of a speaker: its sessions, and its EVPN table (the
//! routes it originates, and the routes received from each peer with the best one marked),
//! each received route linked to the UPDATE that carried it. A VTEP's FDB rows that came from
//! a route link to that route ([`fdb_links`]).

use vtep_core::fdb::Origin;
use vtep_core::wire::bgp::RouteKey;
use vtep_core::wire::bgp::evpn::IpKey;
use vtep_core::wire::{IpAddress, Ipv4Address};
use vtep_evpn::{RouteView, State};
use vtep_sim::{NodeId, NodeKind, Sim};

use super::layout::Layout;
use super::tables::{Link, Row, Table};

/// A speaker's sessions, drawn under its node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Badge {
    pub node: u32,
    pub name: String,
    /// Where it is drawn (viewBox units, a tenth).
    pub x: i64,
    pub y: i64,
    pub text: String,
    /// "up" (every session Established), "mid" (on the way), "down" (none up).
    pub class: &'static str,
    /// Each session's state, in peer order ("Established,Idle"): for tests.
    pub states: String,
    pub title: String,
}

/// The name of the node with underlay address `ip` ("10.0.0.100" when none has it).
fn name_of(sim: &Sim, ip: Ipv4Address) -> String {
    sim.nodes()
        .into_iter()
        .find(|n| n.underlay_ip == Some(ip))
        .map_or_else(|| ip.to_string(), |n| n.name)
}

fn ms(t: vtep_core::Instant) -> String {
    format!("{:.3} ms", t.total_micros() as f64 / 1000.0)
}

/// The badges of every speaker on `layout`: a hypervisor's sessions to the reflectors, a
/// reflector's clients.
pub fn badges(sim: &Sim, layout: &Layout) -> Vec<Badge> {
    let mut out = Vec::new();
    for n in &layout.nodes {
        let id = NodeId(n.id);
        let Ok(speaker) = sim.speaker(id) else {
            continue;
        };
        let peers = speaker.peers();
        let reflector = n.kind == "rs";
        let up = peers
            .iter()
            .filter(|p| p.state == State::Established)
            .count();
        let text = if !n.up {
            "failed: BGP silent".to_string()
        } else if reflector {
            format!("{up} client{} up", if up == 1 { "" } else { "s" })
        } else {
            match peers.as_slice() {
                [] => "BGP: no peer".to_string(),
                [p] => format!("BGP {}", p.state),
                _ => format!("BGP {up}/{} up", peers.len()),
            }
        };
        let class = if !n.up {
            "down"
        } else if up > 0 && (up == peers.len() || reflector) {
            "up"
        } else if peers.iter().any(|p| {
            matches!(
                p.state,
                State::Connect | State::OpenSent | State::OpenConfirm
            )
        }) || up > 0
        {
            "mid"
        } else {
            "down"
        };
        let mut title = format!(
            "{}'s BGP sessions (iBGP, TCP port 179, hold time {} s):",
            n.name,
            vtep_sim::bgp::HOLD_TIME
        );
        for p in &peers {
            let c = &p.counters;
            title.push_str(&format!(
                "\n{} ({}): {}{}; UPDATEs {} in, {} out; {} routes from it",
                name_of(sim, p.address),
                p.address,
                p.state,
                p.established_at
                    .map(|t| format!(" since {}", ms(t)))
                    .unwrap_or_default(),
                c.received[1],
                c.sent[1],
                p.routes
            ));
            if let Some(e) = &p.last_error
                && p.state != State::Established
            {
                title.push_str(&format!(" (last: {e})"));
            }
        }
        let dy = if reflector { 32.0 } else { 36.0 };
        out.push(Badge {
            node: n.id,
            name: n.name.clone(),
            x: (n.x * 10.0).round() as i64,
            y: ((n.y + dy) * 10.0).round() as i64,
            text,
            class,
            states: peers
                .iter()
                .map(|p| p.state.as_str())
                .collect::<Vec<_>>()
                .join(","),
            title,
        });
    }
    out
}

/// A route in a few words: `MAC 02:48:..:01`, `MAC/IP 02:48:..:01 10.0.0.1`, `flood list`.
pub fn route_words(key: &RouteKey) -> String {
    let ip = |k: &IpKey| IpAddress::from(*k).to_string();
    match key {
        RouteKey::MacIp { mac, ip: addr, .. } => {
            let mac = vtep_core::wire::EthernetAddress(*mac);
            match addr {
                Some(a) => format!("type 2 MAC/IP {mac} {}", ip(a)),
                None => format!("type 2 MAC {mac}"),
            }
        }
        RouteKey::InclusiveMulticast { originator, .. } => {
            format!("type 3 flood list {}", ip(originator))
        }
    }
}

/// The key of a route's row in the EVPN table: where it came from and what it is.
pub fn route_row_key(from: &str, key: &RouteKey) -> String {
    format!("{from}/{key:?}")
}

fn route_row(sim: &Sim, node: NodeId, from: (&str, Option<Ipv4Address>), r: &RouteView) -> Row {
    let carried = from
        .1
        .and_then(|peer| sim.route_carried_by(node, peer, &r.key));
    let mut links = vec![];
    if let Some(hop) = carried {
        links.push((6, Link::Hop(hop.0)));
    }
    let seq = match r.key {
        RouteKey::MacIp { .. } => r.seq.to_string(),
        RouteKey::InclusiveMulticast { .. } => String::new(),
    };
    Row {
        links,
        ..Row::new(
            route_row_key(from.0, &r.key),
            vec![
                from.0.to_string(),
                route_words(&r.key),
                r.vni.get().to_string(),
                name_of(sim, r.next_hop),
                seq,
                if r.best { "✓".into() } else { String::new() },
                carried.map_or(String::new(), |h| format!("#{}", h.0)),
            ],
        )
    }
}

/// A speaker's tables: its sessions, and its EVPN table.
pub fn speaker_tables(sim: &Sim, node: NodeId, name: &str) -> Vec<Table> {
    let Ok(table) = sim.evpn_table(node) else {
        return Vec::new();
    };
    let sessions = Table {
        id: "bgp",
        title: format!("{name} BGP sessions"),
        headers: vec![
            "peer", "state", "up since", "hold", "msgs in", "msgs out", "routes",
        ],
        rows: table
            .peers
            .iter()
            .map(|(p, _)| {
                Row::new(
                    p.address.to_string(),
                    vec![
                        format!("{} ({})", name_of(sim, p.address), p.address),
                        p.state.to_string(),
                        p.established_at.map(ms).unwrap_or_default(),
                        p.negotiated
                            .map(|n| format!("{} s", n.hold_time))
                            .unwrap_or_default(),
                        p.counters.messages_received().to_string(),
                        p.counters.messages_sent().to_string(),
                        p.routes.to_string(),
                    ],
                )
            })
            .collect(),
        empty: "No session yet: a VTEP connects to each route reflector when it starts.",
    };
    let mut rows: Vec<Row> = table
        .local
        .iter()
        .map(|r| route_row(sim, node, ("this VTEP", None), r))
        .collect();
    for (p, routes) in &table.peers {
        let from = name_of(sim, p.address);
        rows.extend(
            routes
                .iter()
                .map(|r| route_row(sim, node, (&from, Some(p.address)), r)),
        );
    }
    let kind = sim.node_info(node).map(|i| i.kind).ok();
    let evpn = Table {
        id: "evpn",
        title: format!("{name} EVPN routes"),
        headers: vec!["from", "route", "VNI", "VTEP", "seq", "best", "UPDATE"],
        rows,
        empty: if kind == Some(NodeKind::Reflector) {
            "No routes yet: a reflector holds what its clients announce."
        } else {
            "No routes yet: they come with the sessions, and as hosts speak."
        },
    };
    vec![sessions, evpn]
}

/// Links from a VTEP's FDB rows that came from a route to that route's row in its EVPN
/// table: (FDB row key, route row key).
pub fn fdb_links(sim: &Sim, node: NodeId) -> Vec<(String, String)> {
    let (Ok(speaker), Ok(fdb)) = (sim.speaker(node), sim.fdb(node)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (vni, mac, e) in fdb {
        if e.origin != Origin::ControlPlane {
            continue;
        }
        let Some(peer) = speaker.best_peer(vni, mac.0) else {
            continue;
        };
        let best = speaker.received_routes(peer).into_iter().find(|r| {
            r.best && matches!(r.key, RouteKey::MacIp { mac: m, ip: None, .. } if m == mac.0)
        });
        let address = speaker.peer_status(peer).map(|p| p.address);
        if let (Some(r), Some(address)) = (best, address) {
            out.push((
                format!("{vni}/{mac}"),
                route_row_key(&name_of(sim, address), &r.key),
            ));
        }
    }
    out
}

/// What a BGP field is for, in the inspector's words.
pub fn field_help(layer: &str, field: &str) -> &'static str {
    match (layer, field) {
        ("BGP", "Marker") => "16 bytes of 0xff: where a message starts in the TCP stream.",
        ("BGP", "Length") => "The whole message, header included: 19 to 4096 bytes.",
        ("BGP", "Type") => "1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH.",
        ("BGP", "My AS") => {
            "The sender's AS: every speaker here is in AS 65000, so the sessions are iBGP."
        }
        ("BGP", "Hold time") => {
            "Seconds of silence after which the session is dropped; the lower offer wins, and \
             KEEPALIVEs go every third of it."
        }
        ("BGP", "BGP identifier") => "The speaker's router ID (here its underlay address).",
        ("BGP", "Capability") => {
            "What the speaker can do: multiprotocol L2VPN EVPN (AFI 25, SAFI 70) is what makes \
             this an EVPN session."
        }
        ("BGP", "Error code" | "Error subcode") => {
            "Why the sender ends the session (RFC 4271 section 4.5): it closes right after."
        }
        ("Path attribute", "Flags") => {
            "Optional, transitive, partial, extended length: how a speaker that does not know \
             the attribute must treat it."
        }
        ("Path attribute", "Next hop") => {
            "The VTEP behind which the routes' MACs live: the outer destination of their frames."
        }
        ("Path attribute", "Originator ID") => {
            "Added by the route reflector: the speaker the route came from (RFC 4456)."
        }
        ("Path attribute", "Cluster ID") => {
            "Each reflector the route passed adds its own: a route that comes back to its \
             cluster is a loop and is dropped."
        }
        ("Path attribute", "Route target") => {
            "Which VNI imports the route: FRR's automatic AS:VNI, matched on the VNI alone."
        }
        ("Path attribute", "Encapsulation") => "Tunnel type 8: the VTEP speaks VXLAN (RFC 9012).",
        ("Path attribute", "Sequence") => {
            "MAC mobility (RFC 7432 section 15): each move raises it; the highest wins, and the \
             VTEP it beats withdraws."
        }
        ("Path attribute", "Sticky") => "A static MAC: it must never move.",
        ("Path attribute", "Tunnel type") => {
            "6, ingress replication: send this VNI's broadcasts to the endpoint below, one copy \
             each: the flood list."
        }
        ("Path attribute", "Label (VNI)") => "With VXLAN the label field carries the VNI.",
        ("EVPN route", "Route distinguisher") => {
            "Makes routes of different VTEPs distinct: VTEP address and a per-VNI index."
        }
        ("EVPN route", "ESI") => {
            "Ethernet segment: 0 for a host attached to one VTEP only (no multihoming)."
        }
        ("EVPN route", "Label 1 (VNI)") => "The VNI of the MAC (RFC 8365: 24 bits).",
        ("EVPN route", "Originating router") => {
            "A type-3 route: this VTEP wants a copy of the VNI's broadcast, unknown-unicast and \
             multicast frames."
        }
        ("EVPN route", _) => {
            "A route of the control plane: type 2 says where a MAC/IP lives (which VTEP), type \
             3 that a VTEP serves a VNI (for its flood list)."
        }
        ("BGP (continued)", _) => {
            "The end of a message a full segment cut: TCP is a stream, BGP finds its messages \
             by their length."
        }
        _ => "",
    }
}
