//! The control protocol: what travels over the socket, one JSON line each way. Shared by the
//! server (the daemon) and the client (`native-vtep fdb|neigh|stats`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where control sockets go by default (`<dir>/<first tap>.sock`) in the initial network
/// namespace; other namespaces get a folder below it (see [`default_control_dir`]).
pub const DEFAULT_CONTROL_DIR: &str = "/run/native-vtep";

/// The folder of this network namespace's control sockets: `<DEFAULT_CONTROL_DIR>/netns/<name>`
/// in a namespace named by `ip netns` (as `ip netns identify` finds it), `.../net-<inode>` in
/// another that is not process 1's, [`DEFAULT_CONTROL_DIR`] itself in the initial one. Daemons with the same TAP
/// name in two namespaces (a lab on one machine) so get distinct sockets, and a command run
/// in a namespace finds the daemon of that namespace.
pub fn default_control_dir() -> PathBuf {
    let base = PathBuf::from(DEFAULT_CONTROL_DIR);
    match netns_name() {
        Some(name) => base.join("netns").join(name),
        None => base,
    }
}

/// The default control socket of the daemon whose first TAP is `tap`.
pub fn default_control_path(tap: &str) -> PathBuf {
    default_control_dir().join(format!("{tap}.sock"))
}

/// The name of this network namespace when it is not the initial one: its `ip netns` name,
/// or `net-<inode>` when unnamed and process 1's namespace is another. `None` in the initial
/// namespace, or when that cannot be told (no /proc).
fn netns_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let id = |path: &std::path::Path| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let me = id("/proc/self/ns/net".as_ref())?;
    let named = std::fs::read_dir("/run/netns").ok().and_then(|dir| {
        dir.filter_map(Result::ok)
            .find(|e| id(&e.path()) == Some(me))
            .and_then(|e| e.file_name().into_string().ok())
    });
    if named.is_some() {
        return named;
    }
    // Process 1's namespace may be unreadable (a container's init): then this is taken for
    // the initial one.
    id("/proc/1/ns/net".as_ref())
        .is_some_and(|init| init != me)
        .then(|| format!("net-{}", me.1))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    FdbShow {
        vni: Option<u32>,
    },
    FdbAdd {
        vni: Option<u32>,
        mac: String,
        dst: IpAddr,
    },
    FdbDel {
        vni: Option<u32>,
        mac: String,
        dst: Option<IpAddr>,
    },
    NeighShow {
        vni: Option<u32>,
    },
    NeighAdd {
        vni: Option<u32>,
        ip: IpAddr,
        mac: String,
        /// An IPv6 router: proxied Neighbour Advertisements for it carry the Router flag.
        #[serde(default)]
        router: bool,
    },
    NeighDel {
        vni: Option<u32>,
        ip: IpAddr,
    },
    Stats,
    /// `bgp summary`: the EVPN sessions.
    BgpSummary,
    /// `bgp routes`: the EVPN routes, received and local.
    BgpRoutes {
        vni: Option<u32>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn ok(result: impl Serialize) -> Response {
        match serde_json::to_value(result) {
            Ok(value) => Response {
                ok: true,
                result: Some(value),
                error: None,
            },
            Err(e) => Response::err(format!("cannot encode the answer: {e}")),
        }
    }

    pub fn err(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            result: None,
            error: Some(msg.into()),
        }
    }
}

/// One row of `fdb show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FdbRow {
    pub vni: u32,
    pub dev: String,
    pub mac: String,
    /// Remote VTEP, for remote entries and flood-list rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
    /// `learned`, `static`, `control`, or `flood` (a head-end replication peer).
    pub state: String,
    /// Behind a local port (this VTEP's TAP), not a remote VTEP.
    pub local: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<u64>,
    pub seq: u32,
    pub frozen: bool,
    /// For entries from EVPN routes (`control`): the BGP peer whose route won.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
}

impl FdbRow {
    /// The row of flood-list peer `dst` of network `vni` on TAP `dev`: MAC 00:00:00:00:00:00,
    /// as `bridge fdb show` lists head-end replication.
    pub fn flood(vni: u32, dev: String, dst: IpAddr) -> FdbRow {
        FdbRow {
            vni,
            dev,
            mac: "00:00:00:00:00:00".into(),
            dst: Some(dst),
            state: "flood".into(),
            local: false,
            age_secs: None,
            seq: 0,
            frozen: false,
            peer: None,
        }
    }
}

/// `bgp summary`: the speaker and its peers, as `show bgp l2vpn evpn summary` shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpSummary {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    /// Next hop of the routes this VTEP originates.
    pub vtep: Ipv4Addr,
    pub hold_time: u16,
    /// Routes this VTEP originates (type 3 per VNI, type 2 per local MAC and MAC/IP).
    pub local_routes: usize,
    /// Routes held from all peers.
    pub received_routes: usize,
    /// Bytes of the speaker's route tables.
    pub table_bytes: usize,
    /// Engine events for the speaker lost because its queue was full.
    pub events_lost: u64,
    /// Routes the engine refused to install (FDB full, ...).
    pub refused: u64,
    pub peers: Vec<BgpPeerRow>,
}

