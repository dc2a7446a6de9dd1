"""Local mode: ops applied in this process instead of sent, for application unit tests.

What prometheus_client's ``REGISTRY.get_sample_value`` gives a test, without a daemon: a
``Client(local=True)`` (or ``metricsd.configure(local=True)``) hands every op record to a
LocalStore, which applies it as the daemon would for one process and answers
``get_sample_value(name, labels)`` with prometheus_client's sample names and ``le`` texts.
"""
from __future__ import annotations

import math
from typing import Dict, Iterator, List, Optional, Set, Tuple

from . import _functions, _protocol as p

_unpack = p.RECORD.unpack

# The client's registry, as the store reads it (shared dicts, owned by the Client):
# family handle -> (type, name, label names, bucket bounds); series handle -> (family, values).
FamilySpecs = Dict[int, Tuple[str, str, Tuple[str, ...], Tuple[float, ...]]]
SeriesSpecs = Dict[int, Tuple[int, Tuple[str, ...]]]
Sample = Tuple[str, Dict[str, str], float]


def float_to_go_string(value: float) -> str:
    """prometheus_client's floatToGoString: the ``le`` texts it (and the daemon) print."""
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


class LocalStore:
    """Series values of one process, read back by name and labels."""

    def __init__(self, families: FamilySpecs, series: SeriesSpecs) -> None:
        self._families = families
        self._series = series
        # series handle -> [value] (counter, gauge) or [count, sum, per-bucket counts...]
        self._values: Dict[int, List[float]] = {}
        self._hidden: Set[int] = set()  # removed series, until labels() brings them back

    def record(self, record: bytes) -> None:
        """Apply one 16-byte op record (the children's append in local mode)."""
        op, handle, value = _unpack(record)
        cell = self._values.get(handle)
        if cell is None:
            cell = self._values[handle] = self._empty(handle)
        if op == p.OP_INC:
            cell[0] += value
        elif op == p.OP_DEC:
            cell[0] -= value
        elif op == p.OP_SET:
            cell[0] = value
        elif op == p.OP_OBSERVE:
            cell[0] += 1
            cell[1] += value
            bounds = self._families[self._series[handle][0]][3]
            for i, bound in enumerate(bounds):
                if value <= bound:
                    cell[2 + i] += 1
                    break
            else:
                if bounds:
                    cell[2 + len(bounds)] += 1

    def remove(self, handle: int) -> None:
        self._values.pop(handle, None)
        self._hidden.add(handle)

    def restore(self, handle: int) -> None:
        self._values.pop(handle, None)
        self._hidden.discard(handle)

    def _empty(self, handle: int) -> List[float]:
        metric_type, _, _, bounds = self._families[self._series[handle][0]]
        if metric_type == "histogram":
            return [0, 0.0] + [0] * (len(bounds) + 1)
        if metric_type == "summary":
            return [0, 0.0]
        return [0.0]

    def samples(self) -> Iterator[Sample]:
        """Every sample, as prometheus_client names them (no ``_created``)."""
        _functions.evaluate_all()
        for handle, (family, values) in list(self._series.items()):
            if handle in self._hidden:
                continue
            metric_type, name, label_names, bounds = self._families[family]
            labels = dict(zip(label_names, values))
            cell = self._values.get(handle) or self._empty(handle)
            if metric_type in ("counter", "gauge"):
                yield name, labels, float(cell[0])
                continue
            if metric_type == "histogram":
                cumulative = 0
                for i, bound in enumerate(list(bounds) + [math.inf]):
                    cumulative += cell[2 + i]
                    yield name + "_bucket", dict(labels, le=float_to_go_string(bound)), \
                        float(cumulative)
            yield name + "_count", labels, float(cell[0])
            yield name + "_sum", labels, float(cell[1])

    def get_sample_value(self, name: str,
                         labels: Optional[Dict[str, str]] = None) -> Optional[float]:
        """The sample's value, or None if there is no such sample (prometheus_client's API)."""
        wanted = labels or {}
        for sample_name, sample_labels, value in self.samples():
            if sample_name == name and sample_labels == wanted:
                return value
        return None
