"""Counter, Gauge, Histogram and Summary, shaped like prometheus_client's classes.

A metric declares its family on its Client; ``labels(...)`` returns a child bound to one series.
A child's op methods are the hot path: they append a pre-packed (or packed-on-the-spot) 16-byte
op record to the client's queue and return. They never block and never raise on IO.
"""
from __future__ import annotations

import math
import struct
import time
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple, Type, Union

from . import _functions, _protocol as p
from ._context import Around, Timer

_INF = math.inf
_pack = p.RECORD.pack
_pack_value = struct.Struct("<d").pack


def _head(op: int, handle: int) -> bytes:
    """A record's first 8 bytes (op, reserved, series handle); the value's 8 bytes follow."""
    return _pack(op, handle, 0.0)[:8]


Number = Union[int, float]
ExceptionTypes = Union[Type[BaseException], Tuple[Type[BaseException], ...]]
Exemplar = Optional[Dict[str, str]]


def _check_exemplar(exemplar: Dict[str, str]) -> None:
    """prometheus_client's checks on an exemplar's labels; the exemplar itself is not sent
    (the protocol has no field for it: see the migration guide in README.md)."""
    runes = 0
    for name, value in exemplar.items():
        if not p._LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"Invalid label metric name: {name}")
        runes += len(name) + len(value)
    if runes > 128:
        raise ValueError(f"Exemplar labels have {runes} UTF-8 characters, exceeding the limit "
                         "of 128")

# prometheus_client's Histogram.DEFAULT_BUCKETS (without the implicit +Inf), with the whole
# numbers written as ints: a bound's text is str(bound), and pytheus's default buckets hold
# 1, 5 and 10 as ints, so both clients write the Redis keys "x:1", "x:5", "x:10".
DEFAULT_BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10)


def _bound_text(bound: Union[float, str]) -> str:
    """The text pytheus writes for a bound: str() of what the caller gave ("1", "1.0", "1e-05").

    A text the daemon would refuse (a bool's "True", a 70-digit int) falls back to the float's
    str(): the bound keeps its value, and no other client could have written that text anyway.
    """
    text = bound if isinstance(bound, str) else str(bound)
    try:
        p.check_buckets("histogram", (text,))
    except ValueError:
        return str(float(bound))
    return text


def _default_client() -> Any:
    from . import default_client  # late import: the package creates the default instance
    return default_client()


# --- children: one series each; the hot path ---------------------------------------------------

class CounterChild:
    """A counter's series (what ``Counter.labels(...)`` returns)."""
    __slots__ = ("_handle", "_append", "_one", "_inc")  # slots: fast attributes, no __dict__

    def __init__(self, handle: int, append: Callable[[bytes], None]) -> None:
        self._handle = handle
        self._append = append
        self._one = _pack(p.OP_INC, handle, 1.0)  # the common inc() needs no packing at all
        self._inc = _head(p.OP_INC, handle)

    def inc(self, amount: Number = 1, exemplar: Exemplar = None) -> None:
        """Increment by ``amount`` (finite, >= 0). ``exemplar`` is checked, not sent."""
        if amount == 1 and exemplar is None:
            self._append(self._one)
        elif 0 <= amount < _INF:
            if exemplar:
                _check_exemplar(exemplar)
            self._append(self._inc + _pack_value(amount))
        else:
            raise ValueError("Counters can only be incremented by non-negative amounts.")

    def count_exceptions(self, exception: ExceptionTypes = Exception) -> Around:
        """Count exceptions of the given type(s) raised in a block or function (not swallowed)."""
        def leave(exc_type: Optional[type]) -> None:
            if exc_type is not None and issubclass(exc_type, exception):
                self.inc()
        return Around(lambda: None, leave)


class GaugeChild:
    """A gauge's series (what ``Gauge.labels(...)`` returns)."""
    __slots__ = ("_handle", "_append", "_inc_one", "_dec_one", "_inc", "_dec", "_set")

    def __init__(self, handle: int, append: Callable[[bytes], None]) -> None:
        self._handle = handle
        self._append = append
        self._inc_one = _pack(p.OP_INC, handle, 1.0)
        self._dec_one = _pack(p.OP_DEC, handle, 1.0)
        self._inc = _head(p.OP_INC, handle)
        self._dec = _head(p.OP_DEC, handle)
        self._set = _head(p.OP_SET, handle)

    def inc(self, amount: Number = 1) -> None:
        """Add ``amount`` (finite; may be negative)."""
        if amount == 1:
            self._append(self._inc_one)
        elif -_INF < amount < _INF:
            self._append(self._inc + _pack_value(amount))
        else:
            raise ValueError(f"Gauge increments must be finite, not {amount!r}")

    def dec(self, amount: Number = 1) -> None:
        """Subtract ``amount`` (finite; may be negative)."""
        if amount == 1:
            self._append(self._dec_one)
        elif -_INF < amount < _INF:
            self._append(self._dec + _pack_value(amount))
        else:
            raise ValueError(f"Gauge decrements must be finite, not {amount!r}")

    def set(self, value: Number) -> None:
        """Set to ``value`` (any float, NaN and infinities included)."""
        self._append(self._set + _pack_value(float(value)))

    def set_to_current_time(self) -> None:
        """Set to the current Unix time in seconds."""
        self._append(self._set + _pack_value(time.time()))

    def track_inprogress(self) -> Around:
        """inc() on entry, dec() on exit; a context manager and a decorator."""
        return Around(self.inc, lambda exc_type: self.dec())

    def time(self) -> Timer:
        """Set to the duration, in seconds, of a block or function call."""
        return Timer(self.set)

    def set_function(self, f: Callable[[], Number]) -> None:
        """Set the gauge to ``f()`` every second (``Client.function_interval``), at every
        ``flush()`` and, in local mode, at every read; ``f`` runs on a background thread."""
        _functions.register(self, f)


