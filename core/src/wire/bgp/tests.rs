//! Tests of the BGP codec: fixtures deconstructed, constructed into 0xa5-filled buffers, parsed
//! and emitted; error cases with their RFC 7606 actions; property round trips.

#![allow(clippy::type_complexity)] // data-driven case tables read best inline

// Under `wasm-pack test core` these run in the browser, where the playground runs the core.
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::string::ToString;
use std::vec;
use std::vec::Vec;

use super::attr::{AsPath, MpReach, MpUnreach, NextHop, Origin, PmsiTunnel, pmsi_type};
use super::evpn::IpKey;
use super::open::{Capability, FamilySet, OpenPacket};
use super::*;
use crate::wire::{EthernetAddress, IpAddress, Ipv4Address, Ipv6Address};

/// `evpn-update-sample.py` (beside EVPN.md): an iBGP UPDATE as native-vtep sends it for VNI 100,
/// VTEP 10.0.0.1, AS 65000: type-2 route 02:00:00:00:00:01 / 192.168.1.10, label 100, RT
/// 65000:100, VXLAN encapsulation, MAC mobility seq 7. MP_REACH_NLRI first, with the extended
/// length bit as FRR writes it. tshark 4.0 decodes it (route type 2, MAC, VNI 100, seq 7).
pub(crate) static UPDATE_TYPE2: [u8; 116] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x74, 0x02, 0x00, 0x00, 0x00, 0x5d, 0x90, 0x0e, 0x00, 0x30, 0x00, 0x19, 0x46, 0x04, 0x0a,
    0x00, 0x00, 0x01, 0x00, 0x02, 0x25, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x64, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x20, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00, 0x64, 0x40, 0x01, 0x01, 0x00, 0x40,
    0x02, 0x00, 0x40, 0x05, 0x04, 0x00, 0x00, 0x00, 0x64, 0xc0, 0x10, 0x18, 0x00, 0x02, 0xfd, 0xe8,
    0x00, 0x00, 0x00, 0x64, 0x03, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x06, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x07,
];

/// The same script's type-3 UPDATE: IMET for 10.0.0.1 with PMSI tunnel (ingress replication,
/// label = VNI 100, endpoint 10.0.0.1).
pub(crate) static UPDATE_TYPE3: [u8; 100] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x64, 0x02, 0x00, 0x00, 0x00, 0x4d, 0x90, 0x0e, 0x00, 0x1c, 0x00, 0x19, 0x46, 0x04, 0x0a,
    0x00, 0x00, 0x01, 0x00, 0x03, 0x11, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x64, 0x00, 0x00,
    0x00, 0x00, 0x20, 0x0a, 0x00, 0x00, 0x01, 0x40, 0x01, 0x01, 0x00, 0x40, 0x02, 0x00, 0x40, 0x05,
    0x04, 0x00, 0x00, 0x00, 0x64, 0xc0, 0x10, 0x10, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64,
    0x03, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0xc0, 0x16, 0x09, 0x00, 0x06, 0x00, 0x00, 0x64,
    0x0a, 0x00, 0x00, 0x01,
];

/// An UPDATE FRR 8.4.4's kernel leaf sent its reflector in the evpn suite (`tcpdump` on the
/// underlay of `frr_ipv6_hosts_both_ways_nd_answered_locally`): the type-2 route of an IPv6
/// router host, RD 10.0.0.2:2, MAC 02:00:00:00:0b:02, IP length 128, fd42::12, label (VNI)
/// 42; attributes ORIGIN, an empty AS_PATH with the extended length bit, LOCAL_PREF 100,
/// and three extended communities: VXLAN, RT 65000:42 and the ARP/ND one with only R set.
pub(crate) static UPDATE_FRR_IPV6_ROUTER: [u8; 129] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x81, 0x02, 0x00, 0x00, 0x00, 0x6a, 0x90, 0x0e, 0x00, 0x3c, 0x00, 0x19, 0x46, 0x04, 0x0a,
    0x00, 0x00, 0x02, 0x00, 0x02, 0x31, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x02, 0x00, 0x00,
    0x00, 0x0b, 0x02, 0x80, 0xfd, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x2a, 0x40, 0x01, 0x01, 0x00, 0x50, 0x02, 0x00, 0x00, 0x40,
    0x05, 0x04, 0x00, 0x00, 0x00, 0x64, 0xc0, 0x10, 0x18, 0x03, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x2a, 0x06, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00,
];

/// An OPEN laid out as FRR 8.4's `bgp_open_capability()` writes one (each capability in its own
/// optional parameter): AS 65000, hold 9, ID 10.0.0.254; MP L2VPN/EVPN, route refresh, enhanced
/// route refresh, 4-octet AS 65000, extended message, FQDN "rr" (unknown here: skipped),
/// graceful restart (restart time 120). Built by hand from FRR's source: FRR is not on this
/// image to capture from.
pub(crate) static OPEN_FRR: [u8; 71] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x47, 0x01, 0x04, 0xfd, 0xe8, 0x00, 0x09, 0x0a, 0x00, 0x00, 0xfe, 0x2a, //
    0x02, 0x06, 0x01, 0x04, 0x00, 0x19, 0x00, 0x46, // MP 25/70
    0x02, 0x02, 0x02, 0x00, // route refresh
    0x02, 0x02, 0x46, 0x00, // enhanced route refresh
    0x02, 0x06, 0x41, 0x04, 0x00, 0x00, 0xfd, 0xe8, // AS4 65000
    0x02, 0x02, 0x06, 0x00, // extended message
    0x02, 0x06, 0x49, 0x04, 0x02, b'r', b'r', 0x00, // FQDN "rr", empty domain
    0x02, 0x04, 0x40, 0x02, 0x00, 0x78, // graceful restart, 120 s
];

