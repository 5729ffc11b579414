//! The VTEP engine driven through its public API only, by a small deterministic underlay:
//! every transmit is given real outer IP/UDP headers (`OuterRepr::emit`), parsed back
//! (`outer::parse`) and handed to the VTEP that owns the destination address.

use std::collections::VecDeque;

use vtep_core::fdb::{Destination, Origin, PortId};
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{
    DropReason, Encapsulation, Event, InnerVlanPolicy, Input, NetworkConfig, Output, Vtep,
    VtepConfig,
};
use vtep_core::wire::outer::{self, MAX_HEADROOM};
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, Ipv4Address,
};
use vtep_core::{Duration, Instant, Vni};

const VNI: Vni = Vni::from_u24_truncating(5001);

fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, n])
}

fn underlay(n: u8) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n))
}

fn host_ip(n: u8) -> Ipv4Address {
    Ipv4Address::new(192, 168, 1, n)
}

/// An Ethernet frame with `payload_len` bytes of payload.
fn frame(src: EthernetAddress, dst: EthernetAddress, payload_len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; 14 + payload_len];
    let repr = EthernetRepr {
        src_addr: src,
        dst_addr: dst,
        ethertype: EthernetProtocol::Ipv4,
    };
    repr.emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
    for (i, b) in bytes[14..].iter_mut().enumerate() {
        *b = i as u8;
    }
    bytes
}

fn arp(op: ArpOperation, src: (EthernetAddress, Ipv4Address), target: Ipv4Address) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: op,
        source_hardware_addr: src.0,
        source_protocol_addr: src.1,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    let mut bytes = vec![0u8; 14 + repr.buffer_len()];
    EthernetRepr {
        src_addr: src.0,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
    repr.emit(&mut ArpPacket::new_unchecked(&mut bytes[14..]));
    bytes
}

#[derive(Debug)]
enum Work {
    Local {
        vtep: usize,
        port: PortId,
        frame: Vec<u8>,
    },
    Underlay {
        to: IpAddress,
        packet: Vec<u8>,
    },
}

/// What reached a local port.
#[derive(Debug, Clone, PartialEq)]
struct Delivered {
    vtep: usize,
    port: PortId,
    frame: Vec<u8>,
}

/// N VTEPs on one underlay segment, driven to quiescence after every input.
struct Fabric {
    vteps: Vec<Vtep>,
    now: Instant,
    delivered: Vec<Delivered>,
    events: Vec<(usize, Event)>,
    /// Every underlay IP packet: (from VTEP index, to address, bytes).
    wire: Vec<(usize, IpAddress, Vec<u8>)>,
}

impl Fabric {
    /// `n` VTEPs at 10.0.0.1.. with VNI 5001 configured by `network`, one port each, and a
    /// full-mesh flood list.
    fn new(n: u8, network: impl Fn(NetworkConfig) -> NetworkConfig) -> Fabric {
        Self::with_config(n, network, |c| c)
    }

    fn with_config(
        n: u8,
        network: impl Fn(NetworkConfig) -> NetworkConfig,
        vtep: impl Fn(VtepConfig) -> VtepConfig,
    ) -> Fabric {
        let now = Instant::ZERO;
        let mut vteps = Vec::new();
        for i in 1..=n {
            let mut v = Vtep::new(vtep(VtepConfig::new(underlay(i))), now).unwrap();
            v.add_network(network(NetworkConfig::new(VNI)), now)
                .unwrap();
            v.add_port(VNI).unwrap();
            for j in 1..=n {
                if j != i {
                    v.add_flood_peer(VNI, underlay(j)).unwrap();
                }
            }
            vteps.push(v);
        }
        Fabric {
            vteps,
            now,
            delivered: Vec::new(),
            events: Vec::new(),
            wire: Vec::new(),
        }
    }

    fn send(&mut self, vtep: usize, port: PortId, frame: &[u8]) {
        self.run(Work::Local {
            vtep,
            port,
            frame: frame.to_vec(),
        });
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for (i, v) in self.vteps.iter_mut().enumerate() {
            v.handle_input(self.now, Input::Timeout);
            drain(
                i,
                v,
                &[],
                &mut Vec::new(),
                &mut self.delivered,
                &mut self.events,
            );
        }
    }

