//! The engine driven by an arbitrary sequence of operations: frames from local ports, datagrams
//! from the underlay (built, raw, or captured by the kernel and mutated), time passing, partial
//! and full polls, and every management call a driver makes (FDB, routes, neighbours, flood
//! lists, ports, networks, MTU, accepted peers).
//!
//! After every step it checks what the engine promises: no panic; `poll_output` ends; outputs
//! go only to ports of the input's network, with its VNI, never back to the ingress port (but
//! an ARP- or ND-suppression answer, which must be a valid reply that names a neighbour the
//! table holds, and then the only output), never from the underlay back into it; what is sent
//! parses back to
//! the same VNI and inner frame and fits the MTU; counters match the outputs; the FDB never
//! exceeds its maximum, never points at another network's port, and ages on time.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use overlay_lab_fuzz::{captured_inner_frames, captured_ip_packets};
use vtep_core::fdb::{FdbConfig, Origin};
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{
    Encapsulation, Event, InnerVlanPolicy, Input, NetworkConfig, Output, Vtep, VtepConfig,
};
use vtep_core::wire::ndisc::{self, Advertisement, Message, NeighborFlags, Solicitation};
use vtep_core::wire::outer::{self, Transport, UdpChecksum};
use vtep_core::wire::vxlan::ReservedBitsPolicy;
use vtep_core::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, IpAddress, Ipv4Address, Ipv6Address, dot1q,
    geneve, nvgre, vxlan,
};
use vtep_core::{Destination, Mac, PortId};
use vtep_core::{Duration, Instant, Vni};

/// Few VNIs, so operations collide on the same networks; 0 and the largest are edge cases.
const VNIS: [u32; 4] = [42, 43, 0, 0xff_ffff];
/// 02:..:01 and 02:..:02 are the hosts of the captures; then broadcast, multicast, zero.
const MACS: [[u8; 6]; 8] = [
    [2, 0, 0, 0, 0, 1],
    [2, 0, 0, 0, 0, 2],
    [2, 0, 0, 0, 0, 3],
    [2, 0, 0, 0, 1, 1],
    [0xff; 6],
    [0x01, 0x00, 0x5e, 0, 0, 1],
    [0x33, 0x33, 0, 0, 0, 1],
    [0; 6],
];
const HOSTS: [[u8; 4]; 6] = [
    [192, 168, 42, 1],
    [192, 168, 42, 2],
    [192, 168, 42, 3],
    [192, 168, 43, 1],
    [0, 0, 0, 0],
    [255, 255, 255, 255],
];
/// IPv6 neighbours: two hosts, a router's link-local address, then unspecified (the source of
/// a duplicate address detection probe), all nodes, a solicited-node group, loopback.
const HOSTS6: [u16; 7] = [1, 2, 0xfe80, 0, 0xff02, 0xff03, 0xffff];
/// Most steps a run takes: longer inputs add little and slow the fuzzer down.
const MAX_OPS: usize = 96;

