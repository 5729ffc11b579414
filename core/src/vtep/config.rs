//! Configuration of a VTEP and of its networks, and the errors of the management calls.

use alloc::vec::Vec;
use core::fmt;

use super::Encapsulation;
use crate::addr::PortId;
use crate::fdb::{FdbConfig, FdbError};
use crate::neigh::NeighError;
use crate::rate::RateLimit;
use crate::wire::outer::UdpChecksum;
use crate::wire::vxlan::ReservedBitsPolicy;
use crate::wire::{IpAddress, flow};
use crate::{Duration, Vni};

/// What to do with 802.1Q-tagged inner frames (RFC 7348 section 6.1: a VTEP should not put an
/// inner VLAN tag into a tunnel, and should discard decapsulated frames that carry one,
/// "unless configured otherwise").
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum InnerVlanPolicy {
    /// Drop tagged frames in both directions (the RFC's default).
    #[default]
    Drop,
    /// Remove the tag before encapsulating; drop tagged frames arriving from the underlay.
    Strip,
    /// Carry tagged frames in both directions.
    Keep,
}

/// Settings shared by every network of a VTEP.
#[derive(Clone, Debug)]
pub struct VtepConfig {
    /// This VTEP's underlay address: the outer source of everything it sends.
    pub local: IpAddress,
    /// UDP destination port for VXLAN (4789; Linux's legacy default is 8472).
    pub vxlan_port: u16,
    /// UDP destination port for Geneve (6081).
    pub geneve_port: u16,
    /// Inclusive range for the flow-hashed UDP source port (default 49152..=65535).
    pub source_ports: (u16, u16),
    /// UDP checksum over IPv4 (IPv6 always computes one).
    pub udp_checksum: UdpChecksum,
    /// Outer TTL / hop limit.
    pub hop_limit: u8,
    /// Reserved bits in received VXLAN headers: ignore (RFC) or drop (Linux).
    pub reserved_bits: ReservedBitsPolicy,
    /// Largest IP packet the underlay carries. Frames that would exceed it once encapsulated
    /// are dropped: VTEPs do not fragment (RFC 7348 section 4.3).
    pub underlay_mtu: u16,
    pub fdb: FdbConfig,
    /// Size of the neighbour table (ARP suppression).
    pub max_neighbours: usize,
    /// Only accept tunnel traffic from these addresses, if set.
    pub accept_peers: Option<Vec<IpAddress>>,
    /// Keys every hash (FDB, flow hash). Fix it to replay; randomise it against hash flooding.
    pub hash_seed: u64,
    /// How often ageing runs; entries expire within this much after their ageing time.
    pub sweep_interval: Duration,
    /// Capacity of the event queue; events beyond it are counted as lost.
    pub event_capacity: usize,
}

impl VtepConfig {
    /// The smallest underlay MTU a VTEP accepts: the largest encapsulation overhead (Geneve)
    /// plus a minimum-size (60-byte) inner frame.
    pub fn min_underlay_mtu(ipv6_underlay: bool) -> usize {
        Encapsulation::Geneve.ip_overhead(ipv6_underlay) + 60
    }

    /// Defaults as in Linux (`ip link add ... type vxlan local LOCAL dstport 4789`).
    pub fn new(local: IpAddress) -> VtepConfig {
        VtepConfig {
            local,
            vxlan_port: flow::VXLAN_PORT,
            geneve_port: flow::GENEVE_PORT,
            source_ports: flow::DEFAULT_SOURCE_PORTS,
            udp_checksum: UdpChecksum::Zero,
            hop_limit: 64,
            reserved_bits: ReservedBitsPolicy::Rfc,
            underlay_mtu: 1500,
            fdb: FdbConfig::default(),
            max_neighbours: 16_384,
            accept_peers: None,
            hash_seed: 0x6f76_6572_6c61_7921,
            sweep_interval: Duration::from_secs(1),
            event_capacity: 256,
        }
    }

    /// Checks what `Vtep::new` and the setters of a running VTEP accept.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let local_ok = match self.local {
            IpAddress::Ipv4(ip) => !ip.is_multicast() && !ip.is_broadcast() && !ip.is_unspecified(),
            IpAddress::Ipv6(ip) => !ip.is_multicast() && !ip.is_unspecified(),
        };
        if !local_ok {
            return Err(ConfigError::BadLocalAddress(self.local));
        }
        if self.vxlan_port == self.geneve_port {
            return Err(ConfigError::PortClash(self.vxlan_port));
        }
        let (min, max) = self.source_ports;
        if min == 0 || min > max {
            return Err(ConfigError::BadSourcePorts(min, max));
        }
        let needed = VtepConfig::min_underlay_mtu(is_ipv6(&self.local));
        if usize::from(self.underlay_mtu) < needed {
            return Err(ConfigError::MtuTooSmall {
                mtu: self.underlay_mtu,
                needed,
            });
        }
        if let Some(peers) = &self.accept_peers
            && let Some(peer) = peers.iter().find(|p| !same_family(p, &self.local))
        {
            return Err(ConfigError::AddressFamilyMismatch {
                local: self.local,
                remote: *peer,
            });
        }
        Ok(())
    }
}