/// The OPEN this project's speaker sends: AS 65000, hold 90, ID 10.0.0.1; L2VPN/EVPN, route
/// refresh and 4-octet AS in one optional parameter.
static OPEN_OURS: [u8; 45] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x2d, 0x01, 0x04, 0xfd, 0xe8, 0x00, 0x5a, 0x0a, 0x00, 0x00, 0x01, 0x10, //
    0x02, 0x0e, 0x01, 0x04, 0x00, 0x19, 0x00, 0x46, 0x02, 0x00, 0x41, 0x04, 0x00, 0x00, 0xfd, 0xe8,
];

/// Cease / administrative shutdown with the shutdown communication "maintenance" (RFC 9003).
static NOTIFICATION_SHUTDOWN: [u8; 33] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x21, 0x03, 0x06, 0x02, 0x0b, b'm', b'a', b'i', b'n', b't', b'e', b'n', b'a', b'n', b'c',
    b'e',
];

fn v4(a: [u8; 4]) -> Ipv4Address {
    Ipv4Address::from(a)
}

const VTEP: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);

fn type2_route() -> EvpnRoute<'static> {
    EvpnRoute::MacIp(MacIpRoute {
        rd: RouteDistinguisher::from_ip(VTEP, 100),
        esi: EthernetSegment::SINGLE_HOMED,
        ethernet_tag: 0,
        mac: MAC,
        ip: Some(IpAddress::Ipv4(v4([192, 168, 1, 10]))),
        label1: 100,
        label2: None,
    })
}

fn type3_route() -> EvpnRoute<'static> {
    EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
        rd: RouteDistinguisher::from_ip(VTEP, 100),
        ethernet_tag: 0,
        originator: IpAddress::Ipv4(VTEP),
    })
}

const RT: ExtCommunity = ExtCommunity::RouteTarget(RouteTarget::As2 {
    asn: 65000,
    value: 100,
});
const ENCAP: ExtCommunity = ExtCommunity::Encapsulation(TunnelType::Vxlan);

#[test]
fn header_deconstruct() {
    let packet = Packet::new_checked(&UPDATE_TYPE2[..]).unwrap();
    assert_eq!(packet.marker(), &[0xff; 16]);
    assert_eq!(packet.length(), 116);
    assert_eq!(packet.message_type(), MessageType::Update);
    assert_eq!(packet.body().len(), 116 - HEADER_LEN);
    assert_eq!(FIELDS[1], ("length", 16..18));
}

#[test]
fn header_errors_and_framing() {
    let mut keepalive = [0u8; 19];
    KeepaliveRepr.emit(&mut keepalive);
    let with = |at: usize, value: u8| {
        let mut b = keepalive.to_vec();
        b[at] = value;
        b
    };
    let cases: &[(Vec<u8>, core::result::Result<Option<usize>, Malformed>)] = &[
        (keepalive[..18].to_vec(), Ok(None)),
        (keepalive.to_vec(), Ok(Some(19))),
        (with(3, 0), Err(Malformed::BadMarker)),
        (with(17, 18), Err(Malformed::BadMessageLength)),
        (with(17, 20), Err(Malformed::BadMessageLength)),
        (with(18, 9), Err(Malformed::BadMessageType)),
        (with(18, 0), Err(Malformed::BadMessageType)),
        // An UPDATE of 4097 bytes.
        (
            [&[0xff; 16][..], &[0x10, 0x01, 2]].concat(),
            Err(Malformed::BadMessageLength),
        ),
        // A ROUTE-REFRESH of 24 bytes (RFC 7313 section 5).
        (
            [&[0xff; 16][..], &[0, 24, 5]].concat(),
            Err(Malformed::BadRouteRefresh),
        ),
        // An OPEN shorter than its fixed fields.
        (
            [&[0xff; 16][..], &[0, 28, 1]].concat(),
            Err(Malformed::BadMessageLength),
        ),
    ];
    for (bytes, expect) in cases {
        let got = frame_len(bytes).map_err(|e| e.reason);
        assert_eq!(&got, expect, "{bytes:02x?}");
    }
    // The NOTIFICATION data of a bad length is the length field (RFC 4271 section 6.1).
    let bad = with(17, 20);
    let err = frame_len(&bad).unwrap_err();
    let n = err.notification(&bad).unwrap();
    assert_eq!(
        (n.code, n.subcode, n.data),
        (ErrorCode::MessageHeader, 2, &[0, 20][..])
    );
}

#[test]
fn open_deconstruct_frr() {
    let packet = OpenPacket::new_checked(&OPEN_FRR[..]).unwrap();
    assert_eq!(packet.version(), 4);
    assert_eq!(packet.my_as(), 65000);
    assert_eq!(packet.hold_time(), 9);
    assert_eq!(packet.bgp_id(), v4([10, 0, 0, 254]));
    let caps: Vec<_> = packet.capabilities().collect();
    assert_eq!(caps.len(), 7);
    assert_eq!(
        caps[0],
        (31..37, Capability::Multiprotocol(Family::L2VPN_EVPN))
    );
    assert_eq!(caps[3].1, Capability::FourOctetAs(65000));
    assert_eq!(
        caps[5].1,
        Capability::Unknown {
            code: 73,
            value: &[2, b'r', b'r', 0]
        }
    );
    assert_eq!(
        caps[6],
        (67..71, Capability::GracefulRestart(&[0x00, 0x78]))
    );
}

