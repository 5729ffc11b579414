//! BGP peers for the EVPN tests, each inside a lab namespace: FRR (zebra and bgpd per
//! namespace with `-N NAME`, so instances never see each other or a root-namespace FRR),
//! GoBGP (`gobgpd`, driven with the `gobgp` CLI in its namespace), and a scripted peer
//! (`tests/bgp/peer.py`) that sends whatever bytes a test builds with the core's codec.
//!
//! FRR keeps its state in `/etc/frr/NAME` and `/run/frr/NAME` (owned by user `frr`, since its
//! daemons drop privileges): [`Frr`] creates them, stops its daemons and removes them when
//! dropped; a later run removes what a killed run left ([`remove_stale_frr_dirs`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vtep_core::wire::bgp::attr::{MpUnreach, NextHop};
use vtep_core::wire::bgp::{
    EthernetSegment, EvpnRoute, ExtCommunity, InclusiveMulticastRoute, MacIpRoute, PmsiTunnel,
    RouteDistinguisher, RouteTarget, Seq, TunnelType, UpdateRepr,
};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};

use super::{Lab, must, run, sh, wait_for};

/// The AS of every EVPN lab: iBGP, as FRR's EVPN fabrics are usually built.
pub const ASN: u32 = 65000;

/// Where the per-namespace FRR instances keep their configuration and sockets.
const FRR_ETC: &str = "/etc/frr";
const FRR_RUN: &str = "/run/frr";

/// The route reflector of the labs (FRR 8.4, `bgp listen range`: the leaves connect to it).
pub fn reflector_conf(router_id: &str, listen: &str) -> String {
    format!(
        "router bgp {ASN}\n bgp router-id {router_id}\n no bgp default ipv4-unicast\n \
         bgp cluster-id {router_id}\n neighbor LEAVES peer-group\n \
         neighbor LEAVES remote-as internal\n neighbor LEAVES timers 3 9\n \
         bgp listen range {listen} peer-group LEAVES\n address-family l2vpn evpn\n  \
         neighbor LEAVES activate\n  neighbor LEAVES route-reflector-client\n \
         exit-address-family\n"
    )
}

/// An FRR leaf driving the kernel's VXLAN devices (`advertise-all-vni`), client of `rr`.
///
/// `timers connect 1`: FRR's traditional defaults wait 120 s (ConnectRetry) after a refused
/// connection, and a reflector that passively listens (`bgp listen range`) never connects
/// back; when a restarted reflector's bgpd was not yet listening at the leaf's first attempt
/// (a loaded machine), the leaf sat in Active past any test's patience. Retrying every second,
/// as native-vtep's `--evpn-connect-retry 1` does, it reconnects as soon as the reflector
/// listens.
pub fn leaf_conf(router_id: &str, rr: &str) -> String {
    format!(
        "router bgp {ASN}\n bgp router-id {router_id}\n no bgp default ipv4-unicast\n \
         neighbor {rr} remote-as internal\n neighbor {rr} timers 3 9\n \
         neighbor {rr} timers connect 1\n \
         address-family l2vpn evpn\n  neighbor {rr} activate\n  advertise-all-vni\n \
         exit-address-family\n"
    )
}

