//! Every `unsafe` of native-vtep: TAP ioctls, interface flags, bridge ports, raw sockets (the
//! sender, and the GRE receiver of NVGRE), `poll`, `signalfd`, and the switch to an
//! unprivileged user (`--user`). Each function is a
//! thin, safe wrapper; the rest of the crate is `#![deny(unsafe_code)]`.
//!
//! Errors are returned as `io::Error` with the raw OS error kept, so callers can turn
//! `EPERM`, `EBUSY`, `ENOENT` into messages that say how to fix them.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `SIOCBRADDIF` / `SIOCBRDELIF` from `<linux/sockios.h>` (not exported by the libc crate on
/// Linux).
const SIOCBRADDIF: libc::c_ulong = 0x89a2;
const SIOCBRDELIF: libc::c_ulong = 0x89a3;

/// Longest interface name (without the NUL).
pub const MAX_IFNAME: usize = libc::IFNAMSIZ - 1;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An `ifreq` with `name` filled in.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.is_empty() || name.len() > MAX_IFNAME || name.bytes().any(|b| b == 0 || b == b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {name:?}: use 1 to {MAX_IFNAME} characters, no '/'"),
        ));
    }
    // SAFETY: `ifreq` is a plain C struct (a name array and a union of integers, sockaddrs and
    // a pointer); all-zero bytes are a valid value of every field.
    let mut req: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// The name the kernel wrote back into an `ifreq`.
fn ifreq_name(req: &libc::ifreq) -> String {
    let bytes = req.ifr_name.iter().take_while(|c| **c != 0);
    String::from_utf8_lossy(&bytes.map(|c| *c as u8).collect::<Vec<u8>>()).into_owned()
}

/// Opens `tun_path` (normally `/dev/net/tun`) and attaches to the TAP device `name`, creating
/// it if it does not exist (a device created this way disappears when the fd is closed, unless
/// it was made persistent beforehand, e.g. by `ip tuntap add`). The fd is non-blocking and
/// close-on-exec; frames carry no packet-information header (`IFF_NO_PI`).
/// With `vnet_hdr`, every frame read or written is preceded by a 10-byte `virtio_net_hdr`
/// (`IFF_VNET_HDR`), which carries checksum and segmentation offload state (see
/// [`tap_set_offload`]).
/// With `multi_queue` (`IFF_MULTI_QUEUE`), each call attaches one more queue of the same
/// device: the kernel spreads the frames it sends over the queues by flow hash.
pub fn open_tap(
    tun_path: &Path,
    name: &str,
    vnet_hdr: bool,
    multi_queue: bool,
) -> io::Result<(File, String)> {
    let mut req = ifreq(name)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(tun_path)?;
    let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
    if vnet_hdr {
        flags |= libc::IFF_VNET_HDR;
    }
    if multi_queue {
        flags |= libc::IFF_MULTI_QUEUE;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: `file` is an open tun character device; TUNSETIFF reads and writes an `ifreq`,
    // and `req` is a valid, exclusively borrowed `ifreq` that outlives the call.
    cvt(unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::TUNSETIFF,
            &mut req as *mut libc::ifreq,
        )
    })?;
    Ok((file, ifreq_name(&req)))
}

/// Offloads the kernel may use on frames it hands us through a TAP opened with `vnet_hdr`:
/// `TUN_F_CSUM` (partial checksums), `TUN_F_TSO4`/`TUN_F_TSO6` (TCP super-frames).
pub fn tap_set_offload(tap: &File, csum: bool, tso: bool) -> io::Result<()> {
    let mut flags: libc::c_uint = 0;
    if csum {
        flags |= libc::TUN_F_CSUM;
    }
    if tso {
        flags |= libc::TUN_F_TSO4 | libc::TUN_F_TSO6;
    }
    // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long of TUN_F_* flags);
    // `tap` is an open, attached tun fd.
    cvt(unsafe {
        libc::ioctl(
            tap.as_raw_fd(),
            libc::TUNSETOFFLOAD,
            libc::c_ulong::from(flags),
        )
    })?;
    Ok(())
}

