//! `cargo xtask fuzz`: every cargo-fuzz target of `fuzz/` for a bounded time, two at a time.
//!
//! Builds all targets once (nightly, libFuzzer, no sanitizer: the code under test is safe Rust,
//! so panics and overflow checks are what find bugs, at twice ASan's speed), seeds each corpus
//! from the fixture captures and `fuzz/seeds/`, then runs the targets and reports executions,
//! speed, corpus size and crash artifacts. Fails, naming how to reproduce, on any crash.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::env::{self, Ctx};

/// One fuzz target (a `[[bin]]` of fuzz/Cargo.toml).
#[derive(Debug)]
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "vtep_ops",
        about: "the engine under arbitrary inputs, time and management calls, invariants checked",
    },
    Target {
        name: "config_toml",
        about: "native-vtep's config parser over arbitrary text",
    },
    Target {
        name: "config_structured",
        about: "native-vtep's config: flags and near-valid TOML built from its keys",
    },
    Target {
        name: "wire_vxlan",
        about: "VXLAN header: both policies, emit/parse round trip",
    },
    Target {
        name: "wire_geneve",
        about: "Geneve header and option TLVs, round trip",
    },
    Target {
        name: "wire_nvgre",
        about: "NVGRE header, round trip",
    },
    Target {
        name: "wire_ndisc",
        about: "IPv6 ND as the proxy reads it: parse, emit round trip, the answer checked",
    },
    Target {
        name: "wire_dot1q",
        about: "802.1Q tags: parse, strip, push",
    },
    Target {
        name: "wire_outer",
        about: "outer IPv4/IPv6 + UDP/GRE: parse, emit, parse again",
    },
    Target {
        name: "wire_flow",
        about: "flow hash: deterministic, symmetric, port in range",
    },
    Target {
        name: "pcap_reader",
        about: "pcap reader over any bytes, writer round trip",
    },
    Target {
        name: "bgp_parse",
        about: "BGP codec over any bytes: never panics, parse/emit/parse round trip",
    },
    Target {
        name: "evpn_speaker",
        about: "EVPN speaker under arbitrary streams and events, invariants checked",
    },
];

/// Targets run side by side (the project's machines have 2 cores).
const PARALLEL: usize = 2;
/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// Flags of every build and of the reproduce command: they must match, or cargo rebuilds.
const BUILD_FLAGS: &[&str] = &["--sanitizer", "none", "--debug-assertions"];
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

#[derive(Debug)]
pub struct Options {
    pub secs: u64,
    pub targets: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            secs: 60,
            targets: Vec::new(),
        }
    }
}

/// One line per target, for help texts.
pub fn list() -> String {
    TARGETS
        .iter()
        .map(|t| format!("    {:18} {}\n", t.name, t.about))
        .collect()
}

struct Running {
    target: &'static Target,
    child: Child,
    started: Instant,
    log: PathBuf,
    artifacts_before: BTreeSet<PathBuf>,
    corpus_before: usize,
}

struct Report {
    name: &'static str,
    took: Duration,
    execs: Option<u64>,
    per_sec: Option<u64>,
    corpus: usize,
    corpus_before: usize,
    artifacts: Vec<PathBuf>,
    error: Option<String>,
    log: PathBuf,
}

