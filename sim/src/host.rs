//! Virtual hosts: a real smoltcp TCP/IP stack each, dual-stack (ARP and IPv6 Neighbour
//! Discovery, ICMP and ICMPv6 echo, UDP, TCP), attached to the simulator through [`Nic`]
//! (`host/nic.rs`), a `phy::Device` whose queues the simulator fills and drains; and the apps
//! that run on them (ping and ping6, UDP flow, TCP bulk transfer).

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Medium;
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::wire::{
    HardwareAddress, IPV6_LINK_LOCAL_ALL_NODES, IpAddress, IpCidr, IpEndpoint, Ipv6Address,
};
use vtep_core::Mac;
use vtep_core::wire::Ipv4Address;
use vtep_core::{Duration, Instant, Vni};

use crate::id::AppId;

mod addr;
mod neighbours;
mod nic;
mod sockets;

pub use addr::{IPV6_PREFIX_LEN, ipv6_of, solicited_node};
pub use neighbours::{ARP_ENTRY_LIFETIME, ARP_RETRY, ARP_TRIES, Neighbours};
pub use nic::{Nic, NicRx, NicTx};
use sockets::{echo_reply, icmp_socket, send_echo, tcp_socket, udp_socket};

/// A virtual machine or container: one NIC, an IPv4 and an IPv6 address, on one VNI.
pub struct Host {
    pub mac: Mac,
    pub ip: Ipv4Address,
    pub prefix_len: u8,
    /// The IPv6 address, [`ipv6_of`] the IPv4 one (prefix [`IPV6_PREFIX_LEN`]).
    pub ip6: Ipv6Address,
    pub vni: Vni,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
    pub nic: Nic,
    pub apps: Vec<(AppId, Part)>,
    /// A mirror of smoltcp's neighbour cache (which is private), and the addresses asked for.
    pub neighbours: Neighbours,
    pub next_local_port: u16,
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Host")
            .field("mac", &self.mac)
            .field("ip", &self.ip)
            .field("ip6", &self.ip6)
            .field("vni", &self.vni)
            .field("apps", &self.apps.len())
            .finish_non_exhaustive()
    }
}

fn make_iface(
    mac: Mac,
    ip: Ipv4Address,
    prefix_len: u8,
    seed: u64,
    nic: &mut Nic,
    now: Instant,
) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(mac));
    config.random_seed = seed;
    let mut iface = Interface::new(config, nic, now);
    // smoltcp answers Neighbour Solicitations for the IPv6 address and solicits its
    // neighbours itself; with no `multicast` feature and no SLAAC it sends nothing unasked.
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ip), prefix_len));
        let ip6 = ipv6_of(ip, prefix_len);
        let _ = addrs.push(IpCidr::new(IpAddress::Ipv6(ip6), IPV6_PREFIX_LEN));
    });
    iface
}

/// How long a ping waits for replies after its last request before it is done (`ping -W`).
pub const PING_WAIT: Duration = Duration::from_secs(1);

