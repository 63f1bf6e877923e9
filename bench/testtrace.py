"""A pytest plugin for bench/time_make_test.py --cpu: each pytest process (the xdist workers and the
controller) appends `time<TAB>start|end<TAB>nodeid` lines to $TESTTRACE_DIR/<pid>.txt, so a process
that started at a given time under a given worker can be charged to the test that worker ran then.

Loaded with `-p testtrace` and bench/ on PYTHONPATH; it does nothing when TESTTRACE_DIR is unset."""

from __future__ import annotations

import os
import time
from typing import TextIO

_out: list[TextIO] = []


def _log(kind: str, nodeid: str) -> None:
    directory = os.environ.get("TESTTRACE_DIR")
    if not directory:
        return
    if not _out:
        _out.append(open(os.path.join(directory, f"{os.getpid()}.txt"), "a", buffering=1))  # noqa: SIM115
    _out[0].write(f"{time.time():.3f}\t{kind}\t{nodeid}\n")


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    _log("start", nodeid)


def pytest_runtest_logfinish(nodeid: str, location: object) -> None:
    _log("end", nodeid)