pub fn run(ctx: &Ctx, options: &Options) -> Result<(), String> {
    let chosen: Vec<&'static Target> = if options.targets.is_empty() {
        TARGETS.iter().collect()
    } else {
        options
            .targets
            .iter()
            .map(|name| {
                TARGETS
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| format!("unknown fuzz target `{name}`; targets:\n{}", list()))
            })
            .collect::<Result<_, _>>()?
    };
    let started = Instant::now();
    let cargo = ctx
        .which("cargo")
        .ok_or("`cargo` (the rustup proxy) not found on PATH")?;
    if ctx
        .output(&cargo.to_string_lossy(), &["+nightly", "fuzz", "--version"])
        .is_none()
    {
        return Err(
            "`cargo +nightly fuzz` does not run: `cargo xtask setup` installs the \
                    nightly toolchain and cargo-fuzz"
                .into(),
        );
    }
    let target_dir = ctx.root.join("target/fuzz");

    println!(
        "fuzz: building {} targets (nightly, libFuzzer)",
        TARGETS.len()
    );
    let build_started = Instant::now();
    let mut build = ctx.cmd(&cargo.to_string_lossy());
    build
        .args(["+nightly", "fuzz", "build"])
        .args(BUILD_FLAGS)
        .arg("--target-dir")
        .arg(&target_dir);
    ctx.run(&mut build)?;
    println!("fuzz: built in {}", env::since(build_started));

    let seeded = seed(ctx)?;
    println!("fuzz: seeded corpora ({seeded} seed files written)");

    println!(
        "fuzz: running {} target(s) for {}s each, {PARALLEL} at a time (logs in target/fuzz/logs/)",
        chosen.len(),
        options.secs
    );
    let bin_dir = target_dir.join(TRIPLE).join("release");
    let logs = target_dir.join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let mut queue = chosen.into_iter();
    let mut running: Vec<Running> = Vec::new();
    let mut reports: Vec<Report> = Vec::new();
    let mut last_progress = Instant::now();
    loop {
        while running.len() < PARALLEL {
            let Some(target) = queue.next() else { break };
            running.push(start(ctx, target, &bin_dir, &logs, options.secs)?);
        }
        if running.is_empty() {
            break;
        }
        thread::sleep(Duration::from_millis(250));
        let mut i = 0;
        while i < running.len() {
            match running[i].child.try_wait() {
                Ok(Some(status)) => {
                    let done = running.remove(i);
                    let report = finish(ctx, done, status.success());
                    print_report(&report);
                    reports.push(report);
                }
                Ok(None) => i += 1,
                Err(e) => return Err(format!("waiting for a fuzzer: {e}")),
            }
        }
        if last_progress.elapsed() >= PROGRESS_EVERY && !running.is_empty() {
            last_progress = Instant::now();
            let parts: Vec<String> = running
                .iter()
                .map(|r| {
                    format!(
                        "{} {}s/{}s {}",
                        r.target.name,
                        r.started.elapsed().as_secs(),
                        options.secs,
                        status_line(&r.log).unwrap_or_else(|| "starting".into())
                    )
                })
                .collect();
            println!("fuzz: {}", parts.join(" | "));
        }
    }

    println!();
    println!(
        "{:18} {:>7} {:>13} {:>9} {:>13}  crashes",
        "target", "time", "executions", "exec/s", "corpus"
    );
    for r in &reports {
        println!(
            "{:18} {:>7} {:>13} {:>9} {:>6} (+{:<4})  {}",
            r.name,
            env::fmt_duration(r.took),
            r.execs.map_or("?".into(), |n| n.to_string()),
            r.per_sec.map_or("?".into(), |n| n.to_string()),
            r.corpus,
            r.corpus.saturating_sub(r.corpus_before),
            r.artifacts.len()
        );
    }
    println!("fuzz: total {}", env::since(started));

    let failed: Vec<&Report> = reports.iter().filter(|r| r.error.is_some()).collect();
    if failed.is_empty() {
        return Ok(());
    }
    let mut message = format!("{} fuzz target(s) failed:", failed.len());
    for r in failed {
        message.push_str(&format!(
            "\n  {}: {} (log: {})",
            r.name,
            r.error.as_deref().unwrap_or(""),
            rel(ctx, &r.log)
        ));
        for artifact in &r.artifacts {
            message.push_str(&format!(
                "\n    artifact {}\n    reproduce: cargo +nightly fuzz run {} --target-dir \
                 target/fuzz {} {}",
                rel(ctx, artifact),
                BUILD_FLAGS.join(" "),
                r.name,
                rel(ctx, artifact)
            ));
        }
    }
    Err(message)
}

fn start(
    ctx: &Ctx,
    target: &'static Target,
    bin_dir: &Path,
    logs: &Path,
    secs: u64,
) -> Result<Running, String> {
    let fuzz = ctx.root.join("fuzz");
    let corpus = fuzz.join("corpus").join(target.name);
    let artifacts = fuzz.join("artifacts").join(target.name);
    for dir in [&corpus, &artifacts] {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let log = logs.join(format!("{}.log", target.name));
    let log_file =
        fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut cmd = Command::new(bin_dir.join(target.name));
    cmd.current_dir(&ctx.root)
        .arg(&corpus)
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        // A single input taking seconds is a hang worth reporting, not a slow machine.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-max_len=4096");
    let dict = fuzz.join("seeds").join(format!("{}.dict", target.name));
    if dict.is_file() {
        cmd.arg(format!("-dict={}", dict.display()));
    }
    cmd.stdin(Stdio::null())
        .stdout(log_file.try_clone().map_err(|e| format!("log file: {e}"))?)
        .stderr(log_file);
    println!("fuzz: start {} ({})", target.name, target.about);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start fuzz target {}: {e}", target.name))?;
    Ok(Running {
        target,
        child,
        started: Instant::now(),
        log,
        artifacts_before: files(&artifacts),
        corpus_before: files(&corpus).len(),
    })
}

fn finish(ctx: &Ctx, done: Running, success: bool) -> Report {
    let name = done.target.name;
    let fuzz = ctx.root.join("fuzz");
    let text = fs::read_to_string(&done.log).unwrap_or_default();
    let stat = |key: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("stat::{key}:")))
            .and_then(|v| v.trim().parse().ok())
    };
    let artifacts: Vec<PathBuf> = files(&fuzz.join("artifacts").join(name))
        .difference(&done.artifacts_before)
        .cloned()
        .collect();
    let execs = stat("number_of_executed_units");
    let error = verdict(success, &text, !artifacts.is_empty(), execs);
    Report {
        name,
        took: done.started.elapsed(),
        execs,
        per_sec: stat("average_exec_per_sec"),
        corpus: files(&fuzz.join("corpus").join(name)).len(),
        corpus_before: done.corpus_before,
        artifacts,
        error,
        log: done.log,
    }
}