impl Host {
    /// A host whose NIC has IP MTU `mtu`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mac: Mac,
        ip: Ipv4Address,
        prefix_len: u8,
        vni: Vni,
        mtu: usize,
        seed: u64,
        now: Instant,
    ) -> Host {
        let mut nic = Nic::new(Medium::Ethernet, mtu);
        let iface = make_iface(mac, ip, prefix_len, seed, &mut nic, now);
        Host {
            mac,
            ip,
            prefix_len,
            ip6: ipv6_of(ip, prefix_len),
            vni,
            iface,
            sockets: SocketSet::new(vec![]),
            nic,
            apps: Vec::new(),
            neighbours: Neighbours::default(),
            next_local_port: 49152,
        }
    }

    /// Changes the NIC's MTU. smoltcp reads the device's capabilities once, so the interface
    /// is re-created (its ARP cache is emptied; sockets and their connections stay).
    pub fn set_mtu(&mut self, mtu: usize, seed: u64, now: Instant) {
        self.nic.mtu = mtu;
        self.iface = make_iface(self.mac, self.ip, self.prefix_len, seed, &mut self.nic, now);
        self.neighbours = Neighbours::default();
    }

    /// Mirrors smoltcp's ARP cache fill rule for a received ARP frame.
    pub fn observe_arp(&mut self, now: Instant, sender: (Mac, Ipv4Address), target: Ipv4Address) {
        if target == self.ip && sender.0.is_unicast() && !sender.1.is_unspecified() {
            self.neighbours
                .fill(now, IpAddress::Ipv4(sender.1), sender.0);
        }
    }

    /// Mirrors smoltcp's neighbour cache fill rule for a received IPv6 frame: a Neighbour
    /// Solicitation to this host (its solicited-node group or its address) teaches the
    /// sender's link-layer address, an advertisement its sender's (smoltcp keys both by the
    /// IPv6 source). Returns false for an unsolicited advertisement from a neighbour the host
    /// holds no entry for: RFC 4861 section 7.2.5 (and Linux) ignore it, where smoltcp would
    /// create the entry, so the simulator keeps it from the stack.
    pub fn observe_nd(&mut self, now: Instant, frame: &[u8]) -> bool {
        use vtep_core::wire::ndisc::{self, Message, NeighborFlags};
        match ndisc::parse(frame) {
            Ok(Some(Message::Solicitation(ns)))
                if ns.dst == solicited_node(self.ip6) || ns.dst == self.ip6 =>
            {
                if let Some(mac) = ns.source_lladdr.filter(|_| !ns.src.is_unspecified()) {
                    self.neighbours.fill(now, IpAddress::Ipv6(ns.src), mac);
                }
            }
            Ok(Some(Message::Advertisement(na)))
                if na.dst == self.ip6 || na.dst == IPV6_LINK_LOCAL_ALL_NODES =>
            {
                let known = self.neighbours.resolved(IpAddress::Ipv6(na.src), now);
                if !na.flags.contains(NeighborFlags::SOLICITED) && !known {
                    return false;
                }
                let fresh = na.flags.contains(NeighborFlags::OVERRIDE) || !known;
                if let Some(mac) = na.target_lladdr.filter(|m| m.is_unicast() && fresh) {
                    self.neighbours.fill(now, IpAddress::Ipv6(na.src), mac);
                }
            }
            _ => {}
        }
        true
    }

    /// The neighbour cache at `now` (IPv4 from ARP, IPv6 from ND; IP, MAC), without expired
    /// entries.
    pub fn arp_entries(&self, now: Instant) -> Vec<(IpAddress, Mac)> {
        self.neighbours
            .cache
            .iter()
            .filter(|(_, (_, exp))| *exp > now)
            .map(|(ip, (mac, _))| (*ip, *mac))
            .collect()
    }

    fn local_port(&mut self) -> u16 {
        let p = self.next_local_port;
        self.next_local_port = if p == u16::MAX { 49152 } else { p + 1 };
        p
    }

    /// Runs the apps, then the stack, then the apps again (to read what arrived). Frames to
    /// send are left in `nic.tx`. Returns when it wants to run next.
    pub fn poll(
        &mut self,
        now: Instant,
        reports: &mut BTreeMap<AppId, AppReport>,
    ) -> Option<Instant> {
        // Apps feed the stack, the stack runs, apps read; again while an app made progress
        // that needs the stack (a connection became writable, an echo was queued).
        for _ in 0..4 {
            for (id, part) in &mut self.apps {
                if let Some(report) = reports.get_mut(id) {
                    part.before(now, &mut self.sockets, &self.neighbours, report);
                }
            }
            self.iface.poll(now, &mut self.nic, &mut self.sockets);
            let mut again = false;
            for (id, part) in &mut self.apps {
                if let Some(report) = reports.get_mut(id) {
                    again |= part.after(now, &mut self.sockets, report);
                }
            }
            if !again {
                break;
            }
        }
        // The apps gave up on the addresses due now: a new request starts over.
        let nb = &mut self.neighbours;
        let due: Vec<IpAddress> = nb
            .asked
            .keys()
            .filter(|ip| nb.give_up_at(**ip).is_some_and(|t| t <= now))
            .copied()
            .collect();
        for ip in due {
            nb.asked.remove(&ip);
        }
        nb.note_sent((self.ip, self.ip6), &self.nic.tx, now);
        let mut next = self.iface.poll_at(now, &self.sockets);
        for (id, part) in &self.apps {
            if let Some(t) = part.next_at(reports.get(id), &self.neighbours) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    /// Adds an app part: opens its socket.
    pub fn start(&mut self, spec: PartSpec, now: Instant) -> Part {
        match spec {
            PartSpec::Ping {
                target,
                count,
                interval,
                size,
                ident,
            } => {
                let handle = self.sockets.add(icmp_socket(ident));
                Part::Ping(PingPart {
                    handle,
                    target,
                    count,
                    interval,
                    size,
                    ident,
                    next_seq: 0,
                    next_send: now,
                    sent_at: BTreeMap::new(),
                    given_up: Vec::new(),
                    queued: 0,
                    last_send: None,
                    all_out: None,
                })
            }
            PartSpec::UdpServer { port, echo } => {
                let mut s = udp_socket();
                let _ = s.bind(port);
                Part::UdpServer {
                    handle: self.sockets.add(s),
                    echo,
                }
            }
            PartSpec::UdpClient {
                target,
                port,
                count,
                interval,
                size,
            } => {
                let mut s = udp_socket();
                let local = self.local_port();
                let _ = s.bind(local);
                Part::UdpClient(UdpClientPart {
                    handle: self.sockets.add(s),
                    local,
                    target_ip: target,
                    target: IpEndpoint::new(target, port),
                    count,
                    interval,
                    size,
                    sent: 0,
                    next_send: now,
                    queued: 0,
                })
            }
            PartSpec::TcpSink { port } => {
                let mut s = tcp_socket();
                let _ = s.listen(port);
                Part::TcpSink {
                    handle: self.sockets.add(s),
                }
            }
            PartSpec::TcpSource {
                target,
                port,
                bytes,
            } => {
                let mut s = tcp_socket();
                let local = self.local_port();
                let _ = s.connect(self.iface.context(), IpEndpoint::new(target, port), local);
                Part::TcpSource {
                    handle: self.sockets.add(s),
                    target,
                    remaining: bytes,
                    closed: false,
                }
            }
        }
    }

    /// Stops an app's part on this host: closes and removes its socket.
    pub fn stop(&mut self, id: AppId) {
        let mut i = 0;
        while i < self.apps.len() {
            if self.apps[i].0 == id {
                let (_, part) = self.apps.remove(i);
                self.sockets.remove(part.handle());
            } else {
                i += 1;
            }
        }
    }
}

/// What a TCP bulk sender sends.
static BULK: [u8; 16384] = [0x5a; 16384];

/// What to start on one host.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PartSpec {
    Ping {
        /// IPv4: ping; IPv6: ping6 (ICMPv6 echo).
        target: IpAddress,
        count: u32,
        interval: Duration,
        /// ICMP payload bytes (56 like `ping`'s default).
        size: usize,
        ident: u16,
    },
    UdpServer {
        port: u16,
        echo: bool,
    },
    UdpClient {
        target: IpAddress,
        port: u16,
        count: u32,
        interval: Duration,
        size: usize,
    },
    TcpSink {
        port: u16,
    },
    TcpSource {
        target: IpAddress,
        port: u16,
        bytes: u64,
    },
}

