//! The flow hash that picks a tunnel packet's UDP source port.
//!
//! Routers in the underlay spread traffic over equal-cost paths by hashing the outer 5-tuple.
//! Between two VTEPs the addresses and destination port never change, so the encapsulator
//! puts entropy from the inner flow into the outer source port (RFC 7348 section 5): every
//! packet of one inner flow takes the same path (no reordering), different flows spread out.

/// The IANA port of VXLAN (RFC 7348).
pub const VXLAN_PORT: u16 = 4789;
/// The port Linux used for VXLAN before IANA assigned 4789 (still the kernel's default when no
/// `dstport` is given).
pub const VXLAN_LINUX_LEGACY_PORT: u16 = 8472;
/// The IANA port of Geneve (RFC 8926).
pub const GENEVE_PORT: u16 = 6081;
/// The dynamic/private range RFC 7348 recommends for source ports.
pub const DEFAULT_SOURCE_PORTS: (u16, u16) = (49152, 65535);

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const IP_TCP: u8 = 6;
const IP_UDP: u8 = 17;
const IP_SCTP: u8 = 132;

/// Hash the flow an Ethernet frame belongs to: MAC addresses and EtherType (and up to two
/// VLAN IDs); for IPv4 and IPv6 also the addresses and protocol; for TCP, UDP and SCTP also
/// the ports (not for IPv4 fragments, which may lack them, so all fragments of a datagram stay
/// together).
///
/// Symmetric, like Linux's flow hash: each address pair and port pair is put in a canonical
/// order first, so both directions of a conversation hash alike. Truncated or garbage
/// headers end the walk: what was read so far is hashed. Deterministic for a given `seed`
/// (a VTEP picks one seed at start so outsiders cannot aim flows at one path), allocation
/// free, never panics.
pub fn flow_hash(frame: &[u8], seed: u64) -> u32 {
    let mut h = Mixer::new(seed);
    let Some(header) = frame.first_chunk::<14>() else {
        h.bytes(frame);
        return h.finish();
    };
    h.ordered_pair::<6>(&array(header, 0), &array(header, 6));
    let mut ethertype = be16(header, 12);
    let mut at = 14;
    // Up to two VLAN tags (QinQ).
    for _ in 0..2 {
        if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
            break;
        }
        let Some(tag) = frame.get(at..).and_then(<[u8]>::first_chunk::<4>) else {
            h.word(u64::from(ethertype));
            return h.finish();
        };
        h.word(u64::from(be16(tag, 0) & 0x0fff) | 0x1_0000);
        ethertype = be16(tag, 2);
        at += 4;
    }
    h.word(u64::from(ethertype) << 16);
    let l3 = &frame[at..];
    let l4 = match ethertype {
        ETHERTYPE_IPV4 => ipv4(&mut h, l3),
        ETHERTYPE_IPV6 => ipv6(&mut h, l3),
        _ => None,
    };
    if let Some((IP_TCP | IP_UDP | IP_SCTP, l4)) = l4
        && let Some(ports) = l4.first_chunk::<4>()
    {
        h.ordered_pair::<2>(&array(ports, 0), &array(ports, 2));
    }
    h.finish()
}

/// Mix in IPv4 addresses and protocol; the L4 header if ports can be read there.
fn ipv4<'a>(h: &mut Mixer, ip: &'a [u8]) -> Option<(u8, &'a [u8])> {
    let header = ip.first_chunk::<20>()?;
    if header[0] >> 4 != 4 {
        return None;
    }
    h.ordered_pair::<4>(&array(header, 12), &array(header, 16));
    let protocol = header[9];
    h.word(u64::from(protocol) << 8);
    let fragment = be16(header, 6) & 0x3fff != 0;
    let ihl = usize::from(header[0] & 0x0f) * 4;
    if fragment || ihl < 20 {
        return None;
    }
    Some((protocol, ip.get(ihl..)?))
}

