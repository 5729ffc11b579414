//! The hostile control plane, end to end: a scripted BGP peer (`tests/bgp/peer.py`) sends a
//! running native-vtep the malformed-message catalogue of RELIABILITY.md (built with the core's
//! codec, then broken byte by byte) and a flood of routes, while a second, well-behaved peer
//! keeps its session and its route. Each entry is handled as RFC 7606 says (session reset with
//! the NOTIFICATION it names, treat-as-withdraw, attribute discard, route ignored, loop
//! dropped), and counted in `bgp summary --json`.
//!
//! Run as root: `cargo test -p native-vtep --test evpn_hostile -- --test-threads=1`.

mod common;

use std::path::PathBuf;

use common::bgp::{self, ScriptedPeer, fix_lengths, imet_update, mac_route, patch, update};
use common::fabric::{Fabric, fabric};
use common::wait_for;
use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::{AsPath, EvpnRoute};

const HOSTILE: &str = "10.0.0.251";
const GOOD: &str = "10.0.0.252";
/// The VTEP the hostile peer's routes point at.
const VTEP: Ipv4Address = Ipv4Address::new(10, 0, 0, 9);
/// The good peer's VTEP and MAC.
const GOOD_VTEP: Ipv4Address = Ipv4Address::new(10, 0, 0, 8);
const GOOD_MAC: [u8; 6] = [2, 0, 0, 0, 0x42, 8];
const MAC: [u8; 6] = [2, 0, 0, 0, 0x42, 9];

fn ip(last: u8) -> Ipv4Address {
    Ipv4Address::new(192, 168, 42, last)
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

struct Lab {
    f: Fabric,
    native: PathBuf,
    hostile: ScriptedPeer,
    good: ScriptedPeer,
}

/// native-vtep on h1 with two scripted peers, the good one holding one route.
fn lab(test: &str, extra: &[&str]) -> Option<Lab> {
    let mut f = fabric(test, 1, &["bridge"])?;
    let mut peer = |name: &str, address: &str| {
        let ns = f.attach(name, address);
        ScriptedPeer::start(&mut f.lab, &ns, name, address, 9)
    };
    let hostile = peer("bad", HOSTILE);
    let good = peer("good", GOOD);
    let mut args = vec![
        "--no-remotes",
        "--evpn-asn",
        "65000",
        "--evpn-peer",
        HOSTILE,
        "--evpn-peer",
        GOOD,
        "--evpn-hold-time",
        "9",
        "--evpn-connect-retry",
        "1",
    ];
    args.extend_from_slice(extra);
    let native = f.native(0, &args);
    assert!(hostile.wait_established(15), "{}", f.lab.all_logs());
    assert!(good.wait_established(15), "{}", f.lab.all_logs());
    good.send(&update(
        GOOD_VTEP,
        &[mac_route(GOOD_VTEP, GOOD_MAC, None)],
        |_| {},
    ));
    let l = Lab {
        f,
        native,
        hostile,
        good,
    };
    assert!(
        wait_for(10, || l.fdb().contains(&mac_text(GOOD_MAC))),
        "{}",
        l.fdb()
    );
    Some(l)
}

impl Lab {
    fn fdb(&self) -> String {
        self.f.lab.ctl(&self.native, &["fdb", "show"])
    }

    fn summary(&self) -> serde_json::Value {
        self.f.lab.bgp_summary(&self.native)
    }

    #[track_caller]
    fn peer(&self, address: &str) -> serde_json::Value {
        self.f.lab.bgp_peer(&self.native, address)
    }

    fn malformed(&self, reason: &str) -> u64 {
        self.peer(HOSTILE)["malformed"][reason]
            .as_u64()
            .unwrap_or(0)
    }

    /// The good peer never noticed: one session all along, its route in place, the daemon
    /// answering.
    fn others_unaffected(&self, case: &str) {
        let good = self.peer(GOOD);
        assert_eq!(good["state"], "Established", "{case}: {good}");
        assert_eq!(good["counters"]["established"], 1, "{case}: {good}");
        assert_eq!(self.good.sessions(), 1, "{case}");
        assert!(
            self.fdb().contains(&format!(
                "{} dev vt42 dst {GOOD_VTEP} vni 42 self extern_learn peer {GOOD}",
                mac_text(GOOD_MAC)
            )),
            "{case}: {}",
            self.fdb()
        );
        let stats = self.f.lab.stats(&self.native);
        assert!(
            stats["uptime_secs"].is_u64(),
            "{case}: the daemon does not answer"
        );
    }
}

/// A catalogue entry that resets the session: its name, its bytes, the NOTIFICATION (code,
/// subcode) it earns and the counter it lands in.
type Reset<'a> = (&'a str, &'a [u8], (u8, u8), &'a str);

