//! Speakers connected in memory: sessions establish, routes travel and land in the engines,
//! moves raise the sequence, hold expiry withdraws, errors reach the operator in words, a
//! reflector reflects.

mod common;

use common::*;
use vtep_core::Destination;
use vtep_core::Duration;
use vtep_core::wire::IpAddress;
use vtep_core::wire::bgp::{ErrorCode, EvpnRoute, Malformed, MpReach};
use vtep_evpn::{PeerConfig, PeerId, SessionError, SpeakerConfig, State};

/// A (10.0.0.1) connects to B (10.0.0.2).
fn pair() -> (Net, PeerId, PeerId) {
    let mut net = Net::new();
    let (pa, pb) = net.add_pair(vtep_config(1), vtep_config(2));
    (net, pa, pb)
}

#[test]
fn sessions_establish_and_flood_lists_follow_type3_routes() {
    let (net, pa, pb) = pair();
    assert_eq!(net.state(0, pa), State::Established);
    assert_eq!(net.state(1, pb), State::Established);
    assert_eq!(net.flood_list(0), [IpAddress::Ipv4(ip(2))]);
    assert_eq!(net.flood_list(1), [IpAddress::Ipv4(ip(1))]);
    let status = net.nodes[0].speaker.peer_status(pa).unwrap();
    assert_eq!(status.negotiated.map(|n| n.hold_time), Some(9));
    assert_eq!(status.routes, 1, "B's type-3 route");
}

#[test]
fn a_learned_mac_travels_and_installs() {
    let (mut net, _, pb) = pair();
    net.frame_from(0, mac(1));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.fdb(1, mac(1)), Some((remote(1), 0)));
    let routes = net.nodes[1].speaker.received_routes(pb);
    assert_eq!(
        routes.iter().filter(|r| r.best).count(),
        2,
        "type 2 and type 3 are best"
    );
    // The type-2 route as sent: label = VNI, no MAC mobility at seq 0.
    let update = net.updates(0, 1).into_iter().find(|u| {
        matches!(parse_update(u).mp_reach, Some(MpReach::Evpn { routes, .. }) if routes.iter().any(|r| matches!(r, EvpnRoute::MacIp(_))))
    });
    let update = update.expect("a type-2 UPDATE from A to B");
    let repr = parse_update(&update);
    let ecs: Vec<_> = repr.ext_communities.unwrap().iter().collect();
    assert_eq!(ecs.len(), 2, "route target and encapsulation: {ecs:?}");
}

#[test]
fn a_move_raises_the_sequence_and_the_other_side_follows() {
    let (mut net, _, _) = pair();
    net.frame_from(0, mac(1));
    net.run_for(Duration::from_secs(1));
    // The VM migrates to B: B's engine sees it at a local port.
    net.frame_from(1, mac(1));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.nodes[1].speaker.local_seq(vni(), mac(1).0), Some(1));
    assert_eq!(
        net.fdb(0, mac(1)),
        Some((remote(2), 1)),
        "A follows the higher sequence"
    );
    assert_eq!(
        net.nodes[0].speaker.local_seq(vni(), mac(1).0),
        None,
        "A withdrew its route"
    );
    assert_eq!(net.nodes[1].speaker.best_remote(vni(), mac(1).0), None);
    // And back: sequence 2.
    net.frame_from(0, mac(1));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.fdb(1, mac(1)), Some((remote(1), 2)));
}