    fn run(&mut self, first: Work) {
        let mut queue = VecDeque::from([first]);
        let mut steps = 0;
        while let Some(work) = queue.pop_front() {
            steps += 1;
            assert!(
                steps < 10_000,
                "the fabric did not settle: a forwarding loop"
            );
            let (i, mut buf) = match work {
                Work::Local { vtep, port, frame } => {
                    let mut buf = vec![0u8; MAX_HEADROOM + frame.len()];
                    buf[MAX_HEADROOM..].copy_from_slice(&frame);
                    let len = buf.len();
                    self.vteps[vtep].handle_input(
                        self.now,
                        Input::Local {
                            port,
                            buf: &mut buf,
                            frame: MAX_HEADROOM..len,
                        },
                    );
                    (vtep, buf)
                }
                Work::Underlay { to, mut packet } => {
                    let Some(i) = self.vteps.iter().position(|v| v.local_address() == to) else {
                        continue; // nobody there: lost in the underlay
                    };
                    let (outer, payload) = outer::parse(&packet).expect("valid outer headers");
                    assert_eq!(outer.dst, to);
                    self.vteps[i].handle_input(
                        self.now,
                        Input::Underlay {
                            from: outer.src,
                            transport: outer.transport,
                            buf: &mut packet,
                            payload,
                        },
                    );
                    (i, packet)
                }
            };
            let mut sent = Vec::new();
            drain(
                i,
                &mut self.vteps[i],
                &buf,
                &mut sent,
                &mut self.delivered,
                &mut self.events,
            );
            for (to, packet) in sent {
                self.wire.push((i, to, packet.clone()));
                queue.push_back(Work::Underlay { to, packet });
            }
            buf.clear();
        }
    }

    fn take_delivered(&mut self) -> Vec<Delivered> {
        std::mem::take(&mut self.delivered)
    }

    fn take_wire(&mut self) -> Vec<(usize, IpAddress, Vec<u8>)> {
        std::mem::take(&mut self.wire)
    }
}

/// Carries out every output of `vtep` for the input whose buffer is `buf`.
fn drain(
    index: usize,
    vtep: &mut Vtep,
    buf: &[u8],
    sent: &mut Vec<(IpAddress, Vec<u8>)>,
    delivered: &mut Vec<Delivered>,
    events: &mut Vec<(usize, Event)>,
) {
    loop {
        match vtep.poll_output() {
            Output::Transmit(t) => {
                let mut packet = buf.to_vec();
                let whole = t.outer.emit(&mut packet, t.payload.clone()).unwrap();
                sent.push((t.outer.dst, packet[whole].to_vec()));
            }
            Output::Deliver(d) => delivered.push(Delivered {
                vtep: index,
                port: d.port,
                frame: buf[d.frame].to_vec(),
            }),
            Output::Event(e) => events.push((index, e)),
            Output::Timeout(_) => break,
        }
    }
}

const P0: PortId = PortId(0);

#[test]
fn two_vteps_flood_then_learn_and_unicast_both_ways() {
    for encapsulation in Encapsulation::ALL {
        let mut f = Fabric::new(2, |n| NetworkConfig { encapsulation, ..n });
        // A broadcast from host 1 behind VTEP 0 is flooded to VTEP 1.
        let request = arp(ArpOperation::Request, (mac(1), host_ip(1)), host_ip(2));
        f.send(0, P0, &request);
        assert_eq!(
            f.take_delivered(),
            [Delivered {
                vtep: 1,
                port: P0,
                frame: request.clone()
            }],
            "{encapsulation}"
        );
        let wire = f.take_wire();
        assert_eq!(wire.len(), 1);
        // VTEP 1 learned host 1 behind VTEP 0: the reply is unicast, not flooded.
        let reply = frame(mac(2), mac(1), 46);
        f.send(1, P0, &reply);
        assert_eq!(
            f.take_delivered()[..],
            [Delivered {
                vtep: 0,
                port: P0,
                frame: reply
            }]
        );
        assert_eq!(f.take_wire().len(), 1);
        for (i, other) in [(0usize, 2u8), (1, 1)] {
            let entry = f.vteps[i].fdb().lookup(VNI, &mac(other)).unwrap();
            assert_eq!(
                entry.dest,
                Destination::Remote(underlay(other)),
                "{encapsulation}"
            );
            assert_eq!(entry.origin, Origin::Learned);
        }
        let c0 = f.vteps[0].counters(VNI).unwrap();
        let c1 = f.vteps[1].counters(VNI).unwrap();
        assert_eq!(
            (c0.flooded_frames, c0.flood_copies, c0.decap_frames),
            (1, 1, 1)
        );
        assert_eq!(
            (c1.flooded_frames, c1.encap_frames, c1.decap_frames),
            (0, 1, 1)
        );
    }
}

