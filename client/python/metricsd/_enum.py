"""Enum: which of a set of states is true, as prometheus_client's Enum.

A gauge family named like the metric, with one more label (the metric's own name) whose value
is the state: the current state's series is 1, the others 0, as prometheus_client exposes it.
The default mode, ``livemostrecent``, shows the state most recently set by a live process: every
state() writes all the states' series, so exactly one is 1, and a preforking server's master,
which set the first state at import, is overruled by its workers' later state() calls.
prometheus_client does not support Enum in multiprocess mode at all.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Sequence, Tuple

from ._metrics import Gauge, _Metric, label_values


class EnumChild:
    """One set of label values of an Enum (what ``Enum.labels(...)`` returns)."""

    def __init__(self, states: Sequence[Any], gauges: Sequence[Any]) -> None:
        self._states = states
        self._gauges = gauges
        self._index = 0
        self._set()  # the first state is the default, as in prometheus_client

    def state(self, state: str) -> None:
        """Set the current state (one of the Enum's ``states``)."""
        self._index = self._states.index(state)  # ValueError for an unknown state
        self._set()

    def _set(self) -> None:
        for i, gauge in enumerate(self._gauges):
            gauge.set(1 if i == self._index else 0)


class Enum:
    """prometheus_client's Enum: ``Enum(name, doc, labelnames, states=[...]).state(s)``."""

    def __init__(self, name: str, documentation: str = "", labelnames: Iterable[str] = (),
                 namespace: str = "", subsystem: str = "", unit: str = "",
                 registry: Any = None, states: Sequence[str] = (),
                 multiprocess_mode: str = "livemostrecent", client: Any = None) -> None:
        if isinstance(labelnames, str):
            labelnames = (labelnames,)
        labelnames = tuple(labelnames)
        full_name = "_".join(part for part in (namespace, subsystem, name) if part)
        if unit:
            raise ValueError(f"Metric name is of a type that cannot have a unit: {full_name}")
        if name in labelnames:
            raise ValueError(f"Overlapping labels for Enum metric: {name}")
        if not states:
            raise ValueError(f"No states provided for Enum metric: {name}")
        self._states = list(states)
        self._gauge = Gauge(full_name, documentation, labelnames + (full_name,),
                            registry=registry, multiprocess_mode=multiprocess_mode, client=client)
        self._labelnames = labelnames
        self._children: Dict[Tuple[str, ...], EnumChild] = {}
        if not labelnames:
            self._only = self._child(())

    def _child(self, values: Tuple[str, ...]) -> EnumChild:
        child = self._children.get(values)
        if child is None:
            gauges = [self._gauge.labels(*values, str(s)) for s in self._states]
            child = self._children[values] = EnumChild(self._states, gauges)
        return child

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> EnumChild:
        """The child for one set of label values, by position or by name."""
        return self._child(label_values(self, self._labelnames, labelvalues, labelkwargs))

    def state(self, state: str) -> None:
        if self._labelnames:
            raise ValueError("enum metric is missing label values")
        self._only.state(state)

    def remove(self, *labelvalues: Any) -> None:
        values = label_values(self, self._labelnames, labelvalues, {})
        if self._children.pop(values, None) is None:
            raise KeyError(values)
        for s in self._states:
            self._gauge.remove(*values, str(s))

    clear = _Metric.clear  # remove() of every child: what it needs, Enum has

    def __repr__(self) -> str:
        return f"metricsd.Enum({self._gauge._name})"
