#!/usr/bin/python3
"""The shortcuts window lists every shortcut the app binds, and nothing it
does not: compares src/ui/gtk/help-overlay.ui with the accelerators set in
src/ui/*.c (gtk_application_set_accels_for_action and
gtk_widget_class_add_binding_action / add_binding*). Keys GTK itself gives
(Ctrl+? for the shortcuts window, Return to activate the message entry)
are allowed in the list without a binding in our sources."""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

root = os.environ.get("LANLAN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
GTK_OWN = {("control", "question"), ("", "return")}


def norm(mods, key):
    return ("+".join(sorted(m for m in mods if m)), key.lower())


def parse_accel(text):
    mods = re.findall(r"<(\w+)>", text)
    key = re.sub(r"<\w+>", "", text)
    mods = ["control" if m.lower() in ("control", "ctrl", "primary") else m.lower() for m in mods]
    return norm(mods, key)


bound = {}
for path in glob.glob(os.path.join(root, "src", "ui", "*.c")):
    src = open(path, encoding="utf-8").read()
    for m in re.finditer(r"set_accels_for_action\s*\([^,]+,\s*\"([^\"]+)\",\s*\(const char \*\[\]\)\s*\{([^}]*)\}", src):
        for accel in re.findall(r"\"([^\"]+)\"", m.group(2)):
            bound[parse_accel(accel)] = m.group(1)
    for m in re.finditer(r"add_binding(?:_action|_signal)?\s*\(\s*widget_class,\s*GDK_KEY_(\w+),\s*([^,]+),\s*\"?([\w.-]*)", src):
        mods = []
        if "CONTROL" in m.group(2):
            mods.append("control")
        if "SHIFT" in m.group(2):
            mods.append("shift")
        if "ALT" in m.group(2):
            mods.append("alt")
        bound[norm(mods, m.group(1))] = m.group(3)

listed = {}
tree = ET.parse(os.path.join(root, "src", "ui", "gtk", "help-overlay.ui"))
for obj in tree.iter("object"):
    if obj.get("class") != "GtkShortcutsShortcut":
        continue
    props = {p.get("name"): p.text for p in obj.findall("property")}
    if "accelerator" not in props:
        print("not ok - %r has no accelerator (window bindings are not found by action name)"
              % props.get("title"))
        sys.exit(1)
    listed[parse_accel(props["accelerator"])] = props.get("title")

failed = False
for key, action in sorted(bound.items()):
    if key not in listed:
        print("not ok - %s (%s) is bound but not in the shortcuts window" % ("+".join(key), action))
        failed = True
    else:
        print("ok - %s: %s" % ("+".join(key), listed[key]))
for key, title in sorted(listed.items()):
    if key not in bound and key not in GTK_OWN:
        print("not ok - %r (%s) is listed but nothing binds it" % (title, "+".join(key)))
        failed = True
if len(bound) < 5:
    print("not ok - found only %d bindings in the sources: the parser is broken" % len(bound))
    failed = True
sys.exit(1 if failed else 0)
