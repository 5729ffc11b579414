//! The sans-IO VTEP engine.
//!
//! [`Vtep`] owns the FDB, the neighbour table, the per-VNI configuration and counters, and
//! nothing else: no socket, no thread, no clock. Two calls drive it:
//!
//! - [`Vtep::handle_input`] gives it one input (a frame from a local port, a datagram from the
//!   underlay, or a timeout) together with the current time;
//! - [`Vtep::poll_output`] then returns, one at a time, what the caller must do: transmit into
//!   the underlay, deliver to a local port, note an event. It returns
//!   [`Output::Timeout`] when there is nothing more to do; call `handle_input(Input::Timeout)`
//!   at that instant (or earlier, with the next input).
//!
//! **Buffers belong to the caller.** Outputs name byte ranges of the buffer passed with the last
//! input: the engine writes the tunnel header in place, in the headroom in front of the inner
//! frame, and a flood to N peers is N [`Transmit`]s of the same bytes. Drain `poll_output` until
//! it returns [`Output::Timeout`] before reusing the buffer or giving the next input; outputs not
//! yet polled when the next input arrives are discarded. Nothing is allocated per packet:
//! lookups and refreshes never allocate (only learning a new MAC may grow a table), fan-out is a
//! cursor, and the event queue has a fixed capacity (overflow is counted, never grown).
//!
//! This file is the engine's face: [`Vtep`], its management calls, `handle_input` and
//! `poll_output`. Beside it, in `vtep/`: `config` (settings and their errors), `encap` (the
//! encapsulations, their tunnel headers, and the one in-place encapsulation sequence),
//! `counters` (drop reasons and counters), `io` (inputs, outputs, events), `networks` (the VNI
//! index), `sink` (the event queue), `fanout` (the cursor of floods and local deliveries),
//! `local` (frames from local ports, ARP suppression), `nd` (ND suppression, IPv6's ARP
//! suppression) and `underlay` (datagrams from peers).

mod config;
mod counters;
mod encap;
mod fanout;
mod io;
mod local;
mod nd;
mod networks;
mod sink;
mod underlay;

use alloc::vec::Vec;
use core::ops::Range;

use foldhash::fast::FixedState;

use self::config::same_family;
use self::fanout::Pending;
use self::networks::{Network, Networks, bucket_for};
use self::sink::{Sink, learn_event};
use crate::addr::{Destination, Mac, PortId};
use crate::fdb::{Fdb, LearnHint, LearnOutcome, Origin};
use crate::neigh::NeighbourTable;
use crate::wire::outer::{OuterRepr, Transport};
use crate::wire::{IpAddress, Ipv4Address, Ipv6Address};
use crate::{Instant, Vni};

pub use self::config::{ConfigError, InnerVlanPolicy, NetworkConfig, VtepConfig};
pub use self::counters::{DropCounters, DropReason, GlobalCounters, NetworkCounters};
pub use self::encap::Encapsulation;
pub use self::io::{Deliver, Event, Input, Output, Transmit};

/// A VXLAN / Geneve / NVGRE tunnel endpoint. See the module documentation.
#[derive(Debug)]
pub struct Vtep {
    config: VtepConfig,
    fdb: Fdb,
    neighbours: NeighbourTable,
    networks: Networks,
    /// `ports[id]`: the network of port `id`, or `None` for a removed port.
    ports: Vec<Option<PortBinding>>,
    sink: Sink,
    pending: Option<Pending>,
    /// The one transmit of a frame to a known remote MAC, built whole by `handle_input`: the
    /// common case skips the fan-out cursor.
    ready: Option<ReadyTransmit>,
    next_sweep: Instant,
}

/// A port's network: its VNI and its position in `Networks::slots`, so a frame from a port
/// finds its network without hashing; and where the FDB entry of the port's last source MAC
/// was, so refreshing it usually skips the lookup.
#[derive(Clone, Copy, Debug)]
struct PortBinding {
    vni: Vni,
    slot: usize,
    source: LearnHint,
}

