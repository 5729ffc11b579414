//! The lab: a simulator driven by a [`Script`] and a view clock. The simulator never runs ahead
//! of the view, so the tables show the state at the time on screen; the trace of frames up to
//! that time is what the topology animates and the event list shows. Going back in time
//! replays the script on a fresh simulator (it is deterministic).

use std::collections::BTreeMap;

use vtep_core::rate::RateLimit;
use vtep_core::wire::{EthernetAddress, Ipv4Address};
use vtep_core::{Duration, Instant};
use vtep_sim::sim::HostSpec;
use vtep_sim::trace::{L3, L4, Layers, Tunnel};
use vtep_sim::{AppId, Hop, LinkId, NodeId, NodeKind, Sim, SimConfig, SimError};

use super::script::{Action, Script};

/// Kinds of frame, for the event list's filters (bit flags).
pub mod kind {
    pub const ARP: u16 = 1;
    pub const ICMP: u16 = 2;
    pub const TCP: u16 = 4;
    pub const UDP: u16 = 8;
    pub const BUM: u16 = 16;
    pub const ENCAP: u16 = 32;
    pub const CONTROL: u16 = 64;
    pub const DROP: u16 = 128;
    /// The filter buttons: bit, label, tooltip.
    pub const FILTERS: [(u16, &str, &str); 8] = [
        (
            ARP,
            "ARP",
            "Address Resolution Protocol: who has this IP address?",
        ),
        (ICMP, "ICMP", "Echo requests and replies (ping)"),
        (TCP, "TCP", "TCP segments"),
        (
            UDP,
            "UDP",
            "UDP datagrams between hosts (not the tunnel's UDP)",
        ),
        (
            BUM,
            "BUM",
            "Broadcast, unknown-unicast and multicast frames: flooded",
        ),
        (
            ENCAP,
            "encap",
            "Frames on the underlay, inside a tunnel header",
        ),
        (CONTROL, "ctrl", "Control-plane messages (EVPN-like routes)"),
        (DROP, "drops", "Frames that went no further"),
    ];
}

/// What the event list and the animation need to know about a hop, read once from its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct HopRow {
    /// Bit set of [`kind`] flags (without [`kind::DROP`]: decisions come later).
    pub kinds: u16,
    /// One line: "ARP who-has 10.0.0.2", "ICMP echo request seq 3", ...
    pub summary: String,
    /// VNI of the tunnel header, if encapsulated.
    pub vni: Option<u32>,
    /// Colour class of the innermost protocol: "arp", "icmp", "tcp", "udp", "ctrl", "other".
    pub proto: &'static str,
}

impl HopRow {
    pub fn new(layers: &Layers) -> HopRow {
        let mut kinds = 0;
        let mut proto = "other";
        match layers.outer.map(|o| o.tunnel) {
            Some(Tunnel::Encap { .. }) => kinds |= kind::ENCAP,
            Some(Tunnel::ControlPlane(_)) => {
                kinds |= kind::CONTROL;
                proto = "ctrl";
            }
            None => {}
        }
        if let Some(i) = &layers.inner {
            if i.dst_mac.is_broadcast() || i.dst_mac.is_multicast() {
                kinds |= kind::BUM;
            }
            let (k, p) = match i.l3 {
                L3::Arp { .. } => (kind::ARP, "arp"),
                L3::Ipv4 { l4, .. } => match l4 {
                    L4::IcmpEchoRequest { .. } | L4::IcmpEchoReply { .. } | L4::Icmp { .. } => {
                        (kind::ICMP, "icmp")
                    }
                    L4::Udp { .. } => (kind::UDP, "udp"),
                    L4::Tcp { .. } => (kind::TCP, "tcp"),
                    L4::Other(_) => (0, proto),
                },
                L3::Other(_) => (0, proto),
            };
            kinds |= k;
            proto = p;
        }
        HopRow {
            kinds,
            summary: layers.to_string(),
            vni: layers.vni().map(|v| v.get()),
            proto,
        }
    }
}

