//! The daemon's settings: command-line flags merged over an optional TOML file.
//!
//! ```toml
//! [underlay]
//! local = "10.0.0.1"            # required (or --local)
//! vxlan_port = 4789             # defaults as in Linux
//! geneve_port = 6081
//! srcport = [49152, 65535]
//! accept_peers = ["10.0.0.2", "10.0.0.3"]
//! ageing = 300                  # seconds
//! max_address = 65536
//! mtu = 1500                    # underlay MTU; TAPs get mtu - overhead
//! udpcsum = false
//! reserved_bits = "rfc"         # or "strict": drop VXLAN with reserved bits set
//! queues = 1                    # worker threads / TAP queues, 1..=16 (offload, batch)
//!
//! [daemon]
//! control = "/run/native-vtep/lab.sock"
//! user = "native-vtep"          # drop to this user once the TAPs and sockets are open
//!
//! [[network]]
//! tap = "vtep42"
//! vni = 42
//! encap = "vxlan"               # or "geneve", "nvgre"
//! remote = ["10.0.0.2", "10.0.0.3"]
//! learning = true
//! proxy = false
//! rate = "100M"                 # bits per second, or an integer
//! bridge = "br0"
//! fdb = [{ mac = "02:00:00:00:00:02", dst = "10.0.0.2" }]
//! neigh = [{ ip = "192.168.42.2", mac = "02:00:00:00:00:02" },
//!          { ip = "fd42::2", mac = "02:00:00:00:00:02" }]   # IPv4 and IPv6 (with proxy)
//! ```
//!
//! The `[evpn]` section (BGP EVPN) and a network's `evpn` and `route_target` keys are in
//! [`evpn`]. Every error names its origin: a flag, or `FILE:LINE:COLUMN`.

pub mod evpn;

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vtep_core::Mac;
use vtep_core::rate::RateLimit;
use vtep_core::vtep::{ConfigError, Encapsulation, NetworkConfig, Vtep, VtepConfig};
use vtep_core::wire::flow::{DEFAULT_SOURCE_PORTS, GENEVE_PORT, VXLAN_PORT};
use vtep_core::wire::outer::UdpChecksum;
use vtep_core::wire::vxlan::ReservedBitsPolicy;
use vtep_core::{Destination, Duration, Instant, PortId, Vni};

use crate::cli::{self, DatapathArg, EncapArg, ReservedBitsArg, RunArgs};
use crate::control::default_control_path;
use crate::sys;
use evpn::{EvpnSettings, NetworkAsk};
use vtep_core::wire::bgp::RouteTarget;

/// A configuration error, already worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Most worker threads (`--queues`).
pub const MAX_QUEUES: usize = 16;

/// How frames move between the TAPs, the engine and the underlay (`--datapath`; see the
/// `daemon` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datapath {
    /// One system call per frame or datagram.
    Plain,
    /// `recvmmsg`/`sendmmsg`.
    Batch,
    /// TAP TSO and checksum offload, UDP GSO/GRO.
    Offload,
}

impl Datapath {
    /// `--datapath`: `None` for `auto`, which the daemon settles by asking the kernel.
    fn from_arg(arg: DatapathArg) -> Option<Datapath> {
        match arg {
            DatapathArg::Auto => None,
            DatapathArg::Plain => Some(Datapath::Plain),
            DatapathArg::Batch => Some(Datapath::Batch),
            DatapathArg::Offload => Some(Datapath::Offload),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Datapath::Plain => "plain",
            Datapath::Batch => "batch",
            Datapath::Offload => "offload",
        }
    }
}

/// Everything the daemon needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub local: IpAddr,
    pub vxlan_port: u16,
    pub geneve_port: u16,
    pub srcport: (u16, u16),
    pub accept_peers: Option<Vec<IpAddr>>,
    pub ageing_secs: u64,
    pub max_address: usize,
    pub underlay_mtu: u16,
    pub udpcsum: bool,
    pub reserved_bits: ReservedBitsPolicy,
    pub networks: Vec<NetworkSettings>,
    pub control: PathBuf,
    /// Unprivileged user to switch to once everything is open (`--user`, `[daemon] user`).
    pub user: Option<String>,
    pub tun_device: PathBuf,
    /// The data path asked for; `None` (`auto`): the fastest this kernel offers.
    pub datapath: Option<Datapath>,
    /// Worker threads, each with one queue of every TAP and its own sockets (1..=16).
    pub queues: usize,
    /// The BGP EVPN control plane, if configured.
    pub evpn: Option<EvpnSettings>,
}