/// What [`Vtep::poll_output`] needs to build the [`Transmit`]; the rest comes from the
/// configuration.
#[derive(Clone, Debug)]
struct ReadyTransmit {
    /// The network's position in `Networks::slots`, for its counters.
    slot: usize,
    vni: Vni,
    encapsulation: Encapsulation,
    remote: Remote,
    source_port: u16,
    payload: Range<usize>,
}

/// An underlay address as `poll_output` reads it back right after `handle_input` wrote it:
/// two whole words. (An `IpAddress` is 17 bytes; its copies are pieced together from
/// overlapping moves, which the CPU cannot forward to the wide load that reads them back.)
#[derive(Clone, Copy, Debug)]
struct Remote {
    words: [u64; 2],
    v6: bool,
}

impl Remote {
    #[inline(always)]
    fn new(ip: IpAddress) -> Remote {
        match ip {
            IpAddress::Ipv4(ip) => Remote {
                words: [u64::from(ip.to_bits()), 0],
                v6: false,
            },
            IpAddress::Ipv6(ip) => {
                let bits = ip.to_bits();
                Remote {
                    words: [bits as u64, (bits >> 64) as u64],
                    v6: true,
                }
            }
        }
    }

    #[inline(always)]
    fn ip(self) -> IpAddress {
        let [lo, hi] = self.words;
        if self.v6 {
            IpAddress::Ipv6(Ipv6Address::from_bits(
                u128::from(hi) << 64 | u128::from(lo),
            ))
        } else {
            IpAddress::Ipv4(Ipv4Address::from_bits(lo as u32))
        }
    }
}

impl Vtep {
    /// A VTEP with no networks yet, at time `now`.
    pub fn new(config: VtepConfig, now: Instant) -> Result<Vtep, ConfigError> {
        config.validate()?;
        let seed = config.hash_seed;
        Ok(Vtep {
            fdb: Fdb::new(config.fdb, seed),
            neighbours: NeighbourTable::new(config.max_neighbours, config.fdb.ageing, seed),
            networks: Networks::new(FixedState::with_seed(seed)),
            ports: Vec::new(),
            sink: Sink::new(config.event_capacity),
            pending: None,
            ready: None,
            next_sweep: now + config.sweep_interval,
            config,
        })
    }

    pub fn config(&self) -> &VtepConfig {
        &self.config
    }

    pub fn local_address(&self) -> IpAddress {
        self.config.local
    }

    /// Changes the underlay MTU (checked like at creation).
    pub fn set_underlay_mtu(&mut self, mtu: u16) -> Result<(), ConfigError> {
        let mut config = self.config.clone();
        config.underlay_mtu = mtu;
        config.validate()?;
        self.config.underlay_mtu = mtu;
        Ok(())
    }

