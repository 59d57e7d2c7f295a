#!/usr/bin/python3
"""The Flatpak manifest is well formed (flatpak-builder --show-manifest
accepts it) and asks for what the app needs and nothing it cannot use:
a current GNOME runtime, network, Wayland with X11 fallback, GPU, read-only
PipeWire, the keyring and notifications; libsoxr and libzmq as pinned
modules with checksums, and the app itself built with meson from this tree."""
import json
import os
import re
import shutil
import subprocess
import unittest

MANIFEST = os.path.join(os.environ["LANLAN_SOURCE_ROOT"], "flatpak", "io.github.lanlan.Lanlan.json")


@unittest.skipUnless(shutil.which("flatpak-builder"), "flatpak-builder is not installed")
class FlatpakManifestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run(["flatpak-builder", "--show-manifest", MANIFEST],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError("flatpak-builder refused the manifest:\n" + out.stderr)
        cls.manifest = json.loads(out.stdout)

    def test_identity(self):
        m = self.manifest
        self.assertEqual(m["id"], "io.github.lanlan.Lanlan")
        self.assertEqual(m["command"], "lanlan")
        self.assertEqual(m["runtime"], "org.gnome.Platform")
        self.assertEqual(m["sdk"], "org.gnome.Sdk")
        self.assertGreaterEqual(int(m["runtime-version"]), 47)

    def test_permissions(self):
        args = set(self.manifest["finish-args"])
        for needed in ("--share=network", "--share=ipc", "--socket=wayland", "--socket=fallback-x11",
                       "--device=dri", "--filesystem=xdg-run/pipewire-0:ro",
                       "--talk-name=org.freedesktop.secrets",
                       "--talk-name=org.freedesktop.Notifications"):
            self.assertIn(needed, args)
        self.assertFalse([a for a in args if a.startswith("--filesystem=home")
                          or a == "--filesystem=host" or a == "--socket=x11"
                          or a.startswith("--talk-name=org.freedesktop.Flatpak")],
                         "broader access than needed")
        # Screen and camera come through the portals (always reachable),
        # which hand over a PipeWire remote: no device or camera access.
        self.assertFalse([a for a in args if a in ("--device=all", "--device=shm")
                          or a.startswith("--talk-name=org.freedesktop.portal")],
                         "screen and camera need no access beyond the portals")

    def test_libportal_pinned(self):
        modules = {m["name"]: m for m in self.manifest["modules"]}
        self.assertIn("libportal", modules)
        src = modules["libportal"]["sources"][0]
        self.assertEqual(src["type"], "git")
        self.assertRegex(src.get("commit", ""), re.compile(r"^[0-9a-f]{40}$"))
        self.assertIn("-Dbackend-gtk4=enabled", modules["libportal"]["config-opts"])

    def test_modules(self):
        modules = {m["name"]: m for m in self.manifest["modules"]}
        self.assertEqual(list(modules)[-1], "lanlan", "the app is built last")
        for dep in ("libsoxr", "libzmq"):
            self.assertIn(dep, modules)
            self.assertIn(modules[dep]["buildsystem"], ("cmake", "cmake-ninja"))
            for src in modules[dep]["sources"]:
                if src["type"] in ("archive", "file"):
                    self.assertTrue(src["url"].startswith("https://"))
                    self.assertRegex(src.get("sha256", ""), re.compile(r"^[0-9a-f]{64}$"))
                elif src["type"] == "git":
                    self.assertTrue(src.get("tag") or src.get("commit"))
        app = modules["lanlan"]
        self.assertEqual(app["buildsystem"], "meson")
        self.assertEqual(app["sources"][0]["type"], "dir")
        self.assertEqual(app["sources"][0]["path"], "..")


if __name__ == "__main__":
    unittest.main(verbosity=2)