#[derive(Debug, Clone)]
pub struct NetworkSettings {
    pub tap: String,
    pub vni: Vni,
    pub encap: Encapsulation,
    pub remotes: Vec<IpAddr>,
    pub learning: bool,
    pub proxy: bool,
    pub rate_bits: Option<u64>,
    pub bridge: Option<String>,
    pub fdb: Vec<(Mac, IpAddr)>,
    pub neigh: Vec<(IpAddr, Mac)>,
    /// Under the EVPN control plane: remote MACs and flood peers come from routes.
    pub evpn: bool,
    /// Its route target under EVPN; `None`: automatic (`AS:VNI`).
    pub route_target: Option<RouteTarget>,
    /// Where it was defined: "the command line" or "FILE:LINE".
    pub origin: String,
}

impl NetworkSettings {
    /// The engine's configuration of this network.
    pub fn network_config(&self) -> NetworkConfig {
        let mut network = NetworkConfig::new(self.vni);
        network.encapsulation = self.encap;
        network.learning = self.learning;
        network.arp_proxy = self.proxy;
        network.rate_limit = self.rate_bits.map(RateLimit::from_bits_per_sec);
        network
    }

    /// Gives `vtep` this network, its port and its static entries (flood peers, FDB,
    /// neighbours), stopping at the first the engine refuses; returns the port. The daemon's
    /// setup and the config fuzz target both call this, so what is fuzzed is what runs.
    pub fn install(&self, vtep: &mut Vtep, now: Instant) -> Result<PortId, ConfigError> {
        vtep.add_network(self.network_config(), now)?;
        let port = vtep.add_port(self.vni)?;
        for remote in &self.remotes {
            vtep.add_flood_peer(self.vni, (*remote).into())?;
        }
        for (mac, ip) in &self.fdb {
            vtep.add_static_fdb(now, self.vni, *mac, Destination::Remote((*ip).into()))?;
        }
        for (ip, mac) in &self.neigh {
            vtep.add_static_neighbour(now, self.vni, (*ip).into(), *mac)?;
        }
        Ok(port)
    }
}

impl Settings {
    /// The engine's configuration for these settings. `hash_seed` keeps its default: the daemon
    /// draws a random one, tests and fuzz targets keep it fixed.
    pub fn vtep_config(&self) -> VtepConfig {
        let mut config = VtepConfig::new(self.local.into());
        config.vxlan_port = self.vxlan_port;
        config.geneve_port = self.geneve_port;
        config.source_ports = self.srcport;
        config.udp_checksum = if self.udpcsum {
            UdpChecksum::Compute
        } else {
            UdpChecksum::Zero
        };
        config.underlay_mtu = self.underlay_mtu;
        config.reserved_bits = self.reserved_bits;
        config.fdb.ageing = Duration::from_secs(self.ageing_secs);
        config.fdb.max_entries = self.max_address;
        // Exposed to the network: a burst of random source MACs must not ride through unlearned.
        config.fdb.drop_when_full = true;
        config.max_neighbours = self.max_address.min(config.max_neighbours).max(16);
        config.accept_peers = self
            .accept_peers
            .as_ref()
            .map(|peers| peers.iter().map(|ip| (*ip).into()).collect());
        config
    }

    pub fn uses(&self, encap: Encapsulation) -> bool {
        self.networks.iter().any(|n| n.encap == encap)
    }
}