#[test]
fn open_parse_frr() {
    let repr = OpenRepr::parse(&OpenPacket::new_checked(&OPEN_FRR[..]).unwrap()).unwrap();
    let mut families = FamilySet::default();
    families.insert(Family::L2VPN_EVPN);
    assert_eq!(
        repr,
        OpenRepr {
            my_as: 65000,
            hold_time: 9,
            bgp_id: v4([10, 0, 0, 254]),
            capabilities: Capabilities {
                families,
                route_refresh: true,
                enhanced_route_refresh: true,
                four_octet_as: Some(65000),
                extended_message: true,
                graceful_restart: true,
            },
        }
    );
    assert_eq!(repr.asn(), 65000);
    assert!(matches!(Message::parse(&OPEN_FRR), Ok(Message::Open(r)) if r == repr));
}

#[test]
fn open_emit_ours() {
    let repr = OpenRepr::new(65000, 90, VTEP, Capabilities::evpn(65000));
    assert_eq!(repr.buffer_len(), OPEN_OURS.len());
    let mut buf = [0xa5; 45];
    assert_eq!(repr.emit(&mut buf), 45);
    assert_eq!(buf, OPEN_OURS);
    let parsed = OpenRepr::parse(&OpenPacket::new_checked(&buf[..]).unwrap()).unwrap();
    assert_eq!(parsed, repr);
    // A 4-octet AS puts AS_TRANS in My AS.
    let big = OpenRepr::new(4_200_000_000, 90, VTEP, Capabilities::evpn(4_200_000_000));
    assert_eq!(big.my_as, AS_TRANS);
    assert_eq!(big.asn(), 4_200_000_000);
}

#[test]
fn open_errors() {
    let with = |at: usize, value: u8| {
        let mut b = OPEN_OURS.to_vec();
        b[at] = value;
        b
    };
    let cases: &[(Vec<u8>, Malformed)] = &[
        (with(19, 3), Malformed::UnsupportedVersion),
        (with(23, 1), Malformed::UnacceptableHoldTime),
        (with(23, 2), Malformed::UnacceptableHoldTime),
        (
            [&OPEN_OURS[..24], &[0, 0, 0, 0], &OPEN_OURS[28..]].concat(),
            Malformed::BadBgpIdentifier,
        ),
        (with(29, 1), Malformed::UnsupportedOptionalParameter),
        (with(28, 0x13), Malformed::MalformedOpen),
        (with(30, 0x11), Malformed::MalformedOpen),
        // MP capability of length 3.
        (with(32, 3), Malformed::MalformedOpen),
    ];
    for (bytes, reason) in cases {
        let got = OpenPacket::new_checked(&bytes[..]).and_then(|p| OpenRepr::parse(&p));
        assert_eq!(got.map_err(|e| e.reason), Err(*reason), "{bytes:02x?}");
    }
    // The data of an unsupported version is the version we speak (RFC 4271 section 6.2).
    let bad = with(19, 3);
    let err = OpenRepr::parse(&OpenPacket::new_unchecked(&bad[..])).unwrap_err();
    assert_eq!(err.notification(&bad).unwrap().data, &[0, 4]);
}

#[test]
fn open_extended_parameters() {
    // RFC 9072: Opt Parm Len 255, type 255, a 2-byte length, parameters with 2-byte lengths.
    let mut b = OPEN_OURS[..29].to_vec();
    b[28] = 255;
    b.extend_from_slice(&[255, 0, 9, 2, 0, 6, 0x41, 0x04, 0x00, 0x00, 0xfd, 0xe8]);
    let len = b.len() as u16;
    b[16..18].copy_from_slice(&len.to_be_bytes());
    let repr = OpenRepr::parse(&OpenPacket::new_checked(&b[..]).unwrap()).unwrap();
    assert_eq!(repr.capabilities.four_octet_as, Some(65000));
}

#[test]
fn update_deconstruct() {
    let packet = UpdatePacket::new_checked(&UPDATE_TYPE2[..]).unwrap();
    assert_eq!(packet.withdrawn_range(), 21..21);
    assert_eq!(packet.attributes_range(), 23..116);
    assert_eq!(packet.nlri_range(), 116..116);
    let attrs: Vec<_> = packet.attributes().map(|a| a.unwrap()).collect();
    let kinds: Vec<_> = attrs.iter().map(|a| (a.kind(), a.range())).collect();
    assert_eq!(
        kinds,
        [
            (AttributeType::MpReachNlri, 23..75),
            (AttributeType::Origin, 75..79),
            (AttributeType::AsPath, 79..82),
            (AttributeType::LocalPref, 82..89),
            (AttributeType::ExtendedCommunities, 89..116),
        ]
    );
    assert_eq!(attrs[0].flags.0, 0x90);
    let routes: Vec<_> = evpn::routes_with_ranges(&UPDATE_TYPE2[36..75], 36).collect();
    assert_eq!(routes, [(36..75, type2_route())]);
}