/// A frame to draw: a hop in flight (or just dropped) at the view time.
#[derive(Clone, Debug, PartialEq)]
pub struct Flight {
    pub hop: u32,
    pub from: NodeId,
    pub to: NodeId,
    /// 0.0 at `from`, 1.0 at `to`.
    pub progress: f64,
    /// The frame is dropped at `to` (drawn as a mark there).
    pub dropped: bool,
}

/// A user-facing failure of an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionError {
    pub at_us: u64,
    pub message: String,
}

/// The simulator, its script and the view clock. See the module documentation.
#[derive(Debug)]
pub struct Lab {
    script: Script,
    sim: Sim,
    apps: BTreeMap<String, AppId>,
    /// Index of the first script action not applied yet.
    next_action: usize,
    /// The view time.
    t: Instant,
    rows: Vec<HopRow>,
    /// Every hop before this index has ended (and lingered) before `t`.
    lo: usize,
    errors: Vec<ActionError>,
    /// Bumped whenever the topology may have changed (actions, replays).
    topology_rev: u64,
    /// Bumped on every replay (a new simulator).
    replays: u64,
}

fn ip(o: [u8; 4]) -> Ipv4Address {
    Ipv4Address::new(o[0], o[1], o[2], o[3])
}

fn at(us: u64) -> Instant {
    Instant::from_micros(i64::try_from(us).unwrap_or(i64::MAX))
}

/// Microseconds of an instant (never negative here).
pub fn us(t: Instant) -> u64 {
    u64::try_from(t.total_micros()).unwrap_or(0)
}

fn new_sim(script: &Script) -> Sim {
    Sim::new(SimConfig {
        seed: script.seed,
        fabric: script.fabric.into(),
        ..SimConfig::default()
    })
}

/// An ARP request from `mac`/`sender` for `target`.
fn arp_request(mac: EthernetAddress, sender: Ipv4Address, target: Ipv4Address) -> Vec<u8> {
    let mut frame = vtep_sim::sim::gratuitous_arp(mac, sender);
    // Same layout as a gratuitous ARP; only the target protocol address differs (bytes 38..42).
    frame[38..42].copy_from_slice(&target.octets());
    frame
}

impl Lab {
    pub fn new(script: Script) -> Lab {
        let mut lab = Lab {
            sim: new_sim(&script),
            script,
            apps: BTreeMap::new(),
            next_action: 0,
            t: Instant::ZERO,
            rows: Vec::new(),
            lo: 0,
            errors: Vec::new(),
            topology_rev: 0,
            replays: 0,
        };
        lab.advance_to(Instant::ZERO);
        lab
    }

    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    pub fn script(&self) -> &Script {
        &self.script
    }

    pub fn now(&self) -> Instant {
        self.t
    }

    pub fn rows(&self) -> &[HopRow] {
        &self.rows
    }

    pub fn errors(&self) -> &[ActionError] {
        &self.errors
    }

    pub fn topology_rev(&self) -> u64 {
        self.topology_rev
    }

    pub fn replays(&self) -> u64 {
        self.replays
    }

    pub fn app(&self, name: &str) -> Option<AppId> {
        self.apps.get(name).copied()
    }

    pub fn apps(&self) -> &BTreeMap<String, AppId> {
        &self.apps
    }

    /// Where the guided part ends, if the script has an end.
    pub fn end(&self) -> Option<Instant> {
        self.script.end_us.map(at)
    }

    /// Whether the view reached the end of the script.
    pub fn at_end(&self) -> bool {
        self.end().is_some_and(|e| self.t >= e)
    }

