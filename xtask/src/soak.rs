//! `cargo xtask soak --minutes N`: two release native-vteps in network namespaces under steady,
//! paced load for N minutes, watched for leaks, unexpected errors and deaths.
//!
//! Topology (every namespace is named `olsk<pid>-...`, removed at the end, on error and on
//! Ctrl-C; namespaces of an earlier run that was killed are removed at the next start):
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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::env::{self, Ctx};

/// Namespace prefix: `olsk<pid>-`, so a run can tell its own from a dead run's.
const PREFIX: &str = "olsk";
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

// ---- signals (std has no API for them; libc is linked anyway) ----

static STOP: AtomicBool = AtomicBool::new(false);
const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;
const SIGQUIT: i32 = 3;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn kill(pid: i32, sig: i32) -> i32;
}

extern "C" fn on_signal(_: i32) {
    STOP.store(true, Ordering::SeqCst);
}

/// Ctrl-C, SIGTERM and SIGHUP set [`STOP`]; the loop then tears everything down. Children run
/// in their own process groups, so a terminal's Ctrl-C reaches only us and we stop them in order.
fn catch_signals() {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            signal(sig, on_signal);
        }
    }
}

fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sends `sig` to a child that has not been reaped: its pid cannot have been reused.
fn signal_child(child: &mut Child, sig: i32) {
    if child.try_wait().ok().flatten().is_none() {
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        // SAFETY: kill(2) takes plain integers; the pid is our unreaped child's.
        unsafe {
            kill(pid, sig);
        }
    }
}

// ---- the lab: namespaces and processes, always torn down ----

#[derive(Debug)]
struct Proc {
    name: String,
    child: Child,
}

/// This run's namespaces, background processes and log folder. Dropping it stops the processes
/// and deletes the namespaces, whatever path led there.
#[derive(Debug)]
struct Lab {
    prefix: String,
    dir: PathBuf,
    path: std::ffi::OsString,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    keep_dir: bool,
}