#[test]
fn update_parse() {
    let packet = UpdatePacket::new_checked(&UPDATE_TYPE2[..]).unwrap();
    let (repr, verdict) = UpdateRepr::parse(&packet, true).unwrap();
    assert_eq!(verdict, Verdict::default());
    assert_eq!(repr.origin, Some(Origin::Igp));
    assert_eq!(repr.as_path.map(|p| p.is_empty()), Some(true));
    assert_eq!(repr.local_pref, Some(100));
    let Some(MpReach::Evpn { next_hop, routes }) = repr.mp_reach else {
        panic!("no EVPN MP_REACH_NLRI");
    };
    assert_eq!(next_hop, NextHop::V4(VTEP));
    assert_eq!(routes.iter().collect::<Vec<_>>(), [type2_route()]);
    let ecs: Vec<_> = repr.ext_communities.unwrap().iter().collect();
    assert_eq!(
        ecs,
        [
            RT,
            ENCAP,
            ExtCommunity::MacMobility {
                sticky: false,
                seq: 7
            }
        ]
    );
    let EvpnRoute::MacIp(route) = type2_route() else {
        unreachable!()
    };
    assert_eq!(route.vni().get(), 100);
    assert_eq!(route.rd.to_string(), "10.0.0.1:100");

    let packet = UpdatePacket::new_checked(&UPDATE_TYPE3[..]).unwrap();
    let (repr, verdict) = UpdateRepr::parse(&packet, true).unwrap();
    assert_eq!(verdict.action, None);
    let pmsi = repr.pmsi_tunnel.unwrap();
    assert_eq!(
        (pmsi.tunnel_type, pmsi.label),
        (pmsi_type::INGRESS_REPLICATION, 100)
    );
    assert_eq!(pmsi.ingress_replication_v4(), Some(VTEP));
    let Some(MpReach::Evpn { routes, .. }) = repr.mp_reach else {
        panic!()
    };
    assert_eq!(routes.iter().collect::<Vec<_>>(), [type3_route()]);
}

#[test]
fn update_emit() {
    let routes = [type2_route()];
    let ecs = [
        RT,
        ENCAP,
        ExtCommunity::MacMobility {
            sticky: false,
            seq: 7,
        },
    ];
    let repr = UpdateRepr::announce(NextHop::V4(VTEP), &routes, &ecs);
    assert_eq!(repr.buffer_len(), UPDATE_TYPE2.len());
    let mut buf = [0xa5; 116];
    assert_eq!(repr.emit(&mut buf), 116);
    assert_eq!(buf, UPDATE_TYPE2);

    let routes = [type3_route()];
    let ecs = [RT, ENCAP];
    let endpoint = VTEP.octets();
    let repr = UpdateRepr {
        pmsi_tunnel: Some(PmsiTunnel {
            flags: 0,
            tunnel_type: pmsi_type::INGRESS_REPLICATION,
            label: 100,
            identifier: &endpoint,
        }),
        ..UpdateRepr::announce(NextHop::V4(VTEP), &routes, &ecs)
    };
    let mut buf = [0xa5; 100];
    assert_eq!(repr.emit(&mut buf), 100);
    assert_eq!(buf, UPDATE_TYPE3);
    // What was emitted parses back to the same Repr.
    let (back, _) = UpdateRepr::parse(&UpdatePacket::new_checked(&buf[..]).unwrap(), true).unwrap();
    assert_eq!(back, repr);
}

#[test]
fn update_withdraw_and_end_of_rib() {
    let routes = [type2_route(), type3_route()];
    let repr = UpdateRepr {
        mp_unreach: Some(MpUnreach::Evpn {
            routes: Seq::Items(&routes),
        }),
        ..UpdateRepr::default()
    };
    let mut buf = vec![0xa5; repr.buffer_len()];
    repr.emit(&mut buf);
    let packet = UpdatePacket::new_checked(&buf[..]).unwrap();
    let (back, verdict) = UpdateRepr::parse(&packet, true).unwrap();
    assert_eq!((back, verdict), (repr, Verdict::default()));
    assert!(!packet.is_evpn_end_of_rib());

    let eor = UpdateRepr {
        mp_unreach: Some(MpUnreach::Evpn { routes: Seq::EMPTY }),
        ..UpdateRepr::default()
    };
    let mut buf = vec![0xa5; eor.buffer_len()];
    eor.emit(&mut buf);
    assert!(
        UpdatePacket::new_checked(&buf[..])
            .unwrap()
            .is_evpn_end_of_rib()
    );
}

#[test]
fn evpn_routes() {
    let v6 = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    let with_label2 = EvpnRoute::MacIp(MacIpRoute {
        ip: Some(IpAddress::Ipv6(v6)),
        label2: Some(0xabcdef),
        ..match type2_route() {
            EvpnRoute::MacIp(r) => r,
            _ => unreachable!(),
        }
    });
    let mac_only = EvpnRoute::MacIp(MacIpRoute {
        ip: None,
        ..match type2_route() {
            EvpnRoute::MacIp(r) => r,
            _ => unreachable!(),
        }
    });
    let imet6 = EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
        rd: RouteDistinguisher::from_as2(65000, 7),
        ethernet_tag: 5,
        originator: IpAddress::Ipv6(v6),
    });
    let other = EvpnRoute::Other {
        route_type: 5,
        value: &[1, 2, 3],
    };
    for (route, len) in [
        (with_label2, 2 + 52),
        (mac_only, 2 + 33),
        (imet6, 2 + 29),
        (other, 5),
    ] {
        let mut buf = vec![0xa5; route.buffer_len()];
        assert_eq!(route.emit(&mut buf), len);
        evpn::check_nlri(&buf, 0).unwrap();
        let mut wire = &buf[..];
        assert_eq!(EvpnRoute::read(&mut wire), Some(route));
        assert!(wire.is_empty());
    }
    assert_eq!(
        RouteDistinguisher::from_as2(65000, 7).to_string(),
        "65000:7"
    );
}