    /// Sets (or clears) the accepted peer list.
    pub fn set_accept_peers(&mut self, peers: Option<Vec<IpAddress>>) -> Result<(), ConfigError> {
        let mut config = self.config.clone();
        config.accept_peers = peers;
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Adds a virtual network.
    pub fn add_network(&mut self, config: NetworkConfig, now: Instant) -> Result<(), ConfigError> {
        if self.networks.contains_key(&config.vni) {
            return Err(ConfigError::NetworkExists(config.vni));
        }
        self.networks.insert(config.vni, Network::new(config, now)?);
        Ok(())
    }

    /// Removes a network, its ports, FDB entries, flood list and neighbours.
    pub fn remove_network(&mut self, vni: Vni) -> Result<(), ConfigError> {
        let network = self
            .networks
            .remove(&vni)
            .ok_or(ConfigError::UnknownNetwork(vni))?;
        for port in network.ports {
            self.ports[usize::from(port.0)] = None;
        }
        // The last network took the removed one's position: rebind every port.
        for (slot, moved) in self.networks.slots.iter().enumerate() {
            for port in &moved.ports {
                if let Some(binding) = &mut self.ports[usize::from(port.0)] {
                    binding.slot = slot;
                }
            }
        }
        self.fdb.remove_vni(vni);
        self.neighbours.remove_vni(vni);
        self.pending = None;
        self.ready = None;
        Ok(())
    }

    /// Replaces a network's settings (encapsulation, learning, ARP proxy, rate limit, VLAN
    /// policy), keeping its ports, entries and counters.
    pub fn update_network(
        &mut self,
        config: NetworkConfig,
        now: Instant,
    ) -> Result<(), ConfigError> {
        let bucket = bucket_for(config.rate_limit, now)?;
        let network = self
            .networks
            .get_mut(&config.vni)
            .ok_or(ConfigError::UnknownNetwork(config.vni))?;
        if network.config.rate_limit != config.rate_limit {
            network.bucket = bucket;
        }
        network.config = config;
        Ok(())
    }

    pub fn network(&self, vni: Vni) -> Option<&NetworkConfig> {
        self.networks.get(&vni).map(|n| &n.config)
    }

    /// Every network's settings, sorted by VNI.
    pub fn networks(&self) -> Vec<NetworkConfig> {
        let mut all: Vec<_> = self.networks.values().map(|n| n.config).collect();
        all.sort_unstable_by_key(|c| c.vni);
        all
    }

    /// A new local port on network `vni`.
    pub fn add_port(&mut self, vni: Vni) -> Result<PortId, ConfigError> {
        let slot = self
            .networks
            .slot(&vni)
            .ok_or(ConfigError::UnknownNetwork(vni))?;
        let network = &mut self.networks.slots[slot];
        let index = match self.ports.iter().position(Option::is_none) {
            Some(free) => free,
            None if self.ports.len() <= usize::from(u16::MAX) => {
                self.ports.push(None);
                self.ports.len() - 1
            }
            None => return Err(ConfigError::TooManyPorts),
        };
        let port = PortId(u16::try_from(index).map_err(|_| ConfigError::TooManyPorts)?);
        self.ports[index] = Some(PortBinding {
            vni,
            slot,
            source: LearnHint::default(),
        });
        network.ports.push(port);
        Ok(port)
    }

    /// Removes a port and the FDB entries that point to it.
    pub fn remove_port(&mut self, port: PortId) -> Result<(), ConfigError> {
        let vni = self
            .port_network(port)
            .ok_or(ConfigError::UnknownPort(port))?;
        self.ports[usize::from(port.0)] = None;
        if let Some(network) = self.networks.get_mut(&vni) {
            network.ports.retain(|p| *p != port);
        }
        self.fdb.retain(
            |_, _, entry| entry.dest != Destination::Local(port),
            |_, _, _| {},
        );
        self.pending = None;
        self.ready = None;
        Ok(())
    }

    /// The network a port belongs to.
    pub fn port_network(&self, port: PortId) -> Option<Vni> {
        self.port_binding(port).map(|b| b.vni)
    }

    #[inline]
    fn port_binding(&self, port: PortId) -> Option<PortBinding> {
        self.ports.get(usize::from(port.0)).copied().flatten()
    }

    /// The local ports of a network.
    pub fn ports(&self, vni: Vni) -> &[PortId] {
        self.networks.get(&vni).map_or(&[], |n| n.ports.as_slice())
    }

    /// Adds a remote VTEP to the head-end replication list of `vni`.
    pub fn add_flood_peer(&mut self, vni: Vni, remote: IpAddress) -> Result<bool, ConfigError> {
        self.check_remote(vni, &remote)?;
        Ok(self.fdb.append_flood(vni, remote))
    }

    pub fn remove_flood_peer(&mut self, vni: Vni, remote: &IpAddress) -> bool {
        self.fdb.remove_flood(vni, remote)
    }

    fn check_remote(&self, vni: Vni, remote: &IpAddress) -> Result<(), ConfigError> {
        if !self.networks.contains_key(&vni) {
            return Err(ConfigError::UnknownNetwork(vni));
        }
        if !same_family(remote, &self.config.local) {
            return Err(ConfigError::AddressFamilyMismatch {
                local: self.config.local,
                remote: *remote,
            });
        }
        Ok(())
    }

    /// A static FDB entry (`bridge fdb add MAC dev vxlan0 dst IP static`).
    pub fn add_static_fdb(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        dest: Destination,
    ) -> Result<(), ConfigError> {
        self.check_dest(vni, &dest)?;
        Ok(self.fdb.insert_static(now, vni, mac, dest)?)
    }

    /// A control-plane route (EVPN type 2): `mac` (and optionally its IPv4 or IPv6 address,
    /// for ARP and ND suppression) lives at `dest` with MAC-mobility sequence `seq`. Emits
    /// `Learned`/`Moved` events. (An IPv6 router's R flag: `neighbours_mut().set_router`.)
    pub fn install_route(
        &mut self,
        now: Instant,
        vni: Vni,
        mac: Mac,
        ip: Option<IpAddress>,
        dest: Destination,
        seq: u32,
    ) -> Result<LearnOutcome, ConfigError> {
        self.check_dest(vni, &dest)?;
        let outcome = self.fdb.install(now, vni, mac, dest, seq)?;
        if let Some(ip) = ip {
            self.neighbours
                .insert(now, vni, ip, mac, Origin::ControlPlane)?;
        }
        self.record_learn(vni, mac, dest, outcome);
        Ok(outcome)
    }

    /// Withdraws a control-plane route.
    pub fn withdraw_route(&mut self, vni: Vni, mac: &Mac, ip: Option<IpAddress>) -> bool {
        if let Some(ip) = ip {
            self.withdraw_neighbour(vni, &ip);
        }
        match self.fdb.lookup(vni, mac) {
            Some(entry) if entry.origin == Origin::ControlPlane => {
                self.fdb.remove(vni, mac);
                true
            }
            _ => false,
        }
    }

    /// Withdraws a control-plane route's neighbour entry for `ip`; an entry snooped from a
    /// local port (a host that moved here took the address over) or an operator's stays.
    /// Returns true if one was removed.
    pub fn withdraw_neighbour(&mut self, vni: Vni, ip: &IpAddress) -> bool {
        match self.neighbours.lookup(vni, ip) {
            Some(entry) if entry.origin == Origin::ControlPlane => {
                self.neighbours.remove(vni, ip);
                true
            }
            _ => false,
        }
    }

    fn check_dest(&self, vni: Vni, dest: &Destination) -> Result<(), ConfigError> {
        match dest {
            Destination::Remote(ip) => self.check_remote(vni, ip),
            Destination::Local(port) if self.port_network(*port) == Some(vni) => Ok(()),
            Destination::Local(port) => Err(ConfigError::UnknownPort(*port)),
        }
    }

    /// A static neighbour entry for ARP (IPv4) or ND (IPv6) suppression (`ip neigh add IP
    /// lladdr MAC dev vxlan0`).
    pub fn add_static_neighbour(
        &mut self,
        now: Instant,
        vni: Vni,
        ip: IpAddress,
        mac: Mac,
    ) -> Result<(), ConfigError> {
        if !self.networks.contains_key(&vni) {
            return Err(ConfigError::UnknownNetwork(vni));
        }
        Ok(self.neighbours.insert(now, vni, ip, mac, Origin::Static)?)
    }

    pub fn fdb(&self) -> &Fdb {
        &self.fdb
    }

    /// Direct access for operators' deletions and flushes.
    pub fn fdb_mut(&mut self) -> &mut Fdb {
        &mut self.fdb
    }

    pub fn neighbours(&self) -> &NeighbourTable {
        &self.neighbours
    }

    pub fn neighbours_mut(&mut self) -> &mut NeighbourTable {
        &mut self.neighbours
    }

    pub fn counters(&self, vni: Vni) -> Option<&NetworkCounters> {
        self.networks.get(&vni).map(|n| &n.counters)
    }

    pub fn global_counters(&self) -> &GlobalCounters {
        &self.sink.global
    }

    /// Gives the engine one input at time `now`. Then call [`Vtep::poll_output`] until it
    /// returns [`Output::Timeout`].
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.pending = None;
        self.ready = None;
        if now >= self.next_sweep {
            self.sweep(now);
        }
        match input {
            Input::Local { port, buf, frame } => self.on_local(now, port, buf, frame),
            Input::Underlay {
                from,
                transport,
                buf,
                payload,
            } => self.on_underlay(now, from, transport, buf, payload),
            Input::Timeout => {}
        }
    }

