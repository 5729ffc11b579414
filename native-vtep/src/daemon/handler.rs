//! The daemon's answers to control requests (boringtun's `device/api.rs`): reads and changes
//! the engine's tables and answers in the protocol's types. Called from the main loop with the
//! engine locked.

use std::collections::BTreeMap;
use std::net::IpAddr;

use vtep_core::fdb::Origin;
use vtep_core::vtep::{DropReason, NetworkCounters, Vtep};
use vtep_core::wire::bgp::RouteKey;
use vtep_core::wire::bgp::evpn::IpKey;
use vtep_core::{Destination, Mac};
use vtep_core::{Instant, Vni};
use vtep_evpn::{RouteSource, RouteView, Speaker};

use super::Taps;
use super::bgp::Bgp;
use crate::config::{ColonMac, parse_mac};
use crate::control::{
    BgpPeerRow, BgpRouteRow, BgpSummary, DaemonStats, FdbRow, NeighRow, NetworkStats, Request,
    Response, StatsReport,
};

/// What a request may read besides the engine.
pub(super) struct Context<'a> {
    /// Names the devices.
    pub taps: &'a Taps,
    /// The device layer's counters, summed over the workers.
    pub daemon: DaemonStats,
    pub local: IpAddr,
    /// The engine's time, which counts from the daemon's start.
    pub now: Instant,
    pub bgp: Option<&'a Bgp>,
    pub evpn_events_lost: u64,
}