/// The interface index of `name`, or `None` if there is no such interface.
pub fn if_index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string that lives across the call.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (index != 0).then_some(index)
}

/// A throwaway datagram socket for interface ioctls.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; on success we own the returned fd.
    let fd = cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs one `SIOC*` ioctl on `req`.
fn if_ioctl(sock: &OwnedFd, request: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request passed here (SIOC[GS]IFFLAGS, SIOCSIFMTU, SIOCBR{ADD,DEL}IF) takes a
    // pointer to an `ifreq`; `req` is valid and exclusively borrowed for the call.
    cvt(unsafe { libc::ioctl(sock.as_raw_fd(), request, req as *mut libc::ifreq) })?;
    Ok(())
}

/// Sets (or clears) `IFF_UP` on `name`, like `ip link set NAME up`.
pub fn set_link_up(name: &str, up: bool) -> io::Result<()> {
    let sock = ioctl_socket()?;
    let mut req = ifreq(name)?;
    if_ioctl(&sock, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member of the union.
    let mut flags = unsafe { req.ifr_ifru.ifru_flags };
    if up {
        flags |= libc::IFF_UP as libc::c_short;
    } else {
        flags &= !(libc::IFF_UP as libc::c_short);
    }
    req.ifr_ifru.ifru_flags = flags;
    if_ioctl(&sock, libc::SIOCSIFFLAGS, &mut req)
}

/// Sets the MTU of `name`, like `ip link set NAME mtu MTU`.
pub fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let sock = ioctl_socket()?;
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "MTU out of range"))?;
    if_ioctl(&sock, libc::SIOCSIFMTU, &mut req)
}

/// Adds (or removes) interface `port` to (from) the Linux bridge `bridge`, like
/// `ip link set PORT master BRIDGE`.
pub fn bridge_port(bridge: &str, port: &str, add: bool) -> io::Result<()> {
    let index = if_index(port).ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
    let sock = ioctl_socket()?;
    let mut req = ifreq(bridge)?;
    req.ifr_ifru.ifru_ifindex = index as libc::c_int;
    if_ioctl(&sock, if add { SIOCBRADDIF } else { SIOCBRDELIF }, &mut req)
}

/// A non-blocking `IPPROTO_RAW` socket: sends whole IP packets whose headers the caller wrote
/// (`IP_HDRINCL` / `IPV6_HDRINCL` are implied), so every tunnel flow can have its own UDP source
/// port (ECMP entropy, like the kernel's VXLAN driver). It never receives anything.
#[derive(Debug)]
pub struct RawIpSender {
    fd: OwnedFd,
    ipv6: bool,
}

/// A non-blocking, close-on-exec raw socket of `protocol` in the family of IPv6 or IPv4.
fn raw_socket(ipv6: bool, protocol: libc::c_int) -> io::Result<OwnedFd> {
    let family = if ipv6 { libc::AF_INET6 } else { libc::AF_INET };
    let flags = libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain socket(2) call; on success we own the returned fd.
    let fd = cvt(unsafe { libc::socket(family, flags, protocol) })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl RawIpSender {
    pub fn new(ipv6: bool) -> io::Result<RawIpSender> {
        let fd = raw_socket(ipv6, libc::IPPROTO_RAW)?;
        Ok(RawIpSender { fd, ipv6 })
    }

    /// Sends `packet` (a whole IP packet, header included) towards `dst`.
    pub fn send_to(&self, packet: &[u8], dst: IpAddr) -> io::Result<usize> {
        if dst.is_ipv6() != self.ipv6 {
            return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
        }
        // Port 0: for raw IPv6 sockets a non-zero port must equal the protocol number.
        let (addr, len) = sockaddr(SocketAddr::new(dst, 0));
        // SAFETY: `packet` is a valid readable slice; `addr` a valid sockaddr of `len` bytes.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                libc::MSG_DONTWAIT,
                (&raw const addr).cast(),
                len,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(sent as usize)
        }
    }

    /// Sends several whole IP packets with one `sendmmsg(2)` (see [`send_many`]).
    pub fn send_many(&self, packets: &[(&[u8], IpAddr)]) -> io::Result<usize> {
        if packets.iter().any(|(_, dst)| dst.is_ipv6() != self.ipv6) {
            return Err(io::Error::from_raw_os_error(libc::EAFNOSUPPORT));
        }
        send_many(&self.fd, packets.len(), |i| {
            (packets[i].0, Some(SocketAddr::new(packets[i].1, 0)))
        })
    }
}

