"""Gauge.set_function: the functions, and the thread that evaluates them on a cadence.

prometheus_client calls a gauge's function when it is scraped; here the scrape happens in the
daemon, so each process evaluates its functions itself: every ``interval`` seconds on one
background thread (started by the first ``set_function``, restarted in a forked child), at
every ``flush()``, and at every read in local mode. Each result is sent as a ``set`` on the
gauge, so the gauge's mode combines the processes' values as it does for ``set()``.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, List, Optional, Tuple

DEFAULT_INTERVAL = 1.0

_log = logging.getLogger("metricsd")
_lock = threading.Lock()
_functions: List[Tuple[Any, Callable[[], Any]]] = []  # (gauge child, function)
_failed: set = set()            # ids of functions whose error was logged already
_interval = DEFAULT_INTERVAL
_wake = threading.Event()
_thread: Optional[threading.Thread] = None
_thread_pid = 0


def register(child: Any, f: Callable[[], Any]) -> None:
    """Evaluate ``f`` for ``child`` from now on (replacing an earlier function of the child)."""
    if not callable(f):
        raise TypeError(f"set_function needs a callable, not {f!r}")
    with _lock:
        _functions[:] = [(c, g) for c, g in _functions if c is not child]
        _functions.append((child, f))
    _evaluate(child, f)
    ensure_thread()


def unregister(children: Any) -> None:
    """Stop evaluating the functions of these children (removed, or their client closed)."""
    gone = {id(child) for child in children}
    with _lock:
        _functions[:] = [(c, f) for c, f in _functions if id(c) not in gone]


def set_interval(seconds: float) -> None:
    """How often the thread evaluates every function (seconds, > 0)."""
    global _interval
    if not 0 < seconds <= 3600:
        raise ValueError(f"function_interval must be in (0, 3600] seconds, not {seconds!r}")
    _interval = float(seconds)
    _wake.set()


def evaluate_all() -> None:
    """Evaluate every function now (flush() and local-mode reads call this)."""
    with _lock:
        functions = list(_functions)
    for child, f in functions:
        _evaluate(child, f)


def _evaluate(child: Any, f: Callable[[], Any]) -> None:
    try:
        value = float(f())
    except Exception as e:  # the application's code: report once, keep the others going
        if id(f) not in _failed:
            _failed.add(id(f))
            _log.error("metricsd: set_function %r raised %r; the gauge keeps its last value", f, e)
        return
    child.set(value)


def _run() -> None:
    while True:
        _wake.wait(_interval)
        _wake.clear()
        evaluate_all()


def ensure_thread() -> None:
    """Start this process's thread if functions are registered and it has none: after a fork
    that ran no Python hook (uWSGI forks from C), the client calls this when it starts its
    sender in the new process."""
    global _thread, _thread_pid
    with _lock:
        if not _functions or (_thread is not None and _thread_pid == os.getpid()):
            return
        thread = threading.Thread(target=_run, name="metricsd-functions", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutdown: flush() still evaluates
            return
        _thread, _thread_pid = thread, os.getpid()


def _after_fork_child() -> None:
    """The parent's thread does not exist in the child: start the child's own."""
    global _lock, _thread
    _lock = threading.Lock()  # may have been held by a parent thread at fork time
    _thread = None
    ensure_thread()


os.register_at_fork(after_in_child=_after_fork_child)
