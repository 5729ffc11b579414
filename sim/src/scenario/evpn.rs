//! The BGP EVPN scenarios, E1..E4: a MAC route travelling, a migration under EVPN, a
//! duplicate MAC frozen, a route reflector failing. Each VTEP runs the `vtep-evpn` speaker over
//! TCP to route reflectors (see `sim/evpn.rs`); the stories say what to watch on the wire.

use alloc::vec::Vec;

use super::{Scenario, Story, host, hypervisor, migration, s, site};
use crate::LearningMode;
use crate::script::Action;

fn bgp() -> Action {
    Action::LearningMode {
        mode: LearningMode::BgpEvpn,
    }
}

/// One site, BGP EVPN with its reflector rr1, hypervisors `hvs`.
fn fabric(hvs: &[&str]) -> Story {
    let mut story = Story::default();
    story.then(site("dc1")).then(bgp());
    for hv in hvs {
        story.then(hypervisor("dc1", hv));
    }
    story
}

pub fn e1() -> Scenario {
    let script = fabric(&["hv1", "hv2", "hv3"])
        .then(host("vm-d", "hv1", 100, [10, 0, 0, 4]))
        .then(host("vm-b", "hv2", 100, [10, 0, 0, 2]))
        .then(host("vm-c", "hv3", 100, [10, 0, 0, 3]))
        .wait_ms(200)
        .then(host("vm-a", "hv1", 100, [10, 0, 0, 1]))
        .wait_ms(100)
        .then(Action::ping("ping", "vm-b", [10, 0, 0, 1], 3, 100, 56))
        .wait_ms(500)
        .script("E1");
    Scenario {
        id: "E1",
        title: "BGP EVPN: a MAC route travels",
        narrative: "Three hypervisors run the same BGP EVPN speaker as native-vtep, each with an \
                    iBGP session over TCP to the route reflector rr1: a handshake, an OPEN each \
                    way, a KEEPALIVE each way, then UPDATEs. First the type-3 routes: each VTEP \
                    says 'send me VNI 100's broadcasts', and the others' flood lists grow. At \
                    200 ms vm-a boots on hv1 and announces itself with a gratuitous ARP, its \
                    first frame (it stays on hv1: under EVPN an announcement is not flooded). \
                    hv1 learns vm-a's MAC and IP from it and originates two type-2 routes in \
                    one UPDATE to rr1, which reflects it to hv2 and hv3 (adding ORIGINATOR_ID \
                    and CLUSTER_LIST); each installs vm-a behind hv1. When vm-b pings vm-a, hv2 \
                    answers vm-b's ARP itself and the ping goes straight to hv1: nothing was \
                    flooded to learn anything. (The first echo reply is lost: vm-a never heard \
                    vm-b ask for it, so it resolves vm-b first, and its stack drops the reply \
                    meanwhile.) Click an UPDATE to see every field.",
        script,
        outcome: "hv2 and hv3 install vm-a's MAC within a fraction of a millisecond of its \
                  first frame, from one UPDATE in and two reflected; each flood list holds the \
                  two other VTEPs, from type-3 routes; no ARP frame and no flooded frame \
                  crosses the underlay; the pings after the first are answered.",
    }
}

pub fn e2() -> Scenario {
    let script = migration(&mut fabric(&["hv1", "hv2", "hv3"]), 50, "E2");
    Scenario {
        id: "E2",
        title: "BGP EVPN: migration raises the sequence number",
        narrative: "S4's fabric under BGP EVPN: vm-c pings vm-b every 10 ms and vm-b \
                    live-migrates from hv2 to hv1. hv1 joins the migration early and keeps a \
                    route for vm-b behind hv2 (sequence 0). When vm-b resumes on hv1 and \
                    announces itself, hv1 learns it over that route and advertises it with the \
                    next MAC-mobility sequence number, 1 (RFC 7432 section 15). The route \
                    reaches hv2 and hv3 through rr1; hv3 follows the higher sequence, and hv2, \
                    beaten on its own MAC, withdraws its route. Nothing is flooded: the move \
                    travels as one UPDATE. Compare the pings lost in the move with S4, the \
                    same fabric with flood and learn. (One more is lost at the start: vm-b \
                    never heard vm-c ask for it, so it resolves vm-c before it can answer.)",
        script,
        outcome: "vm-b's route now carries sequence 1 from hv1; hv2 sent a withdrawal; every \
                  other VTEP points vm-b to hv1; the move loses as many pings as under flood \
                  and learn (S4): the 30 ms pause of the migration costs them, not the control \
                  plane.",
    }
}

/// The MAC vm-a and its clone share.
pub const CLONED_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

