//! Tenant isolation (issue #7, claim S6) as a property over millions of random frames.
//!
//! A world is four VTEPs, each serving a random subset of four VNIs with six ports assigned
//! random VNIs. The same eight MACs and eight IPs are used in every VNI. Random frames (known
//! and unknown unicast, broadcast, multicast, ARP requests, replies and gratuitous ARP, the odd
//! invalid source) enter from random ports, and random tunnel datagrams (any VNI, served or
//! not, any encapsulation, from peers or strangers) enter from the underlay. Every frame carries
//! a tag naming the VNI it entered on. Invariants, checked on every output:
//!
//! - a frame that entered on VNI X is delivered only to ports of VNI X, with its tag X, and
//!   encapsulated only with VNI X in the tunnel header;
//! - known-unicast forwarding (one port, one peer) and ARP-suppression answers only ever use what
//!   was seen in VNI X: an FDB or neighbour entry of another VNI never answers;
//! - every FDB and neighbour entry, checked by scanning the tables, was learned from traffic of
//!   its own VNI (or configured in it).
//!
//! `isolation_holds_for_a_million_random_frames` runs `VTEP_ISOLATION_FRAMES` frames (default
//! 1,000,000) from a fixed seed and prints how many were checked; `properties` runs the same
//! checker under proptest, smaller, for shrinking.
#![cfg(not(target_arch = "wasm32"))] // millions of frames are for native speed; proptest too

use std::ops::Range;

use vtep_core::vtep::{Encapsulation, Input, NetworkConfig, Output, Vtep, VtepConfig};
use vtep_core::wire::outer::{MAX_HEADROOM, Transport};
use vtep_core::wire::vxlan::ReservedBitsPolicy;
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address, geneve, nvgre, vxlan};
use vtep_core::{Destination, Duration, Instant, Mac, PortId, Vni};

const VNIS: [u32; 4] = [100, 200, 300, 400];
/// Served by nobody: datagrams with it must be dropped.
const UNSERVED: u32 = 999;
const VTEPS: usize = 4;
const PORTS: usize = 6;
/// MACs and IPs per VNI: the same ones in every VNI.
const HOSTS: u64 = 8;
const TAG_MAGIC: u8 = 0xa5;
const STRANGER: IpAddress = IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 99));

/// SplitMix64: fast, deterministic, good enough to pick cases.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

fn vni(v: u32) -> Vni {
    Vni::new(v).unwrap()
}

fn host_mac(n: u64) -> Mac {
    EthernetAddress([0x02, 0, 0, 0, 0, 1 + n as u8])
}

fn host_ip(n: u64) -> Ipv4Address {
    Ipv4Address::new(192, 168, 0, 1 + n as u8)
}

fn address(i: usize) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1 + i as u8))
}

/// One random input, as plain numbers so proptest can generate and shrink it.
#[derive(Clone, Copy, Debug)]
struct FrameSpec {
    /// From the underlay (a tunnel datagram) rather than a port.
    underlay: bool,
    vtep: u8,
    /// A port index (local), or the sender: another VTEP or a stranger (underlay).
    port_or_sender: u8,
    /// Underlay only: index into VNIS, or UNSERVED.
    vni: u8,
    /// Underlay only: which encapsulation the datagram uses.
    encap: u8,
    kind: u8,
    src: u8,
    dst: u8,
    ip_a: u8,
    ip_b: u8,
    len: u8,
}

impl FrameSpec {
    fn random(rng: &mut Rng) -> FrameSpec {
        let mut b = || rng.next() as u8;
        FrameSpec {
            underlay: b().is_multiple_of(5),
            vtep: b(),
            port_or_sender: b(),
            vni: b(),
            encap: b(),
            kind: b(),
            src: b(),
            dst: b(),
            ip_a: b(),
            ip_b: b(),
            len: b(),
        }
    }
}

/// What each VTEP has legitimately seen, per VNI: the ground truth the tables are held to.
/// Dense bit tables over the small universe of the test (VNIs, host MACs, ports and
/// addresses): a lookup per output must not cost more than the engine's own work.
struct Seen {
    /// `(vni, mac, where)`: a frame from `mac` entered on `vni` from there.
    fdb: Vec<bool>,
    /// `(vni, ip, mac)`: an ARP on `vni` said `ip` is at `mac` (or a static entry).
    neigh: Vec<bool>,
}

