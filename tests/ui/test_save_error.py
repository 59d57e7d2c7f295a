#!/usr/bin/python3
"""The characters file under faults, seen in the real app through AT-SPI
(issue #17): a save the disk refuses puts a banner with the whole error in
every character window until a save succeeds, and nothing made meanwhile is
lost; a characters.json that cannot be read is kept untouched, and only
Replace… (asked first) moves it aside and saves over it.

Every fault here stops root too (CI may run as root, and chmod does not
stop root): the settings folder is a regular file, or characters.json is a
folder. Unprivileged runs also try a mode-000 characters.json."""
import json
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import pyatspi  # noqa: E402
from lanlan_atspi import AppUnderTest, app_action, by_role, click, find_all, screenshot, set_text  # noqa: E402
from test_preferences import (CONFIG, button, character_in_config, find, frames, showing,  # noqa: E402
                              showing_texts, text_field, wait_until, window_named, write_config)

FOLDER = os.path.dirname(CONFIG)


def clear_folder():
    if os.path.isfile(FOLDER) or os.path.islink(FOLDER):
        os.unlink(FOLDER)
    elif os.path.isdir(FOLDER):
        os.chmod(FOLDER, 0o700)
        shutil.rmtree(FOLDER)


def banner_texts(frame, start):
    return [t for t in showing_texts(frame) if t and t.startswith(start)]


