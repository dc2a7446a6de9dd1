#!/usr/bin/env python3
"""Generates protocol/test_vectors.json with an encoder independent of the C++ one."""
# Usage: python3 protocol/tools/gen_vectors.py > protocol/test_vectors.json (the C++ tests then
# check the C++ encoder and decoder against this independent encoder's bytes).
import json, math, struct, sys

MT = {"counter": 1, "gauge": 2, "histogram": 3, "summary": 4}
GM = {n: i for i, n in enumerate("livesum sum max min mostrecent all liveall livemax livemin livemostrecent shared".split())}
OP = {"inc": 1, "dec": 2, "set": 3, "observe": 4}
EC = dict(bad_magic=1, unsupported_version=2, bad_handshake=3, frame_too_large=4, bad_frame_header=5,
          unknown_frame_type=16, malformed_frame=17, string_too_long=18, invalid_metric_type=19,
          invalid_gauge_mode=20, too_many_labels=21, too_many_buckets=22, handle_out_of_range=23,
          invalid_metric_name=32, invalid_label_name=33, invalid_label_value=34, invalid_buckets=35,
          family_conflict=36, name_collision=37, handle_conflict=38, unknown_family=39,
          label_count_mismatch=40, family_series_limit=41, total_series_limit=42,
          unknown_series=48, invalid_op=49, invalid_value=50, too_many_connections=64,
          shutting_down=65, internal=66)
NO_HANDLE = 0xFFFFFFFF
NO_FRAME = 0xFFFFFFFFFFFFFFFF

def s(text):
    b = text.encode("utf-8")
    return struct.pack("<H", len(b)) + b

def frame(ftype, payload, reserved=0, length=None):
    return struct.pack("<IHH", len(payload) if length is None else length, ftype, reserved) + payload

def dbl(v):
    if isinstance(v, str):
        return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "-0": -0.0}[v]
    return float(v)

def encode(m):
    t = m["type"]
    if t == "handshake":
        return b"MTRD" + struct.pack("<HH", m["version"], 0)
    if t == "declare_family":
        p = struct.pack("<IBBHHH", m["handle"], MT[m["metric_type"]], GM[m["gauge_mode"]],
                        len(m["label_names"]), len(m["buckets"]), 0)
        p += s(m["name"]) + s(m["help"])
        p += b"".join(s(x) for x in m["label_names"]) + b"".join(s(x) for x in m["buckets"])
        return frame(0x01, p)
    if t == "declare_series":
        p = struct.pack("<IIHH", m["handle"], m["family"], len(m["label_values"]), 0)
        return frame(0x02, p + b"".join(s(x) for x in m["label_values"]))
    if t == "ops":
        p = b"".join(struct.pack("<B3xId", OP[r["op"]], r["handle"], dbl(r["value"])) for r in m["records"])
        return frame(0x03, p)
    if t == "sync":
        return frame(0x04, struct.pack("<Q", m["token"]))
    if t == "fold":
        p = struct.pack("<IHHQd", m["handle"], len(m["buckets"]), 0, m["count"], dbl(m["sum"]))
        return frame(0x05, p + b"".join(struct.pack("<Q", c) for c in m["buckets"]))
    if t == "client_stats":
        return frame(0x06, struct.pack("<Q", m["dropped_ops"]))
    if t == "welcome":
        return frame(0x81, struct.pack("<HHIII", m["version"], 0, m["max_frame_payload"],
                                       m["max_family_handle"], m["max_series_handle"]))
    if t == "ack":
        return frame(0x82, struct.pack("<Q", m["token"]))
    if t == "error":
        h = NO_HANDLE if m["handle"] is None else m["handle"]
        f = NO_FRAME if m["frame"] is None else m["frame"]
        return frame(0x83, struct.pack("<HHIQ", EC[m["code"]], 0, h, f) + s(m["message"]))
    raise ValueError(t)

def fam(handle, mtype, name, help="", labels=(), buckets=(), mode="livesum"):
    return {"type": "declare_family", "handle": handle, "metric_type": mtype, "gauge_mode": mode,
            "name": name, "help": help, "label_names": list(labels), "buckets": list(buckets)}

def ser(handle, family, values=()):
    return {"type": "declare_series", "handle": handle, "family": family, "label_values": list(values)}

def ops(*records):
    return {"type": "ops", "records": [{"op": o, "handle": h, "value": v} for o, h, v in records]}

