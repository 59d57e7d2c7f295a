#!/usr/bin/python3
"""Conversation history through the UI, against the scripted realtime server:
two turns, a new conversation, a turn in it; the history window lists both
(title, message count), opens the older one (its messages come back), the
search finds a message of it and opens it; a conversation is deleted, then
all of them after a confirmation. A restart shows the latest conversation.
Screenshots go to build/screenshots/history-*.png."""
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, by_role, click, find, find_all, screenshot,  # noqa: E402
                          set_text, wait_until, window_named)
from lanlan_fake import (DATABASE, FakeRealtimeServer, bubbles, character, showing_texts,  # noqa: E402
                         store_key, write_characters)

ANSWER = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9"


def text_field(name):
    def pred(node):
        return node.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY) and node.name == name
    return pred


def button(name):
    def pred(node):
        return node.getRole() in (pyatspi.ROLE_PUSH_BUTTON, pyatspi.ROLE_TOGGLE_BUTTON) and \
            (node.name or "").replace("_", "") == name
    return pred


def labels(root):
    return [n.name for n in find_all(root, lambda n: n.getRole() == pyatspi.ROLE_LABEL)]


# The history window's pages all stay in the accessibility tree (GTK 4.8
# keeps a stack's hidden pages there): look inside the list wanted.
def conversations(hist):
    return find(hist, by_role(pyatspi.ROLE_LIST, "Conversations"), what="conversation list")


def results(hist):
    return find(hist, by_role(pyatspi.ROLE_LIST, "Search Results"), what="result list")


class HistoryTest(unittest.TestCase):
    def start_app(self):
        app = AppUnderTest({"GSK_RENDERER": "cairo"})
        self.addCleanup(app.stop)
        app.wait_for_app()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")
        wait_until(lambda: not any("No API key" in t for t in showing_texts(frame)),
                   what="the key is found")
        return app, frame

    def send(self, frame, text, answers):
        set_text(find(frame, text_field("Message"), what="message entry"), text)
        click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button"))
        wait_until(lambda: [b.strip() for b in bubbles(frame, "Mika")] == [ANSWER] * answers,
                   20, what="%d answer(s)" % answers)

    def history(self, app, frame):
        click(find(frame, button("Conversation History"), what="history button"))
        return window_named(app, "Conversations with Mika")

    def test_history_search_delete(self):
        server = FakeRealtimeServer(delta_interval_ms=5)
        self.addCleanup(server.stop)
        write_characters([character(server.url)])
        store_key("sk-test-history")
        app, frame = self.start_app()

        # --- an older conversation, then a new one ----------------------
        self.send(frame, "Tell me about the red planet", 1)
        self.send(frame, "And the moon?", 2)
        click(find(frame, button("New Conversation"), what="new conversation button"))
        wait_until(lambda: bubbles(frame, "You") == [] and bubbles(frame, "Mika") == [],
                   what="an empty transcript")
        self.send(frame, "Hello again", 1)

        # --- the history lists both, newest first ----------------------
        hist = self.history(app, frame)
        wait_until(lambda: "Tell me about the red planet" in labels(conversations(hist)) and
                   "Hello again" in labels(conversations(hist)), what="both conversations listed")
        texts = labels(conversations(hist))
        self.assertLess(texts.index("Hello again"), texts.index("Tell me about the red planet"))
        self.assertTrue(any(t.endswith("· 4 messages") for t in texts), texts)
        self.assertTrue(any(t.endswith("· 2 messages") for t in texts), texts)
        screenshot("history-browser")

        # --- open the older one: its messages come back ----------------
        wait_until(lambda: len(find_all(conversations(hist), button("Open Conversation"))) == 2,
                   what="an open button per conversation")
        opens = find_all(conversations(hist), button("Open Conversation"))
        click(opens[1])
        wait_until(lambda: bubbles(frame, "You") == ["Tell me about the red planet", "And the moon?"],
                   what="the older conversation shown")
        # it goes on from there
        self.send(frame, "What about Venus?", 3)

        # --- search finds a message of the other one, and opens it -----
        hist = self.history(app, frame)
        set_text(find(hist, text_field("Search all messages"), what="search entry"), "again")
        wait_until(lambda: len(find_all(results(hist), button("Open Conversation"))) == 1 and
                   any("again" in t for t in labels(results(hist))), what="one search result")
        screenshot("history-search")
        click(find(results(hist), button("Open Conversation"), what="the result's open button"))
        wait_until(lambda: bubbles(frame, "You") == ["Hello again"], what="the found conversation shown")

        # --- delete one; clear all after a confirmation ----------------
        hist = self.history(app, frame)
        wait_until(lambda: len(find_all(conversations(hist), button("Delete Conversation"))) == 2, what="two rows")
        # newest first: the older conversation went on ("Venus"), so it leads
        click(find_all(conversations(hist), button("Delete Conversation"))[0])
        wait_until(lambda: len(find_all(conversations(hist), button("Delete Conversation"))) == 1, what="one row left")
        self.assertNotIn("Tell me about the red planet", labels(conversations(hist)))
        click(find(hist, button("Clear All…"), what="clear all button"))
        dialog = window_named(app, "Delete All Conversations?")
        screenshot("history-clear-all")
        # AdwMessageDialog's response buttons carry their label as a child
        confirm = find_all(dialog, lambda n: n.getRole() == pyatspi.ROLE_PUSH_BUTTON and
                           "Delete All" in (n.name or "").replace("_", ""))
        if not confirm:
            confirm = [find(dialog, by_role(pyatspi.ROLE_LABEL, "Delete All"), what="confirm label").parent]
        click(confirm[0])
        wait_until(lambda: find_all(conversations(hist), button("Delete Conversation")) == [],
                   what="empty history")
        screenshot("history-empty")
        click(find(hist, by_role(pyatspi.ROLE_PUSH_BUTTON, "Close"), what="close button"))
        wait_until(lambda: bubbles(frame, "You") == [], what="an empty transcript after clearing")

        # --- the database agrees ---------------------------------------
        app.stop()
        db = sqlite3.connect(DATABASE)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            self.assertEqual(db.execute("SELECT count(*) FROM messages").fetchone()[0], 0)
        finally:
            db.close()

    def test_restart_shows_latest(self):
        server = FakeRealtimeServer(delta_interval_ms=5)
        self.addCleanup(server.stop)
        write_characters([character(server.url)])
        store_key("sk-test-history")
        app, frame = self.start_app()
        self.send(frame, "Remember this", 1)
        app.stop()

        app, frame = self.start_app()
        wait_until(lambda: bubbles(frame, "You") == ["Remember this"] and
                   [b.strip() for b in bubbles(frame, "Mika")] == [ANSWER],
                   what="the conversation back after a restart")
        screenshot("history-restart")


if __name__ == "__main__":
    unittest.main(verbosity=2)
