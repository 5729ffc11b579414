//! Explanations in words, where the question arises: why a frame was dropped (one sentence per
//! reason, and for a frame too big for the underlay the arithmetic and the fix), and what each
//! header field the inspector shows is for.

use vtep_core::vtep::{DropReason, Encapsulation};
use vtep_sim::DropCause;
use vtep_sim::trace::{L3, Layers};

use super::lab::{self, Lab};
use super::script::Action;

/// One sentence on a VTEP's drop reason.
pub fn vtep_reason(r: DropReason) -> &'static str {
    match r {
        DropReason::TooBig => {
            "Too big: once wrapped in the tunnel headers the packet is larger than the underlay \
             MTU, and a VTEP does not fragment."
        }
        DropReason::RateLimited => {
            "Over the network's rate limit: the VTEP's token bucket for this VNI was empty, so \
             the frame was dropped instead of sent."
        }
        DropReason::NoDestination => {
            "Nowhere to send it: its destination MAC is unknown here, and there is no one to \
             flood it to (no other local port of the VNI here; for a frame from a host, no \
             remote VTEP in the VNI's flood list either; a frame from the underlay is never sent \
             back into it)."
        }
        DropReason::SplitHorizon => {
            "Split horizon: a frame from the underlay is never sent back into the underlay, \
             which keeps the overlay free of loops."
        }
        DropReason::SamePort => {
            "The destination MAC is behind the port the frame came from: nothing to forward."
        }
        DropReason::UnknownVni => {
            "This VTEP does not serve that VNI (it has no host in that virtual network)."
        }
        DropReason::EncapsulationMismatch => {
            "The VNI arrived in another encapsulation than the one this VTEP uses for it."
        }
        DropReason::NotAPeer => {
            "The sender is not a VTEP this one accepts tunnels from (or is this VTEP itself)."
        }
        DropReason::InvalidSourceMac => {
            "The source MAC is multicast, broadcast or all zeros: no host sends from it."
        }
        DropReason::InnerVlanTag => {
            "The inner frame carries an 802.1Q VLAN tag, which VXLAN forbids (RFC 7348, 6.1)."
        }
        DropReason::FdbFull => "The forwarding database is full and set to drop new MACs.",
        DropReason::MalformedNd => {
            "An IPv6 Neighbour Solicitation or Advertisement that RFC 4861 says to discard (a hop \
             limit other than 255, a bad checksum, a broken option...): the VTEP's proxy drops it \
             rather than answer or learn from it."
        }
        DropReason::UnknownUdpPort => {
            "A UDP datagram to a port that is neither VXLAN's (4789) nor Geneve's (6081)."
        }
        DropReason::BadFlags
        | DropReason::BadVersion
        | DropReason::ReservedBitsSet
        | DropReason::UnknownCriticalOption
        | DropReason::MalformedTunnel
        | DropReason::UnsupportedPayload => {
            "The tunnel header is malformed or uses something this VTEP does not implement."
        }
        DropReason::AddressFamily => "The underlay sender is of the other IP family.",
        DropReason::UnknownPort => "The frame came from a port that does not exist.",
        DropReason::BadBuffer | DropReason::NoHeadroom | DropReason::TruncatedFrame => {
            "The frame is truncated or the buffer it came in is unusable."
        }
    }
}

/// One sentence on why a frame went no further.
pub fn cause(c: DropCause) -> &'static str {
    match c {
        DropCause::Vtep(r) => vtep_reason(r),
        DropCause::LinkLoss => "Lost on the link (its random loss).",
        DropCause::LinkDown => "The link is down (or went down while the frame was on it).",
        DropCause::LinkMtu => {
            "Larger than the link's MTU: an IP router would fragment or drop it; this link drops \
             it."
        }
        DropCause::NodeDown => "The receiving node is failed: whatever reaches it is lost.",
        DropCause::NotForMe => {
            "A unicast frame for another MAC: the host's NIC ignores it (it reached the host \
             because a switch flooded it)."
        }
        DropCause::HostDetached => {
            "The host is paused for its live migration (or detached): frames to it are lost \
             until it resumes."
        }
        DropCause::NoRoute => {
            "The router has no route to the destination (a link on the way is down)."
        }
        DropCause::TtlExpired => "The IP TTL ran out: a routing loop, or too many hops.",
        DropCause::Malformed => "The headers could not be read.",
        DropCause::SamePort => {
            "The switch's destination is the port the frame came from: nothing to forward."
        }
    }
}

