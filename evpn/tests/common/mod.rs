//! An in-memory network of speakers (and their engines), like quinn's `Pair`: byte streams
//! connected in memory, virtual time advanced to the next deadline, every message logged.
#![allow(dead_code)]

use vtep_core::vtep::{self, NetworkConfig, Vtep, VtepConfig};
use vtep_core::wire::bgp::{Message, UpdatePacket, UpdateRepr};
use vtep_core::wire::{IpAddress, Ipv4Address};
use vtep_core::{Destination, Mac, PortId};
use vtep_core::{Duration, Instant, Vni};
use vtep_evpn::{Event, Input, Output, PeerConfig, PeerId, Speaker, SpeakerConfig};

pub const ASN: u32 = 65000;
pub const VNI: u32 = 42;

pub fn vni() -> Vni {
    Vni::new(VNI).unwrap()
}

pub fn ip(last: u8) -> Ipv4Address {
    Ipv4Address::new(10, 0, 0, last)
}

pub fn mac(last: u8) -> Mac {
    Mac::from_bytes(&[2, 0, 0, 0, 0x42, last])
}

pub struct Node {
    pub speaker: Speaker,
    /// The engine the speaker drives (a reflector has none).
    pub vtep: Option<Vtep>,
    pub address: Ipv4Address,
    pub port: Option<PortId>,
    pub events: Vec<Event>,
    /// Accepts connections; false: they are refused (its BGP daemon is not running).
    pub listening: bool,
}

/// A TCP connection between two nodes' peers.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub a: (usize, PeerId),
    pub b: (usize, PeerId),
    /// Bytes are delivered; false: a silent cut (nothing arrives, nobody is told).
    pub up: bool,
}

/// A message that crossed a link: (from node, to node, bytes).
pub type Logged = (usize, usize, Vec<u8>);

pub struct Net {
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    pub now: Instant,
    pub log: Vec<Logged>,
    /// Deliver the bytes in reads of this many (none: two reads, split in the middle).
    pub read_size: Option<usize>,
}

pub fn timers(config: &mut SpeakerConfig) {
    config.hold_time = 9;
    config.connect_retry = Duration::from_secs(1);
    config.max_connect_retry = Duration::from_secs(4);
}

/// A VTEP's speaker at 10.0.0.`last` in AS 65000, with the tests' short timers.
pub fn vtep_config(last: u8) -> SpeakerConfig {
    let mut config = SpeakerConfig::new(ASN, ip(last));
    timers(&mut config);
    config
}

/// The route reflector at 10.0.0.254 in AS 65000, taking clients from 10.0.0.0/24, with the
/// tests' short timers.
pub fn reflector_config() -> SpeakerConfig {
    let mut config = SpeakerConfig::reflector(ASN, ip(254), (ip(0), 24));
    timers(&mut config);
    config
}

impl Net {
    pub fn new() -> Net {
        Net {
            nodes: Vec::new(),
            links: Vec::new(),
            now: Instant::from_secs(1000),
            log: Vec::new(),
            read_size: None,
        }
    }

    /// A VTEP with VNI 42 and one port, and its speaker.
    pub fn add_vtep(&mut self, config: SpeakerConfig) -> usize {
        let now = self.now;
        let mut engine = Vtep::new(VtepConfig::new(IpAddress::Ipv4(config.vtep)), now).unwrap();
        // ARP and ND suppression on, as native-vtep runs EVPN networks.
        let network = NetworkConfig {
            arp_proxy: true,
            ..NetworkConfig::new(vni())
        };
        engine.add_network(network, now).unwrap();
        let port = engine.add_port(vni()).unwrap();
        let mut speaker = Speaker::new(config, now);
        speaker.add_vni(vni(), Default::default()).unwrap();
        self.nodes.push(Node {
            speaker,
            vtep: Some(engine),
            address: config.vtep,
            port: Some(port),
            events: Vec::new(),
            listening: true,
        });
        self.nodes.len() - 1
    }

    pub fn add_reflector(&mut self, config: SpeakerConfig) -> usize {
        self.nodes.push(Node {
            speaker: Speaker::new(config, self.now),
            vtep: None,
            address: config.router_id,
            port: None,
            events: Vec::new(),
            listening: true,
        });
        self.nodes.len() - 1
    }

    /// Node `a` connects to node `b`, which waits for it; each side expects the peer in its
    /// own AS (iBGP as each was configured). Returns `a`'s and `b`'s peer ids.
    pub fn connect(&mut self, a: usize, b: usize) -> (PeerId, PeerId) {
        let (address_a, asn_a) = (self.nodes[a].address, self.nodes[a].speaker.config().asn);
        let (address_b, asn_b) = (self.nodes[b].address, self.nodes[b].speaker.config().asn);
        let pa = self.nodes[a]
            .speaker
            .add_peer(PeerConfig::active(address_b, asn_a))
            .unwrap();
        let pb = self.nodes[b]
            .speaker
            .add_peer(PeerConfig::passive(address_a, asn_b))
            .unwrap();
        (pa, pb)
    }

