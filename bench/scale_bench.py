#!/usr/bin/python3
"""Scale benchmarks of the real daemon, each beside its prometheus_client anchor (same run).

Usage: bench/scale_bench.py BUILD/bin [--only ROW[,ROW...]] [--max-series N] [--seconds S]

Rows (all by default; `--only` picks some, in this order):

- e2e:         16 real client processes (C++, then Python) at full speed for --seconds against a
               daemon holding 10 k series; sent, delivered (scraped), dropped (the clients'
               dropped counters), daemon CPU, /metrics p50/p99 every 100 ms during the load.
               Anchor: prometheus_client multiprocess, 16 processes, same loop.
- nice:        the e2e row again with the daemon at nice -5 and -10 (the systemd unit's
               justification). Without the privilege to lower a nice value the workers are
               raised by as much instead (the same CFS weight ratio).
- scrape:      /metrics latency and body size at 1 k / 10 k / 100 k / 1 M counter series (two
               short labels), text, OpenMetrics, gzip; peak RSS a scrape adds; daemon RSS per
               series. Anchor: prometheus_client single and multiprocess at 100 k series.
- ingest_scrape: ingest rate (2 raw connections sending pre-encoded 4096-op frames) at the
               largest store, without and then with back-to-back scrapes.
- memory:      daemon RSS per series of mixed types (counter, gauge, histogram with 11 buckets,
               summary, a quarter each) at 100 k and 1 M series.
- connections: daemon RSS per idle connection (1 000 connections after the handshake).

--max-series caps the stores (default 1000000): 100000 makes the whole run ~3x shorter.
Prints one result line per measurement (`name key=value ...`); details go to stderr.
"""
import argparse
import http.client
import importlib.util
import json
import os
import pathlib
import re
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "client" / "python"))
from metricsd import _protocol as P  # noqa: E402  the client's own encoders

ROWS = ("e2e", "nice", "scrape", "ingest_scrape", "memory", "connections")
WORKERS = 16
E2E_STORE_SERIES = 10_000
SCRAPE_SIZES = (1_000, 10_000, 100_000, 1_000_000)
HISTOGRAM_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
                     "10")
_READY = re.compile(r"metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+)")
ACCEPT = {
    "text": {},
    "openmetrics": {"Accept": "application/openmetrics-text; version=1.0.0"},
    "gzip": {"Accept-Encoding": "gzip"},
}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def result(name: str, **fields) -> None:
    parts = [name]
    for key, value in fields.items():
        if isinstance(value, float):
            value = f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
        parts.append(f"{key}={value}")
    print(" ".join(parts), flush=True)


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- the daemon ---------------------------------------------------------------------------------

class Daemon:
    """A metricsd on the memory backend, no state file, limits raised for 1 M series."""

    def __init__(self, binary: str, tmp: str, nice: int = 0) -> None:
        self.log_path = os.path.join(tmp, "daemon.log")
        self.socket = os.path.join(tmp, "ingest.sock")
        args = [binary, "--socket", self.socket, "--listen", "127.0.0.1:0", "--state-file", "",
                "--max-series", "4000000", "--max-series-per-family", "4000000",
                "--max-connections", "4096"]
        with open(self.log_path, "wb") as out:
            # nice before exec, so every thread of the daemon has it (nice is per thread).
            self.proc = subprocess.Popen(args, stdout=out, stderr=out,
                                         preexec_fn=(lambda: os.nice(nice)) if nice else None)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            match = _READY.search(pathlib.Path(self.log_path).read_text(errors="replace"))
            if match:
                self.port = int(match.group(1))
                return
            time.sleep(0.02)
        self.proc.kill()
        raise SystemExit("metricsd did not start; log:\n" + pathlib.Path(self.log_path).read_text())

    def status_kb(self, field: str) -> int:
        text = pathlib.Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))

    def reset_peak(self) -> None:
        """VmHWM := VmRSS (clear_refs 5, Linux >= 4.0), so the next peak is the next scrape's."""
        pathlib.Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def cpu_seconds(self) -> float:
        fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit("metricsd did not stop within 30 s")
        if code != 0:
            raise SystemExit(f"metricsd exited {code}; log:\n"
                             + pathlib.Path(self.log_path).read_text(errors="replace")[-4000:])


