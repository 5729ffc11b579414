//! The lab: a simulator driven by a [`Script`] and a view clock. The simulator never runs ahead
//! of the view, so the tables show the state at the time on screen; the trace of frames up to
//! that time is what the topology animates and the event list shows. Going back in time
//! replays the script on a fresh simulator (it is deterministic). Actions are applied by
//! vtep-sim's [`Run`]; the lab only decides when.

use std::collections::BTreeMap;

use vtep_core::{Duration, Instant};
use vtep_sim::bgp::MessageKind;
use vtep_sim::script::{Action, Run, Script, at};
use vtep_sim::trace::{L3, L4, Layers, Tunnel};
use vtep_sim::{AppId, Hop, NodeId, NodeKind, Sim};

/// Kinds of frame, for the event list's filters (bit flags).
pub mod kind {
    pub const ARP: u16 = 1;
    pub const ICMP: u16 = 2;
    pub const TCP: u16 = 4;
    pub const UDP: u16 = 8;
    pub const BUM: u16 = 16;
    pub const ENCAP: u16 = 32;
    /// Any segment of a BGP session (handshakes and acknowledgements too).
    pub const CONTROL: u16 = 64;
    pub const DROP: u16 = 128;
    pub const OPEN: u16 = 256;
    pub const UPDATE: u16 = 512;
    pub const KEEPALIVE: u16 = 1024;
    pub const NOTIFICATION: u16 = 2048;
    /// Any ICMPv6 message: echo (ping6) and Neighbour Discovery.
    pub const ICMPV6: u16 = 4096;
    /// IPv6 Neighbour Discovery: solicitations and advertisements.
    pub const ND: u16 = 8192;
    /// The filter buttons: bit, label, tooltip.
    pub const FILTERS: [(u16, &str, &str); 14] = [
        (
            ARP,
            "ARP",
            "Address Resolution Protocol: who has this IP address?",
        ),
        (ICMP, "ICMP", "Echo requests and replies (ping)"),
        (
            ICMPV6,
            "ICMPv6",
            "ICMP for IPv6: echo requests and replies (ping6) and Neighbour Discovery",
        ),
        (
            ND,
            "ND",
            "IPv6 Neighbour Discovery, IPv6's ARP: solicitations (who has this IPv6 address?) \
             and advertisements",
        ),
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
        (
            CONTROL,
            "BGP",
            "The BGP EVPN control plane: every TCP segment of a session on port 179",
        ),
        (
            OPEN,
            "OPEN",
            "BGP OPEN: a session starts, each side says its AS, hold time and capabilities",
        ),
        (
            UPDATE,
            "UPDATE",
            "BGP UPDATE: EVPN routes announced or withdrawn (MACs, flood lists)",
        ),
        (
            KEEPALIVE,
            "KEEPALIVE",
            "BGP KEEPALIVE: the session is alive (every 3 s here; silence for 9 s ends it)",
        ),
        (
            NOTIFICATION,
            "NOTIFICATION",
            "BGP NOTIFICATION: an error, or a peer ending the session, and why",
        ),
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
    /// The virtual network the frame belongs to: the tunnel's VNI, or for a host's plain frame
    /// the VNI of the host at either end (none for the underlay's own frames).
    pub net_vni: Option<u32>,
    /// Colour class of the innermost protocol: "arp" (ARP and IPv6 Neighbour Discovery, the
    /// two address resolutions), "icmp" (ICMP and ICMPv6 echo), "tcp", "udp", "other"; for BGP
    /// the message ("open", "update", "keepalive", "notification", or "ctrl": TCP only).
    pub proto: &'static str,
}

impl HopRow {
    pub fn new(layers: &Layers) -> HopRow {
        let mut kinds = 0;
        let mut proto = "other";
        match layers.outer.map(|o| o.tunnel) {
            Some(Tunnel::Encap { .. }) => kinds |= kind::ENCAP,
            Some(Tunnel::Bgp(seg)) => {
                kinds |= kind::CONTROL;
                proto = "ctrl";
                // Coloured by the most telling message it starts: an UPDATE over a KEEPALIVE.
                for (k, bit, class) in [
                    (MessageKind::Keepalive, kind::KEEPALIVE, "keepalive"),
                    (MessageKind::Open, kind::OPEN, "open"),
                    (MessageKind::Update, kind::UPDATE, "update"),
                    (
                        MessageKind::Notification,
                        kind::NOTIFICATION,
                        "notification",
                    ),
                ] {
                    if seg.has(k) {
                        kinds |= bit;
                        proto = class;
                    }
                }
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
                    _ => (0, proto),
                },
                L3::Ipv6 { l4, .. } => match l4 {
                    L4::IcmpEchoRequest { .. } | L4::IcmpEchoReply { .. } | L4::Icmpv6 { .. } => {
                        (kind::ICMPV6, "icmp")
                    }
                    L4::NeighbourSolicit { .. } | L4::NeighbourAdvert { .. } => {
                        (kind::ICMPV6 | kind::ND, "arp")
                    }
                    L4::Udp { .. } => (kind::UDP, "udp"),
                    L4::Tcp { .. } => (kind::TCP, "tcp"),
                    _ => (0, proto),
                },
                L3::Other(_) => (0, proto),
            };
            kinds |= k;
            proto = p;
        }
        let vni = layers.vni().map(|v| v.get());
        HopRow {
            kinds,
            summary: layers.to_string(),
            vni,
            net_vni: vni,
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
    /// The simulator and the apps by name.
    run: Run,
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

/// How far a step goes when nothing is scheduled, in a script without an end.
pub const IDLE_STEP: Duration = Duration::from_secs(1);

/// Microseconds of an instant (never negative here).
pub fn us(t: Instant) -> u64 {
    u64::try_from(t.total_micros()).unwrap_or(0)
}

impl Lab {
    pub fn new(script: Script) -> Lab {
        let mut lab = Lab {
            run: Run::new(&script),
            script,
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
        &self.run.sim
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
        self.run.app(name).ok()
    }

    pub fn apps(&self) -> &BTreeMap<String, AppId> {
        &self.run.apps
    }

    /// Where the guided part ends, if the script has an end.
    pub fn end(&self) -> Option<Instant> {
        self.script.end()
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
            if when > self.run.sim.now() {
                self.run.sim.run_until(when);
            }
            let (action, at_us) = (timed.action.clone(), timed.at_us);
            if let Err(e) = self.run.apply(&action) {
                self.errors.push(ActionError {
                    at_us,
                    message: format!("{action}: {}", self.run.sim.describe(&e)),
                });
            }
            self.next_action += 1;
            self.topology_rev += 1;
        }
        if t > self.run.sim.now() || self.run.sim.next_event_at().is_some_and(|n| n <= t) {
            self.run.sim.run_until(t);
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
        self.run = Run::new(&self.script);
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
        let sim = &self.run.sim;
        let trace = sim.trace();
        for hop in &trace[self.rows.len()..] {
            let mut row = HopRow::new(&hop.layers());
            if row.net_vni.is_none() && row.kinds & kind::CONTROL == 0 {
                row.net_vni = [hop.from, hop.to]
                    .iter()
                    .find_map(|n| sim.host_addr(*n).ok())
                    .map(|(_, _, v)| v.get());
            }
            self.rows.push(row);
        }
    }

    /// Adds `action` to the script at the current view time and applies it now.
    pub fn act(&mut self, action: Action) -> Result<(), String> {
        let now = us(self.t);
        // Apply it directly (the simulator is at the view time), then record it after every
        // action already applied, so a replay does the same in the same order.
        if self.run.sim.now() < self.t {
            self.run.sim.run_until(self.t);
        }
        let result = self
            .run
            .apply(&action)
            .map_err(|e| format!("{action}: {}", self.run.sim.describe(&e)));
        if result.is_ok() {
            let i = self.script.insert(now, action);
            debug_assert!(i >= self.next_action);
            self.next_action = i + 1;
            self.topology_rev += 1;
            self.index_new_hops();
        }
        result
    }

    /// The frames on the links at the view time (a hop dropped on arrival is drawn by the
    /// caller, for as long as it wants: see [`Lab::drops_in`]).
    pub fn flights(&mut self) -> Vec<Flight> {
        let t = self.t;
        let trace = self.run.sim.trace();
        while self.lo < trace.len() && trace[self.lo].end < t {
            self.lo += 1;
        }
        trace[self.lo..]
            .iter()
            .filter(|hop| hop.start <= t && t < hop.end)
            .map(|hop| {
                let span = (hop.end - hop.start).total_micros().max(1) as f64;
                let progress = (t - hop.start).total_micros() as f64 / span;
                Flight {
                    hop: hop.id.0,
                    from: hop.from,
                    to: hop.to,
                    progress: progress.clamp(0.0, 1.0),
                    dropped: false,
                }
            })
            .collect()
    }

    /// The hops dropped at their end in `(after, until]` (both at or before the view time, and
    /// `after` no earlier than the view time of the last [`Lab::flights`]).
    pub fn drops_in(&self, after: Instant, until: Instant) -> Vec<u32> {
        let trace = self.run.sim.trace();
        trace[self.lo.min(trace.len())..]
            .iter()
            .filter(|h| after < h.end && h.end <= until && h.dropped().is_some())
            .map(|h| h.id.0)
            .collect()
    }

    /// Whether any hop is on a link at the view time.
    pub fn busy(&self) -> bool {
        let t = self.t;
        self.run.sim.trace()[self.lo.min(self.run.sim.trace().len())..]
            .iter()
            .any(|h| h.start <= t && t < h.end)
    }

    /// The next time something visible happens after the view time: a hop starts or ends, or
    /// the script acts. Runs the simulator forward (not the view) as needed, bounded.
    pub fn next_visible(&mut self, limit: Instant) -> Option<Instant> {
        let t = self.t;
        for _ in 0..10_000 {
            let mut best: Option<Instant> = None;
            let mut consider = |x: Instant| {
                if x > t && best.is_none_or(|b| x < b) {
                    best = Some(x);
                }
            };
            for hop in &self.run.sim.trace()[self.lo.min(self.run.sim.trace().len())..] {
                consider(hop.start);
                consider(hop.end);
            }
            if let Some(a) = self.script.actions.get(self.next_action) {
                consider(at(a.at_us));
            }
            if let Some(b) = best
                && (b <= self.run.sim.now() || self.run.sim.next_event_at().is_none_or(|n| n >= b))
            {
                return Some(b.min(limit));
            }
            // Nothing known yet: let the simulator process its next event (without moving the
            // view) and look again.
            let next = self.run.sim.next_event_at()?;
            if next > limit {
                return best.map(|b| b.min(limit)).or(Some(limit));
            }
            self.run.sim.run_until(next);
            self.index_new_hops();
        }
        None
    }

    /// Moves to the next visible event (a frame leaves or arrives, or an action happens); in a
    /// script without an end and nothing on the way, a second on.
    pub fn step_forward(&mut self) {
        let limit = self.end().unwrap_or(self.t + IDLE_STEP);
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
        for hop in self.run.sim.trace() {
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

    /// The sites' names, in the order they were added.
    pub fn site_names(&self) -> Vec<String> {
        let sim = &self.run.sim;
        let mut sites: Vec<vtep_sim::SiteId> = sim.nodes().iter().map(|n| n.site).collect();
        sites.sort_unstable();
        sites.dedup();
        sites
            .into_iter()
            .filter_map(|s| sim.site_name(s).ok().map(str::to_string))
            .collect()
    }

    /// The first hop after the view time (by the time it reaches its end, where its node
    /// decides) that `pred` picks, up to `limit`: the simulator runs ahead as needed. Hops are
    /// only judged once they have arrived, when their decisions are known. The view may move
    /// on to a script action on the way (the simulator never runs past one before the view):
    /// the caller seeks to what it found, or back.
    pub fn find_next(
        &mut self,
        limit: Instant,
        pred: impl Fn(&Hop, &HopRow) -> bool,
    ) -> Option<u32> {
        let t = self.t;
        let mut from = self.lo.min(self.rows.len());
        loop {
            let sim_now = self.run.sim.now();
            let trace = self.run.sim.trace();
            let best = trace[from..]
                .iter()
                .filter(|h| t < h.end && h.end <= sim_now && h.end <= limit)
                .filter(|h| pred(h, &self.rows[h.id.0 as usize]))
                .min_by_key(|h| (h.end, h.id))
                .map(|h| h.id.0);
            if best.is_some() {
                return best;
            }
            // Hops still in flight may yet qualify: look again from the first of them.
            from = trace[from..]
                .iter()
                .position(|h| h.end > sim_now)
                .map_or(trace.len(), |i| from + i);
            let action = self
                .script
                .actions
                .get(self.next_action)
                .map(|a| at(a.at_us));
            let next = match (self.run.sim.next_event_at(), action) {
                (Some(n), Some(a)) => n.min(a),
                (n, a) => n.or(a)?,
            };
            if next > limit {
                return None;
            }
            if action.is_some_and(|a| a <= next) {
                self.advance_to(next);
            } else {
                self.run.sim.run_until(next);
            }
            self.index_new_hops();
        }
    }

    /// Node id by name, if present.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.run.sim.node_id(name).ok()
    }

    /// The name of a node (or `#id` when it is gone).
    pub fn name(&self, id: NodeId) -> String {
        self.run
            .sim
            .node_info(id)
            .map(|n| n.name)
            .unwrap_or_else(|_| format!("#{}", id.0))
    }

    /// The hop with this index.
    pub fn hop(&self, id: u32) -> Option<&Hop> {
        self.run.sim.trace().get(id as usize)
    }

    /// Node kinds by id, for quick lookups.
    pub fn kind(&self, id: NodeId) -> Option<NodeKind> {
        self.run.sim.node_info(id).ok().map(|n| n.kind)
    }

    /// The pcap of every frame up to the view time.
    pub fn pcap(&self) -> Vec<u8> {
        vtep_sim::capture::pcap(&self.run.sim, &vtep_sim::capture::Capture::All)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_replay_like_the_scenarios() {
        for scenario in vtep_sim::scenario::all() {
            let started = std::time::Instant::now();
            let mut lab = Lab::new(scenario.script.clone());
            let end = lab.end().unwrap();
            lab.advance_to(end);
            let reference = scenario.run(vtep_sim::script::SEED).unwrap();
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
        let mut lab = Lab::new(vtep_sim::scenario::s1().script);
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
        lab.act(Action::ping("p", "red-1", [10, 0, 0, 4], 2, 10, 56))
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
