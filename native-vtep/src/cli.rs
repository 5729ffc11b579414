//! Command-line interface: the daemon's flags (kernel VXLAN vocabulary where it exists) and the
//! control subcommands that talk to a running daemon.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use vtep_core::vtep::Encapsulation;

const ABOUT: &str = "A userspace VXLAN/Geneve/NVGRE tunnel endpoint (VTEP) for Linux";

const LONG_ABOUT: &str = "\
A userspace VXLAN/Geneve/NVGRE tunnel endpoint (VTEP) for Linux, built on the sans-IO vtep-core
engine.

Each virtual network (VNI) gets a TAP device: Ethernet frames that enter the TAP are sent,
encapsulated in UDP (or GRE, for NVGRE), to the VTEP behind which the destination MAC lives (or
to every --remote when it is unknown: head-end replication). Datagrams from the underlay are
decapsulated and delivered to the TAP. It interoperates with the Linux kernel's `vxlan` devices
(Geneve: with itself, and with the kernel's `geneve` where the kernel has that driver; NVGRE:
with itself).

The simplest case is one line:

  native-vtep --tap vtep42 --vni 42 --local 10.0.0.1 --remote 10.0.0.2 --remote 10.0.0.3

creates TAP vtep42, brings it up, and forwards until SIGINT/SIGTERM, then removes the TAP.
Several networks, static FDB and neighbour entries: use --config FILE.toml (see README).

With --evpn-asn and --evpn-peer it speaks BGP EVPN to a route reflector (FRR, GoBGP): remote
MACs and flood lists come from routes, local MACs become routes (see the EVPN flags).

While it runs, `native-vtep fdb show`, `neigh show`, `stats` and `bgp summary|routes` talk to it
over a root-only Unix socket (in each network namespace its own: run them in the namespace). Needs root or CAP_NET_ADMIN + CAP_NET_RAW; with --user NAME it
drops to that user once its TAPs and sockets are open.

Faults: SIGTERM, SIGINT or SIGHUP remove the TAPs it created and the control socket, exit 0.
The underlay link going down and up needs nothing: sends fail meanwhile, counted and logged
(`stats`: udp send errors), and traffic resumes. A TAP deleted under it stops it with an error
(exit 1: restart it). After a crash or SIGKILL, a restart replaces the stale control socket
and attaches to a TAP that still exists; a TAP made persistent beforehand (ip tuntap add)
keeps its MAC and addresses across restarts. Static entries come back from the command line
or config file; `fdb add`/`neigh add` changes live in memory only.";

const AFTER_HELP: &str = "\
Examples:
  native-vtep --tap vtep42 --vni 42 --local 10.0.0.1 --remote 10.0.0.2
  native-vtep --config /etc/native-vtep/underlay.toml -v
  native-vtep fdb show
  native-vtep fdb add 02:00:00:00:00:02 dst 10.0.0.2 --vni 42
  native-vtep stats --json
  native-vtep --tap vtep42 --vni 42 --local 10.0.0.1 --evpn-asn 65000 --evpn-peer 10.0.0.254
  native-vtep bgp summary
  native-vtep bgp routes --vni 42

Logging: info by default (setup, learned/moved/aged MACs); -v debug (every drop and flood),
-vv trace; RUST_LOG (e.g. RUST_LOG=native_vtep=debug) overrides.";

#[derive(Debug, Parser)]
#[command(
    name = "native-vtep",
    version = vtep_core::VERSION,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub run: RunArgs,

    /// More log output: -v debug, -vv trace (RUST_LOG, if set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
}

