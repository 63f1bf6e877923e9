"""Temporary state of one dsgate run, removed even when dsgate is SIGKILLed.

    python -m dsgate.rundir DIR    kill the processes running from DIR, then remove it (the reaper's job)

Every temporary file and directory a run makes (OPA's data and log, the server check's etcd data and
certificates, the base tree of `dsgate diff`, the throwaway cluster of `dsgate simulate`, a chart's
values file) lives in one directory per process: `$TMPDIR/dsgate-runs-<uid>/run-<pid>-<random>`. The
run holds an exclusive flock on the `lock` file inside for as long as it lives; the kernel releases it
when the process dies, however it dies. The first temporary directory a run makes sweeps the others:
each run directory whose lock can be taken belongs to a dead run and is removed. The run removes its
own directory when it exits normally (cancelled included). Children never hold the lock: Python
opens the file close-on-exec. A process still running from a dead run's directory (a component of the
throwaway cluster of a SIGKILLed `dsgate simulate`: kwokctl starts them as daemons, they do not die
with dsgate) is killed before the directory is removed.

The run's directory also has a reaper: a shell in a session of its own, reading a pipe from dsgate.
dsgate writes `done` to it when it exits normally; when dsgate dies without (SIGKILL, OOM killer), the
pipe closes and the reaper runs `python -m dsgate.rundir DIR` at once. The sweep is for what even the
reaper missed (it was killed with dsgate's whole session or cgroup).

A run directory is locked before it gets its `run-` name (made as `.new-...`, locked, then renamed),
so a sweep never sees an unlocked directory of a live run. A `.new-` directory of a run SIGKILLed in
that instant is removed by a sweep once it is an hour old.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK = "lock"
STAGING_GRACE = 3600.0  # seconds before a never-renamed .new- directory counts as abandoned

_lock = threading.Lock()
_run: Path | None = None
_owner = 0  # the pid that made _run: a forked child makes its own
_reaper: subprocess.Popen[Any] | None = None
# Reads until dsgate says `done` or dies; in the second case reaps $1 with dsgate's Python ($2).
REAPER = 'read -r line; [ "$line" = done ] || exec "$2" -m dsgate.rundir "$1"'


def runs_root() -> Path:
    """$TMPDIR/dsgate-runs-<uid>: the run directories of this user."""
    root = Path(tempfile.gettempdir()) / f"dsgate-runs-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    if root.stat().st_uid != os.getuid():
        raise PermissionError(f"{root} belongs to another user; set TMPDIR to a directory of your own")
    return root


def _kill_processes_under(directory: Path) -> None:
    """SIGKILL every process whose executable path (argv[0]) lies inside DIRECTORY."""
    prefix = str(directory) + os.sep
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if argv0.startswith(prefix):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)


def sweep(root: Path) -> list[Path]:
    """Remove the run directories under ROOT whose owner is dead (their lock is free); return them."""
    removed: list[Path] = []
    for entry in root.iterdir():
        if entry.name.startswith(".new-"):
            with contextlib.suppress(OSError):
                if time.time() - entry.stat().st_mtime > STAGING_GRACE:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry)
            continue
        if not entry.name.startswith("run-") or entry == _run:
            continue
        try:
            fd = os.open(entry / LOCK, os.O_RDWR)
        except OSError:  # gone: another sweep is removing it
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _kill_processes_under(entry)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        except BlockingIOError:
            pass  # its run is alive
        finally:
            os.close(fd)
    return removed


def reap(directory: Path) -> None:
    """Kill what runs from DIRECTORY, then remove it."""
    _kill_processes_under(directory)
    shutil.rmtree(directory, ignore_errors=True)


def _start_reaper(directory: Path) -> subprocess.Popen[Any] | None:
    sh = shutil.which("sh")
    if sh is None:
        return None  # the next run's sweep removes what a killed run leaves
    return subprocess.Popen(
        [sh, "-c", REAPER, "dsgate-reaper", str(directory), sys.executable],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to dsgate's process group does not reach it
    )


def _remove_own() -> None:
    if _run is not None and _owner == os.getpid():
        shutil.rmtree(_run, ignore_errors=True)
        if _reaper is not None and _reaper.stdin is not None:
            with contextlib.suppress(OSError):
                _reaper.stdin.write(b"done\n")
                _reaper.stdin.close()


def path() -> Path:
    """This run's directory (made, locked and the dead runs' swept on first use)."""
    global _run, _owner, _reaper
    with _lock:
        if _run is not None and _owner == os.getpid():
            return _run
        root = runs_root()
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=root))
        fd = os.open(staging / LOCK, os.O_RDWR | os.O_CREAT, 0o600)  # kept open (locked) until the process exits
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = root / f"run-{os.getpid()}-{staging.name.removeprefix('.new-')}"
        staging.rename(final)
        _run, _owner = final, os.getpid()
        _reaper = _start_reaper(final)
        atexit.register(_remove_own)
        sweep(root)
        return final


def mkdtemp(prefix: str) -> Path:
    """A new directory in this run's directory (the caller removes it; a sweep does if the run dies)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=path()))


@contextlib.contextmanager
def temporary(prefix: str) -> Iterator[Path]:
    """A directory in this run's directory, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix, dir=path()) as tmp:
        yield Path(tmp)


if __name__ == "__main__":
    reap(Path(sys.argv[1]))
