//! The control plane under faults, end to end: a BGP peer that stops answering is dropped at
//! hold-time expiry and its routes withdrawn; a peer that is unreachable, one that refuses the
//! session (a scripted one and a real FRR), and one in another AS each show up in `bgp
//! summary` and the log as the problem and its fix, while native-vtep keeps retrying with
//! backoff.
//!
//! Run as root: `cargo test -p native-vtep --test evpn_faults -- --test-threads=1`.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::bgp::{self, Frr, ScriptedPeer, mac_route, update};
use common::fabric::{Fabric, fabric};
use common::wait_for;
use vtep_core::wire::Ipv4Address;

const VTEP: Ipv4Address = Ipv4Address::new(10, 0, 0, 9);
const MAC: &str = "02:00:00:00:42:09";

/// native-vtep on host 0 speaking EVPN to `peers`, reconnecting after 1 s.
fn native(f: &mut Fabric, peers: &[&str]) -> PathBuf {
    let mut args = vec![
        "--no-remotes",
        "--evpn-asn",
        "65000",
        "--evpn-connect-retry",
        "1",
    ];
    for p in peers {
        args.extend(["--evpn-peer", p]);
    }
    f.native(0, &args)
}

/// A peer that stops sending (no KEEPALIVE, no UPDATE) but keeps its connection is dropped
/// when the hold time runs out, with a NOTIFICATION, and its routes are withdrawn.
#[test]
fn a_silent_peer_is_dropped_at_hold_time_expiry_and_its_routes_withdrawn() {
    let Some(mut f) = fabric("bgps", 1, &[]) else {
        return;
    };
    let ns = f.attach("rr", "10.0.0.254");
    // The peer offers 3 s, the lowest hold time allowed: the session runs on 3 s.
    let rr = ScriptedPeer::start(&mut f.lab, &ns, "rr", "10.0.0.254", 3);
    let control = native(&mut f, &["10.0.0.254"]);
    assert!(rr.wait_established(15), "{}", f.lab.all_logs());
    rr.send(&update(
        VTEP,
        &[mac_route(VTEP, [2, 0, 0, 0, 0x42, 9], None)],
        |_| {},
    ));
    rr.send(&bgp::imet_update(VTEP));
    let fdb = || f.lab.ctl(&control, &["fdb", "show"]);
    assert!(
        wait_for(10, || fdb().contains(MAC)
            && fdb().contains("dst 10.0.0.9 vni 42 self permanent")),
        "{}",
        fdb()
    );
    assert_eq!(f.lab.bgp_peer(&control, "10.0.0.254")["hold_time"], 3);

    let silent = Instant::now();
    rr.silent(true);
    assert!(
        wait_for(15, || !fdb().contains("10.0.0.9")),
        "routes of a silent peer still installed: {}",
        fdb()
    );
    let withdrawn = silent.elapsed();
    // KEEPALIVEs went every second: the last one came at most 1 s before the silence.
    assert!(
        withdrawn >= Duration::from_secs(2) && withdrawn <= Duration::from_secs(5),
        "withdrawn after {withdrawn:?}, hold time 3 s"
    );
    assert!(
        rr.notifications().contains(&(4, 0)),
        "{:?}",
        rr.notifications()
    );
    let p = f.lab.bgp_peer(&control, "10.0.0.254");
    let last = p["last_error"].as_str().unwrap_or("");
    assert!(
        last.starts_with("hold time expired: nothing from the peer for 3 s"),
        "{p}"
    );
    assert!(
        f.lab
            .log("vtep1")
            .contains("BGP session with 10.0.0.254 down: hold time expired")
    );
    println!(
        "bgps: peer silent: session dropped with NOTIFICATION hold timer expired and its routes \
         withdrawn {} ms after its last message could have come (hold time 3 s)",
        withdrawn.as_millis()
    );
    // It comes back: native-vtep reconnects and the peer's (new) session carries routes.
    rr.silent(false);
    assert!(wait_for(15, || rr.sessions() >= 2), "no reconnection");
}