C2D, D2C = "client_to_daemon", "daemon_to_client"
valid = [
    ("handshake", C2D, {"type": "handshake", "version": 1}),
    ("declare_family_counter_unlabelled", C2D, fam(0, "counter", "jobs_processed_total", "Jobs processed.")),
    ("declare_family_counter_one_label", C2D, fam(1, "counter", "http_requests_total", "HTTP requests.", ["method"])),
    ("declare_family_gauge_default_mode_empty_help", C2D, fam(2, "gauge", "in_flight_requests")),
    ("declare_family_gauge_livemax_two_labels", C2D, fam(3, "gauge", "queue_depth", "Items waiting per queue.", ["queue", "shard"], mode="livemax")),
    ("declare_family_gauge_all_mode", C2D, fam(4, "gauge", "worker_rss_bytes", "Resident set size per worker.", mode="all")),
    ("declare_family_gauge_shared_mode", C2D, fam(5, "gauge", "build_info_timestamp_seconds", "", ["version"], mode="shared")),
    ("declare_family_histogram_buckets", C2D, fam(6, "histogram", "request_duration_seconds", "Request latency.", ["route"], ["1e-05", "0.005", "0.1", "1", "2.5", "10.0"])),
    ("declare_family_histogram_no_buckets", C2D, fam(7, "histogram", "payload_bytes", "Only the implicit +Inf bucket.")),
    ("declare_family_summary", C2D, fam(8, "summary", "db_query_seconds", "", ["table"])),
    ("declare_family_max_handle_utf8_help", C2D, fam(65535, "counter", "utf8_help_total", "Zählt Ereignisse — 日本語 help.")),
    ("declare_series_unlabelled", C2D, ser(0, 0)),
    ("declare_series_one_label", C2D, ser(1, 1, ["GET"])),
    ("declare_series_two_labels_utf8", C2D, ser(2, 3, ["é", "日本"])),
    ("declare_series_empty_label_value", C2D, ser(3, 8, [""])),
    ("declare_series_max_handles", C2D, ser(1048575, 65535)),
    ("ops_two_records", C2D, ops(("inc", 1, 1), ("inc", 0, 2.5))),
    ("ops_every_op_code", C2D, ops(("inc", 2, 1), ("dec", 2, 0.5), ("set", 5, 1700000000), ("observe", 6, 0.042))),
    ("ops_special_values", C2D, ops(("set", 5, "-0"), ("set", 5, 1e300), ("set", 5, "NaN"), ("set", 5, "+Inf"),
                                     ("set", 5, "-Inf"), ("observe", 6, 5e-324), ("observe", 6, -1.5), ("inc", 1048575, 0))),
    ("ops_one_record", C2D, ops(("observe", 6, 0.1))),
    ("sync_token_1", C2D, {"type": "sync", "token": 1}),
    ("sync_token_max_safe_integer", C2D, {"type": "sync", "token": 9007199254740991}),
    ("sync_token_0", C2D, {"type": "sync", "token": 0}),
    ("fold_histogram", C2D, {"type": "fold", "handle": 6, "count": 5, "sum": 3.5, "buckets": [1, 0, 2, 0, 0, 1, 1]}),
    ("fold_summary", C2D, {"type": "fold", "handle": 9, "count": 1000000, "sum": 12.5, "buckets": []}),
    ("fold_histogram_only_inf_bucket_nan_sum", C2D, {"type": "fold", "handle": 1048575, "count": 2, "sum": "NaN", "buckets": [2]}),
    ("client_stats_dropped_3", C2D, {"type": "client_stats", "dropped_ops": 3}),
    ("client_stats_dropped_max_safe_integer", C2D, {"type": "client_stats", "dropped_ops": 9007199254740991}),
    ("welcome_defaults", D2C, {"type": "welcome", "version": 2, "max_frame_payload": 1048576, "max_family_handle": 65535, "max_series_handle": 1048575}),
    ("welcome_lowered_limits", D2C, {"type": "welcome", "version": 1, "max_frame_payload": 65536, "max_family_handle": 1023, "max_series_handle": 16383}),
    ("ack_token_1", D2C, {"type": "ack", "token": 1}),
    ("ack_token_max_safe_integer", D2C, {"type": "ack", "token": 9007199254740991}),
    ("error_handshake_unsupported_version", D2C, {"type": "error", "code": "unsupported_version", "handle": None, "frame": None,
                                                 "message": "unsupported protocol version 7; this daemon speaks 1"}),
    ("error_op_level_invalid_value", D2C, {"type": "error", "code": "invalid_value", "handle": 3, "frame": 12,
                                          "message": "2 op(s) in this frame rejected; first: value -1.000000 is not valid for inc on series handle 3"}),
    ("error_declaration_level_utf8_message", D2C, {"type": "error", "code": "invalid_metric_name", "handle": 2, "frame": 4,
                                                  "message": "metric name \"métrique_total\" does not match [a-zA-Z_:][a-zA-Z0-9_:]*"}),
    ("error_empty_message_unknown_code", D2C, {"type": "error", "code": "internal", "handle": 0, "frame": 0, "message": ""}),
]

HS = encode({"type": "handshake", "version": 1})
def H(x): return x.hex()

