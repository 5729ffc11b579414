//! The device layer: TAP devices and underlay sockets around one [`Vtep`] engine, driven by a
//! `poll(2)` loop.
//!
//! Per wake-up: read at most [`BATCH`] frames from each ready TAP and [`BATCH`] datagrams from
//! each ready socket, feed each to the engine and carry out its outputs, service the control
//! socket, and give the engine its timeout when due. The engine sees time only as the
//! [`vtep_core::Instant`]s this module passes it, taken from the monotonic clock.
//!
//! Three data paths ([`Datapath`], `--datapath`), all through the same engine:
//!
//! - **plain**: one `read`/`write` per frame, one `recvfrom` per datagram, one `sendto` per
//!   tunnel packet on an `IPPROTO_RAW` socket (outer headers written in place by
//!   `OuterRepr::emit`, so each inner flow keeps its own UDP source port from `--srcport`).
//! - **batch**: the same, but inputs land in slots of an arena so the tunnel packets of a whole
//!   wake-up leave in one `sendmmsg`, and datagrams arrive by `recvmmsg`.
//! - **offload**: the TAP is opened with `IFF_VNET_HDR` and `TUNSETOFFLOAD(CSUM|TSO4|TSO6)`: the
//!   kernel hands over TCP super-frames of up to 64 KiB with partial checksums. Each is cut
//!   ([`offload::segment`]) into MTU-sized frames laid out one after the other, each with room
//!   for its tunnel header; the engine encapsulates each in place, and runs of datagrams to the
//!   same peer leave in one UDP GSO `sendmsg` (`UDP_SEGMENT`: the kernel cuts the buffer every
//!   `stride` bytes, and since every segment carries its own VXLAN and inner headers, each cut
//!   is a complete VXLAN datagram). Sending needs a UDP socket, not the raw one: a pool of up to
//!   16 sockets bound to ports spread over `--srcport`, picked by the flow's source port, keeps
//!   flows on distinct ports (ECMP entropy, coarser than per-flow). Receiving uses `UDP_GRO`:
//!   one read returns a run of datagrams; after decapsulation, in-order TCP segments of one flow
//!   are coalesced ([`offload::Coalescer`], each checksum verified) into one super-frame
//!   written to the TAP with a GSO virtio header.
//!
//! `--queues N` (offload and batch): N workers, each with one queue of every TAP
//! (`IFF_MULTI_QUEUE`), its own `SO_REUSEPORT` listening sockets and buffers; worker 0 runs on
//! the main thread with the signals and the control socket, the others on their own threads.
//! They share one engine (`Engine`, behind a mutex taken once per read, not per packet), so
//! there is still one FDB and one set of counters. With N = 1 it is the single loop as before.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vtep_core::Vni;
use vtep_core::fdb::{Destination, Mac, Origin, PortId};
use vtep_core::vtep::{DropReason, Encapsulation, Event, Input, NetworkCounters, Output, Vtep};
use vtep_core::wire::outer::{MAX_HEADROOM, Transport};
use vtep_core::wire::vxlan::ReservedBitsPolicy;

use crate::config::{ColonMac, Datapath, NetworkSettings, Settings, parse_mac};
use crate::control::{
    self, DaemonStats, FdbRow, NeighRow, NetworkStats, Request, Response, StatsReport,
};
use crate::offload::{self, Coalescer, Offer, VNET_HDR_LEN, VnetHdr};
use crate::sys::{self, errno};

/// Most frames or datagrams taken from one descriptor per wake-up (wireguard-go uses 128).
pub const BATCH: usize = 64;
/// Bytes after the headroom: the largest datagram or TAP frame (a 64 KiB TSO super-frame
/// plus its Ethernet and virtio-net headers fits).
const BUF_LEN: usize = 65_536 + 1024;
/// Socket buffer size asked of the kernel for the underlay sockets.
const SOCKET_BUFFER: usize = 4 << 20;

/// Largest UDP GSO send: 64 datagrams (the kernel's `UDP_MAX_SEGMENTS`) within one IP packet.
const GSO_MAX_SEGMENTS: usize = 64;
const GSO_MAX_BYTES: usize = 65_000;
/// UDP sockets in the offload sending pool.
const SEND_POOL: usize = 16;

/// Consecutive tunnel datagrams, in one buffer, to one peer from one socket: one UDP GSO send.
#[derive(Debug, Clone, Copy)]
struct GsoRun {
    dst: SocketAddr,
    socket: usize,
    start: usize,
    end: usize,
    /// Length of every datagram but the last.
    segment: usize,
    count: usize,
    /// A shorter datagram ended the run.
    closed: bool,
}

/// A fatal error, worded for the operator (what went wrong and how to fix it).
pub type Fatal = String;

/// The monotonic clock, as the engine's `Instant`s.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: std::time::Instant,
}

