//! TAP offloads without `unsafe`: the virtio-net header, checksums, segmentation of TCP
//! super-frames (TSO) and coalescing of received TCP segments (GRO).
//!
//! With `IFF_VNET_HDR` every frame read from or written to the TAP is preceded by a 10-byte
//! [`VnetHdr`]. With `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)` the kernel hands us
//! frames whose transport checksum is only *partial* (`NEEDS_CSUM`: the pseudo-header sum sits
//! at `csum_start + csum_offset`; the sum from `csum_start` to the end must be added) and TCP
//! super-frames of up to 64 KiB (`gso_type` TCPV4/TCPV6, `gso_size` = MSS). A VTEP must send
//! MTU-sized frames with correct checksums, so [`segment`] cuts a super-frame into segments:
//! it writes each segment's own Ethernet/IP/TCP headers, with full checksums, into slots at a
//! fixed stride with room for the tunnel header in front of each, and leaves the payload where
//! it is, in the super-frame. The send then gathers headers and payload (`sendmsg` with an
//! iovec per part): the kernel's copy into its socket buffer is the only copy of the payload,
//! and the one pass of ours over it is the checksum's. With the slots' stride the gathered
//! bytes are exactly what a UDP GSO send (`UDP_SEGMENT`, one `sendmsg` that the kernel splits
//! every `stride` bytes) needs, because every datagram carries its own VXLAN and inner headers.
//!
//! The other way, [`Coalescer`] gathers consecutive in-order TCP segments of one flow into one
//! super-frame written with `gso_type` TCPV4 (the receiving stack sees one packet where there
//! were up to 45), again without copying: it keeps the first segment's headers and the
//! payloads' places in the receive buffer, and the TAP write gathers them. Checksums are the
//! caller's business ([`check_inner`]): a segment joins only when its checksum was verified,
//! here or by the kernel for the outer UDP datagram, so corrupted data is never laundered into
//! a "checksum partial" frame.

use vtep_core::vtep::Encapsulation;
use vtep_core::wire::geneve;

/// Length of `struct virtio_net_hdr` (without `num_buffers`): the TAP's default.
pub const VNET_HDR_LEN: usize = 10;

pub const F_NEEDS_CSUM: u8 = 1;
pub const F_DATA_VALID: u8 = 2;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_ECN: u8 = 0x80;

const ETH_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const PROTO_TCP: u8 = 6;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_CWR: u8 = 0x80;

/// `struct virtio_net_hdr`, fields in native byte order (legacy virtio, as tun uses by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    pub hdr_len: u16,
    pub gso_size: u16,
    pub csum_start: u16,
    pub csum_offset: u16,
}

impl VnetHdr {
    pub fn parse(b: &[u8]) -> Option<VnetHdr> {
        let b: &[u8; VNET_HDR_LEN] = b.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    pub fn emit(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }
}

// ---- checksums ----
//
// The one's-complement sum is byte-order independent (RFC 1071 2.B): summing native-endian
// words gives the byte-swapped result on a little-endian host, and `to_ne_bytes` of the folded
// sum is then exactly the two bytes to store. Everything here stays in that "native" domain.

/// Adds `data` to a running one's-complement sum (not yet folded).
pub fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
        acc = acc.wrapping_add(x & 0xffff_ffff).wrapping_add(x >> 32);
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_ne_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    acc
}

/// Folds a running sum to 16 bits (still not complemented).
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The pseudo-header sum of TCP/UDP over IPv4 or IPv6 (addresses as found in the packet).
fn pseudo(src: &[u8], dst: &[u8], proto: u8, len: usize) -> u64 {
    let mut acc = sum(src, 0);
    acc = sum(dst, acc);
    // Protocol and length as big-endian words, summed as the bytes they are on the wire.
    acc = sum(&[0, proto], acc);
    let len = len as u32;
    sum(&len.to_be_bytes(), acc)
}

/// Completes a partial checksum (`NEEDS_CSUM`) in place: sums from `start` to the end (the
/// field already holds the pseudo-header sum) and stores the complement at `start + offset`.
pub fn finish_checksum(frame: &mut [u8], start: usize, offset: usize) -> bool {
    let at = start + offset;
    if at + 2 > frame.len() || start > frame.len() {
        return false;
    }
    let folded = !fold(sum(&frame[start..], 0));
    // UDP: a computed zero is sent as all ones (zero means "no checksum").
    let folded = if folded == 0 && offset == 6 {
        0xffff
    } else {
        folded
    };
    frame[at..at + 2].copy_from_slice(&folded.to_ne_bytes());
    true
}

/// IPv4 header checksum, recomputed in place.
fn ipv4_header_checksum(ip: &mut [u8]) {
    ip[10] = 0;
    ip[11] = 0;
    let c = !fold(sum(ip, 0));
    ip[10..12].copy_from_slice(&c.to_ne_bytes());
}

/// Where the IP header, the TCP header and the payload of a frame start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TcpLayout {
    ipv6: bool,
    /// Offset of the TCP header (= end of the IP header and extension headers).
    l4: usize,
    /// Offset of the payload.
    payload: usize,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The layout of a TCP frame whose TCP header starts at `l4` (from the virtio header).
fn tcp_layout(frame: &[u8], l4: usize) -> Option<TcpLayout> {
    if frame.len() < ETH_LEN + 20 || l4 + 20 > frame.len() {
        return None;
    }
    let ipv6 = match be16(frame, 12) {
        ETHERTYPE_IPV4 => false,
        ETHERTYPE_IPV6 => true,
        _ => return None,
    };
    let min_ip = if ipv6 { 40 } else { 20 };
    if l4 < ETH_LEN + min_ip {
        return None;
    }
    let thl = usize::from(frame[l4 + 12] >> 4) * 4;
    if thl < 20 || l4 + thl > frame.len() {
        return None;
    }
    Some(TcpLayout {
        ipv6,
        l4,
        payload: l4 + thl,
    })
}

/// Why a super-frame could not be segmented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentError {
    /// Not Ethernet + IPv4/IPv6 + TCP where the virtio header says, or a GSO type we did not
    /// offer (UDP fragmentation offload).
    Unsupported,
    /// More segments, or more bytes, than the output buffer holds.
    TooLarge,
}