#[derive(Arbitrary, Debug)]
struct Scenario {
    setup: Setup,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
struct Setup {
    ipv6: bool,
    max_entries: u8,
    drop_when_full: bool,
    dup_max_moves: u8,
    dup_window_secs: u8,
    ageing_secs: u16,
    sweep_ms: u16,
    event_capacity: u8,
    max_neighbours: u8,
    strict_reserved: bool,
    udp_checksum: bool,
    accept_peers: Option<u8>,
    mtu: Option<u16>,
    source_ports: Option<(u16, u16)>,
    legacy_vxlan_port: bool,
    hash_seed: u64,
    start_us: u32,
    networks: [Option<Net>; 3],
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Net {
    vni: u8,
    encap: u8,
    learning: bool,
    arp_proxy: bool,
    rate: Option<(u64, u64)>,
    inner_vlan: u8,
    ports: u8,
    flood: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum MacSel {
    Pool(u8),
    Raw([u8; 6]),
}

#[derive(Arbitrary, Debug)]
struct Frame {
    dst: MacSel,
    src: MacSel,
    vlan: Option<(u16, bool)>,
    body: Body,
}

#[derive(Arbitrary, Debug)]
enum Body {
    Arp {
        reply: bool,
        sender_mac: MacSel,
        sender_ip: u8,
        target_ip: u8,
    },
    /// A frame the kernel sent (its MACs replaced by `dst` and `src` unless `keep_macs`).
    Captured {
        index: u8,
        keep_macs: bool,
    },
    Raw {
        ethertype: u16,
        payload: Vec<u8>,
    },
    /// An IPv6 Neighbour Solicitation or Advertisement, well formed but for `hop_limit`,
    /// `edits` and `cut` (the checksum is not checked under `cfg(fuzzing)`).
    Nd {
        advert: bool,
        src: u8,
        /// `None`: the target's solicited-node group (or all nodes for an advertisement).
        dst: Option<u8>,
        target: u8,
        flags: u8,
        lladdr: Option<MacSel>,
        traffic_class: u8,
        hop_limit: Option<u8>,
        edits: Vec<(u8, u8)>,
        cut: Option<u8>,
    },
}

#[derive(Arbitrary, Debug)]
enum Tunnel {
    Vxlan {
        flags: u8,
        reserved: u8,
    },
    Geneve {
        options: Vec<u8>,
        oam: bool,
        critical: bool,
        protocol: Option<u16>,
    },
    Nvgre {
        flow_id: u8,
        flags: Option<u16>,
    },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Port {
    Vxlan,
    Geneve,
    Gre,
    Other(u16),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Local {
        port: u8,
        frame: Frame,
        headroom: u8,
        bad_range: Option<(u16, u16)>,
        stop_after: Option<u8>,
    },
    Underlay {
        peer: u8,
        port: Port,
        src_port: u16,
        vni: u8,
        tunnel: Tunnel,
        frame: Frame,
        offset: u8,
        stop_after: Option<u8>,
    },
    /// A captured underlay packet (or any bytes), mutated, through `outer::parse` as a driver
    /// reads a raw socket.
    UnderlayIp {
        template: u8,
        edits: Vec<(u16, u8)>,
        cut: Option<u16>,
        raw: Option<Vec<u8>>,
    },
    AdvanceMicros(u32),
    AdvanceSecs(u16),
    /// Past the FDB's 24-day timestamp window, so its epoch moves.
    AdvanceDays(u8),
    Timeout,
    PollRest,
    AddStaticFdb {
        net: u8,
        mac: MacSel,
        dest: u8,
    },
    InstallRoute {
        net: u8,
        mac: MacSel,
        ip: Option<u8>,
        dest: u8,
        seq: u32,
    },
    WithdrawRoute {
        net: u8,
        mac: MacSel,
        ip: Option<u8>,
    },
    FdbDel {
        net: u8,
        mac: MacSel,
    },
    FdbFlush {
        net: Option<u8>,
        learned_only: bool,
    },
    AddNeighbour {
        net: u8,
        ip: u8,
        mac: MacSel,
    },
    SetRouter {
        net: u8,
        ip: u8,
        router: bool,
    },
    DelNeighbour {
        net: u8,
        ip: u8,
    },
    AddFloodPeer {
        net: u8,
        peer: u8,
    },
    RemoveFloodPeer {
        net: u8,
        peer: u8,
    },
    AddPort {
        net: u8,
    },
    RemovePort {
        port: u8,
    },
    AddNetwork(Net),
    RemoveNetwork {
        net: u8,
    },
    UpdateNetwork(Net),
    SetMtu(u16),
    SetAcceptPeers(Option<u8>),
}

fn vni(sel: u8) -> Vni {
    Vni::new(VNIS[usize::from(sel) % VNIS.len()]).expect("pool VNIs are valid")
}

fn mac(sel: MacSel) -> Mac {
    match sel {
        MacSel::Pool(i) => EthernetAddress(MACS[usize::from(i) % MACS.len()]),
        MacSel::Raw(bytes) => EthernetAddress(bytes),
    }
}

fn host4(sel: u8) -> Ipv4Address {
    let [a, b, c, d] = HOSTS[usize::from(sel) % HOSTS.len()];
    Ipv4Address::new(a, b, c, d)
}

fn host6(sel: u8) -> Ipv6Address {
    match HOSTS6[usize::from(sel) % HOSTS6.len()] {
        0 => Ipv6Address::UNSPECIFIED,
        0xfe80 => Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        0xff02 => Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        0xff03 => Ipv6Address::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2),
        0xffff => Ipv6Address::LOCALHOST,
        n => Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, n),
    }
}

/// A neighbour address of either family: the IPv4 pool, then the IPv6 one.
fn host(sel: u8) -> IpAddress {
    let i = usize::from(sel) % (HOSTS.len() + HOSTS6.len());
    match i.checked_sub(HOSTS.len()) {
        None => IpAddress::Ipv4(host4(i as u8)),
        Some(j) => IpAddress::Ipv6(host6(j as u8)),
    }
}

/// The solicited-node group of `ip` (RFC 4291).
fn solicited_node(ip: Ipv6Address) -> Ipv6Address {
    let o = ip.octets();
    Ipv6Address::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// Underlay addresses: the captures' two VTEPs, a third, and one of the other family.
fn peers(ipv6: bool) -> [IpAddress; 4] {
    let v4 = |d| IpAddress::Ipv4(Ipv4Address::new(10, 200, 0, d));
    let v6 = |d| IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0x200, 0, 0, 0, 0, 0, d));
    if ipv6 {
        [v6(1), v6(2), v6(3), v4(1)]
    } else {
        [v4(1), v4(2), v4(3), v6(1)]
    }
}

fn local_address(ipv6: bool) -> IpAddress {
    peers(ipv6)[1]
}

fn peer(ipv6: bool, sel: u8) -> IpAddress {
    peers(ipv6)[usize::from(sel) % 4]
}

fn peer_set(ipv6: bool, mask: u8) -> Vec<IpAddress> {
    (0..4)
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| peer(ipv6, i))
        .collect()
}