const VNI_SLOTS: usize = VNIS.len() + 1;
const MAC_SLOTS: usize = HOSTS as usize + 1;
const DEST_SLOTS: usize = PORTS + VTEPS + 1;

fn vni_slot(v: Vni) -> usize {
    VNIS.iter()
        .position(|x| *x == v.get())
        .unwrap_or(VNIS.len())
}

/// Host MACs by number; everything else (multicast sources) shares the last slot.
fn mac_slot(m: &Mac) -> usize {
    let n = usize::from(m.0[5].wrapping_sub(1));
    if n < HOSTS as usize && *m == host_mac(n as u64) {
        n
    } else {
        HOSTS as usize
    }
}

fn dest_slot(d: &Destination) -> usize {
    match d {
        Destination::Local(p) => usize::from(p.0),
        Destination::Remote(ip) => PORTS + (0..VTEPS).find(|i| address(*i) == *ip).unwrap_or(VTEPS),
    }
}

fn ip_slot(ip: &Ipv4Address) -> usize {
    usize::from(ip.octets()[3] - 1)
}

impl Seen {
    fn new() -> Seen {
        Seen {
            fdb: vec![false; VNI_SLOTS * MAC_SLOTS * DEST_SLOTS],
            neigh: vec![false; VNI_SLOTS * HOSTS as usize * MAC_SLOTS],
        }
    }

    fn fdb_index(v: Vni, m: &Mac, d: &Destination) -> usize {
        (vni_slot(v) * MAC_SLOTS + mac_slot(m)) * DEST_SLOTS + dest_slot(d)
    }

    fn neigh_index(v: Vni, ip: &Ipv4Address, m: &Mac) -> usize {
        (vni_slot(v) * HOSTS as usize + ip_slot(ip)) * MAC_SLOTS + mac_slot(m)
    }

    fn learned(&mut self, v: Vni, m: Mac, d: Destination) {
        self.fdb[Self::fdb_index(v, &m, &d)] = true;
    }

    fn has(&self, v: Vni, m: Mac, d: Destination) -> bool {
        self.fdb[Self::fdb_index(v, &m, &d)]
    }

    fn announced(&mut self, v: Vni, ip: Ipv4Address, m: Mac) {
        self.neigh[Self::neigh_index(v, &ip, &m)] = true;
    }

    fn has_neigh(&self, v: Vni, ip: Ipv4Address, m: Mac) -> bool {
        self.neigh[Self::neigh_index(v, &ip, &m)]
    }
}

#[derive(Default, Debug, Clone, Copy)]
struct Totals {
    frames: u64,
    from_ports: u64,
    from_underlay: u64,
    deliveries: u64,
    transmits: u64,
    datagrams: u64,
    answers: u64,
    table_scans: u64,
    worlds: u64,
}

/// One datagram on its way through the underlay: `arena[range]`, tunnel header onward.
struct Datagram {
    to: usize,
    from: IpAddress,
    transport: Transport,
    range: Range<usize>,
    /// The VNI of the frame inside, which the header must carry.
    vni: Vni,
}

struct World {
    vteps: Vec<Vtep>,
    /// `port_vni[vtep][port]`.
    port_vni: Vec<Vec<Vni>>,
    served: Vec<Vec<Vni>>,
    encap: [Encapsulation; 4],
    seen: Vec<Seen>,
    now: Instant,
    buf: Vec<u8>,
    arena: Vec<u8>,
    in_flight: Vec<Datagram>,
    totals: Totals,
}

fn encap_of(world_encap: &[Encapsulation; 4], v: Vni) -> Encapsulation {
    VNIS.iter()
        .position(|x| *x == v.get())
        .map_or(Encapsulation::Vxlan, |i| world_encap[i])
}