    /// Moves the view (and the simulator) forward to `t`, applying the script's actions on
    /// the way. Going back is [`Lab::seek`].
    pub fn advance_to(&mut self, t: Instant) {
        while let Some(timed) = self.script.actions.get(self.next_action) {
            let when = at(timed.at_us);
            if when > t {
                break;
            }
            if when > self.sim.now() {
                self.sim.run_until(when);
            }
            let (action, at_us) = (timed.action.clone(), timed.at_us);
            if let Err(e) = self.apply(&action) {
                self.errors.push(ActionError {
                    at_us,
                    message: format!("{}: {e}", describe(&action)),
                });
            }
            self.next_action += 1;
            self.topology_rev += 1;
        }
        if t > self.sim.now() || self.sim.next_event_at().is_some_and(|n| n <= t) {
            self.sim.run_until(t);
        }
        if t > self.t {
            self.t = t;
        }
        self.index_new_hops();
    }

    /// Sets the view to `t`, replaying from the start when `t` is earlier than now.
    pub fn seek(&mut self, t: Instant) {
        if t < self.t {
            self.replay();
        }
        self.advance_to(t);
    }

    /// A fresh simulator at time zero with the script's actions at time zero applied.
    pub fn replay(&mut self) {
        self.sim = new_sim(&self.script);
        self.apps.clear();
        self.next_action = 0;
        self.t = Instant::ZERO;
        self.rows.clear();
        self.lo = 0;
        self.errors.clear();
        self.topology_rev += 1;
        self.replays += 1;
        self.advance_to(Instant::ZERO);
    }

    fn index_new_hops(&mut self) {
        let trace = self.sim.trace();
        for hop in &trace[self.rows.len()..] {
            self.rows.push(HopRow::new(&hop.layers()));
        }
    }

    /// Adds `action` to the script at the current view time and applies it now.
    pub fn act(&mut self, action: Action) -> Result<(), String> {
        let now = us(self.t);
        // Apply it directly (the simulator is at the view time), then record it after every
        // action already applied, so a replay does the same in the same order.
        if self.sim.now() < self.t {
            self.sim.run_until(self.t);
        }
        let result = self
            .apply(&action)
            .map_err(|e| format!("{}: {e}", describe(&action)));
        if result.is_ok() {
            let i = self.script.insert(now, action);
            debug_assert!(i >= self.next_action);
            self.next_action = i + 1;
            self.topology_rev += 1;
            self.index_new_hops();
        }
        result
    }

