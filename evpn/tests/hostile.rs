//! The hostile catalogue at the speaker: each malformed or unwelcome UPDATE from an established
//! peer, its RFC 7606 action (or loop rule), and the counter that records it.

use vtep_core::wire::bgp::attr::{AsPath, NextHop};
use vtep_core::wire::bgp::{
    self, Capabilities, EthernetSegment, EvpnRoute, ExtCommunity, MacIpRoute, Malformed, OpenRepr,
    RouteDistinguisher, RouteTarget, TunnelType, UpdateRepr,
};
use vtep_core::wire::{EthernetAddress, IpAddress, Ipv4Address};
use vtep_core::{Instant, Vni};
use vtep_evpn::{Input, Output, PeerConfig, PeerId, SessionError, Speaker, SpeakerConfig, State};

const ASN: u32 = 65000;
const PEER: Ipv4Address = Ipv4Address::new(10, 0, 0, 254);
const REMOTE_VTEP: Ipv4Address = Ipv4Address::new(10, 0, 0, 9);
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

fn vni() -> Vni {
    Vni::new(42).unwrap()
}

/// A speaker with an established session to a scripted peer.
fn established() -> (Speaker, PeerId) {
    let now = Instant::from_secs(10);
    let mut s = Speaker::new(SpeakerConfig::new(ASN, Ipv4Address::new(10, 0, 0, 1)), now);
    s.add_vni(vni(), Default::default()).unwrap();
    let p = s.add_peer(PeerConfig::active(PEER, ASN)).unwrap();
    drain(&mut s);
    s.handle_input(now, Input::Connected(p));
    let open = OpenRepr::new(ASN, 90, PEER, Capabilities::evpn(ASN));
    let mut b = vec![0; open.buffer_len()];
    open.emit(&mut b);
    b.extend_from_slice(&[0xff; 16]);
    b.extend_from_slice(&[0, 19, 4]);
    s.handle_input(now, Input::Data(p, &b));
    drain(&mut s);
    assert_eq!(s.peer_status(p).unwrap().state, State::Established);
    (s, p)
}

fn drain(s: &mut Speaker) -> Vec<Output> {
    let mut out = Vec::new();
    loop {
        match s.poll_output() {
            Output::Timeout(_) => return out,
            Output::Transmit(p) => {
                s.take_transmit(p);
                out.push(Output::Transmit(p));
            }
            o => out.push(o),
        }
    }
}

fn route() -> EvpnRoute<'static> {
    EvpnRoute::MacIp(MacIpRoute {
        rd: RouteDistinguisher::from_ip(REMOTE_VTEP, 1),
        esi: EthernetSegment::SINGLE_HOMED,
        ethernet_tag: 0,
        mac: EthernetAddress(MAC),
        ip: Some(IpAddress::Ipv4(Ipv4Address::new(192, 168, 42, 9))),
        label1: 42,
        label2: None,
    })
}

const ECS: [ExtCommunity; 2] = [
    ExtCommunity::RouteTarget(RouteTarget::As2 {
        asn: 65000,
        value: 42,
    }),
    ExtCommunity::Encapsulation(TunnelType::Vxlan),
];

/// A valid UPDATE announcing `routes`, changed by `edit`.
fn update(routes: &[EvpnRoute<'_>], edit: impl FnOnce(&mut UpdateRepr<'_>)) -> Vec<u8> {
    let mut repr = UpdateRepr::announce(NextHop::V4(REMOTE_VTEP), routes, &ECS);
    edit(&mut repr);
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b);
    b
}

/// Replaces the bytes of `from` in `message` with `to` (same length), fixing nothing else.
fn patch(mut message: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = message
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    message[at..at + to.len()].copy_from_slice(to);
    message
}

fn send(s: &mut Speaker, p: PeerId, bytes: &[u8]) -> Vec<Output> {
    s.handle_input(Instant::from_secs(11), Input::Data(p, bytes));
    drain(s)
}

