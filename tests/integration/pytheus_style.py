#!/usr/bin/env python3
"""What pytheus 0.6.1's MultiProcessRedisBackend writes to and reads from Redis, without
pytheus or redis-py (neither is a Debian package): the same keys, fields, commands and
values, over a minimal RESP client. Line numbers cite github.com/Llandy3d/pytheus at 0b6822e.

    pytheus_style.py PORT histogram NAME LABELS_JSON BUCKETS VALUE...
        A process that declares histogram NAME (labels as a JSON object, "{}" for none) with
        BUCKETS (comma-separated Python literals: "1" is an int, "1.0" a float), creates its
        cells, then observes each VALUE.
    pytheus_style.py PORT gauge NAME LABELS_JSON inc|dec|set VALUE
        One op on gauge NAME.
    pytheus_style.py PORT read histogram|gauge NAME BUCKETS|-
        pytheus's exposition of NAME from Redis (labelled families only): one line per sample,
        in pytheus's order, as generate_from_collector prints them.
    Several commands may follow one PORT, separated by `--`.
"""
import ast
import json
import socket
import sys

EXPIRE_KEY_TIME = 3600  # backends/redis.py:25


class Redis:
    """RESP2 over TCP; replies decoded as redis-py does with decode_responses=True."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)

    def hgetall(self, key):
        items = self("HGETALL", key)
        return dict(zip(items[0::2], items[1::2]))


def buckets_of(text):
    # Histogram.__init__, metrics.py:497-518: the user's numbers, +Inf appended.
    return [ast.literal_eval(b) for b in text.split(",")] + [float("inf")]


def bucket_text(bound):
    # metrics.py:533: get_backend(self, histogram_bucket=str(bucket)); InfFloat prints "+Inf"
    # (utils.py:21-23).
    return "+Inf" if bound == float("inf") else str(bound)


def init_key(r, key, field):
    # _init_key, backends/redis.py:91-99: create the field at 0 when absent, then EXPIRE.
    if field and not r("HEXISTS", key, field):
        r("HINCRBYFLOAT", key, field, 0.0)
    elif not field and not r("EXISTS", key):
        r("INCRBYFLOAT", key, 0.0)
    r("EXPIRE", key, EXPIRE_KEY_TIME)


def inc(r, key, field, value):
    # inc/dec, backends/redis.py:247-263: HINCRBYFLOAT (labelled) or INCRBYFLOAT, then EXPIRE.
    if field:
        r("HINCRBYFLOAT", key, field, value)
    else:
        r("INCRBYFLOAT", key, value)
    r("EXPIRE", key, EXPIRE_KEY_TIME)


def field_of(labels_json):
    labels = json.loads(labels_json)
    # backends/redis.py:54-57: json.dumps(labels) names the hash field; none without labels.
    return json.dumps(labels) if labels else None


def histogram(r, name, labels_json, buckets, values):
    field = field_of(labels_json)
    bounds = buckets_of(buckets)
    # metrics.py:529-533: sum, count, then one backend per bound; each __init__ runs _init_key
    # (backends/redis.py:43-45 names the key `name:suffix`, :65 initialises it).
    cells = ["sum", "count"] + [bucket_text(b) for b in bounds]
    for cell in cells:
        init_key(r, f"{name}:{cell}", field)
    for value in values:
        # Histogram.observe, metrics.py:537-551: sum, every bucket the value fits, count.
        inc(r, f"{name}:sum", field, value)
        for bound in bounds:
            if value <= bound:
                inc(r, f"{name}:{bucket_text(bound)}", field, 1)
        inc(r, f"{name}:count", field, 1)


def gauge(r, name, labels_json, op, value):
    field = field_of(labels_json)
    init_key(r, name, field)
    if op == "set":
        # set, backends/redis.py:265-272: HSET/SET of the float (redis-py sends repr(float)).
        if field:
            r("HSET", name, field, repr(float(value)))
        else:
            r("SET", name, repr(float(value)))
        r("EXPIRE", name, EXPIRE_KEY_TIME)
    else:
        inc(r, name, field, value if op == "inc" else -value)


def read(r, kind, name, buckets):
    # _generate_samples, backends/redis.py:114-132 and 186-216 (labelled families): one HGETALL
    # per key, the bucket keys under pytheus's own bound texts; a sample per field found.
    # generate_from_collector (exposition.py) prints `name{labels} float`.
    def line(sample, labels, value):
        text = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return f"{name}{sample}{{{text}}} {float(value)}"

    out = []
    if kind == "gauge":
        for labels_str, value in r.hgetall(name).items():
            out.append(line("", json.loads(labels_str), value))
        return out
    suffixes = [b for b in buckets_of(buckets)[:-1]] + ["+Inf", "count", "sum"]
    ordered = {}
    for suffix in suffixes:
        values = r.hgetall(f"{name}:{suffix}")
        for labels_str, value in values.items():
            labels = json.loads(labels_str)
            if isinstance(suffix, (int, float)) or suffix == "+Inf":
                labels["le"] = str(suffix)
                sample = "_bucket"
            else:
                sample = "_" + suffix
            ordered.setdefault(labels_str, []).append(line(sample, labels, value))
    for lines in ordered.values():
        out.extend(lines)
    return out


def run(r, args):
    if args[0] == "histogram":
        histogram(r, args[1], args[2], args[3], [float(v) for v in args[4:]])
    elif args[0] == "gauge":
        gauge(r, args[1], args[2], args[3], float(args[4]))
    elif args[0] == "read":
        print("\n".join(read(r, args[1], args[2], args[3])))
    else:
        raise SystemExit("unknown command " + args[0])


def main(argv):
    # Several commands in one process, separated by "--" (a Python start costs seconds on a
    # loaded CI machine).
    r = Redis(int(argv[1]))
    command = []
    for arg in argv[2:] + ["--"]:
        if arg == "--":
            if command:
                run(r, command)
            command = []
        else:
            command.append(arg)


if __name__ == "__main__":
    main(sys.argv)