class ObserveChild:
    """A histogram's or summary's series: the daemon does the bucketing."""
    __slots__ = ("_handle", "_append", "_observe")

    def __init__(self, handle: int, append: Callable[[bytes], None]) -> None:
        self._handle = handle
        self._append = append
        self._observe = _head(p.OP_OBSERVE, handle)

    def observe(self, amount: Number, exemplar: Exemplar = None) -> None:
        """Record one observation (any float but NaN). ``exemplar`` is checked, not sent."""
        if amount != amount:
            raise ValueError("Cannot observe NaN")
        if exemplar:
            _check_exemplar(exemplar)
        self._append(self._observe + _pack_value(amount))

    def time(self) -> Timer:
        """Observe the duration, in seconds, of a block or function call."""
        return Timer(self.observe)


# --- metrics (families) -------------------------------------------------------------------------

def label_values(metric: Any, labelnames: Tuple[str, ...], labelvalues: Sequence[Any],
                 labelkwargs: Dict[str, Any]) -> Tuple[str, ...]:
    """The label values of a labels()/remove() call as strings, checked as prometheus_client
    checks them."""
    if not labelnames:
        raise ValueError(f"No label names were set when constructing {metric!r}")
    if labelvalues and labelkwargs:
        raise ValueError("Can't pass both *args and **kwargs")
    if labelkwargs:
        if sorted(labelkwargs) != sorted(labelnames):
            raise ValueError("Incorrect label names")
        return tuple(str(labelkwargs[name]) for name in labelnames)
    if len(labelvalues) != len(labelnames):
        raise ValueError(f"Incorrect label count (expected {len(labelnames)}, "
                         f"got {tuple(labelvalues)!r})")
    return tuple(str(value) for value in labelvalues)


class _Metric:
    _type = ""
    _hot_methods: Tuple[str, ...] = ()
    _child_class: Callable[[int, Callable[[bytes], None]], Any]

    def __init__(self, name: str, documentation: str = "", labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = None, client: Any = None) -> None:
        # ``registry`` is accepted for prometheus_client's signature and not used: every metric
        # belongs to its client (the default one unless ``client=`` says otherwise).
        full_name = "_".join(part for part in (namespace, subsystem, name) if part)
        if unit and not full_name.endswith("_" + unit):
            full_name += "_" + unit
        p.check_metric_name(full_name)
        if self._type == "counter" and not full_name.endswith("_total"):
            full_name += "_total"  # what prometheus_client exports for a counter named so
            p.check_metric_name(full_name)
        if isinstance(labelnames, str):
            labelnames = (labelnames,)
        self._labelnames = tuple(labelnames)
        p.check_label_names(self._labelnames, per_pid=self._gauge_mode() in ("all", "liveall"))
        p.encode_str(documentation, p.MAX_HELP_LENGTH)  # ValueError if too long
        self._name = full_name
        self._client = client if client is not None else _default_client()
        self._family = self._client._declare_family(self._type, self._gauge_mode(), full_name,
                                                    documentation, self._labelnames,
                                                    self._bucket_texts())
        self._children: Dict[Tuple[str, ...], Any] = {}  # label values -> child
        self._removed: Dict[Tuple[str, ...], Any] = {}   # children taken out by remove()
        if not self._labelnames:
            self._only = self._child(())
            # The child's hot methods become this metric's own: instance attributes shadow
            # the class's (raising) methods, so c.inc() costs what child.inc() costs.
            for method in self._hot_methods:
                setattr(self, method, getattr(self._only, method))

    def _gauge_mode(self) -> str:
        return "livesum"

    def _bucket_texts(self) -> Sequence[str]:
        return ()

    def _child(self, values: Tuple[str, ...]) -> Any:
        removed = self._removed.pop(values, None)
        if removed is not None:
            # The series handle stays bound on the connection; it comes back from zero.
            self._client._restore_series(removed)
            self._children[values] = removed
            return removed
        for value in values:
            p.encode_str(value, p.MAX_LABEL_VALUE_LENGTH)  # ValueError: too long or bad UTF-8
        return self._client._declare_series(self._family, values, self._child_class,
                                            self._children)

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Any:
        """The child for one set of label values, given by position or by name."""
        # Inline, not label_values(): apps call labels() per request; a call costs ~50 ns.
        if labelkwargs or len(labelvalues) != len(self._labelnames) or not self._labelnames:
            values = label_values(self, self._labelnames, labelvalues, labelkwargs)
        else:
            values = tuple(str(value) for value in labelvalues)
        child = self._children.get(values)
        return child if child is not None else self._child(values)

    def remove(self, *labelvalues: Any) -> None:
        """Take one set of label values out, as prometheus_client does.

        In local mode the series leaves ``get_sample_value`` and comes back from zero at the
        next ``labels()``. With a daemon, the series stays in /metrics (as in prometheus_client's
        multiprocess mode): the protocol has no removal, other workers may hold the series;
        ``series_ttl`` drops a series that receives no op for that long.
        """
        values = label_values(self, self._labelnames, labelvalues, {})
        child = self._children.pop(values, None)
        if child is None:
            raise KeyError(values)  # prometheus_client: del on its dict
        self._removed[values] = child
        self._client._remove_series(child)

    def clear(self) -> None:
        """remove() every set of label values."""
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self!r}")
        for values in list(self._children):
            self.remove(*values)

    def _unlabelled(self) -> Any:
        if self._labelnames:
            raise ValueError(f"{self._type} metric is missing label values")
        return self._only

    def __repr__(self) -> str:
        return f"metricsd.{type(self).__name__}({self._name})"


