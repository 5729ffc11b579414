//! ND suppression, IPv6's ARP suppression: with the proxy on (`NetworkConfig::arp_proxy`, the
//! kernel's `proxy`), a Neighbour Solicitation from a local port for a target in the neighbour
//! table is answered in place with the Neighbour Advertisement the target would send, and
//! never crosses the underlay; solicitations for unknown targets, and duplicate address
//! detection probes, which only the owner may answer, are forwarded as usual. Solicitations
//! and advertisements are snooped into the neighbour table from both sides, as ARP is; one
//! that RFC 4861 says to discard is dropped and counted (`malformed_nd`), and teaches nothing.

use core::ops::Range;

use super::fanout::Pending;
use super::local::FromPort;
use super::{DropReason, Event, Vtep};
use crate::neigh::NeighOutcome;
use crate::wire::ndisc::{self, ADVERT_FRAME_LEN, Message, NeighborFlags};
use crate::wire::{EthernetProtocol, IpAddress};
use crate::{Instant, Vni};

/// What the proxy does with a frame: a Neighbour Solicitation or Advertisement to act on, or
/// nothing to do (not ND), or a drop.
pub(super) type NdVerdict = Result<Option<Message>, DropReason>;

/// Reads `frame` as ND when the proxy is on and it is IPv6. Malformed ND is a drop.
#[inline]
pub(super) fn read_nd(proxy: bool, ethertype: EthernetProtocol, frame: &[u8]) -> NdVerdict {
    if !proxy || ethertype != EthernetProtocol::Ipv6 {
        return Ok(None);
    }
    ndisc::parse(frame).map_err(|_| DropReason::MalformedNd)
}

impl Vtep {
    /// A Neighbour Solicitation or Advertisement from local `port` (checked, the proxy on):
    /// snoops it, and answers a solicitation for a known target in place. Returns true if the
    /// frame was consumed (answered).
    pub(super) fn answer_local_nd(
        &mut self,
        from: FromPort,
        buf: &mut [u8],
        frame: &Range<usize>,
        message: &Message,
    ) -> bool {
        let (now, vni, slot, port) = (from.now, from.vni, from.slot, from.port);
        self.snoop_nd(now, vni, message);
        let Message::Solicitation(ns) = message else {
            return false; // advertisements travel as usual: the asker waits for them
        };
        if ns.is_probe() {
            return false; // duplicate address detection: only the owner may answer
        }
        let Some(entry) = self
            .neighbours
            .lookup(vni, &IpAddress::Ipv6(ns.target))
            .copied()
        else {
            return false; // unknown: flood the solicitation as usual
        };
        if entry.mac == ns.reply_to() {
            return false;
        }
        let Some(at) = answer_at(buf.len(), frame) else {
            return false; // no room for the answer: let the owner answer
        };
        ns.answer(entry.mac, entry.router)
            .emit(&mut buf[at.clone()]);
        self.record_in(
            slot,
            Event::NdSuppressed {
                vni,
                ip: ns.target,
                mac: entry.mac,
            },
        );
        self.pending = Some(Pending::to_port(vni, slot, at, port));
        true
    }

    /// Learns what a solicitation (its sender) or an advertisement (its target) says into the
    /// neighbour table.
    pub(super) fn snoop_nd(&mut self, now: Instant, vni: Vni, message: &Message) {
        let (ip, mac, outcome) = match message {
            Message::Solicitation(ns) => {
                let Some(mac) = ns.source_lladdr.filter(|_| !ns.is_probe()) else {
                    return;
                };
                let ip = IpAddress::Ipv6(ns.src);
                (ip, mac, self.neighbours.learn(now, vni, ip, mac))
            }
            Message::Advertisement(na) => {
                let Some(mac) = na.target_lladdr else {
                    return;
                };
                let ip = IpAddress::Ipv6(na.target);
                let router = na.flags.contains(NeighborFlags::ROUTER);
                let override_ = na.flags.contains(NeighborFlags::OVERRIDE);
                let outcome = self
                    .neighbours
                    .learn_advert(now, vni, ip, mac, router, override_);
                (ip, mac, outcome)
            }
        };
        if matches!(
            outcome,
            NeighOutcome::Learned | NeighOutcome::Changed { .. } | NeighOutcome::RouterChanged
        ) {
            let router = self.neighbours.lookup(vni, &ip).is_some_and(|e| e.router);
            self.sink.push(Event::NeighbourLearned {
                vni,
                ip,
                mac,
                router,
            });
        }
    }
}

/// Where the answer goes in the caller's buffer: over the solicitation, or, when the frame
/// ends too close to the buffer's end (a solicitation without options is 78 bytes, the answer
/// 86), ending at the buffer's end, into the headroom in front of the frame. `None` if the
/// buffer is smaller than the answer.
fn answer_at(buf_len: usize, frame: &Range<usize>) -> Option<Range<usize>> {
    let start = if frame.start + ADVERT_FRAME_LEN <= buf_len {
        frame.start
    } else {
        buf_len.checked_sub(ADVERT_FRAME_LEN)?
    };
    Some(start..start + ADVERT_FRAME_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_answer_fits_over_the_frame_or_before_the_buffer_end() {
        assert_eq!(answer_at(200, &(64..150)), Some(64..150));
        // A 78-byte solicitation at the end of its buffer: the answer moves into the headroom.
        assert_eq!(answer_at(142, &(64..142)), Some(56..142));
        assert_eq!(answer_at(86, &(0..78)), Some(0..86));
        assert_eq!(answer_at(85, &(7..85)), None);
    }
}
