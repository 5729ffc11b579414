//! The control protocol: what travels over the socket, one JSON line each way. Shared by the
//! server (the daemon) and the client (`native-vtep fdb|neigh|stats`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where control sockets go by default (`<dir>/<first tap>.sock`).
pub const DEFAULT_CONTROL_DIR: &str = "/run/native-vtep";

/// The default control socket of the daemon whose first TAP is `tap`.
pub fn default_control_path(tap: &str) -> PathBuf {
    PathBuf::from(DEFAULT_CONTROL_DIR).join(format!("{tap}.sock"))
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
    },
    NeighDel {
        vni: Option<u32>,
        ip: IpAddr,
    },
    Stats,
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
}

/// One row of `neigh show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighRow {
    pub vni: u32,
    pub dev: String,
    pub ip: Ipv4Addr,
    pub mac: String,
    pub state: String,
    pub age_secs: u64,
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

/// Counters of the device layer (what the engine cannot see).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DaemonStats {
    pub tap_rx_frames: u64,
    pub tap_read_errors: u64,
    pub tap_write_errors: u64,
    pub udp_rx_datagrams: u64,
    pub udp_recv_errors: u64,
    pub udp_send_errors: u64,
    pub control_requests: u64,
    /// Decapsulated frames whose TCP/UDP checksum was partial (the pseudo-header sum that a
    /// sender on the same host leaves to offload), completed before the TAP write.
    pub inner_csum_completed: u64,
    /// Decapsulated frames dropped for a wrong TCP/UDP checksum.
    pub inner_csum_bad: u64,
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
}
