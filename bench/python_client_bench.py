#!/usr/bin/python3
"""ns per inc() on a labelled child: metricsd's Python client vs prometheus_client.

Usage: bench/python_client_bench.py BUILD/bin/metricsd [--runs 5] [--ops 1000000]

Three variants, measured in the same run and interleaved (run 1 of each, then run 2 of each,
...), each run in a fresh interpreter:

- metricsd: the client connected to a real daemon started here; the child's inc() queues a
  record and a background thread sends it. ``median`` times the inc() loop; ``with_flush``
  also includes flush() (SYNC + ACK), i.e. until the daemon has applied every op.
- prometheus_client_single: prometheus_client in its default single-process mode.
- prometheus_client_multiprocess: PROMETHEUS_MULTIPROC_DIR set before the import (mmap files).

The loop is timeit's: ``child.inc()`` with the child kept in a variable, GC disabled.
Prints ``python_inc_ns client=<variant> median=<ns> ...`` lines and the ratios.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = ("metricsd", "prometheus_client_single", "prometheus_client_multiprocess")
WARMUP = 100_000
_READY = re.compile(r"metricsd ready: ingest socket .* http 127\.0\.0\.1:(\d+)")


def measure(variant: str, ops: int, socket_path: str) -> dict:
    """Runs in the child interpreter: time `ops` inc() calls of one variant."""
    import timeit
    if variant == "metricsd":
        import metricsd
        client = metricsd.configure(socket=socket_path)
        counter = metricsd.Counter("bench_requests_total", "Bench.", ("method", "code"))
    else:
        import prometheus_client
        counter = prometheus_client.Counter("bench_requests", "Bench.", ("method", "code"))
    child = counter.labels("GET", "200")
    timer = timeit.Timer("child.inc()", globals={"child": child})
    timer.timeit(WARMUP)
    result = {}
    if variant == "metricsd":
        if not client.flush(10):
            raise SystemExit(f"metricsd: flush failed: {client.last_error()}")
        result["dropped"] = client.dropped_ops()
    else:
        result["value_class"] = type(child._value).__name__
    start = time.perf_counter()
    timer.timeit(ops)
    looped = time.perf_counter()
    if variant == "metricsd":
        if not client.flush(30):
            raise SystemExit(f"metricsd: flush failed: {client.last_error()}")
        result["with_flush_ns"] = (time.perf_counter() - start) / ops * 1e9
        result["dropped"] = client.dropped_ops()
    result["ns"] = (looped - start) / ops * 1e9
    return result


def start_daemon(binary: str, tmp: str):
    """Start metricsd; the HTTP port comes from its stderr line "metricsd ready: ... http H:P"."""
    log_path = os.path.join(tmp, "daemon.log")
    socket_path = os.path.join(tmp, "ingest.sock")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([binary, "--socket", socket_path, "--listen", "127.0.0.1:0"],
                                stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        with open(log_path, errors="replace") as log:
            match = _READY.search(log.read())
        if match:
            return proc, socket_path, int(match.group(1))
        time.sleep(0.02)
    proc.kill()
    with open(log_path, errors="replace") as log:
        raise SystemExit(f"metricsd did not start; log:\n{log.read()}")


def scrape_total(port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    match = re.search(r'^bench_requests_total\{method="GET",code="200"\} (\S+)$', body, re.M)
    return float(match.group(1)) if match else 0.0


def run_variant(variant: str, ops: int, socket_path: str, tmp: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "client" / "python"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if variant == "prometheus_client_multiprocess":
        mp_dir = tempfile.mkdtemp(dir=tmp)  # fresh, as after a deploy
        env["PROMETHEUS_MULTIPROC_DIR"] = mp_dir
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--ops", str(ops),
                          "--socket", socket_path], env=env, capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{variant} run failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", help="path of the metricsd binary")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ops", type=int, default=1_000_000)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.ops, args.socket)))
        return
    if not args.binary:
        parser.error("the metricsd binary path is required")
    if importlib.util.find_spec("prometheus_client"):
        variants = VARIANTS
        print(f"# prometheus_client {importlib.metadata.version('prometheus_client')}, "
              f"Python {sys.version.split()[0]} ({sys.executable})")
    else:
        variants = VARIANTS[:1]
        print("# prometheus_client not installed (apt-get install python3-prometheus-client): "
              "measuring metricsd only")
    with tempfile.TemporaryDirectory(prefix="metricsd-pybench-") as tmp:
        daemon, socket_path, port = start_daemon(args.binary, tmp)
        try:
            results = {v: [] for v in variants}
            for _ in range(args.runs):
                for variant in variants:
                    results[variant].append(run_variant(variant, args.ops, socket_path, tmp))
            delivered = scrape_total(port)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)
    expected = args.runs * (args.ops + WARMUP)
    medians = {}
    for variant, runs in results.items():
        ns = [r["ns"] for r in runs]
        medians[variant] = statistics.median(ns)
        line = (f"python_inc_ns client={variant} median={medians[variant]:.1f} "
                f"runs={','.join(f'{x:.1f}' for x in ns)}")
        if variant == "metricsd":
            flushed = [r["with_flush_ns"] for r in runs]
            dropped = sum(r["dropped"] for r in runs)
            line += (f" with_flush={statistics.median(flushed):.1f} "
                     f"with_flush_runs={','.join(f'{x:.1f}' for x in flushed)} dropped={dropped} "
                     f"delivered={delivered:.0f}/{expected}")
        else:
            line += f" value_class={runs[0]['value_class']}"
        print(line)
    base = medians["metricsd"]
    for variant in variants[1:]:
        print(f"python_inc_ratio {variant}/metricsd={medians[variant] / base:.2f}")
    if delivered != expected:
        raise SystemExit(f"metricsd delivered {delivered:.0f} of {expected} ops")


if __name__ == "__main__":
    main()