fn transport(e: Encapsulation, src_port: u16) -> Transport {
    match e {
        Encapsulation::Vxlan => Transport::Udp {
            src_port,
            dst_port: 4789,
        },
        Encapsulation::Geneve => Transport::Udp {
            src_port,
            dst_port: 6081,
        },
        Encapsulation::Nvgre => Transport::Gre,
    }
}

/// The VNI in the tunnel header at the start of `payload`, read as `transport` says.
fn header_vni(transport: Transport, payload: &[u8]) -> (Vni, usize) {
    match transport {
        Transport::Udp { dst_port: 4789, .. } => {
            let p = vxlan::Packet::new_checked(payload).unwrap();
            let r = vxlan::Repr::parse(&p, ReservedBitsPolicy::Strict).unwrap();
            (r.vni, vxlan::HEADER_LEN)
        }
        Transport::Udp { dst_port: 6081, .. } => {
            let p = geneve::Packet::new_checked(payload).unwrap();
            let r = geneve::Repr::parse(&p).unwrap();
            (r.vni, r.buffer_len())
        }
        Transport::Gre => {
            let p = nvgre::Packet::new_checked(payload).unwrap();
            let r = nvgre::Repr::parse(&p).unwrap();
            (r.vsid, nvgre::HEADER_LEN)
        }
        other => panic!("transmitted on {other:?}"),
    }
}

/// The VNI tag at the end of a frame.
fn tag(frame: &[u8]) -> Option<u32> {
    let t = frame.get(frame.len().checked_sub(4)?..)?;
    (t[0] == TAG_MAGIC).then(|| u32::from_be_bytes([0, t[1], t[2], t[3]]))
}

/// Writes a frame for `spec` tagged with `vni` at `out[0..]`; returns its length, its source MAC
/// and, for ARP, the (ip, mac) it announces.
fn build_frame(
    spec: &FrameSpec,
    vni: Vni,
    out: &mut [u8],
) -> (usize, Mac, Option<(Ipv4Address, Mac)>) {
    let pick = |b: u8| u64::from(b) % HOSTS;
    let mut src = host_mac(pick(spec.src));
    if spec.kind.is_multiple_of(53) {
        // Rarely, a source no one may learn.
        src = EthernetAddress([0x01, 0x00, 0x5e, 0, 0, spec.src]);
    }
    let known = host_mac(pick(spec.dst));
    let (dst, arp_op) = match spec.kind % 8 {
        0 | 1 => (known, None),
        2 => (EthernetAddress([0x02, 0xee, 0, 0, 0, spec.dst]), None),
        3 => (EthernetAddress::BROADCAST, None),
        4 => (EthernetAddress([0x01, 0x00, 0x5e, 0, 0, spec.dst]), None),
        5 => (EthernetAddress::BROADCAST, Some(1u16)),
        6 => (known, Some(2u16)),
        _ => (EthernetAddress::BROADCAST, Some(3)), // gratuitous
    };
    out[..6].copy_from_slice(&dst.0);
    out[6..12].copy_from_slice(&src.0);
    let mut announce = None;
    let len = match arp_op {
        None => {
            out[12..14].copy_from_slice(&[0x08, 0x00]);
            let len = 64 + usize::from(spec.len) * 4;
            out[14..len].fill(spec.len);
            len
        }
        Some(op) => {
            let a = host_ip(pick(spec.ip_a));
            let b = if op == 3 { a } else { host_ip(pick(spec.ip_b)) };
            let wire_op: u16 = if op == 2 { 2 } else { 1 };
            out[12..14].copy_from_slice(&[0x08, 0x06]);
            out[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, wire_op as u8]);
            out[22..28].copy_from_slice(&src.0);
            out[28..32].copy_from_slice(&a.octets());
            let target_mac = if op == 2 {
                known
            } else {
                EthernetAddress([0; 6])
            };
            out[32..38].copy_from_slice(&target_mac.0);
            out[38..42].copy_from_slice(&b.octets());
            out[42..60].fill(0);
            announce = Some((a, src));
            64
        }
    };
    let v = vni.get().to_be_bytes();
    out[len - 4..len].copy_from_slice(&[TAG_MAGIC, v[1], v[2], v[3]]);
    (len, src, announce)
}

