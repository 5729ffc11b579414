//! Test harness for tests that need root: network namespaces named with a per-run prefix,
//! daemons started in them, and a guard that always tears everything down (on success, on
//! panic, and for namespaces left by an earlier run that was killed).
#![allow(dead_code)]

pub mod fabric;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_native-vtep");

/// Prefix of every namespace this harness creates: `olvt<pid>-`.
pub fn run_prefix() -> String {
    format!("olvt{}-", std::process::id())
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

/// Whether the test can run: root, and the tools. Without them the test is skipped with a
/// message, unless `OVERLAY_LAB_REQUIRE_TOOLS` is set, which makes it fail instead.
pub fn can_run(test: &str, tools: &[&str]) -> bool {
    let mut missing: Vec<String> = Vec::new();
    if !is_root() {
        missing.push("root (network namespaces, TAP devices)".into());
    }
    for tool in ["ip", "python3"].iter().chain(tools) {
        if !have(tool) {
            missing.push(format!("`{tool}`"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: needs {}", missing.join(", "));
    if std::env::var_os("OVERLAY_LAB_REQUIRE_TOOLS").is_some() {
        panic!("{msg} (OVERLAY_LAB_REQUIRE_TOOLS is set, so this is a failure)");
    }
    eprintln!("SKIPPED {msg}");
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

/// Runs `script`, panicking with its output if it fails.
pub fn must(script: &str) -> String {
    let out = sh(script);
    assert!(
        out.status.success(),
        "command failed: {script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes namespaces of earlier runs whose process no longer exists.
fn remove_stale_namespaces() {
    let list = sh("ip netns list");
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("olvt") else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sh(&format!("ip netns del {name}"));
        }
    }
}

/// A running daemon (or any background process) inside a namespace.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

/// One test's namespaces, processes and files; dropping it removes them all.
#[derive(Debug)]
pub struct Lab {
    pub prefix: String,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    pub dir: PathBuf,
}

impl Lab {
    /// A lab for `test`; its namespaces are named `olvt<pid>-<test>-<name>`.
    pub fn new(test: &str) -> Lab {
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
        }
    }

    /// Creates namespace `<prefix><name>` with loopback up and IPv6 off (no router
    /// solicitations or MLD reports to disturb flood counters). Returns its full name.
    pub fn netns(&mut self, name: &str) -> String {
        let full = format!("{}{name}", self.prefix);
        assert!(full.len() < 64);
        must(&format!("ip netns add {full}"));
        self.namespaces.push(full.clone());
        must(&format!(
            "ip -n {full} link set lo up && \
             ip netns exec {full} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
             net.ipv6.conf.default.disable_ipv6=1"
        ));
        full
    }

    /// Runs `script` in namespace `ns`; panics on failure.
    pub fn ns_must(&self, ns: &str, script: &str) -> String {
        must(&format!(
            "ip netns exec {ns} sh -c '{}'",
            script.replace('\'', "'\\''")
        ))
    }

    pub fn ns_sh(&self, ns: &str, script: &str) -> Output {
        sh(&format!(
            "ip netns exec {ns} sh -c '{}'",
            script.replace('\'', "'\\''")
        ))
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

    /// Starts `native-vtep ARGS` in `ns` with the control socket in the lab directory, and
    /// waits until it answers `stats`. Returns the control socket path.
    pub fn vtep(&mut self, ns: &str, name: &str, args: &[&str]) -> PathBuf {
        let control = self.dir.join(format!("{name}.sock"));
        self.vtep_at(ns, name, &control, args);
        control
    }

    /// [`Lab::vtep`] with the control socket at `control` (a restarted daemon reuses its
    /// predecessor's socket under another process name).
    pub fn vtep_at(&mut self, ns: &str, name: &str, control: &Path, args: &[&str]) {
        let control = control.to_path_buf();
        let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        argv.extend([
            "--control".into(),
            control.display().to_string(),
            "-v".into(),
        ]);
        self.spawn(ns, name, BIN, &argv);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if control.exists() && self.try_ctl(&control, &["stats", "--json"]).is_ok() {
                return;
            }
            if let Some(status) = self.exited(name) {
                panic!(
                    "native-vtep {name} exited during startup ({status}):\n{}",
                    self.log(name)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not start:\n{}",
                self.log(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts `program ARGS` in `ns` in the background, output to `<dir>/<name>.log`.
    pub fn spawn(&mut self, ns: &str, name: &str, program: &str, args: &[String]) {
        let log = self.dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("spawn");
        self.procs.push(Proc {
            name: name.into(),
            child,
            log,
        });
    }

    fn proc(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    /// `Some(status)` if the process has exited.
    pub fn exited(&mut self, name: &str) -> Option<String> {
        self.proc(name)
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.to_string())
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit; returns its log.
    pub fn stop(&mut self, name: &str) -> String {
        let p = self.proc(name);
        let pid = p.child.id();
        let _ = sh(&format!("kill -TERM {pid}"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while p.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = p.child.kill();
                let _ = p.child.wait();
                panic!("{name} did not stop within 5 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log(name)
    }

    /// The process id of `name` (for `ip netns exec` it is the program's own: it execs).
    pub fn pid(&mut self, name: &str) -> u32 {
        self.proc(name).child.id()
    }

    /// Sends `signal` (`KILL`, `TERM`, ...) to `name`.
    pub fn signal(&mut self, name: &str, signal: &str) {
        let pid = self.pid(name);
        must(&format!("kill -{signal} {pid}"));
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

    /// `stats --json`, parsed.
    pub fn stats(&self, control: &Path) -> serde_json::Value {
        serde_json::from_str(&self.ctl(control, &["stats", "--json"])).unwrap()
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
        let deadline = Instant::now() + Duration::from_secs(3);
        for p in &mut self.procs {
            while p.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.all_logs());
        }
        for ns in self.namespaces.iter().rev() {
            let _ = sh(&format!("ip netns del {ns}"));
        }
        if !std::thread::panicking() {
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
