"""Where the benchmarks leave their figures for bench/summary.py: out/bench/NAME.json, one file per
script, overwritten by each run. Every file carries when it was written, the 1/5/15-minute load
average at that moment, the machine's cores and the commit measured.

Also what several scripts share: the environment their dsgate children run in, and the CPU time
(user + system) of a child process tree.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out" / "bench"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "unknown"


def write(name: str, figures: dict[str, Any]) -> Path:
    """Write FIGURES to out/bench/NAME.json with the time, load, cores and commit; return the path."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    record = {
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load": load(),
        "cores": os.cpu_count(),
        "commit": commit(),
        **figures,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read(name: str) -> dict[str, Any] | None:
    path = OUT / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def child_env() -> dict[str, str]:
    """The environment for a timed dsgate child: this checkout's src first on PYTHONPATH (so a git
    worktree measures its own code, not the one the venv was installed from), and bytecode caching on:
    with PYTHONDONTWRITEBYTECODE set, every start compiles hundreds of modules again."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH", "")) if p)
    return env


def adopt_orphans() -> None:
    """Make this process the reaper of its descendants' orphans (Linux PR_SET_CHILD_SUBREAPER): a
    process a timed child leaves behind is then waited for here, and its CPU time counted."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds so far: user + system) of every process."""
    out: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return out


def children() -> list[int]:
    """This process's running children (adopted orphans included)."""
    me = os.getpid()
    return [pid for pid, (parent, _) in _processes().items() if parent == me]


def tree_cpu(roots: list[int]) -> float:
    """CPU seconds so far of ROOTS and all their running descendants (from /proc)."""
    procs = _processes()
    total, seen, todo = 0.0, set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in procs:
            continue
        seen.add(pid)
        total += procs[pid][1]
        todo.extend(p for p, (parent, _) in procs.items() if parent == pid)
    return total


def reap(timeout: float = 10.0) -> int:
    """Wait (up to TIMEOUT) for the children this process adopted; return how many still run."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return 0
        left = children()
        if not left or time.monotonic() > deadline:
            return len(left)
        time.sleep(0.05)


def run_timed(cmd: list[str], **popen: Any) -> tuple[float, float, int]:
    """Run CMD alone (nothing else of this process may run children meanwhile); return (wall seconds,
    CPU seconds of its process tree, exit code). The CPU is user + system time of the child and of every
    descendant waited for, by its parent or, after adopt_orphans, by this process. Give stdout/stderr
    as files or DEVNULL, not PIPE."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **popen)
    code = proc.wait()
    wall = time.perf_counter() - start
    reap()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), code
