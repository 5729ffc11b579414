#!/usr/bin/env python3
"""Hostile packets for native-vtep's end-to-end tests (tests/hostile.rs), crafted with scapy.

    hostile.py ATTACK (--to IP | --tap IFACE) [--count N] [options]

With --to, each packet is a tunnel datagram (VXLAN, or Geneve with --encap geneve) sent from this
namespace to IP:--port through the underlay. With --tap, the inner frame itself is written onto
IFACE (a native-vtep TAP): the overlay side. Every inner frame carries MARKER, so a capture can
tell hostile frames from the rest. Prints `sent N datagrams in M packets` (M > N when IP
fragmentation was needed) or `sent N frames` on success.

The catalogue (tests/hostile.rs has one test per entry):

    truncated-header   tunnel header cut after 3 bytes                       (--to)
    truncated-inner    whole tunnel header, 10 bytes of inner frame           (--to)
    truncated-outer    IP packets whose UDP header is cut or lies about its
                       length: the kernel drops them before any socket        (--to)
    i-flag-clear       VXLAN flags 0x00                                       (--to)
    reserved-bits      VXLAN with reserved bits set, alternately plain
                       reserved fields and the GBP extension                  (--to)
    unknown-vni        a VNI the VTEP does not serve (--vni)                  (--to)
    critical-option    Geneve with a critical option and the C bit, a critical
                       option alone, the C bit alone (in turn)                (--to)
    noncritical-option Geneve with a non-critical option: must be delivered   (--to)
    big-inner          an inner frame of --size bytes; through the underlay it
                       needs IP fragmentation, which is done here             (--to, --tap)
    bad-source-mac     inner source MAC multicast, broadcast, zero (in turn)  (--to, --tap)
    vlan               an 802.1Q-tagged inner frame                           (--to, --tap)
    mac-flood          --count distinct random source MACs (--seed)          (--to, --tap)
    valid              a well-formed frame from --src-mac                     (--to, --tap)
    garp               gratuitous ARP: --ip is at --mac (request and reply
                       forms, in turn)                                        (--to, --tap)
    nd                 malformed IPv6 Neighbour Discovery for --ip6 from --src-mac,
                       in turn: hop limit 64, code 1, a bad checksum, an option
                       of length 0, an option past the end, a multicast target,
                       a multicast source, a duplicate address detection probe
                       with a link-layer option, a solicited advertisement to
                       all nodes                                              (--to, --tap)
    una                unsolicited Neighbour Advertisement to all nodes: --ip6
                       is at --mac (IPv6's gratuitous ARP)                    (--to, --tap)
    ns                 a well-formed Neighbour Solicitation for --ip6 from
                       --src-mac (fd42::66)                                   (--to, --tap)
    empty              a zero-length UDP datagram                             (--to)
    max                the largest UDP datagram IPv4 carries (65535-byte IP
                       packet, 65507 bytes of payload): a valid tunnel header
                       and inner frame, sent as IP fragments                  (--to)
    inner-checksum     inner UDP/IPv4 frames to --dst-mac (--ip-src to --ip-dst),
                       alternately with a simply wrong checksum and with a
                       partial one (the pseudo-header sum, as a sender using
                       checksum offload on the same host leaves it)           (--to)
"""

import argparse
import random
import struct
import sys

MARKER = b"overlay-lab-hostile"
# IEEE 802 local experimental EtherType: no host stack reacts to it.
ETHERTYPE = 0x88B5
VXLAN_PORT = 4789
GENEVE_PORT = 6081
# IPv4 total length is 16 bits: 65535 - 20 (IP) - 8 (UDP).
MAX_UDP_PAYLOAD = 65507

UNDERLAY_ONLY = {
    "truncated-header",
    "truncated-inner",
    "truncated-outer",
    "i-flag-clear",
    "reserved-bits",
    "unknown-vni",
    "critical-option",
    "noncritical-option",
    "empty",
    "max",
    "inner-checksum",
}
ATTACKS = sorted(
    UNDERLAY_ONLY
    | {"big-inner", "bad-source-mac", "vlan", "mac-flood", "valid", "garp", "nd", "una", "ns"}
)
# The IPv6 address of the attacker's ND.
ASKER6 = "fd42::66"
# How many malformed ND variants `nd` cycles through.
ND_VARIANTS = 9


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def payload(attack, size=60):
    """An inner Ethernet payload of the frame size `size` (header included)."""
    body = MARKER + b" " + attack.encode()
    return body.ljust(max(size - 14, 46), b"\0")


