//! The inner-flow hash: never panics, deterministic, symmetric (both directions of a
//! conversation hash alike), and the source port it picks stays in range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vtep_core::wire::flow::{flow_hash, source_port};

fuzz_target!(|input: (u64, u16, u16, &[u8])| {
    let (seed, min, max, frame) = input;
    let hash = flow_hash(frame, seed);
    assert_eq!(hash, flow_hash(frame, seed), "deterministic");
    let port = source_port(hash, min, max);
    assert!(min.min(max) <= port && port <= min.max(max));

    // The reverse direction of the same conversation: MACs, IPv4 addresses and ports swapped.
    if let Some(reversed) = reverse(frame) {
        assert_eq!(flow_hash(&reversed, seed), hash, "symmetric");
    }
});

/// The frame with source and destination swapped at every layer the hash reads, for untagged
/// Ethernet with IPv4 or IPv6 (no extension headers); `None` for anything else.
fn reverse(frame: &[u8]) -> Option<Vec<u8>> {
    let mut out = frame.to_vec();
    swap_halves(&mut out.get_mut(..14)?[..12]);
    let ethertype = u16::from_be_bytes([out[12], out[13]]);
    let l3 = 14;
    let (protocol, l4) = match ethertype {
        0x0800 => {
            let ip = out.get_mut(l3..l3 + 20)?;
            if ip[0] >> 4 != 4 {
                return Some(out);
            }
            swap_halves(&mut ip[12..20]);
            let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            if fragment || ihl < 20 {
                return Some(out);
            }
            (ip[9], l3 + ihl)
        }
        0x86dd => {
            let ip = out.get_mut(l3..l3 + 40)?;
            if ip[0] >> 4 != 6 {
                return Some(out);
            }
            swap_halves(&mut ip[8..40]);
            (ip[6], l3 + 40)
        }
        0x8100 | 0x88a8 => return None,
        _ => return Some(out),
    };
    if matches!(protocol, 6 | 17 | 132)
        && let Some(ports) = out.get_mut(l4..l4 + 4)
    {
        swap_halves(ports);
    }
    Some(out)
}

/// Swaps the first half of `pair` with the second: destination and source of one layer.
fn swap_halves(pair: &mut [u8]) {
    let (a, b) = pair.split_at_mut(pair.len() / 2);
    a.swap_with_slice(b);
}