fn network_config(net: &Net) -> NetworkConfig {
    NetworkConfig {
        vni: vni(net.vni),
        encapsulation: match net.encap % 3 {
            0 => Encapsulation::Vxlan,
            1 => Encapsulation::Geneve,
            _ => Encapsulation::Nvgre,
        },
        learning: net.learning,
        arp_proxy: net.arp_proxy,
        rate_limit: net.rate.map(|(bytes_per_sec, burst_bytes)| RateLimit {
            bytes_per_sec,
            burst_bytes,
        }),
        inner_vlan: match net.inner_vlan % 3 {
            0 => InnerVlanPolicy::Drop,
            1 => InnerVlanPolicy::Strip,
            _ => InnerVlanPolicy::Keep,
        },
    }
}

fn build_frame(frame: &Frame) -> Vec<u8> {
    let (dst, src) = (mac(frame.dst), mac(frame.src));
    let mut out = Vec::with_capacity(64);
    match &frame.body {
        Body::Arp {
            reply,
            sender_mac,
            sender_ip,
            target_ip,
        } => {
            out.extend_from_slice(&dst.0);
            out.extend_from_slice(&src.0);
            out.extend_from_slice(&0x0806u16.to_be_bytes());
            let repr = ArpRepr::EthernetIpv4 {
                operation: if *reply {
                    ArpOperation::Reply
                } else {
                    ArpOperation::Request
                },
                source_hardware_addr: mac(*sender_mac),
                source_protocol_addr: host4(*sender_ip),
                target_hardware_addr: if *reply { dst } else { EthernetAddress([0; 6]) },
                target_protocol_addr: host4(*target_ip),
            };
            let at = out.len();
            out.resize(at + repr.buffer_len(), 0);
            repr.emit(&mut ArpPacket::new_unchecked(&mut out[at..]));
        }
        Body::Captured { index, keep_macs } => {
            let frames = captured_inner_frames();
            out.extend_from_slice(&frames[usize::from(*index) % frames.len()]);
            if !keep_macs && out.len() >= 12 {
                out[..6].copy_from_slice(&dst.0);
                out[6..12].copy_from_slice(&src.0);
            }
        }
        Body::Raw { ethertype, payload } => {
            out.extend_from_slice(&dst.0);
            out.extend_from_slice(&src.0);
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&payload[..payload.len().min(1600)]);
        }
        Body::Nd {
            advert,
            src: s,
            dst: d,
            target,
            flags,
            lladdr,
            traffic_class,
            hop_limit,
            edits,
            cut,
        } => {
            let target = host6(*target);
            let lladdr = lladdr.map(mac);
            let message = if *advert {
                Message::Advertisement(Advertisement {
                    eth_src: src,
                    eth_dst: dst,
                    src: host6(*s),
                    dst: d.map_or(Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1), host6),
                    traffic_class: *traffic_class,
                    flags: NeighborFlags::from_bits_truncate(*flags),
                    target,
                    target_lladdr: lladdr,
                })
            } else {
                Message::Solicitation(Solicitation {
                    eth_src: src,
                    eth_dst: dst,
                    src: host6(*s),
                    dst: d.map_or(solicited_node(target), host6),
                    traffic_class: *traffic_class,
                    target,
                    source_lladdr: lladdr,
                })
            };
            out.resize(message.buffer_len(), 0);
            message.emit(&mut out);
            if let Some(hop_limit) = hop_limit {
                out[21] = *hop_limit;
            }
            for (at, value) in edits.iter().take(8) {
                if let Some(byte) = out.get_mut(usize::from(*at)) {
                    *byte = *value;
                }
            }
            if let Some(cut) = cut {
                out.truncate(usize::from(*cut));
            }
        }
    }
    if let Some((tci, qinq)) = frame.vlan
        && out.len() >= 12
    {
        let tpid = if qinq {
            dot1q::TPID_8021AD
        } else {
            dot1q::TPID_8021Q
        };
        let mut tag = Vec::with_capacity(4);
        tag.extend_from_slice(&tpid.to_be_bytes());
        tag.extend_from_slice(&tci.to_be_bytes());
        out.splice(12..12, tag);
    }
    out
}

fn build_tunnel(tunnel: &Tunnel, vni: Vni) -> Vec<u8> {
    match tunnel {
        Tunnel::Vxlan { flags, reserved } => {
            let mut h = vec![0u8; vxlan::HEADER_LEN];
            vxlan::Repr { vni }.emit(&mut vxlan::Packet::new_unchecked(&mut h[..]));
            h[0] ^= flags;
            h[7] ^= reserved;
            h
        }
        Tunnel::Geneve {
            options,
            oam,
            critical,
            protocol,
        } => {
            let len = options.len().min(geneve::MAX_OPTIONS_LEN) / 4 * 4;
            let repr = geneve::Repr {
                vni,
                oam: *oam,
                critical: *critical,
                protocol: protocol.unwrap_or(vtep_core::wire::ETHERTYPE_TRANSPARENT_ETHERNET),
                options: &options[..len],
            };
            let mut h = vec![0u8; repr.buffer_len()];
            repr.emit(&mut geneve::Packet::new_unchecked(&mut h[..]));
            h
        }
        Tunnel::Nvgre { flow_id, flags } => {
            let mut h = vec![0u8; nvgre::HEADER_LEN];
            nvgre::Repr {
                vsid: vni,
                flow_id: *flow_id,
            }
            .emit(&mut nvgre::Packet::new_unchecked(&mut h[..]));
            if let Some(flags) = flags {
                h[..2].copy_from_slice(&flags.to_be_bytes());
            }
            h
        }
        Tunnel::Raw(bytes) => bytes[..bytes.len().min(64)].to_vec(),
    }
}