#[test]
fn three_vteps_replicate_broadcast_once_each_then_stop_flooding() {
    let mut f = Fabric::new(3, |n| n);
    f.send(
        0,
        P0,
        &arp(ArpOperation::Request, (mac(1), host_ip(1)), host_ip(3)),
    );
    let mut receivers: Vec<usize> = f.take_delivered().iter().map(|d| d.vtep).collect();
    receivers.sort();
    assert_eq!(receivers, [1, 2], "each peer gets exactly one copy");
    assert_eq!(f.take_wire().len(), 2);
    // Host 3 answers; from now on 0 and 2 talk unicast.
    f.send(2, P0, &frame(mac(3), mac(1), 46));
    for _ in 0..10 {
        f.send(0, P0, &frame(mac(1), mac(3), 46));
        f.send(2, P0, &frame(mac(3), mac(1), 46));
    }
    let wire = f.take_wire();
    assert!(
        wire.iter().all(|(_, to, _)| *to != underlay(2)),
        "VTEP 1 hears nothing more"
    );
    assert_eq!(f.vteps[0].counters(VNI).unwrap().flooded_frames, 1);
    assert_eq!(f.vteps[2].counters(VNI).unwrap().flooded_frames, 0);
    assert_eq!(f.vteps[1].counters(VNI).unwrap().decap_frames, 1);
}

#[test]
fn a_migrated_host_is_followed_after_its_gratuitous_arp() {
    let mut f = Fabric::new(3, |n| n);
    // Host 9 lives behind VTEP 1 and talks to host 1 behind VTEP 0.
    f.send(1, P0, &frame(mac(9), mac(1), 46));
    assert_eq!(
        f.vteps[0].fdb().lookup(VNI, &mac(9)).unwrap().dest,
        Destination::Remote(underlay(2))
    );
    // It moves to VTEP 2 and announces itself with a gratuitous ARP.
    f.advance(Duration::from_secs(5));
    f.send(
        2,
        P0,
        &arp(ArpOperation::Request, (mac(9), host_ip(9)), host_ip(9)),
    );
    let entry = f.vteps[0].fdb().lookup(VNI, &mac(9)).unwrap();
    assert_eq!(entry.dest, Destination::Remote(underlay(3)));
    assert_eq!(entry.mobility_seq, 1);
    assert!(f.events.iter().any(|(i, e)| *i == 0
        && *e
            == Event::Moved {
                vni: VNI,
                mac: mac(9),
                from: Destination::Remote(underlay(2)),
                to: Destination::Remote(underlay(3)),
                seq: 1
            }));
    // Traffic to it now goes to VTEP 2 only.
    f.take_wire();
    f.send(0, P0, &frame(mac(1), mac(9), 46));
    let wire = f.take_wire();
    assert_eq!(wire.len(), 1);
    assert_eq!(wire[0].1, underlay(3));
}

