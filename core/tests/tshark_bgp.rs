//! BGP messages emitted by `wire::bgp`, decoded by Wireshark's tshark: an independent
//! implementation must read the OPEN's capabilities and the EVPN routes (type, MAC, IP, VNI,
//! route target, MAC mobility sequence, PMSI tunnel) we meant.
//!
//! Without tshark on PATH the tests print why and pass, unless OVERLAY_LAB_REQUIRE_TOOLS is set
//! (as CI does), where they fail.
#![cfg(not(target_arch = "wasm32"))] // runs the tshark program: native only

mod common;

use common::tshark;
use vtep_core::sample;
use vtep_core::wire::bgp::attr::{NextHop, PmsiTunnel, pmsi_type};
use vtep_core::wire::bgp::{
    Capabilities, EthernetSegment, EvpnRoute, ExtCommunity, InclusiveMulticastRoute, MacIpRoute,
    OpenRepr, RouteDistinguisher, RouteTarget, TunnelType, UpdateRepr,
};
use vtep_core::wire::{EthernetAddress, IpAddress, IpProtocol, Ipv4Address};

const VTEP: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const RR: Ipv4Address = Ipv4Address::new(10, 0, 0, 254);
const VNI: u32 = 100;

/// One TCP segment 10.0.0.1:40000 -> 10.0.0.254:179 per message, sequence numbers following.
fn frames(messages: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut seq = 1u32;
    messages
        .iter()
        .map(|m| {
            let mut tcp = vec![0u8; 20];
            tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
            tcp[2..4].copy_from_slice(&179u16.to_be_bytes());
            tcp[4..8].copy_from_slice(&seq.to_be_bytes());
            tcp[8..12].copy_from_slice(&1u32.to_be_bytes());
            tcp[12] = 5 << 4;
            tcp[13] = 0x18; // PSH, ACK
            tcp[14..16].copy_from_slice(&65535u16.to_be_bytes());
            tcp.extend_from_slice(m);
            seq += m.len() as u32;
            sample::ipv4_frame(
                (
                    EthernetAddress([2, 0, 0, 0, 0, 1]),
                    EthernetAddress([2, 0, 0, 0, 0, 2]),
                ),
                (VTEP, RR),
                IpProtocol::Tcp,
                &tcp,
            )
        })
        .collect()
}

fn messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let open = OpenRepr::new(65000, 9, VTEP, Capabilities::evpn(65000));
    let mut b = vec![0; open.buffer_len()];
    open.emit(&mut b);
    out.push(b);

    let rd = RouteDistinguisher::from_ip(VTEP, 1);
    let type2 = [EvpnRoute::MacIp(MacIpRoute {
        rd,
        esi: EthernetSegment::SINGLE_HOMED,
        ethernet_tag: 0,
        mac: EthernetAddress([2, 0, 0, 0, 0, 0x0a]),
        ip: Some(IpAddress::Ipv4(Ipv4Address::new(192, 168, 1, 10))),
        label1: VNI,
        label2: None,
    })];
    let ecs = [
        ExtCommunity::RouteTarget(RouteTarget::auto(65000, VNI)),
        ExtCommunity::Encapsulation(TunnelType::Vxlan),
        ExtCommunity::MacMobility {
            sticky: true,
            seq: 3,
        },
    ];
    let u2 = UpdateRepr::announce(NextHop::V4(VTEP), &type2, &ecs);
    let mut b = vec![0; u2.buffer_len()];
    u2.emit(&mut b);
    out.push(b);

    let type3 = [EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
        rd,
        ethernet_tag: 0,
        originator: IpAddress::Ipv4(VTEP),
    })];
    let endpoint = VTEP.octets();
    let u3 = UpdateRepr {
        pmsi_tunnel: Some(PmsiTunnel {
            flags: 0,
            tunnel_type: pmsi_type::INGRESS_REPLICATION,
            label: VNI,
            identifier: &endpoint,
        }),
        ..UpdateRepr::announce(NextHop::V4(VTEP), &type3, &ecs[..2])
    };
    let mut b = vec![0; u3.buffer_len()];
    u3.emit(&mut b);
    out.push(b);
    out
}

#[test]
fn tshark_decodes_open_and_evpn_updates() {
    if !tshark::present() {
        return;
    }
    let frames = frames(&messages());
    let fields = [
        "bgp.type",
        "bgp.cap.mp.afi",
        "bgp.cap.mp.safi",
        "bgp.evpn.nlri.rt",
        "bgp.evpn.nlri.mac_addr",
        "bgp.evpn.nlri.ip.addr",
        "bgp.ext_com.value_as2",
        "bgp.ext_com.value_an4",
        "bgp.ext_com.tunnel_type",
        "bgp.ext_com_evpn.mmac.seq",
        "bgp.ext_com_evpn.mmac.flags.sticky",
        "bgp.update.path_attribute.pmsi.tunnel.type",
        "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4",
        "bgp.evpn.nlri.mpls_ls1",
        "bgp.evpn.nlri.vni",
    ];
    let rows = tshark::decode("bgp", &frames, &fields);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let get = |row: usize, field: &str| -> &str {
        let i = fields.iter().position(|f| *f == field).unwrap();
        rows[row].get(i).map_or("", String::as_str)
    };
    assert_eq!(get(0, "bgp.type"), "1");
    assert_eq!(
        (get(0, "bgp.cap.mp.afi"), get(0, "bgp.cap.mp.safi")),
        ("25", "70")
    );
    // The type-2 UPDATE.
    assert_eq!(get(1, "bgp.type"), "2");
    assert_eq!(get(1, "bgp.evpn.nlri.rt"), "2");
    assert_eq!(get(1, "bgp.evpn.nlri.mac_addr"), "02:00:00:00:00:0a");
    assert_eq!(get(1, "bgp.evpn.nlri.ip.addr"), "192.168.1.10");
    assert_eq!(get(1, "bgp.ext_com.value_as2"), "65000");
    assert_eq!(get(1, "bgp.ext_com.value_an4"), "100");
    assert_eq!(get(1, "bgp.ext_com.tunnel_type"), "8");
    assert_eq!(get(1, "bgp.ext_com_evpn.mmac.seq"), "3");
    assert_eq!(get(1, "bgp.ext_com_evpn.mmac.flags.sticky"), "1");
    assert_eq!(
        get(1, "bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4"),
        "10.0.0.1"
    );
    // EVPN.md section 6: with MP_REACH_NLRI first, Wireshark 4.0 shows Label1 as a 20-bit MPLS
    // label (VNI >> 4); later versions may show the VNI.
    let (ls1, vni) = (
        get(1, "bgp.evpn.nlri.mpls_ls1"),
        get(1, "bgp.evpn.nlri.vni"),
    );
    assert!(
        ls1 == (VNI >> 4).to_string() || vni == VNI.to_string(),
        "label {ls1:?} / vni {vni:?}"
    );
    // The type-3 UPDATE with its PMSI tunnel.
    assert_eq!(get(2, "bgp.evpn.nlri.rt"), "3");
    assert_eq!(get(2, "bgp.update.path_attribute.pmsi.tunnel.type"), "6");
}
