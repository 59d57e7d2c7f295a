#!/usr/bin/python3
"""A typing-only character on a local model, end to end, as a new user
would make one: from a fresh start, Ctrl+N opens the editor; the user
names the character, picks "Typing Only" and the Ollama service, points
it at the server (a strict loopback OpenAI-compatible chat server that
answers as Ollama does), presses Check, picks a model from the server's
list and saves. In the character's window a typed message gets a
streamed answer in its bubble, spoken by the built-in voice (espeak-ng):
the speech is recorded at the test PipeWire sink. The server breaking
off an answer with an error shows the error, marks the message "Not
sent" with Resend, keeps what arrived; Resend asks again, once. After a
restart the conversation is there."""
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, app_action, by_role, click, find, find_all,  # noqa: E402
                          get_text, screenshot, set_text, wait_until, window_named)
from lanlan_fake import (CONFIG, ChatServer, bubbles, clear_conversations, showing,  # noqa: E402
                         showing_texts, write_characters)

REPLY = "Hello there! I am a small model on your own computer. It is nice to meet you."


def button(name):
    """A push button called name (GTK 4.8 may append the label; mnemonics dropped)."""
    def pred(node):
        if node.getRole() not in (pyatspi.ROLE_PUSH_BUTTON, pyatspi.ROLE_TOGGLE_BUTTON) or not node.name:
            return False
        label = node.name.replace("_", "")
        return label == name or label.startswith(name + " ")
    return pred


def text_field(name):
    def pred(node):
        return node.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY) and node.name == name
    return pred


def extents(node):
    return node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)


