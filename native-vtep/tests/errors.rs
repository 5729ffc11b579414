//! Every startup error an operator can hit says what is wrong and how to fix it. Each case runs
//! the real binary and checks its message. Cases that need root (namespaces, TAPs, setpriv) are
//! skipped without it, unless OVERLAY_LAB_REQUIRE_TOOLS is set.

mod common;

use std::process::{Command, Stdio};

use common::{BIN, Lab, can_run, wait_for};

/// Runs the binary with `args`, expects it to fail, and returns its stderr.
fn fails(program: &[&str], args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(program[0]);
    cmd.args(&program[1..]).args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run native-vtep");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected failure of {program:?} {args:?}, got success; stderr:\n{stderr}"
    );
    stderr
}

fn check(stderr: &str, expect: &[&str]) {
    for e in expect {
        assert!(stderr.contains(e), "expected {e:?} in:\n{stderr}");
    }
}

#[test]
fn address_family_mismatch_names_both_addresses() {
    let err = fails(
        &[BIN],
        &[
            "--tap", "t0", "--vni", "42", "--local", "10.0.0.1", "--remote", "fd00::2",
        ],
        &[],
    );
    check(
        &err,
        &[
            "native-vtep: error: --remote fd00::2",
            "remote fd00::2 and local 10.0.0.1 are of different IP families",
            "all IPv4 or all IPv6",
        ],
    );
}

