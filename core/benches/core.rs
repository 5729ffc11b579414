//! `bench core`: the engine's per-packet costs, with criterion.
//!
//! ```text
//! cargo bench -p vtep-core --bench core [-- FILTER]
//! ```
//!
//! - `encap/64`, `encap/1500`: a frame from a local port to a MAC known behind a remote VTEP:
//!   `handle_input` (learn/refresh the source, FDB lookup, flow hash, VXLAN header in place),
//!   `poll_output` until `Timeout`, and the outer IPv4/UDP header written in place
//!   (`OuterRepr::emit`), as native-vtep's plain and batch (raw socket) paths do: the whole IP
//!   packet, ready for `sendto`. `encap/64` is the figure the "encapsulate + FDB lookup of a
//!   64-byte frame under 50 ns" target is judged by.
//! - `encap_engine/64`, `encap_engine/1500`: the same without the outer headers, as
//!   native-vtep's offload path (a UDP socket: the kernel writes IP and UDP) does.
//! - `decap/64`, `decap/1500`: a VXLAN datagram from the underlay to a local port (header
//!   checks, learning refresh of the inner source, lookup of the inner destination). The
//!   engine benches' clock moves 1 us per frame, so refreshes store a new time every 1000
//!   frames and ageing sweeps run, as on a live VTEP.
//! - `fdb_lookup/N`, `fdb_refresh/N`, `fdb_insert/N` for N = 1k, 100k, 1M entries over 16 VNIs:
//!   a lookup of a random present key, a learn that refreshes it (every received frame does
//!   one), and learning new MACs into a table growing to N. `fdb_refresh_new_ms/N`: the
//!   refresh with a clock that moves 1 ms per frame, so that every refresh stores a new time.
//!
//! Criterion's `thrpt` is packets (operations) per second on one core. Before the timings, the
//! bench prints the memory each FDB entry costs, measured with allocation-counter's counting global
//! allocator (live bytes of a table of N entries / N, hashbrown's spare capacity included).

use std::hint::black_box;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vtep_core::fdb::{Fdb, FdbConfig};
use vtep_core::vtep::{Input, NetworkConfig, Output, Vtep, VtepConfig};
use vtep_core::wire::outer::{self, MAX_HEADROOM};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};
use vtep_core::{Destination, Instant, Mac, PortId, Vni};

const VNI: Vni = Vni::from_u24_truncating(42);
const SIZES: [usize; 2] = [64, 1500];
const FDB_SIZES: [(usize, &str); 3] = [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1M")];

fn ip(n: u8) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n))
}

/// A deterministic stream of distinct-enough unicast MACs and VNIs.
fn keys(n: usize, seed: u64) -> Vec<(Vni, Mac)> {
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            let mac = EthernetAddress([0x02, b[1], b[2], b[3], b[4], (i & 0xff) as u8]);
            (Vni::from_u24_truncating(100 + (i % 16) as u32), mac)
        })
        .collect()
}

fn fdb_config(max: usize) -> FdbConfig {
    FdbConfig {
        max_entries: max * 2,
        ..FdbConfig::default()
    }
}

fn filled(keys: &[(Vni, Mac)]) -> Fdb {
    let mut fdb = Fdb::new(fdb_config(keys.len()), 7);
    for (i, (vni, mac)) in keys.iter().enumerate() {
        let dest = Destination::Remote(ip((i % 200) as u8 + 1));
        fdb.learn(Instant::ZERO, *vni, *mac, dest);
    }
    fdb
}

/// Live heap bytes per entry of tables of each size.
fn memory_report() {
    println!("FDB memory per entry (counting allocator, live bytes / entries):");
    for (n, name) in FDB_SIZES {
        let k = keys(n, 0x5eed);
        let mut fdb = None;
        // allocation-counter's global allocator counts this thread's live bytes.
        let bytes = allocation_counter::measure(|| fdb = Some(filled(&k))).bytes_current;
        let fdb = fdb.expect("filled inside measure");
        println!(
            "  {name:>5} entries ({} distinct): {:.1} bytes/entry",
            fdb.len(),
            bytes as f64 / fdb.len() as f64
        );
        drop(fdb);
    }
}

