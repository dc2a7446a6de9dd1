"""What a Client reports to the application: counters, errors, connection, flush results.

Written by the sender (and by the Client for its own problems), read by any thread; flush()
waits here for its SYNC's fate.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Dict, Optional, Sequence

_MAX_LOGGED_MESSAGES = 1000

log = logging.getLogger("metricsd")


class Status:
    """Thread-safe where it matters: the flush results (tokens handed out and their outcome)
    are guarded by one condition variable. The counters are plain ints updated without a lock,
    as before the split: reads are safe under the GIL, and a rare lost update between two
    writers is tolerable in a count of problems."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.reset()

    def reset(self) -> None:
        """Start afresh (a forked child is a new worker)."""
        self._waiting: Dict[int, Optional[bool]] = {}
        self._next_token = 1
        self.dropped = 0
        self.errors = 0
        self.last_error: Optional[str] = None
        self._logged: set = set()
        self.connected = False

    def after_fork_child(self) -> None:
        """The parent's condition variable may have been held by a thread that is gone."""
        self._cond = threading.Condition()
        self.reset()

    # --- flush() ----------------------------------------------------------------------------------

    def expect_ack(self) -> int:
        """A new SYNC token whose outcome wait_ack() can wait for."""
        with self._cond:
            token = self._next_token
            self._next_token += 1
            self._waiting[token] = None
            return token

    def wait_ack(self, token: int, timeout: float) -> bool:
        """True once the daemon ACKed token; False if it failed or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting[token] is None:  # finish_syncs sets True (ACK) or False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    del self._waiting[token]
                    return False
                self._cond.wait(remaining)
            return bool(self._waiting.pop(token))

    def finish_syncs(self, tokens: Sequence[int], ok: bool) -> None:
        """The SYNCs with these tokens were ACKed (ok) or will never be."""
        if not tokens:
            return
        with self._cond:
            for token in tokens:
                if token in self._waiting:
                    self._waiting[token] = ok
            self._cond.notify_all()

    # --- reports ----------------------------------------------------------------------------------

    def count_dropped(self, count: int) -> None:
        self.dropped += count

    def set_connected(self, connected: bool) -> None:
        self.connected = connected

    def note_connect_failure(self, path: str, error: BaseException) -> None:
        # Logged once per distinct message: the daemon may be down for a long while.
        self.note_error(f"client: cannot connect to {path}: {error}")

    def note_error(self, text: str) -> None:
        """Count and keep a problem; log each distinct message once, at warning level."""
        self.errors += 1
        self.last_error = text
        if text not in self._logged and len(self._logged) < _MAX_LOGGED_MESSAGES:
            self._logged.add(text)
            log.warning("metricsd: %s", text)
