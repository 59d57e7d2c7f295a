#!/usr/bin/python3
"""Point-and-click configuration, driven through AT-SPI on the real app:
add / edit / delete a character in Preferences (checked in
$XDG_CONFIG_HOME/lanlan/characters.json and by its window), API keys go to
the keyring and into no file, character cards import from the command line
(good and bad ones), a damaged config is backed up and reported, and several
character windows work side by side."""
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
                          frames, screenshot, set_text, texts, wait_until, window_named)
import lanlan_atspi  # noqa: E402


# Under a loaded CI machine the editor's slide-in alone can take seconds:
# these tests wait for conditions, up to 30 s, never for fixed times.
def find(root, pred, timeout=30, what="element"):
    return lanlan_atspi.find(root, pred, timeout, what)


def wait_until(cond, timeout=30, what="condition"):
    return lanlan_atspi.wait_until(cond, timeout, what)


def window_named(app, name, timeout=30):
    return lanlan_atspi.window_named(app, name, timeout)

CONFIG = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                      "lanlan", "characters.json")


def read_config():
    try:
        with open(CONFIG, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def names_in_config():
    config = read_config()
    return [c["name"] for c in config["characters"]] if config else []


def character_in_config(name):
    for c in (read_config() or {}).get("characters", []):
        if c["name"] == name:
            return c
    return None


def write_config(characters):
    os.makedirs(os.path.dirname(CONFIG), exist_ok=True)
    with open(CONFIG, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "characters": characters}, f)


def button(name):
    """A push button whose accessible name is name (GTK 4.8 may append the label)."""
    def pred(node):
        if node.getRole() != pyatspi.ROLE_PUSH_BUTTON or not node.name:
            return False
        label = node.name.replace("_", "")  # mnemonics
        return label == name or label.startswith(name + " ")
    return pred


def text_field(name):
    def pred(node):
        return node.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_PASSWORD_TEXT, pyatspi.ROLE_ENTRY) \
            and node.name == name
    return pred


def showing(node):
    """GTK 4.8 has no SHOWING state, but leaves hidden widgets out of the
    tree, and the app hides banners it is not showing."""
    try:
        return node.getState().contains(pyatspi.STATE_VISIBLE)
    except Exception:
        return False


def showing_texts(root):
    return [n.name for n in find_all(root, lambda n: n.getRole() == pyatspi.ROLE_LABEL and showing(n))]


