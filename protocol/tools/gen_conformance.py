#!/usr/bin/env python3
"""Writes protocol/conformance/scenario.json: the end-to-end scenario every client runs.

The steps are listed below; the expected scrapes are computed here by a small model of the
daemon's aggregation (one worker process), independent of the daemon and of every client.
Every observed value and increment is a binary fraction, so sums are exact in any order
(folded or not). Run it after editing, and commit the JSON:

    python3 protocol/tools/gen_conformance.py > protocol/conformance/scenario.json

protocol/conformance/README.md describes the format.
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any, Dict, List, Optional

PREFIX = "conf_"
MODES = ("livesum sum max min mostrecent all liveall livemax livemin livemostrecent "
         "shared").split()
LIVE_MODES = ("livesum", "liveall", "livemax", "livemin", "livemostrecent")
# prometheus_client's Histogram.DEFAULT_BUCKETS: every metricsd client's default, so that
# workers in different languages declare the same family.
DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                   10.0]
ODD_LABEL = "Ünï \"q\" \\ \n end"  # UTF-8, a quote, a backslash and a newline to escape


# --- steps ------------------------------------------------------------------------------------

def declare(client: str, id: str, type: str, name: str, help: str, label_names=(),
            mode: Optional[str] = None, buckets: Optional[List[float]] = None) -> Dict[str, Any]:
    step: Dict[str, Any] = {"do": "declare", "client": client, "id": id, "type": type,
                            "name": name, "help": help, "label_names": list(label_names)}
    if mode is not None:
        step["mode"] = mode
    if buckets is not None:
        step["buckets"] = buckets
    return step


def op(kind: str, id: str, labels=(), value: Any = None) -> Dict[str, Any]:
    step: Dict[str, Any] = {"do": kind, "id": id, "labels": list(labels)}
    if value is not None:
        step["value"] = value
    return step


def gauge_id(mode: str) -> str:
    return "gauge_" + mode


def build_steps() -> List[Dict[str, Any]]:
    s: List[Dict[str, Any]] = []
    # 1. Declare a family of every type and gauge mode on client a.
    s.append(declare("a", "requests", "counter", "conf_requests_total", "Requests handled.",
                     ["method", "code"]))
    for mode in MODES:
        s.append(declare("a", gauge_id(mode), "gauge", "conf_gauge_" + mode,
                         f"A gauge in mode {mode}.", ["shard"], mode=mode))
    s.append(declare("a", "latency", "histogram", "conf_latency_seconds", "Request latency.",
                     ["route"], buckets=[0.005, 0.1, 1, 2.5, 10]))
    s.append(declare("a", "default_buckets", "histogram", "conf_default_seconds",
                     "Histogram with the client's default buckets."))
    s.append(declare("a", "size", "summary", "conf_size_bytes", "Response size."))
    # 2. Bind series and send ops of every kind; the call without an amount means 1.
    s += [op("inc", "requests", ["GET", "200"]),
          op("inc", "requests", ["GET", "200"], 2.5),
          op("inc", "requests", ["POST", "201"], 4),
          op("inc", "requests", [ODD_LABEL, "500"])]
    for mode in MODES:
        g = gauge_id(mode)
        s += [op("inc", g, ["a"]), op("inc", g, ["a"], 4), op("dec", g, ["a"]),
              op("dec", g, ["a"], 0.5), op("set", g, ["a"], 10), op("inc", g, ["a"], 2.25),
              op("set", g, ["b"], -3)]
    s += [op("observe", "latency", ["/a"], v) for v in (0.00390625, 0.0625, 1, 3, 10, 11, -1)]
    s += [op("observe", "latency", ["/b"], 0.5)]
    s += [op("observe", "default_buckets", [], v) for v in (0.25, 7.5, 100)]
    s += [op("observe", "size", [], v) for v in (1.5, 2.5)]
    s.append({"do": "flush", "client": "a"})
    # 3. Mistakes the client refuses at once (it raises; nothing is sent).
    s += [
        dict(declare("a", "bad", "counter", "conf bad_total", "Bad name."), do="refuse_declare",
             error="invalid_metric_name"),
        dict(declare("a", "bad", "counter", "metricsd_conf_total", "Reserved prefix."),
             do="refuse_declare", error="name_collision"),
        dict(declare("a", "bad", "histogram", "conf_le_seconds", "Reserved label.", ["le"],
                     buckets=[1]), do="refuse_declare", error="invalid_label_name"),
        dict(declare("a", "bad", "gauge", "conf_pid_gauge", "pid is added by mode all.",
                     ["pid"], mode="all"), do="refuse_declare", error="invalid_label_name"),
        dict(declare("a", "bad", "histogram", "conf_unsorted_seconds", "Unsorted buckets.",
                     buckets=[1, 0.5]), do="refuse_declare", error="invalid_buckets"),
        dict(op("inc", "requests", ["GET", "200"], -1), do="refuse_op", op="inc",
             error="invalid_value"),
        dict(op("observe", "latency", ["/a"], "NaN"), do="refuse_op", op="observe",
             error="invalid_value"),
        dict(op("inc", "gauge_livesum", ["a"], "+Inf"), do="refuse_op", op="inc",
             error="invalid_value"),
        {"do": "refuse_labels", "id": "requests", "labels": ["GET"],
         "error": "label_count_mismatch"},
    ]
    # 4. Mistakes only the daemon can see: an ERROR frame, reported by the client, never raised.
    #    Client b is a second connection: the same name with another type is family_conflict.
    s += [declare("b", "conflict", "gauge", "conf_requests_total", "Same name, other type."),
          op("set", "conflict", [], 1),
          {"do": "flush", "client": "b"},
          {"do": "expect_error", "client": "b", "error": "family_conflict"},
          declare("a", "collision", "gauge", "conf_size_bytes_count",
                  "Collides with the summary's _count sample."),
          op("set", "collision", [], 1),
          {"do": "flush", "client": "a"},
          {"do": "expect_error", "client": "a", "error": "name_collision"}]
    # 5. A burst beyond client a's buffer (max_buffer_ops 64), with no chance to send in
    #    between: the client folds the rest (PROTOCOL.md 4.7); totals stay exact.
    s.append({"do": "repeat", "times": 500, "steps": [
        op("inc", "requests", ["GET", "200"]),
        op("observe", "latency", ["/b"], 2),
        op("observe", "size", [], 0.25),
        op("set", gauge_id("sum"), ["b"], 7),
        op("inc", gauge_id("sum"), ["b"], 0.5)]})
    s.append({"do": "flush", "client": "a"})
    s.append({"do": "expect_dropped", "client": "a", "count": 0})
    s.append({"do": "scrape", "expect": "live"})
    # 6. Client a disconnects: live* gauges drop its contribution, everything else stays.
    s.append({"do": "close", "client": "a"})
    s.append({"do": "scrape", "expect": "after_close", "eventually": True})
    s.append({"do": "close", "client": "b"})
    return s


# --- the model --------------------------------------------------------------------------------

def fmt_value(v: float) -> str:
    """The daemon's sample value text: integers plainly, else the shortest round-trip text."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 2 ** 53:
        return str(int(v))
    return repr(v)