impl Clock {
    fn now(&self) -> vtep_core::Instant {
        let micros = self.start.elapsed().as_micros();
        vtep_core::Instant::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

#[derive(Debug)]
struct Tap {
    name: String,
    file: File,
    vni: Vni,
    port: PortId,
    /// Created by us (removed at exit, when the fd closes) rather than attached to.
    created: bool,
    /// The bridge we enslaved it to.
    bridge: Option<String>,
    /// Frames carry a virtio-net header (offload mode).
    vnet: bool,
    /// Room for the tunnel header in front of each segment of a super-frame.
    prefix: usize,
}

#[derive(Debug)]
struct RxSocket {
    socket: UdpSocket,
    port: u16,
    encap: Encapsulation,
}

/// Everything the outputs are carried out on.
#[derive(Debug)]
struct Io {
    taps: Vec<Tap>,
    /// `PortId.0` -> index into `taps`.
    port_tap: Vec<usize>,
    sender: sys::RawIpSender,
    stats: DaemonStats,
    datapath: Datapath,
    /// Batch: (arena slot, packet range in the slot, destination) waiting for one sendmmsg.
    raw_queue: Vec<(usize, Range<usize>, IpAddr)>,
    /// Offload: UDP sockets bound to ports spread over --srcport.
    udp_tx: Vec<UdpSocket>,
    srcport_min: u16,
    /// Offload: the UDP GSO run being gathered (ranges of the current input's buffer).
    gso: Option<GsoRun>,
    /// Offload: TCP segments on their way to a TAP, coalesced.
    coalescer: Coalescer,
    /// The last send failed (e.g. the underlay link is down): the next success is logged.
    send_failing: bool,
}

impl Io {
    fn tap_of_port(&self, port: PortId) -> Option<&Tap> {
        self.port_tap
            .get(usize::from(port.0))
            .and_then(|i| self.taps.get(*i))
    }

    fn dest_name(&self, dest: &Destination) -> String {
        match dest {
            Destination::Local(port) => self
                .tap_of_port(*port)
                .map_or_else(|| port.to_string(), |t| format!("dev {}", t.name)),
            Destination::Remote(ip) => format!("dst {ip}"),
        }
    }

    /// Carries out a transmit of `buf[t.payload]` (the current input's buffer, which is in
    /// arena slot `slot` in batch mode).
    fn transmit(&mut self, buf: &mut [u8], slot: Option<usize>, t: &vtep_core::vtep::Transmit) {
        let dst: IpAddr = t.outer.dst.into();
        if self.datapath == Datapath::Offload
            && let Transport::Udp { src_port, dst_port } = t.outer.transport
        {
            return self.transmit_udp(buf, t.payload.clone(), dst, src_port, dst_port);
        }
        let packet = match t.outer.emit(buf, t.payload.clone()) {
            Ok(packet) => packet,
            Err(e) => return self.send_error(dst, &e, 1),
        };
        // Copies of a flooded frame share the buffer: each needs its own outer header, so they
        // leave at once rather than queued.
        if let (Datapath::Batch, Some(slot), false) = (self.datapath, slot, t.flooded) {
            self.raw_queue.push((slot, packet, dst));
            return;
        }
        match self.sender.send_to(&buf[packet], dst) {
            Ok(_) => self.sent(),
            Err(e) => self.send_error(dst, &e, 1),
        }
    }

    /// A send succeeded: says so once after failures (the link is back).
    #[inline]
    fn sent(&mut self) {
        if self.send_failing {
            self.send_failing = false;
            tracing::info!(
                "sending works again ({} send errors in all)",
                self.stats.udp_send_errors
            );
        }
    }

    /// Counts failed sends. Never fatal: an underlay link that is down (ENETUNREACH), a full
    /// socket buffer (ENOBUFS, EAGAIN) or a peer's ICMP error passes, and the packets are
    /// lost as on a wire. `e` is formatted only when logged: a down link fails every packet.
    fn send_error(&mut self, dst: IpAddr, e: &dyn std::fmt::Display, count: u64) {
        self.send_failing = true;
        let before = self.stats.udp_send_errors;
        self.stats.udp_send_errors += count;
        // Logged at 1, 2, 4, 8, ... errors: visible, but never a flood of logs.
        if (before + 1..=self.stats.udp_send_errors).any(u64::is_power_of_two) {
            tracing::warn!(
                "send to {dst} failed: {e} ({} send errors so far)",
                self.stats.udp_send_errors
            );
        }
    }

    /// Offload: adds a datagram to the UDP GSO run, or sends the run and starts another.
    fn transmit_udp(
        &mut self,
        buf: &[u8],
        payload: Range<usize>,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
    ) {
        let dst = SocketAddr::new(dst, dst_port);
        let socket = usize::from(src_port.wrapping_sub(self.srcport_min)) % self.udp_tx.len();
        let len = payload.len();
        if let Some(run) = &mut self.gso
            && run.dst == dst
            && run.socket == socket
            && run.end == payload.start
            && !run.closed
            && len <= run.segment
            && run.count < GSO_MAX_SEGMENTS
            && run.end - run.start + len <= GSO_MAX_BYTES
        {
            run.end = payload.end;
            run.count += 1;
            run.closed = len < run.segment;
            return;
        }
        self.flush_gso(buf);
        self.gso = Some(GsoRun {
            dst,
            socket,
            start: payload.start,
            end: payload.end,
            segment: len,
            count: 1,
            closed: false,
        });
    }

    /// Offload: sends the gathered run (before `buf` is reused).
    fn flush_gso(&mut self, buf: &[u8]) {
        let Some(run) = self.gso.take() else {
            return;
        };
        let segment = (run.count > 1).then_some(run.segment as u16);
        match sys::send_gso(
            &self.udp_tx[run.socket],
            &buf[run.start..run.end],
            run.dst,
            segment,
        ) {
            Ok(_) => self.sent(),
            Err(e) => self.send_error(run.dst.ip(), &e, run.count as u64),
        }
    }

    /// Batch: sends every queued packet of `arena` (slots of `slot_len` bytes).
    fn flush_raw(&mut self, arena: &[u8], slot_len: usize) {
        let mut done = 0;
        while done < self.raw_queue.len() {
            let mut packets: [(&[u8], IpAddr); BATCH] =
                [(&[][..], IpAddr::from([0, 0, 0, 0])); BATCH];
            let n = (self.raw_queue.len() - done).min(BATCH);
            for (p, (slot, range, dst)) in packets.iter_mut().zip(&self.raw_queue[done..done + n]) {
                let base = slot * slot_len;
                *p = (&arena[base + range.start..base + range.end], *dst);
            }
            match self.sender.send_many(&packets[..n]) {
                Ok(0) | Err(_) => {
                    let dst = self.raw_queue[done].2;
                    let left = (self.raw_queue.len() - done) as u64;
                    self.send_error(dst, &"sendmmsg failed", left);
                    break;
                }
                Ok(sent) => {
                    done += sent;
                    self.sent();
                }
            }
        }
        self.raw_queue.clear();
    }

    /// Delivers an Ethernet frame to the TAP of `port` (coalescing TCP in offload mode).
    fn deliver(&mut self, frame: &[u8], port: PortId) {
        let Some(index) = self.port_tap.get(usize::from(port.0)).copied() else {
            return;
        };
        if index >= self.taps.len() {
            return;
        }
        if self.datapath == Datapath::Offload {
            for _ in 0..2 {
                match self.coalescer.offer(index, frame) {
                    Offer::Taken => return,
                    Offer::FlushAndRetry if !self.coalescer.is_empty() => self.flush_coalescer(),
                    _ => break,
                }
            }
            self.flush_coalescer();
        }
        let tap = &mut self.taps[index];
        let written = if tap.vnet {
            let hdr = VnetHdr::default().emit();
            tap.file
                .write_vectored(&[IoSlice::new(&hdr), IoSlice::new(frame)])
        } else {
            tap.file.write(frame)
        };
        if let Err(e) = written {
            self.stats.tap_write_errors += 1;
            if self.stats.tap_write_errors.is_power_of_two() {
                tracing::warn!("write to {} failed: {e}", tap.name);
            }
        }
    }

    /// Offload: writes the coalesced super-frame, if any, to its TAP.
    fn flush_coalescer(&mut self) {
        let target = self.coalescer.target;
        let Some(bytes) = self.coalescer.take() else {
            return;
        };
        let Some(tap) = self.taps.get_mut(target) else {
            return;
        };
        if let Err(e) = tap.file.write(bytes) {
            self.stats.tap_write_errors += 1;
            if self.stats.tap_write_errors.is_power_of_two() {
                tracing::warn!("write to {} failed: {e}", tap.name);
            }
        }
    }

    fn tap_name(&self, vni: Vni) -> String {
        self.taps
            .iter()
            .find(|t| t.vni == vni)
            .map_or_else(|| "-".into(), |t| t.name.clone())
    }
}

/// The engine and what the workers share: one FDB, one set of counters, however many
/// workers (`--queues`) feed it. Locked once per read (a batch of frames or datagrams), never
/// per packet.
#[derive(Debug)]
struct Engine {
    vtep: Vtep,
    next_timeout: vtep_core::Instant,
    /// Each worker's [`DaemonStats`] as of its last wake-up (summed for `stats`).
    worker_stats: Vec<DaemonStats>,
    /// A worker thread that cannot go on leaves its reason here for the main thread.
    fatal: Option<Fatal>,
}

type Shared = Arc<Mutex<Engine>>;

/// Locks the engine. A worker that panicked while holding it poisons it; the main thread then
/// stops the daemon (it sees the thread gone), so the state is only read on the way out.
fn lock(shared: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One worker's share of the data plane: one queue of every TAP, its own underlay sockets and
/// buffers. Worker 0 runs on the main thread, the others (`--queues`) on their own.
#[derive(Debug)]
struct Worker {
    id: usize,
    shared: Shared,
    io: Io,
    rx: Vec<RxSocket>,
    clock: Clock,
    buf: Vec<u8>,
    /// Batch: one slot per input of a wake-up, so their packets can leave together.
    arena: Vec<u8>,
    slot_len: usize,
    /// Offload: the segments of one TCP super-frame, each after room for its tunnel header.
    segments: Vec<u8>,
    /// Set when the device layer cannot go on; the loop then stops with this error.
    fatal: Option<Fatal>,
}

/// A running VTEP.
#[derive(Debug)]
pub struct Daemon {
    worker: Worker,
    /// Workers 1.. (`--queues`), started by [`Daemon::run`].
    others: Vec<Worker>,
    control: control::Server,
    signals: sys::SignalFd,
    settings: Settings,
    /// The user it switched to (`--user`): it can no longer change interfaces or unlink in
    /// root-only directories.
    user: Option<String>,
}

fn is_root_hint() -> &'static str {
    if sys::euid() == 0 {
        "the process lacks CAP_NET_ADMIN (a restricted container or systemd unit?): grant \
         CAP_NET_ADMIN and CAP_NET_RAW (AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW)"
    } else {
        "run it as root (sudo native-vtep ...), or grant the capabilities: \
         sudo setcap cap_net_admin,cap_net_raw+ep $(command -v native-vtep)"
    }
}

/// Opens (or creates) the TAP of one network, with a message that says how to fix each failure.
fn open_tap(
    settings: &Settings,
    n: &NetworkSettings,
    vnet: bool,
    multi_queue: bool,
) -> Result<(File, bool), Fatal> {
    let existed = sys::if_index(&n.tap).is_some();
    let tun = &settings.tun_device;
    let opened = sys::open_tap(tun, &n.tap, vnet, multi_queue);
    let (file, name) = opened.map_err(|e| match e.raw_os_error() {
        Some(errno::ENOENT) | Some(errno::ENODEV) | Some(errno::ENXIO) => format!(
            "cannot open {}: no such device: the kernel's tun/tap driver is missing; load it \
             (modprobe tun) or create the device node (mkdir -p /dev/net && mknod {} c 10 200)",
            tun.display(),
            tun.display()
        ),
        Some(errno::EACCES) => format!(
            "cannot {} TAP device {}: permission denied on {} (needs root, or CAP_NET_ADMIN \
             and access to {}): {}",
            if existed { "attach to" } else { "create" },
            n.tap,
            tun.display(),
            tun.display(),
            is_root_hint()
        ),
        Some(errno::EPERM) => format!(
            "cannot {} TAP device {}: operation not permitted (needs CAP_NET_ADMIN): {}",
            if existed { "attach to" } else { "create" },
            n.tap,
            is_root_hint()
        ),
        Some(errno::EBUSY) => format!(
            "TAP device {} is busy: another process (another native-vtep?) has it open; stop \
             that process, or choose another --tap name",
            n.tap
        ),
        Some(errno::EINVAL) if existed && multi_queue => format!(
            "cannot attach {} queues to {}: it exists as a single-queue TAP (or is no TAP); \
             delete it (ip link del {}), create it with `ip tuntap add dev {} mode tap \
             multi_queue`, or use --queues 1",
            settings.queues, n.tap, n.tap, n.tap
        ),
        Some(errno::EINVAL) if existed => format!(
            "{} exists and is not a TAP device: choose another --tap name, or delete it \
             (ip link del {})",
            n.tap, n.tap
        ),
        _ => format!(
            "cannot open TAP device {} via {}: {e}",
            n.tap,
            tun.display()
        ),
    })?;
    debug_assert_eq!(name, n.tap);
    if vnet {
        sys::tap_set_offload(&file, true, true).map_err(|e| {
            format!(
                "cannot enable checksum and TSO offload on TAP {} (TUNSETOFFLOAD): {e}; use \
                 --datapath batch",
                n.tap
            )
        })?;
    }
    Ok((file, !existed))
}

/// Whether this kernel has UDP GSO and GRO (`UDP_SEGMENT`, Linux 4.18; `UDP_GRO`, 5.0).
/// Probed on the unspecified address of `local`'s family: a kernel feature, not an address's
/// (a foreign `--local` must fail later with its own message, not as "lacks UDP GSO/GRO").
fn udp_offloads_supported(local: IpAddr) -> bool {
    let any = match local {
        IpAddr::V4(_) => IpAddr::from([0u8; 4]),
        IpAddr::V6(_) => IpAddr::from([0u8; 16]),
    };
    let Ok(probe) = UdpSocket::bind(SocketAddr::new(any, 0)) else {
        return false;
    };
    sys::udp_segment_supported(&probe) && sys::set_udp_gro(&probe).is_ok()
}

/// Offload: UDP sockets bound to `local` on ports spread over `range` (a port in use is
/// skipped for the next one of its share of the range).
fn bind_send_pool(local: IpAddr, (min, max): (u16, u16)) -> Result<Vec<UdpSocket>, Fatal> {
    let span = usize::from(max - min) + 1;
    let count = SEND_POOL.min(span);
    let share = span / count;
    let mut pool = Vec::new();
    for k in 0..count {
        let first = usize::from(min) + k * share;
        for port in first..first + share {
            let Ok(socket) = UdpSocket::bind(SocketAddr::new(local, port as u16)) else {
                continue;
            };
            socket
                .set_nonblocking(true)
                .map_err(|e| format!("UDP socket: {e}"))?;
            if let Err(e) = sys::set_socket_buffers(&socket, SOCKET_BUFFER) {
                tracing::warn!("cannot enlarge socket buffers of {local}:{port}: {e}");
            }
            pool.push(socket);
            break;
        }
    }
    if pool.is_empty() {
        return Err(format!(
            "--datapath offload: no free UDP port on {local} in --srcport {min} {max} to send \
             from; widen the range or use --datapath batch"
        ));
    }
    Ok(pool)
}

/// Binds the listening socket of `port`; with `reuseport` (`--queues` > 1) one of several
/// sharing it.
fn bind_udp(local: IpAddr, port: u16, what: &str, reuseport: bool) -> Result<UdpSocket, Fatal> {
    let addr = SocketAddr::new(local, port);
    let bound = if reuseport {
        sys::bind_udp_reuseport(addr)
    } else {
        UdpSocket::bind(addr)
    };
    let socket = bound.map_err(|e| match e.raw_os_error() {
        Some(errno::EADDRINUSE) => format!(
            "UDP port {port} on {local} is already in use ({what}): another VTEP listens \
                 there (a kernel vxlan/geneve device with that dstport, or another \
                 native-vtep); stop it, or choose another port with --dstport (see `ss -ulpn \
                 sport = :{port}`)"
        ),
        Some(errno::EADDRNOTAVAIL) => format!(
            "cannot bind {local}:{port}: {local} is not an address of this host; --local \
                 must be assigned to one of its interfaces (ip addr add {local}/24 dev ...)"
        ),
        Some(errno::EACCES) | Some(errno::EPERM) => format!(
            "cannot bind {local}:{port}: permission denied: {}",
            is_root_hint()
        ),
        _ => format!("cannot bind {local}:{port} ({what}): {e}"),
    })?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("UDP socket: {e}"))?;
    if let Err(e) = sys::set_socket_buffers(&socket, SOCKET_BUFFER) {
        tracing::warn!("cannot enlarge socket buffers of {local}:{port}: {e}");
    }
    Ok(socket)
}

/// The account of `--user NAME`, checked before anything is created.
fn resolve_user(name: &str) -> Result<sys::Account, Fatal> {
    let account = sys::lookup_user(name)
        .map_err(|e| format!("--user {name}: cannot look the user up: {e}"))?
        .ok_or_else(|| {
            format!(
                "--user {name}: unknown user {name:?}: there is no such account; create one \
                 (useradd --system --no-create-home --shell /usr/sbin/nologin {name}) or name \
                 an existing unprivileged user"
            )
        })?;
    if account.uid == 0 {
        return Err(format!(
            "--user {name}: {name} is uid 0 (root), so nothing would be dropped: name an \
             unprivileged user"
        ));
    }
    if sys::euid() != 0 {
        return Err(format!(
            "--user {name}: switching to another user needs root: start native-vtep as root \
             (sudo native-vtep ...); it opens its TAPs and sockets, then becomes {name}. \
             Without root, leave out --user (the process is unprivileged already)"
        ));
    }
    Ok(account)
}

/// Becomes `account` for good (see [`sys::drop_privileges`]) and checks that no capability
/// survived. Nothing the daemon does afterwards needs privilege: reads and writes on open TAP
/// fds and sockets are not checked again, a TAP it created vanishes when its fd closes, and
/// the underlay sockets outlive a link going down and up.
fn drop_privileges(name: &str, account: sys::Account) -> Result<(), Fatal> {
    sys::drop_privileges(account).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(errno::EPERM) => {
                " (needs CAP_SETUID and CAP_SETGID: in a systemd unit, add them to \
                 CapabilityBoundingSet=)"
            }
            _ => "",
        };
        format!(
            "--user {name}: cannot switch to uid {} gid {}: {e}{hint}",
            account.uid, account.gid
        )
    })?;
    // securebits (SECBIT_NO_SETUID_FIXUP, SECBIT_KEEP_CAPS) can keep capabilities across the
    // switch; this daemon wants none.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(("CapPrm" | "CapEff" | "CapAmb", mask)) = line.split_once(':')
                && u64::from_str_radix(mask.trim(), 16) != Ok(0)
            {
                return Err(format!(
                    "--user {name}: capabilities survived the switch ({line}): clear the \
                     keep-caps / no-setuid-fixup securebits of the service"
                ));
            }
        }
    }
    tracing::info!(
        "dropped privileges: now user {name} (uid {}, gid {}), no supplementary groups, no \
         capabilities, no_new_privs",
        account.uid,
        account.gid
    );
    Ok(())
}