/// Settings of one virtual network (one VNI) on a VTEP.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NetworkConfig {
    pub vni: Vni,
    pub encapsulation: Encapsulation,
    /// Learn remote MACs from decapsulated traffic (Linux `learning`); off when a control plane
    /// or static entries provide them.
    pub learning: bool,
    /// Answer ARP requests from the neighbour table instead of flooding them (Linux `proxy`).
    pub arp_proxy: bool,
    /// Bandwidth cap for this network's traffic into the underlay (claim S7).
    pub rate_limit: Option<RateLimit>,
    pub inner_vlan: InnerVlanPolicy,
}

impl NetworkConfig {
    /// VXLAN, learning on, no ARP suppression, no rate limit, tagged frames dropped.
    pub fn new(vni: Vni) -> NetworkConfig {
        NetworkConfig {
            vni,
            encapsulation: Encapsulation::Vxlan,
            learning: true,
            arp_proxy: false,
            rate_limit: None,
            inner_vlan: InnerVlanPolicy::Drop,
        }
    }
}

/// Whether two underlay addresses are of the same IP family: the underlay is all IPv4 or all
/// IPv6.
#[inline]
pub(super) fn same_family(a: &IpAddress, b: &IpAddress) -> bool {
    matches!(
        (a, b),
        (IpAddress::Ipv4(_), IpAddress::Ipv4(_)) | (IpAddress::Ipv6(_), IpAddress::Ipv6(_))
    )
}

#[inline]
pub(super) fn is_ipv6(ip: &IpAddress) -> bool {
    matches!(ip, IpAddress::Ipv6(_))
}

/// Errors of the management calls: each says what is wrong and how to fix it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ConfigError {
    NetworkExists(Vni),
    UnknownNetwork(Vni),
    UnknownPort(PortId),
    TooManyPorts,
    /// A remote of another IP family than the local address.
    AddressFamilyMismatch {
        local: IpAddress,
        remote: IpAddress,
    },
    /// The local address cannot source tunnel traffic (unspecified, multicast, broadcast).
    BadLocalAddress(IpAddress),
    /// VXLAN and Geneve were given the same UDP port.
    PortClash(u16),
    /// The source port range is empty or includes port 0.
    BadSourcePorts(u16, u16),
    /// The underlay MTU leaves no room for an inner frame.
    MtuTooSmall {
        mtu: u16,
        needed: usize,
    },
    /// A rate limit whose burst is smaller than one frame would drop everything.
    BurstTooSmall {
        burst_bytes: u64,
    },
    Fdb(FdbError),
    Neigh(NeighError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NetworkExists(vni) => {
                write!(
                    f,
                    "VNI {vni} is already configured: remove it first or pick another VNI"
                )
            }
            ConfigError::UnknownNetwork(vni) => {
                write!(
                    f,
                    "VNI {vni} is not configured on this VTEP: add the network first"
                )
            }
            ConfigError::UnknownPort(port) => write!(f, "{port} does not exist on this VTEP"),
            ConfigError::TooManyPorts => write!(f, "this VTEP already has 65536 ports"),
            ConfigError::AddressFamilyMismatch { local, remote } => write!(
                f,
                "remote {remote} and local {local} are of different IP families: the underlay \
                 must be all IPv4 or all IPv6"
            ),
            ConfigError::BadLocalAddress(ip) => write!(
                f,
                "{ip} cannot be a VTEP's local address: use this host's unicast underlay address"
            ),
            ConfigError::PortClash(port) => write!(
                f,
                "VXLAN and Geneve both use UDP port {port}: give each its own port"
            ),
            ConfigError::BadSourcePorts(min, max) => write!(
                f,
                "source port range {min}-{max} is invalid: use MIN <= MAX, both 1..=65535"
            ),
            ConfigError::MtuTooSmall { mtu, needed } => write!(
                f,
                "underlay MTU {mtu} is too small: encapsulation needs at least {needed} bytes \
                 (headers plus a minimal 60-byte frame)"
            ),
            ConfigError::BurstTooSmall { burst_bytes } => write!(
                f,
                "rate-limit burst of {burst_bytes} bytes is smaller than one full frame: use at \
                 least 1514 bytes"
            ),
            ConfigError::Fdb(e) => fmt::Display::fmt(e, f),
            ConfigError::Neigh(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for ConfigError {}

impl From<FdbError> for ConfigError {
    fn from(e: FdbError) -> Self {
        ConfigError::Fdb(e)
    }
}

impl From<NeighError> for ConfigError {
    fn from(e: NeighError) -> Self {
        ConfigError::Neigh(e)
    }
}
