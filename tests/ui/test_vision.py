#!/usr/bin/python3
"""Showing a character a picture, the screen and the camera, through the
real UI: a picture on the clipboard is pasted with Ctrl+V; a file is
chosen with the paperclip's file chooser (GTK's own dialog, driven with
Ctrl+L and typing; Cancel attaches nothing); a file is dragged from a
second GTK 4 program (tests/vision/drag_source.py) onto the window with
the real pointer; any of these waits above the entry
and goes out with the next message (an input_image item to the OpenAI
stand-in, which refuses anything OpenAI refuses, carrying the picture)
and shows in the user's bubble; the screen and the camera are shared
through a stand-in portal (a GStreamer test picture as the PipeWire
node), a bar says which, and one click stops it (the portal session
closes, the camera's stream ends). A dropped character card is imported
and its window opens. Screenshots: vision-picture.png,
vision-chooser.png, vision-attached.png, vision-dropped.png, vision-sharing.png,
vision-camera.png."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gi  # noqa: E402
gi.require_version("GdkPixbuf", "2.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gdk, GdkPixbuf  # noqa: E402
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, click, find, find_all, screenshot,  # noqa: E402
                          get_text, set_text, wait_until, window_named)
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


def chooser_button(label):
    # GTK 4.8 names the dialog's buttons "_Label Label" (mnemonic, then text).
    def pred(node):
        try:
            return node.getRole() == pyatspi.ROLE_PUSH_BUTTON and \
                label in (node.name or "").replace("_", "").split()
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
        time.sleep(0.5)

        entry = find(self.frame, lambda n: n.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY)
                     and n.name == "Message", what="the message entry")
        # No window manager: a real click in the entry gives it the keyboard.
        ext = entry.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        subprocess.run(["xdotool", "mousemove", str(ext.x + ext.width // 2), str(ext.y + ext.height // 2),
                        "click", "1"], check=True)
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

    def sent_pictures(self):
        """Every input_image the OpenAI stand-in received, decoded."""
        out = []
        for event in self.received_types():
            item = event.get("item") or {}
            for part in item.get("content") or []:
                url = str(part.get("image_url", ""))
                if part.get("type") == "input_image" and url.startswith("data:image/jpeg;base64,"):
                    loader = GdkPixbuf.PixbufLoader.new_with_type("jpeg")
                    loader.write(base64.b64decode(url.split(",", 1)[1]))
                    loader.close()
                    out.append(loader.get_pixbuf())
        return out

    def assert_nothing_refused(self):
        for name in os.listdir(self.server.log_dir):
            if name.startswith("errors-"):
                with open(os.path.join(self.server.log_dir, name)) as f:
                    self.assertEqual(f.read().strip(), "", "the stand-in refused something")

    def open_chooser(self):
        click(find(self.frame, named(pyatspi.ROLE_PUSH_BUTTON, "Attach a Picture"), what="the paperclip"))
        # GTK 4.8's GtkFileChooserNative uses the FileChooser portal only
        # inside a sandbox (or with GDK_DEBUG=portals); here, as on a
        # desktop without Flatpak, it falls back to GTK's own dialog,
        # which is part of the app's accessible tree.
        dialog = window_named(self.app, "Attach a Picture", timeout=20)
        find(dialog, chooser_button("Attach"), what="the chooser's Attach button")
        return dialog

    def test_attach_with_file_chooser(self):
        png = os.path.join(self.tmp, "green.png")
        subprocess.run(["convert", "-size", "320x200", "xc:#22aa44", png], check=True)

        # Cancel: nothing attached, nothing sent.
        dialog = self.open_chooser()
        click(find(dialog, chooser_button("Cancel"), what="Cancel"))
        wait_until(lambda: "Attach a Picture" not in [w.name for w in self.app.windows()], 10,
                   "the chooser to close")
        time.sleep(0.5)
        self.assertFalse(any(t.startswith("Picture attached") for t in showing_texts(self.frame)))

        # Choose the file for real: Ctrl+L, type its path, Attach.
        dialog = self.open_chooser()
        ext = dialog.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        subprocess.run(["xdotool", "mousemove", str(ext.x + ext.width // 2), str(ext.y + 20)], check=True)
        subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+l"], check=True)
        location = find(dialog, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "GtkFileChooserEntry"
                        and showing(n), what="the chooser's location entry")
        subprocess.run(["xdotool", "type", "--delay", "20", png], check=True)
        wait_until(lambda: get_text(location).endswith("green.png"), 10, "the typed path")
        screenshot("vision-chooser")
        click(find(dialog, chooser_button("Attach"), what="Attach"))
        wait_until(lambda: any(t.startswith("Picture attached") for t in showing_texts(self.frame)), 20,
                   "the chosen picture waiting above the entry")
        screenshot("vision-attached")
        self.assertEqual(self.sent_pictures(), [], "a picture went before the message")

        entry = find(self.frame, lambda n: n.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY)
                     and n.name == "Message", what="the message entry")
        set_text(entry, "What colour is this?")
        click(find(self.frame, named(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="Send"))
        wait_until(lambda: self.sent_pictures(), 30, "an input_image item at the OpenAI stand-in")
        [picture] = self.sent_pictures()
        self.assertEqual((picture.get_width(), picture.get_height()), (320, 200))
        pixels = picture.get_pixels()
        at = 100 * picture.get_rowstride() + 160 * picture.get_n_channels()
        rgb = tuple(pixels[at:at + 3])
        for got, want in zip(rgb, (0x22, 0xaa, 0x44)):
            self.assertLess(abs(got - want), 8, "the picture's colour at the stand-in: %r" % (rgb,))
        self.assert_nothing_refused()
        wait_until(lambda: not any(t.startswith("Picture attached") for t in showing_texts(self.frame)), 10,
                   "the waiting picture to go with the message")

    def share_from_menu(self, label):
        share = find(self.frame, lambda n: n.name == "Show Your Screen or Camera" and
                     n.getRole() in (pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_PUSH_BUTTON),
                     what="the share button")
        # A GtkMenuButton has no action of its own: click it for real.
        ext = share.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        subprocess.run(["xdotool", "mousemove", str(ext.x + ext.width // 2), str(ext.y + ext.height // 2),
                        "click", "1"], check=True)
        item = find(self.app.app, lambda n: (n.name or "").replace("_", "") == label and showing(n),
                    timeout=10, what="the menu item %r" % label)
        click(item)

    def video_links(self):
        """Links out of the test camera's PipeWire node."""
        dump = json.loads(subprocess.run(["pw-dump"], check=True, capture_output=True, text=True).stdout)
        nodes = [o["id"] for o in dump if o.get("type") == "PipeWire:Interface:Node" and
                 ((o.get("info") or {}).get("props") or {}).get("node.name") == "lanlan_test_video"]
        return [o for o in dump if o.get("type") == "PipeWire:Interface:Link" and
                ((o.get("info") or {}).get("output-node-id") in nodes)]

    def test_camera(self):
        self.share_from_menu("Show Camera")
        wait_until(lambda: "Mika can see your camera" in showing_texts(self.frame), 30, "the camera bar")
        self.assertNotIn("Mika can see your screen", showing_texts(self.frame))
        wait_until(lambda: self.video_links(), 20, "the app's stream linked to the camera")
        with open(self.portal_log) as f:
            calls = [json.loads(line).get("call") for line in f if line.strip()]
        self.assertIn("AccessCamera", calls)
        self.assertIn("Camera.OpenPipeWireRemote", calls)
        self.assertNotIn("CreateSession", calls)
        screenshot("vision-camera")
        click(find(self.frame, named(pyatspi.ROLE_PUSH_BUTTON, "Stop Sharing"), what="Stop Sharing"))
        wait_until(lambda: "Mika can see your camera" not in showing_texts(self.frame), 10,
                   "the camera bar to go")
        # The camera's portal connection is a PipeWire remote: stopping
        # closes it, and the stream with it.
        wait_until(lambda: not self.video_links(), 10, "the camera stream to end")

    def drag_onto_window(self, path, title):
        """Drags path from a second GTK 4 program onto Mika's window with
        the real pointer (XTest through xdotool): XDND between two
        processes, as from a file manager."""
        source = child(["/usr/bin/python3", os.path.join(HERE, "..", "vision", "drag_source.py"),
                        "--title", title, path], stdout=subprocess.PIPE, text=True)
        self.addCleanup(source.kill)
        self.assertEqual(source.stdout.readline().strip(), "ready")
        # No window manager: both windows open at 0,0. Move the source
        # aside (an X window can always be moved by another client).
        wid = subprocess.run(["xdotool", "search", "--sync", "--name", "^%s$" % title], check=True,
                             capture_output=True, text=True).stdout.split()[0]
        subprocess.run(["xdotool", "windowmove", "--sync", wid, "700", "100"], check=True)
        geometry = subprocess.run(["xdotool", "getwindowgeometry", "--shell", wid], check=True,
                                  capture_output=True, text=True).stdout
        g = dict(line.split("=", 1) for line in geometry.split())
        sx, sy = int(g["X"]) + int(g["WIDTH"]) // 2, int(g["Y"]) + int(g["HEIGHT"]) // 2
        ext = self.frame.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        tx, ty = ext.x + ext.width // 2, ext.y + ext.height // 2
        # XDND is a conversation (enter, position, status, drop): a drop
        # released before the target answered is refused, and the source
        # says so (action 0). Then drag again, dwelling longer.
        for attempt in range(3):
            subprocess.run(["xdotool", "mousemove", "--sync", str(sx), str(sy)], check=True)
            subprocess.run(["xdotool", "mousedown", "1"], check=True)
            # Past GTK's drag threshold in small steps, then across.
            for i in range(1, 21):
                subprocess.run(["xdotool", "mousemove", str(sx + (tx - sx) * i // 20),
                                str(sy + (ty - sy) * i // 20)], check=True)
                time.sleep(0.05)
            time.sleep(0.5 * (attempt + 1))
            subprocess.run(["xdotool", "mousemove", str(tx + 5), str(ty + 5)], check=True)
            time.sleep(0.5 * (attempt + 1))
            subprocess.run(["xdotool", "mouseup", "1"], check=True)
            line = source.stdout.readline().split()
            self.assertEqual(line[0], "drag-end", line)
            if int(line[1]) == int(Gdk.DragAction.COPY):
                return
            print("# the drop was refused (action %s); dragging again" % line[1], file=sys.stderr)
        self.fail("three drags were not taken")

    def test_drop_picture_and_card(self):
        png = os.path.join(self.tmp, "blue.png")
        subprocess.run(["convert", "-size", "200x120", "xc:#2244cc", png], check=True)
        self.drag_onto_window(png, "Picture Source")
        wait_until(lambda: any(t.startswith("Picture attached") for t in showing_texts(self.frame)), 20,
                   "the dropped picture waiting above the entry")
        screenshot("vision-dropped")
        entry = find(self.frame, lambda n: n.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY)
                     and n.name == "Message", what="the message entry")
        set_text(entry, "And this one?")
        click(find(self.frame, named(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="Send"))
        wait_until(lambda: self.sent_pictures(), 30, "the dropped picture at the OpenAI stand-in")
        [picture] = self.sent_pictures()
        self.assertEqual((picture.get_width(), picture.get_height()), (200, 120))
        self.assert_nothing_refused()

        # A character card dropped on the window is imported, and opens.
        card = os.path.join(self.tmp, "Rin.json")
        with open(card, "w") as f:
            json.dump({"spec": "chara_card_v2", "spec_version": "2.0",
                       "data": {"name": "Rin", "description": "A fox who keeps a tea shop.",
                                "personality": "calm", "first_mes": "Welcome in.",
                                "scenario": "", "mes_example": ""}}, f)
        self.drag_onto_window(card, "Card Source")
        window_named(self.app, "Rin", timeout=20)
        self.assertFalse(any(t.startswith("Picture attached") for t in showing_texts(self.frame)),
                         "the card was attached as a picture")


if __name__ == "__main__":
    unittest.main(verbosity=2)