impl Daemon {
    /// Creates the engine, the TAPs, the sockets and the control socket, then switches to
    /// `--user` if given. On error, whatever was created is released again (TAPs created here
    /// disappear with their fds).
    pub fn new(settings: Settings) -> Result<Daemon, Fatal> {
        let user = match &settings.user {
            Some(name) => Some((name.clone(), resolve_user(name)?)),
            None => None,
        };
        let signals = sys::SignalFd::new().map_err(|e| format!("signalfd: {e}"))?;
        let clock = Clock {
            start: std::time::Instant::now(),
        };
        let now = clock.now();

        let mut config = settings.vtep_config();
        config.hash_seed = random_seed();
        let mut vtep = Vtep::new(config, now).map_err(|e| e.to_string())?;

        // `auto` takes the fastest path the kernel offers. With UDP GSO, veth and bridges carry
        // a run of datagrams as one super-datagram (segmented only by a real NIC or a non-GSO
        // receiver): captures there show fewer, larger packets; `--datapath batch` shows them
        // one by one.
        let offload_ok = matches!(settings.datapath, Some(Datapath::Offload) | None)
            && udp_offloads_supported(settings.local);
        let datapath = match settings.datapath {
            Some(Datapath::Offload) if !offload_ok => {
                return Err(
                    "--datapath offload: this kernel lacks UDP GSO/GRO (UDP_SEGMENT, \
                     UDP_GRO: Linux 5.0 or later); use --datapath batch"
                        .into(),
                );
            }
            Some(datapath) => datapath,
            None if offload_ok => Datapath::Offload,
            None => Datapath::Batch,
        };
        let vnet = datapath == Datapath::Offload;
        let queues = settings.queues;
        // `config::settle` refuses `--queues` > 1 with `--datapath plain`.
        debug_assert!(queues == 1 || datapath != Datapath::Plain);
        let multi_queue = queues > 1;

        // taps[q]: queue q of every network's TAP, for worker q.
        let mut taps: Vec<Vec<Tap>> = (0..queues).map(|_| Vec::new()).collect();
        let mut port_tap = Vec::new();
        for n in &settings.networks {
            let network = n.network_config();
            let at = |e: vtep_core::vtep::ConfigError| format!("{}: {e}", n.origin);
            vtep.add_network(network, now).map_err(at)?;
            let port = vtep.add_port(n.vni).map_err(at)?;
            for remote in &n.remotes {
                vtep.add_flood_peer(n.vni, (*remote).into()).map_err(at)?;
            }
            for (mac, ip) in &n.fdb {
                vtep.add_static_fdb(now, n.vni, *mac, Destination::Remote((*ip).into()))
                    .map_err(at)?;
            }
            for (ip, mac) in &n.neigh {
                vtep.add_static_neighbour(now, n.vni, *ip, *mac)
                    .map_err(at)?;
            }

            let (file, created) = open_tap(&settings, n, vnet, multi_queue)?;
            let mut files = vec![file];
            for _ in 1..queues {
                files.push(open_tap(&settings, n, vnet, true)?.0);
            }
            let overhead = network.encapsulation.ip_overhead(settings.local.is_ipv6());
            let mtu = u32::from(settings.underlay_mtu).saturating_sub((overhead + 14) as u32);
            if let Err(e) = sys::set_mtu(&n.tap, mtu) {
                tracing::warn!("cannot set the MTU of {} to {mtu}: {e}", n.tap);
            }
            let mut bridge = None;
            if let Some(br) = &n.bridge {
                sys::bridge_port(br, &n.tap, true).map_err(|e| match e.raw_os_error() {
                    Some(errno::ENODEV) => format!(
                        "{}: bridge {br} does not exist: create it (ip link add {br} type \
                         bridge) or drop --bridge",
                        n.origin
                    ),
                    Some(errno::EOPNOTSUPP) | Some(errno::EINVAL) => format!(
                        "{}: {br} is not a Linux bridge: give --bridge the name of a bridge \
                         device",
                        n.origin
                    ),
                    _ => format!("{}: cannot add {} to bridge {br}: {e}", n.origin, n.tap),
                })?;
                bridge = Some(br.clone());
            }
            sys::set_link_up(&n.tap, true)
                .map_err(|e| format!("cannot bring {} up: {e}", n.tap))?;
            tracing::info!(
                "{} TAP {}{}{} (mtu {mtu}) for VNI {} ({}, {}{})",
                if created { "created" } else { "attached to" },
                n.tap,
                if multi_queue {
                    format!(" with {queues} queues")
                } else {
                    String::new()
                },
                n.bridge
                    .as_ref()
                    .map_or(String::new(), |b| format!(" in bridge {b}")),
                n.vni,
                network.encapsulation,
                if n.learning { "learning" } else { "nolearning" },
                if n.proxy { ", proxy" } else { "" },
            );
            let index = usize::from(port.0);
            if port_tap.len() <= index {
                port_tap.resize(index + 1, usize::MAX);
            }
            port_tap[index] = taps[0].len();
            for (queue, file) in taps.iter_mut().zip(files) {
                queue.push(Tap {
                    name: n.tap.clone(),
                    file,
                    vni: n.vni,
                    port,
                    created,
                    bridge: bridge.clone(),
                    vnet,
                    prefix: network.encapsulation.header_len(),
                });
            }
        }

        // rx[q]: worker q's listening sockets; with several, SO_REUSEPORT lets the kernel
        // spread the flows (outer source ports) over them.
        let mut rx: Vec<Vec<RxSocket>> = (0..queues).map(|_| Vec::new()).collect();
        for (encap, port) in [
            (Encapsulation::Vxlan, settings.vxlan_port),
            (Encapsulation::Geneve, settings.geneve_port),
        ] {
            if settings.uses(encap) {
                let what = encap.name();
                for worker_rx in &mut rx {
                    let socket = bind_udp(settings.local, port, what, multi_queue)?;
                    if vnet {
                        sys::set_udp_gro(&socket)
                            .map_err(|e| format!("UDP_GRO on port {port}: {e}"))?;
                    }
                    worker_rx.push(RxSocket {
                        socket,
                        port,
                        encap,
                    });
                }
                let reserved = match (encap, settings.reserved_bits) {
                    (Encapsulation::Vxlan, ReservedBitsPolicy::Rfc) => " (reserved bits ignored)",
                    (Encapsulation::Vxlan, ReservedBitsPolicy::Strict) => {
                        " (reserved bits dropped)"
                    }
                    _ => "",
                };
                tracing::info!(
                    "listening for {what} on {}:{port}{reserved}",
                    settings.local
                );
            }
        }
        let mut senders = Vec::new();
        for _ in 0..queues {
            senders.push(
                sys::RawIpSender::new(settings.local.is_ipv6()).map_err(|e| {
                    match e.raw_os_error() {
                        Some(errno::EPERM) | Some(errno::EACCES) => format!(
                            "cannot open a raw socket for sending tunnel packets: operation not \
                         permitted (needs CAP_NET_RAW): {}",
                            is_root_hint()
                        ),
                        _ => format!("cannot open a raw socket for sending tunnel packets: {e}"),
                    }
                })?,
            );
        }
        let udp_tx = if vnet {
            bind_send_pool(settings.local, settings.srcport)?
        } else {
            Vec::new()
        };
        let pool_len = udp_tx.len();
        let control = control::Server::bind(&settings.control)?;
        tracing::info!("control socket {}", settings.control.display());
        if let Some((name, account)) = &user {
            drop_privileges(name, *account)?;
        }
        tracing::info!(
            "data path: {}{}{}",
            datapath.name(),
            match datapath {
                Datapath::Offload => format!(
                    " (TAP TSO + checksum offload, UDP GSO/GRO; sending from {pool_len} ports \
                     of --srcport)"
                ),
                Datapath::Batch => " (recvmmsg/sendmmsg)".into(),
                Datapath::Plain => String::new(),
            },
            if multi_queue {
                format!("; {queues} worker threads, one queue of each TAP each")
            } else {
                String::new()
            }
        );
        let slot_len = MAX_HEADROOM + usize::from(settings.underlay_mtu).max(1500) + 64;

        let shared = Arc::new(Mutex::new(Engine {
            vtep,
            next_timeout: now,
            worker_stats: vec![DaemonStats::default(); queues],
            fatal: None,
        }));
        let mut workers = Vec::new();
        for (id, ((taps, rx), sender)) in taps.into_iter().zip(rx).zip(senders).enumerate() {
            // The sending pool is shared (dup'd fds): the sockets only send, and concurrent
            // sends on one UDP socket are safe.
            let udp_tx = udp_tx
                .iter()
                .map(UdpSocket::try_clone)
                .collect::<io::Result<Vec<_>>>()
                .map_err(|e| format!("cannot share the sending sockets: {e}"))?;
            workers.push(Worker {
                id,
                shared: Arc::clone(&shared),
                io: Io {
                    taps,
                    port_tap: port_tap.clone(),
                    sender,
                    stats: DaemonStats::default(),
                    datapath,
                    raw_queue: Vec::with_capacity(BATCH),
                    srcport_min: settings.srcport.0,
                    udp_tx,
                    gso: None,
                    coalescer: Coalescer::default(),
                    send_failing: false,
                },
                rx,
                clock,
                buf: vec![0; MAX_HEADROOM + BUF_LEN],
                arena: if datapath == Datapath::Batch {
                    vec![0; BATCH * slot_len]
                } else {
                    Vec::new()
                },
                slot_len,
                segments: if vnet {
                    vec![0; 256 * 1024]
                } else {
                    Vec::new()
                },
                fatal: None,
            });
        }
        drop(udp_tx);
        let worker = workers.remove(0);

        Ok(Daemon {
            worker,
            others: workers,
            control,
            signals,
            settings,
            user: user.map(|(name, _)| name),
        })
    }

