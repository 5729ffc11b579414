//! One result line per action the user started (a ping or ping6, a TCP transfer, an arping, a
//! UDP flow): while it runs, how far it got; once it is done, the figures, and when it failed,
//! why, from what the simulator saw ("0/5, 10.0.0.105 is in another VNI: tenants are
//! isolated"; "stalled: 92 too_big drops at hv2").

use std::collections::BTreeMap;

use vtep_core::wire::{Ipv4Address, Ipv6Address};
use vtep_core::{Duration, Instant};
use vtep_sim::trace::{L3, L4};
use vtep_sim::{NodeId, NodeKind};

use super::fmt_n;
use super::lab::{Lab, us};
use super::script::{Action, Timed, at};
use super::view::find_scenario;

/// A result line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultLine {
    /// The app's name in the script (or `arping-<n>`).
    pub app: String,
    pub text: String,
    /// "ok", "bad" or "running".
    pub state: &'static str,
}

/// The actions the user added: all of them in the sandbox (or an imported script), those not
/// in the guided scenario's own script otherwise.
fn user_actions(lab: &Lab) -> Vec<&Timed> {
    let script = lab.script();
    let own = script
        .scenario
        .as_deref()
        .and_then(find_scenario)
        .map(|s| s.script.actions)
        .unwrap_or_default();
    let mut own = own.iter().peekable();
    script
        .actions
        .iter()
        .filter(|t| {
            if own.peek() == Some(t) {
                own.next();
                false
            } else {
                true
            }
        })
        .collect()
}

