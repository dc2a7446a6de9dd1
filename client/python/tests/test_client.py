"""End-to-end tests of the client against the real metricsd daemon (build/bin/metricsd).

The binary comes from $METRICSD_BINARY (CTest sets it), else <repo>/build/bin/metricsd.
"""
import multiprocessing
import os
import signal
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import metricsd
from tests._daemon import Daemon, key, wait_until

# The module's daemon and its directory, made by setUpModule.
_tmp: tempfile.TemporaryDirectory = None  # type: ignore[assignment]
DAEMON: Daemon = None  # type: ignore[assignment]
FORK = multiprocessing.get_context("fork")


def setUpModule() -> None:
    global _tmp, DAEMON
    _tmp = tempfile.TemporaryDirectory(prefix="metricsd-py-")
    DAEMON = Daemon(os.path.join(_tmp.name, "s.sock"), os.path.join(_tmp.name, "daemon.log"))
    DAEMON.start()


def tearDownModule() -> None:
    code = DAEMON.stop()
    _tmp.cleanup()
    if code != 0:
        raise AssertionError(f"metricsd exited with {code}")


class ClientTest(unittest.TestCase):
    def client(self, **kwargs) -> metricsd.Client:
        client = metricsd.Client(socket=kwargs.pop("socket", DAEMON.socket_path), **kwargs)
        self.addCleanup(client.close)
        return client

    def test_exact_totals_from_four_forked_processes(self):
        client = self.client()
        requests = metricsd.Counter("py_e2e_requests_total", "Requests.", ("method", "code"),
                                    client=client)
        label_sets = [("GET", "200"), ("POST", "201"), ("GET", "500")]
        children = [requests.labels(*labels) for labels in label_sets]

        def worker():
            for i in range(50_000):
                children[i % 3].inc()
            sys.exit(0 if client.flush(10) and client.dropped_ops() == 0 else 1)

        procs = [FORK.Process(target=worker) for _ in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
            self.assertEqual(proc.exitcode, 0)
        self.assertTrue(client.flush(5))
        samples = DAEMON.samples()
        for (method, code), expected in zip(label_sets, (16_667, 16_667, 16_666)):
            self.assertEqual(samples[key("py_e2e_requests_total", method=method, code=code)],
                             4 * expected)

    def test_gauge_modes_across_processes(self):
        client = self.client()
        livesum = metricsd.Gauge("py_e2e_in_flight", "", multiprocess_mode="livesum", client=client)
        high = metricsd.Gauge("py_e2e_high_water", "", multiprocess_mode="max", client=client)
        per_pid = metricsd.Gauge("py_e2e_rss", "", multiprocess_mode="liveall", client=client)
        ready, done = FORK.Queue(), FORK.Event()

        def worker(i):
            livesum.inc(i + 1)
            high.set(10 * (i + 1))
            per_pid.set(100 + i)
            ready.put((os.getpid(), i) if client.flush(10) else None)
            done.wait(30)  # stay connected: live modes count connected workers only

        procs = [FORK.Process(target=worker, args=(i,)) for i in range(3)]
        for proc in procs:
            proc.start()
        pids = dict(ready.get(timeout=30) for _ in procs)
        samples = DAEMON.samples()
        self.assertEqual(samples[key("py_e2e_in_flight")], 6)
        self.assertEqual(samples[key("py_e2e_high_water")], 30)
        for pid, i in pids.items():
            self.assertEqual(samples[key("py_e2e_rss", pid=str(pid))], 100 + i)
        done.set()
        for proc in procs:
            proc.join(30)
            self.assertEqual(proc.exitcode, 0)

        def settled():  # disconnects are applied by the daemon asynchronously
            s = DAEMON.samples()
            return s.get(key("py_e2e_in_flight")) == 0 and not any(
                name == "py_e2e_rss" for name, _ in s)
        self.assertTrue(wait_until(settled), DAEMON.scrape())
        self.assertEqual(DAEMON.samples()[key("py_e2e_high_water")], 30)  # max keeps exited

    def test_gauge_helpers(self):
        client = self.client()
        gauge = metricsd.Gauge("py_e2e_gauge_helpers", "", ("kind",), client=client)
        with gauge.labels("ctx").track_inprogress():
            pass
        gauge.labels("dec").inc(5)
        gauge.labels("dec").dec(2)
        before = time.time()
        gauge.labels("now").set_to_current_time()

        @gauge.labels("deco").track_inprogress()
        def work():
            return 42
        self.assertEqual(work(), 42)
        self.assertTrue(client.flush(5))
        samples = DAEMON.samples()
        self.assertEqual(samples[key("py_e2e_gauge_helpers", kind="ctx")], 0)
        self.assertEqual(samples[key("py_e2e_gauge_helpers", kind="dec")], 3)
        self.assertEqual(samples[key("py_e2e_gauge_helpers", kind="deco")], 0)
        self.assertAlmostEqual(samples[key("py_e2e_gauge_helpers", kind="now")], before, delta=5)

    def test_histogram_and_summary_exact(self):
        client = self.client()
        latency = metricsd.Histogram("py_e2e_latency_seconds", "Latency.",
                                     buckets=(0.005, 0.01, 0.1, 1, float("inf")), client=client)
        values = (0.00390625, 0.0078125, 0.0625, 0.5, 1.0, 2.0, 4.0)  # exact binary fractions
        for value in values:
            latency.observe(value)
        sizes = metricsd.Summary("py_e2e_payload_bytes", "Sizes.", ("route",), client=client)
        sizes.labels(route="/a").observe(100)
        sizes.labels(route="/a").observe(200)
        with sizes.labels(route="/t").time():
            pass
        default = metricsd.Histogram("py_e2e_default_seconds", "", client=client)
        default.observe(0.3)
        self.assertTrue(client.flush(5))
        s = DAEMON.samples()
        name = "py_e2e_latency_seconds"
        for le, count in (("0.005", 1), ("0.01", 2), ("0.1", 3), ("1.0", 5), ("+Inf", 7)):
            self.assertEqual(s[key(name + "_bucket", le=le)], count, le)
        self.assertEqual(s[key(name + "_sum")], sum(values))
        self.assertEqual(s[key(name + "_count")], 7)
        self.assertEqual(s[key("py_e2e_payload_bytes_sum", route="/a")], 300)
        self.assertEqual(s[key("py_e2e_payload_bytes_count", route="/a")], 2)
        self.assertEqual(s[key("py_e2e_payload_bytes_count", route="/t")], 1)
        les = [dict(labels)["le"] for n, labels in s if n == "py_e2e_default_seconds_bucket"]
        # prometheus_client's le texts, whatever the bounds' texts sent ("1" for the int 1).
        expected = ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75",
                    "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf"]
        self.assertEqual(sorted(les, key=float), expected)

    def test_fork_child_never_resends_parent_ops(self):
        client = self.client()
        counter = metricsd.Counter("py_e2e_fork_total", "", client=client)
        for _ in range(1000):
            counter.inc()  # still queued in the parent when it forks
        pid = os.fork()
        if pid == 0:  # the child: never return into the test runner
            code = 3
            try:
                for _ in range(10):
                    counter.inc()
                code = 0 if client.flush(10) else 4
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertTrue(client.flush(5))
        self.assertEqual(DAEMON.samples()[key("py_e2e_fork_total")], 1010)

    def test_daemon_absent_then_started(self):
        path = os.path.join(_tmp.name, "late.sock")
        client = self.client(socket=path, max_buffer_ops=100)
        counter = metricsd.Counter("py_e2e_late_total", "Before the daemon.", client=client)
        for _ in range(60):
            counter.inc()  # never raises, never blocks
        started = time.monotonic()
        self.assertFalse(client.flush(5))
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertFalse(client.connected())
        self.assertEqual(client.dropped_ops(), 0)
        self.assertIn("cannot connect", client.last_error())
        for _ in range(60):
            counter.inc()
        self.assertFalse(client.flush(5))
        self.assertEqual(client.dropped_ops(), 0)  # 120 ops: 100 buffered, 20 folded
        late = Daemon(path, os.path.join(_tmp.name, "late.log")).start()
        try:
            self.assertTrue(wait_until(client.connected, 5), "no reconnect within the backoff")
            self.assertTrue(client.flush(5))
            self.assertEqual(late.samples()[key("py_e2e_late_total")], 120)
        finally:
            self.assertEqual(late.stop(), 0)

    def test_folds_every_op_while_the_daemon_is_stopped(self):
        """SIGSTOP: the daemon reads nothing while 1.2 M ops of every type are sent. What the
        buffer cannot hold folds per series; the scrape then shows exactly what was sent."""
        path = os.path.join(_tmp.name, "stopped.sock")
        daemon = Daemon(path, os.path.join(_tmp.name, "stopped.log")).start()
        client = self.client(socket=path, max_buffer_ops=10_000)
        requests = metricsd.Counter("py_fold_total", "", ("k",), client=client)
        a, b = requests.labels("a"), requests.labels("b")
        level = metricsd.Gauge("py_fold_level", "", client=client, multiprocess_mode="sum")
        seconds = metricsd.Histogram("py_fold_seconds", "", client=client, buckets=(0.5, 1, 2))
        sizes = metricsd.Summary("py_fold_bytes", "", client=client)
        a.inc(0)
        self.assertTrue(client.flush(5))
        rounds = 200_000
        os.kill(daemon.proc.pid, signal.SIGSTOP)
        try:
            for i in range(rounds):
                a.inc()
                b.inc(0.25)
                level.inc(2)
                if i == rounds // 2:
                    level.set(-5)
                seconds.observe((i % 4) * 0.75)
                sizes.observe(i % 3)
            # Memory is bounded by the series: the sender holds at most max_buffer_ops records,
            # plus the records of folds it drained when the kernel took some bytes (at most 4
            # here: 2 counters, a gauge's set and inc), and one accumulator per series. The
            # 1.2 M ops then arrive exactly: all that neither the kernel nor the buffer took
            # were folded.
            sender = client._sender
            self.assertTrue(wait_until(lambda: not client._outbox.queue, 10))
            self.assertLessEqual(10_000 - sender._buf.room(10_000), 10_004)
            self.assertLessEqual(len(sender._folder._acc), 5)
            self.assertEqual(client.dropped_ops(), 0)
        finally:
            os.kill(daemon.proc.pid, signal.SIGCONT)
        try:
            self.assertTrue(client.flush(20))
            self.assertEqual(client.dropped_ops(), 0)
            self.assertIsNone(client.last_error())
            got = daemon.samples()
        finally:
            self.assertEqual(daemon.stop(), 0)
        n = rounds
        self.assertEqual(got[key("py_fold_total", k="a")], n)
        self.assertEqual(got[key("py_fold_total", k="b")], n / 4)
        self.assertEqual(got[key("py_fold_level")], -5 + 2 * (n - n // 2 - 1))
        self.assertEqual(got[key("py_fold_seconds_bucket", le="0.5")], n / 4)
        self.assertEqual(got[key("py_fold_seconds_bucket", le="1.0")], n / 2)
        self.assertEqual(got[key("py_fold_seconds_bucket", le="2.0")], 3 * n / 4)
        self.assertEqual(got[key("py_fold_seconds_bucket", le="+Inf")], n)
        self.assertEqual(got[key("py_fold_seconds_sum")], 4.5 * n / 4)
        self.assertEqual(got[key("py_fold_bytes_count")], n)
        self.assertEqual(got[key("py_fold_bytes_sum")], (n // 3) * 3 + 1)  # n = 3k + 2

    def test_reconnects_and_redeclares_after_daemon_restart(self):
        path = os.path.join(_tmp.name, "restart.sock")
        log = os.path.join(_tmp.name, "restart.log")
        daemon = Daemon(path, log).start()
        client = self.client(socket=path)
        counter = metricsd.Counter("py_e2e_restart_total", "", ("k",), client=client)
        counter.labels("a").inc(3)
        self.assertTrue(client.flush(5))
        self.assertEqual(daemon.stop(), 0)
        self.assertTrue(wait_until(lambda: not client.connected()))
        daemon.start()
        try:
            counter.labels("a").inc(2)
            counter.labels("b").inc()
            self.assertTrue(client.flush(5))
            samples = daemon.samples()  # a fresh memory backend: only the new ops
            self.assertEqual(samples[key("py_e2e_restart_total", k="a")], 2)
            self.assertEqual(samples[key("py_e2e_restart_total", k="b")], 1)
        finally:
            self.assertEqual(daemon.stop(), 0)

    def test_conflicting_declaration_reported_app_keeps_running(self):
        first, second = self.client(), self.client()
        metricsd.Gauge("py_e2e_conflict", "", client=first).set(1)
        self.assertTrue(first.flush(5))
        with self.assertLogs("metricsd", "WARNING") as logs:
            clash = metricsd.Summary("py_e2e_conflict", "", client=second)
            clash.observe(1)  # dropped by the daemon; never raises here
            fine = metricsd.Counter("py_e2e_after_conflict_total", "", client=second)
            fine.inc(7)
            self.assertTrue(second.flush(5))
        self.assertIn("family_conflict", second.last_error())
        self.assertTrue(any("family_conflict" in line for line in logs.output))
        self.assertEqual(second.dropped_ops(), 0)
        samples = DAEMON.samples()
        self.assertEqual(samples[key("py_e2e_conflict")], 1)
        self.assertEqual(samples[key("py_e2e_after_conflict_total")], 7)

    def test_configure_new_socket_reconnects_there(self):
        path = os.path.join(_tmp.name, "moved.sock")
        other = Daemon(path, os.path.join(_tmp.name, "moved.log")).start()
        try:
            client = self.client()
            counter = metricsd.Counter("py_e2e_moved_total", "", client=client)
            counter.inc()
            self.assertTrue(client.flush(5))
            client.configure(socket=path)
            counter.inc(5)
            self.assertTrue(client.flush(5))
            self.assertEqual(DAEMON.samples()[key("py_e2e_moved_total")], 1)
            self.assertEqual(other.samples()[key("py_e2e_moved_total")], 5)
        finally:
            self.assertEqual(other.stop(), 0)

    def test_module_level_api_and_exit_flush(self):
        # A short-lived script using the default client, exiting without flush(): the
        # atexit hook delivers its ops.
        script = textwrap.dedent("""
            import metricsd
            metricsd.configure(socket=%r)
            c = metricsd.Counter("py_e2e_script_runs", "Runs.", labelnames=("job",))
            c.labels(job="nightly").inc()
            c.labels("nightly").inc(2)
            assert metricsd.dropped_ops() == 0
        """ % DAEMON.socket_path)
        env = dict(os.environ, PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[1]))
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=30)
        self.assertEqual(DAEMON.samples()[key("py_e2e_script_runs_total", job="nightly")], 3)


if __name__ == "__main__":
    unittest.main()
