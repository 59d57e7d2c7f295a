#!/usr/bin/python3
"""Idle and footprint benchmark: what Lanlan costs sitting open.

In the test harness (Xvfb, headless PipeWire), side by side in one run:
a minimal AdwApplication window (tests/bench/minimal-adw-window, the
baseline) and Lanlan with 1, then 3 character windows, no conversation
going. For each: CPU over the idle window, normalized to seconds per 30 s
(from /proc/PID/stat utime+stime, in clock ticks, and from the summed
per-thread /proc/PID/task/*/schedstat, in ns, which the ratio uses since
ticks are too coarse for two nearly idle apps; one tick per 30 s is added
to both sides of the ratio so that two sleeping apps compare as 1), RSS and thread count; the
ratio Lanlan / baseline; and the busiest threads. Then a streamed voice
turn against the loopback realtime server (tests/ui/fake-realtime-server)
with every character speaking at once: CPU per character.

Environment:
  LANLAN_IDLE_SECONDS  idle window per measurement (default 10; figures
                       are printed per 30 s whatever it is)
  LANLAN_IDLE_RUNS     runs of each measurement; the median is reported
                       (default 3)
  LANLAN_SETTLE_SECONDS  wait after the windows appear (default 4)

Prints figures; fails only if an app does not start or dies.
"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["LANLAN_SOURCE_ROOT"], "tests", "ui"))
from lanlan_fake import FakeRealtimeServer, character, store_key, write_characters  # noqa: E402

IDLE = float(os.environ.get("LANLAN_IDLE_SECONDS", "10"))
RUNS = max(1, int(os.environ.get("LANLAN_IDLE_RUNS", "3")))
SETTLE = float(os.environ.get("LANLAN_SETTLE_SECONDS", "4"))
HZ = os.sysconf("SC_CLK_TCK")
BASELINE = os.environ["LANLAN_BASELINE_APP"]
LANLAN = os.environ["LANLAN_BINARY"]
VOICE_SECONDS = 2.0          # of speech per answer
TURN_WINDOW = 6.0            # measured from the first send
# Added to both sides of the idle ratio (CPU s per 30 s): one clock tick,
# the resolution of /proc/PID/stat, so that two apps that both sleep
# compare as 1, not as noise over noise.
EPS = 1.0 / HZ


def real_process(pid, exe):
    """The process running exe among pid and its descendants (a wrapper
    may sit in between)."""
    want = os.path.realpath(exe)
    todo = [pid]
    while todo:
        p = todo.pop(0)
        try:
            if os.path.realpath("/proc/%d/exe" % p) == want:
                return p
        except OSError:
            pass
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        s = f.read()
                    if int(s[s.rindex(")") + 2:].split()[1]) == p:
                        todo.append(int(entry))
                except (OSError, ValueError):
                    pass
    raise AssertionError("no process running %s under %d" % (exe, pid))


class Sample:
    def __init__(self, pid):
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        self.ticks = int(fields[11]) + int(fields[12])       # fields 14 + 15
        self.threads = {}
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    name = f.read().strip()
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    ns = int(f.read().split()[0])
                self.threads[int(tid)] = (name, ns)
            except OSError:
                pass
        self.ns = sum(ns for _, ns in self.threads.values())
        with open("/proc/%d/status" % pid) as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        self.rss_mb = int(status["VmRSS"].split()[0]) / 1024
        self.n_threads = int(status["Threads"])


def per30(x, seconds):
    return x * 30.0 / seconds


def thread_ns(s0, s1):
    """CPU ns between two samples of the threads alive at the second (a
    thread that ended in between takes its time with it; new ones count
    whole)."""
    return sum(ns - s0.threads.get(tid, (name, 0))[1] for tid, (name, ns) in s1.threads.items())


class Measurement:
    def __init__(self, s0, s1, seconds):
        self.cpu_ticks = per30((s1.ticks - s0.ticks) / HZ, seconds)
        self.cpu_ns = per30(thread_ns(s0, s1) / 1e9, seconds)
        self.rss_mb = s1.rss_mb
        self.n_threads = s1.n_threads
        self.busiest = sorted(((ns - s0.threads.get(tid, (name, 0))[1], name, tid)
                               for tid, (name, ns) in s1.threads.items()), reverse=True)[:4]


def window_up(title):
    out = subprocess.run(["xdotool", "search", "--name", "^%s$" % title],
                         capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() != ""


def wait_windows(titles, procs, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError("%s exited with %d" % (p.args[0], p.returncode))
        if all(window_up(t) for t in titles):
            return
        time.sleep(0.2)
    raise AssertionError("windows %r did not appear" % titles)


def settle(pids, timeout=30.0):
    """Waits SETTLE seconds, then until every process used under 10 ms of
    CPU in the last second (start-up work done), or timeout."""
    time.sleep(SETTLE)
    deadline = time.monotonic() + timeout
    last = [Sample(p) for p in pids]
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = [Sample(p) for p in pids]
        if all(thread_ns(a, b) < 10e6 for a, b in zip(last, now)):
            return
        last = now


def start(binary, log):
    return subprocess.Popen([binary], stdout=log, stderr=subprocess.STDOUT)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def names(n):
    return ["Character %d" % (i + 1) for i in range(n)]


def run_idle(n_chars, server, log):
    """One run: baseline and Lanlan with n_chars windows, idle together."""
    write_characters([character(server.url, name=name, cid="c%d" % i)
                      for i, name in enumerate(names(n_chars))])
    base = start(BASELINE, log)
    app = start(LANLAN, log)
    try:
        wait_windows(["Baseline"] + names(n_chars), [base, app])
        base_pid, app_pid = real_process(base.pid, BASELINE), real_process(app.pid, LANLAN)
        settle([base_pid, app_pid])
        b0, a0 = Sample(base_pid), Sample(app_pid)
        t0 = time.monotonic()
        time.sleep(IDLE)
        b1, a1 = Sample(base_pid), Sample(app_pid)
        seconds = time.monotonic() - t0
        for p in (base, app):
            if p.poll() is not None:
                raise AssertionError("%s died while idle" % p.args[0])
        return Measurement(b0, b1, seconds), Measurement(a0, a1, seconds)
    finally:
        stop(app)
        stop(base)


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_windows(server, log):
    """Marginal cost of two more windows within one process, for Lanlan
    (app.open-character over D-Bus) and the baseline (SIGUSR1): RSS and
    threads before and after, settled."""
    chars = [character(server.url, name=name, cid="c%d" % i) for i, name in enumerate(names(3))]
    for c in chars[1:]:
        c["open-on-start"] = False
    write_characters(chars)
    base = start(BASELINE, log)
    app = start(LANLAN, log)
    try:
        wait_windows(["Baseline", names(1)[0]], [base, app])
        pids = [real_process(base.pid, BASELINE), real_process(app.pid, LANLAN)]
        settle(pids)
        before = [Sample(p) for p in pids]
        for i in (1, 2):
            os.kill(pids[0], signal.SIGUSR1)
            subprocess.run(["gdbus", "call", "--session", "--dest", "io.github.lanlan.Lanlan",
                            "--object-path", "/io/github/lanlan/Lanlan",
                            "--method", "org.gtk.Actions.Activate", "open-character",
                            "[<'c%d'>]" % i, "{}"], check=True, stdout=subprocess.DEVNULL)
        wait_windows(names(3), [base, app])
        settle(pids)
        after = [Sample(p) for p in pids]
        return [((a.rss_mb - b.rss_mb) / 2, (a.n_threads - b.n_threads) / 2)
                for b, a in zip(before, after)]
    finally:
        stop(app)
        stop(base)


def run_voice(n_chars, log):
    """Every character answers a typed message with VOICE_SECONDS of
    streamed speech at once; returns CPU seconds per character over the
    turn, the window, and how many answered."""
    sys.path.insert(0, os.path.dirname(__file__))
    import pyatspi
    from lanlan_atspi import AppUnderTest, by_role, click, find, set_text
    from lanlan_fake import bubbles

    server = VoiceServer(int(VOICE_SECONDS * 1000 / 20))
    write_characters([character(server.url, name=name, cid="c%d" % i)
                      for i, name in enumerate(names(n_chars))])
    app = AppUnderTest()
    try:
        app.wait_for_app()
        pid = real_process(app.proc.pid, LANLAN)
        frames, entries, sends = [], [], []
        for name in names(n_chars):
            frame = find(app.app, by_role(pyatspi.ROLE_FRAME, name), what=name)
            frames.append(frame)
            entries.append(find(frame, lambda n: n.getRole() in (pyatspi.ROLE_TEXT, pyatspi.ROLE_ENTRY)
                                and n.name == "Message", what="message entry"))
            sends.append(find(frame, by_role(pyatspi.ROLE_PUSH_BUTTON, "Send"), what="send button"))
        for e in entries:
            set_text(e, "Say something")
        time.sleep(SETTLE)
        s0 = Sample(pid)
        t0 = time.monotonic()
        for b in sends:
            click(b)
        # No accessibility queries while measuring: they cost the app CPU.
        time.sleep(max(0.0, TURN_WINDOW - (time.monotonic() - t0)))
        s1 = Sample(pid)
        seconds = time.monotonic() - t0
        answered = sum(1 for (f, name) in zip(frames, names(n_chars)) if bubbles(f, name))
        cpu = max(thread_ns(s0, s1) / 1e9, (s1.ticks - s0.ticks) / HZ)
        return cpu / n_chars, seconds, answered, Measurement(s0, s1, seconds).busiest
    finally:
        app.stop()
        server.stop()


class VoiceServer(FakeRealtimeServer):
    """The fake realtime server answering with n_deltas audio deltas of
    20 ms (480 samples at 24 kHz), one every 20 ms: speech streamed in
    real time."""

    def __init__(self, n_deltas):  # noqa: super().__init__ takes no n_deltas
        self.log_dir = tempfile.mkdtemp(prefix="fake-realtime-")
        self.proc = subprocess.Popen([os.environ["LANLAN_FAKE_SERVER"], "--port", "0",
                                      "--delta-interval-ms", "20", "--n-deltas", str(n_deltas),
                                      "--log-dir", self.log_dir],
                                     stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("ws://127.0.0.1:"):
            self.stop()
            raise AssertionError("fake-realtime-server did not start")


def fmt_threads(busiest):
    return ", ".join("%s %.3f s" % (name, ns / 1e9) for ns, name, _ in busiest if ns > 0) or "none"


def main():
    store_key("sk-bench-0123456789")
    log = open(os.path.join(os.environ.get("LANLAN_TEST_ROOT", "/tmp"), "bench-idle.log"), "wb")
    server = FakeRealtimeServer()
    results = {}
    try:
        for n in (1, 3):
            results[n] = [run_idle(n, server, log) for _ in range(RUNS)]
        extra = [run_windows(server, log) for _ in range(RUNS)]
    finally:
        server.stop()

    print("Idle benchmark: %g s idle per run (LANLAN_IDLE_SECONDS), %d runs (LANLAN_IDLE_RUNS), "
          "medians; CPU normalized to seconds per 30 s" % (IDLE, RUNS))
    print("%-34s %12s %14s %8s %8s" % ("", "CPU stat", "CPU schedstat", "RSS MB", "threads"))

    def row(label, ms):
        print("%-34s %12.3f %14.4f %8.1f %8d" % (
            label, statistics.median(m.cpu_ticks for m in ms),
            statistics.median(m.cpu_ns for m in ms),
            statistics.median(m.rss_mb for m in ms),
            statistics.median(m.n_threads for m in ms)))

    for n in (1, 3):
        row("baseline AdwApplication (run %d)" % n, [b for b, _ in results[n]])
        row("Lanlan, %d character%s" % (n, "s" if n > 1 else ""), [a for _, a in results[n]])
    for n in (1, 3):
        ratios = [(a.cpu_ns + EPS) / (b.cpu_ns + EPS) for b, a in results[n]]
        print("idle CPU ratio Lanlan (%d) / baseline: %.2f  (runs: %s)" % (
            n, statistics.median(ratios), " ".join("%.2f" % r for r in ratios)))
    rss1 = statistics.median(a.rss_mb for _, a in results[1])
    rss3 = statistics.median(a.rss_mb for _, a in results[3])
    thr1 = statistics.median(a.n_threads for _, a in results[1])
    thr3 = statistics.median(a.n_threads for _, a in results[3])
    print("per extra character window, 1 vs 3 characters in separate processes: %.1f MB RSS, %.1f threads"
          " (RSS of separate runs varies by tens of MB)" % ((rss3 - rss1) / 2, (thr3 - thr1) / 2))
    print("per extra window opened in the same process (median): Lanlan %.1f MB RSS, %.1f threads; "
          "baseline window %.1f MB RSS, %.1f threads" % (
              statistics.median(e[1][0] for e in extra), statistics.median(e[1][1] for e in extra),
              statistics.median(e[0][0] for e in extra), statistics.median(e[0][1] for e in extra)))
    print("busiest Lanlan threads idle (3 characters, last run): %s" % fmt_threads(results[3][-1][1].busiest))

    for n in (1, 3):
        per_char, seconds, answered, busiest = run_voice(n, log)
        print("voice turn, %d character%s speaking %.0f s each at once: %.3f CPU s per character "
              "over %.1f s (%.1f %% of a core each); %d of %d answered" % (
                  n, "s" if n > 1 else "", VOICE_SECONDS, per_char, seconds,
                  100 * per_char / seconds, answered, n))
        print("  busiest threads: %s" % fmt_threads(busiest))
        if answered < n:
            raise AssertionError("only %d of %d characters answered" % (answered, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
