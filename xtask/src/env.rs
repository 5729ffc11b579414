//! The environment every xtask command runs in: the repo root, a `PATH` that holds the project's
//! tools, and helpers to run commands with progress and timings.

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs};

/// Where Debian's Chromium and its WebDriver live (packages `chromium`, `chromium-driver`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// See [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Environment variables that `cargo run` sets for xtask itself; children must not inherit them
/// (they describe the xtask package, not the one a child builds).
const CARGO_RUN_VARS: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
];

/// Shared state of one xtask run.
#[derive(Debug)]
pub struct Ctx {
    /// The workspace root.
    pub root: PathBuf,
    /// `PATH` for children: the project's tool folders first.
    path: OsString,
    /// The cargo that runs us (`$CARGO`), so children use the same toolchain.
    cargo: PathBuf,
    /// Whether `apt-get update` already ran in this process.
    pub apt_updated: Cell<bool>,
}

impl Ctx {
    pub fn new() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in a folder of the workspace")
            .to_path_buf();
        let cargo_home = env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
            .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
        let mut dirs: Vec<PathBuf> = Vec::new();
        let ours = [
            // setup's Python venv (scapy): tests that run `python3` get its packages.
            root.join("target/tools/venv/bin"),
            root.join("target/tools/node_modules/.bin"),
            cargo_home.join("bin"),
        ];
        let inherited =
            env::split_paths(&env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
        let system =
            ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from);
        for dir in ours.into_iter().chain(inherited).chain(system) {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        let path = env::join_paths(dirs).expect("PATH entries contain no ':'");
        let cargo = env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
        Self {
            root,
            path,
            cargo,
            apt_updated: Cell::new(false),
        }
    }

    /// The project-local npm prefix for build tools (wasm-opt).
    pub fn tools_dir(&self) -> PathBuf {
        self.root.join("target/tools")
    }

    /// The `PATH` children get, for printing.
    pub fn path(&self) -> &OsStr {
        &self.path
    }

    /// Finds `program` on the children's `PATH`.
    pub fn which(&self, program: &str) -> Option<PathBuf> {
        if program.contains('/') {
            return Some(PathBuf::from(program)).filter(|p| is_executable(p));
        }
        env::split_paths(&self.path)
            .map(|dir| dir.join(program))
            .find(|p| is_executable(p))
    }

    /// A command for `program` (resolved on the children's `PATH`; `cargo` is the cargo that
    /// runs us), run in the repo root with the children's `PATH`.
    pub fn cmd(&self, program: &str) -> Command {
        let resolved = if program == "cargo" {
            self.cargo.clone()
        } else {
            self.which(program)
                .unwrap_or_else(|| PathBuf::from(program))
        };
        let mut cmd = Command::new(resolved);
        cmd.current_dir(&self.root).env("PATH", &self.path);
        for var in CARGO_RUN_VARS {
            cmd.env_remove(var);
        }
        for (key, _) in env::vars_os() {
            if key.to_str().is_some_and(|k| k.starts_with("CARGO_PKG_")) {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    /// Runs `program args` quietly; its trimmed stdout (or stderr when stdout is empty) when it
    /// exits successfully.
    pub fn output(&self, program: &str, args: &[&str]) -> Option<String> {
        self.which(program)
            .or_else(|| (program == "cargo").then(|| self.cargo.clone()))?;
        let out = self
            .cmd(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let text = if out.stdout.is_empty() {
            out.stderr
        } else {
            out.stdout
        };
        Some(String::from_utf8_lossy(&text).trim().to_string())
    }

    /// Runs `cmd` with inherited stdout/stderr and no stdin, after printing it.
    pub fn run(&self, cmd: &mut Command) -> Result<(), String> {
        let shown = show(cmd);
        println!("$ {shown}");
        let status = cmd
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("could not start `{shown}`: {e}"))?;
        check_status(&shown, status)
    }
}

/// `Err` with a message naming `shown` unless `status` is success.
pub fn check_status(shown: &str, status: ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        match status.code() {
            Some(code) => Err(format!("`{shown}` exited with code {code}")),
            None => Err(format!("`{shown}` was killed ({status})")),
        }
    }
}

/// A command as a shell-like line, for logs.
pub fn show(cmd: &Command) -> String {
    let mut out = String::new();
    let program = cmd.get_program().to_string_lossy();
    let program = program.rsplit('/').next().unwrap_or(&program);
    for (key, value) in cmd.get_envs() {
        if let (Some(value), false) = (value, key == "PATH") {
            let _ = write!(
                out,
                "{}={} ",
                key.to_string_lossy(),
                value.to_string_lossy()
            );
        }
    }
    out.push_str(program);
    for arg in cmd.get_args() {
        let _ = write!(out, " {}", arg.to_string_lossy());
    }
    out
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `12.3s` / `4m05s`.
pub fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// Seconds since `start`, formatted by [`fmt_duration`].
pub fn since(start: Instant) -> String {
    fmt_duration(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(fmt_duration(Duration::from_secs(65)), "1m05s");
    }
}
