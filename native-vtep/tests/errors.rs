//! Every startup error an operator can hit says what is wrong and how to fix it. Each case runs
//! the real binary and checks its message. Cases that need root (namespaces, TAPs, setpriv) are
//! skipped without it, unless OVERLAY_LAB_REQUIRE_TOOLS is set.

mod common;

use std::process::{Command, Stdio};

use common::{BIN, Lab, can_run, wait_for};

/// The binary as user and group nobody (65534), with no supplementary groups.
const AS_NOBODY: [&str; 5] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    BIN,
];

/// Runs `program` then `args` with `env`, expects it to fail, and checks that its stderr says
/// each of `expect`.
fn fails(program: &[&str], args: &[&str], env: &[(&str, &str)], expect: &[&str]) {
    let mut cmd = Command::new(program[0]);
    cmd.args(&program[1..]).args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run native-vtep");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure of {program:?} {args:?}, got success; stderr:\n{stderr}"
    );
    for e in expect {
        assert!(stderr.contains(e), "expected {e:?} in:\n{stderr}");
    }
}

/// For a test that needs root and `tools`: a lab named `name` with one namespace, `h`, and that
/// namespace's full name; `None` when the test is skipped (see [`can_run`]).
fn lab_with_host(test: &str, tools: &[&str], name: &str) -> Option<(Lab, String)> {
    if !can_run(test, tools) {
        return None;
    }
    let mut lab = Lab::new(name);
    let ns = lab.netns("h");
    Some((lab, ns))
}

