"""The client side of the warm server: `dsgate check` through a running daemon, and `dsgate server
start|stop|status`.

Every way the daemon can be missing falls back to a cold start (`check` returns None): no socket, a
socket nobody listens on (a dead daemon's: removed), a daemon whose fingerprint differs from this
process's (a one-line note on stderr), a daemon that dies or closes the connection before answering
(a note). Standard library only, so the warm path starts fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from dsgate.serverd import wire

START_TIMEOUT = 180.0  # seconds for a daemon to be ready (its API server's start, on a loaded machine)


def _connect(path: Path, timeout: float | None) -> socket.socket | None:
    """A connection to the daemon at PATH; None when nobody listens (a stale socket is removed)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(str(path))
    except FileNotFoundError:
        conn.close()
        return None
    except ConnectionRefusedError:  # a dead daemon's socket: remove it unless a daemon holds the lock
        conn.close()
        if not _locked():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return None
    return conn


def _locked() -> bool:
    """Whether a daemon holds this user's lock (it lives, even if it does not listen yet)."""
    try:
        fd = os.open(wire.runtime_dir(create=False) / wire.LOCK, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def request(message: dict[str, Any], timeout: float | None = None) -> dict[str, Any] | None:
    """MESSAGE to the daemon and its answer; None when no daemon listens."""
    path = wire.socket_path()
    if not path.exists():
        return None
    conn = _connect(path, timeout)
    if conn is None:
        return None
    with conn:
        wire.send(conn, message)
        return wire.receive(conn)


def check(argv: list[str], err: TextIO = sys.stderr) -> dict[str, Any] | None:
    """Run `dsgate check ARGV` on the daemon: its answer ({code, stdout, stderr}), or None for a cold
    start (a note on ERR says why when a daemon was there but could not be used)."""
    try:
        answer = request(
            {
                "op": "check",
                "fingerprint": wire.fingerprint(),
                "argv": argv,
                "cwd": os.getcwd(),
                "tty": sys.stdout.isatty(),
            }
        )
    except PermissionError as exc:
        print(f"dsgate: warm server not used: {exc}; cold start", file=err)
        return None
    except (OSError, wire.WireError) as exc:  # the daemon died mid-request
        print(f"dsgate: warm server not used ({exc}); cold start", file=err)
        return None
    if answer is None:
        return None
    if "code" not in answer:
        print(f"dsgate: warm server not used: {answer.get('refused', 'unexpected answer')}; cold start", file=err)
        return None
    return answer


def status() -> dict[str, Any] | None:
    """The daemon's status, None when none runs."""
    return request({"op": "status"}, timeout=30.0)


def stop() -> bool:
    """Ask the daemon to exit and wait until it has (its lock is free); whether one was running."""
    answer = request({"op": "stop"}, timeout=60.0)
    if answer is None:
        return False
    deadline = time.monotonic() + 60.0
    while _locked() and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def start(idle: float, argv: list[str] | None = None) -> dict[str, Any]:
    """Start a daemon (`ARGV`, default `python -m dsgate.cli server run --idle-timeout IDLE`) in a
    session of its own and wait until it answers; its status. RuntimeError when it cannot start or
    another already runs (its status in the message)."""
    current = status()
    if current is not None:
        raise RuntimeError(f"a warm server already runs (pid {current.get('pid')}); `dsgate server stop` first")
    directory = wire.runtime_dir()
    cmd = argv or [sys.executable, "-m", "dsgate.cli", "server", "run", "--idle-timeout", str(idle)]
    with open(directory / wire.LOG, "ab") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd="/"
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (directory / wire.LOG).read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"the warm server exited with code {proc.returncode}: {' | '.join(tail)}")
        answer = status()
        if answer is not None and answer.get("pid") == proc.pid and answer.get("ready"):
            return answer
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the warm server was not ready within {START_TIMEOUT:.0f}s (see {directory / wire.LOG})")
