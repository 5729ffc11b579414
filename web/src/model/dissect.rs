//! The frame inspector's model: a frame read layer by layer into fields, each with the byte
//! range it occupies, so the hex dump can light up the bytes of the selected field. Reads
//! outer Ethernet / IPv4 / UDP / VXLAN | Geneve | GRE (NVGRE), then the inner Ethernet / ARP |
//! IPv4 / ICMP | UDP | TCP, or IPv6 / ICMPv6 (echo, Neighbour Discovery and its options, in
//! `dissect/icmpv6.rs`) | UDP | TCP, and on TCP port 179 the BGP messages (in
//! `dissect/bgp.rs`).
//!
//! Bytes are read only through checked views: `vtep_core::wire`'s `outer::parse` and tunnel
//! `Packet`s, and smoltcp's. A short or odd frame gives fewer layers, never a panic. The byte
//! ranges of the Ethernet, IPv4, UDP and tunnel headers are the core's `FIELDS`; smoltcp keeps
//! its ranges private, so those of ARP, ICMP and TCP are tabled here.

use std::ops::Range;

use vtep_core::wire::flow::{GENEVE_PORT, VXLAN_PORT};
use vtep_core::wire::outer::{self, ETHERNET_LEN, Transport};
use vtep_core::wire::{
    ArpOperation, ArpPacket, ETHERTYPE_TRANSPARENT_ETHERNET, EthernetFrame, EthernetProtocol,
    Fields, Icmpv4Packet, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket, geneve, nvgre, vxlan,
};

/// One field of a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub value: String,
    pub range: Range<usize>,
    /// What the field is for, in a sentence ("" when nothing needs saying).
    pub help: &'static str,
}

/// One protocol layer: its header's bytes and fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// "Outer Ethernet", "IPv4", "VXLAN", "Inner Ethernet", ...
    pub name: String,
    /// A one-line summary ("VNI 100").
    pub summary: String,
    pub range: Range<usize>,
    pub fields: Vec<Field>,
}

/// A frame read into layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dissection {
    pub len: usize,
    pub layers: Vec<Layer>,
}

/// ARP for Ethernet and IPv4 (RFC 826).
const ARP_FIELDS: Fields = &[
    ("Hardware type", 0..2),
    ("Protocol type", 2..4),
    ("Hardware size", 4..5),
    ("Protocol size", 5..6),
    ("Operation", 6..8),
    ("Sender MAC", 8..14),
    ("Sender IP", 14..18),
    ("Target MAC", 18..24),
    ("Target IP", 24..28),
];
const ARP_LEN: usize = 28;

/// ICMP's fixed header, with the echo message's identifier and sequence (RFC 792).
const ICMP_FIELDS: Fields = &[
    ("Type", 0..1),
    ("Code", 1..2),
    ("Checksum", 2..4),
    ("Identifier", 4..6),
    ("Sequence", 6..8),
];
const ICMP_LEN: usize = 8;

/// TCP's header without options (RFC 9293).
const TCP_FIELDS: Fields = &[
    ("Source port", 0..2),
    ("Destination port", 2..4),
    ("Sequence", 4..8),
    ("Acknowledgment", 8..12),
    ("Header length", 12..13),
    ("Flags", 13..14),
    ("Window", 14..16),
    ("Checksum", 16..18),
    ("Urgent pointer", 18..20),
];
const TCP_LEN: usize = 20;

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Bytes as one hex number: `[0, 0, 1]` -> `"0x000001"`.
fn hex(b: &[u8]) -> String {
    let digits: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("0x{digits}")
}

/// The big-endian 16-bit number in `b[..2]`.
fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A VNI in decimal and as its 3 bytes on the wire: `100 (0x000064)`.
fn vni_value(vni: u32) -> String {
    format!("{vni} (0x{vni:06x})")
}

fn ip_protocol_name(p: IpProtocol) -> &'static str {
    match p {
        IpProtocol::Icmp => " (ICMP)",
        IpProtocol::Tcp => " (TCP)",
        IpProtocol::Udp => " (UDP)",
        p if u8::from(p) == outer::IP_PROTOCOL_GRE => " (GRE)",
        _ => "",
    }
}

mod bgp;
mod icmpv6;

struct Builder<'a> {
    b: &'a [u8],
    layers: Vec<Layer>,
}