/// Removes `/etc/frr/olvt<pid>-*`, `/run/frr/olvt<pid>-*` and native-vtep's per-namespace
/// socket folders `/run/native-vtep/netns/olvt<pid>-*` of runs that no longer exist.
pub fn remove_stale_frr_dirs() {
    for base in [FRR_ETC, FRR_RUN, "/run/native-vtep/netns"] {
        let Ok(dir) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in dir.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((pid, _)) = name.strip_prefix("olvt").and_then(|r| r.split_once('-')) else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// zebra and bgpd in one namespace.
#[derive(Debug)]
pub struct Frr {
    /// The pathspace (`-N`): the namespace's name.
    pub name: String,
    pub ns: String,
    short: String,
    etc: PathBuf,
    run: PathBuf,
    /// Daemons started and not yet reaped: stopped when this is dropped.
    pids: Vec<u32>,
    restarts: usize,
}

impl Frr {
    /// Starts zebra, then (once its API socket is there) bgpd with `bgpd_conf`, in `ns`, as
    /// lab processes `<short>-zebra` and `<short>-bgpd`. Create kernel devices before.
    pub fn start(lab: &mut Lab, ns: &str, short: &str, bgpd_conf: &str) -> Frr {
        remove_stale_frr_dirs();
        let etc = Path::new(FRR_ETC).join(ns);
        let run = Path::new(FRR_RUN).join(ns);
        must(&format!(
            "install -d -o frr -g frr -m 0755 {} {}",
            etc.display(),
            run.display()
        ));
        let mut frr = Frr {
            name: ns.to_string(),
            ns: ns.to_string(),
            short: short.to_string(),
            etc,
            run,
            pids: Vec::new(),
            restarts: 0,
        };
        std::fs::write(frr.etc.join("zebra.conf"), format!("hostname {short}\n")).unwrap();
        std::fs::write(frr.etc.join("bgpd.conf"), bgpd_conf).unwrap();
        std::fs::write(frr.etc.join("vtysh.conf"), "").unwrap();
        must(&format!("chown -R frr:frr {}", frr.etc.display()));
        frr.spawn(lab, "zebra");
        let api = frr.run.join("zserv.api");
        assert!(
            wait_for(10, || api.exists()),
            "zebra in {ns} did not start:\n{}",
            lab.all_logs()
        );
        frr.spawn(lab, "bgpd");
        assert!(
            wait_for(10, || frr.try_vtysh("show bgp summary").is_ok()),
            "bgpd in {ns} does not answer:\n{}",
            lab.all_logs()
        );
        frr
    }

    fn process(&self, daemon: &str) -> String {
        match (daemon, self.restarts) {
            ("bgpd", n) if n > 0 => format!("{}-bgpd{n}", self.short),
            _ => format!("{}-{daemon}", self.short),
        }
    }

    fn spawn(&mut self, lab: &mut Lab, daemon: &str) {
        let conf = self.etc.join(format!("{daemon}.conf"));
        let pid = self.run.join(format!("{daemon}.pid"));
        let args = [
            "-N".to_string(),
            self.name.clone(),
            "-f".into(),
            conf.display().to_string(),
            "-i".into(),
            pid.display().to_string(),
            "-P".into(),
            "0".into(),
            "--log".into(),
            "stdout".into(),
        ];
        let name = self.process(daemon);
        lab.spawn(&self.ns, &name, &format!("/usr/lib/frr/{daemon}"), &args);
        self.pids.push(lab.pid(&name));
    }

    /// Stops bgpd (SIGTERM: it closes its sessions with a NOTIFICATION), then starts it again.
    pub fn restart_bgpd(&mut self, lab: &mut Lab) {
        let name = self.process("bgpd");
        let pid = lab.pid(&name);
        assert!(
            lab.stop_with(&name, "TERM", 10).is_some(),
            "bgpd did not stop"
        );
        self.pids.retain(|p| *p != pid);
        self.restarts += 1;
        self.spawn(lab, "bgpd");
        assert!(
            wait_for(10, || self.try_vtysh("show bgp summary").is_ok()),
            "bgpd in {} does not answer after its restart:\n{}",
            self.ns,
            lab.all_logs()
        );
    }

    pub fn try_vtysh(&self, command: &str) -> Result<String, String> {
        run("vtysh", &["-N", &self.name, "-c", command])
    }

    /// Runs several vtysh lines in one session (`configure terminal`, then its commands).
    pub fn vtysh_lines(&self, lines: &[&str]) -> String {
        let mut args = vec!["-N", self.name.as_str()];
        for line in lines {
            args.extend(["-c", line]);
        }
        run("vtysh", &args).unwrap_or_else(|e| panic!("vtysh -N {} {lines:?}: {e}", self.name))
    }

    pub fn vtysh(&self, command: &str) -> String {
        self.try_vtysh(command)
            .unwrap_or_else(|e| panic!("vtysh -N {} -c {command:?}: {e}", self.name))
    }

    /// `vtysh -c 'COMMAND json'`, parsed (`Null` if it is not JSON yet).
    pub fn json(&self, command: &str) -> serde_json::Value {
        serde_json::from_str(&self.vtysh(&format!("{command} json"))).unwrap_or_default()
    }

    /// The state of the session with `peer` on this FRR (`Established`, ...), if listed.
    pub fn peer_state(&self, peer: &str) -> Option<String> {
        let summary = self.json("show bgp l2vpn evpn summary");
        summary["peers"][peer]["state"].as_str().map(String::from)
    }

    /// Paths of the EVPN table whose route distinguisher's administrator is `rd_ip` (the routes
    /// a VTEP with that router ID originated), as `show bgp l2vpn evpn route` lists them.
    pub fn routes_from(&self, rd_ip: &str) -> Vec<serde_json::Value> {
        let table = self.json("show bgp l2vpn evpn route");
        let mut out = Vec::new();
        if let Some(rds) = table.as_object() {
            for (rd, prefixes) in rds {
                if !rd.starts_with(&format!("{rd_ip}:")) {
                    continue;
                }
                for (prefix, entry) in prefixes.as_object().into_iter().flatten() {
                    if let Some(paths) = entry["paths"].as_array() {
                        for path in paths
                            .iter()
                            .flat_map(|p| p.as_array().cloned().unwrap_or_default())
                        {
                            let mut path = path.clone();
                            path["prefix"] = prefix.clone().into();
                            out.push(path);
                        }
                    }
                }
            }
        }
        out
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        // Not yet reaped by the lab, so these pids are still theirs (at worst zombies).
        for pid in &self.pids {
            let _ = sh(&format!("kill -TERM {pid} 2>/dev/null"));
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        let alive = |pid: &u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| !r.trim_start().starts_with('Z'))
            })
        };
        while self.pids.iter().any(alive) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for pid in self.pids.iter().filter(|p| alive(p)) {
            let _ = sh(&format!("kill -KILL {pid} 2>/dev/null"));
        }
        let _ = std::fs::remove_dir_all(&self.etc);
        let _ = std::fs::remove_dir_all(&self.run);
    }
}

