//! The soak: two release native-vteps in network namespaces under steady, paced load for N
//! minutes, watched for leaks, unexpected errors and deaths. Started by `cargo xtask soak
//! [--minutes N]` (root), which runs
//! `cargo test --release -p native-vtep --test soak -- --minutes N`.
//!
//! Not a test of `cargo test`: without `--minutes` (as in a plain `cargo test -p native-vtep`)
//! it checks only its own parsers and bounds, and says how to run the soak.
//!
//! Topology (namespaces and cleanup from the shared harness, `common/mod.rs`: every namespace
//! is named `olvt<pid>-soak-...`, removed at the end, on error, on panic and on Ctrl-C; those of
//! an earlier run that was killed are removed at the next start):
//!
//! ```text
//!   h1: native-vtep 10.0.0.1 ==== veth underlay ==== h2: native-vtep 10.0.0.2
//!       TAP vt42 in bridge br42 (192.168.42.1)            TAP vt42 in bridge br42 (192.168.42.2)
//!       port vm1 ----------- vm: eth-a / eth-b ----------- port vm2
//!                            192.168.42.100, one side up at a time
//! ```
//!
//! Load: iperf3 TCP both ways at a paced rate between h1 and h2; a steady ping h2 -> h1; a ping
//! h1 -> vm while vm moves between h1 and h2 every second; random source MACs from both hosts
//! (learned, then aged out with a short `--ageing`). Each second the daemons' RSS is read from
//! `/proc/PID/status`; every 10 s their `stats --json`; every minute `fdb show --json` and a
//! progress line. Fails when RSS grows past [`rss_bound`] over its warm-up peak, an unexpected
//! error counter leaves zero (see [`unexpected`]), the FDB outgrows what ageing allows, traffic
//! stops, or a daemon or load generator dies. Prints a summary table for RELIABILITY.md.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use common::Lab;
use serde_json::Value;

const VNI: &str = "42";
/// FDB ageing of both daemons: short, so ageing runs all the time during the soak.
const AGEING_SECS: u64 = 5;
/// New random source MACs per second from each of h1 and h2.
const CHURN_PER_SIDE: u32 = 25;
/// iperf3 pacing, each direction (`--bidir`): enough to keep every path busy, far from
/// saturating 2 shared cores.
const IPERF_RATE: &str = "10M";
/// RSS before this is warm-up (tables and buffers reach their working size); the bound applies
/// after it.
const WARMUP: Duration = Duration::from_secs(60);
/// The migrating host keeps a MAC for this many placements (so 3 moves) and then takes the
/// next of [`MAC_POOL`]: RFC 7432 duplicate detection (5 moves in 180 s, the engine's default,
/// not a flag) would otherwise freeze it, by design. A resting MAC is silent for 12 s, more
/// than ageing + a sweep, so it comes back as a new entry with a fresh move count.
const PLACEMENTS_PER_MAC: u64 = 4;
const MAC_POOL: u64 = 4;
const VM_IP: &str = "192.168.42.100";

/// Drop reasons that this load produces by design: a frame for the migrating host reaches the
/// VTEP it just left (its entry still says "local", `same_port`) or a VTEP whose entry still
/// points at the other one (`split_horizon`), until its next frame moves the entry. Unknown
/// destinations are flooded, not dropped. Every other reason, present or future, is unexpected.
const EXPECTED_DROPS: &[&str] = &["same_port", "split_horizon"];
/// Device-layer and engine counters that must stay zero under this load.
const UNEXPECTED_DEVICE: &[&str] = &[
    "tap_read_errors",
    "tap_write_errors",
    "udp_recv_errors",
    "udp_send_errors",
    "events_lost",
];
const UNEXPECTED_COUNTERS: &[&str] = &["duplicates_frozen", "fdb_full"];

/// `churn.py IFACE RATE TAG`: frames from a fresh random unicast MAC (`02:cT:...`) RATE times a
/// second, each MAC sending one broadcast and one frame to an unknown unicast MAC (both are
/// flooded to the peer VTEP, which learns the MAC too). Prints `macs N` every 5 s and on SIGTERM.
const CHURN: &str = r#"
import random, signal, socket, sys, time
iface, rate, tag = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
rnd = random.Random()
payload = b"overlay-lab soak churn".ljust(46, b"\0")
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
n = 0
start = last = time.monotonic()
while not stop:
    mac = bytes([0x02, 0xc0 | tag]) + rnd.getrandbits(32).to_bytes(4, "big")
    s.send(b"\xff" * 6 + mac + b"\x88\xb5" + payload)
    s.send(b"\x02\xee" + rnd.getrandbits(32).to_bytes(4, "big") + mac + b"\x88\xb5" + payload)
    n += 1
    now = time.monotonic()
    if now - last >= 5:
        print("macs", n, flush=True)
        last = now
    time.sleep(max(0.0, start + n / rate - now))
print("macs", n, flush=True)
"#;