fn installed(out: &[Output]) -> bool {
    out.iter()
        .any(|o| matches!(o, Output::Fdb(vtep_evpn::FdbAction::InstallMac { .. })))
}

#[test]
fn a_clean_route_installs() {
    let (mut s, p) = established();
    assert!(installed(&send(&mut s, p, &update(&[route()], |_| {}))));
    assert_eq!(s.best_remote(vni(), MAC), Some((REMOTE_VTEP, 0)));
}

#[test]
fn as_path_with_our_as_is_a_loop() {
    let (mut s, p) = established();
    static PATH: [u8; 6] = [2, 1, 0, 0, 0xfd, 0xe8];
    let out = send(
        &mut s,
        p,
        &update(&[route()], |u| u.as_path = AsPath::parse(&PATH, true)),
    );
    assert!(!installed(&out));
    let status = s.peer_status(p).unwrap();
    assert_eq!(
        (status.counters.routes_looped, status.state),
        (1, State::Established)
    );
}

/// Our own route reflected back (our router ID as ORIGINATOR_ID) is dropped, and counted
/// apart from loops: FRR's reflector sends a client's routes back in normal operation.
#[test]
fn our_router_id_as_originator_is_our_own_route_back() {
    let (mut s, p) = established();
    let out = send(
        &mut s,
        p,
        &update(&[route()], |u| {
            u.originator_id = Some(Ipv4Address::new(10, 0, 0, 1));
        }),
    );
    assert!(!installed(&out));
    let c = s.peer_status(p).unwrap().counters;
    assert_eq!((c.routes_own_reflected, c.routes_looped), (1, 0));
}

#[test]
fn unknown_route_types_are_ignored_and_counted() {
    let (mut s, p) = established();
    let other = EvpnRoute::Other {
        route_type: 5,
        value: &[0; 34],
    };
    let out = send(&mut s, p, &update(&[other, route()], |_| {}));
    assert!(
        installed(&out),
        "the known route in the same UPDATE still installs"
    );
    let c = s.peer_status(p).unwrap().counters;
    assert_eq!(c.malformed.get(Malformed::UnknownRouteType), 1);
}

#[test]
fn treat_as_withdraw_removes_what_was_there() {
    let (mut s, p) = established();
    send(&mut s, p, &update(&[route()], |_| {}));
    // The same route again with ORIGIN of length 2 (RFC 7606 section 7.1).
    let bad = patch(
        update(&[route()], |_| {}),
        &[0x40, 1, 1, 0],
        &[0x40, 1, 1, 7],
    );
    let out = send(&mut s, p, &bad);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Fdb(vtep_evpn::FdbAction::WithdrawMac { .. })))
    );
    assert_eq!(s.best_remote(vni(), MAC), None);
    let status = s.peer_status(p).unwrap();
    assert_eq!(status.state, State::Established);
    assert_eq!(status.counters.malformed.get(Malformed::BadOrigin), 1);
}

#[test]
fn a_discarded_attribute_keeps_the_route() {
    let (mut s, p) = established();
    // ATOMIC_AGGREGATE with a value: discarded (RFC 7606 section 7.6), the route stands.
    let mut bytes = update(&[route()], |u| u.atomic_aggregate = true);
    let at = bytes.windows(3).position(|w| w == [0x40, 6, 0]).unwrap();
    bytes.splice(at + 2..at + 3, [1, 0]);
    let total = u16::from_be_bytes([bytes[21], bytes[22]]) + 1;
    bytes[21..23].copy_from_slice(&total.to_be_bytes());
    let len = bytes.len() as u16;
    bytes[16..18].copy_from_slice(&len.to_be_bytes());
    assert!(installed(&send(&mut s, p, &bytes)));
    assert_eq!(
        s.peer_status(p)
            .unwrap()
            .counters
            .malformed
            .get(Malformed::BadAtomicAggregate),
        1
    );
}