/// Two VTEPs, A (10.0.0.1) and B (10.0.0.2), each with VNI 42 on port 0, that know each
/// other's MAC: A's 02::01 is local, B's 02::02 is behind B.
fn pair() -> (Vtep, Vtep) {
    let now = Instant::ZERO;
    // Room for a 1500-byte inner frame (a jumbo underlay, as 1500-byte frames need).
    let config = |n| VtepConfig {
        underlay_mtu: 9000,
        ..VtepConfig::new(ip(n))
    };
    let mut a = Vtep::new(config(1), now).unwrap();
    let mut b = Vtep::new(config(2), now).unwrap();
    for (v, local, remote, remote_ip) in [(&mut a, 1u8, 2u8, ip(2)), (&mut b, 2, 1, ip(1))] {
        v.add_network(NetworkConfig::new(VNI), now).unwrap();
        let port = v.add_port(VNI).unwrap();
        v.add_flood_peer(VNI, remote_ip).unwrap();
        let mac = |n| EthernetAddress([2, 0, 0, 0, 0, n]);
        v.add_static_fdb(now, VNI, mac(remote), Destination::Remote(remote_ip))
            .unwrap();
        v.add_static_fdb(now, VNI, mac(local), Destination::Local(port))
            .unwrap();
    }
    (a, b)
}

fn frame_into(buf: &mut [u8], len: usize, src: u8, dst: u8) {
    let f = &mut buf[MAX_HEADROOM..MAX_HEADROOM + len];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, dst]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, src]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    // An IPv4/UDP-looking body so the flow hash reads addresses and ports.
    f[14] = 0x45;
    f[23] = 17;
    f[26..34].copy_from_slice(&[192, 168, 42, 1, 192, 168, 42, 2]);
    f[34..38].copy_from_slice(&[0x9c, 0x40, 0x13, 0x89]);
}

/// The engine benches' clock: one microsecond more per frame, so that FDB refreshes store a
/// new time every 1000 frames and ageing sweeps run (every 10^6 frames), as on a live VTEP.
fn tick(us: &mut i64) -> Instant {
    *us += 1;
    Instant::from_micros(*us)
}

/// Encapsulates one frame and, with `outer`, writes its outer IPv4/UDP headers (as
/// native-vtep's raw-socket paths do; its UDP-socket path leaves them to the kernel). Returns
/// the packet length (with `outer`) or the tunnel payload length.
fn encap_once(a: &mut Vtep, now: Instant, buf: &mut [u8], len: usize, outer: bool) -> usize {
    a.handle_input(
        now,
        Input::Local {
            port: PortId(0),
            buf,
            frame: MAX_HEADROOM..MAX_HEADROOM + len,
        },
    );
    let mut out = 0;
    loop {
        match a.poll_output() {
            Output::Transmit(t) if outer => {
                out = t.outer.emit(buf, t.payload.clone()).map_or(0, |r| r.len());
            }
            Output::Transmit(t) => out = t.payload.len(),
            Output::Timeout(_) => return out,
            Output::Deliver(_) | Output::Event(_) => {}
        }
    }
}

