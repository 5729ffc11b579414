//! The namespace harness: network namespaces named with a per-run prefix, processes started in
//! them, and cleanup that always runs. One harness for everything of native-vtep that needs
//! root: the test suites (`interop`, `hostile`, `faults`, `errors`), the soak (`tests/soak.rs`,
//! `cargo xtask soak`) and the benchmark (`benches/native.rs`, which includes this file with
//! `#[path]`).
//!
//! Cleanup:
//!
//! - a [`Lab`] stops its processes and deletes its namespaces when dropped, also on panic (and
//!   keeps its log folder then);
//! - SIGINT, SIGTERM and SIGHUP, or the parent process going away (cargo killed, say), make
//!   [`stopped`] true; after the grace period set with [`stop_grace`] (none by default: the
//!   soak takes one to stop its load and daemons in order), or at once on a second signal, a
//!   watcher thread deletes the namespaces of every live lab, killing what runs in them, and
//!   exits with status 130;
//! - [`Lab::new`] deletes namespaces left by an earlier run that was killed with SIGKILL
//!   ([`remove_stale_namespaces`]): every namespace is named `olvt<pid>-...`, so a run can tell
//!   its own from a dead run's.
//!
//! Children run in process groups of their own: a terminal's Ctrl-C reaches only the harness,
//! which then stops them in order.
#![allow(dead_code)]

pub mod bgp;
pub mod fabric;

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_native-vtep");

/// Every namespace this harness creates starts with this, then the process id and `-`.
const PREFIX: &str = "olvt";

/// Prefix of every namespace this process creates: `olvt<pid>-`.
pub fn run_prefix() -> String {
    format!("{PREFIX}{}-", std::process::id())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What is missing to run in namespaces: root, `ip`, `python3` and `tools`.
pub fn missing(tools: &[&str]) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    if !is_root() {
        missing.push("root (network namespaces, TAP devices)".into());
    }
    for tool in ["ip", "python3"].iter().chain(tools) {
        if !have(tool) {
            missing.push(format!("`{tool}`"));
        }
    }
    missing
}

