//! A BGP agent: the driver of one `vtep_evpn::Speaker` inside the simulation, as
//! native-vtep's `daemon/bgp.rs` is on Linux. The speaker's sessions run over real TCP: a
//! smoltcp interface on the node's underlay address (medium IP; the simulator adds and strips
//! the Ethernet header to the next hop), one socket per peer, and for a route reflector
//! listening sockets on port 179 that [`Speaker::accept`] hands to new peers.
//!
//! [`Agent::service`] does one round of work at one instant: the stack takes the packets that
//! arrived, sockets report connections, bytes and closes to the speaker, and the speaker's
//! outputs become connects, writes (whole messages, as many as the socket takes; Nagle off,
//! so they leave at once), closes, FDB actions and events for the simulator, which applies
//! the actions to the hypervisor's `Vtep` and hands its events back ([`Agent::vtep_event`]).
//! The agent also remembers which received segment completed each UPDATE, so the playground
//! can link a route to the hop that carried it.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Medium;
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use vtep_core::Instant;
use vtep_core::vtep;
use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::{self, MpReach, MpUnreach, RouteKey, UpdatePacket, UpdateRepr};
use vtep_evpn::{
    Event, FdbAction, Input, Output, PeerConfig, PeerId, Speaker, SpeakerConfig, VniConfig,
};

use crate::host::Nic;
use crate::id::HopId;

/// Bytes of each socket's receive and send buffer.
const SOCKET_BUFFER: usize = 32 * 1024;
/// The first local port of outgoing connections.
const FIRST_PORT: u16 = 49152;
/// Rounds of `service` before it gives up for this instant (a safety net, never reached).
const MAX_ROUNDS: usize = 10_000;

/// One peer's TCP connection.
#[derive(Clone, Copy, Debug)]
struct Conn {
    handle: SocketHandle,
    /// `Input::Connected` was given.
    reported: bool,
}

/// What one round of [`Agent::service`] produced for the simulator.
#[derive(Debug, Default)]
pub struct Serviced {
    /// IP packets to put on the uplink.
    pub packets: Vec<Vec<u8>>,
    pub actions: Vec<FdbAction>,
    pub events: Vec<Event>,
}

/// A speaker and its TCP/IP stack. See the module documentation.
pub struct Agent {
    pub speaker: Speaker,
    ip: Ipv4Address,
    iface: Interface,
    sockets: SocketSet<'static>,
    device: Nic<Vec<u8>>,
    conns: BTreeMap<PeerId, Conn>,
    /// Sockets closing after the speaker's `Close`: they finish their FIN exchange.
    closing: Vec<SocketHandle>,
    /// A reflector's sockets listening on port 179.
    listeners: Vec<SocketHandle>,
    next_port: u16,
    /// The speaker's next deadline.
    deadline: Option<Instant>,
    /// Bytes of a received message not complete yet, per peer (to see UPDATE boundaries).
    partial: BTreeMap<PeerId, Vec<u8>>,
    /// The hop that completed the last UPDATE announcing each route, by (peer address, key).
    carried: BTreeMap<(Ipv4Address, RouteKey), HopId>,
    /// Each peer's address, kept after a dynamic peer is gone (for its last events).
    addresses: BTreeMap<PeerId, Ipv4Address>,
    /// When the simulator is asked to wake the agent.
    pub wake_at: Option<Instant>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("ip", &self.ip)
            .field("peers", &self.conns.len())
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
        tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]),
    );
    // BGP speakers set TCP_NODELAY (native-vtep does): a message goes out when written.
    s.set_nagle_enabled(false);
    s
}