#[test]
fn arp_suppression_answers_locally_and_sends_nothing() {
    let mut f = Fabric::new(2, |n| NetworkConfig {
        arp_proxy: true,
        ..n
    });
    f.vteps[0]
        .add_static_neighbour(f.now, VNI, host_ip(2), mac(2))
        .unwrap();
    f.send(
        0,
        P0,
        &arp(ArpOperation::Request, (mac(1), host_ip(1)), host_ip(2)),
    );
    assert!(f.take_wire().is_empty(), "no ARP crosses the underlay");
    let delivered = f.take_delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!((delivered[0].vtep, delivered[0].port), (0, P0));
    let eth = EthernetFrame::new_checked(&delivered[0].frame[..]).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (mac(2), mac(1)));
    let reply = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    assert_eq!(
        reply,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: mac(2),
            source_protocol_addr: host_ip(2),
            target_hardware_addr: mac(1),
            target_protocol_addr: host_ip(1),
        }
    );
    assert_eq!(f.vteps[0].counters(VNI).unwrap().arp_suppressed, 1);
    // An unknown IP is flooded as usual.
    f.send(
        0,
        P0,
        &arp(ArpOperation::Request, (mac(1), host_ip(1)), host_ip(7)),
    );
    assert_eq!(f.take_wire().len(), 1);
}

#[test]
fn frames_over_the_underlay_mtu_are_dropped_not_fragmented() {
    let mut f = Fabric::new(2, |n| n);
    // 1500-byte underlay - 50 bytes of VXLAN/UDP/IPv4 overhead: inner IP packets up to 1450.
    f.send(0, P0, &frame(mac(1), mac(2), 1450));
    assert_eq!(f.take_delivered().len(), 1);
    f.send(0, P0, &frame(mac(1), mac(2), 1451));
    assert!(f.take_delivered().is_empty());
    let drops = f.vteps[0].counters(VNI).unwrap().drops;
    assert_eq!(drops.get(DropReason::TooBig), 1);
}

#[test]
fn a_tenant_over_its_rate_is_limited_while_another_is_not() {
    // S7: tenant 5001 is capped at 1 Mbit/s, tenant 5002 is not.
    let other = Vni::new(5002).unwrap();
    let mut f = Fabric::new(2, |n| NetworkConfig {
        rate_limit: Some(RateLimit {
            bytes_per_sec: 125_000,
            burst_bytes: 3_000,
        }),
        ..n
    });
    for (i, v) in f.vteps.iter_mut().enumerate() {
        v.add_network(NetworkConfig::new(other), Instant::ZERO)
            .unwrap();
        assert_eq!(v.add_port(other).unwrap(), PortId(1));
        v.add_flood_peer(other, underlay(2 - i as u8)).unwrap();
    }
    // Both offer 1000-byte frames every millisecond (8 Mbit/s) for one second.
    for _ in 0..1000 {
        f.send(0, P0, &frame(mac(1), mac(2), 986));
        f.send(0, PortId(1), &frame(mac(1), mac(2), 986));
        f.advance(Duration::from_millis(1));
    }
    let capped = f.vteps[0].counters(VNI).unwrap();
    let free = f.vteps[0].counters(other).unwrap();
    assert_eq!(free.encap_frames, 1000);
    assert_eq!(free.drops.total(), 0);
    // 1 Mbit/s is 125 frames of 1000 bytes per second, plus the 3-frame burst.
    assert!(
        (120..=130).contains(&capped.encap_frames),
        "{}",
        capped.encap_frames
    );
    assert_eq!(
        capped.drops.get(DropReason::RateLimited),
        1000 - capped.encap_frames
    );
}

#[test]
fn learned_entries_age_out_on_timeout() {
    let mut f = Fabric::new(2, |n| n);
    f.send(1, P0, &frame(mac(2), mac(1), 46));
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(2)).is_some());
    f.advance(Duration::from_secs(299));
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(2)).is_some());
    f.advance(Duration::from_secs(2));
    assert!(f.vteps[0].fdb().lookup(VNI, &mac(2)).is_none());
    assert!(f.events.iter().any(|(i, e)| *i == 0
        && *e
            == Event::AgedOut {
                vni: VNI,
                mac: mac(2),
                dest: Destination::Remote(underlay(2))
            }));
}