/// gobgpd in one namespace.
#[derive(Debug)]
pub struct GoBgp {
    pub ns: String,
}

impl GoBgp {
    /// Starts `gobgpd -f <lab>/<name>.toml` in `ns` and waits until its API answers.
    pub fn start(lab: &mut Lab, ns: &str, name: &str, toml: &str) -> GoBgp {
        let conf = lab.dir.join(format!("{name}.toml"));
        std::fs::write(&conf, toml).unwrap();
        lab.spawn(
            ns,
            name,
            "gobgpd",
            &[
                "-f".to_string(),
                conf.display().to_string(),
                "-t".into(),
                "toml".into(),
                "--api-hosts".into(),
                "127.0.0.1:50051".into(),
            ],
        );
        let gobgp = GoBgp { ns: ns.to_string() };
        assert!(
            wait_for(10, || gobgp.try_cli(lab, "global").is_ok()),
            "gobgpd in {ns} does not answer:\n{}",
            lab.all_logs()
        );
        gobgp
    }

    pub fn try_cli(&self, lab: &Lab, args: &str) -> Result<String, String> {
        lab.ns_run(&self.ns, &format!("gobgp -u 127.0.0.1 -p 50051 {args}"))
    }

    pub fn cli(&self, lab: &Lab, args: &str) -> String {
        self.try_cli(lab, args)
            .unwrap_or_else(|e| panic!("gobgp {args}: {e}"))
    }

