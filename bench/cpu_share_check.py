#!/usr/bin/python3
"""What CPU share the daemon needs beside 16 busy workers: the measurement behind the systemd
unit's CPUWeight= and Nice= (see the comment there). Not part of `make bench`: it needs root
and a writable cpu cgroup controller (v1 /sys/fs/cgroup/cpu, or v2 with +cpu), and it makes
cgroups (removed at the end).

Usage: sudo bench/cpu_share_check.py BUILD/bin [--seconds 3]

Runs bench/scale_bench.py's end-to-end row (16 C++, then 16 Python client processes at full
speed against a daemon holding 10 k series) with the daemon
  - beside the workers in one cgroup at nice 0, then at nice -10 (what Nice= does);
  - in its own cgroup beside the workers' cgroup, at weight 100 (systemd's default CPUWeight)
    and at 1000 (what CPUWeight=1000 does), the workers' cgroup at 100, as two services are.
Prints the e2e lines, each with a `setting=` field.
"""
import argparse
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import scale_bench  # noqa: E402

V1 = pathlib.Path("/sys/fs/cgroup/cpu")
V2 = pathlib.Path("/sys/fs/cgroup")


class Group:
    """A cpu cgroup; weight in cgroup v2 units (v1 cpu.shares = weight * 1024 / 100)."""

    def __init__(self, name: str, weight: int) -> None:
        self.v1 = (V1 / "cpu.shares").exists()
        self.path = (V1 if self.v1 else V2) / name
        self.path.mkdir(exist_ok=True)
        self.set_weight(weight)

    def set_weight(self, weight: int) -> None:
        if self.v1:
            (self.path / "cpu.shares").write_text(str(weight * 1024 // 100))
        else:
            (self.path / "cpu.weight").write_text(str(weight))

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self, parent_pid: int) -> None:
        (self.path.parent / "cgroup.procs").write_text(str(parent_pid))
        self.path.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bindir")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    scale_bench.raise_fd_limit()
    workers = Group("metricsd-bench-workers", 100)
    daemon_group = Group("metricsd-bench-daemon", 100)
    placement = {"own": False}
    original_init = scale_bench.Daemon.__init__

    def init(self, *a, **kw) -> None:
        original_init(self, *a, **kw)
        if placement["own"]:
            daemon_group.add(self.proc.pid)  # single-threaded: its one task moves with it

    scale_bench.Daemon.__init__ = init
    workers.add(os.getpid())  # this driver and everything it starts: the workers' service
    try:
        for setting, nice, own, weight in (("same cgroup, nice 0", 0, False, 100),
                                           ("same cgroup, nice -10", -10, False, 100),
                                           ("own cgroup, CPUWeight=100", 0, True, 100),
                                           ("own cgroup, CPUWeight=1000", 0, True, 1000)):
            placement["own"] = own
            daemon_group.set_weight(weight)
            print(f"# setting: {setting}", flush=True)
            for client in ("cpp", "python"):
                scale_bench.e2e_metricsd(args.bindir, client, args.seconds, nice)
    finally:
        workers.remove(os.getpid())
        daemon_group.remove(os.getpid())


if __name__ == "__main__":
    main()
