//! The EVPN speaker under arbitrary byte streams, connection events, engine events and time.
//!
//! After every step: no panic; polling ends; every byte the speaker sends is whole, valid BGP
//! (UPDATEs parse without a single RFC 7606 complaint); a session that garbage took down sent a
//! NOTIFICATION and asked for the close; memory stays bounded (partial messages under 4096
//! bytes, routes per peer under their limit, local MACs under the number of MACs used).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vtep_core::vtep::Event;
use vtep_core::wire::bgp::{self, Message, MessageType, UpdatePacket, UpdateRepr};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address, Ipv6Address};
use vtep_core::{Destination, PortId};
use vtep_core::{Duration, Instant, Vni};
use vtep_evpn::{Input, Output, PeerConfig, PeerId, Speaker, SpeakerConfig, State};

const ASN: u32 = 65000;
const MAX_ROUTES: usize = 48;
const MACS: u8 = 6;

/// A valid OPEN from a peer (AS 65000, hold 9, ID 10.0.0.x, EVPN + 4-octet AS).
fn open_from(id: u8) -> Vec<u8> {
    let repr = bgp::OpenRepr::new(
        ASN,
        9,
        Ipv4Address::new(10, 0, 0, id),
        bgp::Capabilities::evpn(ASN),
    );
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b);
    b
}

/// A type-2 or type-3 UPDATE from a remote VTEP (well formed; mutated by the ops).
fn update(vtep: u8, mac: u8, seq: u32, imet: bool, withdraw: bool) -> Vec<u8> {
    use bgp::*;
    let rd = RouteDistinguisher::from_ip(Ipv4Address::new(10, 0, 0, vtep), 1);
    let route = if imet {
        EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
            rd,
            ethernet_tag: 0,
            originator: IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, vtep)),
        })
    } else {
        EvpnRoute::MacIp(MacIpRoute {
            rd,
            esi: EthernetSegment::SINGLE_HOMED,
            ethernet_tag: 0,
            mac: EthernetAddress([2, 0, 0, 0, 0, mac % MACS]),
            ip: None,
            label1: 42,
            label2: None,
        })
    };
    let routes = [route];
    let ecs = [
        ExtCommunity::RouteTarget(RouteTarget::auto(ASN, 42)),
        ExtCommunity::Encapsulation(TunnelType::Vxlan),
        ExtCommunity::MacMobility {
            sticky: seq & 1 == 1,
            seq,
        },
    ];
    let endpoint = [10, 0, 0, vtep];
    let repr = if withdraw {
        UpdateRepr {
            mp_unreach: Some(MpUnreach::Evpn {
                routes: Seq::Items(&routes),
            }),
            ..UpdateRepr::default()
        }
    } else {
        UpdateRepr {
            pmsi_tunnel: imet.then_some(attr::PmsiTunnel {
                flags: 0,
                tunnel_type: attr::pmsi_type::INGRESS_REPLICATION,
                label: 42,
                identifier: &endpoint,
            }),
            ..UpdateRepr::announce(NextHop::V4(Ipv4Address::new(10, 0, 0, vtep)), &routes, &ecs)
        }
    };
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b);
    b
}

#[derive(Arbitrary, Debug)]
enum Bytes {
    Open,
    Keepalive,
    Update {
        vtep: u8,
        mac: u8,
        seq: u8,
        imet: bool,
        withdraw: bool,
    },
    /// A well-formed message with one byte changed.
    Mutated {
        which: u8,
        at: u16,
        xor: u8,
        vtep: u8,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Connect(bool),
    Accept(u8),
    Data {
        peer: bool,
        bytes: Bytes,
        split: u16,
    },
    Closed(bool),
    Learned(u8),
    Moved {
        mac: u8,
        seq: u8,
        to_local: bool,
    },
    AgedOut(u8),
    /// An IPv4 neighbour, or with `v6` an IPv6 one (a router with `router`).
    Neighbour {
        mac: u8,
        ip: u8,
        v6: bool,
        router: bool,
    },
    Frozen(u8),
    Advance(u16),
    Stop(bool),
    Start(bool),
    /// Write only some of the bytes waiting.
    PartialWrite {
        peer: bool,
        n: u16,
    },
}

#[derive(Arbitrary, Debug)]
struct Scenario {
    reflector: bool,
    ops: Vec<Op>,
}

struct Harness {
    speaker: Speaker,
    now: Instant,
    peers: [PeerId; 2],
    /// Bytes the speaker sent per peer, not yet checked (a message may span writes).
    sent: [Vec<u8>; 2],
}

impl Harness {
    /// An event of the speaker's engine, now.
    fn engine_event(&mut self, event: Event) {
        self.speaker.handle_input(self.now, Input::Vtep(event));
    }

