"""A Flask app under real application servers (Debian's uWSGI and gunicorn) counts exactly.

uWSGI in its default pre-fork mode forks its workers from C after loading the app in the
master, so Python's fork hooks never run; gunicorn recycles workers (--max-requests) while the
daemon is stopped and started again, so workers exit with ops the daemon could not take. Both
servers run /usr/bin/python3, the interpreter CTest runs these tests with; the app imports the
client from the tree (PYTHONPATH). Each test stays under ~20 s.
"""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import unittest
import urllib.request

from tests._daemon import Daemon, key, wait_until

CLIENT_DIR = str(pathlib.Path(__file__).resolve().parents[1])
APP = textwrap.dedent("""
    import metricsd
    from flask import Flask

    REQUESTS = metricsd.Counter("http_requests_total", "Requests.", ("path",))
    IN_FLIGHT = metricsd.Gauge("http_in_flight", "Requests in flight.")
    BOOT = metricsd.Gauge("app_boot_time_seconds", "Boot time.", multiprocess_mode="max")
    BOOT.set(1234)  # an op in the master, before any fork (uWSGI: it loads the app there)

    app = Flask(__name__)

    @app.route("/")
    @IN_FLIGHT.track_inprogress()
    def index():
        REQUESTS.labels("/").inc()
        return "ok"

    @app.route("/ping")  # the readiness probe: no op, so a probe that timed out counts nothing
    def ping():
        return "ok"
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="metricsd-srv-")
        self.addCleanup(self._tmp.cleanup)
        self.dir = self._tmp.name
        pathlib.Path(self.dir, "app.py").write_text(APP)
        self.socket = os.path.join(self.dir, "d.sock")
        # A state file: the counts taken before a daemon restart survive it, as in production.
        self.daemon = Daemon(self.socket, os.path.join(self.dir, "daemon.log"),
                             "--spool-scan-interval", "1",
                             "--state-file", os.path.join(self.dir, "state.bin"))
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.port = free_port()
        self.server_log = os.path.join(self.dir, "server.log")

    def start_server(self, argv) -> subprocess.Popen:
        if shutil.which(argv[0]) is None:
            self.fail(f"{argv[0]} is not installed (scripts/install-deps installs it)")
        env = dict(os.environ, METRICSD_SOCKET=self.socket, PYTHONPATH=CLIENT_DIR)
        with open(self.server_log, "ab") as log:
            server = subprocess.Popen(argv, cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=log, start_new_session=True)
        self.addCleanup(self.kill, server)
        if not wait_until(lambda: self.get("/ping", 0.5) or server.poll() is not None, 15):
            self.fail("server did not answer; log:\n" + self.log())
        self.assertIsNone(server.poll(), self.log())
        return server

    def kill(self, server: subprocess.Popen) -> None:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    def stop_server(self, server: subprocess.Popen, sig) -> None:
        if sig is not None:
            server.send_signal(sig)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            self.fail("server did not stop; log:\n" + self.log())

    def log(self) -> str:
        return pathlib.Path(self.server_log).read_text(errors="replace")

    def get(self, path: str = "/", timeout: float = 10.0) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=timeout) as r:
                return r.read() == b"ok"
        except OSError:
            return False

    def serve(self, n: int) -> None:
        for _ in range(n):
            self.assertTrue(self.get(), self.log())

    def requests_counted(self) -> float:
        return self.daemon.samples().get(key("http_requests_total", path="/"), 0)

    def test_uwsgi_default_prefork_mode_counts_every_request(self):
        # --master --processes 4, without --lazy-apps, --enable-threads or
        # --py-call-osafterfork: the mode that recorded nothing (issue 13 item 1).
        fifo = os.path.join(self.dir, "uwsgi.fifo")
        server = self.start_server(
            ["uwsgi", "--plugin", "python3", "--http-socket", f"127.0.0.1:{self.port}",
             "--master", "--processes", "4", "--module", "app:app", "--need-app",
             "--disable-logging", "--master-fifo", fifo])
        served = 300
        self.serve(served)
        # Without --enable-threads a worker holds the GIL while it waits for a request, so its
        # sender runs only while the worker runs Python; the rest goes out at its exit. "q" on
        # the master FIFO is uWSGI's graceful shutdown: SIGINT/SIGQUIT kill it all at once,
        # and a worker still busy then skips Python's exit handlers (as under SIGKILL).
        with open(fifo, "w") as control:
            control.write("q")
        self.stop_server(server, None)
        samples = self.daemon.samples()
        self.assertEqual(samples[key("http_requests_total", path="/")], served,
                         self.log()[-3000:])
        self.assertEqual(samples[key("app_boot_time_seconds")], 1234)
        self.assertEqual(samples[key("http_in_flight")], 0)
        self.assertEqual(os.listdir(self.socket + ".spool"), [])

    def test_gunicorn_recycling_workers_across_a_daemon_restart_counts_every_request(self):
        server = self.start_server(
            ["gunicorn", "--workers", "2", "--max-requests", "20", "--max-requests-jitter", "0",
             "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "app:app"])
        self.serve(50)
        self.assertTrue(wait_until(lambda: self.requests_counted() == 50, 10),
                        f"{self.requests_counted()} of 50; log:\n{self.log()}")
        self.assertEqual(self.daemon.stop(), 0)
        # Every worker is recycled several times while the daemon is down: each one that exits
        # spools what it could not send, and its replacement buffers until the daemon is back.
        self.serve(150)
        self.assertGreater(len(os.listdir(self.socket + ".spool")), 0)
        self.daemon.start()
        self.serve(50)
        self.stop_server(server, signal.SIGTERM)
        # The start-up scan took the files spooled while it was down; the periodic one (1 s)
        # those of workers that found the daemon restarting.
        self.assertTrue(wait_until(lambda: self.requests_counted() == 250
                                   and not os.listdir(self.socket + ".spool"), 10),
                        f"{self.requests_counted()} of 250; spool {os.listdir(self.socket + '.spool')}; daemon log:\n{self.daemon.log()}\nlog:\n{self.log()}")
        self.assertEqual(self.daemon.samples()[key("app_boot_time_seconds")], 1234)


if __name__ == "__main__":
    unittest.main()
