//! The BGP EVPN control plane on the main thread: a `vtep_evpn::Speaker`, its TCP sessions
//! (non-blocking sockets in the same `poll` as the data plane), the engine's events it turns
//! into routes, and the FDB actions it asks of the engine, applied under one lock per batch.
//!
//! Per wake-up ([`Bgp::service`]): finish connections under way, read what the peers sent
//! (bounded, so the data plane keeps its turn), take the engine's queued events, give the
//! speaker its timeout when due, then carry out its outputs: connect, write, close, apply to
//! the engine. Writing stops when a socket is full; the speaker encodes more UPDATEs only as
//! its send buffer drains, so a slow peer holds memory bounded by the speaker's high-water
//! mark, not by the table.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration as WallDuration;

use vtep_core::Destination;
use vtep_core::vtep::{Event as VtepEvent, Output as VtepOutput};
use vtep_core::{Duration, Instant};
use vtep_evpn::{
    Event, FdbAction, Input, Output, PeerConfig, PeerId, Speaker, SpeakerConfig, VniConfig,
};

use super::worker::{Shared, lock};
use super::{Fatal, MonotonicClock};
use crate::config::{ColonMac, NetworkSettings, Settings};
use crate::sys;

/// The BGP port.
const BGP_PORT: u16 = 179;
/// Bytes read from one peer per wake-up at most (then the data plane's turn).
const READ_BUDGET: usize = 1 << 20;
/// How long a closing session may block to hand its NOTIFICATION to the kernel.
const CLOSE_WRITE_TIMEOUT: WallDuration = WallDuration::from_millis(200);

/// One peer's TCP connection.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// `connect` is under way: writability says it finished.
    connecting: bool,
}

/// The speaker and its connections.
#[derive(Debug)]
pub(super) struct Bgp {
    pub(super) speaker: Speaker,
    local: Ipv4Addr,
    conns: BTreeMap<PeerId, Conn>,
    /// The peers whose sockets the last [`Bgp::poll_fds`] listed, in order.
    polled: Vec<PeerId>,
    next_timeout: Option<Instant>,
    clock: MonotonicClock,
    buf: Vec<u8>,
    /// The main thread's end of the engine queue's wake-up pipe.
    wake: UnixStream,
    /// FDB actions the engine refused (table full, ...), counted for `bgp summary`.
    pub(super) refused: u64,
    /// The last error logged per peer, so a peer that stays unreachable is logged once.
    last_logged: BTreeMap<PeerId, String>,
}

