"""metricsd wire protocol v1: pure encoders and an incremental decoder (no sockets).

The byte layouts are specified in ``protocol/PROTOCOL.md``; ``protocol/test_vectors.json`` pins
every byte and ``tests/test_vectors.py`` checks this module against it.
"""
from __future__ import annotations

import math
import re
import struct
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

VERSION = 1

# Enumerations, by their lower-case protocol names.
METRIC_TYPES = {"counter": 1, "gauge": 2, "histogram": 3, "summary": 4}
GAUGE_MODES = {
    name: value
    for value, name in enumerate(
        "livesum sum max min mostrecent all liveall livemax livemin livemostrecent shared".split())
}
OPS = {"inc": 1, "dec": 2, "set": 3, "observe": 4}
OP_INC, OP_DEC, OP_SET, OP_OBSERVE = 1, 2, 3, 4

FRAME_DECLARE_FAMILY, FRAME_DECLARE_SERIES, FRAME_OPS, FRAME_SYNC, FRAME_FOLD = 1, 2, 3, 4, 5
FRAME_CLIENT_STATS = 6
# WELCOME's version field is the daemon's revision of version 1; CLIENT_STATS needs 2 (an
# older daemon would answer unknown_frame_type).
CLIENT_STATS_REVISION = 2
FRAME_WELCOME, FRAME_ACK, FRAME_ERROR = 0x81, 0x82, 0x83

ERROR_CODES = dict(
    bad_magic=1, unsupported_version=2, bad_handshake=3, frame_too_large=4, bad_frame_header=5,
    handshake_timeout=6, idle_timeout=7, connection_memory_limit=8, peer_not_allowed=9,
    unknown_frame_type=16, malformed_frame=17, string_too_long=18, invalid_metric_type=19,
    invalid_gauge_mode=20, too_many_labels=21, too_many_buckets=22, handle_out_of_range=23,
    invalid_metric_name=32, invalid_label_name=33, invalid_label_value=34, invalid_buckets=35,
    family_conflict=36, name_collision=37, handle_conflict=38, unknown_family=39,
    label_count_mismatch=40, family_series_limit=41, total_series_limit=42,
    family_not_permitted=43, peer_family_quota=44, peer_series_quota=45,
    unknown_series=48, invalid_op=49, invalid_value=50, too_many_connections=64,
    shutting_down=65, internal=66)
ERROR_NAMES = {code: name for name, code in ERROR_CODES.items()}

# Protocol limits (section 10).
MAX_FRAME_PAYLOAD = 1048576
MAX_NAME_LENGTH = 255
MAX_HELP_LENGTH = 4096
MAX_LABEL_VALUE_LENGTH = 4096
MAX_BUCKET_TEXT_LENGTH = 64
MAX_LABELS = 32
MAX_BUCKETS = 256
MAX_ERROR_MESSAGE_LENGTH = 1024
NO_HANDLE = 0xFFFFFFFF
NO_FRAME = 0xFFFFFFFFFFFFFFFF

HEADER = struct.Struct("<IHH")          # payload length, frame type, reserved
RECORD = struct.Struct("<B3xId")        # op, 3 reserved bytes, series handle, value
RECORD_SIZE = RECORD.size               # 16
_FAMILY_FIXED = struct.Struct("<IBBHHH")
_SERIES_FIXED = struct.Struct("<IIHH")
_U16 = struct.Struct("<H")
_U64 = struct.Struct("<Q")
_WELCOME = struct.Struct("<HHIII")
_ERROR_FIXED = struct.Struct("<HHIQ")

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# A bucket bound as the daemon reads it (C++ from_chars after one optional '+'): ASCII digits,
# one sign, optional fraction and exponent. float() alone would also take "1_000", " 1", "inf".
_BUCKET_BOUND = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
RESERVED_METRIC_PREFIX = "metricsd_"
PER_PID_GAUGE_MODES = ("all", "liveall")


# --- validation: the family rules (PROTOCOL.md section 5.1) -------------------------------------
# A copy of protocol/src/family_rules.cpp, checked against the same vectors
# (protocol/test_vectors.json "family_rules", tests/test_vectors.py).