/// Mix in IPv6 addresses and next header; extension headers are not walked.
fn ipv6<'a>(h: &mut Mixer, ip: &'a [u8]) -> Option<(u8, &'a [u8])> {
    let header = ip.first_chunk::<40>()?;
    if header[0] >> 4 != 6 {
        return None;
    }
    h.ordered_pair::<16>(&array(header, 8), &array(header, 24));
    let next = header[6];
    h.word(u64::from(next) << 8);
    Some((next, &ip[40..]))
}

#[inline(always)]
fn be16<const N: usize>(b: &[u8; N], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// `b[at..at + M]` as an array (the bounds are constants once inlined).
#[inline(always)]
fn array<const M: usize, const N: usize>(b: &[u8; N], at: usize) -> [u8; M] {
    let mut out = [0; M];
    out.copy_from_slice(&b[at..at + M]);
    out
}

/// A small multiply-rotate mixer with a murmur3 finaliser: fast, good enough avalanche for
/// path selection, not a defence against an attacker who knows the seed.
///
/// A field of N bytes is mixed as its 8-byte little-endian chunks (the last zero-padded),
/// then its length; a pair is mixed smaller first (byte-wise order). The fixed-size forms
/// below work on registers, with no loop and no `memcmp`.
struct Mixer(u64);

impl Mixer {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;

    fn new(seed: u64) -> Mixer {
        Mixer(seed ^ Self::K)
    }

    #[inline(always)]
    fn word(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(Self::K).rotate_left(31);
    }

    /// Any length (only for frames shorter than an Ethernet header).
    fn bytes(&mut self, b: &[u8]) {
        for chunk in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
        self.word(b.len() as u64);
    }

    /// A field of `N <= 16` bytes, as [`Mixer::bytes`] mixes it.
    #[inline(always)]
    fn field<const N: usize>(&mut self, b: &[u8; N]) {
        let mut w = [0u8; 16];
        w[..N].copy_from_slice(b);
        // Little-endian: the low half is bytes 0..8, the high half bytes 8..16.
        let v = u128::from_le_bytes(w);
        self.word(v as u64);
        if N > 8 {
            self.word((v >> 64) as u64);
        }
        self.word(N as u64);
    }

    /// Both fields, smaller first, so the hash does not depend on direction.
    #[inline(always)]
    fn ordered_pair<const N: usize>(&mut self, a: &[u8; N], b: &[u8; N]) {
        // Byte-wise order of equal-length fields is the order of their big-endian values.
        let key = |x: &[u8; N]| {
            let mut w = [0u8; 16];
            w[..N].copy_from_slice(x);
            u128::from_be_bytes(w)
        };
        let (lo, hi) = if key(a) <= key(b) { (a, b) } else { (b, a) };
        self.field(lo);
        self.field(hi);
    }

    fn finish(self) -> u32 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        (h ^ (h >> 32)) as u32
    }
}

/// Map a hash into the inclusive port range `min..=max` by multiply-shift, as Linux's
/// `udp_flow_src_port` does (without a modulo's bias or cost). Unlike Linux, whose result
/// excludes `max`, `max` is reachable. `min > max` is taken as the range swapped; `min == max`
/// always gives that port.
pub fn source_port(hash: u32, min: u16, max: u16) -> u16 {
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    let span = u64::from(hi - lo) + 1;
    // hash * span < 2^32 * span, so the shift leaves a value below span <= 65536.
    lo + ((u64::from(hash) * span) >> 32) as u16
}

#[cfg(test)]
mod tests {