/// Why a finished fuzz run failed, or `None` when it passed.
fn verdict(success: bool, log: &str, crashed: bool, execs: Option<u64>) -> Option<String> {
    if !success {
        let cause = log
            .lines()
            .find(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer"))
            .unwrap_or("the fuzzer exited with an error");
        Some(cause.trim().to_string())
    } else if crashed {
        Some("crash artifacts written".into())
    } else if execs.unwrap_or(0) == 0 {
        // A target that ran nothing (it exited at once, or libFuzzer printed no statistics)
        // proves nothing, so it does not pass.
        Some("the fuzzer executed no input (no `number_of_executed_units` in its log)".into())
    } else {
        None
    }
}

fn print_report(r: &Report) {
    match &r.error {
        None => println!(
            "fuzz: {} passed: {} executions in {} ({}/s), corpus {} files",
            r.name,
            r.execs.map_or("?".into(), |n| n.to_string()),
            env::fmt_duration(r.took),
            r.per_sec.map_or("?".into(), |n| n.to_string()),
            r.corpus
        ),
        Some(e) => println!("fuzz: {} FAILED: {e}", r.name),
    }
}

/// The last libFuzzer status line (`#1234 NEW cov: 56 ft: 78 corp: 9/1kb exec/s: 1000 ...`),
/// shortened to runs, coverage, corpus and speed.
fn status_line(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.starts_with('#'))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .copied()
    };
    Some(format!(
        "{} runs, cov {}, corp {}, {} exec/s",
        words[0].trim_start_matches('#'),
        after("cov:").unwrap_or("?"),
        after("corp:").unwrap_or("?"),
        after("exec/s:").unwrap_or("?")
    ))
}

fn files(dir: &Path) -> BTreeSet<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default()
}

fn rel(ctx: &Ctx, path: &Path) -> String {
    path.strip_prefix(&ctx.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

// ---- seeding ----

/// Writes seed inputs into `fuzz/corpus/TARGET/`: packets cut out of the fixture captures (the
/// Linux kernel's vxlan, Scapy's Geneve and NVGRE), the committed `fuzz/seeds/TARGET/` files,
/// and the TOML examples of native-vtep's README. Returns how many files it wrote.
fn seed(ctx: &Ctx) -> Result<usize, String> {
    let fuzz = ctx.root.join("fuzz");
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    let fixtures = ctx.root.join("core/tests/fixtures");
    let mut pcaps: Vec<PathBuf> = files(&fixtures)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    for path in &pcaps {
        let stem = path
            .file_stem()
            .map_or("pcap".into(), |s| s.to_string_lossy().into_owned());
        let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        seeds.push(("pcap_reader", stem.clone(), bytes.clone()));
        for (i, frame) in pcap_frames(&bytes).iter().enumerate() {
            let name = format!("{stem}-{i}");
            for (target, data) in cut(frame) {
                seeds.push((target, name.clone(), data));
            }
        }
    }
    // The README's config examples are what operators start from.
    let readme = ctx.root.join("native-vtep/README.md");
    if let Ok(text) = fs::read_to_string(&readme) {
        for (i, block) in text.split("```toml").skip(1).enumerate() {
            if let Some(body) = block.split("```").next() {
                seeds.push((
                    "config_toml",
                    format!("readme-{i}"),
                    body.as_bytes().to_vec(),
                ));
            }
        }
    }
    let mut written = 0;
    for target in TARGETS {
        let committed = fuzz.join("seeds").join(target.name);
        for file in files(&committed) {
            let data =
                fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let name = file
                .file_name()
                .map_or("seed".into(), |n| n.to_string_lossy().into_owned());
            seeds.push((target.name, name, data));
        }
    }
    for (target, name, data) in seeds {
        let dir = fuzz.join("corpus").join(target);
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join(format!("seed-{name}"));
        if fs::read(&path).ok().as_deref() != Some(&data[..]) {
            fs::write(&path, &data).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            written += 1;
        }
    }
    Ok(written)
}

/// The records of a classic pcap file (either byte order); stops at the first bad record.
fn pcap_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let Some(magic) = bytes.get(..4) else {
        return out;
    };
    let big = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => return out,
    };
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        } as usize)
    };
    let mut at = 24;
    while let Some(incl) = u32_at(at + 8) {
        let Some(data) = bytes.get(at + 16..at + 16 + incl) else {
            break;
        };
        out.push(data);
        at += 16 + incl;
    }
    out
}