class RuleError(ValueError):
    """A declaration the daemon would refuse; ``code`` is the error code name it would send."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _utf8_length(text: str) -> int:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: not representable, so not valid UTF-8
        raise RuleError("invalid_label_value", f"Not valid UTF-8: {text[:40]!r}") from None


def check_metric_name(name: str) -> None:
    """Raise RuleError (a ValueError) unless ``name`` is a metric name the daemon accepts."""
    if not isinstance(name, str):
        raise RuleError("invalid_metric_name", f"Invalid metric name: {name!r}")
    if _utf8_length(name) > MAX_NAME_LENGTH:
        raise RuleError("string_too_long", f"Metric name longer than {MAX_NAME_LENGTH} bytes: "
                                           f"{name[:40]!r}...")
    if not _METRIC_NAME.fullmatch(name):
        raise RuleError("invalid_metric_name", f"Invalid metric name: {name!r}")
    if name.startswith(RESERVED_METRIC_PREFIX):
        raise RuleError("name_collision", f"Metric name {name!r}: the {RESERVED_METRIC_PREFIX} "
                                          "prefix is reserved for the daemon's own metrics")


def check_help(text: str) -> None:
    """Raise RuleError unless ``text`` is valid UTF-8 of at most MAX_HELP_LENGTH bytes."""
    if _utf8_length(text) > MAX_HELP_LENGTH:
        raise RuleError("string_too_long", f"Help longer than {MAX_HELP_LENGTH} bytes")


def check_gauge_mode(metric_type: str, gauge_mode: str) -> None:
    """Raise RuleError for an unknown mode, or a mode other than livesum on a non-gauge."""
    if gauge_mode not in GAUGE_MODES:
        raise RuleError("invalid_gauge_mode", f"Invalid multiprocess mode: {gauge_mode}")
    if metric_type != "gauge" and gauge_mode != "livesum":
        raise RuleError("invalid_gauge_mode", f"Gauge mode {gauge_mode} given for a "
                                              f"{metric_type}; only gauges take a mode")


def check_label_names(names: Sequence[str], per_pid: bool = False) -> None:
    """Raise RuleError for too many, or a long, bad, reserved or duplicate label name."""
    if len(names) > MAX_LABELS:
        raise RuleError("too_many_labels", f"At most {MAX_LABELS} label names are allowed")
    seen = set()
    for label in names:
        if not isinstance(label, str):
            raise RuleError("invalid_label_name", f"Invalid label metric name: {label!r}")
        if _utf8_length(label) > MAX_NAME_LENGTH:
            raise RuleError("string_too_long", f"Label name longer than {MAX_NAME_LENGTH} "
                                               f"bytes: {label[:40]!r}...")
        if not _LABEL_NAME.fullmatch(label):
            raise RuleError("invalid_label_name", f"Invalid label metric name: {label!r}")
        if label.startswith("__") or label in ("le", "quantile"):
            raise RuleError("invalid_label_name", f"Reserved label metric name: {label}")
        if per_pid and label == "pid":
            raise RuleError("invalid_label_name",
                            "Label name 'pid' is added by gauge modes 'all' and 'liveall'")
        if label in seen:
            raise RuleError("invalid_label_name", f"Duplicate label names in {tuple(names)!r}")
        seen.add(label)


def _bucket_bound(text: str) -> float:
    if _utf8_length(text) > MAX_BUCKET_TEXT_LENGTH:
        raise RuleError("string_too_long", f"Bucket bound longer than {MAX_BUCKET_TEXT_LENGTH} "
                                           f"bytes: {text[:40]!r}...")
    if not _BUCKET_BOUND.fullmatch(text):
        raise RuleError("invalid_buckets", f"Bucket bound {text!r} is not a finite number")
    value = float(text)
    mantissa = re.split("[eE]", text)[0]
    # The daemon refuses what overflows to inf and what underflows to zero (from_chars says
    # out of range); float() returns inf and 0.0 for them.
    if math.isinf(value) or (value == 0 and mantissa.strip("+-.0")):
        raise RuleError("invalid_buckets", f"Bucket bound {text!r} is out of range")
    return value


def check_buckets(metric_type: str, texts: Sequence[str]) -> List[float]:
    """Raise RuleError unless ``texts`` are bucket bounds the daemon accepts for the type;
    return their values."""
    if metric_type != "histogram":
        if texts:
            raise RuleError("too_many_buckets", "Only histograms have buckets")
        return []
    if len(texts) > MAX_BUCKETS:
        raise RuleError("too_many_buckets", f"At most {MAX_BUCKETS} buckets are allowed")
    if not texts:
        raise RuleError("invalid_buckets", "Must have at least one finite bucket bound")
    bounds: List[float] = []
    for text in texts:
        value = _bucket_bound(text)
        if bounds and value <= bounds[-1]:
            raise RuleError("invalid_buckets", "Buckets not in sorted order")
        bounds.append(value)
    return bounds


def check_family(metric_type: str, gauge_mode: str, name: str, help: str,
                 label_names: Sequence[str], buckets: Sequence[str]) -> List[float]:
    """Every family rule, in the daemon's order; returns the bucket values."""
    if metric_type not in METRIC_TYPES:
        raise RuleError("invalid_metric_type", f"Invalid metric type: {metric_type!r}")
    check_metric_name(name)
    check_help(help)
    check_gauge_mode(metric_type, gauge_mode)
    check_label_names(label_names, per_pid=metric_type == "gauge"
                      and gauge_mode in PER_PID_GAUGE_MODES)
    return check_buckets(metric_type, buckets)


