"""The shared end-to-end scenario (protocol/conformance/scenario.json) against the real daemon.

Every metricsd client runs the same steps through its public API; the scrape must equal the
scenario's expected text exactly. protocol/conformance/README.md describes the format.
"""
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import unittest

import metricsd
from tests._daemon import Daemon

PROTOCOL = pathlib.Path(__file__).resolve().parents[3] / "protocol"
SCENARIO = PROTOCOL / "conformance" / "scenario.json"


def number(value):
    """A scenario value: a JSON number or "NaN", "+Inf", "-Inf"."""
    return float(value.replace("Inf", "inf")) if isinstance(value, str) else value


def scraped(text, prefix):
    """The scrape's lines that belong to families named with ``prefix``."""
    lines = []
    for line in text.splitlines():
        name = line.split(" ")[2] if line.startswith("# ") else line
        if name.startswith(prefix):
            lines.append(line)
    return lines


class Driver:
    """Runs the scenario's steps with the Python client; ``test`` receives the assertions."""

    def __init__(self, test, daemon, scenario):
        self.test, self.daemon, self.scenario = test, daemon, scenario
        self.clients = {name: metricsd.Client(socket=daemon.socket_path,
                                              max_buffer_ops=opts.get("max_buffer_ops",
                                                                      1_000_000))
                        for name, opts in scenario["clients"].items()}
        self.metrics = {}
        self.pid = str(os.getpid())

    def close(self):
        for client in self.clients.values():
            client.close()

    def make(self, step):
        client = self.clients[step["client"]]
        args = dict(name=step["name"], documentation=step["help"],
                    labelnames=step["label_names"], client=client)
        kind = step["type"]
        if kind == "counter":
            return metricsd.Counter(**args)
        if kind == "gauge":
            return metricsd.Gauge(multiprocess_mode=step.get("mode", "livesum"), **args)
        if kind == "summary":
            return metricsd.Summary(**args)
        if "buckets" in step:
            args["buckets"] = step["buckets"]
        return metricsd.Histogram(**args)

    def target(self, step):
        metric = self.metrics[step["id"]]
        return metric.labels(*step["labels"]) if step["labels"] else metric

    def call(self, step, op):
        method = getattr(self.target(step), op)
        if "value" in step:
            method(number(step["value"]))
        else:
            method()

    def run(self, steps):
        t = self.test
        for step in steps:
            kind = step["do"]
            with t.subTest(step=json.dumps(step, ensure_ascii=False)[:120]):
                if kind == "repeat":
                    for _ in range(step["times"]):
                        self.run(step["steps"])
                elif kind == "declare":
                    self.metrics[step["id"]] = self.make(step)
                elif kind in ("inc", "dec", "set", "observe"):
                    self.call(step, kind)
                elif kind == "flush":
                    t.assertTrue(self.clients[step["client"]].flush(5.0))
                elif kind == "refuse_declare":
                    with t.assertRaises(ValueError):
                        self.make(step)
                elif kind == "refuse_op":
                    with t.assertRaises(ValueError):
                        self.call(step, step["op"])
                elif kind == "refuse_labels":
                    with t.assertRaises(ValueError):
                        self.metrics[step["id"]].labels(*step["labels"])
                elif kind == "expect_error":
                    error = self.clients[step["client"]].last_error() or ""
                    t.assertTrue(error.startswith(step["error"] + ":"), error)
                elif kind == "expect_dropped":
                    t.assertEqual(self.clients[step["client"]].dropped_ops(), step["count"])
                elif kind == "scrape":
                    self.scrape(step)
                elif kind == "close":
                    self.clients[step["client"]].close()
                else:
                    t.fail(f"unknown step {kind!r}")

    def scrape(self, step):
        expected = [line.replace("{pid}", self.pid)
                    for line in self.scenario["expected"][step["expect"]]]
        deadline = time.monotonic() + (5.0 if step.get("eventually") else 0.0)
        while True:
            got = scraped(self.daemon.scrape(), self.scenario["scrape_prefix"])
            if got == expected or time.monotonic() >= deadline:
                break
            time.sleep(0.02)
        self.test.assertEqual(got, expected)


class ConformanceTest(unittest.TestCase):
    def test_scenario(self):
        scenario = json.loads(SCENARIO.read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(prefix="metricsd-py-conf-") as tmp:
            daemon = Daemon(os.path.join(tmp, "s.sock"), os.path.join(tmp, "daemon.log")).start()
            driver = Driver(self, daemon, scenario)
            try:
                driver.run(scenario["steps"])
            finally:
                driver.close()
                self.assertEqual(daemon.stop(), 0)

    def test_scenario_file_is_what_the_generator_writes(self):
        generated = subprocess.run([sys.executable, str(PROTOCOL / "tools" / "gen_conformance.py")],
                                   check=True, capture_output=True).stdout
        self.assertEqual(generated.decode("utf-8"), SCENARIO.read_text(encoding="utf-8"),
                         "run protocol/tools/gen_conformance.py > protocol/conformance/scenario.json")

    def test_default_buckets_are_the_scenarios(self):
        scenario = json.loads(SCENARIO.read_text(encoding="utf-8"))
        self.assertEqual([float(b) for b in metricsd.DEFAULT_BUCKETS],
                         scenario["default_buckets"])
        self.assertFalse(any(math.isinf(b) for b in metricsd.DEFAULT_BUCKETS))


if __name__ == "__main__":
    unittest.main()