    fn index(&self, peer: PeerId) -> usize {
        usize::from(peer != self.peers[0])
    }

    /// Polls to the end, checking every output.
    fn drain(&mut self) {
        let mut closes = [false; 2];
        for _ in 0..100_000 {
            match self.speaker.poll_output() {
                Output::Timeout(t) => {
                    assert!(t.is_none_or(|t| t >= self.now - Duration::from_secs(1)));
                    self.check_sent();
                    return;
                }
                Output::Transmit(p) | Output::Close(p) if self.speaker.peer_status(p).is_none() => {
                }
                Output::Transmit(p) => {
                    let i = self.index(p);
                    let bytes = self.speaker.take_transmit(p);
                    if i < 2 {
                        self.sent[i].extend_from_slice(&bytes);
                    }
                }
                Output::Close(p) => {
                    let i = self.index(p);
                    let bytes = self.speaker.take_transmit(p);
                    self.sent[i].extend_from_slice(&bytes);
                    closes[i] = true;
                }
                _ => {}
            }
        }
        panic!("poll_output never ended");
    }

    /// Every message sent is valid; UPDATEs carry no error.
    fn check_sent(&mut self) {
        for buf in &mut self.sent {
            let mut at = 0;
            while let Ok(Some(len)) = bgp::frame_len(&buf[at..]) {
                if at + len > buf.len() {
                    break;
                }
                let m = &buf[at..at + len];
                if let Message::Update(p) =
                    Message::parse(m).expect("the speaker sends valid messages")
                {
                    let (_, verdict) = UpdateRepr::parse(&p, true).expect("valid UPDATE");
                    assert_eq!(verdict.action, None, "{m:02x?}");
                    assert!(UpdatePacket::new_checked(m).is_ok());
                }
                at += len;
            }
            assert!(bgp::frame_len(&buf[at..]).is_ok(), "sent bytes frame");
            buf.drain(..at);
        }
    }

    fn check_bounds(&self) {
        for status in self.speaker.peers() {
            assert!(status.rx_buffered < bgp::MAX_MESSAGE_LEN);
            assert!(status.routes <= MAX_ROUTES);
        }
        let memory = self.speaker.memory();
        assert!(memory.local_macs <= usize::from(MACS));
        assert!(memory.records <= 2 * MAX_ROUTES + 8);
    }
}

/// The engine's one local port, behind which the speaker's own MACs live.
const LOCAL: Destination = Destination::Local(PortId(0));

/// A remote VTEP that a MAC moves from or to.
const REMOTE: Destination = Destination::Remote(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 5)));

fn vni() -> Vni {
    Vni::new(42).unwrap()
}

fn mac(m: u8) -> EthernetAddress {
    EthernetAddress([2, 0, 0, 0, 0, m % MACS])
}

