#!/usr/bin/env python3
"""A scripted BGP peer for native-vtep's tests (tests/common/bgp.rs drives it).

    peer.py LISTEN_ADDR ROUTER_ID ASN HOLD_TIME CONTROL_SOCKET [refuse=CODE,SUBCODE]

It listens on LISTEN_ADDR:179 in its network namespace, answers each connection with an OPEN
(L2VPN/EVPN, route refresh, 4-octet AS) and KEEPALIVEs, keeps every message it receives, and
does what the test asks over a Unix socket, one JSON request and one JSON answer per
connection:

    {"cmd": "wait", "secs": N}     wait until a session is established: {"ok": true|false}
    {"cmd": "send", "hex": "..."}  write these bytes on the current session
    {"cmd": "received"}            {"messages": [[type, hex], ...], "sessions": N, "closed": N}
    {"cmd": "silent", "on": B}     stop (or resume) sending KEEPALIVEs, reading on
    {"cmd": "close"}               close the current session's connection

A new connection replaces the current one, so the daemon may reconnect after a reset. With
`refuse=CODE,SUBCODE` it answers every OPEN with that NOTIFICATION and closes, as a peer that
refuses the session does.
"""

import json
import os
import socket
import struct
import sys
import threading
import time

listen, router_id, asn, hold, control = sys.argv[1:6]
asn, hold = int(asn), int(hold)
refuse = None
if len(sys.argv) > 6 and sys.argv[6].startswith("refuse="):
    refuse = bytes(int(x) for x in sys.argv[6][len("refuse="):].split(","))
lock = threading.Lock()
state = {"conn": None, "established": False, "sessions": 0, "closed": 0, "silent": False}
messages = []


def message(kind, body=b""):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), kind) + body


def open_message():
    caps = (
        bytes([1, 4, 0, 25, 0, 70])  # multiprotocol L2VPN/EVPN
        + bytes([2, 0])  # route refresh
        + bytes([65, 4]) + struct.pack("!I", asn)  # 4-octet AS
    )
    params = bytes([2, len(caps)]) + caps
    body = struct.pack("!BHH4sB", 4, asn if asn < 65536 else 23456, hold,
                       socket.inet_aton(router_id), len(params)) + params
    return message(1, body)


def send(conn, data):
    try:
        conn.sendall(data)
    except OSError:
        pass


def serve(conn):
    if refuse is None:
        send(conn, open_message())
    buf = b""
    while True:
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            break
        buf += data
        while len(buf) >= 19:
            length = struct.unpack("!H", buf[16:18])[0]
            if length < 19 or len(buf) < length:
                break
            msg, buf = buf[:length], buf[length:]
            kind = msg[18]
            with lock:
                messages.append([kind, msg.hex()])
                current = state["conn"] is conn
            if kind == 1 and refuse is not None:
                send(conn, message(3, refuse))
                conn.shutdown(socket.SHUT_RDWR)
            elif kind == 1 and current:
                send(conn, message(4))
            elif kind == 4 and current:
                with lock:
                    if not state["established"]:
                        state["established"] = True
                        state["sessions"] += 1
    with lock:
        state["closed"] += 1
        if state["conn"] is conn:
            state["conn"] = None
            state["established"] = False
    conn.close()


def acceptor(s):
    while True:
        conn, _ = s.accept()
        with lock:
            old = state["conn"]
            state["conn"] = conn
            state["established"] = False
        if old is not None:
            try:
                old.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def keepalives():
    while True:
        time.sleep(max(hold / 3, 0.3))
        with lock:
            conn = state["conn"] if state["established"] and not state["silent"] else None
        if conn is not None:
            send(conn, message(4))


def handle(request):
    cmd = request["cmd"]
    if cmd == "wait":
        deadline = time.time() + request.get("secs", 10)
        while time.time() < deadline:
            with lock:
                if state["established"]:
                    return {"ok": True}
            time.sleep(0.02)
        return {"ok": False}
    if cmd == "send":
        with lock:
            conn = state["conn"]
        if conn is None:
            return {"ok": False, "error": "no session"}
        send(conn, bytes.fromhex(request["hex"]))
        return {"ok": True}
    if cmd == "received":
        with lock:
            return {"messages": list(messages), "sessions": state["sessions"],
                    "closed": state["closed"], "established": state["established"]}
    if cmd == "silent":
        with lock:
            state["silent"] = bool(request["on"])
        return {"ok": True}
    if cmd == "close":
        with lock:
            conn = state["conn"]
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return {"ok": True}
    return {"ok": False, "error": "unknown command " + cmd}


def controller():
    if os.path.exists(control):
        os.unlink(control)
    s = socket.socket(socket.AF_UNIX)
    s.bind(control)
    s.listen(4)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        with c, c.makefile("rwb") as f:
            line = f.readline()
            try:
                answer = handle(json.loads(line))
            except Exception as e:  # a test's mistake: say so, keep serving
                answer = {"ok": False, "error": repr(e)}
            f.write(json.dumps(answer).encode() + b"\n")


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((listen, 179))
server.listen(4)
threading.Thread(target=acceptor, args=(server,), daemon=True).start()
threading.Thread(target=keepalives, daemon=True).start()
controller()