# --- encoders -------------------------------------------------------------------------------

def encode_str(text: str, limit: int = 0xFFFF) -> bytes:
    """``u16`` byte length + UTF-8 bytes; ValueError beyond ``limit`` bytes or on bad text."""
    data = text.encode("utf-8")  # raises UnicodeEncodeError (a ValueError) on lone surrogates
    if len(data) > limit:
        raise ValueError(f"String longer than {limit} bytes: {text[:40]!r}...")
    return _U16.pack(len(data)) + data


def frame(frame_type: int, payload: bytes) -> bytes:
    """An 8-byte frame header followed by ``payload``."""
    return HEADER.pack(len(payload), frame_type, 0) + payload


def encode_handshake(version: int = VERSION) -> bytes:
    return b"MTRD" + struct.pack("<HH", version, 0)


def encode_declare_family(handle: int, metric_type: str, gauge_mode: str, name: str, help: str,
                          label_names: Sequence[str], buckets: Sequence[str]) -> bytes:
    payload = _FAMILY_FIXED.pack(handle, METRIC_TYPES[metric_type], GAUGE_MODES[gauge_mode],
                                 len(label_names), len(buckets), 0)
    parts = [payload, encode_str(name, MAX_NAME_LENGTH), encode_str(help, MAX_HELP_LENGTH)]
    parts += [encode_str(label, MAX_NAME_LENGTH) for label in label_names]
    parts += [encode_str(bound, MAX_BUCKET_TEXT_LENGTH) for bound in buckets]
    return frame(FRAME_DECLARE_FAMILY, b"".join(parts))


def encode_declare_series(handle: int, family: int, label_values: Sequence[str]) -> bytes:
    parts = [_SERIES_FIXED.pack(handle, family, len(label_values), 0)]
    parts += [encode_str(value, MAX_LABEL_VALUE_LENGTH) for value in label_values]
    return frame(FRAME_DECLARE_SERIES, b"".join(parts))


def encode_record(op: int, handle: int, value: float) -> bytes:
    return RECORD.pack(op, handle, value)


def ops_header(record_count: int) -> bytes:
    return HEADER.pack(record_count * RECORD_SIZE, FRAME_OPS, 0)


def encode_ops(records: Sequence[Tuple[int, int, float]]) -> bytes:
    """One OPS frame holding ``records`` given as (op code, series handle, value)."""
    return ops_header(len(records)) + b"".join(RECORD.pack(*r) for r in records)


def encode_sync(token: int) -> bytes:
    return frame(FRAME_SYNC, _U64.pack(token))


def encode_client_stats(dropped_ops: int) -> bytes:
    """CLIENT_STATS: ops dropped, cumulative over the connection (PROTOCOL.md 4.8)."""
    return frame(FRAME_CLIENT_STATS, _U64.pack(dropped_ops))


FOLD_FIXED = struct.Struct("<IHHQd")    # series handle, bucket count, reserved, count, sum


def encode_fold(handle: int, count: int, total: float, buckets: Sequence[int]) -> bytes:
    """FOLD: ``count`` observations adding up to ``total``, per bucket (not cumulative, +Inf
    last; empty for a summary). The bucket counts must add up to ``count``."""
    payload = FOLD_FIXED.pack(handle, len(buckets), 0, count, total)
    return frame(FRAME_FOLD, payload + struct.pack(f"<{len(buckets)}Q", *buckets))


# Daemon -> client encoders: the daemon's side, used by the tests (and handy for fakes).
def encode_welcome(max_frame_payload: int, max_family_handle: int, max_series_handle: int,
                   version: int = VERSION) -> bytes:
    return frame(FRAME_WELCOME, _WELCOME.pack(version, 0, max_frame_payload, max_family_handle,
                                              max_series_handle))


