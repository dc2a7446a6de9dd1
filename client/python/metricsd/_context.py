"""Helpers that are both context managers and decorators (timers, in-progress tracking)."""
from __future__ import annotations

import functools
import time
from typing import Any, Callable, Optional


class Timer:
    """Context manager and decorator that reports elapsed seconds to ``callback``."""

    def __init__(self, callback: Callable[[float], None]) -> None:
        self._callback = callback
        self._start = 0.0

    def __enter__(self) -> "Timer":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._callback(max(time.perf_counter() - self._start, 0.0))

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with Timer(self._callback):  # a fresh timer per call: calls may overlap
                return func(*args, **kwargs)
        return wrapped


class Around:
    """Context manager and decorator running ``enter()`` before and ``leave(exc_type)`` after."""

    def __init__(self, enter: Callable[[], None], leave: Callable[[Optional[type]], None]) -> None:
        self._enter, self._leave = enter, leave

    def __enter__(self) -> None:
        self._enter()

    def __exit__(self, exc_type: Optional[type], *rest: Any) -> None:
        self._leave(exc_type)

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)
        return wrapped