class SaveErrorTest(unittest.TestCase):
    def setUp(self):
        clear_folder()
        self.addCleanup(clear_folder)

    def start(self):
        app = AppUnderTest()
        self.addCleanup(app.stop)
        app.wait_for_app()
        return app

    def new_character(self, app, name):
        """Ctrl+N's editor: a new character, saved from the editor."""
        app_action("new-character")
        prefs = window_named(app, "Preferences")
        field = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field")
        set_text(field, name)
        click(find(prefs, lambda n: button("Save")(n) and showing(n), what="save button"))
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, name), what="%s's window" % name)
        return prefs, frame

    def test_refused_save_banner_until_saved(self):
        # The folder characters.json would go in is a regular file.
        with open(FOLDER, "w") as f:
            f.write("not a folder")

        app = self.start()
        first = find(app.app, by_role(pyatspi.ROLE_FRAME, "Lanlan"), what="first window")
        self.assertEqual(banner_texts(first, "The characters could not be saved"), [])

        prefs, mio = self.new_character(app, "Mio")
        # Every window says so, with the whole message (the path and why).
        for frame in (first, mio):
            wait_until(lambda: banner_texts(frame, "The characters could not be saved"),
                       what="the save-error banner in %s" % frame.name)
        message = banner_texts(first, "The characters could not be saved")[0]
        self.assertIn("lanlan", message, "the banner names what could not be made")
        self.assertEqual(message, banner_texts(mio, "The characters could not be saved")[0])
        self.assertTrue(find_all(mio, lambda n: button("Try Again")(n) and showing(n)))
        self.assertFalse(find_all(mio, lambda n: button("Replace…")(n) and showing(n)))
        click(find(prefs, button("Close"), what="Preferences close button"))
        screenshot("save-error-banner")

        # Still refused: Try Again keeps the banner (and the character).
        click(find(mio, lambda n: button("Try Again")(n) and showing(n), what="Try Again"))
        wait_until(lambda: banner_texts(mio, "The characters could not be saved"), what="banner stays")
        self.assertTrue(os.path.isfile(FOLDER))

        # The disk takes it again: one save clears every banner, and the
        # file holds the character made while saving failed.
        os.unlink(FOLDER)
        click(find(mio, lambda n: button("Try Again")(n) and showing(n), what="Try Again"))
        wait_until(lambda: character_in_config("Mio") is not None, what="Mio saved")
        for frame in (first, mio):
            wait_until(lambda: not banner_texts(frame, "The characters could not be saved"),
                       what="the banner gone in %s" % frame.name)
        self.assertIsNotNone(character_in_config("Lanlan"))

    def unreadable_case(self, how):
        write_config([{"id": "k1", "name": "Kept", "provider": "openai", "open-on-start": True}])
        with open(CONFIG, "rb") as f:
            original = f.read()
        if how == "folder":
            os.unlink(CONFIG)
            os.mkdir(CONFIG)
            with open(os.path.join(CONFIG, "inside"), "wb") as f:
                f.write(original)
        else:
            os.chmod(CONFIG, 0)

        def untouched():
            if how == "folder":
                with open(os.path.join(CONFIG, "inside"), "rb") as f:
                    return os.path.isdir(CONFIG) and f.read() == original
            st = os.stat(CONFIG)
            os.chmod(CONFIG, 0o600)
            try:
                with open(CONFIG, "rb") as f:
                    return f.read() == original and st.st_mode & 0o777 == 0
            finally:
                os.chmod(CONFIG, 0)

        app = self.start()
        first = find(app.app, by_role(pyatspi.ROLE_FRAME, "Lanlan"), what="the default character's window")
        wait_until(lambda: banner_texts(first, "Could not read the character settings"),
                   what="the unreadable-file banner")
        self.assertIn(CONFIG, banner_texts(first, "Could not read the character settings")[0])
        self.assertTrue(find_all(first, lambda n: button("Replace…")(n) and showing(n)))

        # A new character is kept in memory, never written over the file.
        prefs, mio = self.new_character(app, "Mio")
        click(find(prefs, button("Close"), what="Preferences close button"))
        wait_until(lambda: banner_texts(mio, "Could not read the character settings"),
                   what="the banner in the new window")
        self.assertTrue(untouched(), "the unreadable file was changed")
        self.assertEqual([f for f in os.listdir(FOLDER) if f != "characters.json"], [])
        screenshot("unreadable-config-banner-" + how)

        # Replace… asks; Cancel leaves everything as it was.
        click(find(mio, lambda n: button("Replace…")(n) and showing(n), what="Replace…"))
        dialog = window_named(app, "Replace the Character Settings File?")
        click(find(dialog, button("Cancel"), what="Cancel"))
        wait_until(lambda: "Replace the Character Settings File?" not in [w.name for w in app.windows()],
                   what="the question closed")
        self.assertTrue(untouched(), "Cancel changed the unreadable file")
        self.assertTrue(banner_texts(mio, "Could not read the character settings"))

        # Replace moves it aside, saves the characters, and the banners go.
        click(find(mio, lambda n: button("Replace…")(n) and showing(n), what="Replace…"))
        dialog = window_named(app, "Replace the Character Settings File?")
        click(find(dialog, button("Replace"), what="Replace"))
        wait_until(lambda: character_in_config("Mio") is not None, what="the characters saved")
        for frame in (first, mio):
            wait_until(lambda: not banner_texts(frame, "Could not read the character settings")
                       and not banner_texts(frame, "The characters could not be saved"),
                       what="the banner gone in %s" % frame.name)
        kept = [f for f in os.listdir(FOLDER) if f.startswith("characters.json.unreadable-")]
        self.assertEqual(len(kept), 1, os.listdir(FOLDER))
        kept = os.path.join(FOLDER, kept[0])
        if how == "folder":
            with open(os.path.join(kept, "inside"), "rb") as f:
                self.assertEqual(f.read(), original)
        else:
            os.chmod(kept, 0o600)
            with open(kept, "rb") as f:
                self.assertEqual(f.read(), original)
        with open(CONFIG, encoding="utf-8") as f:
            self.assertEqual(sorted(c["name"] for c in json.load(f)["characters"]), ["Lanlan", "Mio"])

    def test_unreadable_file_is_a_folder(self):
        self.unreadable_case("folder")

    @unittest.skipIf(os.geteuid() == 0, "root reads a mode-000 file; the folder case covers root")
    def test_unreadable_file_mode_000(self):
        self.unreadable_case("mode000")


if __name__ == "__main__":
    unittest.main(verbosity=2)
