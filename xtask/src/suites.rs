//! `cargo xtask test`: every test suite of the project, in order.
//!
//! A suite is data: a name and the commands it runs. Add one by adding an entry to [`SUITES`].

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::env::{self, CHROMEDRIVER, CHROMIUM, Ctx};

/// One test suite: it passes when all its commands exit successfully.
#[derive(Debug)]
pub struct Suite {
    pub name: &'static str,
    pub about: &'static str,
    pub steps: &'static [Step],
}

/// One command of a [`Suite`], run in the repo root.
#[derive(Debug)]
pub struct Step {
    pub program: &'static str,
    args: Args,
    pub env: &'static [(&'static str, &'static str)],
    /// Skip this step when the named suite already passed in this run (its output is reused).
    pub unless_passed: Option<&'static str>,
}

/// The arguments of a [`Step`]: as written, or one of the command lines several steps share
/// but for one word.
#[derive(Debug)]
enum Args {
    Given(&'static [&'static str]),
    /// `test -p native-vtep --test TARGET -- --test-threads=1`: the tests of a target that
    /// runs daemons in network namespaces, one at a time.
    NamespaceTest(&'static str),
    /// `test --mode no-install --headless --chrome --chromedriver CHROMEDRIVER CRATE`: a
    /// crate's tests as wasm32 in headless Chromium.
    WasmPackTest(&'static str),
    /// `build -p PACKAGE... --target TARGET`: packages built for another target.
    BuildFor {
        target: &'static str,
        packages: &'static [&'static str],
    },
}