def png_card(card):
    """A valid 1x1 PNG carrying card as a base64 'chara' tEXt chunk."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    payload = base64.b64encode(json.dumps(card).encode())
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"tEXt", b"chara\0" + payload)
            + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
            + chunk(b"IEND", b""))


class PreferencesTest(unittest.TestCase):
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

    def test_add_edit_delete_character(self):
        app = self.start()
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Lanlan"), what="first window")
        prefs = self.open_preferences(app)
        screenshot("preferences")

        # Add
        click(find(prefs, button("Add Character"), what="add button"))
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field")
        set_text(name, "Mio")
        set_text(find(prefs, text_field("Persona"), what="persona"), "You are Mio.\nYou like cats.")
        set_text(find(prefs, text_field("Voice"), what="voice field"), "marin")
        screenshot("preferences-editor")
        click(find(prefs, button("Save"), what="save button"))
        time.sleep(1)  # the editor subpage slides away

        find(app.app, by_role(pyatspi.ROLE_FRAME, "Mio"), what="Mio's window")
        wait_until(lambda: character_in_config("Mio") is not None, what="Mio saved")
        mio = character_in_config("Mio")
        self.assertEqual(mio["persona"], "You are Mio.\nYou like cats.")
        self.assertEqual(mio["voice"], "marin")
        self.assertEqual(mio["provider"], "openai")

        # Edit name and voice
        click(find(prefs, lambda n: button("Edit Mio")(n) and showing(n), what="edit button"))
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field")
        wait_until(lambda: get_text(name) == "Mio", what="editor loaded")
        set_text(name, "Mio Chan")
        set_text(find(prefs, lambda n: text_field("Voice")(n) and showing(n)), "cedar")
        click(find(prefs, lambda n: button("Save")(n) and showing(n), what="save button"))
        time.sleep(1)

        wait_until(lambda: character_in_config("Mio Chan") is not None, what="rename saved")
        edited = character_in_config("Mio Chan")
        self.assertEqual(edited["id"], mio["id"])
        self.assertEqual(edited["voice"], "cedar")
        self.assertIsNone(character_in_config("Mio"))
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Mio Chan"), what="renamed window")

        # Delete, with confirmation
        click(find(prefs, lambda n: button("Edit Mio Chan")(n) and showing(n)
                   or button("Edit Mio")(n) and showing(n), what="edit button"))
        click(find(prefs, lambda n: button("Delete Character")(n) and showing(n), what="delete button"))
        dialog = window_named(app, "Delete “Mio Chan”?")
        screenshot("delete-confirmation")
        click(find(dialog, button("Delete"), what="confirm delete"))
        wait_until(lambda: character_in_config("Mio Chan") is None, what="deleted from config")
        wait_until(lambda: "Mio Chan" not in frames(app), what="its window closed")
        self.assertIn("Lanlan", names_in_config())

    def test_api_key_goes_to_keyring_only(self):
        key = "sk-lanlan-test-%d-do-not-write" % os.getpid()
        app = self.start()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Lanlan"), what="window")
        wait_until(lambda: any("No API key is set for OpenAI" in t for t in showing_texts(frame)),
                   what="onboarding banner")
        screenshot("onboarding")

        app_action("api-keys")
        prefs = window_named(app, "Preferences")
        status = lambda: [n.name for n in find_all(prefs, lambda n: n.getRole() == pyatspi.ROLE_LABEL
                                                    and n.name in ("Key set", "No key"))]
        wait_until(lambda: len(status()) >= 5 and set(status()) == {"No key"}, what="key status")

        set_text(find(prefs, text_field("OpenAI"), what="OpenAI key row"), key)
        click(find(prefs, button("Save Key for OpenAI"), what="save key button"))

        def in_keyring():
            r = subprocess.run(["secret-tool", "lookup", "provider", "openai"],
                               capture_output=True, text=True)
            return r.stdout == key
        wait_until(in_keyring, what="key in keyring")
        wait_until(lambda: "Key set" in status(), what="status says key set")
        field = find(prefs, text_field("OpenAI"))
        self.assertEqual(get_text(field), "", "the key stays on screen")
        wait_until(lambda: not any("No API key" in t for t in showing_texts(frame)),
                   what="onboarding banner hidden")
        screenshot("preferences-keys")

        app.stop()
        for root, _dirs, files in os.walk(os.environ["HOME"]):
            for f in files:
                path = os.path.join(root, f)
                try:
                    with open(path, "rb") as fh:
                        self.assertNotIn(key.encode(), fh.read(), "key written to %s" % path)
                except (PermissionError, FileNotFoundError, OSError):
                    pass

    def test_import_card(self):
        tmp = tempfile.mkdtemp()
        good = os.path.join(tmp, "aiko.png")
        with open(good, "wb") as f:
            f.write(png_card({"spec": "chara_card_v2", "spec_version": "2.0",
                              "data": {"name": "Aiko", "description": "{{char}} is a librarian.",
                                       "personality": "quiet", "scenario": "", "first_mes": "Shh."}}))
        bad = os.path.join(tmp, "broken.png")
        with open(good, "rb") as f:
            data = bytearray(f.read())
        data[60] ^= 0x40  # inside the tEXt chunk: the CRC no longer matches
        with open(bad, "wb") as f:
            f.write(data)

        app = self.start()
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Lanlan"), what="window")

        # A second `lanlan --import` hands the file to the running app.
        subprocess.run([os.environ["LANLAN_BINARY"], "--import", good], check=True, timeout=20)
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Aiko"), what="imported character's window")
        wait_until(lambda: character_in_config("Aiko") is not None, what="card saved")
        aiko = character_in_config("Aiko")
        self.assertIn("Aiko is a librarian.", aiko["persona"])
        self.assertIn("Personality: quiet", aiko["persona"])

        before = read_config()
        subprocess.run([os.environ["LANLAN_BINARY"], "--import", bad], check=True, timeout=20)

        def error_shown():
            return any("Could not import “broken.png”" in t and "checksum" in t
                       for w in app.windows() for t in showing_texts(w))
        wait_until(error_shown, what="import error shown")
        screenshot("import-error")
        time.sleep(0.5)
        self.assertEqual(read_config(), before, "a bad card changed the config")

    def test_open_files(self):
        """`lanlan FILE…` (the desktop's Exec=lanlan %F) imports the cards and
        opens their windows only; a bad one is named in a dialog."""
        write_config([{"id": "s1", "name": "Sora", "provider": "openai", "open-on-start": True}])
        tmp = tempfile.mkdtemp()
        good = os.path.join(tmp, "yuki.png")
        with open(good, "wb") as f:
            f.write(png_card({"spec": "chara_card_v2", "spec_version": "2.0",
                              "data": {"name": "Yuki", "description": "{{char}} skis.",
                                       "personality": "bright", "scenario": "", "first_mes": "Hi!"}}))
        bad = os.path.join(tmp, "not-a-card.json")
        with open(bad, "w") as f:
            f.write("{ nope")

        app = self.start(args=(good, bad))
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Yuki"), what="the opened card's window")
        wait_until(lambda: character_in_config("Yuki") is not None, what="card saved")

        def error_dialog():
            return any(any("not-a-card.json" in t for t in showing_texts(w))
                       and any(t == "Import Failed" for t in showing_texts(w))
                       for w in app.windows())
        wait_until(error_dialog, what="a dialog naming the bad file")
        self.assertNotIn("Sora", frames(app), "opening files also opened the open-on-start windows")
        self.assertEqual(names_in_config(), ["Sora", "Yuki"])

    def test_corrupt_config_is_backed_up_and_reported(self):
        write_config([])
        garbage = b'{"version": 1, "characters": [ {"name": "Half'
        with open(CONFIG, "wb") as f:
            f.write(garbage)

        app = self.start()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME), what="window")
        wait_until(lambda: any("damaged" in t for t in showing_texts(frame)),
                   what="damaged-config banner")
        screenshot("damaged-config")

        folder = os.path.dirname(CONFIG)
        backups = [f for f in os.listdir(folder) if f.startswith("characters.json.corrupt-")]
        self.assertEqual(len(backups), 1)
        with open(os.path.join(folder, backups[0]), "rb") as f:
            self.assertEqual(f.read(), garbage)
        banner = [t for t in showing_texts(frame) if "damaged" in t][0]
        self.assertIn(backups[0], banner)

        click(find(frame, button("Dismiss"), what="dismiss button"))
        wait_until(lambda: not any("damaged" in t for t in showing_texts(frame)), what="banner gone")

    def test_edit_keeps_endpoint_override(self):
        """A built-in service's base-URL override (another region) survives
        an edit in the character editor, which hides the address field."""
        intl = "wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime"
        write_config([
            {"id": "q1", "name": "Qiu", "provider": "qwen", "voice": "Cherry",
             "base-url": intl, "open-on-start": True},
        ])
        app = self.start()
        find(app.app, by_role(pyatspi.ROLE_FRAME, "Qiu"), what="Qiu's window")
        prefs = self.open_preferences(app)
        click(find(prefs, lambda n: button("Edit Qiu")(n) and showing(n), what="edit button"))
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field")
        wait_until(lambda: get_text(name) == "Qiu", what="editor loaded")
        set_text(name, "Qiu Qiu")
        click(find(prefs, lambda n: button("Save")(n) and showing(n), what="save button"))
        wait_until(lambda: character_in_config("Qiu Qiu") is not None, what="edit saved")
        edited = character_in_config("Qiu Qiu")
        self.assertEqual(edited["provider"], "qwen")
        self.assertEqual(edited["base-url"], intl)

    def test_several_windows(self):
        write_config([
            {"id": "a1", "name": "Alpha", "provider": "openai", "open-on-start": True},
            {"id": "b2", "name": "Beta", "provider": "qwen", "open-on-start": True},
            {"id": "c3", "name": "Gamma", "provider": "glm", "open-on-start": False},
        ])
        app = self.start()
        wait_until(lambda: {"Alpha", "Beta"} <= set(frames(app)), what="two windows")
        self.assertNotIn("Gamma", frames(app))

        # app.new-window is Ctrl+N's editor: nothing exists until Save.
        app_action("new-window")
        prefs = window_named(app, "Preferences")
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="new character's name field")
        self.assertEqual(get_text(name), "")
        self.assertEqual(len(names_in_config()), 3)
        self.assertFalse(any(n.startswith("Character ") for n in frames(app)))
        set_text(name, "Delta")
        click(find(prefs, lambda n: button("Save")(n) and showing(n), what="save button"))
        wait_until(lambda: "Delta" in frames(app), what="new character window")
        wait_until(lambda: "Delta" in names_in_config(), what="new character saved")
        click(find(prefs, button("Close"), what="Preferences close button"))

        alpha, beta = frames(app)["Alpha"], frames(app)["Beta"]
        set_text(find(alpha, lambda n: n.getRole() == pyatspi.ROLE_TEXT and n.name == "Message"),
                 "Hello Alpha")
        click(find(alpha, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send")))
        wait_until(lambda: "Hello Alpha" in texts(alpha), what="message in Alpha")
        self.assertNotIn("Hello Alpha", texts(beta))
        # Each window onboards for its own provider.
        wait_until(lambda: any("Qwen-Omni" in t for t in showing_texts(beta)), what="Beta onboarding")
        screenshot("several-windows")

    def test_new_character_shortcut_and_edit_menu(self):
        app = self.start()
        frame = find(app.app, by_role(pyatspi.ROLE_FRAME, "Lanlan"), what="first window")
        before = names_in_config()
        self.assertNotIn("Character 2", before)

        # Ctrl+N opens the editor for a new character; nothing is created
        # until it is saved.
        entry = find(frame, text_field("Message"), what="message entry")
        ext = entry.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        subprocess.run(["xdotool", "mousemove", str(ext.x + ext.width // 2), str(ext.y + ext.height // 2),
                        "click", "1"], check=True)
        wait_until(lambda: entry.getState().contains(pyatspi.STATE_FOCUSED), what="entry focused")
        subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+n"], check=True)
        prefs = window_named(app, "Preferences")
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="new character's name field")
        self.assertEqual(get_text(name), "")
        self.assertEqual(names_in_config(), before)
        self.assertEqual(sorted(n for n in frames(app) if n != "Preferences"), ["Lanlan"])
        click(find(prefs, button("Close"), what="Preferences close button"))
        wait_until(lambda: "Preferences" not in [w.name for w in app.windows()], what="Preferences closed")

        # Each window's menu edits its character.
        def pointer_click(node):
            ext = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
            subprocess.run(["xdotool", "mousemove", str(ext.x + ext.width // 2),
                            str(ext.y + ext.height // 2), "click", "1"], check=True)

        pointer_click(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Main Menu"), what="menu button"))
        item = find(app.app, lambda n: (n.name or "").replace("_", "") == "Edit Character…" and showing(n)
                    and n.getRole() != pyatspi.ROLE_LABEL, what="Edit Character menu item")
        if item.queryAction().nActions > 0:
            click(item)
        else:
            pointer_click(item)
        prefs = window_named(app, "Preferences")
        name = find(prefs, lambda n: text_field("Name")(n) and showing(n), what="name field")
        wait_until(lambda: get_text(name) == "Lanlan", what="Lanlan in the editor")
        self.assertEqual(names_in_config(), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
