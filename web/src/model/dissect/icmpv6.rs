//! IPv6 and ICMPv6 in the inspector: the IPv6 header, then ICMPv6 down to every field: type,
//! code and checksum; an echo's identifier and sequence (ping6); a Neighbour Solicitation's or
//! Advertisement's target, an advertisement's R, S and O flags, and each ND option (type,
//! length, the link-layer address). smoltcp keeps its byte ranges private, so they are tabled
//! here, as for ARP and TCP.

use std::ops::Range;

use vtep_core::wire::{Fields, IpProtocol, Ipv6Address, Ipv6Packet};

use super::{Builder, be16, mac};

/// The IPv6 header (RFC 8200). Version shares its byte with the traffic class, which shares
/// one with the flow label: each field covers the bytes its bits are in.
const IPV6_FIELDS: Fields = &[
    ("Version", 0..1),
    ("Traffic class", 0..2),
    ("Flow label", 1..4),
    ("Payload length", 4..6),
    ("Next header", 6..7),
    ("Hop limit", 7..8),
    ("Source", 8..24),
    ("Destination", 24..40),
];
const IPV6_LEN: usize = 40;

/// ICMPv6's header (RFC 4443), and an echo's identifier and sequence.
const ICMPV6_FIELDS: Fields = &[("Type", 0..1), ("Code", 1..2), ("Checksum", 2..4)];
const ECHO_FIELDS: Fields = &[("Identifier", 4..6), ("Sequence", 6..8)];

/// A Neighbour Solicitation (RFC 4861 section 4.3) and Advertisement (4.4) before options.
const NS_FIELDS: Fields = &[("Reserved", 4..8), ("Target", 8..24)];
const NA_FIELDS: Fields = &[
    ("Flags", 4..8),
    ("R (router)", 4..5),
    ("S (solicited)", 4..5),
    ("O (override)", 4..5),
    ("Target", 8..24),
];
const ND_LEN: usize = 24;

/// An ND option's fields, from its start (RFC 4861 section 4.6).
const OPTION_FIELDS: Fields = &[("Option type", 0..1), ("Option length", 1..2)];

const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
const SOLICITATION: u8 = 135;
const ADVERTISEMENT: u8 = 136;

fn type_name(t: u8) -> &'static str {
    match t {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded",
        ECHO_REQUEST => "echo request",
        ECHO_REPLY => "echo reply",
        133 => "router solicitation",
        134 => "router advertisement",
        SOLICITATION => "neighbour solicitation",
        ADVERTISEMENT => "neighbour advertisement",
        137 => "redirect",
        _ => "",
    }
}

fn option_name(t: u8) -> &'static str {
    match t {
        1 => "source link-layer address",
        2 => "target link-layer address",
        3 => "prefix information",
        5 => "MTU",
        _ => "",
    }
}

fn ipv6_text(b: &[u8]) -> String {
    <[u8; 16]>::try_from(b).map_or_else(|_| String::new(), |o| Ipv6Address::from(o).to_string())
}

