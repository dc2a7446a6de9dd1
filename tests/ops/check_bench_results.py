#!/usr/bin/python3
"""bench/results.py renders bench/run's lines into RESULTS.md's table: each goal judged from the
right line, missing rows marked, and bench/run refuses an unknown row.

Usage: check_bench_results.py SOURCE-DIR
"""
import pathlib
import subprocess
import sys
import tempfile

SOURCE = pathlib.Path(sys.argv[1])

# A run that meets some goals and misses others; no nice rows, no Redis scrape row.
OUTPUT = """# metricsd benchmarks
# date: 2026-12-05T16:00:00Z
# commit: abc1234
# cpu: Test CPU
# cores: 2
# load average at start: 0.10 0.20 0.30
e2e client=cpp processes=16 seconds=2 daemon_nice=0 sent=4000000 delivered=4000000 dropped=0 dropped_pct=0 daemon_cpu_pct=50 scrape_p50_ms=3.5 scrape_p99_ms=12 store_series=10000
e2e client=python processes=16 seconds=2 daemon_nice=0 sent=2000000 delivered=1000000 dropped=1000000 dropped_pct=50 daemon_cpu_pct=9.5 scrape_p50_ms=4 scrape_p99_ms=20 store_series=10000
e2e_anchor client=prometheus_client_multiprocess processes=16 seconds=2 sent=600000 collected=600000 exact=yes ops_per_sec=300000
scrape series=100000 format=text median_ms=8 body_bytes=3683149
scrape series=100000 format=openmetrics median_ms=9 body_bytes=3682934
scrape series=100000 format=gzip median_ms=16 body_bytes=268476
scrape_peak_rss series=100000 extra_mb=4 store_mb=44 pct_of_store=9.1
scrape_anchor client=prometheus_client_multiprocess series=100000 format=text median_ms=2085 body_bytes=1
ingest_rate series=100000 mode=idle ops_per_sec=100000000 scrapes=0
ingest_rate series=100000 mode=scraping ops_per_sec=95000000 scrapes=20
ingest_while_scraping series=100000 kept_pct=95 exact=yes
rss_per_series kind=counter_2_labels series=1000000 bytes_per_series=180
rss_anchor client=prometheus_client_single series=100000 bytes_per_series=1037
rss_per_connection connections=1000 bytes_per_connection=20000
redis_flush_changed_series_ms daemon=baseline series=100000 median=404.0 min=400.0 max=410.0 runs=5 (first op sent to every change readable in Redis)
redis_flush_changed_series_ms daemon=this series=100000 median=120.5 min=110.0 max=130.0 runs=5 (first op sent to every change readable in Redis)
row_runtime row=e2e seconds=30
row_runtime row=scrape seconds=12.4
"""

EXPECTED_ROWS = [
    "| 16 worker processes at full speed, daemon at default priority | C++: 2.0 M ops/s sent, "
    "2.0 M delivered, 0.0 % dropped by the clients (daemon CPU 50 %); Python: 1.0 M ops/s sent, "
    "500 k delivered, 50.0 % dropped by the clients (daemon CPU 9.5 %) | prometheus_client "
    "multiprocess: 300 k ops/s, exact | scraped = sent, at any rate, at default priority "
    "| missed |",
    "| the same, daemon at nice -5 | not measured in this run |  | justifies the unit's CPU "
    "share | — |",
    "| the same, daemon at nice -10 (the systemd unit's `Nice=`) | not measured in this run |  "
    "| justifies the unit's CPU share | — |",
    "| scrape while ingesting | 95 % of the rate kept at 100,000 series (100.0 M → 95.0 M ops/s, "
    "20 scrapes); scrape p50/p99 under the 16-process load (10,000 series): C++ load "
    "3.5 ms/12.0 ms, Python load 4.0 ms/20.0 ms |  | ingest keeps ≥ 90 % of its rate under "
    "back-to-back scrapes at 1 M series (this run stopped at 100 k series) | — |",
    "| `/metrics` at 100 k / 1 M series | 100,000: 8.0 ms text, 9.0 ms OpenMetrics, 16.0 ms "
    "gzip; +4 MB peak RSS per scrape (9 % of the store) | prometheus_client multiprocess: "
    "2085 ms at 100,000 | 100 k ≤ 10 ms, 1 M ≤ 100 ms (gzip ≤ 2× that), peak extra memory per "
    "scrape ≤ 10 % of the store | **met** |",
    "| memory per series (daemon VmRSS) | 180 B at 1,000,000 (counters, two short labels) | "
    "prometheus_client single process: 1037 B | ≤ 200 B per counter series with two short "
    "labels, measured at 1 M series | **met** |",
    "| memory per idle connection (daemon VmRSS) | 20.0 KB (1000 connections) |  | ≤ 16 KB idle "
    "| missed |",
    "| Redis backend scrape at 100 k series | not measured in this run | pytheus "
    "`generate_metrics`: 1 062 ms (issue 12, not re-measured here) | ≤ 100 ms | — |",
    "| Redis flush of 100 k changed series | 120 ms |  | ≤ 150 ms | **met** |",
]


def main() -> int:
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        source = pathlib.Path(tmp) / "out.txt"
        target = pathlib.Path(tmp) / "RESULTS.md"
        source.write_text(OUTPUT)
        subprocess.run([sys.executable, str(SOURCE / "bench" / "results.py"), str(source),
                        str(target)], check=True)
        lines = target.read_text().splitlines()
    for row in EXPECTED_ROWS:
        if row not in lines:
            name = row.split(" | ")[0]
            got = [line for line in lines if line.startswith(name + " |")]
            failures.append(f"expected:\n  {row}\ngot:\n  {got}")
    for expected in ("- commit: abc1234", "- cpu: Test CPU", "- ram: unknown",
                     "- load average at start: 0.10 0.20 0.30", "| scrape | 12 |",
                     "| total | 42 |"):
        if expected not in lines:
            failures.append(f"missing line: {expected}")
    run = subprocess.run(["sh", str(SOURCE / "bench" / "run"), "build", "--only", "e2e,bogus"],
                         cwd=SOURCE, capture_output=True, text=True)
    if run.returncode != 2 or "unknown row 'bogus'" not in run.stderr:
        failures.append(f"bench/run --only bogus: exit {run.returncode}, {run.stderr!r}")
    for failure in failures:
        print(failure)
    print(f"{len(EXPECTED_ROWS) + 7 - len(failures)} checks passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
