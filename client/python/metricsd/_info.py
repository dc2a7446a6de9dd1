"""Info: key-value pairs exported as ``<name>_info{key="value",...} 1``, as prometheus_client's.

A gauge family ``<name>_info`` whose label names are the metric's label names followed by the
keys of the first ``info()`` call: the protocol declares a family's label names once, so later
calls must use the same keys (any values). A new set of values replaces the old one in this
process: in local mode the old series goes; with a daemon it is set to 0 (the protocol has no
removal). The default mode, ``livemax``, shows a set of values as 1 while any live process holds
it, so after a deploy only the running version's info is 1; prometheus_client does not support
Info in multiprocess mode at all.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Tuple

from . import _protocol as p
from ._metrics import Gauge, label_values


class InfoChild:
    """One set of label values of an Info (what ``Info.labels(...)`` returns)."""

    def __init__(self, info: "Info", values: Tuple[str, ...]) -> None:
        self._info = info
        self._values = values
        self._current: Optional[Tuple[str, ...]] = None  # the info values now set

    def info(self, val: Dict[str, str]) -> None:
        """Set the key-value pairs."""
        info = self._info
        overlap = set(info._labelnames).intersection(val)
        if overlap:
            raise ValueError(f"Overlapping labels for Info metric, metric: {info._labelnames} "
                             f"child: {val}")
        gauge = info._gauge_for(tuple(val))
        new = tuple(str(val[k]) for k in info._keys)  # type: ignore[union-attr]
        if new == self._current:
            return
        gauge.labels(*self._values, *new).set(1)
        if self._current is not None:
            old = self._values + self._current
            gauge.labels(*old).set(0)
            if gauge._client.local():
                gauge.remove(*old)
        self._current = new


class Info:
    """prometheus_client's Info: ``Info(name, doc, labelnames).info({...})``."""

    def __init__(self, name: str, documentation: str = "", labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = None, multiprocess_mode: str = "livemax",
                 client: Any = None) -> None:
        if isinstance(labelnames, str):
            labelnames = (labelnames,)
        self._labelnames = tuple(labelnames)
        self._name = "_".join(part for part in (namespace, subsystem, name) if part) + "_info"
        if unit:
            raise ValueError(f"Metric name is of a type that cannot have a unit: {self._name}")
        # Checked now, declared at the first info() (its keys are label names).
        p.check_metric_name(self._name)
        p.check_label_names(self._labelnames)
        p.check_help(documentation)
        self._declaration = (documentation, registry, multiprocess_mode, client)
        self._gauge: Optional[Gauge] = None
        self._keys: Optional[Tuple[str, ...]] = None
        self._children: Dict[Tuple[str, ...], InfoChild] = {}
        if not self._labelnames:
            self._only = InfoChild(self, ())

    def _gauge_for(self, keys: Tuple[str, ...]) -> Gauge:
        if self._gauge is None:
            documentation, registry, mode, client = self._declaration
            self._gauge = Gauge(self._name, documentation, self._labelnames + keys,
                                registry=registry, multiprocess_mode=mode, client=client)
            self._keys = keys
        elif sorted(keys) != sorted(self._keys or ()):
            raise ValueError(f"Info {self._name}: the keys must stay {list(self._keys or ())} "
                             f"(metricsd declares a family's label names once), not {list(keys)}")
        return self._gauge

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> InfoChild:
        """The child for one set of label values, by position or by name."""
        values = label_values(self, self._labelnames, labelvalues, labelkwargs)
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = InfoChild(self, values)
        return child

    def info(self, val: Dict[str, str]) -> None:
        if self._labelnames:
            raise ValueError("info metric is missing label values")
        self._only.info(val)

    def __repr__(self) -> str:
        return f"metricsd.Info({self._name})"