impl Builder<'_> {
    /// IPv6 in `r`: returns the next header and the payload's range.
    pub(super) fn ipv6(
        &mut self,
        r: Range<usize>,
        name: &str,
    ) -> Option<(IpProtocol, Range<usize>)> {
        let p = Ipv6Packet::new_checked(self.bytes(&r)?).ok()?;
        if p.version() != 6 {
            return None;
        }
        let at = r.start;
        let (src, dst, next) = (p.src_addr(), p.dst_addr(), p.next_header());
        let nname = match next {
            IpProtocol::Icmpv6 => " (ICMPv6)",
            IpProtocol::Tcp => " (TCP)",
            IpProtocol::Udp => " (UDP)",
            _ => "",
        };
        let payload_len = usize::from(p.payload_len());
        self.layer(name, format!("{src} > {dst}{nname}"), at..at + IPV6_LEN);
        self.fields(at, IPV6_FIELDS, |n| {
            Some(match n {
                "Version" => p.version().to_string(),
                "Traffic class" => format!("{:#04x}", p.traffic_class()),
                "Flow label" => format!("{:#07x}", p.flow_label()),
                "Payload length" => payload_len.to_string(),
                "Next header" => format!("{}{nname}", u8::from(next)),
                "Hop limit" => p.hop_limit().to_string(),
                "Source" => src.to_string(),
                "Destination" => dst.to_string(),
                _ => return None,
            })
        });
        Some((next, at + IPV6_LEN..at + IPV6_LEN + payload_len))
    }

    /// ICMPv6 in `r`: the header, then an echo's or a Neighbour Discovery message's fields.
    pub(super) fn icmpv6(&mut self, r: Range<usize>) {
        let Some(b) = self.bytes(&r).filter(|b| b.len() >= 8) else {
            return;
        };
        let at = r.start;
        let (ty, code) = (b[0], b[1]);
        let tname = type_name(ty);
        let nd = matches!(ty, SOLICITATION | ADVERTISEMENT) && b.len() >= ND_LEN;
        let target = if nd {
            ipv6_text(&b[8..24])
        } else {
            String::new()
        };
        let flags = b[4];
        let letters: Vec<&str> = [(0x80, "R"), (0x40, "S"), (0x20, "O")]
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, l)| *l)
            .collect();
        let (ident, seq) = (be16(&b[4..6]), be16(&b[6..8]));
        let summary = match ty {
            ECHO_REQUEST | ECHO_REPLY => format!("{tname} id {ident} seq {seq}"),
            SOLICITATION if nd => format!("{tname}: who has {target}?"),
            ADVERTISEMENT if nd => format!("{tname}: {target} [{}]", letters.join(" ")),
            _ => format!("type {ty} {tname}"),
        };
        let head = if nd { ND_LEN } else { 8 };
        self.layer("ICMPv6", summary, at..at + head);
        self.fields(at, ICMPV6_FIELDS, |n| {
            Some(match n {
                "Type" => format!("{ty} ({tname})"),
                "Code" => code.to_string(),
                "Checksum" => format!("{:#06x}", be16(&b[2..4])),
                _ => return None,
            })
        });
        match ty {
            ECHO_REQUEST | ECHO_REPLY => {
                self.fields(at, ECHO_FIELDS, |n| {
                    Some(match n {
                        "Identifier" => format!("{ident:#06x} ({ident})"),
                        "Sequence" => seq.to_string(),
                        _ => return None,
                    })
                });
                if r.end > at + 8 {
                    self.payload(at + 8..r.end);
                }
            }
            SOLICITATION if nd => {
                self.fields(at, NS_FIELDS, |n| (n == "Target").then(|| target.clone()));
                self.nd_options(at + ND_LEN..r.end);
            }
            ADVERTISEMENT if nd => {
                let bit = |mask: u8| u8::from(flags & mask != 0).to_string();
                let word = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                self.fields(at, NA_FIELDS, |n| {
                    Some(match n {
                        "Flags" => format!("{word:#010x} ({})", letters.join(", ")),
                        "R (router)" => bit(0x80),
                        "S (solicited)" => bit(0x40),
                        "O (override)" => bit(0x20),
                        "Target" => target.clone(),
                        _ => return None,
                    })
                });
                self.nd_options(at + ND_LEN..r.end);
            }
            _ => {}
        }
    }

    /// The ND options in `r`, a layer each; stops at an option of length 0 or one that runs
    /// past the end (a receiver discards such a message, RFC 4861 section 4.6).
    fn nd_options(&mut self, r: Range<usize>) {
        let mut at = r.start;
        while let Some([ty, len]) = self.bytes(&(at..at + 2)).map(|b| [b[0], b[1]]) {
            let n = usize::from(len) * 8;
            if n == 0 || at + n > r.end {
                return;
            }
            let name = option_name(ty);
            let lladdr = matches!(ty, 1 | 2) && n >= 8;
            let addr = if lladdr {
                self.bytes(&(at + 2..at + 8)).map(mac).unwrap_or_default()
            } else {
                String::new()
            };
            let summary = if lladdr {
                format!("{name}: {addr}")
            } else {
                format!("type {ty} {name}")
            };
            self.layer("ND option", summary, at..at + n);
            self.fields(at, OPTION_FIELDS, |f| {
                Some(match f {
                    "Option type" => format!("{ty} ({name})"),
                    "Option length" => format!("{len} ({n} bytes)"),
                    _ => return None,
                })
            });
            if lladdr {
                self.field("Link-layer address", addr, at + 2..at + 8);
            }
            at += n;
        }
    }
}