impl Agent {
    /// An agent on the underlay address `ip` (IP MTU `mtu`) for a speaker with `config`.
    pub fn new(
        config: SpeakerConfig,
        ip: Ipv4Address,
        mtu: usize,
        seed: u64,
        now: Instant,
    ) -> Agent {
        // The underlay interface: IP packets in and out.
        let mut device = Nic::new(Medium::Ip, mtu);
        let mut iface_config = Config::new(HardwareAddress::Ip);
        iface_config.random_seed = seed;
        let mut iface = Interface::new(iface_config, &mut device, now);
        iface.update_ip_addrs(|addrs| {
            // The whole underlay is 10.0.0.0/8: every speaker's address is reached through the
            // uplink, which is all a medium-IP interface needs to know.
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ip), 8));
        });
        let mut agent = Agent {
            speaker: Speaker::new(config, now),
            ip,
            iface,
            sockets: SocketSet::new(Vec::new()),
            device,
            conns: BTreeMap::new(),
            closing: Vec::new(),
            listeners: Vec::new(),
            // Ephemeral ports start at a random place, as an OS's do: a restarted speaker
            // does not reuse the 4-tuple of a connection its peer may still hold.
            next_port: FIRST_PORT + (seed % 16_384) as u16,
            deadline: Some(now),
            partial: BTreeMap::new(),
            carried: BTreeMap::new(),
            addresses: BTreeMap::new(),
            wake_at: None,
        };
        if config.listen_range.is_some() {
            agent.listen();
        }
        agent
    }

    pub fn ip(&self) -> Ipv4Address {
        self.ip
    }

    /// Gives `peer` the connection `conn`; the one it replaces, if any, is aborted.
    fn set_conn(&mut self, peer: PeerId, conn: Conn) {
        if let Some(old) = self.conns.insert(peer, conn) {
            self.sockets.get_mut::<tcp::Socket<'_>>(old.handle).abort();
            self.closing.push(old.handle);
        }
    }

    /// A reflector keeps one socket listening for the next client.
    fn listen(&mut self) {
        let mut s = tcp_socket();
        if s.listen(bgp::PORT).is_ok() {
            self.listeners.push(self.sockets.add(s));
        }
    }

    /// Adds a peer to connect to (a hypervisor's reflector).
    pub fn add_peer(&mut self, address: Ipv4Address) {
        let asn = self.speaker.config().asn;
        if let Ok(id) = self.speaker.add_peer(PeerConfig::active(address, asn)) {
            self.addresses.insert(id, address);
        }
    }

    /// The address of a peer (also of a dynamic one that is gone).
    pub fn address_of(&self, peer: PeerId) -> Ipv4Address {
        self.addresses
            .get(&peer)
            .copied()
            .unwrap_or(Ipv4Address::UNSPECIFIED)
    }

    /// Adds a local VNI (its type-3 route is advertised).
    pub fn add_vni(&mut self, vni: vtep_core::Vni) {
        let _ = self.speaker.add_vni(vni, VniConfig::default());
    }

    /// An IP packet from the uplink for this node.
    pub fn receive(&mut self, packet: &[u8]) {
        self.device.rx.push_back(packet.to_vec());
    }

    /// An event of the hypervisor's engine.
    pub fn vtep_event(&mut self, now: Instant, event: vtep::Event) {
        self.speaker.handle_input(now, Input::Vtep(event));
    }

    /// The hop that completed the last UPDATE from `peer` announcing `key`.
    pub fn carried_by(&self, peer: Ipv4Address, key: &RouteKey) -> Option<HopId> {
        self.carried.get(&(peer, *key)).copied()
    }

    /// When the agent must run next: the speaker's deadline or the stack's.
    pub fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        let stack = self.iface.poll_at(now, &self.sockets);
        match (self.deadline, stack) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the stack and the speaker at `now` until neither has anything left to do;
    /// `hop` is the segment that arrived (for the route-to-UPDATE links).
    pub fn service(&mut self, now: Instant, hop: Option<HopId>, out: &mut Serviced) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.speaker.handle_input(now, Input::Timeout);
        }
        for _ in 0..MAX_ROUNDS {
            let _ = self.iface.poll(now, &mut self.device, &mut self.sockets);
            let mut progress = self.accept(now);
            progress |= self.read(now, hop);
            progress |= self.outputs(now, out);
            progress |= self.write();
            if !progress && self.device.rx.is_empty() {
                break;
            }
        }
        self.reap();
        out.packets.append(&mut self.device.tx);
    }

    /// A reflector's listening sockets that a client connected to become peers; one socket
    /// always waits in Listen for the next client (each SYN arrives in its own event, so one
    /// is a backlog as deep as needed).
    fn accept(&mut self, now: Instant) -> bool {
        let mut progress = false;
        let mut i = 0;
        while i < self.listeners.len() {
            let handle = self.listeners[i];
            let s = self.sockets.get_mut::<tcp::Socket<'_>>(handle);
            match s.state() {
                tcp::State::Established => {}
                // A handshake that failed: the socket goes.
                tcp::State::Closed | tcp::State::TimeWait => {
                    self.listeners.swap_remove(i);
                    self.sockets.remove(handle);
                    continue;
                }
                _ => {
                    i += 1;
                    continue;
                }
            }
            progress = true;
            self.listeners.swap_remove(i);
            let remote = s.remote_endpoint();
            let address = match remote.map(|e| e.addr) {
                Some(IpAddress::Ipv4(a)) => Some(a),
                _ => None,
            };
            match address.and_then(|a| Some((a, self.speaker.accept(a)?))) {
                Some((address, peer)) => {
                    self.addresses.insert(peer, address);
                    // A client reconnecting replaces its old connection.
                    self.set_conn(
                        peer,
                        Conn {
                            handle,
                            reported: true,
                        },
                    );
                    self.partial.remove(&peer);
                    self.speaker.handle_input(now, Input::Connected(peer));
                }
                None => {
                    s.abort();
                    self.closing.push(handle);
                }
            }
        }
        let listening = self
            .listeners
            .iter()
            .any(|h| self.sockets.get::<tcp::Socket<'_>>(*h).state() == tcp::State::Listen);
        if self.speaker.config().listen_range.is_some() && !listening {
            self.listen();
        }
        progress
    }

    /// Connections that came up, bytes that arrived, connections that ended.
    fn read(&mut self, now: Instant, hop: Option<HopId>) -> bool {
        let mut progress = false;
        let peers: Vec<(PeerId, Conn)> = self.conns.iter().map(|(p, c)| (*p, *c)).collect();
        let mut buf = [0u8; 4096];
        for (peer, conn) in peers {
            let s = self.sockets.get_mut::<tcp::Socket<'_>>(conn.handle);
            if !conn.reported && s.state() == tcp::State::Established {
                if let Some(c) = self.conns.get_mut(&peer) {
                    c.reported = true;
                }
                self.partial.remove(&peer);
                self.speaker.handle_input(now, Input::Connected(peer));
                progress = true;
            }
            loop {
                let s = self.sockets.get_mut::<tcp::Socket<'_>>(conn.handle);
                if !s.can_recv() {
                    break;
                }
                let Ok(n) = s.recv_slice(&mut buf) else { break };
                if n == 0 {
                    break;
                }
                progress = true;
                let address = self.address_of(peer);
                if let Some(hop) = hop {
                    note_updates(
                        self.partial.entry(peer).or_default(),
                        &mut self.carried,
                        address,
                        &buf[..n],
                        hop,
                    );
                }
                self.speaker.handle_input(now, Input::Data(peer, &buf[..n]));
            }
            let s = self.sockets.get_mut::<tcp::Socket<'_>>(conn.handle);
            let ended = match s.state() {
                // Reset, refused, timed out, or the peer closed its side (after all data).
                tcp::State::Closed | tcp::State::TimeWait => true,
                tcp::State::CloseWait | tcp::State::LastAck | tcp::State::Closing => !s.can_recv(),
                _ => false,
            };
            if ended {
                progress = true;
                s.close();
                self.closing.push(conn.handle);
                self.conns.remove(&peer);
                self.partial.remove(&peer);
                self.speaker.handle_input(now, Input::Closed(peer));
            }
        }
        progress
    }

    /// The speaker's outputs, until it waits for time.
    fn outputs(&mut self, now: Instant, out: &mut Serviced) -> bool {
        let mut progress = false;
        loop {
            match self.speaker.poll_output() {
                Output::Connect { peer, address } => {
                    progress = true;
                    let mut s = tcp_socket();
                    let local = self.next_port;
                    self.next_port = self.next_port.checked_add(1).unwrap_or(FIRST_PORT);
                    let remote = IpEndpoint::new(IpAddress::Ipv4(address), bgp::PORT);
                    if s.connect(self.iface.context(), remote, local).is_err() {
                        self.speaker.handle_input(now, Input::Closed(peer));
                        continue;
                    }
                    let handle = self.sockets.add(s);
                    self.set_conn(
                        peer,
                        Conn {
                            handle,
                            reported: false,
                        },
                    );
                }
                // Written below, a message at a time.
                Output::Transmit(_) => progress = true,
                Output::Close(peer) => {
                    progress = true;
                    if let Some(conn) = self.conns.remove(&peer) {
                        self.flush(peer, conn.handle);
                        let s = self.sockets.get_mut::<tcp::Socket<'_>>(conn.handle);
                        if s.state() == tcp::State::SynSent {
                            s.abort();
                        } else {
                            s.close();
                        }
                        self.closing.push(conn.handle);
                    }
                    self.partial.remove(&peer);
                    // A dynamic peer's NOTIFICATION may wait in the buffer of a removed peer.
                    let _ = self.speaker.take_transmit(peer);
                }
                Output::Fdb(action) => {
                    progress = true;
                    out.actions.push(action);
                }
                Output::Event(event) => {
                    progress = true;
                    out.events.push(event);
                }
                Output::Timeout(at) => {
                    self.deadline = at;
                    return progress;
                }
            }
        }
    }

    /// Writes what the speaker has for every connected peer.
    fn write(&mut self) -> bool {
        let peers: Vec<(PeerId, Conn)> = self.conns.iter().map(|(p, c)| (*p, *c)).collect();
        let mut progress = false;
        for (peer, conn) in peers {
            if conn.reported {
                progress |= self.flush(peer, conn.handle);
            }
        }
        progress
    }

    /// Writes the whole messages the socket has room for; TCP sends them as it can (several
    /// to a segment when they wait together, as a kernel's stack does).
    fn flush(&mut self, peer: PeerId, handle: SocketHandle) -> bool {
        let pending = self.speaker.transmit_buffer(peer);
        let s = self.sockets.get_mut::<tcp::Socket<'_>>(handle);
        if pending.is_empty() || !s.may_send() {
            return false;
        }
        let room = s.send_capacity() - s.send_queue();
        // As many whole messages as fit.
        let mut len = 0;
        while let Ok(Some(n)) = bgp::frame_len(&pending[len..]) {
            if len + n > room || len + n > pending.len() {
                break;
            }
            len += n;
        }
        if len == 0 {
            return false;
        }
        let Ok(n) = s.send_slice(&pending[..len]) else {
            return false;
        };
        self.speaker.transmitted(peer, n);
        n > 0
    }

    /// Removes the sockets whose closing finished.
    fn reap(&mut self) {
        let sockets = &mut self.sockets;
        self.closing.retain(|h| {
            let done = matches!(
                sockets.get::<tcp::Socket<'_>>(*h).state(),
                tcp::State::Closed | tcp::State::TimeWait
            );
            if done {
                sockets.remove(*h);
            }
            !done
        });
    }
}