/// `garp.py IFACE IP`: three gratuitous ARPs, so the hosts' neighbour entries take the
/// migrating host's new MAC at once (a GARP overrides the 1 s lock time; a plain ARP may not).
const GARP: &str = r#"
import socket, sys
iface, ip = sys.argv[1], bytes(int(x) for x in sys.argv[2].split("."))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
src = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
arp = b"\x00\x01\x08\x00\x06\x04\x00\x01" + src + ip + b"\x00" * 6 + ip
for _ in range(3):
    s.send(b"\xff" * 6 + src + b"\x08\x06" + arp.ljust(46, b"\0"))
"#;

// ---- what the daemons report ----

/// One `stats --json` of a daemon, flattened.
#[derive(Debug, Clone, Default)]
struct Stats {
    fdb_entries: u64,
    /// The counters of VNI 42.
    counters: BTreeMap<String, u64>,
    /// Drops by reason: VNI 42's under their name, the unattributed ones as `global.NAME`.
    drops: BTreeMap<String, u64>,
    /// Device-layer counters and `events_lost`.
    device: BTreeMap<String, u64>,
}

impl Stats {
    /// A `stats --json` text, read.
    fn parse(text: &str) -> Result<Stats, String> {
        let j: Value =
            serde_json::from_str(text).map_err(|e| format!("stats --json is not JSON: {e}"))?;
        let net = j["networks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|n| n["vni"].as_u64() == Some(42))
            .ok_or("stats --json has no network 42")?;
        let map = |obj: &Value, prefix: &str| -> BTreeMap<String, u64> {
            obj.as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((format!("{prefix}{k}"), v.as_u64()?)))
                .collect()
        };
        let mut drops = map(&net["drops"], "");
        drops.extend(map(&j["global_drops"], "global."));
        let mut device = map(&j["daemon"], "");
        device.insert(
            "events_lost".into(),
            j["events_lost"].as_u64().ok_or("no events_lost")?,
        );
        Ok(Stats {
            fdb_entries: j["fdb_entries"].as_u64().ok_or("no fdb_entries")?,
            counters: map(&net["counters"], ""),
            drops,
            device,
        })
    }

    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    fn drop_count(&self, name: &str) -> u64 {
        self.drops.get(name).copied().unwrap_or(0)
    }
}

/// Counters that must stay zero under this load, with their values when they did not: every
/// drop reason but [`EXPECTED_DROPS`] (unattributed drops included), I/O errors, lost events,
/// frozen duplicates, a full FDB.
fn unexpected(s: &Stats) -> Vec<(String, u64)> {
    let drops = s
        .drops
        .iter()
        .filter(|(k, _)| !EXPECTED_DROPS.contains(&k.as_str()))
        .map(|(k, v)| (format!("drop {k}"), *v));
    let device = s
        .device
        .iter()
        .filter(|(k, _)| UNEXPECTED_DEVICE.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), *v));
    let counters = s
        .counters
        .iter()
        .filter(|(k, _)| UNEXPECTED_COUNTERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), *v));
    drops
        .chain(device)
        .chain(counters)
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// How far RSS may grow over its warm-up peak: 2 MiB or 10 %, whichever is larger. See
/// RELIABILITY.md ("Long runs") for why.
fn rss_bound(warm_kib: u64) -> u64 {
    (2 * 1024).max(warm_kib / 10)
}

/// The most FDB entries ageing allows: what the churn learns in ageing + 2 s of sweep and
/// scheduling slack, doubled, plus the hosts. More means ageing is not keeping up.
fn fdb_bound() -> u64 {
    2 * u64::from(2 * CHURN_PER_SIDE) * (AGEING_SECS + 2) + 64
}

/// (VmRSS, RssAnon) of `pid` in KiB. RssAnon (heap, stacks) is where a leak shows; the rest is
/// mostly code pages, which grow a little as rarer paths run for the first time.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmRSS:")?, field("RssAnon:")?))
}

/// The last `A/B packets` line a ping printed on SIGQUIT: (transmitted, received).
fn ping_quit_line(log: &str) -> Option<(u64, u64)> {
    let line = log
        .lines()
        .rev()
        .map(|l| l.trim_start_matches('\r'))
        .find(|l| l.contains(" packets, "))?;
    let (rx, rest) = line.split_once('/')?;
    let tx = rest.split_whitespace().next()?;
    Some((tx.parse().ok()?, rx.trim().parse().ok()?))
}

/// A ping's final `N packets transmitted, M received`: (transmitted, received).
fn ping_summary(log: &str) -> Option<(u64, u64)> {
    let line = log.lines().find(|l| l.contains("packets transmitted"))?;
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    Some((*nums.first()?, *nums.get(1)?))
}

/// The last `macs N` line of a churn generator.
fn churned(log: &str) -> u64 {
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix("macs ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// Two decimals (10 KiB): enough to see a slow trend from one minute to the next.
fn mib(kib: u64) -> String {
    format!("{:.2} MiB", kib as f64 / 1024.0)
}

/// `12345` -> `12.3k`, `1234567` -> `1.23M`: short enough for one progress line.
fn short(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.2}M", n as f64 / 1e6),
    }
}

/// `1234567` -> `1,234,567`, for the summary.
fn thousands(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        _ => format!("{},{:03}", thousands(n / 1000), n % 1000),
    }
}

