//! The namespace fabric shared by the suites: host namespaces on one underlay bridge, a
//! native-vtep per host, and traffic checks (ping, TCP and UDP transfers checked with SHA-256).
//!
//! Topology: an underlay namespace `ul` holds a bridge `ulbr`; each host namespace `hN` has a
//! veth `ul` with 10.0.0.N/24 plugged into it. A VTEP on host N serves VNI 42; its TAP `vt42`
//! has 192.168.42.N/24, so the host's own IP stack is the "VM" behind it.

use std::path::PathBuf;

use super::{Lab, must, wait_for};

/// `tcp_server.py IP PORT`: accepts one connection (IPv4 or IPv6, as IP is), prints
/// `received BYTES SHA256` at EOF.
pub const TCP_SERVER: &str = r#"
import socket, hashlib, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(60)
print("listening", flush=True)
c, _ = s.accept()
c.settimeout(60)
h = hashlib.sha256()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d)
    n += len(d)
print("received", n, h.hexdigest(), flush=True)
"#;

/// `tcp_client.py IP PORT SEED`: sends 1 MiB of seeded random bytes, prints `sent BYTES SHA256`.
pub const TCP_CLIENT: &str = r#"
import socket, hashlib, sys, random
data = random.Random(int(sys.argv[3])).randbytes(1 << 20)
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
c.sendall(data)
c.close()
print("sent", len(data), hashlib.sha256(data).hexdigest(), flush=True)
"#;

/// `udp_server.py IP PORT COUNT`: prints `listening`, then, once COUNT datagrams came (or 15 s
/// passed), `received N SHA256` over their payloads in sequence order.
pub const UDP_SERVER: &str = r#"
import socket, hashlib, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(0.5)
want = int(sys.argv[3])
print("listening", flush=True)
got = {}
end = time.time() + 15
while len(got) < want and time.time() < end:
    try:
        d = s.recv(65536)
    except socket.timeout:
        continue
    got[int.from_bytes(d[:4], "big")] = d[4:]
h = hashlib.sha256()
for k in sorted(got):
    h.update(got[k])
print("received", len(got), h.hexdigest(), flush=True)
"#;

