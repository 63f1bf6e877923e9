"""Running `dsgate check` as CI does, and what every hostile-input answer must look like."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MINIMAL_DS = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: agents}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "registry.example/agent:1.0"}]
"""


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback (most recent call last)" not in stream, stream[-3000:]
        assert "RecursionError" not in stream and "UnicodeDecodeError" not in stream, stream[-3000:]


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The report's error lines (text format) and the CLI's own, from both streams."""
    lines = (proc.stdout + proc.stderr).splitlines()
    return [line for line in lines if "error" in line.lower() and line.strip()]


def assert_refused(proc: subprocess.CompletedProcess[str], expected: Sequence[str]) -> None:
    """Exit 2, no traceback, and one error line naming every EXPECTED fragment."""
    assert_no_traceback(proc)
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    naming = [line for line in (proc.stdout + proc.stderr).splitlines() if all(e in line for e in expected)]
    assert len(naming) == 1, f"expected one line naming {expected}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


# --------------------------------------------------------------------------- processes

# A chart template of 400 million empty iterations: minutes of CPU, no memory (a render to cancel).
SLOW_TEMPLATE = "{{- range until 20000 }}{{- range until 20000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: slow}\n"

# Starts a command with SIGINT and SIGTERM at their defaults, whatever this test process was started
# with (a background job of a non-interactive shell inherits SIGINT ignored): dispositions survive exec.
DEFAULT_SIGNALS = "import os, signal, sys; [signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)]; os.execv(sys.argv[1], sys.argv[1:])"
IGNORED_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
)


def launched(cmd: Sequence[str], sigint: str = "default") -> list[str]:
    """CMD started through a launcher that sets its SIGINT disposition ('default' or 'ignored')."""
    return [sys.executable, "-c", DEFAULT_SIGNALS if sigint == "default" else IGNORED_SIGINT, *cmd]


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of PID, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def descendants(pid: int) -> dict[int, tuple[str, int]]:
    """pid -> (executable name, start time) of every live descendant of PID."""
    parents: dict[int, list[int]] = {}
    info: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[1] in ("Z", "X"):
            continue
        parents.setdefault(stat[0], []).append(int(entry.name))
        try:
            exe = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        info[int(entry.name)] = (Path(exe).name, stat[2])
    out: dict[int, tuple[str, int]] = {}
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        if child in info:
            out[child] = info[child]
        todo.extend(parents.get(child, []))
    return out


def still_running(procs: dict[int, tuple[str, int]]) -> dict[int, str]:
    """Those of PROCS (from descendants) still alive: same pid and start time, not a zombie."""
    alive = {}
    for pid, (name, start) in procs.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == start and stat[1] not in ("Z", "X"):
            alive[pid] = name
    return alive


TAG = "DSGATE_TEST_RUN"  # an environment variable every process a tagged run starts inherits


def tagged_env(tmp: Path, **extra: str) -> dict[str, str]:
    """This environment for a dsgate run whose every process (however deep, reparented or not) can be
    found by tagged(): TAG set to a fresh value; TMPDIR is TMP/tmp, so its temporary state is in view."""
    (tmp / "tmp").mkdir(exist_ok=True)
    return {**os.environ, "NO_COLOR": "1", TAG: uuid.uuid4().hex, "TMPDIR": str(tmp / "tmp"), **extra}


def tagged(env: dict[str, str]) -> dict[int, str]:
    """pid -> executable name of every live (not zombie) process whose environment carries ENV's tag, or
    whose command line names a path in its TMPDIR (a child started with an environment of its own)."""
    marker, tmpdir = f"{TAG}={env[TAG]}".encode(), env["TMPDIR"].encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        stat = _stat(int(entry.name))
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat is not None and stat[1] not in ("Z", "X") and (marker in environ or any(tmpdir in arg for arg in argv)):
            found[int(entry.name)] = Path(argv[0].decode(errors="replace")).name
    return found


def leftovers(tmp: Path) -> list[Path]:
    """What a finished run left in TMP/tmp (its TMPDIR), besides the empty runs directory of dsgate.rundir."""
    return sorted(
        p
        for p in (tmp / "tmp").rglob("*")
        if not (p.is_dir() and p.name.startswith("dsgate-runs-") and not any(p.iterdir()))
    )


def assert_cancelled(
    proc: subprocess.Popen[str], sig: signal.Signals, expected_code: int, env: dict[str, str], tmp: Path
) -> str:
    """Send SIG to PROC (a tagged run, see tagged_env); it must exit EXPECTED_CODE without a traceback,
    leave no process of its own running and nothing in its TMPDIR. Returns its stderr."""
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == expected_code, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    # killed before dsgate exited; the kernel may need a moment to finish a SIGKILLed process tree
    wait_for(f"every process of the run to be gone (left: {tagged(env)})", lambda: tagged(env) == {}, 60)
    assert leftovers(tmp) == []
    return err


def wait_for(
    what: str, predicate: Callable[[], bool], timeout: float, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Poll PREDICATE until true; fail naming WHAT after TIMEOUT or when PROC exits first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode}) first")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.05)
