//! Setting up: [`Daemon::new`] creates the engine, opens or creates the TAPs, binds the
//! underlay sockets and the control socket, then drops privileges (`--user`). Every failure
//! says what went wrong and how to fix it; whatever was created is released again (TAPs created
//! here disappear with their fds).

use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use vtep_core::PortId;
use vtep_core::vtep::{ConfigError, Encapsulation, Vtep};
use vtep_core::wire::outer::{self, Transport};
use vtep_core::wire::vxlan::ReservedBitsPolicy;

use super::bgp::Bgp;
use super::io::Io;
use super::taps::{Tap, Taps};
use super::worker::{Engine, EvpnQueue, GreSocket, RxSocket, Worker, lock};
use super::{Daemon, Fatal, MonotonicClock};
use crate::config::{Datapath, NetworkSettings, Settings};
use crate::control;
use crate::sys::{self, errno};

/// Socket buffer size asked of the kernel for the underlay sockets.
const SOCKET_BUFFER: usize = 4 << 20;
/// UDP sockets in the offload sending pool.
const SEND_POOL: usize = 16;

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
        let clock = MonotonicClock::start();
        let now = clock.now();

        let mut config = settings.vtep_config();
        config.hash_seed = random_seed();
        let seed = config.hash_seed;
        let mut vtep = Vtep::new(config, now).map_err(|e| e.to_string())?;
        let datapath = choose_datapath(&settings)?;
        let queues = settings.queues;
        // `config::settle` refuses `--queues` > 1 with `--datapath plain`.
        debug_assert!(queues == 1 || datapath != Datapath::Plain);

        // taps[q]: queue q of every network's TAP, for worker q. A network's TAPs are made
        // right after the engine takes the network, so its errors come in the same order.
        let mut taps: Vec<Taps> = (0..queues).map(|_| Taps::default()).collect();
        for n in &settings.networks {
            let port = add_network(&mut vtep, n, now)?;
            open_taps(&settings, n, port, datapath, &mut taps)?;
        }
        let rx = bind_listeners(&settings, datapath)?;
        let mut gre = open_gre(&settings)?;
        let senders = (0..queues)
            .map(|_| open_raw_sender(settings.local))
            .collect::<Result<Vec<_>, _>>()?;
        let udp_tx = if datapath == Datapath::Offload {
            bind_send_pool(settings.local, settings.srcport)?
        } else {
            Vec::new()
        };
        let control = control::Server::bind(&settings.control)?;
        tracing::info!("control socket {}", settings.control.display());
        if let Some((name, account)) = &user {
            drop_privileges(name, *account)?;
        }
        log_datapath(datapath, udp_tx.len(), queues);

        let shared = Engine::shared(vtep, now, queues);
        let (wake_tx, wake_rx) =
            UnixStream::pair().map_err(|e| format!("socketpair for EVPN: {e}"))?;
        let bgp = Bgp::new(&settings, clock, seed.rotate_left(17), wake_rx)?;
        if bgp.is_some() {
            wake_tx
                .set_nonblocking(true)
                .map_err(|e| format!("wake-up pipe: {e}"))?;
            lock(&shared).evpn = Some(EvpnQueue::new(wake_tx));
        }
        let mut workers = Vec::new();
        for (id, ((taps, rx), sender)) in taps.into_iter().zip(rx).zip(senders).enumerate() {
            // The sending pool is shared (dup'd fds): the sockets only send, and concurrent
            // sends on one UDP socket are safe.
            let udp_tx = udp_tx
                .iter()
                .map(UdpSocket::try_clone)
                .collect::<io::Result<Vec<_>>>()
                .map_err(|e| format!("cannot share the sending sockets: {e}"))?;
            let io = Io::new(taps, sender, datapath, udp_tx, settings.srcport.0);
            // Every raw socket gets its own copy of each GRE packet: one worker reads them.
            let gre = gre.take();
            workers.push(Worker::new(id, Arc::clone(&shared), io, rx, gre, clock));
        }
        drop(udp_tx);
        let worker = workers.remove(0);

        Ok(Daemon {
            worker,
            others: workers,
            control,
            signals,
            local: settings.local,
            user: user.map(|(name, _)| name),
            bgp,
        })
    }
}

/// `auto` takes the fastest path the kernel offers. With UDP GSO, veth and bridges carry a run
/// of datagrams as one super-datagram (segmented only by a real NIC or a non-GSO receiver):
/// captures there show fewer, larger packets; `--datapath batch` shows them one by one.
fn choose_datapath(settings: &Settings) -> Result<Datapath, Fatal> {
    let offload_ok = matches!(settings.datapath, Some(Datapath::Offload) | None)
        && udp_offloads_supported(settings.local);
    Ok(match settings.datapath {
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
    })
}

/// Gives the engine network `n`, its port and its static entries; returns the port. An error
/// names where the network was defined.
fn add_network(
    vtep: &mut Vtep,
    n: &NetworkSettings,
    now: vtep_core::Instant,
) -> Result<PortId, Fatal> {
    n.install(vtep, now)
        .map_err(|e: ConfigError| format!("{}: {e}", n.origin))
}

