//! `cargo xtask bench NAME`: the project's benchmarks. Each prints its own figures; speed and
//! memory targets are judged by reading them, never by a timed test.

use crate::env::{self, Ctx};

/// One benchmark: commands run in order; the last one measures and prints, and receives the
/// extra arguments given after `--`.
#[derive(Debug)]
pub struct Bench {
    pub name: &'static str,
    pub about: &'static str,
    pub steps: &'static [(&'static str, &'static [&'static str])],
}

/// Every benchmark, in the order `cargo xtask bench all` runs them.
pub const BENCHES: &[Bench] = &[
    Bench {
        name: "core",
        about: "criterion: encapsulate, decapsulate, FDB lookup and learn at 1k/100k/1M entries, \
                bytes per FDB entry",
        steps: &[("cargo", &["bench", "-p", "vtep-core", "--bench", "core"])],
    },
    Bench {
        name: "sim",
        about: "simulator: frame-hops per second, 200 x 20 hosts pinging, the S5 counting model",
        steps: &[(
            "cargo",
            &["run", "--release", "-p", "vtep-sim", "--example", "bench"],
        )],
    },
    Bench {
        name: "native",
        about: "native-vtep vs the kernel's vxlan in namespaces with iperf3 (root; `-- --quick` \
                for a short run)",
        steps: &[(
            "cargo",
            &["bench", "-p", "native-vtep", "--bench", "native"],
        )],
    },
    Bench {
        name: "evpn",
        about: "BGP EVPN: type-2 routes parsed and installed per second by the speaker and \
                bytes per installed route (100,000 routes), then 100,000 MAC routes from an FRR \
                reflector into native-vtep's FDB against FRR's own kernel VTEP in the same run \
                (root, FRR; `-- --routes N`)",
        steps: &[
            ("cargo", &["bench", "-p", "vtep-evpn", "--bench", "speaker"]),
            ("cargo", &["bench", "-p", "native-vtep", "--bench", "evpn"]),
        ],
    },
    Bench {
        name: "web",
        about: "playground: frame rate with 16 hypervisors x 64 hosts pinging, time to \
                interactive, gzipped wasm + JS",
        steps: &[
            (
                "trunk",
                &["--offline", "--skip-version-check", "build", "--release"],
            ),
            ("node", &["e2e/bench.mjs"]),
        ],
    },
];

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
        for (i, (program, args)) in bench.steps.iter().enumerate() {
            let mut cmd = ctx.cmd(program);
            cmd.args(*args);
            if i + 1 == bench.steps.len() && !extra.is_empty() {
                if *program == "cargo" {
                    cmd.arg("--");
                }
                cmd.args(extra);
            }
            ctx.run(&mut cmd)?;
        }
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
