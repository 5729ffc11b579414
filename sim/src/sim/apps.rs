//! The hosts' applications: ping (ping6 to an IPv6 address), a UDP flow (with an optional
//! echo), a TCP bulk transfer, the last two over IPv4 or IPv6 ([`Family`]). Each app is parts on
//! one or two hosts and a report that stays readable after it stops.

use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use vtep_core::Duration;
use vtep_core::wire::IpAddress;

use super::Sim;
use super::model::AppInfo;
use crate::error::SimError;
use crate::host::{AppReport, PartSpec};
use crate::id::{AppId, NodeId};

/// Which of a host's two addresses an app talks to.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Family {
    #[default]
    Ipv4,
    Ipv6,
}

impl Sim {
    /// The address of `host` in `family`.
    fn address_of(&self, host: NodeId, family: Family) -> Result<IpAddress, SimError> {
        let h = &self.check_host(host)?.host;
        Ok(match family {
            Family::Ipv4 => IpAddress::Ipv4(h.ip),
            Family::Ipv6 => IpAddress::Ipv6(h.ip6),
        })
    }

    pub(super) fn new_app(&mut self, hosts: Vec<NodeId>, target_bytes: u64) -> AppId {
        let id = AppId(self.next_app);
        self.next_app += 1;
        let report = AppReport {
            started: Some(self.now),
            target_bytes,
            ..AppReport::default()
        };
        self.reports.insert(id, report);
        self.apps.insert(id, AppInfo { hosts });
        id
    }

    pub(super) fn start_part(&mut self, host: NodeId, id: AppId, spec: PartSpec) {
        let now = self.now;
        if let Some(h) = self.host_node_mut(host) {
            let part = h.host.start(spec, now);
            h.host.apps.push((id, part));
        }
        self.schedule_host_wake(host, now);
    }

    /// `ping -c count -i interval -s size target` from `host` (`ping6` when `target` is an
    /// IPv6 address).
    pub fn start_ping(
        &mut self,
        host: NodeId,
        target: impl Into<IpAddress>,
        count: u32,
        interval: Duration,
        size: usize,
    ) -> Result<AppId, SimError> {
        self.check_host(host)?;
        if size > 65000 || interval == Duration::ZERO {
            return Err(SimError::BadArgument(
                "ping size above 65000 or zero interval".to_string(),
            ));
        }
        let id = self.new_app(vec![host], 0);
        let ident = 0x1000u16.wrapping_add(id.0 as u16);
        self.start_part(
            host,
            id,
            PartSpec::Ping {
                target: target.into(),
                count,
                interval,
                size,
                ident,
            },
        );
        Ok(id)
    }

    /// A UDP flow: `count` datagrams of `size` bytes every `interval` from `client` to a
    /// server on `server`:`port`, which echoes them back if `echo`; over IPv4.
    #[allow(clippy::too_many_arguments)]
    pub fn start_udp_flow(
        &mut self,
        client: NodeId,
        server: NodeId,
        port: u16,
        count: u32,
        interval: Duration,
        size: usize,
        echo: bool,
    ) -> Result<AppId, SimError> {
        let flow = (count, interval, size);
        self.start_udp_flow_over(Family::Ipv4, client, server, port, flow, echo)
    }

    /// [`Sim::start_udp_flow`] over `family`; `flow` is `(count, interval, size)`.
    pub fn start_udp_flow_over(
        &mut self,
        family: Family,
        client: NodeId,
        server: NodeId,
        port: u16,
        (count, interval, size): (u32, Duration, usize),
        echo: bool,
    ) -> Result<AppId, SimError> {
        self.check_host(client)?;
        let target = self.address_of(server, family)?;
        if size > 65000 || interval == Duration::ZERO {
            return Err(SimError::BadArgument(
                "UDP size above 65000 or zero interval".to_string(),
            ));
        }
        let id = self.new_app(vec![client, server], 0);
        self.start_part(server, id, PartSpec::UdpServer { port, echo });
        self.start_part(
            client,
            id,
            PartSpec::UdpClient {
                target,
                port,
                count,
                interval,
                size,
            },
        );
        Ok(id)
    }

    /// A TCP bulk transfer of `bytes` from `client` to a sink on `server`:`port`, over IPv4.
    pub fn start_tcp_transfer(
        &mut self,
        client: NodeId,
        server: NodeId,
        port: u16,
        bytes: u64,
    ) -> Result<AppId, SimError> {
        self.start_tcp_transfer_over(Family::Ipv4, client, server, port, bytes)
    }

    /// [`Sim::start_tcp_transfer`] over `family`.
    pub fn start_tcp_transfer_over(
        &mut self,
        family: Family,
        client: NodeId,
        server: NodeId,
        port: u16,
        bytes: u64,
    ) -> Result<AppId, SimError> {
        self.check_host(client)?;
        let target = self.address_of(server, family)?;
        if bytes == 0 || port == 0 {
            return Err(SimError::BadArgument(
                "a transfer needs bytes > 0 and a port".to_string(),
            ));
        }
        let id = self.new_app(vec![client, server], bytes);
        self.start_part(server, id, PartSpec::TcpSink { port });
        self.start_part(
            client,
            id,
            PartSpec::TcpSource {
                target,
                port,
                bytes,
            },
        );
        Ok(id)
    }

    /// Stops an app (its report stays readable).
    pub fn stop_app(&mut self, app: AppId) -> Result<(), SimError> {
        let info = self.apps.remove(&app).ok_or(SimError::UnknownApp(app))?;
        for h in info.hosts {
            if let Some(hn) = self.host_node_mut(h) {
                hn.host.stop(app);
            }
        }
        if let Some(r) = self.reports.get_mut(&app) {
            r.stopped = true;
        }
        Ok(())
    }
}
