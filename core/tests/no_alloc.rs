//! The steady-state data path allocates nothing: a counting global allocator watches the
//! engine encapsulate, flood, decapsulate, answer ARP and drop, after a warm-up that learned
//! every MAC involved.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use vtep_core::vtep::{Input, NetworkConfig, Output, Vtep, VtepConfig};
use vtep_core::wire::outer::{self, MAX_HEADROOM, Transport};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};
use vtep_core::{Duration, Instant, PortId, Vni};

struct Counting;

thread_local! {
    // Per thread, so the test harness's own threads do not disturb the count.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const VNI: Vni = Vni::from_u24_truncating(42);

fn ip(n: u8) -> IpAddress {
    IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, n))
}

fn frame_into(buf: &mut [u8], src: u8, dst: EthernetAddress) {
    let f = &mut buf[MAX_HEADROOM..];
    f[..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, src]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
}

/// Drains every output, carrying out transmits into `out` (preallocated) like a driver would.
fn drain(vtep: &mut Vtep, buf: &mut [u8], out: &mut [u8]) -> usize {
    let mut sent = 0;
    loop {
        match vtep.poll_output() {
            Output::Transmit(t) => {
                let whole = t.outer.emit(buf, t.payload.clone()).unwrap();
                out[..whole.len()].copy_from_slice(&buf[whole]);
                sent += 1;
            }
            Output::Deliver(_) | Output::Event(_) => {}
            Output::Timeout(_) => return sent,
        }
    }
}

#[test]
fn steady_state_data_path_does_not_allocate() {
    let mut now = Instant::ZERO;
    let mut a = Vtep::new(VtepConfig::new(ip(1)), now).unwrap();
    let mut b = Vtep::new(VtepConfig::new(ip(2)), now).unwrap();
    for (v, peers) in [(&mut a, [ip(2), ip(3)]), (&mut b, [ip(1), ip(3)])] {
        v.add_network(NetworkConfig::new(VNI), now).unwrap();
        v.add_port(VNI).unwrap();
        for p in peers {
            v.add_flood_peer(VNI, p).unwrap();
        }
    }
    let port = PortId(0);
    let mut buf = vec![0u8; MAX_HEADROOM + 1514];
    let mut wire = vec![0u8; 2048];
    let frame = MAX_HEADROOM..MAX_HEADROOM + 1000;

    let mut round = |a: &mut Vtep, b: &mut Vtep, now: Instant| {
        // Broadcast from A (flooded to two peers), unicast A -> B, and B's side of it.
        for dst in [
            EthernetAddress::BROADCAST,
            EthernetAddress([2, 0, 0, 0, 0, 2]),
        ] {
            frame_into(&mut buf, 1, dst);
            a.handle_input(
                now,
                Input::Local {
                    port,
                    buf: &mut buf,
                    frame: frame.clone(),
                },
            );
            assert!(drain(a, &mut buf, &mut wire) >= 1);
            let (outer_repr, payload) = outer::parse(&wire[..]).unwrap();
            let end = payload.end;
            b.handle_input(
                now,
                Input::Underlay {
                    from: outer_repr.src,
                    transport: outer_repr.transport,
                    buf: &mut wire[..end],
                    payload,
                },
            );
            drain(b, &mut buf, &mut [0u8; 0]);
        }
        frame_into(&mut buf, 2, EthernetAddress([2, 0, 0, 0, 0, 1]));
        b.handle_input(
            now,
            Input::Local {
                port,
                buf: &mut buf,
                frame: frame.clone(),
            },
        );
        drain(b, &mut buf, &mut wire);
        // A datagram on an unknown port: a counted drop.
        b.handle_input(
            now,
            Input::Underlay {
                from: ip(1),
                transport: Transport::Udp {
                    src_port: 1,
                    dst_port: 9,
                },
                buf: &mut wire[..64],
                payload: 0..64,
            },
        );
        drain(b, &mut buf, &mut [0u8; 0]);
    };

    round(&mut a, &mut b, now); // warm-up: learns both MACs
    let before = allocations();
    for _ in 0..1000 {
        now += Duration::from_millis(10); // crosses ageing sweeps too
        round(&mut a, &mut b, now);
    }
    let made = allocations() - before;
    assert_eq!(
        made, 0,
        "the data path allocated {made} times in 1000 rounds"
    );
    assert!(b.counters(VNI).unwrap().decap_frames >= 2000);
}