// ---- the soak ----

/// One daemon and what was seen of it.
#[derive(Debug)]
struct Daemon {
    name: &'static str,
    control: PathBuf,
    pid: u32,
    rss_min: u64,
    rss_max: u64,
    /// The peak during warm-up: the reference for the bound.
    rss_warm: u64,
    rss_last: u64,
    /// RssAnon: the warm-up peak and the last value.
    anon_warm: u64,
    anon_last: u64,
    fdb_max: u64,
    stats: Stats,
    /// `stats` at the last progress line, for per-minute deltas.
    minute: Stats,
}

/// A ping running for the whole soak, sampled with SIGQUIT.
#[derive(Debug, Default)]
struct Pinger {
    name: &'static str,
    /// (transmitted, received) at the last sample.
    last: (u64, u64),
    total: (u64, u64),
}

#[derive(Debug, Default)]
struct Migration {
    /// Placements so far (the initial one is 0); the host is on side `placement % 2`.
    placement: u64,
    moves: u64,
    /// Moves whose pings across the tunnel (and to the near host) were not all answered.
    ping_failures: u64,
    /// Moves that had to wait for the previous one's pings.
    late: u64,
    running: Option<Child>,
}

#[derive(Debug, Default)]
struct Iperf {
    forward_bytes: u64,
    reverse_bytes: u64,
    retransmits: u64,
}

