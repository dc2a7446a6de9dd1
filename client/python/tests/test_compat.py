"""prometheus_client's API beyond the four types: local mode, Info, Enum, remove()/clear(),
set_function, exemplars, registry=. No daemon: local mode, or records read off the queue."""
import logging
import math
import os
import threading
import unittest

import metricsd
from metricsd import _functions, _protocol as p


class LocalModeTest(unittest.TestCase):
    def setUp(self):
        self.c = metricsd.Client(local=True)
        self.addCleanup(self.c.close)

    def value(self, sample, **labels):
        return self.c.get_sample_value(sample, labels)

    def test_every_type_reads_back_as_prometheus_client_names_it(self):
        c = self.c
        requests = metricsd.Counter("req", "", ["method"], client=c)
        requests.labels("GET").inc()
        requests.labels(method="GET").inc(2.5)
        requests.labels("PUT")  # a labelled child shows at 0 once created
        g = metricsd.Gauge("temp", "", multiprocess_mode="liveall", client=c)  # no pid label here
        g.inc(5)
        g.dec(1.5)
        h = metricsd.Histogram("lat", "", buckets=(0.5, 1, 2.5), client=c)
        for v in (0.25, 0.5, 1.5, 7, -3):
            h.observe(v)
        s = metricsd.Summary("size", "", client=c)
        s.observe(3)
        s.observe(4.5)
        self.assertEqual(self.value("req_total", method="GET"), 3.5)
        self.assertEqual(self.value("req_total", method="PUT"), 0.0)
        self.assertIsNone(self.value("req_total", method="POST"))
        self.assertIsNone(self.value("req_total"))
        self.assertIsNone(self.value("req_created", method="GET"))  # no _created samples
        self.assertEqual(self.value("temp"), 3.5)
        self.assertEqual([self.value("lat_bucket", le=le) for le in ("0.5", "1.0", "2.5", "+Inf")],
                         [3.0, 3.0, 4.0, 5.0])
        self.assertEqual((self.value("lat_count"), self.value("lat_sum")), (5.0, 6.25))
        self.assertEqual((self.value("size_count"), self.value("size_sum")), (2.0, 7.5))
        metricsd.Histogram("big", "", buckets=(1e6, 2.5e7), client=c)
        self.assertEqual(self.value("big_bucket", le="1e+06"), 0.0)  # floatToGoString
        self.assertEqual(self.value("big_bucket", le="2.5e+07"), 0.0)
        self.assertTrue(c.flush(0))
        self.assertFalse(c.connected())
        self.assertIsNone(c._sender)  # local mode never starts the sender thread

    def test_switching_to_local_keeps_metrics_declared_before_and_ops_queued(self):
        client = metricsd.Client(socket="/nonexistent/metricsd.sock")
        self.addCleanup(client.close)
        early = metricsd.Counter("early", "", client=client)
        labelled = metricsd.Gauge("early_g", "", ["k"], client=client)
        client._outbox.queue.append(p.encode_record(p.OP_INC, 0, 4))  # queued, never sent
        client.use_local()
        early.inc()
        labelled.labels("a").set(2)
        self.assertEqual(client.get_sample_value("early_total"), 5.0)
        self.assertEqual(client.get_sample_value("early_g", {"k": "a"}), 2.0)
        self.assertTrue(client.local())

    def test_get_sample_value_needs_local_mode(self):
        client = metricsd.Client(socket="/nonexistent/metricsd.sock")
        self.addCleanup(client.close)
        with self.assertRaisesRegex(RuntimeError, "local mode"):
            client.get_sample_value("x")

    def test_remove_and_clear(self):
        g = metricsd.Gauge("cache", "", ["name"], client=self.c)
        for name, value in (("a", 1), ("b", 2), ("c", 3)):
            g.labels(name).set(value)
        kept = g.labels("a")
        g.remove("a")
        self.assertIsNone(self.value("cache", name="a"))
        self.assertEqual(self.value("cache", name="b"), 2.0)
        self.assertIs(g.labels("a"), kept)  # back, from zero, as a new child would be
        self.assertEqual(self.value("cache", name="a"), 0.0)
        with self.assertRaises(KeyError):
            g.remove("zzz")
        with self.assertRaisesRegex(ValueError, "Incorrect label count"):
            g.remove("a", "b")
        g.clear()
        self.assertEqual([self.value("cache", name=n) for n in "abc"], [None, None, None])
        g.labels("b").inc()
        self.assertEqual(self.value("cache", name="b"), 1.0)
        unlabelled = metricsd.Gauge("plain", "", client=self.c)
        for call in (lambda: unlabelled.remove(), unlabelled.clear):
            with self.assertRaisesRegex(ValueError, "No label names"):
                call()

    def test_info(self):
        i = metricsd.Info("build", "Build.", registry=object(), client=self.c)
        i.info({"version": "1.2", "commit": "abc"})
        self.assertEqual(self.value("build_info", version="1.2", commit="abc"), 1.0)
        i.info({"commit": "def", "version": "1.3"})  # same keys in another order
        self.assertIsNone(self.value("build_info", version="1.2", commit="abc"))
        self.assertEqual(self.value("build_info", version="1.3", commit="def"), 1.0)
        with self.assertRaisesRegex(ValueError, "keys must stay"):
            i.info({"version": "2"})
        per_host = metricsd.Info("host", "", ["dc"], client=self.c)
        per_host.labels("eu").info({"name": "h1"})
        per_host.labels(dc="us").info({"name": "h2"})
        self.assertEqual(self.value("host_info", dc="eu", name="h1"), 1.0)
        self.assertEqual(self.value("host_info", dc="us", name="h2"), 1.0)
        with self.assertRaisesRegex(ValueError, "Overlapping labels"):
            per_host.labels("eu").info({"dc": "x"})
        with self.assertRaisesRegex(ValueError, "missing label values"):
            per_host.info({"name": "h3"})
        with self.assertRaisesRegex(ValueError, "cannot have a unit"):
            metricsd.Info("x", "", unit="seconds", client=self.c)
        with self.assertRaises(ValueError):
            metricsd.Info("bad-name", "", client=self.c)
        with self.assertRaises(ValueError):
            metricsd.Info("reserved_key", "", client=self.c).info({"le": "1"})

    def test_enum(self):
        e = metricsd.Enum("task_state", "", states=["starting", "running", "stopped"],
                          client=self.c)
        states = lambda **l: [self.value("task_state", task_state=s, **l)  # noqa: E731
                              for s in ("starting", "running", "stopped")]
        self.assertEqual(states(), [1.0, 0.0, 0.0])  # the first state by default
        e.state("stopped")
        self.assertEqual(states(), [0.0, 0.0, 1.0])
        with self.assertRaises(ValueError):
            e.state("paused")
        per_queue = metricsd.Enum("queue_state", "", ["queue"], states=["idle", "busy"],
                                  namespace="app", client=self.c)
        per_queue.labels("q1").state("busy")
        self.assertEqual(self.value("app_queue_state", queue="q1", app_queue_state="busy"), 1.0)
        self.assertEqual(self.value("app_queue_state", queue="q1", app_queue_state="idle"), 0.0)
        per_queue.remove("q1")
        self.assertIsNone(self.value("app_queue_state", queue="q1", app_queue_state="busy"))
        per_queue.labels(queue="q1")
        self.assertEqual(self.value("app_queue_state", queue="q1", app_queue_state="idle"), 1.0)
        for kwargs in ({"states": []}, {"labelnames": ["e"], "states": ["a"]},
                       {"unit": "bytes", "states": ["a"]}):
            with self.subTest(**kwargs), self.assertRaises(ValueError):
                metricsd.Enum("e", "", client=self.c, **kwargs)

    def test_set_function(self):
        g = metricsd.Gauge("queue_len", "", client=self.c)
        items = [1, 2, 3]
        g.set_function(lambda: len(items))
        self.assertEqual(self.value("queue_len"), 3.0)
        items.append(4)
        self.assertEqual(self.value("queue_len"), 4.0)  # evaluated at every read
        g.set_function(lambda: 10)  # replaces the earlier function
        self.assertEqual(self.value("queue_len"), 10.0)
        labelled = metricsd.Gauge("per_shard", "", ["shard"], client=self.c)
        labelled.labels("0").set_function(lambda: 0.5)
        self.assertEqual(self.value("per_shard", shard="0"), 0.5)

        def broken():
            raise OSError("sensor gone")
        with self.assertLogs("metricsd", logging.ERROR) as logs:
            g.set_function(broken)
            self.assertEqual(self.value("queue_len"), 10.0)  # keeps its last value
            self.assertEqual(self.value("queue_len"), 10.0)
        self.assertEqual(len(logs.records), 1)  # logged once, not at every evaluation
        with self.assertRaises(TypeError):
            g.set_function(42)
        labelled.remove("0")  # a removed child's function stops, as in prometheus_client
        self.c.close()  # and so do a closed client's
        ours = {id(child) for child in self.c._children}
        self.assertEqual([f for c, f in _functions._functions if id(c) in ours], [])

    def test_exemplars_are_checked_like_prometheus_client_and_the_value_counts(self):
        c = metricsd.Counter("ex", "", client=self.c)
        h = metricsd.Histogram("ex_seconds", "", buckets=(1,), client=self.c)
        c.inc(exemplar={"trace_id": "abc"})
        c.inc(2, {"trace_id": "abc"})
        h.observe(0.5, exemplar={"trace_id": "abc"})
        self.assertEqual(self.value("ex_total"), 3.0)
        self.assertEqual(self.value("ex_seconds_bucket", le="1.0"), 1.0)
        for bad in ({"trace-id": "x"}, {"__x": "y"}, {"t": "x" * 128}):
            with self.subTest(exemplar=bad), self.assertRaises(ValueError):
                c.inc(exemplar=bad)
            with self.subTest(exemplar=bad), self.assertRaises(ValueError):
                h.observe(1, exemplar=bad)
        self.assertEqual(self.value("ex_total"), 3.0)

    def test_registry_keyword_is_accepted_everywhere(self):
        for make in (lambda: metricsd.Counter("r1", "", registry=None, client=self.c),
                     lambda: metricsd.Gauge("r2", "", registry=metricsd.REGISTRY, client=self.c),
                     lambda: metricsd.Histogram("r3", "", registry=None, client=self.c),
                     lambda: metricsd.Summary("r4", "", registry=None, client=self.c),
                     lambda: metricsd.Enum("r5", "", states=["a"], registry=None, client=self.c)):
            make()
        self.assertEqual(self.value("r2"), 0.0)