fn bench_engine(c: &mut Criterion) {
    // `encap`: the engine and the outer headers; `encap_engine`: the engine alone.
    for (group, outer) in [("encap", true), ("encap_engine", false)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1));
        for len in SIZES {
            let (mut a, _) = pair();
            let mut buf = vec![0u8; MAX_HEADROOM + 2048];
            frame_into(&mut buf, len, 1, 2);
            let mut us = 0;
            assert!(
                encap_once(&mut a, tick(&mut us), &mut buf, len, outer) > len,
                "encapsulated"
            );
            g.bench_function(BenchmarkId::from_parameter(len), |bench| {
                bench.iter(|| {
                    let now = tick(&mut us);
                    black_box(encap_once(&mut a, now, black_box(&mut buf), len, outer))
                });
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group("decap");
    g.throughput(Throughput::Elements(1));
    for len in SIZES {
        let (mut a, mut b) = pair();
        let mut buf = vec![0u8; MAX_HEADROOM + 2048];
        frame_into(&mut buf, len, 1, 2);
        let mut us = 0;
        let n = encap_once(&mut a, tick(&mut us), &mut buf, len, true);
        // The whole IP packet, as it arrives; the engine gets what follows the outer UDP header.
        let start = MAX_HEADROOM - 36;
        let mut wire = buf[start..start + n].to_vec();
        let (outer_repr, payload) = outer::parse(&wire).unwrap();
        let decap_once = |b: &mut Vtep, now: Instant, wire: &mut [u8]| {
            b.handle_input(
                now,
                Input::Underlay {
                    from: outer_repr.src,
                    transport: outer_repr.transport,
                    buf: wire,
                    payload: payload.clone(),
                },
            );
            let mut delivered = 0;
            loop {
                match b.poll_output() {
                    Output::Deliver(d) => delivered += d.frame.len(),
                    Output::Timeout(_) => return delivered,
                    Output::Transmit(_) | Output::Event(_) => {}
                }
            }
        };
        assert_eq!(
            decap_once(&mut b, tick(&mut us), &mut wire),
            len,
            "decapsulated"
        );
        g.bench_function(BenchmarkId::from_parameter(len), |bench| {
            bench.iter(|| {
                let now = tick(&mut us);
                black_box(decap_once(&mut b, now, black_box(&mut wire)))
            });
        });
    }
    g.finish();
}

fn bench_fdb(c: &mut Criterion) {
    let mut lookup = c.benchmark_group("fdb_lookup");
    lookup.throughput(Throughput::Elements(1));
    for (n, name) in FDB_SIZES {
        let k = keys(n, 0x5eed);
        let fdb = filled(&k);
        // Probe in a shuffled order (another xorshift stream) so caches do not help. The probe
        // keys are laid out in that order beforehand and read sequentially: fetching them from
        // `k` at random would add a cache miss of the bench's own to every lookup.
        let probes: Vec<(Vni, Mac)> = keys(n, 0xfeed)
            .iter()
            .map(|(_, m)| k[u32::from_le_bytes([m.0[1], m.0[2], m.0[3], m.0[4]]) as usize % n])
            .collect();
        let mut i = 0usize;
        lookup.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| {
                let (vni, mac) = probes[i];
                i += 1;
                if i == n {
                    i = 0;
                }
                black_box(fdb.lookup(vni, &mac).is_some())
            });
        });
    }
    lookup.finish();

    // `fdb_refresh`: the clock stands still, and a refresh within the same millisecond as the
    // entry's last one stores nothing. `fdb_refresh_new_ms`: the clock moves 1 ms per frame, so
    // every refresh stores a new time. Keys in a scattered order, laid out beforehand and read
    // sequentially (as for lookups).
    for (group, clock_moves) in [("fdb_refresh", false), ("fdb_refresh_new_ms", true)] {
        let mut refresh = c.benchmark_group(group);
        refresh.throughput(Throughput::Elements(1));
        for (n, name) in FDB_SIZES {
            let k = keys(n, 0x5eed);
            let mut fdb = filled(&k);
            let probes: Vec<(Vni, Mac, Destination)> = (0..n)
                .map(|i| {
                    let j = i.wrapping_mul(0x9e37_79b9) % n;
                    (k[j].0, k[j].1, Destination::Remote(ip((j % 200) as u8 + 1)))
                })
                .collect();
            let mut i = 0usize;
            let mut ms = 0i64;
            refresh.bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| {
                    let (vni, mac, dest) = probes[i];
                    i += 1;
                    if i == n {
                        i = 0;
                    }
                    if clock_moves {
                        ms += 1;
                    }
                    black_box(fdb.learn(Instant::from_millis(ms), vni, mac, dest))
                });
            });
        }
        refresh.finish();
    }

    let mut insert = c.benchmark_group("fdb_insert");
    insert.throughput(Throughput::Elements(1));
    insert.sample_size(10);
    for (n, name) in FDB_SIZES {
        let k = keys(n, 0xabcd);
        insert.bench_function(BenchmarkId::from_parameter(name), |bench| {
            // Learning new MACs until the table holds N (growth included), per MAC.
            bench.iter_custom(|iters| {
                let mut total = StdDuration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let take = left.min(n);
                    let mut fdb = Fdb::new(fdb_config(n), 7);
                    let t = StdInstant::now();
                    for (vni, mac) in &k[..take] {
                        black_box(fdb.learn(Instant::ZERO, *vni, *mac, Destination::Remote(ip(1))));
                    }
                    total += t.elapsed();
                    drop(fdb);
                    left -= take;
                }
                total
            });
        });
    }
    insert.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(StdDuration::from_millis(500))
        .measurement_time(StdDuration::from_secs(2))
}

fn memory(_: &mut Criterion) {
    memory_report();
}

criterion_group! {
    name = benches;
    config = config();
    targets = memory, bench_engine, bench_fdb
}
criterion_main!(benches);