/// Writes a line to stderr past the test harness's output capture, so that it shows in a
/// plain `cargo test` run (for skips, which must not go unnoticed).
pub fn announce(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Whether the test can run: root, and the tools. Without them the test is skipped with a
/// message, unless `OVERLAY_LAB_REQUIRE_TOOLS` is set, which makes it fail instead.
pub fn can_run(test: &str, tools: &[&str]) -> bool {
    let missing = missing(tools);
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: needs {}", missing.join(", "));
    if std::env::var_os("OVERLAY_LAB_REQUIRE_TOOLS").is_some() {
        panic!("{msg} (OVERLAY_LAB_REQUIRE_TOOLS is set, so this is a failure)");
    }
    announce(&format!("SKIPPED {msg}"));
    false
}

/// Runs `sh -c script`, returning the output.
pub fn sh(script: &str) -> Output {
    Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

/// Runs `sh -c script`: its stdout, or an error with its output.
pub fn try_sh(script: &str) -> Result<String, String> {
    let out = sh(script);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "command failed: {script}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `script`, panicking with its output if it fails.
pub fn must(script: &str) -> String {
    try_sh(script).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `program args` (no shell): its stdout, or an error with its stderr.
pub fn run<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String, String> {
    let shown = || {
        let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        format!("{program} {}", args.join(" "))
    };
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run `{}`: {e}", shown()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}): {}",
            shown(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

// ---- signals, and what is left to clean up when one comes ----

/// Signals received (SIGINT, SIGTERM, SIGHUP).
static SIGNALS: AtomicUsize = AtomicUsize::new(0);
/// The process that started us is gone.
static ORPHANED: AtomicBool = AtomicBool::new(false);
/// How long the watcher lets the program stop by itself after a signal, in milliseconds.
static GRACE_MS: AtomicU64 = AtomicU64::new(0);
/// The namespaces of every lab alive in this process.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<String>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a signal came, or the parent process went away: the program should stop.
pub fn stopped() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0 || ORPHANED.load(Ordering::SeqCst)
}

/// After a signal, let the program stop by itself for up to `grace` before the watcher deletes
/// every namespace and exits (a second signal cuts it short).
pub fn stop_grace(grace: Duration) {
    GRACE_MS.store(
        u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        Ordering::SeqCst,
    );
}

/// Catches SIGINT, SIGTERM and SIGHUP for the whole process (once) and starts the watcher
/// thread that cleans up after them (see the module's documentation).
fn watch_signals() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .expect("catch SIGINT, SIGTERM and SIGHUP");
        let count = move || {
            for _ in signals.forever() {
                SIGNALS.fetch_add(1, Ordering::SeqCst);
            }
        };
        std::thread::Builder::new()
            .name("lab-signal-count".into())
            .spawn(count)
            .expect("start the signal counter");
        let parent = std::os::unix::process::parent_id();
        let watcher = move || {
            let why = loop {
                if SIGNALS.load(Ordering::SeqCst) > 0 {
                    break "signal received";
                }
                if std::os::unix::process::parent_id() != parent {
                    ORPHANED.store(true, Ordering::SeqCst);
                    break "parent process gone";
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let grace = Duration::from_millis(GRACE_MS.load(Ordering::SeqCst));
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && SIGNALS.load(Ordering::SeqCst) < 2 {
                std::thread::sleep(Duration::from_millis(50));
            }
            let namespaces: Vec<String> = live().drain(..).collect();
            announce(&format!(
                "{why}: removing namespaces {} and what runs in them",
                namespaces.join(" ")
            ));
            for ns in namespaces.iter().rev() {
                remove_namespace(ns);
            }
            std::process::exit(130);
        };
        std::thread::Builder::new()
            .name("lab-signals".into())
            .spawn(watcher)
            .expect("start the signal watcher");
    });
}

/// Stops whatever runs in `ns` (SIGTERM, then SIGKILL after 2 s), then deletes it.
fn remove_namespace(ns: &str) {
    let pids = |ns: &str| -> Vec<String> {
        Command::new("ip")
            .args(["netns", "pids", ns])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter(|p| p.parse::<u32>().is_ok())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let kill = |signal: &str, pids: &[String]| {
        if !pids.is_empty() {
            let _ = sh(&format!("kill -{signal} {} 2>/dev/null", pids.join(" ")));
        }
    };
    let running = pids(ns);
    kill("TERM", &running);
    let deadline = Instant::now() + Duration::from_secs(2);
    while !pids(ns).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    kill("KILL", &pids(ns));
    let _ = sh(&format!("ip netns del {ns} 2>/dev/null"));
}

/// Removes the namespaces of earlier runs whose process no longer exists (killed with
/// SIGKILL, say), with whatever still runs in them.
pub fn remove_stale_namespaces() {
    let list = sh("ip netns list");
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some((pid, _)) = name.strip_prefix(PREFIX).and_then(|r| r.split_once('-')) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            announce(&format!(
                "removing namespace {name} of an earlier run that was killed"
            ));
            remove_namespace(name);
        }
    }
}

// ---- the lab ----

/// A running daemon (or any background process) inside a namespace.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

/// One test's (or soak's, or benchmark's) namespaces, processes and files; dropping it removes
/// them all.
#[derive(Debug)]
pub struct Lab {
    pub prefix: String,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    pub dir: PathBuf,
    /// Keep `dir` (the logs) when dropped. A panic keeps it too.
    pub keep: bool,
}

impl Lab {
    /// A lab for `test`; its namespaces are named `olvt<pid>-<test>-<name>`, its files are in
    /// `$TMPDIR/native-vtep-<pid>-<test>`. Catches signals (see the module documentation) and
    /// removes the namespaces of killed runs first.
    pub fn new(test: &str) -> Lab {
        watch_signals();
        remove_stale_namespaces();
        let prefix = format!("{}{test}-", run_prefix());
        let dir = std::env::temp_dir().join(format!("native-vtep-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Lab {
            prefix,
            namespaces: Vec::new(),
            procs: Vec::new(),
            dir,
            keep: false,
        }
    }

    /// Creates namespace `<prefix><name>` with loopback up and IPv6 off (no router
    /// solicitations or MLD reports to disturb flood counters). Returns its full name.
    pub fn try_netns(&mut self, name: &str) -> Result<String, String> {
        let full = format!("{}{name}", self.prefix);
        assert!(full.len() < 64, "namespace name {full} too long");
        try_sh(&format!("ip netns add {full}"))?;
        self.namespaces.push(full.clone());
        live().push(full.clone());
        try_sh(&format!(
            "ip -n {full} link set lo up && \
             ip netns exec {full} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
             net.ipv6.conf.default.disable_ipv6=1"
        ))?;
        Ok(full)
    }

    /// [`Lab::try_netns`], panicking on failure.
    pub fn netns(&mut self, name: &str) -> String {
        self.try_netns(name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn in_ns(ns: &str, script: &str) -> String {
        format!(
            "ip netns exec {ns} sh -c '{}'",
            script.replace('\'', "'\\''")
        )
    }

    /// Runs `script` in namespace `ns`; panics on failure.
    pub fn ns_must(&self, ns: &str, script: &str) -> String {
        must(&Self::in_ns(ns, script))
    }

    /// Runs `script` in namespace `ns`: its stdout, or an error with its output.
    pub fn ns_run(&self, ns: &str, script: &str) -> Result<String, String> {
        try_sh(&Self::in_ns(ns, script))
    }

    pub fn ns_sh(&self, ns: &str, script: &str) -> Output {
        sh(&Self::in_ns(ns, script))
    }

    /// A veth pair from `a` (interface `a_if`, address `a_addr` with prefix) to `b`.
    pub fn veth(
        &self,
        a: &str,
        a_if: &str,
        a_addr: Option<&str>,
        b: &str,
        b_if: &str,
        b_addr: Option<&str>,
    ) {
        must(&format!(
            "ip link add {a_if} netns {a} type veth peer name {b_if} netns {b} && \
             ip -n {a} link set {a_if} up && ip -n {b} link set {b_if} up"
        ));
        if let Some(addr) = a_addr {
            must(&format!("ip -n {a} addr add {addr} dev {a_if}"));
        }
        if let Some(addr) = b_addr {
            must(&format!("ip -n {b} addr add {addr} dev {b_if}"));
        }
    }

    /// Starts `native-vtep ARGS -v` in `ns` with the control socket in the lab directory, and
    /// waits until it answers `stats`. Returns the control socket path.
    pub fn vtep(&mut self, ns: &str, name: &str, args: &[&str]) -> PathBuf {
        let control = self.dir.join(format!("{name}.sock"));
        self.vtep_at(ns, name, &control, args);
        control
    }

    /// [`Lab::vtep`] with the control socket at `control` (a restarted daemon reuses its
    /// predecessor's socket under another process name).
    pub fn vtep_at(&mut self, ns: &str, name: &str, control: &Path, args: &[&str]) {
        let mut argv = args.to_vec();
        argv.push("-v");
        self.start_vtep(ns, name, control, &argv)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts `native-vtep ARGS --control CONTROL` in `ns` as process `name` and waits up to
    /// 15 s until it answers `stats`; an error with its log if it exits or does not answer.
    pub fn start_vtep(
        &mut self,
        ns: &str,
        name: &str,
        control: &Path,
        args: &[&str],
    ) -> Result<(), String> {
        let mut argv: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        argv.extend([OsStr::new("--control"), control.as_os_str()]);
        self.spawn(ns, name, BIN, &argv);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if control.exists() && self.try_ctl(control, &["stats", "--json"]).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.exited(name) {
                return Err(format!(
                    "native-vtep {name} exited during startup ({status}):\n{}",
                    self.log(name)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "native-vtep {name} did not answer on {} within 15 s:\n{}",
                    control.display(),
                    self.log(name)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts `program ARGS` in `ns` in the background, in a process group of its own, output
    /// to `<dir>/<name>.log`.
    pub fn spawn<S: AsRef<OsStr>>(&mut self, ns: &str, name: &str, program: &str, args: &[S]) {
        let log = self.dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {program} in {ns}: {e}"));
        self.procs.push(Proc {
            name: name.into(),
            child,
            log,
        });
    }

    /// Starts the background process `pinger` in `ns`: `count` pings to `dst`, 50 ms apart,
    /// each given up after 1 s, so that lost ones count and it ends on time (`parse_ping` of
    /// its log says how many came back).
    pub fn start_pinger(&mut self, ns: &str, dst: &str, count: u32) {
        let count = count.to_string();
        let args = ["-n", "-q", "-i", "0.05", "-c", &count, "-W", "1", dst];
        self.spawn(ns, "pinger", "ping", &args);
    }

    fn proc(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    /// The names of the processes started so far, in order.
    pub fn names(&self) -> Vec<String> {
        self.procs.iter().map(|p| p.name.clone()).collect()
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self, name: &str) -> Option<ExitStatus> {
        self.proc(name).child.try_wait().ok().flatten()
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// The last `n` lines of a process's log, indented, for error messages.
    pub fn tail(&self, name: &str, n: usize) -> String {
        let log = self.log(name);
        let lines: Vec<&str> = log.lines().collect();
        let mut out = format!(
            "  --- last lines of {} ---\n",
            self.dir.join(format!("{name}.log")).display()
        );
        for line in &lines[lines.len().saturating_sub(n)..] {
            let _ = writeln!(out, "  {}", line.trim_start_matches('\r'));
        }
        out
    }

    /// Sends SIGTERM and waits for the process to exit; returns its log.
    pub fn stop(&mut self, name: &str) -> String {
        if self.stop_with(name, "TERM", 5).is_none() {
            let p = self.proc(name);
            let _ = p.child.kill();
            let _ = p.child.wait();
            panic!("{name} did not stop within 5 s of SIGTERM");
        }
        self.log(name)
    }

    /// Sends `signal` and waits up to `secs` for the process to exit; `None` if it did not.
    pub fn stop_with(&mut self, name: &str, signal: &str, secs: u64) -> Option<ExitStatus> {
        self.signal(name, signal);
        self.wait_exit(name, secs)
    }

    /// The process id of `name` (for `ip netns exec` it is the program's own: it execs).
    pub fn pid(&mut self, name: &str) -> u32 {
        self.proc(name).child.id()
    }

    /// Sends `signal` (`KILL`, `TERM`, ...) to `name`, unless it has exited (and been reaped:
    /// its pid could be another process's by now).
    pub fn signal(&mut self, name: &str, signal: &str) {
        let p = self.proc(name);
        if p.child.try_wait().ok().flatten().is_none() {
            must(&format!("kill -{signal} {}", p.child.id()));
        }
    }

    /// Waits up to `secs` for `name` to exit; its exit status, or `None` if it still runs.
    pub fn wait_exit(&mut self, name: &str, secs: u64) -> Option<ExitStatus> {
        let p = self.proc(name);
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(status)) = p.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs `native-vtep ARGS --control SOCKET`.
    pub fn try_ctl(&self, control: &Path, args: &[&str]) -> Result<String, String> {
        let out = Command::new(BIN)
            .args(args)
            .arg("--control")
            .arg(control)
            .stdin(Stdio::null())
            .output()
            .expect("run native-vtep");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn ctl(&self, control: &Path, args: &[&str]) -> String {
        self.try_ctl(control, args)
            .unwrap_or_else(|e| panic!("native-vtep {args:?} failed: {e}"))
    }

    /// Runs `native-vtep ARGS` and asserts that what it shows contains `line` (a row of `fdb
    /// show`, `neigh show`, ...); returns all it showed.
    #[track_caller]
    pub fn ctl_shows(&self, control: &Path, args: &[&str], line: &str) -> String {
        let shown = self.ctl(control, args);
        assert!(
            shown.contains(line),
            "`native-vtep {}` at {} does not show {line:?}:\n{shown}",
            args.join(" "),
            control.display()
        );
        shown
    }

    /// Runs `native-vtep ARGS` and asserts that it fails with an error containing `error`.
    #[track_caller]
    pub fn ctl_refused(&self, control: &Path, args: &[&str], error: &str) {
        let shown = self.try_ctl(control, args).unwrap_err();
        assert!(shown.contains(error), "{shown}");
    }

    /// Runs `native-vtep ARGS` (with `--json` among them) and parses what it prints.
    pub fn ctl_json(&self, control: &Path, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ctl(control, args)).unwrap()
    }

    /// `bgp summary --json` of the daemon at `control`, parsed.
    pub fn bgp_summary(&self, control: &Path) -> serde_json::Value {
        self.ctl_json(control, &["bgp", "summary", "--json"])
    }

    /// What `bgp summary --json` of the daemon at `control` says of its peer `address`.
    #[track_caller]
    pub fn bgp_peer(&self, control: &Path, address: &str) -> serde_json::Value {
        let summary = self.bgp_summary(control);
        summary["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["address"] == address)
            .cloned()
            .unwrap_or_else(|| panic!("no peer {address}: {summary}"))
    }

    /// `stats --json`, parsed.
    pub fn stats(&self, control: &Path) -> serde_json::Value {
        self.ctl_json(control, &["stats", "--json"])
    }

    /// Writes a helper script into the lab directory and returns its path.
    pub fn script(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Every process log, for failure messages.
    pub fn all_logs(&self) -> String {
        let mut out = String::new();
        for p in &self.procs {
            let _ = writeln!(out, "---- {} ----\n{}", p.name, self.log(&p.name));
        }
        out
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if p.child.try_wait().ok().flatten().is_none() {
                let _ = sh(&format!("kill -TERM {}", p.child.id()));
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for p in &mut self.procs {
            while p.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        let panicking = std::thread::panicking();
        if panicking {
            eprintln!("{}", self.all_logs());
        }
        for ns in self.namespaces.iter().rev() {
            remove_namespace(ns);
            live().retain(|n| n != ns);
        }
        if panicking || self.keep {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Counter `key` of network `vni` in a `stats --json` report.
pub fn counter(stats: &serde_json::Value, vni: u64, key: &str) -> u64 {
    network(stats, vni)["counters"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {key}"))
}

/// Drop counter `reason` of network `vni`, or of the unattributed drops when `vni` is None.
pub fn drops(stats: &serde_json::Value, vni: Option<u64>, reason: &str) -> u64 {
    let table = match vni {
        Some(v) => &network(stats, v)["drops"],
        None => &stats["global_drops"],
    };
    table[reason]
        .as_u64()
        .unwrap_or_else(|| panic!("no drop reason {reason}"))
}

pub fn network(stats: &serde_json::Value, vni: u64) -> &serde_json::Value {
    stats["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["vni"].as_u64() == Some(vni))
        .unwrap_or_else(|| panic!("no network {vni} in {stats}"))
}

/// `tshark -r PCAP -Y FILTER -T fields -e ...` (UDP 4789 read as VXLAN): one row of fields per
/// packet, a field that occurs more than once (inner and outer IP) as its values joined by `,`.
pub fn tshark(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = format!(
        "tshark -r {} -n -d udp.port==4789,vxlan -Y '{filter}' -T fields -E separator=/t \
         -E occurrence=a -E aggregator=,",
        pcap.display()
    );
    for field in fields {
        cmd.push_str(&format!(" -e {field}"));
    }
    must(&format!("{cmd} 2>/dev/null"))
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

/// Polls `check` until it returns true or `secs` pass.
pub fn wait_for(secs: u64, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}