#[test]
fn local_ports_switch_without_encapsulation() {
    let mut f = Fabric::new(2, |n| n);
    let p1 = f.vteps[0].add_port(VNI).unwrap();
    f.send(0, p1, &frame(mac(5), mac(1), 46)); // flooded: VTEP 0 port 0 and VTEP 1
    f.take_delivered();
    f.take_wire();
    f.send(0, P0, &frame(mac(1), mac(5), 46));
    assert_eq!(
        f.take_delivered()
            .iter()
            .map(|d| (d.vtep, d.port))
            .collect::<Vec<_>>(),
        [(0, p1)]
    );
    assert!(f.take_wire().is_empty());
    // And a frame to the port it came from goes nowhere.
    f.send(0, P0, &frame(mac(1), mac(1), 46));
    assert_eq!(
        f.vteps[0]
            .counters(VNI)
            .unwrap()
            .drops
            .get(DropReason::SamePort),
        1
    );
}

#[test]
fn tagged_inner_frames_follow_the_vlan_policy() {
    let tagged = {
        let plain = frame(mac(1), mac(2), 46);
        let mut t = plain[..12].to_vec();
        t.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]); // VLAN 100
        t.extend_from_slice(&plain[12..]);
        t
    };
    let mut f = Fabric::new(2, |n| n);
    f.send(0, P0, &tagged);
    assert!(f.take_delivered().is_empty());
    assert_eq!(
        f.vteps[0]
            .counters(VNI)
            .unwrap()
            .drops
            .get(DropReason::InnerVlanTag),
        1
    );
    let mut f = Fabric::new(2, |n| NetworkConfig {
        inner_vlan: InnerVlanPolicy::Strip,
        ..n
    });
    f.send(0, P0, &tagged);
    assert_eq!(f.take_delivered()[0].frame, frame(mac(1), mac(2), 46));
}

#[test]
fn hostile_underlay_input_is_counted_by_reason() {
    let mut f = Fabric::with_config(
        2,
        |n| n,
        |c| VtepConfig {
            accept_peers: Some(vec![underlay(2)]),
            ..c
        },
    );
    let good = {
        f.send(1, P0, &frame(mac(2), mac(1), 46));
        let (_, _, packet) = f.take_wire().pop().unwrap();
        packet
    };
    let (outer_repr, payload) = outer::parse(&good).unwrap();
    let deliver = |f: &mut Fabric, from: IpAddress, bytes: &mut [u8], range| {
        f.vteps[0].handle_input(
            f.now,
            Input::Underlay {
                from,
                transport: outer_repr.transport,
                buf: bytes,
                payload: range,
            },
        );
        while !matches!(f.vteps[0].poll_output(), Output::Timeout(_)) {}
    };
    let mut bytes = good.clone();
    type Mutation<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;
    let cases: Vec<(Mutation<'_>, IpAddress, DropReason)> = vec![
        (
            Box::new(|b| b.truncate(payload.start + 4)),
            underlay(2),
            DropReason::MalformedTunnel,
        ),
        (
            Box::new(|b| b[payload.start] = 0),
            underlay(2),
            DropReason::BadFlags,
        ),
        (
            Box::new(|b| b[payload.start + 6] = 0x77),
            underlay(2),
            DropReason::UnknownVni,
        ),
        (
            Box::new(|b| b.truncate(payload.start + 8 + 10)),
            underlay(2),
            DropReason::TruncatedFrame,
        ),
        (Box::new(|_| {}), underlay(9), DropReason::NotAPeer),
    ];
    for (mutate, from, reason) in cases {
        bytes.clone_from(&good);
        mutate(&mut bytes);
        let end = bytes.len();
        let before = f.vteps[0].global_counters().drops.get(reason)
            + f.vteps[0].counters(VNI).unwrap().drops.get(reason);
        deliver(&mut f, from, &mut bytes, payload.start..end);
        let after = f.vteps[0].global_counters().drops.get(reason)
            + f.vteps[0].counters(VNI).unwrap().drops.get(reason);
        assert_eq!(after, before + 1, "{reason}");
    }
    // The good datagram still goes through afterwards.
    f.take_delivered();
    let end = good.len();
    bytes.clone_from(&good);
    deliver(&mut f, underlay(2), &mut bytes, payload.start..end);
    assert_eq!(f.vteps[0].counters(VNI).unwrap().decap_frames, 2);
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Two tenants use the same MACs on two VNIs; nothing of one ever reaches the other.
        #[test]
        fn tenants_never_see_each_other(
            frames in proptest::collection::vec((0usize..2, 0usize..2, 1u8..4, 0u8..5, 0usize..80), 1..40)
        ) {
            let vnis = [Vni::new(100).unwrap(), Vni::new(200).unwrap()];
            let mut f = Fabric::new(2, |n| n);
            let mut port_vni = std::collections::HashMap::new();
            for (i, v) in f.vteps.iter_mut().enumerate() {
                for vni in vnis {
                    v.add_network(NetworkConfig::new(vni), Instant::ZERO).unwrap();
                    let port = v.add_port(vni).unwrap();
                    port_vni.insert((i, port), vni);
                    v.add_flood_peer(vni, underlay(2 - i as u8)).unwrap();
                }
            }
            for (vtep, tenant, src, dst, len) in frames {
                let vni = vnis[tenant];
                let port = f.vteps[vtep].ports(vni)[0];
                // The payload carries the VNI it was sent on.
                let mut bytes = frame(mac(src), if dst == 0 { EthernetAddress::BROADCAST } else { mac(dst) }, len);
                bytes.extend_from_slice(&vni.get().to_be_bytes());
                f.send(vtep, port, &bytes);
                for d in f.take_delivered() {
                    let got = port_vni[&(d.vtep, d.port)];
                    let tail = &d.frame[d.frame.len() - 4..];
                    prop_assert_eq!(u32::from_be_bytes(tail.try_into().unwrap()), got.get());
                }
            }
        }

        /// Arbitrary bytes from the underlay or a port never panic, and every one is counted.
        #[test]
        fn garbage_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            from_port in any::<bool>(),
            dst_port in prop_oneof![Just(4789u16), Just(6081), any::<u16>()],
            gre in any::<bool>(),
        ) {
            let mut f = Fabric::new(2, |n| n);
            let mut buf = vec![0u8; MAX_HEADROOM];
            buf.extend_from_slice(&data);
            let range = MAX_HEADROOM..buf.len();
            let input = if from_port {
                Input::Local { port: P0, buf: &mut buf, frame: range }
            } else {
                let transport = if gre {
                    outer::Transport::Gre
                } else {
                    outer::Transport::Udp { src_port: 50000, dst_port }
                };
                Input::Underlay { from: underlay(2), transport, buf: &mut buf, payload: range }
            };
            f.vteps[0].handle_input(f.now, input);
            let mut outputs = 0;
            while !matches!(f.vteps[0].poll_output(), Output::Timeout(_)) {
                outputs += 1;
                prop_assert!(outputs < 100);
            }
            let c = f.vteps[0].counters(VNI).unwrap();
            let handled = c.drops.total() + f.vteps[0].global_counters().drops.total()
                + c.local_tx_frames + c.encap_frames;
            prop_assert!(handled >= 1, "every input is forwarded or counted as dropped");
        }
    }
}

