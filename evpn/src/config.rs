//! What a speaker is told: its AS and addresses, its peers, its VNIs.

use vtep_core::Duration;
use vtep_core::wire::Ipv4Address;
use vtep_core::wire::bgp::RouteTarget;

/// The speaker as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// The AS of the speaker and of every peer (iBGP).
    pub asn: u32,
    /// The BGP identifier; also the base of automatic route distinguishers.
    pub router_id: Ipv4Address,
    /// The VTEP address: next hop of the type-2 routes and originator of the type-3 routes
    /// this speaker originates.
    pub vtep: Ipv4Address,
    /// Hold time offered in OPEN, seconds (RFC 4271 suggests 90; 0 turns keepalives off).
    pub hold_time: u16,
    /// Wait before the first reconnection after a failure; doubles on each failure in a row.
    pub connect_retry: Duration,
    /// The longest wait between reconnections.
    pub max_connect_retry: Duration,
    /// Reflect routes between peers (RFC 4456) with this cluster ID.
    pub route_reflector: Option<Ipv4Address>,
    /// Accept connections from any address in this IPv4 prefix as a new passive peer
    /// (FRR's `bgp listen range`), removed again when its session ends.
    pub listen_range: Option<(Ipv4Address, u8)>,
    /// Routes a peer may have in its Adj-RIB-In before the session is torn down
    /// (NOTIFICATION cease / maximum number of prefixes reached), unless the peer's own
    /// limit says otherwise.
    pub max_routes_per_peer: usize,
    /// Keys the speaker's hash tables, so runs repeat exactly (as `VtepConfig::hash_seed`).
    pub hash_seed: u64,
}

impl SpeakerConfig {
    /// A VTEP speaker whose router ID is its VTEP address, with RFC timers.
    pub fn new(asn: u32, vtep: Ipv4Address) -> SpeakerConfig {
        SpeakerConfig {
            asn,
            router_id: vtep,
            vtep,
            hold_time: 90,
            connect_retry: Duration::from_secs(5),
            max_connect_retry: Duration::from_secs(120),
            route_reflector: None,
            listen_range: None,
            max_routes_per_peer: 1_000_000,
            hash_seed: 0x6576_706e_2d73_7065,
        }
    }

    /// A route reflector with cluster ID `router_id`, accepting clients from `listen`.
    pub fn reflector(asn: u32, router_id: Ipv4Address, listen: (Ipv4Address, u8)) -> SpeakerConfig {
        SpeakerConfig {
            route_reflector: Some(router_id),
            listen_range: Some(listen),
            ..SpeakerConfig::new(asn, router_id)
        }
    }
}

/// One neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub address: Ipv4Address,
    /// Must equal the speaker's AS: only iBGP is spoken.
    pub remote_as: u32,
    /// Wait for the peer to connect instead of connecting out.
    pub passive: bool,
    /// Reflect routes to this peer as a client (route reflector mode only).
    pub route_reflector_client: bool,
    /// Overrides [`SpeakerConfig::max_routes_per_peer`].
    pub max_routes: Option<usize>,
}

impl PeerConfig {
    /// An iBGP peer this speaker connects to (a route reflector, for a VTEP).
    pub fn active(address: Ipv4Address, asn: u32) -> PeerConfig {
        PeerConfig {
            address,
            remote_as: asn,
            passive: false,
            route_reflector_client: false,
            max_routes: None,
        }
    }

    /// An iBGP peer that connects to this speaker.
    pub fn passive(address: Ipv4Address, asn: u32) -> PeerConfig {
        PeerConfig {
            passive: true,
            ..PeerConfig::active(address, asn)
        }
    }
}

/// One local VNI: what its routes carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VniConfig {
    /// Import and export route target; `None` is FRR's automatic `AS:VNI`, which imports any
    /// route target whose local part is the VNI, whatever its AS.
    pub route_target: Option<RouteTarget>,
}
