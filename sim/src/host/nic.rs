//! The network card of a host or a BGP agent as smoltcp sees it: a `phy::Device` whose queues
//! the simulator fills and drains.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use vtep_core::Instant;

/// A network card as smoltcp sees it: a host's, on `Medium::Ethernet` with the frames the
/// trace shares, or a BGP agent's underlay interface, `Nic<Vec<u8>>` on `Medium::Ip`.
#[derive(Debug)]
pub struct Nic<B = Arc<[u8]>> {
    pub rx: VecDeque<B>,
    pub tx: Vec<Vec<u8>>,
    /// IP MTU (1500 by default).
    pub mtu: usize,
    medium: Medium,
}

impl<B> Nic<B> {
    pub fn new(medium: Medium, mtu: usize) -> Self {
        Nic {
            rx: VecDeque::new(),
            tx: Vec::new(),
            mtu,
            medium,
        }
    }
}

#[derive(Debug)]
pub struct NicRx<B>(B);

/// A transmit token: the frame (or, on an agent's IP device, the packet) smoltcp writes is
/// queued on the device's `tx`.
#[derive(Debug)]
pub struct NicTx<'a>(&'a mut Vec<Vec<u8>>);

impl<B: AsRef<[u8]>> phy::RxToken for NicRx<B> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0.as_ref())
    }
}

impl phy::TxToken for NicTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl<B: AsRef<[u8]>> phy::Device for Nic<B> {
    type RxToken<'a>
        = NicRx<B>
    where
        Self: 'a;
    type TxToken<'a>
        = NicTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(NicRx<B>, NicTx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((NicRx(frame), NicTx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<NicTx<'_>> {
        Some(NicTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = self.medium;
        // An Ethernet device's MTU counts the Ethernet header.
        caps.max_transmission_unit = match self.medium {
            Medium::Ethernet => self.mtu + 14,
            _ => self.mtu,
        };
        caps
    }
}
