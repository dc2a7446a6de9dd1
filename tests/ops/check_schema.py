#!/usr/bin/python3
"""config/metricsd.schema.json is a valid draft 2020-12 schema, accepts config/metricsd.json,
and refuses what the loader refuses (unknown keys, wrong types, out-of-range values).
Needs Debian's python3-jsonschema; exits 77 (ctest: skipped) without it.

usage: check_schema.py SOURCE_DIR
"""
import copy
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("SKIPPED: python3-jsonschema is not installed")
    sys.exit(77)

src = sys.argv[1]
schema = json.load(open(os.path.join(src, "config/metricsd.schema.json")))
example = json.load(open(os.path.join(src, "config/metricsd.json")))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)

failures = [f"example: {e.message}" for e in validator.iter_errors(example)]


def refused(name, change):
    doc = copy.deepcopy(example)
    change(doc)
    if validator.is_valid(doc):
        failures.append(f"schema accepts {name}")


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
for f in failures:
    print("FAIL:", f)
print("ok" if not failures else f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