/// `udp_client.py IP PORT COUNT SEED`: COUNT datagrams of seeded random sizes (1 to 1400 bytes)
/// and bytes, each after a 4-byte sequence number, 2 ms apart; prints `sent N SHA256`.
pub const UDP_CLIENT: &str = r#"
import socket, hashlib, sys, random, time
r = random.Random(int(sys.argv[4]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
h = hashlib.sha256()
n = int(sys.argv[3])
for i in range(n):
    d = r.randbytes(r.randint(1, 1400))
    h.update(d)
    s.sendto(i.to_bytes(4, "big") + d, (sys.argv[1], int(sys.argv[2])))
    time.sleep(0.002)
print("sent", n, h.hexdigest(), flush=True)
"#;

/// Hosts on one underlay bridge.
pub struct Fabric {
    pub lab: Lab,
    pub ul: String,
    pub hosts: Vec<String>,
}

pub fn underlay_ip(host: usize) -> String {
    format!("10.0.0.{}", host + 1)
}

pub fn overlay_ip(host: usize) -> String {
    format!("192.168.42.{}", host + 1)
}

/// `hosts` host namespaces on an underlay bridge; `None` (test skipped) without root/tools.
pub fn fabric(test: &str, hosts: usize, tools: &[&str]) -> Option<Fabric> {
    if !super::can_run(test, tools) {
        return None;
    }
    let mut lab = Lab::new(test);
    let ul = lab.netns("ul");
    must(&format!(
        "ip -n {ul} link add ulbr type bridge && ip -n {ul} link set ulbr up"
    ));
    let mut names = Vec::new();
    for i in 0..hosts {
        let h = lab.netns(&format!("h{}", i + 1));
        plug_into_underlay(&lab, &ul, &h, &format!("p{}", i + 1), &underlay_ip(i));
        names.push(h);
    }
    Some(Fabric {
        lab,
        ul,
        hosts: names,
    })
}

/// Plugs namespace `ns` into the underlay bridge (`ulbr` in namespace `ul`): a veth `ul` in
/// `ns` with `address`/24, its other end `port` in the bridge.
pub fn plug_into_underlay(lab: &Lab, ul: &str, ns: &str, port: &str, address: &str) {
    lab.veth(ns, "ul", Some(&format!("{address}/24")), ul, port, None);
    must(&format!("ip -n {ul} link set {port} master ulbr"));
}

/// A new namespace `name` on the underlay with `address` (its bridge port `p<name>`), for what
/// stands beside the hosts: a route reflector, a BGP peer. Returns the namespace.
pub fn attach(lab: &mut Lab, ul: &str, name: &str, address: &str) -> String {
    let ns = lab.netns(name);
    plug_into_underlay(lab, ul, &ns, &format!("p{name}"), address);
    ns
}

/// `(transmitted, received)` from ping's summary line.
pub fn parse_ping(out: &str) -> (u32, u32) {
    // "5 packets transmitted, 5 received, 0% packet loss, time 804ms"
    let line = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or("");
    let nums: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
    )
}

impl Fabric {
    /// A new namespace `name` on this fabric's underlay with `address`: see `attach`.
    pub fn attach(&mut self, name: &str, address: &str) -> String {
        attach(&mut self.lab, &self.ul, name, address)
    }

    /// The arguments of a native-vtep on host `i` for VNI 42 (TAP `vt42`), flooding to every
    /// other host unless `extra` contains `--no-remotes`, followed by `extra`.
    pub fn native_args(&self, i: usize, extra: &[&str]) -> Vec<String> {
        let local = underlay_ip(i);
        let mut args: Vec<String> = ["--tap", "vt42", "--vni", "42", "--local", local.as_str()]
            .map(String::from)
            .to_vec();
        for j in 0..self.hosts.len() {
            if j != i && !extra.contains(&"--no-remotes") {
                args.push("--remote".into());
                args.push(underlay_ip(j));
            }
        }
        args.extend(
            extra
                .iter()
                .filter(|a| **a != "--no-remotes")
                .map(|s| s.to_string()),
        );
        args
    }

    /// Starts native-vtep `vtep<i+1>` on host `i` (see [`Fabric::native_args`]) and gives the
    /// TAP `192.168.42.(i+1)/24` unless `extra` contains `--bridge`.
    pub fn native(&mut self, i: usize, extra: &[&str]) -> PathBuf {
        let args = self.native_args(i, extra);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let ns = self.hosts[i].clone();
        let control = self.lab.vtep(&ns, &format!("vtep{}", i + 1), &argv);
        if !extra.contains(&"--bridge") {
            self.lab
                .ns_must(&ns, &format!("ip addr add {}/24 dev vt42", overlay_ip(i)));
        }
        control
    }

    /// A persistent TAP `vt42` on host `i` (`ip tuntap add`), up, with MAC `mac` and the
    /// host's overlay address: it outlives the daemons that attach to it.
    pub fn persistent_tap(&self, i: usize, mac: &str) {
        self.lab.ns_must(
            &self.hosts[i],
            &format!(
                "ip tuntap add dev vt42 mode tap && ip link set vt42 address {mac} && \
                 ip link set vt42 up && ip addr add {}/24 dev vt42",
                overlay_ip(i)
            ),
        );
    }

    pub fn mac(&self, i: usize, dev: &str) -> String {
        self.lab
            .ns_must(&self.hosts[i], &format!("cat /sys/class/net/{dev}/address"))
            .trim()
            .to_string()
    }

    /// Pings from host `from` to `dst`; returns (transmitted, received).
    pub fn ping(&self, from: usize, dst: &str, count: u32) -> (u32, u32) {
        let out = self.lab.ns_sh(
            &self.hosts[from],
            &format!("ping -n -q -c {count} -i 0.2 -W 2 {dst}"),
        );
        parse_ping(&String::from_utf8_lossy(&out.stdout))
    }

    pub fn ping_ok(&self, from: usize, dst: &str, count: u32) {
        let (tx, rx) = self.ping(from, dst, count);
        assert!(
            tx == count && rx == count,
            "ping h{} -> {dst}: {rx}/{tx} received\n{}",
            from + 1,
            self.lab.all_logs()
        );
    }

    /// Starts a TCP server (`tcp_server.py`) named `name` on host `server` at
    /// `server_ip:port` and waits until it listens.
    pub fn tcp_server(&mut self, server: usize, server_ip: &str, port: u16, name: &str) {
        let srv = self.lab.script("tcp_server.py", TCP_SERVER);
        let ns = self.hosts[server].clone();
        self.lab.spawn(
            &ns,
            name,
            "python3",
            &[srv, server_ip.into(), port.to_string()],
        );
        assert!(
            wait_for(10, || self.lab.log(name).contains("listening")),
            "TCP server did not start: {}",
            self.lab.log(name)
        );
    }

    /// Waits for server `name` to report its `received BYTES SHA256` line and checks it
    /// against the client's `sent BYTES SHA256 ...` line.
    pub fn tcp_check(&mut self, name: &str, sent: &str, secs: u64) {
        assert!(
            wait_for(secs, || complete_line(&self.lab.log(name), "received")
                .is_some()),
            "TCP server got nothing: {}\n{}",
            self.lab.log(name),
            self.lab.all_logs()
        );
        let received = self.lab.log(name);
        fn fields<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
            complete_line(text, prefix)
                .unwrap_or_else(|| panic!("no whole `{prefix}` line in {text:?}"))
                .split_whitespace()
                .collect()
        }
        let (sent, got) = (fields(sent, "sent"), fields(&received, "received"));
        assert!(sent.len() >= 3 && got.len() >= 3, "{sent:?} / {got:?}");
        assert_eq!(
            sent[1..3],
            got[1..3],
            "TCP transfer: sent vs received (bytes, sha256)"
        );
        let _ = self.lab.exited(name);
    }

    /// 200 UDP datagrams of random sizes from host `client` to `server_ip` on host `server`,
    /// all received (none lost on these quiet links), checked with SHA-256 on both ends.
    pub fn udp_200(&mut self, server: usize, server_ip: &str, client: usize, seed: u32) {
        let name = format!("udp{seed}");
        let srv = self.lab.script("udp_server.py", UDP_SERVER);
        let ns = self.hosts[server].clone();
        let args = [srv, server_ip.into(), "5002".into(), "200".into()];
        self.lab.spawn(&ns, &name, "python3", &args);
        assert!(
            wait_for(10, || self.lab.log(&name).contains("listening")),
            "UDP server did not start: {}",
            self.lab.log(&name)
        );
        let args = format!("{server_ip} 5002 200 {seed}");
        self.client(
            client,
            &name,
            ("udp_client.py", UDP_CLIENT),
            &args,
            "sent 200 ",
        );
    }

    /// A 1 MB TCP transfer from host `client` to `server_ip` on host `server`, checked with
    /// SHA-256 on both ends.
    pub fn tcp_1mb(&mut self, server: usize, server_ip: &str, client: usize, seed: u32) {
        let name = format!("tcp{seed}");
        self.tcp_server(server, server_ip, 5001, &name);
        let args = format!("{server_ip} 5001 {seed}");
        self.client(
            client,
            &name,
            ("tcp_client.py", TCP_CLIENT),
            &args,
            "sent 1048576 ",
        );
    }

    /// [`Self::tcp_1mb`] from host 1 to host 2 (VNI 42's IPv4 addresses), then back, with seeds
    /// `seed` and `seed + 1`.
    pub fn tcp_1mb_both_ways(&mut self, seed: u32) {
        self.tcp_1mb(1, "192.168.42.2", 0, seed);
        self.tcp_1mb(0, "192.168.42.1", 1, seed + 1);
    }

    /// Runs the client `script` with `args` on host `client`; its output must contain `sent`,
    /// and its `sent` line must match server `name`'s `received` line ([`Self::tcp_check`]).
    fn client(&mut self, client: usize, name: &str, script: (&str, &str), args: &str, sent: &str) {
        let cli = self.lab.script(script.0, script.1);
        let out = self
            .lab
            .ns_must(&self.hosts[client], &format!("python3 {cli} {args}"));
        assert!(out.contains(sent), "{out}");
        self.tcp_check(name, &out, 30);
    }
}

/// The first line of `log` that starts with `prefix` and is whole: ended by its newline. The
/// scripts run with whatever `PYTHONUNBUFFERED` the machine has, and unbuffered, `print` writes
/// each of its arguments apart, so a log read while one is printing can end mid-line.
pub fn complete_line<'a>(log: &'a str, prefix: &str) -> Option<&'a str> {
    log.split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .find(|l| l.starts_with(prefix))
}
