//! A worker: one queue of every TAP, its own listening sockets and buffers, and the reads that
//! hand the engine its inputs. Each read path does its own system calls (one `read` or
//! `recvfrom` per frame, `recvmmsg` into arena slots, TAP super-frames cut into segments, UDP
//! GRO runs split again, GRE packets from NVGRE's raw socket), locks the shared engine once per
//! read, and gives it each input through [`feed`], which also carries out the outputs.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::ops::{ControlFlow, Range};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vtep_core::Instant;
use vtep_core::vtep::{Encapsulation, Event, Input, Output, Vtep};
use vtep_core::wire::outer::{self, MAX_HEADROOM, Transport};
use vtep_core::{Destination, PortId};

use super::io::{Io, Sparse, log_event};
use super::{BATCH, Fatal, MonotonicClock};
use crate::config::Datapath;
use crate::control::DaemonStats;
use crate::offload::{self, VNET_HDR_LEN, VnetHdr};
use crate::sys::{self, errno};

/// Bytes after the headroom: the largest datagram or TAP frame (a 64 KiB TSO super-frame
/// plus its Ethernet and virtio-net headers fits).
const BUF_LEN: usize = 65_536 + 1024;

/// The engine and what the workers share: one FDB, one set of counters, however many
/// workers (`--queues`) feed it. Locked once per read (a batch of frames or datagrams), never
/// per packet.
#[derive(Debug)]
pub(super) struct Engine {
    pub(super) vtep: Vtep,
    next_timeout: Instant,
    /// Each worker's [`DaemonStats`] as of its last wake-up (summed for `stats`).
    pub(super) worker_stats: Vec<DaemonStats>,
    /// A worker thread that cannot go on leaves its reason here for the main thread.
    pub(super) fatal: Option<Fatal>,
    /// With EVPN: the engine's events that make or change routes, for the speaker (which
    /// runs on the main thread).
    pub(super) evpn: Option<EvpnQueue>,
}

/// Most engine events waiting for the speaker; more are counted as lost.
const EVPN_QUEUE: usize = 65_536;

/// Engine events on their way to the EVPN speaker.
#[derive(Debug)]
pub(super) struct EvpnQueue {
    pub(super) events: VecDeque<Event>,
    pub(super) lost: u64,
    /// Written when the queue stops being empty, to wake the main thread's poll.
    wake: UnixStream,
}

impl EvpnQueue {
    pub(super) fn new(wake: UnixStream) -> EvpnQueue {
        EvpnQueue {
            events: VecDeque::new(),
            lost: 0,
            wake,
        }
    }

    /// Keeps `event` if it makes, changes or removes a local route.
    pub(super) fn offer(&mut self, event: &Event) {
        let wanted = match event {
            Event::Learned { dest, .. } | Event::AgedOut { dest, .. } => {
                matches!(dest, Destination::Local(_))
            }
            Event::Moved { .. } | Event::NeighbourLearned { .. } => true,
            Event::DuplicateFrozen { .. } => true,
            _ => false,
        };
        if !wanted {
            return;
        }
        if self.events.len() >= EVPN_QUEUE {
            self.lost += 1;
            return;
        }
        if self.events.is_empty() {
            // Non-blocking: a full pipe already holds a wake-up.
            let _ = (&self.wake).write(&[1]);
        }
        self.events.push_back(*event);
    }
}

pub(super) type Shared = Arc<Mutex<Engine>>;

impl Engine {
    /// The engine's next timeout, after a caller other than [`feed`] polled it.
    pub(super) fn set_next_timeout(&mut self, at: Instant) {
        self.next_timeout = at;
    }

    /// The engine of `workers` workers, shared; its first timeout is due at once.
    pub(super) fn shared(vtep: Vtep, now: Instant, workers: usize) -> Shared {
        Arc::new(Mutex::new(Engine {
            vtep,
            next_timeout: now,
            worker_stats: vec![DaemonStats::default(); workers],
            fatal: None,
            evpn: None,
        }))
    }
}

