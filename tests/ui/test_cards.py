#!/usr/bin/python3
"""Characters from cards and the character editor, driven through AT-SPI on
the real app: a PNG card's art, greetings and lorebook reach the editor and
the art its own file; Back with changes asks; a typing-only character's
Check asks a strict fake chat server; the Agent page speaks plainly (with
screenshots in English, Japanese and Simplified Chinese)."""
import base64
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, app_action, by_role, click, find, find_all, get_text,  # noqa: E402
                          screenshot, set_text, wait_until, window_named)
from test_preferences import (CONFIG, button, character_in_config, showing, showing_texts,  # noqa: E402
                              text_field, write_config)


def art_card(card, size=48):
    """An RGB PNG of size x size (a red top half over a blue bottom half)
    carrying card as a base64 'ccv3' tEXt chunk (Character Card V3)."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    rows = b"".join(b"\x00" + (b"\xd0\x30\x30" if y < size // 2 else b"\x30\x30\xd0") * size
                    for y in range(size))
    payload = base64.b64encode(json.dumps(card).encode())
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"ccv3\0" + payload)
            + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


HANA = {"spec": "chara_card_v3", "spec_version": "3.0", "data": {
    "name": "Hana", "description": "{{char}} keeps a flower shop.", "personality": "", "scenario": "",
    "first_mes": "Welcome to the shop, {{user}}!",
    "alternate_greetings": ["Back for more tulips?", "いらっしゃいませ！"],
    "character_book": {"name": "Shop", "entries": [
        {"keys": ["tulip"], "content": "Tulips cost 300 yen.", "enabled": True, "insertion_order": 1,
         "extensions": {}, "use_regex": False},
        {"keys": ["rose"], "content": "Roses sold out.", "enabled": True, "insertion_order": 2,
         "extensions": {}, "use_regex": False}]},
    "tags": [], "extensions": {}, "group_only_greetings": [], "assets": []}}

AVATARS = os.path.join(os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")),
                       "lanlan", "avatars")


def open_page(prefs, title):
    """Switches the preferences window to the page called title."""
    page = find(prefs, lambda n: n.getRole() in (pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_PUSH_BUTTON,
                                                 pyatspi.ROLE_RADIO_BUTTON, pyatspi.ROLE_PAGE_TAB)
                and n.name == title, what="page %s" % title)
    click(page)


class FakeChatServer:
    """An OpenAI-compatible chat server on 127.0.0.1 (port 0), as strict as
    the real ones on what Check sends: GET /v1/models, and POST
    /v1/chat/completions with a known model, messages and stream=true."""

    def __init__(self, models=("tiny-llm",)):
        import http.server
        import threading
        outer = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, body, ctype="application/json"):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                outer.requests.append(("GET", self.path))
                if self.path != "/v1/models":
                    return self.reply(404, '{"error":{"message":"not found"}}')
                self.reply(200, json.dumps({"object": "list", "data": [{"id": m, "object": "model"}
                                                                       for m in models]}))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append(("POST", self.path))
                try:
                    req = json.loads(body)
                except ValueError:
                    return self.reply(400, '{"error":{"message":"bad json"}}')
                if self.path != "/v1/chat/completions":
                    return self.reply(404, '{"error":{"message":"not found"}}')
                if req.get("model") not in models or not req.get("messages") or req.get("stream") is not True:
                    return self.reply(400, '{"error":{"message":"bad request"}}')
                chunk = {"id": "c1", "object": "chat.completion.chunk", "model": req["model"],
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"},
                                      "finish_reason": None}]}
                self.reply(200, "data: %s\n\ndata: [DONE]\n\n" % json.dumps(chunk), "text/event-stream")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/v1" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()   # connections are refused from now on
            self.httpd = None


class CardsTest(unittest.TestCase):
    def setUp(self):
        for name in os.listdir(os.path.dirname(CONFIG)) if os.path.isdir(os.path.dirname(CONFIG)) else []:
            os.unlink(os.path.join(os.path.dirname(CONFIG), name))

    def start(self, args=(), **env):
        app = AppUnderTest(env, args=args)
        self.addCleanup(app.stop)
        app.wait_for_app()
        return app

    def open_preferences(self, app):
        app_action("preferences")
        return window_named(app, "Preferences")

    def test_imported_card_in_editor(self):
        """A card's art, greetings and lorebook reach the editor; Save keeps
        the art in its own file; Back with changes asks first."""
        tmp = tempfile.mkdtemp()
        card = os.path.join(tmp, "hana.png")
        with open(card, "wb") as f:
            f.write(art_card(HANA))

        app = self.start()
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Lanlan"), what="window", timeout=30)
        subprocess.run([os.environ["LANLAN_BINARY"], "--import", card], check=True, timeout=20)
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Hana"), what="imported character's window", timeout=30)
        wait_until(lambda: character_in_config("Hana") is not None, what="card saved", timeout=30)
        hana = character_in_config("Hana")
        self.assertEqual(hana["greetings"], ["Welcome to the shop, you!", "Back for more tulips?",
                                             "いらっしゃいませ！"])
        self.assertEqual(len(hana["lorebook"]["entries"]), 2)
        self.assertNotIn("ccv3", json.dumps(hana))
        self.assertFalse(hana["open-on-start"], "an imported card opens now, not at every start")

        prefs = self.open_preferences(app)
        click(find(prefs, lambda n: button("Edit Hana")(n) and showing(n), what="edit button", timeout=30))
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field", timeout=30)
        wait_until(lambda: get_text(name) == "Hana", what="editor loaded", timeout=30)
        # The face: an image named after the character, with the card's art.
        find(prefs, lambda n: n.getRole() == pyatspi.ROLE_IMAGE and n.name == "Hana" and showing(n),
             what="Hana's avatar", timeout=30)
        labels = showing_texts(prefs)
        self.assertIn("First Message", labels)
        self.assertTrue(any(t.startswith("2 entries") for t in labels), labels)
        screenshot("editor-imported-card")

        # Save writes the picture to $XDG_DATA_HOME/lanlan/avatars/<id>.png.
        click(find(prefs, lambda n: button("Save")(n) and showing(n), what="save button", timeout=30))
        picture = os.path.join(AVATARS, hana["id"] + ".png")
        wait_until(lambda: os.path.exists(picture), what="picture file", timeout=30)
        with open(picture, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"\x89PNG"))
        self.assertNotIn(b"ccv3", data, "the card chunk is not part of the picture")
        wait_until(lambda: not find_all(prefs, lambda n: text_field("Name")(n) and showing(n)),
                   what="editor closed", timeout=30)
        time.sleep(0.5)  # the subpage finishes sliding away

        # Back with unsaved changes asks; Keep Editing keeps them.
        click(find(prefs, lambda n: button("Edit Hana")(n) and showing(n), what="edit button", timeout=30))
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field", timeout=30)
        wait_until(lambda: get_text(name) == "Hana", what="editor loaded", timeout=30)
        set_text(name, "Hana Changed")
        click(find(prefs, lambda n: button("Back")(n) and showing(n), what="back button", timeout=30))
        dialog = window_named(app, "Discard Changes?")
        screenshot("editor-discard-changes")
        click(find(dialog, button("Keep Editing"), what="keep editing", timeout=30))
        wait_until(lambda: get_text(name) == "Hana Changed", what="changes kept", timeout=30)
        click(find(prefs, lambda n: button("Back")(n) and showing(n), what="back button", timeout=30))
        dialog = window_named(app, "Discard Changes?")
        click(find(dialog, button("Discard"), what="discard", timeout=30))
        wait_until(lambda: not find_all(prefs, lambda n: text_field("Name")(n) and showing(n)),
                   what="editor closed", timeout=30)
        time.sleep(0.5)
        self.assertIsNotNone(character_in_config("Hana"))
        self.assertIsNone(character_in_config("Hana Changed"))

        # Unchanged: Back leaves at once.
        click(find(prefs, lambda n: button("Edit Hana")(n) and showing(n), what="edit button", timeout=30))
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field", timeout=30)
        wait_until(lambda: get_text(name) == "Hana", what="editor loaded", timeout=30)
        click(find(prefs, lambda n: button("Back")(n) and showing(n), what="back button", timeout=30))
        wait_until(lambda: not find_all(prefs, lambda n: text_field("Name")(n) and showing(n)),
                   what="editor closed", timeout=30)
        self.assertNotIn("Discard Changes?", [w.name for w in app.windows()])

    def test_typing_only_check(self):
        """A typing-only character's editor offers chat services and a Check
        button that asks the real (fake) server, then lists its models."""
        server = FakeChatServer()
        self.addCleanup(server.stop)
        write_config([{"id": "t1", "name": "Tex", "provider": "openai-compatible",
                       "base-url": server.url, "model": "tiny-llm", "input-mode": "text",
                       "open-on-start": False}])
        app = self.start()
        find(app.app, by_role(pyatspi.ROLE_FRAME), what="window", timeout=30)
        prefs = self.open_preferences(app)
        click(find(prefs, lambda n: button("Edit Tex")(n) and showing(n), what="edit button", timeout=30))
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field", timeout=30)
        wait_until(lambda: get_text(name) == "Tex", what="editor loaded", timeout=30)
        self.assertIn("OpenAI-compatible (chat)", showing_texts(prefs))
        click(find(prefs, lambda n: button("Check")(n) and showing(n), what="check button", timeout=30))
        dialog = window_named(app, "The Service Answers", timeout=30)
        answer = " ".join(showing_texts(dialog))
        self.assertIn("tiny-llm", answer)
        screenshot("editor-check")
        self.assertIn(("POST", "/v1/chat/completions"), server.requests)
        click(find(dialog, button("Close"), what="close", timeout=30))
        find(prefs, lambda n: button("Choose a Model")(n) and showing(n), what="model list", timeout=30)

        # A server that is down: the whole error, in a dialog.
        server.stop()
        click(find(prefs, lambda n: button("Check")(n) and showing(n), what="check button", timeout=30))
        window_named(app, "The Service Does Not Answer", timeout=30)

    def test_plain_words(self):
        """No raw port numbers or protocol jargon up front; screenshots of the
        Agent page in English, Japanese and Simplified Chinese."""
        for lang, page in (("en", "Agent"), ("ja", "エージェント"), ("zh_CN", "智能体")):
            with self.subTest(lang=lang):
                app = self.start(LANG="C.UTF-8", LANGUAGE=lang)
                try:
                    find(app.app, by_role(pyatspi.ROLE_FRAME), what="window", timeout=30)
                    prefs = self.open_preferences(app) if lang == "en" else \
                        (app_action("preferences") or find(app.app, lambda n: n.getRole() == pyatspi.ROLE_FRAME
                                                           and n.name in ("設定", "首选项"), what="prefs", timeout=30))
                    open_page(prefs, page)
                    if lang == "en":
                        # The page is shown (it may take seconds on a loaded machine).
                        wait_until(lambda: "Advanced" in showing_texts(prefs), timeout=30,
                                   what="the Agent page")
                    time.sleep(1)
                    labels = showing_texts(prefs)
                    if lang == "en":
                        self.assertIn("Advanced", labels)
                        for word in ("Event Port", "Result Port", "Analyze Port", "Ports"):
                            self.assertNotIn(word, labels)
                        self.assertFalse(any("127.0.0.1" in t or "ZeroMQ" in t for t in labels), labels)
                    screenshot("preferences-agent-%s" % lang)
                finally:
                    app.stop()
                    time.sleep(0.5)  # its bus name goes with it



if __name__ == "__main__":
    unittest.main(verbosity=2)
