"""Test helpers: run the real metricsd binary and scrape its /metrics."""
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.request
from typing import Dict, FrozenSet, Optional, Tuple

REPO = pathlib.Path(__file__).resolve().parents[3]
BINARY = os.environ.get("METRICSD_BINARY") or str(REPO / "build" / "bin" / "metricsd")
_READY = re.compile(r"metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+) backend")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Key = Tuple[str, FrozenSet[Tuple[str, str]]]


class Daemon:
    """A metricsd process on ``socket_path`` with an HTTP port picked by the kernel."""

    def __init__(self, socket_path: str, log_path: str, *args: str,
                 extra_args: Tuple[str, ...] = ()) -> None:
        self.socket_path = socket_path
        self.log_path = log_path
        # e.g. Daemon(s, l, "--state-file", path) or extra_args=("--backend", "redis", ...)
        self.extra_args = list(args) + list(extra_args)
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 10.0) -> "Daemon":
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError(f"metricsd binary not found at {BINARY} (set METRICSD_BINARY)")
        # A restart appends to the same log: only a ready line written after this point counts,
        # or a fast poll could pick up the previous process's (stale) port.
        offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [BINARY, "--socket", self.socket_path, "--listen", "127.0.0.1:0",
                 *self.extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                ports = _READY.findall(log.read().decode("utf-8", errors="replace"))
            if ports and os.path.exists(self.socket_path):
                self.port = int(ports[-1])
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"metricsd did not become ready; log:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM and wait; the exit code (0 for a clean shutdown)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            return log.read()

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read().decode("utf-8")

    def samples(self) -> Dict[Key, float]:
        return parse(self.scrape())


def parse(text: str) -> Dict[Key, float]:
    """Text format 0.0.4 samples as {(name, frozenset of label pairs): value}."""
    out: Dict[Key, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise AssertionError(f"unparsable sample line: {line!r}")
        name, labels, value = match.groups()
        out[(name, frozenset(_LABEL.findall(labels or "")))] = float(value)
    return out


def key(name: str, **labels: str) -> Key:
    return (name, frozenset(labels.items()))


def wait_until(predicate, timeout: float = 5.0) -> bool:
    """Poll ``predicate`` every 20 ms until it is true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