class Counter(_Metric):
    """A monotonically increasing count; the exported name always ends in ``_total``."""
    _type = "counter"
    _child_class = CounterChild
    _hot_methods = ("inc",)

    def inc(self, amount: Number = 1, exemplar: Exemplar = None) -> None:
        self._unlabelled().inc(amount, exemplar)

    def count_exceptions(self, exception: Any = Exception) -> Around:
        return self._unlabelled().count_exceptions(exception)


class Gauge(_Metric):
    """A value that goes up and down; ``multiprocess_mode`` says how workers combine."""
    _type = "gauge"
    _child_class = GaugeChild
    _hot_methods = ("inc", "dec", "set")

    def __init__(self, name: str, documentation: str = "", labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = None, multiprocess_mode: str = "livesum",
                 client: Any = None) -> None:
        if multiprocess_mode not in p.GAUGE_MODES:
            raise ValueError(f"Invalid multiprocess mode: {multiprocess_mode}")
        self._mode = multiprocess_mode
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry,
                         client)

    def _gauge_mode(self) -> str:
        return self._mode

    def inc(self, amount: Number = 1) -> None:
        self._unlabelled().inc(amount)

    def dec(self, amount: Number = 1) -> None:
        self._unlabelled().dec(amount)

    def set(self, value: Number) -> None:
        self._unlabelled().set(value)

    def set_to_current_time(self) -> None:
        self._unlabelled().set_to_current_time()

    def set_function(self, f: Callable[[], Number]) -> None:
        self._unlabelled().set_function(f)

    def track_inprogress(self) -> Around:
        return self._unlabelled().track_inprogress()

    def time(self) -> Timer:
        return self._unlabelled().time()


class _Observed(_Metric):
    _child_class = ObserveChild
    _hot_methods = ("observe",)

    def observe(self, amount: Number, exemplar: Exemplar = None) -> None:
        self._unlabelled().observe(amount, exemplar)

    def time(self) -> Timer:
        return self._unlabelled().time()


class Summary(_Observed):
    """Observations summed and counted (``_sum``, ``_count``); no quantiles."""
    _type = "summary"


class Histogram(_Observed):
    """Observations counted in cumulative buckets, plus ``_sum`` and ``_count``."""
    _type = "histogram"

    def __init__(self, name: str, documentation: str = "", labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = None,
                 buckets: Sequence[Union[float, str]] = DEFAULT_BUCKETS,
                 client: Any = None) -> None:
        given = list(buckets)
        bounds = [float(b) for b in given]
        if bounds and bounds[-1] == _INF:
            bounds.pop()  # +Inf is implicit
            given.pop()
        if not bounds:
            raise ValueError("Must have at least one finite bucket bound")
        if len(bounds) > p.MAX_BUCKETS:
            raise ValueError(f"At most {p.MAX_BUCKETS} buckets are allowed")
        if not all(math.isfinite(b) for b in bounds):
            raise ValueError("Bucket bounds must be finite (+Inf only as the last one)")
        if any(a >= b for a, b in zip(bounds, bounds[1:])):
            raise ValueError("Buckets not in sorted order")
        self._buckets = tuple(_bound_text(b) for b in given)
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry,
                         client)

    def _bucket_texts(self) -> Sequence[str]:
        return self._buckets