// Parsed once at startup: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the VTEP (the default when no subcommand is given).
    Run(RunArgs),
    /// Show or change the forwarding database of a running daemon.
    #[command(subcommand)]
    Fdb(FdbCommand),
    /// Show or change the neighbour table (ARP and ND suppression) of a running daemon.
    #[command(subcommand)]
    Neigh(NeighCommand),
    /// Show the BGP EVPN sessions and routes of a running daemon (like FRR's vtysh).
    #[command(subcommand)]
    Bgp(BgpCommand),
    /// Show the counters of a running daemon, drops by reason included.
    Stats {
        #[command(flatten)]
        target: Target,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Which running daemon a control command talks to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Control socket of the daemon [default: the only socket of this network namespace, in
    /// /run/native-vtep/ (initial namespace) or /run/native-vtep/netns/<name>/].
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,
    /// The daemon of this network namespace whose first TAP is NAME (its socket is NAME.sock in
    /// the namespace's folder).
    #[arg(long, value_name = "NAME", conflicts_with = "control")]
    pub tap: Option<String>,
}

/// What a listing (`fdb show`, `neigh show`, `bgp routes`) takes: the daemon, a VNI, JSON.
#[derive(Debug, Clone, Args)]
pub struct Listing {
    #[command(flatten)]
    pub target: Target,
    /// Only this VNI.
    #[arg(long)]
    pub vni: Option<u32>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum FdbCommand {
    /// List entries, like `bridge fdb show` (00:00:00:00:00:00 rows are the flood list).
    Show {
        #[command(flatten)]
        listing: Listing,
    },
    /// Add a static entry: MAC lives behind the VTEP at IP (`bridge fdb add MAC dst IP`).
    /// MAC 00:00:00:00:00:00 appends IP to the flood list instead.
    Add {
        #[command(flatten)]
        target: Target,
        mac: String,
        /// The remote VTEP's underlay address (`dst IP` as with `bridge fdb add` also works).
        #[arg(value_name = "[dst] IP", num_args = 1..=2, required = true)]
        dst: Vec<String>,
        /// The network [default: the daemon's only VNI].
        #[arg(long)]
        vni: Option<u32>,
    },
    /// Delete an entry (any origin). MAC 00:00:00:00:00:00 with --dst removes a flood peer.
    Del {
        #[command(flatten)]
        target: Target,
        mac: String,
        #[arg(long)]
        vni: Option<u32>,
        /// With MAC 00:00:00:00:00:00: the flood peer to remove.
        #[arg(long)]
        dst: Option<IpAddr>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BgpCommand {
    /// The sessions, like `show bgp l2vpn evpn summary`: state, messages, routes received,
    /// and why a session is down.
    Summary {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        json: bool,
    },
    /// The routes, received and originated, like `show bgp l2vpn evpn route`: `*>` marks the
    /// path that decides the FDB entry (type 2) or the flood list (type 3).
    Routes {
        #[command(flatten)]
        listing: Listing,
    },
}

#[derive(Debug, Subcommand)]
pub enum NeighCommand {
    /// List entries, like `ip neigh show`.
    Show {
        #[command(flatten)]
        listing: Listing,
    },
    /// Add a static entry for ARP (IPv4) or ND (IPv6) suppression: IP is at MAC (`ip neigh
    /// add IP lladdr MAC`).
    Add {
        #[command(flatten)]
        target: Target,
        ip: IpAddr,
        /// The MAC address (`lladdr MAC` as with `ip neigh add` also works).
        #[arg(value_name = "[lladdr] MAC", num_args = 1..=2, required = true)]
        mac: Vec<String>,
        #[arg(long)]
        vni: Option<u32>,
        /// The IPv6 neighbour is a router: answers for it carry the Router flag (`ip -6 neigh
        /// add ... router`).
        #[arg(long)]
        router: bool,
    },
    /// Delete an entry.
    Del {
        #[command(flatten)]
        target: Target,
        ip: IpAddr,
        #[arg(long)]
        vni: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncapArg {
    /// RFC 7348 VXLAN (UDP 4789).
    Vxlan,
    /// RFC 8926 Geneve (UDP 6081).
    Geneve,
    /// RFC 7637 NVGRE: GRE (IP protocol 47) with the key holding VNI and flow id; no UDP port.
    Nvgre,
}

impl From<EncapArg> for Encapsulation {
    fn from(arg: EncapArg) -> Self {
        match arg {
            EncapArg::Vxlan => Self::Vxlan,
            EncapArg::Geneve => Self::Geneve,
            EncapArg::Nvgre => Self::Nvgre,
        }
    }
}

/// What to do with received VXLAN headers that have reserved bits set (`--reserved-bits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReservedBitsArg {
    /// Ignore them, as RFC 7348 says: extensions (GBP, GPE) pass as plain VXLAN.
    #[default]
    Rfc,
    /// Drop the datagram and count it as `reserved_bits`, as the Linux driver does.
    Strict,
}

impl From<ReservedBitsArg> for vtep_core::wire::vxlan::ReservedBitsPolicy {
    fn from(arg: ReservedBitsArg) -> Self {
        match arg {
            ReservedBitsArg::Rfc => Self::Rfc,
            ReservedBitsArg::Strict => Self::Strict,
        }
    }
}

/// The data path of the daemon (see `daemon.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DatapathArg {
    /// `batch` for now: `offload` changes what the underlay carries on veth (see --help).
    #[default]
    Auto,
    /// One read/write/sendto per frame, raw IP socket (per-flow source ports).
    Plain,
    /// recvmmsg/sendmmsg batches, raw IP socket (per-flow source ports).
    Batch,
    /// TAP with IFF_VNET_HDR + TSO, UDP GSO and GRO, TCP coalescing into the TAP.
    Offload,
}

/// Flags of the daemon. Underlay flags override the config file's `[underlay]`; --tap/--vni add
/// one more network to the file's `[[network]]`s.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// TAP device of the network: attached to if it exists, created (and removed at exit)
    /// otherwise.
    #[arg(long, value_name = "NAME", help_heading = "Network")]
    pub tap: Option<String>,
    /// Virtual network identifier, 0..=16777215.
    #[arg(long, value_name = "N", help_heading = "Network")]
    pub vni: Option<u32>,
    /// Remote VTEP to flood broadcast/unknown traffic to (head-end replication); repeatable.
    #[arg(long, value_name = "IP", action = ArgAction::Append, help_heading = "Network")]
    pub remote: Vec<IpAddr>,
    /// Encapsulation of the network.
    #[arg(long, value_enum, value_name = "ENCAP", help_heading = "Network")]
    pub encap: Option<EncapArg>,
    /// Learn remote MACs from received traffic [default].
    #[arg(long, overrides_with = "nolearning", help_heading = "Network")]
    pub learning: bool,
    /// Do not learn: use static FDB entries (like the kernel's `nolearning`).
    #[arg(long, overrides_with = "learning", help_heading = "Network")]
    pub nolearning: bool,
    /// ARP and ND suppression: answer ARP requests and IPv6 Neighbour Solicitations for known
    /// IPs locally instead of flooding them.
    #[arg(long, help_heading = "Network")]
    pub proxy: bool,
    /// Rate limit into the underlay, bits per second (suffixes k, M, G: 100M).
    #[arg(long, value_name = "BITS_PER_SEC", value_parser = parse_rate, help_heading = "Network")]
    pub rate: Option<u64>,
    /// Enslave the TAP to this existing Linux bridge.
    #[arg(long, value_name = "BR", help_heading = "Network")]
    pub bridge: Option<String>,
    /// Static FDB entry MAC=IP (MAC lives behind the VTEP at IP); repeatable.
    #[arg(long = "fdb", value_name = "MAC=IP", action = ArgAction::Append, help_heading = "Network")]
    pub static_fdb: Vec<String>,
    /// Static neighbour IP=MAC (IPv4 or IPv6) for ARP or ND suppression; repeatable.
    #[arg(long = "neigh", value_name = "IP=MAC", action = ArgAction::Append, help_heading = "Network")]
    pub static_neigh: Vec<String>,

    /// This host's underlay address: source of all tunnel traffic.
    #[arg(long, value_name = "IP", help_heading = "Underlay")]
    pub local: Option<IpAddr>,
    /// UDP destination port of the encapsulation [default: 4789 for VXLAN, 6081 for Geneve;
    /// NVGRE has none].
    #[arg(long, value_name = "PORT", help_heading = "Underlay")]
    pub dstport: Option<u16>,
    /// Range of flow-hashed UDP source ports [default: 49152 65535].
    #[arg(long, num_args = 2, value_names = ["MIN", "MAX"], help_heading = "Underlay")]
    pub srcport: Option<Vec<u16>>,
    /// Only accept tunnel traffic from these addresses; repeatable [default: anyone].
    #[arg(long, value_name = "IP", action = ArgAction::Append, help_heading = "Underlay")]
    pub accept_peer: Vec<IpAddr>,
    /// Seconds before a learned MAC is forgotten [default: 300].
    #[arg(long, value_name = "SECS", help_heading = "Underlay")]
    pub ageing: Option<u64>,
    /// Largest number of FDB entries, all networks together; when full, frames from new MACs
    /// are dropped and counted as fdb_full [default: 65536].
    #[arg(long, value_name = "N", help_heading = "Underlay")]
    pub max_address: Option<usize>,
    /// Largest underlay IP packet; the TAPs get this minus the encapsulation overhead
    /// [default: 1500].
    #[arg(long, value_name = "BYTES", help_heading = "Underlay")]
    pub underlay_mtu: Option<u16>,
    /// Compute UDP checksums over IPv4 (IPv6 always does).
    #[arg(long, help_heading = "Underlay")]
    pub udpcsum: bool,
    /// Received VXLAN headers with reserved bits or flags other than I set: `rfc` ignores the
    /// bits (RFC 7348), `strict` drops the datagram, counted as reserved_bits (the Linux
    /// driver) [default: rfc].
    #[arg(long, value_enum, value_name = "POLICY", help_heading = "Underlay")]
    pub reserved_bits: Option<ReservedBitsArg>,

    /// Speak BGP EVPN (RFC 7432 / RFC 8365) in this AS, iBGP to --evpn-peer: VXLAN networks
    /// then take remote MACs and flood lists only from routes (learning off, ARP suppression
    /// on) and advertise their local MACs and IPs as routes.
    #[arg(long, value_name = "ASN", help_heading = "EVPN")]
    pub evpn_asn: Option<u32>,
    /// A BGP peer (a route reflector: FRR, GoBGP, ...) to connect to on TCP port 179;
    /// repeatable.
    #[arg(long, value_name = "IP", action = ArgAction::Append, help_heading = "EVPN")]
    pub evpn_peer: Vec<IpAddr>,
    /// BGP identifier [default: --local].
    #[arg(long, value_name = "IP", help_heading = "EVPN")]
    pub evpn_router_id: Option<IpAddr>,
    /// Hold time offered in OPEN, seconds: 0 (no keepalives) or 3 and more; the lower of the
    /// two sides' counts. A peer silent that long is dropped and its routes withdrawn
    /// [default: 90].
    #[arg(long, value_name = "SECS", help_heading = "EVPN")]
    pub evpn_hold_time: Option<u64>,
    /// Seconds before reconnecting to a peer after a failure; doubles per failure in a row, up
    /// to max_connect_retry (120 s) [default: 5].
    #[arg(long, value_name = "SECS", help_heading = "EVPN")]
    pub evpn_connect_retry: Option<u64>,
    /// Route target of the --tap network, ASN:NN or IPv4:NN, for import and export
    /// [default: automatic, FRR's AS:VNI, which imports any route target ending in :VNI].
    #[arg(long, value_name = "RT", help_heading = "EVPN")]
    pub evpn_route_target: Option<String>,

    /// TOML file with [underlay] settings and any number of [[network]]s.
    #[arg(long, short = 'c', value_name = "FILE", help_heading = "Daemon")]
    pub config: Option<PathBuf>,
    /// Control socket [default: /run/native-vtep/<first tap>.sock in the initial network
    /// namespace, /run/native-vtep/netns/<namespace>/<first tap>.sock in one made by `ip netns`:
    /// daemons in two namespaces never collide, and commands run there find their own].
    #[arg(long, value_name = "PATH", help_heading = "Daemon")]
    pub control: Option<PathBuf>,
    /// Once the TAPs, sockets and control socket are open, switch to this unprivileged user
    /// (no supplementary groups, no capabilities, no_new_privs). Needs root to start. Nothing
    /// later needs privilege: TAPs it created vanish when it exits; the control socket stays
    /// root-only and, in a root-only directory, is left at exit and replaced by the next start.
    #[arg(long, value_name = "NAME", help_heading = "Daemon")]
    pub user: Option<String>,
    /// Data path: `offload` (TAP TSO/checksum offload, UDP GSO/GRO: fastest, but GSO runs
    /// stay whole on veth and bridges, so captures there show super-datagrams), `batch`
    /// (recvmmsg/sendmmsg), `plain` (one frame per system call); `auto` is `offload` where the
    /// kernel has UDP GSO/GRO (Linux 5.0+), `batch` otherwise.
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        env = "NATIVE_VTEP_DATAPATH",
        default_value = "auto",
        help_heading = "Daemon"
    )]
    pub datapath: DatapathArg,
    /// Worker threads, 1..=16 [default: 1, one thread as before]. With N > 1 each TAP is
    /// opened N times (IFF_MULTI_QUEUE) and each worker owns one queue of every TAP and its own
    /// underlay sockets (SO_REUSEPORT, the kernel spreads flows over them); the engine stays
    /// one, locked per batch. Offload and batch data paths only. Pays with more than 2 cores
    /// and many flows; on 2 cores the gain was small (see BENCHMARKS.md).
    #[arg(long, value_name = "N", help_heading = "Daemon")]
    pub queues: Option<usize>,
    /// The tun/tap clone device.
    #[arg(
        long,
        value_name = "PATH",
        env = "NATIVE_VTEP_TUN",
        default_value = "/dev/net/tun",
        help_heading = "Daemon"
    )]
    pub tun_device: PathBuf,
}