#[test]
fn a_full_fdb_drops_new_sources_only_when_asked() {
    for drop_when_full in [false, true] {
        let mut f = Fabric::with_config(
            2,
            |n| n,
            |mut c| {
                c.fdb.max_entries = 4;
                c.fdb.drop_when_full = drop_when_full;
                c
            },
        );
        // A burst of 20 random source MACs from behind VTEP 1; VTEP 0's table holds 4.
        for n in 0..20 {
            f.send(1, P0, &frame(mac(100 + n), EthernetAddress::BROADCAST, 46));
        }
        // The ingress VTEP meets the limit first: 4 learned, 16 not.
        let ingress = *f.vteps[1].counters(VNI).unwrap();
        assert_eq!((ingress.learned, ingress.fdb_full), (4, 16));
        let delivered = f.take_delivered().iter().filter(|d| d.vtep == 0).count();
        let expect = if drop_when_full { 4 } else { 20 };
        assert_eq!(delivered, expect, "drop_when_full = {drop_when_full}");
        let dropped: u64 = f
            .vteps
            .iter()
            .map(|v| v.counters(VNI).unwrap().drops.get(DropReason::FdbFull))
            .sum();
        assert_eq!(dropped, 20 - expect as u64);
        // A known host still gets through when the table is full.
        f.send(1, P0, &frame(mac(100), mac(1), 46));
        assert_eq!(f.take_delivered().len(), 1);
    }
}
