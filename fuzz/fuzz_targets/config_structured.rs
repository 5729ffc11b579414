//! native-vtep's config: flags and a TOML file built from the keys the parser knows with
//! arbitrary values (near-valid input reaches the validation past the TOML syntax).
#![no_main]

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use native_vtep::cli::{EncapArg, RunArgs};

const UNDERLAY_KEYS: [&str; 10] = [
    "local",
    "vxlan_port",
    "geneve_port",
    "srcport",
    "accept_peers",
    "ageing",
    "max_address",
    "mtu",
    "udpcsum",
    "bogus",
];
const NETWORK_KEYS: [&str; 14] = [
    "tap",
    "vni",
    "encap",
    "remote",
    "learning",
    "proxy",
    "rate",
    "bridge",
    "fdb",
    "neigh",
    "mac",
    "ip",
    "evpn",
    "route_target",
];
const EVPN_KEYS: [&str; 7] = [
    "asn",
    "peers",
    "router_id",
    "hold_time",
    "connect_retry",
    "max_connect_retry",
    "bogus",
];
const WORDS: [&str; 14] = [
    "vxlan",
    "geneve",
    "nvgre",
    "vtep42",
    "100M",
    "1.5G",
    "64k",
    "",
    "br0",
    "a/b",
    "x y",
    "02:00:00:00:00:01",
    "65000:42",
    "10.0.0.1:7",
];

#[derive(Arbitrary, Debug)]
enum Value {
    Int(i64),
    Big(u64),
    Float(f64),
    Bool(bool),
    Word(u8),
    Text(String),
    Ip(Ip),
    Array(Vec<Value>),
    Inline(Vec<(u8, Value)>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Ip {
    V4([u8; 4]),
    V6([u16; 8]),
    Pool(u8),
}

impl Ip {
    fn addr(self) -> IpAddr {
        match self {
            Ip::V4(b) => IpAddr::V4(Ipv4Addr::from(b)),
            Ip::V6(s) => IpAddr::V6(Ipv6Addr::from(s)),
            Ip::Pool(i) => [
                "10.0.0.1",
                "10.0.0.2",
                "fd00::1",
                "fd00::2",
                "0.0.0.0",
                "224.0.0.1",
                "255.255.255.255",
                "192.168.42.2",
            ][usize::from(i % 8)]
            .parse()
            .expect("pool addresses parse"),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Config {
    args: Args,
    underlay: Vec<(u8, Value)>,
    control: Option<String>,
    networks: Vec<Vec<(u8, Value)>>,
    evpn: Option<Vec<(u8, Value)>>,
    /// Appended verbatim: the odd syntax error at the end of a valid file.
    tail: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Args {
    tap: Option<u8>,
    vni: Option<u32>,
    remote: Vec<Ip>,
    encap: Option<bool>,
    learning: bool,
    nolearning: bool,
    proxy: bool,
    rate: Option<u64>,
    local: Option<Ip>,
    dstport: Option<u16>,
    srcport: Option<(u16, u16)>,
    accept_peer: Vec<Ip>,
    ageing: Option<u64>,
    max_address: Option<usize>,
    underlay_mtu: Option<u16>,
    udpcsum: bool,
    static_fdb: Vec<String>,
    static_neigh: Vec<String>,
    evpn_asn: Option<u32>,
    evpn_peer: Vec<Ip>,
    evpn_router_id: Option<Ip>,
    evpn_hold_time: Option<u64>,
    evpn_connect_retry: Option<u64>,
    evpn_route_target: Option<u8>,
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c) & 0xffff);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn value(out: &mut String, v: &Value, depth: u8) {
    match v {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Big(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Word(w) => string(out, WORDS[usize::from(w % 14)]),
        Value::Text(t) => string(out, t),
        Value::Ip(ip) => string(out, &ip.addr().to_string()),
        Value::Array(items) if depth < 3 => {
            out.push('[');
            for (i, item) in items.iter().take(8).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                value(out, item, depth + 1);
            }
            out.push(']');
        }
        Value::Inline(pairs) if depth < 3 => {
            out.push('{');
            for (i, (key, item)) in pairs.iter().take(4).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{} = ", NETWORK_KEYS[usize::from(key % 14)]);
                value(out, item, depth + 1);
            }
            out.push('}');
        }
        Value::Array(_) | Value::Inline(_) => out.push('0'),
    }
}

fn render(config: &Config) -> String {
    let mut out = String::new();
    out.push_str("[underlay]\n");
    for (key, v) in config.underlay.iter().take(12) {
        let _ = write!(out, "{} = ", UNDERLAY_KEYS[usize::from(key % 10)]);
        value(&mut out, v, 0);
        out.push('\n');
    }
    if let Some(control) = &config.control {
        out.push_str("[daemon]\ncontrol = ");
        string(&mut out, control);
        out.push('\n');
    }
    if let Some(evpn) = &config.evpn {
        out.push_str("[evpn]\n");
        for (key, v) in evpn.iter().take(8) {
            let _ = write!(out, "{} = ", EVPN_KEYS[usize::from(key % 7)]);
            value(&mut out, v, 0);
            out.push('\n');
        }
    }
    for network in config.networks.iter().take(4) {
        out.push_str("\n[[network]]\n");
        for (key, v) in network.iter().take(12) {
            let _ = write!(out, "{} = ", NETWORK_KEYS[usize::from(key % 14)]);
            value(&mut out, v, 0);
            out.push('\n');
        }
    }
    if let Some(tail) = &config.tail {
        out.push_str(tail);
    }
    out
}

fn run_args(a: &Args) -> RunArgs {
    RunArgs {
        tap: a.tap.map(|t| WORDS[usize::from(t % 14)].to_string()),
        vni: a.vni,
        remote: a.remote.iter().map(|ip| ip.addr()).collect(),
        encap: a.encap.map(|geneve| {
            if geneve {
                EncapArg::Geneve
            } else {
                EncapArg::Vxlan
            }
        }),
        learning: a.learning,
        nolearning: a.nolearning,
        proxy: a.proxy,
        rate: a.rate,
        local: a.local.map(Ip::addr),
        dstport: a.dstport,
        // clap hands over exactly two values.
        srcport: a.srcport.map(|(min, max)| vec![min, max]),
        accept_peer: a.accept_peer.iter().map(|ip| ip.addr()).collect(),
        ageing: a.ageing,
        max_address: a.max_address,
        underlay_mtu: a.underlay_mtu,
        udpcsum: a.udpcsum,
        static_fdb: a.static_fdb.clone(),
        static_neigh: a.static_neigh.clone(),
        evpn_asn: a.evpn_asn,
        evpn_peer: a.evpn_peer.iter().map(|ip| ip.addr()).collect(),
        evpn_router_id: a.evpn_router_id.map(Ip::addr),
        evpn_hold_time: a.evpn_hold_time,
        evpn_connect_retry: a.evpn_connect_retry,
        evpn_route_target: a
            .evpn_route_target
            .map(|w| WORDS[usize::from(w % 14)].to_string()),
        ..RunArgs::default()
    }
}

fuzz_target!(|config: Config| {
    let text = render(&config);
    overlay_lab_fuzz::check_config(&run_args(&config.args), &text);
});
