//! Carrying out the engine's outputs: tunnel packets to the underlay (one raw `sendto` each,
//! queued for one `sendmmsg`, or gathered into UDP GSO runs), frames to the TAPs (TCP segments
//! coalesced in offload mode), failures counted and logged sparingly, and events logged.
//!
//! Every TCP or UDP frame on its way to a TAP has its checksum checked first, unless it is a
//! TCP segment that joins a super-frame and came in a run whose outer UDP checksums, which
//! cover it, the kernel verified (a GRO run): a *partial* one (the pseudo-header sum in the
//! field, as a kernel vxlan device on the same host leaves it) is completed, a wrong one
//! dropped, and each counted (`stats`: inner checksums completed / bad). Frames so checked are
//! marked as such to a TAP with a virtio-net header (`VIRTIO_NET_HDR_F_DATA_VALID`), so the
//! receiving stack does not sum them again.

use std::io::{IoSlice, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use vtep_core::vtep::{Event, Transmit};
use vtep_core::wire::outer::Transport;
use vtep_core::{Mac, PortId};

use super::{BATCH, Taps};
use crate::config::ColonMac;
use crate::config::Datapath;
use crate::control::DaemonStats;
use crate::offload::{
    self, Coalescer, F_DATA_VALID, InnerCsum, MAX_SEGMENTS, Offer, Segments, VnetHdr,
};
use crate::sys;

/// Largest UDP GSO send: 64 datagrams (the kernel's `UDP_MAX_SEGMENTS`) within one IP packet.
const GSO_MAX_SEGMENTS: usize = 64;
const GSO_MAX_BYTES: usize = 65_000;

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

/// Offload: the segments of a TAP super-frame in the segments buffer, each slot holding its
/// headers only; the payloads stay in the super-frame (`frame`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Sparse<'a> {
    pub(super) frame: &'a [u8],
    pub(super) segs: Segments,
    /// Room for the tunnel header in front of each slot's headers.
    pub(super) prefix: usize,
}

impl Sparse<'_> {
    /// Puts the payload of the segment at `range` (in `buf`, the segments buffer) into its
    /// slot, for an output that needs the segment in one piece.
    pub(super) fn fill(&self, buf: &mut [u8], range: &Range<usize>) {
        let i = range.start / self.segs.stride;
        if i < self.segs.count {
            self.segs.fill(buf, self.frame, i, self.prefix);
        }
    }
}

/// Logged once per process: the first partial checksum completed.
static COMPLETED_LOGGED: AtomicBool = AtomicBool::new(false);

/// Everything the outputs are carried out on.
#[derive(Debug)]
pub(super) struct Io {
    /// This worker's queue of every TAP.
    pub(super) taps: Taps,
    sender: sys::RawIpSender,
    pub(super) stats: DaemonStats,
    pub(super) datapath: Datapath,
    /// Batch: (arena slot, packet range in the slot, destination) waiting for one sendmmsg.
    raw_queue: Vec<(usize, Range<usize>, IpAddr)>,
    /// Offload: UDP sockets bound to ports spread over --srcport.
    udp_tx: Vec<UdpSocket>,
    srcport_min: u16,
    /// Offload: the UDP GSO run being gathered (ranges of the current input's buffer).
    gso: Option<GsoRun>,
    /// Offload: TCP segments on their way to a TAP, coalesced.
    coalescer: Coalescer,
    /// Offload, while the datagrams of one read are fed: their TCP segments may be coalesced
    /// (by reference into that read's buffer, written before the buffer is reused).
    pub(super) coalescing: bool,
    /// The datagrams being fed came in a GRO run: the kernel verified their outer UDP
    /// checksums, which cover the inner frames, so those are not summed again.
    pub(super) rx_verified: bool,
    /// The last send failed (e.g. the underlay link is down): the next success is logged.
    send_failing: bool,
}