/// Each entry: an UPDATE that resets the session, and the NOTIFICATION (code, subcode).
#[test]
fn session_resets_name_the_right_notification() {
    let good = update(&[route()], |_| {});
    let ip33 = patch(good.clone(), &[32, 192, 168, 42, 9], &[33, 192, 168, 42, 9]);
    let mut dup_mp = good.clone();
    let mp = dup_mp[23..23 + 4 + usize::from(dup_mp[26])].to_vec();
    dup_mp.extend_from_slice(&mp);
    let total = u16::from_be_bytes([dup_mp[21], dup_mp[22]]) + mp.len() as u16;
    dup_mp[21..23].copy_from_slice(&total.to_be_bytes());
    let len = dup_mp.len() as u16;
    dup_mp[16..18].copy_from_slice(&len.to_be_bytes());
    let mut bad_marker = good.clone();
    bad_marker[0] = 0;
    let mut too_long = good.clone();
    too_long[16..18].copy_from_slice(&4097u16.to_be_bytes());
    let truncated_nlri = patch(good.clone(), &[2, 0x25], &[2, 0x30]);
    let cases: &[(&str, &[u8], (u8, u8))] = &[
        ("IP length 33", &ip33, (3, 9)),
        ("MP_REACH_NLRI twice", &dup_mp, (3, 1)),
        ("bad marker", &bad_marker, (1, 1)),
        ("length 4097", &too_long, (1, 2)),
        ("route length past the attribute", &truncated_nlri, (3, 9)),
    ];
    for (name, bytes, (code, subcode)) in cases {
        let (mut s, p) = established();
        let out = send(&mut s, p, bytes);
        assert!(out.contains(&Output::Close(p)), "{name}: {out:?}");
        let status = s.peer_status(p).unwrap();
        assert_eq!(status.counters.sent[2], 1, "{name}: one NOTIFICATION");
        match status.last_error {
            Some(SessionError::Malformed {
                code: c,
                subcode: sc,
                ..
            }) => {
                assert_eq!((u8::from(c), sc), (*code, *subcode), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(status.counters.malformed.total(), 1, "{name}");
    }
}

#[test]
fn a_length_under_19_resets_after_the_header() {
    let (mut s, p) = established();
    let out = send(&mut s, p, &[&[0xff; 16][..], &[0, 18, 4]].concat());
    assert!(out.contains(&Output::Close(p)));
    assert!(matches!(
        s.peer_status(p).unwrap().last_error,
        Some(SessionError::Malformed {
            reason: Malformed::BadMessageLength,
            ..
        })
    ));
    let _ = bgp::HEADER_LEN;
}

/// A MAC/IP route whose IPv6 address names no neighbour (all-nodes multicast, unspecified,
/// loopback): the MAC is installed, the address is not; a unicast one beside it is; the
/// session stays up.
#[test]
fn an_ipv6_address_that_names_no_neighbour_installs_only_the_mac() {
    use vtep_core::wire::Ipv6Address;
    let (mut s, p) = established();
    let with_ip = |ip: Ipv6Address| {
        let EvpnRoute::MacIp(r) = route() else {
            unreachable!()
        };
        EvpnRoute::MacIp(MacIpRoute {
            ip: Some(IpAddress::Ipv6(ip)),
            ..r
        })
    };
    let routes = [
        with_ip(Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1)),
        with_ip(Ipv6Address::UNSPECIFIED),
        with_ip(Ipv6Address::LOCALHOST),
        with_ip(Ipv6Address::new(0xfd42, 0, 0, 0, 0, 0, 0, 9)),
    ];
    let out = send(&mut s, p, &update(&routes, |_| {}));
    assert!(installed(&out));
    let ips: Vec<IpAddress> = out
        .iter()
        .filter_map(|o| match o {
            Output::Fdb(vtep_evpn::FdbAction::InstallIp { ip, .. }) => Some(*ip),
            _ => None,
        })
        .collect();
    assert_eq!(
        ips,
        [IpAddress::Ipv6(Ipv6Address::new(
            0xfd42, 0, 0, 0, 0, 0, 0, 9
        ))]
    );
    assert_eq!(s.peer_status(p).unwrap().state, State::Established);
}