    /// Two VTEPs, A (node 0, `a`'s settings) and B (node 1, `b`'s), A connecting to B, after
    /// two seconds for the session to come up. Returns A's and B's peer ids.
    pub fn add_pair(&mut self, a: SpeakerConfig, b: SpeakerConfig) -> (PeerId, PeerId) {
        let a = self.add_vtep(a);
        let b = self.add_vtep(b);
        let peers = self.connect(a, b);
        self.run_for(Duration::from_secs(2));
        peers
    }

    /// A route reflector (`reflector_config`) and VTEPs 10.0.0.1, 10.0.0.2, ... (`leaves` of
    /// them), each connecting to it; no time has passed yet. Returns the reflector's node and
    /// the leaves'.
    pub fn add_reflector_with_leaves(&mut self, leaves: u8) -> (usize, Vec<usize>) {
        let rr = self.add_reflector(reflector_config());
        let leaves = (1..=leaves)
            .map(|last| {
                let n = self.add_vtep(vtep_config(last));
                self.nodes[n]
                    .speaker
                    .add_peer(PeerConfig::active(ip(254), ASN))
                    .unwrap();
                n
            })
            .collect();
        (rr, leaves)
    }

    fn other_end(&self, node: usize, peer: PeerId) -> Option<(usize, (usize, PeerId), bool)> {
        self.links.iter().enumerate().find_map(|(i, l)| {
            if l.a == (node, peer) {
                Some((i, l.b, l.up))
            } else if l.b == (node, peer) {
                Some((i, l.a, l.up))
            } else {
                None
            }
        })
    }

    /// Polls every node until none has anything to do; true if anything happened.
    fn settle(&mut self) -> bool {
        let mut any = false;
        for _ in 0..10_000 {
            let mut progress = false;
            for n in 0..self.nodes.len() {
                loop {
                    let out = self.nodes[n].speaker.poll_output();
                    if let Output::Timeout(_) = out {
                        break;
                    }
                    progress = true;
                    self.carry_out(n, out);
                }
            }
            if !progress {
                return any;
            }
            any = true;
        }
        panic!("the network never settled");
    }

    fn input(&mut self, n: usize, input: Input<'_>) {
        let now = self.now;
        self.nodes[n].speaker.handle_input(now, input);
    }

    fn carry_out(&mut self, n: usize, out: Output) {
        let now = self.now;
        match out {
            Output::Connect { peer, address } => {
                let target = self
                    .nodes
                    .iter()
                    .position(|x| x.address == address && x.listening);
                let from = self.nodes[n].address;
                let accepted = target.and_then(|t| Some((t, self.nodes[t].speaker.accept(from)?)));
                match accepted {
                    Some((t, their)) => {
                        self.links.push(Link {
                            a: (n, peer),
                            b: (t, their),
                            up: true,
                        });
                        self.input(n, Input::Connected(peer));
                        self.input(t, Input::Connected(their));
                    }
                    None => self.input(n, Input::Closed(peer)),
                }
            }
            Output::Transmit(peer) => {
                let bytes = self.nodes[n].speaker.take_transmit(peer);
                self.deliver(n, peer, bytes);
            }
            Output::Close(peer) => {
                let bytes = self.nodes[n].speaker.take_transmit(peer);
                self.deliver(n, peer, bytes);
                if let Some((i, (t, their), up)) = self.other_end(n, peer) {
                    self.links.remove(i);
                    if up {
                        self.input(t, Input::Closed(their));
                    }
                }
            }
            Output::Fdb(action) => {
                if let Some(engine) = self.nodes[n].vtep.as_mut() {
                    action.apply(engine, now).unwrap();
                }
                self.engine_events(n);
            }
            Output::Event(e) => self.nodes[n].events.push(e),
            Output::Timeout(_) => {}
        }
    }

    fn deliver(&mut self, n: usize, peer: PeerId, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let Some((_, (t, their), true)) = self.other_end(n, peer) else {
            return;
        };
        let mut rest = &bytes[..];
        while let Ok(Some(len)) = vtep_core::wire::bgp::frame_len(rest) {
            if len > rest.len() {
                break;
            }
            self.log.push((n, t, rest[..len].to_vec()));
            rest = &rest[len..];
        }
        if let Some(size) = self.read_size {
            for chunk in bytes.chunks(size.max(1)) {
                self.input(t, Input::Data(their, chunk));
            }
            return;
        }
        // Delivered in two reads, to exercise reassembly.
        let split = bytes.len() / 2 + 1;
        let (first, second) = bytes.split_at(split.min(bytes.len()));
        self.input(t, Input::Data(their, first));
        self.input(t, Input::Data(their, second));
    }

    /// Feeds the engine's events to its speaker (Moved, Learned... after an install).
    pub fn engine_events(&mut self, n: usize) {
        let now = self.now;
        let Some(engine) = self.nodes[n].vtep.as_mut() else {
            return;
        };
        let mut events = Vec::new();
        loop {
            match engine.poll_output() {
                vtep::Output::Event(e) => events.push(e),
                vtep::Output::Timeout(_) => break,
                _ => {}
            }
        }
        for e in events {
            self.nodes[n].speaker.handle_input(now, Input::Vtep(e));
        }
    }