/// Writes a tunnel header for `vni` with `e` in front of `out[at..]`; returns the new start.
fn write_header(e: Encapsulation, vni: Vni, out: &mut [u8], at: usize) -> usize {
    let start = at - e.header_len();
    match e {
        Encapsulation::Vxlan => {
            vxlan::Repr { vni }.emit(&mut vxlan::Packet::new_unchecked(&mut out[start..at]));
        }
        Encapsulation::Geneve => geneve::Repr {
            vni,
            oam: false,
            critical: false,
            protocol: vtep_core::wire::ETHERTYPE_TRANSPARENT_ETHERNET,
            options: &[],
        }
        .emit(&mut geneve::Packet::new_unchecked(&mut out[start..at])),
        Encapsulation::Nvgre => nvgre::Repr {
            vsid: vni,
            flow_id: 0,
        }
        .emit(&mut nvgre::Packet::new_unchecked(&mut out[start..at])),
    }
    start
}

impl World {
    fn new(rng: &mut Rng) -> World {
        let now = Instant::ZERO;
        let encap = [0; 4].map(|_| Encapsulation::ALL[rng.below(3) as usize]);
        let mut vteps = Vec::new();
        let mut served = Vec::new();
        let mut port_vni = Vec::new();
        let mut seen: Vec<Seen> = (0..VTEPS).map(|_| Seen::new()).collect();
        let max_entries = [24, 64, 4096][rng.below(3) as usize];
        for (i, seen) in seen.iter_mut().enumerate() {
            let mut config = VtepConfig::new(address(i));
            config.hash_seed = rng.next();
            config.fdb.max_entries = max_entries;
            config.fdb.drop_when_full = rng.percent(50);
            config.fdb.ageing = Duration::from_secs(1 + rng.below(20));
            config.max_neighbours = 32;
            let mut v = Vtep::new(config, now).unwrap();
            // At least two VNIs per VTEP, so every VTEP has neighbours to leak into.
            let mut mine: Vec<Vni> = VNIS
                .iter()
                .map(|x| vni(*x))
                .filter(|_| rng.percent(60))
                .collect();
            while mine.len() < 2 {
                let extra = vni(VNIS[rng.below(4) as usize]);
                if !mine.contains(&extra) {
                    mine.push(extra);
                }
            }
            for &n in &mine {
                let mut network = NetworkConfig::new(n);
                network.encapsulation = encap_of(&encap, n);
                network.learning = rng.percent(85);
                network.arp_proxy = rng.percent(50);
                v.add_network(network, now).unwrap();
            }
            let mut ports = Vec::new();
            for _ in 0..PORTS {
                let n = mine[rng.below(mine.len() as u64) as usize];
                let p = v.add_port(n).unwrap();
                assert_eq!(usize::from(p.0), ports.len());
                ports.push(n);
            }
            for _ in 0..2 {
                // A static neighbour and FDB entry in a random served VNI.
                let n = mine[rng.below(mine.len() as u64) as usize];
                let h = rng.below(HOSTS);
                v.add_static_neighbour(now, n, host_ip(h).into(), host_mac(h))
                    .unwrap();
                seen.announced(n, host_ip(h), host_mac(h));
                let dest = Destination::Remote(address(rng.below(VTEPS as u64) as usize));
                if dest != Destination::Remote(address(i)) {
                    v.add_static_fdb(now, n, host_mac(h), dest).unwrap();
                    seen.learned(n, host_mac(h), dest);
                }
            }
            vteps.push(v);
            served.push(mine);
            port_vni.push(ports);
        }
        // Flood lists: every other VTEP serving the VNI, and now and then one that does not.
        for i in 0..VTEPS {
            for &n in &served[i].clone() {
                for (j, theirs) in served.iter().enumerate() {
                    if j != i && (theirs.contains(&n) || rng.percent(20)) {
                        vteps[i].add_flood_peer(n, address(j)).unwrap();
                    }
                }
            }
        }
        World {
            vteps,
            port_vni,
            served,
            encap,
            seen,
            now,
            buf: vec![0; MAX_HEADROOM + 2048],
            arena: Vec::with_capacity(16 * 1024),
            in_flight: Vec::new(),
            totals: Totals::default(),
        }
    }

