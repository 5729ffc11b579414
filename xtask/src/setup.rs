//! `cargo xtask setup`: install everything the project needs, skipping what is present.
//!
//! Every requirement is a [`Need`]: it can say whether it is present and install itself. The
//! list is data ([`needs`]); `serve` asks only for the web part of it.

use std::fs;
use std::time::Instant;

use crate::env::{self, Ctx};

/// Which part of the project to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// What `cargo xtask serve` needs: the wasm target and the trunk toolchain.
    Web,
    /// Everything: also the test tools (browser, wasm-pack, Playwright, capture tools).
    All,
}

/// The cargo-installed tools, pinned. wasm-bindgen-cli's version comes from Cargo.lock.
const TRUNK_VERSION: &str = "0.21.14";
const WASM_PACK_VERSION: &str = "0.15.1";
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Python packages of the tests (hostile packets crafted with scapy), pinned, installed in a
/// venv under target/tools whose `bin/` comes first on the children's `PATH`.
const PYTHON_PACKAGES: &[(&str, &str)] = &[("scapy", "2.7.0")];

/// Debian packages the tests use: the browser and its driver for the wasm tests, and the
/// capture/traffic tools for the native and interop tests.
const APT_PACKAGES: &[&str] = &[
    "chromium",
    "chromium-driver",
    "tshark",
    "iperf3",
    "tcpdump",
    "ethtool",
    "iproute2",
    // `ping` inside the interop suite's namespaces; python3 drives its TCP and hostile traffic.
    "iputils-ping",
    "python3",
    // The evpn suite's real BGP peers: FRR (zebra and bgpd run per namespace with `-N`, the
    // route reflector and the kernel VTEP's control plane) and GoBGP (gobgpd and its CLI).
    "frr",
    "gobgpd",
];