/// A command line: the words of `line`, then `paths` as they are (a path may hold a space).
fn argv<'a>(line: &'a str, paths: &[&'a str]) -> Vec<&'a str> {
    line.split_whitespace()
        .chain(paths.iter().copied())
        .collect()
}

/// `program` run in network namespace `ns`.
fn in_netns<'a>(ns: &'a str, program: &[&'a str]) -> Vec<&'a str> {
    ["ip", "netns", "exec", ns]
        .into_iter()
        .chain(program.iter().copied())
        .collect()
}

#[test]
fn address_family_mismatch_names_both_addresses() {
    fails(
        &[BIN],
        &argv("--tap t0 --vni 42 --local 10.0.0.1 --remote fd00::2", &[]),
        &[],
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
        let config = path.to_str().unwrap();
        fails(
            &[BIN],
            &["--config", config],
            &[],
            &[&format!("{config}{expect}")],
        );
    }
    let missing = dir.join("missing.toml");
    fails(
        &[BIN],
        &["--config", missing.to_str().unwrap()],
        &[],
        &["cannot read config file", "missing.toml"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn not_root_says_how_to_get_the_capability() {
    if !can_run("not_root", &["setpriv"]) {
        return;
    }
    let control = format!("/tmp/native-vtep-noroot-{}.sock", std::process::id());
    fails(
        &AS_NOBODY,
        &argv(
            "--tap olvtnoroot --vni 42 --local 127.0.0.1 --control",
            &[&control],
        ),
        &[],
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
    let Some((lab, ns)) = lab_with_host("nvgre_no_raw", &["setpriv"], "noraw") else {
        return;
    };
    let control = lab.dir.join("noraw.sock");
    let args = argv(
        "--tap t0 --vni 42 --local 127.0.0.1 --encap nvgre --control",
        &[control.to_str().unwrap()],
    );
    let without_net_raw = [
        "setpriv",
        "--inh-caps=-net_raw",
        "--bounding-set=-net_raw",
        BIN,
    ];
    fails(
        &in_netns(&ns, &without_net_raw),
        &args,
        &[],
        &[
            "cannot open a raw socket for GRE (IP protocol 47) to receive NVGRE",
            "needs CAP_NET_RAW",
            "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW",
        ],
    );
    fails(
        &[BIN],
        &[&args[..], &["--dstport", "4789"]].concat(),
        &[],
        &[
            "--dstport 4789 with --encap nvgre",
            "no UDP port; leave out --dstport",
        ],
    );
    drop(lab);
}

#[test]
fn tun_device_missing_says_to_load_the_module() {
    let Some((lab, ns)) = lab_with_host("tun_missing", &[], "tun") else {
        return;
    };
    fails(
        &in_netns(&ns, &[BIN]),
        &argv(
            "--tap t0 --vni 42 --local 127.0.0.1 --control /tmp/x.sock",
            &[],
        ),
        &[("NATIVE_VTEP_TUN", "/nonexistent/net/tun")],
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
    let Some((mut lab, ns)) = lab_with_host("tap_busy", &[], "busy") else {
        return;
    };
    let first = lab.vtep(
        &ns,
        "first",
        &argv("--tap t0 --vni 42 --local 127.0.0.1 --dstport 47000", &[]),
    );
    let control2 = lab.dir.join("second.sock");
    let in_ns = in_netns(&ns, &[BIN]);
    // A second daemon started with `flags` and the control socket `control`.
    let second = |flags: &str, control: &std::path::Path, expect: &[&str]| {
        fails(
            &in_ns,
            &argv(flags, &["--control", control.to_str().unwrap()]),
            &[],
            expect,
        );
    };

    // The same TAP, held open by the first daemon.
    second(
        "--tap t0 --vni 43 --local 127.0.0.1 --dstport 47001",
        &control2,
        &["TAP device t0 is busy", "choose another --tap name"],
    );

    // The same UDP port, held by the first daemon; and by a kernel vxlan device.
    second(
        "--tap t1 --vni 43 --local 127.0.0.1 --dstport 47000",
        &control2,
        &["UDP port 47000 on 127.0.0.1 is already in use", "--dstport"],
    );
    lab.ns_must(
        &ns,
        "ip link add vx0 type vxlan id 7 dstport 4789 local 127.0.0.1 && ip link set vx0 up",
    );
    second(
        "--tap t2 --vni 44 --local 127.0.0.1",
        &control2,
        &[
            "UDP port 4789 on 127.0.0.1 is already in use",
            "kernel vxlan",
        ],
    );
    // The failed daemons removed the TAPs they created.
    assert!(lab.ns_sh(&ns, "ip link show t1").status.code() != Some(0));
    assert!(lab.ns_sh(&ns, "ip link show t2").status.code() != Some(0));

    // An address this host does not have.
    second(
        "--tap t3 --vni 45 --local 10.9.9.9",
        &control2,
        &["10.9.9.9 is not an address of this host", "ip addr add"],
    );

    // A name that exists but is not a TAP.
    second(
        "--tap vx0 --vni 46 --local 127.0.0.1 --dstport 47002",
        &control2,
        &["vx0 exists and is not a TAP device"],
    );

    // A bridge that does not exist.
    second(
        "--tap t4 --vni 47 --local 127.0.0.1 --dstport 47003 --bridge nobr",
        &control2,
        &["bridge nobr does not exist"],
    );

    // A second daemon on the same control socket.
    second(
        "--tap t5 --vni 48 --local 127.0.0.1 --dstport 47004",
        &first,
        &["is in use: another native-vtep is running with it"],
    );

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
    fails(
        &[BIN],
        &["stats", "--control", &path],
        &[],
        &["no native-vtep is listening on", "is the daemon running?"],
    );
}

#[test]
fn user_flag_errors_name_the_user() {
    let args = |user| {
        argv(
            "--tap olvtuser --vni 42 --local 127.0.0.1 --control /nonexistent/olvtuser.sock \
             --user",
            &[user],
        )
    };
    // Checked before anything is created, so no root is needed to see these.
    fails(
        &[BIN],
        &args("olvt-no-such-user"),
        &[],
        &[
            "--user olvt-no-such-user: unknown user \"olvt-no-such-user\"",
            "useradd --system",
        ],
    );
    fails(
        &[BIN],
        &args("root"),
        &[],
        &["--user root: root is uid 0", "unprivileged user"],
    );
    if !can_run("user_not_root", &["setpriv"]) {
        return;
    }
    fails(
        &AS_NOBODY,
        &args("nobody"),
        &[],
        &[
            "--user nobody: switching to another user needs root",
            "start native-vtep as root",
            "leave out --user",
        ],
    );
}

#[test]
fn control_socket_refuses_non_root_clients() {
    let Some((mut lab, ns)) = lab_with_host("ctl_root_only", &["setpriv"], "ctlperm") else {
        return;
    };
    // A directory the daemon creates itself: 0700, root's.
    let control = lab.dir.join("run").join("d.sock");
    lab.vtep_at(
        &ns,
        "d",
        &control,
        &argv("--tap t0 --vni 42 --local 127.0.0.1", &[]),
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
    for args in ["stats", "fdb show", "neigh show"] {
        fails(
            &AS_NOBODY,
            &argv(args, &["--control", control.to_str().unwrap()]),
            &[],
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
    fails(
        &AS_NOBODY,
        &["stats", "--control", control.to_str().unwrap()],
        &[],
        &["run this as root"],
    );
    lab.stop("d");
}

#[test]
fn control_path_that_is_not_a_socket_is_never_replaced() {
    let Some((lab, ns)) = lab_with_host("ctl_not_socket", &[], "ctlfile") else {
        return;
    };
    let file = lab.dir.join("precious.txt");
    std::fs::write(&file, "keep me").unwrap();
    fails(
        &in_netns(&ns, &[BIN]),
        &argv(
            "--tap t0 --vni 42 --local 127.0.0.1 --control",
            &[file.to_str().unwrap()],
        ),
        &[],
        &["exists and is not a socket; refusing to replace it"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    assert!(lab.ns_sh(&ns, "ip link show t0").status.code() != Some(0));
}

#[test]
fn queues_out_of_range_or_with_plain_is_refused() {
    let base = "--tap t0 --vni 42 --local 10.0.0.1";
    for n in ["0", "17"] {
        fails(
            &[BIN],
            &argv(base, &["--queues", n]),
            &[],
            &[&format!("queues {n} is out of range: use 1 to 16")],
        );
    }
    fails(
        &[BIN],
        &argv(base, &["--queues", "2", "--datapath", "plain"]),
        &[],
        &[
            "--queues 2 needs --datapath offload or batch",
            "plain data path runs single-queue",
        ],
    );
}
