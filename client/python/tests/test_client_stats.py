"""The ops the client still drops, exported by the real daemon per client (CLIENT_STATS).

With ``max_buffer_ops=0`` every record folds; a record the daemon would refuse cannot be
folded, so the sender drops and counts it. The API refuses such values itself, so the test
appends the raw record the way the API appends valid ones. The C++ and C clients have the
same test in tests/integration/client_stats_test.cpp.
"""
import os
import struct
import tempfile
import unittest

import metricsd
from tests._daemon import Daemon, key
from tests.test_client import wait_until

FAMILY = "metricsd_client_dropped_ops_total"


def drop(child, count: int) -> None:
    """Queue ``count`` counter increments of -1: folded, the daemon would refuse them."""
    for _ in range(count):
        child._append(child._inc + struct.pack("<d", -1.0))


class ClientStatsTest(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="metricsd-py-stats-")
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.daemon = Daemon(os.path.join(tmp.name, "s.sock"), os.path.join(tmp.name, "d.log"))
        self.daemon.start()
        self.addCleanup(lambda: self.assertEqual(self.daemon.stop(), 0))

    def dropped(self):
        """The family's samples, by pid label."""
        return {dict(labels)["pid"]: value for (name, labels), value in
                self.daemon.samples().items() if name == FAMILY}

    def test_drops_show_under_the_pid_then_under_exited(self):
        client = metricsd.Client(socket=self.daemon.socket_path, max_buffer_ops=0)
        child = metricsd.Counter("py_cs_jobs_total", "", ("k",), client=client).labels("a")
        self.assertTrue(client.flush(5))
        self.assertEqual(self.dropped(), {"exited": 0})
        for _ in range(10):
            child.inc()
        drop(child, 3)
        self.assertTrue(client.flush(5))  # the report goes before the SYNC: the ACK covers it
        self.assertEqual(client.dropped_ops(), 3)
        self.assertEqual(self.dropped(), {str(os.getpid()): 3, "exited": 0})
        self.assertEqual(self.daemon.samples()[key("py_cs_jobs_total", k="a")], 10)
        self.assertIsNone(client.last_error())

        client.close()
        self.assertTrue(wait_until(lambda: self.dropped() == {"exited": 3}), self.dropped())

    def test_a_reconnecting_client_reports_each_drop_once(self):
        client = metricsd.Client(socket=self.daemon.socket_path, max_buffer_ops=0)
        self.addCleanup(client.close)
        child = metricsd.Counter("py_cs_jobs_total", "", ("k",), client=client).labels("a")
        drop(child, 3)
        self.assertTrue(client.flush(5))
        self.assertEqual(self.dropped(), {str(os.getpid()): 3, "exited": 0})
        # Another path to the same socket: the client closes its connection and opens a new one.
        link = os.path.join(self.dir, "again.sock")
        os.symlink(self.daemon.socket_path, link)
        client.configure(socket=link)
        drop(child, 2)
        self.assertTrue(client.flush(5))
        self.assertEqual(client.dropped_ops(), 5)
        want = {str(os.getpid()): 2, "exited": 3}
        self.assertTrue(wait_until(lambda: self.dropped() == want), self.dropped())


if __name__ == "__main__":
    unittest.main()
