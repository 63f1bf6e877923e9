"""Where the warm server lives, what both sides compare, and how they talk (standard library only:
`dsgate check` imports this before anything else, to decide in a few milliseconds whether a warm
server answers).

- The runtime directory: $XDG_RUNTIME_DIR/dsgate, else ~/.cache/dsgate/run; mode 0700, owned by the
  user (refused otherwise). In it: `server.sock` (mode 0600), `server.lock` (the daemon holds an
  exclusive flock on it for its whole life: one daemon per user and runtime directory), `server.log`.
- The fingerprint: a hash of dsgate's code and data files (path, size, mtime), the pinned versions,
  the tool binaries in the cache, the Python interpreter, the uid, and the environment variables that
  change what a check does or prints. The daemon runs a check only when the client's equals its own.
- The protocol: one JSON object per line each way, one request per connection.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from dsgate.errors import DsgateError
from dsgate.paths import PACKAGE_DIR, cache_dir

SOCKET = "server.sock"
LOCK = "server.lock"
LOG = "server.log"
DEFAULT_IDLE = 15 * 60.0  # seconds without a request after which the daemon exits
MAX_MESSAGE = 256 * 1024 * 1024  # a report of 20,000 documents fits
# Environment variables that change what a check does or how it prints: a client whose values differ
# from the daemon's gets a cold start (names, and every name with one of the prefixes).
ENV_NAMES = ("PATH", "HOME", "TMPDIR", "XDG_CACHE_HOME", "PYTHONPATH", "NO_COLOR", "FORCE_COLOR", "TERM", "TZ", "LANG")
ENV_PREFIXES = ("DSGATE_", "HELM_", "KUBE", "GO", "LC_")


class WireError(DsgateError):
    """The daemon did not answer as the protocol says (it died, or is not a dsgate daemon)."""


def runtime_dir(create: bool = True) -> Path:
    """The per-user directory of the socket and lock (mode 0700, the user's own); PermissionError when
    it belongs to another user or others can enter it."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    directory = Path(base) / "dsgate" if base else cache_dir() / "run"
    if create:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not directory.exists():
        return directory
    info = directory.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(
            f"{directory} must belong to you with mode 0700 (it is {oct(info.st_mode & 0o777)}, uid {info.st_uid}); "
            "fix it or set XDG_RUNTIME_DIR to a directory of your own"
        )
    return directory


def socket_path() -> Path:
    return runtime_dir(create=False) / SOCKET


def _tree_state(root: Path, into: Any) -> None:
    for directory, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(directory, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            into.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())


def environment() -> dict[str, str]:
    """The variables of ENV_NAMES and ENV_PREFIXES this process has."""
    return {k: v for k, v in sorted(os.environ.items()) if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}


def fingerprint() -> str:
    """What must be equal for the daemon to run this process's check (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(f"{sys.executable}\0{sys.version}\0{os.getuid()}\n".encode())
    digest.update(json.dumps(environment(), sort_keys=True).encode())
    _tree_state(PACKAGE_DIR, digest)  # code, versions.env, the policy library, the cluster data
    _tree_state(cache_dir() / "tools", digest)  # the pinned binaries the check runs
    return digest.hexdigest()[:32]


def send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def receive(conn: socket.socket) -> dict[str, Any]:
    """One message; WireError when the peer closes first or sends something else."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise WireError("the peer closed the connection before a whole message")
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            break
        if size > MAX_MESSAGE:
            raise WireError("message too large")
    try:
        message = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise WireError(f"not a dsgate message: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("not a dsgate message")
    return message