#[test]
fn bad_config_names_file_line_and_column() {
    let dir = std::env::temp_dir().join(format!("native-vtep-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "[underlay]\nlocal = \"10.0.0.1\"\n\n[[network]]\ntap = \"vtep42\"\nvni = 42\nencap = \"gre\"\n",
            ":7:9: unknown variant `gre`, expected one of `vxlan`, `geneve`, `nvgre`",
        ),
        (
            "[underlay]\nlocal = \"10.0.0.1\"\n[[network]]\ntap = \"vtep42\"\nvni = 99999999\n",
            ":5:7: VNI 99999999 is out of range",
        ),
        ("[underlay]\nlocal = 10.0.0.1\n", ":2:"),
    ];
    for (i, (text, expect)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let err = fails(&[BIN], &["--config", path.to_str().unwrap()], &[]);
        check(&err, &[&format!("{}{expect}", path.display())]);
    }
    let missing = dir.join("missing.toml");
    let err = fails(&[BIN], &["--config", missing.to_str().unwrap()], &[]);
    check(&err, &["cannot read config file", "missing.toml"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn not_root_says_how_to_get_the_capability() {
    if !can_run("not_root", &["setpriv"]) {
        return;
    }
    let control = format!("/tmp/native-vtep-noroot-{}.sock", std::process::id());
    let err = fails(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
        ],
        &[
            "--tap",
            "olvtnoroot",
            "--vni",
            "42",
            "--local",
            "127.0.0.1",
            "--control",
            &control,
        ],
        &[],
    );
    check(
        &err,
        &[
            // EPERM from TUNSETIFF, or EACCES from a /dev/net/tun that is root-only.
            "cannot create TAP device olvtnoroot: ",
            "CAP_NET_ADMIN",
            "run it as root",
            "setcap cap_net_admin,cap_net_raw+ep",
        ],
    );
}

/// NVGRE receives on a raw socket: without CAP_NET_RAW (as root in a restricted unit, here
/// with the capability taken out of the bounding set) the error says which capability and how
/// to grant it. `--dstport` with NVGRE, which has no UDP port, is refused by name.
#[test]
fn nvgre_without_cap_net_raw_names_the_capability() {
    if !can_run("nvgre_no_raw", &["setpriv"]) {
        return;
    }
    let mut lab = Lab::new("noraw");
    let ns = lab.netns("h");
    let control = lab.dir.join("noraw.sock");
    let control = control.to_str().unwrap();
    let args = [
        "--tap",
        "t0",
        "--vni",
        "42",
        "--local",
        "127.0.0.1",
        "--encap",
        "nvgre",
        "--control",
        control,
    ];
    let err = fails(
        &[
            "ip",
            "netns",
            "exec",
            &ns,
            "setpriv",
            "--inh-caps=-net_raw",
            "--bounding-set=-net_raw",
            BIN,
        ],
        &args,
        &[],
    );
    check(
        &err,
        &[
            "cannot open a raw socket for GRE (IP protocol 47) to receive NVGRE",
            "needs CAP_NET_RAW",
            "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW",
        ],
    );
    let err = fails(&[BIN], &[&args[..], &["--dstport", "4789"]].concat(), &[]);
    check(
        &err,
        &[
            "--dstport 4789 with --encap nvgre",
            "no UDP port; leave out --dstport",
        ],
    );
    drop(lab);
}

#[test]
fn tun_device_missing_says_to_load_the_module() {
    if !can_run("tun_missing", &[]) {
        return;
    }
    let mut lab = Lab::new("tun");
    let ns = lab.netns("h");
    let err = fails(
        &["ip", "netns", "exec", &ns, BIN],
        &[
            "--tap",
            "t0",
            "--vni",
            "42",
            "--local",
            "127.0.0.1",
            "--control",
            "/tmp/x.sock",
        ],
        &[("NATIVE_VTEP_TUN", "/nonexistent/net/tun")],
    );
    check(
        &err,
        &[
            "cannot open /nonexistent/net/tun: no such device",
            "modprobe tun",
            "mknod /nonexistent/net/tun c 10 200",
        ],
    );
    drop(lab);
}

#[test]
fn tap_busy_and_port_in_use_and_foreign_address() {
    if !can_run("tap_busy", &[]) {
        return;
    }
    let mut lab = Lab::new("busy");
    let ns = lab.netns("h");
    let first = lab.vtep(
        &ns,
        "first",
        &[
            "--tap",
            "t0",
            "--vni",
            "42",
            "--local",
            "127.0.0.1",
            "--dstport",
            "47000",
        ],
    );
    let control2 = lab.dir.join("second.sock");
    let control2 = control2.to_str().unwrap();
    let in_ns = ["ip", "netns", "exec", ns.as_str(), BIN];

    // The same TAP, held open by the first daemon.
    let err = fails(
        &in_ns,
        &[
            "--tap",
            "t0",
            "--vni",
            "43",
            "--local",
            "127.0.0.1",
            "--dstport",
            "47001",
            "--control",
            control2,
        ],
        &[],
    );
    check(
        &err,
        &["TAP device t0 is busy", "choose another --tap name"],
    );

    // The same UDP port, held by the first daemon; and by a kernel vxlan device.
    let err = fails(
        &in_ns,
        &[
            "--tap",
            "t1",
            "--vni",
            "43",
            "--local",
            "127.0.0.1",
            "--dstport",
            "47000",
            "--control",
            control2,
        ],
        &[],
    );
    check(
        &err,
        &["UDP port 47000 on 127.0.0.1 is already in use", "--dstport"],
    );
    lab.ns_must(
        &ns,
        "ip link add vx0 type vxlan id 7 dstport 4789 local 127.0.0.1 && ip link set vx0 up",
    );
    let err = fails(
        &in_ns,
        &[
            "--tap",
            "t2",
            "--vni",
            "44",
            "--local",
            "127.0.0.1",
            "--control",
            control2,
        ],
        &[],
    );
    check(
        &err,
        &[
            "UDP port 4789 on 127.0.0.1 is already in use",
            "kernel vxlan",
        ],
    );
    // The failed daemons removed the TAPs they created.
    assert!(lab.ns_sh(&ns, "ip link show t1").status.code() != Some(0));
    assert!(lab.ns_sh(&ns, "ip link show t2").status.code() != Some(0));

    // An address this host does not have.
    let err = fails(
        &in_ns,
        &[
            "--tap",
            "t3",
            "--vni",
            "45",
            "--local",
            "10.9.9.9",
            "--control",
            control2,
        ],
        &[],
    );
    check(
        &err,
        &["10.9.9.9 is not an address of this host", "ip addr add"],
    );

    // A name that exists but is not a TAP.
    let err = fails(
        &in_ns,
        &[
            "--tap",
            "vx0",
            "--vni",
            "46",
            "--local",
            "127.0.0.1",
            "--dstport",
            "47002",
            "--control",
            control2,
        ],
        &[],
    );
    check(&err, &["vx0 exists and is not a TAP device"]);

    // A bridge that does not exist.
    let err = fails(
        &in_ns,
        &[
            "--tap",
            "t4",
            "--vni",
            "47",
            "--local",
            "127.0.0.1",
            "--dstport",
            "47003",
            "--bridge",
            "nobr",
            "--control",
            control2,
        ],
        &[],
    );
    check(&err, &["bridge nobr does not exist"]);

    // A second daemon on the same control socket.
    let err = fails(
        &in_ns,
        &[
            "--tap",
            "t5",
            "--vni",
            "48",
            "--local",
            "127.0.0.1",
            "--dstport",
            "47004",
            "--control",
            first.to_str().unwrap(),
        ],
        &[],
    );
    check(&err, &["is in use: another native-vtep is running with it"]);

    // The first daemon is unharmed, and stops cleanly on SIGTERM, removing TAP and socket.
    lab.ctl(&first, &["stats"]);
    let log = lab.stop("first");
    assert!(log.contains("SIGTERM: shutting down"), "{log}");
    assert!(log.contains("removed TAP t0"), "{log}");
    assert!(
        wait_for(5, || lab.ns_sh(&ns, "ip link show t0").status.code()
            != Some(0)),
        "t0 still exists 5 s after the daemon exited"
    );
    assert!(!first.exists(), "control socket still exists");
}

#[test]
fn control_commands_without_daemon_explain() {
    let path = format!("/tmp/native-vtep-none-{}.sock", std::process::id());
    let err = fails(&[BIN], &["stats", "--control", &path], &[]);
    check(
        &err,
        &["no native-vtep is listening on", "is the daemon running?"],
    );
}

#[test]
fn user_flag_errors_name_the_user() {
    let args = |user: &str| {
        [
            "--tap",
            "olvtuser",
            "--vni",
            "42",
            "--local",
            "127.0.0.1",
            "--control",
            "/nonexistent/olvtuser.sock",
            "--user",
        ]
        .map(String::from)
        .into_iter()
        .chain([user.to_string()])
        .collect::<Vec<String>>()
    };
    fn argv(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    // Checked before anything is created, so no root is needed to see these.
    let unknown = args("olvt-no-such-user");
    let err = fails(&[BIN], &argv(&unknown), &[]);
    check(
        &err,
        &[
            "--user olvt-no-such-user: unknown user \"olvt-no-such-user\"",
            "useradd --system",
        ],
    );
    let root = args("root");
    let err = fails(&[BIN], &argv(&root), &[]);
    check(&err, &["--user root: root is uid 0", "unprivileged user"]);
    if !can_run("user_not_root", &["setpriv"]) {
        return;
    }
    let nobody = args("nobody");
    let err = fails(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
        ],
        &argv(&nobody),
        &[],
    );
    check(
        &err,
        &[
            "--user nobody: switching to another user needs root",
            "start native-vtep as root",
            "leave out --user",
        ],
    );
}

#[test]
fn control_socket_refuses_non_root_clients() {
    if !can_run("ctl_root_only", &["setpriv"]) {
        return;
    }
    let mut lab = Lab::new("ctlperm");
    let ns = lab.netns("h");
    // A directory the daemon creates itself: 0700, root's.
    let control = lab.dir.join("run").join("d.sock");
    lab.vtep_at(
        &ns,
        "d",
        &control,
        &["--tap", "t0", "--vni", "42", "--local", "127.0.0.1"],
    );
    let mode = |p: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.mode() & 0o7777, m.uid())
    };
    assert_eq!(mode(control.parent().unwrap()), (0o700, 0));
    assert_eq!(mode(&control), (0o600, 0));
    // Root gets in; nobody is told why not and what to do.
    lab.ctl(&control, &["stats"]);
    for args in [&["stats"][..], &["fdb", "show"], &["neigh", "show"]] {
        let err = fails(
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
            ],
            &[args, &["--control", control.to_str().unwrap()]].concat(),
            &[],
        );
        check(
            &err,
            &[
                &format!("permission denied on {}", control.display()),
                "the control socket is root-only; run this as root",
            ],
        );
    }
    // Even with the socket itself opened up, the 0700 directory keeps others out.
    std::fs::set_permissions(
        &control,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let err = fails(
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
        ],
        &["stats", "--control", control.to_str().unwrap()],
        &[],
    );
    check(&err, &["run this as root"]);
    lab.stop("d");
}

