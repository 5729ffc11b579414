//! Each guided scenario's outcome, read from the simulator at the end of the run: what
//! happened, with the numbers, and whether the article's claim held. Nothing here is
//! hard-coded but the question asked; the answers come from the trace, the apps' reports, the
//! VTEPs' counters and tables.

use super::fmt_n;
use vtep_core::Destination;
use vtep_core::Vni;
use vtep_core::fdb::Origin;
use vtep_core::vni::id_space;
use vtep_core::vtep::{DropReason, Encapsulation};
use vtep_core::wire::IpAddress;
use vtep_sim::scale::{self, Variant};
use vtep_sim::trace::{L3, L4, Tunnel};
use vtep_sim::{Decision, Hop, NodeId, Sim};

use super::lab::Lab;

mod evpn;

/// The outcome box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// One sentence, plain language.
    pub headline: String,
    /// The numbers: (label, value, a stable key for tests).
    pub facts: Vec<(String, String, &'static str)>,
    /// Whether the claim held in this run.
    pub ok: bool,
}

struct Ctx<'a> {
    lab: &'a Lab,
    facts: Vec<(String, String, &'static str)>,
    ok: bool,
}

impl Ctx<'_> {
    fn sim(&self) -> &Sim {
        self.lab.sim()
    }

    fn fact(&mut self, key: &'static str, label: &str, value: impl Into<String>) {
        self.facts.push((label.to_string(), value.into(), key));
    }

    fn require(&mut self, cond: bool) {
        self.ok &= cond;
    }

    /// The nodes called `names`; `None`, and the claim not held, if one of them is missing.
    fn nodes<const N: usize>(&mut self, names: [&str; N]) -> Option<[NodeId; N]> {
        let ids: Option<Vec<NodeId>> = names.iter().map(|n| self.lab.node(n)).collect();
        self.require(ids.is_some());
        ids?.try_into().ok()
    }

    /// (sent, replies, received) of app `name`.
    fn app(&self, name: &str) -> (u64, u64, u64) {
        self.lab
            .app(name)
            .and_then(|a| self.sim().app_report(a).ok())
            .map(|r| (r.sent, r.replies, r.received))
            .unwrap_or_default()
    }

    fn drops(&self, hv: &str, vni: u32, reason: DropReason) -> u64 {
        let Some(id) = self.lab.node(hv) else {
            return 0;
        };
        let Ok(vni) = Vni::new(vni) else { return 0 };
        self.sim()
            .vtep(id)
            .ok()
            .and_then(|v| v.counters(vni).map(|c| c.drops.get(reason)))
            .unwrap_or(0)
    }

    /// The name of the hypervisor `host` runs on now ("" when it does not exist).
    fn runs_on(&self, host: &str) -> String {
        self.lab
            .node(host)
            .and_then(|h| self.sim().host_hypervisor(h).ok().flatten())
            .map(|h| self.lab.name(h))
            .unwrap_or_default()
    }

    /// Where `hv`'s FDB sends `host`'s MAC: "local" or the remote hypervisor's name.
    fn fdb_points(&self, hv: &str, host: &str) -> Option<String> {
        let sim = self.sim();
        let (hv, h) = (self.lab.node(hv)?, self.lab.node(host)?);
        let (mac, _, vni) = sim.host_addr(h).ok()?;
        let (_, _, e) = sim
            .fdb(hv)
            .ok()?
            .into_iter()
            .find(|(v, m, _)| *v == vni && *m == mac)?;
        Some(match e.dest {
            Destination::Local(_) => "local".to_string(),
            Destination::Remote(IpAddress::Ipv4(ip)) => sim
                .hypervisors()
                .into_iter()
                .find(|x| sim.hypervisor_ip(*x).is_ok_and(|i| i == ip))
                .map(|x| self.lab.name(x))
                .unwrap_or_else(|| ip.to_string()),
            Destination::Remote(ip) => ip.to_string(),
        })
    }

    fn ping(&mut self, key: &'static str, label: &str, app: &str) -> (u64, u64) {
        let (sent, replies, _) = self.app(app);
        self.fact(key, label, format!("{replies}/{sent} answered"));
        (sent, replies)
    }
}