    pub fn json(&self, lab: &Lab, args: &str) -> serde_json::Value {
        let text = self.cli(lab, &format!("{args} -j"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("gobgp {args} -j: {e}: {text}"))
    }
}

/// The scripted peer (`tests/bgp/peer.py`), listening on port 179 of its namespace.
#[derive(Debug)]
pub struct ScriptedPeer {
    control: PathBuf,
}

impl ScriptedPeer {
    /// Starts the peer as lab process `name` on `address` (which must be the namespace's),
    /// with BGP identifier `address`, the lab's AS and hold time `hold`.
    pub fn start(lab: &mut Lab, ns: &str, name: &str, address: &str, hold: u16) -> ScriptedPeer {
        Self::start_with(lab, ns, name, address, ASN, hold, None)
    }

    /// [`ScriptedPeer::start`] in AS `asn`; with `refuse` = (code, subcode) it answers every
    /// OPEN with that NOTIFICATION.
    pub fn start_with(
        lab: &mut Lab,
        ns: &str,
        name: &str,
        address: &str,
        asn: u32,
        hold: u16,
        refuse: Option<(u8, u8)>,
    ) -> ScriptedPeer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bgp/peer.py");
        let control = lab.dir.join(format!("{name}.ctl"));
        lab.spawn(
            ns,
            name,
            "python3",
            &[
                script.display().to_string(),
                address.to_string(),
                address.to_string(),
                asn.to_string(),
                hold.to_string(),
                control.display().to_string(),
                refuse.map_or(String::new(), |(c, s)| format!("refuse={c},{s}")),
            ],
        );
        assert!(
            wait_for(10, || lab.log(name).contains("listening")),
            "scripted peer {name} did not start: {}",
            lab.log(name)
        );
        ScriptedPeer { control }
    }

    fn ask(&self, request: serde_json::Value) -> serde_json::Value {
        use std::io::{BufRead, BufReader, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&self.control)
            .unwrap_or_else(|e| panic!("scripted peer at {}: {e}", self.control.display()));
        stream
            .set_read_timeout(Some(Duration::from_secs(70)))
            .unwrap();
        writeln!(stream, "{request}").unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("scripted peer said {line:?}: {e}"))
    }

    /// Waits up to `secs` for an established session.
    pub fn wait_established(&self, secs: u64) -> bool {
        self.ask(serde_json::json!({"cmd": "wait", "secs": secs}))["ok"] == true
    }

    pub fn send(&self, bytes: &[u8]) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let answer = self.ask(serde_json::json!({"cmd": "send", "hex": hex}));
        assert_eq!(answer["ok"], true, "send: {answer}");
    }

    /// Everything received so far, and the session counts.
    pub fn received(&self) -> serde_json::Value {
        self.ask(serde_json::json!({"cmd": "received"}))
    }

    /// The (code, subcode) of every NOTIFICATION received so far.
    pub fn notifications(&self) -> Vec<(u8, u8)> {
        self.received()["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m[0] == 3)
            .filter_map(|m| {
                let hex = m[1].as_str()?;
                let byte = |i: usize| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok();
                Some((byte(19)?, byte(20)?))
            })
            .collect()
    }

    /// Established sessions so far.
    pub fn sessions(&self) -> u64 {
        self.received()["sessions"].as_u64().unwrap_or(0)
    }

    /// Stops (or resumes) the peer's KEEPALIVEs; it keeps the connection and keeps reading.
    pub fn silent(&self, on: bool) {
        self.ask(serde_json::json!({"cmd": "silent", "on": on}));
    }
}

// ---- messages, built with the core's codec ----

/// The route target of VNI 42 in the lab's AS.
pub const ECS: [ExtCommunity; 2] = [
    ExtCommunity::RouteTarget(RouteTarget::As2 {
        asn: 65000,
        value: 42,
    }),
    ExtCommunity::Encapsulation(TunnelType::Vxlan),
];

