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
///
/// The fields are packed into 64-bit words (four for Ethernet and IPv4, seven with IPv6
/// addresses) and mixed two at a time by independent folded multiplies, then once more: a few
/// multiplies that the CPU runs in parallel, where a word-at-a-time mixer is one long chain.
/// Good enough avalanche for path selection; not a defence against an attacker who knows the
/// seed.
pub fn flow_hash(frame: &[u8], seed: u64) -> u32 {
    // TCP, UDP or SCTP over IPv4 without options, not a fragment: most frames, read at fixed
    // offsets. The same words as `walk` builds for them (a test checks).
    if let Some(f) = frame.first_chunk::<38>()
        && f[12..15] == [0x08, 0x00, 0x45]
        && f[20] & 0x3f == 0
        && f[21] == 0
        && matches!(f[23], IP_TCP | IP_UDP | IP_SCTP)
    {
        let (mac_lo, mac_hi) = macs(f);
        let (ip_lo, ip_hi) = ordered(le32(f, 26), le32(f, 30));
        let (port_lo, port_hi) = ordered(le16(f, 34), le16(f, 36));
        let words = [
            mac_lo | u64::from(le16(f, 12)) << 48,
            mac_hi | (0x100 | u64::from(f[23])) << 48,
            u64::from(ip_lo) << 32 | u64::from(ip_hi),
            (u64::from(port_lo) << 16 | u64::from(port_hi)) << 32,
        ];
        return mix(words, None, seed);
    }
    walk(frame, seed)
}

/// Any frame: parses what it can and packs the words [`flow_hash`] mixes.
///
/// Fields are read little-endian: a pair only needs a consistent order to be symmetric, not
/// the byte-wise one.
#[inline(never)]
fn walk(frame: &[u8], seed: u64) -> u32 {
    let Some(header) = frame.first_chunk::<14>() else {
        return short_frame(frame, seed);
    };
    let (mac_lo, mac_hi) = macs(header);
    let mut ethertype = be16(header, 12);
    let mut at = 14;
    // Up to two VLAN tags (QinQ), 13 bits each: a presence bit and the 12-bit ID.
    let mut tags = 0u64;
    for _ in 0..2 {
        if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
            break;
        }
        let Some(tag) = frame.get(at..).and_then(<[u8]>::first_chunk::<4>) else {
            break;
        };
        tags = tags << 13 | u64::from(be16(tag, 0) & 0x0fff) | 0x1000;
        ethertype = be16(tag, 2);
        at += 4;
    }
    let l3 = frame.get(at..).unwrap_or_default();
    // The protocol with a bit saying which IP version carried it (0: none).
    let mut protocol = 0u64;
    let mut ip_words = 0u64;
    let mut v6_words = None;
    let mut l4: &[u8] = &[];
    match ethertype {
        ETHERTYPE_IPV4 => {
            if let Some(ip) = l3.first_chunk::<20>()
                && ip[0] >> 4 == 4
            {
                let (lo, hi) = ordered(le32(ip, 12), le32(ip, 16));
                ip_words = u64::from(lo) << 32 | u64::from(hi);
                protocol = 0x100 | u64::from(ip[9]);
                let fragment = be16(ip, 6) & 0x3fff != 0;
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                if !fragment && ihl >= 20 {
                    l4 = l3.get(ihl..).unwrap_or_default();
                }
            }
        }
        ETHERTYPE_IPV6 => {
            if let Some(ip) = l3.first_chunk::<40>()
                && ip[0] >> 4 == 6
            {
                let (lo, hi) = ordered(le128(ip, 8), le128(ip, 24));
                ip_words = lo as u64;
                v6_words = Some([(lo >> 64) as u64, hi as u64, (hi >> 64) as u64]);
                protocol = 0x200 | u64::from(ip[6]);
                l4 = &l3[40..];
            }
        }
        _ => {}
    }
    let mut ports = 0u64;
    if matches!(protocol as u8, IP_TCP | IP_UDP | IP_SCTP)
        && let Some(p) = l4.first_chunk::<4>()
    {
        let (lo, hi) = ordered(le16(p, 0), le16(p, 2));
        ports = u64::from(lo) << 16 | u64::from(hi);
    }
    let words = [
        // The EtherType as the fast path reads it, little-endian.
        mac_lo | u64::from(ethertype.swap_bytes()) << 48,
        mac_hi | protocol << 48,
        ip_words,
        ports << 32 | tags,
    ];
    mix(words, v6_words, seed)
}

/// Mixes the packed fields: two independent folded multiplies (four with IPv6 addresses),
/// then one more.
#[inline(always)]
fn mix(words: [u64; 4], v6_words: Option<[u64; 3]>, seed: u64) -> u32 {
    let s = Seeds::new(seed).0;
    let mut h = fold(words[0] ^ s[0], words[1] ^ s[1]) ^ fold(words[2] ^ s[2], words[3] ^ s[3]);
    if let Some(v6) = v6_words {
        h ^= fold(v6[0] ^ s[4], v6[1] ^ s[5]) ^ fold(v6[2] ^ s[6], s[7]);
    }
    finish(h, seed)
}

