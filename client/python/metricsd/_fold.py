"""Per-series accumulators for op records that find the sender's buffer full.

When the daemon is slow, stopped or down, records beyond ``max_buffer_ops`` are folded into
their series' running state (counter delta; gauge: last set plus the delta since; histogram:
bucket counts, sum and count; summary: sum and count) instead of being dropped. Memory then
grows with the number of series, not of ops, and the daemon ends up with the same totals.
Used by the sender thread only.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from math import isfinite, isnan
from typing import Dict, List, Tuple

from . import _protocol as p

_INC, _DEC, _SET, _OBSERVE = (p.OPS[name] for name in ("inc", "dec", "set", "observe"))


class Shapes:
    """What folding must know of each series: its family's type and bucket bounds.

    Written by the Client when it declares (under its lock), read by the sender. Plain dicts:
    single-key reads and writes are atomic under the GIL.
    """

    def __init__(self) -> None:
        self.families: Dict[int, Tuple[str, Tuple[float, ...]]] = {}
        self.series: Dict[int, int] = {}  # series handle -> family handle


class Folder:
    """Accumulators by series handle, in first-fold order."""

    def __init__(self, shapes: Shapes) -> None:
        self._shapes = shapes
        # handle -> [type, assigned, value, delta or sum, count, bucket counts, bounds]
        self._acc: Dict[int, list] = {}
        self.folded_ops = 0  # ops folded in, for the exit report (Sender.take_unsent)

    def __bool__(self) -> bool:
        return bool(self._acc)

    def fold(self, chunk: bytes) -> int:
        """Fold joined 16-byte records; returns how many the daemon would refuse (not folded)."""
        # Identical records (inc by 1 on one series, ...) collapse in C; only distinct ones
        # cost a Python-level step. A set must stay between the incs around it: then go one
        # by one.
        counts = Counter(p.RECORD.iter_unpack(chunk))
        if any(op == _SET for op, _, _ in counts):
            refused = sum(self._fold(op, h, v, 1) for op, h, v in p.RECORD.iter_unpack(chunk))
        else:
            refused = sum(self._fold(op, h, v, n) for (op, h, v), n in counts.items())
        self.folded_ops += len(chunk) // p.RECORD_SIZE - refused
        return refused

    def _fold(self, op: int, handle: int, value: float, n: int) -> int:
        acc = self._acc.get(handle)
        if acc is None:
            family = self._shapes.series.get(handle)
            if family is None:
                return n
            kind, bounds = self._shapes.families[family]
            if not self._valid(kind, op, value):
                return n
            buckets = [0] * (len(bounds) + 1) if kind == "histogram" else []
            acc = self._acc[handle] = [kind, False, 0.0, 0.0, 0, buckets, bounds]
        kind = acc[0]
        if not self._valid(kind, op, value):
            return n
        if op == _OBSERVE:
            acc[3] += value * n
            acc[4] += n
            if kind == "histogram":
                # The daemon's rule: the first bucket whose bound is >= value, else +Inf.
                acc[5][bisect_left(acc[6], value)] += n
        elif op == _SET:
            acc[1], acc[2], acc[3] = True, value, 0.0
        else:
            acc[3] += value * n if op == _INC else -value * n
        return 0

    @staticmethod
    def _valid(kind: str, op: int, value: float) -> bool:
        """What the daemon would accept: one refused op must not spoil a whole sum."""
        if kind == "counter":
            return op == _INC and value >= 0 and isfinite(value)
        if kind == "gauge":
            return op == _SET or (op in (_INC, _DEC) and isfinite(value))
        return op == _OBSERVE and not isnan(value)

    def fold_count(self, chunks: List[bytes]) -> int:
        """Fold each chunk; how many ops were folded (refused ones are not)."""
        before = self.folded_ops
        for chunk in chunks:
            self.fold(chunk)
        return self.folded_ops - before

    def drain(self) -> Tuple[List[bytes], List[bytes]]:
        """The folded state as op records and FOLD frames; the folder is empty afterwards."""
        records: List[bytes] = []
        frames: List[bytes] = []
        pack = p.RECORD.pack
        for handle, (kind, assigned, value, delta, count, buckets, _) in self._acc.items():
            if kind == "counter":
                records.append(pack(_INC, handle, delta))
            elif kind == "gauge":
                if assigned:
                    records.append(pack(_SET, handle, value))
                if not assigned or delta != 0:
                    records.append(pack(_INC, handle, delta))
            else:
                frames.append(p.encode_fold(handle, count, delta, buckets))
        self._acc = {}
        return records, frames