/// Opens (or creates) one queue of network `n`'s TAP per worker, the engine's `port`: sets its
/// MTU, adds it to its bridge, brings it up.
fn open_taps(
    settings: &Settings,
    n: &NetworkSettings,
    port: PortId,
    datapath: Datapath,
    taps: &mut [Taps],
) -> Result<(), Fatal> {
    let queues = taps.len();
    let multi_queue = queues > 1;
    let vnet = datapath == Datapath::Offload;
    let (file, created) = open_tap(settings, n, vnet, multi_queue)?;
    let mut files = vec![file];
    for _ in 1..queues {
        files.push(open_tap(settings, n, vnet, true)?.0);
    }
    let overhead = n.encap.ip_overhead(settings.local.is_ipv6());
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
    sys::set_link_up(&n.tap, true).map_err(|e| format!("cannot bring {} up: {e}", n.tap))?;
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
        n.encap,
        if n.learning { "learning" } else { "nolearning" },
        if n.proxy { ", proxy" } else { "" },
    );
    for (queue, file) in taps.iter_mut().zip(files) {
        queue.push(Tap {
            name: n.tap.clone(),
            file,
            vni: n.vni,
            port,
            created,
            bridge: bridge.clone(),
            vnet,
            prefix: segment_prefix(n.encap, settings.local),
        });
    }
    Ok(())
}

/// rx[q]: worker q's listening sockets, one per encapsulation in use; with several workers,
/// SO_REUSEPORT lets the kernel spread the flows (outer source ports) over them.
fn bind_listeners(settings: &Settings, datapath: Datapath) -> Result<Vec<Vec<RxSocket>>, Fatal> {
    let multi_queue = settings.queues > 1;
    let mut rx: Vec<Vec<RxSocket>> = (0..settings.queues).map(|_| Vec::new()).collect();
    for (encap, port) in [
        (Encapsulation::Vxlan, settings.vxlan_port),
        (Encapsulation::Geneve, settings.geneve_port),
    ] {
        if settings.uses(encap) {
            let what = encap.name();
            for worker_rx in &mut rx {
                let socket = bind_udp(settings.local, port, what, multi_queue)?;
                if datapath == Datapath::Offload {
                    sys::set_udp_gro(&socket)
                        .map_err(|e| format!("UDP_GRO on port {port}: {e}"))?;
                }
                let overhead = encap.ip_overhead(settings.local.is_ipv6());
                worker_rx.push(RxSocket {
                    socket,
                    port,
                    encap,
                    max_frame: usize::from(settings.underlay_mtu).saturating_sub(overhead),
                });
            }
            let reserved = match (encap, settings.reserved_bits) {
                (Encapsulation::Vxlan, ReservedBitsPolicy::Rfc) => " (reserved bits ignored)",
                (Encapsulation::Vxlan, ReservedBitsPolicy::Strict) => " (reserved bits dropped)",
                _ => "",
            };
            tracing::info!(
                "listening for {what} on {}:{port}{reserved}",
                settings.local
            );
        }
    }
    Ok(rx)
}

/// The room in front of each TCP segment cut from a TAP super-frame (offload): its tunnel
/// header. NVGRE packets leave whole through the raw socket, so theirs also holds the outer IP
/// header (UDP ones leave through UDP GSO, which needs the datagrams back to back).
fn segment_prefix(encap: Encapsulation, local: IpAddr) -> usize {
    match encap {
        Encapsulation::Nvgre => {
            encap.header_len() + outer::header_len(&local.into(), &Transport::Gre)
        }
        _ => encap.header_len(),
    }
}

/// NVGRE's receiving socket, if a network uses it: a raw socket for IP protocol 47 (GRE)
/// bound to `--local`. One for the whole daemon (every raw socket gets a copy of each packet),
/// read by worker 0.
fn open_gre(settings: &Settings) -> Result<Option<GreSocket>, Fatal> {
    if !settings.uses(Encapsulation::Nvgre) {
        return Ok(None);
    }
    let local = settings.local;
    let fd = sys::raw_receiver(local, sys::IPPROTO_GRE).map_err(|e| match e.raw_os_error() {
        Some(errno::EPERM) | Some(errno::EACCES) => format!(
            "cannot open a raw socket for GRE (IP protocol 47) to receive NVGRE: operation not \
             permitted (needs CAP_NET_RAW): {}",
            raw_hint()
        ),
        Some(errno::EADDRNOTAVAIL) => format!(
            "cannot receive NVGRE on {local}: {local} is not an address of this host; --local \
             must be assigned to one of its interfaces (ip addr add {local}/24 dev ...)"
        ),
        _ => format!("cannot open a raw socket for GRE (IP protocol 47) on {local}: {e}"),
    })?;
    if let Err(e) = sys::set_socket_buffers(&fd, SOCKET_BUFFER) {
        tracing::warn!("cannot enlarge the buffers of the GRE socket: {e}");
    }
    tracing::info!("listening for NVGRE (GRE, IP protocol 47) on {local}");
    Ok(Some(GreSocket {
        fd,
        ipv6: local.is_ipv6(),
    }))
}

/// The raw IP socket a worker sends whole tunnel packets from (plain and batch data paths, and
/// NVGRE in every data path).
fn open_raw_sender(local: IpAddr) -> Result<sys::RawIpSender, Fatal> {
    sys::RawIpSender::new(local.is_ipv6()).map_err(|e| match e.raw_os_error() {
        Some(errno::EPERM) | Some(errno::EACCES) => format!(
            "cannot open a raw socket for sending tunnel packets: operation not \
             permitted (needs CAP_NET_RAW): {}",
            raw_hint()
        ),
        _ => format!("cannot open a raw socket for sending tunnel packets: {e}"),
    })
}

fn log_datapath(datapath: Datapath, pool_len: usize, queues: usize) {
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
        if queues > 1 {
            format!("; {queues} worker threads, one queue of each TAP each")
        } else {
            String::new()
        }
    );
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

/// How to get CAP_NET_RAW, which raw sockets need.
fn raw_hint() -> &'static str {
    if sys::euid() == 0 {
        "the process lacks CAP_NET_RAW (a restricted container or systemd unit?): grant it \
         (AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW, with CAP_NET_RAW in \
         CapabilityBoundingSet=)"
    } else {
        is_root_hint()
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
