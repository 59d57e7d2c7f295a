#!/usr/bin/python3
"""SIGKILL durability: the real app, against the scripted realtime server,
is sent messages through AT-SPI and killed with SIGKILL at a random moment,
several times over. After every kill the database passes PRAGMA
integrity_check and holds every message the window showed as sent (the
user's messages the character answered, and those answers) before the kill;
the next start shows them again."""
import os
import random
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import AppUnderTest, by_role, click, find, set_text, wait_until  # noqa: E402
from lanlan_fake import DATABASE, FakeRealtimeServer, bubbles, character, store_key, write_characters  # noqa: E402

ANSWER = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"
ROUNDS = 4


def text_field(name):
    def pred(node):
        return node.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY) and node.name == name
    return pred


def stored():
    """(integrity, user texts, number of finished replies) in the database."""
    db = sqlite3.connect(DATABASE)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        users = [r[0] for r in db.execute("SELECT text FROM messages WHERE role = 'user' ORDER BY num")]
        replies = db.execute("SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'sent'"
                             ).fetchone()[0]
        return integrity, users, replies
    finally:
        db.close()


class DurabilityTest(unittest.TestCase):
    def test_sigkill(self):
        rng = random.Random(int(os.environ.get("LANLAN_DURABILITY_SEED", "1234")))
        server = FakeRealtimeServer(delta_interval_ms=5)
        self.addCleanup(server.stop)
        write_characters([character(server.url)])
        store_key("sk-test-durable")
        shown_users = []      # answered user messages seen before some kill
        n = 0

        for round_ in range(ROUNDS):
            app = AppUnderTest({"GSK_RENDERER": "cairo"})
            self.addCleanup(app.stop)
            app.wait_for_app()
            frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")
            # What survived the last kill is shown again.
            wait_until(lambda: bubbles(frame, "You")[:len(shown_users)] == shown_users, 20,
                       what="the stored conversation shown after a restart")
            entry = find(frame, text_field("Message"), what="message entry")
            send = find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button")

            for _ in range(rng.randint(2, 4)):
                n += 1
                set_text(entry, "message %d" % n)
                click(send)
                time.sleep(rng.uniform(0, 0.4))

            # What the window shows as sent right now: a user message the
            # character answered (the last answer complete), and the answers.
            users = bubbles(frame, "You")
            answers = [b.strip() for b in bubbles(frame, "Mika")]
            complete = sum(1 for a in answers if a == ANSWER)
            answered = users[:complete]
            os.kill(app.proc.pid, signal.SIGKILL)
            app.proc.wait()

            integrity, stored_users, stored_replies = stored()
            self.assertEqual(integrity, "ok", "round %d" % round_)
            for text in answered:
                self.assertIn(text, stored_users, "round %d: %r shown, not stored" % (round_, text))
            self.assertGreaterEqual(stored_replies, complete, "round %d" % round_)
            print("round %d: %d answered shown, %d user and %d replies stored" %
                  (round_, len(answered), len(stored_users), stored_replies), file=sys.stderr)
            shown_users = answered


if __name__ == "__main__":
    unittest.main(verbosity=2)
