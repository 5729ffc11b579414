//! The `[evpn]` section and its flags: the BGP EVPN control plane (RFC 7432 / RFC 8365).
//!
//! ```toml
//! [evpn]
//! asn = 65000                   # iBGP: the route reflector's AS (or --evpn-asn)
//! peers = ["10.0.0.254"]        # route reflectors to connect to (or --evpn-peer, repeatable)
//! router_id = "10.0.0.1"        # default: [underlay] local
//! hold_time = 90                # seconds offered in OPEN: 0, or 3 and more
//! connect_retry = 5             # seconds before reconnecting; doubles per failure ...
//! max_connect_retry = 120       # ... up to this
//!
//! [[network]]
//! tap = "vtep42"
//! vni = 42
//! evpn = true                   # default for VXLAN networks when [evpn] is given
//! route_target = "65000:42"     # default: automatic, FRR's `AS:VNI`
//! ```
//!
//! A network under EVPN takes its remote MACs and flood list only from routes (learning off,
//! as the kernel's `nolearning` under FRR) and answers ARP from them (ARP suppression on, as
//! `neigh_suppress`); its local MACs and their IPs become routes.

use std::net::{IpAddr, Ipv4Addr};

use serde::Deserialize;
use vtep_core::vtep::Encapsulation;
use vtep_core::wire::bgp::RouteTarget;

use super::{Error, Located};
use crate::cli::RunArgs;

/// The control plane's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvpnSettings {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// The VTEP address: next hop of the routes this daemon originates (`--local`).
    pub vtep: Ipv4Addr,
    pub peers: Vec<Ipv4Addr>,
    pub hold_time: u16,
    pub connect_retry_secs: u64,
    pub max_connect_retry_secs: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EvpnFile {
    asn: Option<toml::Spanned<u64>>,
    #[serde(default)]
    peers: Vec<toml::Spanned<IpAddr>>,
    router_id: Option<toml::Spanned<IpAddr>>,
    hold_time: Option<toml::Spanned<u64>>,
    connect_retry: Option<toml::Spanned<u64>>,
    max_connect_retry: Option<toml::Spanned<u64>>,
}

/// `ASN:NN` (a 2-octet AS with a 4-octet number, or a 4-octet AS with a 2-octet one) or
/// `IPv4:NN`, as FRR writes route targets.
pub fn parse_route_target(s: &str) -> Result<RouteTarget, String> {
    let bad =
        || format!("{s:?} is not a route target: write ASN:NN (65000:42) or IPv4:NN (10.0.0.1:42)");
    let (admin, value) = s.rsplit_once(':').ok_or_else(bad)?;
    let value: u64 = value.parse().map_err(|_| bad())?;
    if let Ok(ip) = admin.parse::<Ipv4Addr>() {
        let value = u16::try_from(value).map_err(|_| bad())?;
        return Ok(RouteTarget::Ipv4 {
            ip: ip.octets(),
            value,
        });
    }
    let asn: u64 = admin.parse().map_err(|_| bad())?;
    match (
        u16::try_from(asn),
        u32::try_from(value),
        u16::try_from(value),
    ) {
        (Ok(asn), Ok(value), _) => Ok(RouteTarget::As2 { asn, value }),
        (Err(_), _, Ok(value)) if asn <= u64::from(u32::MAX) => Ok(RouteTarget::As4 {
            asn: asn as u32,
            value,
        }),
        _ => Err(bad()),
    }
}

fn check_asn(asn: u64) -> Result<u32, String> {
    match u32::try_from(asn) {
        Ok(0) | Ok(23456) | Err(_) => Err(format!(
            "AS {asn} cannot be used: give the AS of the route reflector, 1 to 4294967295 \
             (not 23456, AS_TRANS)"
        )),
        Ok(asn) => Ok(asn),
    }
}

fn check_hold(hold: u64) -> Result<u16, String> {
    match hold {
        0 | 3..=65535 => Ok(hold as u16),
        _ => Err(format!(
            "hold time {hold} is not allowed: use 0 (no keepalives) or 3 to 65535 seconds \
             (RFC 4271)"
        )),
    }
}