#[derive(Debug)]
pub struct PingPart {
    handle: SocketHandle,
    target: IpAddress,
    count: u32,
    interval: Duration,
    size: usize,
    ident: u16,
    next_seq: u16,
    next_send: Instant,
    /// Requests sent and not answered yet (nor given up), with their send times.
    sent_at: BTreeMap<u16, Instant>,
    /// Requests dropped by the host because the target's address never resolved.
    given_up: Vec<u16>,
    /// Requests in the socket, not sent yet (waiting for the target's address).
    queued: usize,
    /// When the app handed its last request to the socket, and when the socket had sent
    /// every request it was handed (later when they waited for ARP).
    last_send: Option<Instant>,
    all_out: Option<Instant>,
}

impl PingPart {
    /// When the ping is done: every request sent (none waiting for the target's address), and
    /// each answered or given up, or [`PING_WAIT`] after the last.
    fn done_at(&self) -> Option<Instant> {
        if u32::from(self.next_seq) < self.count || self.queued > 0 {
            return None;
        }
        let last = self.all_out?;
        Some(if self.sent_at.is_empty() {
            last
        } else {
            last + PING_WAIT
        })
    }
}

#[derive(Debug)]
pub struct UdpClientPart {
    handle: SocketHandle,
    local: u16,
    target_ip: IpAddress,
    target: IpEndpoint,
    count: u32,
    interval: Duration,
    size: usize,
    sent: u32,
    next_send: Instant,
    /// Datagrams in the socket, not sent yet (waiting for the target's address).
    queued: usize,
}

/// The running part of an app on one host.
#[derive(Debug)]
pub enum Part {
    Ping(PingPart),
    UdpServer {
        handle: SocketHandle,
        echo: bool,
    },
    UdpClient(UdpClientPart),
    TcpSink {
        handle: SocketHandle,
    },
    TcpSource {
        handle: SocketHandle,
        target: IpAddress,
        remaining: u64,
        closed: bool,
    },
}