    /// Forwards until SIGINT, SIGTERM or SIGHUP, then stops the workers and releases
    /// everything.
    pub fn run(mut self) -> Result<(), Fatal> {
        // Closing `stop` wakes every worker (its end reads EOF): they return, dropping their
        // TAP queues and sockets.
        let (stop, stop_peer) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        let mut threads = Vec::new();
        let mut fatal = None;
        for worker in std::mem::take(&mut self.others) {
            let id = worker.id;
            let started = stop_peer.try_clone().and_then(|peer| {
                std::thread::Builder::new()
                    .name(format!("vtep-queue{id}"))
                    .spawn(move || worker.run(&peer))
            });
            match started {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    fatal = Some(format!("cannot start worker thread {id}: {e}"));
                    break;
                }
            }
        }
        drop(stop_peer);
        if fatal.is_none() {
            fatal = self.serve(&threads).err();
        }
        drop(stop);
        for (k, thread) in threads.into_iter().enumerate() {
            if thread.join().is_err() {
                tracing::warn!("worker thread {} panicked", k + 1);
            }
        }
        self.shutdown();
        fatal.map_or(Ok(()), Err)
    }

    /// The main thread's loop: worker 0's data plane, signals and the control socket.
    fn serve(&mut self, threads: &[std::thread::JoinHandle<()>]) -> Result<(), Fatal> {
        let mut fds: Vec<sys::PollFd> = Vec::new();
        loop {
            fds.clear();
            fds.push(sys::poll_in(self.signals.raw_fd()));
            self.worker.push_fds(&mut fds);
            let control_at = fds.len();
            self.control.poll_fds(&mut fds);

            sys::poll(&mut fds, self.worker.timeout_ms()).map_err(|e| format!("poll: {e}"))?;

            if sys::is_ready(&fds[0])
                && let Some(signo) = self.signals.read().map_err(|e| format!("signalfd: {e}"))?
            {
                tracing::info!("{}: shutting down", sys::signal_name(signo));
                return Ok(());
            }
            self.worker.service(&fds[1..control_at]);
            if fds[control_at..].iter().any(sys::is_ready) || fds.len() > control_at + 1 {
                let Daemon {
                    control,
                    worker,
                    settings,
                    ..
                } = self;
                control.service(|request| {
                    worker.io.stats.control_requests += 1;
                    let mut engine = lock(&worker.shared);
                    let mut total = worker.io.stats;
                    for other in engine.worker_stats.iter().skip(1) {
                        add_stats(&mut total, other);
                    }
                    handle_request(
                        &mut engine.vtep,
                        &worker.io,
                        total,
                        settings,
                        &worker.clock,
                        request,
                    )
                });
            }
            if let Some(fatal) = self.worker.fatal.take() {
                return Err(fatal);
            }
            if let Some(fatal) = lock(&self.worker.shared).fatal.take() {
                return Err(fatal);
            }
            if let Some(k) = threads.iter().position(|t| t.is_finished()) {
                return Err(lock(&self.worker.shared).fatal.take().unwrap_or_else(|| {
                    format!("worker thread {} stopped unexpectedly: stopping", k + 1)
                }));
            }
        }
    }

    fn shutdown(self) {
        let Daemon {
            worker,
            control,
            user,
            ..
        } = self;
        for tap in worker.io.taps {
            // A TAP we created leaves its bridge as it disappears; one we attached to stays.
            if let Some(bridge) = &tap.bridge
                && !tap.created
            {
                if let Some(user) = &user {
                    tracing::warn!(
                        "left {} in bridge {bridge}: as user {user} this daemon may no longer \
                         change bridge ports (ip link set {} nomaster)",
                        tap.name,
                        tap.name
                    );
                } else if let Err(e) = sys::bridge_port(bridge, &tap.name, false) {
                    tracing::warn!("cannot remove {} from {bridge}: {e}", tap.name);
                }
            }
            let name = tap.name.clone();
            let created = tap.created;
            drop(tap.file); // a TAP we created disappears with its last fd (queue)
            if created {
                tracing::info!("removed TAP {name}");
            } else {
                tracing::info!("detached from TAP {name}");
            }
        }
        let path = control.path().to_path_buf();
        match control.close() {
            Ok(()) => tracing::info!("removed control socket {}", path.display()),
            Err(e) => tracing::warn!(
                "left control socket {} in place ({e}){}; the next start replaces it",
                path.display(),
                match &user {
                    Some(user) => format!(", as user {user} this daemon may not unlink there"),
                    None => String::new(),
                }
            ),
        }
    }
}