    fn apply(&mut self, action: &Action) -> Result<(), SimError> {
        let sim = &mut self.sim;
        match action {
            Action::Site { name } => {
                sim.add_site(name)?;
            }
            Action::ConnectSites { a, b, latency_us } => {
                let (sa, sb) = (site_id(sim, a)?, site_id(sim, b)?);
                let spec = vtep_sim::LinkSpec {
                    latency: Duration::from_micros(*latency_us),
                    ..vtep_sim::LinkSpec::wan()
                };
                sim.connect_sites(sa, sb, spec)?;
            }
            Action::Hypervisor { site, name } => {
                let s = site_id(sim, site)?;
                sim.add_hypervisor(s, name)?;
            }
            Action::Host {
                name,
                hypervisor,
                vni,
                ip: addr,
                mac,
            } => {
                let hv = sim.node_id(hypervisor)?;
                let mut spec = HostSpec::new(name, *vni, ip(*addr));
                spec.prefix_len = 24;
                if let Some(m) = mac {
                    spec = spec.with_mac(EthernetAddress(*m));
                }
                sim.add_host(hv, spec)?;
            }
            Action::LearningMode { mode } => sim.set_learning_mode((*mode).into())?,
            Action::Encapsulation { vni, encapsulation } => {
                sim.set_encapsulation(*vni, (*encapsulation).into())?;
            }
            Action::RateLimit { vni, bits_per_sec } => {
                sim.set_rate_limit(*vni, bits_per_sec.map(RateLimit::from_bits_per_sec))?;
            }
            Action::UnderlayMtu { mtu } => sim.set_underlay_mtu(*mtu)?,
            Action::HostMtu { host, mtu } => {
                let h = sim.node_id(host)?;
                sim.set_host_mtu(h, *mtu)?;
            }
            Action::Ping {
                app,
                from,
                to,
                count,
                interval_ms,
                size,
            } => {
                let h = sim.node_id(from)?;
                let id = sim.start_ping(
                    h,
                    ip(*to),
                    *count,
                    Duration::from_millis(*interval_ms),
                    *size,
                )?;
                self.apps.insert(app.clone(), id);
            }
            Action::Arping { from, to } => {
                let h = sim.node_id(from)?;
                let (mac, sender, _) = sim.host_addr(h)?;
                sim.inject_from_host(h, arp_request(mac, sender, ip(*to)))?;
            }
            Action::UdpFlow {
                app,
                from,
                to,
                count,
                interval_us,
                size,
            } => {
                let (c, s) = (sim.node_id(from)?, sim.node_id(to)?);
                let id = sim.start_udp_flow(
                    c,
                    s,
                    9000,
                    *count,
                    Duration::from_micros(*interval_us),
                    *size,
                    false,
                )?;
                self.apps.insert(app.clone(), id);
            }
            Action::Tcp {
                app,
                from,
                to,
                bytes,
            } => {
                let (c, s) = (sim.node_id(from)?, sim.node_id(to)?);
                let id = sim.start_tcp_transfer(c, s, 5001, *bytes)?;
                self.apps.insert(app.clone(), id);
            }
            Action::Migrate { host, to } => {
                let (h, hv) = (sim.node_id(host)?, sim.node_id(to)?);
                sim.migrate_host(h, hv)?;
            }
            Action::FailHypervisor { name } => {
                let hv = sim.node_id(name)?;
                sim.fail_hypervisor(hv)?;
            }
            Action::RestoreHypervisor { name } => {
                let hv = sim.node_id(name)?;
                sim.restore_hypervisor(hv)?;
            }
            Action::FailLink { a, b } => {
                let l = link_between(sim, a, b)?;
                sim.fail_link(l)?;
            }
            Action::RestoreLink { a, b } => {
                let l = link_between(sim, a, b)?;
                sim.restore_link(l)?;
            }
        }
        Ok(())
    }

    /// The frames to draw at the view time: hops in flight, and drops that happened within
    /// `linger` before it.
    pub fn flights(&mut self, linger: Duration) -> Vec<Flight> {
        let t = self.t;
        let trace = self.sim.trace();
        while self.lo < trace.len() && trace[self.lo].end + linger < t {
            self.lo += 1;
        }
        let mut out = Vec::new();
        for hop in &trace[self.lo..] {
            if hop.start > t {
                continue;
            }
            if t < hop.end {
                let span = (hop.end - hop.start).total_micros().max(1) as f64;
                let progress = (t - hop.start).total_micros() as f64 / span;
                out.push(Flight {
                    hop: hop.id.0,
                    from: hop.from,
                    to: hop.to,
                    progress: progress.clamp(0.0, 1.0),
                    dropped: false,
                });
            } else if hop.end + linger >= t && hop.dropped().is_some() {
                out.push(Flight {
                    hop: hop.id.0,
                    from: hop.from,
                    to: hop.to,
                    progress: 1.0,
                    dropped: true,
                });
            }
        }
        out
    }

    /// Whether any hop is on a link at the view time.
    pub fn busy(&self) -> bool {
        let t = self.t;
        self.sim.trace()[self.lo.min(self.sim.trace().len())..]
            .iter()
            .any(|h| h.start <= t && t < h.end)
    }

    /// The next time something visible happens after the view time: a hop starts or ends, or
    /// the script acts. Runs the simulator forward (not the view) as needed, bounded.
    fn next_visible(&mut self, limit: Instant) -> Option<Instant> {
        let t = self.t;
        for _ in 0..10_000 {
            let mut best: Option<Instant> = None;
            let mut consider = |x: Instant| {
                if x > t && best.is_none_or(|b| x < b) {
                    best = Some(x);
                }
            };
            for hop in &self.sim.trace()[self.lo.min(self.sim.trace().len())..] {
                consider(hop.start);
                consider(hop.end);
            }
            if let Some(a) = self.script.actions.get(self.next_action) {
                consider(at(a.at_us));
            }
            if let Some(b) = best
                && (b <= self.sim.now() || self.sim.next_event_at().is_none_or(|n| n >= b))
            {
                return Some(b.min(limit));
            }
            // Nothing known yet: let the simulator process its next event (without moving the
            // view) and look again.
            let next = self.sim.next_event_at()?;
            if next > limit {
                return best.map(|b| b.min(limit)).or(Some(limit));
            }
            self.sim.run_until(next);
            self.index_new_hops();
        }
        None
    }