/// Each way a session fails to come up is named, with its fix, in `bgp summary` and the log;
/// native-vtep keeps retrying, further apart each time.
#[test]
fn session_failures_name_the_problem_and_the_fix() {
    let Some(mut f) = fabric("bgpe", 1, &["vtysh"]) else {
        return;
    };
    // Nothing at 10.0.0.250; a peer of AS 65001 at .251; a peer refusing every OPEN with
    // "bad BGP identifier" at .252; FRR expecting AS 65001 from us at .254.
    let other_as = f.attach("oas", "10.0.0.251");
    let _other_as =
        ScriptedPeer::start_with(&mut f.lab, &other_as, "oas", "10.0.0.251", 65001, 9, None);
    let refusing = f.attach("ref", "10.0.0.252");
    let _refusing = ScriptedPeer::start_with(
        &mut f.lab,
        &refusing,
        "ref",
        "10.0.0.252",
        65000,
        9,
        Some((2, 3)),
    );
    let rr_ns = f.attach("rr", "10.0.0.254");
    let frr_conf = "router bgp 65000\n bgp router-id 10.0.0.254\n no bgp default ipv4-unicast\n \
                    neighbor 10.0.0.1 remote-as 65001\n address-family l2vpn evpn\n  \
                    neighbor 10.0.0.1 activate\n exit-address-family\n";
    let frr = Frr::start(&mut f.lab, &rr_ns, "rr", frr_conf);
    let started = Instant::now();
    let control = native(
        &mut f,
        &["10.0.0.250", "10.0.0.251", "10.0.0.252", "10.0.0.254"],
    );

    let expect = [
        (
            "10.0.0.250",
            "peer 10.0.0.250 unreachable: no TCP connection to port 179 (refused, or no answer in time); check the address",
        ),
        (
            "10.0.0.251",
            "AS mismatch: the peer says AS 65001, this speaker expects 65000 (iBGP only); set the same AS on both sides",
        ),
        (
            "10.0.0.252",
            "the peer refused the session: OPEN message error / bad BGP identifier",
        ),
        (
            "10.0.0.254",
            "the peer refused the session: OPEN message error / bad peer AS; both sides must use the same AS (iBGP): set the peer's remote-as to ours",
        ),
    ];
    for (address, words) in expect {
        let named = wait_for(20, || {
            f.lab.bgp_peer(&control, address)["last_error"]
                .as_str()
                .is_some_and(|e| e.starts_with(words))
        });
        assert!(
            named,
            "{address}: {}\n{}",
            f.lab.bgp_peer(&control, address),
            f.lab.log("vtep1")
        );
        assert!(
            f.lab
                .log("vtep1")
                .contains(&format!("BGP session with {address} down: {words}")),
            "{address}: not in the log"
        );
    }
    // FRR got our OPEN and refused it (its words: "BGP OPEN receipt failed"), and is still up.
    assert!(
        f.lab
            .log("rr-bgpd")
            .contains("BGP OPEN receipt failed for peer: 10.0.0.1"),
        "{}",
        f.lab.log("rr-bgpd")
    );
    assert!(frr.try_vtysh("show bgp summary").is_ok());
    // Retries back off: an unreachable peer is tried ever less often (1, 2, 4 s ...), and the
    // log says so once, not on every attempt.
    std::thread::sleep(Duration::from_secs(4));
    f.lab.ctl_shows(
        &control,
        &["bgp", "summary"],
        "10.0.0.250: last error: peer 10.0.0.250 unreachable",
    );
    let log = f.lab.log("vtep1");
    let warned = log.matches("WARN BGP session with 10.0.0.250 down").count();
    assert_eq!(warned, 1, "{log}");
    let attempts = log.matches("BGP: connecting to 10.0.0.250:179").count();
    let secs = started.elapsed().as_secs();
    // Attempts 1 s long, then waits of 1, 2, 4 ... s: about log2 of the time, not one a second.
    assert!(
        attempts >= 2 && attempts as u64 <= secs / 2 + 1,
        "{attempts} attempts in {secs} s:\n{log}"
    );
}