/// Merges the `--evpn-*` flags over `[evpn]`: `None` when neither asks for EVPN.
pub(super) fn settle(
    args: &RunArgs,
    file: Option<&toml::Spanned<EvpnFile>>,
    loc: &Located<'_>,
    local: IpAddr,
) -> Result<Option<EvpnSettings>, Error> {
    let empty = EvpnFile::default();
    let f = file.map_or(&empty, |f| f.get_ref());
    let flags = args.evpn_asn.is_some()
        || !args.evpn_peer.is_empty()
        || args.evpn_router_id.is_some()
        || args.evpn_hold_time.is_some()
        || args.evpn_connect_retry.is_some();
    if file.is_none() && !flags {
        if args.evpn_route_target.is_some() {
            return Err(Error(
                "--evpn-route-target needs EVPN: give --evpn-asn and --evpn-peer too".into(),
            ));
        }
        return Ok(None);
    }
    let asn = match (args.evpn_asn, &f.asn) {
        (Some(asn), _) => {
            check_asn(u64::from(asn)).map_err(|e| Error(format!("--evpn-asn: {e}")))?
        }
        (None, Some(asn)) => check_asn(*asn.get_ref()).map_err(|e| loc.err(asn.span(), e))?,
        (None, None) => {
            return Err(Error(
                "EVPN needs the AS: give --evpn-asn N (or `asn = N` under [evpn]), the AS of the \
                 route reflector (only iBGP is spoken)"
                    .into(),
            ));
        }
    };
    let IpAddr::V4(vtep) = local else {
        return Err(Error(format!(
            "EVPN needs an IPv4 underlay: --local {local} is IPv6, and this version carries \
             IPv4 VTEP addresses only"
        )));
    };
    let v4 = |ip: IpAddr, what: &str| match ip {
        IpAddr::V4(ip) if !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast() => {
            Ok(ip)
        }
        _ => Err(format!("{what} {ip}: give a unicast IPv4 address")),
    };
    let mut peers = Vec::new();
    if !args.evpn_peer.is_empty() {
        for p in &args.evpn_peer {
            peers.push(v4(*p, "--evpn-peer").map_err(Error)?);
        }
    } else {
        for p in &f.peers {
            peers.push(v4(*p.get_ref(), "peer").map_err(|e| loc.err(p.span(), e))?);
        }
    }
    if peers.is_empty() {
        return Err(Error(
            "EVPN needs a peer: give --evpn-peer IP (or `peers = [\"IP\"]` under [evpn]), the \
             route reflector to connect to"
                .into(),
        ));
    }
    for (i, p) in peers.iter().enumerate() {
        if *p == vtep {
            return Err(Error(format!(
                "EVPN peer {p} is this VTEP's own address (--local): give the route \
                 reflector's address"
            )));
        }
        if peers[..i].contains(p) {
            return Err(Error(format!("EVPN peer {p} is given twice")));
        }
    }
    let router_id = match (args.evpn_router_id, &f.router_id) {
        (Some(id), _) => v4(id, "--evpn-router-id").map_err(Error)?,
        (None, Some(id)) => v4(*id.get_ref(), "router_id").map_err(|e| loc.err(id.span(), e))?,
        (None, None) => vtep,
    };
    let hold_time = match (args.evpn_hold_time, &f.hold_time) {
        (Some(h), _) => check_hold(h).map_err(|e| Error(format!("--evpn-hold-time: {e}")))?,
        (None, Some(h)) => check_hold(*h.get_ref()).map_err(|e| loc.err(h.span(), e))?,
        (None, None) => 90,
    };
    let retry = |flag: Option<u64>, file: &Option<toml::Spanned<u64>>, default: u64, what: &str| {
        let (secs, at) = match (flag, file) {
            (Some(s), _) => (s, None),
            (None, Some(s)) => (*s.get_ref(), Some(s.span())),
            (None, None) => (default, None),
        };
        if (1..=3600).contains(&secs) {
            Ok(secs)
        } else {
            let msg = format!("{what} {secs} is out of range: use 1 to 3600 seconds");
            Err(match at {
                Some(span) => loc.err(span, msg),
                None => Error(msg),
            })
        }
    };
    let connect_retry_secs = retry(
        args.evpn_connect_retry,
        &f.connect_retry,
        5,
        "connect_retry",
    )?;
    let max_connect_retry_secs =
        retry(None, &f.max_connect_retry, 120, "max_connect_retry")?.max(connect_retry_secs);
    Ok(Some(EvpnSettings {
        asn,
        router_id,
        vtep,
        peers,
        hold_time,
        connect_retry_secs,
        max_connect_retry_secs,
    }))
}

/// How a network runs: under EVPN or not, learning, ARP suppression, its route target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NetworkMode {
    pub evpn: bool,
    pub learning: bool,
    pub proxy: bool,
    pub route_target: Option<RouteTarget>,
}

/// What a network asked for (`None`: not said).
pub(super) struct NetworkAsk<'a> {
    pub encap: Encapsulation,
    pub evpn: Option<bool>,
    pub learning: Option<bool>,
    pub proxy: Option<bool>,
    pub route_target: Option<&'a str>,
}