fn add_stats(total: &mut DaemonStats, more: &DaemonStats) {
    total.tap_rx_frames += more.tap_rx_frames;
    total.tap_read_errors += more.tap_read_errors;
    total.tap_write_errors += more.tap_write_errors;
    total.udp_rx_datagrams += more.udp_rx_datagrams;
    total.udp_recv_errors += more.udp_recv_errors;
    total.udp_send_errors += more.udp_send_errors;
    total.control_requests += more.control_requests;
}

impl Worker {
    fn push_fds(&self, fds: &mut Vec<sys::PollFd>) {
        for rx in &self.rx {
            fds.push(sys::poll_in(rx.socket.as_raw_fd()));
        }
        for tap in &self.io.taps {
            fds.push(sys::poll_in(tap.file.as_raw_fd()));
        }
    }

    /// How long to wait: until the engine's next timeout, rounded up so we do not wake just
    /// before it, at most a second (to expire idle control clients and see stopped workers).
    fn timeout_ms(&self) -> i32 {
        let next = lock(&self.shared).next_timeout;
        let now = self.clock.now();
        if next <= now {
            0
        } else {
            ((next - now).total_millis() + 1).min(1000) as i32
        }
    }

    /// Reads whatever is ready among `fds` (laid out by [`Worker::push_fds`]), then gives the
    /// engine its timeout if due (whichever worker comes first).
    fn service(&mut self, fds: &[sys::PollFd]) {
        let (rx, taps) = fds.split_at(self.rx.len());
        for (i, fd) in rx.iter().enumerate() {
            if sys::is_ready(fd) {
                self.read_underlay(i);
            }
        }
        for (i, fd) in taps.iter().enumerate() {
            if sys::is_ready(fd) {
                self.read_tap(i);
            }
        }
        let shared = Arc::clone(&self.shared);
        let mut engine = lock(&shared);
        let now = self.clock.now();
        if now >= engine.next_timeout {
            engine.vtep.handle_input(now, Input::Timeout);
            drain(&mut engine, &mut self.io, &mut self.buf, None);
            drop(engine);
            self.io.flush_gso(&self.buf);
            self.io.flush_coalescer();
            engine = lock(&shared);
        }
        engine.worker_stats[self.id] = self.io.stats;
    }

