#!/usr/bin/python3
"""config/metricsd.schema.json is a valid draft 2020-12 schema, accepts config/metricsd.json,
and refuses what the loader refuses (unknown keys, wrong types, out-of-range values). Given the
daemon binary, every case is also run through `metricsd --check-config`, so the schema and the
loader are shown to agree, and every integer key's range is tried at both ends.
Needs Debian's python3-jsonschema; exits 77 (ctest: skipped) without it.

usage: check_schema.py SOURCE_DIR [METRICSD_BINARY]
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("SKIPPED: python3-jsonschema is not installed")
    sys.exit(77)

src = sys.argv[1]
daemon = sys.argv[2] if len(sys.argv) > 2 else None
schema = json.load(open(os.path.join(src, "config/metricsd.schema.json")))
example = json.load(open(os.path.join(src, "config/metricsd.json")))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)

failures = [f"example: {e.message}" for e in validator.iter_errors(example)]


def loader_accepts(doc):
    """Whether `metricsd --check-config` accepts doc as its config file (None: no binary)."""
    if daemon is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(doc, f)
        f.flush()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # no METRICSD_* from outside
        r = subprocess.run([daemon, "--check-config", "--config", f.name], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode not in (0, 1):
            failures.append(f"metricsd exited {r.returncode}: {r.stderr.strip()}")
        return r.returncode == 0


def changed(change):
    doc = copy.deepcopy(example)
    change(doc)
    return doc


def refused(name, change):
    doc = changed(change)
    if validator.is_valid(doc):
        failures.append(f"schema accepts {name}")
    if loader_accepts(doc):
        failures.append(f"loader accepts {name}")


def accepted(name, change):
    doc = changed(change)
    for e in validator.iter_errors(doc):
        failures.append(f"schema refuses {name}: {e.message}")
    if loader_accepts(doc) is False:
        failures.append(f"loader refuses {name}")


accepted("the example", lambda d: None)
refused("an unknown top-level key", lambda d: d.update(colour=1))
refused("an unknown key in limits", lambda d: d["limits"].update(max_serie=1))
refused("a string count", lambda d: d["limits"].update(max_series="5"))
refused("a negative count", lambda d: d["limits"].update(max_series=-1))
refused("a fractional count", lambda d: d["limits"].update(max_series=2.5))
refused("max_label_value_length 5000", lambda d: d["limits"].update(max_label_value_length=5000))
refused("a numeric socket_mode", lambda d: d.update(socket_mode=660))
refused("socket_mode 0999", lambda d: d.update(socket_mode="0999"))
refused("backend postgres", lambda d: d.update(backend="postgres"))
refused("listen without port", lambda d: d.update(listen="9477"))
refused("an http redis url", lambda d: d["redis"].update(url="http://x"))
refused("a directory as state file", lambda d: d["state"].update(file="/var/lib/"))
refused("log_level loud", lambda d: d.update(log_level="loud"))
refused("an empty socket path", lambda d: d.update(socket=""))
refused("a socket path of 108 bytes", lambda d: d.update(socket="/" + "s" * 107))
refused("an unbracketed IPv6 listen address", lambda d: d.update(listen="::1:9477"))
accepted("listen on every interface, as exporters write it", lambda d: d.update(listen=":9477"))
accepted("listen on every interface with a star", lambda d: d.update(listen="*:9477"))
refused("listen with empty brackets", lambda d: d.update(listen="[]:9477"))
refused("an unknown series_ttl member", lambda d: d["series_ttl"].update(default=1))
refused("a series_ttl family that is no metric name",
        lambda d: d["series_ttl"]["families"].update({"a-b": 1}))
refused("a series_ttl above a year", lambda d: d["series_ttl"].update(default_s=31536001))
accepted("an IPv6 listen address", lambda d: d.update(listen="[::1]:0"))
accepted("a 3-digit socket_mode", lambda d: d.update(socket_mode="666"))
accepted("the redis backend", lambda d: d.update(backend="redis"))
accepted("series_ttl families", lambda d: d["series_ttl"].update(
    default_s=3600, families={"http_requests_total": 600, "build_info": 0}))


def integer_keys(properties, path):
    for name, entry in properties.items():
        if entry.get("type") == "integer":
            yield path + [name], entry
        elif entry.get("type") == "object" and name != "series_ttl":
            yield from integer_keys(entry["properties"], path + [name])


def set_at(path, value):
    def change(doc):
        for part in path[:-1]:
            doc = doc[part]
        doc[path[-1]] = value
    return change


# Both ends of every range, and one past each.
for path, entry in integer_keys(schema["properties"], []):
    key = ".".join(path)
    lo, hi = entry["minimum"], entry["maximum"]
    accepted(f"{key} {lo}", set_at(path, lo))
    accepted(f"{key} {hi}", set_at(path, hi))
    refused(f"{key} {hi + 1}", set_at(path, hi + 1))
    if lo > 0:
        refused(f"{key} {lo - 1}", set_at(path, lo - 1))

for f in failures:
    print("FAIL:", f)
print("ok" if not failures else f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
