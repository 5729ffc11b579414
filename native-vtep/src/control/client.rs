//! The client side: finds a running daemon's socket, sends one request, and renders answers
//! as text in the style of iproute2.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use vtep_core::vtep::NetworkCounters;

use super::protocol::{
    FdbRow, NeighRow, NetworkStats, Request, Response, StatsReport, default_control_dir,
    default_control_path,
};
use crate::sys::errno;

/// Finds the control socket: `--control`, else `--tap`'s default, else the only socket in
/// this network namespace's [`default_control_dir`].
pub fn resolve(control: Option<&Path>, tap: Option<&str>) -> Result<PathBuf, String> {
    if let Some(path) = control {
        return Ok(path.to_path_buf());
    }
    if let Some(tap) = tap {
        return Ok(default_control_path(tap));
    }
    let dir = default_control_dir();
    let shown = dir.display();
    let mut found: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(dir) => dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sock"))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(format!(
                "permission denied on {shown}/: the control sockets are \
                 root-only; run this as root"
            ));
        }
        Err(_) => Vec::new(),
    };
    found.sort();
    if found.len() > 1 {
        // Stale sockets (of daemons that were killed, or that ran with --user) do not count.
        found.retain(|p| UnixStream::connect(p).is_ok());
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!(
            "no running native-vtep found (no socket in {shown}/): start the daemon, \
             or pass --control PATH"
        )),
        _ => Err(format!(
            "several native-vtep daemons are running ({}): choose one with --tap NAME or \
             --control PATH",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Sends one request and waits (up to 10 s) for the answer.
pub fn call(path: &Path, request: &Request) -> Result<serde_json::Value, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| match e.raw_os_error() {
        Some(errno::ENOENT) | Some(errno::ECONNREFUSED) => format!(
            "no native-vtep is listening on {}: is the daemon running? (or pass --control PATH)",
            path.display()
        ),
        Some(errno::EACCES) | Some(errno::EPERM) => format!(
            "permission denied on {}: the control socket is root-only; run this as root",
            path.display()
        ),
        _ => format!("cannot connect to {}: {e}", path.display()),
    })?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut line = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| format!("sending to {}: {e}", path.display()))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("reading from {}: {e}", path.display()))?;
    let response: Response = serde_json::from_slice(&answer)
        .map_err(|e| format!("bad answer from {}: {e}", path.display()))?;
    match response {
        Response {
            ok: true, result, ..
        } => Ok(result.unwrap_or(serde_json::Value::Null)),
        Response { error, .. } => Err(error.unwrap_or_else(|| "request failed".into())),
    }
}

// ---- text rendering, in the style of iproute2 ----

pub fn render_fdb(rows: &[FdbRow]) -> String {
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!("{} dev {}", r.mac, r.dev));
        if let Some(dst) = r.dst {
            out.push_str(&format!(" dst {dst}"));
        }
        out.push_str(&format!(" vni {}", r.vni));
        out.push_str(if r.local { " local" } else { " self" });
        out.push_str(match r.state.as_str() {
            "flood" | "static" => " permanent",
            "control" => " extern_learn",
            _ => "",
        });
        if let Some(peer) = r.peer {
            out.push_str(&format!(" peer {peer}"));
        }
        if let Some(age) = r.age_secs {
            out.push_str(&format!(" used {age}s"));
        }
        if r.seq > 0 {
            out.push_str(&format!(" seq {}", r.seq));
        }
        if r.frozen {
            out.push_str(" frozen");
        }
        out.push('\n');
    }
    out
}

pub fn render_neigh(rows: &[NeighRow]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{} dev {} lladdr {} vni {}{} {} used {}s\n",
                r.ip,
                r.dev,
                r.mac,
                r.vni,
                if r.router { " router" } else { "" },
                // As iproute2 shows the kernel's: a route's entry (FRR's, native-vtep's) is
                // extern_learn, an operator's PERMANENT, a snooped one REACHABLE.
                match r.state.as_str() {
                    "learned" => "REACHABLE",
                    "control" => "extern_learn",
                    _ => "PERMANENT",
                },
                r.age_secs
            )
        })
        .collect()
}