/// The malformed-message catalogue, each entry against the same running daemon.
#[test]
fn malformed_messages_are_handled_as_rfc7606_says_and_counted() {
    let Some(l) = lab("bgph", &[]) else {
        return;
    };
    let route = mac_route(VTEP, MAC, Some(ip(9)));
    let good = update(VTEP, &[route], |_| {});

    // Session resets: the NOTIFICATION named, the reason counted, the session back after the
    // reconnection delay.
    let mut bad_marker = good.clone();
    bad_marker[3] = 0;
    let short = [&[0xff; 16][..], &[0, 18, 4]].concat();
    let mut long = good.clone();
    long[16..18].copy_from_slice(&4097u16.to_be_bytes());
    long.resize(4097, 0);
    let ip33 = patch(good.clone(), &[32, 192, 168, 42, 9], &[33, 192, 168, 42, 9]);
    let truncated_nlri = patch(good.clone(), &[2, 0x25], &[2, 0x30]);
    let mut dup_mp = good.clone();
    let mp = dup_mp[23..23 + 4 + usize::from(dup_mp[26])].to_vec();
    dup_mp.extend_from_slice(&mp);
    fix_lengths(&mut dup_mp, mp.len() as i32);
    let resets: [Reset<'_>; 6] = [
        ("bad marker", &bad_marker, (1, 1), "bad_marker"),
        ("length 18", &short, (1, 2), "bad_message_length"),
        ("length 4097", &long, (1, 2), "bad_message_length"),
        ("IP length 33", &ip33, (3, 9), "bad_evpn_nlri"),
        ("truncated NLRI", &truncated_nlri, (3, 9), "bad_evpn_nlri"),
        (
            "MP_REACH_NLRI twice",
            &dup_mp,
            (3, 1),
            "duplicate_mp_attribute",
        ),
    ];
    for (n, (case, bytes, notification, reason)) in resets.iter().enumerate() {
        let before = l.malformed(reason);
        l.hostile.send(bytes);
        assert!(
            wait_for(10, || l.hostile.notifications().len() > n),
            "{case}: no NOTIFICATION\n{}",
            l.f.lab.all_logs()
        );
        assert_eq!(l.hostile.notifications()[n], *notification, "{case}");
        assert!(
            wait_for(10, || l.hostile.sessions() as usize == n + 2),
            "{case}: no new session"
        );
        assert!(l.hostile.wait_established(10), "{case}");
        assert_eq!(
            l.malformed(reason),
            before + 1,
            "{case}: {}",
            l.peer(HOSTILE)
        );
        l.others_unaffected(case);
    }
    let hostile = l.peer(HOSTILE);
    assert_eq!(
        hostile["counters"]["dropped"],
        resets.len() as u64,
        "{hostile}"
    );
    let last = hostile["last_error"].as_str().unwrap_or("");
    assert!(
        last.contains("malformed message") && last.contains("sent NOTIFICATION"),
        "{last}"
    );

    // The session stays up: the route is installed, or withdrawn, or ignored, as RFC 7606 or
    // the loop rules say, and counted.
    let installed = |l: &Lab| {
        l.fdb()
            .contains(&format!("{} dev vt42 dst {VTEP}", mac_text(MAC)))
    };
    let sessions = l.hostile.sessions();

    // AS_PATH holding our own AS: a loop, dropped.
    static OWN_AS: [u8; 6] = [2, 1, 0, 0, 0xfd, 0xe8];
    l.hostile.send(&update(VTEP, &[route], |u| {
        u.as_path = AsPath::parse(&OWN_AS, true);
    }));
    assert!(wait_for(5, || l.peer(HOSTILE)["counters"]["routes_looped"] == 1));
    assert!(!installed(&l), "a looped route was installed");

    // An unknown route type beside a good route: the unknown one ignored, the good installed.
    let other = EvpnRoute::Other {
        route_type: 5,
        value: &[0; 34],
    };
    l.hostile.send(&update(VTEP, &[other, route], |_| {}));
    assert!(wait_for(5, || installed(&l)), "{}", l.fdb());
    assert_eq!(l.malformed("unknown_route_type"), 1);

    // ORIGIN twice: the second copy discarded, the route stands.
    let mut dup_origin = update(VTEP, &[route], |_| {});
    dup_origin.extend_from_slice(&[0x40, 1, 1, 2]);
    fix_lengths(&mut dup_origin, 4);
    l.hostile.send(&dup_origin);
    assert!(wait_for(5, || l.malformed("duplicate_attribute") == 1));
    assert!(installed(&l));

    // A PMSI tunnel of length 10 (ingress replication wants 9): treat-as-withdraw, so the
    // flood-list entry the same route made goes.
    let flood = format!("00:00:00:00:00:00 dev vt42 dst {VTEP} vni 42 self permanent");
    l.hostile.send(&imet_update(VTEP));
    assert!(wait_for(5, || l.fdb().contains(&flood)), "{}", l.fdb());
    let mut pmsi10 = imet_update(VTEP);
    let at = pmsi10
        .windows(3)
        .position(|w| w == [0xc0, 22, 9])
        .expect("PMSI attribute");
    pmsi10[at + 2] = 10;
    pmsi10.insert(at + 3 + 9, 0);
    fix_lengths(&mut pmsi10, 1);
    l.hostile.send(&pmsi10);
    assert!(wait_for(5, || !l.fdb().contains(&flood)), "{}", l.fdb());
    assert_eq!(l.malformed("bad_pmsi_tunnel"), 1);

    assert_eq!(
        l.hostile.sessions(),
        sessions,
        "a non-reset case reset the session"
    );
    assert_eq!(l.peer(HOSTILE)["state"], "Established");
    l.others_unaffected("after the catalogue");
    let log = l.f.lab.log("vtep1");
    assert!(log.contains("malformed UPDATE from 10.0.0.251"), "{log}");
}