/// What the outputs of the current input are checked against.
struct Context {
    buf: Vec<u8>,
    kind: Kind,
    mtu: u16,
}

enum Kind {
    Local {
        port: PortId,
        vni: Option<Vni>,
        /// The frame as it must leave (tag stripped if the policy says so).
        expect: Option<Vec<u8>>,
        frame_end: usize,
    },
    Underlay {
        /// Parsed from the tunnel header by hand: VNI, where the inner frame starts, and the
        /// encapsulation the transport implies.
        header: Option<(Vni, usize, Encapsulation)>,
        payload_end: usize,
        refused_peer: bool,
    },
}

struct Checker {
    vtep: Vtep,
    now: Instant,
    ipv6: bool,
    ageing: Duration,
    sweep: Duration,
    max_entries: usize,
    max_neighbours: usize,
    ctx: Option<Context>,
    /// Outputs of the current input so far.
    delivered_ports: Vec<PortId>,
    transmitted_to: Vec<IpAddress>,
    /// Expected `local_tx_frames` / `encap_frames` per VNI, from the outputs seen.
    local_tx: Vec<(Vni, u64, u64)>,
    dropped_events: u64,
    drops_of_removed: u64,
    /// All events polled: the queue is empty (the drop counters can be compared).
    drained: bool,
}

impl Checker {
    fn expected(&mut self, vni: Vni) -> &mut (Vni, u64, u64) {
        if let Some(i) = self.local_tx.iter().position(|e| e.0 == vni) {
            &mut self.local_tx[i]
        } else {
            self.local_tx.push((vni, 0, 0));
            self.local_tx.last_mut().expect("just pushed")
        }
    }

    fn input(&mut self, ctx: Context, input_of: impl FnOnce(&mut [u8]) -> Input<'_>) {
        self.ctx = Some(ctx);
        self.delivered_ports.clear();
        self.transmitted_to.clear();
        let ctx = self.ctx.as_mut().expect("just set");
        let input = input_of(&mut ctx.buf);
        self.vtep.handle_input(self.now, input);
        self.drained = false;
    }

    /// At `now`, hands the engine `buf[payload]` as a datagram from `from` over `transport`,
    /// with what its outputs are checked against (the tunnel header read by hand, whether the
    /// sender is refused), and polls up to `limit` outputs.
    fn underlay(
        &mut self,
        now: Instant,
        from: IpAddress,
        transport: Transport,
        buf: Vec<u8>,
        payload: std::ops::Range<usize>,
        limit: Option<u8>,
    ) {
        let refused_peer = self
            .vtep
            .config()
            .accept_peers
            .as_ref()
            .is_some_and(|list| !list.contains(&from))
            || from == local_address(self.ipv6);
        let header = read_header(&self.vtep, transport, &buf, payload.clone());
        let ctx = Context {
            buf,
            kind: Kind::Underlay {
                header,
                payload_end: payload.end,
                refused_peer,
            },
            mtu: self.vtep.config().underlay_mtu,
        };
        self.now = now;
        self.input(ctx, |buf| Input::Underlay {
            from,
            transport,
            buf,
            payload,
        });
        self.poll(limit);
    }

    /// Polls up to `limit` outputs (all when `None`), checking each.
    fn poll(&mut self, limit: Option<u8>) {
        // Events are bounded by the queue, copies by ports and flood peers: anything beyond
        // that is a poll loop that does not end.
        let networks = self.vtep.networks();
        let ports: usize = networks.iter().map(|n| self.vtep.ports(n.vni).len()).sum();
        let floods: usize = networks
            .iter()
            .map(|n| self.vtep.fdb().flood_list(n.vni).len())
            .sum();
        let bound = self.vtep.config().event_capacity.max(256) * 2 + ports + floods + 4;
        let mut polled = 0usize;
        loop {
            if limit.is_some_and(|l| polled >= usize::from(l)) {
                return;
            }
            polled += 1;
            assert!(
                polled <= bound,
                "poll_output does not end ({polled} outputs)"
            );
            match self.vtep.poll_output() {
                Output::Timeout(at) => {
                    assert!(at > self.now, "wake-up {at} not after now {}", self.now);
                    self.drained = true;
                    return;
                }
                Output::Event(event) => self.event(event),
                Output::Deliver(d) => self.deliver(d),
                Output::Transmit(t) => self.transmit(t),
            }
        }
    }

