//! `native-vtep bgp summary` and `bgp routes` as text, laid out like FRR's `vtysh -c 'show bgp
//! l2vpn evpn summary'` and `'show bgp l2vpn evpn route'`, so an operator reads both the same way.

use std::fmt::Write as _;

use super::protocol::{BgpRouteRow, BgpSummary};

/// `Up/Down` as FRR shows it: `hh:mm:ss` under a day, `NdNNh` under a week, `NwNdNNh` after.
fn up_down(secs: Option<u64>) -> String {
    let Some(s) = secs else {
        return "never".into();
    };
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match d {
        0 => format!("{h:02}:{m:02}:{:02}", s % 60),
        1..=6 => format!("{d}d{h:02}h{m:02}m"),
        _ => format!("{:02}w{}d{h:02}h", d / 7, d % 7),
    }
}

pub fn render_bgp_summary(s: &BgpSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "BGP router identifier {}, local AS number {} vrf-id 0",
        s.router_id, s.asn
    );
    let _ = writeln!(
        out,
        "L2VPN EVPN: VTEP {}, hold time {} s, {} local routes, {} received routes using {} \
         bytes of memory",
        s.vtep, s.hold_time, s.local_routes, s.received_routes, s.table_bytes
    );
    let _ = writeln!(out, "Peers {}\n", s.peers.len());
    let _ = writeln!(
        out,
        "{:<15} {:>1} {:>10} {:>9} {:>9} {:>4} {:>4} {:>8} {:>12}",
        "Neighbor", "V", "AS", "MsgRcvd", "MsgSent", "InQ", "OutQ", "Up/Down", "State/PfxRcd"
    );
    for p in &s.peers {
        let state = if p.state == "Established" {
            p.routes_received.to_string()
        } else {
            p.state.clone()
        };
        let _ = writeln!(
            out,
            "{:<15} {:>1} {:>10} {:>9} {:>9} {:>4} {:>4} {:>8} {:>12}",
            p.address.to_string(),
            4,
            p.remote_as,
            p.msg_rcvd,
            p.msg_sent,
            0,
            p.routes_pending,
            up_down(p.up_secs),
            state
        );
    }
    let _ = writeln!(out, "\nTotal number of neighbors {}", s.peers.len());
    for p in &s.peers {
        if !p.malformed.is_empty() {
            let list: Vec<String> = p
                .malformed
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = writeln!(out, "{}: malformed {}", p.address, list.join(", "));
        }
        if let Some(e) = &p.last_error {
            let _ = writeln!(out, "{}: last error: {e}", p.address);
        }
    }
    if s.events_lost > 0 || s.refused > 0 {
        let _ = writeln!(
            out,
            "engine events lost {}, routes the engine refused {}",
            s.events_lost, s.refused
        );
    }
    out
}

