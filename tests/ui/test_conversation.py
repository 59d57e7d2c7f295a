#!/usr/bin/python3
"""A real conversation through the UI, against the scripted realtime server
(tests/ui/fake-realtime-server) on 127.0.0.1: a typed message goes out, the
header says the session is connected, the character's streamed answer
lands in a bubble; editing the persona hot-swaps the session (the header
indicator goes through its stages) and the conversation goes on with the
new persona and nothing lost; the server dying shows a clear
"could not reach" state and the window recovers once a server is back; a
refused key shows the refused-key banner."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, app_action, by_role, click, find, find_all, screenshot,  # noqa: E402
                          set_text, wait_until, window_named)
from lanlan_fake import (FakeRealtimeServer, bubbles, character, showing, showing_texts,  # noqa: E402
                         store_key, write_characters)

ANSWER = " ".join("w%d" % i for i in range(10))


def text_field(name):
    def pred(node):
        return node.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY) and node.name == name
    return pred


def button(name):
    def pred(node):
        if node.getRole() != pyatspi.ROLE_PUSH_BUTTON or not node.name:
            return False
        label = node.name.replace("_", "")
        return label == name or label.startswith(name + " ")
    return pred



# What the session says when the service cannot be reached (src/realtime).
NETWORK_MESSAGES = ("Could not connect to the service", "The connection to the service was lost",
                    "Stopped reconnecting", "The service did not answer in time")


def network_banner(frame):
    return any(t.startswith(NETWORK_MESSAGES) for t in showing_texts(frame))

class ConversationTest(unittest.TestCase):
    def start_server(self, **kw):
        server = FakeRealtimeServer(**kw)
        self.addCleanup(server.stop)
        return server

    def start_app(self, url, key="sk-test-1234", **char):
        write_characters([character(url, **char)])
        store_key(key)
        # Cairo: llvmpipe compiling GL shaders on a loaded machine can hold
        # the main loop for seconds, longer than a hot swap's stages last.
        app = AppUnderTest({"GSK_RENDERER": "cairo"})
        self.addCleanup(app.stop)
        app.wait_for_app()
        self.app = app
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")
        # the key is found: no onboarding banner
        wait_until(lambda: not any("No API key" in t for t in showing_texts(frame)),
                   what="onboarding banner hidden")
        return app, frame

    def send(self, frame, text):
        set_text(find(frame, text_field("Message"), what="message entry"), text)
        click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button"))

    def wait_answers(self, frame, n, timeout=15):
        def cond():
            got = [b.strip() for b in bubbles(frame, "Mika")]
            return len(got) >= n and all(a == ANSWER for a in got[:n])
        wait_until(cond, timeout, what="%d answer(s) from Mika" % n)

    def test_conversation_hot_swap_and_reconnect(self):
        server = self.start_server(session_delay_ms=3000)
        app, frame = self.start_app(server.url)
        self.assertIn("Not connected", showing_texts(frame))

        # --- one turn ---------------------------------------------------
        self.send(frame, "Hello Mika")
        wait_until(lambda: bubbles(frame, "You") == ["Hello Mika"], what="user bubble")
        wait_until(lambda: any(t in ("Connected", "Speaking…") for t in showing_texts(frame)),
                   what="connected status")
        # the answer streams in: a partial bubble first, then the whole of it
        wait_until(lambda: any(b.strip() and b.strip() != ANSWER and ANSWER.startswith(b.strip())
                               for b in bubbles(frame, "Mika")) or bubbles(frame, "Mika"),
                   what="streaming answer")
        self.wait_answers(frame, 1)
        wait_until(lambda: "Connected" in showing_texts(frame), what="connected after the answer")
        # Mika's face: in the header and at the start of her answer
        wait_until(lambda: len(find_all(frame, lambda n: n.getRole() == pyatspi.ROLE_IMAGE and
                                        n.name == "Mika" and showing(n))) >= 2,
                   what="Mika's avatar in the header and by her answer")
        self.assertTrue(any(e.get("type") == "response.create" for e in server.received(0)))
        screenshot("conversation-first-turn")

        # --- hot swap: new persona through the editor ------------------
        app_action("edit-character", "'mika'")
        prefs = window_named(app, "Preferences")
        persona = find(prefs, text_field("Persona"), what="persona field")
        set_text(persona, "You are Mika, and you now speak like a pirate.")
        click(find(prefs, button("Save"), what="save button"))

        seen = set()
        stages = ("Applying changes…", "Switching at the end of this turn…", "Changes applied")

        def swapped():
            cur = [t for t in showing_texts(frame) if t in stages]
            seen.update(cur)
            return "Changes applied" in seen
        wait_until(swapped, 15, what="hot swap to finish")
        # PREPARING and READY may come within one frame: either shows progress
        self.assertTrue(seen & {"Applying changes…", "Switching at the end of this turn…"},
                        "the indicator showed no progress: %r" % seen)
        screenshot("conversation-hot-swap")

        # the new session got the new persona
        def new_persona_sent():
            for i in range(1, server.n_connections()):
                for e in server.received(i):
                    if e.get("type") == "session.update" and "pirate" in str(e):
                        return True
            return False
        wait_until(new_persona_sent, what="new persona in a session.update")
        click(find(prefs, button("Close"), what="Preferences close button"))

        # the conversation goes on, nothing lost
        self.send(frame, "Still there?")
        self.wait_answers(frame, 2)
        self.assertEqual(bubbles(frame, "You"), ["Hello Mika", "Still there?"])

        # --- the server dies mid-session -------------------------------
        port = server.port
        server.stop()
        wait_until(lambda: network_banner(frame)
                   or "Reconnecting…" in showing_texts(frame),
                   15, what="a lost-connection state")
        self.assertTrue("Reconnecting…" in showing_texts(frame) or
                        network_banner(frame))
        screenshot("conversation-server-lost")

        server2 = self.start_server(port=port)
        wait_until(lambda: "Connected" in showing_texts(frame), 30, what="reconnected")
        wait_until(lambda: not network_banner(frame),
                   what="lost-connection banner gone after recovery")
        self.send(frame, "Back again")
        self.wait_answers(frame, 3)
        self.assertEqual(bubbles(frame, "You"), ["Hello Mika", "Still there?", "Back again"])
        self.assertGreaterEqual(server2.n_connections(), 1)
        # nothing the app sent was refused by the (strict) fake service
        for srv in (server, server2):
            for i in range(srv.n_connections()):
                self.assertEqual(srv.provoked_errors(i), [], "connection %d" % i)
        screenshot("conversation-recovered")

    def test_refused_key(self):
        server = self.start_server(expected_key="sk-right")
        app, frame = self.start_app(server.url, key="sk-wrong")
        self.send(frame, "Hello?")
        wait_until(lambda: any(t.startswith("The service refused the API key") for t in showing_texts(frame)),
                   15, what="refused key banner")
        find(frame, button("Change Key…"), what="change key button")
        # the message is kept in the transcript
        self.assertEqual(bubbles(frame, "You"), ["Hello?"])
        self.assertEqual(bubbles(frame, "Mika"), [])
        screenshot("conversation-refused-key")


if __name__ == "__main__":
    unittest.main(verbosity=2)
