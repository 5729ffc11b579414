//! The control socket: a root-only Unix stream socket through which `native-vtep fdb|neigh|stats`
//! talk to the running daemon.
//!
//! The protocol is one JSON request line and one JSON response line per connection:
//! `{"cmd":"stats"}` -> `{"ok":true,"result":{...}}` or `{"ok":false,"error":"..."}`. The server
//! side is non-blocking and serviced from the daemon's poll loop: a slow or silent client never
//! stalls the data path (it is dropped after [`CLIENT_TIMEOUT`]).
//!
//! - `protocol`: the messages ([`Request`], [`Response`], the rows and [`StatsReport`]) and
//!   where sockets live ([`default_control_path`]);
//! - `server`: the listening socket the daemon owns ([`Server`]);
//! - `client`: the command's side ([`resolve`], [`call`]) and the iproute2-style text
//!   (`render_*`);
//! - `bgp`: `bgp summary` and `bgp routes` as text in the layout of FRR's vtysh.
//!
//! It knows nothing of the daemon, which answers the requests (`daemon/handler.rs`) from its
//! engine and TAPs: `control` sits below both the daemon and `config`.

mod bgp;
mod client;
mod protocol;
mod server;

pub use bgp::{render_bgp_routes, render_bgp_summary};
pub use client::{call, render_fdb, render_neigh, render_stats, resolve};
pub use protocol::{
    BgpPeerRow, BgpRouteRow, BgpSummary, DEFAULT_CONTROL_DIR, DaemonStats, FdbRow, NeighRow,
    NetworkStats, Request, Response, StatsReport, default_control_dir, default_control_path,
};
pub use server::{CLIENT_TIMEOUT, Server};
