#!/usr/bin/python3
"""The Audio, Language and Agent pages of Preferences, driven through
AT-SPI. The app runs with GSETTINGS_BACKEND=keyfile so that what it stores
can be read back from $XDG_CONFIG_HOME/glib-2.0/settings/keyfile; the
agent bridge is checked for real: its event port accepts connections
while the switch is on and refuses them once it is off."""
import configparser
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, app_action, by_role, click, find,  # noqa: E402
                          is_on, screenshot, set_text, wait_until, window_named)
from lanlan_fake import character, showing, showing_texts, write_characters  # noqa: E402

KEYFILE = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                       "glib-2.0", "settings", "keyfile")
GROUP = "io/github/lanlan/Lanlan"


def setting(key):
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(KEYFILE, encoding="utf-8")
        return parser.get(GROUP, key)
    except (configparser.Error, OSError):
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def open_page(prefs, name):
    """Clicks the page tab of the view switcher that is shown."""
    def pred(node):
        return node.getRole() == pyatspi.ROLE_PAGE_TAB and node.name == name and showing(node)
    click(find(prefs, pred, what="%s page tab" % name))


def switch(name):
    def pred(node):
        return node.getRole() in (pyatspi.ROLE_TOGGLE_BUTTON,
                                  pyatspi.ROLE_CHECK_BOX) and \
            (node.name == name or (node.name or "").startswith(name + " "))
    return pred


class SettingsTest(unittest.TestCase):
    def test_pages(self):
        pub, pull, push = free_port(), free_port(), free_port()
        os.makedirs(os.path.dirname(KEYFILE), exist_ok=True)
        with open(KEYFILE, "w", encoding="utf-8") as f:
            f.write("[%s]\nagent-pub-port=uint32 %d\nagent-pull-port=uint32 %d\n"
                    "agent-push-port=uint32 %d\n" % (GROUP, pub, pull, push))
        write_characters([character("ws://127.0.0.1:9/v1/realtime")])

        app = AppUnderTest({"GSETTINGS_BACKEND": "keyfile"})
        self.addCleanup(app.stop)
        app.wait_for_app()
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")
        app_action("preferences")
        prefs = window_named(app, "Preferences")

        # --- Audio ------------------------------------------------------
        open_page(prefs, "Audio")
        wait_until(lambda: "Microphone" in showing_texts(prefs), what="Audio page")
        labels = showing_texts(prefs)
        self.assertIn("Speaker", labels)
        self.assertIn("System Default", labels)
        echo = find(prefs, switch("Echo Cancellation"), what="echo cancel switch")
        self.assertTrue(is_on(echo))
        click(echo)
        # The Audio page starts its level preview on the main thread, which
        # can hold it for a moment; an AT-SPI click sent then has been seen
        # to get lost (twice in ~10 CI runs). Click once more if the switch
        # has not moved, and say so; what the app must do is unchanged.
        try:
            wait_until(lambda: not is_on(echo), timeout=5, what="echo cancel switch off")
        except AssertionError:
            print("echo cancel switch did not move after a click; clicking again", file=sys.stderr)
            click(echo)
            wait_until(lambda: not is_on(echo), timeout=10, what="echo cancel switch off")
        wait_until(lambda: setting("echo-cancel") == "false", what="echo-cancel=false in the keyfile")
        self.assertFalse(is_on(echo))
        screenshot("preferences-audio")

        # --- Language ---------------------------------------------------
        open_page(prefs, "Language")
        wait_until(lambda: "Your Language" in showing_texts(prefs), what="Language page")
        self.assertIn("Automatic (desktop language)", showing_texts(prefs))
        url = find(prefs, lambda n: n.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY)
                   and n.name == "Translation Service URL", what="translate URL entry")
        set_text(url, "http://127.0.0.1:5999")
        # applied as typed, after a pause; a bad address is not stored
        set_text(url, "ftp://nope")
        time.sleep(1.2)
        self.assertIsNone(setting("translate-url"))
        set_text(url, "http://127.0.0.1:5999")
        wait_until(lambda: setting("translate-url") == "'http://127.0.0.1:5999'",
                   what="translate-url in the keyfile")
        screenshot("preferences-language")

        # --- Agent ------------------------------------------------------
        open_page(prefs, "Agent")
        wait_until(lambda: "Agent Bridge" in showing_texts(prefs), what="Agent page")
        self.assertIn("Off", showing_texts(prefs))
        self.assertFalse(port_open(pub))
        agent = find(prefs, switch("Agent Bridge"), what="agent switch")
        click(agent)
        wait_until(lambda: setting("agent-enabled") == "true", what="agent-enabled=true")
        wait_until(lambda: any(t.startswith("Running") for t in showing_texts(prefs)),
                   what="agent running")
        wait_until(lambda: port_open(pub), what="agent event port open")
        screenshot("preferences-agent")
        click(agent)
        wait_until(lambda: setting("agent-enabled") == "false", what="agent-enabled=false")
        wait_until(lambda: "Off" in showing_texts(prefs), what="agent off")
        wait_until(lambda: not port_open(pub), what="agent event port closed")


if __name__ == "__main__":
    unittest.main(verbosity=2)
