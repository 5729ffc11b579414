//! BGP in the inspector: the messages of a TCP segment on port 179, read field by field through
//! the core's checked codec (`vtep_core::wire::bgp`): each message's header, an OPEN's
//! capabilities, an UPDATE's path attributes one layer each (MP_REACH_NLRI and MP_UNREACH_NLRI
//! with every EVPN route as a layer of its own: RD, ESI, Ethernet tag, MAC, IP, label as VNI;
//! the extended communities: route target, encapsulation, MAC mobility sequence and sticky bit;
//! the PMSI tunnel), a NOTIFICATION's code. Byte ranges come from the codec's `FIELDS` and
//! attribute positions, so the hex dump lights up exactly the bytes of a field.

use std::ops::Range;

use vtep_core::wire::bgp::evpn::{self, route_type};
use vtep_core::wire::bgp::{
    self, AttributeType, ErrorCode, EvpnRoute, ExtCommunity, Message, MessageType, Origin,
    RouteDistinguisher, TunnelType, UpdatePacket,
};

use super::{Builder, be16, hex, mac, vni_value};

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn ipv4(b: &[u8]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn family(afi: u16, safi: u8) -> String {
    let a = match afi {
        1 => " (IPv4)",
        2 => " (IPv6)",
        25 => " (L2VPN)",
        _ => "",
    };
    let s = match safi {
        1 => " (unicast)",
        70 => " (EVPN)",
        _ => "",
    };
    format!("AFI {afi}{a}, SAFI {safi}{s}")
}

impl Builder<'_> {
    /// One field per entry of a codec's `fields` (ranges from `at`) that `word` names and
    /// words; the codec's names stay its own.
    fn named(
        &mut self,
        at: usize,
        fields: &[(&str, Range<usize>)],
        word: impl Fn(&str) -> Option<(&'static str, String)>,
    ) {
        for (name, r) in fields {
            let range = at + r.start..at + r.end;
            if self.bytes(&range).is_none() {
                return;
            }
            if let Some((name, value)) = word(name) {
                self.field(name, value, range);
            }
        }
    }

    /// The BGP messages in the TCP payload `r`, one after another; a segment that carries the
    /// rest of a longer message shows it as data.
    pub(super) fn bgp(&mut self, r: Range<usize>) {
        let Some(payload) = self.bytes(&r) else {
            return;
        };
        let first = r.start + vtep_sim::bgp::marker_at(payload);
        if first > r.start {
            let n = first - r.start;
            self.layer(
                "BGP (continued)",
                format!("the last {n} bytes of a message begun in an earlier segment"),
                r.start..first,
            );
            self.field("Data", format!("{n} bytes"), r.start..first);
        }
        let mut at = first;
        while at < r.end {
            let Some(rest) = self.bytes(&(at..r.end)) else {
                return;
            };
            let starts = rest.len() >= bgp::HEADER_LEN && rest[..16].iter().all(|b| *b == 0xff);
            let len = if starts {
                usize::from(be16(&rest[16..18]))
            } else {
                0
            };
            if !starts || !(bgp::HEADER_LEN..=bgp::MAX_MESSAGE_LEN).contains(&len) {
                let n = r.end - at;
                self.layer(
                    "BGP (continued)",
                    format!("{n} bytes of a message begun in an earlier segment"),
                    at..r.end,
                );
                self.field("Data", format!("{n} bytes"), at..r.end);
                return;
            }
            let end = (at + len).min(r.end);
            self.message(at..end, len);
            at = end;
        }
    }

    /// One message at `r` (all of it, or its first part when `len` runs past the segment).
    fn message(&mut self, r: Range<usize>, len: usize) {
        let at = r.start;
        let whole = r.len() == len;
        let Some(bytes) = self.bytes(&r) else { return };
        let kind = MessageType::from(bytes[18]);
        let name = kind.name();
        let parsed = if whole {
            Message::parse(bytes).ok()
        } else {
            None
        };
        let summary = match &parsed {
            Some(Message::Update(_)) => self.update_summary(bytes),
            Some(Message::Notification(n)) => format!("NOTIFICATION: {n}"),
            Some(Message::Open(o)) => {
                format!(
                    "OPEN: AS {}, hold time {} s, ID {}",
                    o.asn(),
                    o.hold_time,
                    o.bgp_id
                )
            }
            Some(_) => name.to_string(),
            None if whole => format!("{name} (malformed)"),
            None => format!("{name}, {len} bytes (continues in the next segment)"),
        };
        let header_end = at + bgp::HEADER_LEN;
        let layer_end = match (&parsed, kind) {
            (Some(_), MessageType::Update) => {
                UpdatePacket::new_checked(bytes).map_or(r.end, |p| at + p.attributes_range().start)
            }
            _ => r.end,
        };
        self.layer("BGP", summary, at..layer_end);
        self.named(at, bgp::FIELDS, |n| {
            Some(match n {
                "marker" => ("Marker", "16 x 0xff".to_string()),
                "length" => ("Length", format!("{len} bytes")),
                "type" => ("Type", format!("{} ({name})", bytes[18])),
                _ => return None,
            })
        });
        if !whole {
            if r.end > header_end {
                self.field(
                    "Rest",
                    format!(
                        "{} of {len} bytes here, the rest in the next segment",
                        r.len()
                    ),
                    header_end..r.end,
                );
            }
            return;
        }
        match kind {
            MessageType::Open => self.open(at, bytes),
            MessageType::Update => self.update(at, bytes),
            MessageType::Notification => self.notification(at, bytes),
            MessageType::RouteRefresh if bytes.len() >= 23 => {
                let (afi, safi) = (be16(&bytes[19..21]), bytes[22]);
                self.field("AFI", family(afi, safi), at + 19..at + 21);
                self.field("Subtype", bytes[21].to_string(), at + 21..at + 22);
                self.field("SAFI", safi.to_string(), at + 22..at + 23);
            }
            _ => {}
        }
    }

    fn update_summary(&self, bytes: &[u8]) -> String {
        let Ok(p) = UpdatePacket::new_checked(bytes) else {
            return "UPDATE".to_string();
        };
        let (mut announced, mut withdrawn) = (Vec::new(), 0usize);
        for a in p.attributes().flatten() {
            match a.kind() {
                AttributeType::MpReachNlri => {
                    if let Some(nlri) = mp_reach_nlri(a.value) {
                        announced.extend(evpn::routes_with_ranges(nlri, 0).map(|(_, r)| words(&r)));
                    }
                }
                AttributeType::MpUnreachNlri => {
                    if let Some(nlri) = a.value.get(3..) {
                        withdrawn += evpn::routes_with_ranges(nlri, 0).count();
                    }
                }
                _ => {}
            }
        }
        let mut s = "UPDATE".to_string();
        if !announced.is_empty() {
            s.push_str(&format!(": {}", announced.join("; ")));
        }
        if withdrawn > 0 {
            s.push_str(&format!(
                "{} {withdrawn} withdrawn",
                if announced.is_empty() { ":" } else { ";" }
            ));
        }
        s
    }

    fn open(&mut self, at: usize, b: &[u8]) {
        use vtep_core::wire::bgp::open::{FIELDS, field};
        let id = ipv4(&b[field::BGP_ID]);
        self.named(at, FIELDS, |n| {
            Some(match n {
                "version" => ("Version", b[field::VERSION].to_string()),
                "my_as" => {
                    let a = be16(&b[field::MY_AS]);
                    let words = if a == bgp::AS_TRANS {
                        format!("{a} (AS_TRANS: the 4-octet AS is in a capability)")
                    } else {
                        a.to_string()
                    };
                    ("My AS", words)
                }
                "hold_time" => ("Hold time", format!("{} s", be16(&b[field::HOLD_TIME]))),
                "bgp_identifier" => ("BGP identifier", id.clone()),
                "opt_params_len" => (
                    "Optional parameters length",
                    format!("{} bytes", b[field::OPT_PARAMS_LEN]),
                ),
                _ => return None,
            })
        });
        // Parameters: type (1), length (1), value; capabilities inside type 2.
        let end = (field::OPT_PARAMS + usize::from(b[field::OPT_PARAMS_LEN])).min(b.len());
        let mut p = field::OPT_PARAMS;
        while p + 2 <= end {
            let (ptype, plen) = (b[p], usize::from(b[p + 1]));
            let pend = (p + 2 + plen).min(end);
            self.field(
                "Optional parameter",
                format!(
                    "type {ptype}{}, {plen} bytes",
                    if ptype == 2 { " (capabilities)" } else { "" }
                ),
                at + p..at + p + 2,
            );
            let mut c = p + 2;
            while ptype == 2 && c + 2 <= pend {
                let (code, clen) = (b[c], usize::from(b[c + 1]));
                let cend = (c + 2 + clen).min(pend);
                let v = &b[c + 2..cend];
                let words = match (code, v.len()) {
                    (1, 4) => format!("multiprotocol: {}", family(be16(&v[0..2]), v[3])),
                    (2, _) => "route refresh".to_string(),
                    (6, _) => "extended message".to_string(),
                    (64, _) => "graceful restart".to_string(),
                    (65, 4) => format!("4-octet AS: {}", be32(v)),
                    (70, _) => "enhanced route refresh".to_string(),
                    _ => format!("code {code}"),
                };
                self.field("Capability", words, at + c..at + cend);
                if code == 1 && v.len() == 4 {
                    self.field("AFI", be16(&v[0..2]).to_string(), at + c + 2..at + c + 4);
                    self.field("SAFI", v[3].to_string(), at + c + 5..at + c + 6);
                }
                c = cend;
            }
            p = pend;
        }
    }

    fn notification(&mut self, at: usize, b: &[u8]) {
        if b.len() < 21 {
            return;
        }
        let code = ErrorCode::from(b[19]);
        self.field(
            "Error code",
            format!("{} ({})", b[19], code.as_str()),
            at + 19..at + 20,
        );
        let sub = match (code, b[20]) {
            (ErrorCode::Cease, 2) => " (administrative shutdown)",
            (ErrorCode::Cease, 3) => " (peer de-configured)",
            (ErrorCode::Cease, 1) => " (maximum number of prefixes reached)",
            (ErrorCode::OpenMessage, 2) => " (bad peer AS)",
            (ErrorCode::OpenMessage, 7) => " (unsupported capability)",
            _ => "",
        };
        self.field("Error subcode", format!("{}{sub}", b[20]), at + 20..at + 21);
        if b.len() > 21 {
            self.field("Data", hex(&b[21..]), at + 21..at + b.len());
        }
    }

    fn update(&mut self, at: usize, b: &[u8]) {
        let Ok(p) = UpdatePacket::new_checked(b) else {
            return;
        };
        let w = p.withdrawn_range();
        self.field(
            "Withdrawn routes length",
            format!("{} bytes", w.len()),
            at + w.start - 2..at + w.start,
        );
        if !w.is_empty() {
            self.field(
                "Withdrawn routes",
                format!("{} bytes (IPv4)", w.len()),
                at + w.start..at + w.end,
            );
        }
        let a = p.attributes_range();
        self.field(
            "Path attributes length",
            format!("{} bytes", a.len()),
            at + a.start - 2..at + a.start,
        );
        for attr in p.attributes().flatten() {
            self.attribute(at, &attr);
        }
        let n = p.nlri_range();
        if !n.is_empty() {
            self.layer(
                "NLRI",
                format!("{} bytes of IPv4 prefixes", n.len()),
                at + n.start..at + n.end,
            );
            self.field("Prefixes", hex(p.nlri()), at + n.start..at + n.end);
        }
    }

    /// One path attribute: its header and value; an MP attribute's EVPN routes follow as
    /// layers of their own.
    fn attribute(&mut self, at: usize, a: &bgp::RawAttribute<'_>) {
        let kind = a.kind();
        let v = a.value;
        let vr = at + a.value_start..at + a.value_start + v.len();
        let head = at + a.start..vr.start;
        let name = kind.name();
        let mp_head = match kind {
            AttributeType::MpReachNlri => mp_reach_nlri(v).map(|nlri| vr.end - nlri.len()),
            AttributeType::MpUnreachNlri if v.len() >= 3 => Some(vr.start + 3),
            _ => None,
        };
        let layer_end = mp_head.unwrap_or(vr.end);
        let summary = match kind {
            AttributeType::Origin => Origin::parse(v)
                .map(|o| format!("ORIGIN: {}", origin_name(o)))
                .unwrap_or_else(|| name.to_string()),
            AttributeType::LocalPref if v.len() == 4 => format!("LOCAL_PREF: {}", be32(v)),
            AttributeType::OriginatorId if v.len() == 4 => {
                format!("ORIGINATOR_ID: {} (the route's first speaker)", ipv4(v))
            }
            _ => name.to_string(),
        };
        self.layer("Path attribute", summary, head.start..layer_end);
        let flags = a.flags.0;
        let flag_words: Vec<&str> = [
            (0x80, "optional"),
            (0x40, "transitive"),
            (0x20, "partial"),
            (0x10, "extended length"),
        ]
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, w)| *w)
        .collect();
        let flag_words = if flag_words.is_empty() {
            "well-known".to_string()
        } else {
            flag_words.join(", ")
        };
        self.field(
            "Flags",
            format!("{flags:#04x} ({flag_words})"),
            head.start..head.start + 1,
        );
        self.field(
            "Type code",
            format!("{} ({name})", a.type_code),
            head.start + 1..head.start + 2,
        );
        self.field(
            "Length",
            format!("{} bytes", v.len()),
            head.start + 2..head.end,
        );
        let s = vr.start;
        match kind {
            AttributeType::Origin if v.len() == 1 => {
                let o = Origin::parse(v).map_or("?", origin_name);
                self.field("Origin", format!("{} ({o})", v[0]), vr);
            }
            AttributeType::AsPath => {
                let words = if v.is_empty() {
                    "empty (iBGP: the route never left the AS)".to_string()
                } else {
                    bgp::AsPath::parse(v, true).map_or_else(|| hex(v), |p| p.to_string())
                };
                if !v.is_empty() {
                    self.field("AS path", words, vr);
                } else {
                    self.set_summary("AS_PATH: empty (iBGP: the route never left the AS)");
                }
            }
            AttributeType::LocalPref if v.len() == 4 => {
                self.field("Local preference", be32(v).to_string(), vr);
            }
            AttributeType::MultiExitDisc if v.len() == 4 => {
                self.field("MED", be32(v).to_string(), vr);
            }
            AttributeType::OriginatorId if v.len() == 4 => {
                self.field("Originator ID", ipv4(v), vr);
            }
            AttributeType::ClusterList => {
                for (i, id) in v.chunks_exact(4).enumerate() {
                    self.field("Cluster ID", ipv4(id), s + 4 * i..s + 4 * i + 4);
                }
            }
            AttributeType::ExtendedCommunities => {
                for (i, c) in v.chunks_exact(8).enumerate() {
                    self.ext_community(s + 8 * i, c);
                }
            }
            AttributeType::PmsiTunnel if v.len() >= 5 => {
                let t = v[1];
                let tname = if t == 6 { " (ingress replication)" } else { "" };
                self.set_summary(&format!(
                    "PMSI_TUNNEL: {}{tname}",
                    if v.len() >= 9 {
                        ipv4(&v[5..9])
                    } else {
                        String::new()
                    }
                ));
                self.field("PMSI flags", format!("{:#04x}", v[0]), s..s + 1);
                self.field("Tunnel type", format!("{t}{tname}"), s + 1..s + 2);
                let label = u32::from_be_bytes([0, v[2], v[3], v[4]]);
                self.field(
                    "Label (VNI)",
                    format!("{} (the VNI, RFC 8365)", vni_value(label)),
                    s + 2..s + 5,
                );
                if v.len() >= 9 {
                    self.field("Tunnel endpoint", ipv4(&v[5..9]), s + 5..vr.end);
                }
            }
            AttributeType::MpReachNlri if v.len() >= 5 => {
                let (afi, safi, nh_len) = (be16(&v[0..2]), v[2], usize::from(v[3]));
                self.field("AFI", afi.to_string(), s..s + 2);
                self.field(
                    "SAFI",
                    format!("{safi} ({})", family(afi, safi)),
                    s + 2..s + 3,
                );
                self.field("Next hop length", format!("{nh_len} bytes"), s + 3..s + 4);
                if nh_len == 4 && v.len() >= 9 {
                    self.field(
                        "Next hop",
                        format!("{} (the VTEP)", ipv4(&v[4..8])),
                        s + 4..s + 8,
                    );
                    self.field("Reserved", v[8].to_string(), s + 8..s + 9);
                }
                self.set_summary(&format!("MP_REACH_NLRI: {}", family(afi, safi)));
                if let (Some(nlri), Some(start)) = (mp_reach_nlri(v), mp_head) {
                    self.evpn_routes(nlri, start);
                }
            }
            AttributeType::MpUnreachNlri if v.len() >= 3 => {
                let (afi, safi) = (be16(&v[0..2]), v[2]);
                self.field("AFI", afi.to_string(), s..s + 2);
                self.field(
                    "SAFI",
                    format!("{safi} ({})", family(afi, safi)),
                    s + 2..s + 3,
                );
                self.set_summary(&format!(
                    "MP_UNREACH_NLRI: {}, withdrawn",
                    family(afi, safi)
                ));
                if let Some(start) = mp_head {
                    self.evpn_routes(&v[3..], start);
                }
            }
            _ if !v.is_empty() => self.field("Value", hex(v), vr),
            _ => {}
        }
    }

    fn set_summary(&mut self, s: &str) {
        if let Some(l) = self.layers.last_mut() {
            l.summary = s.to_string();
        }
    }

    /// One extended community (8 bytes at `at`).
    fn ext_community(&mut self, at: usize, c: &[u8]) {
        let Ok(b) = <[u8; 8]>::try_from(c) else {
            return;
        };
        match ExtCommunity::parse(b) {
            ExtCommunity::RouteTarget(rt) => {
                self.field(
                    "Route target",
                    format!("{rt} (imported by VNI {})", rt.local_admin()),
                    at..at + 8,
                );
            }
            ExtCommunity::Encapsulation(t) => {
                let words = match t {
                    TunnelType::Vxlan => "VXLAN".to_string(),
                    TunnelType::Nvgre => "NVGRE".to_string(),
                    TunnelType::Mpls => "MPLS".to_string(),
                    TunnelType::Geneve => "Geneve".to_string(),
                    TunnelType::Unknown(n) => format!("type {n}"),
                };
                self.field(
                    "Encapsulation",
                    format!("{} ({words}, RFC 9012)", be16(&b[6..8])),
                    at..at + 8,
                );
            }
            ExtCommunity::MacMobility { sticky, seq } => {
                self.field("MAC mobility", "type 0x06, subtype 0x00".into(), at..at + 2);
                self.field(
                    "Sticky",
                    if sticky {
                        "1 (a static MAC: it must not move)".to_string()
                    } else {
                        "0 (may move)".to_string()
                    },
                    at + 2..at + 3,
                );
                self.field(
                    "Sequence",
                    format!("{seq} (moves so far: the highest wins, RFC 7432 15)"),
                    at + 4..at + 8,
                );
            }
            ExtCommunity::RouterMac(m) => {
                self.field("Router's MAC", mac(m.as_bytes()), at..at + 8);
            }
            ExtCommunity::ArpNd {
                router,
                override_,
                immutable,
            } => {
                self.field(
                    "ARP/ND",
                    "type 0x06, subtype 0x08 (RFC 9047)".into(),
                    at..at + 2,
                );
                let flag =
                    |set: bool, name: &'static str| -> &'static str { if set { name } else { "" } };
                let flags: Vec<&str> = [
                    flag(router, "router (R)"),
                    flag(override_, "override (O)"),
                    flag(immutable, "immutable (I)"),
                ]
                .into_iter()
                .filter(|f| !f.is_empty())
                .collect();
                let shown = if flags.is_empty() {
                    "none (a host, not a router)".to_string()
                } else {
                    flags.join(", ")
                };
                self.field("Flags", format!("0x{:02x}: {shown}", b[2]), at + 2..at + 3);
            }
            ExtCommunity::Other(_) => self.field("Extended community", hex(&b), at..at + 8),
        }
    }

    /// The EVPN routes of MP NLRI bytes starting at `at`, a layer each.
    fn evpn_routes(&mut self, nlri: &[u8], at: usize) {
        for (r, route) in evpn::routes_with_ranges(nlri, at) {
            let Some(b) = self.bytes(&r) else { return };
            let kind = b[0];
            let kname = match kind {
                route_type::MAC_IP => "MAC/IP advertisement",
                route_type::INCLUSIVE_MULTICAST => "inclusive multicast (flood list)",
                route_type::ETHERNET_AUTO_DISCOVERY => "Ethernet auto-discovery",
                route_type::ETHERNET_SEGMENT => "Ethernet segment",
                route_type::IP_PREFIX => "IP prefix",
                _ => "unknown",
            };
            self.layer(
                "EVPN route",
                format!("type {kind}: {}", words(&route)),
                r.clone(),
            );
            self.field(
                "Route type",
                format!("{kind} ({kname})"),
                r.start..r.start + 1,
            );
            self.field(
                "Length",
                format!("{} bytes", b[1]),
                r.start + 1..r.start + 2,
            );
            let v = r.start + 2;
            let body = &b[2..];
            let rd = |o: usize| RouteDistinguisher(body[o..o + 8].try_into().unwrap_or([0; 8]));
            match route {
                EvpnRoute::MacIp(m) => {
                    for (name, f) in evpn::MAC_IP_FIELDS {
                        let range = v + f.start..v + f.end;
                        let value = match *name {
                            "rd" => format!("{} (type {})", rd(0), rd(0).kind()),
                            "esi" if m.esi.0 == [0; 10] => "0 (single-homed)".to_string(),
                            "esi" => hex(&m.esi.0),
                            "ethernet_tag" => format!("{}", m.ethernet_tag),
                            "mac_len" => format!("{} bits", body[22]),
                            "mac" => mac(m.mac.as_bytes()),
                            "ip_len" => format!("{} bits", body[29]),
                            _ => continue,
                        };
                        self.field(route_field(name), value, range);
                    }
                    let ip_len = usize::from(body[29]) / 8;
                    let mut o = 30;
                    if ip_len > 0 {
                        let ip = m.ip.map(|i| i.to_string()).unwrap_or_default();
                        self.field("IP", ip, v + o..v + o + ip_len);
                        o += ip_len;
                    }
                    if body.len() >= o + 3 {
                        self.field(
                            "Label 1 (VNI)",
                            format!("{} (the VNI, RFC 8365)", vni_value(m.label1)),
                            v + o..v + o + 3,
                        );
                        o += 3;
                    }
                    if let Some(l2) = m.label2
                        && body.len() >= o + 3
                    {
                        self.field("Label 2", vni_value(l2), v + o..v + o + 3);
                    }
                }
                EvpnRoute::InclusiveMulticast(im) => {
                    for (name, f) in evpn::INCLUSIVE_MULTICAST_FIELDS {
                        let range = v + f.start..v + f.end;
                        let value = match *name {
                            "rd" => format!("{} (type {})", rd(0), rd(0).kind()),
                            "ethernet_tag" => im.ethernet_tag.to_string(),
                            "ip_len" => format!("{} bits", body[12]),
                            _ => continue,
                        };
                        self.field(route_field(name), value, range);
                    }
                    self.field(
                        "Originating router",
                        format!("{} (wants the VNI's BUM traffic)", im.originator),
                        v + 13..r.end,
                    );
                }
                EvpnRoute::Other { .. } => {
                    self.field("Route", hex(body), v..r.end);
                }
            }
        }
    }
}