def err(code, fatal, frame_no, handle=None):
    return {"error": code, "fatal": fatal, "frame": frame_no, "handle": handle}
MSG = lambda t: {"message": t}

def fam_raw(handle=0, mtype=1, mode=0, labels=0, buckets=0, reserved=0, tail=b""):
    return frame(0x01, struct.pack("<IBBHHH", handle, mtype, mode, labels, buckets, reserved) + tail)
def rec(op, handle, value, reserved=b"\0\0\0"):
    return struct.pack("<B", op) + reserved + struct.pack("<Id", handle, value)

good_family = encode(fam(0, "counter", "jobs_total", "Jobs."))
good_sync = encode({"type": "sync", "token": 7})
good_ops = encode(ops(("inc", 0, 1)))

invalid = [
    # Stream-level, during the handshake.
    ("bad_magic_http_request", "daemon", b"GET / HTTP/1.1\r\n\r\n", [err("bad_magic", True, None)]),
    ("bad_magic_lowercase", "daemon", b"mtrd" + struct.pack("<HH", 1, 0), [err("bad_magic", True, None)]),
    ("unsupported_version_7", "daemon", b"MTRD" + struct.pack("<HH", 7, 0), [err("unsupported_version", True, None)]),
    ("unsupported_version_0", "daemon", b"MTRD" + struct.pack("<HH", 0, 0), [err("unsupported_version", True, None)]),
    ("bad_handshake_flags", "daemon", b"MTRD" + struct.pack("<HH", 1, 1), [err("bad_handshake", True, None)]),
    # Stream-level, frame header.
    ("frame_too_large_header_only", "daemon", HS + struct.pack("<IHH", 2 * 1048576, 0x03, 0),
     [MSG("handshake"), err("frame_too_large", True, 0)]),
    ("frame_too_large_by_one_byte", "daemon", HS + good_sync + struct.pack("<IHH", 1048577, 0x01, 0),
     [MSG("handshake"), MSG("sync"), err("frame_too_large", True, 1)]),
    ("bad_frame_header_reserved", "daemon", HS + frame(0x04, struct.pack("<Q", 1), reserved=1),
     [MSG("handshake"), err("bad_frame_header", True, 0)]),
    ("fatal_error_is_sticky", "daemon", HS + good_sync + frame(0x04, struct.pack("<Q", 1), reserved=0x8000) + good_sync + good_ops,
     [MSG("handshake"), MSG("sync"), err("bad_frame_header", True, 1)]),
    # Frame-level: skipped, decoding continues.
    ("unknown_frame_type_then_good", "daemon", HS + frame(0x7f, b"\x01\x02\x03") + good_sync,
     [MSG("handshake"), err("unknown_frame_type", False, 0), MSG("sync")]),
    ("daemon_frame_sent_to_daemon", "daemon", HS + encode({"type": "ack", "token": 1}),
     [MSG("handshake"), err("unknown_frame_type", False, 0)]),
    ("frame_type_zero", "daemon", HS + frame(0x00, b""), [MSG("handshake"), err("unknown_frame_type", False, 0)]),
    ("client_frame_sent_to_client", "client", good_sync + encode({"type": "ack", "token": 2}),
     [err("unknown_frame_type", False, 0), MSG("ack")]),
    ("family_truncated_fixed_part", "daemon", HS + frame(0x01, b"\x00" * 11), [MSG("handshake"), err("malformed_frame", False, 0)]),
    ("family_truncated_string", "daemon", HS + fam_raw(tail=s("jobs_total")[:-3]), [MSG("handshake"), err("malformed_frame", False, 0, 0)]),
    ("family_trailing_bytes", "daemon", HS + fam_raw(handle=4, tail=s("jobs_total") + s("") + b"\x00"),
     [MSG("handshake"), err("malformed_frame", False, 0, 4)]),
    ("family_reserved_nonzero", "daemon", HS + fam_raw(reserved=1, tail=s("jobs_total") + s("")), [MSG("handshake"), err("malformed_frame", False, 0, 0)]),
    ("family_missing_label_names", "daemon", HS + fam_raw(handle=2, labels=2, tail=s("x_total") + s("") + s("a")),
     [MSG("handshake"), err("malformed_frame", False, 0, 2)]),
    ("bad_frame_then_good_frame", "daemon", HS + good_sync + fam_raw(tail=s("jobs_total")) + good_family + good_ops,
     [MSG("handshake"), MSG("sync"), err("malformed_frame", False, 1, 0), MSG("declare_family"), MSG("ops")]),
    ("series_truncated_value", "daemon", HS + frame(0x02, struct.pack("<IIHH", 9, 1, 1, 0) + s("GET")[:-1]),
     [MSG("handshake"), err("malformed_frame", False, 0, 9)]),
    ("series_reserved_nonzero", "daemon", HS + frame(0x02, struct.pack("<IIHH", 9, 1, 0, 2)), [MSG("handshake"), err("malformed_frame", False, 0, 9)]),
    ("series_trailing_bytes", "daemon", HS + frame(0x02, struct.pack("<IIHH", 9, 1, 0, 0) + b"\x00\x00"), [MSG("handshake"), err("malformed_frame", False, 0, 9)]),
    ("ops_empty", "daemon", HS + frame(0x03, b"") + good_sync, [MSG("handshake"), err("malformed_frame", False, 0), MSG("sync")]),
    ("ops_length_not_multiple_of_16", "daemon", HS + frame(0x03, rec(1, 0, 1.0) + b"\x01") + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0), MSG("sync")]),
    ("ops_bad_op_code", "daemon", HS + frame(0x03, rec(1, 0, 1.0) + rec(5, 0, 1.0) + rec(1, 0, 1.0)) + good_ops,
     [MSG("handshake"), err("malformed_frame", False, 0), MSG("ops")]),
    ("ops_op_code_zero", "daemon", HS + frame(0x03, rec(0, 0, 1.0)), [MSG("handshake"), err("malformed_frame", False, 0)]),
    ("ops_nonzero_record_reserved_byte", "daemon", HS + frame(0x03, rec(1, 0, 1.0) + rec(1, 0, 1.0, b"\0\0\x01")) + good_ops,
     [MSG("handshake"), err("malformed_frame", False, 0), MSG("ops")]),
    ("sync_wrong_size", "daemon", HS + frame(0x04, b"\x01\x00\x00\x00") + good_sync, [MSG("handshake"), err("malformed_frame", False, 0), MSG("sync")]),
    ("sync_too_long", "daemon", HS + frame(0x04, b"\x00" * 9), [MSG("handshake"), err("malformed_frame", False, 0)]),
    ("welcome_wrong_size", "client", frame(0x81, struct.pack("<HHII", 1, 0, 1048576, 65535)), [err("malformed_frame", False, 0)]),
    ("welcome_reserved_nonzero", "client", frame(0x81, struct.pack("<HHIII", 1, 3, 1048576, 65535, 1048575)), [err("malformed_frame", False, 0)]),
    ("ack_wrong_size", "client", frame(0x82, b"") + encode({"type": "ack", "token": 5}), [err("malformed_frame", False, 0), MSG("ack")]),
    ("error_truncated_message", "client", frame(0x83, struct.pack("<HHIQ", 17, 0, NO_HANDLE, 3) + struct.pack("<H", 10) + b"short"),
     [err("malformed_frame", False, 0)]),
    ("error_trailing_bytes", "client", frame(0x83, struct.pack("<HHIQ", 17, 0, NO_HANDLE, 3) + s("x") + b"\x00"), [err("malformed_frame", False, 0)]),
    # Frame-level: limits and enumerations.
    ("string_too_long_metric_name", "daemon", HS + fam_raw(handle=1, tail=s("a" * 256) + s("")), [MSG("handshake"), err("string_too_long", False, 0, 1)]),
    ("string_too_long_help", "daemon", HS + fam_raw(handle=1, tail=s("x_total") + s("h" * 4097)), [MSG("handshake"), err("string_too_long", False, 0, 1)]),
    ("string_too_long_label_name", "daemon", HS + fam_raw(handle=1, labels=2, tail=s("x_total") + s("") + s("ok") + s("l" * 256)),
     [MSG("handshake"), err("string_too_long", False, 0, 1)]),
    ("string_too_long_bucket_bound", "daemon", HS + fam_raw(handle=1, mtype=3, buckets=1, tail=s("x_seconds") + s("") + s("1" * 65)),
     [MSG("handshake"), err("string_too_long", False, 0, 1)]),
    ("string_too_long_label_value", "daemon", HS + frame(0x02, struct.pack("<IIHH", 5, 1, 1, 0) + s("v" * 4097)),
     [MSG("handshake"), err("string_too_long", False, 0, 5)]),
    ("string_too_long_error_message", "client", frame(0x83, struct.pack("<HHIQ", 66, 0, NO_HANDLE, NO_FRAME) + s("m" * 1025)),
     [err("string_too_long", False, 0)]),
    ("invalid_metric_type_0", "daemon", HS + fam_raw(handle=3, mtype=0, tail=s("x") + s("")), [MSG("handshake"), err("invalid_metric_type", False, 0, 3)]),
    ("invalid_metric_type_5", "daemon", HS + fam_raw(handle=3, mtype=5, tail=s("x") + s("")) + good_sync,
     [MSG("handshake"), err("invalid_metric_type", False, 0, 3), MSG("sync")]),
    ("invalid_gauge_mode_out_of_range", "daemon", HS + fam_raw(handle=3, mtype=2, mode=11, tail=s("x") + s("")),
     [MSG("handshake"), err("invalid_gauge_mode", False, 0, 3)]),
    ("invalid_gauge_mode_on_counter", "daemon", HS + fam_raw(handle=3, mtype=1, mode=1, tail=s("x_total") + s("")),
     [MSG("handshake"), err("invalid_gauge_mode", False, 0, 3)]),
    ("too_many_labels_family", "daemon", HS + fam_raw(handle=3, labels=33, tail=s("x_total") + s("") + b"".join(s("l%d" % i) for i in range(33))),
     [MSG("handshake"), err("too_many_labels", False, 0, 3)]),
    ("too_many_labels_series", "daemon", HS + frame(0x02, struct.pack("<IIHH", 5, 1, 33, 0) + b"".join(s("v") for _ in range(33))),
     [MSG("handshake"), err("too_many_labels", False, 0, 5)]),
    ("too_many_buckets_histogram", "daemon", HS + fam_raw(handle=3, mtype=3, buckets=257, tail=s("x_seconds") + s("") + b"".join(s(str(i + 1)) for i in range(257))),
     [MSG("handshake"), err("too_many_buckets", False, 0, 3)]),
    ("buckets_on_counter", "daemon", HS + fam_raw(handle=3, mtype=1, buckets=1, tail=s("x_total") + s("") + s("1")),
     [MSG("handshake"), err("too_many_buckets", False, 0, 3)]),
    ("handle_out_of_range_family", "daemon", HS + fam_raw(handle=65536, tail=s("x_total") + s("")), [MSG("handshake"), err("handle_out_of_range", False, 0, 65536)]),
    ("handle_out_of_range_series", "daemon", HS + frame(0x02, struct.pack("<IIHH", 1048576, 0, 0, 0)),
     [MSG("handshake"), err("handle_out_of_range", False, 0, 1048576)]),
    ("handle_out_of_range_series_family", "daemon", HS + frame(0x02, struct.pack("<IIHH", 7, 65536, 0, 0)) + good_sync,
     [MSG("handshake"), err("handle_out_of_range", False, 0, 7), MSG("sync")]),
    ("fold_truncated_fixed_part", "daemon", HS + frame(0x05, struct.pack("<IHHQ", 9, 0, 0, 1)) + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0), MSG("sync")]),
    ("fold_nonzero_reserved", "daemon", HS + frame(0x05, struct.pack("<IHHQd", 9, 0, 1, 1, 1.0)) + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0, 9), MSG("sync")]),
    ("fold_handle_out_of_range", "daemon", HS + frame(0x05, struct.pack("<IHHQd", 1048576, 0, 0, 1, 1.0)) + good_sync,
     [MSG("handshake"), err("handle_out_of_range", False, 0, 1048576), MSG("sync")]),
    ("fold_too_many_buckets", "daemon", HS + frame(0x05, struct.pack("<IHHQd", 9, 258, 0, 0, 0.0) + b"\0" * 8 * 258) + good_sync,
     [MSG("handshake"), err("too_many_buckets", False, 0, 9), MSG("sync")]),
    ("fold_length_not_bucket_count", "daemon", HS + frame(0x05, struct.pack("<IHHQdQ", 9, 2, 0, 1, 1.0, 1)) + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0, 9), MSG("sync")]),
    ("fold_buckets_below_count", "daemon", HS + frame(0x05, struct.pack("<IHHQdQQ", 9, 2, 0, 3, 1.0, 1, 1)) + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0, 9), MSG("sync")]),
    ("fold_buckets_wrap_around_to_count", "daemon",
     HS + frame(0x05, struct.pack("<IHHQdQQ", 9, 2, 0, 1, 1.0, 2, 0xFFFFFFFFFFFFFFFF)) + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0, 9), MSG("sync")]),
    ("client_stats_wrong_size", "daemon", HS + frame(0x06, b"\x01\x00\x00\x00") + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0), MSG("sync")]),
    ("client_stats_too_long", "daemon", HS + frame(0x06, b"\x00" * 16) + good_sync,
     [MSG("handshake"), err("malformed_frame", False, 0), MSG("sync")]),
    ("client_stats_sent_to_client", "client", frame(0x06, struct.pack("<Q", 1)) + encode({"type": "ack", "token": 2}),
     [err("unknown_frame_type", False, 0), MSG("ack")]),
    ("several_errors_frame_indexes", "daemon", HS + good_family + frame(0x09, b"") + good_ops + frame(0x03, b"") + good_sync,
     [MSG("handshake"), MSG("declare_family"), err("unknown_frame_type", False, 1), MSG("ops"), err("malformed_frame", False, 3), MSG("sync")]),
]

