#!/usr/bin/python3
"""Every command in README.md's code blocks is checked here, in a form that
is safe to run inside a test. Each check says what it proves and what it
does not. A README command with no check fails the test, so a new command
must come with one. Also: every file path the README names in backticks
exists.

Runs inside tests/harness/lanlan-test-env (private D-Bus, Xvfb, PipeWire)."""
import os
import re
import shlex
import signal
import subprocess
import sys
import time

SRC = os.environ.get("LANLAN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("LANLAN_BUILD_ROOT", os.path.join(SRC, "build"))
APP_ID = "io.github.lanlan.Lanlan"
results = []


def report(ok, command, proves, msg=""):
    results.append(ok)
    print("%s - %s\n#   proves: %s%s" % ("ok" if ok else "not ok", command, proves,
                                          ("\n#   " + msg.replace("\n", "\n#   ")) if msg else ""))


def run(args, **kw):
    return subprocess.run(args, cwd=SRC, capture_output=True, text=True, timeout=120, **kw)


def build_args(words):
    """README commands say `build`; the test uses the build dir it runs from."""
    return [BUILD if w == "build" else w for w in words]


def bus_has(name):
    r = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                        "--object-path", "/org/freedesktop/DBus",
                        "--method", "org.freedesktop.DBus.NameHasOwner", name],
                       capture_output=True, text=True)
    return "true" in r.stdout


def app_starts(words, env_extra, command):
    """Launches the app as the README says and waits until it owns its bus
    name (it registered, read its settings schema and built its windows)."""
    env = dict(os.environ)
    env.pop("GSETTINGS_SCHEMA_DIR", None)   # the README command must find it itself
    env.update(env_extra)
    proc = subprocess.Popen(build_args(words), cwd=SRC, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    ok = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if bus_has(APP_ID):
            time.sleep(2)   # and keeps running
            ok = proc.poll() is None
            break
        time.sleep(0.2)
    out = ""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        out = proc.communicate(timeout=20)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate()[0]
    if "not installed" in out or "CRITICAL" in out:
        ok = False
    report(ok, command, "the app starts this way, finds its GSettings schema and registers "
           "%s on the session bus (not that a conversation works)" % APP_ID,
           "" if ok else out[-2000:])
    while bus_has(APP_ID):
        time.sleep(0.2)


def in_fresh_harness(words, command):
    """tests/harness/lanlan-test-env CMD: a new private session inside this one.
    Its bus is private, so the check is: still running after 12 s, no schema
    error or crash in its output."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LANLAN_TEST_") and k not in ("GSETTINGS_SCHEMA_DIR",)}
    proc = subprocess.Popen(build_args(words), cwd=SRC, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    time.sleep(12)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        out = proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate()[0]
    bad = [w for w in ("not installed", "CRITICAL", "Segmentation", "Aborted") if w in out]
    report(alive and not bad, command,
           "the harness starts and the app runs in it for 12 s without a schema error or "
           "crash (its private bus is not visible from here)", "" if alive and not bad else out[-2000:])


def check(command):
    words = shlex.split(command)
    env_extra = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        k, v = words.pop(0).split("=", 1)
        env_extra[k] = v
    joined = " ".join(words)

    if joined == ".ci/install-deps":
        r = run([".ci/install-deps", "--check"])
        report(r.returncode == 0, command, "every package it lists is installed here "
               "(not that apt can install them on another machine)", r.stdout + r.stderr)
    elif joined in ("{ [ -f build/build.ninja ] || meson setup build; }", "meson setup build"):
        r = run(["meson", "introspect", BUILD, "--projectinfo"])
        report(r.returncode == 0, command, "meson is installed and the build dir it makes is a "
               "configured meson build (this one; a fresh setup is not repeated)", r.stderr)
    elif joined == "meson compile -C build":
        r = run(["ninja", "-C", BUILD, "-n"])
        report(r.returncode == 0, command, "the build graph is valid (dry run; the build itself "
               "ran before the tests)", r.stdout[-1000:] + r.stderr)
    elif joined == "meson devenv -C build lanlan":
        app_starts(words, env_extra, command)
    elif joined == ".ci/test":
        r = run(["bash", "-n", ".ci/test"])
        steps = [s for s in (".ci/install-deps",) if not os.access(os.path.join(SRC, s), os.X_OK)]
        steps += [p for p in ("meson", "ninja", "/usr/bin/python3")
                  if subprocess.run(["sh", "-c", "command -v " + p], capture_output=True).returncode]
        report(r.returncode == 0 and not steps, command,
               "the script parses and the programs it calls exist (not run: it is the whole suite)",
               r.stderr + (" missing: %s" % steps if steps else ""))
    elif words[:3] == ["meson", "test", "-C"] and words[3] == "build":
        suites = [words[i + 1] for i, w in enumerate(words) if w == "--suite"]
        args = ["meson", "test", "-C", BUILD, "--list"] + sum((["--suite", s] for s in suites), [])
        r = run(args)
        listed = [l for l in r.stdout.splitlines() if " / " in l]
        report(r.returncode == 0 and len(listed) > 0, command,
               "meson accepts the options and the selection holds %d tests (listed, not run)"
               % len(listed), r.stderr)
    elif words[:1] == ["tests/harness/lanlan-test-env"]:
        in_fresh_harness(words, command)
    elif joined == "meson compile -C build lanlan-update-po":
        r = run(["ninja", "-C", BUILD, "-t", "targets", "all"])
        ok = r.returncode == 0 and re.search(r"^lanlan-update-po:", r.stdout, re.M) is not None
        report(ok, command, "the target exists (not run: it rewrites po/*.po)")
    else:
        report(False, command, "nothing: no safe check is known for this README command; add one")


def commands(readme):
    """Commands of ```sh blocks; compound `a && b` lines are checked part by part."""
    out, block = [], False
    for line in readme.splitlines():
        if line.startswith("```"):
            block = line.strip() in ("```sh", "```bash", "```shell") if not block else False
            continue
        if not block:
            continue
        line = line.split(" #")[0].strip() if not line.strip().startswith("#") else ""
        if not line:
            continue
        parts, depth, cur = [], 0, ""
        for tok in re.split(r"(\{|\}|&&)", line):
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
            if tok == "&&" and depth == 0:
                parts.append(cur.strip())
                cur = ""
            else:
                cur += tok
        parts.append(cur.strip())
        out += [p for p in parts if p]
    return out


readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
cmds = commands(readme)
if len(cmds) < 5:
    report(False, "README.md", "the code blocks were parsed", "found only %r" % cmds)
for c in cmds:
    check(c)

for path in sorted(set(re.findall(r"`((?:\.ci|src|tests|data|po|flatpak)/[^`\s<>]*)`", readme))):
    report(os.path.exists(os.path.join(SRC, path)), "`%s`" % path, "the path the README names exists")

print("1..%d" % len(results))
sys.exit(0 if all(results) else 1)