    /// A frame from `mac` arrives at node `n`'s local port: the engine learns it.
    pub fn frame_from(&mut self, n: usize, mac: Mac) {
        let now = self.now;
        let node = &mut self.nodes[n];
        let (Some(engine), Some(port)) = (node.vtep.as_mut(), node.port) else {
            panic!("node {n} has no engine");
        };
        let headroom = vtep_core::wire::outer::MAX_HEADROOM;
        let mut buf = vec![0u8; headroom + 60];
        buf[headroom..headroom + 6].fill(0xff);
        buf[headroom + 6..headroom + 12].copy_from_slice(&mac.0);
        buf[headroom + 12..headroom + 14].copy_from_slice(&[0x88, 0xb5]);
        let frame = headroom..buf.len();
        engine.handle_input(
            now,
            vtep::Input::Local {
                port,
                buf: &mut buf,
                frame,
            },
        );
        self.engine_events(n);
        self.settle();
    }

    /// `frame` arrives at node `n`'s local port: returns the frames the engine delivered to its
    /// local ports (a proxied answer, say) and how many it sent into the underlay. Its events
    /// go to the speaker, whose outputs are carried out.
    pub fn local_frame(&mut self, n: usize, frame: &[u8]) -> (Vec<Vec<u8>>, usize) {
        let now = self.now;
        let node = &mut self.nodes[n];
        let (Some(engine), Some(port)) = (node.vtep.as_mut(), node.port) else {
            panic!("node {n} has no engine");
        };
        let headroom = vtep_core::wire::outer::MAX_HEADROOM;
        let mut buf = vec![0u8; headroom + frame.len() + 64];
        buf[headroom..headroom + frame.len()].copy_from_slice(frame);
        let range = headroom..headroom + frame.len();
        engine.handle_input(
            now,
            vtep::Input::Local {
                port,
                buf: &mut buf,
                frame: range,
            },
        );
        let (mut delivered, mut sent, mut events) = (Vec::new(), 0, Vec::new());
        loop {
            match engine.poll_output() {
                vtep::Output::Deliver(d) => delivered.push(buf[d.frame].to_vec()),
                vtep::Output::Transmit(_) => sent += 1,
                vtep::Output::Event(e) => events.push(e),
                vtep::Output::Timeout(_) => break,
            }
        }
        for e in events {
            self.nodes[n].speaker.handle_input(now, Input::Vtep(e));
        }
        self.settle();
        (delivered, sent)
    }

    /// Runs for `duration` of virtual time, jumping from deadline to deadline.
    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            self.settle();
            let next = (0..self.nodes.len())
                .filter_map(|n| match self.nodes[n].speaker.poll_output() {
                    Output::Timeout(t) => t,
                    other => panic!("settled node {n} still had {other:?}"),
                })
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = t.max(self.now);
                    for n in 0..self.nodes.len() {
                        self.input(n, Input::Timeout);
                    }
                }
                _ => {
                    self.now = end;
                    for n in 0..self.nodes.len() {
                        self.input(n, Input::Timeout);
                    }
                    self.settle();
                    return;
                }
            }
        }
    }

    pub fn cut(&mut self, a: usize, b: usize) {
        for l in &mut self.links {
            if (l.a.0 == a && l.b.0 == b) || (l.a.0 == b && l.b.0 == a) {
                l.up = false;
            }
        }
    }

    pub fn state(&self, n: usize, peer: PeerId) -> vtep_evpn::State {
        self.nodes[n].speaker.peer_status(peer).unwrap().state
    }

    /// Where node `n`'s engine sends frames for `mac`.
    pub fn fdb(&self, n: usize, mac: Mac) -> Option<(Destination, u32)> {
        let e = self.nodes[n].vtep.as_ref()?.fdb().lookup(vni(), &mac)?;
        Some((e.dest, e.mobility_seq))
    }

    pub fn flood_list(&self, n: usize) -> Vec<IpAddress> {
        self.nodes[n]
            .vtep
            .as_ref()
            .unwrap()
            .fdb()
            .flood_list(vni())
            .to_vec()
    }

    /// UPDATEs logged from `from` to `to`, parsed (4-octet AS).
    pub fn updates(&self, from: usize, to: usize) -> Vec<Vec<u8>> {
        self.log
            .iter()
            .filter(|(f, t, m)| {
                *f == from && *t == to && matches!(Message::parse(m), Ok(Message::Update(_)))
            })
            .map(|(_, _, m)| m.clone())
            .collect()
    }
}

/// Parses a logged UPDATE.
pub fn parse_update(bytes: &[u8]) -> UpdateRepr<'_> {
    let packet = UpdatePacket::new_checked(bytes).unwrap();
    UpdateRepr::parse(&packet, true).unwrap().0
}

pub fn remote(last: u8) -> Destination {
    Destination::Remote(IpAddress::Ipv4(ip(last)))
}