    /// Feeds one input and every datagram it causes, checking every output.
    fn run(&mut self, spec: &FrameSpec) {
        self.now += Duration::from_millis(1);
        self.totals.frames += 1;
        self.arena.clear();
        self.in_flight.clear();
        let v = usize::from(spec.vtep) % VTEPS;
        if spec.underlay {
            self.totals.from_underlay += 1;
            self.inject(v, spec);
        } else {
            self.totals.from_ports += 1;
            self.local(v, spec);
        }
        let mut k = 0;
        while k < self.in_flight.len() {
            let d = &self.in_flight[k];
            let (to, from, transport, range, expect) =
                (d.to, d.from, d.transport, d.range.clone(), d.vni);
            self.underlay(to, from, transport, range, expect);
            k += 1;
        }
    }

    fn local(&mut self, v: usize, spec: &FrameSpec) {
        let port = PortId(u16::from(spec.port_or_sender) % PORTS as u16);
        let x = self.port_vni[v][usize::from(port.0)];
        let (len, src, announce) = build_frame(spec, x, &mut self.buf[MAX_HEADROOM..]);
        let dst = EthernetAddress::from_bytes(&self.buf[MAX_HEADROOM..MAX_HEADROOM + 6]);
        self.seen[v].learned(x, src, Destination::Local(port));
        if let Some((ip, mac)) = announce {
            self.seen[v].announced(x, ip, mac);
        }
        self.vteps[v].handle_input(
            self.now,
            Input::Local {
                port,
                buf: &mut self.buf,
                frame: MAX_HEADROOM..MAX_HEADROOM + len,
            },
        );
        self.drain(v, x, Some(port), dst, None);
    }

    /// A datagram made up by the test: any VNI, any encapsulation, from anyone.
    fn inject(&mut self, v: usize, spec: &FrameSpec) {
        let vni_index = usize::from(spec.vni) % (VNIS.len() + 1);
        let x = vni(*VNIS.get(vni_index).unwrap_or(&UNSERVED));
        let e = if spec.encap.is_multiple_of(4) {
            Encapsulation::ALL[usize::from(spec.encap / 4) % 3]
        } else {
            encap_of(&self.encap, x)
        };
        let sender = usize::from(spec.port_or_sender) % (VTEPS + 1);
        let from = if sender == VTEPS || sender == v {
            STRANGER
        } else {
            address(sender)
        };
        // Built in `buf`, then copied: growing the arena by zeroes is slow without optimising.
        let at = MAX_HEADROOM;
        let (len, _, _) = build_frame(spec, x, &mut self.buf[at..]);
        let start = write_header(e, x, &mut self.buf, at);
        self.arena.extend_from_slice(&self.buf[start..at + len]);
        self.in_flight.push(Datagram {
            to: v,
            from,
            transport: transport(e, 50000),
            range: 0..self.arena.len(),
            vni: x,
        });
    }

    /// Hands a datagram to VTEP `to`; checks that the header carries the frame's VNI.
    fn underlay(
        &mut self,
        to: usize,
        from: IpAddress,
        transport: Transport,
        range: Range<usize>,
        x: Vni,
    ) {
        let (header, header_len) = header_vni(transport, &self.arena[range.clone()]);
        assert_eq!(header, x, "encapsulated with another VNI than the frame's");
        let inner = range.start + header_len..range.end;
        if inner.len() >= 14 {
            let src = EthernetAddress::from_bytes(&self.arena[inner.start + 6..inner.start + 12]);
            self.seen[to].learned(x, src, Destination::Remote(from));
            if self.arena[inner.start + 12..inner.start + 14] == [0x08, 0x06] {
                let a = &self.arena[inner.start + 14..];
                let ip = Ipv4Address::new(a[14], a[15], a[16], a[17]);
                let mac = EthernetAddress::from_bytes(&a[8..14]);
                self.seen[to].announced(x, ip, mac);
            }
        }
        let dst = EthernetAddress::from_bytes(&self.arena[inner.start..inner.start + 6]);
        // Out of the arena, which collects what this VTEP's outputs may add: the outputs index
        // the buffer given with the input.
        let len = range.len();
        self.buf[MAX_HEADROOM..MAX_HEADROOM + len].copy_from_slice(&self.arena[range]);
        self.vteps[to].handle_input(
            self.now,
            Input::Underlay {
                from,
                transport,
                buf: &mut self.buf,
                payload: MAX_HEADROOM..MAX_HEADROOM + len,
            },
        );
        self.totals.datagrams += 1;
        self.drain(to, x, None, dst, Some(from));
    }

