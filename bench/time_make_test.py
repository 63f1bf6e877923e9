"""`make test` in a fresh clone, timed, for the last row of bench/summary.py (issue 26).

    .venv/bin/python bench/time_make_test.py [--keep] [--cpu] [--workers N]

Clones this repository's HEAD into a temporary directory, runs `make test` there (its own .venv;
the pinned tools come from the shared cache, $DSGATE_CACHE, as on a developer's machine after
`make setup`), and writes the wall time, the exit code and the load average before and after to
out/bench/make-test.json. Not part of `make bench`: it takes about as long as CI (20+ minutes on
2 cores) and needs the machine to itself to mean anything.

--cpu also says where the CPU went (bench/suite_cpu.py): by program, by test module and by test. It
needs root and `accton` (Debian package acct): process accounting is on for the run, into a file in
the clone's parent directory, and off after it. --workers sets PYTEST_WORKERS; PYTEST_ARGS from the
environment is passed on (after --cpu's own plugin).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import results  # bench/ is on sys.path: scripts run as python bench/NAME.py
import suite_cpu

BENCH = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    parser.add_argument("--cpu", action="store_true", help="profile the run's CPU (root and accton needed)")
    parser.add_argument("--workers", type=int, help="PYTEST_WORKERS (the Makefile's default otherwise)")
    args = parser.parse_args()
    accton = shutil.which("accton")
    if args.cpu and (accton is None or os.geteuid() != 0):
        print("--cpu needs root and accton (apt-get install acct)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="dsgate-make-test-"))
    clone = work / "repo"
    subprocess.run(["git", "clone", "--quiet", str(results.REPO), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if args.workers:
        env["PYTEST_WORKERS"] = str(args.workers)
    accounting, traces = work / "pacct", work / "traces"
    if args.cpu:
        traces.mkdir()
        accounting.touch()
        env |= {
            "PYTHONPATH": str(BENCH),
            "TESTTRACE_DIR": str(traces),
            "PYTEST_ARGS": " ".join(("-p testtrace", env.get("PYTEST_ARGS", ""))).strip(),
        }
        subprocess.run([accton, str(accounting)], check=True, capture_output=True)
    load = results.load()
    start = time.perf_counter()
    try:
        code = subprocess.run(["make", "test"], cwd=clone, env=env, check=False).returncode
    finally:
        if args.cpu:
            subprocess.run([accton, "off"], check=False, capture_output=True)
    seconds = time.perf_counter() - start
    results.write(
        "make-test",
        {
            "seconds": round(seconds, 1),
            "exit": code,
            "workers": env.get("PYTEST_WORKERS", "Makefile default"),
            "load_before": load,
            "load_after": results.load(),
        },
    )
    minutes, secs = divmod(round(seconds), 60)
    print(f"make test in a fresh clone: {minutes} min {secs} s, exit {code} (load {load[0]:.1f} before)")
    if args.cpu:
        profile = suite_cpu.attribute(suite_cpu.read_accounting(accounting), suite_cpu.Timeline(traces))
        print(suite_cpu.report(profile))
    if args.keep:
        print(f"clone kept: {clone}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
