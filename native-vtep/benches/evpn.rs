//! `bench evpn`, the fabric's part: a route reflector holding 100,000 MAC routes, and the time
//! native-vtep takes to have them all in its FDB against the time FRR's own kernel VTEP takes
//! for the same routes, side by side in one run.
//!
//! ```text
//! cargo bench -p native-vtep --bench evpn -- [--routes N]
//! ```
//!
//! Needs root, `ip`, `bridge`, `python3` and FRR (`vtysh`, `/usr/lib/frr/zebra`, `bgpd`).
//! Namespaces from the harness of native-vtep's tests (`tests/common/`: per run, always
//! removed): an FRR route reflector (10.0.0.254); an injector (10.0.0.9, the scripted peer of
//! `tests/bgp/peer.py`) that the reflector connects to and that sends it N type-2 routes
//! (MAC-only, 100 per UPDATE, next hop 10.0.0.9, RT 65000:42) and the type-3 route of
//! 10.0.0.9; a kernel VTEP driven by FRR (`advertise-all-vni`, `vx42` nolearning in `br42`,
//! 10.0.0.2) whose session to the reflector is shut down; native-vtep's host (10.0.0.1).
//!
//! Once the reflector holds every route, both leaves start at the same instant: FRR's session
//! is unshut (`no neighbor 10.0.0.254 shutdown`) and native-vtep is started. Each is timed
//! until its FDB holds all N MACs: native-vtep's `stats --json` (`fdb_entries`), the kernel's
//! `bridge fdb show dev vx42` (entries to 10.0.0.9 with `extern_learn`, as zebra installs
//! them), each polled by a thread of its own. The target (issue #13): native-vtep no slower than
//! FRR's kernel VTEP, in the same run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::bgp::{self, Frr, ScriptedPeer};
use common::fabric::attach;
use common::{Lab, must};
use vtep_core::wire::Ipv4Address;

const INJECTOR: &str = "10.0.0.9";

fn reflector_conf() -> String {
    let mut conf = bgp::reflector_conf("10.0.0.254", "10.0.0.0/24");
    // The injector is a neighbour the reflector connects to, a client like the leaves.
    conf = conf.replace(
        " address-family l2vpn evpn\n",
        &format!(
            " neighbor {INJECTOR} remote-as internal\n neighbor {INJECTOR} timers 3 9\n \
             address-family l2vpn evpn\n  neighbor {INJECTOR} activate\n  \
             neighbor {INJECTOR} route-reflector-client\n"
        ),
    );
    conf
}