/// Follows the message boundaries of a peer's stream and records, for each route announced by
/// an UPDATE that completes in `bytes`, the hop that carried those bytes.
fn note_updates(
    partial: &mut Vec<u8>,
    carried: &mut BTreeMap<(Ipv4Address, RouteKey), HopId>,
    peer: Ipv4Address,
    mut bytes: &[u8],
    hop: HopId,
) {
    while !bytes.is_empty() {
        let need = match bgp::frame_len(partial) {
            Ok(Some(len)) => len,
            Ok(None) => bgp::HEADER_LEN,
            Err(_) => {
                partial.clear();
                return;
            }
        };
        let take = need.saturating_sub(partial.len()).min(bytes.len());
        partial.extend_from_slice(&bytes[..take]);
        bytes = &bytes[take..];
        if !matches!(bgp::frame_len(partial), Ok(Some(len)) if partial.len() >= len) {
            continue;
        }
        if let Ok(packet) = UpdatePacket::new_checked(&partial[..])
            && let Ok((repr, _)) = UpdateRepr::parse(&packet, true)
        {
            if let Some(MpReach::Evpn { routes, .. }) = repr.mp_reach {
                for key in routes.iter().filter_map(|r| r.key()) {
                    carried.insert((peer, key), hop);
                }
            }
            if let Some(MpUnreach::Evpn { routes }) = repr.mp_unreach {
                for key in routes.iter().filter_map(|r| r.key()) {
                    carried.remove(&(peer, key));
                }
            }
        }
        partial.clear();
    }
}

/// A speaker's configuration for a hypervisor at `ip`.
pub fn vtep_config(ip: Ipv4Address, seed: u64) -> SpeakerConfig {
    let mut config = SpeakerConfig::new(crate::bgp::ASN, ip);
    timers(&mut config);
    config.hash_seed = seed;
    config
}

/// A route reflector at `ip` accepting clients from the whole underlay.
pub fn reflector_config(ip: Ipv4Address, seed: u64) -> SpeakerConfig {
    let mut config =
        SpeakerConfig::reflector(crate::bgp::ASN, ip, (Ipv4Address::new(10, 0, 0, 0), 8));
    timers(&mut config);
    config.hash_seed = seed;
    config
}

fn timers(config: &mut SpeakerConfig) {
    config.hold_time = crate::bgp::HOLD_TIME;
    config.connect_retry = crate::bgp::CONNECT_RETRY;
    config.max_connect_retry = crate::bgp::MAX_CONNECT_RETRY;
}
