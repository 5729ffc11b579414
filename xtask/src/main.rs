//! `cargo xtask`: Overlay Lab's automation (setup, serve the playground, run every test suite).
//!
//! std only, on purpose: it must build fast on a fresh machine before anything is installed.

mod bench;
mod env;
mod fuzz;
mod setup;
mod soak;
mod suites;
mod tidy;

use std::os::unix::process::CommandExt as _;
use std::process::ExitCode;

use env::Ctx;
use setup::Scope;

const USAGE: &str = "\
cargo xtask: Overlay Lab's automation

USAGE:
    cargo xtask setup
        Install everything the project needs; each step is skipped when already present:
        rust targets, the nightly toolchain (for cargo fuzz), Debian packages (chromium,
        chromium-driver, tshark, iperf3, tcpdump, ethtool, iproute2), scapy (in a venv,
        target/tools/venv), trunk, wasm-bindgen-cli (the version of Cargo.lock), wasm-pack,
        cargo-fuzz, wasm-opt (npm binaryen, in target/tools), e2e/node_modules, every crate.

    cargo xtask serve [--port N] [--release]
        Set up the web tools, then run the playground with `trunk serve` on
        http://127.0.0.1:8080 (or port N), rebuilding on changes in web/, core/, index.html.
        It builds into target/serve-dist, never into dist/ (the release build the tests use).

    cargo xtask test [--only NAME[,NAME..]] [--skip NAME[,NAME..]] [--no-setup] [--list]
        Set up everything, then run every test suite in order (continuing after failures),
        print a summary and exit non-zero when any failed.

    cargo xtask bench NAME.. [-- ARGS]
        Run benchmarks (release builds) and print their figures; `all` runs every one.
        ARGS go to the benchmark. See BENCHMARKS.md for the latest figures.

    cargo xtask soak [--minutes N]
        As root: two release native-vteps in network namespaces for N minutes (default 10)
        under paced iperf3, pings, a host migrating between them every second and MAC churn;
        one line a minute, a summary table at the end. Fails if RSS grows past its bound, an
        unexpected error counter moves, or a daemon dies. See native-vtep/tests/soak.rs.

    cargo xtask fuzz [--secs N] [--target NAME[,NAME..]] [--list]
        Build every cargo-fuzz target of fuzz/ (nightly), seed the corpora from the fixture
        captures and fuzz/seeds/, run each target for N seconds (default 60), two at a time,
        and print executions, exec/s, corpus size and crashes. Fails on any crash, naming the
        artifact and the command that reproduces it. See RELIABILITY.md.

    cargo xtask tidy
        Check the invariants no reviewer should check by eye: `unsafe` only in
        native-vtep/src/sys.rs and each with a `// SAFETY:` comment, no file under src/ over
        800 lines (a trailing test module not counted), no todo!/unimplemented!/dbg!/#[ignore]/
        #[should_panic], every source file named in ARCHITECTURE.md, every test target in a
        suite and every fuzz target registered. Also the `tidy` suite of `cargo xtask test`.

    cargo xtask help
        This text.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let ctx = Ctx::new();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("help", &[][..]),
    };
    match command {
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        "setup" => {
            no_more_args(rest)?;
            setup::run(&ctx, Scope::All)
        }
        "serve" => serve(&ctx, rest),
        "test" => test(&ctx, rest),
        "bench" => {
            let split = rest.iter().position(|a| a == "--");
            let (names, extra) = match split {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            if names.is_empty() {
                print!("benchmarks:\n{}", bench::list());
                return Err("name a benchmark, or `all`".into());
            }
            bench::run(&ctx, names, extra)
        }
        "soak" => soak::run(&ctx, rest),
        "tidy" => {
            no_more_args(rest)?;
            tidy::run(&ctx)
        }
        "fuzz" => fuzz_command(&ctx, rest),
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    }
}

fn fuzz_command(ctx: &Ctx, rest: &[String]) -> Result<(), String> {
    let mut options = fuzz::Options::default();
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--secs" => {
                let v = value(arg, &mut iter)?;
                options.secs = v
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("`--secs {v}`: give a whole number of seconds"))?;
            }
            "--target" => options.targets.extend(
                value(arg, &mut iter)?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            ),
            "--list" => {
                print!("fuzz targets:\n{}", fuzz::list());
                return Ok(());
            }
            other => {
                return Err(format!(
                    "unexpected argument `{other}` (see `cargo xtask help`)"
                ));
            }
        }
    }
    fuzz::run(ctx, &options)
}

