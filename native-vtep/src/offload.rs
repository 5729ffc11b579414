//! TAP offloads without `unsafe`: the virtio-net header, checksums, segmentation of TCP
//! super-frames (TSO) and coalescing of received TCP segments (GRO).
//!
//! With `IFF_VNET_HDR` every frame read from or written to the TAP is preceded by a 10-byte
//! [`VnetHdr`]. With `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)` the kernel hands us
//! frames whose transport checksum is only *partial* (`NEEDS_CSUM`: the pseudo-header sum sits
//! at `csum_start + csum_offset`; the sum from `csum_start` to the end must be added) and TCP
//! super-frames of up to 64 KiB (`gso_type` TCPV4/TCPV6, `gso_size` = MSS). A VTEP must send
//! MTU-sized frames with correct checksums, so [`segment`] cuts a super-frame into segments,
//! each with its own Ethernet/IP/TCP headers and full checksums, laid out at a fixed stride with
//! room for the tunnel header in front of each: exactly the layout a UDP GSO send
//! (`UDP_SEGMENT`, one `sendmsg` that the kernel splits every `stride` bytes) needs, because
//! every datagram carries its own VXLAN and inner headers.
//!
//! The other way, [`Coalescer`] appends consecutive in-order TCP segments of one flow (each
//! checksum verified first: corrupted data is never laundered into a "checksum partial" frame)
//! into one super-frame written with `gso_type` TCPV4, so the receiving stack sees one packet
//! where there were up to 45.

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

/// Segments laid out by [`segment`]: segment `i` is `out[i * stride..][..len(i)]`, its first
/// `prefix` bytes left free for the tunnel header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    pub count: usize,
    pub stride: usize,
    /// Length of the last slot (prefix included); every other slot is `stride` long.
    pub last_len: usize,
}

impl Segments {
    /// Range of the inner frame of segment `i` (after the prefix).
    pub fn frame(&self, i: usize, prefix: usize) -> core::ops::Range<usize> {
        let start = i * self.stride;
        let len = if i + 1 == self.count {
            self.last_len
        } else {
            self.stride
        };
        start + prefix..start + len
    }
}

/// Cuts a TCP super-frame (`hdr.gso_type` TCPV4 or TCPV6) into `hdr.gso_size`-byte segments,
/// each a complete frame with fixed-up IP length, IPv4 id and checksum, TCP sequence number,
/// flags (FIN/PSH only on the last, CWR only on the first) and a full TCP checksum. Segment `i`
/// goes to `out[i * stride + prefix..]`.
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
    let thl = hlen - layout.l4;
    for i in 0..count {
        let chunk = &data[i * mss..(i * mss + mss).min(data.len())];
        let base = i * stride + prefix;
        let seg = &mut out[base..base + hlen + chunk.len()];
        seg[..hlen].copy_from_slice(&frame[..hlen]);
        seg[hlen..].copy_from_slice(chunk);
        let ip_payload = hlen - ETH_LEN - if layout.ipv6 { 40 } else { 0 } + chunk.len();
        if layout.ipv6 {
            seg[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&(ip_payload as u16).to_be_bytes());
        } else {
            seg[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&(ip_payload as u16).to_be_bytes());
            let id = ip_id0.wrapping_add(i as u16);
            seg[ETH_LEN + 4..ETH_LEN + 6].copy_from_slice(&id.to_be_bytes());
            ipv4_header_checksum(&mut seg[ETH_LEN..layout.l4]);
        }
        let l4 = layout.l4;
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
        let acc = pseudo(
            &seg[src.clone()],
            &seg[dst.clone()],
            PROTO_TCP,
            thl + chunk.len(),
        );
        let c = !fold(sum(&seg[l4..], acc));
        seg[l4 + 16..l4 + 18].copy_from_slice(&c.to_ne_bytes());
    }
    Ok(Segments {
        count,
        stride,
        last_len,
    })
}