class DaemonModeRecordsTest(unittest.TestCase):
    """What Info, Enum and set_function send to a daemon: the op records queued."""

    def setUp(self):
        self.c = metricsd.Client(socket="/nonexistent/metricsd.sock")
        self.addCleanup(self.c.close)
        self.sent = []
        # Children made from now on append here: no sender starts, the records stay readable.
        self.c._start_and_append = self.sent.append

    def records(self):
        return [p.RECORD.unpack(r) for r in list(self.sent)]

    def test_info_change_sets_the_old_values_to_zero(self):
        i = metricsd.Info("build", "", client=self.c)
        i.info({"version": "1"})
        self.sent.clear()
        i.info({"version": "1"})  # unchanged: nothing sent
        i.info({"version": "2"})
        series = {v: h for h, (_, v) in self.c._series_specs.items()}
        self.assertEqual(self.records(),
                         [(p.OP_SET, series[("2",)], 1.0), (p.OP_SET, series[("1",)], 0.0)])
        family = self.c._outbox.declarations(0)[0][2]
        self.assertEqual(family[13], p.GAUGE_MODES["livemax"])  # the gauge mode byte

    def test_enum_state_sets_every_state(self):
        e = metricsd.Enum("st", "", states=["a", "b"], client=self.c)
        series = {v: h for h, (_, v) in self.c._series_specs.items()}
        self.assertEqual(self.records(),  # the first state at creation
                         [(p.OP_SET, series[("a",)], 1.0), (p.OP_SET, series[("b",)], 0.0)])
        family = self.c._outbox.declarations(0)[0][2]
        self.assertEqual(family[13], p.GAUGE_MODES["livemostrecent"])  # the gauge mode byte
        self.sent.clear()
        e.state("b")
        self.assertEqual(self.records(),
                         [(p.OP_SET, series[("a",)], 0.0), (p.OP_SET, series[("b",)], 1.0)])

    def test_set_function_thread_sends_a_set_every_interval(self):
        g = metricsd.Gauge("polled", "", client=self.c)
        calls = []
        done = threading.Event()

        def f():
            calls.append(1)
            if len(calls) >= 4:
                done.set()
            return len(calls)
        _functions.set_interval(0.01)
        self.addCleanup(_functions.set_interval, _functions.DEFAULT_INTERVAL)
        g.set_function(f)
        self.addCleanup(g.set_function, lambda: 0)
        self.assertTrue(done.wait(10))
        records = self.records()
        self.assertEqual([r[2] for r in records[:4]], [1.0, 2.0, 3.0, 4.0])
        self.assertEqual({r[:2] for r in records}, {(p.OP_SET, 0)})

    def test_a_forked_child_evaluates_its_functions_on_its_own_thread(self):
        g = metricsd.Gauge("pid_seen", "", client=self.c)
        seen = threading.Event()
        g.set_function(lambda: seen.set() or os.getpid())
        self.addCleanup(g.set_function, lambda: 0)
        _functions.set_interval(0.01)
        self.addCleanup(_functions.set_interval, _functions.DEFAULT_INTERVAL)
        pid = os.fork()
        if pid == 0:  # the child: the parent's thread is gone; the at-fork hook starts one
            code = 1
            try:
                seen.clear()
                if seen.wait(5):  # called again, in the child, without any flush
                    code = 0 if _functions._thread_pid == os.getpid() else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    def test_interval_is_checked(self):
        for bad in (0, -1, math.inf):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                metricsd.configure(function_interval=bad)


if __name__ == "__main__":
    unittest.main()
