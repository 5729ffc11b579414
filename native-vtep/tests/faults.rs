//! native-vtep under faults, in network namespaces: a peer killed with SIGKILL mid-transfer and
//! restarted, the underlay link taken down and up, the TAP deleted under the daemon, SIGTERM,
//! SIGINT and SIGHUP under load, static configuration across a restart, and a daemon running as
//! `--user nobody`.
//!
//! Run as root: `cargo test -p native-vtep --test faults -- --test-threads=1` (`cargo xtask test
//! faults`). Without root or the tools each test is skipped with a message, unless
//! `OVERLAY_LAB_REQUIRE_TOOLS` is set, which makes that a failure. Topology: `common/fabric.rs`
//! (hosts 10.0.0.N on an underlay bridge, TAP `vt42` with 192.168.42.N on each). The figures
//! printed (recovery times, shutdown times) are summarised in RELIABILITY.md.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::fabric::{Fabric, complete_line, fabric, overlay_ip};
use common::{Lab, counter, must, wait_for};

/// Generous bounds: two shared cores, other suites running, debug builds.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);
const SHUTDOWN_BOUND: Duration = Duration::from_secs(5);

/// `tcp_paced.py IP PORT SEED CHUNKS PAUSE`: sends CHUNKS chunks of 64 KiB of seeded random
/// bytes with PAUSE seconds between them (a transfer that lasts long enough to be interrupted),
/// then prints `sent BYTES SHA256 SECONDS`.
const TCP_PACED: &str = r#"
import socket, hashlib, sys, random, time
host, port, seed, chunks, pause = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
rnd = random.Random(seed)
h = hashlib.sha256()
n = 0
start = time.monotonic()
c = socket.create_connection((host, port), timeout=60)
for _ in range(chunks):
    d = rnd.randbytes(65536)
    c.sendall(d)
    h.update(d)
    n += len(d)
    time.sleep(pause)