def decl(mtype, name, help="", labels=(), buckets=(), mode="livesum"):
    return {"metric_type": mtype, "gauge_mode": mode, "name": name, "help": help,
            "label_names": list(labels), "buckets": list(buckets)}

# Family rules (PROTOCOL.md section 5.1): declarations a daemon accepts (error None) or refuses
# with that code, and that a client should refuse before sending. Each refused one breaks one
# rule. Codes 18-22 are also what the frame decoder reports for the same declaration on the wire.
DEFAULT_BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0",
                   "2.5", "5.0", "7.5", "10.0"]
family_rules = [
    # Metric names.
    ("name_counter_total", decl("counter", "http_requests_total", "Requests."), None),
    ("name_colons_and_underscores", decl("gauge", "_job:rate5m:sum"), None),
    ("name_single_letter", decl("counter", "x"), None),
    ("name_255_bytes", decl("counter", "n" * 255), None),
    ("name_metricsd_alone_is_not_the_prefix", decl("gauge", "metricsd"), None),
    ("name_metricsd_inside", decl("counter", "my_metricsd_total"), None),
    ("name_metricsd_uppercase", decl("gauge", "Metricsd_up"), None),
    ("name_empty", decl("counter", ""), "invalid_metric_name"),
    ("name_leading_digit", decl("counter", "1st_total"), "invalid_metric_name"),
    ("name_dash", decl("counter", "http-requests"), "invalid_metric_name"),
    ("name_space", decl("gauge", "queue depth"), "invalid_metric_name"),
    ("name_dot", decl("gauge", "queue.depth"), "invalid_metric_name"),
    ("name_non_ascii", decl("counter", "métrique_total"), "invalid_metric_name"),
    ("name_256_bytes", decl("counter", "n" * 256), "string_too_long"),
    ("name_metricsd_prefix", decl("gauge", "metricsd_series"), "name_collision"),
    ("name_metricsd_prefix_counter", decl("counter", "metricsd_anything_total"), "name_collision"),
    # Help.
    ("help_empty", decl("counter", "a_total", ""), None),
    ("help_utf8", decl("counter", "b_total", "Zählt Ereignisse — 日本語 help.\n\"quoted\""), None),
    ("help_4096_bytes", decl("counter", "c_total", "h" * 4096), None),
    ("help_4097_bytes", decl("counter", "d_total", "h" * 4097), "string_too_long"),
    ("help_4096_bytes_multibyte", decl("counter", "e_total", "é" * 2048), None),
    ("help_4098_bytes_multibyte", decl("counter", "f_total", "é" * 2049), "string_too_long"),
    # Gauge modes.
    ("mode_livemostrecent_gauge", decl("gauge", "g_livemostrecent", mode="livemostrecent"), None),
    ("mode_shared_gauge", decl("gauge", "g_shared", mode="shared"), None),
    ("mode_on_counter", decl("counter", "m_total", mode="sum"), "invalid_gauge_mode"),
    ("mode_on_histogram", decl("histogram", "m_seconds", buckets=["1"], mode="all"), "invalid_gauge_mode"),
    ("mode_on_summary", decl("summary", "m_bytes", mode="livemax"), "invalid_gauge_mode"),
    # Label names.
    ("labels_two", decl("counter", "l_total", labels=["method", "code"]), None),
    ("labels_leading_underscore", decl("counter", "l_total", labels=["_shard"]), None),
    ("labels_look_alikes_are_not_reserved", decl("histogram", "l_seconds", labels=["Le", "lee", "quantiles", "_le", "le_"], buckets=["1"]), None),
    ("labels_single_underscore", decl("gauge", "l_gauge", labels=["_"]), None),
    ("labels_255_bytes", decl("gauge", "l_gauge", labels=["l" * 255]), None),
    ("labels_32", decl("counter", "l_total", labels=["l%d" % i for i in range(32)]), None),
    ("labels_pid_on_livesum_gauge", decl("gauge", "l_gauge", labels=["pid"]), None),
    ("labels_pid_on_counter", decl("counter", "l_total", labels=["pid"]), None),
    ("labels_pid_on_max_gauge", decl("gauge", "l_gauge", labels=["pid"], mode="max"), None),
    ("labels_33", decl("counter", "l_total", labels=["l%d" % i for i in range(33)]), "too_many_labels"),
    ("labels_256_bytes", decl("gauge", "l_gauge", labels=["l" * 256]), "string_too_long"),
    ("labels_empty_name", decl("counter", "l_total", labels=[""]), "invalid_label_name"),
    ("labels_leading_digit", decl("counter", "l_total", labels=["1x"]), "invalid_label_name"),
    ("labels_colon", decl("counter", "l_total", labels=["a:b"]), "invalid_label_name"),
    ("labels_dash", decl("counter", "l_total", labels=["a-b"]), "invalid_label_name"),
    ("labels_non_ascii", decl("counter", "l_total", labels=["métode"]), "invalid_label_name"),
    ("labels_le_on_counter", decl("counter", "l_total", labels=["le"]), "invalid_label_name"),
    ("labels_le_on_histogram", decl("histogram", "l_seconds", labels=["le"], buckets=["1"]), "invalid_label_name"),
    ("labels_quantile_on_summary", decl("summary", "l_seconds", labels=["quantile"]), "invalid_label_name"),
    ("labels_quantile_on_gauge", decl("gauge", "l_gauge", labels=["quantile"]), "invalid_label_name"),
    ("labels_double_underscore", decl("counter", "l_total", labels=["__name__"]), "invalid_label_name"),
    ("labels_double_underscore_alone", decl("counter", "l_total", labels=["__"]), "invalid_label_name"),
    ("labels_pid_on_all_gauge", decl("gauge", "l_gauge", labels=["pid"], mode="all"), "invalid_label_name"),
    ("labels_pid_on_liveall_gauge", decl("gauge", "l_gauge", labels=["a", "pid"], mode="liveall"), "invalid_label_name"),
    ("labels_duplicate", decl("counter", "l_total", labels=["a", "b", "a"]), "invalid_label_name"),
    # Buckets.
    ("buckets_python_defaults", decl("histogram", "b_seconds", buckets=DEFAULT_BUCKETS), None),
    ("buckets_spellings", decl("histogram", "b_seconds", buckets=["-1", "-.5", "-0", "1e-05", ".5", "1.", "+3", "1E1", "1e+2", "00200"]), None),
    ("buckets_one", decl("histogram", "b_seconds", buckets=["0"]), None),
    ("buckets_smallest_denormal", decl("histogram", "b_seconds", buckets=["0", "5e-324"]), None),
    ("buckets_256", decl("histogram", "b_seconds", buckets=[str(i) for i in range(256)]), None),
    ("buckets_64_bytes", decl("histogram", "b_seconds", buckets=["1." + "0" * 62]), None),
    ("buckets_on_a_counter", decl("counter", "b_total", buckets=["1"]), "too_many_buckets"),
    ("buckets_on_gauge", decl("gauge", "b_gauge", buckets=["1"]), "too_many_buckets"),
    ("buckets_on_summary", decl("summary", "b_seconds", buckets=["1"]), "too_many_buckets"),
    ("buckets_257", decl("histogram", "b_seconds", buckets=[str(i) for i in range(257)]), "too_many_buckets"),
    ("buckets_none", decl("histogram", "b_seconds"), "invalid_buckets"),
    ("buckets_65_bytes", decl("histogram", "b_seconds", buckets=["1." + "0" * 63]), "string_too_long"),
    ("buckets_empty_text", decl("histogram", "b_seconds", buckets=[""]), "invalid_buckets"),
    ("buckets_word", decl("histogram", "b_seconds", buckets=["abc"]), "invalid_buckets"),
    ("buckets_nan", decl("histogram", "b_seconds", buckets=["nan"]), "invalid_buckets"),
    ("buckets_NaN", decl("histogram", "b_seconds", buckets=["1", "NaN"]), "invalid_buckets"),
    ("buckets_inf", decl("histogram", "b_seconds", buckets=["inf"]), "invalid_buckets"),
    ("buckets_plus_inf_is_implicit", decl("histogram", "b_seconds", buckets=["1", "+Inf"]), "invalid_buckets"),
    ("buckets_minus_inf", decl("histogram", "b_seconds", buckets=["-Inf", "1"]), "invalid_buckets"),
    ("buckets_infinity", decl("histogram", "b_seconds", buckets=["infinity"]), "invalid_buckets"),
    ("buckets_overflow", decl("histogram", "b_seconds", buckets=["1e400"]), "invalid_buckets"),
    ("buckets_underflow", decl("histogram", "b_seconds", buckets=["1e-400"]), "invalid_buckets"),
    ("buckets_trailing_garbage", decl("histogram", "b_seconds", buckets=["1x"]), "invalid_buckets"),
    ("buckets_dangling_exponent", decl("histogram", "b_seconds", buckets=["1e"]), "invalid_buckets"),
    ("buckets_leading_space", decl("histogram", "b_seconds", buckets=[" 1"]), "invalid_buckets"),
    ("buckets_trailing_space", decl("histogram", "b_seconds", buckets=["1 "]), "invalid_buckets"),
    ("buckets_comma", decl("histogram", "b_seconds", buckets=["1,5"]), "invalid_buckets"),
    ("buckets_underscore_digits", decl("histogram", "b_seconds", buckets=["1_000"]), "invalid_buckets"),
    ("buckets_hex", decl("histogram", "b_seconds", buckets=["0x10"]), "invalid_buckets"),
    ("buckets_two_signs", decl("histogram", "b_seconds", buckets=["+-1"]), "invalid_buckets"),
    ("buckets_double_plus", decl("histogram", "b_seconds", buckets=["++1"]), "invalid_buckets"),
    ("buckets_lone_dot", decl("histogram", "b_seconds", buckets=["."]), "invalid_buckets"),
    ("buckets_non_ascii_digit", decl("histogram", "b_seconds", buckets=["١"]), "invalid_buckets"),
    ("buckets_equal_values", decl("histogram", "b_seconds", buckets=["1", "1.0"]), "invalid_buckets"),
    ("buckets_zero_and_negative_zero", decl("histogram", "b_seconds", buckets=["0", "-0"]), "invalid_buckets"),
    ("buckets_decreasing", decl("histogram", "b_seconds", buckets=["2", "1"]), "invalid_buckets"),
]