/// The outcome of the script's scenario, once the view reached its end.
pub fn outcome(lab: &Lab) -> Option<Outcome> {
    let id = lab.script().scenario.clone()?;
    let mut c = Ctx {
        lab,
        facts: Vec::new(),
        ok: true,
    };
    let headline = match id.as_str() {
        "S1" => s1(&mut c),
        "S2" => s2(&mut c),
        "S3" => s3(&mut c),
        "S4" => s4(&mut c),
        "S5" => s5(&mut c),
        "S6" => s6(&mut c),
        "S7" => s7(&mut c),
        "S8" => s8(&mut c),
        "S9" => s9(&mut c),
        "S10" => s10(&mut c),
        "E1" => evpn::e1(&mut c),
        "E2" => evpn::e2(&mut c),
        "E3" => evpn::e3(&mut c),
        "E4" => evpn::e4(&mut c),
        _ => return None,
    };
    Some(Outcome {
        headline,
        facts: c.facts,
        ok: c.ok,
    })
}

fn is_echo_request(h: &Hop, want: u16) -> bool {
    matches!(
        h.layers().inner.map(|i| i.l3),
        Some(L3::Ipv4 {
            l4: L4::IcmpEchoRequest { seq, .. },
            ..
        }) if seq == want
    )
}

fn s1(c: &mut Ctx<'_>) -> String {
    let (sent, replies) = c.ping("ping", "pings vm-a -> vm-b", "ping");
    let under = c.sim().underlay_links();
    let hops: Vec<&Hop> = c
        .sim()
        .trace()
        .iter()
        .filter(|h| is_echo_request(h, 3))
        .collect();
    let crossings = hops.iter().filter(|h| under.contains(&h.link)).count();
    let (a, b) = (c.lab.node("vm-a"), c.lab.node("vm-b"));
    let sent_bytes = hops
        .iter()
        .find(|h| Some(h.from) == a)
        .map(|h| h.bytes.clone());
    let got_bytes = hops
        .iter()
        .find(|h| Some(h.to) == b)
        .map(|h| h.bytes.clone());
    let same = sent_bytes.is_some() && sent_bytes == got_bytes;
    c.fact(
        "crossings",
        "underlay links crossed by echo request #3",
        crossings.to_string(),
    );
    c.fact(
        "untouched",
        "inner frame at vm-b",
        if same {
            "byte-for-byte what vm-a sent"
        } else {
            "different"
        },
    );
    c.require(sent == 5 && replies == 5 && crossings == 3 && same);
    format!(
        "{replies} of {sent} pings answered. Each echo request crossed {crossings} underlay links \
         as UDP/VXLAN and arrived untouched: the overlay rides on the routed underlay."
    )
}