/// Segments laid out by [`segment`]: slot `i` is `out[i * stride..][..len(i)]`, its first
/// `prefix` bytes left free for the tunnel header, then the segment's `hlen` bytes of headers;
/// its payload is `frame[data(i)]` of the super-frame, not copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    pub count: usize,
    pub stride: usize,
    /// Length of the last slot (prefix included); every other slot is `stride` long.
    pub last_len: usize,
    /// Length of each segment's headers (Ethernet, IP, TCP).
    pub hlen: usize,
    pub mss: usize,
    /// Length of the super-frame.
    pub frame_len: usize,
}

impl Segments {
    /// Range of the inner frame of segment `i` (after the prefix), headers and payload.
    pub fn frame(&self, i: usize, prefix: usize) -> core::ops::Range<usize> {
        let start = i * self.stride;
        let len = if i + 1 == self.count {
            self.last_len
        } else {
            self.stride
        };
        start + prefix..start + len
    }

    /// Range of segment `i`'s payload in the super-frame.
    pub fn data(&self, i: usize) -> core::ops::Range<usize> {
        let start = self.hlen + i * self.mss;
        start..(start + self.mss).min(self.frame_len)
    }

    /// Copies segment `i`'s payload from the super-frame into its slot, for the rare output
    /// that needs the whole segment in one piece (a delivery to a local port, a raw send).
    pub fn fill(&self, out: &mut [u8], frame: &[u8], i: usize, prefix: usize) {
        let data = self.data(i);
        let at = i * self.stride + prefix + self.hlen;
        out[at..at + data.len()].copy_from_slice(&frame[data]);
    }
}

/// Cuts a TCP super-frame (`hdr.gso_type` TCPV4 or TCPV6) into `hdr.gso_size`-byte segments:
/// writes each one's headers, with fixed-up IP length, IPv4 id and checksum, TCP sequence
/// number, flags (FIN/PSH only on the last, CWR only on the first) and the full TCP checksum
/// over its payload, to `out[i * stride + prefix..]`. The payloads stay in `frame` (see
/// [`Segments::data`]); summing them for the checksums is the only pass over them.
pub fn segment(
    frame: &[u8],
    hdr: &VnetHdr,
    out: &mut [u8],
    prefix: usize,
) -> Result<Segments, SegmentError> {
    let gso = hdr.gso_type & !GSO_ECN;
    if gso != GSO_TCPV4 && gso != GSO_TCPV6 {
        return Err(SegmentError::Unsupported);
    }
    let layout = tcp_layout(frame, usize::from(hdr.csum_start)).ok_or(SegmentError::Unsupported)?;
    if layout.ipv6 != (gso == GSO_TCPV6) {
        return Err(SegmentError::Unsupported);
    }
    let mss = usize::from(hdr.gso_size);
    if mss == 0 {
        return Err(SegmentError::Unsupported);
    }
    let hlen = layout.payload;
    let data = &frame[hlen..];
    let count = data.len().div_ceil(mss).max(1);
    let stride = prefix + hlen + mss;
    let last_data = data.len() - (count - 1) * mss;
    let last_len = prefix + hlen + last_data;
    if (count - 1) * stride + last_len > out.len() {
        return Err(SegmentError::TooLarge);
    }
    let seq0 = be32(frame, layout.l4 + 4);
    let flags0 = frame[layout.l4 + 13];
    let ip_id0 = if layout.ipv6 {
        0
    } else {
        be16(frame, ETH_LEN + 4)
    };
    let (src, dst) = if layout.ipv6 {
        (ETH_LEN + 8..ETH_LEN + 24, ETH_LEN + 24..ETH_LEN + 40)
    } else {
        (ETH_LEN + 12..ETH_LEN + 16, ETH_LEN + 16..ETH_LEN + 20)
    };
    let l4 = layout.l4;
    let thl = hlen - l4;
    // The pseudo-header's addresses and protocol, and the TCP header without the fields that
    // change per segment (sequence number, flags, checksum), are summed once.
    let fixed = sum(&[0, PROTO_TCP], sum(&frame[src], sum(&frame[dst], 0)));
    for i in 0..count {
        let chunk = &data[i * mss..(i * mss + mss).min(data.len())];
        let base = i * stride + prefix;
        let seg = &mut out[base..base + hlen];
        seg.copy_from_slice(&frame[..hlen]);
        let ip_payload = hlen - ETH_LEN - if layout.ipv6 { 40 } else { 0 } + chunk.len();
        if layout.ipv6 {
            seg[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&(ip_payload as u16).to_be_bytes());
        } else {
            seg[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&(ip_payload as u16).to_be_bytes());
            let id = ip_id0.wrapping_add(i as u16);
            seg[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&id.to_be_bytes());
            ipv4_header_checksum(&mut seg[ETH_LEN..l4]);
        }
        let seq = seq0.wrapping_add((i * mss) as u32);
        seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = flags0;
        if i + 1 < count {
            flags &= !(TCP_FIN | TCP_PSH);
        }
        if i > 0 {
            flags &= !TCP_CWR;
        }
        seg[l4 + 13] = flags;
        seg[l4 + 16] = 0;
        seg[l4 + 17] = 0;
        let len = (thl + chunk.len()) as u32;
        let acc = sum(&len.to_be_bytes(), fixed);
        let c = !fold(sum(chunk, sum(&seg[l4..], acc)));
        seg[l4 + 16..l4 + 18].copy_from_slice(&c.to_ne_bytes());
    }
    Ok(Segments {
        count,
        stride,
        last_len,
        hlen,
        mss,
        frame_len: frame.len(),
    })
}

