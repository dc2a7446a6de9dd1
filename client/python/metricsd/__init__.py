"""Python client for metricsd: prometheus_client-style metrics aggregated by a local daemon.

Worker processes (gunicorn, uwsgi, Celery, cron jobs...) create metrics as with
prometheus_client; every op is queued in-process and a background thread sends it over a Unix
socket to the metricsd daemon, which aggregates all processes and serves ``/metrics``::

    import metricsd
    metricsd.configure(socket="/run/metricsd/ingest.sock")   # optional
    requests = metricsd.Counter("http_requests_total", "Requests.", labelnames=("method", "code"))
    get_ok = requests.labels("GET", "200")
    get_ok.inc()

The module-level functions act on a default :class:`Client`; metrics accept ``client=`` to use
another one. Standard library only.
"""
from __future__ import annotations

import threading
from typing import Dict, Optional

from . import _functions
from ._client import DEFAULT_SOCKET, Client
from ._enum import Enum
from ._info import Info
from ._metrics import DEFAULT_BUCKETS, Counter, Gauge, Histogram, Summary

__all__ = [
    "Client", "Counter", "Gauge", "Histogram", "Summary", "Info", "Enum", "DEFAULT_BUCKETS",
    "DEFAULT_SOCKET", "REGISTRY", "configure", "connected", "default_client", "dropped_ops",
    "flush", "get_sample_value", "last_error",
]
__version__ = "0.1.0"

_default: Optional[Client] = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The Client used by metrics created without ``client=`` (made on first use)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Client()
    return _default


def configure(socket: Optional[str] = None, flush_interval: Optional[float] = None,
              max_buffer_ops: Optional[int] = None, spool_dir: Optional[str] = None,
              local: bool = False, function_interval: Optional[float] = None) -> Client:
    """Configure the default client; metrics declared earlier keep working.

    ``socket`` defaults to $METRICSD_SOCKET, else /run/metricsd/ingest.sock; ``flush_interval``
    (seconds, default 0.005) is how often queued ops are sent; ``max_buffer_ops`` (default
    1,000,000) bounds the ops kept while the daemon is unreachable; ``spool_dir`` (default
    $METRICSD_SPOOL_DIR, else the socket path + ".spool") is where ops not delivered by exit go.
    ``local=True`` switches to local mode for tests (nothing sent; read values with
    ``get_sample_value``). ``function_interval`` (seconds, default 1) is how often
    ``Gauge.set_function`` functions are evaluated, in every client.
    """
    client = default_client()
    client.configure(socket=socket, flush_interval=flush_interval, max_buffer_ops=max_buffer_ops,
                     spool_dir=spool_dir)
    if function_interval is not None:
        _functions.set_interval(function_interval)
    if local:
        client.use_local()
    return client


def get_sample_value(name: str, labels: Optional[Dict[str, str]] = None) -> Optional[float]:
    """In local mode, a sample of the default client as prometheus_client's REGISTRY gives it."""
    return default_client().get_sample_value(name, labels)


class _Registry:
    """``metricsd.REGISTRY``: where prometheus_client tests call ``get_sample_value``."""

    def get_sample_value(self, name: str,
                         labels: Optional[Dict[str, str]] = None) -> Optional[float]:
        return get_sample_value(name, labels)

    def __repr__(self) -> str:
        return "metricsd.REGISTRY"


REGISTRY = _Registry()


def flush(timeout: float = 5.0) -> bool:
    """Send everything queued and wait until the daemon applied it; False on timeout/no daemon."""
    return default_client().flush(timeout)


def dropped_ops() -> int:
    """Ops the default client had to discard because its buffer was full."""
    return default_client().dropped_ops()


def last_error() -> Optional[str]:
    """The default client's latest problem ("code: message"), or None."""
    return default_client().last_error()


def connected() -> bool:
    """Whether the default client is connected to the daemon right now."""
    return default_client().connected()