pub fn e3() -> Scenario {
    let mut story = fabric(&["hv1", "hv2", "hv3"]);
    story
        .then(super::host_with(
            "vm-a",
            "hv1",
            100,
            [10, 0, 0, 1],
            Some(CLONED_MAC),
        ))
        .then(host("vm-c", "hv3", 100, [10, 0, 0, 3]))
        .wait_ms(500)
        .then(Action::CloneHost {
            name: s("vm-a2"),
            of: s("vm-a"),
            hypervisor: s("hv2"),
            ip: [10, 0, 0, 2],
        })
        .wait_ms(500)
        // Each pings vm-c every 2 s, a second apart: the MAC shows up at hv1, then hv2, ...
        .then(Action::ping("a", "vm-a", [10, 0, 0, 3], 10, 2000, 56))
        .wait_ms(1000)
        .then(Action::ping("a2", "vm-a2", [10, 0, 0, 3], 10, 2000, 56))
        .wait_ms(12_000);
    Scenario {
        id: "E3",
        title: "BGP EVPN: a duplicate MAC is frozen",
        narrative: "vm-a2 is a clone of vm-a that nobody gave a new MAC: the same MAC on hv1 \
                    and hv2, under BGP EVPN. Each time one of them sends, its VTEP learns the \
                    MAC at a local port and advertises it with a higher sequence number, and \
                    the other VTEP, beaten, withdraws and points the MAC away. RFC 7432 section 15.1 calls \
                    that a duplicate: a VTEP that sees a MAC move 5 times within 180 s stops \
                    following it and stops advertising it. Watch the sequence numbers climb in \
                    the UPDATEs, then a VTEP freeze the MAC.",
        script: story.script("E3"),
        outcome: "The MAC moves between hv1 and hv2 with rising sequence numbers; at the fifth \
                  move within 180 s a VTEP freezes it and withdraws its route, and the fabric \
                  settles on the other VTEP's route.",
    }
}

/// The reflector fails at 2 s and returns at 20 s; vm-a pings vm-b every 100 ms throughout.
fn reflector_failure(reflectors: &[&str]) -> Story {
    let mut story = Story::default();
    story.then(site("dc1")).then(bgp());
    for rr in reflectors.iter().skip(1) {
        story.then(Action::Reflector {
            site: s("dc1"),
            name: s(rr),
        });
    }
    for hv in ["hv1", "hv2", "hv3"] {
        story.then(hypervisor("dc1", hv));
    }
    story
        .then(host("vm-a", "hv1", 100, [10, 0, 0, 1]))
        .then(host("vm-b", "hv2", 100, [10, 0, 0, 2]))
        .wait_ms(100)
        .then(Action::ping("ping", "vm-a", [10, 0, 0, 2], 300, 100, 56))
        .wait_ms(1900)
        .then(Action::FailReflector { name: s("rr1") })
        .wait_ms(18_000)
        .then(Action::RestoreReflector { name: s("rr1") })
        .wait_ms(12_000);
    story
}

pub fn e4() -> Scenario {
    Scenario {
        id: "E4",
        title: "BGP EVPN: the route reflector fails",
        narrative: "vm-a pings vm-b every 100 ms. At 2 s the only route reflector, rr1, fails. \
                    Nothing changes at first: the VTEPs keep their routes while the sessions \
                    live. But KEEPALIVEs stop arriving, and 9 s after the last one each VTEP's \
                    hold timer expires: it sends a NOTIFICATION (to nobody), drops the session \
                    and every route it learned over it. The pings then stop, they do not fall \
                    back to flooding: learning from traffic is off under EVPN, and the flood \
                    lists came from type-3 routes too, so a frame for vm-b has nowhere to go. \
                    At 20 s rr1 returns, the VTEPs reconnect (their retry timers back off to \
                    4 s) and the fabric reconverges in one round of UPDATEs. With a second \
                    reflector (the outcome runs that too), nothing is lost. (The first echo is \
                    lost either way: vm-b resolves vm-a before it can answer.)",
        script: reflector_failure(&["rr1"]).script("E4"),
        outcome: "The pings go on for 7 s after the failure (9 s after the last message \
                  heard), stop when the hold timers expire and the routes are withdrawn, and \
                  resume within 4 s of rr1's return; with two reflectors no ping is lost to \
                  the failure.",
    }
}

/// E4 with a second reflector, rr2, that stays up: the comparison E4's outcome makes.
pub fn e4_two_reflectors() -> Scenario {
    Scenario {
        id: "E4b",
        script: reflector_failure(&["rr1", "rr2"]).script("E4b"),
        ..e4()
    }
}

/// E1..E4 in order.
pub fn all() -> Vec<Scenario> {
    alloc::vec![e1(), e2(), e3(), e4()]
}
