//! Typed errors of the operations API: each says what is wrong and how to fix it.

use alloc::string::String;
use core::fmt;

use vtep_core::Mac;
use vtep_core::Vni;
use vtep_core::vtep::ConfigError;
use vtep_core::wire::Ipv4Address;

use crate::id::{AppId, LinkId, NodeId, SiteId};

#[derive(Clone, PartialEq, Debug)]
pub enum SimError {
    UnknownSite(SiteId),
    UnknownNode(NodeId),
    UnknownHypervisor(NodeId),
    UnknownHost(NodeId),
    UnknownLink(LinkId),
    UnknownApp(AppId),
    /// No node has this name.
    UnknownName(String),
    /// A live migration to the hypervisor the host already runs on.
    SameHypervisor {
        host: NodeId,
        hypervisor: NodeId,
    },
    VniOutOfRange(u64),
    /// The underlay MTU cannot carry the encapsulation overhead plus a minimal frame.
    MtuBelowOverhead {
        mtu: u16,
        needed: usize,
    },
    /// The MAC is already used by another host of the same VNI.
    DuplicateMac {
        vni: Vni,
        mac: Mac,
    },
    /// The IP is already used by another host of the same VNI.
    DuplicateIp {
        vni: Vni,
        ip: Ipv4Address,
    },
    /// Host MACs must be unicast.
    NotUnicast(Mac),
    /// The hypervisor is failed: restore it first.
    HypervisorDown(NodeId),
    /// A site with hypervisors cannot be removed.
    SiteNotEmpty(SiteId),
    /// A hypervisor with hosts cannot be removed.
    HasHosts(NodeId),
    /// The host is live-migrating (paused, detached) and cannot start another move.
    Migrating(NodeId),
    /// The host is not attached to a hypervisor (it is migrating, or its hypervisor is gone).
    Detached(NodeId),
    /// The operation needs the overlay; this simulation is the flat-L2 baseline.
    FlatL2(&'static str),
    /// Connecting these switches would make a loop in the flat L2 baseline (no STP here).
    WouldLoop,
    /// A name is already taken.
    DuplicateName(String),
    /// An argument outside its range (the message says which).
    BadArgument(String),
    /// The VTEP refused a configuration.
    Vtep(ConfigError),
}

impl fmt::Display for SimError {
    /// Nodes by kind and number ("host 6"): [`SimError::describe`] names them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, &|id, kind| alloc::format!("{kind} {}", id.0))
    }
}

impl SimError {
    /// The message with each node called by `name(id, kind)`, e.g. by the name the user gave
    /// it (`Sim::describe`) instead of "host 6".
    pub fn describe(&self, name: &dyn Fn(NodeId, &str) -> String) -> String {
        struct Named<'a>(&'a SimError, &'a dyn Fn(NodeId, &str) -> String);
        impl fmt::Display for Named<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write(f, self.1)
            }
        }
        alloc::format!("{}", Named(self, name))
    }

    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        name: &dyn Fn(NodeId, &str) -> String,
    ) -> fmt::Result {
        match self {
            SimError::UnknownSite(s) => write!(f, "site {} does not exist", s.0),
            SimError::UnknownNode(n) => write!(f, "{} does not exist", name(*n, "node")),
            SimError::UnknownHypervisor(n) => {
                write!(
                    f,
                    "{} is not a hypervisor (or was removed)",
                    name(*n, "node")
                )
            }
            SimError::UnknownHost(n) => {
                write!(f, "{} is not a host (or was removed)", name(*n, "node"))
            }
            SimError::UnknownLink(l) => write!(f, "link {} does not exist", l.0),
            SimError::UnknownApp(a) => write!(f, "app {} does not exist", a.0),
            SimError::UnknownName(n) => write!(f, "no node is named {n:?}"),
            SimError::SameHypervisor { host, hypervisor } => write!(
                f,
                "{} already runs on {}: pick another hypervisor to migrate to",
                name(*host, "host"),
                name(*hypervisor, "hypervisor")
            ),
            SimError::VniOutOfRange(v) => write!(
                f,
                "VNI {v} is out of range: a VNI has 24 bits (0..=16777215)"
            ),
            SimError::MtuBelowOverhead { mtu, needed } => write!(
                f,
                "underlay MTU {mtu} is below the encapsulation overhead: at least {needed} bytes \
                 are needed (outer headers plus a minimal inner frame)"
            ),
            SimError::DuplicateMac { vni, mac } => {
                write!(f, "MAC {mac} is already used in VNI {vni}")
            }
            SimError::DuplicateIp { vni, ip } => write!(f, "IP {ip} is already used in VNI {vni}"),
            SimError::NotUnicast(mac) => write!(f, "{mac} is not a unicast MAC"),
            SimError::HypervisorDown(n) => {
                write!(f, "{} is failed: restore it first", name(*n, "hypervisor"))
            }
            SimError::SiteNotEmpty(s) => {
                write!(f, "site {} still has hypervisors: remove them first", s.0)
            }
            SimError::HasHosts(n) => write!(
                f,
                "{} still has hosts: migrate or remove them first",
                name(*n, "hypervisor")
            ),
            SimError::Migrating(n) => write!(f, "{} is already migrating", name(*n, "host")),
            SimError::Detached(n) => write!(
                f,
                "{} is not attached to a hypervisor (migrating?)",
                name(*n, "host")
            ),
            SimError::FlatL2(what) => write!(
                f,
                "{what} needs the overlay, but this simulation is the flat-L2 baseline"
            ),
            SimError::WouldLoop => write!(
                f,
                "these switches are already connected: a second path would loop broadcasts \
                 forever in the flat L2 baseline"
            ),
            SimError::DuplicateName(n) => write!(f, "the name {n:?} is already taken"),
            SimError::BadArgument(msg) => f.write_str(msg),
            SimError::Vtep(e) => write!(f, "VTEP configuration refused: {e}"),
        }
    }
}

impl core::error::Error for SimError {}

impl From<ConfigError> for SimError {
    fn from(e: ConfigError) -> Self {
        SimError::Vtep(e)
    }
}