/// What an app measured so far.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct AppReport {
    pub started: Option<Instant>,
    /// Ping: echo requests sent; UDP: datagrams sent; TCP: bytes handed to the socket.
    pub sent: u64,
    /// Ping: echo replies; UDP: datagrams echoed back to the client; TCP: unused.
    pub replies: u64,
    /// UDP: datagrams the server received; TCP: bytes the sink received.
    pub received: u64,
    /// Ping: (sequence number, round-trip time) per reply, in arrival order.
    pub rtts: Vec<(u16, Duration)>,
    /// Ping: sequence numbers never answered (filled as replies come; final after the run).
    pub unanswered: Vec<u16>,
    /// Ping: requests, UDP: datagrams the host dropped because the destination's address never
    /// resolved ([`ARP_TRIES`] ARP requests unanswered); TCP: 1 when the connection was
    /// abandoned for that reason. Counted in `sent` too.
    pub unreachable: u64,
    /// When the app was done: a ping's requests all answered, given up or waited for
    /// ([`PING_WAIT`]); a TCP transfer completed or abandoned; a UDP flow's datagrams all out.
    pub finished: Option<Instant>,
    /// TCP: total bytes to move; the transfer is complete when the sink has them all.
    pub target_bytes: u64,
    /// TCP: when the sink received the last byte.
    pub completed: Option<Instant>,
    pub stopped: bool,
}

impl AppReport {
    /// Ping: requests without a reply.
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.replies)
    }

    /// TCP: time from start to completion.
    pub fn duration(&self) -> Option<Duration> {
        Some(self.completed? - self.started?)
    }
}

impl Part {
    pub fn handle(&self) -> SocketHandle {
        match self {
            Part::Ping(p) => p.handle,
            Part::UdpClient(u) => u.handle,
            Part::UdpServer { handle, .. }
            | Part::TcpSink { handle }
            | Part::TcpSource { handle, .. } => *handle,
        }
    }

    fn next_at(&self, report: Option<&AppReport>, nb: &Neighbours) -> Option<Instant> {
        let finished = report.is_some_and(|r| r.finished.is_some());
        let earliest = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match self {
            Part::Ping(p) => {
                let send = (u32::from(p.next_seq) < p.count).then_some(p.next_send);
                let done = p.done_at().filter(|_| !finished);
                let give_up = nb.give_up_at(p.target).filter(|_| p.queued > 0);
                earliest(earliest(send, done), give_up)
            }
            Part::UdpClient(u) => {
                let send = (u.sent < u.count).then_some(u.next_send);
                earliest(send, nb.give_up_at(u.target_ip).filter(|_| u.queued > 0))
            }
            Part::TcpSource { target, closed, .. } if !*closed => nb.give_up_at(*target),
            _ => None,
        }
    }