def fmt_bound(v: float) -> str:
    """The daemon's canonical `le` text (Python's str(float))."""
    return str(float(v))


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def value_of(v: Any) -> float:
    return float(v) if not isinstance(v, str) else float(v.replace("Inf", "inf"))


class Model:
    def __init__(self) -> None:
        self.families: Dict[str, Dict[str, Any]] = {}   # id -> declaration + series
        self.names: Dict[str, str] = {}                  # exported name -> id (accepted ones)

    def run(self, steps: List[Dict[str, Any]]) -> None:
        for step in steps:
            kind = step["do"]
            if kind == "repeat":
                for _ in range(step["times"]):
                    self.run(step["steps"])
            elif kind == "declare":
                accepted = not self.exposes(step["name"])
                fam = dict(step, series={}, accepted=accepted)
                if fam["type"] == "histogram" and "buckets" not in step:
                    fam["buckets"] = DEFAULT_BUCKETS
                self.families[step["id"]] = fam
                if accepted:
                    self.names[step["name"]] = step["id"]
            elif kind in ("inc", "dec", "set", "observe"):
                self.apply(self.families[step["id"]], kind, tuple(step["labels"]),
                           value_of(step.get("value", 1)))

    def exposes(self, name: str) -> bool:
        """Whether an accepted family already exposes ``name`` (family_conflict when it is
        its name, name_collision when it is one of its sample names)."""
        suffixes = {"counter": [""], "gauge": [""], "summary": ["", "_sum", "_count"],
                    "histogram": ["", "_bucket", "_sum", "_count"]}
        return any(name == other + suffix for other, id in self.names.items()
                   for suffix in suffixes[self.families[id]["type"]])

    @staticmethod
    def apply(fam: Dict[str, Any], kind: str, labels: tuple, v: float) -> None:
        if not fam["accepted"]:
            return
        t = fam["type"]
        if t in ("counter", "gauge"):
            cur = fam["series"].get(labels, 0.0)
            fam["series"][labels] = v if kind == "set" else cur + (v if kind == "inc" else -v)
            return
        cell = fam["series"].setdefault(labels, {"sum": 0.0, "count": 0,
                                                 "buckets": [0] * (len(fam.get("buckets", [])) + 1)})
        cell["sum"] += v
        cell["count"] += 1
        if t == "histogram":
            bounds = fam["buckets"]
            index = next((i for i, b in enumerate(bounds) if v <= b), len(bounds))
            cell["buckets"][index] += 1

    def exposition(self, closed: bool) -> List[str]:
        lines: List[str] = []
        for name in sorted(self.names):
            fam = self.families[self.names[name]]
            mode = fam.get("mode", "livesum")
            lines.append(f"# HELP {name} {fam['help']}")
            lines.append(f"# TYPE {name} {fam['type']}")
            for labels in sorted(fam["series"], key=lambda ls: [x.encode() for x in ls]):
                pairs = [f'{n}="{escape(v)}"' for n, v in zip(fam["label_names"], labels)]
                cell = fam["series"][labels]
                if fam["type"] in ("counter", "gauge"):
                    if closed and fam["type"] == "gauge" and mode in LIVE_MODES:
                        if mode != "livesum":
                            continue  # the series goes with its last live worker
                        cell = 0.0    # livesum keeps the series at 0
                    if mode in ("all", "liveall"):
                        pairs.append('pid="{pid}"')
                    lines.append(sample(name, pairs, cell))
                    continue
                if fam["type"] == "histogram":
                    cumulative = 0
                    les = [fmt_bound(b) for b in fam["buckets"]] + ["+Inf"]
                    for le, n in zip(les, cell["buckets"]):
                        cumulative += n
                        lines.append(sample(name + "_bucket", pairs + [f'le="{le}"'], cumulative))
                lines.append(sample(name + "_sum", pairs, cell["sum"]))
                lines.append(sample(name + "_count", pairs, cell["count"]))
        return lines