pub fn render_bgp_routes(rows: &[BgpRouteRow], router_id: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "BGP table version is 0, local router ID is {}",
        router_id.unwrap_or("-")
    );
    out.push_str(
        "Status codes: * valid, > best, i - internal\n\
         Origin codes: i - IGP, e - EGP, ? - incomplete\n\
         EVPN type-2 prefix: [2]:[EthTag]:[MAClen]:[MAC]:[IPlen]:[IP]\n\
         EVPN type-3 prefix: [3]:[EthTag]:[IPlen]:[OrigIP]\n\n",
    );
    let _ = writeln!(
        out,
        "   {:<16} {:<19} {:>6} {:>6} {:>6} Path",
        "Network", "Next Hop", "Metric", "LocPrf", "Weight"
    );
    let mut sorted: Vec<&BgpRouteRow> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.rd, &a.prefix, !a.best, &a.source).cmp(&(&b.rd, &b.prefix, !b.best, &b.source))
    });
    let mut rd = None;
    let mut prefixes = 0;
    for (i, r) in sorted.iter().enumerate() {
        if rd != Some(&r.rd) {
            let _ = writeln!(out, "Route Distinguisher: {}", r.rd);
            rd = Some(&r.rd);
        }
        if i == 0 || sorted[i - 1].prefix != r.prefix || sorted[i - 1].rd != r.rd {
            prefixes += 1;
        }
        let local = r.source == "local";
        let _ = writeln!(
            out,
            "*{}{}{}",
            if r.best { ">" } else { " " },
            if local { " " } else { "i" },
            r.prefix
        );
        let (pref, weight) = if local { ("", "32768") } else { ("100", "0") };
        let _ = writeln!(
            out,
            "                    {:<19} {:>6} {:>6} {:>6} i",
            r.next_hop.to_string(),
            "",
            pref,
            weight
        );
        let mut tags: Vec<String> = r.route_targets.iter().map(|t| format!("RT:{t}")).collect();
        tags.push("ET:8".into());
        if r.seq > 0 || r.sticky {
            tags.push(format!(
                "MM:{}{}",
                r.seq,
                if r.sticky { ", sticky MAC" } else { "" }
            ));
        }
        let imported = if r.imported {
            format!("VNI {}", r.vni)
        } else {
            format!("not imported (label {})", r.vni)
        };
        let from = if local {
            String::new()
        } else {
            format!(", from {}", r.source)
        };
        let _ = writeln!(
            out,
            "                    {} ({imported}{from})",
            tags.join(" ")
        );
    }
    let _ = writeln!(
        out,
        "\nDisplayed {prefixes} prefixes ({} paths)",
        rows.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::BgpPeerRow;

    #[test]
    fn summary_reads_like_vtysh() {
        let summary = BgpSummary {
            router_id: "10.0.0.1".parse().unwrap(),
            asn: 65000,
            vtep: "10.0.0.1".parse().unwrap(),
            hold_time: 9,
            local_routes: 3,
            received_routes: 2,
            table_bytes: 1000,
            events_lost: 0,
            refused: 0,
            peers: vec![
                BgpPeerRow {
                    address: "10.0.0.254".parse().unwrap(),
                    remote_as: 65000,
                    state: "Established".into(),
                    up_secs: Some(3725),
                    peer_router_id: Some("10.0.0.254".parse().unwrap()),
                    hold_time: Some(9),
                    msg_rcvd: 12,
                    msg_sent: 10,
                    routes_received: 2,
                    routes_pending: 0,
                    counters: Default::default(),
                    malformed: [("bad_pmsi_length".to_string(), 1)].into(),
                    last_error: None,
                },
                BgpPeerRow {
                    address: "10.0.0.253".parse().unwrap(),
                    remote_as: 65000,
                    state: "Connect".into(),
                    up_secs: None,
                    peer_router_id: None,
                    hold_time: None,
                    msg_rcvd: 0,
                    msg_sent: 0,
                    routes_received: 0,
                    routes_pending: 0,
                    counters: Default::default(),
                    malformed: Default::default(),
                    last_error: Some("peer 10.0.0.253 unreachable".into()),
                },
            ],
        };
        let text = render_bgp_summary(&summary);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "BGP router identifier 10.0.0.1, local AS number 65000 vrf-id 0"
        );
        assert_eq!(
            lines[4],
            "Neighbor        V         AS   MsgRcvd   MsgSent  InQ OutQ  Up/Down State/PfxRcd"
        );
        assert_eq!(
            lines[5],
            "10.0.0.254      4      65000        12        10    0    0 01:02:05            2"
        );
        assert_eq!(
            lines[6],
            "10.0.0.253      4      65000         0         0    0    0    never      Connect"
        );
        assert!(
            text.contains("10.0.0.254: malformed bad_pmsi_length 1\n"),
            "{text}"
        );
        assert!(text.contains("10.0.0.253: last error: peer 10.0.0.253 unreachable\n"));
    }

    #[test]
    fn routes_read_like_vtysh() {
        let row = |source: &str, best: bool| BgpRouteRow {
            vni: 42,
            imported: true,
            route_type: 2,
            rd: "10.0.0.2:1".into(),
            prefix: "[2]:[0]:[48]:[02:00:00:00:42:02]".into(),
            mac: Some("02:00:00:00:42:02".into()),
            ip: None,
            next_hop: "10.0.0.2".parse().unwrap(),
            seq: 1,
            sticky: false,
            route_targets: vec!["65000:42".into()],
            source: source.into(),
            best,
        };
        let text = render_bgp_routes(
            &[row("10.0.0.254", true), row("10.0.0.253", false)],
            Some("10.0.0.1"),
        );
        assert!(
            text.contains("Route Distinguisher: 10.0.0.2:1\n*>i[2]:[0]:[48]:[02:00:00:00:42:02]\n"),
            "{text}"
        );
        assert!(
            text.contains("RT:65000:42 ET:8 MM:1 (VNI 42, from 10.0.0.254)"),
            "{text}"
        );
        assert!(
            text.contains("* i[2]:[0]:[48]:[02:00:00:00:42:02]\n"),
            "{text}"
        );
        assert!(text.ends_with("Displayed 1 prefixes (2 paths)\n"), "{text}");
    }
}
