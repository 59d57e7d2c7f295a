#!/usr/bin/python3
"""A stand-in xdg-desktop-portal for the test session bus: ScreenCast and
Camera, as strict as the real portal about what it accepts.

It owns org.freedesktop.portal.Desktop, follows the Request/Session object
protocol of the portal documentation (a Request object per call at
/org/freedesktop/portal/desktop/request/SENDER/TOKEN answering with a
Response signal; Session objects at .../session/SENDER/TOKEN with Close),
and hands out a PipeWire remote (a socket connected to the session's
PipeWire) whose stream is the node named by --node (a videotestsrc fed
through pipewiresink in the tests).

The "user" is scripted by --answer: 'ok' picks the node, 'cancel' answers
1 (cancelled by the user) as the real dialog's Cancel button does.
Every call is logged to --log as one JSON line, so tests can check what
the app asked for.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys

from gi.repository import Gio, GLib

BUS_NAME = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"

XML = """
<node>
  <interface name="org.freedesktop.portal.ScreenCast">
    <method name="CreateSession">
      <arg type="a{sv}" name="options" direction="in"/>
      <arg type="o" name="handle" direction="out"/>
    </method>
    <method name="SelectSources">
      <arg type="o" name="session_handle" direction="in"/>
      <arg type="a{sv}" name="options" direction="in"/>
      <arg type="o" name="handle" direction="out"/>
    </method>
    <method name="Start">
      <arg type="o" name="session_handle" direction="in"/>
      <arg type="s" name="parent_window" direction="in"/>
      <arg type="a{sv}" name="options" direction="in"/>
      <arg type="o" name="handle" direction="out"/>
    </method>
    <method name="OpenPipeWireRemote">
      <arg type="o" name="session_handle" direction="in"/>
      <arg type="a{sv}" name="options" direction="in"/>
      <arg type="h" name="fd" direction="out"/>
    </method>
    <property name="AvailableSourceTypes" type="u" access="read"/>
    <property name="AvailableCursorModes" type="u" access="read"/>
    <property name="version" type="u" access="read"/>
  </interface>
  <interface name="org.freedesktop.portal.Camera">
    <method name="AccessCamera">
      <arg type="a{sv}" name="options" direction="in"/>
      <arg type="o" name="handle" direction="out"/>
    </method>
    <method name="OpenPipeWireRemote">
      <arg type="a{sv}" name="options" direction="in"/>
      <arg type="h" name="fd" direction="out"/>
    </method>
    <property name="IsCameraPresent" type="b" access="read"/>
    <property name="version" type="u" access="read"/>
  </interface>
</node>
"""

REQUEST_XML = """
<node>
  <interface name="org.freedesktop.portal.Request">
    <method name="Close"/>
    <signal name="Response">
      <arg type="u" name="response"/>
      <arg type="a{sv}" name="results"/>
    </signal>
  </interface>
</node>
"""

SESSION_XML = """
<node>
  <interface name="org.freedesktop.portal.Session">
    <method name="Close"/>
    <signal name="Closed">
      <arg type="a{sv}" name="details"/>
    </signal>
    <property name="version" type="u" access="read"/>
  </interface>