impl Io {
    /// `udp_tx`: the offload sending pool, bound to ports from `srcport_min` on.
    pub(super) fn new(
        taps: Taps,
        sender: sys::RawIpSender,
        datapath: Datapath,
        udp_tx: Vec<UdpSocket>,
        srcport_min: u16,
    ) -> Io {
        Io {
            taps,
            sender,
            stats: DaemonStats::default(),
            datapath,
            raw_queue: Vec::with_capacity(BATCH),
            udp_tx,
            srcport_min,
            gso: None,
            coalescer: Coalescer::default(),
            coalescing: false,
            rx_verified: false,
            send_failing: false,
        }
    }

    /// Carries out a transmit of `buf[t.payload]` (the current input's buffer, which is in
    /// arena slot `slot` in batch mode, or the segments buffer of a `sparse` super-frame).
    #[inline]
    pub(super) fn transmit(
        &mut self,
        buf: &mut [u8],
        slot: Option<usize>,
        t: &Transmit,
        sparse: Option<&Sparse<'_>>,
    ) {
        let dst: IpAddr = t.outer.dst.into();
        if self.datapath == Datapath::Offload
            && let Transport::Udp { src_port, dst_port } = t.outer.transport
        {
            return self.transmit_udp(buf, t.payload.clone(), dst, (src_port, dst_port), sparse);
        }
        if let Some(sparse) = sparse {
            sparse.fill(buf, &t.payload);
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
        (src_port, dst_port): (u16, u16),
        sparse: Option<&Sparse<'_>>,
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
        self.flush_gso(buf, sparse);
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

    /// Offload: sends the gathered run (before `buf` is reused). The datagrams of a `sparse`
    /// super-frame are gathered from their slots' headers and the super-frame's payloads.
    pub(super) fn flush_gso(&mut self, buf: &[u8], sparse: Option<&Sparse<'_>>) {
        let Some(run) = self.gso.take() else {
            return;
        };
        let segment = (run.count > 1).then_some(run.segment as u16);
        let mut parts: [IoSlice<'_>; 2 * GSO_MAX_SEGMENTS] =
            std::array::from_fn(|_| IoSlice::new(&[]));
        let n = match sparse {
            None => {
                parts[0] = IoSlice::new(&buf[run.start..run.end]);
                1
            }
            Some(s) => {
                let stride = s.segs.stride;
                let first = run.start / stride;
                // Where each datagram starts in its slot (in front of the headers: the
                // tunnel header).
                let offset = run.start - first * stride;
                let headers = s.prefix + s.segs.hlen;
                for k in 0..run.count {
                    let slot = (first + k) * stride;
                    parts[2 * k] = IoSlice::new(&buf[slot + offset..slot + headers]);
                    parts[2 * k + 1] = IoSlice::new(&s.frame[s.segs.data(first + k)]);
                }
                2 * run.count
            }
        };
        match sys::send_gso(&self.udp_tx[run.socket], &parts[..n], run.dst, segment) {
            Ok(_) => self.sent(),
            Err(e) => self.send_error(run.dst.ip(), &e, run.count as u64),
        }
    }

    /// Batch: sends every queued packet of `arena` (slots of `slot_len` bytes).
    pub(super) fn flush_raw(&mut self, arena: &[u8], slot_len: usize) {
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

    /// Delivers the Ethernet frame `buf[frame]` to the TAP of `port`, its transport checksum
    /// checked (and completed if partial) unless the outer one was verified, coalescing TCP
    /// while a GRO read is fed.
    #[inline]
    pub(super) fn deliver(&mut self, buf: &mut [u8], frame: Range<usize>, port: PortId) {
        let Some(index) = self.taps.index_of_port(port) else {
            return;
        };
        // A TCP segment of a verified run that will join a super-frame is not summed again:
        // that is where the bytes are. Every other frame is checked (one pass, the one the
        // receiving stack would make), so a wrong checksum is dropped whatever the outer one.
        let trusted =
            self.rx_verified && self.coalescing && offload::coalescable(&buf[frame.clone()]);
        let checked = if trusted {
            true
        } else {
            match offload::check_inner(&mut buf[frame.clone()]) {
                InnerCsum::Valid => true,
                InnerCsum::Unchecked => false,
                InnerCsum::Completed => {
                    self.stats.inner_csum_completed += 1;
                    if !COMPLETED_LOGGED.swap(true, Ordering::Relaxed) {
                        tracing::info!(
                            "completed the partial TCP/UDP checksum of a frame from the \
                             underlay (its field held the pseudo-header sum): a sender on this \
                             host leaves checksums to offload that nothing filled in (a kernel \
                             vxlan device on a veth underlay does); such frames are completed \
                             and counted (stats: inner checksums completed), nothing to do"
                        );
                    }
                    true
                }
                InnerCsum::Bad => {
                    self.stats.inner_csum_bad += 1;
                    tracing::debug!("dropped a frame with a wrong TCP/UDP checksum");
                    return;
                }
            }
        };
        if self.coalescing && checked {
            for _ in 0..2 {
                match self.coalescer.offer(index, buf, frame.clone()) {
                    Offer::Taken => return,
                    Offer::FlushAndRetry if !self.coalescer.is_empty() => self.flush_coalescer(buf),
                    _ => break,
                }
            }
        }
        self.flush_coalescer(buf);
        let frame = &buf[frame];
        let tap = &mut self.taps[index];
        let written = if tap.vnet {
            let hdr = VnetHdr {
                flags: if checked { F_DATA_VALID } else { 0 },
                ..VnetHdr::default()
            };
            tap.file
                .write_vectored(&[IoSlice::new(&hdr.emit()), IoSlice::new(frame)])
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

    /// Offload: writes the coalesced super-frame, if any, to its TAP: its headers, then its
    /// payloads from `buf`, the buffer of the read that brought them.
    pub(super) fn flush_coalescer(&mut self, buf: &[u8]) {
        let target = self.coalescer.target;
        let Some((head, ranges)) = self.coalescer.take() else {
            return;
        };
        let mut parts: [IoSlice<'_>; 1 + MAX_SEGMENTS] = std::array::from_fn(|_| IoSlice::new(&[]));
        parts[0] = IoSlice::new(head);
        for (part, range) in parts[1..].iter_mut().zip(ranges) {
            *part = IoSlice::new(&buf[range.clone()]);
        }
        let n = 1 + ranges.len();
        if let Some(tap) = self.taps.get_mut(target)
            && let Err(e) = tap.file.write_vectored(&parts[..n])
        {
            self.stats.tap_write_errors += 1;
            if self.stats.tap_write_errors.is_power_of_two() {
                tracing::warn!("write to {} failed: {e}", tap.name);
            }
        }
        self.coalescer.clear();
    }
}

/// Logs one of the engine's events: table changes at info, drops and floods at debug.
pub(super) fn log_event(taps: &Taps, event: &Event) {
    let m = |mac: &Mac| ColonMac(*mac);
    match event {
        Event::Learned { vni, mac, dest } | Event::AgedOut { vni, mac, dest } => {
            let what = match event {
                Event::Learned { .. } => "learned",
                _ => "aged out",
            };
            tracing::info!(
                vni = vni.get(),
                "{what} {} {}",
                m(mac),
                taps.dest_name(dest)
            );
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
            taps.dest_name(from),
            taps.dest_name(to)
        ),
        Event::DuplicateFrozen { vni, mac, moves } => tracing::warn!(
            vni = vni.get(),
            "{} moved {moves} times: frozen as a duplicate MAC (delete it with `native-vtep \
             fdb del {}` once fixed)",
            m(mac),
            m(mac)
        ),
        Event::FdbFull { vni, mac } => {
            tracing::debug!(vni = vni.get(), "FDB full: {} not learned", m(mac));
        }
        Event::NeighbourLearned {
            vni,
            ip,
            mac,
            router,
        } => {
            tracing::info!(
                vni = vni.get(),
                "neighbour {ip} is at {}{}",
                m(mac),
                if *router { " (a router)" } else { "" }
            );
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
        Event::NdSuppressed { vni, ip, mac } => {
            tracing::debug!(
                vni = vni.get(),
                "answered neighbour solicitation for {ip} with {}",
                m(mac)
            );
        }
        Event::Dropped { vni, reason } => match vni {
            Some(vni) => tracing::debug!(vni = vni.get(), "dropped: {reason}"),
            None => tracing::debug!("dropped: {reason}"),
        },
    }
}
