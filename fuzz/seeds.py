#!/usr/bin/env python3
"""Seed inputs for the fuzz targets, made from protocol/test_vectors.json, the example config
and typical requests and Redis replies.

usage: seeds.py REPO_ROOT OUT_DIR  -> OUT_DIR/<target>/<name> files (rewritten each run).
Each target's input format is described at the top of fuzz/<target>.cpp.
"""
import json
import os
import sys


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ingest_records(frames_by_conn):
    """[(connection, bytes) or (connection, None) for a hang-up] as ingest_store input."""
    out = bytearray()
    for conn, data in frames_by_conn:
        if data is None:
            out += bytes([0x80 | conn])
            continue
        for i in range(0, len(data), 255):
            chunk = data[i:i + 255]
            out += bytes([conn, len(chunk)]) + chunk
    return bytes(out)


def resp(value):
    """A Python value as RESP: str -> bulk string, list -> array, None -> nil, int -> integer."""
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(resp(v) for v in value)
    data = value.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def other_seeds(root, out):
    config = open(os.path.join(root, "config", "metricsd.json"), "rb").read()
    write(out, "config_parser", "example-config", b"\x00" + config)
    write(out, "config_parser", "environment",
          b"\x01METRICSD_LISTEN=127.0.0.1:9100\nMETRICSD_LIMITS_MAX_SERIES=500\n"
          b"METRICSD_SERIES_TTL=jobs_total=60s\nMETRICSD_REDIS_URL=redis://u:p@[::1]:6380/2\n")
    write(out, "config_parser", "flags", b"\x02\x00127.0.0.1:0\n\x0110\n\x02info\n\x03/tmp/s\n")
    write(out, "config_parser", "addresses",
          b"\x03[::1]:9477\nunix:///run/redis.sock?db=3&password=p%20w")

    requests = [
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;"
        b"version=1.0.0;q=0.9,text/plain;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n\r\n",
        b"HEAD /metrics HTTP/1.0\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ]
    for i, r in enumerate(requests):
        write(out, "http_request", "request-%d" % i, b"\xff" + r)
    write(out, "http_request", "pipelined-bytewise", b"\x00" + b"".join(requests[:4]))

    meta = resp(["jobs_total",
                 '{"type": "counter", "mode": "livesum", "help": "Jobs", "labels": ["queue"], "buckets": []}',
                 "lat",
                 '{"type": "histogram", "mode": "livesum", "help": "Latency", "labels": ["method"], "buckets": ["0.5", "1"]}',
                 "inflight",
                 '{"type": "gauge", "mode": "livesum", "help": "In flight", "labels": [], "buckets": []}',
                 "rss",
                 '{"type": "gauge", "mode": "liveall", "help": "RSS", "labels": ["app"], "buckets": []}',
                 "svc_summary",
                 '{"type": "summary", "mode": "livesum", "help": "S", "labels": [], "buckets": []}'])
    daemons = resp(["d1", "d2"])
    cell = resp(['{"queue": "a"}', "3", '{"queue": "b\\n\\"x"}', "1.5e3"])
    hist = resp(['{"method": "GET"}', "2"])
    live = resp(['inflight {}', "3 1795319196794", 'rss {"app": "x", "pid": "42"}', "7 1795319196794"])
    elements = [cell, hist, hist, hist, hist, hist, b"$3\r\n4.5\r\n", resp("2"), resp("9"),
                live, resp([])]
    write(out, "redis_reply", "snapshot", b"\x00" + meta + daemons + b"".join(elements))
    write(out, "redis_reply", "snapshot-bytewise", b"\x02" + meta + daemons + b"".join(elements))
    write(out, "redis_reply", "verbatim-aborted", b"\x01" + meta + resp([]) +
          b"+OK\r\n-ERR wrong\r\n*-1\r\n")


def main():
    root = sys.argv[1]
    vectors = json.load(open(os.path.join(root, "protocol", "test_vectors.json")))
    out = sys.argv[2]
    other_seeds(root, out)
    handshake = None
    client_frames = []
    for v in vectors["valid"]:
        data = bytes.fromhex(v["hex"])
        if v["message"]["type"] == "handshake":
            handshake = data
            continue
        if v["direction"] == "client_to_daemon":
            client_frames.append((v["name"], data))
            write(out, "wire_decoder", "valid-" + v["name"], b"\x00" + handshake + data)
        else:
            write(out, "wire_decoder", "valid-" + v["name"], b"\x01" + data)
    write(out, "wire_decoder", "all-client-frames-bytewise",
          b"\x00" + handshake + b"".join(d for _, d in client_frames))
    for v in vectors["invalid"]:
        control = b"\x00" if v["role"] == "daemon" else b"\x01"
        write(out, "wire_decoder", "invalid-" + v["name"], control + bytes.fromhex(v["hex"]))

    # The valid client frames are a coherent session (families, series, ops, sync): send them
    # from one connection, from two interleaved ones, and with a hang-up in the middle.
    frames = [d for _, d in client_frames]
    write(out, "ingest_store", "one-connection", ingest_records([(0, f) for f in frames]))
    write(out, "ingest_store", "two-interleaved",
          ingest_records([(c, f) for f in frames for c in (0, 1)]))
    half = len(frames) // 2
    write(out, "ingest_store", "hang-up-and-return",
          ingest_records([(2, f) for f in frames[:half]] + [(2, None)] +
                         [(3, f) for f in frames] + [(2, f) for f in frames]))


if __name__ == "__main__":
    main()
