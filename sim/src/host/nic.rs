//! The host's network card as smoltcp sees it: a `phy::Device` whose queues the simulator
//! fills and drains.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use vtep_core::Instant;

/// The host's network card as smoltcp sees it.
#[derive(Debug, Default)]
pub struct Nic {
    pub rx: VecDeque<Arc<[u8]>>,
    pub tx: Vec<Vec<u8>>,
    /// IP MTU (1500 by default).
    pub mtu: usize,
}

#[derive(Debug)]
pub struct NicRx(Arc<[u8]>);

/// A transmit token: the frame (or, on an agent's IP device, the packet) smoltcp writes is
/// queued on the device's `tx`.
#[derive(Debug)]
pub struct NicTx<'a>(pub(crate) &'a mut Vec<Vec<u8>>);

impl phy::RxToken for NicRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
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

impl phy::Device for Nic {
    type RxToken<'a> = NicRx;
    type TxToken<'a> = NicTx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(NicRx, NicTx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((NicRx(frame), NicTx(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<NicTx<'_>> {
        Some(NicTx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu + 14;
        caps
    }
}
