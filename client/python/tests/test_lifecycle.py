"""The client's life cycle against the real daemon: forks Python never saw, gauges across a
daemon restart, and ops of processes that exit while the daemon is down (the spool).

The binary comes from $METRICSD_BINARY (CTest sets it), else <repo>/build/bin/metricsd.
"""
import ctypes
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import unittest

import metricsd
from tests._daemon import Daemon, key, wait_until

CLIENT_DIR = str(pathlib.Path(__file__).resolve().parents[1])


class LifecycleTest(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="metricsd-life-")
        self.addCleanup(self._tmp.cleanup)
        self.dir = self._tmp.name
        self.socket = os.path.join(self.dir, "d.sock")
        self.spool = self.socket + ".spool"

    def daemon(self, *extra: str) -> Daemon:
        daemon = Daemon(self.socket, os.path.join(self.dir, "daemon.log"), *extra)
        daemon.start()
        self.addCleanup(daemon.stop)
        return daemon

    def client(self) -> metricsd.Client:
        client = metricsd.Client(socket=self.socket)
        self.addCleanup(client.close)
        return client

    def flush_until_delivered(self, client: metricsd.Client) -> None:
        # The first flush after a restart may meet the old connection, which the daemon closed.
        self.assertTrue(wait_until(lambda: client.flush(1.0), 10), client.last_error())

    # --- issue 13 item 3: live gauges heal after a daemon restart ---------------------------

    def test_live_gauge_heals_after_daemon_restart(self):
        daemon = self.daemon()
        client = self.client()
        in_flight = metricsd.Gauge("py_life_in_flight", "", client=client)  # livesum
        per_pid = metricsd.Gauge("py_life_rss", "", multiprocess_mode="liveall", client=client)
        summed = metricsd.Gauge("py_life_sum", "", multiprocess_mode="sum", client=client)
        for _ in range(3):
            in_flight.inc()
        per_pid.set(42)
        summed.inc(5)
        self.flush_until_delivered(client)
        self.assertEqual(daemon.samples()[key("py_life_in_flight")], 3)
        self.assertEqual(daemon.stop(), 0)
        daemon.start()
        self.flush_until_delivered(client)
        samples = daemon.samples()
        self.assertEqual(samples[key("py_life_in_flight")], 3)
        self.assertEqual(samples[key("py_life_rss", pid=str(os.getpid()))], 42)
        # sum is not re-sent: a daemon keeps an exited connection's share (re-sending would
        # double it there); this fresh one has only the declaration.
        self.assertEqual(samples[key("py_life_sum")], 0)
        in_flight.dec()
        self.flush_until_delivered(client)
        self.assertEqual(daemon.samples()[key("py_life_in_flight")], 2)

    # --- issue 13 item 1: a fork that ran none of Python's fork hooks ----------------------

    def test_child_of_a_c_fork_sends_its_own_ops_once(self):
        daemon = self.daemon()
        client = self.client()
        counter = metricsd.Counter("py_life_cfork_total", "", client=client)
        for _ in range(10):
            counter.inc()
        self.assertTrue(client.flush(5))
        # libc's fork() through ctypes.PyDLL (which keeps the GIL): os.register_at_fork's hooks
        # do not run, as under uWSGI or any C code that forks.
        pid = ctypes.PyDLL(None).fork()
        if pid == 0:
            code = 1
            try:
                for _ in range(5):
                    counter.inc()
                noticed = client._pid == os.getpid()
                code = 0 if client.flush(5) and not noticed else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        counter.inc()
        self.assertTrue(client.flush(5))
        self.assertEqual(daemon.samples()[key("py_life_cfork_total")], 16)

    def test_gc_notices_a_c_fork(self):
        client = metricsd.Client(socket=os.path.join(self.dir, "none.sock"))
        pid = ctypes.PyDLL(None).fork()
        if pid == 0:
            code = 1
            try:
                import gc
                gc.collect()
                code = 0 if client._pid == os.getpid() else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    # --- issue 13 items 2 and 7: exits while the daemon is down ----------------------------

    def run_worker(self, ops: int, extra_env=None) -> subprocess.CompletedProcess:
        """A process that makes ``ops`` counter incs, 3 observations and a gauge set, then
        exits without flushing (the exit flush runs)."""
        script = textwrap.dedent(f"""
            import metricsd
            c = metricsd.Counter("py_spool_jobs_total", "", ("queue",))
            h = metricsd.Histogram("py_spool_seconds", "", buckets=(1, 10))
            g = metricsd.Gauge("py_spool_last", "", multiprocess_mode="mostrecent")
            mail = c.labels("mail")
            for _ in range({ops}):
                mail.inc()
            for v in (0.5, 5, 50):
                h.observe(v)
            g.set(7)
        """)
        env = dict(os.environ, METRICSD_SOCKET=self.socket, PYTHONPATH=CLIENT_DIR)
        env.update(extra_env or {})
        return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                              text=True, timeout=30)

    def test_ops_of_a_process_that_exits_while_the_daemon_is_down_are_counted_once(self):
        state = os.path.join(self.dir, "state.bin")
        daemon = self.daemon("--state-file", state)
        self.assertEqual(daemon.stop(), 0)
        for _ in range(2):
            done = self.run_worker(1000)
            self.assertEqual(done.returncode, 0, done.stderr)
            # Said once, on stderr, with the count: 1000 incs, 3 observations, 1 set.
            lines = [line for line in done.stderr.splitlines() if "by exit" in line]
            self.assertEqual(len(lines), 1, done.stderr)
            self.assertIn("1004 ops spooled to " + self.spool + "/", lines[0])
        self.assertEqual(len([n for n in os.listdir(self.spool) if n.endswith(".spool")]), 2)
        daemon.start()  # reads the spool at start
        self.assertEqual(os.listdir(self.spool), [])
        expected = {
            key("py_spool_jobs_total", queue="mail"): 2000,
            key("py_spool_seconds_bucket", le="1.0"): 2,
            key("py_spool_seconds_bucket", le="10.0"): 4,
            key("py_spool_seconds_bucket", le="+Inf"): 6,
            key("py_spool_seconds_count"): 6,
            key("py_spool_seconds_sum"): 111,
            key("py_spool_last"): 7,
        }
        got = daemon.samples()
        self.maxDiff = None
        self.assertEqual({k: got.get(k) for k in expected}, expected)
        # A restart from the state file counts them once, not again (the state file keeps
        # counters, histograms and summaries, not gauges).
        self.assertEqual(daemon.stop(), 0)
        daemon.start()
        got = daemon.samples()
        del expected[key("py_spool_last")]
        self.assertEqual({k: got.get(k) for k in expected}, expected)

    def test_running_daemon_reads_files_spooled_meanwhile_and_sets_garbage_aside(self):
        daemon = self.daemon("--spool-scan-interval", "1")
        os.makedirs(self.spool, exist_ok=True)
        with open(os.path.join(self.spool, "0-1-garbage.spool"), "wb") as f:
            f.write(b"MTRDSPL1" + (1234).to_bytes(8, "little") + b"MTRD\x01\x00\x00\x00" +
                    b"\xff" * 40)
        # Spooled while the daemon runs: this worker's socket path does not answer.
        done = self.run_worker(10, {"METRICSD_SPOOL_DIR": self.spool,
                                    "METRICSD_SOCKET": os.path.join(self.dir, "gone.sock")})
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(wait_until(
            lambda: daemon.samples().get(key("py_spool_jobs_total", queue="mail")) == 10, 10))
        self.assertEqual(sorted(os.listdir(self.spool)), ["0-1-garbage.spool.rejected"])
        self.assertIn("0-1-garbage.spool rejected", daemon.log())
        got = daemon.samples()
        self.assertEqual(got[key("metricsd_spool_files_rejected_total", reason="format")], 1)
        self.assertEqual(got[key("metricsd_spool_files_rejected_total", reason="owner")], 0)
        self.assertEqual(got[key("metricsd_spool_files_applied_total")], 1)

    def test_exit_without_a_spool_says_how_many_ops_were_dropped(self):
        # The spool's parent directory does not exist: nothing can be written.
        done = self.run_worker(5, {"METRICSD_SPOOL_DIR": os.path.join(self.dir, "no", "spool")})
        self.assertEqual(done.returncode, 0, done.stderr)
        lines = [line for line in done.stderr.splitlines() if "by exit" in line]
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertIn("9 ops dropped (cannot spool to " + os.path.join(self.dir, "no", "spool"),
                      lines[0])

    # --- issue 13 item 7: the README's snippet works as pasted -----------------------------

    def test_readme_python_snippet_reaches_the_daemon_named_by_metricsd_socket(self):
        # What `make run` prints: export METRICSD_SOCKET=...; the snippet sets no socket.
        daemon = self.daemon()
        readme = pathlib.Path(CLIENT_DIR).parents[1].joinpath("README.md").read_text()
        section = readme.split("## Instrumenting a Python program", 1)[1]
        snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
        done = subprocess.run([sys.executable, "-c", snippet],
                              env=dict(os.environ, METRICSD_SOCKET=self.socket,
                                       PYTHONPATH=CLIENT_DIR),
                              capture_output=True, text=True, timeout=30)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        got = daemon.samples()
        self.assertEqual(got[key("http_requests_total", method="GET", code="200")], 1)
        self.assertEqual(got[key("request_latency_seconds_count")], 1)
        makefile = pathlib.Path(CLIENT_DIR).parents[1].joinpath("Makefile").read_text()
        self.assertIn("export METRICSD_SOCKET=$(abspath $(RUN_SOCKET))", makefile)


if __name__ == "__main__":
    unittest.main()