/// TCP hands bytes over in reads of any size: messages split at every offset (inside the
/// 19-byte header too) or arriving a byte at a time are reassembled, the route lands and the
/// session stays up.
#[test]
fn messages_split_anywhere_are_reassembled() {
    let (mut net, _, _) = pair();
    net.frame_from(0, mac(1));
    let update = net
        .updates(0, 1)
        .into_iter()
        .find(|u| {
            matches!(parse_update(u).mp_reach, Some(MpReach::Evpn { routes, .. })
                if routes.iter().any(|r| matches!(r, EvpnRoute::MacIp(_))))
        })
        .expect("a type-2 UPDATE from A to B");
    let keepalive = [&[0xff; 16][..], &[0, 19, 4]].concat();
    let stream = [update, keepalive].concat();
    let single: Vec<Vec<usize>> = (1..stream.len()).map(|cut| vec![cut]).collect();
    let bytewise: Vec<usize> = (1..stream.len()).collect();
    for cuts in single.into_iter().chain([bytewise]) {
        let (mut net, _, pb) = pair();
        let now = net.now;
        let mut at = 0;
        for cut in cuts.iter().copied().chain([stream.len()]) {
            net.nodes[1]
                .speaker
                .handle_input(now, vtep_evpn::Input::Data(pb, &stream[at..cut]));
            at = cut;
        }
        net.run_for(Duration::from_millis(10));
        let status = net.nodes[1].speaker.peer_status(pb).unwrap();
        let shown = if cuts.len() == 1 {
            format!("split at {}", cuts[0])
        } else {
            "a byte at a time".into()
        };
        assert_eq!(
            (status.state, status.last_error),
            (State::Established, None),
            "{shown}"
        );
        assert_eq!(net.fdb(1, mac(1)), Some((remote(1), 0)), "{shown}");
    }
    // A header of garbage is refused as soon as its 19th byte is in, however it came.
    let (mut net, _, pb) = pair();
    let now = net.now;
    for part in [&[0u8; 10][..], &[0u8; 9][..]] {
        net.nodes[1]
            .speaker
            .handle_input(now, vtep_evpn::Input::Data(pb, part));
    }
    let status = net.nodes[1].speaker.peer_status(pb).unwrap();
    assert_eq!(status.state, State::Active);
    assert_eq!(
        status.last_error,
        Some(SessionError::Malformed {
            reason: Malformed::BadMarker,
            code: ErrorCode::MessageHeader,
            subcode: 1,
        })
    );
}

#[test]
fn hold_expiry_withdraws_the_routes() {
    let (mut net, pa, pb) = pair();
    net.frame_from(0, mac(1));
    net.run_for(Duration::from_secs(1));
    assert!(net.fdb(1, mac(1)).is_some());
    net.cut(0, 1);
    let cut_at = net.now;
    while net.state(1, pb) == State::Established {
        net.run_for(Duration::from_millis(100));
    }
    let after = net.now - cut_at;
    assert!(
        after <= Duration::from_secs(9),
        "down {after} after the cut"
    );
    assert_eq!(net.fdb(1, mac(1)), None);
    assert!(net.flood_list(1).is_empty());
    let error = net.nodes[1]
        .speaker
        .peer_status(pb)
        .unwrap()
        .last_error
        .unwrap();
    assert_eq!(error, SessionError::HoldTimerExpired { hold_time: 9 });
    assert!(error.to_string().starts_with("hold time expired"));
    // A reconnects (the cut connection is gone; new ones get through).
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.state(0, pa), State::Established);
    assert_eq!(net.fdb(1, mac(1)), Some((remote(1), 0)));
}

