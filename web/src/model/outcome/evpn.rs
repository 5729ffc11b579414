//! The outcomes of the BGP EVPN scenarios E1..E4, read from the speakers' tables, the BGP
//! log, the trace and the apps; E2 and E4 also run the run they compare with (S4 under flood
//! and learn, E4 with a second reflector).

use vtep_core::Destination;
use vtep_core::vtep::DropReason;
use vtep_core::wire::bgp::{MpReach, RouteKey, UpdatePacket, UpdateRepr};
use vtep_core::wire::{EthernetFrame, IpAddress, Ipv4Packet, TcpPacket};
use vtep_evpn::{Event, FdbAction};
use vtep_sim::script::Action;
use vtep_sim::{BgpNote, Decision, DropCause, Hop, Instant, Sim, Vni};

use super::Ctx;

/// The headline when [`Ctx::nodes`] finds one missing.
const MISSING: &str = "The scenario's nodes are missing.";

fn vni() -> Option<Vni> {
    Vni::new(100).ok()
}

/// UPDATE messages in a hop's TCP segment that announce a type-2 route for `mac`.
fn announcing(h: &Hop, mac: [u8; 6]) -> usize {
    let Some(payload) = EthernetFrame::new_checked(&h.bytes[..])
        .ok()
        .and_then(|e| Ipv4Packet::new_checked(e.payload()).ok())
        .and_then(|ip| {
            TcpPacket::new_checked(ip.payload())
                .ok()
                .map(|t| t.payload().to_vec())
        })
    else {
        return 0;
    };
    let mut rest = &payload[vtep_sim::bgp::marker_at(&payload)..];
    let mut n = 0;
    while let Ok(Some(len)) = vtep_core::wire::bgp::frame_len(rest) {
        let Some(m) = rest.get(..len) else { break };
        let announces = UpdatePacket::new_checked(m)
            .and_then(|p| UpdateRepr::parse(&p, true))
            .is_ok_and(|(u, _)| {
                matches!(u.mp_reach, Some(MpReach::Evpn { routes, .. })
                    if routes.iter().any(|r| matches!(r.key(), Some(RouteKey::MacIp { mac: x, .. }) if x == mac)))
            });
        n += usize::from(announces);
        rest = &rest[len..];
    }
    n
}

fn ms(t: Instant) -> String {
    format!("{:.1} ms", t.total_micros() as f64 / 1000.0)
}

fn secs(us: i64) -> String {
    format!("{:.1} s", us as f64 / 1e6)
}

/// When the script does its first action `pick` accepts (microseconds).
fn action_at(c: &Ctx<'_>, pick: impl Fn(&Action) -> bool) -> Option<i64> {
    c.lab
        .script()
        .actions
        .iter()
        .find(|t| pick(&t.action))
        .map(|t| t.at_us as i64)
}