    /// A worker thread: forwards until `stop` reads EOF (the main thread closed the other end)
    /// or a fatal error, which it leaves for the main thread.
    fn run(mut self, stop: &UnixStream) {
        let mut fds: Vec<sys::PollFd> = Vec::new();
        loop {
            fds.clear();
            fds.push(sys::poll_in(stop.as_raw_fd()));
            self.push_fds(&mut fds);
            match sys::poll(&mut fds, self.timeout_ms()) {
                Ok(_) if sys::is_ready(&fds[0]) => return,
                Ok(_) => self.service(&fds[1..]),
                Err(e) => self.fatal = Some(format!("poll: {e}")),
            }
            if let Some(fatal) = self.fatal.take() {
                lock(&self.shared).fatal.get_or_insert(fatal);
                return;
            }
        }
    }

    fn read_underlay(&mut self, i: usize) {
        match self.io.datapath {
            Datapath::Plain => self.read_underlay_plain(i),
            Datapath::Batch => self.read_underlay_batch(i),
            Datapath::Offload => {
                self.read_underlay_gro(i);
                self.io.flush_coalescer();
            }
        }
    }

    fn recv_error(&mut self, port: u16, e: &io::Error) {
        self.io.stats.udp_recv_errors += 1;
        tracing::debug!("receive on port {port}: {e}");
    }

    /// Gives the engine one datagram at `buf[payload]` and carries out its outputs.
    fn underlay_input(
        &mut self,
        engine: &mut Engine,
        i: usize,
        from: SocketAddr,
        buf: Option<usize>,
        payload: Range<usize>,
    ) {
        self.io.stats.udp_rx_datagrams += 1;
        let rx = &self.rx[i];
        let transport = Transport::Udp {
            src_port: from.port(),
            dst_port: rx.port,
        };
        tracing::trace!("{} bytes from {from} ({:?})", payload.len(), rx.encap);
        let buf = match buf {
            Some(slot) => &mut self.arena[slot * self.slot_len..(slot + 1) * self.slot_len],
            None => &mut self.buf[..],
        };
        engine.vtep.handle_input(
            self.clock.now(),
            Input::Underlay {
                from: from.ip().into(),
                transport,
                buf,
                payload,
            },
        );
        drain(engine, &mut self.io, buf, None);
    }

    fn read_underlay_plain(&mut self, i: usize) {
        let shared = Arc::clone(&self.shared);
        for _ in 0..BATCH {
            let rx = &self.rx[i];
            let (n, from) = match rx.socket.recv_from(&mut self.buf[MAX_HEADROOM..]) {
                Ok(ok) => ok,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => return self.recv_error(rx.port, &e),
            };
            self.underlay_input(
                &mut lock(&shared),
                i,
                from,
                None,
                MAX_HEADROOM..MAX_HEADROOM + n,
            );
        }
    }

    /// Batch: one recvmmsg into the arena's slots, all through the engine under one lock.
    fn read_underlay_batch(&mut self, i: usize) {
        let mut got = [(0usize, SocketAddr::from(([0, 0, 0, 0], 0))); BATCH];
        let received = {
            let mut slots = self.arena.chunks_mut(self.slot_len);
            let mut bufs: [&mut [u8]; BATCH] = std::array::from_fn(|_| {
                slots.next().map_or(&mut [][..], |s| &mut s[MAX_HEADROOM..])
            });
            sys::recv_many(&self.rx[i].socket, &mut bufs, &mut got)
        };
        let n = match received {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => return self.recv_error(self.rx[i].port, &e),
        };
        let shared = Arc::clone(&self.shared);
        let mut engine = lock(&shared);
        for (slot, (len, from)) in got[..n].iter().copied().enumerate() {
            if MAX_HEADROOM + len > self.slot_len {
                self.recv_error(self.rx[i].port, &io::Error::other("datagram truncated"));
                continue;
            }
            self.underlay_input(
                &mut engine,
                i,
                from,
                Some(slot),
                MAX_HEADROOM..MAX_HEADROOM + len,
            );
        }
    }

