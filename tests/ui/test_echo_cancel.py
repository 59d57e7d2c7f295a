#!/usr/bin/python3
"""Echo cancellation in the real PipeWire graph of the test session: with
the setting on (the default), the app loads PipeWire's echo canceller
between the microphone and the speaker, a window's speech goes into the
canceller's sink and its microphone stream records from the canceller's
source. Switched off while the app runs, the canceller goes away and the
speech reaches the speaker directly; switched on again, the speech goes
into the new canceller (the window moves its speaker stream itself, it
does not wait for the session manager to)."""
import configparser
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, by_role, click, find, is_on, screenshot,  # noqa: E402
                          toggle_button, wait_until)
from lanlan_fake import (FakeRealtimeServer, character, showing_texts, store_key,  # noqa: E402
                         write_characters)

KEYFILE = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                       "glib-2.0", "settings", "keyfile")
GROUP = "io/github/lanlan/Lanlan"


def links():
    """(output node, input node) pairs of the graph, from pw-link -l."""
    out = subprocess.run(["pw-link", "-l"], capture_output=True, text=True).stdout
    pairs, current = set(), None
    for line in out.splitlines():
        if not line.startswith(" "):
            current = line.split(":")[0]
        elif "|->" in line:
            pairs.add((current, line.split("|->")[1].strip().split(":")[0]))
    return pairs


def nodes():
    out = subprocess.run(["pw-cli", "ls", "Node"], capture_output=True, text=True).stdout
    return {line.split("=", 1)[1].strip().strip('"') for line in out.splitlines()
            if "node.name" in line}


def write_settings(echo_cancel):
    os.makedirs(os.path.dirname(KEYFILE), exist_ok=True)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser[GROUP] = {"echo-cancel": "true" if echo_cancel else "false"}
    with open(KEYFILE + ".tmp", "w", encoding="utf-8") as f:
        parser.write(f)
    os.replace(KEYFILE + ".tmp", KEYFILE)


class EchoCancelTest(unittest.TestCase):
    def test_graph(self):
        write_settings(True)
        server = FakeRealtimeServer()
        self.addCleanup(server.stop)
        write_characters([character(server.url)])
        store_key("sk-echo-test-0123456789")

        app = AppUnderTest({"GSETTINGS_BACKEND": "keyfile"})
        self.addCleanup(app.stop)
        app.wait_for_app()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")
        wait_until(lambda: not any("No API key" in t for t in showing_texts(frame)),
                   what="the key is found")

        # Speech: window -> canceller -> speaker.
        wait_until(lambda: ("lanlan-playback", "lanlan_ec_sink") in links(), timeout=15,
                   what="the window's speech routed into the echo canceller")
        wait_until(lambda: ("lanlan_ec_playback", "lanlan_test_sink") in links(),
                   what="the canceller playing to the speaker")
        self.assertNotIn(("lanlan-playback", "lanlan_test_sink"), links())

        # Microphone: mic -> canceller -> window.
        mic = find(frame, toggle_button("Microphone"), what="microphone toggle")
        click(mic)
        wait_until(lambda: is_on(mic), what="microphone on")
        wait_until(lambda: ("lanlan_test_mic", "lanlan_ec_capture") in links(),
                   what="the canceller listening to the microphone")
        wait_until(lambda: ("lanlan_ec_source", "lanlan-capture") in links(), timeout=15,
                   what="the window recording from the canceller")
        screenshot("echo-cancel-on")

        # Off, live: the canceller goes, speech reaches the speaker directly.
        write_settings(False)
        wait_until(lambda: not ({"lanlan_ec_sink", "lanlan_ec_source"} & nodes()), timeout=15,
                   what="the echo canceller removed")
        wait_until(lambda: ("lanlan-playback", "lanlan_test_sink") in links(), timeout=15,
                   what="the speech going to the speaker directly")
        wait_until(lambda: ("lanlan_test_mic", "lanlan-capture") in links(), timeout=15,
                   what="the window recording from the microphone directly")
        self.assertNotIn(("lanlan-playback", "lanlan_ec_sink"), links())

        # On again, live: a new canceller, and the speech goes into it again.
        write_settings(True)
        wait_until(lambda: ("lanlan-playback", "lanlan_ec_sink") in links(), timeout=15,
                   what="the speech routed into the echo canceller again")
        wait_until(lambda: ("lanlan_ec_playback", "lanlan_test_sink") in links(),
                   what="the new canceller playing to the speaker")
        wait_until(lambda: ("lanlan-playback", "lanlan_test_sink") not in links(), timeout=15,
                   what="the direct link to the speaker gone")
        wait_until(lambda: ("lanlan_ec_source", "lanlan-capture") in links(), timeout=15,
                   what="the window recording from the canceller again")


if __name__ == "__main__":
    unittest.main(verbosity=2)