    /// The next thing to do. Returns [`Output::Timeout`] when there is nothing more.
    #[must_use]
    #[inline]
    pub fn poll_output(&mut self) -> Output {
        if let Some(event) = self.sink.pop() {
            return Output::Event(event);
        }
        // Tested before taking, so that the call that finds nothing reads only the tag.
        if self.ready.is_some()
            && let Some(ready) = self.ready.take()
        {
            if let Some(network) = self.networks.slots.get_mut(ready.slot) {
                network.counters.encap_frames += 1;
                network.counters.encap_bytes += ready.payload.len() as u64;
            }
            return Output::Transmit(Transmit {
                vni: ready.vni,
                encapsulation: ready.encapsulation,
                outer: self.outer(ready.encapsulation, ready.remote.ip(), ready.source_port),
                payload: ready.payload,
                flooded: false,
            });
        }
        if self.pending.is_some() {
            if let Some(output) = self.next_fanout() {
                return output;
            }
            self.pending = None;
        }
        Output::Timeout(self.next_sweep)
    }

    /// The outer headers of a transmit to `remote`.
    #[inline]
    fn outer(&self, encapsulation: Encapsulation, remote: IpAddress, src_port: u16) -> OuterRepr {
        let transport = match encapsulation {
            Encapsulation::Vxlan => Transport::Udp {
                src_port,
                dst_port: self.config.vxlan_port,
            },
            Encapsulation::Geneve => Transport::Udp {
                src_port,
                dst_port: self.config.geneve_port,
            },
            Encapsulation::Nvgre => Transport::Gre,
        };
        OuterRepr {
            src: self.config.local,
            dst: remote,
            transport,
            hop_limit: self.config.hop_limit,
            udp_checksum: self.config.udp_checksum,
        }
    }