/// A duration as a person reads it: `92 µs`, `4.1 ms`, `2.97 s`.
pub fn fmt_dur(d: Duration) -> String {
    let us = d.total_micros();
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

/// Why a ping's first request took `first` (a second or more) to be answered: it waited for
/// ARP. When its host was busy asking for another address meanwhile, says which: smoltcp asks
/// for one address a second per interface, oldest first.
fn arp_wait(
    lab: &Lab,
    src: NodeId,
    target: Ipv4Address,
    start: Instant,
    first: Duration,
) -> String {
    // The arpings the user sent from this host are not its stack's requests.
    let arpings: Vec<Ipv4Address> = lab
        .script()
        .actions
        .iter()
        .filter_map(|t| match &t.action {
            Action::Arping { from, to } if lab.node(from) == Some(src) => {
                Some(Ipv4Address::from(*to))
            }
            _ => None,
        })
        .collect();
    let mut others: Vec<Ipv4Address> = Vec::new();
    for h in lab.sim().trace() {
        if h.origin != src || h.from != src || h.start < start || h.start > start + first {
            continue;
        }
        if let Some(L3::Arp {
            op: vtep_core::wire::ArpOperation::Request,
            target_ip,
            ..
        }) = h.layers().inner.map(|i| i.l3)
            && target_ip != target
            && !arpings.contains(&target_ip)
            && !others.contains(&target_ip)
        {
            others.push(target_ip);
        }
    }
    let name = lab.name(src);
    match others.first() {
        Some(o) => format!(
            " (the first requests waited {} for ARP: {name}'s stack asks for one address a \
             second, and was asking for {o} first)",
            fmt_dur(first)
        ),
        None => format!(" (the first requests waited {} for ARP)", fmt_dur(first)),
    }
}

/// The host called by `ip` for a sender in `vni`: its name when one of that VNI has it.
fn host_by_ip(lab: &Lab, ip: Ipv4Address, vni: Option<u32>) -> Option<(NodeId, u32)> {
    let sim = lab.sim();
    let hosts: Vec<(NodeId, Ipv4Address, u32)> = sim
        .hosts()
        .into_iter()
        .filter_map(|h| sim.host_addr(h).ok().map(|(_, i, v)| (h, i, v.get())))
        .filter(|(_, i, _)| *i == ip)
        .collect();
    hosts
        .iter()
        .find(|(_, _, v)| Some(*v) == vni)
        .or(hosts.first())
        .map(|(h, _, v)| (*h, *v))
}

/// Why nobody at `ip` answered `src`'s ARP requests.
fn unreachable_why(lab: &Lab, src: NodeId, ip: Ipv4Address) -> String {
    let sim = lab.sim();
    let vni = sim.host_addr(src).ok().map(|(_, _, v)| v.get());
    match host_by_ip(lab, ip, vni) {
        Some((_, v)) if Some(v) != vni => format!(
            "{ip} is in another VNI ({v}), and VNI {} cannot reach it: tenants are isolated",
            vni.unwrap_or(0)
        ),
        None => format!(
            "no host of VNI {} has {ip}: its 3 ARP requests went unanswered",
            vni.unwrap_or(0)
        ),
        Some((h, _)) => match sim.host_hypervisor(h).ok().flatten() {
            None => format!(
                "{} is migrating: its ARP requests went unanswered",
                lab.name(h)
            ),
            Some(hv) if !sim.node_info(hv).is_ok_and(|i| i.up) => format!(
                "{}'s hypervisor {} is failed: its ARP requests went unanswered",
                lab.name(h),
                lab.name(hv)
            ),
            Some(_) => format!("{ip} did not answer 3 ARP requests"),
        },
    }
}

/// The drops of frames sent by `origins` from `since` to the view time that `pick` keeps,
/// as "92 too_big drops at hv2" (the most common cause and place), with their count.
fn drops_of(
    lab: &Lab,
    origins: &[NodeId],
    since: Instant,
    pick: impl Fn(&vtep_sim::Hop) -> bool,
) -> Option<(usize, String)> {
    let now = lab.now();
    let mut by: BTreeMap<(String, String), usize> = BTreeMap::new();
    for h in lab.sim().trace() {
        if h.start < since || h.end > now || !origins.contains(&h.origin) || !pick(h) {
            continue;
        }
        if let Some(c) = h.dropped() {
            let c = c.to_string();
            let c = c.strip_prefix("vtep:").unwrap_or(&c).to_string();
            *by.entry((c, lab.name(h.to))).or_default() += 1;
        }
    }
    let total = by.values().sum();
    let ((cause, at), n) = by.into_iter().max_by_key(|(_, n)| *n)?;
    Some((
        total,
        format!("{n} {cause} drop{} at {at}", if n == 1 { "" } else { "s" }),
    ))
}

fn is_tcp(h: &vtep_sim::Hop) -> bool {
    matches!(
        h.layers().inner.map(|i| i.l3),
        Some(L3::Ipv4 {
            l4: L4::Tcp { .. },
            ..
        })
    )
}

fn is_icmpv6_echo(h: &vtep_sim::Hop) -> bool {
    matches!(
        h.layers().ipv6(),
        Some(L4::IcmpEchoRequest { .. } | L4::IcmpEchoReply { .. })
    )
}

/// The host of `vni` with IPv6 address `ip`, else any host with it.
fn host_by_ip6(lab: &Lab, ip: Ipv6Address, vni: Option<u32>) -> Option<NodeId> {
    let sim = lab.sim();
    let hosts: Vec<NodeId> = sim
        .hosts()
        .into_iter()
        .filter(|h| sim.host_ipv6(*h).is_ok_and(|i| i == ip))
        .collect();
    let vni_of = |h: &NodeId| sim.host_addr(*h).ok().map(|a| a.2.get());
    hosts
        .iter()
        .find(|h| vni_of(h) == vni)
        .or(hosts.first())
        .copied()
}

/// The result line of a ping6 from `src` to `to`.
fn ping6_line(
    lab: &Lab,
    app: &str,
    src: NodeId,
    to: Ipv6Address,
    start: Instant,
) -> Option<ResultLine> {
    let sim = lab.sim();
    let r = sim.app_report(lab.app(app)?).ok()?;
    let vni = sim.host_addr(src).ok().map(|(_, _, v)| v.get());
    let dst = host_by_ip6(lab, to, vni);
    let name = dst.map_or(to.to_string(), |h| lab.name(h));
    let head = format!("ping6 {} → {name}: {}/{}", lab.name(src), r.replies, r.sent);
    if r.finished.is_none() {
        return Some(line(app, format!("{head} so far"), "running"));
    }
    if r.replies == r.sent {
        let total: u64 = r.rtts.iter().map(|x| x.1.total_micros()).sum();
        let avg = Duration::from_micros(total / r.rtts.len().max(1) as u64);
        // As for ARP: the stack sends one request a second, so a ping6 started just after
        // another lookup waits for its solicitation.
        let note = match r.rtts.iter().find(|x| x.0 == 0).map(|x| x.1) {
            Some(f) if f >= Duration::from_secs(1) => {
                format!(
                    " (the first requests waited {} for Neighbour Discovery)",
                    fmt_dur(f)
                )
            }
            _ => String::new(),
        };
        let text = format!("{head}, rtt {}{note}", fmt_dur(avg));
        return Some(line(app, text, "ok"));
    }
    let other_vni = dst.and_then(|h| sim.host_addr(h).ok()).map(|a| a.2.get());
    let why = match (r.unreachable > 0, other_vni) {
        (true, Some(v)) if Some(v) != vni => format!(
            "{to} is in another VNI ({v}), and VNI {} cannot reach it: tenants are isolated",
            vni.unwrap_or(0)
        ),
        (true, _) => format!("{to} did not answer 3 Neighbour Solicitations"),
        (false, _) => {
            let mut who = vec![src];
            who.extend(dst);
            match drops_of(lab, &who, start, is_icmpv6_echo) {
                Some((_, top)) => top,
                None => format!("{} lost on the way", r.sent - r.replies),
            }
        }
    };
    Some(line(app, format!("{head}, {why}"), "bad"))
}

fn is_icmp(h: &vtep_sim::Hop) -> bool {
    matches!(h.layers().inner.map(|i| i.l3), Some(L3::Ipv4 { l4, .. })
        if matches!(l4, L4::IcmpEchoRequest { .. } | L4::IcmpEchoReply { .. }))
}

fn line(app: &str, text: String, state: &'static str) -> ResultLine {
    ResultLine {
        app: app.to_string(),
        text,
        state,
    }
}

/// The result line of each action the user started, oldest first.
pub fn results(lab: &Lab) -> Vec<ResultLine> {
    let now = lab.now();
    let sim = lab.sim();
    let mut out = Vec::new();
    let mut arpings = 0;
    for t in user_actions(lab).into_iter().filter(|t| at(t.at_us) <= now) {
        let start = at(t.at_us);
        match &t.action {
            Action::Ping { app, from, to, .. } => {
                let (Some(id), Some(src)) = (lab.app(app), lab.node(from)) else {
                    continue;
                };
                let Ok(r) = sim.app_report(id) else { continue };
                let ip = Ipv4Address::from(*to);
                let vni = sim.host_addr(src).ok().map(|(_, _, v)| v.get());
                let dst = host_by_ip(lab, ip, vni);
                let name = dst.map_or(ip.to_string(), |(h, _)| lab.name(h));
                let head = format!("ping {from} → {name}: {}/{}", r.replies, r.sent);
                if r.finished.is_none() {
                    out.push(line(app, format!("{head} so far"), "running"));
                    continue;
                }
                if r.replies == r.sent {
                    let total: u64 = r.rtts.iter().map(|x| x.1.total_micros()).sum();
                    let avg = Duration::from_micros(total / r.rtts.len().max(1) as u64);
                    let first = r.rtts.iter().find(|x| x.0 == 0).map(|x| x.1);
                    let note = match first {
                        Some(f) if f >= Duration::from_secs(1) => arp_wait(lab, src, ip, start, f),
                        _ => String::new(),
                    };
                    let text = format!("{head}, rtt {}{note}", fmt_dur(avg));
                    out.push(line(app, text, "ok"));
                    continue;
                }
                let why = if r.unreachable > 0 {
                    unreachable_why(lab, src, ip)
                } else {
                    let mut who = vec![src];
                    who.extend(dst.map(|d| d.0));
                    match drops_of(lab, &who, start, is_icmp) {
                        Some((_, top)) => top,
                        None => format!("{} lost on the way", r.sent - r.replies),
                    }
                };
                out.push(line(app, format!("{head}, {why}"), "bad"));
            }
            Action::Ping6 { app, from, to, .. } => {
                let Some(src) = lab.node(from) else { continue };
                out.extend(ping6_line(lab, app, src, *to, start));
            }
            Action::Tcp {
                app,
                from,
                to,
                bytes,
                ..
            } => {
                let (Some(id), Some(c), Some(s)) = (lab.app(app), lab.node(from), lab.node(to))
                else {
                    continue;
                };
                let Ok(r) = sim.app_report(id) else { continue };
                let head = format!("TCP {from} → {to}");
                let moved = format!("{} of {} bytes", fmt_n(r.received), fmt_n(*bytes));
                if let Some(d) = r.duration() {
                    let text = format!("{head}: {} bytes in {}", fmt_n(r.received), fmt_dur(d));
                    out.push(line(app, text, "ok"));
                } else if r.unreachable > 0 {
                    let ip = sim.host_addr(s).map(|a| a.1);
                    let why = ip.map_or(String::new(), |ip| unreachable_why(lab, c, ip));
                    out.push(line(app, format!("{head}: no connection, {why}"), "bad"));
                } else {
                    let drops = drops_of(lab, &[c, s], start, is_tcp);
                    let long = now - start >= Duration::from_secs(2);
                    match drops {
                        Some((_, top)) if long => {
                            out.push(line(app, format!("{head} stalled: {moved}, {top}"), "bad"));
                        }
                        _ => out.push(line(app, format!("{head}: {moved} so far"), "running")),
                    }
                }
            }
            Action::Arping { from, to } => {
                arpings += 1;
                let app = format!("arping-{arpings}");
                let Some(src) = lab.node(from) else { continue };
                let ip = Ipv4Address::from(*to);
                let answer = sim.trace().iter().find(|h| {
                    h.start >= start
                        && h.to == src
                        && h.end <= now
                        && matches!(h.layers().inner.map(|i| i.l3),
                            Some(L3::Arp { op, sender, .. })
                                if op == vtep_core::wire::ArpOperation::Reply && sender.1 == ip)
                });
                let head = format!("arping {from} → {ip}");
                match answer {
                    Some(h) => {
                        let by = match lab.kind(h.origin) {
                            Some(NodeKind::Hypervisor) => {
                                format!("{}'s VTEP (ARP suppression)", lab.name(h.origin))
                            }
                            _ => lab.name(h.origin),
                        };
                        out.push(line(&app, format!("{head}: answered by {by}"), "ok"));
                    }
                    None if now >= start + Duration::from_secs(1) => {
                        let why = unreachable_why(lab, src, ip);
                        let why = why.replace(": its 3 ARP requests went unanswered", "");
                        out.push(line(&app, format!("{head}: no answer, {why}"), "bad"));
                    }
                    None => out.push(line(&app, format!("{head}: waiting"), "running")),
                }
            }
            Action::UdpFlow { app, from, to, .. } => {
                let Some(r) = lab.app(app).and_then(|id| sim.app_report(id).ok()) else {
                    continue;
                };
                let text = format!(
                    "UDP {from} → {to}: {} of {} datagrams delivered",
                    r.received, r.sent
                );
                let state = match r.finished {
                    None => "running",
                    Some(_) if r.received == r.sent => "ok",
                    Some(_) => "bad",
                };
                out.push(line(app, text, state));
            }
            _ => {}
        }
    }
    out
}

/// What the results depend on: the view time and the run.
pub fn key(lab: &Lab) -> (u64, u64, usize) {
    (us(lab.now()), lab.replays(), lab.script().actions.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::script::Script;

    fn ping(app: &str, from: &str, to: [u8; 4]) -> Action {
        Action::ping(app, from, to, 5, 20, 56)
    }

    #[test]
    fn a_ping_ends_with_its_figures_or_why_it_failed() {
        let mut lab = Lab::new(Script::sandbox());
        lab.act(ping("lost", "red-1", [10, 0, 0, 105])).unwrap();
        lab.act(ping("ok", "red-2", [10, 0, 0, 4])).unwrap();
        lab.advance_to(Instant::from_millis(20));
        let running = results(&lab);
        assert_eq!(running[0].state, "running");
        assert!(
            running[0].text.starts_with("ping red-1 → blue-2: 0/"),
            "{running:?}"
        );
        lab.advance_to(Instant::from_secs(4));
        let done = results(&lab);
        assert_eq!(
            done[0].text,
            "ping red-1 → blue-2: 0/5, 10.0.0.105 is in another VNI (200), and VNI 100 cannot \
             reach it: tenants are isolated"
        );
        assert_eq!(done[0].state, "bad");
        assert!(
            done[1].text.starts_with("ping red-2 → red-3: 5/5, rtt "),
            "{done:?}"
        );
        assert_eq!(done[1].state, "ok");
    }

    #[test]
    fn a_ping6_ends_with_its_figures_or_why_it_failed() {
        let mut lab = Lab::new(Script::sandbox());
        let ping6 = |app: &str, to: &str| Action::Ping6 {
            app: app.into(),
            from: "red-1".into(),
            to: to.parse().unwrap(),
            count: 5,
            interval_ms: 20,
            size: 56,
        };
        lab.act(ping6("ok", "fd00:a00::4")).unwrap();
        lab.act(ping6("other", "fd00:a00::69")).unwrap();
        // red-2 asks for red-3 by ARP first: its solicitation waits a second.
        let mut ping4 = ping("v4", "red-2", [10, 0, 0, 4]);
        if let Action::Ping { count, .. } = &mut ping4 {
            *count = 1;
        }
        lab.act(ping4).unwrap();
        lab.advance_to(Instant::from_millis(10));
        let late = Action::Ping6 {
            app: "late".into(),
            from: "red-2".into(),
            to: "fd00:a00::4".parse().unwrap(),
            count: 5,
            interval_ms: 20,
            size: 56,
        };
        lab.act(late).unwrap();
        lab.advance_to(Instant::from_secs(5));
        let done = results(&lab);
        assert!(
            done[0].text.starts_with("ping6 red-1 → red-3: 5/5, rtt ")
                && !done[0].text.contains("waited"),
            "{done:?}"
        );
        assert_eq!(done[0].state, "ok");
        assert!(
            done[3].text.starts_with("ping6 red-2 → red-3: 5/5, rtt ")
                && done[3].text.ends_with("for Neighbour Discovery)"),
            "{done:?}"
        );
        // 10.0.0.105 is blue-2's, in VNI 200: its IPv6 address too.
        assert_eq!(
            done[1].text,
            "ping6 red-1 → blue-2: 0/5, fd00:a00::69 is in another VNI (200), and VNI 100 \
             cannot reach it: tenants are isolated"
        );
        assert_eq!(done[1].state, "bad");
    }

    /// red-1 pings red-3 while it is still asking for the other tenant's address: the ping
    /// waits for ARP, and its line says why its round trips took seconds.
    #[test]
    fn a_ping_that_waited_for_arp_says_so() {
        let mut lab = Lab::new(Script::sandbox());
        lab.act(ping("lost", "red-1", [10, 0, 0, 105])).unwrap();
        lab.advance_to(Instant::from_millis(500));
        lab.act(ping("late", "red-1", [10, 0, 0, 4])).unwrap();
        lab.advance_to(Instant::from_secs(5));
        let late = &results(&lab)[1];
        assert_eq!(late.state, "ok");
        assert!(
            late.text.starts_with("ping red-1 → red-3: 5/5, rtt 2.9"),
            "{}",
            late.text
        );
        assert!(
            late.text.ends_with(
                "for ARP: red-1's stack asks for one address a second, and was asking for \
                 10.0.0.105 first)"
            ),
            "{}",
            late.text
        );
    }

    #[test]
    fn a_stalled_tcp_transfer_names_its_drops() {
        let mut lab = Lab::new(Script::sandbox());
        lab.act(Action::UnderlayMtu { mtu: 1400 }).unwrap();
        lab.act(Action::Tcp {
            app: "t".into(),
            from: "red-2".into(),
            to: "red-3".into(),
            bytes: 100_000,
            ipv6: false,
        })
        .unwrap();
        lab.advance_to(Instant::from_secs(3));
        let r = &results(&lab)[0];
        assert_eq!(r.state, "bad", "{r:?}");
        assert!(
            r.text.starts_with("TCP red-2 → red-3 stalled: "),
            "{}",
            r.text
        );
        assert!(r.text.contains("too_big drops at hv2"), "{}", r.text);
    }

    #[test]
    fn only_the_users_actions_of_a_guided_scenario_have_lines() {
        let mut lab = Lab::new(crate::model::view::script_named("S1").unwrap());
        lab.advance_to(Instant::from_millis(10));
        assert!(results(&lab).is_empty());
        lab.act(Action::Arping {
            from: "vm-b".into(),
            to: [192, 168, 10, 1],
        })
        .unwrap();
        lab.advance_to(Instant::from_millis(200));
        let r = results(&lab);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].text, "arping vm-b → 192.168.10.1: answered by vm-a");
    }
}
