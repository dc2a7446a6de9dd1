"""A prometheus_client app ported to metricsd: the diff, and the scrape compared line by line.

APP is a small service instrumented with prometheus_client 0.16 (Debian's
python3-prometheus-client): every metric type, labels, Info, Enum, set_function, exemplars,
remove(), count_exceptions, track_inprogress, time(). The port changes its import line only.
Both versions run the same calls in a subprocess; prometheus_client's text exposition and the
real daemon's /metrics must then hold the same lines, except the documented differences
(client/python/README.md, "Migrating from prometheus_client"): no ``_created`` samples, and a
removed series stays in the daemon's output. In local mode the port reads back every sample
prometheus_client's REGISTRY.get_sample_value gives, removal included.
"""
import difflib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from tests._daemon import Daemon, key, parse

ROOT = pathlib.Path(__file__).resolve().parents[1]

APP = textwrap.dedent('''\
    from prometheus_client import REGISTRY, Counter, Enum, Gauge, Histogram, Info, Summary

    REQUESTS = Counter("app_requests_total", "HTTP requests.", ["method", "code"])
    ERRORS = Counter("app_errors", "Handler errors.", ["route"])
    JOBS = Counter("app_jobs", "Background jobs run.", registry=REGISTRY)
    IN_FLIGHT = Gauge("app_in_flight", "Requests in flight.")
    QUEUE = Gauge("app_queue_length", "Jobs waiting.")
    CACHE = Gauge("app_cache_entries", "Cache entries.", ["cache"])
    LATENCY = Histogram("app_request_seconds", "Request latency.", ["route"],
                        buckets=(0.01, 0.1, 1, 10))
    PAYLOAD = Summary("app_payload_bytes", "Request payload sizes.")
    BUILD = Info("app_build", "Build information.")
    STATE = Enum("app_state", "Lifecycle state.", states=["starting", "serving", "draining"])
    queue = []


    def handle(method, route, payload, seconds, fail=False):
        with IN_FLIGHT.track_inprogress():
            PAYLOAD.observe(len(payload))
            code = "200"
            try:
                with ERRORS.labels(route).count_exceptions():
                    if fail:
                        raise ValueError("handler failed")
            except ValueError:
                code = "500"
            REQUESTS.labels(method, code).inc(exemplar={"trace_id": "abc123"})
            LATENCY.labels(route).observe(seconds, {"trace_id": "abc123"})


    def main():
        BUILD.info({"version": "1.2.3", "commit": "5e0aef9"})
        STATE.state("serving")
        QUEUE.set_function(lambda: len(queue))
        for i in range(40):
            handle("GET" if i % 3 else "POST", "/a" if i % 2 else "/b", b"x" * (i * 8),
                   (0.0078125, 0.0625, 0.5, 4.0, 32.0)[i % 5], fail=i % 7 == 0)
        for _ in range(3):
            JOBS.inc()
        JOBS.inc(2.5)
        queue.extend(range(7))
        CACHE.labels("users").set(10)
        CACHE.labels(cache="sessions").inc(3)
        CACHE.labels("tmp").set(1)
        CACHE.remove("tmp")
        with IN_FLIGHT.track_inprogress():
            IN_FLIGHT.inc(2)
            IN_FLIGHT.dec()
    ''')
PORT = APP.replace("from prometheus_client import", "from metricsd import")

RUN_PROMETHEUS_CLIENT = APP + textwrap.dedent('''
    import json, sys
    from prometheus_client import generate_latest
    main()
    names = [s.name for m in REGISTRY.collect() for s in m.samples if s.name.startswith("app_")]
    json.dump({"text": generate_latest().decode(),
               "values": [[s.name, s.labels, s.value] for m in REGISTRY.collect()
                          for s in m.samples if s.name.startswith("app_")]}, sys.stdout)
    ''')
RUN_METRICSD = PORT + textwrap.dedent('''
    import sys
    import metricsd
    main()
    assert metricsd.flush(10), metricsd.last_error()
    print("flushed", flush=True)
    sys.stdin.read()  # stay connected (live gauges count live processes) until the scrape
    ''')
RUN_LOCAL = PORT + textwrap.dedent('''
    import json, sys
    import metricsd
    metricsd.configure(local=True)
    main()
    wanted = json.load(sys.stdin)
    json.dump([metricsd.REGISTRY.get_sample_value(name, labels) for name, labels in wanted],
              sys.stdout)
    ''')


def run(code, stdin="", env=None):
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, input=stdin, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                            env=dict(os.environ, **(env or {})))
    if result.returncode != 0:
        raise AssertionError(f"exited {result.returncode}:\n{result.stderr}")
    return result.stdout


def app_lines(text, drop_created=False):
    """The app's families' lines, sorted (the two outputs order families differently)."""
    lines = []
    for line in text.splitlines():
        name = line.split(" ")[2] if line.startswith("#") else line.split("{")[0].split(" ")[0]
        if not name.startswith("app_") or (drop_created and "_created" in name):
            continue
        lines.append(line)
    return sorted(lines)


class MigrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prometheus_client = json.loads(run(RUN_PROMETHEUS_CLIENT))

    def test_the_port_changes_the_import_line_only(self):
        diff = [line for line in difflib.unified_diff(APP.splitlines(), PORT.splitlines(),
                                                      lineterm="", n=0)
                if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        self.assertEqual(diff, [
            "-from prometheus_client import REGISTRY, Counter, Enum, Gauge, Histogram, Info, "
            "Summary",
            "+from metricsd import REGISTRY, Counter, Enum, Gauge, Histogram, Info, Summary"])

    def test_daemon_scrape_equals_prometheus_client_exposition(self):
        with tempfile.TemporaryDirectory(prefix="metricsd-port-") as tmp:
            daemon = Daemon(os.path.join(tmp, "s.sock"), os.path.join(tmp, "daemon.log")).start()
            try:
                app = subprocess.Popen(
                    [sys.executable, "-c", RUN_METRICSD], cwd=ROOT, text=True,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    env=dict(os.environ, METRICSD_SOCKET=daemon.socket_path))
                try:
                    self.assertEqual(app.stdout.readline(), "flushed\n")
                    scrape = daemon.scrape()
                finally:
                    app.communicate("", timeout=30)
                self.assertEqual(app.returncode, 0)
            finally:
                self.assertEqual(daemon.stop(), 0)
        ours, theirs = app_lines(scrape), app_lines(self.prometheus_client["text"], True)
        # HELP and TYPE lines are the same text.
        comments = [line for line in theirs if line.startswith("#")]
        self.assertEqual([line for line in ours if line.startswith("#")], comments)
        self.assertEqual(len(comments), 2 * 10)
        # Samples: the same names, label sets and values. The text differs in form only: the
        # daemon prints 3 where prometheus_client prints 3.0, and labels in declared order.
        ours, theirs = parse("\n".join(ours)), parse("\n".join(theirs))
        # The documented difference: remove() cannot take a series out of the daemon.
        self.assertEqual(set(ours) - set(theirs), {key("app_cache_entries", cache="tmp")})
        self.assertEqual(set(theirs) - set(ours), set())
        self.assertEqual({k: ours[k] for k in theirs}, theirs)
        self.assertEqual(len(theirs), 31)
        # A few exact values, so a change on both sides cannot hide.
        for (name, labels), value in ((("app_requests_total", dict(code="500", method="POST")), 2),
                                      (("app_errors_total", dict(route="/b")), 3),
                                      (("app_jobs_total", {}), 5.5),
                                      (("app_queue_length", {}), 7), (("app_in_flight", {}), 1),
                                      (("app_request_seconds_bucket", dict(le="1.0", route="/a")),
                                       12),
                                      (("app_build_info", dict(commit="5e0aef9",
                                                               version="1.2.3")), 1),
                                      (("app_state", dict(app_state="serving")), 1),
                                      (("app_state", dict(app_state="starting")), 0),
                                      (("app_payload_bytes_sum", {}), 6240)):
            self.assertEqual(ours[key(name, **labels)], value, (name, labels))

    def test_info_enum_and_functions_across_processes(self):
        worker = textwrap.dedent('''
            import sys
            import metricsd
            state = metricsd.Enum("mp_state", "", states=["starting", "serving"])
            build = metricsd.Info("mp_build", "")
            load = metricsd.Gauge("mp_load", "")
            version, serving, value = sys.argv[1:]
            build.info({"version": version})
            if serving == "yes":
                state.state("serving")
            load.set_function(lambda: float(value))
            assert metricsd.flush(10), metricsd.last_error()
            print("flushed", flush=True)
            sys.stdin.read()
            ''')

        def values(scrape):
            return {k: v for k, v in parse(scrape).items() if k[0].startswith("mp_")}
        with tempfile.TemporaryDirectory(prefix="metricsd-mp-") as tmp:
            daemon = Daemon(os.path.join(tmp, "s.sock"), os.path.join(tmp, "daemon.log")).start()
            procs = []
            try:
                # A preforking master that set the first state at import, then a worker.
                for args in (("1", "no", "2"), ("2", "yes", "3")):
                    procs.append(subprocess.Popen(
                        [sys.executable, "-c", worker, *args], cwd=ROOT, text=True,
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        env=dict(os.environ, METRICSD_SOCKET=daemon.socket_path)))
                    self.assertEqual(procs[-1].stdout.readline(), "flushed\n")
                both = values(daemon.scrape())
                procs[1].communicate("", timeout=30)
                deadline = time.monotonic() + 10
                while values(daemon.scrape())[key("mp_load")] != 2 and \
                        time.monotonic() < deadline:
                    time.sleep(0.02)
                master_only = values(daemon.scrape())
            finally:
                for proc in procs:
                    if proc.returncode is None:
                        proc.communicate("", timeout=30)
                self.assertEqual(daemon.stop(), 0)
        self.assertEqual(both, {
            key("mp_state", mp_state="starting"): 0, key("mp_state", mp_state="serving"): 1,
            key("mp_build_info", version="1"): 1, key("mp_build_info", version="2"): 1,
            key("mp_load"): 5})
        self.assertEqual(master_only, {
            key("mp_state", mp_state="starting"): 1, key("mp_state", mp_state="serving"): 0,
            key("mp_build_info", version="1"): 1, key("mp_load"): 2})

    def test_local_mode_reads_back_what_prometheus_client_registry_gives(self):
        samples = [(name, labels) for name, labels, _ in self.prometheus_client["values"]
                   if not name.endswith("_created")]
        expected = [value for name, _, value in self.prometheus_client["values"]
                    if not name.endswith("_created")]
        self.assertEqual(len(samples), 31)
        got = json.loads(run(RUN_LOCAL, stdin=json.dumps(samples)))
        self.assertEqual(got, expected)


if __name__ == "__main__":
    unittest.main()