impl<'a> Builder<'a> {
    /// The bytes of `r`, or none when `r` is not inside the frame.
    fn bytes(&self, r: &Range<usize>) -> Option<&'a [u8]> {
        self.b.get(r.clone())
    }

    fn layer(&mut self, name: impl Into<String>, summary: String, range: Range<usize>) {
        self.layers.push(Layer {
            name: name.into(),
            summary,
            range,
            fields: Vec::new(),
        });
    }

    fn field(&mut self, name: &'static str, value: String, range: Range<usize>) {
        if let Some(l) = self.layers.last_mut() {
            let help = super::explain::field_help(&l.name, name);
            l.fields.push(Field {
                name,
                value,
                range,
                help,
            });
        }
    }

    /// One field per entry of `fields`, whose ranges count from `at`; `value` words a field by
    /// name, and a field it does not know shows its bytes in hex.
    fn fields(&mut self, at: usize, fields: Fields, value: impl Fn(&str) -> Option<String>) {
        for (name, r) in fields {
            let range = at + r.start..at + r.end;
            let Some(bytes) = self.bytes(&range) else {
                return;
            };
            let value = value(name).unwrap_or_else(|| hex(bytes));
            self.field(name, value, range);
        }
    }

    /// Ethernet in `r`: returns the EtherType and the payload's range.
    fn ethernet(
        &mut self,
        r: Range<usize>,
        name: &str,
    ) -> Option<(EthernetProtocol, Range<usize>)> {
        let f = EthernetFrame::new_checked(self.bytes(&r)?).ok()?;
        let (dst, src, ty) = (f.dst_addr(), f.src_addr(), f.ethertype());
        let (dst, src) = (mac(dst.as_bytes()), mac(src.as_bytes()));
        let bcast = f.dst_addr().is_broadcast();
        let at = r.start;
        self.layer(
            name,
            format!("{src} > {dst}{}", if bcast { " (broadcast)" } else { "" }),
            at..at + ETHERNET_LEN,
        );
        let ty_value = u16::from(ty);
        let tname = match ty_value {
            0x0800 => " (IPv4)",
            0x0806 => " (ARP)",
            0x86dd => " (IPv6)",
            0x8100 => " (802.1Q)",
            _ => "",
        };
        self.fields(at, outer::ETHERNET_FIELDS, |n| match n {
            "Destination" => Some(dst.clone()),
            "Source" => Some(src.clone()),
            "Type" => Some(format!("{ty_value:#06x}{tname}")),
            _ => None,
        });
        Some((ty, at + ETHERNET_LEN..r.end))
    }

    /// IPv4 in `r`: returns the protocol and the payload's range.
    fn ipv4(&mut self, r: Range<usize>, name: &str) -> Option<(IpProtocol, Range<usize>)> {
        let p = Ipv4Packet::new_checked(self.bytes(&r)?).ok()?;
        if p.version() != 4 {
            return None;
        }
        let at = r.start;
        let header_len = usize::from(p.header_len());
        let total = usize::from(p.total_len());
        let proto = p.next_header();
        let pname = ip_protocol_name(proto);
        let (src, dst) = (p.src_addr(), p.dst_addr());
        self.layer(name, format!("{src} > {dst}{pname}"), at..at + header_len);
        self.fields(at, outer::IPV4_FIELDS, |n| {
            Some(match n {
                "Version" => p.version().to_string(),
                "Header length" => format!("{header_len} bytes"),
                "DSCP / ECN" => format!("{:#04x}", p.dscp() << 2 | p.ecn()),
                "Total length" => total.to_string(),
                "Identification" => format!("{:#06x}", p.ident()),
                "Flags / fragment" => format!(
                    "{}offset {}",
                    if p.dont_frag() { "DF, " } else { "" },
                    p.frag_offset() / 8
                ),
                "TTL" => p.hop_limit().to_string(),
                "Protocol" => format!("{}{pname}", u8::from(proto)),
                "Checksum" => format!("{:#06x}", p.checksum()),
                "Source" => src.to_string(),
                "Destination" => dst.to_string(),
                _ => return None,
            })
        });
        Some((proto, at + header_len..at + total))
    }

    /// UDP in `r` (`note` follows the destination port): returns the destination port and the
    /// payload's range.
    fn udp(&mut self, r: Range<usize>, name: &str, note: &str) -> Option<(u16, Range<usize>)> {
        let u = UdpPacket::new_checked(self.bytes(&r)?).ok()?;
        let (sp, dp, len) = (u.src_port(), u.dst_port(), usize::from(u.len()));
        let at = r.start;
        self.layer(
            name,
            format!("{sp} > {dp}{note}"),
            at..at + outer::UDP_HEADER_LEN,
        );
        self.fields(at, outer::UDP_FIELDS, |n| {
            Some(match n {
                "Source port" => sp.to_string(),
                "Destination port" => format!("{dp}{note}"),
                "Length" => len.to_string(),
                "Checksum" => format!("{:#06x}", u.checksum()),
                _ => return None,
            })
        });
        Some((dp, at + outer::UDP_HEADER_LEN..at + len))
    }

    fn arp(&mut self, r: Range<usize>) {
        let Some(p) = self.bytes(&r).and_then(|b| ArpPacket::new_checked(b).ok()) else {
            return;
        };
        if (p.hardware_len(), p.protocol_len()) != (6, 4) {
            return;
        }
        let ip = |b: &[u8]| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
        let (sha, spa) = (mac(p.source_hardware_addr()), ip(p.source_protocol_addr()));
        let (tha, tpa) = (mac(p.target_hardware_addr()), ip(p.target_protocol_addr()));
        let op = p.operation();
        let summary = match op {
            ArpOperation::Request if spa == tpa => format!("gratuitous: {spa} is at {sha}"),
            ArpOperation::Request => format!("who has {tpa}? tell {spa}"),
            ArpOperation::Reply => format!("{spa} is at {sha}"),
            ArpOperation::Unknown(n) => format!("operation {n}"),
        };
        let at = r.start;
        self.layer("ARP", summary, at..at + ARP_LEN);
        self.fields(at, ARP_FIELDS, |n| {
            Some(match n {
                "Hardware type" => u16::from(p.hardware_type()).to_string(),
                "Protocol type" => format!("{:#06x}", u16::from(p.protocol_type())),
                "Hardware size" => p.hardware_len().to_string(),
                "Protocol size" => p.protocol_len().to_string(),
                "Operation" => match op {
                    ArpOperation::Request => "1 (request)".into(),
                    ArpOperation::Reply => "2 (reply)".into(),
                    ArpOperation::Unknown(_) => "?".into(),
                },
                "Sender MAC" => sha.clone(),
                "Sender IP" => spa.clone(),
                "Target MAC" => tha.clone(),
                "Target IP" => tpa.clone(),
                _ => return None,
            })
        });
    }

    fn icmp(&mut self, r: Range<usize>) {
        let Some(p) = self
            .bytes(&r)
            .and_then(|b| Icmpv4Packet::new_checked(b).ok())
        else {
            return;
        };
        let ty = u8::from(p.msg_type());
        let tname = match ty {
            0 => "echo reply",
            8 => "echo request",
            3 => "destination unreachable",
            11 => "time exceeded",
            _ => "",
        };
        let (ident, seq) = (p.echo_ident(), p.echo_seq_no());
        let at = r.start;
        self.layer(
            "ICMP",
            format!("{tname} id {ident} seq {seq}"),
            at..at + ICMP_LEN,
        );
        self.fields(at, ICMP_FIELDS, |n| {
            Some(match n {
                "Type" => format!("{ty} ({tname})"),
                "Code" => p.msg_code().to_string(),
                "Checksum" => format!("{:#06x}", p.checksum()),
                "Identifier" => ident.to_string(),
                "Sequence" => seq.to_string(),
                _ => return None,
            })
        });
        if r.end > at + ICMP_LEN {
            self.payload(at + ICMP_LEN..r.end);
        }
    }

    fn tcp(&mut self, r: Range<usize>) {
        let Some(p) = self.bytes(&r).and_then(|b| TcpPacket::new_checked(b).ok()) else {
            return;
        };
        let at = r.start;
        let header_len = usize::from(p.header_len());
        let hdr_end = at + header_len;
        let flags = [
            (p.syn(), "SYN"),
            (p.ack(), "ACK"),
            (p.fin(), "FIN"),
            (p.rst(), "RST"),
            (p.psh(), "PSH"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ");
        // The flags byte as it is on the wire: CWR ECE URG ACK PSH RST SYN FIN.
        let flags_byte = [
            p.fin(),
            p.syn(),
            p.rst(),
            p.psh(),
            p.ack(),
            p.urg(),
            p.ece(),
            p.cwr(),
        ]
        .iter()
        .enumerate()
        .fold(0u8, |acc, (bit, on)| acc | u8::from(*on) << bit);
        let (sp, dp) = (p.src_port(), p.dst_port());
        self.layer(
            "TCP",
            format!("{sp} > {dp} [{flags}] len {}", r.end - hdr_end),
            at..hdr_end,
        );
        self.fields(at, TCP_FIELDS, |n| {
            Some(match n {
                "Source port" => sp.to_string(),
                "Destination port" => dp.to_string(),
                "Sequence" => (p.seq_number().0 as u32).to_string(),
                "Acknowledgment" => (p.ack_number().0 as u32).to_string(),
                "Header length" => format!("{header_len} bytes"),
                "Flags" => format!("{flags_byte:#04x} ({flags})"),
                "Window" => p.window_len().to_string(),
                "Checksum" => format!("{:#06x}", p.checksum()),
                "Urgent pointer" => p.urgent_at().to_string(),
                _ => return None,
            })
        });
        if header_len > TCP_LEN {
            self.field(
                "Options",
                format!("{} bytes", header_len - TCP_LEN),
                at + TCP_LEN..hdr_end,
            );
        }
        if r.end > hdr_end {
            if sp == vtep_core::wire::bgp::PORT || dp == vtep_core::wire::bgp::PORT {
                self.bgp(hdr_end..r.end);
            } else {
                self.payload(hdr_end..r.end);
            }
        }
    }

    fn payload(&mut self, r: Range<usize>) {
        let n = r.len();
        self.layer("Payload", format!("{n} bytes"), r.clone());
        self.field("Data", format!("{n} bytes"), r);
    }

    /// A host's UDP datagram in `r`: the header, then its payload when it has one.
    fn host_udp(&mut self, r: Range<usize>) {
        if let Some((_, payload)) = self.udp(r, "UDP", "")
            && !payload.is_empty()
        {
            self.payload(payload);
        }
    }

    /// The host's frame (or the only frame when not tunnelled), in `r`.
    fn inner(&mut self, r: Range<usize>, name: &str) {
        let Some((ty, p)) = self.ethernet(r, name) else {
            return;
        };
        match ty {
            EthernetProtocol::Arp => self.arp(p),
            EthernetProtocol::Ipv4 => {
                let Some((proto, r)) = self.ipv4(p, "IPv4") else {
                    return;
                };
                match proto {
                    IpProtocol::Icmp => self.icmp(r),
                    IpProtocol::Tcp => self.tcp(r),
                    IpProtocol::Udp => self.host_udp(r),
                    _ => {}
                }
            }
            EthernetProtocol::Ipv6 => {
                let Some((proto, r)) = self.ipv6(p, "IPv6") else {
                    return;
                };
                match proto {
                    IpProtocol::Icmpv6 => self.icmpv6(r),
                    IpProtocol::Tcp => self.tcp(r),
                    IpProtocol::Udp => self.host_udp(r),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn vxlan(&mut self, r: Range<usize>) {
        let Some(p) = self
            .bytes(&r)
            .and_then(|b| vxlan::Packet::new_checked(b).ok())
        else {
            return;
        };
        let (at, flags, vni) = (r.start, p.flags(), p.vni().get());
        self.layer("VXLAN", format!("VNI {vni}"), at..at + vxlan::HEADER_LEN);
        self.fields(at, vxlan::FIELDS, |n| match n {
            "Flags" => Some(format!(
                "{flags:#04x}{}",
                if flags & vxlan::FLAG_VNI_VALID != 0 {
                    " (I: VNI valid)"
                } else {
                    ""
                }
            )),
            "VNI" => Some(vni_value(vni)),
            _ => None,
        });
        self.inner(at + vxlan::HEADER_LEN..r.end, "Inner Ethernet");
    }

    fn geneve(&mut self, r: Range<usize>) {
        let Some(p) = self
            .bytes(&r)
            .and_then(|b| geneve::Packet::new_checked(b).ok())
        else {
            return;
        };
        let (at, vni, header_len) = (r.start, p.vni().get(), p.header_len());
        self.layer("Geneve", format!("VNI {vni}"), at..at + header_len);
        self.fields(at, geneve::FIELDS, |n| {
            Some(match n {
                "Version" => p.version().to_string(),
                "Options length" => format!("{} bytes", p.options_len()),
                "Flags" => format!("O={} C={}", u8::from(p.oam()), u8::from(p.critical())),
                "Protocol" => format!(
                    "{:#06x}{}",
                    p.protocol_type(),
                    if p.protocol_type() == ETHERTYPE_TRANSPARENT_ETHERNET {
                        " (Ethernet)"
                    } else {
                        ""
                    }
                ),
                "VNI" => vni_value(vni),
                _ => return None,
            })
        });
        if p.options_len() > 0 {
            self.field(
                "Options",
                format!("{} bytes", p.options_len()),
                at + geneve::HEADER_LEN..at + header_len,
            );
        }
        self.inner(at + header_len..r.end, "Inner Ethernet");
    }

    fn nvgre(&mut self, r: Range<usize>) {
        let Some(p) = self
            .bytes(&r)
            .and_then(|b| nvgre::Packet::new_checked(b).ok())
        else {
            return;
        };
        let (at, vsid) = (r.start, p.vsid().get());
        self.layer(
            "NVGRE (GRE)",
            format!("VSID {vsid}"),
            at..at + nvgre::HEADER_LEN,
        );
        self.fields(at, nvgre::FIELDS, |n| {
            Some(match n {
                "Flags / version" => format!(
                    "{:#06x}{}",
                    p.flags_version(),
                    if p.key_present() {
                        " (K: key present)"
                    } else {
                        ""
                    }
                ),
                "Protocol" => format!(
                    "{:#06x}{}",
                    p.protocol(),
                    if p.protocol() == ETHERTYPE_TRANSPARENT_ETHERNET {
                        " (Transparent Ethernet Bridging)"
                    } else {
                        ""
                    }
                ),
                "VSID" => vni_value(vsid),
                "Flow ID" => p.flow_id().to_string(),
                _ => return None,
            })
        });
        self.inner(at + p.header_len()..r.end, "Inner Ethernet");
    }

    /// Outer headers of a tunnelled or control-plane frame, then what they carry; false (and
    /// nothing added) when the frame is neither.
    fn outer(&mut self) -> bool {
        let b = self.b;
        let Ok(eth) = EthernetFrame::new_checked(b) else {
            return false;
        };
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return false;
        }
        let Ok((repr, body)) = outer::parse(eth.payload()) else {
            return false;
        };
        let body = ETHERNET_LEN + body.start..ETHERNET_LEN + body.end;
        let port = match repr.transport {
            Transport::Udp { dst_port, .. } => {
                if ![VXLAN_PORT, GENEVE_PORT].contains(&dst_port) {
                    return false;
                }
                Some(dst_port)
            }
            Transport::Gre => None,
        };
        let prefix = "Outer ";
        let all = 0..b.len();
        let Some((_, ip)) = self.ethernet(all, &format!("{prefix}Ethernet")) else {
            return false;
        };
        let Some((_, ip_payload)) = self.ipv4(ip, &format!("{prefix}IPv4")) else {
            return false;
        };
        match port {
            Some(port) => {
                let note = if port == VXLAN_PORT {
                    " (VXLAN)"
                } else {
                    " (Geneve)"
                };
                if self
                    .udp(ip_payload, &format!("{prefix}UDP"), note)
                    .is_none()
                {
                    return true;
                }
                if port == VXLAN_PORT {
                    self.vxlan(body);
                } else {
                    self.geneve(body);
                }
            }
            None => self.nvgre(body),
        }
        true
    }
}

/// Reads `bytes` (an Ethernet frame) into layers.
pub fn dissect(bytes: &[u8]) -> Dissection {
    let mut d = Builder {
        b: bytes,
        layers: Vec::new(),
    };
    if !d.outer() {
        d.layers.clear();
        d.inner(0..bytes.len(), "Ethernet");
    }
    Dissection {
        len: bytes.len(),
        layers: d.layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use vtep_core::pcap::PcapWriter;
    use vtep_core::wire::outer::{OuterRepr, UdpChecksum};
    use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};
    use vtep_core::{Instant, Vni, sample};

    fn names(d: &Dissection) -> Vec<String> {
        d.layers.iter().map(|l| l.name.clone()).collect()
    }

    /// The first field `name` of a layer called `layer` (BGP has many "Path attribute"s).
    fn field<'a>(d: &'a Dissection, layer: &str, name: &str) -> &'a Field {
        d.layers
            .iter()
            .filter(|l| l.name == layer)
            .find_map(|l| l.fields.iter().find(|f| f.name == name))
            .unwrap_or_else(|| panic!("{layer}/{name} in {:?}", names(d)))
    }

    /// The frame reads as `layers`, and each `(layer, field, value, range)` is as given.
    fn check(bytes: &[u8], layers: &[&str], fields: &[(&str, &str, &str, Range<usize>)]) {
        let d = dissect(bytes);
        assert_eq!(names(&d), layers);
        for (layer, name, value, range) in fields {
            let f = field(&d, layer, name);
            assert_eq!(
                (f.value.as_str(), &f.range),
                (*value, range),
                "{layer}/{name}"
            );
        }
    }

    const VNI: u32 = 5001;
    const UNDERLAY_A: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0xaa, 0x01]);
    const UNDERLAY_B: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0xaa, 0x02]);
    /// A Geneve option TLV: class 0x0103, type 0x01, one word of data.
    const GENEVE_OPTION: [u8; 8] = [0x01, 0x03, 0x01, 0x01, 0xde, 0xad, 0xbe, 0xef];

    #[derive(Clone, Copy)]
    enum Tunnel {
        Geneve,
        Nvgre,
    }

    /// `inner` in a tunnel from 10.200.0.1 to 10.200.0.2, built in place with the core's
    /// emitters as the engine does: Geneve with [`GENEVE_OPTION`] and UDP source port 49999,
    /// NVGRE with flow ID 0x5a.
    fn encapsulate(inner: &[u8], tunnel: Tunnel) -> Vec<u8> {
        let vni = Vni::new(VNI).unwrap();
        let headroom = outer::MAX_HEADROOM + GENEVE_OPTION.len();
        let mut buf = vec![0u8; headroom + inner.len()];
        buf[headroom..].copy_from_slice(inner);
        let (start, transport) = match tunnel {
            Tunnel::Geneve => {
                let r = geneve::Repr {
                    vni,
                    oam: false,
                    critical: false,
                    protocol: ETHERTYPE_TRANSPARENT_ETHERNET,
                    options: &GENEVE_OPTION,
                };
                let start = headroom - r.buffer_len();
                r.emit(&mut geneve::Packet::new_unchecked(&mut buf[start..]));
                let udp = Transport::Udp {
                    src_port: 49999,
                    dst_port: GENEVE_PORT,
                };
                (start, udp)
            }
            Tunnel::Nvgre => {
                let r = nvgre::Repr {
                    vsid: vni,
                    flow_id: 0x5a,
                };
                let start = headroom - r.buffer_len();
                r.emit(&mut nvgre::Packet::new_unchecked(&mut buf[start..]));
                (start, Transport::Gre)
            }
        };
        let repr = OuterRepr {
            src: IpAddress::Ipv4(Ipv4Address::new(10, 200, 0, 1)),
            dst: IpAddress::Ipv4(Ipv4Address::new(10, 200, 0, 2)),
            transport,
            hop_limit: 64,
            udp_checksum: UdpChecksum::Compute,
        };
        let end = buf.len();
        let ip = repr.emit(&mut buf, start..end).unwrap();
        let start = outer::emit_ethernet(
            &mut buf,
            ip.start,
            UNDERLAY_A,
            UNDERLAY_B,
            EthernetProtocol::Ipv4,
        )
        .unwrap();
        buf.drain(..start);
        buf
    }

    #[test]
    fn the_core_sample_reads_as_vxlan_around_arp() {
        let bytes = sample::encapsulated_arp();
        let v = sample::SAMPLE_VNI.get();
        let vni = format!("{v} (0x{v:06x})");
        check(
            &bytes,
            &[
                "Outer Ethernet",
                "Outer IPv4",
                "Outer UDP",
                "VXLAN",
                "Inner Ethernet",
                "ARP",
            ],
            &[
                ("Outer UDP", "Destination port", "4789 (VXLAN)", 36..38),
                ("VXLAN", "Flags", "0x08 (I: VNI valid)", 42..43),
                ("VXLAN", "VNI", &vni, 46..49),
                ("Inner Ethernet", "Type", "0x0806 (ARP)", 62..64),
                ("ARP", "Operation", "1 (request)", 70..72),
            ],
        );
    }

    #[test]
    fn geneve_with_an_option_around_icmp() {
        check(
            &encapsulate(&sample::echo_request(), Tunnel::Geneve),
            &[
                "Outer Ethernet",
                "Outer IPv4",
                "Outer UDP",
                "Geneve",
                "Inner Ethernet",
                "IPv4",
                "ICMP",
                "Payload",
            ],
            &[
                ("Outer Ethernet", "Source", "02:00:00:00:aa:01", 6..12),
                ("Outer IPv4", "Protocol", "17 (UDP)", 23..24),
                ("Outer IPv4", "Source", "10.200.0.1", 26..30),
                ("Outer UDP", "Source port", "49999", 34..36),
                ("Outer UDP", "Destination port", "6081 (Geneve)", 36..38),
                ("Geneve", "Version", "0", 42..43),
                ("Geneve", "Options length", "8 bytes", 42..43),
                ("Geneve", "Flags", "O=0 C=0", 43..44),
                ("Geneve", "Protocol", "0x6558 (Ethernet)", 44..46),
                ("Geneve", "VNI", "5001 (0x001389)", 46..49),
                ("Geneve", "Reserved", "0x00", 49..50),
                ("Geneve", "Options", "8 bytes", 50..58),
                ("Inner Ethernet", "Source", "02:00:00:00:00:0a", 64..70),
                ("IPv4", "Destination", "192.168.50.2", 88..92),
                ("ICMP", "Type", "8 (echo request)", 92..93),
                ("ICMP", "Identifier", "4660", 96..98),
                ("ICMP", "Sequence", "7", 98..100),
                ("Payload", "Data", "16 bytes", 100..116),
            ],
        );
    }

    #[test]
    fn nvgre_around_icmp() {
        check(
            &encapsulate(&sample::echo_request(), Tunnel::Nvgre),
            &[
                "Outer Ethernet",
                "Outer IPv4",
                "NVGRE (GRE)",
                "Inner Ethernet",
                "IPv4",
                "ICMP",
                "Payload",
            ],
            &[
                ("Outer IPv4", "Protocol", "47 (GRE)", 23..24),
                ("Outer IPv4", "Total length", "86", 16..18),
                (
                    "NVGRE (GRE)",
                    "Flags / version",
                    "0x2000 (K: key present)",
                    34..36,
                ),
                (
                    "NVGRE (GRE)",
                    "Protocol",
                    "0x6558 (Transparent Ethernet Bridging)",
                    36..38,
                ),
                ("NVGRE (GRE)", "VSID", "5001 (0x001389)", 38..41),
                ("NVGRE (GRE)", "Flow ID", "90", 41..42),
                ("Inner Ethernet", "Destination", "02:00:00:00:00:0b", 42..48),
                ("ICMP", "Sequence", "7", 82..84),
            ],
        );
    }

    /// The first hop of a run whose frame `pick` accepts.
    fn frame_of(run: &vtep_sim::script::Run, pick: impl Fn(&vtep_sim::Hop) -> bool) -> Vec<u8> {
        run.sim
            .trace()
            .iter()
            .find(|h| pick(h))
            .map(|h| h.bytes.to_vec())
            .expect("no such frame")
    }

    fn bgp_of(h: &vtep_sim::Hop, kind: vtep_sim::bgp::MessageKind) -> bool {
        h.layers().bgp().is_some_and(|s| s.has(kind))
    }

    #[test]
    fn a_reflected_update_reads_down_to_every_field() {
        use vtep_sim::bgp::MessageKind;
        // E2: after the migration hv1 (10.1.0.2) advertises vm-b with sequence 1, and rr1
        // (10.0.0.100) reflects it to hv3.
        let run = vtep_sim::scenario::e2().run(1).unwrap();
        let rr = run.node("rr1").unwrap();
        let bytes = frame_of(&run, |h| {
            h.from == rr
                && bgp_of(h, MessageKind::Update)
                && dissect(&h.bytes)
                    .layers
                    .iter()
                    .any(|l| l.fields.iter().any(|f| f.name == "Sticky"))
        });
        let d = dissect(&bytes);
        assert_within(&d, bytes.len());
        assert_eq!(
            names(&d)[..4],
            ["Ethernet", "IPv4", "TCP", "BGP"],
            "{:?}",
            names(&d)
        );
        let value = |layer: &str, name: &str| field(&d, layer, name).value.clone();
        assert_eq!(value("BGP", "Type"), "2 (UPDATE)");
        assert!(value("EVPN route", "Route type").starts_with("2 "));
        assert!(value("EVPN route", "Label 1 (VNI)").starts_with("100 (0x000064)"));
        assert!(value("EVPN route", "Route distinguisher").starts_with("10.1.0.2:1"));
        assert_eq!(value("EVPN route", "ESI"), "0 (single-homed)");
        assert!(value("Path attribute", "Next hop").starts_with("10.1.0.2"));
        let all: Vec<(&str, &str)> = d
            .layers
            .iter()
            .filter(|l| l.name != "TCP")
            .flat_map(|l| l.fields.iter().map(|f| (f.name, f.value.as_str())))
            .collect();
        let has =
            |name: &str, prefix: &str| all.iter().any(|(n, v)| *n == name && v.starts_with(prefix));
        assert!(has("Sequence", "1 "), "MAC mobility sequence 1");
        assert!(has("Sticky", "0 "));
        assert!(has("Route target", "65000:100"));
        assert!(has("Encapsulation", "8 (VXLAN"));
        assert!(has("Originator ID", "10.1.0.2"));
        assert!(has("Cluster ID", "10.0.0.100"));
        assert!(has("IP", "192.168.10.2"));
        // A type-3 route's PMSI tunnel, and an OPEN's capabilities.
        let imet = dissect(&frame_of(&run, |h| {
            bgp_of(h, MessageKind::Update)
                && dissect(&h.bytes)
                    .layers
                    .iter()
                    .any(|l| l.fields.iter().any(|f| f.name == "Tunnel type"))
        }));
        assert_eq!(
            field(&imet, "Path attribute", "Tunnel type").value,
            "6 (ingress replication)"
        );
        assert!(
            field(&imet, "Path attribute", "Label (VNI)")
                .value
                .starts_with("100 ")
        );
        assert!(
            imet.layers
                .iter()
                .filter(|l| l.name == "EVPN route")
                .any(|l| l.fields[0].value.starts_with("3 "))
        );
        let open = dissect(&frame_of(&run, |h| bgp_of(h, MessageKind::Open)));
        assert_eq!(field(&open, "BGP", "Hold time").value, "9 s");
        let caps: Vec<&str> = open.layers[3]
            .fields
            .iter()
            .filter(|f| f.name == "Capability")
            .map(|f| f.value.as_str())
            .collect();
        assert!(
            caps.contains(&"multiprotocol: AFI 25 (L2VPN), SAFI 70 (EVPN)"),
            "{caps:?}"
        );
        assert!(caps.contains(&"4-octet AS: 65000"), "{caps:?}");
    }

    /// Frames of the scenarios with TCP (S2), every encapsulation (S9) and BGP EVPN (S8, and
    /// E2's migration: MAC mobility, withdrawals), plus the hand-built Geneve and NVGRE frames.
    fn sample_frames() -> Vec<Vec<u8>> {
        let mut frames = vec![
            sample::encapsulated_arp(),
            encapsulate(&sample::echo_request(), Tunnel::Geneve),
            encapsulate(&sample::echo_request(), Tunnel::Nvgre),
        ];
        for (sc, take) in [
            (vtep_sim::scenario::s2(), 300),
            (vtep_sim::scenario::s8(), 300),
            (vtep_sim::scenario::s9(), 1000),
            (vtep_sim::scenario::e2(), 1000),
        ] {
            let run = sc.run(1).unwrap();
            frames.extend(run.sim.trace().iter().take(take).map(|h| h.bytes.to_vec()));
            // The IPv6 steps of S2 (flood and learn) and S8 (ND answered by the VTEPs):
            // solicitations, advertisements, echoes, the first TCP segments.
            let ipv6 = run
                .sim
                .trace()
                .iter()
                .filter(|h| h.layers().ipv6().is_some());
            frames.extend(ipv6.take(80).map(|h| h.bytes.to_vec()));
        }
        frames
    }

    /// Layers lie in the buffer, each after the one before; fields lie in their layer.
    fn assert_within(d: &Dissection, len: usize) {
        let mut from = 0;
        for l in &d.layers {
            assert!(
                from <= l.range.start && l.range.start <= l.range.end && l.range.end <= len,
                "{}: {:?} after {from}, buffer {len}",
                l.name,
                l.range
            );
            from = l.range.end;
            for f in &l.fields {
                assert!(
                    l.range.start <= f.range.start && f.range.end <= l.range.end,
                    "{}/{}: {:?} outside {:?}",
                    l.name,
                    f.name,
                    f.range,
                    l.range
                );
            }
        }
    }

    #[test]
    fn every_frame_and_every_truncation_dissects_within_bounds() {
        for bytes in sample_frames() {
            let whole = dissect(&bytes);
            assert!(whole.layers.len() >= 2, "{:?}", names(&whole));
            assert_within(&whole, bytes.len());
            // A cut frame reads as fewer or other layers, only ever of the bytes it has; from
            // 14 bytes on there is an Ethernet header to show.
            for n in 0..bytes.len() {
                let d = dissect(&bytes[..n]);
                assert_eq!(d.len, n);
                assert_within(&d, n);
                if n < ETHERNET_LEN {
                    assert!(d.layers.is_empty(), "{n} bytes: {:?}", names(&d));
                } else {
                    assert!(
                        d.layers[0].name.ends_with("Ethernet"),
                        "{n} bytes: {:?}",
                        names(&d)
                    );
                }
            }
        }
    }

    /// How tshark shows one of our fields: its field name, how many bytes before ours it
    /// starts, its size when wider than ours, and which part of its number ours shows.
    struct Peer {
        name: &'static str,
        /// Another name tshark gives the field in some messages (MP_UNREACH's AFI, say).
        alt: Option<&'static str>,
        back: usize,
        size: Option<usize>,
        part: Part,
    }

    #[derive(Clone, Copy)]
    enum Part {
        Whole,
        Shr(u32),
        LowByte,
        /// Only the byte range is compared (tshark shows the bytes, we a length).
        RangeOnly,
    }

    const fn same(name: &'static str) -> Peer {
        Peer {
            name,
            alt: None,
            back: 0,
            size: None,
            part: Part::Whole,
        }
    }

    /// Our layer (without "Outer " / "Inner ") and field -> tshark's. Fields tshark splits
    /// differently (IPv4 flags and fragment offset, VXLAN's reserved bytes, Geneve's flag bits)
    /// have none.
    fn peer(layer: &str, field: &str) -> Option<Peer> {
        Some(match (layer, field) {
            ("Ethernet", "Destination") => same("eth.dst"),
            ("Ethernet", "Source") => same("eth.src"),
            ("Ethernet", "Type") => same("eth.type"),
            ("IPv4", "Version") => same("ip.version"),
            ("IPv4", "Header length") => same("ip.hdr_len"),
            ("IPv4", "DSCP / ECN") => same("ip.dsfield"),
            ("IPv4", "Total length") => same("ip.len"),
            ("IPv4", "Identification") => same("ip.id"),
            ("IPv4", "TTL") => same("ip.ttl"),
            ("IPv4", "Protocol") => same("ip.proto"),
            ("IPv4", "Checksum") => same("ip.checksum"),
            ("IPv4", "Source") => same("ip.src"),
            ("IPv4", "Destination") => same("ip.dst"),
            ("UDP", "Source port") => same("udp.srcport"),
            ("UDP", "Destination port") => same("udp.dstport"),
            ("UDP", "Length") => same("udp.length"),
            ("UDP", "Checksum") => same("udp.checksum"),
            ("VXLAN", "Flags") => Peer {
                size: Some(2),
                part: Part::Shr(8),
                ..same("vxlan.flags")
            },
            ("VXLAN", "VNI") => same("vxlan.vni"),
            ("Geneve", "Version") => same("geneve.version"),
            ("Geneve", "Options length") => same("geneve.option.length"),
            ("Geneve", "Protocol") => same("geneve.proto_type"),
            ("Geneve", "VNI") => same("geneve.vni"),
            ("Geneve", "Options") => Peer {
                part: Part::RangeOnly,
                ..same("geneve.options")
            },
            // This tshark has no NVGRE dissector: the key holds VSID and flow ID.
            ("NVGRE (GRE)", "Flags / version") => same("gre.flags_and_version"),
            ("NVGRE (GRE)", "Protocol") => same("gre.proto"),
            ("NVGRE (GRE)", "VSID") => Peer {
                size: Some(4),
                part: Part::Shr(8),
                ..same("gre.key")
            },
            ("NVGRE (GRE)", "Flow ID") => Peer {
                back: 3,
                size: Some(4),
                part: Part::LowByte,
                ..same("gre.key")
            },
            ("ARP", "Hardware type") => same("arp.hw.type"),
            ("ARP", "Protocol type") => same("arp.proto.type"),
            ("ARP", "Hardware size") => same("arp.hw.size"),
            ("ARP", "Protocol size") => same("arp.proto.size"),
            ("ARP", "Operation") => same("arp.opcode"),
            ("ARP", "Sender MAC") => same("arp.src.hw_mac"),
            ("ARP", "Sender IP") => same("arp.src.proto_ipv4"),
            ("ARP", "Target MAC") => same("arp.dst.hw_mac"),
            ("ARP", "Target IP") => same("arp.dst.proto_ipv4"),
            ("ICMP", "Type") => same("icmp.type"),
            ("ICMP", "Code") => same("icmp.code"),
            ("ICMP", "Checksum") => same("icmp.checksum"),
            ("ICMP", "Identifier") => same("icmp.ident"),
            ("ICMP", "Sequence") => same("icmp.seq"),
            ("TCP", "Source port") => same("tcp.srcport"),
            ("TCP", "Destination port") => same("tcp.dstport"),
            ("TCP", "Sequence") => same("tcp.seq_raw"),
            ("TCP", "Acknowledgment") => same("tcp.ack_raw"),
            ("TCP", "Header length") => same("tcp.hdr_len"),
            ("TCP", "Flags") => Peer {
                back: 1,
                size: Some(2),
                part: Part::LowByte,
                ..same("tcp.flags")
            },
            ("TCP", "Window") => same("tcp.window_size_value"),
            ("TCP", "Checksum") => same("tcp.checksum"),
            ("TCP", "Urgent pointer") => same("tcp.urgent_pointer"),
            ("TCP", "Options") => Peer {
                part: Part::RangeOnly,
                ..same("tcp.options")
            },
            ("IPv6", "Version") => same("ipv6.version"),
            ("IPv6", "Payload length") => same("ipv6.plen"),
            ("IPv6", "Next header") => same("ipv6.nxt"),
            ("IPv6", "Hop limit") => same("ipv6.hlim"),
            ("IPv6", "Source") => same("ipv6.src"),
            ("IPv6", "Destination") => same("ipv6.dst"),
            ("ICMPv6", "Type") => same("icmpv6.type"),
            ("ICMPv6", "Code") => same("icmpv6.code"),
            ("ICMPv6", "Checksum") => same("icmpv6.checksum"),
            ("ICMPv6", "Identifier") => same("icmpv6.echo.identifier"),
            ("ICMPv6", "Sequence") => same("icmpv6.echo.sequence_number"),
            // tshark shows the reserved bytes, we their value.
            ("ICMPv6", "Reserved") => Peer {
                part: Part::RangeOnly,
                ..same("icmpv6.reserved")
            },
            ("ICMPv6", "Flags") => same("icmpv6.nd.na.flag"),
            ("ICMPv6", "R (router)") => Peer {
                size: Some(4),
                ..same("icmpv6.nd.na.flag.r")
            },
            ("ICMPv6", "S (solicited)") => Peer {
                size: Some(4),
                ..same("icmpv6.nd.na.flag.s")
            },
            ("ICMPv6", "O (override)") => Peer {
                size: Some(4),
                ..same("icmpv6.nd.na.flag.o")
            },
            ("ICMPv6", "Target") => Peer {
                alt: Some("icmpv6.nd.na.target_address"),
                ..same("icmpv6.nd.ns.target_address")
            },
            ("ND option", "Option type") => same("icmpv6.opt.type"),
            ("ND option", "Option length") => same("icmpv6.opt.length"),
            ("ND option", "Link-layer address") => same("icmpv6.opt.linkaddr"),
            ("BGP", "Length") => same("bgp.length"),
            ("BGP", "Type") => same("bgp.type"),
            ("BGP", "Withdrawn routes length") => same("bgp.update.withdrawn_routes.length"),
            ("BGP", "Path attributes length") => same("bgp.update.path_attributes.length"),
            ("BGP", "Version") => same("bgp.open.version"),
            ("BGP", "My AS") => same("bgp.open.myas"),
            ("BGP", "Hold time") => same("bgp.open.holdtime"),
            ("BGP", "BGP identifier") => same("bgp.open.identifier"),
            ("BGP", "Optional parameters length") => same("bgp.open.opt.len"),
            ("BGP", "Capability") => Peer {
                part: Part::RangeOnly,
                ..same("bgp.cap")
            },
            ("BGP", "AFI") => same("bgp.cap.mp.afi"),
            ("BGP", "SAFI") => same("bgp.cap.mp.safi"),
            ("BGP", "Error code") => same("bgp.notify.major_error"),
            ("Path attribute", "Flags") => same("bgp.update.path_attribute.flags"),
            ("Path attribute", "Type code") => same("bgp.update.path_attribute.type_code"),
            ("Path attribute", "Length") => same("bgp.update.path_attribute.length"),
            ("Path attribute", "Origin") => same("bgp.update.path_attribute.origin"),
            ("Path attribute", "Local preference") => same("bgp.update.path_attribute.local_pref"),
            ("Path attribute", "Originator ID") => same("bgp.update.path_attribute.originator_id"),
            ("Path attribute", "Cluster ID") => same("bgp.path_attribute.cluster_id"),
            ("Path attribute", "AFI") => Peer {
                alt: Some("bgp.update.path_attribute.mp_unreach_nlri.afi"),
                ..same("bgp.update.path_attribute.mp_reach_nlri.afi")
            },
            ("Path attribute", "SAFI") => Peer {
                alt: Some("bgp.update.path_attribute.mp_unreach_nlri.safi"),
                ..same("bgp.update.path_attribute.mp_reach_nlri.safi")
            },
            ("Path attribute", "Next hop") => {
                same("bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4")
            }
            ("Path attribute", "Reserved") => {
                same("bgp.update.path_attribute.mp_reach_nlri.nbr_snpa")
            }
            ("Path attribute", "Route target" | "Encapsulation") => Peer {
                part: Part::RangeOnly,
                ..same("bgp.ext_community")
            },
            ("Path attribute", "Sticky") => same("bgp.ext_com_evpn.mmac.flags"),
            ("Path attribute", "Sequence") => same("bgp.ext_com_evpn.mmac.seq"),
            ("Path attribute", "PMSI flags") => same("bgp.update.path_attribute.pmsi.tunnel.flags"),
            ("Path attribute", "Tunnel type") => same("bgp.update.path_attribute.pmsi.tunnel.type"),
            ("Path attribute", "Tunnel endpoint") => {
                same("bgp.update.path_attribute.pmsi.ingress_rep_ip")
            }
            ("EVPN route", "Route type") => same("bgp.evpn.nlri.rt"),
            ("EVPN route", "Length") => same("bgp.evpn.nlri.len"),
            // tshark shows the RD's and ESI's bytes, we their meaning; and Label 1 as a
            // 20-bit MPLS label (VNI >> 4, the design notes' section 6), we as the VNI.
            ("EVPN route", "Route distinguisher") => Peer {
                part: Part::RangeOnly,
                ..same("bgp.evpn.nlri.rd")
            },
            ("EVPN route", "ESI") => Peer {
                part: Part::RangeOnly,
                ..same("bgp.evpn.nlri.esi")
            },
            // (Which of the two it shows depends on what it saw before in the frame.)
            ("EVPN route", "Label 1 (VNI)") => Peer {
                part: Part::RangeOnly,
                alt: Some("bgp.evpn.nlri.vni"),
                ..same("bgp.evpn.nlri.mpls_ls1")
            },
            ("EVPN route", "Ethernet tag") => same("bgp.evpn.nlri.etag"),
            ("EVPN route", "MAC length") => same("bgp.evpn.nlri.maclen"),
            ("EVPN route", "MAC") => same("bgp.evpn.nlri.mac_addr"),
            ("EVPN route", "IP length") => same("bgp.evpn.nlri.iplen"),
            ("EVPN route", "IP" | "Originating router") => Peer {
                alt: Some("bgp.evpn.nlri.ipv6.addr"),
                ..same("bgp.evpn.nlri.ip.addr")
            },
            _ => return None,
        })
    }

    /// tshark's protocol name for a layer of ours (none for the payload and EVPN routes, which
    /// it does not decode).
    fn peer_proto(layer: &str) -> Option<&'static str> {
        Some(match layer {
            "Ethernet" => "eth",
            "IPv4" => "ip",
            "UDP" => "udp",
            "VXLAN" => "vxlan",
            "Geneve" => "geneve",
            "NVGRE (GRE)" => "gre",
            "ARP" => "arp",
            "ICMP" => "icmp",
            "IPv6" => "ipv6",
            "ICMPv6" => "icmpv6",
            "TCP" => "tcp",
            "BGP" => "bgp",
            _ => return None,
        })
    }

    /// One packet of tshark's PDML: its protocols, and its fields as (name, pos, size, show).
    #[derive(Default)]
    struct Pdml {
        protos: Vec<String>,
        fields: Vec<(String, usize, usize, String)>,
    }

    fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
        let key = format!(" {name}=\"");
        let from = line.find(&key)? + key.len();
        Some(&line[from..from + line[from..].find('"')?])
    }

    fn pdml(frames: &[Vec<u8>]) -> Vec<Pdml> {
        let mut pcap = PcapWriter::new();
        for (i, f) in frames.iter().enumerate() {
            pcap.write_frame(Instant::from_micros(i as i64), f);
        }
        let path = std::env::temp_dir().join(format!(
            "overlay-lab-dissect-{}-{:?}.pcap",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, pcap.as_bytes()).unwrap();
        // The trace holds each frame once per link it crossed: without sequence analysis
        // tshark reads a BGP segment's second copy as BGP too, not as a retransmission; and
        // like the inspector it reads each segment on its own, not reassembled.
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-o", "tcp.analyze_sequence_numbers:FALSE"])
            .args(["-o", "tcp.desegment_tcp_streams:FALSE"])
            .args(["-T", "pdml"])
            .output()
            .expect("running tshark");
        let _ = std::fs::remove_file(&path);
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut packets = Vec::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let line = line.trim_start();
            if line.starts_with("<packet>") {
                packets.push(Pdml::default());
            }
            let (Some(p), Some(name)) = (packets.last_mut(), attr(line, "name")) else {
                continue;
            };
            if line.starts_with("<proto ") {
                p.protos.push(name.to_string());
            } else if line.starts_with("<field ")
                && let (Some(pos), Some(size), Some(show)) =
                    (attr(line, "pos"), attr(line, "size"), attr(line, "show"))
            {
                p.fields.push((
                    name.to_string(),
                    pos.parse().unwrap(),
                    size.parse().unwrap(),
                    show.to_string(),
                ));
            }
        }
        packets
    }

    /// A decimal or `0x` hexadecimal number.
    fn number(s: &str) -> Option<u64> {
        match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        }
    }

    /// tshark's names of the protocols we read.
    const PROTOS: [&str; 12] = [
        "eth", "ip", "udp", "vxlan", "geneve", "gre", "arp", "icmp", "ipv6", "icmpv6", "tcp", "bgp",
    ];

    /// Wireshark's dissectors (tshark) read every frame as we do: the same protocols in the same
    /// order, and for each field they also show, the same byte range and value.
    #[test]
    fn tshark_reads_every_field_as_we_do() {
        const MISSING: &str =
            "tshark is missing: run `cargo xtask setup` (installs Debian's tshark)";
        if Command::new("tshark").arg("--version").output().is_err() {
            assert!(
                std::env::var_os("OVERLAY_LAB_REQUIRE_TOOLS").is_none(),
                "{MISSING}"
            );
            eprintln!("skipping: {MISSING}");
            return;
        }
        let frames = sample_frames();
        let packets = pdml(&frames);
        assert_eq!(packets.len(), frames.len(), "one PDML packet per frame");
        let kind = |l: &Layer| {
            let n = l.name.as_str();
            n.strip_prefix("Outer ")
                .or_else(|| n.strip_prefix("Inner "))
                .unwrap_or(n)
                .to_string()
        };
        let mut checked = std::collections::BTreeMap::<&str, usize>::new();
        for (i, (bytes, theirs)) in frames.iter().zip(&packets).enumerate() {
            let ours = dissect(bytes);
            let our_protos: Vec<&str> = ours
                .layers
                .iter()
                .filter_map(|l| peer_proto(&kind(l)))
                .collect();
            let their_protos: Vec<&str> = theirs
                .protos
                .iter()
                .map(String::as_str)
                .filter(|p| PROTOS.contains(p))
                .collect();
            assert_eq!(our_protos, their_protos, "frame {i}: {:?}", names(&ours));
            for l in &ours.layers {
                let layer = kind(l);
                for f in &l.fields {
                    let Some(p) = peer(&layer, f.name) else {
                        continue;
                    };
                    let at = f.range.start - p.back;
                    let Some((_, _, size, show)) = theirs.fields.iter().find(|(n, pos, _, _)| {
                        (n == p.name || Some(n.as_str()) == p.alt) && *pos == at
                    }) else {
                        panic!(
                            "frame {i}: no {} at {at} for our {}/{} {:?}",
                            p.name, l.name, f.name, f.range
                        );
                    };
                    assert_eq!(
                        *size,
                        p.size.unwrap_or(f.range.len()),
                        "frame {i}: {}/{} {:?} against {}",
                        l.name,
                        f.name,
                        f.range,
                        p.name
                    );
                    let mine = f.value.split(' ').next().unwrap_or_default();
                    let agree = match (p.part, number(mine), number(show)) {
                        (Part::RangeOnly, _, _) => true,
                        (Part::Whole, Some(a), Some(b)) => a == b,
                        (Part::Shr(n), Some(a), Some(b)) => a == b >> n,
                        (Part::LowByte, Some(a), Some(b)) => a == b & 0xff,
                        _ => mine.eq_ignore_ascii_case(show),
                    };
                    assert!(
                        agree,
                        "frame {i}: {}/{} is {:?}, tshark's {} is {show:?}",
                        l.name, f.name, f.value, p.name
                    );
                    *checked
                        .entry(peer_proto(&layer).unwrap_or("?"))
                        .or_default() += 1;
                }
            }
        }
        // Every kind of layer was compared, the tunnels many times.
        eprintln!("fields compared with tshark, by protocol: {checked:?}");
        for proto in PROTOS {
            assert!(
                checked.get(proto).copied().unwrap_or(0) >= 5,
                "{proto}: {checked:?}"
            );
        }
    }
}
