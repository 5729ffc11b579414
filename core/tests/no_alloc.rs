//! The steady-state data path allocates nothing. `allocation_counter::measure` (a counting
//! global allocator, per thread) watches every branch of the engine's data path, each after a
//! warm-up that learned the MACs involved: flooding to two peers, unicast encapsulation and
//! decapsulation over VXLAN, Geneve and NVGRE, over an IPv4 and an IPv6 underlay, an ARP
//! request and an IPv6 Neighbour Solicitation answered by the proxy (and a malformed one
//! dropped), rate-limited drops, a datagram to an unknown port, and
//! learned entries ageing out and being learned again. Each case also checks that the branch
//! really ran (its counter moved), so a test that stopped reaching it would fail.
#![cfg(not(target_arch = "wasm32"))] // watches the global allocator of a native test process

use vtep_core::PortId;
use vtep_core::fdb::FdbConfig;
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{
    DropReason, Encapsulation, Input, NetworkConfig, NetworkCounters, Output, Vtep, VtepConfig,
};
use vtep_core::wire::ndisc::Solicitation;
use vtep_core::wire::outer::{self, MAX_HEADROOM, Transport};
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, IpAddress, Ipv4Address, Ipv6Address,
};
use vtep_core::{Duration, Instant, Vni};

const VNI: Vni = Vni::from_u24_truncating(42);
const PORT: PortId = PortId(0);
const ROUNDS: usize = 500;
const IPV4: [u8; 2] = [0x08, 0x00];
const ARP: [u8; 2] = [0x08, 0x06];

fn ipv4(n: u8) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n))
}

fn ipv6(n: u8) -> IpAddress {
    IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(n)))
}

fn host(n: u8) -> EthernetAddress {
    EthernetAddress([2, 0, 0, 0, 0, n])
}

/// What one drain of a VTEP produced.
#[derive(Default, Debug)]
struct Drained {
    transmits: usize,
    delivers: usize,
}

/// Two VTEPs `a` (address 1) and `b` (address 2), one port each in one network, flooding to each
/// other and to a third address; buffers allocated once, as a driver would.
struct Pair {
    vteps: [Vtep; 2],
    now: Instant,
    buf: Vec<u8>,
    /// The last datagram transmitted, outer IP header first.
    wire: Vec<u8>,
    wire_len: usize,
}

impl Pair {
    fn new(
        address: fn(u8) -> IpAddress,
        vtep: impl Fn(VtepConfig) -> VtepConfig,
        network: impl Fn(NetworkConfig) -> NetworkConfig,
    ) -> Pair {
        let now = Instant::ZERO;
        let make = |me: u8, peer: u8| {
            let mut v = Vtep::new(vtep(VtepConfig::new(address(me))), now).unwrap();
            v.add_network(network(NetworkConfig::new(VNI)), now)
                .unwrap();
            assert_eq!(v.add_port(VNI).unwrap(), PORT);
            v.add_flood_peer(VNI, address(peer)).unwrap();
            v.add_flood_peer(VNI, address(3)).unwrap();
            v
        };
        Pair {
            vteps: [make(1, 2), make(2, 1)],
            now,
            buf: vec![0; MAX_HEADROOM + 1514],
            wire: vec![0; 2048],
            wire_len: 0,
        }
    }

    /// A frame of `len` bytes from local host `src` to `dst` into VTEP `at`'s port.
    fn send_from_host(
        &mut self,
        at: usize,
        src: u8,
        dst: EthernetAddress,
        ethertype: [u8; 2],
        len: usize,
    ) -> Drained {
        let f = &mut self.buf[MAX_HEADROOM..];
        f[..6].copy_from_slice(&dst.0);
        f[6..12].copy_from_slice(&host(src).0);
        f[12..14].copy_from_slice(&ethertype);
        self.local(at, len)
    }

    /// The frame already in the buffer (its first `len` bytes after the headroom) into `at`.
    fn local(&mut self, at: usize, len: usize) -> Drained {
        let frame = MAX_HEADROOM..MAX_HEADROOM + len;
        self.vteps[at].handle_input(
            self.now,
            Input::Local {
                port: PORT,
                buf: &mut self.buf,
                frame,
            },
        );
        self.drain(at)
    }

    /// The last transmitted datagram into the other VTEP.
    fn pass_to_peer(&mut self, from: usize) -> Drained {
        let (outer_repr, payload) = outer::parse(&self.wire[..self.wire_len]).unwrap();
        let end = payload.end;
        self.vteps[1 - from].handle_input(
            self.now,
            Input::Underlay {
                from: outer_repr.src,
                transport: outer_repr.transport,
                buf: &mut self.wire[..end],
                payload,
            },
        );
        self.drain(1 - from)
    }

