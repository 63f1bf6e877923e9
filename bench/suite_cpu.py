"""Where a test run's CPU went, from a Linux process-accounting file and bench/testtrace.py's logs.

Process accounting (acct(5), turned on by `accton FILE`) writes one record per process when it exits,
with its CPU time, pid, parent pid and start time. Unlike `time` (RUSAGE_CHILDREN), it counts the
processes nobody waits for: daemonised cluster components, and the warm server. Each process is
charged to the test its pytest worker was running when the process started, found by following
parent pids up to a worker; what no worker started (the set-up, lint, daemonised components) is
listed by program.
"""

from __future__ import annotations

import bisect
import collections
import struct
from dataclasses import dataclass
from pathlib import Path

RECORD = 64  # sizeof(struct acct_v3)
COUNTED = "kube-apiserver"  # the program whose starts are counted per module
HZ = 100  # AHZ: acct_v3 times are in 1/100 s


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    started: int  # seconds since the epoch
    cpu: float  # user + system seconds
    program: str


def _comp(value: int) -> int:
    """A comp_t: 13-bit mantissa, 3-bit base-8 exponent."""
    return (value & 0x1FFF) << (3 * ((value >> 13) & 7))


def read_accounting(path: Path) -> list[Process]:
    data = path.read_bytes()
    out = []
    for offset in range(0, len(data) - RECORD + 1, RECORD):
        _flag, version, _tty, _exit, _uid, _gid, pid, ppid, started = struct.unpack_from("<BBHIIIIII", data, offset)
        if version & 0x0F != 3:
            raise ValueError(f"{path}: record {offset // RECORD} is acct version {version & 0x0F}, not 3")
        utime, stime = struct.unpack_from("<HH", data, offset + 32)
        program = data[offset + 48 : offset + 64].split(b"\0")[0].decode(errors="replace")
        out.append(Process(pid, ppid, started, (_comp(utime) + _comp(stime)) / HZ, program))
    return out


class Timeline:
    """Which test each pytest process ran at a given time (bench/testtrace.py's logs)."""

    def __init__(self, directory: Path) -> None:
        self._starts: dict[int, tuple[list[float], list[str]]] = {}
        for log in directory.glob("*.txt"):
            times, tests = [], []
            for line in log.read_text().splitlines():
                at, kind, nodeid = line.split("\t", 2)
                if kind == "start":
                    times.append(float(at))
                    tests.append(nodeid)
            self._starts[int(log.stem)] = (times, tests)

    def __contains__(self, pid: int) -> bool:
        return pid in self._starts

    def test_at(self, pid: int, when: float) -> str:
        times, tests = self._starts[pid]
        # acct start times are whole seconds: a process started in the test's first second counts
        i = bisect.bisect_right(times, when + 1.0) - 1
        return tests[i] if i >= 0 else "(before the first test)"


@dataclass
class Profile:
    by_program: collections.Counter[str]
    by_module: collections.Counter[str]
    by_test: collections.Counter[str]
    starts: collections.Counter[str]  # module -> COUNTED processes its tests started
    unattributed: collections.Counter[str]

    @property
    def total(self) -> float:
        return sum(self.by_program.values())


def attribute(processes: list[Process], timeline: Timeline) -> Profile:
    parent = {p.pid: p.ppid for p in processes}
    profile = Profile(*(collections.Counter() for _ in range(5)))
    for proc in processes:
        profile.by_program[proc.program] += proc.cpu
        if proc.pid in timeline:
            profile.by_test["(the pytest processes themselves)"] += proc.cpu
            continue
        pid, hops = proc.ppid, 0
        while pid not in timeline and pid in parent and hops < 32:
            pid, hops = parent[pid], hops + 1
        if pid not in timeline:
            profile.unattributed[proc.program] += proc.cpu
            continue
        test = timeline.test_at(pid, proc.started)
        module = test.split("::")[0]
        profile.by_test[test] += proc.cpu
        profile.by_module[module] += proc.cpu
        if proc.program == COUNTED:
            profile.starts[module] += 1
    return profile


def report(profile: Profile, top: int = 25) -> str:
    total = profile.total
    lines = [f"CPU of every process: {total / 60:.1f} min", "", "by program:"]
    lines += [
        f"  {cpu / 60:6.2f} min {100 * cpu / total:5.1f}%  {name}" for name, cpu in profile.by_program.most_common(top)
    ]
    lines += ["", f"by test module (processes a worker started; {COUNTED} starts):"]
    lines += [f"  {cpu:7.1f} s  {profile.starts[name]:3d}  {name}" for name, cpu in profile.by_module.most_common(top)]
    lines += ["", "by test:"]
    lines += [f"  {cpu:7.1f} s  {name}" for name, cpu in profile.by_test.most_common(top)]
    lines += ["", "started by no worker (set-up, lint, daemonised cluster components), by program:"]
    lines += [f"  {cpu:7.1f} s  {name}" for name, cpu in profile.unattributed.most_common(12)]
    return "\n".join(lines)