/// A type-2 route of VNI 42 for `mac` (and `ip`) behind `vtep`.
pub fn mac_route(vtep: Ipv4Address, mac: [u8; 6], ip: Option<Ipv4Address>) -> EvpnRoute<'static> {
    EvpnRoute::MacIp(MacIpRoute {
        rd: RouteDistinguisher::from_ip(vtep, 1),
        esi: EthernetSegment::SINGLE_HOMED,
        ethernet_tag: 0,
        mac: EthernetAddress(mac),
        ip: ip.map(IpAddress::Ipv4),
        label1: 42,
        label2: None,
    })
}

/// An UPDATE announcing the type-3 route of `vtep` for VNI 42 with ingress replication (PMSI
/// tunnel type 6, label 42): `vtep` wants VNI 42's flooded traffic.
pub fn imet_update(vtep: Ipv4Address) -> Vec<u8> {
    let route = EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
        rd: RouteDistinguisher::from_ip(vtep, 1),
        ethernet_tag: 0,
        originator: IpAddress::Ipv4(vtep),
    });
    let id = vtep.octets();
    update(vtep, &[route], |u| {
        u.pmsi_tunnel = Some(PmsiTunnel {
            flags: 0,
            tunnel_type: 6,
            label: 42,
            identifier: &id,
        });
    })
}

/// An UPDATE announcing `routes` behind `vtep` (iBGP attributes, RT 65000:42, VXLAN), changed
/// by `edit` before it is encoded.
pub fn update<'a>(
    vtep: Ipv4Address,
    routes: &'a [EvpnRoute<'a>],
    edit: impl FnOnce(&mut UpdateRepr<'a>),
) -> Vec<u8> {
    let mut repr = UpdateRepr::announce(NextHop::V4(vtep), routes, &ECS);
    edit(&mut repr);
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b);
    b
}

/// An UPDATE withdrawing `routes`.
pub fn withdraw(routes: &[EvpnRoute<'_>]) -> Vec<u8> {
    let repr = UpdateRepr {
        mp_unreach: Some(MpUnreach::Evpn {
            routes: Seq::Items(routes),
        }),
        ..UpdateRepr::default()
    };
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b);
    b
}

/// `n` MAC-only routes `02:bb:NN:NN:NN:NN` behind `vtep`, 100 per UPDATE.
pub fn many_macs(vtep: Ipv4Address, first: u32, n: u32) -> Vec<u8> {
    let mut wire = Vec::new();
    let macs: Vec<u32> = (first..first + n).collect();
    for chunk in macs.chunks(100) {
        let routes: Vec<EvpnRoute<'static>> = chunk
            .iter()
            .map(|i| {
                let b = i.to_be_bytes();
                mac_route(vtep, [2, 0xbb, b[0], b[1], b[2], b[3]], None)
            })
            .collect();
        wire.extend(update(vtep, &routes, |_| {}));
    }
    wire
}

/// Replaces the first occurrence of `from` in `message` with `to` (same length).
pub fn patch(mut message: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = message
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| panic!("{from:02x?} not in the message"));
    message[at..at + to.len()].copy_from_slice(to);
    message
}

/// Sets the header's length field and the UPDATE's total path attribute length after an edit
/// that grew or shrank the attributes by `delta` bytes.
pub fn fix_lengths(message: &mut [u8], delta: i32) {
    let withdrawn = usize::from(u16::from_be_bytes([message[19], message[20]]));
    let at = 21 + withdrawn;
    let total = i32::from(u16::from_be_bytes([message[at], message[at + 1]])) + delta;
    message[at..at + 2].copy_from_slice(&(total as u16).to_be_bytes());
    let len = message.len() as u16;
    message[16..18].copy_from_slice(&len.to_be_bytes());
}
