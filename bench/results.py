#!/usr/bin/python3
"""Turns bench/run's output into bench/RESULTS.md: issue 12's table (each measurement beside its
anchor from the same run and its goal), the machine, per-row runtimes and every result line.

Usage: bench/results.py BENCH-OUTPUT RESULTS.md
Rows whose lines are missing (not selected, or not wired yet) say "not measured in this run".
"""
import pathlib
import re
import sys

NOT_RUN = "not measured in this run"


def parse(text: str) -> tuple:
    """`# key: value` context lines, and result lines as (name, {key: value})."""
    context, lines = {}, []
    for line in text.splitlines():
        if line.startswith("#"):
            match = re.match(r"#\s*([^:]+):\s*(.*)", line)
            if match:
                context[match.group(1).strip()] = match.group(2).strip()
            continue
        words = line.split()
        if not words:
            continue
        fields = dict(w.split("=", 1) for w in words[1:] if "=" in w and not w.startswith("("))
        lines.append((words[0], fields))
    return context, lines


class Results:
    def __init__(self, lines: list) -> None:
        self.lines = lines

    def find(self, name: str, **match) -> dict:
        for n, fields in self.lines:
            if n == name and all(fields.get(k) == str(v) for k, v in match.items()):
                return fields
        return {}


def num(fields: dict, key: str) -> float:
    try:
        return float(fields[key])
    except (KeyError, ValueError):
        return float("nan")


def mops(value: float) -> str:
    return f"{value / 1e6:.1f} M" if value >= 1e6 else f"{value / 1e3:.0f} k"


def ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def pct(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def verdict(ok) -> str:
    return "—" if ok is None else ("**met**" if ok else "missed")


def e2e_cell(r: Results, nice: str) -> tuple:
    parts, ok = [], True
    for client, label in (("cpp", "C++"), ("python", "Python")):
        f = r.find("e2e", client=client, daemon_nice=nice)
        if not f:
            f = next((fl for n, fl in r.lines if n == "e2e" and fl.get("client") == client
                      and fl.get("daemon_nice", "").startswith(f"{nice}(")), {})
        if not f:
            return NOT_RUN, None
        sent, delivered = num(f, "sent"), num(f, "delivered")
        secs = num(f, "seconds")
        parts.append(f"{label}: {mops(sent / secs)} ops/s sent, {mops(delivered / secs)} "
                     f"delivered, {num(f, 'dropped_pct'):.1f} % dropped by the clients "
                     f"(daemon CPU {pct(num(f, 'daemon_cpu_pct'))} %)")
        ok = ok and delivered == sent
    return "; ".join(parts), ok


def table(r: Results) -> list:
    rows = []  # (measurement, this run, anchor, goal, verdict)

    cell, ok = e2e_cell(r, "0")
    anchor = r.find("e2e_anchor")
    anchor_text = (f"prometheus_client multiprocess: {mops(num(anchor, 'ops_per_sec'))} ops/s, "
                   f"{'exact' if anchor.get('exact') == 'yes' else 'NOT exact'}"
                   if anchor else NOT_RUN)
    rows.append(("16 worker processes at full speed, daemon at default priority", cell,
                  anchor_text, "scraped = sent, at any rate, at default priority", verdict(ok)))
    for nice in ("-5", "-10"):
        cell, _ = e2e_cell(r, nice)
        unit = " (the systemd unit's `Nice=`)" if nice == "-10" else ""
        rows.append((f"the same, daemon at nice {nice}{unit}", cell, "",
                     "justifies the unit's CPU share", "—"))

    kept = r.find("ingest_while_scraping")
    under = [f for n, f in r.lines if n == "e2e" and f.get("daemon_nice") == "0"]
    scrape_load = ", ".join(f"{'C++' if f['client'] == 'cpp' else 'Python'} load "
                            f"{ms(num(f, 'scrape_p50_ms'))}/{ms(num(f, 'scrape_p99_ms'))}"
                            for f in under)
    if kept:
        series = int(num(kept, "series"))
        idle = r.find("ingest_rate", mode="idle", series=series)
        busy = r.find("ingest_rate", mode="scraping", series=series)
        cell = (f"{num(kept, 'kept_pct'):.0f} % of the rate kept at {series:,} series "
                f"({mops(num(idle, 'ops_per_sec'))} → {mops(num(busy, 'ops_per_sec'))} ops/s, "
                f"{busy.get('scrapes')} scrapes); scrape p50/p99 under the 16-process load "
                f"({int(num(under[0], 'store_series')) if under else 0:,} series): "
                f"{scrape_load or NOT_RUN}")
        ok = num(kept, "kept_pct") >= 90 if series >= 1_000_000 else None
        goal_note = "" if series >= 1_000_000 else " (this run stopped at 100 k series)"
    else:
        cell, ok, goal_note = NOT_RUN, None, ""
    rows.append(("scrape while ingesting", cell, "",
                 "ingest keeps ≥ 90 % of its rate under back-to-back scrapes at 1 M series"
                 + goal_note, verdict(ok)))

    parts, ok = [], True
    for series, limit in ((100_000, 10.0), (1_000_000, 100.0)):
        text = r.find("scrape", series=series, format="text")
        if not text:
            ok = None if series == 100_000 else ok
            continue
        om = r.find("scrape", series=series, format="openmetrics")
        gz = r.find("scrape", series=series, format="gzip")
        peak = r.find("scrape_peak_rss", series=series)
        parts.append(f"{series:,}: {ms(num(text, 'median_ms'))} text, {ms(num(om, 'median_ms'))}"
                     f" OpenMetrics, {ms(num(gz, 'median_ms'))} gzip; "
                     f"+{num(peak, 'extra_mb'):.0f} MB peak RSS per scrape "
                     f"({num(peak, 'pct_of_store'):.0f} % of the store)")
        if ok:
            ok = (num(text, "median_ms") <= limit and num(gz, "median_ms") <= 2 * limit
                  and num(peak, "pct_of_store") <= 10)
    anchors = [f"{f['client'].replace('prometheus_client_', 'prometheus_client ')}: "
               f"{ms(num(f, 'median_ms'))} at {int(num(f, 'series')):,}"
               for n, f in r.lines if n == "scrape_anchor"]
    rows.append(("`/metrics` at 100 k / 1 M series", "; ".join(parts) or NOT_RUN,
                 "; ".join(anchors) or NOT_RUN,
                 "100 k ≤ 10 ms, 1 M ≤ 100 ms (gzip ≤ 2× that), peak extra memory per scrape "
                 "≤ 10 % of the store", verdict(ok if parts else None)))

    parts = []
    for n, f in r.lines:
        if n == "rss_per_series":
            kind = "counters, two short labels" if f["kind"] == "counter_2_labels" else "mixed"
            parts.append(f"{num(f, 'bytes_per_series'):.0f} B at {int(num(f, 'series')):,} "
                         f"({kind})")
    counter_1m = r.find("rss_per_series", kind="counter_2_labels", series=1_000_000)
    anchor = r.find("rss_anchor")
    rows.append(("memory per series (daemon VmRSS)", "; ".join(parts) or NOT_RUN,
                 f"prometheus_client single process: {num(anchor, 'bytes_per_series'):.0f} B"
                 if anchor else NOT_RUN,
                 "≤ 200 B per counter series with two short labels, measured at 1 M series",
                 verdict(num(counter_1m, "bytes_per_series") <= 200 if counter_1m else None)))

    conn = r.find("rss_per_connection")
    rows.append(("memory per idle connection (daemon VmRSS)",
                 f"{num(conn, 'bytes_per_connection') / 1000:.1f} KB "
                 f"({conn.get('connections')} connections)" if conn else NOT_RUN, "",
                 "≤ 16 KB idle", verdict(num(conn, "bytes_per_connection") <= 16_000
                                         if conn else None)))

    scrape = r.find("redis_scrape_ms", daemon="this", series=100000)
    rows.append(("Redis backend scrape at 100 k series",
                 ms(num(scrape, "median")) if scrape else NOT_RUN,
                 "pytheus `generate_metrics`: 1 062 ms (issue 12, not re-measured here)",
                 "≤ 100 ms", verdict(num(scrape, "median") <= 100 if scrape else None)))
    flush = r.find("redis_flush_changed_series_ms", daemon="this", series=100000)
    rows.append(("Redis flush of 100 k changed series",
                 ms(num(flush, "median")) if flush else NOT_RUN, "", "≤ 150 ms",
                 verdict(num(flush, "median") <= 150 if flush else None)))
    return rows


def scrape_sizes(r: Results) -> list:
    out = ["| series | text | OpenMetrics | gzip | body (text) | body (gzip) |",
           "|---:|---:|---:|---:|---:|---:|"]
    for series in sorted({int(f["series"]) for n, f in r.lines if n == "scrape"}):
        cells = {fmt: r.find("scrape", series=series, format=fmt)
                 for fmt in ("text", "openmetrics", "gzip")}
        out.append(f"| {series:,} | " + " | ".join(ms(num(cells[f], "median_ms"))
                                                   for f in ("text", "openmetrics", "gzip"))
                   + f" | {int(num(cells['text'], 'body_bytes')):,} B"
                   f" | {int(num(cells['gzip'], 'body_bytes')):,} B |")
    return out if len(out) > 2 else []


def main() -> None:
    source, target = sys.argv[1:3]
    text = pathlib.Path(source).read_text()
    context, lines = parse(text)
    r = Results(lines)
    md = ["# Benchmark results", "",
          "Generated by `bench/run --results` (`make bench`); see bench/README.md for what each "
          "row measures and how. The anchors ran in the same sitting, so compare within this "
          "file; numbers from a loaded machine (see the load average) are indicative only.", "",
          "## Machine", ""]
    for key in ("date", "commit", "cpu", "cores", "ram", "kernel", "compiler", "build type",
                "python", "load average at start", "load average at end"):
        md.append(f"- {key}: {context.get(key, 'unknown')}")
    md += ["", "## Issue 12's table", "",
           "| | this run | anchor, same run | goal | |", "|---|---|---|---|---|"]
    for row in table(r):
        md.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    sizes = scrape_sizes(r)
    if sizes:
        md += ["", "## `/metrics` by store size (counter series, two short labels; medians)", ""]
        md += sizes
    runtimes = [(f["row"], num(f, "seconds")) for n, f in lines if n == "row_runtime"]
    if runtimes:
        md += ["", "## Runtime per row", "", "| row | seconds |", "|---|---:|"]
        md += [f"| {row} | {secs:.0f} |" for row, secs in runtimes]
        md.append(f"| total | {sum(s for _, s in runtimes):.0f} |")
    md += ["", "## Every line of the run", "", "```", text.rstrip(), "```", ""]
    pathlib.Path(target).write_text("\n".join(md))


if __name__ == "__main__":
    main()