/// A type-2 route with an IPv6 address (IP length 128) byte by byte, as FRR sends one for a
/// host's neighbour entry: RD 10.0.0.2:2, MAC, fd42::12, VNI 42.
#[test]
fn a_type2_route_with_an_ipv6_address() {
    let mut bytes = vec![2, 49];
    bytes.extend_from_slice(&[0, 1, 10, 0, 0, 2, 0, 2]);
    bytes.extend_from_slice(&[0; 10]);
    bytes.extend_from_slice(&[0, 0, 0, 0, 48, 2, 0, 0, 0, 0x0a, 0x02, 128]);
    bytes.extend_from_slice(&[0xfd, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12]);
    bytes.extend_from_slice(&[0, 0, 42]);
    evpn::check_nlri(&bytes, 0).unwrap();
    let mut wire = &bytes[..];
    let route = EvpnRoute::read(&mut wire).unwrap();
    let EvpnRoute::MacIp(r) = route else {
        panic!("{route:?}")
    };
    let ip = Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 0x12);
    assert_eq!(
        (r.rd.to_string(), r.mac, r.ip, r.label1, r.label2),
        (
            "10.0.0.2:2".into(),
            EthernetAddress([2, 0, 0, 0, 0x0a, 0x02]),
            Some(IpAddress::Ipv6(ip)),
            42,
            None
        )
    );
    assert_eq!(
        route.key(),
        Some(RouteKey::MacIp {
            rd: r.rd,
            ethernet_tag: 0,
            mac: [2, 0, 0, 0, 0x0a, 0x02],
            ip: Some(IpKey::V6(ip.octets())),
        })
    );
    let mut out = vec![0; route.buffer_len()];
    route.emit(&mut out);
    assert_eq!(out, bytes);
    // Length 128 with the octets of an IPv4 address, or 16 octets said to be 32 bits: the
    // route's own lengths disagree, so the NLRI is malformed.
    let mut short = [&bytes[..31], &[1, 2, 3, 4], &bytes[47..]].concat();
    short[1] = (short.len() - 2) as u8;
    let mut said32 = bytes.clone();
    said32[31] = 32;
    for bad in [short, said32] {
        let err = evpn::check_nlri(&bad, 0).unwrap_err();
        assert_eq!(err.reason, Malformed::BadEvpnNlri, "{bad:02x?}");
    }
}

/// FRR's own bytes for an IPv6 router's MAC/IP route: parsed clean, the 128-bit address and
/// the ARP/ND community's R flag read, and emitted again byte for byte.
#[test]
fn frr_ipv6_router_route_parses() {
    let packet = UpdatePacket::new_checked(&UPDATE_FRR_IPV6_ROUTER[..]).unwrap();
    let (repr, verdict) = UpdateRepr::parse(&packet, true).unwrap();
    assert_eq!(verdict.reasons().count(), 0);
    let Some(MpReach::Evpn { next_hop, routes }) = repr.mp_reach else {
        panic!("{repr:?}")
    };
    assert_eq!(next_hop, NextHop::V4(v4([10, 0, 0, 2])));
    let routes: Vec<EvpnRoute<'_>> = routes.iter().collect();
    let [EvpnRoute::MacIp(r)] = routes[..] else {
        panic!("{routes:?}")
    };
    assert_eq!(
        (r.rd.to_string(), r.mac, r.ip, r.vni().get()),
        (
            "10.0.0.2:2".into(),
            EthernetAddress([2, 0, 0, 0, 0x0b, 0x02]),
            Some(IpAddress::Ipv6(Ipv6Address::new(
                0xfd42, 0, 0, 0, 0, 0, 0, 0x12
            ))),
            42
        )
    );
    let ecs: Vec<ExtCommunity> = repr.ext_communities.unwrap().iter().collect();
    assert_eq!(
        ecs,
        [
            ENCAP,
            ExtCommunity::RouteTarget(RouteTarget::As2 {
                asn: 65000,
                value: 42
            }),
            ExtCommunity::ArpNd {
                router: true,
                override_: false,
                immutable: false
            }
        ]
    );
    let mut out = vec![0; repr.buffer_len()];
    repr.emit(&mut out);
    let reparsed = UpdateRepr::parse(&UpdatePacket::new_checked(&out[..]).unwrap(), true)
        .unwrap()
        .0;
    assert_eq!(reparsed, repr);
}

#[test]
fn evpn_route_errors() {
    let mut good = vec![0u8; type2_route().buffer_len()];
    type2_route().emit(&mut good);
    let with = |at: usize, value: u8| {
        let mut b = good.clone();
        b[at] = value;
        b
    };
    // IP length 33, MAC length 47, route length past the end, length one short.
    for bad in [
        with(31, 33),
        with(24, 47),
        with(1, 38),
        with(1, 36),
        good[..20].to_vec(),
    ] {
        let err = evpn::check_nlri(&bad, 100).unwrap_err();
        assert_eq!(err.reason, Malformed::BadEvpnNlri, "{bad:02x?}");
        assert_eq!(err.at.start, 100);
    }
    // Type 3 with IP length 33.
    let mut imet = vec![0u8; type3_route().buffer_len()];
    type3_route().emit(&mut imet);
    imet[14] = 33;
    assert!(evpn::check_nlri(&imet, 0).is_err());
}

