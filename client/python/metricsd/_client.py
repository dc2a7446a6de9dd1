"""Client: the per-process state shared by all metrics (declarations, op queue, flush, fork)."""
from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from . import _protocol as p
from ._connection import Sender

DEFAULT_SOCKET = "/run/metricsd/ingest.sock"
DEFAULT_FLUSH_INTERVAL = 0.005
DEFAULT_MAX_BUFFER_OPS = 1_000_000
_MAX_LOGGED_MESSAGES = 1000

log = logging.getLogger("metricsd")
_live_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


class Client:
    """One process's link to the metricsd daemon.

    Metrics register their declarations here and queue 16-byte op records on ``_q``; a
    background thread (started on first use) sends them. Nothing here blocks on IO or raises
    because of IO: problems are counted (``dropped_ops``), kept (``last_error``) and logged.
    """

    def __init__(self, socket: Optional[str] = None, flush_interval: float = DEFAULT_FLUSH_INTERVAL,
                 max_buffer_ops: int = DEFAULT_MAX_BUFFER_OPS) -> None:
        self._socket = socket
        self._socket_changed = False
        self.flush_interval = DEFAULT_FLUSH_INTERVAL
        self.max_buffer_ops = DEFAULT_MAX_BUFFER_OPS
        self.configure(flush_interval=flush_interval, max_buffer_ops=max_buffer_ops)
        # The op queue. Never replaced (children hold its bound append); deque.append and
        # popleft are atomic under the GIL, so the hot path takes no lock.
        self._q: Deque[bytes] = collections.deque()
        self._lock = threading.Lock()          # registry and sender lifecycle
        self._cond = threading.Condition()     # flush results
        self._decls: List[Tuple[str, int, bytes]] = []  # (kind, handle, frame), in order
        self._family_names: Dict[str, int] = {}
        self._next_family = 0
        self._next_series = 0
        self._children: List[Any] = []
        self._fork_sender: Optional[Sender] = None
        self._reset_process_state()
        _live_clients.add(self)

    def _reset_process_state(self) -> None:
        """State that belongs to one process: a forked child starts it afresh."""
        self._sender: Optional[Sender] = None
        self._sync_requests: List[int] = []
        self._waiting: Dict[int, Optional[bool]] = {}
        self._next_token = 1
        self._dropped = 0
        self._errors = 0
        self._last_error: Optional[str] = None
        self._logged: set = set()
        self._connected = False
        self._closed = False

    # --- configuration and status ---------------------------------------------------------------

    def configure(self, socket: Optional[str] = None, flush_interval: Optional[float] = None,
                  max_buffer_ops: Optional[int] = None) -> None:
        """Change settings; a new socket path makes the client reconnect there."""
        if flush_interval is not None and not 0 < flush_interval <= 60:
            raise ValueError(f"flush_interval must be in (0, 60] seconds, not {flush_interval!r}")
        if max_buffer_ops is not None and max_buffer_ops < 0:
            raise ValueError(f"max_buffer_ops must be >= 0, not {max_buffer_ops!r}")
        if socket is not None and socket != self._socket:
            self._socket = socket
            self._socket_changed = True  # the sender reconnects to the new path
            if self._sender is not None:
                self._sender.wake()
        if flush_interval is not None:
            self.flush_interval = float(flush_interval)
        if max_buffer_ops is not None:
            self.max_buffer_ops = int(max_buffer_ops)

    def socket_path(self) -> str:
        """The configured path, else $METRICSD_SOCKET, else /run/metricsd/ingest.sock."""
        return self._socket or os.environ.get("METRICSD_SOCKET") or DEFAULT_SOCKET

    def dropped_ops(self) -> int:
        """Ops discarded because the buffer (max_buffer_ops) was full or the client closed."""
        return self._dropped

    def error_count(self) -> int:
        """ERROR frames received and client-side problems noted, in this process."""
        return self._errors

    def last_error(self) -> Optional[str]:
        """The latest problem as "code: message" (e.g. "family_conflict: ..."), or None."""
        return self._last_error

    def connected(self) -> bool:
        """True while a connection to the daemon is established (handshake done)."""
        return self._connected

    # --- flush and lifecycle ---------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued so far plus a SYNC; True once the daemon ACKed it.

        False when the daemon is unreachable (a connection is attempted at once, without
        waiting for the reconnect backoff) or the ACK did not come within ``timeout`` seconds.
        """
        if not self._ensure_sender():
            return False
        with self._cond:
            token = self._next_token
            self._next_token += 1
            self._waiting[token] = None
            self._sync_requests.append(token)
        self._sender.wake()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting[token] is None:  # the sender sets True (ACK) or False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    del self._waiting[token]
                    return False
                self._cond.wait(remaining)
            return bool(self._waiting.pop(token))

    def close(self, timeout: float = 1.0) -> None:
        """Flush (up to ``timeout``), then stop the sender and close the connection.

        Later ops on this client's metrics are counted in dropped_ops() and not sent.
        """
        if self._sender is not None:
            self.flush(timeout)
        with self._lock:
            sender, self._sender, self._closed = self._sender, None, True
            for child in self._children:
                child._append = self._start_and_append  # which now counts them as dropped
        if sender is not None:
            sender.stop()
        self._connected = False

    # --- registry (called by metrics) -------------------------------------------------------

    def _declare_family(self, metric_type: str, gauge_mode: str, name: str, help: str,
                        labelnames: Sequence[str], buckets: Sequence[str]) -> int:
        with self._lock:
            if name in self._family_names:
                raise ValueError(f"Duplicated timeseries in metricsd client: {name}")
            handle = self._next_family
            data = p.encode_declare_family(handle, metric_type, gauge_mode, name, help,
                                           labelnames, buckets)
            self._next_family += 1
            self._family_names[name] = handle
            self._decls.append(("family", handle, data))
            return handle

    def _declare_series(self, family: int, values: Tuple[str, ...],
                        make_child: Callable[[int, Callable[[bytes], None]], Any],
                        children: Dict[Tuple[str, ...], Any]) -> Any:
        """The child in ``children`` for ``values``; registers the series on first use.

        Under the client's lock, which fork() also takes: no lock of ours can be inherited
        held by a thread that does not exist in the child.
        """
        with self._lock:
            child = children.get(values)
            if child is not None:
                return child
            handle = self._next_series
            data = p.encode_declare_series(handle, family, values)
            append = self._q.append if self._sender is not None else self._start_and_append
            child = make_child(handle, append)
            self._next_series += 1
            self._children.append(child)
            self._decls.append(("series", handle, data))
            children[values] = child
            return child

    # --- internals ----------------------------------------------------------------------------

    def _start_and_append(self, record: bytes) -> None:
        """The first op in a process starts the sender; then children append directly."""
        if self._ensure_sender():
            self._q.append(record)
        else:
            self._count_dropped(1)

    def _ensure_sender(self) -> bool:
        if self._sender is not None:
            return True
        with self._lock:
            if self._sender is None:
                if self._closed:
                    return False
                sender = Sender(self)
                try:
                    sender.start()
                except RuntimeError:  # e.g. "can't create new thread at interpreter shutdown"
                    sender.stop()
                    return False
                self._sender = sender
                for child in self._children:
                    child._append = self._q.append
        return True

    def _take_sync_requests(self) -> List[int]:
        with self._cond:
            requests, self._sync_requests = self._sync_requests, []
        return requests

    def _finish_syncs(self, tokens: Sequence[int], ok: bool) -> None:
        if not tokens:
            return
        with self._cond:
            for token in tokens:
                if token in self._waiting:
                    self._waiting[token] = ok
            self._cond.notify_all()

    def _count_dropped(self, count: int) -> None:
        self._dropped += count

    def _note_connected(self, connected: bool) -> None:
        self._connected = connected

    def _note_connect_failure(self, path: str, error: BaseException) -> None:
        # Logged once per distinct message: the daemon may be down for a long while.
        self._note_error(f"client: cannot connect to {path}: {error}")

    def _note_error(self, text: str) -> None:
        """Count and keep a problem; log each distinct message once, at warning level."""
        self._errors += 1
        self._last_error = text
        if text not in self._logged and len(self._logged) < _MAX_LOGGED_MESSAGES:
            self._logged.add(text)
            log.warning("metricsd: %s", text)

    # --- fork safety --------------------------------------------------------------------------

    def _before_fork(self) -> None:
        # No half-made registration, and no socket the child cannot see, is copied into it.
        self._lock.acquire()
        self._fork_sender = self._sender
        if self._fork_sender is not None:
            self._fork_sender.fd_lock.acquire()

    def _after_fork_parent(self) -> None:
        if self._fork_sender is not None:
            self._fork_sender.fd_lock.release()
        self._fork_sender = None
        self._lock.release()

    def _after_fork_child(self) -> None:
        """The child discards the parent's queue and connection; it connects on first use."""
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._q.clear()  # the parent sends these; sending them here too would double them
        sender = self._sender
        self._fork_sender = None
        closed = self._closed
        self._reset_process_state()
        self._closed = closed
        if sender is not None:
            sender.abandon_after_fork()
        for child in self._children:
            child._append = self._start_and_append


_locked_at_fork: List[Client] = []


def _before_fork() -> None:
    # Remember exactly which clients were locked: the WeakSet may change before the release.
    _locked_at_fork[:] = list(_live_clients)
    for client in _locked_at_fork:
        client._before_fork()


def _after_fork_parent() -> None:
    for client in _locked_at_fork:
        client._after_fork_parent()
    _locked_at_fork.clear()


def _after_fork_child() -> None:
    _locked_at_fork.clear()
    for client in list(_live_clients):
        client._after_fork_child()


def _flush_at_exit() -> None:
    """Short-lived scripts: give the last ops a second to reach the daemon."""
    for client in list(_live_clients):
        if client._sender is not None and not client._closed:
            client.flush(1.0)


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                    after_in_child=_after_fork_child)
atexit.register(_flush_at_exit)
