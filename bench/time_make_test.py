"""`make test` in a fresh clone, timed, for the last row of bench/summary.py (issue 26).

    .venv/bin/python bench/time_make_test.py [--keep]

Clones this repository's HEAD into a temporary directory, runs `make test` there (its own .venv;
the pinned tools come from the shared cache, $DSGATE_CACHE, as on a developer's machine after
`make setup`), and writes the wall time, the exit code and the load average before and after to
out/bench/make-test.json. Not part of `make bench`: it takes about as long as CI (20+ minutes on
2 cores) and needs the machine to itself to mean anything.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args()
    clone = Path(tempfile.mkdtemp(prefix="dsgate-make-test-"))
    subprocess.run(["git", "clone", "--quiet", str(results.REPO), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    load = results.load()
    start = time.perf_counter()
    code = subprocess.run(["make", "test"], cwd=clone, env=env, check=False).returncode
    seconds = time.perf_counter() - start
    results.write(
        "make-test",
        {"seconds": round(seconds, 1), "exit": code, "load_before": load, "load_after": results.load()},
    )
    minutes, secs = divmod(round(seconds), 60)
    print(f"make test in a fresh clone: {minutes} min {secs} s, exit {code} (load {load[0]:.1f} before)")
    if args.keep:
        print(f"clone kept: {clone}")
    else:
        shutil.rmtree(clone, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