#[test]
fn ext_communities() {
    let cases: &[([u8; 8], ExtCommunity)] = &[
        ([0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 100], RT),
        (
            [0x01, 0x02, 10, 0, 0, 1, 0, 7],
            ExtCommunity::RouteTarget(RouteTarget::Ipv4 {
                ip: [10, 0, 0, 1],
                value: 7,
            }),
        ),
        (
            [0x02, 0x02, 0, 1, 0, 0, 0, 9],
            ExtCommunity::RouteTarget(RouteTarget::As4 {
                asn: 65536,
                value: 9,
            }),
        ),
        ([0x03, 0x0c, 0, 0, 0, 0, 0, 8], ENCAP),
        (
            [0x06, 0x00, 1, 0, 0, 0, 1, 0],
            ExtCommunity::MacMobility {
                sticky: true,
                seq: 256,
            },
        ),
        (
            [0x06, 0x03, 2, 0, 0, 0, 0, 9],
            ExtCommunity::RouterMac(EthernetAddress([2, 0, 0, 0, 0, 9])),
        ),
        // RFC 9047's ARP/ND community: FRR sends R alone for a router's IPv6 address.
        (
            [0x06, 0x08, 0x01, 0, 0, 0, 0, 0],
            ExtCommunity::ArpNd {
                router: true,
                override_: false,
                immutable: false,
            },
        ),
        (
            [0x06, 0x08, 0x06, 0, 0, 0, 0, 0],
            ExtCommunity::ArpNd {
                router: false,
                override_: true,
                immutable: true,
            },
        ),
        // Not canonical: kept as bytes (an unknown flag, a reserved octet set).
        (
            [0x06, 0x08, 0x09, 0, 0, 0, 0, 0],
            ExtCommunity::Other([0x06, 0x08, 0x09, 0, 0, 0, 0, 0]),
        ),
        (
            [0x06, 0x08, 0x01, 0, 0, 0, 0, 1],
            ExtCommunity::Other([0x06, 0x08, 0x01, 0, 0, 0, 0, 1]),
        ),
        (
            [0x03, 0x0c, 0, 0, 0, 1, 0, 8],
            ExtCommunity::Other([0x03, 0x0c, 0, 0, 0, 1, 0, 8]),
        ),
        (
            [0x06, 0x00, 2, 0, 0, 0, 0, 1],
            ExtCommunity::Other([0x06, 0x00, 2, 0, 0, 0, 0, 1]),
        ),
        (
            [0x43, 0x00, 1, 2, 3, 4, 5, 6],
            ExtCommunity::Other([0x43, 0, 1, 2, 3, 4, 5, 6]),
        ),
    ];
    for (bytes, expect) in cases {
        assert_eq!(ExtCommunity::parse(*bytes), *expect);
        assert_eq!(expect.to_bytes(), *bytes);
    }
    assert_eq!(RouteTarget::auto(4_200_000_000, 42).local_admin(), 42);
    assert_eq!(RT.to_bytes()[..2], [0, 2]);
}

#[test]
fn notification_and_friends() {
    let repr = NotificationRepr::parse(&NOTIFICATION_SHUTDOWN).unwrap();
    assert_eq!((repr.code, repr.subcode), (ErrorCode::Cease, 2));
    assert_eq!(repr.shutdown_message(), Some("maintenance"));
    assert_eq!(
        std::format!("{repr}"),
        "cease / administrative shutdown (\"maintenance\")"
    );
    let mut buf = [0xa5; 33];
    assert_eq!(repr.emit(&mut buf), 33);
    assert_eq!(buf, NOTIFICATION_SHUTDOWN);
    let hold = NotificationRepr {
        code: ErrorCode::HoldTimerExpired,
        subcode: 0,
        data: &[],
    };
    assert_eq!(std::format!("{hold}"), "hold timer expired / unspecific");
    let odd = NotificationRepr {
        code: ErrorCode::Unknown(9),
        subcode: 4,
        data: &[],
    };
    assert_eq!(std::format!("{odd}"), "unknown error code 9 / subcode 4");

    let rr = RouteRefreshRepr {
        family: Family::L2VPN_EVPN,
        subtype: 0,
    };
    let mut buf = [0xa5; 23];
    rr.emit(&mut buf);
    assert_eq!(&buf[16..], &[0, 23, 5, 0, 25, 0, 70]);
    assert_eq!(Message::parse(&buf), Ok(Message::RouteRefresh(rr)));
    let mut buf = [0xa5; 19];
    KeepaliveRepr.emit(&mut buf);
    assert_eq!(Message::parse(&buf), Ok(Message::Keepalive));
}

/// One UPDATE with an error -> the reason found and its action.
fn verdict_of(bytes: &[u8]) -> core::result::Result<Vec<Malformed>, Malformed> {
    let packet = UpdatePacket::new_checked(bytes).map_err(|e| e.reason)?;
    UpdateRepr::parse(&packet, true)
        .map(|(_, v)| v.reasons().collect())
        .map_err(|e| e.reason)
}

/// UPDATE_TYPE2 with the attribute section replaced by `attrs`.
pub(crate) fn type2_with_attributes(attrs: &[&[u8]]) -> Vec<u8> {
    let mp = &UPDATE_TYPE2[23..75];
    let body: Vec<u8> = attrs.iter().flat_map(|a| a.iter().copied()).collect();
    let mut b = UPDATE_TYPE2[..21].to_vec();
    let total = mp.len() + body.len();
    b.extend_from_slice(&(total as u16).to_be_bytes());
    b.extend_from_slice(mp);
    b.extend_from_slice(&body);
    let len = b.len() as u16;
    b[16..18].copy_from_slice(&len.to_be_bytes());
    b
}