    fn before(
        &mut self,
        now: Instant,
        sockets: &mut SocketSet<'static>,
        nb: &Neighbours,
        report: &mut AppReport,
    ) {
        match self {
            Part::Ping(p) => {
                let queued = sockets.get::<icmp::Socket<'_>>(p.handle).send_queue();
                if queued > 0 && nb.give_up_at(p.target).is_some_and(|t| t <= now) {
                    // The address never resolved: drop what waits for it (a fresh socket), as
                    // the kernel drops its queue and reports the host unreachable.
                    sockets.remove(p.handle);
                    p.handle = sockets.add(icmp_socket(p.ident));
                    let first = p.next_seq.saturating_sub(queued as u16);
                    for seq in first..p.next_seq {
                        if p.sent_at.remove(&seq).is_some() {
                            p.given_up.push(seq);
                            report.unreachable += 1;
                        }
                    }
                    p.queued = 0;
                    p.all_out = Some(now);
                }
                while u32::from(p.next_seq) < p.count && p.next_send <= now {
                    let s = sockets.get_mut::<icmp::Socket<'_>>(p.handle);
                    let data = vec![0xa5u8; p.size];
                    if !send_echo(s, p.target, p.ident, p.next_seq, &data) {
                        break;
                    }
                    p.sent_at.insert(p.next_seq, now);
                    p.last_send = Some(now);
                    report.sent += 1;
                    p.next_seq += 1;
                    p.next_send += p.interval;
                }
            }
            Part::UdpClient(u) => {
                let queued = sockets.get::<udp::Socket<'_>>(u.handle).send_queue();
                if queued > 0 && nb.give_up_at(u.target_ip).is_some_and(|t| t <= now) {
                    sockets.remove(u.handle);
                    let mut s = udp_socket();
                    let _ = s.bind(u.local);
                    u.handle = sockets.add(s);
                    report.unreachable += queued as u64;
                    u.queued = 0;
                }
                let s = sockets.get_mut::<udp::Socket<'_>>(u.handle);
                while u.sent < u.count && u.next_send <= now {
                    let mut data = vec![0u8; u.size.max(4)];
                    data[..4].copy_from_slice(&u.sent.to_be_bytes());
                    if s.send_slice(&data, u.target).is_err() {
                        break;
                    }
                    u.sent += 1;
                    report.sent += 1;
                    u.next_send += u.interval;
                }
            }
            Part::TcpSource {
                handle,
                target,
                remaining,
                closed,
            } => {
                if !*closed && tcp_gave_up(now, sockets, handle, *target, nb) {
                    *remaining = 0;
                    *closed = true;
                    report.unreachable = 1;
                    report.finished.get_or_insert(now);
                    return;
                }
                let s = sockets.get_mut::<tcp::Socket<'_>>(*handle);
                while *remaining > 0 && s.can_send() {
                    let chunk = usize::try_from((*remaining).min(16384)).unwrap_or(16384);
                    match s.send_slice(&BULK[..chunk]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            *remaining -= n as u64;
                            report.sent += n as u64;
                        }
                    }
                }
                if *remaining == 0 && !*closed {
                    s.close();
                    *closed = true;
                }
            }
            Part::UdpServer { .. } | Part::TcpSink { .. } => {}
        }
    }

    /// Reads what arrived; true if it queued something to send (poll again).
    fn after(
        &mut self,
        now: Instant,
        sockets: &mut SocketSet<'static>,
        report: &mut AppReport,
    ) -> bool {
        match self {
            Part::Ping(p) => {
                let s = sockets.get_mut::<icmp::Socket<'_>>(p.handle);
                while let Ok((bytes, from)) = s.recv() {
                    let Some((ident, seq_no)) = echo_reply(bytes, from) else {
                        continue;
                    };
                    if ident != p.ident {
                        continue;
                    }
                    if let Some(at) = p.sent_at.remove(&seq_no) {
                        report.replies += 1;
                        report.rtts.push((seq_no, now - at));
                    }
                }
                p.queued = s.send_queue();
                if p.queued == 0 && p.all_out < p.last_send {
                    p.all_out = Some(now);
                }
                report.unanswered = p.sent_at.keys().copied().collect();
                report.unanswered.extend(&p.given_up);
                report.unanswered.sort_unstable();
                if report.finished.is_none() && p.done_at().is_some_and(|d| d <= now) {
                    report.finished = Some(now);
                }
                false
            }
            Part::UdpServer { handle, echo } => {
                let s = sockets.get_mut::<udp::Socket<'_>>(*handle);
                let mut again = false;
                while let Ok((data, meta)) = s.recv() {
                    report.received += 1;
                    if *echo {
                        let (data, to) = (data.to_vec(), meta.endpoint);
                        again |= s.send_slice(&data, to).is_ok();
                    }
                }
                again
            }
            Part::UdpClient(u) => {
                let s = sockets.get_mut::<udp::Socket<'_>>(u.handle);
                while s.recv().is_ok() {
                    report.replies += 1;
                }
                u.queued = s.send_queue();
                if report.finished.is_none() && u.sent >= u.count && s.send_queue() == 0 {
                    report.finished = Some(now);
                }
                false
            }
            Part::TcpSink { handle } => {
                let s = sockets.get_mut::<tcp::Socket<'_>>(*handle);
                while s.can_recv() {
                    let Ok(n) = s.recv(|b| (b.len(), b.len())) else {
                        break;
                    };
                    if n == 0 {
                        break;
                    }
                    report.received += n as u64;
                    if report.completed.is_none()
                        && report.target_bytes > 0
                        && report.received >= report.target_bytes
                    {
                        report.completed = Some(now);
                        report.finished.get_or_insert(now);
                    }
                }
                if s.state() == tcp::State::CloseWait {
                    s.close();
                    return true;
                }
                false
            }
            Part::TcpSource {
                handle,
                remaining,
                closed,
                ..
            } => {
                let s = sockets.get_mut::<tcp::Socket<'_>>(*handle);
                (*remaining > 0 && s.can_send()) || (*remaining == 0 && !*closed)
            }
        }
    }
}

/// A TCP connection still waiting for its peer's address after [`ARP_TRIES`] requests is
/// abandoned, as the kernel fails `connect` with "no route to host": its socket is replaced by
/// a closed one, so no SYN waits any more. True when it gave up now.
fn tcp_gave_up(
    now: Instant,
    sockets: &mut SocketSet<'static>,
    handle: &mut SocketHandle,
    target: IpAddress,
    nb: &Neighbours,
) -> bool {
    let waiting = sockets.get::<tcp::Socket<'_>>(*handle).state() == tcp::State::SynSent;
    if !waiting || nb.give_up_at(target).is_none_or(|t| t > now) {
        return false;
    }
    sockets.remove(*handle);
    *handle = sockets.add(tcp_socket());
    true
}