def scrape(port: int, fmt: str = "text") -> tuple:
    """GET /metrics on a fresh connection; (seconds until the whole body is read, body)."""
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", "/metrics", headers=ACCEPT[fmt])
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        raise SystemExit(f"/metrics answered {response.status}")
    if fmt == "gzip" and response.getheader("Content-Encoding") != "gzip":
        raise SystemExit("/metrics ignored Accept-Encoding: gzip")
    if fmt == "openmetrics" and "openmetrics" not in (response.getheader("Content-Type") or ""):
        raise SystemExit("/metrics ignored Accept: application/openmetrics-text")
    return elapsed, body


def percentile(values: list, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# --- raw protocol connection (series creation, ingest load, idle connections) -------------------

class RawConnection:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(P.encode_handshake())
        self.buffer = b""
        frame_type, _ = self.read_frame()
        if frame_type != P.FRAME_WELCOME:
            raise SystemExit(f"expected WELCOME, got frame type {frame_type:#x}")

    def read_frame(self) -> tuple:
        while True:
            if len(self.buffer) >= P.HEADER.size:
                length, frame_type, _ = P.HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= P.HEADER.size + length:
                    payload = self.buffer[P.HEADER.size:P.HEADER.size + length]
                    self.buffer = self.buffer[P.HEADER.size + length:]
                    if frame_type == P.FRAME_ERROR:
                        code = struct.unpack_from("<H", payload)[0]
                        raise SystemExit(f"daemon sent ERROR {P.ERROR_NAMES.get(code, code)}: "
                                         f"{payload[18:].decode(errors='replace')}")
                    return frame_type, payload
            data = self.sock.recv(1 << 16)
            if not data:
                raise SystemExit("daemon closed the connection")
            self.buffer += data

    def sync(self, token: int = 1) -> None:
        self.sock.sendall(P.encode_sync(token))
        while True:
            frame_type, payload = self.read_frame()
            if frame_type == P.FRAME_ACK and struct.unpack("<Q", payload)[0] == token:
                return

    def close(self) -> None:
        self.sock.close()


def label_values(i: int) -> tuple:
    return (str(i // 1000), str(i % 1000))  # two short labels, unique up to 1 M series


def load_series(conn: RawConnection, count: int, mixed: bool) -> None:
    """Declare `count` series (each given one op so it has a value) and wait for the ACK.

    Counter only: family bench_series_total{a,b}. Mixed: series i goes to family i % 4 (counter,
    gauge, histogram with 11 buckets, summary)."""
    kinds = ("counter", "gauge", "histogram", "summary") if mixed else ("counter",)
    out = []
    for handle, kind in enumerate(kinds):
        name = "bench_series_total" if kind == "counter" else f"bench_series_{kind}"
        out.append(P.encode_declare_family(handle, kind, "sum" if kind == "gauge" else "livesum",
                                           name, "Bench series.", ("a", "b"),
                                           HISTOGRAM_BUCKETS if kind == "histogram" else ()))
    conn.sock.sendall(b"".join(out))
    op_for = {"counter": (P.OP_INC, 1.0), "gauge": (P.OP_SET, 2.0),
              "histogram": (P.OP_OBSERVE, 0.1), "summary": (P.OP_OBSERVE, 0.1)}
    chunk = 20_000
    for first in range(0, count, chunk):
        last = min(count, first + chunk)
        out = []
        records = []
        for i in range(first, last):
            family = i % len(kinds)
            out.append(P.encode_declare_series(i, family, label_values(i)))
            op, value = op_for[kinds[family]]
            records.append(P.RECORD.pack(op, i, value))
        for at in range(0, len(records), 4096):
            part = records[at:at + 4096]
            out.append(P.ops_header(len(part)) + b"".join(part))
        conn.sock.sendall(b"".join(out))
    conn.sync()


# --- e2e and nice -------------------------------------------------------------------------------

def run_workers(argvs: list, envs: list, seconds: float, on_window=None) -> list:
    """Start the workers, wait until each printed "ready", give them one start time, collect
    their JSON lines. `on_window(start, stop)` runs in this thread during the load window."""
    procs = [subprocess.Popen(a, env=e, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for a, e in zip(argvs, envs)]
    try:
        for p in procs:
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise SystemExit(f"worker did not start: {line!r}")
        start = time.time() + 0.2
        for p in procs:
            p.stdin.write(f"{start!r}\n")
            p.stdin.flush()
        if on_window:
            on_window(start, start + seconds)
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=300)
            if p.returncode != 0:
                raise SystemExit(f"worker exited {p.returncode}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:  # after a failure: no worker outlives the bench
            if p.poll() is None:
                p.kill()
                p.wait()


def worker_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "client" / "python"),
               PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def e2e_metricsd(bindir: str, client: str, seconds: float, nice: int) -> None:
    worker_nice = 0
    with tempfile.TemporaryDirectory(prefix="metricsd-e2e-") as tmp:
        try:
            daemon = Daemon(f"{bindir}/metricsd", tmp, nice)
        except (PermissionError, subprocess.SubprocessError):
            # Not allowed to lower a nice value (os.nice in preexec_fn failed): raise the workers
            # instead, which gives the same CFS weight ratio.
            daemon, worker_nice = Daemon(f"{bindir}/metricsd", tmp), -nice
        try:
            loader = RawConnection(daemon.socket)
            load_series(loader, E2E_STORE_SERIES, mixed=False)
            if client == "cpp":
                argvs = [[f"{bindir}/load_worker", daemon.socket, str(w), str(seconds)]
                         for w in range(WORKERS)]
            else:
                argvs = [[sys.executable, __file__, "--worker", "metricsd", daemon.socket,
                          str(w), str(seconds)] for w in range(WORKERS)]
            if worker_nice:
                argvs = [["nice", "-n", str(worker_nice)] + a for a in argvs]
            latencies = []
            cpu = {}

            def during(start: float, stop: float) -> None:
                time.sleep(max(0.0, start - time.time()))
                cpu["start"] = daemon.cpu_seconds()
                while time.time() < stop:
                    latencies.append(scrape(daemon.port)[0])
                    time.sleep(0.1)
                cpu["stop"] = daemon.cpu_seconds()

            results = run_workers(argvs, [worker_env()] * WORKERS, seconds, during)
            _, body = scrape(daemon.port)
            delivered = sum(float(v) for v in re.findall(
                rf'^bench_e2e_ops_total\{{client="{client}",worker="\d+"\}} (\S+)$',
                body.decode(), re.M))
            loader.close()
        finally:
            daemon.stop()
    sent = sum(r["sent"] for r in results)
    dropped = sum(r["dropped"] for r in results)
    unflushed = sum(1 for r in results if not r["flushed"])
    result("e2e", client=client, processes=WORKERS, seconds=seconds,
           daemon_nice=nice if not worker_nice else f"{nice}(workers+{worker_nice})",
           sent=sent, delivered=int(delivered), dropped=dropped,
           dropped_pct=100.0 * dropped / sent if sent else 0.0,
           lost_otherwise=int(sent - dropped - delivered),
           sent_ops_per_sec=sent / seconds, delivered_ops_per_sec=delivered / seconds,
           daemon_cpu_pct=100.0 * (cpu["stop"] - cpu["start"]) / seconds,
           scrape_p50_ms=1e3 * percentile(latencies, 50),
           scrape_p99_ms=1e3 * percentile(latencies, 99), scrapes=len(latencies),
           store_series=E2E_STORE_SERIES, unflushed_workers=unflushed)


def e2e_prometheus_multiprocess(seconds: float) -> None:
    from prometheus_client import CollectorRegistry, multiprocess
    with tempfile.TemporaryDirectory(prefix="metricsd-e2e-prom-") as mp_dir:
        argvs = [[sys.executable, __file__, "--worker", "prometheus_multiprocess", "-", str(w),
                  str(seconds)] for w in range(WORKERS)]
        results = run_workers(argvs, [worker_env(PROMETHEUS_MULTIPROC_DIR=mp_dir)] * WORKERS,
                              seconds)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, mp_dir)
        collected = sum(s.value for m in registry.collect() for s in m.samples
                        if s.name == "bench_e2e_ops_total")
    sent = sum(r["sent"] for r in results)
    result("e2e_anchor", client="prometheus_client_multiprocess", processes=WORKERS,
           seconds=seconds, sent=sent, collected=int(collected),
           exact="yes" if collected == sent else "no", ops_per_sec=sent / seconds)


def worker_main(kind: str, sock: str, worker: str, seconds: float) -> None:
    """A busy Python worker: metricsd's client, or prometheus_client in multiprocess mode."""
    if kind == "metricsd":
        import metricsd
        client = metricsd.configure(socket=sock)
        child = metricsd.Counter("bench_e2e_ops_total", "Ops sent by the bench's workers.",
                                 ("client", "worker")).labels("python", worker)
        client.flush(10)
    else:
        import prometheus_client
        child = prometheus_client.Counter("bench_e2e_ops", "Ops sent by the bench's workers.",
                                          ("client", "worker")).labels("python", worker)
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    stop = start + seconds
    time.sleep(max(0.0, start - time.time()))
    inc = child.inc
    sent = 0
    while time.time() < stop:
        for _ in range(1024):
            inc()
        sent += 1024
    out = {"sent": sent, "dropped": 0, "flushed": True}
    if kind == "metricsd":
        out["flushed"] = client.flush(60)
        out["dropped"] = client.dropped_ops()
    print(json.dumps(out), flush=True)


# --- scrape, ingest while scraping, memory ------------------------------------------------------

def scrape_row(bindir: str, sizes: list, runs: int, ingest_at: int) -> None:
    for count in sizes:
        with tempfile.TemporaryDirectory(prefix="metricsd-scrape-") as tmp:
            daemon = Daemon(f"{bindir}/metricsd", tmp)
            try:
                loader = RawConnection(daemon.socket)
                scrape(daemon.port)  # the HTTP side's own buffers, before the baseline
                before = daemon.status_kb("VmRSS")
                started = time.perf_counter()
                load_series(loader, count, mixed=False)
                loaded = time.perf_counter() - started
                after = daemon.status_kb("VmRSS")
                if count >= 100_000:
                    result("rss_per_series", kind="counter_2_labels", series=count,
                           bytes_per_series=(after - before) * 1024 / count,
                           rss_mb=after / 1024)
                log(f"# {count} series loaded in {loaded:.1f} s")
                peaks = []
                for fmt in ACCEPT:
                    times, size = [], 0
                    daemon.reset_peak()
                    resting = daemon.status_kb("VmRSS")
                    for _ in range(runs):
                        elapsed, body = scrape(daemon.port, fmt)
                        times.append(elapsed)
                        size = len(body)
                    peaks.append(max(0, daemon.status_kb("VmHWM") - resting))
                    if fmt == "text":
                        lines = body.count(b"\nbench_series_total{")
                        if lines != count:
                            raise SystemExit(f"/metrics had {lines} series lines, not {count}")
                    result("scrape", series=count, format=fmt,
                           median_ms=1e3 * statistics.median(times), min_ms=1e3 * min(times),
                           max_ms=1e3 * max(times), runs=runs, body_bytes=size,
                           peak_extra_mb=peaks[-1] / 1024)
                peak = max(peaks)
                result("scrape_peak_rss", series=count, extra_mb=peak / 1024,
                       store_mb=(after - before) / 1024,
                       pct_of_store=100.0 * peak / max(1, after - before))
                if count == ingest_at:
                    ingest_while_scraping(daemon, count)
                loader.close()
            finally:
                daemon.stop()


def ingest_while_scraping(daemon: Daemon, count: int) -> None:
    """2 raw connections send pre-encoded frames (4096 incs over their own 16 series) for a
    window, then SYNC; ops/s = ops / (start -> both ACKs). Once idle, once with a thread
    scraping /metrics back to back. The window holds at least ~5 scrapes (3 s, or 5 idle scrape
    times if longer), so where a scrape falls in it moves the rate little."""
    seconds = max(3.0, 5 * scrape(daemon.port)[0])
    conns = [RawConnection(daemon.socket) for _ in range(2)]
    payloads = []
    for c, conn in enumerate(conns):
        conn.sock.sendall(P.encode_declare_family(0, "counter", "livesum", "bench_ingest_total",
                                                  "Ingest bench.", ("conn", "series"), ())
                          + b"".join(P.encode_declare_series(s, 0, (str(c), str(s)))
                                     for s in range(16)))
        conn.sync()
        frame = P.ops_header(4096) + b"".join(P.RECORD.pack(P.OP_INC, i % 16, 1.0)
                                               for i in range(4096))
        payloads.append(frame * 64)  # 1 MiB per sendall
    rates = {}
    total = 0
    for mode in ("idle", "scraping"):
        sent = [0, 0]
        scrapes = []
        stop_scraping = threading.Event()

        def send(c: int, deadline: float) -> None:
            while time.perf_counter() < deadline:
                conns[c].sock.sendall(payloads[c])
                sent[c] += 64 * 4096
            conns[c].sync(2)

        def scraper() -> None:
            while not stop_scraping.is_set():
                scrapes.append(scrape(daemon.port)[0])

        scraping = threading.Thread(target=scraper) if mode == "scraping" else None
        if scraping:
            scraping.start()
            while not scrapes:  # the first scrape is under way and the loop is warm
                time.sleep(0.01)
        start = time.perf_counter()
        threads = [threading.Thread(target=send, args=(c, start + seconds)) for c in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        stop_scraping.set()
        if scraping:
            scraping.join()
        rates[mode] = sum(sent) / elapsed
        total += sum(sent)
        result("ingest_rate", series=count, mode=mode, seconds=seconds, ops_per_sec=rates[mode],
               scrapes=len(scrapes),
               scrape_median_ms=1e3 * statistics.median(scrapes) if scrapes else 0.0)
    _, body = scrape(daemon.port)
    got = sum(float(v) for v in re.findall(rb"^bench_ingest_total\{[^}]*\} (\S+)$", body, re.M))
    result("ingest_while_scraping", series=count,
           kept_pct=100.0 * rates["scraping"] / rates["idle"],
           exact="yes" if got == total else f"no({got:.0f}/{total})")
    for conn in conns:
        conn.close()


def memory_row(bindir: str, sizes: list) -> None:
    for count in sizes:
        with tempfile.TemporaryDirectory(prefix="metricsd-memory-") as tmp:
            daemon = Daemon(f"{bindir}/metricsd", tmp)
            try:
                loader = RawConnection(daemon.socket)
                scrape(daemon.port)
                before = daemon.status_kb("VmRSS")
                load_series(loader, count, mixed=True)
                after = daemon.status_kb("VmRSS")
                result("rss_per_series", kind="mixed", series=count,
                       bytes_per_series=(after - before) * 1024 / count, rss_mb=after / 1024)
                loader.close()
            finally:
                daemon.stop()


def connections_row(bindir: str, count: int = 1000) -> None:
    with tempfile.TemporaryDirectory(prefix="metricsd-conns-") as tmp:
        daemon = Daemon(f"{bindir}/metricsd", tmp)
        try:
            warm = RawConnection(daemon.socket)  # first-connection allocations out of the delta
            warm.sync()
            before = daemon.status_kb("VmRSS")
            conns = [RawConnection(daemon.socket) for _ in range(count)]  # each got its WELCOME
            after = daemon.status_kb("VmRSS")
            result("rss_per_connection", connections=count,
                   bytes_per_connection=(after - before) * 1024 / count)
            for conn in conns + [warm]:
                conn.close()
        finally:
            daemon.stop()


# --- prometheus_client anchors (each in a fresh interpreter) ------------------------------------

def anchor_child(mode: str, count: int, runs: int) -> None:
    """Fresh interpreter: RSS per labelled counter child and generate_latest() time."""
    if mode == "multiprocess":
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metricsd-prom-")
    import prometheus_client
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    def rss_kb() -> int:
        return int(re.search(r"^VmRSS:\s+(\d+)", pathlib.Path("/proc/self/status").read_text(),
                             re.M).group(1))

    counter = prometheus_client.Counter("bench_series", "Bench series.", ("a", "b"))
    before = rss_kb()
    for i in range(count):
        counter.labels(*label_values(i)).inc()
    after = rss_kb()
    if mode == "multiprocess":
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body = generate_latest(registry)
        times.append(time.perf_counter() - start)
    print(json.dumps({"bytes_per_series": (after - before) * 1024 / count,
                      "scrape_ms": 1e3 * statistics.median(times), "body_bytes": len(body)}))


def anchors(count: int, runs: int, want_memory: bool, want_scrape: bool) -> None:
    for mode in ("single", "multiprocess") if want_scrape else ("single",):
        out = subprocess.run([sys.executable, __file__, "--anchor", mode, "--anchor-series",
                              str(count), "--runs", str(runs)], env=worker_env(),
                             capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit(f"prometheus_client {mode} anchor failed:\n{out.stderr}")
        r = json.loads(out.stdout)
        client = f"prometheus_client_{mode}"
        if want_scrape:
            result("scrape_anchor", client=client, series=count, format="text",
                   median_ms=r["scrape_ms"], body_bytes=r["body_bytes"])
        if want_memory and mode == "single":
            result("rss_anchor", client=client, series=count,
                   bytes_per_series=r["bytes_per_series"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bindir", nargs="?", help="the build's bin/ directory")
    parser.add_argument("--only", default=",".join(ROWS), help="comma-separated rows")
    parser.add_argument("--max-series", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="e2e load window")
    parser.add_argument("--runs", type=int, default=3, help="scrapes per size and format")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--anchor", help=argparse.SUPPRESS)
    parser.add_argument("--anchor-series", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, sock, worker, seconds = args.worker
        worker_main(kind, sock, worker, float(seconds))
        return
    if args.anchor:
        anchor_child(args.anchor, args.anchor_series, args.runs)
        return
    if not args.bindir:
        parser.error("the bin/ directory is required")
    rows = [r for r in args.only.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; rows are {', '.join(ROWS)}")
    raise_fd_limit()
    have_prom = importlib.util.find_spec("prometheus_client") is not None
    if not have_prom:
        print("# prometheus_client not installed (apt-get install python3-prometheus-client): "
              "no anchors")
    largest = [s for s in SCRAPE_SIZES if s <= args.max_series]
    for row in ROWS:
        if row not in rows:
            continue
        started = time.monotonic()
        if row == "e2e":
            e2e_metricsd(args.bindir, "cpp", args.seconds, 0)
            e2e_metricsd(args.bindir, "python", args.seconds, 0)
            if have_prom:
                e2e_prometheus_multiprocess(args.seconds)
        elif row == "nice":
            for nice in (-5, -10):
                e2e_metricsd(args.bindir, "cpp", args.seconds, nice)
                e2e_metricsd(args.bindir, "python", args.seconds, nice)
        elif row == "scrape":
            ingest_at = largest[-1] if "ingest_scrape" in rows else -1
            scrape_row(args.bindir, largest, args.runs, ingest_at)
            if have_prom:
                anchors(100_000, args.runs, "memory" in rows, True)
        elif row == "ingest_scrape" and "scrape" not in rows:
            with tempfile.TemporaryDirectory(prefix="metricsd-ingest-") as tmp:
                daemon = Daemon(f"{args.bindir}/metricsd", tmp)
                try:
                    loader = RawConnection(daemon.socket)
                    load_series(loader, largest[-1], mixed=False)
                    ingest_while_scraping(daemon, largest[-1])
                    loader.close()
                finally:
                    daemon.stop()
        elif row == "memory":
            memory_row(args.bindir, [s for s in (100_000, 1_000_000) if s <= args.max_series])
            if have_prom and "scrape" not in rows:
                anchors(100_000, 1, True, False)
        elif row == "connections":
            connections_row(args.bindir)
        else:
            continue
        result("row_runtime", row=row, seconds=time.monotonic() - started)


if __name__ == "__main__":
    main()