/// A peer that floods routes is bounded by `--max-address`, like learning is: past the limit
/// its session is torn down (NOTIFICATION cease / maximum number of prefixes reached) and its
/// routes go; the FDB never holds more than the limit.
#[test]
fn a_peer_flooding_routes_is_bounded_by_max_address() {
    let Some(l) = lab("bgpf", &["--max-address", "1000"]) else {
        return;
    };
    let before = l.f.lab.stats(&l.native)["fdb_entries"].as_u64().unwrap();
    l.hostile.send(&bgp::many_macs(VTEP, 0, 1500));
    assert!(
        wait_for(20, || l.hostile.notifications().contains(&(6, 1))),
        "no cease/maximum prefixes: {:?}\n{}",
        l.hostile.notifications(),
        l.f.lab.all_logs()
    );
    let stats = l.f.lab.stats(&l.native);
    let entries = stats["fdb_entries"].as_u64().unwrap();
    assert!(entries <= 1000, "FDB holds {entries} entries, limit 1000");
    let hostile = l.peer(HOSTILE);
    let last = hostile["last_error"].as_str().unwrap_or("");
    assert!(last.contains("more than 1000 routes"), "{hostile}");
    // The FDB filled up to the limit before the session went: the rest was refused, counted.
    let refused = l.summary()["refused"].as_u64().unwrap();
    assert!(refused > 0, "{}", l.summary());
    assert!(l.f.lab.log("vtep1").contains("the engine refused"));
    // Its routes went with the session; the good peer's stayed.
    assert!(
        wait_for(10, || l.f.lab.stats(&l.native)["fdb_entries"].as_u64()
            == Some(before)),
        "{}",
        l.f.lab.stats(&l.native)
    );
    l.others_unaffected("after the flood");
}
