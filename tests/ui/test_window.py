#!/usr/bin/python3
"""The app opens a character window with a header bar, a transcript, a text
entry and a microphone toggle; sending text puts it in the transcript; with
LANGUAGE=ja the same window is in Japanese."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import (AppUnderTest, by_role, click, find, get_text, is_on, screenshot,  # noqa: E402
                          set_text, texts, toggle_button, wait_until)


class WindowTest(unittest.TestCase):
    def start(self, **env):
        app = AppUnderTest(env)
        self.addCleanup(app.stop)
        app.wait_for_app()
        return app

    def test_window_parts(self):
        app = self.start()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME), what="window")
        self.assertEqual(frame.name, "Lanlan")

        # The character's face in the header: an image named after it,
        # whose description says what it is doing.
        avatar = find(frame, lambda n: n.getRole() == pyatspi.ROLE_IMAGE and n.name == "Lanlan",
                      what="header avatar")
        self.assertEqual(avatar.description, "")

        # A new window is there to type in: the message entry has the focus.
        message = find(frame, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Message",
                       what="message entry")
        wait_until(lambda: message.getState().contains(pyatspi.STATE_FOCUSED),
                   what="message entry focused")

        mic = find(frame, toggle_button("Microphone"), what="microphone toggle")
        self.assertFalse(is_on(mic))
        click(mic)
        wait_until(lambda: is_on(mic), what="mic toggled on")
        wait_until(lambda: avatar.description == "Listening", what="avatar listening")
        click(mic)
        wait_until(lambda: not is_on(mic), what="mic toggled off")
        wait_until(lambda: avatar.description == "", what="avatar idle")

        self.assertIn("Not connected", texts(frame))
        find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Main Menu"), what="menu button")

        entry = find(frame, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Message",
                     what="message entry")
        set_text(entry, "Hello there, Lanlan")
        click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button"))
        wait_until(lambda: "Hello there, Lanlan" in texts(frame), what="message in transcript")
        wait_until(lambda: get_text(entry) == "", what="entry cleared")
        screenshot("main-window")

    def test_japanese(self):
        app = self.start(LANG="C.UTF-8", LANGUAGE="ja")
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME), what="window")
        labels = texts(frame)
        self.assertIn("未接続", labels)
        find(frame, toggle_button("マイク"), what="Japanese microphone toggle")
        find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "送信"), what="Japanese send button")
        self.assertEqual(frame.name, "ランラン")
        screenshot("main-window-ja")

    def test_chinese(self):
        app = self.start(LANG="C.UTF-8", LANGUAGE="zh_CN")
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME), what="window")
        self.assertIn("未连接", texts(frame))
        find(frame, toggle_button("麦克风"), what="Chinese microphone toggle")


if __name__ == "__main__":
    unittest.main(verbosity=2)