c.close()
print("sent", n, h.hexdigest(), "%.2f" % (time.monotonic() - start), flush=True)
"#;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Replies in the output of `ping -D`: (unix time, icmp_seq).
/// `[1764168541.123456] 64 bytes from 192.168.42.2: icmp_seq=12 ttl=64 time=0.4 ms`
fn ping_replies(log: &str) -> Vec<(f64, u32)> {
    log.lines()
        .filter(|l| l.contains(" bytes from "))
        .filter_map(|l| {
            let stamp = l.strip_prefix('[')?.split(']').next()?.parse().ok()?;
            let seq = l
                .split("icmp_seq=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()?;
            Some((stamp, seq))
        })
        .collect()
}

/// Starts `ping -D` every 50 ms from host `from` to `dst`, as process `name`.
fn pinger(f: &mut Fabric, from: usize, dst: &str, name: &str) {
    let ns = f.hosts[from].clone();
    f.lab.spawn(
        &ns,
        name,
        "ping",
        &["-D", "-n", "-i", "0.05", "-W", "1", dst].map(String::from),
    );
    assert!(
        wait_for(10, || !ping_replies(&f.lab.log(name)).is_empty()),
        "no replies to {name}: {}",
        f.lab.all_logs()
    );
}

/// Waits for the first reply of `pinger` stamped after `since` (unix time); returns it.
fn first_reply_after(lab: &Lab, pinger: &str, since: f64, secs: u64) -> Option<(f64, u32)> {
    let mut found = None;
    wait_for(secs, || {
        found = ping_replies(&lab.log(pinger))
            .into_iter()
            .find(|(t, _)| *t >= since);
        found.is_some()
    });
    found
}

/// The last reply of `pinger` stamped before `until`.
fn last_reply_before(lab: &Lab, pinger: &str, until: f64) -> Option<(f64, u32)> {
    ping_replies(&lab.log(pinger))
        .into_iter()
        .rfind(|(t, _)| *t < until)
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn link_exists(lab: &Lab, ns: &str, dev: &str) -> bool {
    lab.ns_sh(ns, &format!("ip link show {dev}"))
        .status
        .success()
}

/// Waits until `counter` of VNI 42 at `control` has grown by `by` since `base`.
fn wait_counter(lab: &Lab, control: &Path, key: &str, by: u64, secs: u64) -> bool {
    let base = counter(&lab.stats(control), 42, key);
    wait_for(secs, || {
        lab.try_ctl(control, &["stats", "--json"])
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .is_some_and(|s| counter(&s, 42, key) >= base + by)
    })
}

/// Promise: a VTEP killed with SIGKILL in the middle of a transfer and restarted carries
/// traffic again at once. A persistent TAP (`ip tuntap add`, host 2 here) survives with its MAC
/// and addresses: the restart attaches to it, replaces the stale control socket (with a log
/// line), and the interrupted TCP transfer completes intact. A TAP the daemon created (host 1)
/// goes with it, the kernel removing it as its fd closes: the restart creates it again.
#[test]
fn sigkill_mid_transfer_then_restart_recovers() {
    let Some(mut f) = fabric("kill", 2, &["ping"]) else {
        return;
    };
    let h2 = f.hosts[1].clone();
    f.native(0, &[]);
    f.persistent_tap(1, "02:00:00:00:42:02");
    let args = f.native_args(1, &[]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let c2 = f.lab.vtep(&h2, "vtep2", &argv);
    assert!(
        f.lab.log("vtep2").contains("attached to TAP vt42"),
        "{}",
        f.lab.log("vtep2")
    );
    f.ping_ok(0, &overlay_ip(1), 3);

    // A TCP transfer (~5 MB over ~4 s) and a ping every 50 ms, both from host 1 to host 2.
    f.tcp_server(1, &overlay_ip(1), 5001, "server");
    let client = f.lab.script("tcp_paced.py", TCP_PACED);
    let h1 = f.hosts[0].clone();
    f.lab.spawn(
        &h1,
        "client",
        "python3",
        &[
            client,
            overlay_ip(1),
            "5001".into(),
            "11".into(),
            "80".into(),
            "0.05".into(),
        ],
    );
    pinger(&mut f, 0, &overlay_ip(1), "pinger");
    assert!(
        wait_counter(&f.lab, &c2, "decap_frames", 300, 20),
        "the transfer did not start\n{}",
        f.lab.all_logs()
    );

    let killed_at = unix_now();
    f.lab.signal("vtep2", "KILL");
    let status = f.lab.wait_exit("vtep2", 5).expect("SIGKILL did not kill");
    assert_eq!(status.signal(), Some(9), "{status}");
    // What a SIGKILL leaves: the control socket file (nobody answers it) and, being
    // persistent, the TAP.
    assert!(is_socket(&c2), "the stale control socket is gone");
    f.lab
        .ctl_refused(&c2, &["stats"], "no native-vtep is listening on");
    assert!(link_exists(&f.lab, &h2, "vt42"));
    // Down for a moment, as a supervisor's restart delay would leave it.
    std::thread::sleep(Duration::from_millis(500));

    let restarted_at = unix_now();
    let started = Instant::now();
    f.lab.vtep_at(&h2, "vtep2b", &c2, &argv);
    let ready = started.elapsed();
    let log = f.lab.log("vtep2b");
    for line in [
        "replaced stale control socket",
        "attached to TAP vt42",
        "listening for VXLAN on 10.0.0.2:4789",
    ] {
        assert!(log.contains(line), "restart log lacks {line:?}:\n{log}");
    }
    let (first, first_seq) = first_reply_after(&f.lab, "pinger", restarted_at, 20)
        .unwrap_or_else(|| panic!("no reply after the restart\n{}", f.lab.all_logs()));
    let (last, last_seq) =
        last_reply_before(&f.lab, "pinger", killed_at).expect("replies before the kill");
    let recovery = Duration::from_secs_f64(first - restarted_at);
    println!(
        "FIGURE sigkill: daemon ready {} ms after the restart; first ping reply {} ms after \
         the restart; traffic gap {} ms (last reply before the kill to first after: {} pings \
         lost, 0.5 s of it the deliberate downtime)",
        ready.as_millis(),
        recovery.as_millis(),
        ((first - last) * 1000.0) as u64,
        first_seq - last_seq - 1
    );
    assert!(
        recovery < RECOVERY_BOUND,
        "recovery took {recovery:?}\n{}",
        f.lab.all_logs()
    );

    // The interrupted TCP transfer completes, every byte intact.
    assert!(
        wait_for(60, || complete_line(&f.lab.log("client"), "sent").is_some()),
        "client did not finish\n{}",
        f.lab.all_logs()
    );
    let sent = f.lab.log("client");
    f.tcp_check("server", &sent, 60);
    println!(
        "FIGURE sigkill: TCP transfer across the kill: {}",
        sent.trim()
    );
    f.ping_ok(0, &overlay_ip(1), 3);
    f.ping_ok(1, &overlay_ip(0), 3);

    // Host 1's daemon created its TAP: SIGKILL takes the TAP (and its address) with it, the
    // restart creates it afresh; the address must be added again (a unit's ExecStartPost).
    let c1 = f.lab.dir.join("vtep1.sock");
    f.lab.signal("vtep1", "KILL");
    f.lab.wait_exit("vtep1", 5).expect("SIGKILL did not kill");
    assert!(
        wait_for(5, || !link_exists(&f.lab, &h1, "vt42")),
        "the kernel kept a TAP whose only fd was closed"
    );
    assert!(is_socket(&c1), "the stale control socket is gone");
    let args1 = f.native_args(0, &[]);
    let argv1: Vec<&str> = args1.iter().map(String::as_str).collect();
    let restarted = Instant::now();
    f.lab.vtep_at(&h1, "vtep1b", &c1, &argv1);
    f.lab
        .ns_must(&h1, &format!("ip addr add {}/24 dev vt42", overlay_ip(0)));
    let log = f.lab.log("vtep1b");
    assert!(
        log.contains("replaced stale control socket") && log.contains("created TAP vt42"),
        "{log}"
    );
    assert!(
        wait_for(10, || f.ping(0, &overlay_ip(1), 1).1 == 1),
        "no traffic after restarting on a new TAP\n{}",
        f.lab.all_logs()
    );
    println!(
        "FIGURE sigkill: daemon-created TAP: first ping answered {} ms after the restart \
         (new TAP, address re-added, ARP again)",
        restarted.elapsed().as_millis()
    );
    f.ping_ok(1, &overlay_ip(0), 3);
}

/// Promise: the underlay link going down and up (or its address removed and added again)
/// needs no action. The daemon keeps running; sends fail meanwhile (ENETUNREACH), are counted
/// as `udp_send_errors` and logged at 1, 2, 4, 8, ... errors; when the link is back it logs
/// "sending works again" and traffic resumes on the same sockets.
#[test]
fn underlay_link_down_and_up_traffic_resumes() {
    let Some(mut f) = fabric("flap", 2, &["ping"]) else {
        return;
    };
    let h2 = f.hosts[1].clone();
    f.native(0, &[]);
    let c2 = f.native(1, &[]);
    f.ping_ok(0, &overlay_ip(1), 3);
    f.ping_ok(1, &overlay_ip(0), 3);
    pinger(&mut f, 0, &overlay_ip(1), "pinger");

    for (fault, down, up) in [
        ("link down/up", "ip link set ul down", "ip link set ul up"),
        (
            "address removed/re-added",
            "ip addr del 10.0.0.2/24 dev ul",
            "ip addr add 10.0.0.2/24 dev ul",
        ),
    ] {
        let errors_before = f.lab.stats(&c2)["daemon"]["udp_send_errors"]
            .as_u64()
            .unwrap();
        f.lab.ns_must(&h2, down);
        // Host 2 sends into the overlay meanwhile: every send fails.
        let (tx, rx) = f.ping(1, &overlay_ip(0), 5);
        assert_eq!((tx, rx), (5, 0), "{fault}: traffic crossed a dead link");
        let s = f.lab.stats(&c2);
        let errors = s["daemon"]["udp_send_errors"].as_u64().unwrap();
        assert!(
            errors > errors_before,
            "{fault}: no send errors counted: {s}"
        );
        assert!(f.lab.exited("vtep2").is_none(), "{fault}: the daemon died");

        let up_at = unix_now();
        f.lab.ns_must(&h2, up);
        let (first, _) = first_reply_after(&f.lab, "pinger", up_at, 20)
            .unwrap_or_else(|| panic!("{fault}: no reply after\n{}", f.lab.all_logs()));
        let recovery = Duration::from_secs_f64(first - up_at);
        println!(
            "FIGURE flap: {fault}: first ping reply {} ms after `{up}`; {} send errors \
             counted while down",
            recovery.as_millis(),
            errors - errors_before
        );
        assert!(
            recovery < RECOVERY_BOUND,
            "{fault}: recovery took {recovery:?}"
        );
        f.ping_ok(1, &overlay_ip(0), 3);
        // The IPv4 address survives link down/up (the kernel only withdraws its routes).
        let addr = f.lab.ns_must(&h2, "ip -4 addr show dev ul");
        assert!(addr.contains("10.0.0.2/24"), "{addr}");
    }
    let log = f.lab.log("vtep2");
    for line in [
        "send to 10.0.0.1 failed: Network is unreachable",
        "(1 send errors so far)",
        "sending works again",
    ] {
        assert!(log.contains(line), "log lacks {line:?}:\n{log}");
    }
    assert!(!log.contains("panicked"), "{log}");
    f.tcp_1mb(0, &overlay_ip(0), 1, 21);
}

/// Promise: a TAP deleted under the daemon (`ip link del`) stops it with one clear error line
/// and exit status 1 (so `Restart=on-failure` brings it back), after removing its control
/// socket; in every data path, never a busy loop or a panic.
#[test]
fn tap_deleted_under_the_daemon_stops_it_with_a_message() {
    if !common::can_run("tap_deleted", &[]) {
        return;
    }
    let mut lab = Lab::new("gone");
    let ns = lab.netns("h");
    for (i, datapath) in ["plain", "batch", "offload"].iter().enumerate() {
        let name = format!("d{datapath}");
        let tap = format!("t{i}");
        let control = lab.vtep(
            &ns,
            &name,
            &[
                "--tap",
                &tap,
                "--vni",
                "42",
                "--local",
                "127.0.0.1",
                "--dstport",
                &(47100 + i).to_string(),
                "--datapath",
                datapath,
            ],
        );
        let deleted = Instant::now();
        lab.ns_must(&ns, &format!("ip link del {tap}"));
        let status = lab
            .wait_exit(&name, 10)
            .unwrap_or_else(|| panic!("{datapath}: daemon still running\n{}", lab.log(&name)));
        println!(
            "FIGURE tap deleted ({datapath}): exited {} ms after `ip link del`",
            deleted.elapsed().as_millis()
        );
        let log = lab.log(&name);
        assert_eq!(status.code(), Some(1), "{datapath}: {status}\n{log}");
        for line in [
            &format!("native-vtep: error: TAP device {tap} was deleted while in use"),
            "restart native-vtep to recreate it",
            "removed control socket",
        ] {
            assert!(log.contains(line), "{datapath}: log lacks {line:?}:\n{log}");
        }
        assert!(!log.contains("panicked"), "{log}");
        assert!(!control.exists(), "{datapath}: control socket left behind");
    }
}

/// Promise: SIGTERM, SIGINT and SIGHUP alike, under full load, stop the daemon within a bound,
/// with exit status 0, the TAP it created removed, its control socket removed, and no process
/// of it left in the namespace. One round per signal, each against a fresh daemon on host 1.
#[test]
fn sigterm_sigint_sighup_under_load_shut_down_cleanly() {
    let Some(mut f) = fabric("term", 2, &["ping", "iperf3"]) else {
        return;
    };
    let h1 = f.hosts[0].clone();
    let h2 = f.hosts[1].clone();
    f.native(1, &[]);
    let args = f.native_args(0, &[]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    for signal in ["TERM", "INT", "HUP"] {
        let vtep = format!("vtep1-{signal}");
        let c1 = f.lab.vtep(&h1, &vtep, &argv);
        // The same MAC each round, so host 2's neighbour and FDB entries stay true.
        f.lab.ns_must(
            &h1,
            &format!(
                "ip link set vt42 address 02:00:00:00:42:01 && ip addr add {}/24 dev vt42",
                overlay_ip(0)
            ),
        );
        f.ping_ok(0, &overlay_ip(1), 3);
        let (server, client) = (
            format!("iperf-server-{signal}"),
            format!("iperf-client-{signal}"),
        );
        f.lab.spawn(
            &h2,
            &server,
            "iperf3",
            &["-s", "-1", "--forceflush", "-B", &overlay_ip(1)],
        );
        assert!(wait_for(10, || f.lab.log(&server).contains("listening")));
        // Host 1's daemon encapsulates the bulk: it is the busy one.
        f.lab.spawn(
            &h1,
            &client,
            "iperf3",
            &["-c", &overlay_ip(1), "-t", "30", "-P", "2", "--forceflush"],
        );
        // Load: a first one-second report, and the daemon busy encapsulating.
        assert!(
            wait_for(20, || f.lab.log(&client).contains("bits/sec"))
                && wait_counter(&f.lab, &c1, "encap_frames", 3000, 20),
            "SIG{signal}: no load\n{}",
            f.lab.all_logs()
        );
        let pid = f.lab.pid(&vtep);
        let sent = Instant::now();
        f.lab.signal(&vtep, signal);
        let status = f
            .lab
            .wait_exit(&vtep, SHUTDOWN_BOUND.as_secs())
            .unwrap_or_else(|| panic!("not stopped within {SHUTDOWN_BOUND:?} of SIG{signal}"));
        let took = sent.elapsed();
        let rate = iperf_rate(&f.lab.log(&client));
        println!(
            "FIGURE sig{}: exited {} ms after SIG{signal} under iperf3 load (last interval: \
             {rate})",
            signal.to_lowercase(),
            took.as_millis()
        );
        assert!(status.success(), "SIG{signal}: exit status {status}");
        let log = f.lab.log(&vtep);
        for line in [
            &format!("SIG{signal}: shutting down"),
            "removed TAP vt42",
            "removed control socket",
        ] {
            assert!(
                log.contains(line),
                "SIG{signal}: log lacks {line:?}:\n{log}"
            );
        }
        assert!(
            !link_exists(&f.lab, &h1, "vt42"),
            "SIG{signal}: TAP vt42 left behind"
        );
        assert!(!c1.exists(), "SIG{signal}: control socket left behind");
        // Nothing of it runs on: no process of the namespace is native-vtep (it never forks).
        let pids = must(&format!("ip netns pids {h1}"));
        for p in pids.split_whitespace() {
            assert_ne!(p, pid.to_string(), "daemon pid {pid} still in {h1}");
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            assert_ne!(comm.trim(), "native-vtep", "stray native-vtep {p}");
        }
        // The load has lost its tunnel: stop it before the next round.
        for load in [&client, &server] {
            f.lab.signal(load, "KILL");
            f.lab.wait_exit(load, 5);
        }
    }
}

/// The iperf3 client's last interval line, for the printed figure.
fn iperf_rate(log: &str) -> String {
    let intervals: Vec<&str> = log.lines().filter(|l| l.contains("bits/sec")).collect();
    intervals
        .iter()
        .rfind(|l| l.contains("[SUM]"))
        .or(intervals.last())
        .map_or_else(|| "no iperf3 report".into(), |l| l.trim().to_string())
}

/// Promise: static configuration (config file or flags) comes back on every start; changes
/// made at runtime with `fdb add` / `neigh add` live in memory only and are gone after a
/// restart (put them in the config file to keep them).
#[test]
fn restart_keeps_static_configuration_not_runtime_changes() {
    let Some(mut f) = fabric("static", 2, &["ping"]) else {
        return;
    };
    let h1 = f.hosts[0].clone();
    let h2 = f.hosts[1].clone();
    // Fixed MACs on persistent TAPs, so the static entries stay true across restarts.
    f.persistent_tap(0, "02:00:00:00:42:01");
    f.persistent_tap(1, "02:00:00:00:42:02");
    let config = f.lab.dir.join("h1.toml");
    std::fs::write(
        &config,
        "[underlay]\nlocal = \"10.0.0.1\"\n\n\
         [[network]]\ntap = \"vt42\"\nvni = 42\nlearning = false\nproxy = true\n\
         remote = [\"10.0.0.2\"]\n\
         fdb = [{ mac = \"02:00:00:00:42:02\", dst = \"10.0.0.2\" }]\n\
         neigh = [{ ip = \"192.168.42.2\", mac = \"02:00:00:00:42:02\" }]\n",
    )
    .unwrap();
    let h1_args = ["--config", config.to_str().unwrap()];
    let c1 = f.lab.vtep(&h1, "vtep1", &h1_args);
    let h2_args = [
        "--tap",
        "vt42",
        "--vni",
        "42",
        "--local",
        "10.0.0.2",
        "--remote",
        "10.0.0.1",
        "--nolearning",
        "--proxy",
        "--fdb",
        "02:00:00:00:42:01=10.0.0.1",
        "--neigh",
        "192.168.42.1=02:00:00:00:42:01",
    ];
    let c2 = f.lab.vtep(&h2, "vtep2", &h2_args);
    f.ping_ok(0, &overlay_ip(1), 3);
    f.ping_ok(1, &overlay_ip(0), 3);

    let fdb1 = f.lab.ctl(&c1, &["fdb", "show"]);
    let neigh1 = f.lab.ctl(&c1, &["neigh", "show"]);
    let fdb2 = f.lab.ctl(&c2, &["fdb", "show"]);
    let neigh2 = f.lab.ctl(&c2, &["neigh", "show"]);
    for (shown, line) in [
        (
            &fdb1,
            "00:00:00:00:00:00 dev vt42 dst 10.0.0.2 vni 42 self permanent",
        ),
        (
            &fdb1,
            "02:00:00:00:42:02 dev vt42 dst 10.0.0.2 vni 42 self permanent",
        ),
        (
            &neigh1,
            "192.168.42.2 dev vt42 lladdr 02:00:00:00:42:02 vni 42 PERMANENT",
        ),
        (
            &fdb2,
            "02:00:00:00:42:01 dev vt42 dst 10.0.0.1 vni 42 self permanent",
        ),
        (
            &neigh2,
            "192.168.42.1 dev vt42 lladdr 02:00:00:00:42:01 vni 42 PERMANENT",
        ),
    ] {
        assert!(shown.contains(line), "{line:?} missing:\n{shown}");
    }
    // Runtime additions.
    f.lab
        .ctl(&c1, &["fdb", "add", "02:00:00:00:00:99", "dst", "10.0.0.2"]);
    f.lab.ctl(
        &c1,
        &[
            "neigh",
            "add",
            "192.168.42.99",
            "lladdr",
            "02:00:00:00:00:99",
        ],
    );
    assert!(
        f.lab
            .ctl(&c1, &["fdb", "show"])
            .contains("02:00:00:00:00:99")
    );

    // Restart both: the config-file daemon and the flags daemon.
    for (name, ns, control, args) in [
        ("vtep1", &h1, &c1, &h1_args[..]),
        ("vtep2", &h2, &c2, &h2_args[..]),
    ] {
        let log = f.lab.stop(name);
        assert!(log.contains("detached from TAP vt42"), "{log}");
        assert!(link_exists(&f.lab, ns, "vt42"), "persistent TAP removed");
        f.lab.vtep_at(ns, &format!("{name}b"), control, args);
    }
    // Static entries: exactly as before; the runtime ones are gone. (Learned rows, such as
    // the local TAP's own MAC, come and go with traffic: not compared.)
    let static_only = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("permanent") || l.contains("PERMANENT"))
            .filter(|l| !l.contains("02:00:00:00:00:99") && !l.contains("192.168.42.99"))
            .map(|l| l.split(" used ").next().unwrap_or(l).to_string())
            .collect()
    };
    let after_fdb1 = f.lab.ctl(&c1, &["fdb", "show"]);
    let after_neigh1 = f.lab.ctl(&c1, &["neigh", "show"]);
    assert_eq!(static_only(&after_fdb1), static_only(&fdb1), "{after_fdb1}");
    assert_eq!(static_only(&after_neigh1), static_only(&neigh1));
    assert!(!after_fdb1.contains("02:00:00:00:00:99"), "{after_fdb1}");
    assert!(!after_neigh1.contains("192.168.42.99"), "{after_neigh1}");
    assert_eq!(
        static_only(&f.lab.ctl(&c2, &["fdb", "show"])),
        static_only(&fdb2)
    );
    assert_eq!(
        static_only(&f.lab.ctl(&c2, &["neigh", "show"])),
        static_only(&neigh2)
    );
    // Traffic works on the static entries alone: ARP answered from the reloaded neighbour
    // table, nothing learned.
    f.lab.ns_must(&h1, "ip neigh flush dev vt42");
    f.ping_ok(0, &overlay_ip(1), 3);
    f.ping_ok(1, &overlay_ip(0), 3);
    let s = f.lab.stats(&c1);
    assert!(counter(&s, 42, "arp_suppressed") >= 1, "{s}");
    let fdb = f.lab.ctl(&c1, &["fdb", "show"]);
    assert!(
        fdb.lines()
            .all(|l| l.contains("permanent") || l.contains(" local")),
        "a remote MAC was learned despite learning = false:\n{fdb}"
    );
}

/// Promise: with `--user nobody` the daemon opens everything as root, then runs with nobody's
/// uid and gid, no groups, no capabilities and no_new_privs; it still forwards (also across a
/// link flap, which needs no privilege), its control socket stays root-only, and SIGTERM stops
/// it with status 0 and its TAP removed. The socket file stays (nobody may not unlink in the
/// root-only directory) and the next start replaces it.
#[test]
fn user_nobody_drops_privileges_and_still_forwards() {
    let Some(mut f) = fabric("user", 2, &["ping", "setpriv"]) else {
        return;
    };
    let h2 = f.hosts[1].clone();
    f.native(0, &[]);
    let control = f.lab.dir.join("run").join("vtep2.sock");
    let args = f.native_args(1, &["--user", "nobody"]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    f.lab.vtep_at(&h2, "vtep2", &control, &argv);
    f.lab
        .ns_must(&h2, &format!("ip addr add {}/24 dev vt42", overlay_ip(1)));
    let log = f.lab.log("vtep2");
    assert!(
        log.contains("dropped privileges: now user nobody (uid 65534, gid 65534)"),
        "{log}"
    );

    let pid = f.lab.pid("vtep2");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |key: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {status}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(field("Uid:"), "65534 65534 65534 65534", "{status}");
    assert_eq!(field("Gid:"), "65534 65534 65534 65534", "{status}");
    assert_eq!(field("Groups:"), "", "{status}");
    for cap in ["CapPrm:", "CapEff:", "CapAmb:"] {
        assert_eq!(field(cap), "0000000000000000", "{status}");
    }
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
    println!(
        "FIGURE user: /proc/{pid}/status: Uid {} / Gid {} / CapEff {} / NoNewPrivs {}",
        field("Uid:"),
        field("Gid:"),
        field("CapEff:"),
        field("NoNewPrivs:")
    );

    f.ping_ok(0, &overlay_ip(1), 3);
    f.tcp_1mb(1, &overlay_ip(1), 0, 31);
    f.tcp_1mb(0, &overlay_ip(0), 1, 32);
    // A link flap: no socket has to be made again, so no privilege is missed.
    f.lab.ns_must(&h2, "ip link set ul down");
    assert_eq!(f.ping(1, &overlay_ip(0), 2).1, 0);
    f.lab.ns_must(&h2, "ip link set ul up");
    assert!(wait_for(10, || f.ping(1, &overlay_ip(0), 1).1 == 1));
    f.ping_ok(1, &overlay_ip(0), 3);

    // Root-only control socket, even though the daemon behind it is nobody.
    f.lab.ctl(&control, &["stats"]);
    let out = must(&format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups {} stats --control {} 2>&1 || true",
        common::BIN,
        control.display()
    ));
    assert!(
        out.contains("permission denied") && out.contains("run this as root"),
        "{out}"
    );

    let sent = Instant::now();
    f.lab.signal("vtep2", "TERM");
    let exit = f
        .lab
        .wait_exit("vtep2", SHUTDOWN_BOUND.as_secs())
        .expect("not stopped");
    println!(
        "FIGURE user: exited {} ms after SIGTERM",
        sent.elapsed().as_millis()
    );
    assert!(exit.success(), "{exit}");
    let log = f.lab.log("vtep2");
    assert!(log.contains("removed TAP vt42"), "{log}");
    assert!(
        log.contains("left control socket") && log.contains("as user nobody"),
        "{log}"
    );
    assert!(!link_exists(&f.lab, &h2, "vt42"), "TAP left behind");
    assert!(is_socket(&control));
    // The next start (as root, without --user) replaces it and removes it at exit.
    let plain: Vec<String> = f.native_args(1, &[]);
    let plain: Vec<&str> = plain.iter().map(String::as_str).collect();
    f.lab.vtep_at(&h2, "vtep2b", &control, &plain);
    assert!(
        f.lab
            .log("vtep2b")
            .contains("replaced stale control socket")
    );
    let log = f.lab.stop("vtep2b");
    assert!(log.contains("removed control socket"), "{log}");
    assert!(!control.exists());
}

#[test]
fn a_log_line_counts_once_its_newline_is_written() {
    let partial = "listening\nreceived";
    assert_eq!(complete_line(partial, "received"), None);
    let partial = "listening\nreceived 1048576 1de3";
    assert_eq!(complete_line(partial, "received"), None);
    let whole = "listening\nreceived 1048576 1de3\n";
    assert_eq!(
        complete_line(whole, "received"),
        Some("received 1048576 1de3")
    );
}
