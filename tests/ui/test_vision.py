#!/usr/bin/python3
"""Showing a character a picture and the screen, through the real UI:
a picture on the clipboard is pasted with Ctrl+V, waits above the entry,
goes out with the next message (an input_image item to the OpenAI
stand-in, which refuses anything OpenAI refuses) and shows in the user's
bubble; the screen is shared through a stand-in ScreenCast portal (a
GStreamer test picture as the PipeWire node), a bar says so, and one
click stops it. Screenshots: vision-picture.png, vision-sharing.png."""
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, click, find, find_all, screenshot,  # noqa: E402
                          set_text, wait_until)
from lanlan_fake import (FakeRealtimeServer, character, showing, showing_texts,  # noqa: E402
                         store_key, write_characters)

HERE = os.path.dirname(__file__)


def named(role, name):
    def pred(node):
        try:
            return node.getRole() == role and (node.name or "").replace("_", "") == name
        except Exception:
            return False
    return pred


def child(args, **kw):
    # Dies with the test, even when it fails half-way.
    import ctypes
    libc = ctypes.CDLL("libc.so.6")
    return subprocess.Popen(args, preexec_fn=lambda: libc.prctl(1, 9), **kw)


class VisionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lanlan-vision-")
        self.server = FakeRealtimeServer()
        self.addCleanup(self.server.stop)
        # The stand-in plays OpenAI: restart it as such.
        self.server.stop()
        self.server.proc.stdout.close()
        self.server.proc = child([os.environ["LANLAN_FAKE_SERVER"], "--port", "0", "--provider", "openai",
                                  "--log-dir", self.server.log_dir], stdout=subprocess.PIPE, text=True)
        self.server.url = self.server.proc.stdout.readline().strip()
        self.assertTrue(self.server.url.startswith("ws://127.0.0.1:"))

        self.video = child(["gst-launch-1.0", "-q", "videotestsrc", "pattern=ball", "is-live=true", "!",
                            "video/x-raw,format=BGRx,width=1280,height=720,framerate=10/1", "!",
                            "pipewiresink", "mode=provide", "client-name=lanlan_test_video",
                            "stream-properties=props,media.class=Video/Source,node.name=lanlan_test_video"],
                           stdout=subprocess.DEVNULL)
        self.addCleanup(self.video.kill)
        ready = os.path.join(self.tmp, "ready")
        self.portal_log = os.path.join(self.tmp, "portal.jsonl")
        self.portal = child(["/usr/bin/python3", os.path.join(HERE, "..", "vision", "fake_portal.py"),
                             "--ready", ready, "--log", self.portal_log])
        self.addCleanup(self.portal.kill)
        wait_until(lambda: os.path.exists(ready), 20, "the stand-in portal")

        c = character(self.server.url)
        c["provider"] = "openai"
        write_characters([c])
        store_key("sk-vision-1234", provider="openai")
        self.app = AppUnderTest({"GSK_RENDERER": "cairo"})
        self.addCleanup(self.app.stop)
        self.app.wait_for_app()
        self.frame = find(self.app.app, lambda n: n.getRole() == pyatspi.ROLE_FRAME and n.name == "Mika",
                          timeout=30, what="Mika's window")

    def received_types(self):
        out = []
        for i in range(self.server.n_connections()):
            out += self.server.received(i)
        return out

    def test_paste_picture_and_share_screen(self):
        png = os.path.join(self.tmp, "red.png")
        subprocess.run(["convert", "-size", "640x400", "xc:#dd2211", png], check=True)
        clip = child(["xclip", "-selection", "clipboard", "-t", "image/png", "-i", png])
        self.addCleanup(clip.kill)

        def clipboard_has_png():
            out = subprocess.run(["xclip", "-o", "-selection", "clipboard", "-t", "TARGETS"],
                                 capture_output=True, text=True).stdout
            return "image/png" in out
        wait_until(clipboard_has_png, 20, "xclip owning the clipboard")

        entry = find(self.frame, lambda n: n.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY)
                     and n.name == "Message", what="the message entry")
        # No window manager: a real click in the entry gives it the keyboard.
        ext = entry.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        subprocess.run(["xdotool", "mousemove", str(ext.x + ext.width // 2), str(ext.y + ext.height // 2),
                        "click", "1"], check=True)
        wait_until(lambda: entry.getState().contains(pyatspi.STATE_FOCUSED) and
                   self.frame.getState().contains(pyatspi.STATE_ACTIVE), 20,
                   "the message entry focused by the click")
        time.sleep(0.5)
        subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+v"], check=True)
        wait_until(lambda: any(t.startswith("Picture attached") for t in showing_texts(self.frame)), 20,
                   "the attached picture above the entry")

        set_text(entry, "What colour is this?")
        click(find(self.frame, named(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="Send"))

        def image_sent():
            for event in self.received_types():
                item = event.get("item") or {}
                for part in item.get("content") or []:
                    if part.get("type") == "input_image" and \
                       str(part.get("image_url", "")).startswith("data:image/jpeg;base64,"):
                        return True
            return False
        wait_until(image_sent, 30, "an input_image item at the OpenAI stand-in")
        wait_until(lambda: find_all(self.frame, lambda n: n.getRole() == pyatspi.ROLE_IMAGE and
                                    n.name == "Picture shown to the character" and showing(n)), 20,
                   "the picture in the user's bubble")
        self.assertFalse(any(t.startswith("Picture attached") for t in showing_texts(self.frame)))
        errors = [f for f in os.listdir(self.server.log_dir) if f.startswith("errors-")]
        for name in errors:
            with open(os.path.join(self.server.log_dir, name)) as f:
                self.assertEqual(f.read().strip(), "", "the stand-in refused something")
        screenshot("vision-picture")

        # Share the screen: the menu, then the bar, then stop.
        share = find(self.frame, lambda n: n.name == "Show Your Screen or Camera" and
                     n.getRole() in (pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_PUSH_BUTTON),
                     what="the share button")
        # A GtkMenuButton has no action of its own: click it for real.
        ext = share.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        subprocess.run(["xdotool", "mousemove", str(ext.x + ext.width // 2), str(ext.y + ext.height // 2),
                        "click", "1"], check=True)
        item = find(self.app.app, lambda n: (n.name or "").replace("_", "") == "Show Screen or Window…"
                    and showing(n), timeout=10, what="the share menu item")
        click(item)
        wait_until(lambda: "Mika can see your screen" in showing_texts(self.frame), 30, "the sharing bar")
        screenshot("vision-sharing")
        click(find(self.frame, named(pyatspi.ROLE_PUSH_BUTTON, "Stop Sharing"), what="Stop Sharing"))
        wait_until(lambda: "Mika can see your screen" not in showing_texts(self.frame), 10,
                   "the sharing bar to go")
        wait_until(lambda: os.path.exists(self.portal_log) and "Session.Close" in open(self.portal_log).read(),
                   10, "the portal session to close")


if __name__ == "__main__":
    unittest.main(verbosity=2)
