//! The `native-vtep` command: parses the command line and hands over to the library
//! (`src/lib.rs`), which holds the daemon, its configuration and the control protocol.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use native_vtep::cli::{self, BgpCommand, Cli, Command, FdbCommand, Listing, NeighCommand, Target};
use native_vtep::control::{self, BgpRouteRow, BgpSummary, Request, StatsReport};
use native_vtep::{config, daemon};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match cli.command {
        None => run(&cli.run),
        Some(Command::Run(args)) => run(&args),
        Some(Command::Fdb(cmd)) => fdb(cmd),
        Some(Command::Neigh(cmd)) => neigh(cmd),
        Some(Command::Stats { target, json }) => stats(&target, json),
        Some(Command::Bgp(cmd)) => bgp(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("native-vtep: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(format!("native_vtep={default},warn")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn run(args: &cli::RunArgs) -> Result<(), String> {
    let settings = config::load(args).map_err(|e| e.0)?;
    daemon::Daemon::new(settings)?.run()
}

fn call(target: &Target, request: &Request) -> Result<serde_json::Value, String> {
    let path = control::resolve(target.control.as_deref(), target.tap.as_deref())?;
    control::call(&path, request)
}

fn print_json(value: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

/// Sends `request` and prints the answer: as JSON with `--json`, else in `render`'s words.
fn show<T: serde::de::DeserializeOwned>(
    target: &Target,
    request: &Request,
    json: bool,
    render: impl FnOnce(T) -> String,
) -> Result<(), String> {
    let value = call(target, request)?;
    if json {
        return print_json(&value);
    }
    let answer: T = serde_json::from_value(value).map_err(|e| e.to_string())?;
    print!("{}", render(answer));
    Ok(())
}

/// [`show`] for a listing: its rows asked for by `request` (made from `--vni`), read by `render`.
fn list<T: serde::de::DeserializeOwned>(
    Listing { target, vni, json }: Listing,
    request: fn(Option<u32>) -> Request,
    render: fn(&[T]) -> String,
) -> Result<(), String> {
    show(&target, &request(vni), json, |rows: Vec<T>| render(&rows))
}

fn fdb(cmd: FdbCommand) -> Result<(), String> {
    match cmd {
        FdbCommand::Show { listing } => {
            list(listing, |vni| Request::FdbShow { vni }, control::render_fdb)?;
        }
        FdbCommand::Add {
            target,
            mac,
            dst,
            vni,
        } => {
            let dst = cli::keyword_value(&dst, "dst")?;
            let dst = dst
                .parse()
                .map_err(|_| format!("{dst:?} is not an IP address"))?;
            call(&target, &Request::FdbAdd { vni, mac, dst })?;
        }
        FdbCommand::Del {
            target,
            mac,
            vni,
            dst,
        } => {
            call(&target, &Request::FdbDel { vni, mac, dst })?;
        }
    }
    Ok(())
}

fn neigh(cmd: NeighCommand) -> Result<(), String> {
    match cmd {
        NeighCommand::Show { listing } => {
            list(
                listing,
                |vni| Request::NeighShow { vni },
                control::render_neigh,
            )?;
        }
        NeighCommand::Add {
            target,
            ip,
            mac,
            vni,
            router,
        } => {
            let mac = cli::keyword_value(&mac, "lladdr")?.to_string();
            call(
                &target,
                &Request::NeighAdd {
                    vni,
                    ip,
                    mac,
                    router,
                },
            )?;
        }
        NeighCommand::Del { target, ip, vni } => {
            call(&target, &Request::NeighDel { vni, ip })?;
        }
    }
    Ok(())
}

fn stats(target: &Target, json: bool) -> Result<(), String> {
    show(target, &Request::Stats, json, |report: StatsReport| {
        control::render_stats(&report)
    })
}

fn bgp(cmd: BgpCommand) -> Result<(), String> {
    match cmd {
        BgpCommand::Summary { target, json } => {
            show(
                &target,
                &Request::BgpSummary,
                json,
                |summary: BgpSummary| control::render_bgp_summary(&summary),
            )?;
        }
        BgpCommand::Routes {
            listing: Listing { target, vni, json },
        } => {
            show(
                &target,
                &Request::BgpRoutes { vni },
                json,
                |rows: Vec<BgpRouteRow>| {
                    // The header names the router ID, as vtysh does.
                    let summary: Option<BgpSummary> = call(&target, &Request::BgpSummary)
                        .ok()
                        .and_then(|v| serde_json::from_value(v).ok());
                    let id = summary.map(|s| s.router_id.to_string());
                    control::render_bgp_routes(&rows, id.as_deref())
                },
            )?;
        }
    }
    Ok(())
}
