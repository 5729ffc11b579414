//! The speaker: inputs, outputs, peers and their sessions.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::ToString;
use alloc::vec::Vec;

use hashbrown::HashMap;
use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::open::OpenPacket;
use vtep_core::wire::bgp::{
    self, Capabilities, ErrorCode, Family, Message, MessageType, NotificationRepr, OpenRepr,
    RouteDistinguisher, RouteRefreshRepr, RouteTarget,
};
use vtep_core::{Duration, Instant, Vni};

use crate::PeerId;
use crate::config::{PeerConfig, SpeakerConfig, VniConfig};
use crate::error::SessionError;
pub use crate::io::{ConfigError, Event, FdbAction, Input, Output};
use crate::rib::Rib;
use crate::routes::{FloodKey, LocalMac};
use crate::session::{Negotiated, OPEN_HOLD, Peer, State};

/// A local VNI.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalVni {
    pub rd: RouteDistinguisher,
    pub rt: RouteTarget,
    pub auto_rt: bool,
}

/// The speaker.
#[derive(Debug)]
pub struct Speaker {
    pub(crate) config: SpeakerConfig,
    pub(crate) now: Instant,
    pub(crate) peers: Vec<Option<Peer>>,
    pub(crate) vnis: BTreeMap<Vni, LocalVni>,
    pub(crate) rd_to_vni: BTreeMap<RouteDistinguisher, Vni>,
    next_rd_index: u16,
    pub(crate) local: HashMap<(Vni, [u8; 6]), LocalMac, foldhash::fast::FixedState>,
    pub(crate) rib: Rib,
    pub(crate) flood: HashMap<FloodKey, u32, foldhash::fast::FixedState>,
    pub(crate) outputs: VecDeque<Output>,
}

impl Speaker {
    pub fn new(config: SpeakerConfig, now: Instant) -> Speaker {
        let state = foldhash::fast::FixedState::with_seed(config.hash_seed);
        Speaker {
            config,
            now,
            peers: Vec::new(),
            vnis: BTreeMap::new(),
            rd_to_vni: BTreeMap::new(),
            next_rd_index: 1,
            local: HashMap::with_hasher(state.clone()),
            rib: Rib::new(config.hash_seed),
            flood: HashMap::with_hasher(state),
            outputs: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &SpeakerConfig {
        &self.config
    }

    pub(crate) fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(usize::from(id.0)).and_then(Option::as_ref)
    }

    pub(crate) fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers
            .get_mut(usize::from(id.0))
            .and_then(Option::as_mut)
    }