/// The last setting `pick` finds in the script's actions at or before `at_us`, else `default`.
fn setting<T>(lab: &Lab, at_us: u64, default: T, pick: impl Fn(&Action) -> Option<T>) -> T {
    lab.script()
        .actions
        .iter()
        .filter(|a| a.at_us <= at_us)
        .filter_map(|a| pick(&a.action))
        .last()
        .unwrap_or(default)
}

/// Why hop `id` was dropped, in words: the reason's sentence, where it happened and, when
/// there is one, the arithmetic. None when the hop was not dropped.
pub fn drop_detail(lab: &Lab, id: u32) -> Option<String> {
    let hop = lab.hop(id)?;
    let c = hop.dropped()?;
    let at = lab.name(hop.to);
    let mut text = format!("Dropped at {at} ({c}). {}", cause(c));
    let layers = Layers::parse(&hop.bytes);
    let at_us = lab::us(hop.end);
    match c {
        DropCause::Vtep(DropReason::TooBig) => {
            let (ip_len, vni) = match (layers.outer, layers.inner) {
                (None, Some(inner)) => (
                    inner.len.saturating_sub(14),
                    lab.rows().get(id as usize).and_then(|r| r.net_vni),
                ),
                _ => return Some(text),
            };
            let Some(vni) = vni else { return Some(text) };
            let encap = setting(lab, at_us, Encapsulation::Vxlan, |a| match a {
                Action::Encapsulation {
                    vni: v,
                    encapsulation,
                } if *v == vni => Some(*encapsulation),
                _ => None,
            });
            let mtu = setting(lab, at_us, 1500, |a| match a {
                Action::UnderlayMtu { mtu } => Some(usize::from(*mtu)),
                _ => None,
            });
            let over = encap.wire_overhead(false);
            text = format!(
                "Dropped at {at} ({c}): {ip_len} + {over} = {} > underlay MTU {mtu}. The \
                 {ip_len}-byte packet plus {over} bytes of {encap} (its Ethernet header and the \
                 outer IPv4{}) does not fit the underlay, and a VTEP does not fragment. Lower \
                 the VM's MTU to {} or raise the underlay's to {}.",
                ip_len + over,
                if encap == Encapsulation::Nvgre {
                    " and GRE headers"
                } else {
                    ", UDP and tunnel headers"
                },
                mtu.saturating_sub(over),
                ip_len + over,
            );
        }
        DropCause::LinkMtu => {
            let mtu = lab
                .sim()
                .links()
                .iter()
                .find(|l| l.id == hop.link)
                .map(|l| l.spec.mtu);
            if let Some(mtu) = mtu {
                text.push_str(&format!(
                    " Its IP packet is {} bytes; the link carries {mtu}.",
                    hop.bytes.len().saturating_sub(14)
                ));
            }
        }
        DropCause::NoRoute => {
            if let Some(o) = layers.outer {
                text.push_str(&format!(" No way to {} from {at}.", o.dst_ip));
            }
        }
        DropCause::Vtep(DropReason::RateLimited) => {
            let vni = lab.rows().get(id as usize).and_then(|r| r.net_vni);
            let limit = vni.and_then(|v| {
                setting(lab, at_us, None, |a| match a {
                    Action::RateLimit { vni, bits_per_sec } if *vni == v => Some(*bits_per_sec),
                    _ => None,
                })
            });
            if let (Some(v), Some(bps)) = (vni, limit) {
                text.push_str(&format!(
                    " VNI {v} may send {} Mbit/s into the underlay.",
                    bps as f64 / 1e6
                ));
            }
        }
        DropCause::Vtep(DropReason::NoDestination) => {
            if let Some(L3::Arp { target_ip, .. }) = layers.inner.map(|i| i.l3) {
                text.push_str(&format!(" (An ARP request for {target_ip}.)"));
            }
        }
        _ => {}
    }
    Some(text)
}