impl Lab {
    fn new(ctx: &Ctx) -> Result<Lab, String> {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("overlay-lab-soak-{pid}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Lab {
            prefix: format!("{PREFIX}{pid}-"),
            dir,
            path: ctx.path().to_owned(),
            namespaces: Vec::new(),
            procs: Vec::new(),
            keep_dir: true,
        })
    }

    /// A command in its own process group (see [`catch_signals`]) with the project's `PATH`.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", &self.path)
            .stdin(Stdio::null())
            .process_group(0);
        cmd
    }

    /// Runs `program args`; its stdout, or an error with its stderr.
    fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let shown = format!("{program} {}", args.join(" "));
        let out = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| format!("could not run `{shown}`: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "`{shown}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// `ip ARGS`, the arguments split on spaces (names here never contain any).
    fn ip(&self, args: &str) -> Result<String, String> {
        let args: Vec<&str> = args.split_whitespace().collect();
        self.run("ip", &args)
    }

    /// Namespace `<prefix><name>`, loopback up, IPv6 off (no router solicitations or MLD
    /// reports in the counters).
    fn netns(&mut self, name: &str) -> Result<String, String> {
        let full = format!("{}{name}", self.prefix);
        self.ip(&format!("netns add {full}"))?;
        self.namespaces.push(full.clone());
        self.ip(&format!("-n {full} link set lo up"))?;
        self.run(
            "ip",
            &[
                "netns",
                "exec",
                &full,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        )?;
        Ok(full)
    }

    /// Starts `program args` in `ns` in the background, output to `<dir>/<name>.log`.
    fn spawn(&mut self, ns: &str, name: &str, program: &str, args: &[&str]) -> Result<(), String> {
        let log = self.dir.join(format!("{name}.log"));
        let file = fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = self
            .command("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("could not start {program} in {ns}: {e}"))?;
        self.procs.push(Proc {
            name: name.into(),
            child,
        });
        Ok(())
    }

    fn proc(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .expect("a process this module started")
    }

    fn pid(&mut self, name: &str) -> u32 {
        self.proc(name).child.id()
    }

    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// The last `n` lines of a process's log, indented, for error messages.
    fn tail(&self, name: &str, n: usize) -> String {
        let log = self.log(name);
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(n);
        let mut out = format!(
            "  --- last lines of {} ---\n",
            self.dir.join(format!("{name}.log")).display()
        );
        for line in &lines[from..] {
            let _ = writeln!(out, "  {}", line.trim_start_matches('\r'));
        }
        out
    }

    /// `Some(status)` once the process has exited.
    fn exited(&mut self, name: &str) -> Option<ExitStatus> {
        self.proc(name).child.try_wait().ok().flatten()
    }

    fn signal(&mut self, name: &str, sig: i32) {
        signal_child(&mut self.proc(name).child, sig);
    }

    /// Signals `name` and waits up to `secs` for it to exit; `None` if it did not.
    fn stop(&mut self, name: &str, sig: i32, secs: u64) -> Option<ExitStatus> {
        self.signal(name, sig);
        self.wait(name, secs)
    }

    /// Waits up to `secs` for `name` to exit; `None` if it did not.
    fn wait(&mut self, name: &str, secs: u64) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.exited(name) {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn script(&self, name: &str, text: &str) -> Result<String, String> {
        let path = self.dir.join(name);
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path.display().to_string())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in &mut self.procs {
            signal_child(&mut p.child, SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for p in &mut self.procs {
            while p.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        for ns in self.namespaces.iter().rev() {
            remove_namespace(ns);
        }
        if self.keep_dir {
            println!("soak: logs kept in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Kills whatever still runs in `ns` (a killed run's orphans), then deletes it.
fn remove_namespace(ns: &str) {
    let quiet = |args: &[&str]| {
        Command::new("ip")
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .output()
    };
    if let Ok(out) = quiet(&["netns", "pids", ns]) {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill(2) takes plain integers. The pid was listed as living in our
                // namespace just now; nothing else can be in it.
                unsafe {
                    kill(pid, SIGKILL);
                }
            }
        }
    }
    let _ = quiet(&["netns", "del", ns]);
}

/// Namespaces of earlier soak runs whose process is gone (killed with SIGKILL, say).
fn remove_stale_namespaces() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some((pid, _)) = name.strip_prefix(PREFIX).and_then(|r| r.split_once('-')) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            println!("soak: removing namespace {name} of an earlier run that was killed");
            remove_namespace(name);
        }
    }
}

// ---- a small JSON reader (xtask has no crates): enough for stats and iperf3 ----

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// The number's text: counters are u64, which f64 cannot always hold.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = JsonParser {
            b: text.as_bytes(),
            i: 0,
        };
        let value = p.value()?;
        p.ws();
        if p.i == p.b.len() {
            Ok(value)
        } else {
            Err(p.err("trailing characters"))
        }
    }

    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Obj(members) => members
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    fn u64(&self) -> Option<u64> {
        match self {
            Json::Num(t) => t
                .parse()
                .ok()
                .or_else(|| t.parse::<f64>().ok().map(|f| f as u64)),
            _ => None,
        }
    }

    fn items(&self) -> &[Json] {
        match self {
            Json::Arr(items) => items,
            _ => &[],
        }
    }

    fn members(&self) -> &[(String, Json)] {
        match self {
            Json::Obj(members) => members,
            _ => &[],
        }
    }
}

struct JsonParser<'a> {
    b: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn err(&self, what: &str) -> String {
        format!("JSON: {what} at byte {}", self.i)
    }

    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        let hit = self.b.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn word(&mut self, word: &str, value: Json) -> Result<Json, String> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(value)
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                if self.eat(b'}') {
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return Err(self.err("expected ':'"));
                    }
                    members.push((key, self.value()?));
                    if self.eat(b'}') {
                        return Ok(Json::Obj(members));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected ',' or '}'"));
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                if self.eat(b']') {
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    if self.eat(b']') {
                        return Ok(Json::Arr(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected ',' or ']'"));
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.word("true", Json::Bool(true)),
            Some(b'f') => self.word("false", Json::Bool(false)),
            Some(b'n') => self.word("null", Json::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.i += 1;
                }
                Ok(Json::Num(
                    String::from_utf8_lossy(&self.b[start..self.i]).into_owned(),
                ))
            }
            _ => Err(self.err("expected a value")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        if self.b.get(self.i) != Some(&b'"') {
            return Err(self.err("expected a string"));
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).map_err(|_| self.err("bad UTF-8")),
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .b
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or_else(|| self.err("bad \\u escape"))?;
                            self.i += 4;
                            let ch = char::from_u32(hex).unwrap_or('\u{fffd}');
                            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
    }
}

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
    fn from_json(j: &Json) -> Result<Stats, String> {
        let net = j
            .get("networks")
            .items()
            .iter()
            .find(|n| n.get("vni").u64() == Some(42))
            .ok_or("stats --json has no network 42")?;
        let map = |obj: &Json, prefix: &str| -> BTreeMap<String, u64> {
            obj.members()
                .iter()
                .filter_map(|(k, v)| Some((format!("{prefix}{k}"), v.u64()?)))
                .collect()
        };
        let mut drops = map(net.get("drops"), "");
        drops.extend(map(j.get("global_drops"), "global."));
        let mut device = map(j.get("daemon"), "");
        device.insert(
            "events_lost".into(),
            j.get("events_lost").u64().ok_or("no events_lost")?,
        );
        Ok(Stats {
            fdb_entries: j.get("fdb_entries").u64().ok_or("no fdb_entries")?,
            counters: map(net.get("counters"), ""),
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
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    /// The release native-vtep, for control commands.
    bin: String,
    started: Instant,
    elapsed: Duration,
    daemons: Vec<Daemon>,
    pingers: Vec<Pinger>,
    migration: Migration,
    churned: u64,
    iperf: Option<Iperf>,
    clean_exit: Vec<String>,
}

pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    let minutes = parse_args(args)?;
    preflight(ctx)?;
    ctx.run(
        ctx.cmd("cargo")
            .args(["build", "--release", "-p", "native-vtep"]),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| ctx.root.join("target"), |d| ctx.root.join(d));
    let bin = target.join("release/native-vtep");
    catch_signals();
    remove_stale_namespaces();
    let mut lab = Lab::new(ctx)?;
    let mut soak = Soak {
        minutes,
        bin: bin.display().to_string(),
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
    lab.keep_dir = outcome.is_err();
    drop(lab);
    outcome.map(|()| println!("soak: passed"))
}

fn parse_args(args: &[String]) -> Result<u64, String> {
    let mut minutes = 10;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--minutes" => {
                let v = iter
                    .next()
                    .ok_or("`--minutes` needs a value (see `cargo xtask help`)")?;
                minutes =
                    v.parse().ok().filter(|m| *m >= 1).ok_or_else(|| {
                        format!("`--minutes {v}`: a whole number of minutes, >= 1")
                    })?;
            }
            other => {
                return Err(format!(
                    "unexpected argument `{other}` (see `cargo xtask help`)"
                ));
            }
        }
    }
    Ok(minutes)
}

fn preflight(ctx: &Ctx) -> Result<(), String> {
    let root = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let mut missing: Vec<String> = Vec::new();
    if !root {
        missing.push("root (network namespaces, TAP devices): run it with sudo".into());
    }
    for tool in ["ip", "ping", "iperf3", "python3", "sh"] {
        if ctx.which(tool).is_none() {
            missing.push(format!("`{tool}` (`cargo xtask setup` installs it)"));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("soak needs {}", missing.join(", ")))
    }
}

/// Fails with "interrupted" once Ctrl-C (or SIGTERM) arrived.
fn check_stop() -> Result<(), String> {
    if stopped() {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

fn setup(lab: &mut Lab, soak: &mut Soak) -> Result<(), String> {
    let bin_text = soak.bin.clone();
    let h1 = lab.netns("h1")?;
    let h2 = lab.netns("h2")?;
    let vm = lab.netns("vm")?;
    let hosts = [h1.clone(), h2.clone()];
    lab.ip(&format!(
        "link add ul netns {h1} type veth peer name ul netns {h2}"
    ))?;
    for (i, h) in hosts.iter().enumerate() {
        let n = i + 1;
        lab.ip(&format!("-n {h} addr add 10.0.0.{n}/24 dev ul"))?;
        lab.ip(&format!("-n {h} link set ul up"))?;
        // Bridge ageing as short as the VTEPs' (10 s), so churned MACs leave the kernel too.
        lab.ip(&format!(
            "-n {h} link add br42 type bridge ageing_time 1000"
        ))?;
        lab.ip(&format!("-n {h} link set br42 up"))?;
        lab.ip(&format!("-n {h} addr add 192.168.42.{n}/24 dev br42"))?;
        // The migrating host's two cables, one into each host's bridge. MTU as the TAP's, so
        // nothing it sends is too big for the tunnel.
        let (side, port) = (["eth-a", "eth-b"][i], format!("vm{n}"));
        lab.ip(&format!(
            "link add {side} netns {vm} type veth peer name {port} netns {h}"
        ))?;
        lab.ip(&format!("-n {vm} link set {side} mtu 1450"))?;
        lab.ip(&format!("-n {h} link set {port} mtu 1450 master br42 up"))?;
        lab.ip(&format!("-n {vm} addr add {VM_IP}/24 dev {side}"))?;
        lab.ip(&format!("-n {vm} link set {side} address {}", vm_mac(0)))?;
    }
    lab.ip(&format!("-n {vm} link set eth-a up"))?;
    check_stop()?;

    for (i, h) in hosts.iter().enumerate() {
        let name = ["h1", "h2"][i];
        let control = lab.dir.join(format!("{name}.sock"));
        let local = format!("10.0.0.{}", i + 1);
        let remote = format!("10.0.0.{}", 2 - i);
        let ageing = AGEING_SECS.to_string();
        let control_text = control.display().to_string();
        lab.spawn(
            h,
            &format!("vtep-{name}"),
            &bin_text,
            &[
                "--tap",
                "vt42",
                "--vni",
                VNI,
                "--local",
                &local,
                "--remote",
                &remote,
                "--bridge",
                "br42",
                "--ageing",
                &ageing,
                "--control",
                &control_text,
            ],
        )?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let stats = loop {
            if let Ok(text) = lab.run(&bin_text, &["stats", "--json", "--control", &control_text]) {
                break Stats::from_json(&Json::parse(&text)?)?;
            }
            if let Some(status) = lab.exited(&format!("vtep-{name}")) {
                return Err(format!(
                    "native-vtep on {name} exited during startup ({status})\n{}",
                    lab.tail(&format!("vtep-{name}"), 20)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "native-vtep on {name} did not answer on {} within 15 s\n{}",
                    control.display(),
                    lab.tail(&format!("vtep-{name}"), 20)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
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
        lab.run(
            "ip",
            &[
                "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", dst,
            ],
        )
        .map_err(|e| format!("setup: no overlay connectivity: {e}"))?;
    }

    let churn = lab.script("churn.py", CHURN)?;
    lab.script("garp.py", GARP)?;
    let seconds = (soak.minutes * 60).to_string();
    lab.spawn(
        &h2,
        "iperf3-server",
        "iperf3",
        // --forceflush: its stdout is a file, and we wait for "listening".
        &["-s", "-1", "-B", "192.168.42.2", "--forceflush"],
    )?;
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
        lab.spawn(ns, name, program, &args)?;
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
        if stopped() {
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
            return Err(format!(
                "interrupted after {}",
                env::fmt_duration(soak.elapsed)
            ));
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
    let names: Vec<String> = lab.procs.iter().map(|p| p.name.clone()).collect();
    for name in names {
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
            env::fmt_duration(soak.elapsed),
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
                env::fmt_duration(soak.elapsed),
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
    let child = lab
        .command("ip")
        .args(["netns", "exec", &vm, "sh", "-c", &script])
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
        let control = d.control.display().to_string();
        let text = lab
            .run(&soak.bin, &["stats", "--json", "--control", &control])
            .map_err(|e| format!("native-vtep on {} does not answer: {e}", d.name))?;
        let stats = Stats::from_json(&Json::parse(&text)?)?;
        d.fdb_max = d.fdb_max.max(stats.fdb_entries);
        d.stats = stats;
        let bad = unexpected(&d.stats);
        if !bad.is_empty() {
            return Err(format!(
                "native-vtep on {}: unexpected counters after {}: {}\n{}",
                d.name,
                env::fmt_duration(soak.elapsed),
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
                env::fmt_duration(soak.elapsed),
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
        lab.signal(p.name, SIGQUIT);
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
        let control = d.control.display().to_string();
        let text = lab
            .run(&soak.bin, &["fdb", "show", "--json", "--control", &control])
            .map_err(|e| format!("native-vtep on {} does not answer: {e}", d.name))?;
        Json::parse(&text).map_err(|e| format!("fdb show --json of {}: {e}", d.name))?;
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
        env::fmt_duration(soak.elapsed),
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
    if !lab.procs.iter().any(|p| p.name == "churn-h2") {
        return Ok(());
    }
    for p in &mut soak.pingers {
        if lab.stop(p.name, SIGINT, 5).is_some()
            && let Some(total) = ping_summary(&lab.log(p.name))
        {
            p.total = total;
        }
    }
    for name in ["churn-h1", "churn-h2"] {
        lab.stop(name, SIGTERM, 5);
    }
    soak.churned = churned(&lab.log("churn-h1")) + churned(&lab.log("churn-h2"));
    if completed {
        // It ends by itself (`-t` is the soak's length) and then prints its JSON report.
        if lab.wait("iperf3-client", 30).is_some() {
            let report = Json::parse(&lab.log("iperf3-client")).ok();
            soak.iperf = report.map(|j| {
                let end = j.get("end");
                Iperf {
                    forward_bytes: end.get("sum_received").get("bytes").u64().unwrap_or(0),
                    reverse_bytes: end
                        .get("sum_received_bidir_reverse")
                        .get("bytes")
                        .u64()
                        .unwrap_or(0),
                    retransmits: end.get("sum_sent").get("retransmits").u64().unwrap_or(0)
                        + end
                            .get("sum_sent_bidir_reverse")
                            .get("retransmits")
                            .u64()
                            .unwrap_or(0),
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
        match lab.stop(&name, SIGTERM, 10) {
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
            env::fmt_duration(soak.elapsed),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_nested_values() {
        let j = Json::parse(
            r#"{"a": [1, {"b": "x\"y\u0041"}], "n": 18446744073709551615, "t": true, "z": null}"#,
        )
        .unwrap();
        assert_eq!(j.get("a").items()[0].u64(), Some(1));
        assert_eq!(j.get("a").items()[1].get("b"), &Json::Str("x\"yA".into()));
        assert_eq!(j.get("n").u64(), Some(u64::MAX));
        assert_eq!(j.get("t"), &Json::Bool(true));
        assert_eq!(j.get("missing"), &Json::Null);
        assert!(Json::parse("{\"a\": 1").is_err());
        assert!(Json::parse("[1] x").is_err());
    }

    #[test]
    fn stats_and_unexpected_counters() {
        let text = r#"{"daemon": {"tap_rx_frames": 5, "udp_send_errors": 0}, "events_lost": 0,
            "fdb_entries": 7, "global_drops": {"malformed_tunnel": 0},
            "networks": [{"vni": 42, "counters": {"learned": 3, "duplicates_frozen": 0},
                          "drops": {"same_port": 4, "too_big": 0}}]}"#;
        let mut s = Stats::from_json(&Json::parse(text).unwrap()).unwrap();
        assert_eq!(s.fdb_entries, 7);
        assert_eq!(s.counter("learned"), 3);
        assert!(unexpected(&s).is_empty(), "same_port is expected");
        s.drops.insert("global.malformed_tunnel".into(), 1);
        s.device.insert("udp_send_errors".into(), 2);
        let bad = unexpected(&s);
        assert_eq!(
            bad,
            vec![
                ("drop global.malformed_tunnel".to_string(), 1),
                ("udp_send_errors".to_string(), 2)
            ]
        );
    }

    #[test]
    fn ping_lines() {
        let log = "PING 1.2.3.4\n\r6/7 packets, 14% loss, min/avg/ewma/max = 1/2/3/4 ms\n\
                   \r9/10 packets, 10% loss\n";
        assert_eq!(ping_quit_line(log), Some((10, 9)));
        let end = "--- x ping statistics ---\n12 packets transmitted, 11 received, 8% packet loss";
        assert_eq!(ping_summary(end), Some((12, 11)));
        assert_eq!(churned("macs 5\nmacs 130\n"), 130);
    }

    #[test]
    fn bounds_and_formats() {
        assert_eq!(rss_bound(4096), 2048);
        assert_eq!(rss_bound(40_960), 4096);
        assert_eq!(vm_mac(0), "02:00:00:00:01:00");
        assert_eq!(vm_mac(4), "02:00:00:00:01:01");
        assert_eq!(vm_mac(16), "02:00:00:00:01:00");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(short(12_345), "12.3k");
    }
}