    fn event(&mut self, event: Event) {
        if let Event::Dropped { .. } = event {
            self.dropped_events += 1;
        }
    }

    fn deliver(&mut self, d: vtep_core::vtep::Deliver) {
        assert_eq!(
            self.vtep.port_network(d.port),
            Some(d.vni),
            "delivered out of a port of another network: {d:?}"
        );
        assert!(
            !self.delivered_ports.contains(&d.port),
            "two copies to {:?}",
            d.port
        );
        self.delivered_ports.push(d.port);
        self.expected(d.vni).1 += 1;
        let ctx = self.ctx.as_ref().expect("outputs follow an input");
        assert!(d.frame.start <= d.frame.end && d.frame.end <= ctx.buf.len());
        assert!(d.frame.len() >= 14, "delivered a runt: {d:?}");
        match &ctx.kind {
            Kind::Local {
                port,
                vni,
                expect,
                frame_end,
            } => {
                assert_eq!(Some(d.vni), *vni, "delivered into another network");
                if d.port == *port {
                    // Only an ARP- or ND-suppression answer goes back (its event may have been
                    // lost to a full queue, so the frame itself is checked), and nothing else
                    // leaves for that input.
                    let f = &ctx.buf[d.frame.clone()];
                    let arp_reply = f.get(12..14) == Some(&[0x08, 0x06][..])
                        && f.get(20..22) == Some(&[0, 2][..]);
                    assert!(
                        (arp_reply || self.is_nd_answer(d.vni, f)) && !d.flooded,
                        "sent back out of its port"
                    );
                    assert!(
                        self.delivered_ports.len() == 1 && self.transmitted_to.is_empty(),
                        "an answer and other outputs"
                    );
                } else {
                    assert_eq!(d.frame.end, *frame_end);
                    if let Some(expect) = expect {
                        assert_eq!(&ctx.buf[d.frame.clone()], &expect[..], "frame changed");
                    }
                }
            }
            Kind::Underlay {
                header,
                payload_end,
                refused_peer,
            } => {
                assert!(!refused_peer, "delivered from a peer not accepted");
                let (vni, start, encapsulation) =
                    header.expect("delivered what has no tunnel header");
                assert_eq!(
                    d.vni, vni,
                    "delivered into another network than the header's"
                );
                assert_eq!(d.frame, start..*payload_end);
                let network = self.vtep.network(vni).expect("network exists");
                assert_eq!(network.encapsulation, encapsulation);
            }
        }
    }

    /// Whether `frame` is a proxy's Neighbour Advertisement: valid, solicited and overriding,
    /// from the target's MAC, which the neighbour table holds for it.
    fn is_nd_answer(&self, vni: Vni, frame: &[u8]) -> bool {
        let Ok(Some(Message::Advertisement(na))) = ndisc::parse(frame) else {
            return false;
        };
        let entry = self
            .vtep
            .neighbours()
            .lookup(vni, &IpAddress::Ipv6(na.target));
        na.flags
            .contains(NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE)
            && frame.len() == ndisc::ADVERT_FRAME_LEN
            && na.target_lladdr == Some(na.eth_src)
            && entry.is_some_and(|e| {
                e.mac == na.eth_src && e.router == na.flags.contains(NeighborFlags::ROUTER)
            })
    }

    fn transmit(&mut self, t: vtep_core::vtep::Transmit) {
        let ctx = self.ctx.as_ref().expect("outputs follow an input");
        let Kind::Local {
            vni,
            expect,
            frame_end,
            port,
        } = &ctx.kind
        else {
            panic!("split horizon: underlay traffic sent back into the underlay: {t:?}");
        };
        assert!(
            !self.delivered_ports.contains(port),
            "answered and sent into the underlay"
        );
        assert_eq!(Some(t.vni), *vni, "sent for another network");
        assert_eq!(t.outer.src, self.vtep.local_address());
        assert_ne!(t.outer.dst, t.outer.src, "sent to itself");
        assert_eq!(
            matches!(t.outer.dst, IpAddress::Ipv6(_)),
            self.ipv6,
            "wrong family"
        );
        assert!(!self.transmitted_to.contains(&t.outer.dst), "two copies");
        self.transmitted_to.push(t.outer.dst);
        assert!(t.payload.start <= t.payload.end && t.payload.end <= ctx.buf.len());
        assert_eq!(t.payload.end, *frame_end);
        assert!(
            t.outer.header_len() + t.payload.len() <= usize::from(ctx.mtu),
            "{} bytes over an MTU of {}",
            t.outer.header_len() + t.payload.len(),
            ctx.mtu
        );
        let bytes = &ctx.buf[t.payload.clone()];
        let (header_vni, header_len) = match t.encapsulation {
            Encapsulation::Vxlan => {
                let p = vxlan::Packet::new_checked(bytes).expect("whole VXLAN header");
                let r = vxlan::Repr::parse(&p, ReservedBitsPolicy::Strict).expect("clean VXLAN");
                (r.vni, vxlan::HEADER_LEN)
            }
            Encapsulation::Geneve => {
                let p = geneve::Packet::new_checked(bytes).expect("whole Geneve header");
                let r = geneve::Repr::parse(&p).expect("valid Geneve");
                (r.vni, r.buffer_len())
            }
            Encapsulation::Nvgre => {
                let p = nvgre::Packet::new_checked(bytes).expect("whole NVGRE header");
                (
                    nvgre::Repr::parse(&p).expect("valid NVGRE").vsid,
                    nvgre::HEADER_LEN,
                )
            }
        };
        assert_eq!(header_vni, t.vni, "tunnel header carries another VNI");
        if let Some(expect) = expect {
            assert_eq!(&bytes[header_len..], &expect[..], "inner frame changed");
        }
        let transport_ok = match (t.encapsulation, t.outer.transport) {
            (Encapsulation::Nvgre, Transport::Gre) => true,
            (Encapsulation::Vxlan, Transport::Udp { dst_port, src_port }) => {
                dst_port == self.vtep.config().vxlan_port && src_port != 0
            }
            (Encapsulation::Geneve, Transport::Udp { dst_port, src_port }) => {
                dst_port == self.vtep.config().geneve_port && src_port != 0
            }
            _ => false,
        };
        assert!(transport_ok, "wrong transport {:?}", t.outer.transport);
        self.expected(t.vni).2 += 1;
    }

