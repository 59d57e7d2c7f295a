#!/usr/bin/python3
# agent_flood.py — a misbehaving agent for bench-agent-flood, in its own
# process so that its memory is not counted as Lanlan's.
#
#   push ENDPOINT RATE SECONDS NAME   proactive_message floods into the PULL
#                                     socket, non-blocking as N.E.K.O.'s
#                                     agent sends (refused sends counted)
#   subscribe ENDPOINT BYTES          distinct 64-byte subscriptions on a SUB
#                                     socket until BYTES were sent
#   rawpush ENDPOINT BYTES            a raw ZMTP 3.0 peer that says it is a
#                                     PULL socket and then writes BYTES of
#                                     frames into the bridge's PUSH socket
#
# Prints one JSON line with what it did, then waits for stdin to close
# (so the connection stays while Lanlan is measured) and exits 0.
#
# SPDX-License-Identifier: GPL-3.0-or-later
import json
import socket
import struct
import sys
import time

import zmq


def wait_stdin():
    sys.stdout.flush()
    sys.stdin.read()


def push(endpoint, rate, seconds, name):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    time.sleep(0.2)
    sent = refused = 0
    start = time.monotonic()
    end = start + seconds
    n = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        # Pace in slices of 1000 messages.
        due = start + n / rate
        if due > now:
            time.sleep(due - now)
        for _ in range(1000):
            msg = json.dumps({"event_type": "proactive_message", "lanlan_name": name,
                              "text": "Look at this, number %d!" % n, "status": "completed",
                              "success": True}).encode()
            n += 1
            try:
                s.send(msg, zmq.NOBLOCK)
                sent += 1
            except zmq.Again:
                refused += 1
    elapsed = time.monotonic() - start
    print(json.dumps({"sent": sent, "refused": refused, "seconds": elapsed}))
    wait_stdin()
    ctx.destroy(linger=0)


def subscribe(endpoint, nbytes):
    ctx = zmq.Context()
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 0)
    s.connect(endpoint)
    time.sleep(0.2)
    total = count = 0
    start = time.monotonic()
    while total < nbytes:
        topic = b"%063d" % count
        s.setsockopt(zmq.SUBSCRIBE, topic)
        total += len(topic) + 1
        count += 1
    print(json.dumps({"subscriptions": count, "bytes": total,
                      "seconds": time.monotonic() - start}))
    wait_stdin()
    ctx.destroy(linger=0)


def rawpush(endpoint, nbytes):
    assert endpoint.startswith("tcp://")
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    # ZMTP 3.0 greeting, NULL mechanism, then READY as a PULL socket.
    sock.sendall(b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00")
                 + b"\x00" + b"\x00" * 31)
    prop = b"\x0bSocket-Type" + struct.pack(">I", 4) + b"PULL"
    body = b"\x05READY" + prop
    sock.sendall(b"\x04" + bytes([len(body)]) + body)
    frame = b"\x02" + struct.pack(">Q", 65536) + b"x" * 65536
    sock.settimeout(2.0)
    sent = 0
    start = time.monotonic()
    try:
        while sent < nbytes:
            sock.sendall(frame)
            sent += len(frame)
    except (socket.timeout, OSError):
        pass
    print(json.dumps({"bytes": sent, "seconds": time.monotonic() - start}))
    wait_stdin()
    sock.close()


def main():
    mode = sys.argv[1]
    if mode == "push":
        push(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif mode == "subscribe":
        subscribe(sys.argv[2], int(sys.argv[3]))
    elif mode == "rawpush":
        rawpush(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