/// The NLRI of an MP_REACH_NLRI value: after AFI, SAFI, next hop and the reserved octet.
fn mp_reach_nlri(v: &[u8]) -> Option<&[u8]> {
    let nh = usize::from(*v.get(3)?);
    v.get(4 + nh + 1..)
}

fn origin_name(o: Origin) -> &'static str {
    match o {
        Origin::Igp => "IGP",
        Origin::Egp => "EGP",
        Origin::Incomplete => "incomplete",
    }
}

/// The codec's field names in the inspector's words.
fn route_field(name: &str) -> &'static str {
    match name {
        "rd" => "Route distinguisher",
        "esi" => "ESI",
        "ethernet_tag" => "Ethernet tag",
        "mac_len" => "MAC length",
        "mac" => "MAC",
        "ip_len" => "IP length",
        _ => "Field",
    }
}

/// A route in a few words: `02:48:00:00:00:01 10.0.0.1 VNI 100`, `flood list 10.1.0.2`.
fn words(r: &EvpnRoute<'_>) -> String {
    match r {
        EvpnRoute::MacIp(m) => {
            let mut s = mac(m.mac.as_bytes());
            if let Some(ip) = m.ip {
                s.push_str(&format!(" {ip}"));
            }
            if m.label1 != 0 {
                s.push_str(&format!(" VNI {}", m.label1));
            }
            s
        }
        EvpnRoute::InclusiveMulticast(im) => format!("flood list {}", im.originator),
        EvpnRoute::Other { route_type, .. } => format!("type {route_type}"),
    }
}
