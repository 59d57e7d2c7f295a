#!/usr/bin/python3
"""A second GTK 4 program that offers files by drag and drop, so a test
can drag them onto Lanlan's window for real (X11 XDND between two
processes, the pointer moved with xdotool). The window, titled --title,
is one drag source filling it; what it offers is the files given, as
text/uri-list (what file managers offer). It prints "ready" once shown
and "drag-end <GdkDragAction as a number>" when a drag ends (0: not
dropped)."""
import argparse
import sys

import gi
gi.require_version("Gtk", "4.0")
gi.require_version("Gdk", "4.0")
from gi.repository import Gdk, Gio, GLib, Gtk  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--title", default="Drag Source")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    uris = "".join(Gio.File.new_for_path(p).get_uri() + "\r\n" for p in args.files)
    app = Gtk.Application(application_id=None, flags=Gio.ApplicationFlags.NON_UNIQUE)

    def on_prepare(source, x, y):
        return Gdk.ContentProvider.new_for_bytes("text/uri-list", GLib.Bytes.new(uris.encode()))

    def on_drag_end(source, drag, delete):
        print("drag-end", int(drag.get_selected_action()), flush=True)

    def on_activate(app):
        win = Gtk.ApplicationWindow(application=app, title=args.title)
        win.set_default_size(240, 240)
        label = Gtk.Label(label="Drag me")
        label.set_hexpand(True)
        label.set_vexpand(True)
        source = Gtk.DragSource(actions=Gdk.DragAction.COPY)
        source.connect("prepare", on_prepare)
        source.connect("drag-end", on_drag_end)
        label.add_controller(source)
        win.set_child(label)
        win.connect("map", lambda w: GLib.timeout_add(200, lambda: print("ready", flush=True) and False))
        win.present()

    app.connect("activate", on_activate)
    sys.exit(app.run([sys.argv[0]]))


if __name__ == "__main__":
    main()