    /// Checks every output of VTEP `v` for an input of VNI `x` (from `port`, or from the
    /// underlay address `from`), and queues what it transmits.
    fn drain(&mut self, v: usize, x: Vni, port: Option<PortId>, dst: Mac, from: Option<IpAddress>) {
        loop {
            match self.vteps[v].poll_output() {
                Output::Deliver(d) => {
                    self.totals.deliveries += 1;
                    let p = usize::from(d.port.0);
                    let frame = &self.buf[d.frame.clone()];
                    assert_eq!(d.vni, x, "delivered under another VNI");
                    assert_eq!(self.port_vni[v][p], x, "delivered to a port of another VNI");
                    assert_eq!(tag(frame), Some(x.get()), "a frame of another VNI");
                    if Some(d.port) == port {
                        // Only ARP suppression answers on the asking port: with a neighbour
                        // entry of this VNI.
                        self.totals.answers += 1;
                        let a = &frame[14..];
                        let ip = Ipv4Address::new(a[14], a[15], a[16], a[17]);
                        let mac = EthernetAddress::from_bytes(&a[8..14]);
                        assert!(
                            self.seen[v].has_neigh(x, ip, mac),
                            "ARP answered {ip} is-at {mac} in VNI {x}, never seen there"
                        );
                    } else if !d.flooded && dst.is_unicast() {
                        assert!(
                            self.seen[v].has(x, dst, Destination::Local(d.port)),
                            "{dst} sent to {} in VNI {x}: an entry of another VNI answered",
                            d.port
                        );
                    }
                }
                Output::Transmit(t) => {
                    self.totals.transmits += 1;
                    assert!(
                        from.is_none(),
                        "a datagram from the underlay went back into it"
                    );
                    assert_eq!(t.vni, x, "encapsulated under another VNI");
                    assert_ne!(t.outer.dst, address(v));
                    let frame_start = t.payload.start + t.encapsulation.header_len();
                    assert_eq!(tag(&self.buf[frame_start..t.payload.end]), Some(x.get()));
                    if !t.flooded {
                        let dest = Destination::Remote(t.outer.dst);
                        assert!(
                            self.seen[v].has(x, dst, dest),
                            "{dst} sent to {} in VNI {x}: an entry of another VNI answered",
                            t.outer.dst
                        );
                    }
                    let start = self.arena.len();
                    self.arena.extend_from_slice(&self.buf[t.payload.clone()]);
                    if let Some(to) = (0..VTEPS).find(|i| address(*i) == t.outer.dst) {
                        self.in_flight.push(Datagram {
                            to,
                            from: address(v),
                            transport: t.outer.transport,
                            range: start..self.arena.len(),
                            vni: x,
                        });
                    }
                }
                Output::Event(_) => {}
                Output::Timeout(_) => break,
            }
        }
    }

    /// Every FDB and neighbour entry was learned (or configured) in its own VNI.
    fn scan_tables(&mut self) {
        self.totals.table_scans += 1;
        for (v, vtep) in self.vteps.iter().enumerate() {
            for (n, mac, entry) in vtep.fdb().iter() {
                assert!(
                    self.seen[v].has(n, mac, entry.dest),
                    "VTEP {v}: FDB entry {mac} -> {:?} in VNI {n} was never seen there",
                    entry.dest
                );
                if let Destination::Local(p) = entry.dest {
                    assert_eq!(self.port_vni[v][usize::from(p.0)], n);
                }
            }
            for (n, ip, entry) in vtep.neighbours().iter() {
                // The traffic here is IPv4 only: an IPv6 neighbour was never seen anywhere.
                let IpAddress::Ipv4(v4) = ip else {
                    panic!("VTEP {v}: IPv6 neighbour {ip} from IPv4 traffic");
                };
                assert!(
                    self.seen[v].has_neigh(n, v4, entry.mac),
                    "VTEP {v}: neighbour {ip} -> {} in VNI {n} was never seen there",
                    entry.mac
                );
            }
            for n in VNIS.map(vni) {
                if !self.served[v].contains(&n) {
                    assert!(vtep.counters(n).is_none());
                }
            }
        }
    }
}

