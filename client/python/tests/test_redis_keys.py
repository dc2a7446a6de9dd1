"""Histogram bucket texts end to end: the Python client, the real daemon, a real redis-server.

pytheus keys a histogram's buckets by ``str(bound)`` of the bounds as given ("lat:1" for the
int 1, "lat:2.5", "lat:+Inf"), and its reader looks exactly those keys up. The Python client
sends the same texts for the same call, so the daemon writes the keys a pytheus process with
the same ``Histogram(buckets=...)`` reads, and its metadata record names them.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import metricsd
from tests._daemon import Daemon

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """Just enough RESP to read keys back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def command(self, *args: str):
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            while len(self.buf) < size + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:size], self.buf[size + 2:]
            return data.decode()
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")


class BucketKeysTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="metricsd-redis-keys-")
        self.addCleanup(tmp.cleanup)
        port = free_port()
        redis = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", tmp.name],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(redis.wait, 10)
        self.addCleanup(redis.terminate)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.redis = Redis(port)
                if self.redis.command("PING") == "PONG":
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.addCleanup(self.redis.close)
        self.daemon = Daemon(os.path.join(tmp.name, "s.sock"), os.path.join(tmp.name, "d.log"),
                             ("--backend", "redis", "--redis-url", f"redis://127.0.0.1:{port}",
                              "--redis-flush-interval-ms", "20")).start()
        self.addCleanup(lambda: self.assertEqual(self.daemon.stop(), 0, self.daemon.log()))

    def wait_for_count(self, key: str, field, value: str) -> None:
        """Until the daemon's flush wrote the observations (a flush writes a family at once).
        Labelled series are hash fields, an unlabelled one a plain key (field None)."""
        def read():
            return self.redis.command("GET", key) if field is None \
                else self.redis.command("HGET", key, field)
        deadline = time.monotonic() + 10
        while read() != value and time.monotonic() < deadline:
            time.sleep(0.02)

    def test_bucket_keys_are_the_ones_pytheus_writes_and_reads(self):
        client = metricsd.Client(socket=self.daemon.socket_path)
        self.addCleanup(client.close)
        buckets = (0.5, 1, 2.5, 10)                     # ints and floats, as users write them
        given = metricsd.Histogram("py_lat", "Latency.", ["route"], buckets=buckets,
                                   client=client)
        default = metricsd.Histogram("py_default", "Latency.", client=client)
        given.labels("/a").observe(0.25)  # <= every bound: every bucket key gets written
        default.observe(0.001)
        self.assertTrue(client.flush(10), client.last_error())
        route = json.dumps({"route": "/a"})
        self.wait_for_count("py_lat:count", route, "1")
        self.wait_for_count("py_default:count", None, "1")
        # pytheus: f"{name}:{str(bucket)}" for each bound as given, then +Inf, sum, count.
        pytheus_keys = sorted([f"py_lat:{b}" for b in buckets] +
                              ["py_lat:+Inf", "py_lat:sum", "py_lat:count"])
        self.assertEqual(sorted(self.redis.command("KEYS", "py_lat:*")), pytheus_keys)
        self.assertEqual(pytheus_keys[:4], ["py_lat:+Inf", "py_lat:0.5", "py_lat:1",
                                            "py_lat:10"])
        self.assertEqual(self.redis.command("HGET", "py_lat:1", route), "1")
        self.assertEqual(self.redis.command("HGET", "py_lat:+Inf", route), "1")
        default_keys = sorted(self.redis.command("KEYS", "py_default:*"))
        for shared in ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
                       "10"):  # pytheus's default bounds, by pytheus's str()
            self.assertIn(f"py_default:{shared}", default_keys)
        self.assertNotIn("py_default:1.0", default_keys)
        self.assertEqual(self.redis.command("GET", "py_default:1"), "1")
        self.assertEqual(len(default_keys), 14 + 3)
        meta = json.loads(self.redis.command("HGET", "metricsd:meta", "py_lat"))
        self.assertEqual(meta["buckets"], ["0.5", "1", "2.5", "10"])


if __name__ == "__main__":
    unittest.main()