    /// Drains every output of VTEP `at`, carrying out transmits into `wire` like a driver.
    fn drain(&mut self, at: usize) -> Drained {
        let mut drained = Drained::default();
        loop {
            match self.vteps[at].poll_output() {
                Output::Transmit(t) => {
                    // An underlay datagram's payload lives in `buf` after a local input, in
                    // `wire` after an underlay one (never forwarded back: split horizon).
                    let whole = t.outer.emit(&mut self.buf, t.payload.clone()).unwrap();
                    self.wire_len = whole.len();
                    self.wire[..whole.len()].copy_from_slice(&self.buf[whole]);
                    drained.transmits += 1;
                }
                Output::Deliver(_) => drained.delivers += 1,
                Output::Event(_) => {}
                Output::Timeout(_) => return drained,
            }
        }
    }

    fn counters(&self, at: usize) -> NetworkCounters {
        *self.vteps[at].counters(VNI).unwrap()
    }
}

/// Runs `round` `ROUNDS` times (after one warm-up round) and returns how many allocations the
/// measured rounds made.
fn allocations(pair: &mut Pair, mut round: impl FnMut(&mut Pair)) -> u64 {
    round(pair);
    allocation_counter::measure(|| {
        for _ in 0..ROUNDS {
            pair.now += Duration::from_millis(10);
            round(pair);
        }
    })
    .count_total
}

/// A broadcast each way, flooded to both peers (each VTEP learns the other's host), then a
/// unicast each way; every datagram decapsulated by the other VTEP.
fn flood_and_unicast(p: &mut Pair) {
    assert_eq!(
        p.send_from_host(0, 1, EthernetAddress::BROADCAST, IPV4, 100)
            .transmits,
        2
    );
    assert_eq!(p.pass_to_peer(0).delivers, 1);
    assert_eq!(
        p.send_from_host(1, 2, EthernetAddress::BROADCAST, IPV4, 100)
            .transmits,
        2
    );
    assert_eq!(p.pass_to_peer(1).delivers, 1);
    assert_eq!(p.send_from_host(0, 1, host(2), IPV4, 1000).transmits, 1);
    assert_eq!(p.pass_to_peer(0).delivers, 1);
    assert_eq!(p.send_from_host(1, 2, host(1), IPV4, 1000).transmits, 1);
    assert_eq!(p.pass_to_peer(1).delivers, 1);
}

#[test]
fn vxlan_over_ipv4_floods_encapsulates_decapsulates_and_drops_without_allocating() {
    let mut p = Pair::new(ipv4, |v| v, |n| n);
    let made = allocations(&mut p, |p| {
        flood_and_unicast(p);
        // A datagram to a UDP port that is neither VXLAN's nor Geneve's: a counted drop.
        let b = &mut p.vteps[1];
        b.handle_input(
            p.now,
            Input::Underlay {
                from: ipv4(1),
                transport: Transport::Udp {
                    src_port: 1,
                    dst_port: 9,
                },
                buf: &mut p.wire[..64],
                payload: 0..64,
            },
        );
        assert_eq!(p.drain(1).transmits, 0);
    });
    assert_eq!(made, 0, "the data path allocated {made} times");
    let rounds = ROUNDS as u64 + 1;
    assert_eq!(p.counters(1).decap_frames, 2 * rounds);
    assert_eq!(p.counters(0).flood_copies, 2 * rounds);
    assert_eq!(p.counters(0).decap_frames, 2 * rounds);
    assert_eq!(
        p.vteps[1]
            .global_counters()
            .drops
            .get(DropReason::UnknownUdpPort),
        rounds
    );
}

#[test]
fn geneve_and_nvgre_encapsulate_and_decapsulate_without_allocating() {
    for encapsulation in [Encapsulation::Geneve, Encapsulation::Nvgre] {
        let mut p = Pair::new(ipv4, |v| v, |n| NetworkConfig { encapsulation, ..n });
        let made = allocations(&mut p, flood_and_unicast);
        assert_eq!(made, 0, "{encapsulation}: allocated {made} times");
        assert_eq!(
            p.counters(1).decap_frames,
            2 * (ROUNDS as u64 + 1),
            "{encapsulation}"
        );
    }
}

#[test]
fn an_ipv6_underlay_does_not_allocate() {
    let mut p = Pair::new(ipv6, |v| v, |n| n);
    let made = allocations(&mut p, flood_and_unicast);
    assert_eq!(made, 0, "allocated {made} times");
    assert_eq!(p.counters(1).decap_frames, 2 * (ROUNDS as u64 + 1));
}

/// A pair over IPv4 with ARP and ND suppression on, where VTEP 0 has `known` as a static
/// neighbour at host 2's MAC.
fn proxy_pair(known: IpAddress) -> Pair {
    let mut p = Pair::new(
        ipv4,
        |v| v,
        |n| NetworkConfig {
            arp_proxy: true,
            ..n
        },
    );
    p.vteps[0]
        .add_static_neighbour(p.now, VNI, known, host(2))
        .unwrap();
    p
}

