#!/usr/bin/python3
"""A character's window tells the truth, seen through AT-SPI in the real app
(issue #15): the microphone toggle turns itself off when nothing can record,
with the reason in the window, and works again once the sound server is back.
And the screenshots of a character with a face: speaking (an answer with
audio from the fake realtime server), an imported card with its art and
greeting, and a narrow (360 px) window in Japanese and Simplified Chinese
whose every text stays inside the window."""
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, by_role, click, find, find_all, is_on, screenshot,  # noqa: E402
                          set_text, toggle_button, wait_until)
from lanlan_fake import (FakeRealtimeServer, bubbles, character, showing, showing_texts,  # noqa: E402
                         store_key, write_characters)
from test_cards import HANA, art_card  # noqa: E402


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


def extents(node):
    return node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)


def window_shot(frame, name, min_width=640, min_height=360):
    """A screenshot of the window alone, centered on a plain background at
    least 640 x 360 (what software centers take), in the build's
    screenshots dir."""
    path = screenshot(name)
    e = extents(frame)
    # With the window's shadow (client-side decorations), not cut by it.
    x, y = max(0, e.x - 12), max(0, e.y - 12)
    subprocess.run(["mogrify", "-crop", "%dx%d+%d+%d" % (e.x + e.width + 12 - x, e.y + e.height + 12 - y, x, y),
                    "+repage", path], check=False)
    w, h = max(e.width + 80, min_width), max(e.height + 40, min_height)
    subprocess.run(["convert", "-size", "%dx%d" % (w, h), "xc:#deddda", path, "-gravity", "center",
                    "-composite", path], check=False)
    return path


def xid_of(pid, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["xdotool", "search", "--onlyvisible", "--pid", str(pid)],
                             capture_output=True, text=True).stdout.split()
        if out:
            return out[-1]
        time.sleep(0.2)
    raise AssertionError("no X window for pid %d" % pid)


class ScreenshotTest(unittest.TestCase):
    def start(self, server=None, key=True, env=None, args=()):
        if server is not None:
            write_characters([character(server.url)])
        if key:
            store_key("sk-face-test-0123")
        app = AppUnderTest(env, args=args)
        self.addCleanup(app.stop)
        app.wait_for_app()
        return app

    def converse(self, frame, text, message="Message", send="Send"):
        entry = find(frame, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == message,
                     what="message entry", timeout=30)
        set_text(entry, text)
        click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, send), what="send button"))

    def test_avatar_speaking(self):
        """The character answers with audio: the header's face shows it
        speaking, with the reply streaming in."""
        # A long answer (40 deltas of 300 ms): still speaking when the
        # shot is taken, even on a slow (sanitizer) build.
        # Its audio is a 440 Hz sine, so the face pulses with the level.
        server = FakeRealtimeServer(delta_interval_ms=300, n_deltas=40, tone_amplitude=16000)
        self.addCleanup(server.stop)
        app = self.start(server)
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window", timeout=30)
        wait_until(lambda: "Connected" in showing_texts(frame) or "Not connected" in showing_texts(frame),
                   15, what="the status")
        self.converse(frame, "Sing me something, Mika!")
        wait_until(lambda: "Speaking…" in showing_texts(frame), 20, what="the character speaking")
        # A few words in: the speaker has been playing the tone a while.
        wait_until(lambda: any(len(b.split()) >= 3 for b in bubbles(frame, "Mika")), 20,
                   what="the reply streaming in")
        find(frame, lambda n: n.getRole() == pyatspi.ROLE_IMAGE and n.name == "Mika" and showing(n),
             what="Mika's face in the header")
        window_shot(frame, "avatar-speaking")
        self.assertIn("Speaking…", showing_texts(frame), "the shot was not taken while speaking")

    def test_card_with_art_and_greeting(self):
        """An imported card opens with its picture and its greeting as the
        first message."""
        tmp = tempfile.mkdtemp()
        card = os.path.join(tmp, "hana.png")
        with open(card, "wb") as f:
            f.write(art_card(HANA, size=96))
        write_characters([])
        store_key("sk-face-test-0123", provider="openai")   # the card's service
        app = self.start(key=False, args=(card,))
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Hana"), what="Hana's window", timeout=30)
        wait_until(lambda: "Welcome to the shop, you!" in bubbles(frame, "Hana"), 20,
                   what="the greeting as the first message")
        find(frame, lambda n: n.getRole() == pyatspi.ROLE_IMAGE and n.name == "Hana" and showing(n),
             what="Hana's face", timeout=20)
        window_shot(frame, "card-greeting")

    def test_narrow_window_ja_zh(self):
        """At 360 px wide, in Japanese and Simplified Chinese, the window
        keeps that width and every text stays inside it."""
        # The title-bar buttons GNOME and Phosh show (GTK's own default,
        # without a desktop, adds minimize and maximize).
        gtk_dir = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")), "gtk-4.0")
        os.makedirs(gtk_dir, exist_ok=True)
        settings_ini = os.path.join(gtk_dir, "settings.ini")
        with open(settings_ini, "w") as f:
            f.write("[Settings]\ngtk-decoration-layout=appmenu:close\n")
        self.addCleanup(os.unlink, settings_ini)
        for lang, status, message, send in (("ja", "接続済み", "メッセージ", "送信"),
                                            ("zh_CN", "已连接", "消息", "发送")):
            with self.subTest(lang=lang):
                server = FakeRealtimeServer(delta_interval_ms=10)
                try:
                    app = self.start(server, env={"LANG": "C.UTF-8", "LANGUAGE": lang})
                    frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window", timeout=30)
                    subprocess.run(["xdotool", "windowsize", xid_of(app.proc.pid), "360", "640"], check=True)
                    try:
                        wait_until(lambda: extents(frame).width <= 370, 15, what="the window at 360 px")
                    except AssertionError:
                        e = extents(frame)
                        raise AssertionError("the window stays %dx%d" % (e.width, e.height))
                    self.converse(frame, "こんにちは。今日はどんな一日でしたか？" if lang == "ja"
                                  else "你好。今天过得怎么样？", message, send)
                    wait_until(lambda: len(bubbles(frame, "Mika")) >= 1, 30, what="the reply")
                    wait_until(lambda: status in showing_texts(frame), 20, what="the status in %s" % lang)
                    time.sleep(0.5)  # the last layout
                    win = extents(frame)
                    self.assertLessEqual(win.width, 370, "the window does not fit 360 px")
                    labels = [n for n in find_all(frame, lambda n: n.getRole() == pyatspi.ROLE_LABEL
                                                  and showing(n) and n.name)]
                    self.assertTrue(labels)
                    for label in labels:
                        e = extents(label)
                        if e.width <= 0 or e.height <= 0:
                            continue
                        self.assertGreaterEqual(e.x, win.x - 1, "%r runs off the left" % label.name)
                        self.assertLessEqual(e.x + e.width, win.x + win.width + 1,
                                             "%r runs off the right (%d > %d)" %
                                             (label.name, e.x + e.width, win.x + win.width))
                    window_shot(frame, "narrow-%s" % lang)
                finally:
                    app.stop()
                    server.stop()
                    time.sleep(0.5)  # its bus name goes with it


if __name__ == "__main__":
    unittest.main(verbosity=2)
