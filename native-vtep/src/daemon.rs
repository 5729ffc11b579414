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
//!
//! This file is the face: [`Daemon`], its main loop and its shutdown. Beside it:
//!
//! - `setup`: [`Daemon::new`]: the engine, TAPs, sockets, control socket and privilege drop;
//! - `worker`: a worker's loop and its reads, each handing the engine its input through one
//!   function, `feed`;
//! - `io`: carrying out the engine's outputs (`Io`: raw, batched and GSO sends, TAP writes
//!   with TCP coalescing) and logging its events;
//! - `taps`: the TAP set of one worker (`Taps`), found by engine port or VNI;
//! - `handler`: the answers to control requests (`fdb`, `neigh`, `stats`, `bgp`), from the
//!   engine's tables, worker 0's TAP set and the speaker;
//! - `bgp`: the BGP EVPN speaker (`--evpn-*`, `[evpn]`) on the main thread: its TCP sessions
//!   in the same `poll`, the engine's learning events made routes, routes made FDB entries.
//!
//! [`Vtep`]: vtep_core::vtep::Vtep
//! [`Datapath`]: crate::config::Datapath
//! [`offload::segment`]: crate::offload::segment
//! [`offload::Coalescer`]: crate::offload::Coalescer

mod bgp;
mod handler;
mod io;
mod setup;
mod taps;
mod worker;

use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use taps::Taps;
use worker::{Worker, lock};

use crate::control;
use crate::sys;

/// Most frames or datagrams taken from one descriptor per wake-up (wireguard-go uses 128).
pub const BATCH: usize = 64;

/// A fatal error, worded for the operator (what went wrong and how to fix it).
pub type Fatal = String;

/// The monotonic clock, as the engine's `Instant`s: they count from the daemon's start.
#[derive(Debug, Clone, Copy)]
struct MonotonicClock {
    start: std::time::Instant,
}

impl MonotonicClock {
    fn start() -> MonotonicClock {
        MonotonicClock {
            start: std::time::Instant::now(),
        }
    }

    fn now(&self) -> vtep_core::Instant {
        let micros = self.start.elapsed().as_micros();
        vtep_core::Instant::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// A running VTEP.
#[derive(Debug)]
pub struct Daemon {
    worker: Worker,
    /// Workers 1.. (`--queues`), started by [`Daemon::run`].
    others: Vec<Worker>,
    control: control::Server,
    signals: sys::SignalFd,
    /// The underlay address (`--local`), for `stats`.
    local: IpAddr,
    /// The user it switched to (`--user`): it can no longer change interfaces or unlink in
    /// root-only directories.
    user: Option<String>,
    /// The BGP EVPN control plane, if configured.
    bgp: Option<bgp::Bgp>,
}

impl Daemon {
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
    fn serve(&mut self, threads: &[JoinHandle<()>]) -> Result<(), Fatal> {
        let mut fds: Vec<sys::PollFd> = Vec::new();
        loop {
            fds.clear();
            fds.push(sys::poll_in(self.signals.raw_fd()));
            self.worker.push_fds(&mut fds);
            let bgp_at = fds.len();
            let mut timeout = self.worker.timeout_ms();
            if let Some(bgp) = &mut self.bgp {
                bgp.poll_fds(&mut fds);
                timeout = bgp.timeout_ms(timeout);
            }
            let control_at = fds.len();
            self.control.poll_fds(&mut fds);

            sys::poll(&mut fds, timeout).map_err(|e| format!("poll: {e}"))?;

            if sys::is_ready(&fds[0])
                && let Some(signo) = self.signals.read().map_err(|e| format!("signalfd: {e}"))?
            {
                tracing::info!("{}: shutting down", signal_name(signo));
                return Ok(());
            }
            self.worker.service(&fds[1..bgp_at]);
            if let Some(bgp) = &mut self.bgp {
                bgp.service(&fds[bgp_at..control_at], &self.worker.shared);
            }
            if fds[control_at..].iter().any(sys::is_ready) || fds.len() > control_at + 1 {
                let Daemon {
                    control,
                    worker,
                    local,
                    bgp,
                    ..
                } = self;
                control.service(|request| {
                    worker.io.stats.control_requests += 1;
                    let mut engine = lock(&worker.shared);
                    let mut total = worker.io.stats;
                    for other in engine.worker_stats.iter().skip(1) {
                        total += other;
                    }
                    let context = handler::Context {
                        taps: &worker.io.taps,
                        daemon: total,
                        local: *local,
                        now: worker.clock.now(),
                        bgp: bgp.as_ref(),
                        evpn_events_lost: engine.evpn.as_ref().map_or(0, |q| q.lost),
                    };
                    handler::handle_request(&mut engine.vtep, &context, request)
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
            bgp,
            ..
        } = self;
        if let Some(bgp) = bgp {
            bgp.shutdown();
        }
        worker.io.taps.close(user.as_deref());
        let path = control.path().to_path_buf();
        match control.close() {
            Ok(()) => {
                tracing::info!("removed control socket {}", path.display());
                // A namespace's own socket folder goes with its last daemon (only if empty).
                let netns = std::path::Path::new(control::DEFAULT_CONTROL_DIR).join("netns");
                if let Some(dir) = path.parent()
                    && dir.parent() == Some(netns.as_path())
                {
                    let _ = std::fs::remove_dir(dir);
                }
            }
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

/// Human name of a signal number the daemon handles.
fn signal_name(signo: i32) -> &'static str {
    match signo {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}