#[test]
fn an_arp_request_answered_by_the_proxy_does_not_allocate() {
    let (asker, known) = (
        Ipv4Address::new(192, 168, 0, 1),
        Ipv4Address::new(192, 168, 0, 2),
    );
    let mut p = proxy_pair(known.into());
    let request = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: host(1),
        source_protocol_addr: asker,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: known,
    };
    let mut arp = [0u8; 28];
    request.emit(&mut ArpPacket::new_unchecked(&mut arp[..]));
    let made = allocations(&mut p, |p| {
        let f = &mut p.buf[MAX_HEADROOM..];
        f[..6].copy_from_slice(&EthernetAddress::BROADCAST.0);
        f[6..12].copy_from_slice(&host(1).0);
        f[12..14].copy_from_slice(&ARP);
        f[14..42].copy_from_slice(&arp);
        let answered = p.local(0, 60);
        assert_eq!((answered.transmits, answered.delivers), (0, 1));
    });
    assert_eq!(made, 0, "allocated {made} times");
    assert_eq!(p.counters(0).arp_suppressed, ROUNDS as u64 + 1);
}

#[test]
fn a_neighbour_solicitation_answered_by_the_proxy_does_not_allocate() {
    let (asker, known) = (
        Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 1),
        Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 2),
    );
    let mut p = proxy_pair(known.into());
    let o = known.octets();
    let ns = Solicitation {
        eth_src: host(1),
        eth_dst: EthernetAddress([0x33, 0x33, 0xff, o[13], o[14], o[15]]),
        src: asker,
        dst: Ipv6Address::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2),
        traffic_class: 0,
        target: known,
        source_lladdr: Some(host(1)),
    };
    let len = ns.buffer_len();
    let mut frame = vec![0u8; len];
    ns.emit(&mut frame);
    let made = allocations(&mut p, |p| {
        // Written again each round: the answer replaced it in the buffer.
        p.buf[MAX_HEADROOM..MAX_HEADROOM + len].copy_from_slice(&frame);
        let answered = p.local(0, len);
        assert_eq!((answered.transmits, answered.delivers), (0, 1));
        // The same with a bad hop limit: dropped, counted.
        p.buf[MAX_HEADROOM..MAX_HEADROOM + len].copy_from_slice(&frame);
        p.buf[MAX_HEADROOM + 21] = 64;
        let dropped = p.local(0, len);
        assert_eq!((dropped.transmits, dropped.delivers), (0, 0));
    });
    assert_eq!(made, 0, "allocated {made} times");
    let c = p.counters(0);
    assert_eq!(c.nd_suppressed, ROUNDS as u64 + 1);
    assert_eq!(c.drops.get(DropReason::MalformedNd), ROUNDS as u64 + 1);
}

#[test]
fn rate_limited_drops_do_not_allocate() {
    let limit = RateLimit {
        bytes_per_sec: 100_000,
        burst_bytes: 3_000,
    };
    let mut p = Pair::new(
        ipv4,
        |v| v,
        |n| NetworkConfig {
            rate_limit: Some(limit),
            ..n
        },
    );
    let made = allocations(&mut p, |p| {
        // Four 1000-byte frames at once against a 3000-byte burst, refilled by 1000 bytes
        // every 10 ms round: some pass, the rest are dropped.
        for _ in 0..4 {
            p.send_from_host(0, 1, host(2), IPV4, 1000);
        }
    });
    assert_eq!(made, 0, "allocated {made} times");
    let c = p.counters(0);
    assert!(c.encap_frames > ROUNDS as u64, "{c:?}");
    assert!(
        c.drops.get(DropReason::RateLimited) > ROUNDS as u64,
        "{c:?}"
    );
}

#[test]
fn ageing_out_and_learning_again_does_not_allocate() {
    let ageing = |v: VtepConfig| VtepConfig {
        fdb: FdbConfig {
            ageing: Duration::from_millis(500),
            ..v.fdb
        },
        sweep_interval: Duration::from_millis(100),
        ..v
    };
    let mut p = Pair::new(ipv4, ageing, |n| n);
    let made = allocations(&mut p, |p| {
        // Host 1 talks, then falls silent for longer than the ageing time: both VTEPs forget
        // it, and learn it again on the next round.
        flood_and_unicast(p);
        p.now += Duration::from_secs(1);
        p.vteps[0].handle_input(p.now, Input::Timeout);
        p.vteps[1].handle_input(p.now, Input::Timeout);
        p.drain(0);
        p.drain(1);
    });
    assert_eq!(made, 0, "allocated {made} times");
    let rounds = ROUNDS as u64 + 1;
    assert!(p.counters(1).aged_out >= 2 * rounds, "{:?}", p.counters(1));
    assert!(p.counters(1).learned >= 2 * rounds, "{:?}", p.counters(1));
}

/// The instrument itself: an allocation inside `measure` is seen (otherwise every zero above
/// would prove nothing).
#[test]
fn the_counter_sees_an_allocation() {
    let info = allocation_counter::measure(|| {
        std::hint::black_box(vec![0u8; 64]);
    });
    assert_eq!(info.count_total, 1);
}
