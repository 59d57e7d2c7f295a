"""Loopback stand-ins for the services the app talks to, for the UI tests:
the scripted realtime server (tests/ui/fake-realtime-server.c) as a child
process, a characters.json writer and the keyring key.

Everything listens on 127.0.0.1 only.
"""
import json
import os
import subprocess
import tempfile

import pyatspi

from lanlan_atspi import find_all

CONFIG = os.path.join(os.environ.get("XDG_CONFIG_HOME", os.path.expanduser("~/.config")),
                      "lanlan", "characters.json")
SECRET_SCHEMA = "io.github.lanlan.Lanlan.ApiKey"


class FakeRealtimeServer:
    """tests/ui/fake-realtime-server as a child process."""

    def __init__(self, port=0, expected_key=None, delta_interval_ms=40, session_delay_ms=0,
                 provider=None, n_deltas=None, chat_reply=None, chat_status=None,
                 tone_amplitude=None):
        self.log_dir = tempfile.mkdtemp(prefix="fake-realtime-")
        args = [os.environ["LANLAN_FAKE_SERVER"], "--port", str(port),
                "--delta-interval-ms", str(delta_interval_ms), "--log-dir", self.log_dir]
        if expected_key is not None:
            args += ["--expected-key", expected_key]
        if session_delay_ms:
            args += ["--session-delay-ms", str(session_delay_ms)]
        if n_deltas is not None:  # deltas per answer (10 by default)
            args += ["--n-deltas", str(n_deltas)]
        if provider is not None:  # play openai, qwen, glm or stepfun strictly
            args += ["--provider", provider]
        if tone_amplitude is not None:  # answer with a 440 Hz sine, not marker samples
            args += ["--tone-amplitude", str(tone_amplitude)]
        if chat_reply is not None:  # what /v1/chat/completions answers
            args += ["--chat-reply", chat_reply]
        if chat_status is not None:  # or the HTTP status of its error
            args += ["--chat-status", str(chat_status)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("ws://127.0.0.1:"):
            self.stop()
            raise AssertionError("fake-realtime-server did not start")
        self.port = int(self.url.split(":")[2].split("/")[0])

    def received(self, index):
        """The events connection index received (parsed), as last logged."""
        try:
            with open(os.path.join(self.log_dir, "conn-%d.jsonl" % index), encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError):
            return []

    def provoked_errors(self, index):
        """What the app sent on connection index that the service would
        have refused ("code: message" lines), as last logged."""
        try:
            with open(os.path.join(self.log_dir, "errors-%d.txt" % index), encoding="utf-8") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def n_connections(self):
        return len([n for n in os.listdir(self.log_dir) if n.startswith("conn-")])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


DATABASE = os.path.join(os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")),
                        "lanlan", "lanlan.db")


def clear_conversations():
    """Removes the conversation database (and its WAL), for a fresh start."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(DATABASE + suffix)
        except FileNotFoundError:
            pass


def write_characters(characters):
    """A fresh start with these characters: no conversations stored yet."""
    clear_conversations()
    os.makedirs(os.path.dirname(CONFIG), exist_ok=True)
    with open(CONFIG, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "characters": characters}, f)


def character(url, name="Mika", persona="You are Mika, a cheerful friend.", language="",
              cid="mika"):
    return {"id": cid, "name": name, "persona": persona, "language": language,
            "voice": "alloy", "provider": "custom", "model": "gpt-realtime",
            "base-url": url, "input-mode": "audio", "open-on-start": True}


def store_key(key, provider="custom"):
    """The app's keyring schema is matched by name, so give secret-tool the
    xdg:schema attribute libsecret would have set."""
    subprocess.run(["secret-tool", "store", "--label=x", "xdg:schema", SECRET_SCHEMA,
                    "provider", provider], input=key.encode(), check=True)


def showing(node):
    try:
        return node.getState().contains(pyatspi.STATE_VISIBLE)
    except Exception:
        return False


def showing_texts(root):
    return [n.name for n in find_all(root, lambda n: n.getRole() == pyatspi.ROLE_LABEL and showing(n))]


def bubbles(frame, kind):
    """The text of the transcript's bubbles of one kind ("user", "character"),
    in order. Bubbles carry their kind in their accessible description."""
    out = []
    for node in find_all(frame, lambda n: n.getRole() == pyatspi.ROLE_LABEL):
        try:
            if node.description == kind:
                out.append(node.name)
        except Exception:
            pass
    return out


class ChatServer:
    """tests/chat's strict OpenAI-compatible chat server (fake-chat-server)
    as a child process on 127.0.0.1: refuses a wrong path, a missing or
    unknown model, bad message shapes and a wrong content type as Ollama
    and OpenAI do, and streams each answer word by word. script() sets
    what one chat request (0-based) gets; requests() is what came in."""

    def __init__(self, models=("llama3.2",), reply=None, ollama=True, delta_interval_ms=60):
        args = [os.environ["LANLAN_FAKE_CHAT_SERVER"], "--delta-interval-ms", str(delta_interval_ms)]
        for m in models:
            args += ["--model", m]
        if reply is not None:
            args += ["--reply", reply]
        if ollama:
            args.append("--ollama")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise AssertionError("fake-chat-server did not start")

    def _ask(self, command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise AssertionError("fake-chat-server: %s" % answer["error"])
        return answer

    def script(self, index, mode="stream", **kw):
        """mode: stream, stall, drop, stream_error, http_error or json;
        kw: reply, stall_after, delta_interval_ms, first_delay_ms,
        http_status, error_message."""
        self._ask(dict(cmd="script", index=index, mode=mode, **kw))

    def requests(self):
        """Every chat request so far: (parsed body or None, HTTP status, aborted)."""
        out = []
        for r in self._ask({"cmd": "requests"})["requests"]:
            try:
                body = json.loads(r["body"])
            except ValueError:
                body = None
            out.append((body, r["status"], r["aborted"]))
        return out

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
