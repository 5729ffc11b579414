//! The frame inspector's model: a frame read layer by layer into fields, each with the byte
//! range it occupies, so the hex dump can light up the bytes of the selected field. Reads
//! outer Ethernet / IPv4 / UDP / VXLAN | Geneve | GRE (NVGRE) | EVPN-like control messages,
//! then the inner Ethernet / ARP | IPv4 / ICMP | UDP | TCP. Bounds are checked everywhere:
//! a short or odd frame gives fewer layers, never a panic.

use std::ops::Range;

use vtep_core::wire::flow::{GENEVE_PORT, VXLAN_PORT};
use vtep_sim::cp::{self, RouteMsg};

/// One field of a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub value: String,
    pub range: Range<usize>,
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

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ipv4(b: &[u8]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

struct Builder<'a> {
    b: &'a [u8],
    layers: Vec<Layer>,
}

impl Builder<'_> {
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
            l.fields.push(Field { name, value, range });
        }
    }

    /// Ethernet at `o`: returns the ethertype and where the payload starts.
    fn ethernet(&mut self, o: usize, name: &str) -> Option<(u16, usize)> {
        let b = self.b;
        if b.len() < o + 14 {
            return None;
        }
        let ty = be16(b, o + 12);
        let bcast = b[o..o + 6].iter().all(|x| *x == 0xff);
        self.layer(
            name,
            format!(
                "{} > {}{}",
                mac(&b[o + 6..o + 12]),
                mac(&b[o..o + 6]),
                if bcast { " (broadcast)" } else { "" }
            ),
            o..o + 14,
        );
        self.field("Destination", mac(&b[o..o + 6]), o..o + 6);
        self.field("Source", mac(&b[o + 6..o + 12]), o + 6..o + 12);
        let tname = match ty {
            0x0800 => " (IPv4)",
            0x0806 => " (ARP)",
            0x86dd => " (IPv6)",
            0x8100 => " (802.1Q)",
            _ => "",
        };
        self.field("Type", format!("{ty:#06x}{tname}"), o + 12..o + 14);
        Some((ty, o + 14))
    }

    /// IPv4 at `o`: returns the protocol and the payload's range.
    fn ipv4(&mut self, o: usize, name: &str) -> Option<(u8, Range<usize>)> {
        let b = self.b;
        if b.len() < o + 20 || b[o] >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(b[o] & 0x0f) * 4;
        let total = usize::from(be16(b, o + 2));
        if ihl < 20 || b.len() < o + ihl {
            return None;
        }
        let end = (o + total).min(b.len()).max(o + ihl);
        let proto = b[o + 9];
        let pname = match proto {
            1 => " (ICMP)",
            6 => " (TCP)",
            17 => " (UDP)",
            47 => " (GRE)",
            _ => "",
        };
        self.layer(
            name,
            format!(
                "{} > {}{pname}",
                ipv4(&b[o + 12..o + 16]),
                ipv4(&b[o + 16..o + 20])
            ),
            o..o + ihl,
        );
        self.field("Version", "4".into(), o..o + 1);
        self.field("Header length", format!("{ihl} bytes"), o..o + 1);
        self.field("DSCP / ECN", format!("{:#04x}", b[o + 1]), o + 1..o + 2);
        self.field("Total length", total.to_string(), o + 2..o + 4);
        self.field(
            "Identification",
            format!("{:#06x}", be16(b, o + 4)),
            o + 4..o + 6,
        );
        let ff = be16(b, o + 6);
        self.field(
            "Flags / fragment",
            format!(
                "{}offset {}",
                if ff & 0x4000 != 0 { "DF, " } else { "" },
                ff & 0x1fff
            ),
            o + 6..o + 8,
        );
        self.field("TTL", b[o + 8].to_string(), o + 8..o + 9);
        self.field("Protocol", format!("{proto}{pname}"), o + 9..o + 10);
        self.field(
            "Checksum",
            format!("{:#06x}", be16(b, o + 10)),
            o + 10..o + 12,
        );
        self.field("Source", ipv4(&b[o + 12..o + 16]), o + 12..o + 16);
        self.field("Destination", ipv4(&b[o + 16..o + 20]), o + 16..o + 20);
        Some((proto, o + ihl..end))
    }

    fn udp(&mut self, o: usize, name: &str, note: &str) -> Option<(u16, u16, usize)> {
        let b = self.b;
        if b.len() < o + 8 {
            return None;
        }
        let (sp, dp) = (be16(b, o), be16(b, o + 2));
        self.layer(name, format!("{sp} > {dp}{note}"), o..o + 8);
        self.field("Source port", sp.to_string(), o..o + 2);
        self.field("Destination port", format!("{dp}{note}"), o + 2..o + 4);
        self.field("Length", be16(b, o + 4).to_string(), o + 4..o + 6);
        self.field("Checksum", format!("{:#06x}", be16(b, o + 6)), o + 6..o + 8);
        Some((sp, dp, o + 8))
    }

    fn arp(&mut self, o: usize) {
        let b = self.b;
        if b.len() < o + 28 {
            return;
        }
        let op = be16(b, o + 6);
        let (spa, tpa) = (ipv4(&b[o + 14..o + 18]), ipv4(&b[o + 24..o + 28]));
        let summary = match op {
            1 if spa == tpa => format!("gratuitous: {spa} is at {}", mac(&b[o + 8..o + 14])),
            1 => format!("who has {tpa}? tell {spa}"),
            2 => format!("{spa} is at {}", mac(&b[o + 8..o + 14])),
            _ => format!("operation {op}"),
        };
        self.layer("ARP", summary, o..o + 28);
        self.field("Hardware type", be16(b, o).to_string(), o..o + 2);
        self.field(
            "Protocol type",
            format!("{:#06x}", be16(b, o + 2)),
            o + 2..o + 4,
        );
        self.field("Hardware size", b[o + 4].to_string(), o + 4..o + 5);
        self.field("Protocol size", b[o + 5].to_string(), o + 5..o + 6);
        let opname = match op {
            1 => "1 (request)",
            2 => "2 (reply)",
            _ => "?",
        };
        self.field("Operation", opname.into(), o + 6..o + 8);
        self.field("Sender MAC", mac(&b[o + 8..o + 14]), o + 8..o + 14);
        self.field("Sender IP", spa, o + 14..o + 18);
        self.field("Target MAC", mac(&b[o + 18..o + 24]), o + 18..o + 24);
        self.field("Target IP", tpa, o + 24..o + 28);
    }

    fn icmp(&mut self, r: Range<usize>) {
        let (b, o) = (self.b, r.start);
        if r.end < o + 8 {
            return;
        }
        let ty = b[o];
        let tname = match ty {
            0 => "echo reply",
            8 => "echo request",
            3 => "destination unreachable",
            11 => "time exceeded",
            _ => "",
        };
        self.layer(
            "ICMP",
            format!("{tname} id {} seq {}", be16(b, o + 4), be16(b, o + 6)),
            o..o + 8,
        );
        self.field("Type", format!("{ty} ({tname})"), o..o + 1);
        self.field("Code", b[o + 1].to_string(), o + 1..o + 2);
        self.field("Checksum", format!("{:#06x}", be16(b, o + 2)), o + 2..o + 4);
        self.field("Identifier", be16(b, o + 4).to_string(), o + 4..o + 6);
        self.field("Sequence", be16(b, o + 6).to_string(), o + 6..o + 8);
        if r.end > o + 8 {
            self.payload(o + 8..r.end);
        }
    }

    fn tcp(&mut self, r: Range<usize>) {
        let (b, o) = (self.b, r.start);
        if r.end < o + 20 {
            return;
        }
        let off = usize::from(b[o + 12] >> 4) * 4;
        let hdr_end = (o + off.max(20)).min(r.end);
        let flags = b[o + 13];
        let mut f = Vec::new();
        for (bit, n) in [(2, "SYN"), (16, "ACK"), (1, "FIN"), (4, "RST"), (8, "PSH")] {
            if flags & bit != 0 {
                f.push(n);
            }
        }
        let f = f.join(", ");
        self.layer(
            "TCP",
            format!(
                "{} > {} [{f}] len {}",
                be16(b, o),
                be16(b, o + 2),
                r.end - hdr_end
            ),
            o..hdr_end,
        );
        self.field("Source port", be16(b, o).to_string(), o..o + 2);
        self.field("Destination port", be16(b, o + 2).to_string(), o + 2..o + 4);
        self.field("Sequence", be32(b, o + 4).to_string(), o + 4..o + 8);
        self.field("Acknowledgment", be32(b, o + 8).to_string(), o + 8..o + 12);
        self.field("Header length", format!("{off} bytes"), o + 12..o + 13);
        self.field("Flags", format!("{flags:#04x} ({f})"), o + 13..o + 14);
        self.field("Window", be16(b, o + 14).to_string(), o + 14..o + 16);
        self.field(
            "Checksum",
            format!("{:#06x}", be16(b, o + 16)),
            o + 16..o + 18,
        );
        self.field(
            "Urgent pointer",
            be16(b, o + 18).to_string(),
            o + 18..o + 20,
        );
        if hdr_end > o + 20 {
            self.field(
                "Options",
                format!("{} bytes", hdr_end - o - 20),
                o + 20..hdr_end,
            );
        }
        if r.end > hdr_end {
            self.payload(hdr_end..r.end);
        }
    }

    fn payload(&mut self, r: Range<usize>) {
        let n = r.len();
        self.layer("Payload", format!("{n} bytes"), r.clone());
        self.field("Data", format!("{n} bytes"), r);
    }

    /// The host's frame (or the only frame when not tunnelled).
    fn inner(&mut self, o: usize, name: &str) {
        let Some((ty, p)) = self.ethernet(o, name) else {
            return;
        };
        match ty {
            0x0806 => self.arp(p),
            0x0800 => {
                let Some((proto, r)) = self.ipv4(p, "IPv4") else {
                    return;
                };
                match proto {
                    1 => self.icmp(r),
                    6 => self.tcp(r),
                    17 => {
                        let end = r.end;
                        if let Some((_, _, po)) = self.udp(r.start, "UDP", "")
                            && end > po
                        {
                            self.payload(po..end);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// Reads `bytes` (an Ethernet frame) into layers.
pub fn dissect(bytes: &[u8]) -> Dissection {
    let mut d = Builder {
        b: bytes,
        layers: Vec::new(),
    };
    let tunnelled = outer(&mut d);
    if !tunnelled {
        d.layers.clear();
        d.inner(0, "Ethernet");
    }
    Dissection {
        len: bytes.len(),
        layers: d.layers,
    }
}

/// Outer headers of a tunnelled or control-plane frame; false when the frame is neither.
fn outer(d: &mut Builder<'_>) -> bool {
    let b = d.b;
    if b.len() < 14 + 20 + 8 || be16(b, 12) != 0x0800 {
        return false;
    }
    let proto = b[14 + 9];
    let ihl = usize::from(b[14] & 0x0f) * 4;
    let l4 = 14 + ihl;
    let tunnel_port = match proto {
        17 if b.len() >= l4 + 8 => {
            let dp = be16(b, l4 + 2);
            if dp != VXLAN_PORT && dp != GENEVE_PORT && dp != cp::PORT {
                return false;
            }
            Some(dp)
        }
        47 => None,
        _ => return false,
    };
    let outer_name = if tunnel_port == Some(cp::PORT) {
        ""
    } else {
        "Outer "
    };
    let _ = d.ethernet(0, &format!("{outer_name}Ethernet"));
    let Some((_, ipr)) = d.ipv4(14, &format!("{outer_name}IPv4")) else {
        return false;
    };
    match tunnel_port {
        Some(port) => {
            let note = match port {
                VXLAN_PORT => " (VXLAN)",
                GENEVE_PORT => " (Geneve)",
                _ => " (control plane)",
            };
            let Some((_, _, o)) = d.udp(ipr.start, &format!("{outer_name}UDP"), note) else {
                return true;
            };
            match port {
                VXLAN_PORT if b.len() >= o + 8 => {
                    let vni = u32::from_be_bytes([0, b[o + 4], b[o + 5], b[o + 6]]);
                    d.layer("VXLAN", format!("VNI {vni}"), o..o + 8);
                    let flags = b[o];
                    d.field(
                        "Flags",
                        format!(
                            "{flags:#04x}{}",
                            if flags & 0x08 != 0 {
                                " (I: VNI valid)"
                            } else {
                                ""
                            }
                        ),
                        o..o + 1,
                    );
                    d.field(
                        "Reserved",
                        format!("{:#08x}", be32(b, o) & 0xffffff),
                        o + 1..o + 4,
                    );
                    d.field("VNI", vni.to_string(), o + 4..o + 7);
                    d.field("Reserved", format!("{:#04x}", b[o + 7]), o + 7..o + 8);
                    d.inner(o + 8, "Inner Ethernet");
                }
                GENEVE_PORT if b.len() >= o + 8 => {
                    let opt_len = usize::from(b[o] & 0x3f) * 4;
                    let end = (o + 8 + opt_len).min(b.len());
                    let vni = u32::from_be_bytes([0, b[o + 4], b[o + 5], b[o + 6]]);
                    d.layer("Geneve", format!("VNI {vni}"), o..end);
                    d.field("Version", (b[o] >> 6).to_string(), o..o + 1);
                    d.field("Options length", format!("{opt_len} bytes"), o..o + 1);
                    d.field(
                        "Flags",
                        format!(
                            "O={} C={}",
                            u8::from(b[o + 1] & 0x80 != 0),
                            u8::from(b[o + 1] & 0x40 != 0)
                        ),
                        o + 1..o + 2,
                    );
                    d.field(
                        "Protocol",
                        format!("{:#06x} (Ethernet)", be16(b, o + 2)),
                        o + 2..o + 4,
                    );
                    d.field("VNI", vni.to_string(), o + 4..o + 7);
                    d.field("Reserved", format!("{:#04x}", b[o + 7]), o + 7..o + 8);
                    if opt_len > 0 {
                        d.field("Options", format!("{opt_len} bytes"), o + 8..end);
                    }
                    d.inner(end, "Inner Ethernet");
                }
                _ => {
                    let body = &b[o.min(b.len())..ipr.end.max(o).min(b.len())];
                    let msg = RouteMsg::decode(body)
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "unreadable".to_string());
                    d.layer("EVPN route", msg.clone(), o..ipr.end.max(o));
                    d.field("Message", msg, o..ipr.end.max(o));
                }
            }
        }
        None => {
            let o = ipr.start;
            if b.len() < o + 8 {
                return true;
            }
            let vsid = u32::from_be_bytes([0, b[o + 4], b[o + 5], b[o + 6]]);
            d.layer("NVGRE (GRE)", format!("VSID {vsid}"), o..o + 8);
            d.field(
                "Flags / version",
                format!("{:#06x} (K: key present)", be16(b, o)),
                o..o + 2,
            );
            d.field(
                "Protocol",
                format!("{:#06x} (Transparent Ethernet Bridging)", be16(b, o + 2)),
                o + 2..o + 4,
            );
            d.field("VSID", vsid.to_string(), o + 4..o + 7);
            d.field("Flow ID", b[o + 7].to_string(), o + 7..o + 8);
            d.inner(o + 8, "Inner Ethernet");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(d: &Dissection) -> Vec<String> {
        d.layers.iter().map(|l| l.name.clone()).collect()
    }

    fn field<'a>(d: &'a Dissection, layer: &str, name: &str) -> &'a Field {
        d.layers
            .iter()
            .find(|l| l.name == layer)
            .and_then(|l| l.fields.iter().find(|f| f.name == name))
            .unwrap_or_else(|| panic!("{layer}/{name} in {:?}", names(d)))
    }

    #[test]
    fn the_core_sample_reads_as_vxlan_around_arp() {
        let bytes = vtep_core::sample::encapsulated_arp();
        let d = dissect(&bytes);
        assert_eq!(
            names(&d),
            [
                "Outer Ethernet",
                "Outer IPv4",
                "Outer UDP",
                "VXLAN",
                "Inner Ethernet",
                "ARP"
            ]
        );
        let vni = field(&d, "VXLAN", "VNI");
        assert_eq!(vni.value, vtep_core::sample::SAMPLE_VNI.get().to_string());
        assert_eq!(vni.range, 46..49);
        assert_eq!(field(&d, "Outer UDP", "Destination port").range, 36..38);
        assert!(field(&d, "ARP", "Operation").value.starts_with("1"));
    }

    #[test]
    fn every_scenario_frame_dissects_within_bounds() {
        for sc in [vtep_sim::scenario::s8(), vtep_sim::scenario::s9()] {
            let run = sc.run(1).unwrap();
            for hop in run.sim.trace() {
                let d = dissect(&hop.bytes);
                assert!(!d.layers.is_empty());
                for l in &d.layers {
                    assert!(l.range.end <= hop.bytes.len());
                    for f in &l.fields {
                        assert!(f.range.end <= hop.bytes.len(), "{} {}", l.name, f.name);
                    }
                }
            }
        }
        for n in 0..80 {
            let bytes = vtep_core::sample::encapsulated_arp();
            let _ = dissect(&bytes[..n.min(bytes.len())]);
        }
    }
}