out = {
    "description": [
        "Shared test vectors for metricsd wire protocol v1 (see protocol/PROTOCOL.md, section 'Test vectors').",
        "valid[]: one message each. 'direction' is client_to_daemon or daemon_to_client. 'message' is the logical message:",
        "  type = handshake | declare_family | declare_series | ops | sync | fold | client_stats | welcome | ack |",
        "  error, plus its fields,",
        "  named as in PROTOCOL.md. Enumerations are lower-case names (metric_type 'counter', gauge_mode 'livesum',",
        "  op 'inc', code 'unsupported_version'). Doubles are JSON numbers, or the strings 'NaN' (encoded as",
        "  0x7ff8000000000000), '+Inf', '-Inf' and '-0' (negative zero). handle null = 0xffffffff (none); frame",
        "  null = 0xffffffffffffffff (none / the handshake). Every integer fits in 53 bits.",
        "  'hex' is the exact encoding (lower-case). An encoder must produce it byte for byte; a decoder must decode",
        "  it to the message. A daemon-side decoder expects the handshake first: feed valid 'handshake' before",
        "  any other client_to_daemon vector.",
        "invalid[]: input a decoder must reject. 'role' is the decoder's side (daemon: expects the handshake",
        "  first; client: expects daemon frames). Decoders use max_frame_payload below. 'expect' lists what",
        "  successive decode steps yield: {'message': type} or {'error': code name, 'fatal': bool, 'frame':",
        "  0-based frame index after the handshake (null: the handshake), 'handle': offending handle or null}.",
        "  After the last entry there is nothing more: the decoder needs more input, or (after a fatal error)",
        "  stays failed. The result must not depend on how the input is split into reads.",
        "family_rules[]: family declarations (PROTOCOL.md section 5.1). 'declaration' holds the fields of a",
        "  declare_family message but the handle. 'error' is null when the daemon accepts it, else the code",
        "  name it reports; a client should refuse those declarations before sending them. Each refused",
        "  declaration breaks exactly one rule.",
    ],
    "protocol_version": 1,
    "max_frame_payload": 1048576,
    "valid": [{"name": n, "direction": d, "message": m, "hex": H(encode(m))} for n, d, m in valid],
    "invalid": [{"name": n, "role": r, "hex": H(b), "expect": e} for n, r, b, e in invalid],
    "family_rules": [{"name": n, "declaration": d, "error": e} for n, d, e in family_rules],
}