    /// Offload: reads that may hold a run of datagrams (UDP GRO), split again here; each run
    /// goes through the engine under one lock.
    fn read_underlay_gro(&mut self, i: usize) {
        let shared = Arc::clone(&self.shared);
        for _ in 0..BATCH {
            let (n, from, segment) =
                match sys::recv_gro(&self.rx[i].socket, &mut self.buf[MAX_HEADROOM..]) {
                    Ok(ok) => ok,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) => return self.recv_error(self.rx[i].port, &e),
                };
            if n > BUF_LEN {
                self.recv_error(self.rx[i].port, &io::Error::other("datagram truncated"));
                continue;
            }
            let segment = segment.max(1);
            let mut at = MAX_HEADROOM;
            let end = MAX_HEADROOM + n;
            let mut engine = lock(&shared);
            // At least once: an empty datagram is still one, for the engine to count.
            loop {
                let next = (at + segment).min(end);
                self.underlay_input(&mut engine, i, from, None, at..next);
                at = next;
                if at >= end {
                    break;
                }
            }
        }
    }

    /// A failed TAP read: deleted under us is fatal, anything else is counted.
    fn tap_read_error(&mut self, i: usize, e: &io::Error) {
        let tap = &self.io.taps[i];
        self.io.stats.tap_read_errors += 1;
        if sys::if_index(&tap.name).is_none() || e.raw_os_error() == Some(errno::EBADFD) {
            // Deleted under us (`ip link del`): the fd stays readable-with-error forever, so
            // stop rather than spin.
            self.fatal = Some(format!(
                "TAP device {} was deleted while in use ({e}): stopping; restart native-vtep \
                 to recreate it",
                tap.name
            ));
        } else {
            tracing::debug!("read from {}: {e}", tap.name);
        }
    }

    fn read_tap(&mut self, i: usize) {
        match self.io.datapath {
            Datapath::Plain => self.read_tap_plain(i),
            Datapath::Batch => self.read_tap_batch(i),
            Datapath::Offload => {
                self.read_tap_offload(i);
                self.io.flush_coalescer();
            }
        }
    }

    /// Plain: every frame into `buf`, sent at once.
    fn read_tap_plain(&mut self, i: usize) {
        let shared = Arc::clone(&self.shared);
        let port = self.io.taps[i].port;
        for _ in 0..BATCH {
            let n = match self.io.taps[i].file.read(&mut self.buf[MAX_HEADROOM..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.tap_read_error(i, &e);
                    break;
                }
            };
            self.io.stats.tap_rx_frames += 1;
            let mut engine = lock(&shared);
            engine.vtep.handle_input(
                self.clock.now(),
                Input::Local {
                    port,
                    buf: &mut self.buf,
                    frame: MAX_HEADROOM..MAX_HEADROOM + n,
                },
            );
            drain(&mut engine, &mut self.io, &mut self.buf, None);
        }
    }

    /// Batch: frame `k` into arena slot `k`, then all of them through the engine under one
    /// lock, and their tunnel packets out by one sendmmsg.
    fn read_tap_batch(&mut self, i: usize) {
        let port = self.io.taps[i].port;
        let mut lens = [0usize; BATCH];
        let mut count = 0;
        while count < BATCH {
            let slot = &mut self.arena[count * self.slot_len..(count + 1) * self.slot_len];
            match self.io.taps[i].file.read(&mut slot[MAX_HEADROOM..]) {
                Ok(n) => {
                    lens[count] = n;
                    count += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.tap_read_error(i, &e);
                    break;
                }
            }
        }
        if count == 0 {
            return;
        }
        self.io.stats.tap_rx_frames += count as u64;
        let shared = Arc::clone(&self.shared);
        let mut engine = lock(&shared);
        for (k, n) in lens[..count].iter().copied().enumerate() {
            let buf = &mut self.arena[k * self.slot_len..(k + 1) * self.slot_len];
            engine.vtep.handle_input(
                self.clock.now(),
                Input::Local {
                    port,
                    buf,
                    frame: MAX_HEADROOM..MAX_HEADROOM + n,
                },
            );
            drain(&mut engine, &mut self.io, buf, Some(k));
        }
        drop(engine);
        self.io.flush_raw(&self.arena, self.slot_len);
    }

    /// Offload: frames with a virtio-net header; TCP super-frames are segmented first.
    fn read_tap_offload(&mut self, i: usize) {
        let shared = Arc::clone(&self.shared);
        for _ in 0..BATCH {
            let port = self.io.taps[i].port;
            let prefix = self.io.taps[i].prefix;
            let at = MAX_HEADROOM - VNET_HDR_LEN;
            let n = match self.io.taps[i].file.read(&mut self.buf[at..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.tap_read_error(i, &e),
            };
            let Some(hdr) = VnetHdr::parse(&self.buf[at..at + n]) else {
                self.io.stats.tap_read_errors += 1;
                continue;
            };
            self.io.stats.tap_rx_frames += 1;
            let frame = MAX_HEADROOM..at + n;
            if hdr.gso_type & !offload::GSO_ECN != offload::GSO_NONE {
                let segments =
                    match offload::segment(&self.buf[frame], &hdr, &mut self.segments, prefix) {
                        Ok(s) => s,
                        Err(e) => {
                            self.io.stats.tap_read_errors += 1;
                            tracing::debug!(
                                "cannot segment a frame from {}: {e:?}",
                                self.io.taps[i].name
                            );
                            continue;
                        }
                    };
                let mut engine = lock(&shared);
                for k in 0..segments.count {
                    engine.vtep.handle_input(
                        self.clock.now(),
                        Input::Local {
                            port,
                            buf: &mut self.segments,
                            frame: segments.frame(k, prefix),
                        },
                    );
                    drain(&mut engine, &mut self.io, &mut self.segments, None);
                }
                drop(engine);
                self.io.flush_gso(&self.segments);
                continue;
            }
            if hdr.flags & offload::F_NEEDS_CSUM != 0
                && !offload::finish_checksum(
                    &mut self.buf[frame.clone()],
                    usize::from(hdr.csum_start),
                    usize::from(hdr.csum_offset),
                )
            {
                self.io.stats.tap_read_errors += 1;
                continue;
            }
            let mut engine = lock(&shared);
            engine.vtep.handle_input(
                self.clock.now(),
                Input::Local {
                    port,
                    buf: &mut self.buf,
                    frame,
                },
            );
            drain(&mut engine, &mut self.io, &mut self.buf, None);
            drop(engine);
            self.io.flush_gso(&self.buf);
        }
    }
}

/// A per-process secret for the engine's hashes (FDB, flow hash): hostile traffic cannot aim
/// at hash collisions it cannot predict.
fn random_seed() -> u64 {
    let mut seed = [0u8; 8];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_ne_bytes(seed)
}

/// Carries out every output of the last input, whose buffer is `buf` (arena slot `slot` in
/// batch mode). Leaves the engine's next timeout in `engine.next_timeout`.
fn drain(engine: &mut Engine, io: &mut Io, buf: &mut [u8], slot: Option<usize>) {
    loop {
        match engine.vtep.poll_output() {
            Output::Transmit(t) => io.transmit(buf, slot, &t),
            Output::Deliver(d) => io.deliver(&buf[d.frame], d.port),
            Output::Event(event) => log_event(io, &event),
            Output::Timeout(at) => {
                engine.next_timeout = at;
                return;
            }
        }
    }
}

fn log_event(io: &Io, event: &Event) {
    let m = |mac: &Mac| ColonMac(*mac);
    match event {
        Event::Learned { vni, mac, dest } => {
            tracing::info!(vni = vni.get(), "learned {} {}", m(mac), io.dest_name(dest));
        }
        Event::Moved {
            vni,
            mac,
            from,
            to,
            seq,
        } => tracing::info!(
            vni = vni.get(),
            "moved {} from {} to {} (seq {seq})",
            m(mac),
            io.dest_name(from),
            io.dest_name(to)
        ),
        Event::DuplicateFrozen { vni, mac, moves } => tracing::warn!(
            vni = vni.get(),
            "{} moved {moves} times: frozen as a duplicate MAC (delete it with `native-vtep \
             fdb del {}` once fixed)",
            m(mac),
            m(mac)
        ),
        Event::AgedOut { vni, mac, dest } => {
            tracing::info!(
                vni = vni.get(),
                "aged out {} {}",
                m(mac),
                io.dest_name(dest)
            );
        }
        Event::FdbFull { vni, mac } => {
            tracing::debug!(vni = vni.get(), "FDB full: {} not learned", m(mac));
        }
        Event::NeighbourLearned { vni, ip, mac } => {
            tracing::info!(vni = vni.get(), "neighbour {ip} is at {}", m(mac));
        }
        Event::Flooded {
            vni,
            local_ports,
            remote_copies,
        } => tracing::debug!(
            vni = vni.get(),
            "flooded to {local_ports} local ports and {remote_copies} VTEPs"
        ),
        Event::ArpSuppressed { vni, ip, mac } => {
            tracing::debug!(vni = vni.get(), "answered ARP for {ip} with {}", m(mac));
        }
        Event::Dropped { vni, reason } => match vni {
            Some(vni) => tracing::debug!(vni = vni.get(), "dropped: {reason}"),
            None => tracing::debug!("dropped: {reason}"),
        },
    }
}

// ---- control requests ----