#[test]
fn update_attribute_errors() {
    use Malformed::*;
    const ORIGIN: &[u8] = &[0x40, 1, 1, 0];
    const AS_PATH: &[u8] = &[0x40, 2, 0];
    let cases: &[(&[&[u8]], core::result::Result<Vec<Malformed>, Malformed>)] = &[
        (&[ORIGIN, AS_PATH], Ok(vec![])),
        (&[&[0x40, 1, 2, 0, 0], AS_PATH], Ok(vec![BadOrigin])),
        (&[&[0x40, 1, 1, 3], AS_PATH], Ok(vec![BadOrigin])),
        (&[ORIGIN], Ok(vec![MissingWellKnown])),
        (&[ORIGIN, &[0x40, 2, 4, 2, 1, 0, 0]], Ok(vec![BadAsPath])),
        (&[ORIGIN, &[0x40, 2, 2, 2, 0]], Ok(vec![BadAsPath])),
        (
            &[ORIGIN, &[0x40, 2, 6, 9, 1, 0, 0, 0, 1]],
            Ok(vec![BadAsPath]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0x40, 5, 3, 0, 0, 0]],
            Ok(vec![BadLocalPref]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0x80, 4, 2, 0, 0]],
            Ok(vec![BadMultiExitDisc]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0x40, 6, 1, 0]],
            Ok(vec![BadAtomicAggregate]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0xc0, 7, 5, 0, 0, 0, 0, 0]],
            Ok(vec![BadAggregator]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0xc0, 8, 3, 0, 0, 0]],
            Ok(vec![BadCommunities]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0x80, 9, 3, 0, 0, 0]],
            Ok(vec![BadOriginatorId]),
        ),
        (&[ORIGIN, AS_PATH, &[0x80, 10, 0]], Ok(vec![BadClusterList])),
        (
            &[ORIGIN, AS_PATH, &[0xc0, 16, 4, 0, 2, 0, 1]],
            Ok(vec![BadExtCommunities]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0xc0, 22, 8, 0, 6, 0, 0, 100, 10, 0, 0]],
            Ok(vec![BadPmsiTunnel]),
        ),
        (
            &[ORIGIN, AS_PATH, &[0xc0, 22, 4, 0, 6, 0, 0]],
            Ok(vec![BadPmsiTunnel]),
        ),
        // Wrong optional bit on ORIGIN; on LOCAL_PREF the transitive bit missing.
        (&[&[0xc0, 1, 1, 0], AS_PATH], Ok(vec![BadAttributeFlags])),
        (
            &[ORIGIN, AS_PATH, &[0x00, 5, 4, 0, 0, 0, 100]],
            Ok(vec![BadAttributeFlags]),
        ),
        // Duplicates: the second ORIGIN is dropped; a second MP_REACH_NLRI resets.
        (
            &[ORIGIN, AS_PATH, &[0x40, 1, 1, 2]],
            Ok(vec![DuplicateAttribute]),
        ),
        (
            &[ORIGIN, AS_PATH, &UPDATE_TYPE2[23..75]],
            Err(DuplicateMpAttribute),
        ),
        // Unknown optional attributes are skipped; an unknown well-known one resets.
        (&[ORIGIN, AS_PATH, &[0xc0, 99, 2, 1, 2]], Ok(vec![])),
        (
            &[ORIGIN, AS_PATH, &[0x40, 99, 2, 1, 2]],
            Err(UnrecognizedWellKnown),
        ),
        // The last attribute overruns the section (RFC 7606 section 4).
        (
            &[ORIGIN, AS_PATH, &[0x40, 5, 9, 0]],
            Ok(vec![AttributeOverrun]),
        ),
        (&[ORIGIN, AS_PATH, &[0x40]], Ok(vec![AttributeOverrun])),
        (&[ORIGIN, AS_PATH, &[0x90, 14, 0]], Err(BadMpReach)),
    ];
    for (attrs, expect) in cases {
        let bytes = type2_with_attributes(attrs);
        assert_eq!(&verdict_of(&bytes), expect, "attributes {attrs:02x?}");
    }
}

#[test]
fn update_framing_errors() {
    use Malformed::*;
    let mut long_withdrawn = UPDATE_TYPE2.to_vec();
    long_withdrawn[20] = 200;
    let mut long_attrs = UPDATE_TYPE2.to_vec();
    long_attrs[22] = 0x5e;
    // Withdrawn prefix of 33 bits; NLRI prefix overrunning.
    let mut withdrawn33 = UPDATE_TYPE2[..19].to_vec();
    withdrawn33.extend_from_slice(&[0, 2, 33, 10, 0, 0]);
    let nlri_overrun = [&[0xff; 16][..], &[0, 26, 2, 0, 0, 0, 0, 24, 10, 0]].concat();
    let len = withdrawn33.len() as u16;
    withdrawn33[16..18].copy_from_slice(&len.to_be_bytes());
    // Bad MP_REACH next hop length (5) and an IP length of 33 inside the EVPN route.
    let mut nh5 = UPDATE_TYPE2.to_vec();
    nh5[30] = 5;
    let mut ip33 = UPDATE_TYPE2.to_vec();
    ip33[67] = 33;
    // A malformed ORIGIN in an UPDATE that announces nothing (RFC 7606 section 5.2).
    let mut no_nlri = [&[0xff; 16][..], &[0, 0, 2, 0, 0, 0, 4, 0x40, 1, 1, 9]].concat();
    no_nlri[17] = no_nlri.len() as u8;
    let cases: &[(&[u8], Malformed)] = &[
        (&long_withdrawn, BadUpdateLengths),
        (&long_attrs, BadUpdateLengths),
        (&withdrawn33, InvalidNetworkField),
        (&nlri_overrun, InvalidNetworkField),
        (&nh5, BadMpReach),
        (&ip33, BadEvpnNlri),
        (&no_nlri, MalformedWithoutNlri),
    ];
    for (bytes, reason) in cases {
        assert_eq!(verdict_of(bytes), Err(*reason), "{bytes:02x?}");
    }
}

