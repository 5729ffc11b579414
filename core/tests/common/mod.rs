//! The test harness shared by the engine, hostile-input and isolation tests: frame builders and
//! `Fabric`, a small deterministic underlay. Every transmit is given real outer IP/UDP headers
//! (`OuterRepr::emit`), parsed back (`outer::parse`) and handed to the VTEP that owns the
//! destination address.
#![allow(dead_code)]

// Every test binary that shares this harness runs in the browser under `wasm-pack test`.
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(not(target_arch = "wasm32"))] // runs the tshark program: native only
pub mod tshark;

use std::collections::VecDeque;

use vtep_core::vtep::{DropReason, Event, Input, NetworkConfig, Output, Vtep, VtepConfig};
use vtep_core::wire::ndisc::{Advertisement, NeighborFlags, Solicitation};
use vtep_core::wire::outer::{self, MAX_HEADROOM};
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, Ipv4Address, Ipv6Address,
};
use vtep_core::{Duration, Instant, PortId, Vni};

pub const VNI: Vni = Vni::from_u24_truncating(5001);

pub fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, n])
}

pub fn underlay(n: u8) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n))
}

pub fn host_ip(n: u8) -> Ipv4Address {
    Ipv4Address::new(192, 168, 1, n)
}

/// Host `n`'s IPv6 address in the overlay, `fd42::n`.
pub fn host_ip6(n: u8) -> Ipv6Address {
    Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, u16::from(n))
}

/// The solicited-node multicast group of `ip` and its MAC (RFC 4291, RFC 2464).
pub fn solicited_node(ip: Ipv6Address) -> (Ipv6Address, EthernetAddress) {
    let o = ip.octets();
    let group = Ipv6Address::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    );
    (
        group,
        EthernetAddress([0x33, 0x33, 0xff, o[13], o[14], o[15]]),
    )
}

/// The Neighbour Solicitation host `from` (`src` at `mac`) sends for `target`: to its
/// solicited-node group, with a source link-layer address option.
pub fn ns(mac: EthernetAddress, src: Ipv6Address, target: Ipv6Address) -> Solicitation {
    let (group, group_mac) = solicited_node(target);
    Solicitation {
        eth_src: mac,
        eth_dst: group_mac,
        src,
        dst: group,
        traffic_class: 0,
        target,
        source_lladdr: Some(mac),
    }
}

/// A duplicate address detection probe from `mac` for `target`.
pub fn dad_probe(mac: EthernetAddress, target: Ipv6Address) -> Solicitation {
    Solicitation {
        src: Ipv6Address::UNSPECIFIED,
        source_lladdr: None,
        ..ns(mac, Ipv6Address::UNSPECIFIED, target)
    }
}

/// An unsolicited Neighbour Advertisement to all nodes: `ip` is at `mac` (override set), as a
/// host sends after a move.
pub fn unsolicited_na(mac: EthernetAddress, ip: Ipv6Address) -> Advertisement {
    Advertisement {
        eth_src: mac,
        eth_dst: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
        src: ip,
        dst: Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        traffic_class: 0,
        flags: NeighborFlags::OVERRIDE,
        target: ip,
        target_lladdr: Some(mac),
    }
}

/// The frame of a solicitation.
pub fn ns_frame(ns: &Solicitation) -> Vec<u8> {
    let mut out = vec![0u8; ns.buffer_len()];
    ns.emit(&mut out);
    out
}

/// The frame of an advertisement.
pub fn na_frame(na: &Advertisement) -> Vec<u8> {
    let mut out = vec![0u8; na.buffer_len()];
    na.emit(&mut out);
    out
}