pub(super) fn e1(c: &mut Ctx<'_>) -> String {
    let sim = c.lab.sim();
    let Some([vm_a, rr]) = c.nodes(["vm-a", "rr1"]) else {
        return MISSING.to_string();
    };
    let Ok((mac, _, _)) = sim.host_addr(vm_a) else {
        c.require(false);
        return "vm-a is missing.".to_string();
    };
    let first = sim.trace().iter().find(|h| h.from == vm_a).map(|h| h.start);
    let hvs = sim.hypervisors();
    let mut installed = Vec::new();
    for hv in &hvs {
        let at = sim.trace().iter().find(|h| {
            h.to == *hv
                && h.decisions.iter().any(|d| {
                    matches!(d, Decision::Bgp(BgpNote::Fdb(FdbAction::InstallMac { mac: m, .. })) if *m == mac)
                })
        });
        if let Some(h) = at {
            installed.push(h.end);
        }
    }
    let carried_in = sim
        .trace()
        .iter()
        .filter(|h| h.to == rr)
        .map(|h| announcing(h, mac.0))
        .sum::<usize>();
    let reflected = sim
        .trace()
        .iter()
        .filter(|h| hvs.contains(&h.to))
        .map(|h| announcing(h, mac.0))
        .sum::<usize>();
    let floods: Vec<String> = hvs
        .iter()
        .map(|hv| {
            let n = sim
                .speaker(*hv)
                .ok()
                .zip(vni())
                .map_or(0, |(s, v)| s.flood_list(v).len());
            format!("{} {n}", c.lab.name(*hv))
        })
        .collect();
    let under = sim.underlay_links();
    let (mut arp, mut bum) = (0, 0);
    for h in sim.trace().iter().filter(|h| under.contains(&h.link)) {
        let l = h.layers();
        arp += usize::from(l.is_arp());
        bum += usize::from(l.inner.is_some_and(|i| !i.dst_mac.is_unicast()));
    }
    let took = first
        .zip(installed.iter().max().copied())
        .map(|(f, last)| last.total_micros() - f.total_micros());
    if let Some(f) = first {
        c.fact("first", "vm-a's first frame (its announcement)", ms(f));
    }
    c.fact(
        "installed",
        "from it to the last VTEP's install of vm-a's MAC",
        took.map_or("never".to_string(), |t| format!("{t} us")),
    );
    c.fact(
        "updates",
        "UPDATEs that carried it: to rr1, reflected",
        format!("{carried_in}, {reflected}"),
    );
    c.fact(
        "flood",
        "flood-list entries from type-3 routes",
        floods.join(", "),
    );
    c.fact(
        "underlay",
        "ARP / flooded frames on the underlay",
        format!("{arp} / {bum}"),
    );
    let (sent, replies) = c.ping("ping", "pings vm-b -> vm-a", "ping");
    let flood_ok = floods.iter().all(|f| f.ends_with(" 2"));
    c.require(
        installed.len() == 2
            && took.is_some_and(|t| t < 1000)
            && carried_in == 1
            && reflected == 2
            && flood_ok
            && arp == 0
            && bum == 0
            && replies + 1 >= sent,
    );
    format!(
        "vm-a's first frame made hv1 originate its routes; one UPDATE to rr1 and two reflected \
         installed it at hv2 and hv3 {} later. Nothing was flooded to learn it: the underlay \
         carried {arp} ARP frames.",
        took.map_or("never".to_string(), |t| format!("{t} us"))
    )
}

/// Pings of app `name` (every `interval_us`) lost from the first sent at or after `from_us`.
fn lost_from(sim: &Sim, app: Option<vtep_sim::AppId>, interval_us: i64, from_us: i64) -> u64 {
    let Some(r) = app.and_then(|a| sim.app_report(a).ok()) else {
        return 0;
    };
    let started = r.started.map_or(0, |t| t.total_micros());
    r.unanswered
        .iter()
        .filter(|s| started + i64::from(**s) * interval_us >= from_us)
        .count() as u64
}

/// Pings of app `name` lost, but the first (lost while the target resolves the pinger).
fn lost_after_first(sim: &Sim, app: Option<vtep_sim::AppId>) -> u64 {
    app.and_then(|a| sim.app_report(a).ok()).map_or(0, |r| {
        r.unanswered.iter().filter(|s| **s > 0).count() as u64
    })
}

pub(super) fn e2(c: &mut Ctx<'_>) -> String {
    let sim = c.lab.sim();
    let Some([vm_b, hv1, hv2]) = c.nodes(["vm-b", "hv1", "hv2"]) else {
        return MISSING.to_string();
    };
    let mac = sim.host_addr(vm_b).map(|a| a.0.0).unwrap_or_default();
    let seq = sim
        .speaker(hv1)
        .ok()
        .zip(vni())
        .and_then(|(s, v)| s.local_seq(v, mac));
    let moved = action_at(c, |a| matches!(a, Action::Migrate { .. })).unwrap_or(0);
    let withdrew = sim
        .trace()
        .iter()
        .filter(|h| h.from == hv2 && h.start.total_micros() >= moved)
        .filter_map(|h| h.layers().bgp())
        .any(|s| s.withdrawn > 0);
    let still = sim
        .speaker(hv2)
        .ok()
        .zip(vni())
        .and_then(|(s, v)| s.local_seq(v, mac));
    let hv3 = c.fdb_points("hv3", "vm-b").unwrap_or_default();
    let evpn = lost_from(sim, c.lab.app("ping"), 10_000, moved);
    let total = c.app("ping");
    // The same fabric under flood and learn: S4.
    let s4 = vtep_sim::scenario::s4().run(c.lab.script().seed).ok();
    let fl = s4.as_ref().map(|r| {
        let at = vtep_sim::scenario::s4()
            .script
            .actions
            .iter()
            .find(|t| matches!(t.action, Action::Migrate { .. }))
            .map_or(0, |t| t.at_us as i64);
        lost_from(&r.sim, r.apps.get("ping").copied(), 10_000, at)
    });
    c.fact(
        "seq",
        "hv1 advertises vm-b with MAC-mobility sequence",
        seq.map_or("nothing".to_string(), |s| s.to_string()),
    );
    c.fact(
        "withdrew",
        "hv2 withdrew its route",
        if withdrew && still.is_none() {
            "yes"
        } else {
            "no"
        },
    );
    c.fact("fdb", "hv3's FDB sends vm-b's MAC to", hv3.clone());
    c.fact("lost", "pings lost in the move, BGP EVPN", evpn.to_string());
    c.fact(
        "lost_fl",
        "pings lost in the move, flood and learn (S4)",
        fl.map_or("?".to_string(), |n| n.to_string()),
    );
    c.fact(
        "ping",
        "pings vm-c -> vm-b",
        format!("{}/{} answered", total.1, total.0),
    );
    c.require(seq == Some(1) && withdrew && still.is_none() && hv3 == "hv1" && fl == Some(evpn));
    format!(
        "The move travelled as one UPDATE: hv1 advertised vm-b with sequence {}, hv2 withdrew, \
         and {evpn} pings were lost in the move, as under flood and learn ({}): the migration's \
         pause costs them, not the control plane.",
        seq.unwrap_or(0),
        fl.map_or("?".to_string(), |n| n.to_string())
    )
}