/// Everything the summary needs.
#[derive(Debug)]
struct Soak {
    minutes: u64,
    started: Instant,
    elapsed: Duration,
    daemons: Vec<Daemon>,
    pingers: Vec<Pinger>,
    migration: Migration,
    churned: u64,
    iperf: Option<Iperf>,
    clean_exit: Vec<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let minutes = match parse_args(&args) {
        Ok(Some(minutes)) => minutes,
        Ok(None) => {
            self_check();
            println!(
                "soak: self-check passed (parsers, bounds); the soak itself runs with \
                 `cargo xtask soak [--minutes N]` as root"
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(minutes) {
        Ok(()) => {
            println!("soak: passed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(minutes: u64) -> Result<(), String> {
    preflight()?;
    // On Ctrl-C the loop stops the load and the daemons in order (pings print their totals,
    // the daemons must exit cleanly) and prints the summary; the harness removes everything
    // if that takes longer than this.
    common::stop_grace(Duration::from_secs(60));
    let mut lab = Lab::new("soak");
    let mut soak = Soak {
        minutes,
        started: Instant::now(),
        elapsed: Duration::ZERO,
        daemons: Vec::new(),
        pingers: Vec::new(),
        migration: Migration::default(),
        churned: 0,
        iperf: None,
        clean_exit: Vec::new(),
    };
    let outcome = setup(&mut lab, &mut soak).and_then(|()| main_loop(&mut lab, &mut soak));
    if let Some(mut child) = soak.migration.running.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let completed = outcome.is_ok();
    let outcome = match (outcome, finish(&mut lab, &mut soak, completed)) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    };
    if !soak.daemons.is_empty() {
        print_summary(&soak, outcome.as_ref().err());
    }
    lab.keep = outcome.is_err();
    drop(lab);
    outcome
}

/// `Some(minutes)` with `--minutes N`; `None` without it, whatever else is given (`cargo test`
/// passes the test harness's flags to every test binary).
fn parse_args(args: &[String]) -> Result<Option<u64>, String> {
    let Some(at) = args.iter().position(|a| a == "--minutes") else {
        return Ok(None);
    };
    let v = args
        .get(at + 1)
        .ok_or("`--minutes` needs a value (see `cargo xtask help`)")?;
    let minutes = v
        .parse()
        .ok()
        .filter(|m| *m >= 1)
        .ok_or_else(|| format!("`--minutes {v}`: a whole number of minutes, >= 1"))?;
    if let Some(other) = args
        .iter()
        .enumerate()
        .find(|(i, _)| *i != at && *i != at + 1)
    {
        return Err(format!(
            "unexpected argument `{}` (see `cargo xtask help`)",
            other.1
        ));
    }
    Ok(Some(minutes))
}

fn preflight() -> Result<(), String> {
    let missing = common::missing(&["ping", "iperf3", "sh"]);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "soak needs {} (`cargo xtask setup` installs the tools; run it as root)",
            missing.join(", ")
        ))
    }
}

/// Fails with "interrupted" once Ctrl-C (or SIGTERM, SIGHUP) arrived.
fn check_stop() -> Result<(), String> {
    if common::stopped() {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// `ip ARGS`, the arguments split on spaces (names here never contain any).
fn ip(args: &str) -> Result<String, String> {
    let args: Vec<&str> = args.split_whitespace().collect();
    common::run("ip", &args)
}

/// `12.3s` / `4m05s`.
fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

fn setup(lab: &mut Lab, soak: &mut Soak) -> Result<(), String> {
    let h1 = lab.try_netns("h1")?;
    let h2 = lab.try_netns("h2")?;
    let vm = lab.try_netns("vm")?;
    let hosts = [h1.clone(), h2.clone()];
    ip(&format!(
        "link add ul netns {h1} type veth peer name ul netns {h2}"
    ))?;
    for (i, h) in hosts.iter().enumerate() {
        let n = i + 1;
        ip(&format!("-n {h} addr add 10.0.0.{n}/24 dev ul"))?;
        ip(&format!("-n {h} link set ul up"))?;
        // Bridge ageing as short as the VTEPs' (10 s), so churned MACs leave the kernel too.
        ip(&format!(
            "-n {h} link add br42 type bridge ageing_time 1000"
        ))?;
        ip(&format!("-n {h} link set br42 up"))?;
        ip(&format!("-n {h} addr add 192.168.42.{n}/24 dev br42"))?;
        // The migrating host's two cables, one into each host's bridge. MTU as the TAP's, so
        // nothing it sends is too big for the tunnel.
        let (side, port) = (["eth-a", "eth-b"][i], format!("vm{n}"));
        ip(&format!(
            "link add {side} netns {vm} type veth peer name {port} netns {h}"
        ))?;
        ip(&format!("-n {vm} link set {side} mtu 1450"))?;
        ip(&format!("-n {h} link set {port} mtu 1450 master br42 up"))?;
        ip(&format!("-n {vm} addr add {VM_IP}/24 dev {side}"))?;
        ip(&format!("-n {vm} link set {side} address {}", vm_mac(0)))?;
    }
    ip(&format!("-n {vm} link set eth-a up"))?;
    check_stop()?;

    for (i, h) in hosts.iter().enumerate() {
        let name = ["h1", "h2"][i];
        let control = lab.dir.join(format!("{name}.sock"));
        let local = format!("10.0.0.{}", i + 1);
        let remote = format!("10.0.0.{}", 2 - i);
        let ageing = AGEING_SECS.to_string();
        lab.start_vtep(
            h,
            &format!("vtep-{name}"),
            &control,
            &[
                "--tap", "vt42", "--vni", VNI, "--local", &local, "--remote", &remote, "--bridge",
                "br42", "--ageing", &ageing,
            ],
        )
        .map_err(|e| format!("native-vtep on {name}: {e}"))?;
        let stats = Stats::parse(&lab.try_ctl(&control, &["stats", "--json"])?)?;
        // `ip netns exec` execs the program, so the child's pid is the daemon's.
        let pid = lab.pid(&format!("vtep-{name}"));
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "native-vtep" {
            return Err(format!(
                "pid {pid} is `{}`, not native-vtep: cannot read the daemon's RSS",
                comm.trim()
            ));
        }
        let (rss, anon) = rss_kib(pid).unwrap_or((0, 0));
        soak.daemons.push(Daemon {
            name,
            control,
            pid,
            rss_min: rss,
            rss_max: rss,
            rss_warm: rss,
            rss_last: rss,
            anon_warm: anon,
            anon_last: anon,
            fdb_max: stats.fdb_entries,
            stats: stats.clone(),
            minute: stats,
        });
    }
    check_stop()?;

    // Everything answers before the load starts: a failure here is a setup problem.
    for (ns, dst) in [(&h1, "192.168.42.2"), (&h1, VM_IP), (&h2, VM_IP)] {
        common::run(
            "ip",
            &[
                "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", dst,
            ],
        )
        .map_err(|e| format!("setup: no overlay connectivity: {e}"))?;
    }

    let churn = lab.script("churn.py", CHURN);
    lab.script("garp.py", GARP);
    let seconds = (soak.minutes * 60).to_string();
    lab.spawn(
        &h2,
        "iperf3-server",
        "iperf3",
        // --forceflush: its stdout is a file, and we wait for "listening".
        &["-s", "-1", "-B", "192.168.42.2", "--forceflush"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.log("iperf3-server").contains("listening") {
        if Instant::now() > deadline || lab.exited("iperf3-server").is_some() {
            return Err(format!(
                "iperf3 server did not start\n{}",
                lab.tail("iperf3-server", 10)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let rate = CHURN_PER_SIDE.to_string();
    let load: [(&str, &str, &str, Vec<&str>); 5] = [
        (
            &h1,
            "iperf3-client",
            "iperf3",
            vec![
                "-c",
                "192.168.42.2",
                "-B",
                "192.168.42.1",
                "--bidir",
                "-b",
                IPERF_RATE,
                "-t",
                &seconds,
                "-i",
                "0",
                "-J",
            ],
        ),
        (
            &h2,
            "ping-steady",
            "ping",
            vec!["-n", "-q", "-i", "0.2", "192.168.42.1"],
        ),
        (&h1, "ping-vm", "ping", vec!["-n", "-q", "-i", "0.1", VM_IP]),
        (&h1, "churn-h1", "python3", vec![&churn, "br42", &rate, "1"]),
        (&h2, "churn-h2", "python3", vec![&churn, "br42", &rate, "2"]),
    ];
    for (ns, name, program, args) in load {
        lab.spawn(ns, name, program, &args);
    }
    soak.pingers = vec![
        Pinger {
            name: "ping-steady",
            ..Pinger::default()
        },
        Pinger {
            name: "ping-vm",
            ..Pinger::default()
        },
    ];
    check_stop()?;

    let d = &soak.daemons;
    println!(
        "soak: set up namespaces {p}h1, {p}h2 (veth underlay 10.0.0.1 <-> 10.0.0.2) and {p}vm; \
         release native-vtep pid {} on h1 and pid {} on h2, VNI 42, --ageing {AGEING_SECS}, \
         TAP vt42 in bridge br42 (192.168.42.1 / .2)",
        d[0].pid,
        d[1].pid,
        p = lab.prefix
    );
    println!(
        "soak: load for {} min: iperf3 TCP --bidir {IPERF_RATE}bit/s each way h1 <-> h2; ping \
         h2 -> h1 every 0.2 s; ping h1 -> vm ({VM_IP}) every 0.1 s while vm moves between h1 \
         and h2 every second (a new MAC every {PLACEMENTS_PER_MAC} placements, pool of \
         {MAC_POOL}); {CHURN_PER_SIDE} fresh random MACs/s from each of h1 and h2",
        soak.minutes
    );
    println!(
        "soak: fails if RSS grows past its warm-up ({}s) peak by more than max(2 MiB, 10%), an \
         unexpected counter leaves 0 (any drop but {}; {}; {}), the FDB exceeds {} entries, \
         traffic stops, or a daemon dies; logs in {}",
        WARMUP.as_secs(),
        EXPECTED_DROPS.join("/"),
        UNEXPECTED_DEVICE.join("/"),
        UNEXPECTED_COUNTERS.join("/"),
        fdb_bound(),
        lab.dir.display()
    );
    Ok(())
}

/// The migrating host's MAC for placement `p`.
fn vm_mac(p: u64) -> String {
    format!("02:00:00:00:01:{:02x}", (p / PLACEMENTS_PER_MAC) % MAC_POOL)
}

/// Sleeps until `when`, waking every 100 ms to notice Ctrl-C; `false` if interrupted.
fn sleep_until(when: Instant) -> bool {
    loop {
        if common::stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= when {
            return true;
        }
        std::thread::sleep((when - now).min(Duration::from_millis(100)));
    }
}

fn main_loop(lab: &mut Lab, soak: &mut Soak) -> Result<(), String> {
    let total = Duration::from_secs(soak.minutes * 60);
    let start = Instant::now();
    soak.started = start;
    let mut tick: u64 = 0;
    loop {
        tick += 1;
        if !sleep_until(start + Duration::from_secs(tick)) {
            soak.elapsed = start.elapsed();
            return Err(format!("interrupted after {}", fmt_duration(soak.elapsed)));
        }
        soak.elapsed = start.elapsed();
        let end = soak.elapsed >= total;
        check_alive(lab, soak, total)?;
        sample_rss(soak)?;
        if !end {
            migrate(lab, soak)?;
        }
        if tick.is_multiple_of(10) || end {
            sample_stats(lab, soak)?;
        }
        if tick.is_multiple_of(60) || end {
            progress(lab, soak, tick.is_multiple_of(60))?;
        }
        if end {
            return Ok(());
        }
    }
}

/// Every daemon and load generator still runs (iperf3 may finish in the last seconds).
fn check_alive(lab: &mut Lab, soak: &Soak, total: Duration) -> Result<(), String> {
    for name in lab.names() {
        let Some(status) = lab.exited(&name) else {
            continue;
        };
        let iperf = name.starts_with("iperf3");
        if iperf && status.success() && soak.elapsed + Duration::from_secs(15) >= total {
            continue;
        }
        let what = if let Some(host) = name.strip_prefix("vtep-") {
            format!("native-vtep on {host} died")
        } else {
            format!("load generator {name} stopped")
        };
        return Err(format!(
            "{what} after {} ({status})\n{}",
            fmt_duration(soak.elapsed),
            lab.tail(&name, 20)
        ));
    }
    Ok(())
}

fn sample_rss(soak: &mut Soak) -> Result<(), String> {
    let warm = soak.elapsed <= WARMUP;
    for d in &mut soak.daemons {
        let (rss, anon) =
            rss_kib(d.pid).ok_or_else(|| format!("cannot read VmRSS of {}", d.name))?;
        d.rss_last = rss;
        d.anon_last = anon;
        d.rss_min = d.rss_min.min(rss);
        d.rss_max = d.rss_max.max(rss);
        if warm {
            d.rss_warm = d.rss_warm.max(rss);
            d.anon_warm = d.anon_warm.max(anon);
        } else if rss > d.rss_warm + rss_bound(d.rss_warm) {
            return Err(format!(
                "native-vtep on {} grew to {} RSS after {}: more than its warm-up peak {} + {} \
                 (a leak?)",
                d.name,
                mib(rss),
                fmt_duration(soak.elapsed),
                mib(d.rss_warm),
                mib(rss_bound(d.rss_warm))
            ));
        }
    }
    Ok(())
}

/// One move of the migrating host to the other side: the cable on this side goes down, the
/// other comes up (with the next MAC every few placements, announced by GARP), then a ping
/// across the tunnel and one to the near host make both VTEPs and both hosts learn where it is.
fn migrate(lab: &mut Lab, soak: &mut Soak) -> Result<(), String> {
    let m = &mut soak.migration;
    if let Some(mut child) = m.running.take() {
        let mut status = child.try_wait().ok().flatten();
        if status.is_none() {
            m.late += 1;
            let deadline = Instant::now() + Duration::from_secs(5);
            while status.is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                status = child.try_wait().ok().flatten();
            }
            if status.is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if !status.is_some_and(|s| s.success()) {
            m.ping_failures += 1;
        }
    }
    let from = m.placement % 2;
    m.placement += 1;
    let to = m.placement % 2;
    let ifs = ["eth-a", "eth-b"];
    let mut script = format!(
        "ip link set {} down && ip link set {} address {} && ip link set {} up",
        ifs[from as usize],
        ifs[to as usize],
        vm_mac(m.placement),
        ifs[to as usize]
    );
    if m.placement.is_multiple_of(PLACEMENTS_PER_MAC) {
        let _ = write!(
            script,
            " && python3 {} {} {VM_IP}",
            lab.dir.join("garp.py").display(),
            ifs[to as usize]
        );
    }
    let _ = write!(
        script,
        " && ping -n -q -c 1 -W 2 192.168.42.{} >/dev/null && ping -n -q -c 1 -W 2 192.168.42.{} \
         >/dev/null",
        from + 1,
        to + 1
    );
    let vm = format!("{}vm", lab.prefix);
    // In a process group of its own, as the lab's processes (see `common`).
    let child = Command::new("ip")
        .args(["netns", "exec", &vm, "sh", "-c", &script])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not move the host: {e}"))?;
    m.running = Some(child);
    m.moves += 1;
    Ok(())
}

fn sample_stats(lab: &mut Lab, soak: &mut Soak) -> Result<(), String> {
    for d in &mut soak.daemons {
        let text = lab
            .try_ctl(&d.control, &["stats", "--json"])
            .map_err(|e| format!("native-vtep on {} does not answer: {e}", d.name))?;
        let stats = Stats::parse(&text)?;
        d.fdb_max = d.fdb_max.max(stats.fdb_entries);
        d.stats = stats;
        let bad = unexpected(&d.stats);
        if !bad.is_empty() {
            return Err(format!(
                "native-vtep on {}: unexpected counters after {}: {}\n{}",
                d.name,
                fmt_duration(soak.elapsed),
                bad.iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                lab.tail(&format!("vtep-{}", d.name), 20)
            ));
        }
        if d.stats.fdb_entries > fdb_bound() {
            return Err(format!(
                "native-vtep on {}: {} FDB entries after {}, more than ageing allows ({}): \
                 ageing is not keeping up",
                d.name,
                d.stats.fdb_entries,
                fmt_duration(soak.elapsed),
                fdb_bound()
            ));
        }
    }
    Ok(())
}

/// Asks each ping for its counts (SIGQUIT); returns the change since the last call.
fn sample_pings(lab: &mut Lab, soak: &mut Soak) -> Vec<(u64, u64)> {
    let mut deltas = Vec::new();
    for p in &mut soak.pingers {
        let before = lab.log(p.name).matches(" packets, ").count();
        lab.signal(p.name, "QUIT");
        let deadline = Instant::now() + Duration::from_secs(1);
        while lab.log(p.name).matches(" packets, ").count() == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let now = ping_quit_line(&lab.log(p.name)).unwrap_or(p.last);
        deltas.push((now.0 - p.last.0.min(now.0), now.1 - p.last.1.min(now.1)));
        p.last = now;
        p.total = now;
    }
    deltas
}

/// The line printed each minute (and at the end); also exercises `fdb show --json`.
fn progress(lab: &mut Lab, soak: &mut Soak, full_minute: bool) -> Result<(), String> {
    for d in &soak.daemons {
        let text = lab
            .try_ctl(&d.control, &["fdb", "show", "--json"])
            .map_err(|e| format!("native-vtep on {} does not answer: {e}", d.name))?;
        serde_json::from_str::<Value>(&text)
            .map_err(|e| format!("fdb show --json of {}: {e}", d.name))?;
    }
    let pings = sample_pings(lab, soak);
    soak.churned = churned(&lab.log("churn-h1")) + churned(&lab.log("churn-h2"));
    let d = &soak.daemons;
    let pair = |f: &dyn Fn(&Daemon) -> String| format!("{}/{}", f(&d[0]), f(&d[1]));
    let delta = |d: &Daemon, c: &str| d.stats.counter(c) - d.minute.counter(c);
    let expected: u64 = d
        .iter()
        .flat_map(|d| {
            EXPECTED_DROPS
                .iter()
                .map(move |r| d.stats.drop_count(r) - d.minute.drop_count(r))
        })
        .sum();
    println!(
        "soak {:>6} | rss {} | fdb {} | encap {} decap {} | flood {} | learned {} aged {} | \
         moves {} (fdb moved {}) | ping loss steady {}/{} vm {}/{} | expected drops {} | \
         unexpected 0",
        fmt_duration(soak.elapsed),
        pair(&|d| mib(d.rss_last)),
        pair(&|d| d.stats.fdb_entries.to_string()),
        pair(&|d| short(delta(d, "encap_frames"))),
        pair(&|d| short(delta(d, "decap_frames"))),
        pair(&|d| short(delta(d, "flooded_frames"))),
        pair(&|d| short(delta(d, "learned"))),
        pair(&|d| short(delta(d, "aged_out"))),
        soak.migration.moves,
        pair(&|d| d.stats.counter("moved").to_string()),
        pings[0].0 - pings[0].1,
        pings[0].0,
        pings[1].0 - pings[1].1,
        pings[1].0,
        expected,
    );
    // A minute without tunnel traffic through a daemon means the data path is stuck.
    if full_minute {
        for d in &soak.daemons {
            if delta(d, "encap_frames") == 0 || delta(d, "decap_frames") == 0 {
                return Err(format!(
                    "no traffic through native-vtep on {} in the last minute\n{}",
                    d.name,
                    lab.tail(&format!("vtep-{}", d.name), 20)
                ));
            }
        }
    }
    for d in &mut soak.daemons {
        d.minute = d.stats.clone();
    }
    Ok(())
}

/// Stops the load (pings print their totals, iperf3 its report), then the daemons with SIGTERM,
/// which must exit cleanly.
fn finish(lab: &mut Lab, soak: &mut Soak, completed: bool) -> Result<(), String> {
    // Setup failed before the load started: the lab's drop stops what there is.
    if !lab.names().iter().any(|n| n == "churn-h2") {
        return Ok(());
    }
    for p in &mut soak.pingers {
        if lab.stop_with(p.name, "INT", 5).is_some()
            && let Some(total) = ping_summary(&lab.log(p.name))
        {
            p.total = total;
        }
    }
    for name in ["churn-h1", "churn-h2"] {
        lab.stop_with(name, "TERM", 5);
    }
    soak.churned = churned(&lab.log("churn-h1")) + churned(&lab.log("churn-h2"));
    if completed {
        // It ends by itself (`-t` is the soak's length) and then prints its JSON report.
        if lab.wait_exit("iperf3-client", 30).is_some() {
            let report = serde_json::from_str::<Value>(&lab.log("iperf3-client")).ok();
            soak.iperf = report.map(|j| {
                let end = &j["end"];
                let get = |sum: &str, key: &str| end[sum][key].as_u64().unwrap_or(0);
                Iperf {
                    forward_bytes: get("sum_received", "bytes"),
                    reverse_bytes: get("sum_received_bidir_reverse", "bytes"),
                    retransmits: get("sum_sent", "retransmits")
                        + get("sum_sent_bidir_reverse", "retransmits"),
                }
            });
        }
    }
    let mut errors = Vec::new();
    for d in &soak.daemons {
        let name = format!("vtep-{}", d.name);
        if lab.exited(&name).is_some() {
            continue; // Already reported as dead.
        }
        match lab.stop_with(&name, "TERM", 10) {
            Some(status) if status.success() => soak.clean_exit.push(d.name.to_string()),
            Some(status) => errors.push(format!(
                "native-vtep on {} exited with {status} on SIGTERM\n{}",
                d.name,
                lab.tail(&name, 20)
            )),
            None => errors.push(format!(
                "native-vtep on {} did not stop within 10 s of SIGTERM",
                d.name
            )),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn print_summary(soak: &Soak, error: Option<&String>) {
    let d = &soak.daemons;
    let both = |f: &dyn Fn(&Daemon) -> String| format!("h1 {}, h2 {}", f(&d[0]), f(&d[1]));
    let sum = |c: &str| d.iter().map(|d| d.stats.counter(c)).sum::<u64>();
    let date = Command::new("date")
        .arg("+%F")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let outcome = match error {
        None => "passed".to_string(),
        Some(e) if e.starts_with("interrupted") => format!("{e} (not a pass)"),
        Some(e) => format!("FAILED: {}", e.lines().next().unwrap_or("")),
    };
    let loss = |p: &Pinger| {
        let (tx, rx) = p.total;
        let pct = if tx == 0 {
            0.0
        } else {
            100.0 * (tx - rx.min(tx)) as f64 / tx as f64
        };
        format!(
            "{} lost of {} ({pct:.2} %)",
            thousands(tx - rx.min(tx)),
            thousands(tx)
        )
    };
    let expected = EXPECTED_DROPS
        .iter()
        .map(|r| {
            format!(
                "{r} {}",
                thousands(d.iter().map(|d| d.stats.drop_count(r)).sum())
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let unexpected_total: u64 = d
        .iter()
        .flat_map(|d| unexpected(&d.stats))
        .map(|(_, v)| v)
        .sum();
    let m = &soak.migration;
    let mut t = String::new();
    let mut row = |k: &str, v: String| {
        let _ = writeln!(t, "| {k} | {v} |");
    };
    row("date", date);
    row(
        "duration",
        format!(
            "{} of {} min (warm-up {} s)",
            fmt_duration(soak.elapsed),
            soak.minutes,
            WARMUP.as_secs()
        ),
    );
    row(
        "RSS min / max",
        both(&|d| format!("{} / {}", mib(d.rss_min), mib(d.rss_max))),
    );
    row(
        "RSS warm-up peak -> end (bound)",
        both(&|d| {
            format!(
                "{} -> {} (+{:.2} MiB; bound +{})",
                mib(d.rss_warm),
                mib(d.rss_last),
                (d.rss_last as f64 - d.rss_warm as f64) / 1024.0,
                mib(rss_bound(d.rss_warm))
            )
        }),
    );
    row(
        "of which anon (heap, stacks)",
        both(&|d| format!("{} -> {}", mib(d.anon_warm), mib(d.anon_last))),
    );
    row(
        "FDB size max",
        both(&|d| d.fdb_max.to_string()) + &format!(" (ageing {AGEING_SECS} s)"),
    );
    row(
        "migrations",
        format!(
            "{} (FDB moves {}; {} whose pings failed, {} late)",
            thousands(m.moves),
            both(&|d| thousands(d.stats.counter("moved"))),
            m.ping_failures,
            m.late
        ),
    );
    row(
        "MACs churned",
        format!(
            "{} (learned {}; aged out {})",
            thousands(soak.churned),
            both(&|d| thousands(d.stats.counter("learned"))),
            both(&|d| thousands(d.stats.counter("aged_out")))
        ),
    );
    row(
        "packets",
        format!(
            "encap {}, decap {} (both daemons); flooded {}",
            thousands(sum("encap_frames")),
            thousands(sum("decap_frames")),
            thousands(sum("flooded_frames"))
        ),
    );
    if let Some(i) = &soak.iperf {
        row(
            "iperf3",
            format!(
                "{IPERF_RATE}bit/s each way: {:.0} MB h1->h2, {:.0} MB h2->h1, {} retransmits",
                i.forward_bytes as f64 / 1e6,
                i.reverse_bytes as f64 / 1e6,
                thousands(i.retransmits)
            ),
        );
    }
    if soak.pingers.len() == 2 {
        row("ping loss, steady h2 -> h1", loss(&soak.pingers[0]));
        row("ping loss, h1 -> migrating vm", loss(&soak.pingers[1]));
    }
    row("expected drops", expected);
    row("unexpected errors", thousands(unexpected_total));
    if !soak.clean_exit.is_empty() {
        row("clean SIGTERM exit", soak.clean_exit.join(", "));
    }
    row("result", outcome);
    println!();
    println!("soak summary (for RELIABILITY.md):");
    println!();
    println!("| soak | |");
    println!("| --- | --- |");
    print!("{t}");
    println!();
}

/// What `cargo test` checks of the soak without running it (a test binary without the test
/// harness: plain asserts).
fn self_check() {
    // Stats, and which counters are unexpected.
    let text = r#"{"daemon": {"tap_rx_frames": 5, "udp_send_errors": 0}, "events_lost": 0,
        "fdb_entries": 7, "global_drops": {"malformed_tunnel": 0},
        "networks": [{"vni": 42, "counters": {"learned": 3, "duplicates_frozen": 0},
                      "drops": {"same_port": 4, "too_big": 0}}]}"#;
    let mut s = Stats::parse(text).unwrap();
    assert_eq!(s.fdb_entries, 7);
    assert_eq!(s.counter("learned"), 3);
    assert!(unexpected(&s).is_empty(), "same_port is expected");
    s.drops.insert("global.malformed_tunnel".into(), 1);
    s.device.insert("udp_send_errors".into(), 2);
    assert_eq!(
        unexpected(&s),
        vec![
            ("drop global.malformed_tunnel".to_string(), 1),
            ("udp_send_errors".to_string(), 2)
        ]
    );
    assert!(Stats::parse(r#"{"networks": []}"#).is_err());

    // Ping and churn lines.
    let log = "PING 1.2.3.4\n\r6/7 packets, 14% loss, min/avg/ewma/max = 1/2/3/4 ms\n\
               \r9/10 packets, 10% loss\n";
    assert_eq!(ping_quit_line(log), Some((10, 9)));
    let end = "--- x ping statistics ---\n12 packets transmitted, 11 received, 8% packet loss";
    assert_eq!(ping_summary(end), Some((12, 11)));
    assert_eq!(churned("macs 5\nmacs 130\n"), 130);

    // Bounds and formats.
    assert_eq!(rss_bound(4096), 2048);
    assert_eq!(rss_bound(40_960), 4096);
    assert_eq!(vm_mac(0), "02:00:00:00:01:00");
    assert_eq!(vm_mac(4), "02:00:00:00:01:01");
    assert_eq!(vm_mac(16), "02:00:00:00:01:00");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(short(12_345), "12.3k");
    assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.2s");
    assert_eq!(fmt_duration(Duration::from_secs(65)), "1m05s");

    // Arguments: the soak runs only with --minutes.
    let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(args(&[]), Ok(None));
    assert_eq!(args(&["--test-threads=1", "--nocapture"]), Ok(None));
    assert_eq!(args(&["--minutes", "3"]), Ok(Some(3)));
    assert!(args(&["--minutes", "0"]).is_err());
    assert!(args(&["--minutes"]).is_err());
    assert!(args(&["--minutes", "2", "--fast"]).is_err());
}
