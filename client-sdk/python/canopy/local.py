"""A real Canopy controller and nodes on this machine's loopback.

For tests, examples and benchmarks: ``Overlay()`` starts canopy-controller
and ``start_node(id)`` a canopy-node, from $CANOPY_BIN_DIR (default: the
build tree's build/bin), on free loopback ports with a temporary directory;
``close()`` (or leaving a ``with`` block) stops them all. Waits poll with a
deadline. The Python counterpart of tests/testing/overlay.h.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Callable, Dict, List, Optional

WAIT = 30.0  # seconds: deadline for anything a test waits for on loopback


def bin_path(name: str) -> str:
    """Path of a Canopy program: $CANOPY_BIN_DIR/name, else build/bin/name
    of the build tree this package was imported from (build/python/canopy)."""
    root = os.environ.get("CANOPY_BIN_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "bin")
    return os.path.normpath(os.path.join(root, name))


def poll(done: Callable[[], object], what: str, timeout: float = WAIT, every: float = 0.02):
    """Calls ``done`` until it returns something true (returned) or the
    deadline passes (AssertionError naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        got = done()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)  # poll interval, bounded by the deadline


class Process:
    """A child process whose stdout and stderr lines are collected."""

    def __init__(self, argv: List[str], env: Optional[Dict[str, str]] = None) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, env=env)
        self.out: List[str] = []
        self.err: List[str] = []
        self._lock = threading.Lock()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    def _read(self, stream, sink) -> None:
        for line in stream:
            with self._lock:
                sink.append(line.rstrip("\n"))

    def wait_for_stdout(self, needle: str, timeout: float = WAIT) -> str:
        def find():
            with self._lock:
                return next((l for l in self.out if needle in l), None)
        return poll(lambda: find() or (self.proc.poll() is not None and find() is None and
                                        self._died(needle)), f"'{needle}' from {self.argv[0]}",
                    timeout)

    def _died(self, needle: str):
        raise AssertionError(f"{self.argv[0]} exited ({self.proc.returncode}) before "
                             f"printing '{needle}':\n" + self.stderr())

    def stderr(self) -> str:
        with self._lock:
            return "\n".join(self.err[-50:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def field(line: str, name: str) -> str:
    m = re.search(rf"\b{name}=(\S+)", line)
    if not m:
        raise AssertionError(f"no {name}= in '{line}'")
    return m.group(1)


class Node:
    def __init__(self, id: str, process: Process, client: str, metrics: str) -> None:
        self.id, self.process, self.client, self.metrics = id, process, client, metrics

    def metric(self, name: str, labels: str = "") -> float:
        """Sum of the samples of ``name`` whose labels contain ``labels``."""
        text = urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5).read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                if key.split("{")[0] == name and labels in key:
                    total += float(value)
        return total


class Overlay:
    """A controller plus nodes started with :meth:`start_node`."""

    def __enter__(self) -> "Overlay":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="canopy-pytest-")
        self.controller = Process([bin_path("canopy-controller"), "--listen", "127.0.0.1:0",
                                   "--store", os.path.join(self.dir, "store.db"),
                                   "--metrics-listen", "127.0.0.1:0"])
        self.controller_address = field(self.controller.wait_for_stdout("listening"), "grpc")
        self.nodes: Dict[str, Node] = {}

    def start_node(self, id: str, *extra: str, replay_mib: int = 256) -> Node:
        p = Process([bin_path("canopy-node"), "--id", id, "--controller", self.controller_address,
                     "--listen", "127.0.0.1:0", "--data", "127.0.0.1:0", "--metrics-listen",
                     "127.0.0.1:0", "--replay-mib", str(replay_mib), "--discovery-interval-ms",
                     "0", *extra])
        line = p.wait_for_stdout("listening")
        node = Node(id, p, field(line, "clients"), field(line, "metrics"))
        self.nodes[id] = node
        self.canopyctl("nodes", what=f"node {id} listed", until=lambda out: id in out)
        return node

    def canopyctl(self, *args: str, what: str = "canopyctl", until=None) -> str:
        def run():
            r = subprocess.run([bin_path("canopyctl"), "--controller", self.controller_address,
                                *args], capture_output=True, text=True, timeout=WAIT)
            if r.returncode == 0 and (until is None or until(r.stdout)):
                return r.stdout or "ok"
            return None
        return poll(run, what, every=0.05)

    def logs(self) -> str:
        out = ["--- controller", self.controller.stderr()]
        for id, n in self.nodes.items():
            out += [f"--- {id}", n.process.stderr()]
        return "\n".join(out)

    def close(self) -> None:
        for n in self.nodes.values():
            n.process.kill(signal.SIGTERM)
        self.controller.kill(signal.SIGTERM)
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)
