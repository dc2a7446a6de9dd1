"""Client: the producer side of one process's link to the daemon (registry, metrics, flush).

It owns three parts and is the only one that sees all of them: an Outbox (what the sender takes:
op records, declarations, SYNC requests, settings), a Status (what the sender reports: counters,
errors, connection, flush results) and the Sender (thread and socket). The Sender imports
neither this module nor the Client; it works through the Outbox and the Status alone.
"""
from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _functions, _protocol as p
from ._connection import Sender
from ._local import LocalStore
from ._outbox import (DEFAULT_FLUSH_INTERVAL, DEFAULT_MAX_BUFFER_OPS, DEFAULT_SOCKET,
                      TRACKED_GAUGE_MODES, Outbox)
from ._spool import Spool
from ._status import Status

__all__ = ["Client", "DEFAULT_SOCKET", "DEFAULT_FLUSH_INTERVAL", "DEFAULT_MAX_BUFFER_OPS"]

_live_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


class Client:
    """One process's link to the metricsd daemon.

    Metrics register their declarations here and queue 16-byte op records on the outbox; a
    background thread (started on first use) sends them. Nothing here blocks on IO or raises
    because of IO: problems are counted (``dropped_ops``), kept (``last_error``) and logged.
    """

    def __init__(self, socket: Optional[str] = None, flush_interval: float = DEFAULT_FLUSH_INTERVAL,
                 max_buffer_ops: int = DEFAULT_MAX_BUFFER_OPS, local: bool = False) -> None:
        self._outbox = Outbox(socket)
        self._status = Status()
        self._sender: Optional[Sender] = None  # started on first use, one per process
        self._closed = False
        self.configure(flush_interval=flush_interval, max_buffer_ops=max_buffer_ops)
        self._lock = threading.Lock()          # registry and sender lifecycle
        self._family_names: Dict[str, int] = {}
        self._next_family = 0
        self._next_series = 0
        self._children: List[Tuple[Any, Any]] = []  # (child, the queue its ops go to)
        self._tracked_families: set = set()  # gauge families whose values are re-sent
        self._fork_sender: Optional[Sender] = None
        # What local mode reads back: family handle -> (type, name, label names, bounds),
        # series handle -> (family handle, label values).
        self._family_specs: Dict[int, Tuple[str, str, Tuple[str, ...], Tuple[float, ...]]] = {}
        self._series_specs: Dict[int, Tuple[int, Tuple[str, ...]]] = {}
        self._local: Optional[LocalStore] = None
        self._pid = os.getpid()  # see _check_fork
        self._spool = Spool()
        _live_clients.add(self)
        if local:
            self.use_local()

    # --- configuration and status ---------------------------------------------------------------

    def configure(self, socket: Optional[str] = None, flush_interval: Optional[float] = None,
                  max_buffer_ops: Optional[int] = None, spool_dir: Optional[str] = None) -> None:
        """Change settings; a new socket path makes the client reconnect there.

        ``spool_dir``: where ops that could not be delivered by exit are written for the
        daemon to read back (default $METRICSD_SPOOL_DIR, else the socket path + ".spool").
        """
        if flush_interval is not None and not 0 < flush_interval <= 60:
            raise ValueError(f"flush_interval must be in (0, 60] seconds, not {flush_interval!r}")
        if max_buffer_ops is not None and max_buffer_ops < 0:
            raise ValueError(f"max_buffer_ops must be >= 0, not {max_buffer_ops!r}")
        if self._outbox.set_socket(socket):
            if self._sender is not None:
                self._sender.wake()  # it reconnects to the new path
        if flush_interval is not None:
            self._outbox.flush_interval = float(flush_interval)
        if max_buffer_ops is not None:
            self._outbox.max_buffer_ops = int(max_buffer_ops)
        if spool_dir is not None:
            self._spool.directory = spool_dir

    @property
    def flush_interval(self) -> float:
        """Seconds between two sends of the queued ops (see configure)."""
        return self._outbox.flush_interval

    @property
    def max_buffer_ops(self) -> int:
        """Ops kept at most while the daemon is unreachable (see configure)."""
        return self._outbox.max_buffer_ops

    def socket_path(self) -> str:
        """The configured path, else $METRICSD_SOCKET, else /run/metricsd/ingest.sock."""
        return self._outbox.socket_path()

    def spool_dir(self) -> str:
        """The configured directory, else $METRICSD_SPOOL_DIR, else socket_path() + ".spool"."""
        return self._spool.path(self.socket_path())

    def dropped_ops(self) -> int:
        """Ops discarded because the buffer (max_buffer_ops) was full or the client closed."""
        return self._status.dropped

    def error_count(self) -> int:
        """ERROR frames received and client-side problems noted, in this process."""
        return self._status.errors

    def last_error(self) -> Optional[str]:
        """The latest problem as "code: message" (e.g. "family_conflict: ..."), or None."""
        return self._status.last_error

    def connected(self) -> bool:
        """True while a connection to the daemon is established (handshake done)."""
        return self._status.connected

    # --- local mode --------------------------------------------------------------------------

    def use_local(self) -> None:
        """Local mode, for tests: from now on ops are applied in this process, never sent.

        Call it before the first op (ops a connected sender already took are not counted).
        Read values back with get_sample_value(). There is no way back to sending.
        """
        with self._lock:
            if self._local is not None:
                return
            local = self._local = LocalStore(self._family_specs, self._series_specs)
            sender, self._sender = self._sender, None
            for child, _ in self._children:
                child._append = local.record
            for queue in (self._outbox.queue, self._outbox.gauge_queue):
                while queue:
                    local.record(queue.popleft())
        if sender is not None:
            sender.stop()
        self._status.set_connected(False)

    def local(self) -> bool:
        """Whether this client is in local mode."""
        return self._local is not None

    def get_sample_value(self, name: str,
                         labels: Optional[Dict[str, str]] = None) -> Optional[float]:
        """In local mode, a sample's value as prometheus_client's REGISTRY gives it (or None)."""
        if self._local is None:
            raise RuntimeError("get_sample_value needs local mode: Client(local=True) or "
                               "metricsd.configure(local=True); with a daemon, scrape /metrics")
        return self._local.get_sample_value(name, labels)

    # --- flush and lifecycle ---------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued so far plus a SYNC; True once the daemon ACKed it.

        False when the daemon is unreachable (a connection is attempted at once, without
        waiting for the reconnect backoff) or the ACK did not come within ``timeout`` seconds.
        In local mode, True at once. Gauge functions (set_function) are evaluated first.
        """
        self._check_fork()
        _functions.evaluate_all()
        if self._local is not None:
            return not self._closed
        if _in_uwsgi_master():
            return self._deliver_inline(timeout)
        if not self._ensure_sender():
            return False
        token = self._status.expect_ack()
        self._outbox.request_sync(token)
        self._sender.wake()  # type: ignore[union-attr]
        return self._status.wait_ack(token, timeout)

    def close(self, timeout: float = 1.0) -> None:
        """Flush (up to ``timeout``), then stop the sender and close the connection.

        Later ops on this client's metrics are counted in dropped_ops() and not sent. What
        the daemon did not take by then is spooled (see Spool) or, failing that, dropped; either
        is said once on stderr.
        """
        self._check_fork()
        pending = self._sender is not None or self._outbox.has_records()
        delivered = not pending or self.flush(timeout)
        _functions.unregister([child for child, _ in self._children])
        with self._lock:
            sender, self._sender, self._closed = self._sender, None, True
            for child, _ in self._children:
                child._append = self._start_and_append  # which now counts them as dropped
        if sender is not None:
            sender.stop()
        if not delivered:
            # No thread could be started (e.g. at interpreter shutdown): an idle Sender still
            # takes the records out of the outbox.
            self._spool_unsent(sender or Sender(self._outbox, self._status))
        self._status.set_connected(False)

    def _spool_unsent(self, sender: Sender) -> None:
        """After a failed final flush, with the sender stopped: spool what it still holds.

        The sender's thread has ended, so nothing below can race a send: every op is either in
        the kernel (written before the stop; the daemon applies or never sees it) or here, in
        exactly one of the two.
        """
        if sender.running():
            # It did not stop within stop()'s timeout: what it holds may still be written, so
            # spooling it could count it twice. Say so rather than guess.
            self._status.note_error("client: the sender did not stop; its unsent ops are lost")
            return
        ops, records, frames = sender.take_unsent()
        sender.stop()
        if not ops:
            return
        declarations = [data for _, _, data in self._outbox.declarations(0)]
        self._spool.write_or_drop(self.socket_path(), ops, declarations, records, frames,
                                  self._status)

    # --- registry (called by metrics) -------------------------------------------------------

    def _declare_family(self, metric_type: str, gauge_mode: str, name: str, help: str,
                        labelnames: Sequence[str], buckets: Sequence[str]) -> int:
        self._check_fork()
        with self._lock:
            if name in self._family_names:
                raise ValueError(f"Duplicated timeseries in metricsd client: {name}")
            handle = self._next_family
            data = p.encode_declare_family(handle, metric_type, gauge_mode, name, help,
                                           labelnames, buckets)
            self._next_family += 1
            self._family_names[name] = handle
            self._family_specs[handle] = (metric_type, name, tuple(labelnames),
                                          tuple(map(float, buckets)))
            if metric_type == "gauge" and gauge_mode in TRACKED_GAUGE_MODES:
                self._tracked_families.add(handle)
            self._outbox.shapes.families[handle] = (metric_type, tuple(map(float, buckets)))
            self._outbox.declare("family", handle, data)
            return handle

    def _declare_series(self, family: int, values: Tuple[str, ...],
                        make_child: Callable[[int, Callable[[bytes], None]], Any],
                        children: Dict[Tuple[str, ...], Any]) -> Any:
        """The child in ``children`` for ``values``; registers the series on first use.

        Under the client's lock, which fork() also takes: no lock of ours can be inherited
        held by a thread that does not exist in the child.
        """
        self._check_fork()
        with self._lock:
            child = children.get(values)
            if child is not None:
                return child
            handle = self._next_series
            data = p.encode_declare_series(handle, family, values)
            queue = self._outbox.gauge_queue if family in self._tracked_families \
                else self._outbox.queue
            if self._local is not None:
                append = self._local.record
            else:
                append = queue.append if self._sender is not None else self._start_and_append
            child = make_child(handle, append)
            self._next_series += 1
            self._children.append((child, queue))
            self._outbox.shapes.series[handle] = family
            self._series_specs[handle] = (family, values)
            self._outbox.declare("series", handle, data)
            children[values] = child
            return child

    def _remove_series(self, child: Any) -> None:
        """Metric.remove(): local mode hides the series; a daemon keeps it (no removal op)."""
        _functions.unregister((child,))
        if self._local is not None:
            self._local.remove(child._handle)

    def _restore_series(self, child: Any) -> None:
        """labels() after remove(): the series is back, from zero in local mode."""
        if self._local is not None:
            self._local.restore(child._handle)

    # --- internals ----------------------------------------------------------------------------

    def _start_and_append(self, record: bytes) -> None:
        """The first op in a process starts the sender; then children append directly."""
        self._check_fork()
        if self._local is not None and not self._closed:
            self._local.record(record)
        elif _in_uwsgi_master():
            self._outbox.queue.append(record)
            self._deliver_inline(1.0)
        elif self._ensure_sender():
            # Which queue: the record's series handle says (bytes 4..8, little endian).
            handle = int.from_bytes(record[4:8], "little")
            if self._outbox.shapes.series.get(handle) in self._tracked_families:
                self._outbox.gauge_queue.append(record)
            else:
                self._outbox.queue.append(record)
        else:
            self._status.count_dropped(1)

    def _deliver_inline(self, timeout: float) -> bool:
        """Send what is queued and wait for the ACK on this thread, with no sender thread:
        for uWSGI's master before it forks its workers (_in_uwsgi_master).

        A thread running in that master may hold the GIL at the instant uWSGI forks from C;
        the worker then waits for it forever (uWSGI calls no PyOS_AfterFork_Child by default).
        The master makes ops only while it loads the app (a boot-time gauge, say), so one short
        connection per op costs little. What cannot be delivered is spooled, as at exit.
        """
        with self._lock:
            sender = Sender(self._outbox, self._status)
            token = self._status.expect_ack()
            self._outbox.request_sync(token)
            ok = sender.run_inline(time.monotonic() + timeout)
            ok = self._status.wait_ack(token, 0.0) and ok
            if not ok:
                self._spool_unsent(sender)
            sender.stop()
        return ok

    def _ensure_sender(self) -> bool:
        if self._sender is not None:
            return True
        with self._lock:
            if self._sender is None:
                if self._closed or self._local is not None:
                    return False
                sender = Sender(self._outbox, self._status)
                try:
                    sender.start()
                except RuntimeError:  # e.g. "can't create new thread at interpreter shutdown"
                    sender.stop()
                    return False
                self._sender = sender
                for child, queue in self._children:
                    child._append = queue.append
            _functions.ensure_thread()  # a new process (fork without hooks) needs its own
        return True

    # --- fork safety --------------------------------------------------------------------------

    def _before_fork(self) -> None:
        # No half-made registration, and no socket the child cannot see, is copied into it.
        self._lock.acquire()
        self._fork_sender = self._sender
        if self._fork_sender is not None:
            self._fork_sender.before_fork()

    def _after_fork_parent(self) -> None:
        if self._fork_sender is not None:
            self._fork_sender.after_fork_parent()
        self._fork_sender = None
        self._lock.release()

    def _after_fork_child(self, discard: bool = True) -> None:
        """The child discards the parent's queue and connection; it connects on first use.

        ``discard``: False when the fork was noticed late (see _check_fork): the queue then
        holds the child's own ops, which only this process can send.
        """
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if discard:
            self._outbox.discard_after_fork()  # the parent sends these; sent here too, they double
        self._status.after_fork_child()
        sender, self._sender, self._fork_sender = self._sender, None, None
        if sender is not None:
            sender.abandon_after_fork()
        for child, _ in self._children:
            child._append = self._start_and_append

    def _check_fork(self) -> None:
        """Notice a fork that ran none of Python's fork hooks (a C fork(): uWSGI's workers
        without --py-call-osafterfork, embedding servers); then act as os.fork's hook would.

        Not on the op path: checking the pid per op would double inc()'s cost. It runs where a
        process passes anyway: declarations, labels() for a new series, flush, close, the exit
        flush, and the garbage collector's callback (_check_forks_on_gc), which any process
        that allocates runs every few hundred allocations. What the child queued before it is
        noticed is its own, except ops its parent queued in its last flush interval before the
        fork (the parent sends those too): a pre-fork server's master makes no ops, so there
        are none; uWSGI's post_fork_hook (_hook_uwsgi) notices the fork before any op.
        """
        if self._pid != os.getpid():
            self._after_fork_child(discard=False)


_locked_at_fork: List[Client] = []
_uwsgi: Any = None  # the uwsgi module when running inside uWSGI (_hook_uwsgi)


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


def _after_c_fork_child() -> None:
    """A fork noticed right after it happened, before the child ran any op (uWSGI's hook)."""
    for client in list(_live_clients):
        if client._pid != os.getpid():
            client._after_fork_child()


def _check_forks_on_gc(phase: str, info: Dict[str, int]) -> None:
    if phase == "start":
        for client in list(_live_clients):
            client._check_fork()


def _in_uwsgi_master() -> bool:
    """True in uWSGI's master process (or a single-process uWSGI before it serves)."""
    return _uwsgi is not None and _uwsgi.worker_id() == 0


def _hook_uwsgi() -> None:
    """Under uWSGI, run _after_c_fork_child from its post-fork hook.

    uWSGI forks its workers from C after loading the app in the master (its default mode), so
    os.register_at_fork's hooks never run (unless --py-call-osafterfork). It calls
    ``uwsgi.post_fork_hook`` in each new worker before the first request: chain onto it (or onto
    uwsgidecorators' postfork list, which replaces that attribute when imported).
    """
    global _uwsgi
    try:
        import uwsgi  # type: ignore[import-not-found]  # only exists inside uWSGI
    except ImportError:
        return
    _uwsgi = uwsgi
    decorators = sys.modules.get("uwsgidecorators")
    if decorators is not None and hasattr(decorators, "postfork_chain"):
        decorators.postfork_chain.append(_after_c_fork_child)
        return
    previous = getattr(uwsgi, "post_fork_hook", None)

    def post_fork_hook() -> None:
        _after_c_fork_child()
        if previous is not None:
            previous()
    uwsgi.post_fork_hook = post_fork_hook


def _flush_at_exit() -> None:
    """Short-lived scripts: give the last ops a second to reach the daemon; what cannot be
    delivered is spooled for the daemon to read back (close())."""
    for client in list(_live_clients):
        if not client._closed:
            client._check_fork()
            if client._sender is not None:
                client.close(1.0)


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                    after_in_child=_after_fork_child)
gc.callbacks.append(_check_forks_on_gc)
_hook_uwsgi()
atexit.register(_flush_at_exit)
