"""API checks that need no daemon: validation, prometheus_client-compatible errors, encoding."""
import collections
import math
import os
import tempfile
import unittest

import metricsd
from metricsd import _protocol as p
from metricsd._metrics import CounterChild, GaugeChild, ObserveChild


class ValidationTest(unittest.TestCase):
    def setUp(self):
        # Nothing here sends an op, so this client never starts a thread or connects.
        self.client = metricsd.Client(socket="/nonexistent/metricsd.sock")
        self.addCleanup(self.client.close)

    def test_invalid_names_raise_value_error(self):
        c = self.client
        for name in ("bad-name", "0abc", "", "a b", "é_total", "x" * 300):
            with self.subTest(name=name), self.assertRaises(ValueError):
                metricsd.Counter(name, "", client=c)
        for labels in (("le",), ("quantile",), ("__x",), ("a", "a"), ("a-b",), ("0a",)):
            with self.subTest(labels=labels), self.assertRaises(ValueError):
                metricsd.Gauge("g_" + str(abs(hash(labels))), "", labels, client=c)
        with self.assertRaises(ValueError):
            metricsd.Gauge("per_pid", "", ("pid",), multiprocess_mode="liveall", client=c)
        metricsd.Gauge("pid_ok", "", ("pid",), multiprocess_mode="livesum", client=c)
        with self.assertRaises(ValueError):
            metricsd.Gauge("bad_mode", "", multiprocess_mode="average", client=c)
        with self.assertRaises(ValueError):
            metricsd.Counter("long_help", "h" * 5000, client=c)

    def test_every_gauge_mode_by_name(self):
        modes = "livesum sum max min mostrecent all liveall livemax livemin livemostrecent shared"
        for mode in modes.split():
            metricsd.Gauge("mode_" + mode, "", multiprocess_mode=mode, client=self.client)
        declarations = self.client._outbox.declarations(0)
        families = [data for kind, _, data in declarations if kind == "family"]
        self.assertEqual([f[13] for f in families], list(range(11)))  # the gauge mode byte

    def test_histogram_buckets(self):
        c = self.client
        inf, nan = float("inf"), float("nan")
        for buckets in ((1, 0.5), (1, 1), (), (inf,), (nan, 1), (1, 2, inf, 3)):
            with self.subTest(buckets=buckets), self.assertRaises(ValueError):
                metricsd.Histogram("h_" + str(abs(hash(buckets))), "", buckets=buckets, client=c)
        # The texts pytheus writes for the same call: str() of each bound as given.
        h = metricsd.Histogram("h_texts", "", client=c,
                               buckets=(1e-05, 0.005, "0.1", 1, 2.5, 10, 20.0, True + 99, inf))
        self.assertEqual(h._bucket_texts(),
                         ("1e-05", "0.005", "0.1", "1", "2.5", "10", "20.0", "100"))
        self.assertEqual(metricsd.Histogram("h_odd", "", buckets=(False, True, 10**70), client=c)
                         ._bucket_texts(), ("0.0", "1.0", "1e+70"))  # texts the daemon refuses
        default = metricsd.Histogram("h_default", "", client=c)
        self.assertEqual(default._bucket_texts(),
                         ("0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75",
                          "1", "2.5", "5", "7.5", "10"))
        # pytheus's Histogram.DEFAULT_BUCKETS (pytheus/metrics.py): every bound both defaults
        # share gets the same Redis key text from both clients.
        pytheus_default = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
        self.assertLessEqual({str(b) for b in pytheus_default}, set(default._bucket_texts()))
        self.assertEqual([float(t) for t in default._bucket_texts()],
                         [.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 7.5, 10.0])

    def test_labels_like_prometheus_client(self):
        c = metricsd.Counter("http_requests_total", "", ("method", "code"), client=self.client)
        self.assertIs(c.labels("GET", 200), c.labels(method="GET", code="200"))
        self.assertIsNot(c.labels("GET", "200"), c.labels("GET", "500"))
        for args, kwargs in ((("GET",), {}), (("GET", "200", "x"), {}), ((), {"method": "GET"}),
                             ((), {"method": "GET", "status": "200"}), (("GET",), {"code": "200"})):
            with self.subTest(args=args, kwargs=kwargs), self.assertRaises(ValueError):
                c.labels(*args, **kwargs)
        with self.assertRaisesRegex(ValueError, "missing label values"):
            c.inc()
        unlabelled = metricsd.Counter("jobs", "", client=self.client)
        with self.assertRaises(ValueError):
            unlabelled.labels("x")
        self.assertEqual(unlabelled._name, "jobs_total")  # prometheus_client's exported name
        with self.assertRaises(ValueError):
            metricsd.Counter("http_requests", "", client=self.client)  # same family name
        with self.assertRaises(ValueError):
            c.labels("\ud800", "200")  # not encodable as UTF-8

    def test_name_parts(self):
        g = metricsd.Gauge("size", "", namespace="app", subsystem="cache", unit="bytes",
                           client=self.client)
        self.assertEqual(g._name, "app_cache_size_bytes")