#[test]
fn as_mismatch_is_refused_in_words() {
    let mut net = Net::new();
    let cb = SpeakerConfig {
        asn: ASN + 1,
        ..vtep_config(2)
    };
    let (pa, pb) = net.add_pair(vtep_config(1), cb);
    let (a, b) = (0, 1);
    // Each side checks the other's OPEN; which one speaks first is a matter of timing, and
    // both outcomes must say what is wrong.
    let theirs = net.nodes[a]
        .speaker
        .peer_status(pa)
        .unwrap()
        .last_error
        .unwrap();
    match &theirs {
        SessionError::NotificationReceived { code, subcode, .. } => {
            assert_eq!((*code, *subcode), (ErrorCode::OpenMessage, 2));
            assert!(
                theirs
                    .to_string()
                    .contains("OPEN message error / bad peer AS"),
                "{theirs}"
            );
        }
        SessionError::AsMismatch { expected, received } => {
            assert_eq!((*expected, *received), (ASN, ASN + 1));
            assert!(theirs.to_string().starts_with("AS mismatch"), "{theirs}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        net.nodes[a]
            .speaker
            .peer_status(pa)
            .unwrap()
            .counters
            .established,
        0
    );
    let ours = net.nodes[b]
        .speaker
        .peer_status(pb)
        .unwrap()
        .last_error
        .unwrap();
    assert_eq!(
        ours,
        SessionError::AsMismatch {
            expected: ASN + 1,
            received: ASN
        }
    );
}

#[test]
fn unreachable_peer_backs_off() {
    let mut net = Net::new();
    let a = net.add_vtep(vtep_config(1));
    let pa = net.nodes[a]
        .speaker
        .add_peer(PeerConfig::active(ip(9), ASN))
        .unwrap();
    net.run_for(Duration::from_secs(20));
    let status = net.nodes[a].speaker.peer_status(pa).unwrap();
    assert_eq!(
        status.last_error,
        Some(SessionError::Unreachable { address: ip(9) })
    );
    // Retries at 1, 2, 4, 4, 4... seconds: far fewer than one per second.
    let tries = net.nodes[a].events.len();
    assert!((4..=8).contains(&tries), "{tries} attempts in 20 s");
}

#[test]
fn garbage_resets_the_session_with_a_notification() {
    let (mut net, _, pb) = pair();
    let now = net.now;
    net.nodes[1]
        .speaker
        .handle_input(now, vtep_evpn::Input::Data(pb, &[0u8; 40]));
    let mut outputs = Vec::new();
    loop {
        match net.nodes[1].speaker.poll_output() {
            vtep_evpn::Output::Timeout(_) => break,
            vtep_evpn::Output::Transmit(p) => outputs.push(net.nodes[1].speaker.take_transmit(p)),
            other => outputs.push(format!("{other:?}").into_bytes()),
        }
    }
    let notification = &outputs[0];
    assert_eq!(
        &notification[16..21],
        &[0, 21, 3, 1, 1],
        "connection not synchronized"
    );
    assert!(outputs.iter().any(|o| o.starts_with(b"Close")));
    assert_eq!(
        net.nodes[1]
            .speaker
            .peer_status(pb)
            .unwrap()
            .counters
            .malformed
            .total(),
        1
    );
}

#[test]
fn a_peer_over_its_route_limit_is_torn_down() {
    let mut net = Net::new();
    let cb = SpeakerConfig {
        max_routes_per_peer: 2,
        ..vtep_config(2)
    };
    let (_, pb) = net.add_pair(vtep_config(1), cb);
    let b = 1;
    net.frame_from(0, mac(1));
    net.frame_from(0, mac(2));
    net.run_for(Duration::from_millis(10));
    let status = net.nodes[b].speaker.peer_status(pb).unwrap();
    assert_eq!(
        status.last_error,
        Some(SessionError::RouteLimit { limit: 2 })
    );
    assert_eq!(status.routes, 0);
}

#[test]
fn a_reflector_reflects_with_originator_and_cluster_list() {
    let mut net = Net::new();
    let (rr, leaves) = net.add_reflector_with_leaves(2);
    net.run_for(Duration::from_secs(3));
    let peers = net.nodes[rr].speaker.peers();
    assert_eq!(peers.len(), 2);
    assert!(
        peers
            .iter()
            .all(|p| p.state == State::Established && p.dynamic)
    );
    net.frame_from(leaves[0], mac(7));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.fdb(leaves[1], mac(7)), Some((remote(1), 0)));
    assert_eq!(net.flood_list(leaves[1]), [IpAddress::Ipv4(ip(1))]);
    let reflected = net
        .updates(rr, leaves[1])
        .into_iter()
        .map(|u| {
            parse_update(&u).originator_id.zip(
                parse_update(&u)
                    .cluster_list
                    .map(|c| c.iter().collect::<Vec<_>>()),
            )
        })
        .find_map(|x| x);
    assert_eq!(reflected, Some((ip(1), vec![ip(254)])));
    // Leaf 1 gets nothing of its own back... and leaf 2's move is followed by leaf 1.
    net.frame_from(leaves[1], mac(7));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.fdb(leaves[0], mac(7)), Some((remote(2), 1)));
    assert!(matches!(
        net.fdb(leaves[1], mac(7)),
        Some((Destination::Local(_), _))
    ));
}