    /// Table and counter invariants, after every operation.
    fn check_state(&mut self, after_input: bool) {
        let fdb = self.vtep.fdb();
        assert!(
            fdb.len() <= self.max_entries,
            "FDB holds {} entries, maximum {}",
            fdb.len(),
            self.max_entries
        );
        for (vni, mac, entry) in fdb.iter() {
            assert!(
                self.vtep.network(vni).is_some(),
                "entry {mac} of a removed network {vni}"
            );
            match entry.dest {
                Destination::Local(port) => assert_eq!(
                    self.vtep.port_network(port),
                    Some(vni),
                    "entry {mac} in {vni} points at {port} of another network"
                ),
                Destination::Remote(ip) => assert_eq!(
                    matches!(ip, IpAddress::Ipv6(_)),
                    self.ipv6,
                    "entry {mac} points at {ip} of the other family"
                ),
            }
            if after_input && entry.origin == Origin::Learned {
                // Ageing runs at least every sweep interval; stamps are whole milliseconds.
                let age = self.now - entry.last_seen;
                assert!(
                    entry.last_seen > self.now
                        || age < self.ageing + self.sweep + Duration::from_millis(1),
                    "{mac} in {vni} is {age} old, ageing {}",
                    self.ageing
                );
            }
        }
        assert!(self.vtep.neighbours().len() <= self.max_neighbours);
        for (vni, ip, _) in self.vtep.neighbours().iter() {
            assert!(
                self.vtep.network(vni).is_some(),
                "neighbour {ip} of a removed network {vni}"
            );
        }

        let mut drops = self.drops_of_removed + self.vtep.global_counters().drops.total();
        for network in self.vtep.networks() {
            let counters = *self.vtep.counters(network.vni).expect("listed network");
            drops += counters.drops.total();
            let (_, local_tx, encap) = *self.expected(network.vni);
            assert_eq!(
                counters.local_tx_frames, local_tx,
                "local_tx_frames of {}",
                network.vni
            );
            assert_eq!(
                counters.encap_frames, encap,
                "encap_frames of {}",
                network.vni
            );
        }
        if self.drained {
            let lost = self.vtep.global_counters().events_lost;
            assert!(
                self.dropped_events <= drops && drops <= self.dropped_events + lost,
                "{drops} drops counted, {} drop events seen, {lost} events lost",
                self.dropped_events
            );
        }
    }

    fn remove_network(&mut self, vni: Vni) {
        let drops = self.vtep.counters(vni).map(|c| c.drops.total());
        if self.vtep.remove_network(vni).is_ok() {
            self.drops_of_removed += drops.unwrap_or(0);
            self.local_tx.retain(|e| e.0 != vni);
            self.ctx = None;
        }
    }
}

fn add_network(vtep: &mut Vtep, net: &Net, ipv6: bool, now: Instant) {
    let config = network_config(net);
    if vtep.add_network(config, now).is_err() {
        return;
    }
    for _ in 0..net.ports % 4 {
        let _ = vtep.add_port(config.vni);
    }
    for peer in peer_set(ipv6, net.flood) {
        let _ = vtep.add_flood_peer(config.vni, peer);
    }
}

/// A destination for the management calls. Never this VTEP's own address: an operator may
/// point an entry there (as with Linux's `bridge fdb add ... dst LOCAL`), and traffic then
/// goes to itself, which the transmit check would flag.
fn destination(ipv6: bool, sel: u8) -> Destination {
    if sel & 0x80 != 0 {
        Destination::Local(PortId(u16::from(sel & 0x7)))
    } else {
        Destination::Remote(peer(ipv6, [0, 2, 3][usize::from(sel) % 3]))
    }
}

