//! The fan-out cursor: the outputs of one input that go to several places (a flood to every
//! local port and flood peer), or that the short way of `ReadyTransmit` does not take (a
//! delivery to a local port). `Vtep::poll_output` walks it one output at a time, so a flood to
//! N peers allocates nothing.

use core::ops::Range;

use super::config::same_family;
use super::encap::encap_in_place;
use super::local::FromPort;
use super::{Deliver, DropReason, Encapsulation, Event, Output, Transmit, Vtep};
use crate::Vni;
use crate::addr::PortId;
use crate::wire::IpAddress;

/// Which local ports still get a copy of the current frame.
#[derive(Clone, Copy, Debug)]
pub(super) enum LocalFanout {
    None,
    One(PortId),
    AllExcept { next: usize, except: Option<PortId> },
}

/// Which remote VTEPs still get a copy of the current frame (a unicast to one remote VTEP
/// takes the shorter way of `ReadyTransmit`).
#[derive(Clone, Debug)]
pub(super) enum RemoteFanout {
    None,
    /// The flood peers from position `next` of the flood list, each sent `payload` (the frame
    /// encapsulated once, in place) from UDP source port `source_port`.
    Flood {
        next: usize,
        payload: Range<usize>,
        encapsulation: Encapsulation,
        source_port: u16,
    },
}

/// The outputs of the current input that have not been polled yet.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    vni: Vni,
    /// The network's position in `Networks::slots`.
    slot: usize,
    frame: Range<usize>,
    /// A BUM or unknown-unicast frame: every copy is marked as flooded.
    flooded: bool,
    local: LocalFanout,
    remote: RemoteFanout,
}

impl Pending {
    /// One copy of `buf[frame]` out of local `port`: a frame to a MAC behind it, or an ARP
    /// answer back to the asker.
    pub(super) fn to_port(vni: Vni, slot: usize, frame: Range<usize>, port: PortId) -> Pending {
        Pending {
            vni,
            slot,
            frame,
            flooded: false,
            local: LocalFanout::One(port),
            remote: RemoteFanout::None,
        }
    }

    /// A BUM or unknown-unicast frame: a copy to every local port but `except` (the port it
    /// came from), then the copies `remote` says.
    pub(super) fn flood(
        vni: Vni,
        slot: usize,
        frame: Range<usize>,
        except: Option<PortId>,
        remote: RemoteFanout,
    ) -> Pending {
        Pending {
            vni,
            slot,
            frame,
            flooded: true,
            local: LocalFanout::AllExcept { next: 0, except },
            remote,
        }
    }
}

/// Whether a flood-list entry gets a copy: never this VTEP itself, nor an address of the other
/// family (the list can be edited directly through `Vtep::fdb_mut`).
fn is_flood_target(ip: &IpAddress, local: &IpAddress) -> bool {
    ip != local && same_family(ip, local)
}

impl Vtep {
    /// Floods a frame from local `port`: encapsulates it once (if any flood peer gets a copy),
    /// counts, and arms the cursor for every other local port and, if `to_remotes`, every
    /// flood peer.
    pub(super) fn flood(
        &mut self,
        from: FromPort,
        buf: &mut [u8],
        frame: Range<usize>,
        to_remotes: bool,
    ) {
        let (now, vni, slot, port) = (from.now, from.vni, from.slot, from.port);
        let local_addr = self.config.local;
        let mut remote_copies = if to_remotes {
            self.fdb
                .flood_list(vni)
                .iter()
                .filter(|ip| is_flood_target(ip, &local_addr))
                .count()
        } else {
            0
        };
        let Some(network) = self.networks.slots.get_mut(slot) else {
            return;
        };
        let local_ports = network.ports.iter().filter(|p| **p != port).count();
        let mut remote = RemoteFanout::None;
        let mut remote_drop = None;
        if remote_copies > 0 {
            match encap_in_place(&self.config, network, now, vni, buf, &frame) {
                Ok((payload, source_port)) => {
                    remote = RemoteFanout::Flood {
                        next: 0,
                        payload,
                        encapsulation: network.config.encapsulation,
                        source_port,
                    };
                }
                Err(reason) => {
                    remote_drop = Some(reason);
                    remote_copies = 0;
                }
            }
        }
        if let Some(reason) = remote_drop {
            self.drop_frame(Some(vni), reason);
        }
        self.record_in(
            slot,
            Event::Flooded {
                vni,
                local_ports,
                remote_copies,
            },
        );
        if local_ports == 0 && remote_copies == 0 {
            // An announcement kept to the local ports went where it had to, even to none.
            if remote_drop.is_none() && to_remotes {
                self.drop_frame(Some(vni), DropReason::NoDestination);
            }
            return;
        }
        self.pending = Some(Pending::flood(vni, slot, frame, Some(port), remote));
    }

    /// The next output of the cursor, `None` when it is done.
    #[inline(never)]
    pub(super) fn next_fanout(&mut self) -> Option<Output> {
        let pending = self.pending.as_mut()?;
        if matches!(
            (&pending.local, &pending.remote),
            (LocalFanout::None, RemoteFanout::None)
        ) {
            return None;
        }
        let network = self.networks.slots.get_mut(pending.slot)?;
        // Local copies first: they need no encapsulation.
        loop {
            let port = match &mut pending.local {
                LocalFanout::None => break,
                LocalFanout::One(port) => {
                    let port = *port;
                    pending.local = LocalFanout::None;
                    port
                }
                LocalFanout::AllExcept { next, except } => {
                    let Some(port) = network.ports.get(*next).copied() else {
                        pending.local = LocalFanout::None;
                        break;
                    };
                    *next += 1;
                    if Some(port) == *except {
                        continue;
                    }
                    port
                }
            };
            network.counters.local_tx_frames += 1;
            network.counters.local_tx_bytes += pending.frame.len() as u64;
            return Some(Output::Deliver(Deliver {
                port,
                vni: pending.vni,
                frame: pending.frame.clone(),
                flooded: pending.flooded,
            }));
        }
        let RemoteFanout::Flood {
            next,
            payload,
            encapsulation,
            source_port,
        } = &mut pending.remote
        else {
            return None;
        };
        let list = self.fdb.flood_list(pending.vni);
        let local = self.config.local;
        let found = list[(*next).min(list.len())..]
            .iter()
            .position(|ip| is_flood_target(ip, &local));
        let Some(offset) = found else {
            pending.remote = RemoteFanout::None;
            return None;
        };
        let remote = list[*next + offset];
        *next += offset + 1;
        network.counters.encap_frames += 1;
        network.counters.encap_bytes += payload.len() as u64;
        let (encapsulation, source_port, payload) = (*encapsulation, *source_port, payload.clone());
        let (vni, flooded) = (pending.vni, pending.flooded);
        Some(Output::Transmit(Transmit {
            vni,
            encapsulation,
            outer: self.outer(encapsulation, remote, source_port),
            payload,
            flooded,
        }))
    }
}
