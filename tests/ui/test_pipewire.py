#!/usr/bin/python3
"""PipeWire going away and coming back, with the app open: the window says
there is no sound (a banner with the reason), the banner goes by itself
once PipeWire is back, and the window's speaker stream is in the graph
again. Started without PipeWire, the app says so in the window, not only
on stderr, and recovers the same way."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import AppUnderTest, by_role, find, screenshot, wait_until  # noqa: E402
from lanlan_fake import FakeRealtimeServer, character, showing_texts, store_key, write_characters  # noqa: E402


def audio(what):
    subprocess.run([os.environ["LANLAN_TEST_AUDIO"], what], check=True)


def no_sound_banner(frame):
    return any(t.startswith("No sound:") for t in showing_texts(frame))


def playback_in_graph():
    out = subprocess.run(["pw-cli", "ls", "Node"], capture_output=True, text=True).stdout
    return 'node.name = "lanlan-playback"' in out


class PipeWireTest(unittest.TestCase):
    def start_app(self):
        server = FakeRealtimeServer()
        self.addCleanup(server.stop)
        write_characters([character(server.url)])
        store_key("sk-pipewire-test-0123")
        app = AppUnderTest()
        self.addCleanup(app.stop)
        app.wait_for_app()
        return app, find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")

    def test_restart(self):
        app, frame = self.start_app()
        wait_until(playback_in_graph, 15, what="the window's speaker stream")
        self.assertFalse(no_sound_banner(frame))

        audio("stop")
        wait_until(lambda: no_sound_banner(frame), 15, what="the no-sound banner")
        screenshot("pipewire-gone")

        audio("start")
        wait_until(lambda: not no_sound_banner(frame), 20, what="the banner gone once PipeWire is back")
        wait_until(playback_in_graph, 15, what="the speaker stream back in the graph")
        self.assertIsNone(app.proc.poll())

    def test_absent_at_start(self):
        audio("stop")
        app, frame = self.start_app()
        wait_until(lambda: no_sound_banner(frame), 15, what="the no-sound banner")
        self.assertTrue(any("PipeWire" in t for t in showing_texts(frame) if t.startswith("No sound:")))
        audio("start")
        wait_until(lambda: not no_sound_banner(frame), 20, what="the banner gone once PipeWire is there")
        wait_until(playback_in_graph, 15, what="the speaker stream in the graph")


if __name__ == "__main__":
    unittest.main(verbosity=2)