// ---- the file format ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    underlay: UnderlayFile,
    #[serde(default)]
    daemon: DaemonFile,
    #[serde(default)]
    network: Vec<toml::Spanned<NetworkFile>>,
    #[serde(default)]
    evpn: Option<toml::Spanned<evpn::EvpnFile>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnderlayFile {
    local: Option<toml::Spanned<IpAddr>>,
    vxlan_port: Option<u16>,
    geneve_port: Option<u16>,
    srcport: Option<(u16, u16)>,
    accept_peers: Option<Vec<toml::Spanned<IpAddr>>>,
    ageing: Option<u64>,
    max_address: Option<usize>,
    mtu: Option<u16>,
    udpcsum: Option<bool>,
    reserved_bits: Option<ReservedBitsArg>,
    queues: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonFile {
    control: Option<PathBuf>,
    user: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    tap: String,
    vni: toml::Spanned<u32>,
    #[serde(default)]
    encap: Option<EncapArg>,
    #[serde(default)]
    remote: Vec<toml::Spanned<IpAddr>>,
    #[serde(default)]
    learning: Option<bool>,
    #[serde(default)]
    proxy: Option<bool>,
    #[serde(default)]
    rate: Option<toml::Spanned<RateFile>>,
    #[serde(default)]
    bridge: Option<String>,
    #[serde(default)]
    fdb: Vec<FdbFile>,
    #[serde(default)]
    neigh: Vec<NeighFile>,
    #[serde(default)]
    evpn: Option<bool>,
    #[serde(default)]
    route_target: Option<toml::Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RateFile {
    Bits(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FdbFile {
    mac: MacText,
    dst: toml::Spanned<IpAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NeighFile {
    ip: IpAddr,
    mac: MacText,
}

/// A MAC written `02:00:00:00:00:01` (or with `-`), checked while parsing so the error has the
/// value's line.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct MacText(Mac);

impl TryFrom<String> for MacText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_mac(&s).map(MacText)
    }
}

/// `02:00:00:00:00:01` or `02-00-00-00-00-01`.
pub fn parse_mac(s: &str) -> Result<Mac, String> {
    let bad = || format!("{s:?} is not a MAC address: write six hex bytes, e.g. 02:00:00:00:00:01");
    let mut bytes = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for b in &mut bytes {
        let part = parts.next().ok_or_else(bad)?;
        if part.is_empty() || part.len() > 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(Mac::from_bytes(&bytes))
}

/// `02:00:00:00:00:01`: the notation of iproute2 (smoltcp's `Display` uses dashes).
#[derive(Debug, Clone, Copy)]
pub struct ColonMac(pub Mac);

impl fmt::Display for ColonMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

struct Located<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Located<'_> {
    fn at(&self, span: Range<usize>) -> String {
        let (line, col) = line_col(self.text, span.start);
        format!("{}:{line}:{col}", self.path.display())
    }

    fn err(&self, span: Range<usize>, msg: impl fmt::Display) -> Error {
        Error(format!("{}: {msg}", self.at(span)))
    }
}

fn read_file(path: &Path) -> Result<(String, FileConfig), Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error(format!("cannot read config file {}: {e}", path.display())))?;
    let parsed = parse_file(path, &text)?;
    Ok((text, parsed))
}

fn parse_file(path: &Path, text: &str) -> Result<FileConfig, Error> {
    toml::from_str::<FileConfig>(text).map_err(|e| {
        let (line, col) = e.span().map_or((1, 1), |s| line_col(text, s.start));
        Error(format!(
            "{}:{line}:{col}: {}",
            path.display(),
            e.message().trim_end()
        ))
    })
}

fn vni(value: u32) -> Result<Vni, String> {
    Vni::new(value).map_err(|e| e.to_string())
}

fn family_error(local: IpAddr, remote: IpAddr) -> String {
    ConfigError::AddressFamilyMismatch {
        local: local.into(),
        remote: remote.into(),
    }
    .to_string()
}

/// Merges `args` over the file named by `--config` (if any) and validates the result.
pub fn load(args: &RunArgs) -> Result<Settings, Error> {
    let (text, file) = match &args.config {
        Some(path) => {
            let (text, file) = read_file(path)?;
            (Some(text), file)
        }
        None => (None, FileConfig::default()),
    };
    let path = args.config.clone().unwrap_or_default();
    settle(args, &path, text.as_deref(), file)
}

/// [`load`] for a config file already in memory (`path` only names it in messages): the fuzz
/// target's way in, with no file system.
pub fn load_str(args: &RunArgs, path: &Path, text: &str) -> Result<Settings, Error> {
    let file = parse_file(path, text)?;
    settle(args, path, Some(text), file)
}

fn settle(
    args: &RunArgs,
    path: &Path,
    text: Option<&str>,
    file: FileConfig,
) -> Result<Settings, Error> {
    let loc = Located {
        path,
        text: text.unwrap_or(""),
    };
    let u = &file.underlay;

    let local = match (args.local, &u.local) {
        (Some(ip), _) => ip,
        (None, Some(ip)) => *ip.get_ref(),
        (None, None) => {
            return Err(Error(
                "no local underlay address: give --local IP (or `local = \"IP\"` under [underlay] \
                 in the config file), the address of this host that the remote VTEPs send to"
                    .into(),
            ));
        }
    };
    let cli_encap = args.encap.unwrap_or(EncapArg::Vxlan);
    let mut vxlan_port = u.vxlan_port.unwrap_or(VXLAN_PORT);
    let mut geneve_port = u.geneve_port.unwrap_or(GENEVE_PORT);
    if let Some(port) = args.dstport {
        match cli_encap {
            EncapArg::Vxlan => vxlan_port = port,
            EncapArg::Geneve => geneve_port = port,
            EncapArg::Nvgre => {
                return Err(Error(format!(
                    "--dstport {port} with --encap nvgre: NVGRE is GRE (IP protocol 47) and has \
                     no UDP port; leave out --dstport"
                )));
            }
        }
    }
    // The engine does not refuse a tunnel port 0 (the rest of the underlay it checks itself,
    // at the end).
    if vxlan_port == 0 || geneve_port == 0 {
        return Err(Error(
            "UDP port 0 cannot be a tunnel port: use 1..=65535".into(),
        ));
    }
    let srcport = match &args.srcport {
        Some(v) => (v[0], v[1]),
        None => u.srcport.unwrap_or(DEFAULT_SOURCE_PORTS),
    };

    // The command line replaces the file's list. The engine refuses peers of another family
    // too, but only here can the message name the flag or the file position.
    let accept_peers = if !args.accept_peer.is_empty() {
        for peer in &args.accept_peer {
            if peer.is_ipv4() != local.is_ipv4() {
                return Err(Error(format!(
                    "--accept-peer {peer}: {}",
                    family_error(local, *peer)
                )));
            }
        }
        Some(args.accept_peer.clone())
    } else if let Some(peers) = &u.accept_peers {
        for peer in peers {
            if peer.get_ref().is_ipv4() != local.is_ipv4() {
                return Err(loc.err(peer.span(), family_error(local, *peer.get_ref())));
            }
        }
        Some(peers.iter().map(|p| *p.get_ref()).collect())
    } else {
        None
    };

    let evpn = evpn::settle(args, file.evpn.as_ref(), &loc, local)?;
    let mut networks = Vec::new();
    for spanned in &file.network {
        let span = spanned.span();
        let n = spanned.get_ref();
        let origin = loc.at(span.clone());
        let vni = vni(*n.vni.get_ref()).map_err(|e| loc.err(n.vni.span(), e))?;
        let mut remotes = Vec::new();
        for r in &n.remote {
            if r.get_ref().is_ipv4() != local.is_ipv4() {
                return Err(loc.err(r.span(), family_error(local, *r.get_ref())));
            }
            remotes.push(*r.get_ref());
        }
        let rate_bits = match &n.rate {
            None => None,
            Some(rate) => Some(
                match rate.get_ref() {
                    RateFile::Bits(b) => cli::parse_rate(&b.to_string()),
                    RateFile::Text(t) => cli::parse_rate(t),
                }
                .map_err(|e| loc.err(rate.span(), e))?,
            ),
        };
        let mut fdb = Vec::new();
        for entry in &n.fdb {
            let dst = *entry.dst.get_ref();
            if dst.is_ipv4() != local.is_ipv4() {
                return Err(loc.err(entry.dst.span(), family_error(local, dst)));
            }
            fdb.push((entry.mac.0, dst));
        }
        let encap = n.encap.unwrap_or(EncapArg::Vxlan).into();
        let rt = n.route_target.as_ref();
        let ask = NetworkAsk {
            encap,
            evpn: n.evpn,
            learning: n.learning,
            proxy: n.proxy,
            route_target: rt.map(|r| r.get_ref().as_str()),
        };
        let at = rt.map_or(origin.clone(), |r| loc.at(r.span()));
        let mode = evpn::network_mode(evpn.is_some(), vni.get(), &ask, &at)?;
        networks.push(NetworkSettings {
            tap: n.tap.clone(),
            vni,
            encap,
            remotes,
            learning: mode.learning,
            proxy: mode.proxy,
            rate_bits,
            bridge: n.bridge.clone(),
            fdb,
            neigh: n.neigh.iter().map(|e| (e.ip, e.mac.0)).collect(),
            evpn: mode.evpn,
            route_target: mode.route_target,
            origin,
        });
    }

    // The command-line network.
    match (&args.tap, args.vni) {
        (Some(tap), Some(v)) => {
            let vni = vni(v).map_err(|e| Error(format!("--vni: {e}")))?;
            for r in &args.remote {
                if r.is_ipv4() != local.is_ipv4() {
                    return Err(Error(format!("--remote {r}: {}", family_error(local, *r))));
                }
            }
            let mut fdb = Vec::new();
            for spec in &args.static_fdb {
                let (mac, ip) = spec
                    .split_once('=')
                    .ok_or_else(|| Error(format!("--fdb {spec:?}: write MAC=IP")))?;
                let mac = parse_mac(mac).map_err(|e| Error(format!("--fdb: {e}")))?;
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| Error(format!("--fdb {spec:?}: {ip:?} is not an IP address")))?;
                if ip.is_ipv4() != local.is_ipv4() {
                    return Err(Error(format!("--fdb {spec}: {}", family_error(local, ip))));
                }
                fdb.push((mac, ip));
            }
            let mut neigh = Vec::new();
            for spec in &args.static_neigh {
                let (ip, mac) = spec
                    .split_once('=')
                    .ok_or_else(|| Error(format!("--neigh {spec:?}: write IP=MAC")))?;
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| Error(format!("--neigh {spec:?}: {ip:?} is not an IP address")))?;
                let mac = parse_mac(mac).map_err(|e| Error(format!("--neigh: {e}")))?;
                neigh.push((ip, mac));
            }
            let ask = NetworkAsk {
                encap: cli_encap.into(),
                evpn: None,
                learning: args.learning(),
                proxy: args.proxy.then_some(true),
                route_target: args.evpn_route_target.as_deref(),
            };
            let mode = evpn::network_mode(evpn.is_some(), vni.get(), &ask, "the command line")?;
            networks.push(NetworkSettings {
                tap: tap.clone(),
                vni,
                encap: cli_encap.into(),
                remotes: args.remote.clone(),
                learning: mode.learning,
                proxy: mode.proxy,
                rate_bits: args.rate,
                bridge: args.bridge.clone(),
                fdb,
                neigh,
                evpn: mode.evpn,
                route_target: mode.route_target,
                origin: "the command line".into(),
            });
        }
        (Some(_), None) => {
            return Err(Error(
                "--tap needs --vni: which network does the TAP carry?".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(Error(
                "--vni needs --tap: which TAP device carries the network?".into(),
            ));
        }
        (None, None) => {
            let network_flag = !args.remote.is_empty()
                || args.encap.is_some()
                || args.learning().is_some()
                || args.proxy
                || args.rate.is_some()
                || args.bridge.is_some()
                || !args.static_fdb.is_empty()
                || !args.static_neigh.is_empty()
                || args.evpn_route_target.is_some();
            if network_flag {
                return Err(Error(
                    "--remote, --encap, --[no]learning, --proxy, --rate, --bridge, --fdb, \
                     --neigh and --evpn-route-target describe the network of --tap/--vni: give --tap NAME --vni N too"
                        .into(),
                ));
            }
        }
    }

    if networks.is_empty() {
        return Err(Error(
            "no network to serve: give --tap NAME --vni N (or [[network]] tables in --config)"
                .into(),
        ));
    }
    let mut vnis = HashSet::new();
    let mut taps = HashSet::new();
    for n in &networks {
        if n.tap.is_empty() || n.tap.len() > sys::MAX_IFNAME || n.tap.contains(['/', ' ']) {
            return Err(Error(format!(
                "{}: invalid TAP name {:?}: use 1 to {} characters, no '/' or spaces",
                n.origin,
                n.tap,
                sys::MAX_IFNAME
            )));
        }
        if !vnis.insert(n.vni) {
            return Err(Error(format!(
                "{}: VNI {} is configured twice: each network needs its own VNI",
                n.origin, n.vni
            )));
        }
        if !taps.insert(n.tap.clone()) {
            return Err(Error(format!(
                "{}: TAP {} is used by two networks: give each network its own TAP",
                n.origin, n.tap
            )));
        }
    }

    if evpn.is_some() && !networks.iter().any(|n| n.evpn) {
        return Err(Error(
            "EVPN is configured but no network is under it: EVPN carries VXLAN networks; add \
             one, or drop the EVPN settings"
                .into(),
        ));
    }

    let control = args
        .control
        .clone()
        .or_else(|| file.daemon.control.clone())
        .unwrap_or_else(|| default_control_path(&networks[0].tap));

    let user = match (&args.user, &file.daemon.user) {
        (Some(name), _) if name.is_empty() || name.contains('\0') => {
            return Err(Error(format!(
                "--user {name:?}: give the name of an unprivileged user, e.g. --user nobody"
            )));
        }
        (Some(name), _) => Some(name.clone()),
        (None, Some(name)) if name.get_ref().is_empty() || name.get_ref().contains('\0') => {
            return Err(loc.err(
                name.span(),
                "user: give the name of an unprivileged user, e.g. user = \"nobody\"",
            ));
        }
        (None, Some(name)) => Some(name.get_ref().clone()),
        (None, None) => None,
    };

    let ageing_secs = args.ageing.or(u.ageing).unwrap_or(300);
    // 32-bit like the kernel's vxlan `ageing`; a larger value overflowed the engine's
    // microsecond clock (found by fuzz target config_structured).
    if ageing_secs > u64::from(u32::MAX) {
        return Err(Error(format!(
            "ageing {ageing_secs} is out of range: use 0 to {} seconds",
            u32::MAX
        )));
    }

    let queues = args.queues.or(u.queues).unwrap_or(1);
    if !(1..=MAX_QUEUES).contains(&queues) {
        return Err(Error(format!(
            "queues {queues} is out of range: use 1 to {MAX_QUEUES} (one worker thread and TAP \
             queue each)"
        )));
    }
    let datapath = Datapath::from_arg(args.datapath);
    if queues > 1 && datapath == Some(Datapath::Plain) {
        return Err(Error(format!(
            "--queues {queues} needs --datapath offload or batch (or auto): the plain data \
             path runs single-queue; use --queues 1 with --datapath plain"
        )));
    }

    let settings = Settings {
        local,
        vxlan_port,
        geneve_port,
        srcport,
        accept_peers,
        ageing_secs,
        max_address: args.max_address.or(u.max_address).unwrap_or(65_536),
        underlay_mtu: args.underlay_mtu.or(u.mtu).unwrap_or(1500),
        udpcsum: args.udpcsum || u.udpcsum.unwrap_or(false),
        reserved_bits: args
            .reserved_bits
            .or(u.reserved_bits)
            .unwrap_or_default()
            .into(),
        networks,
        control,
        user,
        tun_device: args.tun_device.clone(),
        datapath,
        queues,
        evpn,
    };
    // The engine's own checks, in its words (local address, VXLAN and Geneve on one port, the
    // source port range, the underlay MTU): what it would refuse at startup is refused here.
    Vtep::new(settings.vtep_config(), Instant::ZERO).map_err(|e| Error(e.to_string()))?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The run arguments of `native-vtep LINE` (words split at white space).
    pub(super) fn args(line: &str) -> RunArgs {
        let argv = std::iter::once("native-vtep").chain(line.split_whitespace());
        crate::cli::Cli::try_parse_from(argv).unwrap().run
    }

    fn with_file(text: &str, extra: &str) -> Result<Settings, Error> {
        let dir = std::env::temp_dir().join(format!("native-vtep-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Tests run in parallel threads of one process: every call gets a file of its own.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let mut a = args(extra);
        a.config = Some(path.clone());
        let result = load(&a);
        let _ = std::fs::remove_file(&path);
        result.map_err(|e| Error(e.0.replace(&path.display().to_string(), "FILE")))
    }

    #[test]
    fn one_line_defaults() {
        let s = load(&args(
            "--tap vtep42 --vni 42 --local 10.0.0.1 --remote 10.0.0.2",
        ))
        .unwrap();
        assert_eq!(
            (s.vxlan_port, s.geneve_port, s.srcport),
            (4789, 6081, (49152, 65535))
        );
        assert_eq!(s.control, PathBuf::from("/run/native-vtep/vtep42.sock"));
        let n = &s.networks[0];
        assert!(n.learning && !n.proxy);
        assert_eq!(n.remotes, vec!["10.0.0.2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn errors_say_what_and_where() {
        let cases: &[(&str, &str, &str)] = &[
            ("", "--tap t --vni 1", "no local underlay address"),
            (
                "",
                "--tap t --vni 1 --local 10.0.0.1 --remote fd00::2",
                "--remote fd00::2: remote fd00::2 and local 10.0.0.1 are of different IP families",
            ),
            (
                "",
                "--tap t --vni 16777216 --local 10.0.0.1",
                "out of range",
            ),
            ("", "--local 10.0.0.1", "no network to serve"),
            // The engine's checks, in its words, before anything is created.
            (
                "",
                "--tap t --vni 1 --local 0.0.0.0",
                "0.0.0.0 cannot be a VTEP's local address",
            ),
            (
                "",
                "--tap t --vni 1 --local 10.0.0.1 --dstport 6081",
                "VXLAN and Geneve both use UDP port 6081",
            ),
            (
                "",
                "--tap t --vni 1 --local 10.0.0.1 --srcport 20 10",
                "source port range 20-10 is invalid",
            ),
            (
                "",
                "--tap t --vni 1 --local 10.0.0.1 --underlay-mtu 95",
                "underlay MTU 95 is too small: encapsulation needs at least 96 bytes",
            ),
            (
                "",
                "--local 10.0.0.1 --remote 10.0.0.2",
                "give --tap NAME --vni N",
            ),
            (
                "[underlay]\nlocal = \"10.0.0.1\"\n\n[[network]]\ntap = \"a\"\nvni = 1\nremote = [\"fd00::1\"]\n",
                "",
                "FILE:7:11: remote fd00::1 and local 10.0.0.1",
            ),
            (
                "[underlay]\nlocal = \"10.0.0.300\"\n",
                "",
                "FILE:2:9: invalid IP address syntax",
            ),
            (
                "[underlay]\nlcoal = \"10.0.0.1\"\n",
                "",
                "FILE:2:1: unknown field `lcoal`",
            ),
            (
                "[underlay]\nlocal = \"10.0.0.1\"\n[[network]]\ntap = \"a\"\nvni = 1\nfdb = [{ mac = \"zz\", dst = \"10.0.0.2\" }]\n",
                "",
                "FILE:6:16: \"zz\" is not a MAC address",
            ),
            (
                "[underlay]\nlocal = \"10.0.0.1\"\n[[network]]\ntap = \"a\"\nvni = 1\n[[network]]\ntap = \"b\"\nvni = 1\n",
                "",
                "FILE:6:1: VNI 1 is configured twice",
            ),
        ];
        for (file, extra, expect) in cases {
            let got = if file.is_empty() {
                load(&args(extra)).map(|_| ()).unwrap_err().0
            } else {
                with_file(file, extra).map(|_| ()).unwrap_err().0
            };
            assert!(got.contains(expect), "expected {expect:?} in {got:?}");
        }
    }

    #[test]
    fn file_and_flags_merge() {
        let text = "[underlay]\nlocal = \"10.0.0.1\"\nsrcport = [1000, 2000]\n\n\
                    [[network]]\ntap = \"g7\"\nvni = 7\nencap = \"geneve\"\nrate = \"10M\"\n\
                    neigh = [{ ip = \"192.168.7.2\", mac = \"02:00:00:00:00:02\" }]\n";
        let s = with_file(text, "--tap v8 --vni 8 --dstport 8472").unwrap();
        assert_eq!(s.networks.len(), 2);
        assert_eq!((s.vxlan_port, s.srcport), (8472, (1000, 2000)));
        assert_eq!(s.networks[0].encap, Encapsulation::Geneve);
        assert_eq!(s.networks[0].rate_bits, Some(10_000_000));
        assert_eq!(s.networks[0].neigh.len(), 1);
        assert_eq!(s.control, PathBuf::from("/run/native-vtep/g7.sock"));
        assert_eq!(s.user, None);
    }

    /// NVGRE networks and IPv6 neighbours, from the file and from flags.
    #[test]
    fn nvgre_and_ipv6_neighbours() {
        let text = "[underlay]\nlocal = \"10.0.0.1\"\n\n\
                    [[network]]\ntap = \"n7\"\nvni = 7\nencap = \"nvgre\"\nproxy = true\n\
                    neigh = [{ ip = \"192.168.7.2\", mac = \"02:00:00:00:00:02\" },\n\
                    { ip = \"fd07::2\", mac = \"02:00:00:00:00:02\" }]\n";
        let flags = "--tap n8 --vni 8 --encap nvgre --neigh fd08::2=02:00:00:00:00:03";
        let s = with_file(text, flags).unwrap();
        assert_eq!(s.networks[0].encap, Encapsulation::Nvgre);
        assert_eq!(s.networks[1].encap, Encapsulation::Nvgre);
        let ips: Vec<String> = s.networks[0]
            .neigh
            .iter()
            .map(|(ip, _)| ip.to_string())
            .collect();
        assert_eq!(ips, ["192.168.7.2", "fd07::2"]);
        assert_eq!(s.networks[1].neigh[0].0.to_string(), "fd08::2");
        // The engine takes them as the daemon gives them.
        let now = vtep_core::Instant::ZERO;
        let mut vtep = vtep_core::Vtep::new(s.vtep_config(), now).unwrap();
        for n in &s.networks {
            vtep.add_network(n.network_config(), now).unwrap();
            for (ip, mac) in &n.neigh {
                vtep.add_static_neighbour(now, n.vni, (*ip).into(), *mac)
                    .unwrap();
            }
        }
        assert_eq!(vtep.neighbours().len(), 3);
    }

    #[test]
    fn user_comes_from_flag_over_file() {
        let text = "[underlay]\nlocal = \"10.0.0.1\"\n[daemon]\nuser = \"daemon\"\n\n\
                    [[network]]\ntap = \"t\"\nvni = 1\n";
        assert_eq!(with_file(text, "").unwrap().user.as_deref(), Some("daemon"));
        let s = with_file(text, "--user nobody").unwrap();
        assert_eq!(s.user.as_deref(), Some("nobody"));
        let err = with_file(&text.replace("\"daemon\"", "\"\""), "").unwrap_err();
        assert!(err.0.contains("FILE:4:8: user: give the name"), "{err}");
    }

    #[test]
    fn reserved_bits_policy_from_flag_over_file() {
        let line = "--tap t --vni 1 --local 10.0.0.1";
        assert_eq!(
            load(&args(line)).unwrap().reserved_bits,
            ReservedBitsPolicy::Rfc
        );
        let text = "[underlay]\nlocal = \"10.0.0.1\"\nreserved_bits = \"strict\"\n\n\
                    [[network]]\ntap = \"t\"\nvni = 1\n";
        let s = with_file(text, "").unwrap();
        assert_eq!(s.reserved_bits, ReservedBitsPolicy::Strict);
        let s = with_file(text, "--reserved-bits rfc").unwrap();
        assert_eq!(s.reserved_bits, ReservedBitsPolicy::Rfc);
        let err = with_file(&text.replace("strict", "lax"), "").unwrap_err();
        assert!(err.0.contains("FILE:3:17: unknown variant `lax`"), "{err}");
    }

    #[test]
    fn macs_parse() {
        assert!(parse_mac("02:00:00:00:00:0a").is_ok());
        assert!(parse_mac("02-00-00-00-00-0A").is_ok());
        for bad in [
            "",
            "02:00:00:00:00",
            "02:00:00:00:00:00:00",
            "02:00:00:00:00:zz",
            "2:::::",
        ] {
            assert!(parse_mac(bad).is_err(), "{bad}");
        }
    }
}
