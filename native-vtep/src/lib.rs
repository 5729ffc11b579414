//! `native-vtep`: the vtep-core engine on real TAP devices and UDP sockets.
//!
//! A library so that the fuzz targets (`fuzz/`) and tests reach the configuration parser;
//! the `native-vtep` binary (`src/main.rs`) is its only other user.
//!
//! - [`cli`]: flags and subcommands, and their conversion into the daemon's types;
//!   [`config`]: flags merged over a TOML file, validated;
//! - [`daemon`]: the device layer (setup, workers, output I/O, the TAP set) and its poll loop;
//! - [`control`]: the Unix control socket (protocol, server, client, the daemon's handlers);
//! - `offload`: virtio-net headers, TSO segmentation and TCP coalescing;
//! - `sys`: every `unsafe` call (ioctls, raw sockets, poll, signalfd), nowhere else;
//!   [`bench_io`] lends the benchmark's packet generator its batched UDP I/O.
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
mod offload;
mod sys;

/// Batched UDP I/O and CPU pinning from `sys`, for the packet-rate generator of the benchmark
/// (`benches/native.rs`).
pub mod bench_io {
    pub use crate::sys::{pin_to_cpu, recv_many, send_many, set_socket_buffers};
}