    /// Moves to the next visible event (a frame leaves or arrives, or an action happens).
    pub fn step_forward(&mut self) {
        let limit = self.end().unwrap_or(Instant::from_secs(3600));
        if let Some(next) = self.next_visible(limit.max(self.t)) {
            self.advance_to(next);
        } else {
            self.advance_to(self.t + Duration::from_millis(1));
        }
    }

    /// Moves to the previous visible event, by replaying from the start.
    pub fn step_back(&mut self) {
        let t = self.t;
        let mut prev = Instant::ZERO;
        for hop in self.sim.trace() {
            for x in [hop.start, hop.end] {
                if x < t && x > prev {
                    prev = x;
                }
            }
        }
        for a in &self.script.actions {
            let x = at(a.at_us);
            if x < t && x > prev {
                prev = x;
            }
        }
        self.seek(prev);
    }

    /// Skips idle virtual time: when nothing is on a link, jumps to the next visible event
    /// (at most `max_jump` ahead, never past the end). Returns whether it jumped.
    pub fn skip_idle(&mut self, max_jump: Duration) -> bool {
        if self.busy() {
            return false;
        }
        let mut limit = self.t + max_jump;
        if let Some(e) = self.end() {
            limit = limit.min(e);
        }
        match self.next_visible(limit) {
            Some(next) if next > self.t => {
                self.advance_to(next);
                true
            }
            _ => false,
        }
    }

    /// Node id by name, if present.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.sim.node_id(name).ok()
    }

    /// The name of a node (or `#id` when it is gone).
    pub fn name(&self, id: NodeId) -> String {
        self.sim
            .node_info(id)
            .map(|n| n.name)
            .unwrap_or_else(|_| format!("#{}", id.0))
    }

    /// The hop with this index.
    pub fn hop(&self, id: u32) -> Option<&Hop> {
        self.sim.trace().get(id as usize)
    }

    /// Node kinds by id, for quick lookups.
    pub fn kind(&self, id: NodeId) -> Option<NodeKind> {
        self.sim.node_info(id).ok().map(|n| n.kind)
    }

    /// The pcap of every frame up to the view time.
    pub fn pcap(&self) -> Vec<u8> {
        vtep_sim::capture::pcap(&self.sim, &vtep_sim::capture::Capture::All)
    }
}

fn site_id(sim: &Sim, name: &str) -> Result<vtep_sim::SiteId, SimError> {
    // Sites are numbered in creation order and keep their names.
    (0..1024u32)
        .map(vtep_sim::SiteId)
        .find(|s| sim.site_name(*s).is_ok_and(|n| n == name))
        .ok_or_else(|| SimError::UnknownName(name.to_string()))
}

fn link_between(sim: &Sim, a: &str, b: &str) -> Result<LinkId, SimError> {
    let (a, b) = (sim.node_id(a)?, sim.node_id(b)?);
    sim.links()
        .iter()
        .find(|l| l.ends == [a, b] || l.ends == [b, a])
        .map(|l| l.id)
        .ok_or_else(|| SimError::BadArgument("no link between these nodes".to_string()))
}

