#!/bin/sh
# Lints the systemd units in DIR (a copy generated for tests, ExecStart pointing at the built
# binary): `systemd-analyze verify` must pass without a single warning (it exits 0 on unknown
# keys, so its output is checked too), and `systemd-analyze security --offline` must rate the
# hardening at exposure 2.0 or better. Exit 77 (ctest: skipped) without systemd-analyze.
set -u
dir=$1
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIPPED: systemd-analyze is not installed (Debian package: systemd)"
    exit 77
fi
cd "$dir" || exit 1
out=$(systemd-analyze verify --man=no ./metricsd.socket ./metricsd.service 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    echo "systemd-analyze verify (rc $rc):"
    echo "$out"
    exit 1
fi
echo "systemd-analyze verify: clean"
if ! systemd-analyze security --offline=yes --threshold=20 ./metricsd.service >security.txt 2>&1; then
    cat security.txt
    echo "exposure above 2.0: hardening got weaker"
    exit 1
fi
tail -n 1 security.txt