/// One peer of `bgp summary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpPeerRow {
    pub address: Ipv4Addr,
    pub remote_as: u32,
    /// `Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm` or `Established`.
    pub state: String,
    /// Seconds since the session came up (Established only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_router_id: Option<Ipv4Addr>,
    /// The hold time both sides agreed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<u16>,
    pub msg_rcvd: u64,
    pub msg_sent: u64,
    /// Routes received and held (PfxRcd).
    pub routes_received: usize,
    /// Routes waiting to be sent (OutQ).
    pub routes_pending: usize,
    /// Counters by name: messages by type, routes accepted, withdrawn, ignored, looped,
    /// sessions established and dropped.
    pub counters: BTreeMap<String, u64>,
    /// Malformed messages and attributes by RFC 7606 reason (only those seen).
    pub malformed: BTreeMap<String, u64>,
    /// Why the session last went down (or could not come up), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// One route of `bgp routes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgpRouteRow {
    /// The VNI it imports into (or, not imported, its label).
    pub vni: u32,
    pub imported: bool,
    /// 2 (MAC/IP advertisement) or 3 (inclusive multicast).
    pub route_type: u8,
    pub rd: String,
    /// The prefix as FRR prints it: `[2]:[0]:[48]:[MAC]` (`:[32]:[IP]`), `[3]:[0]:[32]:[IP]`.
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    pub next_hop: Ipv4Addr,
    /// MAC mobility sequence number.
    pub seq: u32,
    pub sticky: bool,
    /// An IPv6 router's address: RFC 9047's ARP/ND extended community with R set.
    #[serde(default)]
    pub router: bool,
    pub route_targets: Vec<String>,
    /// `local`, or the address of the peer it came from.
    pub source: String,
    /// Decides the FDB entry (type 2) or is in the flood list (type 3).
    pub best: bool,
}
/// One row of `neigh show`: an IPv4 (ARP) or IPv6 (ND) neighbour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighRow {
    pub vni: u32,
    pub dev: String,
    pub ip: IpAddr,
    pub mac: String,
    pub state: String,
    pub age_secs: u64,
    /// An IPv6 router (learned from a Neighbour Advertisement's R flag, or set by `neigh add
    /// ... --router`).
    #[serde(default)]
    pub router: bool,
}

/// The counters of one network, as `stats` reports them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NetworkStats {
    pub vni: u32,
    pub dev: String,
    pub encap: String,
    pub learning: bool,
    pub proxy: bool,
    pub flood_peers: Vec<IpAddr>,
    pub counters: BTreeMap<String, u64>,
    /// Every drop reason, zero or not (a stable schema for scripts).
    pub drops: BTreeMap<String, u64>,
}

/// A struct of `u64` counters with `+=` adding another's field by field, both from one list
/// (a new counter cannot be left out of the sum).
macro_rules! counters {
    ($(#[$attr:meta])* pub struct $name:ident { $($(#[$f_attr:meta])* pub $f:ident: u64,)* }) => {
        $(#[$attr])*
        pub struct $name { $($(#[$f_attr])* pub $f: u64,)* }

        impl std::ops::AddAssign<&$name> for $name {
            fn add_assign(&mut self, more: &$name) {
                $(self.$f += more.$f;)*
            }
        }
    };
}

counters! {
    /// Counters of the device layer (what the engine cannot see); a worker's add up to the
    /// daemon's with `+=`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct DaemonStats {
        pub tap_rx_frames: u64,
        pub tap_read_errors: u64,
        pub tap_write_errors: u64,
        pub udp_rx_datagrams: u64,
        /// GRE packets read from the raw socket of NVGRE.
        #[serde(default)]
        pub gre_rx_packets: u64,
        /// Failed reads of the underlay sockets (UDP, and GRE's raw socket).
        pub udp_recv_errors: u64,
        pub udp_send_errors: u64,
        pub control_requests: u64,
        /// Decapsulated frames whose TCP/UDP checksum was partial (the pseudo-header sum that
        /// a sender on the same host leaves to offload), completed before the TAP write.
        pub inner_csum_completed: u64,
        /// Decapsulated frames dropped for a wrong TCP/UDP checksum.
        pub inner_csum_bad: u64,
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatsReport {
    pub version: String,
    pub uptime_secs: u64,
    pub local: Option<IpAddr>,
    pub fdb_entries: usize,
    pub fdb_max: usize,
    pub neighbours: usize,
    pub networks: Vec<NetworkStats>,
    /// Drops that belong to no network (unknown VNI, malformed header, not a peer, ...).
    pub global_drops: BTreeMap<String, u64>,
    pub events_lost: u64,
    pub daemon: DaemonStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_as_json_lines() {
        let cases = [
            (Request::Stats, r#"{"cmd":"stats"}"#),
            (
                Request::FdbShow { vni: Some(42) },
                r#"{"cmd":"fdb_show","vni":42}"#,
            ),
            (
                Request::NeighDel {
                    vni: None,
                    ip: "192.168.1.1".parse().unwrap(),
                },
                r#"{"cmd":"neigh_del","vni":null,"ip":"192.168.1.1"}"#,
            ),
        ];
        for (request, json) in cases {
            assert_eq!(serde_json::to_string(&request).unwrap(), json);
            assert_eq!(serde_json::from_str::<Request>(json).unwrap(), request);
        }
    }

    /// `+=` adds every counter: field `k` of the worker's stats is `k + 1`, each sum twice that.
    #[test]
    fn daemon_stats_add_up_field_by_field() {
        let mut json = serde_json::to_value(DaemonStats::default()).unwrap();
        for (k, v) in json.as_object_mut().unwrap().values_mut().enumerate() {
            *v = (k + 1).into();
        }
        let one: DaemonStats = serde_json::from_value(json).unwrap();
        let mut total = one;
        total += &one;
        let sums = serde_json::to_value(total).unwrap();
        for (k, v) in sums.as_object().unwrap().values().enumerate() {
            assert_eq!(v.as_u64(), Some(2 * (k as u64 + 1)), "{sums}");
        }
    }
}
