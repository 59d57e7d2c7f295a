#!/usr/bin/python3
"""A character who speaks Japanese to a user who reads English: each of
its finished messages is sent to the translation service (a
LibreTranslate-compatible stand-in served here on 127.0.0.1) and the
translation shows under the original in the bubble; the same text again
comes from the cache. When the service is gone, the last provider of the
chain, an LLM (the character's own chat-completions endpoint), translates;
when that fails too, the original stays and nothing breaks."""
import http.server
import json
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, app_action, by_role, click, find, find_all,  # noqa: E402
                          screenshot, set_text, wait_until, window_named)
from lanlan_fake import (FakeRealtimeServer, bubbles, character, showing, showing_texts,  # noqa: E402
                         store_key, write_characters)

KEYFILE = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                       "glib-2.0", "settings", "keyfile")
ANSWER = " ".join("w%d" % i for i in range(10))


class FakeLibreTranslate(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        FakeLibreTranslate.requests.append((self.path, body))
        if self.path != "/translate":
            self.send_error(404)
            return
        answer = json.dumps({"translatedText": "[%s] %s" % (body.get("target"), body.get("q", "").strip())})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer.encode())))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


def closed_port():
    """A loopback port nothing listens on: one the kernel just gave out
    and took back (no fixed port: another test may hold any)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def translations(frame):
    """(original, translation) for each translated bubble."""
    out = []
    for box in find_all(frame, lambda n: n.getRole() == pyatspi.ROLE_PANEL):
        try:
            labels = [c for c in box if c is not None and c.getRole() == pyatspi.ROLE_LABEL]
        except Exception:
            continue
        if len(labels) == 2 and labels[1].description == "Translation":
            out.append((labels[0].name, labels[1].name))
    return out


class TranslationTest(unittest.TestCase):
    def test_translated_under_the_original(self):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeLibreTranslate)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.addCleanup(httpd.server_close)
        translate_url = "http://127.0.0.1:%d" % httpd.server_address[1]

        server = FakeRealtimeServer(chat_reply="Au revoir (LLM)")
        self.addCleanup(server.stop)
        write_characters([character(server.url, language="ja")])
        store_key("sk-test-5678")
        os.makedirs(os.path.dirname(KEYFILE), exist_ok=True)
        with open(KEYFILE, "w", encoding="utf-8") as f:
            f.write("[io/github/lanlan/Lanlan]\ntranslate-url='%s'\n" % translate_url)

        # The user's language comes from the desktop locale (user-language is empty).
        app = AppUnderTest({"GSETTINGS_BACKEND": "keyfile", "LANGUAGE": "en_US", "LANG": "C.UTF-8"})
        self.addCleanup(app.stop)
        app.wait_for_app()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")

        def send(text):
            set_text(find(frame, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Message",
                          what="message entry"), text)
            click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button"))

        send("Konnichiwa")
        wait_until(lambda: translations(frame), 20, what="a translation under the answer")
        original, translated = translations(frame)[0]
        self.assertEqual(original.strip(), ANSWER)
        self.assertEqual(translated, "[en] " + ANSWER)
        path, body = FakeLibreTranslate.requests[0]
        self.assertEqual((path, body["source"], body["target"], body["q"].strip()),
                         ("/translate", "ja", "en", ANSWER))
        # the user's own message is not translated
        self.assertEqual(len(FakeLibreTranslate.requests), 1, FakeLibreTranslate.requests)
        screenshot("translation")

        # the same message again comes from the translator's cache
        send("Konnichiwa again")
        wait_until(lambda: len(translations(frame)) == 2, 20, what="second translation")
        self.assertEqual(len(FakeLibreTranslate.requests), 1)

        # the service goes away and the user now reads French (changed
        # behind the app's back, which follows it): the chain falls back
        # to its last provider, the LLM behind the character's server
        httpd.shutdown()
        httpd.server_close()
        with open(KEYFILE, "w", encoding="utf-8") as f:
            f.write("[io/github/lanlan/Lanlan]\ntranslate-url='%s'\nuser-language='fr'\n" % translate_url)
        app_action("preferences")
        prefs = window_named(app, "Preferences")
        click(find(prefs, lambda n: n.getRole() == pyatspi.ROLE_PAGE_TAB and n.name == "Language"
                   and showing(n), what="Language page tab"))
        wait_until(lambda: "French (fr)" in showing_texts(prefs), what="French in Preferences")
        send("Mata ne")
        wait_until(lambda: len(translations(frame)) == 3, 20, what="third translation, by the LLM")
        original, translated = translations(frame)[2]
        self.assertEqual((original.strip(), translated), (ANSWER, "Au revoir (LLM)"))
        self.assertIn("Translation by libretranslate failed, trying the next provider", app.output())
        self.assertNotIn("Translation failed:", app.output())
        self.assertEqual(bubbles(frame, "You"), ["Konnichiwa", "Konnichiwa again", "Mata ne"])
        self.assertIsNone(app.proc.poll())

    def test_quiet_when_every_provider_fails(self):
        # No translation service listening, and the LLM refuses (500).
        server = FakeRealtimeServer(chat_status=500)
        self.addCleanup(server.stop)
        write_characters([character(server.url, language="ja")])
        store_key("sk-test-5678")
        os.makedirs(os.path.dirname(KEYFILE), exist_ok=True)
        with open(KEYFILE, "w", encoding="utf-8") as f:
            f.write("[io/github/lanlan/Lanlan]\ntranslate-url='http://127.0.0.1:%d'\n" % closed_port())

        app = AppUnderTest({"GSETTINGS_BACKEND": "keyfile", "LANGUAGE": "en_US", "LANG": "C.UTF-8"})
        self.addCleanup(app.stop)
        app.wait_for_app()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window")
        set_text(find(frame, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Message",
                      what="message entry"), "Konnichiwa")
        click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button"))
        wait_until(lambda: [b.strip() for b in bubbles(frame, "Mika")] == [ANSWER], 20,
                   what="the answer")
        wait_until(lambda: "Translation failed" in app.output(), 20, what="failure logged")
        self.assertEqual(translations(frame), [])
        self.assertIsNone(app.proc.poll())

if __name__ == "__main__":
    unittest.main(verbosity=2)