/// Whether the TCP checksum of an IPv4 frame (Ethernet + IPv4 without options + TCP) is right.
fn tcp4_checksum_ok(frame: &[u8], l4: usize) -> bool {
    let acc = pseudo(
        &frame[ETH_LEN + 12..ETH_LEN + 16],
        &frame[ETH_LEN + 16..ETH_LEN + 20],
        PROTO_TCP,
        frame.len() - l4,
    );
    fold(sum(&frame[l4..], acc)) == 0xffff
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
    if ip[0] != 0x45 || ip[9] != PROTO_TCP {
        return None;
    }
    // Not a fragment (MF clear, offset zero); DF may be set.
    if be16(ip, 6) & 0x3fff != 0 {
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

/// Largest super-frame (the IPv4 total length is 16 bits).
const MAX_SUPER: usize = ETH_LEN + 65_535;
/// The kernel refuses more segments than this in one GSO packet.
const MAX_SEGMENTS: usize = 64;

/// Coalesces consecutive TCP/IPv4 segments of one flow into one super-frame.
#[derive(Debug)]
pub struct Coalescer {
    /// `VNET_HDR_LEN` bytes of room, then the super-frame.
    buf: Vec<u8>,
    len: usize,
    /// Which TAP the frame goes to (the caller's index).
    pub target: usize,
    segments: usize,
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
            buf: vec![0; VNET_HDR_LEN + MAX_SUPER],
            len: 0,
            target: 0,
            segments: 0,
            mss: 0,
            next_seq: 0,
            hlen: 0,
            closed: false,
        }
    }
}

impl Coalescer {
    pub fn is_empty(&self) -> bool {
        self.segments == 0
    }