/// A connection attempt nobody answers (a SYN into the void) is given up after one retry
/// interval and reported as unreachable, like a refused one; the next attempt waits.
#[test]
fn an_unanswered_connection_attempt_is_unreachable() {
    use vtep_core::Instant;
    use vtep_evpn::{Event, Input, Output, Speaker};
    let now = Instant::from_secs(100);
    let mut s = Speaker::new(vtep_config(1), now);
    let p = s.add_peer(PeerConfig::active(ip(9), ASN)).unwrap();
    let drain = |s: &mut Speaker| {
        let mut out = Vec::new();
        loop {
            match s.poll_output() {
                Output::Timeout(at) => return (out, at),
                o => out.push(o),
            }
        }
    };
    s.handle_input(now, Input::Timeout);
    let (out, at) = drain(&mut s);
    assert!(out.contains(&Output::Connect {
        peer: p,
        address: ip(9)
    }));
    let give_up = at.unwrap();
    assert_eq!(give_up, now + Duration::from_secs(1));
    s.handle_input(give_up, Input::Timeout);
    let (out, at) = drain(&mut s);
    assert!(out.contains(&Output::Close(p)), "{out:?}");
    assert!(out.contains(&Output::Event(Event::SessionDown {
        peer: p,
        error: SessionError::Unreachable { address: ip(9) }
    })));
    assert!(!out.iter().any(|o| matches!(o, Output::Connect { .. })));
    let status = s.peer_status(p).unwrap();
    assert_eq!(status.state, State::Idle);
    assert!(at.unwrap() > give_up, "the next attempt waits");
}

/// The reflector restarts, as FRR's bgpd does under SIGTERM: a NOTIFICATION (cease) to each
/// leaf, then its port refuses connections while the new process starts (slowly, on a busy
/// machine), then it listens and knows nothing. Each leaf keeps trying on its own retry
/// timer, comes back within one backoff interval of the reflector listening, sends its routes
/// again and relearns the other leaf's. (An FRR leaf with its traditional 120 s ConnectRetry
/// is what once missed this in the evpn suite; this speaker must not.)
#[test]
fn leaves_come_back_after_a_slow_reflector_restart() {
    let mut net = Net::new();
    let (rr, leaves) = net.add_reflector_with_leaves(2);
    net.run_for(Duration::from_secs(3));
    net.frame_from(leaves[0], mac(7));
    net.frame_from(leaves[1], mac(8));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.fdb(leaves[1], mac(7)), Some((remote(1), 0)));
    assert_eq!(net.fdb(leaves[0], mac(8)), Some((remote(2), 0)));

    // SIGTERM: cease to every leaf; the process is gone and the port refuses for 3.5 s.
    for p in net.nodes[rr].speaker.peers() {
        net.nodes[rr].speaker.stop_peer(p.id).unwrap();
    }
    net.nodes[rr].listening = false;
    net.run_for(Duration::from_millis(100));
    for &leaf in &leaves {
        let status = &net.nodes[leaf].speaker.peers()[0];
        assert_ne!(status.state, State::Established);
        assert!(
            matches!(
                status.last_error,
                Some(SessionError::NotificationReceived {
                    code: ErrorCode::Cease,
                    ..
                })
            ),
            "{:?} {:02x?}",
            status.last_error,
            net.log.iter().rev().take(4).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        net.fdb(leaves[1], mac(7)),
        None,
        "withdrawn with the session"
    );
    assert!(net.flood_list(leaves[0]).is_empty());
    net.run_for(Duration::from_millis(3400));
    let refused = |net: &Net, leaf: usize| {
        net.nodes[leaf]
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    vtep_evpn::Event::SessionDown {
                        error: SessionError::Unreachable { .. },
                        ..
                    }
                )
            })
            .count()
    };
    assert!(
        leaves.iter().all(|&l| refused(&net, l) >= 1),
        "refused meanwhile"
    );

    // The new process: listening, empty.
    net.nodes[rr].speaker = vtep_evpn::Speaker::new(reflector_config(), net.now);
    net.nodes[rr].listening = true;
    let listening_at = net.now;
    while leaves
        .iter()
        .any(|&l| net.state(l, PeerId(0)) != State::Established)
    {
        net.run_for(Duration::from_millis(100));
        assert!(
            net.now - listening_at <= Duration::from_secs(4),
            "a leaf waited past its longest backoff (4 s here)"
        );
    }
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.fdb(leaves[1], mac(7)), Some((remote(1), 0)));
    assert_eq!(net.fdb(leaves[0], mac(8)), Some((remote(2), 0)));
    assert_eq!(net.flood_list(leaves[0]), [IpAddress::Ipv4(ip(2))]);
    for &leaf in &leaves {
        let status = &net.nodes[leaf].speaker.peers()[0];
        assert_eq!(status.counters.established, 2);
    }
}

