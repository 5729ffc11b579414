//! The TAP set: one queue of every network's TAP device (each worker holds its own set), found
//! by the engine's port or by VNI.

use std::fs::File;
use std::ops::{Index, IndexMut};

use vtep_core::Vni;
use vtep_core::{Destination, PortId};

use crate::sys;

/// One queue of one network's TAP device.
#[derive(Debug)]
pub(super) struct Tap {
    pub(super) name: String,
    pub(super) file: File,
    pub(super) vni: Vni,
    pub(super) port: PortId,
    /// Created by us (removed at exit, when the fd closes) rather than attached to.
    pub(super) created: bool,
    /// The bridge we enslaved it to.
    pub(super) bridge: Option<String>,
    /// Frames carry a virtio-net header (offload mode).
    pub(super) vnet: bool,
    /// Room for the tunnel header (NVGRE: and the outer IP header) in front of each segment
    /// of a super-frame.
    pub(super) prefix: usize,
}

/// One queue of every network's TAP, in the order of the networks, and which of them each of
/// the engine's ports is.
#[derive(Debug, Default)]
pub(super) struct Taps {
    taps: Vec<Tap>,
    /// `PortId.0` -> index into `taps` (`usize::MAX`: no TAP).
    port_tap: Vec<usize>,
}

impl Taps {
    /// Adds the TAP of the engine's port `tap.port`.
    pub(super) fn push(&mut self, tap: Tap) {
        let index = usize::from(tap.port.0);
        if self.port_tap.len() <= index {
            self.port_tap.resize(index + 1, usize::MAX);
        }
        self.port_tap[index] = self.taps.len();
        self.taps.push(tap);
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Tap> {
        self.taps.iter()
    }

    pub(super) fn get_mut(&mut self, index: usize) -> Option<&mut Tap> {
        self.taps.get_mut(index)
    }

    /// The index of the TAP of `port`.
    #[inline]
    pub(super) fn index_of_port(&self, port: PortId) -> Option<usize> {
        self.port_tap
            .get(usize::from(port.0))
            .copied()
            .filter(|i| *i < self.taps.len())
    }

    pub(super) fn of_port(&self, port: PortId) -> Option<&Tap> {
        self.index_of_port(port).map(|i| &self.taps[i])
    }

    /// The name of the TAP of `vni`, or `-`.
    pub(super) fn name_of(&self, vni: Vni) -> String {
        self.taps
            .iter()
            .find(|t| t.vni == vni)
            .map_or_else(|| "-".into(), |t| t.name.clone())
    }

    /// `dev NAME` for a local port, `dst IP` for a remote VTEP (as in `bridge fdb`).
    pub(super) fn dest_name(&self, dest: &Destination) -> String {
        match dest {
            Destination::Local(port) => self
                .of_port(*port)
                .map_or_else(|| port.to_string(), |t| format!("dev {}", t.name)),
            Destination::Remote(ip) => format!("dst {ip}"),
        }
    }

    /// Lets go of every TAP at exit: one we created disappears with its last queue's fd (and
    /// leaves its bridge with it); one we attached to is taken out of its `--bridge` again,
    /// unless `user` (after `--user`) may no longer change bridge ports.
    pub(super) fn close(self, user: Option<&str>) {
        for tap in self.taps {
            if let Some(bridge) = &tap.bridge
                && !tap.created
            {
                if let Some(user) = user {
                    tracing::warn!(
                        "left {} in bridge {bridge}: as user {user} this daemon may no longer \
                         change bridge ports (ip link set {} nomaster)",
                        tap.name,
                        tap.name
                    );
                } else if let Err(e) = sys::bridge_port(bridge, &tap.name, false) {
                    tracing::warn!("cannot remove {} from {bridge}: {e}", tap.name);
                }
            }
            let name = tap.name.clone();
            let created = tap.created;
            drop(tap.file); // a TAP we created disappears with its last fd (queue)
            if created {
                tracing::info!("removed TAP {name}");
            } else {
                tracing::info!("detached from TAP {name}");
            }
        }
    }
}

impl Index<usize> for Taps {
    type Output = Tap;

    #[inline]
    fn index(&self, index: usize) -> &Tap {
        &self.taps[index]
    }
}

impl IndexMut<usize> for Taps {
    #[inline]
    fn index_mut(&mut self, index: usize) -> &mut Tap {
        &mut self.taps[index]
    }
}
