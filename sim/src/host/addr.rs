//! A host's IPv6 address, made from its IPv4 one, and the solicited-node group its
//! neighbours solicit it at.

use vtep_core::wire::{Ipv4Address, Ipv6Address};

/// The prefix length of every host's IPv6 address ([`ipv6_of`]).
pub const IPV6_PREFIX_LEN: u8 = 64;

/// A host's IPv6 address, made from its IPv4 address and prefix so that each IPv4 subnet has
/// its own IPv6 one: the unique local prefix `fd00:NNNN:NNNN::/64` holds the IPv4 network
/// (`NNNN:NNNN`, the IPv4 address with its host bits cleared) and the interface identifier is
/// the IPv4 host part. `10.0.0.2/24` is `fd00:a00:0::2`, shown `fd00:a00::2`.
pub fn ipv6_of(ip: Ipv4Address, prefix_len: u8) -> Ipv6Address {
    let bits = u32::from(ip);
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len.min(32)))
        .unwrap_or(0);
    let (net, host) = ((bits & mask).to_be_bytes(), (bits & !mask).to_be_bytes());
    let mut o = [0u8; 16];
    o[0] = 0xfd;
    o[2..6].copy_from_slice(&net);
    o[12..].copy_from_slice(&host);
    Ipv6Address::from(o)
}

/// The solicited-node multicast group of `ip` (`ff02::1:ffXX:XXXX`, RFC 4291 section 2.7.1),
/// where Neighbour Solicitations for it go.
pub fn solicited_node(ip: Ipv6Address) -> Ipv6Address {
    let o = ip.octets();
    let mut g = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    g[13..].copy_from_slice(&o[13..]);
    Ipv6Address::from(g)
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn each_ipv4_subnet_has_its_ipv6_prefix() {
        let cases = [
            ([10, 0, 0, 2], 24, "fd00:a00::2"),
            ([192, 168, 10, 1], 24, "fd00:c0a8:a00::1"),
            ([10, 200, 0, 8], 24, "fd00:ac8::8"),
            ([10, 1, 2, 3], 16, "fd00:a01::203"),
        ];
        for (o, len, expect) in cases {
            let ip = Ipv4Address::new(o[0], o[1], o[2], o[3]);
            assert_eq!(ipv6_of(ip, len).to_string(), expect, "{ip}/{len}");
        }
    }

    #[test]
    fn the_solicited_node_group_keeps_the_last_24_bits() {
        let ip: Ipv6Address = "fd00:a00::1:2:3".parse().unwrap();
        assert_eq!(solicited_node(ip).to_string(), "ff02::1:ff02:3");
    }
}
