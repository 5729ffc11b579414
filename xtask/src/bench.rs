//! `cargo xtask bench NAME`: the project's benchmarks. Each prints its own figures; speed and
//! memory targets are judged by reading them, never by a timed test.

use crate::env::{self, Ctx};

/// One benchmark: the command that measures and prints.
#[derive(Debug)]
pub struct Bench {
    pub name: &'static str,
    pub about: &'static str,
    pub program: &'static str,
    pub args: &'static [&'static str],
}

/// Every benchmark, in the order `cargo xtask bench all` runs them.
pub const BENCHES: &[Bench] = &[Bench {
    name: "sim",
    about: "simulator: frame-hops per second, the 200 x 20 hosts ping run, the S5 counting model",
    program: "cargo",
    args: &["run", "--release", "-p", "vtep-sim", "--example", "bench"],
}];

/// Runs the named benchmarks (`all` for every one), passing `extra` arguments through.
pub fn run(ctx: &Ctx, names: &[String], extra: &[String]) -> Result<(), String> {
    let chosen: Vec<&Bench> = if names.iter().any(|n| n == "all") {
        BENCHES.iter().collect()
    } else {
        names
            .iter()
            .map(|name| {
                BENCHES.iter().find(|b| b.name == name).ok_or_else(|| {
                    format!(
                        "unknown benchmark `{name}`; benchmarks: {}, all",
                        BENCHES
                            .iter()
                            .map(|b| b.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };
    if chosen.is_empty() {
        return Err(format!("name a benchmark:\n{}", list()));
    }
    for bench in chosen {
        println!("==> bench {}: {}", bench.name, bench.about);
        let started = std::time::Instant::now();
        let mut cmd = ctx.cmd(bench.program);
        cmd.args(bench.args);
        if !extra.is_empty() {
            if bench.program == "cargo" && !bench.args.contains(&"--") {
                cmd.arg("--");
            }
            cmd.args(extra);
        }
        ctx.run(&mut cmd)?;
        println!("bench {}: done in {}", bench.name, env::since(started));
    }
    Ok(())
}

/// One line per benchmark, for help texts.
pub fn list() -> String {
    BENCHES
        .iter()
        .map(|b| format!("    {:8} {}\n", b.name, b.about))
        .collect()
}