/// Polls `count` until it reaches `want` or `limit` passes: the time it took from `start`.
fn until(start: Instant, want: u64, limit: Duration, count: impl Fn() -> u64) -> Option<Duration> {
    loop {
        let n = count();
        if n >= want {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            eprintln!("  gave up at {n} of {want}");
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("not within the limit".into(), |d| {
        format!("{:.2} s", d.as_secs_f64())
    })
}

fn run(routes: u32) -> Result<(), String> {
    let missing = common::missing(&["bridge", "vtysh"]);
    if !missing.is_empty() {
        return Err(format!("needs {}", missing.join(", ")));
    }
    let mut lab = Lab::new("bevpn");
    let ul = lab.netns("ul");
    must(&format!(
        "ip -n {ul} link add ulbr type bridge && ip -n {ul} link set ulbr up"
    ));
    let native_ns = attach(&mut lab, &ul, "h1", "10.0.0.1");
    let kernel_ns = attach(&mut lab, &ul, "h2", "10.0.0.2");
    let rr_ns = attach(&mut lab, &ul, "rr", "10.0.0.254");
    let inj_ns = attach(&mut lab, &ul, "inj", INJECTOR);
    lab.ns_must(
        &kernel_ns,
        "ip link add br42 type bridge stp_state 0 && \
         ip link add vx42 type vxlan id 42 dstport 4789 local 10.0.0.2 dev ul nolearning && \
         ip link set vx42 master br42 && \
         ip link set vx42 type bridge_slave learning off neigh_suppress on && \
         ip link set vx42 up && ip link set br42 up",
    );
    let injector = ScriptedPeer::start(&mut lab, &inj_ns, "injector", INJECTOR, 9);
    let rr = Frr::start(&mut lab, &rr_ns, "rr", &reflector_conf());
    let leaf_conf = bgp::leaf_conf("10.0.0.2", "10.0.0.254").replace(
        " neighbor 10.0.0.254 timers 3 9\n",
        " neighbor 10.0.0.254 timers 3 9\n neighbor 10.0.0.254 shutdown\n",
    );
    let leaf = Frr::start(&mut lab, &kernel_ns, "leaf", &leaf_conf);
    if !injector.wait_established(30) {
        return Err(format!(
            "the reflector did not connect to the injector:\n{}",
            lab.all_logs()
        ));
    }

    // The reflector takes the routes.
    let vtep = Ipv4Address::new(10, 0, 0, 9);
    let mut wire = bgp::many_macs(vtep, 0, routes);
    wire.extend(bgp::imet_update(vtep));
    let loading = Instant::now();
    injector.send(&wire);
    let pfx = || {
        rr.json("show bgp l2vpn evpn summary")["peers"][INJECTOR]["pfxRcd"]
            .as_u64()
            .unwrap_or(0)
    };
    let loaded = until(
        loading,
        u64::from(routes) + 1,
        Duration::from_secs(300),
        pfx,
    )
    .ok_or_else(|| format!("the reflector holds {} of {} routes", pfx(), routes + 1))?;
    println!(
        "evpn: the FRR reflector holds {routes} MAC routes (and one type-3) from the injector, \
         loaded in {:.2} s",
        loaded.as_secs_f64()
    );

    // Both leaves start now.
    let native_args = [
        "--tap",
        "vt42",
        "--vni",
        "42",
        "--local",
        "10.0.0.1",
        "--evpn-asn",
        "65000",
        "--evpn-peer",
        "10.0.0.254",
        "--max-address",
        "1000000",
    ];
    let control = lab.dir.join("native.sock");
    let start = Instant::now();
    leaf.vtysh_lines(&[
        "configure terminal",
        "router bgp 65000",
        "no neighbor 10.0.0.254 shutdown",
    ]);
    let mut argv: Vec<&str> = native_args.to_vec();
    let control_text = control.display().to_string();
    argv.extend(["--control", &control_text]);
    lab.spawn(&native_ns, "native", common::BIN, &argv);
    let want = u64::from(routes);
    let limit = Duration::from_secs(600);
    let (native, kernel) = std::thread::scope(|s| {
        let native = s.spawn(|| {
            until(start, want, limit, || {
                lab.try_ctl(&control, &["stats", "--json"])
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v["fdb_entries"].as_u64())
                    .unwrap_or(0)
            })
        });
        let kernel = s.spawn(|| {
            until(start, want, limit, || {
                lab.ns_run(
                    &kernel_ns,
                    "bridge fdb show dev vx42 | grep -c 'dst 10.0.0.9 self extern_learn' || true",
                )
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0)
            })
        });
        (native.join().unwrap(), kernel.join().unwrap())
    });
    let rss = std::fs::read_to_string(format!("/proc/{}/status", lab.pid("native")))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .unwrap_or_default();
    println!(
        "  native-vtep: all {routes} MACs in its FDB {} after it was started (VmRSS {rss} kB)",
        secs(native)
    );
    println!(
        "  FRR + kernel vxlan: all {routes} MACs in the kernel FDB {} after the session was unshut",
        secs(kernel)
    );
    match (native, kernel) {
        (Some(n), Some(k)) => println!(
            "  native-vtep took {:.2}x the time of FRR's kernel VTEP (target: at most 1.00)",
            n.as_secs_f64() / k.as_secs_f64()
        ),
        _ => return Err("a leaf did not get every route in time".into()),
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let routes = args
        .iter()
        .position(|a| a == "--routes")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if args.iter().any(|a| a == "--help") {
        println!("cargo bench -p native-vtep --bench evpn -- [--routes N]");
        return;
    }
    if let Err(e) = run(routes) {
        eprintln!("bench evpn: error: {e}");
        std::process::exit(1);
    }
}