    pub(crate) fn peer_ids(&self) -> impl Iterator<Item = PeerId> + '_ {
        self.peers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .map(|(i, _)| PeerId(i as u16))
    }

    /// The peer with this address.
    pub fn peer_by_address(&self, address: Ipv4Address) -> Option<PeerId> {
        self.peer_ids()
            .find(|id| self.peer(*id).is_some_and(|p| p.address() == address))
    }

    /// Adds a peer; an active one is connected to at once.
    pub fn add_peer(&mut self, config: PeerConfig) -> Result<PeerId, ConfigError> {
        self.insert_peer(config, false)
    }

    fn insert_peer(&mut self, config: PeerConfig, dynamic: bool) -> Result<PeerId, ConfigError> {
        if config.remote_as != self.config.asn {
            return Err(ConfigError::NotIbgp {
                asn: self.config.asn,
                peer_as: config.remote_as,
            });
        }
        if self.peer_by_address(config.address).is_some() {
            return Err(ConfigError::DuplicatePeer(config.address));
        }
        let mut peer = Peer::new(config, dynamic);
        if !config.passive {
            peer.connect_at = Some(self.now);
        }
        let slot = self.peers.iter().position(Option::is_none);
        let index = match slot {
            Some(i) => i,
            None if self.peers.len() < usize::from(u16::MAX) => {
                self.peers.push(None);
                self.peers.len() - 1
            }
            None => return Err(ConfigError::TooManyPeers),
        };
        self.peers[index] = Some(peer);
        Ok(PeerId(index as u16))
    }

    /// Removes a peer: NOTIFICATION cease / peer de-configured if connected; its routes go.
    pub fn remove_peer(&mut self, id: PeerId) -> Result<(), ConfigError> {
        if self.peer(id).is_none() {
            return Err(ConfigError::UnknownPeer(id));
        }
        self.stop_with(id, 3);
        self.peers[usize::from(id.0)] = None;
        Ok(())
    }

    /// Stops a peer (NOTIFICATION cease / administrative shutdown) until [`Speaker::start_peer`].
    pub fn stop_peer(&mut self, id: PeerId) -> Result<(), ConfigError> {
        if self.peer(id).is_none() {
            return Err(ConfigError::UnknownPeer(id));
        }
        self.stop_with(id, 2);
        Ok(())
    }

    fn stop_with(&mut self, id: PeerId, subcode: u8) {
        let connected = self.peer(id).is_some_and(|p| p.connected);
        if connected {
            let n = NotificationRepr {
                code: ErrorCode::Cease,
                subcode,
                data: &[],
            };
            if let Some(p) = self.peer_mut(id) {
                p.send_notification(&n);
            }
        }
        self.session_down(id, SessionError::AdministrativeStop);
        if let Some(p) = self.peer_mut(id) {
            p.stopped = true;
            p.connect_at = None;
            p.state = State::Idle;
        }
    }

    /// Starts a stopped peer again.
    pub fn start_peer(&mut self, id: PeerId) -> Result<(), ConfigError> {
        let now = self.now;
        let peer = self.peer_mut(id).ok_or(ConfigError::UnknownPeer(id))?;
        if peer.stopped {
            peer.stopped = false;
            if peer.config.passive {
                peer.state = State::Active;
            } else {
                peer.connect_at = Some(now);
            }
        }
        Ok(())
    }

    /// An incoming TCP connection from `address`: the peer to give it to, if it is a
    /// configured peer without a connection, or in the listen range (a new dynamic peer).
    /// `None`: close the connection. Then give [`Input::Connected`] for the peer.
    pub fn accept(&mut self, address: Ipv4Address) -> Option<PeerId> {
        if let Some(id) = self.peer_by_address(address) {
            let peer = self.peer(id)?;
            let free = !peer.connected
                && !peer.stopped
                && matches!(peer.state, State::Active | State::Idle | State::Connect);
            if !free {
                return None;
            }
            if peer.state == State::Connect {
                // Our own attempt is still pending: take the peer's (no collision handling).
                self.outputs.push_back(Output::Close(id));
            }
            let peer = self.peer_mut(id)?;
            peer.state = State::Active;
            peer.connect_at = None;
            return Some(id);
        }
        let (net, len) = self.config.listen_range?;
        let mask = u32::MAX
            .checked_shl(32 - u32::from(len.min(32)))
            .unwrap_or(0);
        if u32::from(address) & mask != u32::from(net) & mask {
            return None;
        }
        let mut config = PeerConfig::passive(address, self.config.asn);
        config.route_reflector_client = self.config.route_reflector.is_some();
        self.insert_peer(config, true).ok()
    }

    /// Adds a local VNI: its type-3 route is advertised, and received routes whose route
    /// target matches are installed. Established peers are asked to send their routes again
    /// (ROUTE-REFRESH), so routes that arrived before now import.
    pub fn add_vni(&mut self, vni: Vni, config: VniConfig) -> Result<(), ConfigError> {
        if self.vnis.contains_key(&vni) {
            return Err(ConfigError::VniExists(vni));
        }
        let rd = RouteDistinguisher::from_ip(self.config.router_id, self.next_rd_index);
        self.next_rd_index = self.next_rd_index.wrapping_add(1).max(1);
        let rt = config
            .route_target
            .unwrap_or(RouteTarget::auto(self.config.asn, vni.get()));
        self.vnis.insert(
            vni,
            LocalVni {
                rd,
                rt,
                auto_rt: config.route_target.is_none(),
            },
        );
        self.rd_to_vni.insert(rd, vni);
        self.local_changed(self.imet_key(vni));
        let refresh = RouteRefreshRepr {
            family: Family::L2VPN_EVPN,
            subtype: 0,
        };
        for id in self.peer_ids().collect::<Vec<_>>() {
            let Some(peer) = self.peer_mut(id) else {
                continue;
            };
            if peer.is_established() && peer.negotiated.is_some_and(|n| n.route_refresh) {
                peer.send(MessageType::RouteRefresh, RouteRefreshRepr::LEN, |b| {
                    refresh.emit(b)
                });
                self.signal(id);
            }
        }
        Ok(())
    }

    /// Removes a local VNI: its routes are withdrawn.
    pub fn remove_vni(&mut self, vni: Vni) -> Result<(), ConfigError> {
        if !self.vnis.contains_key(&vni) {
            return Err(ConfigError::UnknownVni(vni));
        }
        let macs: Vec<_> = self
            .local
            .keys()
            .filter(|(v, _)| *v == vni)
            .copied()
            .collect();
        for (v, mac) in macs {
            self.withdraw_local(v, vtep_core::wire::EthernetAddress(mac));
        }
        let imet = self.imet_key(vni);
        if let Some(state) = self.vnis.remove(&vni) {
            self.rd_to_vni.remove(&state.rd);
        }
        // With the VNI gone the key resolves to a withdrawal.
        self.local_changed(imet);
        Ok(())
    }

    /// The bytes waiting to be written to a peer.
    pub fn transmit_buffer(&self, peer: PeerId) -> &[u8] {
        self.peer(peer).map_or(&[], |p| p.tx.as_slice())
    }

    /// The driver wrote the first `n` bytes of the transmit buffer.
    pub fn transmitted(&mut self, peer: PeerId, n: usize) {
        if let Some(p) = self.peer_mut(peer) {
            let n = n.min(p.tx.len());
            p.tx.drain(..n);
        }
        self.forget_if_gone(peer);
    }

    /// Takes every byte waiting for a peer (for drivers that always write all).
    pub fn take_transmit(&mut self, peer: PeerId) -> Vec<u8> {
        let bytes = self
            .peer_mut(peer)
            .map(|p| core::mem::take(&mut p.tx))
            .unwrap_or_default();
        self.forget_if_gone(peer);
        bytes
    }

    /// A dynamic peer whose session ended is kept only until its last bytes (a NOTIFICATION)
    /// are written; then its slot goes, so the same address may connect again.
    fn forget_if_gone(&mut self, peer: PeerId) {
        if let Some(slot) = self.peers.get_mut(usize::from(peer.0))
            && slot
                .as_ref()
                .is_some_and(|p| p.dynamic && p.stopped && !p.connected && p.tx.is_empty())
        {
            *slot = None;
        }
    }

    /// Gives the speaker one input at time `now`; then poll outputs until `Timeout`.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        if now > self.now {
            self.now = now;
        }
        self.fire_timers();
        match input {
            Input::Connected(id) => self.on_connected(id),
            Input::Data(id, bytes) => self.on_data(id, bytes),
            Input::Closed(id) => self.on_closed(id),
            Input::Vtep(event) => self.on_vtep_event(event),
            Input::Timeout => {}
        }
    }

    /// The next thing to do; [`Output::Timeout`] when there is nothing more.
    #[must_use]
    pub fn poll_output(&mut self) -> Output {
        if self.outputs.is_empty() {
            self.encode_pending();
        }
        match self.outputs.pop_front() {
            Some(Output::Transmit(id)) => {
                if let Some(p) = self.peer_mut(id) {
                    p.tx_signalled = false;
                }
                Output::Transmit(id)
            }
            Some(output) => output,
            None => Output::Timeout(self.next_deadline()),
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flatten()
            .filter_map(Peer::next_deadline)
            .min()
    }

    /// Queues a `Transmit` for a peer with bytes waiting, once.
    pub(crate) fn signal(&mut self, id: PeerId) {
        if let Some(p) = self.peer_mut(id)
            && !p.tx.is_empty()
            && !p.tx_signalled
        {
            p.tx_signalled = true;
            self.outputs.push_back(Output::Transmit(id));
        }
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn fire_timers(&mut self) {
        let now = self.now;
        for id in self.peer_ids().collect::<Vec<_>>() {
            let Some(peer) = self.peer(id) else { continue };
            if peer.connect_at.is_some_and(|t| t <= now) {
                if peer.state == State::Connect {
                    // No answer within a whole retry interval: give the attempt up, as
                    // unreachable, and try again after the backoff.
                    let address = peer.address();
                    self.outputs.push_back(Output::Close(id));
                    self.session_down(id, SessionError::Unreachable { address });
                } else {
                    self.connect(id);
                }
            }
            let Some(peer) = self.peer(id) else { continue };
            if peer.hold_at.is_some_and(|t| t <= now) {
                let hold_time = peer
                    .negotiated
                    .map_or(OPEN_HOLD.secs() as u16, |n| n.hold_time);
                self.reset(id, SessionError::HoldTimerExpired { hold_time }, &[]);
                continue;
            }
            if let Some(peer) = self.peer_mut(id)
                && peer.keepalive_at.is_some_and(|t| t <= now)
                && matches!(peer.state, State::OpenConfirm | State::Established)
            {
                peer.send_keepalive();
                peer.keepalive_sent(now);
                self.signal(id);
            }
        }
    }

    fn connect(&mut self, id: PeerId) {
        let now = self.now;
        let retry = self.retry_delay(id);
        let Some(peer) = self.peer_mut(id) else {
            return;
        };
        peer.state = State::Connect;
        peer.connect_at = Some(now + retry);
        let address = peer.address();
        self.outputs
            .push_back(Output::Connect { peer: id, address });
    }

    /// The reconnection delay: the configured retry, doubled per failure in a row, capped.
    fn retry_delay(&self, id: PeerId) -> Duration {
        let failures = self.peer(id).map_or(0, |p| p.failures).min(16);
        let base = self.config.connect_retry.total_millis();
        let max = self.config.max_connect_retry.total_millis().max(base);
        Duration::from_millis(base.saturating_mul(1 << failures).min(max))
    }

    fn on_connected(&mut self, id: PeerId) {
        let now = self.now;
        let open = OpenRepr::new(
            self.config.asn,
            self.config.hold_time,
            self.config.router_id,
            Capabilities::evpn(self.config.asn),
        );
        let Some(peer) = self.peer_mut(id) else {
            return;
        };
        if peer.stopped || !matches!(peer.state, State::Connect | State::Active) {
            return;
        }
        peer.connected = true;
        peer.rx.clear();
        peer.tx.clear();
        peer.send(MessageType::Open, open.buffer_len(), |b| open.emit(b));
        peer.state = State::OpenSent;
        peer.connect_at = None;
        peer.hold_at = Some(now + OPEN_HOLD);
        self.signal(id);
    }

    fn on_closed(&mut self, id: PeerId) {
        let Some(peer) = self.peer(id) else { return };
        if !peer.connected && peer.state != State::Connect {
            // Already down (a NOTIFICATION or our own reset came first).
            return;
        }
        let error = match peer.state {
            State::Connect => SessionError::Unreachable {
                address: peer.address(),
            },
            _ => SessionError::ConnectionClosed,
        };
        if let Some(peer) = self.peer_mut(id) {
            peer.connected = false;
        }
        self.session_down(id, error);
    }

    /// Sends a NOTIFICATION for `error` (with `data`), closes and takes the session down.
    pub(crate) fn reset(&mut self, id: PeerId, error: SessionError, data: &[u8]) {
        if let Some((code, subcode)) = error.notification()
            && let Some(peer) = self.peer_mut(id)
            && peer.connected
        {
            peer.send_notification(&NotificationRepr {
                code,
                subcode,
                data,
            });
        }
        self.session_down(id, error);
    }

    /// The session ends: close the connection, drop the peer's routes, plan the reconnection.
    pub(crate) fn session_down(&mut self, id: PeerId, error: SessionError) {
        let now = self.now;
        let retry = self.retry_delay(id);
        let Some(peer) = self.peer_mut(id) else {
            return;
        };
        let was = peer.state;
        if peer.connected {
            peer.connected = false;
            // The NOTIFICATION, if any, goes out before the close.
            let has_bytes = !peer.tx.is_empty();
            if has_bytes && !peer.tx_signalled {
                peer.tx_signalled = true;
                self.outputs.push_back(Output::Transmit(id));
            }
            self.outputs.push_back(Output::Close(id));
        }
        let Some(peer) = self.peer_mut(id) else {
            return;
        };
        if matches!(
            was,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            peer.counters.dropped += 1;
        }
        if was != State::Established {
            peer.failures = peer.failures.saturating_add(1);
        }
        peer.state = if peer.config.passive {
            State::Active
        } else {
            State::Idle
        };
        peer.hold_at = None;
        peer.keepalive_at = None;
        peer.negotiated = None;
        peer.established_at = None;
        peer.rx.clear();
        peer.pending.clear();
        peer.connect_at = (!peer.config.passive && !peer.stopped).then(|| now + retry);
        peer.last_error = Some(error.clone());
        let dynamic = peer.dynamic;
        let had_routes = peer.routes > 0;
        if had_routes {
            self.drop_routes_of(id);
        }
        if was != State::Idle || !matches!(error, SessionError::AdministrativeStop) {
            self.event(Event::SessionDown { peer: id, error });
        }
        if dynamic && let Some(slot) = self.peers.get_mut(usize::from(id.0)) {
            // A dynamic peer exists only while connected; its bytes still go out first.
            let tx = slot.as_mut().map(|p| core::mem::take(&mut p.tx));
            if tx.as_ref().is_some_and(|t| t.is_empty()) {
                *slot = None;
            } else if let (Some(p), Some(tx)) = (slot.as_mut(), tx) {
                p.tx = tx;
                p.stopped = true;
            }
        }
    }

    fn on_data(&mut self, id: PeerId, mut bytes: &[u8]) {
        loop {
            let Some(peer) = self.peer_mut(id) else {
                return;
            };
            if !peer.connected
                || !matches!(
                    peer.state,
                    State::OpenSent | State::OpenConfirm | State::Established
                )
            {
                return;
            }
            // Finish a message started by an earlier read.
            if !peer.rx.is_empty() {
                let need = match bgp::frame_len(&peer.rx) {
                    Ok(Some(len)) => len,
                    Ok(None) => bgp::HEADER_LEN,
                    Err(e) => {
                        let message = core::mem::take(&mut peer.rx);
                        return self.malformed(id, e, &message);
                    }
                };
                let take = need.saturating_sub(peer.rx.len()).min(bytes.len());
                peer.rx.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                // Whole only when the header, now read, says so: a header that was still
                // arriving (`need` was 19) tells the body's length only now.
                match bgp::frame_len(&peer.rx) {
                    Ok(Some(len)) if len == peer.rx.len() => {}
                    Ok(_) if bytes.is_empty() => return,
                    Ok(_) => continue,
                    Err(e) => {
                        let message = core::mem::take(&mut peer.rx);
                        return self.malformed(id, e, &message);
                    }
                }
                let message = core::mem::take(&mut peer.rx);
                if !self.on_message(id, &message) {
                    return;
                }
                if let Some(p) = self.peer_mut(id) {
                    // Keep the allocation for the next partial message.
                    let mut reuse = message;
                    reuse.clear();
                    p.rx = reuse;
                }
                continue;
            }
            if bytes.is_empty() {
                return;
            }
            // Whole messages straight from the input, without copying.
            match bgp::frame_len(bytes) {
                Ok(Some(len)) if len <= bytes.len() => {
                    let (message, rest) = bytes.split_at(len);
                    bytes = rest;
                    if !self.on_message(id, message) {
                        return;
                    }
                }
                Ok(_) => {
                    peer.rx.extend_from_slice(bytes);
                    return;
                }
                Err(e) => return self.malformed(id, e, bytes),
            }
        }
    }

    /// A message that resets the session: count, NOTIFICATION, down.
    pub(crate) fn malformed(&mut self, id: PeerId, error: bgp::Error, message: &[u8]) {
        let Some(n) = error.notification(message) else {
            return;
        };
        if let Some(p) = self.peer_mut(id) {
            p.counters.malformed.add(error.reason);
        }
        let data: Vec<u8> = n.data.to_vec();
        self.reset(
            id,
            SessionError::Malformed {
                reason: error.reason,
                code: n.code,
                subcode: n.subcode,
            },
            &data,
        );
    }

    /// Handles one whole message; false when the session ended.
    fn on_message(&mut self, id: PeerId, message: &[u8]) -> bool {
        let now = self.now;
        let parsed = Message::parse(message).map_err(|e| self.malformed(id, e, message));
        let Ok(parsed) = parsed else {
            return false;
        };
        let Some(peer) = self.peer_mut(id) else {
            return false;
        };
        peer.counters
            .count_received(bgp::MessageType::from(message[18]));
        let state = peer.state;
        match (state, parsed) {
            (_, Message::Notification(n)) => {
                let error = SessionError::NotificationReceived {
                    code: n.code,
                    subcode: n.subcode,
                    message: n.shutdown_message().map(ToString::to_string),
                    established: state == State::Established,
                };
                self.session_down(id, error);
                return false;
            }
            (State::OpenSent, Message::Open(open)) => return self.on_open(id, &open, message),
            (State::OpenConfirm, Message::Keepalive) => {
                peer.heard(now);
                peer.state = State::Established;
                peer.established_at = Some(now);
                peer.failures = 0;
                peer.counters.established += 1;
                self.event(Event::SessionEstablished { peer: id });
                self.advertise_all(id);
            }
            (State::Established, Message::Keepalive) => peer.heard(now),
            (State::Established, Message::Update(_)) => {
                peer.heard(now);
                return self.on_update(id, message);
            }
            (State::Established, Message::RouteRefresh(rr)) => {
                peer.heard(now);
                if rr.family == Family::L2VPN_EVPN {
                    self.advertise_all(id);
                }
            }
            (state, _) => {
                let subcode = match state {
                    State::OpenSent => 1,
                    State::OpenConfirm => 2,
                    _ => 3,
                };
                self.reset(id, SessionError::UnexpectedMessage { subcode }, &[]);
                return false;
            }
        }
        true
    }

    fn on_open(&mut self, id: PeerId, open: &OpenRepr, message: &[u8]) -> bool {
        let now = self.now;
        let (asn, router_id, ours) = (
            self.config.asn,
            self.config.router_id,
            self.config.hold_time,
        );
        let my_as = &message[20..22];
        if open.asn() != asn {
            let error = SessionError::AsMismatch {
                expected: asn,
                received: open.asn(),
            };
            self.reset(id, error, my_as);
            return false;
        }
        if open.bgp_id == router_id {
            self.reset(id, SessionError::SameRouterId(router_id), &message[24..28]);
            return false;
        }
        if !open.capabilities.families.contains(Family::L2VPN_EVPN) {
            // RFC 5492 section 3: the data is the capability wanted.
            self.reset(id, SessionError::NoEvpnCapability, &[1, 4, 0, 25, 0, 70]);
            return false;
        }
        // The packet view was checked by Message::parse; unknown capabilities were skipped.
        debug_assert!(OpenPacket::new_checked(message).is_ok());
        let hold_time = ours.min(open.hold_time);
        let Some(peer) = self.peer_mut(id) else {
            return false;
        };
        peer.negotiated = Some(Negotiated {
            peer_id: open.bgp_id,
            peer_as: open.asn(),
            hold_time,
            four_octet_as: open.capabilities.four_octet_as.is_some(),
            route_refresh: open.capabilities.route_refresh,
        });
        peer.send_keepalive();
        peer.keepalive_sent(now);
        peer.heard(now);
        peer.state = State::OpenConfirm;
        self.signal(id);
        true
    }
}