/// Sends `count` datagrams (at most 64) with one non-blocking `sendmmsg(2)`: datagram `i` is
/// `packet(i)`, to its address (or on a connected socket, `None`). Returns how many left (the
/// kernel may stop early, e.g. when the socket buffer is full: the caller counts the rest as
/// send errors, as a failed `sendto` would be).
pub fn send_many<'a>(
    socket: &impl AsRawFd,
    count: usize,
    packet: impl Fn(usize) -> (&'a [u8], Option<SocketAddr>),
) -> io::Result<usize> {
    const MAX: usize = 64;
    let n = count.min(MAX);
    // SAFETY: plain C structs; all-zero is a valid value (null pointers, zero lengths).
    let mut addrs: [libc::sockaddr_storage; MAX] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut iovs: [libc::iovec; MAX] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MAX] = unsafe { mem::zeroed() };
    for i in 0..n {
        let (bytes, dst) = packet(i);
        iovs[i] = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        if let Some(dst) = dst {
            let (addr, len) = sockaddr(dst);
            addrs[i] = addr;
            msgs[i].msg_hdr.msg_name = (&raw mut addrs[i]).cast();
            msgs[i].msg_hdr.msg_namelen = len;
        }
        msgs[i].msg_hdr.msg_iov = &raw mut iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs[..n]` point into `addrs` and `iovs`, which outlive the call, and into the
    // caller's packets (borrowed for 'a), which the kernel only reads.
    let sent = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// Pins the calling thread to CPU `cpu` (`sched_setaffinity`).
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: `cpu_set_t` is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: sets one bit of `set` (indexing its array, bounds-checked: a CPU beyond
    // CPU_SETSIZE panics, it writes nothing out of bounds).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid `cpu_set_t` of the size passed; pid 0 is the calling thread.
    cvt(unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) })?;
    Ok(())
}

/// IP protocol 47, GRE, which carries NVGRE.
pub const IPPROTO_GRE: u8 = libc::IPPROTO_GRE as u8;

/// A non-blocking raw socket that receives every packet of IP `protocol` addressed to `local`
/// (bound to it), read with [`recv_many`]. Over IPv4 a packet comes whole, IP header first;
/// over IPv6 without its IP header (the source is in the address). Every raw socket of a
/// protocol gets its own copy of each packet, so a process should open one.
pub fn raw_receiver(local: IpAddr, protocol: u8) -> io::Result<OwnedFd> {
    let fd = raw_socket(local.is_ipv6(), libc::c_int::from(protocol))?;
    bind(&fd, SocketAddr::new(local, 0))?;
    Ok(fd)
}

/// bind(2) of `fd` to `addr`.
fn bind(fd: &OwnedFd, addr: SocketAddr) -> io::Result<()> {
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes for the socket's family.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&raw const storage).cast(), len) })?;
    Ok(())
}

/// Receives up to `bufs.len()` datagrams with one `recvmmsg(2)`: datagram `i` lands in
/// `bufs[i]`, its length and source in `out[i]`. A datagram longer than its buffer comes back
/// with the length it had (larger than the buffer): the caller drops it.
pub fn recv_many(
    socket: &impl AsRawFd,
    bufs: &mut [&mut [u8]],
    out: &mut [(usize, SocketAddr)],
) -> io::Result<usize> {
    const MAX: usize = 64;
    let n = bufs.len().min(out.len()).min(MAX);
    // SAFETY: plain C structs; all-zero is a valid value.
    let mut addrs: [libc::sockaddr_storage; MAX] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut iovs: [libc::iovec; MAX] = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MAX] = unsafe { mem::zeroed() };
    for i in 0..n {
        iovs[i] = libc::iovec {
            iov_base: bufs[i].as_mut_ptr().cast(),
            iov_len: bufs[i].len(),
        };
        msgs[i].msg_hdr.msg_name = (&raw mut addrs[i]).cast();
        msgs[i].msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msgs[i].msg_hdr.msg_iov = &raw mut iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every iovec points into a distinct, exclusively borrowed buffer of the stated
    // length; names point into `addrs`; all outlive the call. A null timeout: no waiting.
    let got = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = got as usize;
    for i in 0..got {
        let mut len = msgs[i].msg_len as usize;
        if msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            len = len.max(bufs[i].len() + 1);
        }
        out[i] = (
            len,
            from_sockaddr(&addrs[i]).unwrap_or(SocketAddr::from(([0; 4], 0))),
        );
    }
    Ok(got)
}

/// The address in a `sockaddr_storage` the kernel filled in.
fn from_sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a `sockaddr_in`; storage is larger and
            // suitably aligned.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::from((
                a.sin_addr.s_addr.to_ne_bytes(),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for `sockaddr_in6`.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Turns on `UDP_GRO`: the kernel may then hand one read several datagrams of one flow, all
/// `gso_size` long but the last, reported by [`recv_gro`].
pub fn set_udp_gro(socket: &impl AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    setsockopt(socket.as_raw_fd(), libc::SOL_UDP, libc::UDP_GRO, &on)
}

/// Whether the kernel knows `UDP_SEGMENT` (UDP GSO, Linux 4.18): probed by setting the
/// socket's default segment size to 0 (= off).
pub fn udp_segment_supported(socket: &impl AsRawFd) -> bool {
    let zero: libc::c_int = 0;
    setsockopt(socket.as_raw_fd(), libc::SOL_UDP, libc::UDP_SEGMENT, &zero).is_ok()
}

/// Space for one cmsg carrying an `int` or a `u16`, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 32]);

/// `recvmsg(2)` with room for the `UDP_GRO` control message: returns the length, the source,
/// and the segment size when the read is a run of datagrams the kernel coalesced (GRO) or a
/// sender's GSO run. Such a run always had UDP checksums, verified by the kernel (or made on
/// this host): UDP GRO refuses datagrams without one, and GSO requires them.
pub fn recv_gro(
    socket: &impl AsRawFd,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<usize>)> {
    // SAFETY: plain C structs; all-zero is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = CmsgBuf([0; 32]);
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len();
    // SAFETY: `msg` points at `addr`, `iov` (into `buf`) and `control`, all exclusively
    // borrowed and alive across the call.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut n = n as usize;
    if msg.msg_flags & libc::MSG_TRUNC != 0 {
        n = n.max(buf.len() + 1);
    }
    let mut segment = None;
    // SAFETY: `msg` was filled by recvmsg; the CMSG_* walk stays within `msg_controllen`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == libc::UDP_GRO {
                let v = libc::CMSG_DATA(c).cast::<libc::c_int>().read_unaligned();
                if v > 0 {
                    segment = Some(v as usize);
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let from = from_sockaddr(&addr).unwrap_or(SocketAddr::from(([0; 4], 0)));
    Ok((n, from, segment))
}

/// `sendmsg(2)` of the concatenated `parts` to `dst`; with `segment` set, as one UDP GSO send
/// (`UDP_SEGMENT`): the kernel cuts it into datagrams of `segment` bytes (the last may be
/// shorter).
pub fn send_gso(
    socket: &impl AsRawFd,
    parts: &[IoSlice<'_>],
    dst: SocketAddr,
    segment: Option<u16>,
) -> io::Result<usize> {
    let (mut addr, len) = sockaddr(dst);
    let mut control = CmsgBuf([0; 32]);
    // SAFETY: plain C struct; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = len;
    // `IoSlice` is ABI-compatible with `iovec` on Unix (its documented guarantee).
    msg.msg_iov = parts.as_ptr().cast::<libc::iovec>().cast_mut();
    msg.msg_iovlen = parts.len();
    if let Some(size) = segment {
        msg.msg_control = control.0.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(mem::size_of::<u16>() as u32) } as usize;
        // SAFETY: `control` is aligned and large enough for one cmsg of a u16 (checked by
        // CMSG_SPACE above being <= 32); CMSG_FIRSTHDR of a non-empty control buffer is
        // non-null.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = libc::UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(mem::size_of::<u16>() as u32) as usize;
            libc::CMSG_DATA(c).cast::<u16>().write_unaligned(size);
        }
    }
    // SAFETY: `msg` points at `addr`, `parts` (iovecs into the caller's buffers, only read)
    // and `control`, all alive across the call.
    let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of `size_of::<T>()` bytes, the type each option
    // used in this module expects.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// A non-blocking, close-on-exec UDP socket bound to `addr` with `SO_REUSEPORT` set first, so
/// that several such sockets (of the same user) share the port and the kernel spreads the
/// flows arriving there over them by hash of their addresses and ports.
pub fn bind_udp_reuseport(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let fd = new_socket(addr, libc::SOCK_DGRAM)?;
    let one: libc::c_int = 1;
    setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, &one)?;
    bind(&fd, addr)?;
    Ok(std::net::UdpSocket::from(fd))
}

/// A TCP connection from `local` (any port) to `remote`, begun without waiting: poll it for
/// writability, then its `take_error` says whether it was made (the BGP sessions).
pub fn tcp_connect(local: IpAddr, remote: SocketAddr) -> io::Result<std::net::TcpStream> {
    let fd = new_socket(remote, libc::SOCK_STREAM)?;
    bind(&fd, SocketAddr::new(local, 0))?;
    let (to, to_len) = sockaddr(remote);
    // SAFETY: `to` holds a valid sockaddr of `to_len` bytes for the socket's family.
    let ret = unsafe { libc::connect(fd.as_raw_fd(), (&raw const to).cast(), to_len) };
    match cvt(ret) {
        Err(e) if e.raw_os_error() != Some(libc::EINPROGRESS) => Err(e),
        _ => Ok(std::net::TcpStream::from(fd)),
    }
}

/// A non-blocking, close-on-exec socket of `kind` for `addr`'s family.
fn new_socket(addr: SocketAddr, kind: libc::c_int) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain socket(2) call; on success we own the returned fd.
    let fd = cvt(unsafe { libc::socket(family, kind | flags, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it; the OwnedFd closes
    // it on every error path of the callers.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets `SO_RCVBUF` / `SO_SNDBUF` of a socket (the kernel caps them at `net.core.*mem_max`).
pub fn set_socket_buffers(fd: &impl AsRawFd, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, &value)?;
    setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, &value)
}

/// A `sockaddr_storage` holding `addr`, and its length.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: `sockaddr_storage` is plain data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is larger than and suitably aligned for `sockaddr_in`.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: `sockaddr_storage` is larger than and suitably aligned for `sockaddr_in6`.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

pub use pollfd::{PollFd, is_ready, poll_in, poll_out};

/// poll(2): waits until a descriptor is ready or `timeout_ms` passes (-1: forever). An
/// interrupted wait (`EINTR`) returns `Ok(0)`.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `fds` is a valid, exclusively borrowed array of `pollfd` of the given length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(0);
        }
        return Err(e);
    }
    Ok(n as usize)
}

/// SIGINT and SIGTERM (and SIGHUP) delivered through a file descriptor, so the poll loop sees
/// them like any other input. Creating it blocks those signals for the calling thread (create
/// it before starting other threads, so they inherit the mask).
#[derive(Debug)]
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    pub fn new() -> io::Result<SignalFd> {
        // SAFETY: `sigset_t` is plain data; sigemptyset initialises it before any other use.
        let mut set: libc::sigset_t = unsafe { mem::zeroed() };
        // SAFETY: `set` is a valid, exclusively borrowed sigset_t for each call; the signal
        // numbers are valid.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGHUP);
        }
        // SAFETY: `set` is initialised; a null old-set pointer is allowed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: -1 asks for a new signalfd; `set` is initialised; on success we own the fd.
        let fd = cvt(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by signalfd(2) and nothing else owns it.
        Ok(SignalFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The next pending signal number, if any.
    pub fn read(&self) -> io::Result<Option<i32>> {
        // SAFETY: `signalfd_siginfo` is plain data; all-zero is valid.
        let mut info: libc::signalfd_siginfo = unsafe { mem::zeroed() };
        let size = mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: `info` is a writable buffer of exactly `size` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut info).cast(), size) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok((n as usize == size).then_some(info.ssi_signo as i32))
    }
}

/// A user account from the passwd database: what [`drop_privileges`] switches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
}

/// Looks `name` up in the passwd database (`getpwnam_r`, so NSS sources such as LDAP count
/// too). `Ok(None)`: no such user.
pub fn lookup_user(name: &str) -> io::Result<Option<Account>> {
    let c = CString::new(name).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a user name cannot contain NUL",
        )
    })?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: `passwd` is a plain C struct (integers and pointers); all-zero is valid.
        let mut pwd: libc::passwd = unsafe { mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `c` is NUL-terminated; `pwd`, `buf` (of `buf.len()` bytes) and `result` are
        // valid, exclusively borrowed and outlive the call. The strings the call stores in `pwd`
        // point into `buf`; we only copy the two integers out.
        let rc = unsafe {
            libc::getpwnam_r(
                c.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        match rc {
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            // Some NSS modules say "not found" with an error instead of a null result.
            0 | libc::ENOENT | libc::ESRCH if result.is_null() => return Ok(None),
            0 => {
                return Ok(Some(Account {
                    uid: pwd.pw_uid,
                    gid: pwd.pw_gid,
                }));
            }
            rc => return Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

/// Becomes `account` for good: `PR_SET_NO_NEW_PRIVS` (no exec can gain privileges again),
/// no supplementary groups, then real, effective and saved gid and uid. Switching all three
/// uids away from 0 makes the kernel clear every capability (unless securebits say otherwise:
/// the caller checks). Afterwards verifies that the ids stuck and that root cannot be regained.
pub fn drop_privileges(account: Account) -> io::Result<()> {
    let Account { uid, gid } = account;
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes only integer arguments.
    cvt(unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })?;
    // Groups before the uid: without root we could no longer change them. glibc applies each
    // of these to every thread of the process.
    // SAFETY: a zero-length list with a null pointer means "no supplementary groups".
    cvt(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    // SAFETY: plain integer arguments.
    cvt(unsafe { libc::setresgid(gid, gid, gid) })?;
    // SAFETY: plain integer arguments.
    cvt(unsafe { libc::setresuid(uid, uid, uid) })?;

    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three valid, exclusively borrowed `uid_t`s for the kernel to fill.
    cvt(unsafe { libc::getresuid(&mut r, &mut e, &mut s) })?;
    let (mut rg, mut eg, mut sg) = (0, 0, 0);
    // SAFETY: as above, `gid_t`s.
    cvt(unsafe { libc::getresgid(&mut rg, &mut eg, &mut sg) })?;
    // SAFETY: size 0 with a null list only counts the supplementary groups.
    let groups = cvt(unsafe { libc::getgroups(0, std::ptr::null_mut()) })?;
    if [r, e, s] != [uid; 3] || [rg, eg, sg] != [gid; 3] || groups != 0 {
        return Err(io::Error::other(format!(
            "ids did not stick: uids {r}/{e}/{s}, gids {rg}/{eg}/{sg}, {groups} groups"
        )));
    }
    // SAFETY: plain integer argument; it must fail now (EPERM).
    if uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(io::Error::other(
            "setuid(0) still succeeds: root could be regained",
        ));
    }
    Ok(())
}

/// Sets the file mode creation mask and returns the previous one. Process-wide: call it only
/// while single-threaded (startup).
pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask(2) cannot fail; it only swaps an integer of the process.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// The effective user id (for error hints).
pub fn euid() -> u32 {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

pub mod errno;
mod pollfd;