    /// Drops the current frame, counted in its network's counters (or, with no network, in the
    /// global ones).
    fn drop_frame(&mut self, vni: Option<Vni>, reason: DropReason) {
        let counters = vni
            .and_then(|v| self.networks.get_mut(&v))
            .map(|n| &mut n.counters);
        self.sink.record(counters, Event::Dropped { vni, reason });
    }

    /// Counts `event` in the counters of the network at `slot` of the index (or, with none
    /// there, the global ones) and queues it.
    #[inline]
    fn record_in(&mut self, slot: usize, event: Event) {
        let counters = self.networks.slots.get_mut(slot).map(|n| &mut n.counters);
        self.sink.record(counters, event);
    }

    #[cold]
    fn sweep(&mut self, now: Instant) {
        let Vtep {
            fdb,
            neighbours,
            networks,
            sink,
            ..
        } = self;
        fdb.age(now, |vni, mac, entry| {
            let counters = networks.get_mut(&vni).map(|n| &mut n.counters);
            sink.record(
                counters,
                Event::AgedOut {
                    vni,
                    mac,
                    dest: entry.dest,
                },
            );
        });
        neighbours.age(now, |_, _, _| {});
        self.next_sweep = now + self.config.sweep_interval;
    }

    /// Records what learning a frame's source did. Returns false when the frame must be dropped:
    /// the FDB is full and `FdbConfig::drop_when_full` is set.
    #[inline(always)]
    fn learned(&mut self, vni: Vni, src: Mac, dest: Destination, outcome: LearnOutcome) -> bool {
        // A refresh (nearly every frame) has nothing to count or tell.
        if matches!(outcome, LearnOutcome::Refreshed) {
            return true;
        }
        self.record_learn(vni, src, dest, outcome);
        !(matches!(outcome, LearnOutcome::Full) && self.config.fdb.drop_when_full)
    }

    /// Counts and tells what learning did, in the network of `vni`.
    fn record_learn(&mut self, vni: Vni, mac: Mac, dest: Destination, outcome: LearnOutcome) {
        let Some(event) = learn_event(vni, mac, dest, outcome) else {
            return;
        };
        if let Some(network) = self.networks.get_mut(&vni) {
            self.sink.record(Some(&mut network.counters), event);
        }
    }
}
