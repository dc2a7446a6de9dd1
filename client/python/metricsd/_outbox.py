"""The outbox: what the application side of a Client hands to its sender.

The one interface between the producer side (``Client``: registry, metrics, flush) and the
sender (``_connection.Sender``: thread, socket, decoder). The producer puts op records,
declarations and SYNC requests in; the sender takes them out. Neither side sees the other's
members, and this module imports neither.
"""
from __future__ import annotations

import collections
import os
from itertools import repeat, starmap
from typing import Deque, List, Optional, Tuple

from ._fold import Shapes

DEFAULT_SOCKET = "/run/metricsd/ingest.sock"
DEFAULT_FLUSH_INTERVAL = 0.005
DEFAULT_MAX_BUFFER_OPS = 1_000_000
# Gauge modes whose value the daemon keeps per connection, so a new connection must re-send
# it (as the C++ client does): every mode but sum (the old connection's value still counts;
# re-sending would double it) and shared (one cell for all workers; the deltas already landed).
TRACKED_GAUGE_MODES = frozenset(("livesum", "max", "min", "mostrecent", "all", "liveall",
                                 "livemax", "livemin", "livemostrecent"))

# One declaration: ("family" or "series", its handle, its encoded DECLARE frame).
Declaration = Tuple[str, int, bytes]


class Outbox:
    """Op records, declarations, SYNC requests and the settings the sender works with.

    Lock-free: ``deque.append``/``popleft`` and ``list.append`` are atomic under the GIL, and
    each container has one writer side and one reader side. Settings are plain attributes,
    written by ``Client.configure`` and read by the sender once per cycle.
    """

    def __init__(self, socket: Optional[str] = None) -> None:
        # The op queue. Never replaced (metric children hold its bound append): the hot path.
        self.queue: Deque[bytes] = collections.deque()
        # The ops of tracked gauges (modes whose value the daemon keeps per connection, see
        # TRACKED_GAUGE_MODES), on their own queue so the sender can keep their values without
        # reading any other op. Order only matters within a series, which stays on one queue.
        self.gauge_queue: Deque[bytes] = collections.deque()
        self._declarations: List[Declaration] = []  # in declaration order, never shortened
        self.shapes = Shapes()  # each series' type and buckets, for folding
        self._syncs: Deque[int] = collections.deque()
        self._socket = socket
        self._socket_changed = False
        self.flush_interval = DEFAULT_FLUSH_INTERVAL
        self.max_buffer_ops = DEFAULT_MAX_BUFFER_OPS

    # --- the producer's side ------------------------------------------------------------------

    def declare(self, kind: str, handle: int, frame: bytes) -> None:
        """Add a DECLARE frame; every connection sends it once, before any op that needs it."""
        self._declarations.append((kind, handle, frame))

    def request_sync(self, token: int) -> None:
        """Ask for a SYNC with this token after every op queued so far."""
        self._syncs.append(token)

    def set_socket(self, path: Optional[str]) -> bool:
        """Change the socket path; True if it changed (the sender then reconnects there)."""
        if path is None or path == self._socket:
            return False
        self._socket = path
        self._socket_changed = True
        return True

    def discard_after_fork(self) -> None:
        """In a forked child: the parent sends what was queued; sending it here would double it."""
        self.queue.clear()
        self.gauge_queue.clear()
        self._syncs.clear()

    def has_records(self) -> bool:
        return bool(self.queue) or bool(self.gauge_queue)

    # --- the sender's side ----------------------------------------------------------------------

    def socket_path(self) -> str:
        """The configured path, else $METRICSD_SOCKET, else /run/metricsd/ingest.sock."""
        return self._socket or os.environ.get("METRICSD_SOCKET") or DEFAULT_SOCKET

    def take_socket_change(self) -> bool:
        """True once after each change of the socket path."""
        changed, self._socket_changed = self._socket_changed, False
        return changed

    def take_sync_requests(self) -> List[int]:
        """The SYNC tokens requested so far, oldest first."""
        syncs = self._syncs
        return [syncs.popleft() for _ in range(len(syncs))]

    def take_records(self, chunk: int) -> List[bytes]:
        """Every queued record, as joined chunks of at most ``chunk`` records each."""
        return _take(self.queue, chunk)

    def take_gauge_records(self, chunk: int) -> List[bytes]:
        """Every queued record of a tracked gauge, as take_records."""
        return _take(self.gauge_queue, chunk)

    def declarations(self, start: int) -> List[Declaration]:
        """The declarations from index ``start`` on (a connection sends each once)."""
        return self._declarations[start:]


def _take(queue: Deque[bytes], chunk: int) -> List[bytes]:
    popleft = queue.popleft
    chunks = []
    count = len(queue)
    while count:
        take = min(count, chunk)
        # starmap(popleft) pops `take` records in C, without a Python-level loop; joining
        # a bounded chunk keeps bytes.join's per-item bookkeeping in the CPU cache.
        chunks.append(b"".join(starmap(popleft, repeat((), take))))
        count -= take
    return chunks