def frame(attack, src, dst="02:00:00:00:ff:fe", size=60):
    from scapy.all import Ether, Raw

    return Ether(src=src, dst=dst, type=ETHERTYPE) / Raw(payload(attack, size))


def marker_option(attack):
    """An ND option of an unknown type (250), which receivers skip, holding MARKER."""
    from scapy.all import ICMPv6NDOptUnknown

    data = MARKER + b" " + attack.encode()
    data = data.ljust(len(data) + (-(len(data) + 2)) % 8, b"\0")
    return ICMPv6NDOptUnknown(type=250, data=data)


def nd_frame(variant, args):
    """Malformed ND variant `variant` (0..ND_VARIANTS) for --ip6 from --src-mac: each breaks one
    rule of RFC 4861 section 7.1 (or RFC 4291's: no multicast source)."""
    from scapy.all import (ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, ICMPv6ND_NA, ICMPv6ND_NS,
                           IPv6, Ether, Raw, in6_getnsma, in6_getnsmac, inet_pton, socket)

    target = args.ip6
    group = socket.inet_ntop(socket.AF_INET6, in6_getnsma(inet_pton(socket.AF_INET6, target)))
    group_mac = in6_getnsmac(inet_pton(socket.AF_INET6, group))
    mark = marker_option("nd")
    eth = Ether(src=args.src_mac, dst=group_mac)
    src_ll = ICMPv6NDOptSrcLLAddr(lladdr=args.src_mac)

    def ns(ip=None, icmp=None, options=None):
        return (
            eth
            / (ip or IPv6(src=ASKER6, dst=group, hlim=255))
            / (icmp or ICMPv6ND_NS(tgt=target))
            / (options if options is not None else src_ll / mark)
        )

    v = variant % ND_VARIANTS
    if v == 0:
        return ns(ip=IPv6(src=ASKER6, dst=group, hlim=64))
    if v == 1:
        return ns(icmp=ICMPv6ND_NS(tgt=target, code=1))
    if v == 2:
        return ns(icmp=ICMPv6ND_NS(tgt=target, cksum=0x1234))
    if v == 3:
        return ns(options=ICMPv6NDOptSrcLLAddr(len=0, lladdr=args.src_mac) / mark)
    if v == 4:
        # The marker option claims 80 bytes where 24 remain.
        bad = marker_option("nd")
        bad.len = 10
        return ns(options=src_ll / bad)
    if v == 5:
        return ns(icmp=ICMPv6ND_NS(tgt="ff02::1"))
    if v == 6:
        return ns(ip=IPv6(src="ff02::1", dst=group, hlim=255))
    if v == 7:
        return ns(ip=IPv6(src="::", dst=group, hlim=255))
    return (
        Ether(src=args.src_mac, dst="33:33:00:00:00:01")
        / IPv6(src=target, dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt=target, S=1, O=1, R=0)
        / ICMPv6NDOptDstLLAddr(lladdr=args.src_mac)
        / mark
    )


def vxlan_header(vni, flags=0x08, reserved1=0, reserved2=0):
    return struct.pack("!BBH", flags, reserved1 >> 16, reserved1 & 0xFFFF) + struct.pack(
        "!I", (vni << 8) | reserved2
    )


def geneve_header(vni, options=b"", critical=False):
    assert len(options) % 4 == 0
    ver_optlen = len(options) // 4
    flags = 0x40 if critical else 0
    return (
        struct.pack("!BBH", ver_optlen, flags, 0x6558)
        + struct.pack("!I", vni << 8)
        + options
    )