impl RunArgs {
    /// `Some(true)` for --learning, `Some(false)` for --nolearning.
    pub fn learning(&self) -> Option<bool> {
        match (self.learning, self.nolearning) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// `100M`, `1.5G`, `64k`, `1000000`: bits per second.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1e3),
        Some((i, 'm' | 'M')) => (&s[..i], 1e6),
        Some((i, 'g' | 'G')) => (&s[..i], 1e9),
        _ => (s, 1.0),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a rate: use bits per second, e.g. 100M or 1500000"))?;
    let bits = value * mult;
    if !(8.0..1e15).contains(&bits) {
        return Err(format!(
            "rate {s} is out of range: use 8 bit/s to 1000 Tbit/s"
        ));
    }
    Ok(bits as u64)
}

/// `[KEYWORD] VALUE` -> VALUE: the kernel tools' optional keyword before a value.
pub fn keyword_value<'a>(words: &'a [String], keyword: &str) -> Result<&'a str, String> {
    match words {
        [value] => Ok(value),
        [k, value] if k == keyword => Ok(value),
        _ => Err(format!(
            "expected `[{keyword}] VALUE`, got `{}`",
            words.join(" ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rates_parse_with_suffixes() {
        let cases: &[(&str, Option<u64>)] = &[
            ("100M", Some(100_000_000)),
            ("1.5G", Some(1_500_000_000)),
            ("64k", Some(64_000)),
            ("1000", Some(1000)),
            ("0", None),
            ("fast", None),
            ("", None),
        ];
        for (input, expect) in cases {
            assert_eq!(parse_rate(input).ok(), *expect, "{input}");
        }
    }

    #[test]
    fn one_line_case_parses_without_subcommand() {
        let cli = Cli::try_parse_from([
            "native-vtep",
            "--tap",
            "vtep42",
            "--vni",
            "42",
            "--local",
            "10.0.0.1",
            "--remote",
            "10.0.0.2",
            "--remote",
            "10.0.0.3",
            "--srcport",
            "1000",
            "2000",
            "--nolearning",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.remote.len(), 2);
        assert_eq!(cli.run.srcport, Some(vec![1000, 2000]));
        assert_eq!(cli.run.learning(), Some(false));
    }

    #[test]
    fn fdb_add_accepts_bridge_vocabulary() {
        let cli = Cli::try_parse_from([
            "native-vtep",
            "fdb",
            "add",
            "02:00:00:00:00:01",
            "dst",
            "10.0.0.2",
            "--vni",
            "7",
        ])
        .unwrap();
        let Some(Command::Fdb(FdbCommand::Add { dst, vni, .. })) = cli.command else {
            panic!("not fdb add");
        };
        assert_eq!(keyword_value(&dst, "dst").unwrap(), "10.0.0.2");
        assert_eq!(vni, Some(7));
    }
}