pub fn render_stats(s: &StatsReport) -> String {
    let mut out = format!(
        "native-vtep {} up {}s, local {}, fdb {}/{} entries, {} neighbours\n",
        s.version,
        s.uptime_secs,
        s.local.map_or("-".into(), |ip| ip.to_string()),
        s.fdb_entries,
        s.fdb_max,
        s.neighbours
    );
    for n in &s.networks {
        // By position in `NetworkCounters::FIELDS`, the one list of counter names: a counter
        // added there stops this from compiling until it has a place here, and the test
        // `stats_show_each_counter_in_its_place` catches a reordering.
        let [
            local_rx_frames,
            local_rx_bytes,
            local_tx_frames,
            local_tx_bytes,
            encap_frames,
            encap_bytes,
            decap_frames,
            decap_bytes,
            flooded_frames,
            flood_copies,
            arp_suppressed,
            nd_suppressed,
            learned,
            moved,
            aged_out,
            fdb_full,
            duplicates_frozen,
            _drops_total,
        ] = counters(n);
        out.push_str(&format!(
            "\nvni {} dev {} {}{}{} peers [{}]\n",
            n.vni,
            n.dev,
            n.encap,
            if n.learning {
                " learning"
            } else {
                " nolearning"
            },
            if n.proxy { " proxy" } else { "" },
            n.flood_peers
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ));
        out.push_str(&format!(
            "    tap rx {local_rx_frames} frames {local_rx_bytes} bytes, tap tx \
             {local_tx_frames} frames {local_tx_bytes} bytes\n"
        ));
        out.push_str(&format!(
            "    encap {encap_frames} datagrams {encap_bytes} bytes, decap {decap_frames} \
             datagrams {decap_bytes} bytes\n"
        ));
        out.push_str(&format!(
            "    flooded {flooded_frames} frames ({flood_copies} copies), arp suppressed \
             {arp_suppressed}, nd suppressed {nd_suppressed}\n"
        ));
        out.push_str(&format!(
            "    fdb learned {learned} moved {moved} aged {aged_out} full {fdb_full} frozen \
             {duplicates_frozen}\n"
        ));
        out.push_str(&format!("    drops {}\n", render_drops(&n.drops)));
    }
    out.push_str(&format!(
        "\nunattributed drops {}\n",
        render_drops(&s.global_drops)
    ));
    let d = &s.daemon;
    // GRE's count shows once NVGRE has received something, so other output stays as it was.
    let gre = if d.gre_rx_packets > 0 {
        format!(", gre rx {}", d.gre_rx_packets)
    } else {
        String::new()
    };
    out.push_str(&format!(
        "device: tap rx {} (errors {}), tap write errors {}, udp rx {}{gre} (errors {}), udp \
         send errors {}, events lost {}, control requests {}\n",
        d.tap_rx_frames,
        d.tap_read_errors,
        d.tap_write_errors,
        d.udp_rx_datagrams,
        d.udp_recv_errors,
        d.udp_send_errors,
        s.events_lost,
        d.control_requests
    ));
    out.push_str(&format!(
        "inner checksums completed {}, bad (dropped) {}\n",
        d.inner_csum_completed, d.inner_csum_bad
    ));
    out
}

/// The counters of `n` in the order of [`NetworkCounters::FIELDS`]; 0 for any the daemon did
/// not send.
fn counters(n: &NetworkStats) -> [u64; NetworkCounters::FIELDS.len()] {
    std::array::from_fn(|i| {
        let (name, _) = NetworkCounters::FIELDS[i];
        n.counters.get(name).copied().unwrap_or(0)
    })
}

