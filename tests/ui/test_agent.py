#!/usr/bin/python3
"""The agent, end to end through the real app: with the bridge switched on,
a Python ZeroMQ agent on 127.0.0.1 gets an analyze request after the
user's turn, sends back a task result for the character, and the result
shows in the character's window as a toast, reaches the model (a text-mode
character, so an OpenAI-compatible chat server stands in) as context, and
the character speaks up about it. A result for another character, whose
window is not open, changes nothing here. A direct reply becomes the
character's own message, word for word. When the window is not the
active one, the result also goes to the desktop's notification service
(a stand-in on this test's private D-Bus records it)."""
import http.server
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
import zmq  # noqa: E402
from gi.repository import Gio, GLib  # noqa: E402
from lanlan_atspi import (AppUnderTest, app_action, by_role, click, find,  # noqa: E402
                          screenshot, set_text, wait_until)
from lanlan_fake import (bubbles, character, showing_texts,  # noqa: E402
                         store_key, write_characters)

KEYFILE = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                       "glib-2.0", "settings", "keyfile")
GROUP = "io/github/lanlan/Lanlan"

NOTIFICATIONS_XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
  </interface>
</node>"""


class FakeNotificationDaemon:
    """org.freedesktop.Notifications on the session bus, recording Notify calls."""

    def __init__(self):
        self.calls = []
        self.ready = threading.Event()
        self.context = GLib.MainContext.new()
        self.loop = GLib.MainLoop.new(self.context, False)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5), "notification daemon did not start"

    def _call(self, conn, sender, path, iface, method, params, invocation):
        if method == "Notify":
            args = params.unpack()
            self.calls.append({"summary": args[3], "body": args[4]})
            invocation.return_value(GLib.Variant("(u)", (len(self.calls),)))
        elif method == "GetCapabilities":
            invocation.return_value(GLib.Variant("(as)", (["body", "actions"],)))
        elif method == "GetServerInformation":
            invocation.return_value(GLib.Variant("(ssss)", ("fake", "lanlan-tests", "1", "1.2")))
        else:
            invocation.return_value(None)

    def _run(self):
        self.context.push_thread_default()
        bus = Gio.bus_get_sync(Gio.BusType.SESSION)
        info = Gio.DBusNodeInfo.new_for_xml(NOTIFICATIONS_XML).interfaces[0]
        bus.register_object("/org/freedesktop/Notifications", info, self._call)

        def acquired(*_):
            self.ready.set()
        Gio.bus_own_name_on_connection(bus, "org.freedesktop.Notifications",
                                       Gio.BusNameOwnerFlags.NONE, acquired, None)
        self.loop.run()

    def stop(self):
        self.context.invoke_full(GLib.PRIORITY_DEFAULT, self.loop.quit)


class FakeChatServer:
    """The OpenAI-compatible server a text-mode character talks to: lists
    one model, streams a short answer to each POST /v1/chat/completions and
    keeps the requests; refuses anything else (speech included: the app
    says so and goes on)."""

    def __init__(self):
        self.requests = []
        self.paths = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.paths.append("POST " + self.path)
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = json.loads(body)
                assert isinstance(request.get("messages"), list), request
                owner.requests.append(request)
                n = len(owner.requests)
                chunks = ["Answer ", "number ", "%d." % n]
                out = b""
                for c in chunks:
                    out += b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": c}}]}).encode() + b"\n\n"
                out += b"data: " + json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).encode() + b"\n\n"
                out += b"data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                owner.paths.append("GET " + self.path)
                if self.path != "/v1/models":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                out = json.dumps({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "ws://127.0.0.1:%d/v1/realtime" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def system_messages(self):
        out = []
        for r in list(self.requests):
            for m in r["messages"]:
                if m.get("role") == "system" and m.get("content") not in out:
                    out.append(m.get("content"))
        return out

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """A minimal agent, as a N.E.K.O.-style agent connects to the app."""

    def __init__(self, pub, pull, push):
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.results = self.ctx.socket(zmq.PUSH)
        self.requests = self.ctx.socket(zmq.PULL)
        # The app's PUB drops what it sends before a subscriber is connected,
        # and its PUSH what finds no peer: wait until each handshake is done
        # (on a loaded machine it takes longer than any fixed pause).
        for s, port in ((self.sub, pub), (self.results, pull), (self.requests, push)):
            s.setsockopt(zmq.LINGER, 0)
            monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            s.connect("tcp://127.0.0.1:%d" % port)
            try:
                if not monitor.poll(30000):
                    raise AssertionError("the agent never connected to the app's port %d" % port)
            finally:
                s.disable_monitor()
                monitor.close(0)

    def next_request(self, timeout=15):
        if not self.requests.poll(timeout * 1000):
            raise AssertionError("no analyze request from the app")
        msg = json.loads(self.requests.recv())
        self.send({"event_type": "analyze_ack", "event_id": msg["event_id"]})
        return msg

    def session_events(self):
        out = []
        while self.sub.poll(0):
            out.append(json.loads(self.sub.recv()))
        return out

    def send(self, obj):
        self.results.send(json.dumps(obj).encode())

    def close(self):
        self.ctx.destroy(0)


class AgentTest(unittest.TestCase):
    def test_agent_result_reaches_the_character(self):
        pub, pull, push = free_port(), free_port(), free_port()
        os.makedirs(os.path.dirname(KEYFILE), exist_ok=True)
        with open(KEYFILE, "w", encoding="utf-8") as f:
            f.write("[%s]\nagent-enabled=true\nagent-pub-port=uint32 %d\n"
                    "agent-pull-port=uint32 %d\nagent-push-port=uint32 %d\n"
                    % (GROUP, pub, pull, push))

        notifications = FakeNotificationDaemon()
        self.addCleanup(notifications.stop)
        server = FakeChatServer()
        self.addCleanup(server.stop)
        mika = character(server.url)
        mika["input-mode"] = "text"
        # Someone whose window is not open: results for her wait for her.
        hana = character(server.url, name="Hana", cid="hana")
        hana["open-on-start"] = False
        write_characters([mika, hana])
        store_key("sk-agent-test-0123456789")

        app = AppUnderTest({"GSETTINGS_BACKEND": "keyfile"})
        self.addCleanup(app.stop)
        app.wait_for_app()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")
        wait_until(lambda: not any("No API key" in t for t in showing_texts(frame)),
                   what="the key is found")

        agent = Agent(pub, pull, push)
        self.addCleanup(agent.close)
        time.sleep(0.3)   # and the subscription reach the app's PUB

        entry = find(frame, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Message",
                     what="message entry")
        set_text(entry, "Where is my package?")
        click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button"))
        try:
            wait_until(lambda: len(bubbles(frame, "Mika")) >= 1, timeout=20, what="first answer")
        except AssertionError:
            print(app.output()[-3000:], file=sys.stderr)
            print("chat requests:", len(server.requests), server.paths, file=sys.stderr)
            raise

        try:
            request = agent.next_request()
        except AssertionError:
            print(app.output()[-3000:], file=sys.stderr)
            print("session events:", agent.session_events(), file=sys.stderr)
            raise
        self.assertEqual(request["trigger"], "turn_end")
        self.assertEqual(request["lanlan_name"], "Mika")
        self.assertEqual(request["messages"][0], {"role": "user", "content": "Where is my package?"})
        self.assertEqual(request["messages"][1]["role"], "assistant")
        self.assertLessEqual(len(request["messages"]), 6)
        self.assertTrue(request.get("conversation_id"))
        types = [e.get("event_type") for e in agent.session_events()]
        self.assertIn("session_start", types)
        self.assertIn("turn_end", types)

        agent.send({"event_type": "task_result", "lanlan_name": "Hana", "task_id": "t0",
                    "success": True, "summary": "Not for Mika", "text": "Not for Mika"})
        agent.send({"event_type": "task_result", "lanlan_name": "Mika", "task_id": "t1",
                    "status": "completed", "success": True, "summary": "Package tracked",
                    "text": "Package tracked",
                    "detail": "The package arrives tomorrow before noon."})

        wait_until(lambda: "Package tracked" in showing_texts(frame), timeout=10,
                   what="the agent's result as a toast")
        screenshot("agent-toast")

        def injected():
            return any("✅ Package tracked" in m and "The package arrives tomorrow before noon." in m
                       for m in server.system_messages())
        wait_until(injected, timeout=10, what="the result sent to the model as context")
        # In text mode the character speaks up about it at once.
        wait_until(lambda: len(bubbles(frame, "Mika")) >= 2, timeout=20,
                   what="the character's answer to the result")
        self.assertNotIn("Not for Mika", showing_texts(frame))
        self.assertFalse(any("Not for Mika" in m for m in server.system_messages()))

        # A direct reply is the character's own message, not the model's.
        n_requests = len(server.requests)
        agent.send({"event_type": "task_result", "lanlan_name": "Mika", "task_id": "t2",
                    "status": "completed", "success": True, "direct_reply": True,
                    "text": "Kettle", "detail": "I've put the kettle on for you!"})
        wait_until(lambda: "I've put the kettle on for you!" in showing_texts(frame), timeout=10,
                   what="the direct reply as Mika's message")
        time.sleep(0.5)
        self.assertEqual(len(server.requests), n_requests)

        # A window in front shows the toast only...
        self.assertTrue(frame.getState().contains(pyatspi.STATE_ACTIVE))
        time.sleep(0.5)
        self.assertEqual(notifications.calls, [])

        # ...one behind another window (Preferences) also tells the desktop.
        app_action("preferences")
        wait_until(lambda: not frame.getState().contains(pyatspi.STATE_ACTIVE),
                   what="Mika's window in the background")
        agent.send({"event_type": "proactive_message", "lanlan_name": "Mika",
                    "text": "Your package was just delivered."})
        wait_until(lambda: any(c["body"] == "Your package was just delivered." for c in notifications.calls),
                   timeout=10, what="a desktop notification")
        self.assertEqual(notifications.calls[-1]["summary"], "Mika")
        self.assertFalse(any("Not for Mika" in c["body"] for c in notifications.calls))


if __name__ == "__main__":
    unittest.main(verbosity=2)