    /// The implementation before the fixed-width rewrite, kept to prove the values unchanged.
    #[allow(clippy::all)]
    mod reference {
        use super::super::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN};
        use super::super::{IP_SCTP, IP_TCP, IP_UDP};
        fn flow_hash_reference(frame: &[u8], seed: u64) -> u32 {
            let mut h = RefMixer::new(seed);
            let Some(header) = frame.get(..14) else {
                h.bytes(frame);
                return h.finish();
            };
            h.ordered_pair(&header[0..6], &header[6..12]);
            let mut ethertype = ref_be16(header, 12);
            let mut at = 14;
            // Up to two VLAN tags (QinQ).
            for _ in 0..2 {
                if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
                    break;
                }
                let Some(tag) = frame.get(at..at + 4) else {
                    h.word(u64::from(ethertype));
                    return h.finish();
                };
                h.word(u64::from(ref_be16(tag, 0) & 0x0fff) | 0x1_0000);
                ethertype = ref_be16(tag, 2);
                at += 4;
            }
            h.word(u64::from(ethertype) << 16);
            let l3 = &frame[at..];
            let l4 = match ethertype {
                ETHERTYPE_IPV4 => ref_ipv4(&mut h, l3),
                ETHERTYPE_IPV6 => ref_ipv6(&mut h, l3),
                _ => None,
            };
            if let Some((IP_TCP | IP_UDP | IP_SCTP, l4)) = l4
                && l4.len() >= 4
            {
                h.ordered_pair(&l4[0..2], &l4[2..4]);
            }
            h.finish()
        }

        /// Mix in IPv4 addresses and protocol; the L4 header if ports can be read there.
        fn ref_ipv4<'a>(h: &mut RefMixer, ip: &'a [u8]) -> Option<(u8, &'a [u8])> {
            let header = ip.get(..20)?;
            if header[0] >> 4 != 4 {
                return None;
            }
            h.ordered_pair(&header[12..16], &header[16..20]);
            let protocol = header[9];
            h.word(u64::from(protocol) << 8);
            let fragment = ref_be16(header, 6) & 0x3fff != 0;
            let ihl = usize::from(header[0] & 0x0f) * 4;
            if fragment || ihl < 20 {
                return None;
            }
            Some((protocol, ip.get(ihl..)?))
        }

        /// Mix in IPv6 addresses and next header; extension headers are not walked.
        fn ref_ipv6<'a>(h: &mut RefMixer, ip: &'a [u8]) -> Option<(u8, &'a [u8])> {
            let header = ip.get(..40)?;
            if header[0] >> 4 != 6 {
                return None;
            }
            h.ordered_pair(&header[8..24], &header[24..40]);
            let next = header[6];
            h.word(u64::from(next) << 8);
            Some((next, &ip[40..]))
        }

        fn ref_be16(b: &[u8], at: usize) -> u16 {
            u16::from_be_bytes([b[at], b[at + 1]])
        }

        /// A small multiply-rotate mixer with a murmur3 finaliser: fast, good enough avalanche for
        /// path selection, not a defence against an attacker who knows the seed.
        struct RefMixer(u64);

        impl RefMixer {
            const K: u64 = 0x9e37_79b9_7f4a_7c15;

            fn new(seed: u64) -> RefMixer {
                RefMixer(seed ^ Self::K)
            }

            fn word(&mut self, w: u64) {
                self.0 = (self.0 ^ w).wrapping_mul(Self::K).rotate_left(31);
            }

            fn bytes(&mut self, b: &[u8]) {
                for chunk in b.chunks(8) {
                    let mut w = [0u8; 8];
                    w[..chunk.len()].copy_from_slice(chunk);
                    self.word(u64::from_le_bytes(w));
                }
                self.word(b.len() as u64);
            }

            /// Both fields, smaller first, so the hash does not depend on direction.
            fn ordered_pair(&mut self, a: &[u8], b: &[u8]) {
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                self.bytes(lo);
                self.bytes(hi);
            }

            fn finish(self) -> u32 {
                let mut h = self.0;
                h ^= h >> 33;
                h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
                h ^= h >> 33;
                h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
                h ^= h >> 33;
                (h ^ (h >> 32)) as u32
            }
        }

        pub(super) fn hash(frame: &[u8], seed: u64) -> u32 {
            flow_hash_reference(frame, seed)
        }
    }

    use super::*;
    use crate::pcap::PcapReader;
    use alloc::vec::Vec;

    /// Inner frames of the kernel VXLAN capture (tests/fixtures/capture.sh): ARP request,
    /// ARP reply, ICMP echo request, ICMP echo reply.
    fn inner_frames() -> Vec<&'static [u8]> {
        static PCAP: &[u8] = include_bytes!("../../tests/fixtures/vxlan-ipv4.pcap");
        PcapReader::new(PCAP)
            .unwrap()
            .map(|r| &r.unwrap().data[14 + 20 + 8 + 8..])
            .collect()
    }

    /// A TCP/IPv4 frame between 10.0.0.1:1000 and 10.0.0.2:80, in either direction.
    fn tcp4(forward: bool, src_port: u16) -> Vec<u8> {
        let (mac_a, mac_b) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let (ip_a, ip_b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
        let (p_a, p_b) = (src_port.to_be_bytes(), 80u16.to_be_bytes());
        let (m1, m2, i1, i2, p1, p2) = if forward {
            (mac_b, mac_a, ip_a, ip_b, p_a, p_b)
        } else {
            (mac_a, mac_b, ip_b, ip_a, p_b, p_a)
        };
        let mut f = Vec::new();
        f.extend_from_slice(&m1);
        f.extend_from_slice(&m2);
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&i1);
        f.extend_from_slice(&i2);
        f.extend_from_slice(&p1);
        f.extend_from_slice(&p2);
        f.extend_from_slice(&[0; 16]);
        f
    }

    #[test]
    fn fields_that_matter_change_the_hash() {
        let base = tcp4(true, 1000);
        let h = flow_hash(&base, 1);
        assert_eq!(flow_hash(&base, 1), h, "deterministic");
        assert_ne!(flow_hash(&base, 2), h, "seeded");
        assert_ne!(flow_hash(&tcp4(true, 1001), 1), h, "source port");
        // Byte offset -> whether changing it must change the hash.
        let cases: &[(usize, bool)] = &[
            (0, true),   // dst MAC
            (11, true),  // src MAC
            (13, true),  // EtherType
            (15, false), // DSCP
            (18, false), // ident
            (22, false), // TTL
            (23, true),  // protocol
            (29, true),  // src IP
            (33, true),  // dst IP
            (35, true),  // src port
            (37, true),  // dst port
            (40, false), // TCP sequence number
        ];
        for &(at, matters) in cases {
            let mut f = base.clone();
            f[at] ^= 0x01;
            assert_eq!(flow_hash(&f, 1) != h, matters, "byte {at}");
        }
    }

    /// The fixed-width rewrite hashes exactly as before: same ports on the wire, same traces.
    #[test]
    fn same_values_as_the_reference() {
        let mut frames: Vec<Vec<u8>> = inner_frames().into_iter().map(<[u8]>::to_vec).collect();
        frames.push(tcp4(true, 1000));
        frames.push(tcp4(false, 1000));
        let mut v6 = tcp4(true, 7);
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        v6[14] = 0x60;
        v6.resize(14 + 40 + 8, 0xab);
        v6[14 + 6] = 17;
        frames.push(v6);
        let mut tagged = tcp4(true, 9);
        tagged.splice(12..12, [0x81, 0x00, 0x00, 0x05, 0x88, 0xa8, 0x00, 0x07]);
        frames.push(tagged);
        for frame in &frames {
            for len in 0..=frame.len() {
                for seed in [0, 1, 0xdead_beef] {
                    assert_eq!(
                        flow_hash(&frame[..len], seed),
                        reference::hash(&frame[..len], seed),
                        "{len} {seed}"
                    );
                }
            }
        }
    }

    #[test]
    fn symmetric() {
        assert_eq!(
            flow_hash(&tcp4(true, 1000), 7),
            flow_hash(&tcp4(false, 1000), 7)
        );
        let f = inner_frames();
        assert_eq!(
            flow_hash(f[2], 7),
            flow_hash(f[3], 7),
            "echo request and reply"
        );
        assert_eq!(flow_hash(f[0], 7), flow_hash(f[0], 7));
        assert_ne!(
            flow_hash(f[0], 7),
            flow_hash(f[2], 7),
            "ARP and ICMP differ"
        );
    }

    #[test]
    fn fragments_hash_without_ports() {
        let mut first = tcp4(true, 1000);
        first[20] = 0x20; // MF
        let mut other_ports = tcp4(true, 2000);
        other_ports[20] = 0x20;
        assert_eq!(flow_hash(&first, 1), flow_hash(&other_ports, 1));
    }

    #[test]
    fn vlan_id_counts() {
        let base = tcp4(true, 1000);
        let tagged = |vid: u8| {
            let mut f = base[..12].to_vec();
            f.extend_from_slice(&[0x81, 0x00, 0x00, vid]);
            f.extend_from_slice(&base[12..]);
            f
        };
        assert_ne!(flow_hash(&tagged(1), 1), flow_hash(&tagged(2), 1));
        let mut port = tagged(1);
        port[16 + 22] ^= 1; // the TCP source port behind the tag
        assert_ne!(flow_hash(&tagged(1), 1), flow_hash(&port, 1));
    }

    #[test]
    fn truncation_at_every_length_is_fine() {
        let base = tcp4(true, 1000);
        for len in 0..=base.len() {
            let _ = flow_hash(&base[..len], 3);
        }
        // Frames shorter than an Ethernet header hash their bytes and length.
        assert_ne!(flow_hash(&base[..10], 3), flow_hash(&base[..11], 3));
    }

    /// (hash, min, max) -> port.
    #[test]
    fn source_port_cases() {
        let cases: &[((u32, u16, u16), u16)] = &[
            ((0, 49152, 65535), 49152),
            ((u32::MAX, 49152, 65535), 65535),
            ((0x8000_0000, 49152, 65535), 57344),
            ((u32::MAX, 0, 65535), 65535),
            ((0, 0, 65535), 0),
            ((12345, 4789, 4789), 4789),
            ((u32::MAX, 4789, 4789), 4789),
            ((0, 65535, 49152), 49152),
            ((u32::MAX, 65535, 49152), 65535),
            ((0x8000_0000, 10, 11), 11),
            ((0x7fff_ffff, 10, 11), 10),
        ];
        for &((hash, min, max), expect) in cases {
            assert_eq!(source_port(hash, min, max), expect, "{hash:#x} {min} {max}");
        }
        assert_eq!(DEFAULT_SOURCE_PORTS, (49152, 65535));
    }

    #[test]
    fn source_ports_spread() {
        let (min, max) = DEFAULT_SOURCE_PORTS;
        let mut buckets = [0u32; 16];
        for port in 0..4096u16 {
            let h = flow_hash(&tcp4(true, port), 99);
            let p = source_port(h, min, max);
            buckets[usize::from((p - min) / 1024)] += 1;
        }
        // 256 expected per bucket; a decent mixer stays well within +-30%.
        assert!(
            buckets.iter().all(|&n| (180..=330).contains(&n)),
            "{buckets:?}"
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128), seed: u64) {
                prop_assert_eq!(flow_hash(&bytes, seed), flow_hash(&bytes, seed));
                prop_assert_eq!(flow_hash(&bytes, seed), reference::hash(&bytes, seed));
            }

            #[test]
            fn source_port_in_range(hash: u32, min: u16, max: u16) {
                let p = source_port(hash, min, max);
                prop_assert!(min.min(max) <= p && p <= min.max(max));
            }

            #[test]
            fn tcp_flows_are_symmetric(port: u16, seed: u64) {
                prop_assert_eq!(flow_hash(&tcp4(true, port), seed), flow_hash(&tcp4(false, port), seed));
            }
        }
    }
}