/// What a header field is for, by layer and field name ("" when there is nothing to add).
pub fn field_help(layer: &str, field: &str) -> &'static str {
    let outer = layer.starts_with("Outer ");
    match (layer, field) {
        ("VXLAN", "Flags") => {
            "The I flag (0x08) says the VNI field is valid; every other bit is reserved and \
             sent as 0."
        }
        ("VXLAN" | "Geneve", "VNI") => {
            "The virtual network identifier: 24 bits, so 16,777,216 networks (a VLAN ID has 12). \
             Frames of different VNIs never meet."
        }
        ("NVGRE (GRE)", "VSID") => {
            "The virtual subnet ID, NVGRE's VNI: 24 bits, carried in the GRE key field."
        }
        ("NVGRE (GRE)", "Flow ID") => {
            "8 bits of flow entropy, so routers can spread flows over equal-cost paths."
        }
        ("NVGRE (GRE)", "Flags / version") => {
            "K (0x2000): a key is present; NVGRE puts its VSID and flow ID there."
        }
        ("NVGRE (GRE)" | "Geneve", "Protocol") => {
            "0x6558, Transparent Ethernet Bridging: what follows is a whole Ethernet frame."
        }
        ("Geneve", "Flags") => {
            "O: an OAM (control) packet; C: critical options follow, which a VTEP that does not \
             understand them must drop."
        }
        ("Geneve", "Options length") => "Geneve can carry options (TLVs) between header and frame.",
        (_, "Reserved") => "Sent as 0; receivers ignore it (or, strict, drop the packet).",
        ("Outer UDP", "Source port") => {
            "Chosen from a hash of the inner frame's addresses and ports (flow entropy): one flow \
             keeps one port, so routers hashing on it (ECMP) keep the flow on one path while \
             different flows spread over all paths."
        }
        ("Outer UDP", "Destination port") => {
            "4789 is VXLAN's registered port, 6081 Geneve's: how the receiver knows a tunnel \
             header follows."
        }
        ("Outer UDP", "Checksum") => "0: over IPv4 a tunnel may leave the UDP checksum out.",
        ("Outer IPv4", "Source") => "The sending VTEP's underlay address.",
        ("Outer IPv4", "Destination") => {
            "The receiving VTEP's underlay address, from the FDB (or each flood-list peer for a \
             BUM frame)."
        }
        ("IPv4" | "Outer IPv4", "TTL") => {
            "Time to live: each router takes one off; at 0 the packet is dropped."
        }
        ("Outer IPv4", "Protocol") => "17: UDP (VXLAN, Geneve) or 47: GRE (NVGRE).",
        ("Outer Ethernet", "Destination") => {
            "The next router's MAC: the outer frame is rewritten at every underlay hop."
        }
        ("Outer Ethernet", "Source") => "The MAC of the node that sent this hop.",
        ("Inner Ethernet", "Destination") => {
            "The host's own frame, untouched by the tunnel: the VTEP looks this MAC up in its \
             FDB to pick the remote VTEP."
        }
        ("Inner Ethernet", "Source") => {
            "The sending host's MAC: a flood-and-learn VTEP learns it (MAC -> the VTEP it came \
             from)."
        }
        ("ICMPv6", "Type") => {
            "135: neighbour solicitation (IPv6's ARP request), 136: neighbour advertisement (its \
             reply); 128 / 129: echo request / reply (ping6)."
        }
        ("ICMPv6", "Checksum") => {
            "Covers the message and a pseudo-header with both IPv6 addresses: a VTEP that answers \
             a solicitation itself computes it for its answer."
        }
        ("ICMPv6", "Target") => {
            "The IPv6 address being resolved: who has it (solicitation), or whose MAC the option \
             gives (advertisement)."
        }
        ("ICMPv6", "R (router)") => "R: the address belongs to a router.",
        ("ICMPv6", "S (solicited)") => {
            "S: the answer to a solicitation (a VTEP's ND suppression sets it, as the target \
             would); 0 in an unsolicited announcement."
        }
        ("ICMPv6", "O (override)") => {
            "O: replace the MAC a neighbour has cached for the target; the owner, or a VTEP \
             speaking for it, sets it."
        }
        ("ICMPv6", "Identifier") => "Tells one ping6's replies from another's.",
        ("ICMPv6", "Sequence") => "Counts the echo requests of one ping6.",
        ("IPv6", "Hop limit") => {
            "IPv6's TTL. Neighbour Discovery is always sent with 255, and a receiver drops ND \
             with any other value: it cannot have crossed a router."
        }
        ("IPv6", "Destination") => {
            "A solicitation goes to the target's solicited-node multicast group (ff02::1:ff + \
             its last 24 bits), which a flood-and-learn VTEP floods like any multicast."
        }
        ("ND option", "Option length") => {
            "In units of 8 bytes; 0 is invalid and makes a receiver discard the message."
        }
        ("ND option", "Link-layer address") => {
            "The sender's MAC (source option, in a solicitation) or the target's (target option, \
             in an advertisement): what Neighbour Discovery is for."
        }
        (_, "Type") if outer => "0x0800: an IPv4 packet follows.",
        (_, "Type") => "What the frame carries: 0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6.",
        ("ARP", "Operation") => "1: request (who has this IP?), 2: reply (it is at this MAC).",
        ("ARP", "Target IP") => "The address being resolved.",
        ("ARP", "Target MAC") => "Unknown in a request (zeros): that is the question.",
        ("ICMP", "Identifier") => "Tells one ping's replies from another's.",
        ("ICMP", "Sequence") => "Counts the echo requests of one ping.",
        ("IPv4" | "Outer IPv4", "Total length") => {
            "Header and payload in bytes: what the MTU limits."
        }
        ("IPv4" | "Outer IPv4", "Flags / fragment") => {
            "DF (don't fragment) and the fragment offset."
        }
        ("TCP", "Flags") => "S SYN (open), . ACK, P PSH, F FIN (close), R RST (abort).",
        ("TCP", "Window") => "How many more bytes the receiver can take now.",
        ("EVPN route" | "BGP" | "Path attribute" | "BGP (continued)", _) => {
            super::bgp::field_help(layer, field)
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::view::{first_drop, lab_at_end};

    #[test]
    fn every_reason_has_a_sentence() {
        for r in DropReason::ALL {
            let s = vtep_reason(*r);
            assert!(s.ends_with('.') && s.len() > 30, "{r}: {s}");
        }
    }

    #[test]
    fn too_big_shows_the_arithmetic_and_the_fix() {
        let lab = lab_at_end("S3");
        let drop = first_drop(&lab);
        let text = drop_detail(&lab, drop).unwrap();
        assert!(
            text.starts_with(
                "Dropped at hv1 (vtep:too_big): 1500 + 50 = 1550 > underlay MTU 1500."
            ),
            "{text}"
        );
        assert!(text.contains("Lower the VM's MTU to 1450 or raise the underlay's to 1550"));
        assert_eq!(drop_detail(&lab, 0), None, "frame 0 was not dropped");
    }

    #[test]
    fn fields_are_explained() {
        assert!(field_help("VXLAN", "Flags").contains("I flag"));
        assert!(field_help("Outer UDP", "Source port").contains("ECMP"));
        assert!(field_help("VXLAN", "VNI").contains("24 bits"));
        assert_eq!(field_help("Payload", "Bytes"), "");
    }
}