/// One thing the project needs.
#[derive(Debug)]
enum Need {
    /// `rustup target add`.
    RustTarget(&'static str),
    /// `rustup toolchain install`: nightly, for `cargo fuzz` (libFuzzer needs sanitizer flags).
    Toolchain(&'static str),
    /// Pinned Python packages in the venv target/tools/venv.
    PythonVenv,
    /// Node.js and npm (for wasm-opt and the e2e test); from Debian when missing.
    Node,
    /// Debian packages.
    Apt(&'static [&'static str]),
    /// `cargo install`ed binary, at an exact version.
    CargoTool {
        krate: &'static str,
        bin: &'static str,
        version: String,
        locked: bool,
        cold: &'static str,
    },
    /// wasm-opt from npm `binaryen` (pinned in xtask/tools/package-lock.json) in target/tools.
    WasmOpt,
    /// e2e/node_modules from e2e/package-lock.json.
    E2eModules,
    /// Every crate in Cargo.lock downloaded, so builds can run `--offline`.
    Crates,
}

fn needs(ctx: &Ctx, scope: Scope) -> Result<Vec<Need>, String> {
    let all = scope == Scope::All;
    let wasm_bindgen = wasm_bindgen_version(ctx)?;
    let mut list = vec![Need::RustTarget("wasm32-unknown-unknown")];
    if all {
        list.push(Need::RustTarget("thumbv7em-none-eabihf"));
        list.push(Need::Apt(APT_PACKAGES));
        list.push(Need::PythonVenv);
        list.push(Need::Toolchain("nightly"));
    }
    list.push(Need::Node);
    list.push(Need::WasmOpt);
    if all {
        list.push(Need::E2eModules);
    }
    list.push(Need::Crates);
    list.push(Need::CargoTool {
        krate: "wasm-bindgen-cli",
        bin: "wasm-bindgen",
        version: wasm_bindgen,
        // Its lockfile wants a crate version the registry lacks (TOOLCHAIN.md).
        locked: false,
        cold: "~4 min",
    });
    if all {
        list.push(Need::locked_tool("wasm-pack", WASM_PACK_VERSION, "~2 min"));
        list.push(Need::locked_tool(
            "cargo-fuzz",
            CARGO_FUZZ_VERSION,
            "~2 min",
        ));
    }
    list.push(Need::locked_tool("trunk", TRUNK_VERSION, "~9 min"));
    Ok(list)
}

impl Need {
    /// A [`Need::CargoTool`] whose crate and binary share `name`, installed `--locked`; `cold`
    /// is how long a build from nothing takes.
    fn locked_tool(name: &'static str, version: &str, cold: &'static str) -> Need {
        Need::CargoTool {
            krate: name,
            bin: name,
            version: version.into(),
            locked: true,
            cold,
        }
    }
}

/// Sets up `scope`, printing one line per requirement.
pub fn run(ctx: &Ctx, scope: Scope) -> Result<(), String> {
    let start = Instant::now();
    check_trunk_pins(ctx)?;
    let list = needs(ctx, scope)?;
    println!("setup: checking {} requirements ({scope:?})", list.len());
    for (i, need) in list.iter().enumerate() {
        let what = need.describe();
        let step = Instant::now();
        match need.missing(ctx) {
            None => println!(
                "setup [{}/{}] ok: {what} present ({})",
                i + 1,
                list.len(),
                env::since(step)
            ),
            Some(why) => {
                println!(
                    "setup [{}/{}] installing {what} ({why}; {}) ...",
                    i + 1,
                    list.len(),
                    need.cold_time()
                );
                need.install(ctx)
                    .map_err(|e| format!("setup of {what} failed: {e}"))?;
                if let Some(still) = need.missing(ctx) {
                    return Err(format!(
                        "setup of {what}: installed, but it is still not usable: {still}"
                    ));
                }
                println!("setup: installed {what} in {}", env::since(step));
            }
        }
    }
    println!("setup: done in {}", env::since(start));
    Ok(())
}

impl Need {
    fn describe(&self) -> String {
        match self {
            Need::RustTarget(t) => format!("rust target {t}"),
            Need::Toolchain(t) => format!("rust toolchain {t}"),
            Need::PythonVenv => format!(
                "python packages in target/tools/venv ({})",
                PYTHON_PACKAGES
                    .iter()
                    .map(|(name, version)| format!("{name} {version}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Need::Node => "node + npm".into(),
            Need::Apt(pkgs) => format!("apt packages ({})", pkgs.join(" ")),
            Need::CargoTool { krate, version, .. } => format!("{krate} {version}"),
            Need::WasmOpt => format!("wasm-opt (npm binaryen {})", BINARYEN),
            Need::E2eModules => format!("e2e/node_modules (playwright-core {})", PLAYWRIGHT_CORE),
            Need::Crates => "crates of Cargo.lock (cargo fetch)".into(),
        }
    }

    fn cold_time(&self) -> &'static str {
        match self {
            Need::RustTarget(_) | Need::WasmOpt | Need::E2eModules => "seconds",
            Need::Toolchain(_) => "~1 min",
            Need::PythonVenv => "~20 s",
            Need::Node => "~30 s",
            Need::Apt(_) => "~1 min",
            Need::CargoTool { cold, .. } => cold,
            Need::Crates => "~1 min",
        }
    }

    /// `None` when present, else why not.
    fn missing(&self, ctx: &Ctx) -> Option<String> {
        match self {
            Need::RustTarget(target) => {
                let installed = ctx.output("rustup", &["target", "list", "--installed"])?;
                (!installed.lines().any(|l| l.trim() == *target))
                    .then(|| "not installed".to_string())
            }
            Need::Toolchain(name) => {
                let installed = ctx.output("rustup", &["toolchain", "list"])?;
                (!installed
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}-"))))
                .then(|| "not installed".to_string())
            }
            Need::PythonVenv => {
                let python = venv_python(ctx);
                if !python.exists() {
                    return Some("no venv yet".into());
                }
                PYTHON_PACKAGES.iter().find_map(|(name, version)| {
                    let script = format!("import {name}; print({name}.__version__)");
                    match ctx.output(python.to_str()?, &["-c", &script]) {
                        Some(have) if have.trim() == *version => None,
                        Some(have) => Some(format!("found {name} {}", have.trim())),
                        None => Some(format!("{name} not installed")),
                    }
                })
            }
            Need::Node => ["node", "npm"]
                .iter()
                .find(|p| ctx.output(p, &["--version"]).is_none())
                .map(|p| format!("`{p}` not found")),
            Need::Apt(pkgs) => {
                let absent = absent_apt_packages(ctx, pkgs);
                (!absent.is_empty()).then(|| format!("missing: {}", absent.join(" ")))
            }
            Need::CargoTool { bin, version, .. } => {
                match ctx.output(bin, &["--version"]) {
                    None => Some(format!("`{bin}` not found")),
                    // `wasm-bindgen 0.2.130`, `trunk 0.21.14`, `wasm-pack 0.15.1`
                    Some(out) if out.split_whitespace().nth(1) == Some(version.as_str()) => None,
                    Some(out) => Some(format!("found `{out}`")),
                }
            }
            Need::WasmOpt => {
                let major = BINARYEN.split('.').next().unwrap_or_default();
                let wasm_opt = ctx.tools_dir().join("node_modules/.bin/wasm-opt");
                match ctx.output(wasm_opt.to_str()?, &["--version"]) {
                    // `wasm-opt version 132 (version_132)`
                    Some(out) if out.split_whitespace().nth(2) == Some(major) => None,
                    Some(out) => Some(format!("found `{out}`")),
                    None => Some("not installed in target/tools".into()),
                }
            }
            Need::E2eModules => {
                // Node reads the installed package's manifest (no JSON parsing here).
                let manifest = ctx
                    .root
                    .join("e2e/node_modules/playwright-core/package.json");
                let script = format!("require({:?}).version", manifest.to_str()?);
                let have = ctx.output("node", &["-p", &script]);
                match have {
                    Some(have) if have == PLAYWRIGHT_CORE => None,
                    Some(have) => Some(format!("found playwright-core {have}")),
                    None => Some("not installed".into()),
                }
            }
            Need::Crates => ctx
                .output("cargo", &["fetch", "--offline"])
                .is_none()
                .then(|| "some crates are not downloaded yet".into()),
        }
    }

    fn install(&self, ctx: &Ctx) -> Result<(), String> {
        match self {
            // `rustup target add` never self-updates rustup (and rejects `--no-self-update`).
            Need::RustTarget(target) => {
                if ctx.which("rustup").is_none() {
                    return Err("`rustup` not found. Install Rust 1.95 with rustup \
                                (https://rustup.rs), then run this again"
                        .into());
                }
                ctx.run(ctx.cmd("rustup").args(["target", "add", target]))
            }
            Need::Toolchain(name) => ctx.run(ctx.cmd("rustup").args([
                "toolchain",
                "install",
                name,
                "--profile",
                "minimal",
                "--no-self-update",
            ])),
            Need::PythonVenv => {
                let venv = ctx.tools_dir().join("venv");
                if !venv_python(ctx).exists() {
                    ctx.run(ctx.cmd("python3").arg("-m").arg("venv").arg(&venv))
                        .map_err(|e| {
                            format!(
                                "{e}. `python3 -m venv` needs Debian's python3-venv \
                                 (apt-get install python3-venv)"
                            )
                        })?;
                }
                let pins = PYTHON_PACKAGES
                    .iter()
                    .map(|(name, version)| format!("{name}=={version}"));
                ctx.run(
                    ctx.cmd(venv_python(ctx).to_str().unwrap_or("python3"))
                        .args(["-m", "pip", "install", "--quiet"])
                        .arg("--disable-pip-version-check")
                        .args(pins),
                )
                .map_err(|e| format!("{e}. Is PyPI reachable?"))
            }
            Need::Node => apt_install(ctx, &["nodejs", "npm"]),
            Need::Apt(pkgs) => apt_install(ctx, &absent_apt_packages(ctx, pkgs)),
            Need::CargoTool {
                krate,
                version,
                locked,
                ..
            } => {
                let mut cmd = ctx.cmd("cargo");
                cmd.args(["install", krate, "--version", version, "--force"]);
                if *locked {
                    cmd.arg("--locked");
                }
                ctx.run(&mut cmd).map_err(|e| {
                    format!(
                        "{e}. cargo install needs crates.io and a C toolchain \
                         (apt-get install build-essential pkg-config); see the output above"
                    )
                })
            }
            Need::WasmOpt => {
                let dir = ctx.tools_dir();
                fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
                for file in ["package.json", "package-lock.json"] {
                    let from = ctx.root.join("xtask/tools").join(file);
                    fs::copy(&from, dir.join(file))
                        .map_err(|e| format!("copying {}: {e}", from.display()))?;
                }
                ctx.run(ctx.cmd("npm").current_dir(&dir).args(NPM_CI))
                    .map_err(|e| format!("{e}. Is the npm registry reachable?"))
            }
            Need::E2eModules => ctx
                .run(
                    ctx.cmd("npm")
                        .current_dir(ctx.root.join("e2e"))
                        .args(NPM_CI),
                )
                .map_err(|e| format!("{e}. Is the npm registry reachable?")),
            Need::Crates => ctx
                .run(ctx.cmd("cargo").args(["fetch"]))
                .map_err(|e| format!("{e}. Is crates.io reachable?")),
        }
    }
}

/// The venv's interpreter; `python3` on the children's `PATH` is this one once it exists.
fn venv_python(ctx: &Ctx) -> std::path::PathBuf {
    ctx.tools_dir().join("venv/bin/python3")
}

const NPM_CI: &[&str] = &["ci", "--no-audit", "--no-fund", "--loglevel=error"];

/// The packages of `pkgs` that dpkg does not report as installed.
fn absent_apt_packages(ctx: &Ctx, pkgs: &[&'static str]) -> Vec<&'static str> {
    pkgs.iter()
        .copied()
        .filter(|p| {
            ctx.output("dpkg-query", &["-W", "-f=${Status}", p])
                .is_none_or(|s| !s.ends_with("install ok installed"))
        })
        .collect()
}

/// `apt-get update` (once per run) and `apt-get install` of `pkgs`, as root.
fn apt_install(ctx: &Ctx, pkgs: &[&str]) -> Result<(), String> {
    let line = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        pkgs.join(" ")
    );
    if ctx.which("apt-get").is_none() {
        return Err(format!(
            "`apt-get` not found: this setup expects Debian 12. Install these by hand: {}",
            pkgs.join(" ")
        ));
    }
    if ctx.output("id", &["-u"]).as_deref() != Some("0") {
        return Err(format!(
            "installing Debian packages needs root. Run `cargo xtask setup` as root, \
             or install them first: sudo sh -c '{line}'"
        ));
    }
    let fix = format!("try by hand: {line}");
    if !ctx.apt_updated.get() {
        ctx.run(
            ctx.cmd("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
        .map_err(|e| format!("{e}; {fix}"))?;
        ctx.apt_updated.set(true);
    }
    ctx.run(
        ctx.cmd("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(pkgs)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .map_err(|e| format!("{e}; {fix}"))
}

/// The version of the `wasm-bindgen` crate in Cargo.lock: the CLI must match it exactly.
pub fn wasm_bindgen_version(ctx: &Ctx) -> Result<String, String> {
    let path = ctx.root.join("Cargo.lock");
    let lock = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    lock_version(&lock, "wasm-bindgen").ok_or_else(|| {
        "no `wasm-bindgen` package in Cargo.lock (run `cargo generate-lockfile`)".into()
    })
}

/// Trunk.toml's `[tools]` pins must match what setup installs, or trunk (offline) fails.
fn check_trunk_pins(ctx: &Ctx) -> Result<(), String> {
    let path = ctx.root.join("Trunk.toml");
    let trunk =
        fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let want_bindgen = wasm_bindgen_version(ctx)?;
    let want_opt = format!("version_{}", BINARYEN.split('.').next().unwrap_or_default());
    for (key, want, source) in [
        (
            "wasm_bindgen",
            want_bindgen,
            "the wasm-bindgen version in Cargo.lock",
        ),
        (
            "wasm_opt",
            want_opt,
            "npm binaryen in xtask/tools/package.json",
        ),
    ] {
        let have = toml_string(&trunk, key);
        if have.as_deref() != Some(want.as_str()) {
            return Err(format!(
                "Trunk.toml [tools] {key} is {}, but {source} needs \"{want}\": \
                 set `{key} = \"{want}\"` in Trunk.toml",
                have.map_or_else(|| "missing".into(), |h| format!("\"{h}\""))
            ));
        }
    }
    Ok(())
}

/// The value of the first `key = "value"` line of a TOML text.
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The version of package `name` in a Cargo.lock text.
fn lock_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            return Some(version.trim_end_matches('"').to_string());
        }
    }
    None
}

/// The npm packages' pinned versions, also written in their package.json files (a test keeps
/// the two in step).
const BINARYEN: &str = "132.0.0";
const PLAYWRIGHT_CORE: &str = "1.65.1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_from_cargo_lock() {
        let lock = "[[package]]\nname = \"wasm-bindgen-shared\"\nversion = \"0.2.1\"\n\n\
                    [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n";
        for (name, want) in [("wasm-bindgen", Some("0.2.130")), ("yew", None)] {
            assert_eq!(lock_version(lock, name).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn reads_trunk_pins() {
        let text = "[tools]\nwasm_bindgen = \"0.2.130\"\nwasm_opt = \"version_132\"\n";
        let cases = [
            ("wasm_opt", Some("version_132")),
            ("wasm_bindgen", Some("0.2.130")),
            ("sass", None),
        ];
        for (key, want) in cases {
            assert_eq!(toml_string(text, key).as_deref(), want, "{key}");
        }
    }

    #[test]
    fn pinned_npm_versions_match_the_package_files() {
        let tools = include_str!("../tools/package.json");
        assert!(
            tools.contains(&format!("\"binaryen\": \"{BINARYEN}\"")),
            "{tools}"
        );
        let e2e = include_str!("../../e2e/package.json");
        assert!(
            e2e.contains(&format!("\"playwright-core\": \"{PLAYWRIGHT_CORE}\"")),
            "{e2e}"
        );
    }
}
