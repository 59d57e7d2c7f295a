#!/usr/bin/python3
# agent_peer.py — a minimal agent speaking the N.E.K.O. event bus, written
# independently of the C bridge (pyzmq, JSON frames) to check that the two
# really interoperate: it connects SUB/PULL/PUSH to the bridge's endpoints,
# acks one analyze_request, answers with a task_result carrying the first
# user message, and exits 0 once it sees session_end for that character.
# Like N.E.K.O.'s agent today it also sends agent_bridge_ready and a
# heartbeat every second, and a plugin's music_play_url, which Lanlan
# must ignore quietly.
#
# SPDX-License-Identifier: GPL-3.0-or-later
import json
import sys
import time

import zmq

pub_ep, pull_ep, push_ep = sys.argv[1:4]
for ep in (pub_ep, pull_ep, push_ep):
    assert ep.startswith("tcp://127.0.0.1:"), ep

ctx = zmq.Context()
sub = ctx.socket(zmq.SUB)
sub.setsockopt(zmq.LINGER, 0)
sub.connect(pub_ep)
sub.setsockopt_string(zmq.SUBSCRIBE, "")
analyze = ctx.socket(zmq.PULL)
analyze.setsockopt(zmq.LINGER, 0)
analyze.connect(push_ep)
push = ctx.socket(zmq.PUSH)
push.setsockopt(zmq.LINGER, 1000)
push.connect(pull_ep)

# Tell the bridge we are here once the connections had time to complete:
# a bound PUSH socket with no peer yet cannot send.
time.sleep(0.2)
push.send_json({"event_type": "agent_bridge_ready", "pid": 1})
push.send_json({"event_type": "agent_status_update", "status": "ready"})
last_beat = time.monotonic()

deadline = time.monotonic() + 20
poller = zmq.Poller()
poller.register(sub, zmq.POLLIN)
poller.register(analyze, zmq.POLLIN)
name = None
seen_ids = set()

while time.monotonic() < deadline:
    if time.monotonic() - last_beat >= 1.0:
        push.send_json({"event_type": "agent_bridge_heartbeat", "pid": 1})
        last_beat = time.monotonic()
    for sock, _ in poller.poll(100):
        msg = sock.recv_json()
        assert isinstance(msg, dict), msg
        if sock is analyze:
            assert msg["event_type"] == "analyze_request", msg
            assert msg["trigger"] in ("turn_end", "session_end"), msg
            assert all(set(m) == {"role", "content"} for m in msg["messages"]), msg
            assert 1 <= len(msg["messages"]) <= 6, msg
            assert isinstance(msg.get("conversation_id", ""), str), msg
            push.send_json({"event_type": "analyze_ack", "event_id": msg["event_id"]})
            if msg["event_id"] in seen_ids:
                continue
            seen_ids.add(msg["event_id"])
            name = msg["lanlan_name"]
            first_user = next(m["content"] for m in msg["messages"] if m["role"] == "user")
            push.send_json({"event_type": "music_play_url", "url": "http://127.0.0.1/a.mp3",
                            "name": "Plugin Music", "artist": "External"})
            push.send_json({
                "event_type": "task_result",
                "lanlan_name": name,
                "task_id": "py-1",
                "status": "completed",
                "success": True,
                "text": first_user,
                "summary": "echo",
                "detail": "",
                "error_message": None,
                "direct_reply": False,
            })
        else:
            assert "event_type" in msg and "lanlan_name" in msg, msg
            if msg["event_type"] == "session_end" and msg["lanlan_name"] == name:
                ctx.destroy(linger=0)
                sys.exit(0)

print("agent_peer: timed out", file=sys.stderr)
sys.exit(1)