/// Locks the engine. A worker that panicked while holding it poisons it; the main thread then
/// stops the daemon (it sees the thread gone), so the state is only read on the way out.
pub(super) fn lock(shared: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Gives the engine one input and carries out every output it makes, until it names its next
/// timeout (kept in the engine). The input's bytes lie in `buf`, which `input` lends to the
/// engine: the outputs point into it. `slot` is `buf`'s arena slot when its tunnel packets may
/// wait for one `sendmmsg` (batch mode, TAP frames); `sparse` says that `buf` is the segments
/// buffer of a super-frame whose payloads stay in the super-frame (offload mode, TAP frames).
#[inline]
fn feed(
    engine: &mut Engine,
    io: &mut Io,
    now: Instant,
    (buf, slot, sparse): (&mut [u8], Option<usize>, Option<&Sparse<'_>>),
    input: impl FnOnce(&mut [u8]) -> Input<'_>,
) {
    engine.vtep.handle_input(now, input(buf));
    loop {
        match engine.vtep.poll_output() {
            Output::Transmit(t) => io.transmit(buf, slot, &t, sparse),
            Output::Deliver(d) => {
                if let Some(sparse) = sparse {
                    sparse.fill(buf, &d.frame);
                }
                io.deliver(buf, d.frame, d.port);
            }
            Output::Event(event) => {
                if let Some(queue) = &mut engine.evpn {
                    queue.offer(&event);
                }
                log_event(&io.taps, &event);
            }
            Output::Timeout(at) => {
                engine.next_timeout = at;
                return;
            }
        }
    }
}

/// A listening underlay socket of one encapsulation.
#[derive(Debug)]
pub(super) struct RxSocket {
    pub(super) socket: UdpSocket,
    pub(super) port: u16,
    pub(super) encap: Encapsulation,
    /// The longest inner frame that fits the underlay MTU in this encapsulation.
    pub(super) max_frame: usize,
}

/// NVGRE's raw socket for IP protocol 47: over IPv4 it reads whole IP packets, over IPv6 GRE
/// onward (the source in the address).
#[derive(Debug)]
pub(super) struct GreSocket {
    pub(super) fd: OwnedFd,
    pub(super) ipv6: bool,
}

/// One worker's share of the data plane: one queue of every TAP, its own underlay sockets and
/// buffers. Worker 0 runs on the main thread, the others (`--queues`) on their own.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) id: usize,
    pub(super) shared: Shared,
    pub(super) io: Io,
    rx: Vec<RxSocket>,
    /// NVGRE's socket (worker 0 only: each raw socket gets its own copy of every packet).
    gre: Option<GreSocket>,
    pub(super) clock: MonotonicClock,
    buf: Vec<u8>,
    /// Batch: one slot per input of a wake-up, so their packets can leave together.
    arena: Vec<u8>,
    slot_len: usize,
    /// The segments of one TCP super-frame, each after room for its tunnel header (a TAP's, or
    /// a peer's that came in one tunnel packet).
    segments: Vec<u8>,
    /// Set when the device layer cannot go on; the loop then stops with this error.
    pub(super) fatal: Option<Fatal>,
}

impl Worker {
    /// Worker `id`, with the buffers its data path needs.
    pub(super) fn new(
        id: usize,
        shared: Shared,
        io: Io,
        rx: Vec<RxSocket>,
        gre: Option<GreSocket>,
        clock: MonotonicClock,
    ) -> Worker {
        // Batch: a slot holds a whole tunnel packet of a peer's TSO super-frame (see
        // `Worker::underlay_input`), not only an MTU's worth.
        let slot_len = MAX_HEADROOM + BUF_LEN;
        let datapath = io.datapath;
        Worker {
            id,
            shared,
            io,
            rx,
            gre,
            clock,
            // Offload: room for a batch of small frames read back to back, and a super-frame.
            buf: vec![
                0;
                MAX_HEADROOM + BUF_LEN * if datapath == Datapath::Offload { 2 } else { 1 }
            ],
            arena: if datapath == Datapath::Batch {
                vec![0; BATCH * slot_len]
            } else {
                Vec::new()
            },
            slot_len,
            segments: vec![0; 256 * 1024],
            fatal: None,
        }
    }

    pub(super) fn push_fds(&self, fds: &mut Vec<sys::PollFd>) {
        for rx in &self.rx {
            fds.push(sys::poll_in(rx.socket.as_raw_fd()));
        }
        if let Some(gre) = &self.gre {
            fds.push(sys::poll_in(gre.fd.as_raw_fd()));
        }
        for tap in self.io.taps.iter() {
            fds.push(sys::poll_in(tap.file.as_raw_fd()));
        }
    }

    /// How long to wait: until the engine's next timeout, rounded up so we do not wake just
    /// before it, at most a second (to expire idle control clients and see stopped workers).
    pub(super) fn timeout_ms(&self) -> i32 {
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
    pub(super) fn service(&mut self, fds: &[sys::PollFd]) {
        let (rx, rest) = fds.split_at(self.rx.len());
        for (i, fd) in rx.iter().enumerate() {
            if sys::is_ready(fd) {
                self.read_underlay(i);
            }
        }
        let (gre, taps) = rest.split_at(usize::from(self.gre.is_some()));
        if gre.first().is_some_and(sys::is_ready) {
            self.read_gre();
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
            let buf = (&mut self.buf[..], None, None);
            feed(&mut engine, &mut self.io, now, buf, |_| Input::Timeout);
            drop(engine);
            self.io.flush_gso(&self.buf, None);
            engine = lock(&shared);
        }
        engine.worker_stats[self.id] = self.io.stats;
    }

    /// A worker thread: forwards until `stop` reads EOF (the main thread closed the other end)
    /// or a fatal error, which it leaves for the main thread.
    pub(super) fn run(mut self, stop: &UnixStream) {
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

    // ---- the underlay ----

    fn read_underlay(&mut self, i: usize) {
        match self.io.datapath {
            Datapath::Plain => self.read_underlay_plain(i),
            Datapath::Batch => self.read_underlay_batch(i),
            Datapath::Offload => self.read_underlay_gro(i),
        }
    }

    fn recv_error(&mut self, port: u16, e: &io::Error) {
        self.io.stats.udp_recv_errors += 1;
        tracing::debug!("receive on port {port}: {e}");
    }

    fn gre_error(&mut self, e: &io::Error) {
        self.io.stats.udp_recv_errors += 1;
        tracing::debug!("receive from the GRE socket: {e}");
    }

    /// Feeds the engine datagram `d`. A tunnel packet holding a TCP super-frame (a kernel vxlan
    /// device with TSO on a veth underlay: nothing segments it on the way, and a plain UDP
    /// socket receives it whole) is cut into segments first.
    fn underlay_input(&mut self, engine: (&mut Engine, Instant), d: Datagram) {
        let buf = match d.slot {
            Some(slot) => &self.arena[slot * self.slot_len..(slot + 1) * self.slot_len],
            None => &self.buf[..],
        };
        let (rx, datagram) = (&self.rx[d.rx], &buf[d.payload.clone()]);
        if let Some((tunnel, hdr)) = offload::tunnel_packet(rx.encap, datagram, rx.max_frame, None)
        {
            return self.underlay_super_frame(engine, d, tunnel, hdr);
        }
        self.underlay_one(engine, d);
    }

    /// A tunnel packet holding a TCP super-frame: its segments, each after a copy of the tunnel
    /// header, through the engine one by one. Their checksums are ours, so they are trusted.
    fn underlay_super_frame(
        &mut self,
        (engine, now): (&mut Engine, Instant),
        d: Datagram,
        tunnel: usize,
        hdr: VnetHdr,
    ) {
        let buf = match d.slot {
            Some(slot) => &self.arena[slot * self.slot_len..(slot + 1) * self.slot_len],
            None => &self.buf[..],
        };
        // Whatever this read gathered so far refers to `buf`: written first.
        self.io.flush_coalescer(buf);
        let datagram = &buf[d.payload];
        let frame = &datagram[tunnel..];
        let Ok(segs) = offload::segment(frame, &hdr, &mut self.segments, tunnel) else {
            self.io.stats.udp_recv_errors += 1;
            return;
        };
        for k in 0..segs.count {
            segs.fill(&mut self.segments, frame, k, tunnel);
            let at = k * segs.stride;
            self.segments[at..at + tunnel].copy_from_slice(&datagram[..tunnel]);
        }
        let verified = std::mem::replace(&mut self.io.rx_verified, true);
        let (from, transport) = (d.from, self.transport(d.rx, d.from));
        for k in 0..segs.count {
            let range = segs.frame(k, tunnel);
            let payload = range.start - tunnel..range.end;
            feed(
                engine,
                &mut self.io,
                now,
                (&mut self.segments, None, None),
                |buf| Input::Underlay {
                    from: from.ip().into(),
                    transport,
                    buf,
                    payload,
                },
            );
        }
        self.io.flush_coalescer(&self.segments);
        self.io.rx_verified = verified;
        self.io.stats.udp_rx_datagrams += 1;
    }

    fn transport(&self, i: usize, from: SocketAddr) -> Transport {
        Transport::Udp {
            src_port: from.port(),
            dst_port: self.rx[i].port,
        }
    }

    /// Feeds the engine one datagram.
    fn underlay_one(
        &mut self,
        (engine, now): (&mut Engine, Instant),
        Datagram {
            rx,
            from,
            slot,
            payload,
        }: Datagram,
    ) {
        self.io.stats.udp_rx_datagrams += 1;
        let transport = self.transport(rx, from);
        tracing::trace!(
            "{} bytes from {from} ({:?})",
            payload.len(),
            self.rx[rx].encap
        );
        let buf = match slot {
            Some(slot) => &mut self.arena[slot * self.slot_len..(slot + 1) * self.slot_len],
            None => &mut self.buf[..],
        };
        // Not `slot`: only TAP batches flush the sendmmsg queue, so whatever a datagram makes
        // the engine send leaves at once.
        feed(engine, &mut self.io, now, (buf, None, None), |buf| {
            Input::Underlay {
                from: from.ip().into(),
                transport,
                buf,
                payload,
            }
        });
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
            let now = self.clock.now();
            let payload = MAX_HEADROOM..MAX_HEADROOM + n;
            let d = Datagram {
                rx: i,
                from,
                slot: None,
                payload,
            };
            self.underlay_input((&mut lock(&shared), now), d);
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
        let now = self.clock.now();
        for (slot, (len, from)) in got[..n].iter().copied().enumerate() {
            if MAX_HEADROOM + len > self.slot_len {
                self.recv_error(self.rx[i].port, &io::Error::other("datagram truncated"));
                continue;
            }
            let payload = MAX_HEADROOM..MAX_HEADROOM + len;
            let d = Datagram {
                rx: i,
                from,
                slot: Some(slot),
                payload,
            };
            self.underlay_input((&mut engine, now), d);
        }
    }

    /// Offload: reads that may hold a run of datagrams (UDP GRO), split again here; each run
    /// goes through the engine under one lock, its TCP segments coalesced into TAP frames that
    /// are written before the next read reuses the buffer.
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
            self.io.rx_verified = segment.is_some();
            self.io.coalescing = true;
            let mut at = MAX_HEADROOM;
            let end = MAX_HEADROOM + n;
            // A run of datagrams `segment` long, or one tunnel packet whose inner TCP
            // super-frame has that MSS (a peer's TSO, delivered whole): cut with it.
            let (encap, max) = (self.rx[i].encap, self.rx[i].max_frame);
            let datagram = &self.buf[at..end];
            let whole = segment.and_then(|s| offload::tunnel_packet(encap, datagram, max, Some(s)));
            let mut engine = lock(&shared);
            let now = self.clock.now();
            let d = |payload| Datagram {
                rx: i,
                from,
                slot: None,
                payload,
            };
            if let Some((tunnel, hdr)) = whole {
                self.underlay_super_frame((&mut engine, now), d(at..end), tunnel, hdr);
            } else {
                let segment = segment.unwrap_or(n).max(1);
                // At least once: an empty datagram is still one, for the engine to count.
                loop {
                    let next = (at + segment).min(end);
                    self.underlay_input((&mut engine, now), d(at..next));
                    at = next;
                    if at >= end {
                        break;
                    }
                }
            }
            drop(engine);
            self.io.flush_coalescer(&self.buf);
            self.io.coalescing = false;
            self.io.rx_verified = false;
        }
    }

    /// NVGRE: up to [`BATCH`] GRE packets from the raw socket by one `recvmmsg` each into `buf`
    /// (a packet's outer IPv4 header, if it has one, read by `outer::parse`), each fed to the
    /// engine as the datagram of its source.
    fn read_gre(&mut self) {
        let shared = Arc::clone(&self.shared);
        for _ in 0..BATCH {
            let mut got = [(0usize, SocketAddr::from(([0, 0, 0, 0], 0)))];
            let (received, ipv6) = match &self.gre {
                Some(gre) => (
                    sys::recv_many(&gre.fd, &mut [&mut self.buf[MAX_HEADROOM..]], &mut got),
                    gre.ipv6,
                ),
                None => return,
            };
            let (len, from) = match received {
                Ok(0) => return,
                Ok(_) => got[0],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => return self.gre_error(&e),
            };
            if len > BUF_LEN {
                self.gre_error(&io::Error::other("GRE packet truncated"));
                continue;
            }
            self.io.stats.gre_rx_packets += 1;
            let packet = MAX_HEADROOM..MAX_HEADROOM + len;
            let (from, payload) = if ipv6 {
                (from.ip().into(), packet)
            } else {
                // The kernel checked the IPv4 header; a packet that does not parse here (or
                // says UDP: never delivered to this socket) is counted as a receive error.
                match outer::parse(&self.buf[packet.clone()]) {
                    Ok((repr, inner)) if repr.transport == Transport::Gre => (
                        repr.src,
                        packet.start + inner.start..packet.start + inner.end,
                    ),
                    _ => {
                        self.gre_error(&io::Error::other("not a GRE packet"));
                        continue;
                    }
                }
            };
            let mut engine = lock(&shared);
            let now = self.clock.now();
            let buf = (&mut self.buf[..], None, None);
            feed(&mut engine, &mut self.io, now, buf, |buf| Input::Underlay {
                from,
                transport: Transport::Gre,
                buf,
                payload,
            });
        }
    }

    // ---- the TAPs ----

    /// What a batch does after reading TAP `i`: go on with the `Some(n)` bytes read, or with
    /// the next read (`None`: interrupted); stop when nothing is left or the read failed. A
    /// failure is counted; the TAP deleted under us is fatal.
    fn tap_read(&mut self, i: usize, read: io::Result<usize>) -> ControlFlow<(), Option<usize>> {
        let e = match read {
            Ok(n) => return ControlFlow::Continue(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ControlFlow::Break(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return ControlFlow::Continue(None),
            Err(e) => e,
        };
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
        ControlFlow::Break(())
    }

    fn read_tap(&mut self, i: usize) {
        match self.io.datapath {
            Datapath::Plain => self.read_tap_plain(i),
            Datapath::Batch => self.read_tap_batch(i),
            Datapath::Offload => self.read_tap_offload(i),
        }
    }

    /// Plain: every frame into `buf`, sent at once.
    fn read_tap_plain(&mut self, i: usize) {
        let shared = Arc::clone(&self.shared);
        let port = self.io.taps[i].port;
        for _ in 0..BATCH {
            let read = self.io.taps[i].file.read(&mut self.buf[MAX_HEADROOM..]);
            let n = match self.tap_read(i, read) {
                ControlFlow::Continue(Some(n)) => n,
                ControlFlow::Continue(None) => continue,
                ControlFlow::Break(()) => break,
            };
            self.io.stats.tap_rx_frames += 1;
            self.feed_tap_frame(&shared, port, MAX_HEADROOM..MAX_HEADROOM + n);
        }
    }

    /// One frame from the TAP of `port`, lying at `frame` in `buf`, through the engine under
    /// its lock; its outputs are carried out at once.
    #[inline]
    fn feed_tap_frame(&mut self, shared: &Mutex<Engine>, port: PortId, frame: Range<usize>) {
        let mut engine = lock(shared);
        let now = self.clock.now();
        let buf = (&mut self.buf[..], None, None);
        feed(&mut engine, &mut self.io, now, buf, |buf| Input::Local {
            port,
            buf,
            frame,
        });
    }

    /// Batch: frame `k` into arena slot `k`, then all of them through the engine under one
    /// lock, and their tunnel packets out by one sendmmsg.
    fn read_tap_batch(&mut self, i: usize) {
        let port = self.io.taps[i].port;
        let mut lens = [0usize; BATCH];
        let mut count = 0;
        while count < BATCH {
            let slot = &mut self.arena[count * self.slot_len..(count + 1) * self.slot_len];
            let read = self.io.taps[i].file.read(&mut slot[MAX_HEADROOM..]);
            match self.tap_read(i, read) {
                ControlFlow::Continue(Some(n)) => {
                    lens[count] = n;
                    count += 1;
                }
                ControlFlow::Continue(None) => continue,
                ControlFlow::Break(()) => break,
            }
        }
        if count == 0 {
            return;
        }
        self.io.stats.tap_rx_frames += count as u64;
        let shared = Arc::clone(&self.shared);
        let mut engine = lock(&shared);
        for (k, n) in lens[..count].iter().copied().enumerate() {
            let slot = &mut self.arena[k * self.slot_len..(k + 1) * self.slot_len];
            let frame = MAX_HEADROOM..MAX_HEADROOM + n;
            let now = self.clock.now();
            feed(
                &mut engine,
                &mut self.io,
                now,
                (slot, Some(k), None),
                |buf| Input::Local { port, buf, frame },
            );
        }
        drop(engine);
        self.io.flush_raw(&self.arena, self.slot_len);
    }

    /// Offload: frames with a virtio-net header; TCP super-frames are segmented first.
    ///
    /// Frames that are not super-frames are read one after the other into `buf`, each after
    /// room for its tunnel header, so that the datagrams of equal length to one peer lie back
    /// to back and leave in one UDP GSO send at the end of the batch (small packets: one
    /// `sendmsg` for up to 64 instead of one each).
    fn read_tap_offload(&mut self, i: usize) {
        let shared = Arc::clone(&self.shared);
        let (port, prefix) = (self.io.taps[i].port, self.io.taps[i].prefix);
        let mut at = MAX_HEADROOM;
        for _ in 0..BATCH {
            if at + BUF_LEN > self.buf.len() {
                self.io.flush_gso(&self.buf, None);
                at = MAX_HEADROOM;
            }
            let mut vnet = [0u8; VNET_HDR_LEN];
            let read = self.io.taps[i].file.read_vectored(&mut [
                IoSliceMut::new(&mut vnet),
                IoSliceMut::new(&mut self.buf[at..at + BUF_LEN]),
            ]);
            let n = match self.tap_read(i, read) {
                ControlFlow::Continue(Some(n)) => n,
                ControlFlow::Continue(None) => continue,
                ControlFlow::Break(()) => break,
            };
            let Some(hdr) = VnetHdr::parse(&vnet[..n.min(VNET_HDR_LEN)]) else {
                self.io.stats.tap_read_errors += 1;
                continue;
            };
            self.io.stats.tap_rx_frames += 1;
            let frame = at..at + n - VNET_HDR_LEN;
            if hdr.gso_type & !offload::GSO_ECN != offload::GSO_NONE {
                // The frames read before it leave first.
                self.io.flush_gso(&self.buf, None);
                let (buf, segments) = (&self.buf[frame.clone()], &mut self.segments[..]);
                let segs = match offload::segment(buf, &hdr, segments, prefix) {
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
                let sparse = Sparse {
                    frame: buf,
                    segs,
                    prefix,
                };
                let mut engine = lock(&shared);
                let now = self.clock.now();
                for k in 0..segs.count {
                    let frame = segs.frame(k, prefix);
                    feed(
                        &mut engine,
                        &mut self.io,
                        now,
                        (segments, None, Some(&sparse)),
                        |buf| Input::Local { port, buf, frame },
                    );
                }
                drop(engine);
                self.io.flush_gso(segments, Some(&sparse));
                at = MAX_HEADROOM;
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
            at = frame.end + prefix;
            self.feed_tap_frame(&shared, port, frame);
        }
        self.io.flush_gso(&self.buf, None);
    }
}

/// A datagram from underlay socket `rx` (an index into `Worker::rx`) sent by `from`, at
/// `payload` in arena slot `slot`, or in `Worker::buf` without one.
struct Datagram {
    rx: usize,
    from: SocketAddr,
    slot: Option<usize>,
    payload: Range<usize>,
}