fn pick_vni(vtep: &Vtep, vni: Option<u32>) -> Result<Vni, String> {
    match vni {
        Some(v) => {
            let vni = Vni::new(v).map_err(|e| e.to_string())?;
            if vtep.network(vni).is_none() {
                return Err(vtep_core::vtep::ConfigError::UnknownNetwork(vni).to_string());
            }
            Ok(vni)
        }
        None => {
            let networks = vtep.networks();
            match networks.as_slice() {
                [one] => Ok(one.vni),
                many => Err(format!(
                    "this daemon serves several VNIs ({}): pass --vni",
                    many.iter()
                        .map(|n| n.vni.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
    }
}

fn is_zero_mac(mac: &Mac) -> bool {
    mac.0 == [0; 6]
}

fn handle_request(
    vtep: &mut Vtep,
    io: &Io,
    daemon_stats: DaemonStats,
    settings: &Settings,
    clock: &Clock,
    request: Request,
) -> Response {
    let now = clock.now();
    let age = |at: vtep_core::Instant| {
        u64::try_from((now.total_micros() - at.total_micros()).max(0) / 1_000_000).unwrap_or(0)
    };
    let result = (|| -> Result<Response, String> {
        Ok(match request {
            Request::FdbShow { vni } => {
                let only = vni.map(Vni::new).transpose().map_err(|e| e.to_string())?;
                let mut rows = Vec::new();
                for network in vtep.networks() {
                    if only.is_some_and(|v| v != network.vni) {
                        continue;
                    }
                    for peer in vtep.fdb().flood_list(network.vni) {
                        rows.push(FdbRow {
                            vni: network.vni.get(),
                            dev: io.tap_name(network.vni),
                            mac: "00:00:00:00:00:00".into(),
                            dst: Some((*peer).into()),
                            state: "flood".into(),
                            local: false,
                            age_secs: None,
                            seq: 0,
                            frozen: false,
                        });
                    }
                }
                for (vni, mac, entry) in vtep.fdb().sorted() {
                    if only.is_some_and(|v| v != vni) {
                        continue;
                    }
                    let (dev, dst, local) = match entry.dest {
                        Destination::Local(port) => (
                            io.tap_of_port(port)
                                .map_or_else(|| port.to_string(), |t| t.name.clone()),
                            None,
                            true,
                        ),
                        Destination::Remote(ip) => (io.tap_name(vni), Some(ip.into()), false),
                    };
                    rows.push(FdbRow {
                        vni: vni.get(),
                        dev,
                        mac: ColonMac(mac).to_string(),
                        dst,
                        state: entry.origin.as_str().into(),
                        local,
                        age_secs: (entry.origin == Origin::Learned).then(|| age(entry.last_seen)),
                        seq: entry.mobility_seq,
                        frozen: entry.frozen,
                    });
                }
                Response::ok(rows)
            }
            Request::FdbAdd { vni, mac, dst } => {
                let vni = pick_vni(vtep, vni)?;
                let mac = parse_mac(&mac)?;
                if is_zero_mac(&mac) {
                    let added = vtep
                        .add_flood_peer(vni, dst.into())
                        .map_err(|e| e.to_string())?;
                    tracing::info!(vni = vni.get(), "flood peer {dst} added by operator");
                    Response::ok(serde_json::json!({ "added": added }))
                } else {
                    vtep.add_static_fdb(now, vni, mac, Destination::Remote(dst.into()))
                        .map_err(|e| e.to_string())?;
                    tracing::info!(
                        vni = vni.get(),
                        "static {} dst {dst} added by operator",
                        ColonMac(mac)
                    );
                    Response::ok(serde_json::json!({ "added": true }))
                }
            }
            Request::FdbDel { vni, mac, dst } => {
                let vni = pick_vni(vtep, vni)?;
                let mac = parse_mac(&mac)?;
                if is_zero_mac(&mac) {
                    let dst = dst.ok_or(
                        "00:00:00:00:00:00 is the flood list: say which peer with --dst IP",
                    )?;
                    if !vtep.remove_flood_peer(vni, &dst.into()) {
                        return Err(format!("{dst} is not a flood peer of VNI {vni}"));
                    }
                } else if vtep.fdb_mut().remove(vni, &mac).is_none() {
                    return Err(format!("no FDB entry for {} in VNI {vni}", ColonMac(mac)));
                }
                Response::ok(serde_json::json!({ "deleted": true }))
            }
            Request::NeighShow { vni } => {
                let only = vni.map(Vni::new).transpose().map_err(|e| e.to_string())?;
                let rows: Vec<NeighRow> = vtep
                    .neighbours()
                    .sorted()
                    .into_iter()
                    .filter(|(v, _, _)| only.is_none_or(|o| o == *v))
                    .map(|(vni, ip, e)| NeighRow {
                        vni: vni.get(),
                        dev: io.tap_name(vni),
                        ip,
                        mac: ColonMac(e.mac).to_string(),
                        state: e.origin.as_str().into(),
                        age_secs: age(e.last_seen),
                    })
                    .collect();
                Response::ok(rows)
            }
            Request::NeighAdd { vni, ip, mac } => {
                let vni = pick_vni(vtep, vni)?;
                let IpAddr::V4(ip) = ip else {
                    return Err(format!(
                        "{ip} is IPv6: ARP suppression covers IPv4 neighbours only"
                    ));
                };
                let mac = parse_mac(&mac)?;
                vtep.add_static_neighbour(now, vni, ip, mac)
                    .map_err(|e| e.to_string())?;
                Response::ok(serde_json::json!({ "added": true }))
            }
            Request::NeighDel { vni, ip } => {
                let vni = pick_vni(vtep, vni)?;
                let IpAddr::V4(ip) = ip else {
                    return Err(format!("{ip} is IPv6: the neighbour table holds IPv4 only"));
                };
                if vtep.neighbours_mut().remove(vni, &ip).is_none() {
                    return Err(format!("no neighbour entry for {ip} in VNI {vni}"));
                }
                Response::ok(serde_json::json!({ "deleted": true }))
            }
            Request::Stats => Response::ok(stats(vtep, io, daemon_stats, settings, clock)),
        })
    })();
    result.unwrap_or_else(Response::err)
}

fn drops_map(get: impl Fn(DropReason) -> u64) -> BTreeMap<String, u64> {
    DropReason::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), get(*r)))
        .collect()
}

fn counters_map(c: &NetworkCounters) -> BTreeMap<String, u64> {
    [
        ("local_rx_frames", c.local_rx_frames),
        ("local_rx_bytes", c.local_rx_bytes),
        ("local_tx_frames", c.local_tx_frames),
        ("local_tx_bytes", c.local_tx_bytes),
        ("encap_frames", c.encap_frames),
        ("encap_bytes", c.encap_bytes),
        ("decap_frames", c.decap_frames),
        ("decap_bytes", c.decap_bytes),
        ("flooded_frames", c.flooded_frames),
        ("flood_copies", c.flood_copies),
        ("arp_suppressed", c.arp_suppressed),
        ("learned", c.learned),
        ("moved", c.moved),
        ("aged_out", c.aged_out),
        ("fdb_full", c.fdb_full),
        ("duplicates_frozen", c.duplicates_frozen),
        ("drops_total", c.drops.total()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn stats(
    vtep: &Vtep,
    io: &Io,
    daemon_stats: DaemonStats,
    settings: &Settings,
    clock: &Clock,
) -> StatsReport {
    let networks = vtep
        .networks()
        .into_iter()
        .map(|n| {
            let c = vtep.counters(n.vni).copied().unwrap_or_default();
            NetworkStats {
                vni: n.vni.get(),
                dev: io.tap_name(n.vni),
                encap: n.encapsulation.to_string(),
                learning: n.learning,
                proxy: n.arp_proxy,
                flood_peers: vtep
                    .fdb()
                    .flood_list(n.vni)
                    .iter()
                    .map(|ip| (*ip).into())
                    .collect(),
                counters: counters_map(&c),
                drops: drops_map(|r| c.drops.get(r)),
            }
        })
        .collect();
    let global = vtep.global_counters();
    StatsReport {
        version: vtep_core::VERSION.into(),
        uptime_secs: clock.start.elapsed().as_secs(),
        local: Some(settings.local),
        fdb_entries: vtep.fdb().len(),
        fdb_max: vtep.fdb().config().max_entries,
        neighbours: vtep.neighbours().len(),
        networks,
        global_drops: drops_map(|r| global.drops.get(r)),
        events_lost: global.events_lost,
        daemon: daemon_stats,
    }
}
