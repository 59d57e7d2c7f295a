"""Helpers for driving the real Lanlan app through AT-SPI.

Run with /usr/bin/python3 (Debian's pyatspi) inside tests/harness/lanlan-test-env,
which provides the D-Bus session, Xvfb and the accessibility bus.
"""
import os
import subprocess
import tempfile
import sys
import time

import pyatspi
from gi.repository import Atspi

# libatspi gives an app 800 ms to answer a call once it has run 15 s. GTK
# answers DoAction only after the action ran, and on a loaded machine
# opening a window or a dialog takes longer than that: the test then fails
# with "Did not receive a reply" although the app is fine. A hung app
# still fails every test, through this limit or the tests' own waits.
Atspi.set_timeout(30000, 60000)


class AppUnderTest:
    """Starts the built app and finds its accessible tree."""

    def __init__(self, extra_env=None, args=()):
        env = dict(os.environ)
        # Cairo, not GL: under Xvfb GL is llvmpipe, whose shader compiles
        # hold the main loop for seconds on a loaded machine (a test may
        # still ask for GL through extra_env).
        env.setdefault("GSK_RENDERER", "cairo")
        env.update(extra_env or {})
        self.binary = os.environ["LANLAN_BINARY"]
        # A file, not a pipe: nobody reads a pipe while the test runs, and a
        # chatty app (sanitizer reports, warnings) would block on a full one.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([self.binary, *args], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.app = None

    def wait_for_app(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("app exited early with %d:\n%s" %
                                     (self.proc.returncode, self.output()))
            desktop = pyatspi.Registry.getDesktop(0)
            for app in desktop:
                try:
                    if app is not None and app.get_process_id() == self.proc.pid:
                        if app.childCount > 0:
                            self.app = app
                            return app
                except Exception:
                    pass
            time.sleep(0.1)
        raise AssertionError("app did not show up on the accessibility bus; it said:\n" +
                             self.output())

    def windows(self):
        return [w for w in self.app if w is not None]

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.output()


def find_all(root, pred):
    found = []

    def walk(node, depth=0):
        if node is None or depth > 60:
            return
        try:
            if pred(node):
                found.append(node)
            for child in node:
                walk(child, depth + 1)
        except Exception:
            pass

    walk(root)
    return found


def find(root, pred, timeout=10, what="element"):
    deadline = time.monotonic() + timeout
    while True:
        found = find_all(root, pred)
        if found:
            return found[0]
        if time.monotonic() > deadline:
            dump(root)
            raise AssertionError("no %s found" % what)
        time.sleep(0.1)


def by_role(role, name=None):
    def pred(node):
        return node.getRole() == role and (name is None or node.name == name)
    return pred


def dump(root, depth=0, out=sys.stderr):
    if root is None or depth > 40:
        return
    try:
        print("  " * depth + "%s %r" % (root.getRoleName(), root.name), file=out)
        for child in root:
            dump(child, depth + 1, out)
    except Exception as e:
        print("  " * depth + "<%s>" % e, file=out)


def toggle_button(name):
    """GTK < 4.10 exposes a GtkToggleButton as a push button with a pressed state."""
    def pred(node):
        return (node.getRole() in (pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_PUSH_BUTTON)
                and node.name == name)
    return pred


def is_on(node):
    state = node.getState()
    return state.contains(pyatspi.STATE_CHECKED) or state.contains(pyatspi.STATE_PRESSED)


def click(node):
    action = node.queryAction()
    for i in range(action.nActions):
        if action.getName(i) in ("click", "press", "activate"):
            action.doAction(i)
            return
    action.doAction(0)


def set_text(node, text):
    editable = node.queryEditableText()
    editable.setTextContents(text)


def texts(root):
    """Every label text under root, in tree order."""
    out = []
    for node in find_all(root, lambda n: n.getRole() == pyatspi.ROLE_LABEL):
        try:
            out.append(node.name or node.queryText().getText(0, -1))
        except Exception:
            out.append(node.name)
    return out


def wait_until(cond, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s" % what)


def screenshot(name):
    """Saves a screenshot of the whole X screen into the build's screenshots dir."""
    outdir = os.path.join(os.environ.get("LANLAN_BUILD_ROOT", "."), "screenshots")
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, name + ".png")
    subprocess.run(["import", "-window", "root", path], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


APP_ID = "io.github.lanlan.Lanlan"


def app_action(name, parameter=None):
    """Activates app.NAME in the running app over D-Bus (org.gtk.Actions).
    parameter is a GVariant text such as "'some string'" or None."""
    params = "[<%s>]" % parameter if parameter is not None else "[]"
    subprocess.run(["gdbus", "call", "--session", "--dest", APP_ID,
                    "--object-path", "/" + APP_ID.replace(".", "/"),
                    "--method", "org.gtk.Actions.Activate", name, params, "{}"],
                   check=True, stdout=subprocess.DEVNULL)


def frames(app, role=pyatspi.ROLE_FRAME):
    """The app's top-level windows of a role, by name."""
    out = {}
    for w in app.windows():
        try:
            if w.getRole() == role:
                out.setdefault(w.name, w)
        except Exception:
            pass
    return out


def window_named(app, name, timeout=10):
    """The top-level window (any role) called name."""
    result = []

    def cond():
        for w in app.windows():
            try:
                if w.name == name:
                    result.append(w)
                    return True
            except Exception:
                pass
        return False
    wait_until(cond, timeout, what="window %r" % name)
    return result[0]


def get_text(node):
    """The text of an editable node. GTK 4.8's GtkText answers getText(0, -1)
    with "", so ask for characterCount characters."""
    text = node.queryText()
    return text.getText(0, text.characterCount)