pub(super) fn e3(c: &mut Ctx<'_>) -> String {
    let sim = c.lab.sim();
    let mac = vtep_core::wire::EthernetAddress(vtep_sim::scenario::CLONED_MAC);
    let mut frozen = Vec::new();
    let mut seqs = Vec::new();
    let mut first_move = None;
    for h in sim.trace() {
        for d in &h.decisions {
            match d {
                Decision::DuplicateFrozen { mac: m, moves, .. } if *m == mac => {
                    frozen.push((h.to, *moves, h.end));
                }
                Decision::Bgp(BgpNote::Fdb(FdbAction::InstallMac { mac: m, seq, .. }))
                    if *m == mac =>
                {
                    seqs.push(*seq);
                    first_move.get_or_insert(h.end);
                }
                _ => {}
            }
        }
    }
    let holders = c
        .lab
        .node("rr1")
        .and_then(|rr| sim.evpn_table(rr).ok())
        .map(|t| {
            t.peers
                .iter()
                .filter(|(_, routes)| {
                    routes.iter().any(
                        |r| matches!(r.key, RouteKey::MacIp { mac: m, ip: None, .. } if m == mac.0),
                    )
                })
                .map(|(p, _)| p.address)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let holder = holders
        .first()
        .and_then(|ip| {
            sim.hypervisors()
                .into_iter()
                .find(|hv| sim.hypervisor_ip(*hv).is_ok_and(|x| x == *ip))
        })
        .map(|hv| c.lab.name(hv))
        .unwrap_or_default();
    let (who, moves, when) = frozen
        .first()
        .map(|(n, m, t)| (c.lab.name(*n), *m, *t))
        .unwrap_or((String::new(), 0, Instant::ZERO));
    let window = first_move.map(|f| when.total_micros() - f.total_micros());
    c.fact("frozen", "frozen by", who.clone());
    c.fact("moves", "moves counted when it froze", moves.to_string());
    c.fact(
        "window",
        "from the first move to the freeze (RFC 7432: 5 within 180 s)",
        window.map_or("?".to_string(), secs),
    );
    c.fact(
        "seq",
        "highest MAC-mobility sequence advertised",
        seqs.iter().max().copied().unwrap_or(0).to_string(),
    );
    c.fact(
        "holders",
        "VTEPs whose route for the MAC rr1 holds",
        holder.clone(),
    );
    c.require(
        frozen.len() == 1
            && moves == 5
            && window.is_some_and(|w| w < 180_000_000)
            && holders.len() == 1
            && holder != who,
    );
    format!(
        "The MAC moved between hv1 and hv2 with rising sequence numbers; at the {moves}th move \
         in {} {who} froze it and withdrew its route, and the fabric settled on {holder}'s.",
        window.map_or("?".to_string(), secs)
    )
}

/// When a hypervisor's session with `peer` expired on its hold timer, and when it came back
/// after `after`.
fn session_times(
    sim: &Sim,
    node: vtep_sim::NodeId,
    peer: [u8; 4],
    after: i64,
) -> (Option<i64>, Option<i64>) {
    let peer = vtep_core::wire::Ipv4Address::from(peer);
    let down = sim.hold_expired(node, peer).map(|at| at.total_micros());
    let back = sim.bgp_log().iter().find_map(|e| {
        (e.node == node
            && e.peer == peer
            && e.at.total_micros() >= after
            && matches!(e.event, Event::SessionEstablished { .. }))
        .then_some(e.at.total_micros())
    });
    (down, back)
}

pub(super) fn e4(c: &mut Ctx<'_>) -> String {
    let sim = c.lab.sim();
    let Some([hv1, rr1, vm_b]) = c.nodes(["hv1", "rr1", "vm-b"]) else {
        return MISSING.to_string();
    };
    let rr_ip = sim
        .node_info(rr1)
        .ok()
        .and_then(|i| i.underlay_ip)
        .map(|i| i.octets())
        .unwrap_or_default();
    let failed = action_at(c, |a| matches!(a, Action::FailReflector { .. })).unwrap_or(0);
    let restored = action_at(c, |a| matches!(a, Action::RestoreReflector { .. })).unwrap_or(0);
    let (down, back) = session_times(sim, hv1, rr_ip, restored);
    let mac_b = sim.host_addr(vm_b).map(|a| a.0).ok();
    let nowhere = sim
        .trace()
        .iter()
        .filter(|h| {
            h.decisions.contains(&Decision::Dropped(DropCause::Vtep(
                DropReason::NoDestination,
            ))) && h.layers().inner.map(|i| i.dst_mac) == mac_b
        })
        .count();
    let lost = lost_after_first(sim, c.lab.app("ping"));
    let total = c.app("ping");
    let two = vtep_sim::scenario::e4_two_reflectors()
        .run(c.lab.script().seed)
        .ok();
    let two_lost = two
        .as_ref()
        .map(|r| lost_after_first(&r.sim, r.apps.get("ping").copied()));
    let fdb_gone = mac_b.is_some_and(|m| {
        !sim.trace().iter().any(|h| {
            h.to == hv1
                && down.is_some_and(|d| h.end.total_micros() >= d)
                && h.decisions.iter().any(|x| {
                    matches!(x, Decision::Bgp(BgpNote::Fdb(FdbAction::InstallMac { mac, .. })) if *mac == m)
                })
                && back.is_none_or(|b| h.end.total_micros() < b)
        })
    });
    c.fact(
        "expired",
        "hv1's hold timer expired, after the failure",
        down.map_or("never".to_string(), |d| secs(d - failed)),
    );
    c.fact(
        "stopped",
        "frames for vm-b with nowhere to go meanwhile",
        nowhere.to_string(),
    );
    c.fact(
        "back",
        "session back, after rr1's return",
        back.map_or("never".to_string(), |b| secs(b - restored)),
    );
    c.fact(
        "lost",
        "pings lost (after the first)",
        format!("{lost} of {}", total.0),
    );
    c.fact(
        "two",
        "pings lost with two reflectors (after the first)",
        two_lost.map_or("?".to_string(), |n| n.to_string()),
    );
    c.require(
        down.is_some_and(|d| d > failed && d - failed <= 9_000_000)
            && back.is_some_and(|b| b - restored <= 4_100_000)
            && nowhere > 0
            && fdb_gone
            && lost > 0
            && two_lost == Some(0),
    );
    let dest = sim
        .fdb(hv1)
        .ok()
        .and_then(|f| f.into_iter().find(|(_, m, _)| Some(*m) == mac_b))
        .map(|(_, _, e)| e.dest);
    let now = match dest {
        Some(Destination::Remote(IpAddress::Ipv4(_))) => "reconverged",
        _ => "not reconverged",
    };
    format!(
        "Traffic stopped when the hold timers expired, {} after rr1 failed: the routes were \
         withdrawn and, with learning off and no flood list, frames for vm-b had nowhere to go. \
         It came back {} after rr1 returned ({now}); with two reflectors no ping was lost.",
        down.map_or("?".to_string(), |d| secs(d - failed)),
        back.map_or("?".to_string(), |b| secs(b - restored)),
    )
}