/// Runs `frames` random inputs from `seed`, a new world every `per_world`.
fn check(seed: u64, frames: u64, per_world: u64) -> Totals {
    let mut rng = Rng(seed);
    let mut totals = Totals::default();
    let mut done = 0;
    while done < frames {
        // Each world counts on from the totals of the ones before it.
        let mut world = World {
            totals,
            ..World::new(&mut rng)
        };
        let n = per_world.min(frames - done);
        for i in 0..n {
            let spec = FrameSpec::random(&mut rng);
            world.run(&spec);
            if i % 4096 == 4095 {
                world.scan_tables();
            }
        }
        world.scan_tables();
        done += n;
        totals = world.totals;
        totals.worlds += 1;
    }
    totals
}

#[test]
fn isolation_holds_for_a_million_random_frames() {
    let frames: u64 = std::env::var("VTEP_ISOLATION_FRAMES")
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let started = std::time::Instant::now();
    let t = check(0x0e11_a7ed_7e4a_0001, frames, 20_000);
    println!(
        "isolation: {} frames checked ({} from ports, {} from the underlay) in {} worlds: \
         {} deliveries, {} transmits, {} datagrams handed to VTEPs, {} ARP answers, {} table \
         scans; {:.1} s",
        t.frames,
        t.from_ports,
        t.from_underlay,
        t.worlds,
        t.deliveries,
        t.transmits,
        t.datagrams,
        t.answers,
        t.table_scans,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(t.frames, frames);
    // The property is only as good as the traffic: every path must have been taken a lot.
    for (what, n) in [
        ("deliveries", t.deliveries),
        ("transmits", t.transmits),
        ("ARP answers", t.answers),
    ] {
        assert!(n > frames / 100, "too few {what}: {n}");
    }
}

/// The checker is not vacuous: told that a port belongs to another VNI than it does (as if the
/// engine had delivered across tenants), it fails.
#[test]
fn a_leak_is_caught() {
    let mut rng = Rng(7);
    let mut world = World::new(&mut rng);
    let (v, a, b) = (0..VTEPS)
        .find_map(|v| {
            let ports = &world.port_vni[v];
            (1..PORTS)
                .find(|p| ports[*p] != ports[0])
                .map(|p| (v, 0, p))
        })
        .expect("a VTEP with ports of two VNIs");
    world.port_vni[v].swap(a, b);
    // The checker reports a leak by panicking; catch that panic and read its message, so that
    // any other panic fails the test.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..100_000 {
            world.run(&FrameSpec::random(&mut rng));
        }
    }));
    let payload = caught.expect_err("a delivery into the wrong VNI went unnoticed");
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(
        message.contains("another VNI"),
        "unexpected panic: {message}"
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> impl Strategy<Value = FrameSpec> {
        (any::<bool>(), any::<[u8; 10]>()).prop_map(|(underlay, b)| FrameSpec {
            underlay,
            vtep: b[0],
            port_or_sender: b[1],
            vni: b[2],
            encap: b[3],
            kind: b[4],
            src: b[5],
            dst: b[6],
            ip_a: b[7],
            ip_b: b[8],
            len: b[9],
        })
    }

    proptest! {
        /// The same checker, small and shrinkable: a failing case reduces to a short list of
        /// frames in one world.
        #[test]
        fn tenants_never_see_each_other(
            world in any::<u64>(),
            frames in proptest::collection::vec(spec(), 1..200),
        ) {
            let mut w = World::new(&mut Rng(world));
            for f in &frames {
                w.run(f);
            }
            w.scan_tables();
        }
    }
}