/// The two MAC addresses of an Ethernet header as 48-bit numbers, smaller first.
#[inline(always)]
fn macs<const N: usize>(header: &[u8; N]) -> (u64, u64) {
    let dst = u64::from_le_bytes(array(header, 0)) & 0xffff_ffff_ffff;
    let src = u64::from_le_bytes(array(header, 4)) >> 16;
    ordered(dst, src)
}

/// A frame shorter than an Ethernet header: its bytes and its length.
fn short_frame(frame: &[u8], seed: u64) -> u32 {
    let mut w = [0u8; 16];
    let n = frame.len().min(13);
    w[..n].copy_from_slice(&frame[..n]);
    w[15] = n as u8;
    let v = u128::from_le_bytes(w);
    let s = Seeds::new(seed).0;
    finish(fold(v as u64 ^ s[0], (v >> 64) as u64 ^ s[1]), seed)
}

/// Per-lane keys: the seed xored with distinct odd constants (the first digits of pi).
struct Seeds([u64; 8]);

impl Seeds {
    #[inline(always)]
    fn new(seed: u64) -> Seeds {
        const K: [u64; 8] = [
            0x243f_6a88_85a3_08d3,
            0x1319_8a2e_0370_7345,
            0xa409_3822_299f_31d1,
            0x082e_fa98_ec4e_6c89,
            0x4528_21e6_38d0_1377,
            0xbe54_66cf_34e9_0c6d,
            0xc0ac_29b7_c97c_50dd,
            0x3f84_d5b5_b547_0917,
        ];
        Seeds(K.map(|k| seed ^ k))
    }
}

/// The full 128-bit product folded to 64 bits (as foldhash and wyhash mix).
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ (p >> 64) as u64
}

#[inline(always)]
fn finish(h: u64, seed: u64) -> u32 {
    let h = fold(h ^ seed.rotate_left(23), 0x9e37_79b9_7f4a_7c15);
    (h ^ (h >> 32)) as u32
}

/// A pair of fields, smaller first, so the hash does not depend on direction.
#[inline(always)]
fn ordered<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

#[inline(always)]
fn be16<const N: usize>(b: &[u8; N], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline(always)]
fn le16<const N: usize>(b: &[u8; N], at: usize) -> u16 {
    u16::from_le_bytes(array(b, at))
}

#[inline(always)]
fn le32<const N: usize>(b: &[u8; N], at: usize) -> u32 {
    u32::from_le_bytes(array(b, at))
}

#[inline(always)]
fn le128<const N: usize>(b: &[u8; N], at: usize) -> u128 {
    u128::from_le_bytes(array(b, at))
}

/// `b[at..at + M]` as an array (the bounds are constants once inlined).
#[inline(always)]
fn array<const M: usize, const N: usize>(b: &[u8; N], at: usize) -> [u8; M] {
    let mut out = [0; M];
    out.copy_from_slice(&b[at..at + M]);
    out
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
    // Under `wasm-pack test core` these run in the browser, where the playground runs the core.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

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

    /// The fixed-offset path for TCP/UDP/SCTP over IPv4 hashes as the general walk does.
    #[test]
    fn fast_path_agrees_with_the_walk() {
        for port in [0, 1, 80, 1000, 0xffff] {
            for forward in [true, false] {
                let mut f = tcp4(forward, port);
                for protocol in [IP_TCP, IP_UDP, IP_SCTP] {
                    f[23] = protocol;
                    assert_eq!(flow_hash(&f, 5), walk(&f, 5), "{port} {forward} {protocol}");
                }
            }
        }
    }

    #[test]
    fn ipv6_addresses_and_ports_count() {
        let mut base = tcp4(true, 7);
        base[12..14].copy_from_slice(&[0x86, 0xdd]);
        base[14] = 0x60;
        base.resize(14 + 40 + 8, 0xab);
        base[14 + 6] = IP_UDP;
        let h = flow_hash(&base, 1);
        for at in [14 + 8, 14 + 23, 14 + 24, 14 + 39, 14 + 40, 14 + 43] {
            let mut f = base.clone();
            f[at] ^= 0x10;
            assert_ne!(flow_hash(&f, 1), h, "byte {at}");
        }
        // Swapping addresses and ports (the reply) hashes alike.
        let mut reply = base.clone();
        reply[14 + 8..14 + 40].rotate_left(16);
        reply[14 + 40..14 + 44].rotate_left(2);
        reply[..12].rotate_left(6);
        assert_eq!(flow_hash(&reply, 1), h);
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
            }

            #[test]
            fn fast_path_agrees_with_the_walk(
                mut bytes in proptest::collection::vec(any::<u8>(), 38..96),
                fragment: bool,
                protocol in proptest::sample::select(&[IP_TCP, IP_UDP, IP_SCTP][..]),
                seed: u64,
            ) {
                bytes[12..15].copy_from_slice(&[0x08, 0x00, 0x45]);
                if !fragment {
                    bytes[20] &= 0xc0;
                    bytes[21] = 0;
                }
                bytes[23] = protocol;
                prop_assert_eq!(flow_hash(&bytes, seed), walk(&bytes, seed));
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
