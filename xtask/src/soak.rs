//! `cargo xtask soak [--minutes N]`: two release native-vteps in network namespaces under
//! steady, paced load for N minutes, watched for leaks, unexpected errors and deaths.
//!
//! The soak itself is `native-vtep/tests/soak.rs`, on the namespace harness it shares with
//! native-vtep's tests and benchmark (`native-vtep/tests/common/`); this command checks what it
//! needs and becomes `cargo test --release -p native-vtep --test soak -- --minutes N`.

use std::os::unix::process::CommandExt as _;

use crate::env::{self, Ctx};

pub fn run(ctx: &Ctx, args: &[String]) -> Result<(), String> {
    let minutes = parse_args(args)?;
    preflight(ctx)?;
    let minutes = minutes.to_string();
    let mut cmd = ctx.cmd("cargo");
    cmd.args(["test", "--release", "-p", "native-vtep", "--test", "soak"])
        .args(["--", "--minutes", &minutes]);
    println!("$ {}", env::show(&cmd));
    // Become cargo, which waits for the soak whatever signal comes: a terminal's Ctrl-C reaches
    // the soak, which stops its load and daemons in order, prints its summary and cleans up.
    let err = cmd.exec();
    Err(format!("could not start cargo: {err}"))
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

/// Root and the tools, checked before the release build (the soak checks them again).
fn preflight(ctx: &Ctx) -> Result<(), String> {
    let root = std::fs::read_to_string("/proc/self/status")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes() {
        let args = |a: &[&str]| parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(args(&[]), Ok(10));
        assert_eq!(args(&["--minutes", "3"]), Ok(3));
        assert!(args(&["--minutes", "0"]).is_err());
        assert!(args(&["--minutes"]).is_err());
        assert!(args(&["--hours", "1"]).is_err());
    }
}