/// A decapsulated frame longer than `max` that is one TCP super-frame (Ethernet + IPv4 or
/// IPv6 + TCP, its IP length covering the whole frame): what a kernel vxlan device with TSO
/// sends over a veth underlay, where the tunnel packet is never segmented and a plain UDP
/// socket receives it whole. Returns the virtio header to [`segment`] it with: MSS `mss`, or
/// the most that fits `max`.
pub fn tunnel_super_frame(frame: &[u8], max: usize, mss: Option<usize>) -> Option<VnetHdr> {
    if frame.len() <= max || frame.len() < ETH_LEN + 40 {
        return None;
    }
    let (ipv6, l4, ip_len) = match be16(frame, 12) {
        ETHERTYPE_IPV4 if frame[ETH_LEN + 9] == PROTO_TCP => {
            // A fragment is never a super-frame: cutting it would rewrite its pieces.
            let ihl = ipv4_unfragmented_header_len(&frame[ETH_LEN..])?;
            (false, ETH_LEN + ihl, usize::from(be16(frame, ETH_LEN + 2)))
        }
        ETHERTYPE_IPV6 if frame[ETH_LEN + 6] == PROTO_TCP => (
            true,
            ETH_LEN + 40,
            40 + usize::from(be16(frame, ETH_LEN + 4)),
        ),
        _ => return None,
    };
    let layout = tcp_layout(frame, l4)?;
    let hlen = layout.payload;
    if ETH_LEN + ip_len != frame.len() || hlen >= max {
        return None;
    }
    let gso_size = mss.unwrap_or(max - hlen).min(max - hlen);
    Some(VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: if ipv6 { GSO_TCPV6 } else { GSO_TCPV4 },
        hdr_len: hlen as u16,
        gso_size: u16::try_from(gso_size).ok().filter(|m| *m > 0)?,
        csum_start: l4 as u16,
        csum_offset: 16,
    })
}

/// A tunnel packet (`encap`) holding a TCP super-frame longer than `max`: the length of its
/// tunnel header and the virtio header to [`segment`] the frame with ([`tunnel_super_frame`]).
pub fn tunnel_packet(
    encap: Encapsulation,
    datagram: &[u8],
    max: usize,
    mss: Option<usize>,
) -> Option<(usize, VnetHdr)> {
    let tunnel = tunnel_header_len(encap, datagram)?;
    Some((tunnel, tunnel_super_frame(&datagram[tunnel..], max, mss)?))
}

/// The length of the tunnel header at the start of `datagram` (Geneve's options included).
fn tunnel_header_len(encap: Encapsulation, datagram: &[u8]) -> Option<usize> {
    match encap {
        Encapsulation::Geneve => Some(geneve::Packet::new_checked(datagram).ok()?.header_len()),
        other => (datagram.len() >= other.header_len()).then_some(other.header_len()),
    }
}

// ---- the transport checksum of a received inner frame ----

const PROTO_UDP: u8 = 17;

/// Where the transport header of a TCP or UDP frame is, and what its checksum covers.
#[derive(Clone, Copy, Debug)]
struct Transport {
    proto: u8,
    /// Offset of the TCP/UDP header.
    l4: usize,
    /// End of the IP payload (Ethernet padding after it is not summed).
    end: usize,
    /// Offsets of the source and destination addresses (4 or 16 bytes each).
    src: usize,
    addr_len: usize,
}

impl Transport {
    /// The offset of the checksum field in the transport header.
    fn csum_at(&self) -> usize {
        self.l4 + if self.proto == PROTO_TCP { 16 } else { 6 }
    }
}

/// The header length of the IPv4 header at the start of `ip` (at least 20 bytes long), if it
/// is one and not a fragment (neither "more fragments" nor an offset).
fn ipv4_unfragmented_header_len(ip: &[u8]) -> Option<usize> {
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    (ip[0] >> 4 == 4 && ihl >= 20 && be16(ip, 6) & 0x3fff == 0).then_some(ihl)
}

/// TCP or UDP over IPv4 (not a fragment) or IPv6 (no extension headers), in an untagged
/// Ethernet frame whose lengths hold together; anything else is `None`.
fn transport(frame: &[u8]) -> Option<Transport> {
    let (l4, end, proto, src, addr_len) = match be16(frame.get(..ETH_LEN)?, 12) {
        ETHERTYPE_IPV4 => {
            let ip = frame.get(ETH_LEN..ETH_LEN + 20)?;
            let ihl = ipv4_unfragmented_header_len(ip)?;
            let total = usize::from(be16(ip, 2));
            (ETH_LEN + ihl, ETH_LEN + total, ip[9], ETH_LEN + 12, 4)
        }
        ETHERTYPE_IPV6 => {
            let ip = frame.get(ETH_LEN..ETH_LEN + 40)?;
            let plen = usize::from(be16(ip, 4));
            (ETH_LEN + 40, ETH_LEN + 40 + plen, ip[6], ETH_LEN + 8, 16)
        }
        _ => return None,
    };
    let min = match proto {
        PROTO_TCP => 20,
        PROTO_UDP => 8,
        _ => return None,
    };
    if end > frame.len() || l4 + min > end {
        return None;
    }
    Some(Transport {
        proto,
        l4,
        end,
        src,
        addr_len,
    })
}

/// What [`check_inner`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InnerCsum {
    /// Not TCP or UDP we can check (ARP, ICMP, a fragment, IPv6 extension headers, a VLAN
    /// tag, a length that does not hold), or UDP sent without a checksum: left to the stack.
    Unchecked,
    /// The checksum is right.
    Valid,
    /// The checksum field held the pseudo-header sum, as a sender on the same host leaves it
    /// for checksum offload: completed in place.
    Completed,
    /// Simply wrong.
    Bad,
}

/// Checks the TCP or UDP checksum of a decapsulated frame, and completes it in place when it
/// is *partial*: a sender that leaves its checksum to offload (a kernel vxlan device on a veth
/// underlay: nothing on the way fills it in) puts the pseudo-header sum in the field. A partial
/// checksum never survives a real wire, so a failed checksum whose field equals the
/// pseudo-header sum is one; any other failure is a wrong checksum. One pass over the frame.
pub fn check_inner(frame: &mut [u8]) -> InnerCsum {
    let Some(t) = transport(frame) else {
        return InnerCsum::Unchecked;
    };
    let at = t.csum_at();
    let field = u16::from_ne_bytes([frame[at], frame[at + 1]]);
    if t.proto == PROTO_UDP && field == 0 {
        return InnerCsum::Unchecked;
    }
    let addrs = &frame[t.src..t.src + 2 * t.addr_len];
    let pseudo = pseudo(
        &addrs[..t.addr_len],
        &addrs[t.addr_len..],
        t.proto,
        t.end - t.l4,
    );
    let data = sum(&frame[t.l4..t.end], 0);
    if fold(data + pseudo) == 0xffff {
        return InnerCsum::Valid;
    }
    let partial = fold(pseudo);
    // One's complement has two zeros; a sender may store either.
    let same = |a: u16, b: u16| a == b || (a | b == 0xffff && a & b == 0);
    if !same(field, partial) {
        return InnerCsum::Bad;
    }
    // `data` already holds the pseudo-header sum (in the field): its complement is the sum.
    let mut c = !fold(data);
    if c == 0 && t.proto == PROTO_UDP {
        c = 0xffff;
    }
    frame[at..at + 2].copy_from_slice(&c.to_ne_bytes());
    InnerCsum::Completed
}