fn s2(c: &mut Ctx<'_>) -> String {
    let (_, replies) = c.ping("ping", "pings", "ping");
    let tcp = c
        .lab
        .app("tcp")
        .and_then(|a| c.sim().app_report(a).ok())
        .cloned();
    let (received, ms) = tcp
        .as_ref()
        .map(|t| {
            (
                t.received,
                t.duration().map(|d| d.total_micros() as f64 / 1000.0),
            )
        })
        .unwrap_or_default();
    c.fact(
        "tcp",
        "TCP transfer",
        match ms {
            Some(ms) => format!("{} bytes in {ms:.1} ms", fmt_n(received)),
            None => format!("{} bytes, not finished", fmt_n(received)),
        },
    );
    let under = c.sim().underlay_links();
    let (mut total, mut vxlan, mut arp) = (0u64, 0u64, 0u64);
    for h in c.sim().trace().iter().filter(|h| under.contains(&h.link)) {
        total += 1;
        let l = h.layers();
        if l.outer.is_some_and(|o| {
            o.udp.map(|p| p.1) == Some(4789)
                && matches!(
                    o.tunnel,
                    Tunnel::Encap {
                        encapsulation: Encapsulation::Vxlan,
                        ..
                    }
                )
        }) {
            vxlan += 1;
        }
        if l.is_arp() {
            arp += 1;
        }
    }
    c.fact(
        "vxlan",
        "underlay frames that are VXLAN on UDP 4789",
        format!("{} of {}", fmt_n(vxlan), fmt_n(total)),
    );
    c.fact(
        "arp",
        "ARP frames carried across the underlay",
        arp.to_string(),
    );
    let (_, replies6) = c.ping("ping6", "ping6s (IPv6)", "ping6");
    let received6 = c.app("tcp6").2;
    c.fact(
        "tcp6",
        "TCP transfer over IPv6",
        format!("{} bytes", fmt_n(received6)),
    );
    let solicits = c
        .sim()
        .trace()
        .iter()
        .filter(|h| under.contains(&h.link) && h.layers().is_nd_solicit())
        .count();
    c.fact(
        "ns",
        "Neighbour Solicitations flooded across the underlay",
        solicits.to_string(),
    );
    c.require(replies == 3 && received == 1_000_000 && vxlan == total && arp >= 2);
    c.require(replies6 == 3 && received6 == 1_000_000 && solicits >= 1);
    format!(
        "ARP resolved across the VTEPs, {replies} pings were answered and {} bytes of TCP went \
         through: the hosts acted as if on one switch, while every frame between hypervisors \
         was VXLAN. Over IPv6, Neighbour Discovery took ARP's place (its solicitation flooded \
         to the other VTEP), {replies6} ping6s were answered and {} bytes more went through.",
        fmt_n(received),
        fmt_n(received6)
    )
}