/// Seeds for each target from one captured Ethernet frame: the IP packet (wire_outer), the
/// tunnel header onwards (wire_vxlan / wire_geneve / wire_nvgre), the inner and outer frames
/// with the targets' leading parameters (wire_dot1q, wire_flow).
fn cut(frame: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    // wire_flow reads (seed: u64, min: u16, max: u16) first, wire_dot1q (start: u8, tci: u16,
    // qinq: bool): fixed prefixes, then the frame.
    let flow = |frame: &[u8]| [&[0u8; 8][..], &[0x00, 0xc0, 0xff, 0xff], frame].concat();
    let dot1q = |frame: &[u8]| [&[0u8, 0x64, 0xa0, 0][..], frame].concat();
    out.push(("wire_flow", flow(frame)));
    let Some(ip) = frame.get(14..) else {
        return out;
    };
    out.push(("wire_outer", ip.to_vec()));
    let (protocol, l4) = match ip.first().map(|b| b >> 4) {
        Some(4) => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            (ip.get(9).copied(), ip.get(ihl..))
        }
        Some(6) => (ip.get(6).copied(), ip.get(40..)),
        _ => (None, None),
    };
    let (Some(protocol), Some(l4)) = (protocol, l4) else {
        return out;
    };
    let (target, tunnel) = match protocol {
        17 if l4.len() >= 8 => {
            let port = u16::from_be_bytes([l4[2], l4[3]]);
            let target = match port {
                4789 | 8472 => "wire_vxlan",
                6081 => "wire_geneve",
                _ => return out,
            };
            (target, &l4[8..])
        }
        47 => ("wire_nvgre", l4),
        _ => return out,
    };
    out.push((target, tunnel.to_vec()));
    let header = match target {
        "wire_geneve" => tunnel.first().map_or(8, |b| 8 + usize::from(b & 0x3f) * 4),
        _ => 8,
    };
    if let Some(inner) = tunnel.get(header..) {
        out.push(("wire_dot1q", dot1q(inner)));
        out.push(("wire_flow", flow(inner)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_cut_into_seeds_for_every_wire_target() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures");
        let mut targets = BTreeSet::new();
        for name in ["vxlan-ipv4", "vxlan-ipv6", "geneve-options", "nvgre-ipv4"] {
            let bytes = fs::read(root.join(format!("{name}.pcap"))).unwrap();
            let frames = pcap_frames(&bytes);
            assert!(!frames.is_empty(), "{name}");
            for frame in frames {
                targets.extend(cut(frame).into_iter().map(|(t, _)| t));
            }
        }
        let expect = [
            "wire_dot1q",
            "wire_flow",
            "wire_geneve",
            "wire_nvgre",
            "wire_outer",
            "wire_vxlan",
        ];
        assert_eq!(targets.into_iter().collect::<Vec<_>>(), expect);
    }

    #[test]
    fn targets_match_the_fuzz_crate() {
        let manifest =
            fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml"))
                .unwrap();
        for target in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{}\"", target.name)),
                "{} is not a [[bin]] of fuzz/Cargo.toml",
                target.name
            );
        }
        assert_eq!(manifest.matches("[[bin]]").count(), TARGETS.len());
    }

    #[test]
    fn a_run_passes_only_when_it_executed_inputs_and_found_nothing() {
        assert_eq!(verdict(true, "", false, Some(12_345)), None);
        let none = verdict(true, "", false, None).unwrap();
        assert!(none.contains("executed no input"), "{none}");
        assert!(verdict(true, "", false, Some(0)).is_some());
        assert_eq!(
            verdict(true, "", true, Some(9)).as_deref(),
            Some("crash artifacts written")
        );
        let log = "INFO: x\nthread '<unnamed>' panicked at src/lib.rs:3:5:\n";
        let failed = verdict(false, log, false, Some(9)).unwrap();
        assert!(
            failed.starts_with("thread '<unnamed>' panicked at"),
            "{failed}"
        );
    }
}