/// A TCP/IPv4 segment that may join a super-frame: the fields that must match, and where
/// its parts are.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    l4: usize,
    payload: usize,
    seq: u32,
    flags: u8,
}

/// A frame that can be coalesced: Ethernet + IPv4 (no options, not a fragment) + TCP, only
/// ACK (and PSH) set, with a payload.
fn candidate(frame: &[u8]) -> Option<Candidate> {
    if frame.len() < ETH_LEN + 40 || be16(frame, 12) != ETHERTYPE_IPV4 {
        return None;
    }
    let ip = &frame[ETH_LEN..];
    // No options; not a fragment (DF may be set).
    if ipv4_unfragmented_header_len(ip)? != 20 || ip[9] != PROTO_TCP {
        return None;
    }
    if usize::from(be16(ip, 2)) != frame.len() - ETH_LEN {
        return None; // Ethernet padding or a lie: leave it alone
    }
    let l4 = ETH_LEN + 20;
    let thl = usize::from(frame[l4 + 12] >> 4) * 4;
    if thl < 20 || l4 + thl >= frame.len() {
        return None;
    }
    let flags = frame[l4 + 13];
    if flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 {
        return None;
    }
    Some(Candidate {
        l4,
        payload: l4 + thl,
        seq: be32(frame, l4 + 4),
        flags,
    })
}

/// Whether [`Coalescer::offer`] would take the frame (a TCP/IPv4 segment with data).
pub fn coalescable(frame: &[u8]) -> bool {
    candidate(frame).is_some()
}

/// Largest super-frame (the IPv4 total length is 16 bits).
const MAX_SUPER: usize = ETH_LEN + 65_535;
/// The kernel refuses more segments than this in one GSO packet.
pub const MAX_SEGMENTS: usize = 64;
/// Longest headers a candidate has: Ethernet, IPv4 without options, TCP with 40 bytes of
/// options.
const MAX_HEAD: usize = ETH_LEN + 20 + 60;

/// Gathers consecutive TCP/IPv4 segments of one flow into one super-frame, by reference: the
/// payloads stay in the caller's receive buffer (ranges of it), and [`Coalescer::take`] gives
/// the virtio header and headers to write in front of them. The caller writes the pending
/// frame before it reuses that buffer.
#[derive(Debug)]
pub struct Coalescer {
    /// The virtio header, then the first segment's headers.
    head: [u8; VNET_HDR_LEN + MAX_HEAD],
    /// Payload ranges in the caller's buffer; the first is the first segment's.
    parts: Vec<core::ops::Range<usize>>,
    /// Payload bytes gathered.
    len: usize,
    /// Which TAP the frame goes to (the caller's index).
    pub target: usize,
    mss: usize,
    next_seq: u32,
    hlen: usize,
    /// A short (or PSH) segment ended the group: nothing more may join.
    closed: bool,
}

/// What to do with a frame offered to the [`Coalescer`].
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Taken: it is now part of the pending super-frame.
    Taken,
    /// Not taken: flush the pending super-frame (if any), then write the frame alone.
    FlushAndWrite,
    /// Not taken, but it starts a new group: flush, then offer it again.
    FlushAndRetry,
}

impl Default for Coalescer {
    fn default() -> Self {
        Coalescer {
            head: [0; VNET_HDR_LEN + MAX_HEAD],
            parts: Vec::with_capacity(MAX_SEGMENTS),
            len: 0,
            target: 0,
            mss: 0,
            next_seq: 0,
            hlen: 0,
            closed: false,
        }
    }
}

impl Coalescer {
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Offers `buf[frame]`, bound for TAP `target`, whose TCP checksum is known to be right.
    pub fn offer(&mut self, target: usize, buf: &[u8], frame: core::ops::Range<usize>) -> Offer {
        let base = frame.start;
        let frame = &buf[frame];
        let Some(c) = candidate(frame) else {
            return Offer::FlushAndWrite;
        };
        let data = frame.len() - c.payload;
        let payload = base + c.payload..base + frame.len();
        if self.parts.is_empty() {
            self.head[VNET_HDR_LEN..VNET_HDR_LEN + c.payload].copy_from_slice(&frame[..c.payload]);
            self.parts.push(payload);
            self.len = data;
            self.target = target;
            self.mss = data;
            self.next_seq = c.seq.wrapping_add(data as u32);
            self.hlen = c.payload;
            self.closed = c.flags & TCP_PSH != 0;
            return Offer::Taken;
        }
        let head = &self.head[VNET_HDR_LEN..VNET_HDR_LEN + self.hlen];
        let same_flow = target == self.target
            && c.payload == self.hlen
            // Ethernet header, IP version/TOS, TTL/protocol, addresses.
            && frame[..ETH_LEN + 2] == head[..ETH_LEN + 2]
            && frame[ETH_LEN + 8..ETH_LEN + 10] == head[ETH_LEN + 8..ETH_LEN + 10]
            && frame[ETH_LEN + 12..ETH_LEN + 20] == head[ETH_LEN + 12..ETH_LEN + 20]
            // Ports, ack number, window, and the options (timestamps must be equal).
            && frame[c.l4..c.l4 + 4] == head[c.l4..c.l4 + 4]
            && frame[c.l4 + 8..c.l4 + 12] == head[c.l4 + 8..c.l4 + 12]
            && frame[c.l4 + 14..c.l4 + 16] == head[c.l4 + 14..c.l4 + 16]
            && frame[c.l4 + 20..c.payload] == head[c.l4 + 20..c.payload];
        if !same_flow {
            return Offer::FlushAndRetry;
        }
        if self.closed
            || c.seq != self.next_seq
            || data > self.mss
            || self.parts.len() >= MAX_SEGMENTS
            || ETH_LEN + self.hlen + self.len + data > MAX_SUPER
        {
            return Offer::FlushAndRetry;
        }
        self.parts.push(payload);
        self.len += data;
        self.next_seq = self.next_seq.wrapping_add(data as u32);
        if data < self.mss || c.flags & TCP_PSH != 0 {
            // Carry PSH over to the super-frame; a short segment ends the group.
            let l4 = VNET_HDR_LEN + ETH_LEN + 20;
            self.head[l4 + 13] |= c.flags & TCP_PSH;
            self.closed = true;
        }
        Offer::Taken
    }