/// A short description of an action, for the log and errors.
pub fn describe(action: &Action) -> String {
    let ip4 = |o: &[u8; 4]| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]);
    match action {
        Action::Site { name } => format!("add site {name}"),
        Action::ConnectSites { a, b, .. } => format!("connect {a} and {b}"),
        Action::Hypervisor { site, name } => format!("add hypervisor {name} in {site}"),
        Action::Host {
            name,
            hypervisor,
            vni,
            ip,
            ..
        } => format!("add host {name} ({}, VNI {vni}) on {hypervisor}", ip4(ip)),
        Action::LearningMode { mode } => format!("learning mode {mode:?}"),
        Action::Encapsulation { vni, encapsulation } => {
            format!("VNI {vni} uses {encapsulation:?}")
        }
        Action::RateLimit { vni, bits_per_sec } => match bits_per_sec {
            Some(b) => format!("limit VNI {vni} to {b} bit/s"),
            None => format!("no rate limit on VNI {vni}"),
        },
        Action::UnderlayMtu { mtu } => format!("underlay MTU {mtu}"),
        Action::HostMtu { host, mtu } => format!("MTU of {host}: {mtu}"),
        Action::Ping {
            from, to, count, ..
        } => format!("{from}: ping {} x{count}", ip4(to)),
        Action::Arping { from, to } => format!("{from}: arping {}", ip4(to)),
        Action::UdpFlow {
            from, to, count, ..
        } => format!("{from}: {count} UDP datagrams to {to}"),
        Action::Tcp {
            from, to, bytes, ..
        } => format!("{from}: TCP {bytes} bytes to {to}"),
        Action::Migrate { host, to } => format!("migrate {host} to {to}"),
        Action::FailHypervisor { name } => format!("fail {name}"),
        Action::RestoreHypervisor { name } => format!("restore {name}"),
        Action::FailLink { a, b } => format!("fail link {a} - {b}"),
        Action::RestoreLink { a, b } => format!("restore link {a} - {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_replay_like_the_scenarios() {
        for scenario in vtep_sim::scenario::all() {
            let started = std::time::Instant::now();
            let mut lab = Lab::new(Script::from_scenario(&scenario));
            let end = lab.end().unwrap();
            lab.advance_to(end);
            let reference = scenario.run(super::super::script::SEED).unwrap();
            eprintln!(
                "{}: {} hops, {:?}",
                scenario.id,
                lab.sim().trace().len(),
                started.elapsed()
            );
            assert!(lab.errors().is_empty(), "{:?}", lab.errors());
            assert_eq!(
                lab.sim().trace().len(),
                reference.sim.trace().len(),
                "{}",
                scenario.id
            );
            for (name, id) in &reference.apps {
                let mine = lab.sim().app_report(lab.app(name).unwrap()).unwrap();
                assert_eq!(mine, reference.sim.app_report(*id).unwrap(), "{name}");
            }
        }
    }

    #[test]
    fn step_back_replays_to_the_previous_event() {
        let mut lab = Lab::new(Script::from_scenario(&vtep_sim::scenario::s1()));
        for _ in 0..5 {
            lab.step_forward();
        }
        let t5 = lab.now();
        let hops5 = lab.sim().trace().len();
        lab.step_forward();
        assert!(lab.now() > t5);
        lab.step_back();
        assert_eq!(lab.now(), t5);
        assert_eq!(lab.sim().trace().len(), hops5);
    }

    #[test]
    fn user_actions_are_recorded_and_replayed() {
        let mut lab = Lab::new(Script::sandbox());
        lab.act(Action::Ping {
            app: "p".into(),
            from: "red-1".into(),
            to: [10, 0, 0, 4],
            count: 2,
            interval_ms: 10,
            size: 56,
        })
        .unwrap();
        lab.advance_to(Instant::from_millis(100));
        let replies = lab.sim().app_report(lab.app("p").unwrap()).unwrap().replies;
        assert_eq!(replies, 2);
        let hops = lab.sim().trace().len();
        lab.seek(Instant::from_millis(1));
        lab.seek(Instant::from_millis(100));
        assert_eq!(lab.sim().trace().len(), hops);
        assert!(
            lab.act(Action::Migrate {
                host: "nope".into(),
                to: "hv1".into()
            })
            .is_err()
        );
    }
}