def pointer_click(node):
    """A real click: combo rows and menu buttons want the pointer."""
    e = extents(node)
    subprocess.run(["xdotool", "mousemove", str(e.x + e.width // 2), str(e.y + e.height // 2),
                    "click", "1"], check=True)


def scroll_into_view(window, node):
    """Scrolls the page with the mouse wheel (over the margin, not over a
    text view with a scroller of its own) until node is on screen."""
    w = extents(window)
    for _ in range(60):
        e = extents(node)
        if e.y >= w.y + 60 and e.y + e.height <= w.y + w.height - 10:
            return
        down = e.y + e.height > w.y + w.height - 10
        subprocess.run(["xdotool", "mousemove", str(w.x + 25), str(w.y + w.height // 2),
                        "click", "5" if down else "4"], check=True)
        time.sleep(0.05)
    raise AssertionError("%r is not scrolled into view" % node.name)


def labels_now(app):
    return {(n.name, extents(n).x, extents(n).y)
            for n in find_all(app.app, lambda n: n.getRole() == pyatspi.ROLE_LABEL and showing(n))}


def choose(app, window, row, item):
    """Picks item in a drop-down row as a keyboard user does: the row is
    clicked open, then arrows and Return (GTK 4.8 reports popovers at
    the wrong x, so their items cannot be clicked by position)."""
    scroll_into_view(window, row)
    current = [n.name for n in find_all(row, lambda n: n.getRole() == pyatspi.ROLE_LABEL)][-1]
    before = labels_now(app)
    pointer_click(row)
    opened = []

    def listed():
        opened[:] = sorted((y, name) for name, x, y in labels_now(app) - before)
        return any(name == item for _, name in opened)
    wait_until(listed, timeout=30, what="%s listed" % item)
    names = [name for _, name in opened]
    delta = names.index(item) - names.index(current)
    keys = ["Down" if delta > 0 else "Up"] * abs(delta) + ["Return"]
    subprocess.run(["xdotool", "key", *keys], check=True)
    wait_until(lambda: item in [n.name for n in find_all(row, lambda n: n.getRole() == pyatspi.ROLE_LABEL)],
               timeout=30, what="%s chosen" % item)


def choose_from_menu(app, window, menu_button, item):
    """Opens a menu button and activates its item."""
    scroll_into_view(window, menu_button)
    pointer_click(menu_button)
    entry = find(app.app, lambda n: (n.name or "").replace("_", "") == item and showing(n)
                 and n.getRole() != pyatspi.ROLE_LABEL, what="%s in the menu" % item, timeout=30)
    click(entry)


class SinkRecorder:
    """What the app plays, as the test PipeWire sink hears it (pw-record
    from the sink's monitor), 48 kHz mono s16."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(suffix=".wav")
        os.close(fd)
        self.proc = subprocess.Popen(["pw-record", "--target", "lanlan_test_sink",
                                      "-P", "{ stream.capture.sink=true }",
                                      "--rate", "48000", "--channels", "1", "--format", "s16",
                                      self.path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def samples(self):
        with open(self.path, "rb") as f:
            data = f.read()
        at = data.find(b"data")
        if at < 0:
            return ()
        body = data[at + 8:]
        body = body[:len(body) - len(body) % 2]
        return struct.unpack("<%dh" % (len(body) // 2), body)

    def loud_ms(self, threshold=300):
        """Milliseconds (in 10 ms blocks) louder than threshold RMS."""
        s = self.samples()
        loud = 0
        for i in range(0, len(s) - 480, 480):
            block = s[i:i + 480]
            if (sum(v * v for v in block) / 480) ** 0.5 > threshold:
                loud += 10
        return loud

    def first_loud_ms(self, after, threshold=300):
        """When the first 10 ms block louder than threshold came, in ms
        after sample index after; None if none yet."""
        s = self.samples()
        for i in range(after, len(s) - 480, 480):
            block = s[i:i + 480]
            if (sum(v * v for v in block) / 480) ** 0.5 > threshold:
                return (i - after) * 1000 // 48000
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def user_messages(body):
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


class TextModeTest(unittest.TestCase):
    def setUp(self):
        # A new user: no characters yet, no conversations.
        if os.path.exists(CONFIG):
            os.unlink(CONFIG)
        clear_conversations()
        self.server = ChatServer(models=("llama3.2", "qwen2.5:0.5b"), reply=REPLY, delta_interval_ms=200)
        self.addCleanup(self.server.stop)

    def start(self):
        app = AppUnderTest()
        self.addCleanup(app.stop)
        app.wait_for_app()
        return app

    def create_character(self, app):
        """Ctrl+N, and the editor filled in as a new user would."""
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME), what="the first window", timeout=30)
        entry = find(frame, text_field("Message"), what="message entry", timeout=30)
        pointer_click(entry)
        wait_until(lambda: entry.getState().contains(pyatspi.STATE_FOCUSED), what="entry focused")
        subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+n"], check=True)
        prefs = window_named(app, "Preferences", timeout=30)
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field", timeout=30)
        set_text(name, "Mika")

        mode_row = find(prefs, lambda n: n.getRole() == pyatspi.ROLE_COMBO_BOX and n.name == "You Talk by",
                        what="You Talk by", timeout=30)
        choose(app, prefs, mode_row, "Typing Only")
        wait_until(lambda: find_all(prefs, lambda n: button("Check")(n) and showing(n)),
                   what="the chat services offered", timeout=30)
        provider_row = find(prefs, lambda n: n.getRole() == pyatspi.ROLE_COMBO_BOX and n.name == "Provider",
                            what="Provider", timeout=30)
        choose(app, prefs, provider_row, "Ollama")
        address = find(prefs, lambda n: text_field("Base URL")(n) and showing(n), what="address", timeout=30)
        wait_until(lambda: get_text(address) == "http://localhost:11434/v1", timeout=30,
                   what="Ollama's own address offered (it was %r)" % get_text(address))
        model = find(prefs, lambda n: text_field("Model")(n) and showing(n), what="model field", timeout=30)
        self.assertEqual(get_text(model), "", "no model of another service stays behind")
        set_text(address, self.server.url)

        check = find(prefs, lambda n: button("Check")(n) and showing(n), what="check button", timeout=30)
        click(check)
        dialog = window_named(app, "The Service Answers", timeout=30)
        answer = " ".join(showing_texts(dialog))
        self.assertIn("llama3.2", answer)
        screenshot("text-mode-check")
        click(find(dialog, button("Close"), what="close", timeout=30))
        models = find(prefs, lambda n: button("Choose a Model")(n) and showing(n), what="model list", timeout=30)
        choose_from_menu(app, prefs, models, "qwen2.5:0.5b")
        wait_until(lambda: get_text(model) == "qwen2.5:0.5b", what="the model chosen", timeout=30)

        switch = find(prefs, lambda n: n.getRole() in (pyatspi.ROLE_CHECK_BOX, pyatspi.ROLE_TOGGLE_BUTTON)
                      and showing(n) and n.name == "Open on Start", what="open on start", timeout=30)
        scroll_into_view(prefs, switch)
        pointer_click(switch)
        wait_until(lambda: switch.getState().contains(pyatspi.STATE_CHECKED), what="open on start on")
        screenshot("text-mode-editor")
        click(find(prefs, lambda n: button("Save")(n) and showing(n), what="save", timeout=30))
        return find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window", timeout=30)

    def send(self, frame, text):
        entry = find(frame, text_field("Message"), what="message entry", timeout=30)
        set_text(entry, text)
        click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button", timeout=30))

    def test_typing_only_character(self):
        app = self.start()
        frame = self.create_character(app)
        checks = len(self.server.requests())
        self.assertGreaterEqual(checks, 1, "Check asks the server")

        # No key is asked for a local server.
        self.assertFalse(any("No API key" in t for t in showing_texts(frame)), showing_texts(frame))

        # A typed message: the answer streams into the bubble and is spoken.
        recorder = SinkRecorder()
        self.addCleanup(recorder.stop)
        time.sleep(0.3)     # the recorder's stream links to the sink's monitor
        quiet = recorder.loud_ms()
        at_send = len(recorder.samples())
        self.send(frame, "Hi Mika, who are you?")
        seen = set()

        def answered():
            b = bubbles(frame, "Mika")
            if b:
                seen.add(b[-1])
            return b and b[-1] == REPLY
        wait_until(answered, timeout=60, what="the streamed answer")
        self.assertTrue(any(t and t != REPLY and REPLY.startswith(t.rstrip()) for t in seen),
                        "the answer grew in place, word by word: %r" % seen)
        wait_until(lambda: recorder.loud_ms() - quiet >= 500, timeout=60,
                   what="the answer spoken at the speaker")
        screenshot("text-mode-chat")
        # A figure, not a bound: the first sentence (3 words at 200 ms) streams
        # before it can be spoken.
        print("# first speech at the sink %s ms after Send (first sentence streamed in ~600 ms)"
              % recorder.first_loud_ms(at_send), file=sys.stderr)
        body, status, _ = self.server.requests()[checks]
        self.assertEqual(status, 200)
        self.assertEqual(body["model"], "qwen2.5:0.5b")
        self.assertTrue(body["stream"])
        self.assertEqual(user_messages(body), ["Hi Mika, who are you?"])

        # The server breaks off the next answer with an error.
        n = len(self.server.requests())
        self.server.script(n, mode="stream_error", stall_after=3,
                           reply="Let me think about that for a moment.",
                           error_message="the model runner has crashed")
        self.send(frame, "What is the weather like?")
        wait_until(lambda: any("the model runner has crashed" in t for t in showing_texts(frame)),
                   timeout=60, what="the error in the window")
        wait_until(lambda: "Not sent" in showing_texts(frame), timeout=30, what="the message marked not sent")
        self.assertIn("What is the weather like?", bubbles(frame, "You"))
        self.assertIn("Let me think ", bubbles(frame, "Mika"))
        screenshot("text-mode-error")

        # Resend: asked once more, once, and answered.
        click(find(frame, lambda n: button("Resend")(n) and showing(n), what="resend", timeout=30))
        wait_until(lambda: bubbles(frame, "Mika").count(REPLY) == 2, timeout=60, what="the answer to the resent message")
        wait_until(lambda: "Not sent" not in showing_texts(frame), timeout=30, what="the message sent")
        wait_until(lambda: not any("the model runner has crashed" in t for t in showing_texts(frame)),
                   timeout=30, what="the error gone once answers come again")
        body = self.server.requests()[n + 1][0]
        self.assertEqual(user_messages(body), ["Hi Mika, who are you?", "What is the weather like?"])
        self.assertEqual(bubbles(frame, "You").count("What is the weather like?"), 1)

        # A restart: the conversation is there.
        app.stop()
        app = self.start()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Mika"), what="Mika's window again", timeout=30)
        wait_until(lambda: bubbles(frame, "Mika").count(REPLY) == 2, timeout=30, what="the conversation restored")
        self.assertEqual(bubbles(frame, "You"), ["Hi Mika, who are you?", "What is the weather like?"])
        screenshot("text-mode-restored")

    def test_custom_server_switched_to_typing(self):
        """A voice character on a custom realtime server switched to Typing
        Only keeps its server: the address stays, Check reaches the chat
        endpoint beside it."""
        url = self.server.url.replace("http://", "ws://") + "/realtime"
        write_characters([{"id": "rin", "name": "Rin", "persona": "", "language": "",
                           "voice": "alloy", "provider": "custom", "model": "gpt-realtime",
                           "base-url": url, "input-mode": "audio", "open-on-start": False}])
        app = self.start()
        find(app.app, by_role(pyatspi.ROLE_FRAME), what="a window", timeout=30)
        app_action("edit-character", "'rin'")
        prefs = window_named(app, "Preferences", timeout=30)
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field", timeout=30)
        wait_until(lambda: get_text(name) == "Rin", what="Rin in the editor", timeout=30)
        mode_row = find(prefs, lambda n: n.getRole() == pyatspi.ROLE_COMBO_BOX and n.name == "You Talk by",
                        what="You Talk by", timeout=30)
        choose(app, prefs, mode_row, "Typing Only")
        provider_row = find(prefs, lambda n: n.getRole() == pyatspi.ROLE_COMBO_BOX and n.name == "Provider",
                            what="Provider", timeout=30)
        wait_until(lambda: "OpenAI-compatible (chat)" in [n.name for n in find_all(
            provider_row, lambda n: n.getRole() == pyatspi.ROLE_LABEL)], what="the chat service", timeout=30)
        address = find(prefs, lambda n: text_field("Base URL")(n) and showing(n), what="address", timeout=30)
        self.assertEqual(get_text(address), url)
        click(find(prefs, lambda n: button("Check")(n) and showing(n), what="check button", timeout=30))
        window_named(app, "The Service Answers", timeout=30)
        self.assertEqual(self.server.requests()[0][1], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