    /// The pending super-frame: the virtio header and headers to write, and the ranges of the
    /// caller's buffer to write after them. A single segment goes out as it came, marked as
    /// checked. Call [`Coalescer::clear`] once written.
    pub fn take(&mut self) -> Option<(&[u8], &[core::ops::Range<usize>])> {
        if self.parts.is_empty() {
            return None;
        }
        let segments = self.parts.len();
        let total = self.hlen + self.len;
        let hdr = if segments == 1 {
            VnetHdr {
                flags: F_DATA_VALID,
                ..VnetHdr::default()
            }
        } else {
            let ip = VNET_HDR_LEN + ETH_LEN;
            let l4 = ip + 20;
            let ip_len = (total - ETH_LEN) as u16;
            self.head[ip + 2..ip + 4].copy_from_slice(&ip_len.to_be_bytes());
            ipv4_header_checksum(&mut self.head[ip..l4]);
            // CHECKSUM_PARTIAL: the field holds the (uncomplemented) pseudo-header sum.
            let acc = pseudo(
                &self.head[ip + 12..ip + 16],
                &self.head[ip + 16..ip + 20],
                PROTO_TCP,
                total - ETH_LEN - 20,
            );
            let partial = fold(acc);
            self.head[l4 + 16..l4 + 18].copy_from_slice(&partial.to_ne_bytes());
            VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: GSO_TCPV4,
                hdr_len: self.hlen as u16,
                gso_size: self.mss as u16,
                csum_start: (ETH_LEN + 20) as u16,
                csum_offset: 16,
            }
        };
        self.head[..VNET_HDR_LEN].copy_from_slice(&hdr.emit());
        Some((&self.head[..VNET_HDR_LEN + self.hlen], &self.parts))
    }

    /// Empties the coalescer once the frame [`Coalescer::take`] gave is written.
    pub fn clear(&mut self) {
        self.parts.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test frames' Ethernet header at the start of `f`: 02:00:00:00:00:01 to
    /// 02:00:00:00:00:02, `ethertype`.
    fn write_eth(f: &mut [u8], ethertype: u16) {
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
    }

    /// The test frames' 32-byte TCP header at `l4`: port 40000 to 5201, `seq`, ack 99, `flags`,
    /// window 512, a 12-byte timestamp option; the checksum is left to the caller.
    fn write_tcp(f: &mut [u8], l4: usize, seq: u32, flags: u8) {
        f[l4..l4 + 2].copy_from_slice(&40000u16.to_be_bytes());
        f[l4 + 2..l4 + 4].copy_from_slice(&5201u16.to_be_bytes());
        f[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        f[l4 + 8..l4 + 12].copy_from_slice(&99u32.to_be_bytes());
        f[l4 + 12] = 8 << 4;
        f[l4 + 13] = flags;
        f[l4 + 14..l4 + 16].copy_from_slice(&512u16.to_be_bytes());
        f[l4 + 20..l4 + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }

    /// Eth + IPv4 + TCP (with a 12-byte timestamp option) carrying `payload`, full checksums.
    fn tcp4(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH_LEN + 20 + 32];
        write_eth(&mut f, ETHERTYPE_IPV4);
        let ip = ETH_LEN;
        f[ip] = 0x45;
        let total = (20 + 32 + payload.len()) as u16;
        f[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
        f[ip + 4..ip + 6].copy_from_slice(&7u16.to_be_bytes());
        f[ip + 6] = 0x40;
        f[ip + 8] = 64;
        f[ip + 9] = PROTO_TCP;
        f[ip + 12..ip + 16].copy_from_slice(&[192, 168, 1, 1]);
        f[ip + 16..ip + 20].copy_from_slice(&[192, 168, 1, 2]);
        let l4 = ip + 20;
        write_tcp(&mut f, l4, seq, flags);
        f.extend_from_slice(payload);
        ipv4_header_checksum(&mut f[ip..l4]);
        let acc = pseudo(
            &[192, 168, 1, 1],
            &[192, 168, 1, 2],
            PROTO_TCP,
            32 + payload.len(),
        );
        let c = !fold(sum(&f[l4..], acc));
        f[l4 + 16..l4 + 18].copy_from_slice(&c.to_ne_bytes());
        f
    }

    /// Whether the TCP checksum of an IPv4 frame is right.
    fn tcp4_checksum_ok(frame: &[u8], l4: usize) -> bool {
        assert_eq!(l4, ETH_LEN + 20);
        check_inner(&mut frame.to_vec()) == InnerCsum::Valid
    }

    /// Offers `frame` alone in a buffer of its own (the coalescer keeps ranges of it).
    fn offer(co: &mut Coalescer, target: usize, frame: &[u8]) -> Offer {
        co.offer(target, frame, 0..frame.len())
    }

    /// A reference checksum: big-endian 16-bit words, the textbook way.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for w in data.chunks(2) {
            s += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn checksum_matches_the_textbook_one() {
        for len in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 1500] {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let ours = (!fold(sum(&data, 0))).to_ne_bytes();
            assert_eq!(ours, reference(&data).to_be_bytes(), "len {len}");
        }
    }

    #[test]
    fn a_frame_has_a_valid_checksum_and_partial_ones_are_finished() {
        let f = tcp4(1000, TCP_ACK, b"hello world");
        assert!(tcp4_checksum_ok(&f, ETH_LEN + 20));
        // As the kernel hands it with NEEDS_CSUM: the pseudo-header sum in the field.
        let mut partial = f.clone();
        let l4 = ETH_LEN + 20;
        let acc = pseudo(
            &[192, 168, 1, 1],
            &[192, 168, 1, 2],
            PROTO_TCP,
            f.len() - l4,
        );
        partial[l4 + 16..l4 + 18].copy_from_slice(&fold(acc).to_ne_bytes());
        assert!(finish_checksum(&mut partial, l4, 16));
        assert_eq!(partial, f);
    }

    #[test]
    fn segmentation_then_coalescing_gives_back_the_stream() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut sup = tcp4(5000, TCP_ACK | TCP_PSH, &payload);
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 66,
            gso_size: 1400,
            csum_start: 34,
            csum_offset: 16,
        };
        // IP total length of a super-frame may be anything; segmentation rewrites it.
        sup[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&0u16.to_be_bytes());
        let mut out = vec![0xa5u8; 64 * 1024];
        let segs = segment(&sup, &hdr, &mut out, 8).unwrap();
        assert_eq!(segs.count, 8);
        assert_eq!(segs.stride, 8 + 66 + 1400);
        // The payloads stay in the super-frame; put them in their slots to look at whole
        // segments.
        for i in 0..segs.count {
            segs.fill(&mut out, &sup, i, 8);
        }
        let mut co = Coalescer::default();
        for i in 0..segs.count {
            let frame = &out[segs.frame(i, 8)];
            let data = &payload[i * 1400..((i + 1) * 1400).min(payload.len())];
            let expect = tcp4(
                5000 + (i * 1400) as u32,
                if i + 1 == segs.count {
                    TCP_ACK | TCP_PSH
                } else {
                    TCP_ACK
                },
                data,
            );
            // Equal but for the IPv4 id (and so the header checksum).
            assert_eq!(frame[..18], expect[..18], "segment {i}");
            assert_eq!(frame[22..24], expect[22..24], "segment {i}");
            assert_eq!(frame[26..], expect[26..], "segment {i}");
            assert!(tcp4_checksum_ok(frame, 34));
            assert_eq!(
                co.offer(0, &out, segs.frame(i, 8)),
                Offer::Taken,
                "segment {i}"
            );
        }
        let (head, parts) = co.take().unwrap();
        let mut sup2 = head.to_vec();
        for part in parts {
            sup2.extend_from_slice(&out[part.clone()]);
        }
        co.clear();
        let h = VnetHdr::parse(&sup2).unwrap();
        assert_eq!(
            (h.gso_type, h.gso_size, h.csum_start, h.flags),
            (GSO_TCPV4, 1400, 34, 1)
        );
        assert_eq!(sup2[VNET_HDR_LEN + 66..], payload[..]);
        // Completing its partial checksum gives the super-frame's real checksum.
        let mut frame = sup2[VNET_HDR_LEN..].to_vec();
        assert!(finish_checksum(&mut frame, 34, 16));
        assert!(tcp4_checksum_ok(&frame, 34));
        assert!(co.is_empty());
    }

    #[test]
    fn coalescing_refuses_what_it_must() {
        let mut co = Coalescer::default();
        // (TAP, sequence number, TCP flags, payload, answer), offered in this order.
        let cases: [(usize, u32, u8, &[u8], Offer); 6] = [
            (0, 1, TCP_ACK, &[1; 100], Offer::Taken),
            // Out of order, other TAP, SYN.
            (0, 500, TCP_ACK, &[1; 100], Offer::FlushAndRetry),
            (1, 101, TCP_ACK, &[1; 100], Offer::FlushAndRetry),
            (0, 101, 0x02, &[1; 100], Offer::FlushAndWrite),
            // In order: taken; a short one closes the group.
            (0, 101, TCP_ACK, &[2; 50], Offer::Taken),
            (0, 151, TCP_ACK, &[3; 50], Offer::FlushAndRetry),
        ];
        for (tap, seq, flags, payload, answer) in cases {
            let frame = tcp4(seq, flags, payload);
            assert_eq!(
                offer(&mut co, tap, &frame),
                answer,
                "seq {seq} on TAP {tap}"
            );
        }
        let (head, parts) = co.take().unwrap();
        let data: usize = parts.iter().map(|p| p.len()).sum();
        assert_eq!(head.len() + data, VNET_HDR_LEN + 66 + 150);
    }

    /// Eth + IPv6 + TCP (with a 12-byte timestamp option) carrying `payload`. The TCP checksum
    /// is computed the textbook way ([`reference`] over the RFC 8200 pseudo-header), not with
    /// this module's functions.
    fn tcp6(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH_LEN + 40 + 32];
        write_eth(&mut f, ETHERTYPE_IPV6);
        let ip = ETH_LEN;
        // Version 6, traffic class 0x02 (ECT(0)), flow label 0x12345.
        f[ip..ip + 4].copy_from_slice(&[0x60, 0x21, 0x23, 0x45]);
        let plen = (32 + payload.len()) as u16;
        f[ip + 4..ip + 6].copy_from_slice(&plen.to_be_bytes());
        f[ip + 6] = PROTO_TCP;
        f[ip + 7] = 64;
        f[ip + 8..ip + 24].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f[ip + 24..ip + 40].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let l4 = ip + 40;
        write_tcp(&mut f, l4, seq, flags);
        f.extend_from_slice(payload);
        let c = reference(&tcp6_pseudo_and_segment(&f));
        f[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        f
    }

    /// The IPv6 pseudo-header (addresses, upper-layer length, next header) followed by the TCP
    /// segment of an Eth + IPv6 + TCP frame: what the TCP checksum covers.
    fn tcp6_pseudo_and_segment(frame: &[u8]) -> Vec<u8> {
        let (ip, l4) = (ETH_LEN, ETH_LEN + 40);
        let mut v = frame[ip + 8..ip + 40].to_vec();
        v.extend_from_slice(&((frame.len() - l4) as u32).to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, PROTO_TCP]);
        v.extend_from_slice(&frame[l4..]);
        v
    }

    #[test]
    fn tso6_super_frame_is_cut_into_complete_segments() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
        // CWR on the super-frame (hence GSO_ECN), FIN and PSH at its end; the sequence number
        // wraps around 2^32 inside it.
        let seq0 = u32::MAX - 2000;
        let flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
        let mut sup = tcp6(seq0, flags, &payload);
        // As the kernel hands it: the payload length of a super-frame is not to be trusted, and
        // the checksum field holds a partial sum.
        sup[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&0u16.to_be_bytes());
        sup[ETH_LEN + 40 + 16..ETH_LEN + 40 + 18].copy_from_slice(&[0x12, 0x34]);
        let (hlen, mss, prefix) = (ETH_LEN + 40 + 32, 1428, 16);
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV6 | GSO_ECN,
            hdr_len: hlen as u16,
            gso_size: mss as u16,
            csum_start: (ETH_LEN + 40) as u16,
            csum_offset: 16,
        };
        let mut out = vec![0xa5u8; 64 * 1024];
        let segs = segment(&sup, &hdr, &mut out, prefix).unwrap();
        assert_eq!(segs.count, 4, "5000 bytes at 1428 a segment");
        assert_eq!(segs.stride, prefix + hlen + mss);
        assert_eq!(segs.last_len, prefix + hlen + (5000 - 3 * mss));
        let mut stream = Vec::new();
        for i in 0..segs.count {
            // Only the headers are in the slot: the payload stays in the super-frame.
            let data = &sup[segs.data(i)];
            assert_eq!(data, &payload[i * mss..((i + 1) * mss).min(payload.len())]);
            segs.fill(&mut out, &sup, i, prefix);
            let frame = &out[segs.frame(i, prefix)];
            let data = &payload[i * mss..((i + 1) * mss).min(payload.len())];
            assert_eq!(frame.len(), hlen + data.len(), "segment {i}: length");
            // FIN and PSH only on the last segment, CWR only on the first.
            let want_flags = match i {
                0 => TCP_ACK | TCP_CWR,
                3 => TCP_ACK | TCP_PSH | TCP_FIN,
                _ => TCP_ACK,
            };
            let want_seq = seq0.wrapping_add((i * mss) as u32);
            // The whole frame as built independently: Ethernet, IPv6 (payload length of this
            // segment; traffic class, flow label, hop limit, addresses kept), TCP (sequence
            // number, flags, the same options) and a full checksum.
            let expect = tcp6(want_seq, want_flags, data);
            assert_eq!(frame, &expect[..], "segment {i}");
            assert_eq!(
                usize::from(be16(frame, ETH_LEN + 4)),
                32 + data.len(),
                "segment {i}: IPv6 payload length"
            );
            assert_eq!(be32(frame, ETH_LEN + 40 + 4), want_seq, "segment {i}: seq");
            assert_eq!(frame[ETH_LEN + 40 + 13], want_flags, "segment {i}: flags");
            assert_eq!(
                reference(&tcp6_pseudo_and_segment(frame)),
                0,
                "segment {i}: TCP checksum"
            );
            // The tunnel header's room in front is left alone.
            let slot = i * segs.stride;
            assert!(
                out[slot..slot + prefix].iter().all(|b| *b == 0xa5),
                "segment {i}: prefix written"
            );
            stream.extend_from_slice(&frame[hlen..]);
        }
        assert_eq!(stream, payload, "the segments carry the stream in order");

        // A GSO type that does not match the frame, and too small an output, are refused.
        let v4 = VnetHdr {
            gso_type: GSO_TCPV4,
            ..hdr
        };
        assert_eq!(
            segment(&sup, &v4, &mut out, prefix),
            Err(SegmentError::Unsupported)
        );
        let mut small = vec![0u8; 3 * segs.stride];
        assert_eq!(
            segment(&sup, &hdr, &mut small, prefix),
            Err(SegmentError::TooLarge)
        );
    }

    /// Eth + IPv4 or IPv6 + UDP carrying `payload`, with a full checksum (the textbook way).
    fn udp(ipv6: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH_LEN];
        let udp_len = 8 + payload.len();
        let (src, dst): (Vec<u8>, Vec<u8>) = if ipv6 {
            write_eth(&mut f, ETHERTYPE_IPV6);
            let mut ip = vec![0x60, 0, 0, 0];
            ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
            ip.extend_from_slice(&[PROTO_UDP, 64]);
            let (s, d) = ([0xfd; 16], [0xfe; 16]);
            ip.extend_from_slice(&s);
            ip.extend_from_slice(&d);
            f.extend_from_slice(&ip);
            (s.to_vec(), d.to_vec())
        } else {
            write_eth(&mut f, ETHERTYPE_IPV4);
            let mut ip = vec![0x45, 0];
            ip.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 1, 0x40, 0, 64, PROTO_UDP, 0, 0]);
            ip.extend_from_slice(&[10, 1, 2, 3, 10, 4, 5, 6]);
            ipv4_header_checksum(&mut ip);
            f.extend_from_slice(&ip);
            (vec![10, 1, 2, 3], vec![10, 4, 5, 6])
        };
        let l4 = f.len();
        f.extend_from_slice(&[0x13, 0x88, 0x30, 0x39]);
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        let mut covered = src;
        covered.extend_from_slice(&dst);
        covered.extend_from_slice(&[0, PROTO_UDP]);
        covered.extend_from_slice(&(udp_len as u16).to_be_bytes());
        covered.extend_from_slice(&f[l4..]);
        let mut c = reference(&covered);
        if c == 0 {
            c = 0xffff;
        }
        f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
        f
    }

    /// The frame as a sender using checksum offload leaves it: the checksum field holds the
    /// pseudo-header sum (the kernel's `~csum_tcpudp_magic(...)`), computed the textbook way.
    fn partial(frame: &[u8]) -> Vec<u8> {
        let mut f = frame.to_vec();
        let v6 = be16(&f, 12) == ETHERTYPE_IPV6;
        let (l4, proto) = if v6 {
            (ETH_LEN + 40, f[ETH_LEN + 6])
        } else {
            (ETH_LEN + 20, f[ETH_LEN + 9])
        };
        let addrs = if v6 {
            f[ETH_LEN + 8..ETH_LEN + 40].to_vec()
        } else {
            f[ETH_LEN + 12..ETH_LEN + 20].to_vec()
        };
        let mut ph = addrs;
        ph.extend_from_slice(&((f.len() - l4) as u32).to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, proto]);
        let at = l4 + if proto == PROTO_TCP { 16 } else { 6 };
        f[at..at + 2].copy_from_slice(&(!reference(&ph)).to_be_bytes());
        f
    }

    #[test]
    fn partial_checksums_are_completed_and_wrong_ones_are_not() {
        let payload: Vec<u8> = (0..333u32).map(|i| (i * 7) as u8).collect();
        let frames = [
            ("TCP/IPv4", tcp4(77, TCP_ACK | TCP_PSH, &payload)),
            ("TCP/IPv6", tcp6(77, TCP_ACK, &payload)),
            ("UDP/IPv4", udp(false, &payload)),
            ("UDP/IPv6", udp(true, &payload)),
        ];
        for (what, good) in frames {
            let mut f = good.clone();
            assert_eq!(check_inner(&mut f), InnerCsum::Valid, "{what}: correct");
            assert_eq!(f, good, "{what}: a correct frame is left alone");

            let mut f = partial(&good);
            assert_ne!(f, good);
            assert_eq!(check_inner(&mut f), InnerCsum::Completed, "{what}: partial");
            assert_eq!(f, good, "{what}: completed to the sender's real checksum");
            assert_eq!(check_inner(&mut f), InnerCsum::Valid, "{what}: then valid");

            // Simply wrong: a flipped payload bit, a wrong field, a partial sum of another
            // length, and a partial checksum over corrupted data.
            let mut flipped = good.clone();
            *flipped.last_mut().unwrap() ^= 0x10;
            let l4 = if what.ends_with("IPv6") {
                ETH_LEN + 40
            } else {
                ETH_LEN + 20
            };
            let at = l4 + if what.starts_with("TCP") { 16 } else { 6 };
            let mut field = good.clone();
            field[at] ^= 0x01;
            let mut other_len = partial(&good);
            other_len[at + 1] = other_len[at + 1].wrapping_add(1);
            let mut corrupted = partial(&good);
            *corrupted.last_mut().unwrap() ^= 0x10;
            for (how, bad) in [
                ("flipped payload", flipped),
                ("wrong field", field),
                ("not the pseudo-header sum", other_len),
                ("partial over corrupted data", corrupted),
            ] {
                let mut f = bad.clone();
                let got = check_inner(&mut f);
                // A corrupted partial frame cannot be told from a sound one: completing it is
                // what the sender's NIC would have done, so only the first three are wrong.
                if how == "partial over corrupted data" {
                    assert_eq!(got, InnerCsum::Completed, "{what}: {how}");
                } else {
                    assert_eq!(got, InnerCsum::Bad, "{what}: {how}");
                    assert_eq!(f, bad, "{what}: {how}: left alone");
                }
            }
        }
        // Not checked: UDP without a checksum, ICMP, a fragment, a truncated frame.
        let mut none = udp(false, &payload);
        none[ETH_LEN + 26..ETH_LEN + 28].copy_from_slice(&[0, 0]);
        let mut icmp = udp(false, &payload);
        icmp[ETH_LEN + 9] = 1;
        let mut fragment = tcp4(1, TCP_ACK, &payload);
        fragment[ETH_LEN + 6] = 0x20;
        let short = tcp4(1, TCP_ACK, &payload)[..60].to_vec();
        for mut f in [none, icmp, fragment, short] {
            assert_eq!(check_inner(&mut f), InnerCsum::Unchecked);
        }
    }

    #[test]
    fn only_whole_ipv4_datagrams_without_options_are_coalesced() {
        let plain = tcp4(1, TCP_ACK, &[7; 100]);
        assert!(coalescable(&plain));
        // More fragments, an offset, IP options (IHL 6), IPv6's version nibble; DF is fine.
        for (at, byte, ok) in [
            (6, 0x20, false),
            (7, 0x01, false),
            (0, 0x46, false),
            (0, 0x65, false),
            (6, 0x40, true),
        ] {
            let mut f = plain.clone();
            f[ETH_LEN + at] = byte;
            assert_eq!(coalescable(&f), ok, "byte {at} = {byte:#x}");
        }
    }

    #[test]
    fn a_tunnel_super_frame_is_recognised_and_cut() {
        let payload: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
        for v6 in [false, true] {
            let sup = if v6 {
                tcp6(9, TCP_ACK | TCP_PSH, &payload)
            } else {
                tcp4(9, TCP_ACK | TCP_PSH, &payload)
            };
            let hdr = tunnel_super_frame(&sup, 1464, None).expect("a super-frame");
            let hlen = usize::from(hdr.hdr_len);
            assert_eq!(usize::from(hdr.gso_size), 1464 - hlen, "the most that fits");
            let mut out = vec![0u8; 64 * 1024];
            let segs = segment(&sup, &hdr, &mut out, 8).unwrap();
            let mut stream = Vec::new();
            for i in 0..segs.count {
                segs.fill(&mut out, &sup, i, 8);
                let frame = &out[segs.frame(i, 8)];
                assert!(frame.len() <= 1464);
                assert_eq!(check_inner(&mut frame.to_vec()), InnerCsum::Valid);
                stream.extend_from_slice(&frame[hlen..]);
            }
            assert_eq!(stream, payload);
            // With the sender's MSS, and not for what fits or does not hold together.
            let hdr = tunnel_super_frame(&sup, 1464, Some(1000)).unwrap();
            assert_eq!(hdr.gso_size, 1000);
            assert_eq!(tunnel_super_frame(&sup[..1400], 1464, None), None);
            assert_eq!(tunnel_super_frame(&sup[..sup.len() - 1], 1464, None), None);
            assert_eq!(tunnel_super_frame(&udp(v6, &payload), 1464, None), None);
        }
        // Not an IPv4 fragment (first or later piece), nor a header shorter than 20 bytes.
        let sup = tcp4(9, TCP_ACK, &payload);
        assert!(tunnel_super_frame(&sup, 1464, None).is_some());
        for (at, byte) in [(6, 0x20), (7, 0x01), (0, 0x44)] {
            let mut bad = sup.clone();
            bad[ETH_LEN + at] = byte;
            assert_eq!(
                tunnel_super_frame(&bad, 1464, None),
                None,
                "byte {at} = {byte:#x}"
            );
        }
    }
}