fn render_drops(drops: &BTreeMap<String, u64>) -> String {
    let nonzero: Vec<String> = drops
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if nonzero.is_empty() {
        "none".into()
    } else {
        nonzero.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdb_rows_render_like_bridge_fdb_show() {
        let rows = [
            FdbRow::flood(42, "vtep42".into(), "10.0.0.2".parse().unwrap()),
            FdbRow {
                vni: 42,
                dev: "vtep42".into(),
                mac: "02:00:00:00:00:02".into(),
                dst: Some("10.0.0.2".parse().unwrap()),
                state: "learned".into(),
                local: false,
                age_secs: Some(3),
                seq: 1,
                frozen: false,
                peer: None,
            },
            FdbRow {
                vni: 42,
                dev: "vtep42".into(),
                mac: "02:00:00:00:00:03".into(),
                dst: Some("10.0.0.3".parse().unwrap()),
                state: "control".into(),
                local: false,
                age_secs: None,
                seq: 2,
                frozen: false,
                peer: Some("10.0.0.254".parse().unwrap()),
            },
        ];
        assert_eq!(
            render_fdb(&rows),
            "00:00:00:00:00:00 dev vtep42 dst 10.0.0.2 vni 42 self permanent\n\
             02:00:00:00:00:02 dev vtep42 dst 10.0.0.2 vni 42 self used 3s seq 1\n\
             02:00:00:00:00:03 dev vtep42 dst 10.0.0.3 vni 42 self extern_learn peer 10.0.0.254 \
             seq 2\n"
        );
    }

    #[test]
    fn stats_show_each_counter_in_its_place() {
        // Every counter distinct, sent as the daemon sends them (`NetworkCounters::fields`).
        let c = NetworkCounters {
            local_rx_frames: 1,
            local_rx_bytes: 2,
            local_tx_frames: 3,
            local_tx_bytes: 4,
            encap_frames: 5,
            encap_bytes: 6,
            decap_frames: 7,
            decap_bytes: 8,
            flooded_frames: 9,
            flood_copies: 10,
            arp_suppressed: 11,
            nd_suppressed: 17,
            learned: 12,
            moved: 13,
            aged_out: 14,
            fdb_full: 15,
            duplicates_frozen: 16,
            ..NetworkCounters::default()
        };
        let report = StatsReport {
            version: "0.0.0".into(),
            uptime_secs: 7,
            local: Some("10.0.0.1".parse().unwrap()),
            fdb_entries: 2,
            fdb_max: 100,
            neighbours: 1,
            networks: vec![NetworkStats {
                vni: 42,
                dev: "vtep42".into(),
                encap: "VXLAN".into(),
                learning: true,
                proxy: false,
                flood_peers: vec!["10.0.0.2".parse().unwrap()],
                counters: c.fields().map(|(k, v)| (k.to_string(), v)).collect(),
                drops: [("bad_flags".to_string(), 0), ("not_a_peer".to_string(), 3)].into(),
            }],
            global_drops: [("unknown_vni".to_string(), 4)].into(),
            events_lost: 0,
            daemon: Default::default(),
        };
        assert_eq!(
            render_stats(&report),
            "native-vtep 0.0.0 up 7s, local 10.0.0.1, fdb 2/100 entries, 1 neighbours\n\
             \n\
             vni 42 dev vtep42 VXLAN learning peers [10.0.0.2]\n\
             \x20   tap rx 1 frames 2 bytes, tap tx 3 frames 4 bytes\n\
             \x20   encap 5 datagrams 6 bytes, decap 7 datagrams 8 bytes\n\
             \x20   flooded 9 frames (10 copies), arp suppressed 11, nd suppressed 17\n\
             \x20   fdb learned 12 moved 13 aged 14 full 15 frozen 16\n\
             \x20   drops not_a_peer 3\n\
             \n\
             unattributed drops unknown_vni 4\n\
             device: tap rx 0 (errors 0), tap write errors 0, udp rx 0 (errors 0), udp send \
             errors 0, events lost 0, control requests 0\n\
             inner checksums completed 0, bad (dropped) 0\n"
        );
    }
}