fn no_more_args(rest: &[String]) -> Result<(), String> {
    match rest.first() {
        Some(arg) => Err(format!(
            "unexpected argument `{arg}` (see `cargo xtask help`)"
        )),
        None => Ok(()),
    }
}

/// The value after flag `name`.
fn value<'a>(name: &str, iter: &mut impl Iterator<Item = &'a String>) -> Result<&'a str, String> {
    iter.next()
        .map(String::as_str)
        .ok_or_else(|| format!("`{name}` needs a value (see `cargo xtask help`)"))
}

fn serve(ctx: &Ctx, rest: &[String]) -> Result<(), String> {
    let mut port: u16 = 8080;
    let mut release = false;
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--port" => {
                let v = value(arg, &mut iter)?;
                port = v
                    .parse()
                    .map_err(|_| format!("`--port {v}`: not a port number"))?;
            }
            "--release" => release = true,
            other => {
                return Err(format!(
                    "unexpected argument `{other}` (see `cargo xtask help`)"
                ));
            }
        }
    }
    setup::run(ctx, Scope::Web)?;

    let mut cmd = ctx.cmd("trunk");
    cmd.args(serve_args(port, release));
    println!();
    println!("serve: Overlay Lab playground at http://127.0.0.1:{port}/ (Ctrl-C stops it)");
    println!("serve: the first build takes a minute or two; the page reloads on changes");
    println!("serve: tools on PATH: {}", ctx.path().to_string_lossy());
    println!("$ {}", env::show(&cmd));
    // Become trunk: Ctrl-C and `kill PID` reach it directly, nothing is left running.
    let err = cmd.exec();
    Err(format!("could not start trunk: {err}"))
}

/// Where `cargo xtask serve` builds (relative to the workspace root).
const SERVE_DIST: &str = "target/serve-dist";

/// The arguments of `trunk` for `cargo xtask serve`.
fn serve_args(port: u16, release: bool) -> Vec<String> {
    let mut args: Vec<String> = ["--offline", "--skip-version-check", "serve"]
        .map(String::from)
        .into();
    args.extend(["--address".into(), "127.0.0.1".into(), "--port".into()]);
    args.push(port.to_string());
    // Not Trunk.toml's dist/: that is the release build the e2e suite and the benchmark
    // serve, and a dev build there keeps trunk's reload script (UX-REVIEW.md B12).
    args.extend(["--dist".into(), SERVE_DIST.into()]);
    if release {
        args.push("--release".into());
    }
    args
}

fn test(ctx: &Ctx, rest: &[String]) -> Result<(), String> {
    let mut selection = suites::Selection::default();
    let mut do_setup = true;
    let mut iter = rest.iter();
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--only" => selection.only.extend(list(value(arg, &mut iter)?)),
            "--skip" => selection.skip.extend(list(value(arg, &mut iter)?)),
            "--no-setup" => do_setup = false,
            "--list" => {
                for suite in suites::SUITES {
                    println!("{:16} {}", suite.name, suite.about);
                }
                return Ok(());
            }
            other => {
                return Err(format!(
                    "unexpected argument `{other}` (see `cargo xtask help`)"
                ));
            }
        }
    }
    let chosen = selection.suites()?;
    if chosen.is_empty() {
        return Err("no suite selected (see `cargo xtask test --list`)".into());
    }
    if do_setup {
        setup::run(ctx, Scope::All)?;
    }
    suites::run(ctx, &chosen)
}

#[cfg(test)]
mod tests {
    use super::serve_args;

    /// B12: `serve` builds into a folder of its own. Its dev build (with trunk's reload script)
    /// must never replace the release build in dist/ that the `e2e` suite and the benchmark
    /// serve.
    #[test]
    fn serve_never_writes_the_release_build() {
        for release in [false, true] {
            let args = serve_args(8080, release);
            let dist = args
                .iter()
                .position(|a| a == "--dist")
                .and_then(|i| args.get(i + 1));
            assert_eq!(
                dist.map(String::as_str),
                Some("target/serve-dist"),
                "trunk serve {args:?} writes into Trunk.toml's dist/"
            );
        }
    }
}
