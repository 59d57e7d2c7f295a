#!/usr/bin/python3
"""The metainfo's screenshots are files in data/screenshots (made by the UI
tests), large enough for software centers, and its OARS content rating is
filled in (appstreamcli validate --no-net cannot check either offline)."""
import os
import sys
import xml.etree.ElementTree as ET

import gi
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import GdkPixbuf  # noqa: E402

SRC = os.environ.get("LANLAN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
tree = ET.parse(os.path.join(SRC, "data", "io.github.lanlan.Lanlan.metainfo.xml.in"))
failed = False
shots = tree.findall("./screenshots/screenshot")
if not shots or not any(s.get("type") == "default" for s in shots):
    print("not ok - no default screenshot")
    failed = True
for shot in shots:
    url = shot.find("image").text.strip()
    path = os.path.join(SRC, "data", "screenshots", os.path.basename(url))
    if not url.startswith("https://") or not os.path.exists(path):
        print("not ok - %s: no https URL or no file %s" % (url, path))
        failed = True
        continue
    _fmt, w, h = GdkPixbuf.Pixbuf.get_file_info(path)
    ok = w >= 620 and h >= 350 and shot.find("caption") is not None
    print("%s - %s (%dx%d)" % ("ok" if ok else "not ok", os.path.basename(path), w, h))
    failed |= not ok
rating = tree.find("./content_rating")
attrs = rating.findall("content_attribute") if rating is not None else []
if rating is None or rating.get("type") != "oars-1.1" or not attrs:
    print("not ok - the OARS content rating is empty")
    failed = True
else:
    print("ok - OARS: %s" % ", ".join("%s=%s" % (a.get("id"), a.text) for a in attrs))
sys.exit(1 if failed else 0)