/// The VNI, inner-frame start and encapsulation a datagram's header announces, read by hand
/// (all three headers keep the VNI in bytes 4..7), or `None` if the engine must not deliver it.
fn read_header(
    vtep: &Vtep,
    transport: Transport,
    buf: &[u8],
    payload: std::ops::Range<usize>,
) -> Option<(Vni, usize, Encapsulation)> {
    let bytes = buf.get(payload.clone())?;
    let encapsulation = match transport {
        Transport::Gre => Encapsulation::Nvgre,
        Transport::Udp { dst_port, .. } if dst_port == vtep.config().vxlan_port => {
            Encapsulation::Vxlan
        }
        Transport::Udp { dst_port, .. } if dst_port == vtep.config().geneve_port => {
            Encapsulation::Geneve
        }
        Transport::Udp { .. } => return None,
    };
    let vni = Vni::from_be_bytes(bytes.get(4..7)?.try_into().ok()?);
    let header_len = match encapsulation {
        Encapsulation::Geneve => 8 + usize::from(bytes[0] & 0x3f) * 4,
        _ => 8,
    };
    Some((vni, payload.start + header_len, encapsulation))
}

fuzz_target!(|scenario: Scenario| run(scenario));

fn run(scenario: Scenario) {
    let Scenario { setup: s, ops } = scenario;
    let ipv6 = s.ipv6;
    let mut config = VtepConfig::new(local_address(ipv6));
    config.fdb = FdbConfig {
        ageing: Duration::from_secs(u64::from(s.ageing_secs)),
        max_entries: usize::from(s.max_entries),
        dup_max_moves: u32::from(s.dup_max_moves),
        dup_window: Duration::from_secs(u64::from(s.dup_window_secs)),
        drop_when_full: s.drop_when_full,
    };
    config.max_neighbours = usize::from(s.max_neighbours);
    config.event_capacity = usize::from(s.event_capacity);
    // A zero interval would make the engine ask to be woken at the same instant forever.
    config.sweep_interval = Duration::from_millis(u64::from(s.sweep_ms.max(1)));
    config.hash_seed = s.hash_seed;
    if s.strict_reserved {
        config.reserved_bits = ReservedBitsPolicy::Strict;
    }
    if s.udp_checksum {
        config.udp_checksum = UdpChecksum::Compute;
    }
    if s.legacy_vxlan_port {
        config.vxlan_port = vtep_core::wire::flow::VXLAN_LINUX_LEGACY_PORT;
    }
    if let Some(mtu) = s.mtu {
        config.underlay_mtu = mtu;
    }
    if let Some(ports) = s.source_ports {
        config.source_ports = ports;
    }
    config.accept_peers = s.accept_peers.map(|mask| peer_set(ipv6, mask));
    let mut now = Instant::from_micros(i64::from(s.start_us));
    let Ok(mut vtep) = Vtep::new(config.clone(), now) else {
        return;
    };
    for net in s.networks.iter().flatten() {
        add_network(&mut vtep, net, ipv6, now);
    }
    let mut c = Checker {
        vtep,
        now,
        ipv6,
        ageing: config.fdb.ageing,
        sweep: config.sweep_interval,
        max_entries: config.fdb.max_entries,
        max_neighbours: config.max_neighbours,
        ctx: None,
        delivered_ports: Vec::new(),
        transmitted_to: Vec::new(),
        local_tx: Vec::new(),
        dropped_events: 0,
        drops_of_removed: 0,
        drained: true,
    };

    for op in ops.into_iter().take(MAX_OPS) {
        let mut after_input = false;
        match op {
            Op::Local {
                port,
                frame,
                headroom,
                bad_range,
                stop_after,
            } => {
                let port = PortId(u16::from(port % 8));
                let bytes = build_frame(&frame);
                let start = usize::from(headroom);
                let mut buf = vec![0u8; start + bytes.len() + 4];
                buf[start..start + bytes.len()].copy_from_slice(&bytes);
                let range = match bad_range {
                    Some((a, b)) => usize::from(a)..usize::from(b),
                    None => start..start + bytes.len(),
                };
                let vni = c.vtep.port_network(port);
                let policy = vni.and_then(|v| c.vtep.network(v)).map(|n| n.inner_vlan);
                let expect = (bad_range.is_none()).then(|| {
                    if dot1q::is_tagged(&bytes) && policy == Some(InnerVlanPolicy::Strip) {
                        let mut untagged = bytes[..12].to_vec();
                        untagged.extend_from_slice(&bytes[16.min(bytes.len())..]);
                        untagged
                    } else {
                        bytes.clone()
                    }
                });
                let ctx = Context {
                    buf,
                    kind: Kind::Local {
                        port,
                        vni,
                        expect,
                        frame_end: range.end,
                    },
                    mtu: c.vtep.config().underlay_mtu,
                };
                c.now = now;
                c.input(ctx, |buf| Input::Local {
                    port,
                    buf,
                    frame: range,
                });
                c.poll(stop_after);
                after_input = true;
            }
            Op::Underlay {
                peer: p,
                port,
                src_port,
                vni: v,
                tunnel,
                frame,
                offset,
                stop_after,
            } => {
                let from = peer(ipv6, p);
                let transport = match port {
                    Port::Vxlan => Transport::Udp {
                        src_port,
                        dst_port: c.vtep.config().vxlan_port,
                    },
                    Port::Geneve => Transport::Udp {
                        src_port,
                        dst_port: c.vtep.config().geneve_port,
                    },
                    Port::Gre => Transport::Gre,
                    Port::Other(dst_port) => Transport::Udp { src_port, dst_port },
                };
                let mut buf = vec![0u8; usize::from(offset % 64)];
                let start = buf.len();
                buf.extend_from_slice(&build_tunnel(&tunnel, vni(v)));
                buf.extend_from_slice(&build_frame(&frame));
                let payload = start..buf.len();
                c.underlay(now, from, transport, buf, payload, stop_after);
                after_input = true;
            }
            Op::UnderlayIp {
                template,
                edits,
                cut,
                raw,
            } => {
                let mut packet = match raw {
                    Some(raw) => raw,
                    None => {
                        let packets = captured_ip_packets();
                        packets[usize::from(template) % packets.len()].clone()
                    }
                };
                if !packet.is_empty() {
                    for (at, xor) in edits {
                        let len = packet.len();
                        packet[usize::from(at) % len] ^= xor;
                    }
                }
                if let Some(cut) = cut {
                    packet.truncate(usize::from(cut));
                }
                if let Ok((repr, range)) = outer::parse(&packet) {
                    c.underlay(now, repr.src, repr.transport, packet, range, None);
                    after_input = true;
                }
            }
            Op::AdvanceMicros(us) => now += Duration::from_micros(u64::from(us)),
            Op::AdvanceSecs(secs) => now += Duration::from_secs(u64::from(secs)),
            Op::AdvanceDays(days) => now += Duration::from_secs(u64::from(days) * 86_400),
            Op::Timeout => {
                c.now = now;
                c.ctx = None;
                c.vtep.handle_input(now, Input::Timeout);
                c.drained = false;
                c.poll(None);
                after_input = true;
            }
            Op::PollRest => {
                if c.ctx.is_some() {
                    c.poll(None);
                }
            }
            Op::AddStaticFdb { net, mac: m, dest } => {
                let dest = destination(ipv6, dest);
                let _ = c.vtep.add_static_fdb(now, vni(net), mac(m), dest);
            }
            Op::InstallRoute {
                net,
                mac: m,
                ip,
                dest,
                seq,
            } => {
                let dest = destination(ipv6, dest);
                let _ = c
                    .vtep
                    .install_route(now, vni(net), mac(m), ip.map(host), dest, seq);
            }
            Op::WithdrawRoute { net, mac: m, ip } => {
                c.vtep.withdraw_route(vni(net), &mac(m), ip.map(host));
            }
            Op::FdbDel { net, mac: m } => {
                c.vtep.fdb_mut().remove(vni(net), &mac(m));
            }
            Op::FdbFlush { net, learned_only } => {
                let only = net.map(vni);
                c.vtep.fdb_mut().retain(
                    |v, _, entry| {
                        only.is_some_and(|o| o != v)
                            || (learned_only && entry.origin != Origin::Learned)
                    },
                    |_, _, _| {},
                );
            }
            Op::AddNeighbour { net, ip, mac: m } => {
                let _ = c.vtep.add_static_neighbour(now, vni(net), host(ip), mac(m));
            }
            Op::SetRouter { net, ip, router } => {
                c.vtep
                    .neighbours_mut()
                    .set_router(vni(net), &host(ip), router);
            }
            Op::DelNeighbour { net, ip } => {
                c.vtep.neighbours_mut().remove(vni(net), &host(ip));
            }
            Op::AddFloodPeer { net, peer: p } => {
                let _ = c.vtep.add_flood_peer(vni(net), peer(ipv6, p));
            }
            Op::RemoveFloodPeer { net, peer: p } => {
                c.vtep.remove_flood_peer(vni(net), &peer(ipv6, p));
            }
            Op::AddPort { net } => {
                let _ = c.vtep.add_port(vni(net));
            }
            Op::RemovePort { port } => {
                if c.vtep.remove_port(PortId(u16::from(port % 8))).is_ok() {
                    c.ctx = None;
                }
            }
            Op::AddNetwork(net) => add_network(&mut c.vtep, &net, ipv6, now),
            Op::RemoveNetwork { net } => c.remove_network(vni(net)),
            Op::UpdateNetwork(net) => {
                let _ = c.vtep.update_network(network_config(&net), now);
            }
            Op::SetMtu(mtu) => {
                let _ = c.vtep.set_underlay_mtu(mtu);
            }
            Op::SetAcceptPeers(mask) => {
                let _ = c.vtep.set_accept_peers(mask.map(|m| peer_set(ipv6, m)));
            }
        }
        c.check_state(after_input);
    }
}