impl Bgp {
    /// The speaker for `settings.evpn` with every EVPN network's VNI and every peer; `wake`
    /// is the end of the engine queue's pipe to poll.
    pub(super) fn new(
        settings: &Settings,
        clock: MonotonicClock,
        seed: u64,
        wake: UnixStream,
    ) -> Result<Option<Bgp>, Fatal> {
        let Some(evpn) = &settings.evpn else {
            return Ok(None);
        };
        let now = clock.now();
        let mut config = SpeakerConfig::new(evpn.asn, evpn.vtep);
        config.router_id = evpn.router_id;
        config.hold_time = evpn.hold_time;
        config.connect_retry = Duration::from_secs(evpn.connect_retry_secs);
        config.max_connect_retry = Duration::from_secs(evpn.max_connect_retry_secs);
        // A peer may hold as many routes as the FDB may hold entries: a peer that floods
        // routes is bounded like learning is (`--max-address`).
        config.max_routes_per_peer = settings.max_address;
        config.hash_seed = seed;
        let mut speaker = Speaker::new(config, now);
        for n in settings.networks.iter().filter(|n| n.evpn) {
            speaker
                .add_vni(
                    n.vni,
                    VniConfig {
                        route_target: n.route_target,
                    },
                )
                .map_err(|e| format!("{}: {e}", n.origin))?;
            log_network(n);
        }
        for peer in &evpn.peers {
            speaker
                .add_peer(PeerConfig::active(*peer, evpn.asn))
                .map_err(|e| format!("EVPN peer {peer}: {e}"))?;
        }
        wake.set_nonblocking(true)
            .map_err(|e| format!("wake-up pipe: {e}"))?;
        tracing::info!(
            "EVPN: AS {}, router ID {}, VTEP {}, hold time {} s, peers {}",
            evpn.asn,
            evpn.router_id,
            evpn.vtep,
            evpn.hold_time,
            evpn.peers
                .iter()
                .map(Ipv4Addr::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Some(Bgp {
            speaker,
            local: evpn.vtep,
            conns: BTreeMap::new(),
            polled: Vec::new(),
            next_timeout: Some(now),
            clock,
            buf: vec![0; 64 * 1024],
            wake,
            refused: 0,
            last_logged: BTreeMap::new(),
        }))
    }

    /// Appends the descriptors to poll: the wake-up pipe, then each connection (writable while
    /// connecting or while bytes wait, readable once connected).
    pub(super) fn poll_fds(&mut self, fds: &mut Vec<sys::PollFd>) {
        fds.push(sys::poll_in(self.wake.as_raw_fd()));
        self.polled.clear();
        for (id, conn) in &self.conns {
            let fd = conn.stream.as_raw_fd();
            let mut p = sys::poll_in(fd);
            if conn.connecting {
                p = sys::poll_out(fd);
            } else if !self.speaker.transmit_buffer(*id).is_empty() {
                p.events |= sys::poll_out(fd).events;
            }
            fds.push(p);
            self.polled.push(*id);
        }
    }

    /// Milliseconds until the speaker's next deadline (at most `cap`).
    pub(super) fn timeout_ms(&self, cap: i32) -> i32 {
        let Some(at) = self.next_timeout else {
            return cap;
        };
        let now = self.clock.now();
        if at <= now {
            0
        } else {
            ((at - now).total_millis() + 1).min(cap as u64) as i32
        }
    }

    /// Serves the sockets ready among `fds` (laid out by [`Bgp::poll_fds`]), the engine's
    /// queued events and the speaker's timers, then carries out the speaker's outputs.
    pub(super) fn service(&mut self, fds: &[sys::PollFd], shared: &Shared) {
        if fds.first().is_some_and(sys::is_ready) {
            let mut sink = [0u8; 64];
            while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        }
        let polled = std::mem::take(&mut self.polled);
        for (fd, id) in fds.iter().skip(1).zip(&polled) {
            if sys::is_ready(fd) {
                self.socket_ready(*id);
            }
        }
        self.polled = polled;
        self.take_engine_events(shared);
        let now = self.clock.now();
        if self.next_timeout.is_some_and(|at| at <= now) {
            self.speaker.handle_input(now, Input::Timeout);
        }
        self.carry_out(shared);
    }

    fn socket_ready(&mut self, id: PeerId) {
        let now = self.clock.now();
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if conn.connecting {
            // Writable: the connection is made, or failed (SO_ERROR says which).
            match conn.stream.take_error() {
                Ok(None) if conn.stream.peer_addr().is_ok() => {
                    conn.connecting = false;
                    let _ = conn.stream.set_nodelay(true);
                    self.speaker.handle_input(now, Input::Connected(id));
                }
                outcome => {
                    let why = match outcome {
                        Ok(Some(e)) | Err(e) => e.to_string(),
                        Ok(None) => "not connected".into(),
                    };
                    tracing::debug!("BGP connection to {id}: {why}");
                    self.conns.remove(&id);
                    self.speaker.handle_input(now, Input::Closed(id));
                }
            }
            return;
        }
        let mut budget = READ_BUDGET;
        while budget > 0 {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            match conn.stream.read(&mut self.buf) {
                Ok(0) => return self.closed(id, None),
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    let now = self.clock.now();
                    self.speaker
                        .handle_input(now, Input::Data(id, &self.buf[..n]));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.closed(id, Some(e)),
            }
        }
        self.flush(id);
    }

    /// The connection ended under us: the speaker hears of it.
    fn closed(&mut self, id: PeerId, error: Option<io::Error>) {
        if let Some(e) = error {
            tracing::debug!("BGP connection of {id}: {e}");
        }
        self.conns.remove(&id);
        let now = self.clock.now();
        self.speaker.handle_input(now, Input::Closed(id));
    }

    /// Writes what the speaker has for `id`, as far as the socket takes it.
    fn flush(&mut self, id: PeerId) {
        loop {
            let Some(conn) = self.conns.get_mut(&id) else {
                return;
            };
            if conn.connecting {
                return;
            }
            let pending = self.speaker.transmit_buffer(id);
            if pending.is_empty() {
                return;
            }
            match conn.stream.write(pending) {
                Ok(n) => self.speaker.transmitted(id, n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.closed(id, Some(e)),
            }
        }
    }

    /// Hands the engine's queued events to the speaker.
    fn take_engine_events(&mut self, shared: &Shared) {
        let events: Vec<VtepEvent> = match &mut lock(shared).evpn {
            Some(queue) => queue.events.drain(..).collect(),
            None => return,
        };
        let now = self.clock.now();
        for event in events {
            self.speaker.handle_input(now, Input::Vtep(event));
        }
    }

    /// Carries out the speaker's outputs until it waits for time; FDB actions are applied in
    /// batches under one lock, and the events they cause go back to the speaker.
    fn carry_out(&mut self, shared: &Shared) {
        let mut actions = Vec::new();
        loop {
            match self.speaker.poll_output() {
                Output::Connect { peer, address } => self.connect(peer, address),
                Output::Transmit(peer) => self.flush(peer),
                Output::Close(peer) => self.close(peer),
                Output::Fdb(action) => actions.push(action),
                Output::Event(event) => self.log(&event),
                Output::Timeout(at) => {
                    self.next_timeout = at;
                    if actions.is_empty() {
                        return;
                    }
                    let events = self.apply(shared, &actions);
                    actions.clear();
                    let now = self.clock.now();
                    for event in events {
                        self.speaker.handle_input(now, Input::Vtep(event));
                    }
                }
            }
        }
    }

    /// Applies FDB actions to the engine under one lock; returns the events they caused that
    /// concern the speaker (a local MAC taken over by a newer remote route, say).
    fn apply(&mut self, shared: &Shared, actions: &[FdbAction]) -> Vec<VtepEvent> {
        let mut engine = lock(shared);
        let now = self.clock.now();
        let mut back = Vec::new();
        let mut refused = None;
        let mut refusals = 0u64;
        for action in actions {
            tracing::debug!("EVPN: {}", Shown(action));
            if let Err(e) = action.apply(&mut engine.vtep, now) {
                refusals += 1;
                refused.get_or_insert_with(|| format!("{}: {e}", Shown(action)));
            }
            // Drain the engine's events now: its queue is short, and the speaker needs the
            // ones about local MACs.
            loop {
                match engine.vtep.poll_output() {
                    VtepOutput::Event(event) => {
                        if let VtepEvent::Moved {
                            vni,
                            mac,
                            from: Destination::Local(_),
                            to,
                            seq,
                        } = event
                        {
                            tracing::info!(
                                vni = vni.get(),
                                "moved {} from this VTEP to {} by a newer route (seq {seq})",
                                ColonMac(mac),
                                match to {
                                    Destination::Remote(ip) => ip.to_string(),
                                    Destination::Local(port) => port.to_string(),
                                }
                            );
                            back.push(event);
                        }
                    }
                    VtepOutput::Timeout(at) => {
                        engine.set_next_timeout(at);
                        break;
                    }
                    // No input is under way between two feeds: nothing to send or deliver.
                    VtepOutput::Transmit(_) | VtepOutput::Deliver(_) => {}
                }
            }
        }
        if let Some(first) = refused {
            // Once per batch: a peer flooding routes into a full table is one event.
            self.refused += refusals;
            tracing::warn!(
                "EVPN: the engine refused {refusals} route(s) (first: {first}); raise \
                 --max-address if the fabric is that large"
            );
        }
        back
    }

    fn connect(&mut self, peer: PeerId, address: Ipv4Addr) {
        let to = SocketAddr::new(IpAddr::V4(address), BGP_PORT);
        tracing::debug!("BGP: connecting to {to}");
        self.conns.remove(&peer);
        match sys::tcp_connect(IpAddr::V4(self.local), to) {
            Ok(stream) => {
                self.conns.insert(
                    peer,
                    Conn {
                        stream,
                        connecting: true,
                    },
                );
            }
            Err(e) => {
                tracing::debug!("BGP connect to {to}: {e}");
                let now = self.clock.now();
                self.speaker.handle_input(now, Input::Closed(peer));
            }
        }
    }

    /// Writes what is left (a NOTIFICATION), waiting briefly, then closes.
    fn close(&mut self, peer: PeerId) {
        let Some(conn) = self.conns.remove(&peer) else {
            return;
        };
        let pending = self.speaker.transmit_buffer(peer).to_vec();
        if !conn.connecting && !pending.is_empty() {
            let mut stream = conn.stream;
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(CLOSE_WRITE_TIMEOUT));
            if stream.write_all(&pending).is_ok() {
                self.speaker.transmitted(peer, pending.len());
            }
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn log(&mut self, event: &Event) {
        match event {
            Event::SessionEstablished { peer } => {
                self.last_logged.remove(peer);
                let status = self.speaker.peer_status(*peer);
                let (address, hold) = status.map_or((None, None), |s| {
                    (Some(s.address), s.negotiated.map(|n| n.hold_time))
                });
                tracing::info!(
                    "BGP session with {} established (hold time {} s)",
                    address.map_or_else(|| peer.to_string(), |a| a.to_string()),
                    hold.unwrap_or(0)
                );
            }
            Event::SessionDown { peer, error } => {
                let address = self
                    .speaker
                    .peer_status(*peer)
                    .map_or_else(|| peer.to_string(), |s| s.address.to_string());
                let text = error.to_string();
                if self.last_logged.get(peer) == Some(&text) {
                    tracing::debug!("BGP session with {address} down: {text}");
                } else {
                    tracing::warn!("BGP session with {address} down: {text}");
                    self.last_logged.insert(*peer, text);
                }
            }
            Event::UpdateErrors {
                peer,
                action,
                first,
            } => {
                let address = self
                    .speaker
                    .peer_status(*peer)
                    .map_or_else(|| peer.to_string(), |s| s.address.to_string());
                tracing::warn!(
                    "malformed UPDATE from {address}: {first} ({action:?}); the session stays up \
                     (RFC 7606)"
                );
            }
        }
    }

    /// Stops every session with a NOTIFICATION (cease, administrative shutdown), so the peers
    /// withdraw this VTEP's routes at once rather than after the hold time.
    pub(super) fn shutdown(mut self) {
        let ids: Vec<PeerId> = self.speaker.peers().iter().map(|p| p.id).collect();
        for id in ids {
            let _ = self.speaker.stop_peer(id);
        }
        loop {
            match self.speaker.poll_output() {
                Output::Transmit(peer) => {
                    if let Some(conn) = self.conns.get_mut(&peer) {
                        let _ = conn.stream.set_nonblocking(false);
                        let _ = conn.stream.set_write_timeout(Some(CLOSE_WRITE_TIMEOUT));
                    }
                    self.flush(peer);
                }
                Output::Close(peer) => self.close(peer),
                Output::Timeout(_) => break,
                // The engine goes away with the daemon: its routes need no withdrawing.
                Output::Connect { .. } | Output::Fdb(_) | Output::Event(_) => {}
            }
        }
        tracing::info!("EVPN: sessions closed, routes withdrawn from the peers");
    }
}

fn log_network(n: &NetworkSettings) {
    tracing::info!(
        "VNI {} under EVPN: route target {}, remote MACs and flood list from routes",
        n.vni,
        n.route_target
            .map_or_else(|| "automatic (AS:VNI)".into(), |rt| rt.to_string())
    );
}

/// An FDB action in words, for the log.
struct Shown<'a>(&'a FdbAction);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self.0 {
            FdbAction::InstallMac {
                vni,
                mac,
                vtep,
                seq,
                ..
            } => write!(f, "vni {vni}: {} dst {vtep} seq {seq}", ColonMac(mac)),
            FdbAction::InstallIp { vni, mac, ip, .. } => {
                write!(f, "vni {vni}: neighbour {ip} lladdr {}", ColonMac(mac))
            }
            FdbAction::WithdrawMac { vni, mac } => {
                write!(f, "vni {vni}: {} withdrawn", ColonMac(mac))
            }
            FdbAction::WithdrawIp { vni, ip } => write!(f, "vni {vni}: neighbour {ip} withdrawn"),
            FdbAction::AddFloodPeer { vni, vtep } => write!(f, "vni {vni}: flood to {vtep}"),
            FdbAction::RemoveFloodPeer { vni, vtep } => {
                write!(f, "vni {vni}: flood to {vtep} removed")
            }
        }
    }
}