</node>
"""

SOURCE_MONITOR, SOURCE_WINDOW, SOURCE_VIRTUAL = 1, 2, 4
CURSOR_HIDDEN, CURSOR_EMBEDDED, CURSOR_METADATA = 1, 2, 4
TOKEN_RE = re.compile(r"^[A-Za-z0-9_]+$")

# Options each method takes, with their D-Bus types (from the portal
# documentation). Anything else is refused, as a mistake should fail.
OPTIONS = {
    "CreateSession": {"handle_token": "s", "session_handle_token": "s"},
    "SelectSources": {"handle_token": "s", "types": "u", "multiple": "b",
                      "cursor_mode": "u", "restore_token": "s", "persist_mode": "u"},
    "Start": {"handle_token": "s"},
    "ScreenCast.OpenPipeWireRemote": {},
    "AccessCamera": {"handle_token": "s"},
    "Camera.OpenPipeWireRemote": {},
}


class Refused(Exception):
    pass


class Portal:
    def __init__(self, args):
        self.args = args
        self.conn = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        self.node = Gio.DBusNodeInfo.new_for_xml(XML)
        self.request_iface = Gio.DBusNodeInfo.new_for_xml(REQUEST_XML).interfaces[0]
        self.session_iface = Gio.DBusNodeInfo.new_for_xml(SESSION_XML).interfaces[0]
        self.sessions = {}   # path -> {"sender", "state", "reg"}
        self.camera_allowed = set()
        self.log = open(args.log, "a", buffering=1) if args.log else None
        for iface in self.node.interfaces:
            self.conn.register_object(PATH, iface, self.on_call, self.on_get_property, None)
        self.conn.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus",
                                   "NameOwnerChanged", "/org/freedesktop/DBus", None,
                                   Gio.DBusSignalFlags.NONE, self.on_name_owner_changed)

    def record(self, **entry):
        if self.log:
            self.log.write(json.dumps(entry) + "\n")

    def on_get_property(self, conn, sender, path, iface, prop):
        if iface.endswith("ScreenCast"):
            return {"AvailableSourceTypes": GLib.Variant("u", SOURCE_MONITOR | SOURCE_WINDOW),
                    "AvailableCursorModes": GLib.Variant("u", CURSOR_HIDDEN | CURSOR_EMBEDDED),
                    "version": GLib.Variant("u", 4)}[prop]
        return {"IsCameraPresent": GLib.Variant("b", True),
                "version": GLib.Variant("u", 1)}[prop]

    def sender_part(self, sender):
        return sender[1:].replace(".", "_")

    def check_options(self, method, options):
        allowed = OPTIONS[method]
        for key, value in options.items():
            if key not in allowed:
                raise Refused("Unknown option %s for %s" % (key, method))
            if value.get_type_string() != allowed[key]:
                raise Refused("Option %s has type %s, not %s" % (key, value.get_type_string(), allowed[key]))
        for key in ("handle_token", "session_handle_token"):
            if key in options and not TOKEN_RE.match(options[key].unpack()):
                raise Refused("Invalid token %r" % options[key].unpack())

    def new_request(self, sender, options):
        token = options["handle_token"].unpack() if "handle_token" in options else "t%d" % id(options)
        path = "%s/request/%s/%s" % (PATH, self.sender_part(sender), token)
        reg = self.conn.register_object(path, self.request_iface,
                                        lambda *a: a[-1].return_value(None), None, None)
        return path, reg

    def respond(self, sender, path, reg, code, results):
        def emit():
            self.conn.emit_signal(sender, path, "org.freedesktop.portal.Request", "Response",
                                  GLib.Variant("(ua{sv})", (code, results)))
            self.conn.unregister_object(reg)
            return False
        # The real portal answers after the dialog, never inside the call.
        GLib.timeout_add(20, emit)

    def own_session(self, sender, path):
        s = self.sessions.get(path)
        if s is None or s["sender"] != sender:
            raise Refused("Invalid session")
        return s

    def pipewire_fd(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(os.path.join(os.environ["XDG_RUNTIME_DIR"], "pipewire-0"))
        return sock.detach()

    def node_id(self):
        out = subprocess.run(["pw-dump"], capture_output=True, text=True, check=True).stdout
        for obj in json.loads(out):
            props = obj.get("info", {}).get("props", {}) or {}
            if props.get("node.name") == self.args.node:
                return obj["id"]
        return None

    def on_call(self, conn, sender, path, iface, method, params, invocation):
        short = iface.rsplit(".", 1)[-1]
        key = method if method != "OpenPipeWireRemote" else short + "." + method
        try:
            self.record(call=key, sender=sender, params=str(params))
            if key == "CreateSession":
                opts = params.get_child_value(0)
                options = dict((k, opts.lookup_value(k, None)) for k in opts.unpack())
                self.check_options(key, options)
                if "session_handle_token" not in options:
                    raise Refused("session_handle_token is required")
                spath = "%s/session/%s/%s" % (PATH, self.sender_part(sender),
                                              options["session_handle_token"].unpack())
                if spath in self.sessions:
                    raise Refused("Session exists")
                sreg = conn.register_object(spath, self.session_iface,
                                            self.on_session_call, lambda *a: GLib.Variant("u", 1), None)
                self.sessions[spath] = {"sender": sender, "state": "created", "reg": sreg}
                rpath, rreg = self.new_request(sender, options)
                invocation.return_value(GLib.Variant("(o)", (rpath,)))
                self.respond(sender, rpath, rreg, 0, {"session_handle": GLib.Variant("s", spath)})
            elif key == "SelectSources":
                spath = params.get_child_value(0).get_string()
                opts = params.get_child_value(1)
                options = dict((k, opts.lookup_value(k, None)) for k in opts.unpack())
                self.check_options(key, options)
                s = self.own_session(sender, spath)
                if s["state"] != "created":
                    raise Refused("Sources already selected")
                types = options["types"].unpack() if "types" in options else SOURCE_MONITOR
                if types & ~(SOURCE_MONITOR | SOURCE_WINDOW):
                    raise Refused("Unsupported source types")
                cursor = options["cursor_mode"].unpack() if "cursor_mode" in options else CURSOR_HIDDEN
                if cursor & ~(CURSOR_HIDDEN | CURSOR_EMBEDDED) or bin(cursor).count("1") != 1:
                    raise Refused("Unavailable cursor mode")
                s["state"] = "selected"
                rpath, rreg = self.new_request(sender, options)
                invocation.return_value(GLib.Variant("(o)", (rpath,)))
                self.respond(sender, rpath, rreg, 0, {})
            elif key == "Start":
                spath = params.get_child_value(0).get_string()
                opts = params.get_child_value(2)
                options = dict((k, opts.lookup_value(k, None)) for k in opts.unpack())
                self.check_options(key, options)
                s = self.own_session(sender, spath)
                if s["state"] != "selected":
                    raise Refused("Start before SelectSources")
                rpath, rreg = self.new_request(sender, options)
                invocation.return_value(GLib.Variant("(o)", (rpath,)))
                if self.args.answer == "cancel":
                    self.respond(sender, rpath, rreg, 1, {})
                    return
                node = self.node_id()
                if node is None:
                    self.respond(sender, rpath, rreg, 2, {})
                    return
                s["state"] = "started"
                streams = GLib.Variant("a(ua{sv})", [(node, {"source_type": GLib.Variant("u", SOURCE_MONITOR),
                                                              "size": GLib.Variant("(ii)", (1920, 1080))})])
                self.respond(sender, rpath, rreg, 0, {"streams": streams})
            elif key in ("ScreenCast.OpenPipeWireRemote", "Camera.OpenPipeWireRemote"):
                if key.startswith("ScreenCast"):
                    s = self.own_session(sender, params.get_child_value(0).get_string())
                    if s["state"] != "started":
                        raise Refused("Session not started")
                elif sender not in self.camera_allowed:
                    raise Refused("Camera access not granted")
                fd = self.pipewire_fd()
                fds = Gio.UnixFDList.new()
                index = fds.append(fd)
                os.close(fd)
                invocation.return_value_with_unix_fd_list(GLib.Variant("(h)", (index,)), fds)
            elif key == "AccessCamera":
                opts = params.get_child_value(0)
                options = dict((k, opts.lookup_value(k, None)) for k in opts.unpack())
                self.check_options(key, options)
                rpath, rreg = self.new_request(sender, options)
                invocation.return_value(GLib.Variant("(o)", (rpath,)))
                if self.args.answer == "cancel":
                    self.respond(sender, rpath, rreg, 1, {})
                    return
                self.camera_allowed.add(sender)
                self.respond(sender, rpath, rreg, 0, {})
            else:
                raise Refused("No such method")
        except Refused as e:
            self.record(refused=key, why=str(e))
            invocation.return_dbus_error("org.freedesktop.DBus.Error.InvalidArgs"
                                         if "ption" in str(e) or "oken" in str(e)
                                         else "org.freedesktop.portal.Error.Failed", str(e))

    def on_session_call(self, conn, sender, path, iface, method, params, invocation):
        s = self.sessions.pop(path, None)
        self.record(call="Session.Close", path=path, known=s is not None)
        invocation.return_value(None)
        if s is not None:
            GLib.idle_add(lambda: conn.unregister_object(s["reg"]) and False)

    def on_name_owner_changed(self, conn, sender, path, iface, signal, params):
        name, old, new = params.unpack()
        if name.startswith(":") and not new:
            for spath in [p for p, s in self.sessions.items() if s["sender"] == name]:
                self.conn.unregister_object(self.sessions.pop(spath)["reg"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", default="lanlan_test_video")
    parser.add_argument("--answer", choices=["ok", "cancel"], default="ok")
    parser.add_argument("--log")
    parser.add_argument("--ready", help="file to create once the name is owned")
    args = parser.parse_args()
    loop = GLib.MainLoop()
    portal = Portal(args)

    def acquired(conn, name):
        if args.ready:
            open(args.ready, "w").close()

    Gio.bus_own_name_on_connection(portal.conn, BUS_NAME, Gio.BusNameOwnerFlags.DO_NOT_QUEUE,
                                   acquired, lambda *a: loop.quit())
    loop.run()


if __name__ == "__main__":
    sys.exit(main())