fn s3(c: &mut Ctx<'_>) -> String {
    let (_, fits) = c.ping("fits", "1450-byte packets, VM MTU 1450", "fits");
    let (_, too_big) = c.ping("too-big", "1500-byte packets, VM MTU 1500", "too-big");
    let (_, jumbo) = c.ping("jumbo", "the same with underlay MTU 1550", "jumbo-underlay");
    let dropped = c.drops("hv1", 100, DropReason::TooBig);
    c.fact("too_big", "dropped by hv1 as too_big", dropped.to_string());
    let mut overheads: Vec<usize> = c
        .sim()
        .trace()
        .iter()
        .filter_map(|h| {
            let l = h.layers();
            l.vni()
                .map(|_| h.bytes.len() - l.inner.map(|i| i.len).unwrap_or(0))
        })
        .collect();
    overheads.sort_unstable();
    overheads.dedup();
    c.fact(
        "overhead",
        "outer bytes added to every VXLAN frame",
        overheads
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    c.require(fits == 3 && too_big == 0 && jumbo == 3 && dropped == 3 && overheads == [50]);
    format!(
        "{fits}/3 fit; with MTU 1500 inside a 1500 underlay {too_big}/3 got through ({dropped} \
         dropped by the VTEP, which must not fragment); with a 1550-byte underlay {jumbo}/3 \
         passed. Every VXLAN frame was exactly 50 bytes longer than the frame it carried."
    )
}

fn s4(c: &mut Ctx<'_>) -> String {
    let (sent, replies) = c.ping("ping", "pings vm-c -> vm-b", "ping");
    let lost = sent - replies;
    c.fact("lost", "pings lost during the move", lost.to_string());
    let ip = c
        .lab
        .node("vm-b")
        .and_then(|h| c.sim().host_addr(h).ok())
        .map(|a| a.1.to_string())
        .unwrap_or_default();
    c.fact("ip", "vm-b's IP after the move", ip.clone());
    let hv = c.runs_on("vm-b");
    c.fact("where", "vm-b runs on", hv.clone());
    let (p1, p2, p3) = (
        c.fdb_points("hv1", "vm-b").unwrap_or_default(),
        c.fdb_points("hv2", "vm-b").unwrap_or_default(),
        c.fdb_points("hv3", "vm-b").unwrap_or_default(),
    );
    c.fact(
        "fdb",
        "FDBs for vm-b's MAC (hv1, hv2, hv3)",
        format!("{p1}, {p2}, {p3}"),
    );
    c.require(
        sent == 200
            && (1..=6).contains(&lost)
            && ip == "192.168.10.2"
            && hv == "hv1"
            && p1 == "local"
            && p2 == "hv1"
            && p3 == "hv1",
    );
    format!(
        "Ping kept going: {lost} of {sent} packets lost during the move; the IP never changed \
         ({ip}). vm-b's gratuitous ARP moved its FDB entries to hv1 everywhere."
    )
}

fn s5(c: &mut Ctx<'_>) -> String {
    let mut all = 0;
    for i in 1..=8 {
        all += c.app(&format!("c{i}")).1;
    }
    c.fact(
        "pings",
        "containers whose ping was answered",
        format!("{all}/8"),
    );
    let router = c.lab.node("dc1-router").or_else(|| {
        c.sim()
            .nodes()
            .into_iter()
            .find(|n| n.kind == vtep_sim::NodeKind::Router)
            .map(|n| n.id)
    });
    let seen = router
        .and_then(|r| c.sim().mac_table(r).ok())
        .map(|m| m.len() as u64)
        .unwrap_or(0);
    c.fact(
        "router_macs",
        "MAC entries in the underlay router (this run)",
        seen.to_string(),
    );
    let mut same = true;
    for v in Variant::ALL {
        let model = scale::model(4, 2, v);
        let measured = scale::simulate(4, 2, v, c.lab.script().seed)
            .ok()
            .map(|m| m.figures);
        let key = match v {
            Variant::FlatL2 => "flat",
            Variant::FloodAndLearn => "flood",
            Variant::Evpn => "cp",
        };
        if let Some(m) = measured {
            c.fact(
                key,
                &format!("{} (4 x 2): underlay MACs / ARP per container", v.name()),
                format!("{} / {}", m.underlay_mac_entries, m.arp_frames_per_host),
            );
        }
        same &= model.is_some() && model == measured;
    }
    let flat = scale::model(5000, 100, Variant::FlatL2);
    let over = scale::model(5000, 100, Variant::FloodAndLearn);
    if let (Some(f), Some(o)) = (flat, over) {
        c.fact(
            "k8s",
            "5000 nodes x 100 containers: underlay MAC entries",
            format!(
                "{} flat vs {} VXLAN",
                fmt_n(f.underlay_mac_entries),
                fmt_n(o.underlay_mac_entries)
            ),
        );
    }
    c.fact(
        "model",
        "event-level counts equal the counting model",
        if same { "yes" } else { "no" },
    );
    c.require(all == 8 && seen == 4 && same);
    "In this overlay the underlay router learned only the 4 VTEP MACs, not the 8 containers'. \
     The event-level counts match the scale model for all three designs; see the Scale tab for \
     5000 x 100."
        .to_string()
}

fn s6(c: &mut Ctx<'_>) -> String {
    let (_, red) = c.ping("red", "red pings", "red");
    let (_, blue) = c.ping("blue", "blue pings", "blue");
    let sim = c.sim();
    let vni_of = |n| sim.host_addr(n).map(|(_, _, v)| v).ok();
    let (mut delivered, mut leaked) = (0u64, 0u64);
    for h in sim.trace() {
        if let (Some(to), Some(from)) = (vni_of(h.to), vni_of(h.origin))
            && h.decisions.contains(&Decision::Received)
        {
            delivered += 1;
            if to != from {
                leaked += 1;
            }
        }
    }
    c.fact(
        "leaks",
        "frames delivered to the other tenant",
        format!("{leaked} of {delivered}"),
    );
    c.fact(
        "ids",
        "VLAN IDs vs VNIs",
        format!(
            "{} usable vs {} (QinQ: {})",
            fmt_n(u64::from(id_space::VLAN_IDS_USABLE)),
            fmt_n(u64::from(id_space::VNI_IDS)),
            fmt_n(u64::from(id_space::QINQ_IDS))
        ),
    );
    c.require(red == 5 && blue == 5 && leaked == 0 && delivered >= 20);
    format!(
        "Both tenants got {red} and {blue} replies with identical IPs and MACs; not one of \
         {delivered} delivered frames crossed to the other tenant."
    )
}

fn s7(c: &mut Ctx<'_>) -> String {
    let (bs, _, br) = c.app("blue");
    let (rs, _, rr) = c.app("red");
    let limited = c.drops("hv1", 100, DropReason::RateLimited);
    c.fact(
        "blue",
        "blue (no limit) datagrams delivered",
        format!("{br}/{bs}"),
    );
    c.fact(
        "red",
        "red (1 Mbit/s) datagrams delivered",
        format!("{rr}/{rs}"),
    );
    c.fact(
        "limited",
        "red datagrams dropped by hv1 as rate_limited",
        limited.to_string(),
    );
    c.require(bs == 1000 && br == 1000 && (100..=200).contains(&rr) && limited == rs - rr);
    format!(
        "Blue delivered all {br}; red, capped at 1 Mbit/s, delivered {rr} and its VTEP dropped \
         the other {limited}. Bandwidth is allocated per virtual network."
    )
}

/// How many of S8's containers c1..c8 had a reply to their app `c{i}{suffix}` (`""`: the
/// pings, `"-6"`: the ping6s).
fn containers_answered(c: &Ctx<'_>, suffix: &str) -> u64 {
    (1..=8)
        .map(|i| u64::from(c.app(&format!("c{i}{suffix}")).1 >= 1))
        .sum()
}

fn s8(c: &mut Ctx<'_>) -> String {
    let all = containers_answered(c, "");
    c.fact(
        "pings",
        "containers whose pings were answered",
        format!("{all}/8"),
    );
    let under = c.sim().underlay_links();
    let (mut arp_req, mut bgp_segments) = (0u64, 0u64);
    for h in c.sim().trace().iter().filter(|h| under.contains(&h.link)) {
        let l = h.layers();
        if l.is_arp_request() {
            arp_req += 1;
        }
        if matches!(l.outer.map(|o| o.tunnel), Some(Tunnel::Bgp(_))) {
            bgp_segments += 1;
        }
    }
    // The messages the speakers exchanged, as the hypervisors' speakers counted them.
    let sim = c.sim();
    let (mut messages, mut updates) = (0u64, 0u64);
    for hv in sim.hypervisors() {
        for p in sim.speaker(hv).map(|s| s.peers()).unwrap_or_default() {
            messages += p.counters.messages_sent() + p.counters.messages_received();
            updates += p.counters.sent[1] + p.counters.received[1];
        }
    }
    let sim = c.sim();
    let vni = Vni::new(100).ok();
    let (mut suppressed, mut cp_entries) = (0u64, 0u64);
    for hv in sim.hypervisors() {
        if let (Ok(v), Some(vni)) = (sim.vtep(hv), vni) {
            suppressed += v.counters(vni).map(|c| c.arp_suppressed).unwrap_or(0);
        }
        cp_entries += sim
            .fdb(hv)
            .unwrap_or_default()
            .iter()
            .filter(|(_, _, e)| e.origin == Origin::ControlPlane)
            .count() as u64;
    }
    c.fact(
        "arp_underlay",
        "ARP requests on the underlay",
        arp_req.to_string(),
    );
    c.fact(
        "cp",
        "BGP messages the VTEPs exchanged with rr1 (UPDATEs)",
        format!("{messages} ({updates})"),
    );
    c.fact(
        "segments",
        "TCP segments of BGP on the underlay links",
        bgp_segments.to_string(),
    );
    c.fact(
        "suppressed",
        "ARP requests answered by the VTEPs",
        suppressed.to_string(),
    );
    c.fact(
        "cp_entries",
        "FDB entries installed by the control plane",
        cp_entries.to_string(),
    );
    c.require(all == 8 && arp_req == 0 && updates >= 4 + 12 && suppressed >= 8);
    let all6 = containers_answered(c, "-6");
    c.fact(
        "pings6",
        "containers whose ping6s were answered",
        format!("{all6}/8"),
    );
    let sim = c.sim();
    let solicits = sim
        .trace()
        .iter()
        .filter(|h| under.contains(&h.link) && h.layers().is_nd_solicit())
        .count();
    let nd: u64 = sim
        .hypervisors()
        .iter()
        .filter_map(|hv| Some(sim.vtep(*hv).ok()?.counters(vni?)?.nd_suppressed))
        .sum();
    c.fact(
        "ns_underlay",
        "IPv6 Neighbour Solicitations on the underlay",
        solicits.to_string(),
    );
    c.fact(
        "nd_suppressed",
        "Neighbour Solicitations answered by the VTEPs",
        nd.to_string(),
    );
    c.require(all6 == 8 && solicits == 0 && nd >= 8);
    format!(
        "Not one ARP request crossed the underlay: the VTEPs answered {suppressed} themselves, \
         from routes that came in {updates} BGP UPDATEs through the route reflector. Remote \
         MACs came from BGP EVPN, not from flooding. Over IPv6 the same: not one Neighbour \
         Solicitation crossed, the VTEPs answered {nd} from MAC/IP routes with IPv6 addresses."
    )
}

fn s9(c: &mut Ctx<'_>) -> String {
    let mut ok = true;
    for (key, label, app) in [
        ("vxlan", "VXLAN (VNI 100) pings", "vx-a"),
        ("geneve", "Geneve (VNI 200) pings", "gn-a"),
        ("nvgre", "NVGRE (VSID 300) pings", "gre-a"),
    ] {
        ok &= c.ping(key, label, app).1 == 3;
    }
    let mut seen = std::collections::BTreeMap::new();
    for h in c.sim().trace() {
        let l = h.layers();
        if let Some(Tunnel::Encap { encapsulation, .. }) = l.outer.map(|o| o.tunnel) {
            seen.insert(encapsulation.name(), l.overhead);
        }
    }
    let text = seen
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    c.fact("overheads", "bytes of outer headers", text.clone());
    c.require(
        ok && seen.get("VXLAN") == Some(&50)
            && seen.get("Geneve") == Some(&50)
            && seen.get("NVGRE") == Some(&42),
    );
    format!("All three networks answered every ping. Overhead per frame: {text} bytes.")
}

fn s10(c: &mut Ctx<'_>) -> String {
    let (sent, replies) = c.ping("ping", "pings vm-a -> vm-b", "ping");
    let lost = sent - replies;
    c.fact(
        "lost",
        "pings lost (two moves + 200 ms failure)",
        lost.to_string(),
    );
    let last = c
        .lab
        .app("ping")
        .and_then(|a| c.sim().app_report(a).ok())
        .and_then(|r| r.rtts.last().map(|x| x.0))
        .unwrap_or(0);
    c.fact("last", "last answered sequence number", last.to_string());
    let hv = c.runs_on("vm-b");
    c.fact("where", "vm-b runs on", hv.clone());
    let p1 = c.fdb_points("hv1", "vm-b").unwrap_or_default();
    c.fact("fdb", "hv1's FDB sends vm-b's MAC to", p1.clone());
    c.require(
        sent == 300 && (20..=40).contains(&lost) && last >= 295 && hv == "hv2" && p1 == "hv2",
    );
    format!(
        "vm-b moved to dc2 and back after hv3 failed, keeping 192.168.10.2: {lost} of {sent} \
         pings lost (most during the failure), and answered again to the end."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_outcome_holds() {
        for sc in vtep_sim::scenario::all() {
            let mut lab = Lab::new(sc.script.clone());
            lab.advance_to(lab.end().unwrap());
            let o = outcome(&lab).unwrap();
            eprintln!("{}: {} {:?}", sc.id, o.headline, o.facts);
            assert!(o.ok, "{}: {o:?}", sc.id);
        }
    }
}