#[test]
fn a_route_with_a_higher_sequence_makes_the_old_vtep_withdraw_even_without_its_port() {
    // The VM's port on A is gone (its FDB entry with it) before B's route arrives, as when a
    // hypervisor unplugs a migrated VM: A still withdraws its route (RFC 7432 section 15).
    let (mut net, _, _) = pair();
    net.frame_from(0, mac(1));
    net.run_for(Duration::from_secs(1));
    let port = net.nodes[0].port.unwrap();
    net.nodes[0]
        .vtep
        .as_mut()
        .unwrap()
        .remove_port(port)
        .unwrap();
    assert_eq!(net.nodes[0].speaker.local_seq(vni(), mac(1).0), Some(0));
    net.frame_from(1, mac(1));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.nodes[1].speaker.local_seq(vni(), mac(1).0), Some(1));
    assert_eq!(
        net.nodes[0].speaker.local_seq(vni(), mac(1).0),
        None,
        "A withdrew its route"
    );
    assert!(
        net.nodes[1]
            .speaker
            .received_routes(PeerId(0))
            .iter()
            .all(|r| { !matches!(r.key, vtep_core::wire::bgp::RouteKey::MacIp { .. }) })
    );
    assert_eq!(net.fdb(0, mac(1)), Some((remote(2), 1)));
}

#[test]
fn a_reflector_forgets_a_client_whose_session_expired_and_takes_it_back() {
    let mut net = Net::new();
    let (rr, leaves) = net.add_reflector_with_leaves(1);
    let leaf = leaves[0];
    net.run_for(Duration::from_secs(2));
    assert_eq!(net.nodes[rr].speaker.peers().len(), 1);
    // The link goes silent: both hold timers expire; the reflector writes its NOTIFICATION
    // (to nobody) and forgets the dynamic peer, so the leaf's reconnection is taken.
    let cut_at = net.now;
    net.cut(rr, leaf);
    net.run_for(Duration::from_secs(20));
    let peers = net.nodes[rr].speaker.peers();
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0].state, State::Established);
    assert!(peers[0].established_at.is_some_and(|t| t > cut_at));
    assert_eq!(
        peers[0].counters.established, 1,
        "a new peer, not the old one"
    );
}

#[test]
fn messages_read_a_few_bytes_at_a_time_reassemble() {
    // A TCP stack may hand over any split, a header's first bytes in one read and the rest in
    // the next (the simulator's smoltcp did, under a full window): every read size works.
    for size in [1, 5, 18, 19, 20, 40] {
        let mut net = Net::new();
        net.read_size = Some(size);
        let (pa, _) = net.add_pair(vtep_config(1), vtep_config(2));
        let (a, b) = (0, 1);
        assert_eq!(net.state(a, pa), State::Established, "reads of {size}");
        net.frame_from(a, mac(1));
        net.run_for(Duration::from_secs(1));
        assert_eq!(net.fdb(b, mac(1)), Some((remote(1), 0)), "reads of {size}");
    }
}
