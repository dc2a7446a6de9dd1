#!/usr/bin/env python3
"""`cmake --install` into a scratch DESTDIR: the config lands where the README and the unit say
(/etc/metricsd/metricsd.json), and the unit's ExecStart reads that file. Also `make run` builds
the daemon alone (a clean clone must not build every test and benchmark first).

    check_install.py SOURCE_DIR BUILD_DIR
"""
import pathlib
import re
import subprocess
import sys
import tempfile

CONFIG = "/etc/metricsd/metricsd.json"


def main(source, build):
    problems = []
    with tempfile.TemporaryDirectory() as dest:
        run = subprocess.run(["cmake", "--install", build], env={"DESTDIR": dest, "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stdout, run.stderr)
            return 1
        root = pathlib.Path(dest)
        if not (root / CONFIG.lstrip("/")).is_file():
            problems.append(f"{CONFIG} not installed; installed: " +
                            ", ".join(str(p.relative_to(root)) for p in root.rglob("*.json")))
        units = list(root.rglob("metricsd.service"))
        if len(units) != 1:
            problems.append(f"expected one metricsd.service, found {units}")
        else:
            execstart = re.search(r"^ExecStart=(.*)$", units[0].read_text(), re.M).group(1)
            if not execstart.endswith(f"/metricsd --config {CONFIG}"):
                problems.append(f"unit ExecStart is {execstart!r}")
    readme = (pathlib.Path(source) / "README.md").read_text()
    configs = set(re.findall(r"--config (/\S+\.json)", readme))
    if configs != {CONFIG}:
        problems.append(f"README.md names config files {sorted(configs)}, not {CONFIG}")
    dry = subprocess.run(["make", "-n", "-C", source, "run", f"BUILD_DIR={build}"],
                         capture_output=True, text=True)
    builds = [l for l in dry.stdout.splitlines() if l.startswith("cmake --build")]
    if builds != [f"cmake --build {build} -j {subprocess.check_output(['nproc'], text=True).strip()} --target metricsd"]:
        problems.append(f"make run builds {builds}")
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print(f"installed {CONFIG}, the unit reads it, README names it; make run builds metricsd only")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