#[test]
fn every_reason_has_a_label_and_action() {
    let mut labels: Vec<_> = Malformed::ALL.iter().map(|r| r.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), Malformed::COUNT);
    let mut counters = MalformedCounters::default();
    counters.add(Malformed::BadOrigin);
    counters.add(Malformed::BadOrigin);
    assert_eq!(
        counters.nonzero().collect::<Vec<_>>(),
        [(Malformed::BadOrigin, 2)]
    );
    assert_eq!(
        Malformed::DuplicateMpAttribute.action(),
        Action::SessionReset(ErrorCode::UpdateMessage, 1)
    );
    assert!(Action::TreatAsWithdraw > Action::AttributeDiscard);
}

#[test]
fn as_path_widths() {
    // AS_SEQUENCE 65000 4200000000, 4-octet.
    let four = [2, 2, 0, 0, 0xfd, 0xe8, 0xfa, 0x56, 0xea, 0x00];
    let path = AsPath::parse(&four, true).unwrap();
    assert_eq!(path.asns().collect::<Vec<_>>(), [65000, 4_200_000_000]);
    assert!(path.contains(65000));
    assert_eq!(path.path_len(), 2);
    assert_eq!(std::format!("{path}"), "65000 4200000000");
    let mut two = [0u8; 6];
    assert_eq!(path.write(false, &mut two), 6);
    assert_eq!(two, [2, 2, 0xfd, 0xe8, 0x5b, 0xa0]);
    assert!(
        AsPath::parse(&four, false).is_none(),
        "10 bytes are not 2-octet segments"
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod prop {
    use super::*;
    use proptest::prelude::*;

    fn route() -> impl Strategy<Value = EvpnRoute<'static>> {
        let mac_ip = (
            any::<[u8; 8]>(),
            any::<[u8; 10]>(),
            any::<u32>(),
            any::<[u8; 6]>(),
            prop_oneof![
                Just(None),
                any::<[u8; 4]>().prop_map(|a| Some(IpAddress::Ipv4(Ipv4Address::from(a)))),
                any::<[u8; 16]>().prop_map(|a| Some(IpAddress::Ipv6(Ipv6Address::from(a)))),
            ],
            0..1u32 << 24,
            proptest::option::of(0..1u32 << 24),
        )
            .prop_map(|(rd, esi, tag, mac, ip, label1, label2)| {
                EvpnRoute::MacIp(MacIpRoute {
                    rd: RouteDistinguisher(rd),
                    esi: EthernetSegment(esi),
                    ethernet_tag: tag,
                    mac: EthernetAddress(mac),
                    ip,
                    label1,
                    label2,
                })
            });
        let imet = (any::<[u8; 8]>(), any::<u32>(), any::<[u8; 4]>()).prop_map(|(rd, tag, ip)| {
            EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
                rd: RouteDistinguisher(rd),
                ethernet_tag: tag,
                originator: IpAddress::Ipv4(Ipv4Address::from(ip)),
            })
        });
        prop_oneof![mac_ip, imet]
    }

    proptest! {
        #[test]
        fn update_round_trips(
            routes in proptest::collection::vec(route(), 0..8),
            withdrawn in proptest::collection::vec(route(), 0..4),
            ecs in proptest::collection::vec(any::<[u8; 8]>(), 0..6),
            local_pref in proptest::option::of(any::<u32>()),
            med in proptest::option::of(any::<u32>()),
            originator in proptest::option::of(any::<[u8; 4]>()),
            cluster in proptest::collection::vec(any::<[u8; 4]>(), 0..4),
            asns in proptest::collection::vec(any::<u32>(), 0..4),
        ) {
            let ecs: Vec<_> = ecs.into_iter().map(ExtCommunity::parse).collect();
            let cluster: Vec<_> = cluster.into_iter().map(Ipv4Address::from).collect();
            let mut path = vec![];
            if !asns.is_empty() {
                path.extend_from_slice(&[2, asns.len() as u8]);
                for a in &asns { path.extend_from_slice(&a.to_be_bytes()); }
            }
            let repr = UpdateRepr {
                mp_reach: Some(MpReach::Evpn { next_hop: NextHop::V4(VTEP), routes: Seq::Items(&routes) }),
                mp_unreach: (!withdrawn.is_empty()).then_some(MpUnreach::Evpn { routes: Seq::Items(&withdrawn) }),
                origin: Some(Origin::Incomplete),
                as_path: Some(AsPath::parse(&path, true).unwrap()),
                local_pref,
                med,
                originator_id: originator.map(Ipv4Address::from),
                cluster_list: (!cluster.is_empty()).then_some(Seq::Items(&cluster)),
                ext_communities: Some(Seq::Items(&ecs)),
                ..UpdateRepr::default()
            };
            let mut buf = vec![0xa5; repr.buffer_len()];
            prop_assert_eq!(repr.emit(&mut buf), buf.len());
            let packet = UpdatePacket::new_checked(&buf[..]).unwrap();
            let (back, verdict) = UpdateRepr::parse(&packet, true).unwrap();
            prop_assert_eq!(verdict, Verdict::default());
            prop_assert_eq!(back, repr);
        }

        #[test]
        fn arbitrary_messages_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..200), kind in 1u8..6) {
            // Mostly valid headers, so the body parsers are reached.
            if bytes.len() >= 19 {
                bytes[..16].fill(0xff);
                let len = bytes.len() as u16;
                bytes[16..18].copy_from_slice(&len.to_be_bytes());
                bytes[18] = kind;
            }
            if let Ok(Message::Update(packet)) = Message::parse(&bytes) {
                for four in [false, true] {
                    if let Ok((repr, _)) = UpdateRepr::parse(&packet, four) {
                        let mut out = vec![0u8; repr.buffer_len()];
                        repr.emit(&mut out);
                    }
                }
                let _ = packet.attributes().count();
            }
        }
    }
}