def encode_ack(token: int) -> bytes:
    return frame(FRAME_ACK, _U64.pack(token))


def encode_error(code: int, handle: Optional[int], frame_index: Optional[int],
                 message: str) -> bytes:
    fixed = _ERROR_FIXED.pack(code, 0, NO_HANDLE if handle is None else handle,
                              NO_FRAME if frame_index is None else frame_index)
    return frame(FRAME_ERROR, fixed + encode_str(message, MAX_ERROR_MESSAGE_LENGTH))


# --- decoder (daemon -> client) ---------------------------------------------------------------

class Welcome(NamedTuple):
    version: int
    max_frame_payload: int
    max_family_handle: int
    max_series_handle: int


class Ack(NamedTuple):
    token: int


class Error(NamedTuple):
    """An ERROR frame from the daemon. ``handle``/``frame`` are None when the daemon sent 'none'."""
    code: int
    handle: Optional[int]
    frame: Optional[int]
    message: str

    @property
    def code_name(self) -> str:
        return ERROR_NAMES.get(self.code, f"error_{self.code}")

    @property
    def fatal(self) -> bool:
        """Stream-level codes: the daemon closes the connection after sending them."""
        return 1 <= self.code <= 15 or 64 <= self.code <= 65


class DecodeError(NamedTuple):
    """Something the decoder rejected in the daemon's byte stream (not an ERROR frame)."""
    code: str
    fatal: bool
    frame: Optional[int]
    handle: Optional[int] = None


Decoded = Union[Welcome, Ack, Error, DecodeError]


class _Malformed(Exception):
    def __init__(self, code: str = "malformed_frame") -> None:
        super().__init__(code)
        self.code = code


class ClientDecoder:
    """Incremental decoder of the frames a daemon sends: feed bytes, get messages and errors.

    Results never depend on how the stream is split. After a fatal error the decoder stays
    failed and yields nothing more (the stream cannot be resynchronised).
    """

    def __init__(self, max_frame_payload: int = MAX_FRAME_PAYLOAD) -> None:
        self._buf = bytearray()
        self._max = max_frame_payload
        self._frame_index = 0
        self.failed = False

    def feed(self, data: bytes) -> List[Decoded]:
        out: List[Decoded] = []
        if self.failed:
            return out
        self._buf += data
        buf = self._buf
        pos = 0
        while len(buf) - pos >= HEADER.size:
            length, frame_type, reserved = HEADER.unpack_from(buf, pos)
            index = self._frame_index
            if reserved != 0 or length > self._max:
                out.append(DecodeError("bad_frame_header" if reserved else "frame_too_large",
                                       True, index))
                self.failed = True
                buf.clear()
                return out
            end = pos + HEADER.size + length
            if len(buf) < end:
                break
            payload = bytes(buf[pos + HEADER.size:end])
            pos = end
            self._frame_index += 1
            try:
                out.append(_decode_payload(frame_type, payload))
            except _Malformed as e:
                out.append(DecodeError(e.code, False, index))
        del buf[:pos]
        return out


def _decode_payload(frame_type: int, payload: bytes) -> Decoded:
    if frame_type == FRAME_ACK:
        if len(payload) != _U64.size:
            raise _Malformed()
        return Ack(_U64.unpack(payload)[0])
    if frame_type == FRAME_WELCOME:
        if len(payload) != _WELCOME.size:
            raise _Malformed()
        version, reserved, max_payload, max_family, max_series = _WELCOME.unpack(payload)
        if reserved:
            raise _Malformed()
        return Welcome(version, max_payload, max_family, max_series)
    if frame_type == FRAME_ERROR:
        if len(payload) < _ERROR_FIXED.size + _U16.size:
            raise _Malformed()
        code, reserved, handle, frame_index = _ERROR_FIXED.unpack_from(payload)
        if reserved:
            raise _Malformed()
        (length,) = _U16.unpack_from(payload, _ERROR_FIXED.size)
        start = _ERROR_FIXED.size + _U16.size
        if len(payload) < start + length:
            raise _Malformed()
        if length > MAX_ERROR_MESSAGE_LENGTH:
            raise _Malformed("string_too_long")
        if len(payload) != start + length:
            raise _Malformed()
        message = payload[start:].decode("utf-8", errors="replace")
        return Error(code, None if handle == NO_HANDLE else handle,
                     None if frame_index == NO_FRAME else frame_index, message)
    raise _Malformed("unknown_frame_type")
