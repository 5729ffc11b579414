//! The speaker's interface with its driver: inputs, outputs, FDB actions for the engine,
//! events, and the errors of the management calls.

use core::fmt;

use vtep_core::vtep::{self, Vtep};
use vtep_core::wire::bgp::{self, Action};
use vtep_core::wire::{IpAddress, Ipv4Address};
use vtep_core::{Destination, Mac};
use vtep_core::{Instant, Vni};

use crate::PeerId;
use crate::error::SessionError;

/// One input.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// The TCP connection of a peer is up: after [`Output::Connect`], or an accepted one
    /// ([`Speaker::accept`]).
    Connected(PeerId),
    /// Bytes read from a peer's connection, in order. Any amount: messages are reassembled.
    Data(PeerId, &'a [u8]),
    /// The connection closed, failed, or could not be made.
    Closed(PeerId),
    /// An event of the engine this speaker serves: local learning, moves, ageing, neighbours,
    /// duplicate freezes are turned into routes; other events are ignored.
    Vtep(vtep::Event),
    /// Nothing arrived; time passed.
    Timeout,
}

/// What the speaker asks of the engine: apply it with [`FdbAction::apply`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FdbAction {
    /// `mac` lives behind `vtep` (best path from `peer`), MAC-mobility sequence `seq`.
    InstallMac {
        vni: Vni,
        mac: Mac,
        vtep: Ipv4Address,
        seq: u32,
        peer: PeerId,
    },
    /// `ip` belongs to `mac` (ARP suppression for IPv4, ND suppression for IPv6), behind
    /// `vtep`; `router`: an IPv6 router (the route's ARP/ND extended community), which the
    /// engine's proxied Neighbour Advertisements then say.
    InstallIp {
        vni: Vni,
        mac: Mac,
        ip: IpAddress,
        router: bool,
        vtep: Ipv4Address,
        seq: u32,
    },
    /// No route for `mac` any more.
    WithdrawMac {
        vni: Vni,
        mac: Mac,
    },
    /// No route for `ip` any more (the MAC may stay).
    WithdrawIp {
        vni: Vni,
        ip: IpAddress,
    },
    /// `vtep` wants the BUM traffic of `vni` (a type-3 route with ingress replication).
    AddFloodPeer {
        vni: Vni,
        vtep: Ipv4Address,
    },
    RemoveFloodPeer {
        vni: Vni,
        vtep: Ipv4Address,
    },
}

impl FdbAction {
    /// Applies the action to the engine through its control-plane calls.
    pub fn apply(&self, engine: &mut Vtep, now: Instant) -> Result<(), vtep::ConfigError> {
        let remote = |ip: Ipv4Address| Destination::Remote(IpAddress::Ipv4(ip));
        match *self {
            FdbAction::InstallMac {
                vni,
                mac,
                vtep,
                seq,
                ..
            } => {
                // A route with a lower sequence than the entry's (the better path went away)
                // would be ignored as stale: remove the entry first.
                if engine.fdb().lookup(vni, &mac).is_some_and(|e| {
                    e.mobility_seq > seq && e.origin == vtep_core::fdb::Origin::ControlPlane
                }) {
                    engine.withdraw_route(vni, &mac, None);
                }
                engine.install_route(now, vni, mac, None, remote(vtep), seq)?;
            }
            FdbAction::InstallIp {
                vni,
                mac,
                ip,
                router,
                vtep,
                seq,
            } => {
                engine.install_route(now, vni, mac, Some(ip), remote(vtep), seq)?;
                // Installed as no router; IPv4 has none (set_router refuses it).
                if router {
                    engine.neighbours_mut().set_router(vni, &ip, true);
                }
            }
            FdbAction::WithdrawMac { vni, mac } => {
                engine.withdraw_route(vni, &mac, None);
            }
            FdbAction::WithdrawIp { vni, ip } => {
                // Only the route's entry: a host at a local port may have the address now.
                engine.withdraw_neighbour(vni, &ip);
            }
            FdbAction::AddFloodPeer { vni, vtep } => {
                engine.add_flood_peer(vni, IpAddress::Ipv4(vtep))?;
            }
            FdbAction::RemoveFloodPeer { vni, vtep } => {
                engine.remove_flood_peer(vni, &IpAddress::Ipv4(vtep));
            }
        }
        Ok(())
    }
}

/// Something to log or show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    SessionEstablished {
        peer: PeerId,
    },
    SessionDown {
        peer: PeerId,
        error: SessionError,
    },
    /// An UPDATE was accepted with errors RFC 7606 lets the session survive.
    UpdateErrors {
        peer: PeerId,
        action: Action,
        first: bgp::Malformed,
    },
}

/// What the driver must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection to `address`, port 179; report `Connected` or `Closed`.
    Connect {
        peer: PeerId,
        address: Ipv4Address,
    },
    /// Bytes wait in [`Speaker::transmit_buffer`]: write them, then [`Speaker::transmitted`].
    Transmit(PeerId),
    /// Write what the transmit buffer still holds (a NOTIFICATION), then close the connection.
    /// Do not report `Closed` for it.
    Close(PeerId),
    Fdb(FdbAction),
    Event(Event),
    /// Nothing more now: call [`Speaker::handle_input`] with [`Input::Timeout`] at this
    /// instant (`None`: only when an input arrives).
    Timeout(Option<Instant>),
}

/// Errors of the management calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Only iBGP is spoken: the peer's AS must be the speaker's.
    NotIbgp {
        asn: u32,
        peer_as: u32,
    },
    DuplicatePeer(Ipv4Address),
    UnknownPeer(PeerId),
    TooManyPeers,
    VniExists(Vni),
    UnknownVni(Vni),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NotIbgp { asn, peer_as } => write!(
                f,
                "peer AS {peer_as} differs from AS {asn}: only iBGP is spoken; use the same AS"
            ),
            ConfigError::DuplicatePeer(a) => write!(f, "peer {a} is configured already"),
            ConfigError::UnknownPeer(p) => write!(f, "no such peer {p}"),
            ConfigError::TooManyPeers => f.write_str("too many peers (65535)"),
            ConfigError::VniExists(v) => write!(f, "VNI {} is configured already", v.get()),
            ConfigError::UnknownVni(v) => write!(f, "VNI {} is not configured", v.get()),
        }
    }
}

impl core::error::Error for ConfigError {}