def geneve_option(critical, data=b"\x01\x02\x03\x04"):
    # Class 0xffff is experimental; the high bit of the type marks the option critical.
    kind = 0x80 | 0x11 if critical else 0x11
    return struct.pack("!HBB", 0xFFFF, kind, len(data) // 4) + data


def tunnel(args, inner, header=None):
    """Tunnel header + inner frame bytes, for the configured encapsulation."""
    if header is None:
        if args.encap == "geneve":
            header = geneve_header(args.vni)
        else:
            header = vxlan_header(args.vni)
    return header + bytes(inner)


def frames(args):
    """The inner frames of a frame attack (the part that can also go out of a TAP)."""
    a = args.attack
    rnd = random.Random(args.seed)
    out = []
    if a == "big-inner":
        out = [frame(a, args.src_mac, size=args.size) for _ in range(args.count)]
    elif a == "bad-source-mac":
        bad = ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"]
        out = [frame(a, bad[i % 3]) for i in range(args.count)]
    elif a == "vlan":
        from scapy.all import Dot1Q, Ether, Raw

        out = [
            Ether(src=args.src_mac, dst="02:00:00:00:ff:fe")
            / Dot1Q(vlan=100, type=ETHERTYPE)
            / Raw(payload(a))
            for _ in range(args.count)
        ]
    elif a == "mac-flood":
        seen = set()
        while len(out) < args.count:
            # Locally administered unicast, never repeated: each one is a new FDB entry.
            mac = bytes([0x02]) + rnd.randbytes(5)
            if mac in seen:
                continue
            seen.add(mac)
            out.append(frame(a, ":".join(f"{b:02x}" for b in mac)))
    elif a == "valid":
        out = [frame(a, args.src_mac, dst=args.dst_mac) for _ in range(args.count)]
    elif a == "garp":
        from scapy.all import ARP, Ether

        for i in range(args.count):
            op = 1 if i % 2 == 0 else 2
            out.append(
                Ether(src=args.mac, dst="ff:ff:ff:ff:ff:ff")
                / ARP(op=op, hwsrc=args.mac, psrc=args.ip, hwdst="00:00:00:00:00:00", pdst=args.ip)
            )
    elif a == "nd":
        out = [nd_frame(i, args) for i in range(args.count)]
    elif a == "una":
        from scapy.all import ICMPv6NDOptDstLLAddr, ICMPv6ND_NA, IPv6, Ether

        out = [
            Ether(src=args.mac, dst="33:33:00:00:00:01")
            / IPv6(src=args.ip6, dst="ff02::1", hlim=255)
            / ICMPv6ND_NA(tgt=args.ip6, S=0, O=1, R=0)
            / ICMPv6NDOptDstLLAddr(lladdr=args.mac)
            / marker_option(a)
            for _ in range(args.count)
        ]
    elif a == "ns":
        out = [nd_frame(0, args) for _ in range(args.count)]
        for f in out:
            f.getlayer("IPv6").hlim = 255
    return out


def underlay_packets(args):
    """IP packets (scapy) of an underlay attack: a list, and whether they need fragmenting."""
    from scapy.all import IP, UDP, Raw

    a = args.attack
    port = args.port or (GENEVE_PORT if args.encap == "geneve" else VXLAN_PORT)

    def udp(data):
        return IP(dst=args.to) / UDP(sport=args.sport, dport=port) / Raw(data)

    good = frame(a, args.src_mac)
    if a == "truncated-header":
        return [udp(tunnel(args, good)[:3]) for _ in range(args.count)]
    if a == "truncated-inner":
        return [udp(tunnel(args, good)[: 8 + 10]) for _ in range(args.count)]
    if a == "truncated-outer":
        out = []
        for i in range(args.count):
            if i % 2 == 0:
                # A UDP header cut after 4 bytes.
                out.append(IP(dst=args.to, proto=17) / Raw(struct.pack("!HH", args.sport, port)))
            else:
                # A UDP header claiming 200 bytes where 20 follow.
                out.append(
                    IP(dst=args.to)
                    / UDP(sport=args.sport, dport=port, len=200, chksum=0)
                    / Raw(tunnel(args, good)[:12])
                )
        return out
    if a == "i-flag-clear":
        return [udp(tunnel(args, good, vxlan_header(args.vni, flags=0x00))) for _ in range(args.count)]
    if a == "reserved-bits":
        out = []
        for i in range(args.count):
            if i % 2 == 0:
                header = vxlan_header(args.vni, flags=0x08 | 0x40, reserved1=0xABCDEF, reserved2=0x5A)
            else:
                # Group-Based Policy (G bit, policy ID in the reserved field), as a GBP peer sends.
                header = vxlan_header(args.vni, flags=0x88, reserved1=0x00_1234)
            out.append(udp(tunnel(args, good, header)))
        return out
    if a == "unknown-vni":
        return [udp(tunnel(args, good)) for _ in range(args.count)]
    if a == "critical-option":
        variants = [
            geneve_header(args.vni, geneve_option(True), critical=True),
            geneve_header(args.vni, geneve_option(True), critical=False),
            geneve_header(args.vni, b"", critical=True),
        ]
        return [udp(tunnel(args, good, variants[i % 3])) for i in range(args.count)]
    if a == "noncritical-option":
        header = geneve_header(args.vni, geneve_option(False) + geneve_option(False, b"\0" * 8))
        return [udp(tunnel(args, good, header)) for _ in range(args.count)]
    if a == "empty":
        return [udp(b"") for _ in range(args.count)]
    if a == "inner-checksum":
        import socket
        from scapy.all import IP as InnerIP, UDP as InnerUDP, Ether, checksum

        out = []
        for i in range(args.count):
            kind = "wrong" if i % 2 == 0 else "partial"
            data = MARKER + b" inner-checksum " + kind.encode() + b" %d" % i
            ip = InnerIP(src=args.ip_src, dst=args.ip_dst) / InnerUDP(sport=7777, dport=9) / Raw(data)
            ip = InnerIP(bytes(ip))  # scapy fills in the lengths and the right checksum
            good = ip[InnerUDP].chksum
            pseudo = socket.inet_aton(args.ip_src) + socket.inet_aton(args.ip_dst)
            pseudo += struct.pack("!BBH", 0, 17, 8 + len(data))
            # The kernel's partial checksum: the folded, uncomplemented pseudo-header sum.
            partial = 0xFFFF & ~checksum(pseudo)
            ip[InnerUDP].chksum = good ^ 0x5A5A if kind == "wrong" else partial
            out.append(udp(tunnel(args, Ether(src=args.src_mac, dst=args.dst_mac) / ip)))
        return out
    if a == "max":
        header = tunnel(args, b"")
        inner = frame(a, args.src_mac, size=MAX_UDP_PAYLOAD - len(header))
        data = tunnel(args, inner)
        assert len(data) == MAX_UDP_PAYLOAD, len(data)
        return [udp(data) for _ in range(args.count)]
    return [udp(tunnel(args, f)) for f in frames(args)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("attack", choices=ATTACKS)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", help="the victim VTEP's underlay address")
    where.add_argument("--tap", help="write the inner frames onto this interface instead")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--encap", choices=["vxlan", "geneve"], default="vxlan")
    p.add_argument("--vni", type=int, default=42)
    p.add_argument("--port", type=int, help="destination UDP port [4789 or 6081]")
    p.add_argument("--sport", type=int, default=40000)
    p.add_argument("--size", type=int, default=1600, help="frame size of big-inner")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--src-mac", default="02:00:00:00:66:01")
    p.add_argument("--dst-mac", default="02:00:00:00:ff:fe")
    p.add_argument("--ip", help="garp: the address announced")
    p.add_argument("--ip-src", default="192.168.42.2", help="inner-checksum: inner source IP")
    p.add_argument("--ip-dst", default="192.168.42.1", help="inner-checksum: inner destination")
    p.add_argument("--ip6", default="fd42::2", help="nd, una, ns: the IPv6 target")
    p.add_argument("--mac", help="garp, una: the MAC it is claimed for")
    p.add_argument(
        "--fragsize",
        type=int,
        default=1400,
        help="IP fragment payload size for packets larger than the underlay MTU",
    )
    p.add_argument("--mtu", type=int, default=1500, help="the underlay MTU (decides fragmenting)")
    args = p.parse_args()
    if args.attack == "garp" and not (args.ip and args.mac):
        p.error("garp needs --ip and --mac")
    if args.attack == "una" and not args.mac:
        p.error("una needs --mac")

    from scapy.all import conf, fragment, send, sendp

    conf.verb = 0
    if args.tap:
        if args.attack in UNDERLAY_ONLY:
            p.error(f"{args.attack} is an underlay attack: use --to")
        out = frames(args)
        sendp(out, iface=args.tap, verbose=False)
        print("sent", len(out), "frames", flush=True)
        return
    wire = []
    datagrams = underlay_packets(args)
    for pkt in datagrams:
        if len(pkt) > args.mtu:
            # The underlay carries it only in pieces; the victim's kernel reassembles them.
            wire.extend(fragment(pkt, fragsize=args.fragsize))
        else:
            wire.append(pkt)
    send(wire, verbose=False)
    print("sent", len(datagrams), "datagrams in", len(wire), "packets", flush=True)


if __name__ == "__main__":
    try:
        main()
    except PermissionError as e:
        sys.exit(f"hostile.py: {e}: run as root (raw sockets)")