fn pick_vni(vtep: &Vtep, vni: Option<u32>) -> Result<Vni, String> {
    match vni {
        Some(v) => {
            let vni = Vni::new(v).map_err(|e| e.to_string())?;
            if vtep.network(vni).is_none() {
                return Err(vtep_core::vtep::ConfigError::UnknownNetwork(vni).to_string());
            }
            Ok(vni)
        }
        None => {
            let networks = vtep.networks();
            match networks.as_slice() {
                [one] => Ok(one.vni),
                many => Err(format!(
                    "this daemon serves several VNIs ({}): pass --vni",
                    many.iter()
                        .map(|n| n.vni.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}

fn is_zero_mac(mac: &Mac) -> bool {
    mac.0 == [0; 6]
}

/// Answers one request from the engine's tables and the speaker.
pub(super) fn handle_request(vtep: &mut Vtep, cx: &Context<'_>, request: Request) -> Response {
    let (taps, now) = (cx.taps, cx.now);
    let speaker = cx.bgp.map(|b| &b.speaker);
    let age = |at: Instant| {
        u64::try_from((now.total_micros() - at.total_micros()).max(0) / 1_000_000).unwrap_or(0)
    };
    let result = (|| -> Result<Response, String> {
        Ok(match request {
            Request::FdbShow { vni } => {
                let only = vni.map(Vni::new).transpose().map_err(|e| e.to_string())?;
                let mut rows = Vec::new();
                for network in vtep.networks() {
                    if only.is_some_and(|v| v != network.vni) {
                        continue;
                    }
                    for peer in vtep.fdb().flood_list(network.vni) {
                        let (vni, dev) = (network.vni.get(), taps.name_of(network.vni));
                        rows.push(FdbRow::flood(vni, dev, (*peer).into()));
                    }
                }
                for (vni, mac, entry) in vtep.fdb().sorted() {
                    if only.is_some_and(|v| v != vni) {
                        continue;
                    }
                    let (dev, dst, local) = match entry.dest {
                        Destination::Local(port) => (
                            taps.of_port(port)
                                .map_or_else(|| port.to_string(), |t| t.name.clone()),
                            None,
                            true,
                        ),
                        Destination::Remote(ip) => (taps.name_of(vni), Some(ip.into()), false),
                    };
                    rows.push(FdbRow {
                        vni: vni.get(),
                        dev,
                        mac: ColonMac(mac).to_string(),
                        dst,
                        state: entry.origin.as_str().into(),
                        local,
                        age_secs: (entry.origin == Origin::Learned).then(|| age(entry.last_seen)),
                        seq: entry.mobility_seq,
                        frozen: entry.frozen,
                        peer: (entry.origin == Origin::ControlPlane)
                            .then(|| route_peer(speaker?, vni, &mac))
                            .flatten(),
                    });
                }
                Response::ok(rows)
            }
            Request::FdbAdd { vni, mac, dst } => {
                let vni = pick_vni(vtep, vni)?;
                let mac = parse_mac(&mac)?;
                if is_zero_mac(&mac) {
                    let added = vtep
                        .add_flood_peer(vni, dst.into())
                        .map_err(|e| e.to_string())?;
                    tracing::info!(vni = vni.get(), "flood peer {dst} added by operator");
                    Response::ok(serde_json::json!({ "added": added }))
                } else {
                    vtep.add_static_fdb(now, vni, mac, Destination::Remote(dst.into()))
                        .map_err(|e| e.to_string())?;
                    tracing::info!(
                        vni = vni.get(),
                        "static {} dst {dst} added by operator",
                        ColonMac(mac)
                    );
                    Response::ok(serde_json::json!({ "added": true }))
                }
            }
            Request::FdbDel { vni, mac, dst } => {
                let vni = pick_vni(vtep, vni)?;
                let mac = parse_mac(&mac)?;
                if is_zero_mac(&mac) {
                    let dst = dst.ok_or(
                        "00:00:00:00:00:00 is the flood list: say which peer with --dst IP",
                    )?;
                    if !vtep.remove_flood_peer(vni, &dst.into()) {
                        return Err(format!("{dst} is not a flood peer of VNI {vni}"));
                    }
                } else if vtep.fdb_mut().remove(vni, &mac).is_none() {
                    return Err(format!("no FDB entry for {} in VNI {vni}", ColonMac(mac)));
                }
                Response::ok(serde_json::json!({ "deleted": true }))
            }
            Request::NeighShow { vni } => {
                let only = vni.map(Vni::new).transpose().map_err(|e| e.to_string())?;
                let rows: Vec<NeighRow> = vtep
                    .neighbours()
                    .sorted()
                    .into_iter()
                    .filter(|(v, _, _)| only.is_none_or(|o| o == *v))
                    .map(|(vni, ip, e)| NeighRow {
                        vni: vni.get(),
                        dev: taps.name_of(vni),
                        ip: ip.into(),
                        mac: ColonMac(e.mac).to_string(),
                        state: e.origin.as_str().into(),
                        age_secs: age(e.last_seen),
                        router: e.router,
                    })
                    .collect();
                Response::ok(rows)
            }
            Request::NeighAdd {
                vni,
                ip,
                mac,
                router,
            } => {
                let vni = pick_vni(vtep, vni)?;
                if router && ip.is_ipv4() {
                    return Err(format!(
                        "{ip} is IPv4: only IPv6 neighbours can be routers; leave out --router"
                    ));
                }
                let mac = parse_mac(&mac)?;
                vtep.add_static_neighbour(now, vni, ip.into(), mac)
                    .map_err(|e| e.to_string())?;
                vtep.neighbours_mut().set_router(vni, &ip.into(), router);
                tracing::info!(
                    vni = vni.get(),
                    "static neighbour {ip} lladdr {}{} added by operator",
                    ColonMac(mac),
                    if router { " router" } else { "" }
                );
                Response::ok(serde_json::json!({ "added": true }))
            }
            Request::NeighDel { vni, ip } => {
                let vni = pick_vni(vtep, vni)?;
                if vtep.neighbours_mut().remove(vni, &ip.into()).is_none() {
                    return Err(format!("no neighbour entry for {ip} in VNI {vni}"));
                }
                Response::ok(serde_json::json!({ "deleted": true }))
            }
            Request::Stats => Response::ok(stats(vtep, taps, cx.daemon, cx.local, now)),
            Request::BgpSummary => {
                let bgp = cx.bgp.ok_or(NO_EVPN)?;
                Response::ok(summary(bgp, now, cx.evpn_events_lost))
            }
            Request::BgpRoutes { vni } => {
                let speaker = speaker.ok_or(NO_EVPN)?;
                let only = vni.map(Vni::new).transpose().map_err(|e| e.to_string())?;
                Response::ok(routes(speaker, only))
            }
        })
    })();
    result.unwrap_or_else(Response::err)
}

const NO_EVPN: &str = "this daemon runs without EVPN: start it with --evpn-asn and \
                       --evpn-peer (or an [evpn] section) to speak BGP";

/// The address of the peer whose route placed `mac`.
fn route_peer(speaker: &Speaker, vni: Vni, mac: &Mac) -> Option<IpAddr> {
    let peer = speaker.best_peer(vni, mac.0)?;
    Some(speaker.peer_status(peer)?.address.into())
}

fn summary(bgp: &Bgp, now: Instant, events_lost: u64) -> BgpSummary {
    let speaker = &bgp.speaker;
    let config = speaker.config();
    let peers = speaker
        .peers()
        .into_iter()
        .map(|p| {
            let c = &p.counters;
            let mut counters = BTreeMap::new();
            for (i, kind) in [
                "open",
                "update",
                "notification",
                "keepalive",
                "route_refresh",
            ]
            .iter()
            .enumerate()
            {
                counters.insert(format!("{kind}_received"), c.received[i]);
                counters.insert(format!("{kind}_sent"), c.sent[i]);
            }
            for (name, value) in [
                ("routes_accepted", c.routes_accepted),
                ("routes_withdrawn", c.routes_withdrawn),
                ("routes_ignored", c.routes_ignored),
                ("routes_looped", c.routes_looped),
                ("routes_own_reflected", c.routes_own_reflected),
                ("established", c.established),
                ("dropped", c.dropped),
            ] {
                counters.insert(name.into(), value);
            }
            BgpPeerRow {
                address: p.address,
                remote_as: p.remote_as,
                state: p.state.as_str().into(),
                up_secs: p.established_at.map(|at| (now - at).secs()),
                peer_router_id: p.negotiated.map(|n| n.peer_id),
                hold_time: p.negotiated.map(|n| n.hold_time),
                msg_rcvd: c.messages_received(),
                msg_sent: c.messages_sent(),
                routes_received: p.routes,
                routes_pending: p.pending,
                counters,
                malformed: c
                    .malformed
                    .nonzero()
                    .map(|(r, n)| (r.as_str().into(), n))
                    .collect(),
                last_error: p.last_error.map(|e| e.to_string()),
            }
        })
        .collect::<Vec<_>>();
    let memory = speaker.memory();
    BgpSummary {
        router_id: config.router_id,
        asn: config.asn,
        vtep: config.vtep,
        hold_time: config.hold_time,
        local_routes: speaker.local_routes().len(),
        received_routes: memory.records,
        table_bytes: memory.table_bytes,
        events_lost,
        refused: bgp.refused,
        peers,
    }
}

/// Every route, local first, each group sorted by key.
fn routes(speaker: &Speaker, only: Option<Vni>) -> Vec<BgpRouteRow> {
    let mut all = speaker.local_routes();
    for p in speaker.peers() {
        all.extend(speaker.received_routes(p.id));
    }
    all.into_iter()
        .filter(|r| only.is_none_or(|v| v == r.vni))
        .map(|r| route_row(speaker, r))
        .collect()
}

fn route_row(speaker: &Speaker, r: RouteView) -> BgpRouteRow {
    let ip = |key: IpKey| -> IpAddr {
        match key {
            IpKey::V4(b) => b.into(),
            IpKey::V6(b) => b.into(),
        }
    };
    let bits = |key: IpKey| if matches!(key, IpKey::V4(_)) { 32 } else { 128 };
    let (route_type, rd, prefix, mac, addr) = match r.key {
        RouteKey::MacIp {
            rd,
            ethernet_tag,
            mac,
            ip: address,
        } => {
            let m = ColonMac(Mac::from_bytes(&mac)).to_string();
            let prefix = match address {
                Some(a) => format!("[2]:[{ethernet_tag}]:[48]:[{m}]:[{}]:[{}]", bits(a), ip(a)),
                None => format!("[2]:[{ethernet_tag}]:[48]:[{m}]"),
            };
            (2, rd, prefix, Some(m), address.map(ip))
        }
        RouteKey::InclusiveMulticast {
            rd,
            ethernet_tag,
            originator,
        } => {
            let prefix = format!(
                "[3]:[{ethernet_tag}]:[{}]:[{}]",
                bits(originator),
                ip(originator)
            );
            (3, rd, prefix, None, Some(ip(originator)))
        }
    };
    BgpRouteRow {
        vni: r.vni.get(),
        imported: r.imported,
        route_type,
        rd: rd.to_string(),
        prefix,
        mac,
        ip: if route_type == 2 { addr } else { None },
        next_hop: r.next_hop,
        seq: r.seq,
        sticky: r.sticky,
        router: r.router,
        route_targets: r.route_targets.iter().map(|t| t.to_string()).collect(),
        source: match r.source {
            RouteSource::Local => "local".into(),
            RouteSource::Peer(id) => speaker
                .peer_status(id)
                .map_or_else(|| id.to_string(), |s| s.address.to_string()),
        },
        best: r.best,
    }
}

fn drops_map(get: impl Fn(DropReason) -> u64) -> BTreeMap<String, u64> {
    DropReason::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), get(*r)))
        .collect()
}

/// Every counter of [`NetworkCounters::FIELDS`] under its name.
fn counters_map(c: &NetworkCounters) -> BTreeMap<String, u64> {
    c.fields().map(|(k, v)| (k.to_string(), v)).collect()
}

fn stats(
    vtep: &Vtep,
    taps: &Taps,
    daemon: DaemonStats,
    local: IpAddr,
    now: Instant,
) -> StatsReport {
    let networks = vtep
        .networks()
        .into_iter()
        .map(|n| {
            let c = vtep.counters(n.vni).copied().unwrap_or_default();
            NetworkStats {
                vni: n.vni.get(),
                dev: taps.name_of(n.vni),
                encap: n.encapsulation.to_string(),
                learning: n.learning,
                proxy: n.arp_proxy,
                flood_peers: vtep
                    .fdb()
                    .flood_list(n.vni)
                    .iter()
                    .map(|ip| (*ip).into())
                    .collect(),
                counters: counters_map(&c),
                drops: drops_map(|r| c.drops.get(r)),
            }
        })
        .collect();
    let global = vtep.global_counters();
    StatsReport {
        version: vtep_core::VERSION.into(),
        uptime_secs: u64::try_from(now.secs()).unwrap_or(0),
        local: Some(local),
        fdb_entries: vtep.fdb().len(),
        fdb_max: vtep.fdb().config().max_entries,
        neighbours: vtep.neighbours().len(),
        networks,
        global_drops: drops_map(|r| global.drops.get(r)),
        events_lost: global.events_lost,
        daemon,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vtep_core::vtep::{NetworkConfig, VtepConfig};

    /// A VTEP at 10.0.0.1 serving `vnis`, with no TAPs (their devices show as `-`).
    fn vtep(vnis: &[u32]) -> Vtep {
        let mut vtep =
            Vtep::new(VtepConfig::new("10.0.0.1".parse().unwrap()), Instant::ZERO).unwrap();
        for vni in vnis {
            let vni = Vni::new(*vni).unwrap();
            vtep.add_network(NetworkConfig::new(vni), Instant::ZERO)
                .unwrap();
            vtep.add_port(vni).unwrap();
        }
        vtep
    }

    fn ask(vtep: &mut Vtep, now: Instant, request: &str) -> String {
        let request = serde_json::from_str(request).unwrap();
        let taps = Taps::default();
        let cx = Context {
            taps: &taps,
            daemon: DaemonStats::default(),
            local: "10.0.0.1".parse().unwrap(),
            now,
            bgp: None,
            evpn_events_lost: 0,
        };
        let response = handle_request(vtep, &cx, request);
        serde_json::to_string(&response).unwrap()
    }

    #[test]
    fn requests_are_answered_from_the_tables() {
        let mut one = vtep(&[42]);
        let now = Instant::from_secs(5);
        let cases = [
            (
                r#"{"cmd":"fdb_add","vni":null,"mac":"00:00:00:00:00:00","dst":"10.0.0.2"}"#,
                r#"{"ok":true,"result":{"added":true}}"#,
            ),
            (
                r#"{"cmd":"fdb_show","vni":42}"#,
                r#"{"ok":true,"result":[{"dev":"-","dst":"10.0.0.2","frozen":false,"local":false,"mac":"00:00:00:00:00:00","seq":0,"state":"flood","vni":42}]}"#,
            ),
            (
                r#"{"cmd":"fdb_del","vni":42,"mac":"02:00:00:00:00:09","dst":null}"#,
                r#"{"ok":false,"error":"no FDB entry for 02:00:00:00:00:09 in VNI 42"}"#,
            ),
            (
                r#"{"cmd":"neigh_add","vni":7,"ip":"192.168.0.2","mac":"02:00:00:00:00:02"}"#,
                r#"{"ok":false,"error":"VNI 7 is not configured on this VTEP: add the network first"}"#,
            ),
        ];
        for (request, answer) in cases {
            assert_eq!(ask(&mut one, now, request), answer, "{request}");
        }
        let mut two = vtep(&[1, 2]);
        assert_eq!(
            ask(
                &mut two,
                now,
                r#"{"cmd":"neigh_del","vni":null,"ip":"192.168.0.2"}"#
            ),
            r#"{"ok":false,"error":"this daemon serves several VNIs (1, 2): pass --vni"}"#
        );
    }

    #[test]
    fn stats_name_every_counter_and_count_uptime_from_now() {
        let mut vtep = vtep(&[42]);
        let now = Instant::from_millis(7_900);
        let answer: serde_json::Value =
            serde_json::from_str(&ask(&mut vtep, now, r#"{"cmd":"stats"}"#)).unwrap();
        let report: StatsReport = serde_json::from_value(answer["result"].clone()).unwrap();
        assert_eq!(report.uptime_secs, 7);
        assert_eq!(report.local, Some("10.0.0.1".parse().unwrap()));
        let names: Vec<&str> = report.networks[0]
            .counters
            .keys()
            .map(String::as_str)
            .collect();
        let mut fields: Vec<&str> = NetworkCounters::FIELDS.iter().map(|(k, _)| *k).collect();
        fields.sort_unstable();
        assert_eq!(names, fields);
        assert_eq!(report.networks[0].drops.len(), DropReason::ALL.len());
    }
}