fuzz_target!(|scenario: Scenario| {
    let now = Instant::from_secs(100);
    let mut config = if scenario.reflector {
        SpeakerConfig::reflector(
            ASN,
            Ipv4Address::new(10, 0, 0, 254),
            (Ipv4Address::new(10, 0, 0, 0), 24),
        )
    } else {
        SpeakerConfig::new(ASN, Ipv4Address::new(10, 0, 0, 1))
    };
    config.hold_time = 9;
    config.max_routes_per_peer = MAX_ROUTES;
    let mut speaker = Speaker::new(config, now);
    speaker.add_vni(vni(), Default::default()).unwrap();
    let a = speaker
        .add_peer(PeerConfig::active(Ipv4Address::new(10, 0, 0, 2), ASN))
        .unwrap();
    let b = speaker
        .add_peer(PeerConfig::passive(Ipv4Address::new(10, 0, 0, 3), ASN))
        .unwrap();
    let mut h = Harness {
        speaker,
        now,
        peers: [a, b],
        sent: [Vec::new(), Vec::new()],
    };
    h.drain();
    for op in scenario.ops.into_iter().take(200) {
        let peer = |sel: bool| if sel { b } else { a };
        let before: Vec<State> = [a, b]
            .iter()
            .map(|p| h.speaker.peer_status(*p).unwrap().state)
            .collect();
        let mut data_peer = None;
        match op {
            Op::Connect(sel) => h.speaker.handle_input(h.now, Input::Connected(peer(sel))),
            Op::Accept(last) => {
                let _ = h.speaker.accept(Ipv4Address::new(10, 0, 0, last));
            }
            Op::Data {
                peer: sel,
                bytes,
                split,
            } => {
                let bytes = match bytes {
                    Bytes::Open => open_from(if sel { 3 } else { 2 }),
                    Bytes::Keepalive => [&[0xff; 16][..], &[0, 19, 4]].concat(),
                    Bytes::Update {
                        vtep,
                        mac,
                        seq,
                        imet,
                        withdraw,
                    } => update(vtep % 8 + 1, mac, u32::from(seq), imet, withdraw),
                    Bytes::Mutated {
                        which,
                        at,
                        xor,
                        vtep,
                    } => {
                        let mut m = match which % 3 {
                            0 => open_from(2),
                            1 => update(vtep % 8 + 1, 0, 1, false, false),
                            _ => update(vtep % 8 + 1, 0, 0, true, false),
                        };
                        let i = usize::from(at) % m.len();
                        m[i] ^= xor;
                        m
                    }
                    Bytes::Raw(raw) => raw,
                };
                let split = usize::from(split).min(bytes.len());
                data_peer = Some(peer(sel));
                h.speaker
                    .handle_input(h.now, Input::Data(peer(sel), &bytes[..split]));
                h.speaker
                    .handle_input(h.now, Input::Data(peer(sel), &bytes[split..]));
            }
            Op::Closed(sel) => h.speaker.handle_input(h.now, Input::Closed(peer(sel))),
            Op::Learned(m) => h.engine_event(Event::Learned {
                vni: vni(),
                mac: mac(m),
                dest: LOCAL,
            }),
            Op::Moved {
                mac: m,
                seq,
                to_local,
            } => {
                let (from, to) = if to_local {
                    (REMOTE, LOCAL)
                } else {
                    (LOCAL, REMOTE)
                };
                h.engine_event(Event::Moved {
                    vni: vni(),
                    mac: mac(m),
                    from,
                    to,
                    seq: u32::from(seq),
                });
            }
            Op::AgedOut(m) => h.engine_event(Event::AgedOut {
                vni: vni(),
                mac: mac(m),
                dest: LOCAL,
            }),
            Op::Neighbour {
                mac: m,
                ip,
                v6,
                router,
            } => h.engine_event(Event::NeighbourLearned {
                vni: vni(),
                ip: if v6 {
                    IpAddress::Ipv6(Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, ip.into()))
                } else {
                    IpAddress::Ipv4(Ipv4Address::new(192, 168, 42, ip))
                },
                mac: mac(m),
                router: v6 && router,
            }),
            Op::Frozen(m) => h.engine_event(Event::DuplicateFrozen {
                vni: vni(),
                mac: mac(m),
                moves: 5,
            }),
            Op::Advance(ms) => {
                h.now += Duration::from_millis(u64::from(ms) * 10);
                h.speaker.handle_input(h.now, Input::Timeout);
            }
            Op::Stop(sel) => h.speaker.stop_peer(peer(sel)).unwrap(),
            Op::Start(sel) => h.speaker.start_peer(peer(sel)).unwrap(),
            Op::PartialWrite { peer: sel, n } => {
                let p = peer(sel);
                let n = usize::from(n).min(h.speaker.transmit_buffer(p).len());
                let bytes = h.speaker.transmit_buffer(p)[..n].to_vec();
                h.speaker.transmitted(p, n);
                let i = h.index(p);
                h.sent[i].extend_from_slice(&bytes);
            }
        }
        // A session that received bytes and fell from OpenSent or later sent a NOTIFICATION
        // (unless the peer's own NOTIFICATION ended it) and asked for the close.
        if let Some(p) = data_peer {
            let i = h.index(p);
            let was = before[i];
            let now_state = h.speaker.peer_status(p).unwrap().state;
            if matches!(
                was,
                State::OpenSent | State::OpenConfirm | State::Established
            ) && matches!(now_state, State::Idle | State::Active)
            {
                let mut outputs = Vec::new();
                loop {
                    match h.speaker.poll_output() {
                        Output::Timeout(_) => break,
                        Output::Transmit(q) => {
                            let bytes = h.speaker.take_transmit(q);
                            let j = h.index(q);
                            h.sent[j].extend_from_slice(&bytes);
                            outputs.push(Output::Transmit(q));
                        }
                        o => outputs.push(o),
                    }
                }
                assert!(outputs.contains(&Output::Close(p)), "{outputs:?}");
                let error = h.speaker.peer_status(p).unwrap().last_error;
                let by_peer = matches!(
                    error,
                    Some(vtep_evpn::SessionError::NotificationReceived { .. })
                );
                let notified = h.speaker.peer_status(p).unwrap().counters.sent[2] > 0;
                assert!(by_peer || notified, "reset without NOTIFICATION: {error:?}");
                let _ = MessageType::Notification;
            }
        }
        h.drain();
        h.check_bounds();
    }
});