/// Settles a network's mode; `origin` names it in errors ("FILE:LINE:COL" or "the command
/// line").
pub(super) fn network_mode(
    evpn_on: bool,
    vni: u32,
    ask: &NetworkAsk<'_>,
    origin: &str,
) -> Result<NetworkMode, Error> {
    let under = match ask.evpn {
        Some(true) if !evpn_on => {
            return Err(Error(format!(
                "{origin}: VNI {vni} asks for EVPN but there is no [evpn] section: add one (asn, \
                 peers) or give --evpn-asn and --evpn-peer"
            )));
        }
        Some(true) if ask.encap != Encapsulation::Vxlan => {
            return Err(Error(format!(
                "{origin}: VNI {vni} is {} but EVPN here advertises VXLAN (RFC 8365 \
                 encapsulation 8), as FRR's kernel VTEPs use: use encap = \"vxlan\" or evpn = false",
                ask.encap
            )));
        }
        Some(on) => on,
        None => evpn_on && ask.encap == Encapsulation::Vxlan,
    };
    if !under {
        if ask.route_target.is_some() {
            return Err(Error(format!(
                "{origin}: VNI {vni} has a route target but is not under EVPN: remove it, or \
                 enable EVPN for it"
            )));
        }
        return Ok(NetworkMode {
            evpn: false,
            learning: ask.learning.unwrap_or(true),
            proxy: ask.proxy.unwrap_or(false),
            route_target: None,
        });
    }
    if ask.learning == Some(true) {
        return Err(Error(format!(
            "{origin}: VNI {vni} is under EVPN, which gives remote MACs from routes only (as \
             the kernel's `nolearning` with FRR): drop learning, or set evpn = false for it"
        )));
    }
    let route_target = ask
        .route_target
        .map(parse_route_target)
        .transpose()
        .map_err(|e| Error(format!("{origin}: {e}")))?;
    Ok(NetworkMode {
        evpn: true,
        learning: false,
        proxy: ask.proxy.unwrap_or(true),
        route_target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::args;
    use crate::config::{Settings, load_str};

    /// `file` as the config file `FILE` under the flags `line`.
    fn load(file: &str, line: &str) -> Result<Settings, String> {
        load_str(&args(line), "FILE".as_ref(), file).map_err(|e| e.0)
    }

    const LINE: &str = "--tap vt42 --vni 42 --local 10.0.0.1";

    #[test]
    fn flags_and_file_give_the_speaker_its_settings() {
        let s = load(
            "",
            &format!("{LINE} --evpn-asn 65000 --evpn-peer 10.0.0.254"),
        )
        .unwrap();
        let evpn = s.evpn.unwrap();
        assert_eq!(
            (
                evpn.asn,
                evpn.router_id,
                evpn.hold_time,
                evpn.connect_retry_secs
            ),
            (65000, Ipv4Addr::new(10, 0, 0, 1), 90, 5)
        );
        assert_eq!(evpn.peers, vec![Ipv4Addr::new(10, 0, 0, 254)]);
        let n = &s.networks[0];
        assert!(n.evpn && !n.learning && n.proxy && n.route_target.is_none());

        let file = "[underlay]\nlocal = \"10.0.0.1\"\n[evpn]\nasn = 65000\n\
                    peers = [\"10.0.0.254\", \"10.0.0.253\"]\nrouter_id = \"1.1.1.1\"\n\
                    hold_time = 9\n[[network]]\ntap = \"a\"\nvni = 42\n\
                    route_target = \"65000:100\"\n[[network]]\ntap = \"b\"\nvni = 7\n\
                    encap = \"geneve\"\n";
        let s = load(file, "--evpn-hold-time 30").unwrap();
        let evpn = s.evpn.unwrap();
        assert_eq!(
            (evpn.router_id, evpn.hold_time),
            (Ipv4Addr::new(1, 1, 1, 1), 30)
        );
        assert_eq!(evpn.peers.len(), 2);
        assert_eq!(
            s.networks[0].route_target,
            Some(RouteTarget::As2 {
                asn: 65000,
                value: 100
            })
        );
        // Geneve stays out of EVPN, with its learning.
        assert!(!s.networks[1].evpn && s.networks[1].learning);
    }

    #[test]
    fn evpn_errors_say_what_and_where() {
        let with = |extra: &str| {
            load("", &format!("{LINE} {extra}"))
                .map(|_| ())
                .unwrap_err()
        };
        let cases: &[(&str, &str)] = &[
            (
                "--evpn-peer 10.0.0.254",
                "EVPN needs the AS: give --evpn-asn N",
            ),
            ("--evpn-asn 65000", "EVPN needs a peer: give --evpn-peer IP"),
            (
                "--evpn-asn 65000 --evpn-peer 10.0.0.1",
                "EVPN peer 10.0.0.1 is this VTEP's own address",
            ),
            (
                "--evpn-asn 0 --evpn-peer 10.0.0.2",
                "--evpn-asn: AS 0 cannot be used",
            ),
            (
                "--evpn-asn 1 --evpn-peer 10.0.0.2 --evpn-hold-time 2",
                "hold time 2 is not allowed",
            ),
            (
                "--evpn-asn 1 --evpn-peer fd00::2",
                "--evpn-peer fd00::2: give a unicast IPv4 address",
            ),
            ("--evpn-route-target 1:1", "--evpn-route-target needs EVPN"),
            (
                "--evpn-asn 1 --evpn-peer 10.0.0.2 --learning",
                "the command line: VNI 42 is under EVPN",
            ),
            (
                "--evpn-asn 1 --evpn-peer 10.0.0.2 --encap geneve",
                "EVPN is configured but no network is under it",
            ),
        ];
        for (flags, want) in cases {
            let got = with(flags);
            assert!(got.contains(want), "{flags:?}: {got}");
        }
        let v6 = load(
            "",
            "--tap t --vni 1 --local fd00::1 --evpn-asn 1 --evpn-peer 10.0.0.2",
        );
        assert!(v6.unwrap_err().contains("EVPN needs an IPv4 underlay"));
        let file = "[underlay]\nlocal = \"10.0.0.1\"\n[evpn]\nasn = 65000\npeers = [\"10.0.0.2\"]\n\
                    hold_time = 1\n[[network]]\ntap = \"a\"\nvni = 42\n";
        let e = load(file, "").unwrap_err();
        assert!(
            e.starts_with("FILE:6:13: hold time 1 is not allowed"),
            "{e}"
        );
        let file = file.replace("hold_time = 1", "hold = 9");
        let e = load(&file, "").unwrap_err();
        assert!(e.starts_with("FILE:6:1: unknown field `hold`"), "{e}");
    }

    #[test]
    fn route_targets_parse_as_frr_writes_them() {
        let cases: &[(&str, Option<RouteTarget>)] = &[
            (
                "65000:42",
                Some(RouteTarget::As2 {
                    asn: 65000,
                    value: 42,
                }),
            ),
            (
                "65000:16777215",
                Some(RouteTarget::As2 {
                    asn: 65000,
                    value: 16_777_215,
                }),
            ),
            (
                "4200000000:42",
                Some(RouteTarget::As4 {
                    asn: 4_200_000_000,
                    value: 42,
                }),
            ),
            (
                "10.0.0.1:7",
                Some(RouteTarget::Ipv4 {
                    ip: [10, 0, 0, 1],
                    value: 7,
                }),
            ),
            ("4200000000:70000", None),
            ("10.0.0.1:70000", None),
            ("65000", None),
            ("x:1", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_route_target(text).ok(), *want, "{text}");
        }
    }

    #[test]
    fn network_modes() {
        let ask = |encap, evpn, learning, rt| NetworkAsk {
            encap,
            evpn,
            learning,
            proxy: None,
            route_target: rt,
        };
        let vx = Encapsulation::Vxlan;
        let gn = Encapsulation::Geneve;
        let on = network_mode(true, 42, &ask(vx, None, None, Some("65000:42")), "here").unwrap();
        assert!(on.evpn && !on.learning && on.proxy);
        assert_eq!(on.route_target, Some(RouteTarget::auto(65000, 42)));
        let geneve = network_mode(true, 7, &ask(gn, None, None, None), "here").unwrap();
        assert!(!geneve.evpn && geneve.learning && !geneve.proxy);
        let errors = [
            (
                true,
                ask(vx, None, Some(true), None),
                "here: VNI 42 is under EVPN",
            ),
            (true, ask(gn, Some(true), None, None), "advertises VXLAN"),
            (false, ask(vx, Some(true), None, None), "no [evpn] section"),
            (false, ask(vx, None, None, Some("1:1")), "not under EVPN"),
            (true, ask(vx, None, None, Some("1")), "not a route target"),
        ];
        for (on, ask, want) in errors {
            let e = network_mode(on, 42, &ask, "here").unwrap_err().0;
            assert!(e.contains(want), "{e} lacks {want}");
        }
    }
}