impl Step {
    const fn new(program: &'static str, args: &'static [&'static str]) -> Self {
        Self {
            program,
            args: Args::Given(args),
            env: &[],
            unless_passed: None,
        }
    }

    /// `cargo test -p native-vtep --test TARGET -- --test-threads=1`, tools required.
    const fn namespace_test(target: &'static str) -> Self {
        Self {
            args: Args::NamespaceTest(target),
            ..Self::new("cargo", &[])
        }
        .env(TEST_ENV)
    }

    /// `wasm-pack test ... CRATE` in headless Chromium, with Debian's chromedriver.
    const fn wasm_pack_test(krate: &'static str) -> Self {
        Self {
            args: Args::WasmPackTest(krate),
            ..Self::new("wasm-pack", &[])
        }
        .env(WASM_PACK_ENV)
    }

    /// `cargo build` of `packages` for `target`.
    const fn build_for(target: &'static str, packages: &'static [&'static str]) -> Self {
        Self {
            args: Args::BuildFor { target, packages },
            ..Self::new("cargo", &[])
        }
    }

    const fn env(self, env: &'static [(&'static str, &'static str)]) -> Self {
        Self { env, ..self }
    }

    const fn unless_passed(self, suite: &'static str) -> Self {
        Self {
            unless_passed: Some(suite),
            ..self
        }
    }

    /// The arguments the program is run with.
    pub fn args(&self) -> Vec<&'static str> {
        match self.args {
            Args::Given(args) => args.to_vec(),
            Args::NamespaceTest(target) => [
                "test",
                "-p",
                "native-vtep",
                "--test",
                target,
                "--",
                "--test-threads=1",
            ]
            .to_vec(),
            Args::WasmPackTest(krate) => [
                "test",
                "--mode",
                "no-install",
                "--headless",
                "--chrome",
                "--chromedriver",
                CHROMEDRIVER,
                krate,
            ]
            .to_vec(),
            Args::BuildFor { target, packages } => {
                let mut args = vec!["build"];
                for package in packages {
                    args.extend(["-p", package]);
                }
                args.extend(["--target", target]);
                args
            }
        }
    }
}

/// Browser tests: Debian's chromedriver, never a downloaded one; wasm-bindgen from PATH
/// (`--mode no-install`), never a downloaded one.
const WASM_PACK_ENV: &[(&str, &str)] = &[("CHROMEDRIVER", CHROMEDRIVER)];

/// Tests that need external tools (tshark, ...) fail instead of skipping when they are missing.
const TEST_ENV: &[(&str, &str)] = &[("OVERLAY_LAB_REQUIRE_TOOLS", "1")];

/// The release build of the playground into dist/, without network (crates and tools are
/// present after setup).
const TRUNK_BUILD: Step = Step::new(
    "trunk",
    &["--offline", "--skip-version-check", "build", "--release"],
);

/// Every suite, in the order `cargo xtask test` runs them.
pub const SUITES: &[Suite] = &[
    Suite {
        name: "fmt",
        about: "rustfmt check of the whole workspace and the fuzz crate",
        steps: &[
            Step::new("cargo", &["fmt", "--all", "--", "--check"]),
            Step::new(
                "cargo",
                &[
                    "fmt",
                    "--manifest-path",
                    "fuzz/Cargo.toml",
                    "--all",
                    "--",
                    "--check",
                ],
            ),
        ],
    },
    Suite {
        name: "tidy",
        about: "the invariants: `unsafe` only in native-vtep/src/sys.rs with SAFETY comments, \
                files under src/ at most 800 lines, no todo!/dbg!/#[ignore], every file named \
                in ARCHITECTURE.md, every test and fuzz target run by a suite",
        steps: &[Step::new("cargo", &["xtask", "tidy"])],
    },
    Suite {
        name: "clippy",
        about: "clippy on every crate and target, the fuzz crate too, warnings are errors",
        steps: &[
            Step::new(
                "cargo",
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
            // The fuzz crate is a workspace of its own (it needs nightly to run, not to lint);
            // it shares target/ so that the workspace's crates are checked once.
            Step::new(
                "cargo",
                &[
                    "clippy",
                    "--manifest-path",
                    "fuzz/Cargo.toml",
                    "--target-dir",
                    "target",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
        ],
    },
    Suite {
        name: "test",
        about: "native unit, integration and doc tests (tools such as tshark are required)",
        steps: &[
            // Everything but native-vtep's namespace suite, which has a suite of its own.
            Step::new(
                "cargo",
                &[
                    "test",
                    "--workspace",
                    "--exclude",
                    "native-vtep",
                    "--no-fail-fast",
                ],
            )
            .env(TEST_ENV),
            Step::new(
                "cargo",
                &[
                    "test",
                    "-p",
                    "native-vtep",
                    "--lib",
                    "--bins",
                    "--test",
                    "errors",
                    "--test",
                    "fuzz_regressions",
                    // Without `--minutes` the soak checks only its own parsers and bounds.
                    "--test",
                    "soak",
                    "--no-fail-fast",
                ],
            )
            .env(TEST_ENV),
        ],
    },
    Suite {
        name: "interop",
        about: "native-vtep against itself and the Linux kernel's vxlan in network namespaces \
                (root; namespaces are per run and always removed)",
        steps: &[Step::namespace_test("interop")],
    },
    Suite {
        name: "hostile",
        about: "the hostile-input catalogue and two tenants with the same IPs and MACs, end to \
                end against running native-vteps (scapy-crafted packets, network namespaces); \
                the malformed BGP catalogue and a route flood from a scripted peer, another \
                session unaffected",
        steps: &[
            Step::namespace_test("hostile"),
            Step::namespace_test("evpn_hostile"),
        ],
    },
    Suite {
        name: "faults",
        about: "native-vtep under faults: a peer killed and restarted, the underlay link down \
                and up, the TAP deleted, SIGTERM under load, static config across restarts, \
                `--user` dropping every privilege; a BGP peer gone silent (hold time), \
                unreachable, refusing or in another AS",
        steps: &[
            Step::namespace_test("faults"),
            Step::namespace_test("evpn_faults"),
        ],
    },
    Suite {
        name: "evpn",
        about: "native-vtep in BGP EVPN fabrics against real peers in network namespaces: FRR \
                as route reflector with an FRR-driven kernel vxlan VTEP (routes both ways, \
                ping and TCP with learning off, ARP answered locally, IPv6 hosts with ND \
                answered locally and the Router flag both ways, a host moving, the reflector \
                restarting, SIGTERM withdrawing), GoBGP injecting and reading back routes \
                (IPv6 ones too), tshark decoding the sessions (root; FRR and GoBGP from setup)",
        steps: &[Step::namespace_test("evpn")],
    },
    Suite {
        name: "fuzz",
        about: "every cargo-fuzz target for a short bounded run (nightly, libFuzzer), seeded \
                from real captures",
        // About a minute per target (#7): 10 targets x 60 s, two at a time, plus the build
        // (~1-4 min): under 10 minutes.
        steps: &[Step::new("cargo", &["xtask", "fuzz", "--secs", "60"])],
    },
    Suite {
        name: "no_std",
        about: "vtep-core and vtep-evpn build for a bare-metal target (no std can sneak in)",
        steps: &[Step::build_for(
            "thumbv7em-none-eabihf",
            &["vtep-core", "vtep-evpn"],
        )],
    },
    Suite {
        name: "wasm",
        about: "vtep-core, vtep-evpn, vtep-sim and vtep-web build for wasm32-unknown-unknown",
        steps: &[Step::build_for(
            "wasm32-unknown-unknown",
            &["vtep-core", "vtep-evpn", "vtep-sim", "vtep-web"],
        )],
    },
    Suite {
        name: "wasm-pack-core",
        about: "vtep-core's unit tests and its deterministic integration tests (engine, hostile \
                catalogue, ND suppression, fast path, fixtures, fuzz regressions, browser) as \
                wasm32 in headless Chromium; the property, tshark, allocation and isolation tests \
                are native only",
        steps: &[Step::wasm_pack_test("core")],
    },
    Suite {
        name: "wasm-pack-web",
        about: "the playground in headless Chromium: the inspector decodes a known frame, tables \
                update after a ping, controls change state, the whole app driven as a learner \
                (one test per bug of the UX review)",
        steps: &[Step::wasm_pack_test("web")],
    },
    Suite {
        name: "trunk-build",
        about: "the playground's release build (trunk build --release) works offline",
        steps: &[TRUNK_BUILD],
    },
    Suite {
        name: "e2e",
        about: "the release build in Chromium (playwright-core): every guided scenario run through \
                the UI and its outcome checked, no console errors, the pcap read by tshark, \
                screenshots in target/e2e/",
        steps: &[
            TRUNK_BUILD.unless_passed("trunk-build"),
            Step::new("node", &["e2e/run.mjs"]).env(&[("CHROMIUM", CHROMIUM)]),
        ],
    },
];

/// Options of `cargo xtask test`.
#[derive(Debug, Default)]
pub struct Selection {
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

impl Selection {
    /// The suites to run, in order; `Err` names unknown suites.
    pub fn suites(&self) -> Result<Vec<&'static Suite>, String> {
        for name in self.only.iter().chain(&self.skip) {
            if !SUITES.iter().any(|s| s.name == name) {
                return Err(format!(
                    "unknown suite `{name}`; suites: {}",
                    SUITES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        Ok(SUITES
            .iter()
            .filter(|s| self.only.is_empty() || self.only.iter().any(|n| n == s.name))
            .filter(|s| !self.skip.iter().any(|n| n == s.name))
            .collect())
    }
}

struct Outcome {
    name: &'static str,
    error: Option<String>,
    took: Duration,
}

/// Runs `suites` in order, continuing after failures; `Err` when any failed.
pub fn run(ctx: &Ctx, suites: &[&'static Suite]) -> Result<(), String> {
    let start = Instant::now();
    let mut outcomes: Vec<Outcome> = Vec::new();
    for suite in suites {
        println!();
        println!("==> suite {}: {}", suite.name, suite.about);
        let began = Instant::now();
        let error = run_suite(ctx, suite, &outcomes);
        let took = began.elapsed();
        match &error {
            None => println!(
                "suite {}: passed in {}",
                suite.name,
                env::fmt_duration(took)
            ),
            Some(e) => println!(
                "suite {}: FAILED in {} ({e})",
                suite.name,
                env::fmt_duration(took)
            ),
        }
        outcomes.push(Outcome {
            name: suite.name,
            error,
            took,
        });
    }

    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    let passed = outcomes.len() - failed;
    let width = outcomes
        .iter()
        .map(|o| o.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!();
    println!("{:width$}  {:6}  {:>8}", "suite", "result", "time");
    for o in &outcomes {
        let result = if o.error.is_some() {
            "FAILED"
        } else {
            "passed"
        };
        println!(
            "{:width$}  {result:6}  {:>8}",
            o.name,
            env::fmt_duration(o.took)
        );
    }
    println!("total: {}", env::since(start));
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        Ok(())
    } else {
        Err(format!(
            "{failed} suite(s) failed: {}",
            outcomes
                .iter()
                .filter(|o| o.error.is_some())
                .map(|o| o.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn run_suite(ctx: &Ctx, suite: &Suite, earlier: &[Outcome]) -> Option<String> {
    for step in suite.steps {
        if let Some(dep) = step.unless_passed
            && earlier.iter().any(|o| o.name == dep && o.error.is_none())
        {
            println!(
                "(reusing the output of suite {dep}: skipping `{}`)",
                step.program
            );
            continue;
        }
        if step.program != "cargo" && ctx.which(step.program).is_none() {
            return Some(format!(
                "`{}` not found; run `cargo xtask setup`",
                step.program
            ));
        }
        let mut cmd = ctx.cmd(step.program);
        cmd.args(step.args()).stdout(Stdio::inherit());
        for (key, value) in step.env {
            cmd.env(key, value);
        }
        if let Err(e) = ctx.run(&mut cmd) {
            return Some(e);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_command_lines_expand_to_the_whole_command() {
        let hostile = Step::namespace_test("hostile");
        assert_eq!(hostile.program, "cargo");
        assert_eq!(
            hostile.args().join(" "),
            "test -p native-vtep --test hostile -- --test-threads=1"
        );
        assert_eq!(hostile.env, TEST_ENV);
        let web = Step::wasm_pack_test("web");
        assert_eq!(web.program, "wasm-pack");
        assert_eq!(
            web.args().join(" "),
            format!("test --mode no-install --headless --chrome --chromedriver {CHROMEDRIVER} web")
        );
        assert_eq!(web.env, WASM_PACK_ENV);
    }
}
