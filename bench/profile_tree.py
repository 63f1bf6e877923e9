"""Where a command's CPU goes, per process of its tree (the profiles of bench/README.md, issue 26).

    python bench/profile_tree.py [--py-spy OUT.txt] -- dsgate check --no-deploy

Runs COMMAND, samples /proc every 50 ms for it and all its descendants (helm-batch, OPA,
kube-apiserver, etcd, render tools), and prints each program's CPU seconds (user + system, the
last value seen of every process), the wall time and the tree's peak RSS. With --py-spy, the
Python process is also sampled by py-spy (installed apart, e.g. `pip install --target DIR py-spy`;
give its path with --py-spy-bin) and its top functions written to OUT.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _snapshot() -> dict[int, tuple[int, str, float, int]]:
    """pid -> (parent, program, CPU seconds, RSS bytes) of every process."""
    out: dict[int, tuple[int, str, float, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                raw = fh.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw.rsplit(")", 1)[1].split()
        out[int(entry)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / TICK, int(fields[21]) * PAGE)
    return out


def profile(command: list[str], py_spy: list[str] | None = None) -> dict[str, object]:
    """Run COMMAND and return its tree's CPU per program, wall time and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    spy = subprocess.Popen([*py_spy, "--pid", str(proc.pid)]) if py_spy else None
    cpu: dict[int, tuple[str, float]] = {}
    peak = 0
    while proc.poll() is None:
        snap = _snapshot()
        tree, stack = set(), [proc.pid]
        while stack:
            pid = stack.pop()
            tree.add(pid)
            stack.extend(p for p, (parent, *_) in snap.items() if parent == pid and p not in tree)
        peak = max(peak, sum(snap[p][3] for p in tree if p in snap))
        for pid in tree:
            if pid in snap:
                cpu[pid] = (snap[pid][1], snap[pid][2])
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if spy is not None:
        spy.wait()
    by_program: dict[str, float] = defaultdict(float)
    for comm, seconds in cpu.values():
        by_program[comm] += seconds
    return {
        "exit": proc.returncode,
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(peak / 2**20),
        "cpu_s": {k: round(v, 2) for k, v in sorted(by_program.items(), key=lambda kv: -kv[1])},
        "load": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--py-spy", metavar="OUT", help="also sample the Python process with py-spy into OUT")
    parser.add_argument("--py-spy-bin", default="py-spy")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        sys.exit("give a command after --")
    spy = None
    if args.py_spy:
        spy = [args.py_spy_bin, "record", "--format", "raw", "--output", str(Path(args.py_spy)), "--rate", "200"]
    print(json.dumps(profile(command, spy), indent=2))


if __name__ == "__main__":
    main()