    /// Offers the frame `frame` bound for TAP `target`.
    pub fn offer(&mut self, target: usize, frame: &[u8]) -> Offer {
        let Some(c) = candidate(frame) else {
            return Offer::FlushAndWrite;
        };
        if !tcp4_checksum_ok(frame, c.l4) {
            // Let the receiving stack see (and count) the bad checksum.
            return Offer::FlushAndWrite;
        }
        let data = frame.len() - c.payload;
        if self.segments == 0 {
            let start = VNET_HDR_LEN;
            self.buf[start..start + frame.len()].copy_from_slice(frame);
            self.len = frame.len();
            self.target = target;
            self.segments = 1;
            self.mss = data;
            self.next_seq = c.seq.wrapping_add(data as u32);
            self.hlen = c.payload;
            self.closed = c.flags & TCP_PSH != 0;
            return Offer::Taken;
        }
        let head = &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + self.hlen];
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
            || self.segments >= MAX_SEGMENTS
            || self.len + data > MAX_SUPER
        {
            return Offer::FlushAndRetry;
        }
        let start = VNET_HDR_LEN + self.len;
        self.buf[start..start + data].copy_from_slice(&frame[c.payload..]);
        self.len += data;
        self.segments += 1;
        self.next_seq = self.next_seq.wrapping_add(data as u32);
        if data < self.mss || c.flags & TCP_PSH != 0 {
            // Carry PSH over to the super-frame; a short segment ends the group.
            let l4 = VNET_HDR_LEN + ETH_LEN + 20;
            self.buf[l4 + 13] |= c.flags & TCP_PSH;
            self.closed = true;
        }
        Offer::Taken
    }

    /// The pending super-frame, virtio header first, ready to write to the TAP; empties the
    /// coalescer. A single segment goes out as it came (its checksum was verified).
    pub fn take(&mut self) -> Option<&[u8]> {
        if self.segments == 0 {
            return None;
        }
        let segments = std::mem::take(&mut self.segments);
        let total = VNET_HDR_LEN + self.len;
        let hdr = if segments == 1 {
            VnetHdr {
                flags: F_DATA_VALID,
                ..VnetHdr::default()
            }
        } else {
            let ip = VNET_HDR_LEN + ETH_LEN;
            let l4 = ip + 20;
            let ip_len = (self.len - ETH_LEN) as u16;
            self.buf[ip + 2..ip + 4].copy_from_slice(&ip_len.to_be_bytes());
            ipv4_header_checksum(&mut self.buf[ip..l4]);
            // CHECKSUM_PARTIAL: the field holds the (uncomplemented) pseudo-header sum.
            let acc = pseudo(
                &self.buf[ip + 12..ip + 16],
                &self.buf[ip + 16..ip + 20],
                PROTO_TCP,
                self.len - ETH_LEN - 20,
            );
            let partial = fold(acc);
            self.buf[l4 + 16..l4 + 18].copy_from_slice(&partial.to_ne_bytes());
            VnetHdr {
                flags: F_NEEDS_CSUM,
                gso_type: GSO_TCPV4,
                hdr_len: self.hlen as u16,
                gso_size: self.mss as u16,
                csum_start: (ETH_LEN + 20) as u16,
                csum_offset: 16,
            }
        };
        self.buf[..VNET_HDR_LEN].copy_from_slice(&hdr.emit());
        Some(&self.buf[..total])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eth + IPv4 + TCP (with a 12-byte timestamp option) carrying `payload`, full checksums.
    fn tcp4(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH_LEN + 20 + 32];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
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
        f[l4..l4 + 2].copy_from_slice(&40000u16.to_be_bytes());
        f[l4 + 2..l4 + 4].copy_from_slice(&5201u16.to_be_bytes());
        f[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        f[l4 + 8..l4 + 12].copy_from_slice(&99u32.to_be_bytes());
        f[l4 + 12] = 8 << 4;
        f[l4 + 13] = flags;
        f[l4 + 14..l4 + 16].copy_from_slice(&512u16.to_be_bytes());
        f[l4 + 20..l4 + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
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
        let mut co = Coalescer::default();
        let mut got = Vec::new();
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
            assert_eq!(co.offer(0, frame), Offer::Taken, "segment {i}");
        }
        let sup2 = co.take().unwrap().to_vec();
        let h = VnetHdr::parse(&sup2).unwrap();
        assert_eq!(
            (h.gso_type, h.gso_size, h.csum_start, h.flags),
            (GSO_TCPV4, 1400, 34, 1)
        );
        got.extend_from_slice(&sup2[VNET_HDR_LEN + 66..]);
        assert_eq!(got, payload);
        // Completing its partial checksum gives the super-frame's real checksum.
        let mut frame = sup2[VNET_HDR_LEN..].to_vec();
        assert!(finish_checksum(&mut frame, 34, 16));
        assert!(tcp4_checksum_ok(&frame, 34));
        assert!(co.is_empty());
    }

    #[test]
    fn coalescing_refuses_what_it_must() {
        let a = tcp4(1, TCP_ACK, &[1; 100]);
        let mut co = Coalescer::default();
        assert_eq!(co.offer(0, &a), Offer::Taken);
        // Out of order, other TAP, SYN, bad checksum.
        assert_eq!(
            co.offer(0, &tcp4(500, TCP_ACK, &[1; 100])),
            Offer::FlushAndRetry
        );
        assert_eq!(
            co.offer(1, &tcp4(101, TCP_ACK, &[1; 100])),
            Offer::FlushAndRetry
        );
        assert_eq!(
            co.offer(0, &tcp4(101, 0x02, &[1; 100])),
            Offer::FlushAndWrite
        );
        let mut bad = tcp4(101, TCP_ACK, &[1; 100]);
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(co.offer(0, &bad), Offer::FlushAndWrite);
        // In order: taken; a short one closes the group.
        assert_eq!(co.offer(0, &tcp4(101, TCP_ACK, &[2; 50])), Offer::Taken);
        assert_eq!(
            co.offer(0, &tcp4(151, TCP_ACK, &[3; 50])),
            Offer::FlushAndRetry
        );
        let out = co.take().unwrap();
        assert_eq!(out.len(), VNET_HDR_LEN + 66 + 150);
    }

    /// Eth + IPv6 + TCP (with a 12-byte timestamp option) carrying `payload`. The TCP checksum
    /// is computed the textbook way ([`reference`] over the RFC 8200 pseudo-header), not with
    /// this module's functions.
    fn tcp6(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; ETH_LEN + 40 + 32];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
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
        f[l4..l4 + 2].copy_from_slice(&40000u16.to_be_bytes());
        f[l4 + 2..l4 + 4].copy_from_slice(&5201u16.to_be_bytes());
        f[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        f[l4 + 8..l4 + 12].copy_from_slice(&99u32.to_be_bytes());
        f[l4 + 12] = 8 << 4;
        f[l4 + 13] = flags;
        f[l4 + 14..l4 + 16].copy_from_slice(&512u16.to_be_bytes());
        f[l4 + 20..l4 + 32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
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
}