names = [v["name"] for kind in ("valid", "invalid", "family_rules") for v in out[kind]]
assert len(names) == len(set(names)), "duplicate names"


def dump(v):
    return json.dumps(v, ensure_ascii=False)

def emit_message(m, indent):
    if m["type"] == "ops":
        recs = (",\n" + indent + "  ").join(dump(r) for r in m["records"])
        return '{"type": "ops", "records": [\n' + indent + "  " + recs + "\n" + indent + "]}"
    return dump(m)

lines = ["{"]
lines.append('  "description": [')
lines.append(",\n".join("    " + dump(d) for d in out["description"]))
lines.append("  ],")
lines.append('  "protocol_version": 1,')
lines.append('  "max_frame_payload": 1048576,')
lines.append('  "valid": [')
items = []
for v in out["valid"]:
    items.append("    {\n" + f'      "name": {dump(v["name"])},\n      "direction": {dump(v["direction"])},\n'
                 f'      "message": {emit_message(v["message"], "      ")},\n      "hex": {dump(v["hex"])}\n    }}')
lines.append(",\n".join(items))
lines.append("  ],")
lines.append('  "invalid": [')
items = []
for v in out["invalid"]:
    exp = ",\n        ".join(dump(e) for e in v["expect"])
    items.append("    {\n" + f'      "name": {dump(v["name"])},\n      "role": {dump(v["role"])},\n'
                 f'      "hex": {dump(v["hex"])},\n      "expect": [\n        {exp}\n      ]\n    }}')
lines.append(",\n".join(items))
lines.append("  ],")
lines.append('  "family_rules": [')
lines.append(",\n".join("    " + dump(v) for v in out["family_rules"]))
lines.append("  ]")
lines.append("}")
text = "\n".join(lines)
assert json.loads(text) == json.loads(json.dumps(out))
sys.stdout.write(text + "\n")