def sample(name: str, pairs: List[str], v: float) -> str:
    labels = "{" + ",".join(pairs) + "}" if pairs else ""
    return f"{name}{labels} {fmt_value(v)}"


def main() -> None:
    steps = build_steps()
    model = Model()
    model.run(steps)
    doc = {
        "description": [
            "The end-to-end scenario every metricsd client runs against the real daemon.",
            "Format and driver rules: protocol/conformance/README.md. Generated by",
            "protocol/tools/gen_conformance.py (edit that, not this file).",
        ],
        "scrape_prefix": PREFIX,
        "clients": {"a": {"max_buffer_ops": 64}, "b": {}},
        "default_buckets": DEFAULT_BUCKETS,
        "steps": steps,
        "expected": {"live": model.exposition(closed=False),
                     "after_close": model.exposition(closed=True)},
    }
    # One step per line, one expected line per line: diffs stay readable.
    def dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)
    out = ["{"]
    for key in ("description", "scrape_prefix", "clients", "default_buckets"):
        out.append(f" {dumps(key)}: {dumps(doc[key])},")
    out.append(' "steps": [')
    out.append(",\n".join("  " + dumps(step) for step in steps))
    out.append(" ],")
    out.append(' "expected": {')
    blocks = []
    for name, lines in doc["expected"].items():
        blocks.append(f"  {dumps(name)}: [\n" + ",\n".join("   " + dumps(l) for l in lines)
                      + "\n  ]")
    out.append(",\n".join(blocks))
    out.append(" }")
    out.append("}")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
