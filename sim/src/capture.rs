//! Capture export: any link's frames, or every underlay link's, as a classic pcap file
//! (LINKTYPE_ETHERNET) with timestamps from the virtual clock: when the frame's first bit went
//! onto the link, as a capture at the sending end would see it.

use alloc::vec::Vec;

use vtep_core::pcap::PcapWriter;

use crate::trace::Hop;
use crate::{LinkId, Sim};

/// Which frames to export.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Capture {
    /// One link.
    Link(LinkId),
    /// Several links.
    Links(Vec<LinkId>),
    /// Every underlay link (hypervisor uplinks, router-to-router links, the route reflectors').
    Underlay,
    /// Every link.
    All,
}

/// Writes the selected frames, in the order they were sent, as a pcap file.
pub fn pcap(sim: &Sim, what: &Capture) -> Vec<u8> {
    let underlay = sim.underlay_links();
    let keep = |hop: &Hop| match what {
        Capture::Link(l) => hop.link == *l,
        Capture::Links(ls) => ls.contains(&hop.link),
        Capture::Underlay => underlay.contains(&hop.link),
        Capture::All => true,
    };
    let mut hops: Vec<&Hop> = sim
        .trace()
        .iter()
        .filter(|h| keep(h) && !h.bytes.is_empty())
        .collect();
    hops.sort_by_key(|h| (h.start, h.id));
    let mut w = PcapWriter::new();
    for h in hops {
        w.write_frame(h.start, &h.bytes);
    }
    w.into_bytes()
}