#[test]
fn control_path_that_is_not_a_socket_is_never_replaced() {
    if !can_run("ctl_not_socket", &[]) {
        return;
    }
    let mut lab = Lab::new("ctlfile");
    let ns = lab.netns("h");
    let file = lab.dir.join("precious.txt");
    std::fs::write(&file, "keep me").unwrap();
    let err = fails(
        &["ip", "netns", "exec", &ns, BIN],
        &[
            "--tap",
            "t0",
            "--vni",
            "42",
            "--local",
            "127.0.0.1",
            "--control",
            file.to_str().unwrap(),
        ],
        &[],
    );
    check(
        &err,
        &["exists and is not a socket; refusing to replace it"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    assert!(lab.ns_sh(&ns, "ip link show t0").status.code() != Some(0));
}

#[test]
fn queues_out_of_range_or_with_plain_is_refused() {
    let base = ["--tap", "t0", "--vni", "42", "--local", "10.0.0.1"];
    for n in ["0", "17"] {
        let args: Vec<&str> = base.iter().copied().chain(["--queues", n]).collect();
        let err = fails(&[BIN], &args, &[]);
        check(&err, &[&format!("queues {n} is out of range: use 1 to 16")]);
    }
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--queues", "2", "--datapath", "plain"])
        .collect();
    let err = fails(&[BIN], &args, &[]);
    check(
        &err,
        &[
            "--queues 2 needs --datapath offload or batch",
            "plain data path runs single-queue",
        ],
    );
}