class HotPathTest(unittest.TestCase):
    """Children append exactly the records the protocol specifies."""

    def setUp(self):
        self.q = collections.deque()

    def records(self):
        return [p.RECORD.unpack(r) for r in self.q]

    def test_counter(self):
        child = CounterChild(7, self.q.append)
        child.inc()
        child.inc(2.5)
        child.inc(0)
        for bad in (-1, math.inf, math.nan):
            with self.assertRaises(ValueError):
                child.inc(bad)
        self.assertEqual(self.records(), [(1, 7, 1.0), (1, 7, 2.5), (1, 7, 0.0)])
        with self.assertRaises(ZeroDivisionError), child.count_exceptions(ZeroDivisionError):
            1 / 0
        with self.assertRaises(KeyError), child.count_exceptions(ZeroDivisionError):
            {}["x"]
        self.assertEqual(len(self.q), 4)

    def test_gauge(self):
        child = GaugeChild(3, self.q.append)
        child.inc()
        child.dec()
        child.inc(-2)
        child.dec(0.5)
        child.set(math.nan)
        child.set(4)
        with self.assertRaises(ValueError):
            child.inc(math.inf)
        recs = self.records()
        self.assertEqual(recs[:4], [(1, 3, 1.0), (2, 3, 1.0), (1, 3, -2.0), (2, 3, 0.5)])
        self.assertTrue(math.isnan(recs[4][2]))
        self.assertEqual(recs[5], (3, 3, 4.0))

    def test_observe_and_timer(self):
        child = ObserveChild(9, self.q.append)
        child.observe(-1.5)
        child.observe(math.inf)
        with self.assertRaises(ValueError):
            child.observe(math.nan)
        with child.time():
            pass

        @child.time()
        def work(x):
            return x * 2
        self.assertEqual(work(21), 42)
        recs = self.records()
        self.assertEqual([r[:2] for r in recs], [(4, 9)] * 4)
        self.assertEqual(recs[:2], [(4, 9, -1.5), (4, 9, math.inf)])
        self.assertTrue(all(0 <= r[2] < 1 for r in recs[2:]))


class ClientWithoutDaemonTest(unittest.TestCase):
    def test_ops_never_raise_and_flush_fails_fast(self):
        with tempfile.TemporaryDirectory() as tmp:
            client = metricsd.Client(socket=os.path.join(tmp, "none.sock"), max_buffer_ops=10)
            try:
                g = metricsd.Gauge("absent", "", client=client)
                for _ in range(25):
                    g.inc()
                self.assertFalse(client.flush(2))
                self.assertEqual(client.dropped_ops(), 0)  # 10 buffered, 15 folded
                self.assertFalse(client.connected())
            finally:
                client.close(0.1)
            self.assertFalse(client.flush(0.1))  # closed: no thread is started again
            g.inc()
            self.assertEqual(client.dropped_ops(), 1)  # an op after close()
            self.assertEqual(len(client._outbox.queue), 0)

    def test_settings_are_checked(self):
        for kwargs in ({"flush_interval": 0}, {"flush_interval": -1}, {"max_buffer_ops": -1}):
            with self.subTest(**kwargs), self.assertRaises(ValueError):
                metricsd.Client(**kwargs)


if __name__ == "__main__":
    unittest.main()