/// An Ethernet frame with `payload_len` bytes of payload.
pub fn frame(src: EthernetAddress, dst: EthernetAddress, payload_len: usize) -> Vec<u8> {
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

pub fn arp(op: ArpOperation, src: (EthernetAddress, Ipv4Address), target: Ipv4Address) -> Vec<u8> {
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
pub enum Work {
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
pub struct Delivered {
    pub vtep: usize,
    pub port: PortId,
    pub frame: Vec<u8>,
}

/// N VTEPs on one underlay segment, driven to quiescence after every input.
pub struct Fabric {
    pub vteps: Vec<Vtep>,
    pub now: Instant,
    pub delivered: Vec<Delivered>,
    pub events: Vec<(usize, Event)>,
    /// Every underlay IP packet: (from VTEP index, to address, bytes).
    pub wire: Vec<(usize, IpAddress, Vec<u8>)>,
}

impl Fabric {
    /// `n` VTEPs at 10.0.0.1.. with VNI 5001 configured by `network`, one port each, and a
    /// full-mesh flood list.
    pub fn new(n: u8, network: impl Fn(NetworkConfig) -> NetworkConfig) -> Fabric {
        Self::with_config(n, network, |c| c)
    }

    pub fn with_config(
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

    pub fn send(&mut self, vtep: usize, port: PortId, frame: &[u8]) {
        self.run(Work::Local {
            vtep,
            port,
            frame: frame.to_vec(),
        });
    }

    /// Host 1 (`mac(1)`, `host_ip(1)`), on VTEP 0's port 0, broadcasts an ARP request for
    /// `target`.
    pub fn who_has(&mut self, target: Ipv4Address) {
        self.send(
            0,
            P0,
            &arp(ArpOperation::Request, (mac(1), host_ip(1)), target),
        );
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        for i in 0..self.vteps.len() {
            self.vteps[i].handle_input(self.now, Input::Timeout);
            self.drain(i, &[]);
        }
    }

    pub fn run(&mut self, first: Work) {
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
            for (to, packet) in self.drain(i, &buf) {
                self.wire.push((i, to, packet.clone()));
                queue.push_back(Work::Underlay { to, packet });
            }
            buf.clear();
        }
    }

    /// Carries out every output of VTEP `i` for the input whose buffer is `buf`: deliveries and
    /// events are recorded, the datagrams it transmits (outer headers emitted) returned with
    /// their destinations.
    fn drain(&mut self, i: usize, buf: &[u8]) -> Vec<(IpAddress, Vec<u8>)> {
        let mut sent = Vec::new();
        loop {
            match self.vteps[i].poll_output() {
                Output::Transmit(t) => {
                    let mut packet = buf.to_vec();
                    let whole = t.outer.emit(&mut packet, t.payload.clone()).unwrap();
                    sent.push((t.outer.dst, packet[whole].to_vec()));
                }
                Output::Deliver(d) => self.delivered.push(Delivered {
                    vtep: i,
                    port: d.port,
                    frame: buf[d.frame].to_vec(),
                }),
                Output::Event(e) => self.events.push((i, e)),
                Output::Timeout(_) => return sent,
            }
        }
    }

    pub fn take_delivered(&mut self) -> Vec<Delivered> {
        std::mem::take(&mut self.delivered)
    }

    pub fn take_wire(&mut self) -> Vec<(usize, IpAddress, Vec<u8>)> {
        std::mem::take(&mut self.wire)
    }

    /// Hands `payload` (tunnel header onward) to VTEP `vtep` as a datagram from `from`, as a
    /// driver would after reading it from a socket, and carries out the outputs. Whatever it
    /// transmits is recorded in `wire` but not delivered further.
    pub fn underlay_input(
        &mut self,
        vtep: usize,
        from: IpAddress,
        transport: outer::Transport,
        payload: &[u8],
    ) {
        let mut buf = vec![0u8; MAX_HEADROOM + payload.len()];
        buf[MAX_HEADROOM..].copy_from_slice(payload);
        let end = buf.len();
        self.vteps[vtep].handle_input(
            self.now,
            Input::Underlay {
                from,
                transport,
                buf: &mut buf,
                payload: MAX_HEADROOM..end,
            },
        );
        for (to, packet) in self.drain(vtep, &buf) {
            self.wire.push((vtep, to, packet));
        }
    }

    /// A VXLAN datagram to VTEP 0 (tunnel header onward), as VTEP 1 sends it for `frame`
    /// from its port 0: returns its payload and transport. Nothing is delivered.
    pub fn datagram_from_1(&mut self, frame: &[u8]) -> (Vec<u8>, outer::Transport) {
        self.send(1, P0, frame);
        let (_, to, packet) = self
            .take_wire()
            .into_iter()
            .find(|(_, to, _)| *to == underlay(1))
            .expect("VTEP 1 sends to VTEP 0");
        assert_eq!(to, underlay(1));
        self.take_delivered();
        let (outer, payload) = outer::parse(&packet).unwrap();
        (packet[payload].to_vec(), outer.transport)
    }
}

/// Every drop counter of a VTEP, global (`None`) and per network, including zeros.
pub fn drops(v: &Vtep) -> Vec<(Option<Vni>, DropReason, u64)> {
    let mut all = Vec::new();
    for reason in DropReason::ALL {
        all.push((None, *reason, v.global_counters().drops.get(*reason)));
    }
    for n in v.networks() {
        for reason in DropReason::ALL {
            let c = v.counters(n.vni).unwrap();
            all.push((Some(n.vni), *reason, c.drops.get(*reason)));
        }
    }
    all
}

/// Asserts that exactly the drop counters in `expect` moved since `before`, by exactly the
/// amounts given: the right reason, charged to the right network (or to none), nothing else.
#[track_caller]
pub fn assert_drops(
    v: &Vtep,
    before: &[(Option<Vni>, DropReason, u64)],
    expect: &[(Option<Vni>, DropReason, u64)],
) {
    let after = drops(v);
    let moved: Vec<(Option<Vni>, DropReason, u64)> = after
        .iter()
        .zip(before)
        .filter(|(a, b)| a.2 != b.2)
        .map(|(a, b)| (a.0, a.1, a.2 - b.2))
        .collect();
    let mut want = expect.to_vec();
    want.retain(|e| e.2 > 0);
    let key = |d: &(Option<Vni>, DropReason, u64)| (d.0.map(|v| v.get()), d.1 as usize);
    want.sort_by_key(key);
    let mut got = moved;
    got.sort_by_key(key);
    assert_eq!(got, want, "drop counters that moved (network, reason, by)");
}

pub const P0: PortId = PortId(0);

/// `n` with ARP and ND suppression on (Linux's `neigh_suppress`), for [`Fabric::new`].
pub fn proxy(n: NetworkConfig) -> NetworkConfig {
    NetworkConfig {
        arp_proxy: true,
        ..n
    }
}
