#!/usr/bin/python3
"""A character's window tells the truth, seen through AT-SPI in the real app
(issue #15): the microphone toggle turns itself off when nothing can record,
with the reason in the window, and works again once the sound server is back."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, by_role, click, find, is_on, screenshot,  # noqa: E402
                          toggle_button, wait_until)
from lanlan_fake import FakeRealtimeServer, character, showing_texts, store_key, write_characters  # noqa: E402


def audio(what):
    subprocess.run([os.environ["LANLAN_TEST_AUDIO"], what], check=True)


def pipewire_running():
    return subprocess.run(["pw-cli", "info", "0"], capture_output=True, timeout=10).returncode == 0


def capture_in_graph():
    out = subprocess.run(["pw-cli", "ls", "Node"], capture_output=True, text=True).stdout
    return 'node.name = "lanlan-capture"' in out


def why(frame):
    """The window's explanation of a microphone that does not record."""
    return [t for t in showing_texts(frame)
            if t and (t.startswith("The microphone") or t.startswith("No sound:"))]


def stays(cond, seconds=1.5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not cond():
            return False
        time.sleep(0.1)
    return True


class MicrophoneTest(unittest.TestCase):
    def restore_audio(self):
        if not pipewire_running():
            audio("start")

    def start_app(self):
        server = FakeRealtimeServer()
        self.addCleanup(server.stop)
        write_characters([character(server.url)])
        store_key("sk-face-test-0123")
        app = AppUnderTest()
        self.addCleanup(app.stop)
        app.wait_for_app()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window", timeout=30)
        wait_until(lambda: not any("No API key" in t for t in showing_texts(frame)), 15,
                   what="the key is found")
        return app, frame

    def test_no_sound_server_turns_toggle_off(self):
        """Turned on with no sound server: the toggle goes back off and the
        window says why; with the server back, it turns on and records."""
        audio("stop")
        self.addCleanup(self.restore_audio)
        app, frame = self.start_app()
        mic = find(frame, toggle_button("Microphone"), what="microphone toggle")
        self.assertFalse(is_on(mic))

        click(mic)
        wait_until(lambda: why(frame), 15, what="the reason the microphone does not record")
        wait_until(lambda: not is_on(mic), 15, what="the toggle off again")
        self.assertTrue(stays(lambda: not is_on(mic)), "the toggle came back on with nothing recording")
        screenshot("microphone-no-sound-server")

        audio("start")
        wait_until(lambda: not why(frame), 20, what="the reason gone once the sound server is back")
        click(mic)
        wait_until(lambda: is_on(mic), 15, what="the microphone on")
        wait_until(capture_in_graph, 15, what="the window recording")
        self.assertTrue(stays(lambda: is_on(mic)))
        self.assertEqual(why(frame), [])
        self.assertIsNone(app.proc.poll())

    def test_sound_server_gone_while_recording(self):
        """The sound server dies while the microphone records: the toggle
        turns itself off and the window says why."""
        app, frame = self.start_app()
        mic = find(frame, toggle_button("Microphone"), what="microphone toggle")
        click(mic)
        wait_until(lambda: is_on(mic), 15, what="the microphone on")
        wait_until(capture_in_graph, 15, what="the window recording")

        audio("stop")
        self.addCleanup(self.restore_audio)
        wait_until(lambda: not is_on(mic), 15, what="the toggle off when nothing records")
        wait_until(lambda: why(frame), 15, what="the reason in the window")
        self.assertTrue(stays(lambda: not is_on(mic)))
        self.assertIsNone(app.proc.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
