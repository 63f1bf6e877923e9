"""The warm server's process (`dsgate server run`, started by `dsgate server start` or `check --warm`).

It takes this user's lock (one daemon per user and runtime directory), starts OPA with the policy
library and an API server (etcd + kube-apiserver) from its main thread, then listens on a unix socket
of mode 0600 in the runtime directory (mode 0700). Requests are served one at a time, in the main
thread: `status`, `stop`, and `check`, which runs the command line's check (handed in as RUNNER) in
the client's directory, with the warm servers borrowed through pipeline.Servers, and returns its exit
code, stdout and stderr.

- The version check: a check whose fingerprint (see wire) differs from the daemon's is refused; the
  client notes it and starts cold.
- No state crosses checks: OPA is reused only while the policy directory's files, the data and the
  memory limit are the same (else it is replaced); the API server a check used (it created namespaces
  and prerequisites in it) is stopped after the check and a fresh one started at once, ready before
  the next check in the usual case. A check whose cluster model (the API server's flags) differs gets
  a server of its model (a cold start for that check, noted on stderr).
- Exit: after IDLE seconds without a request, on `stop`, on SIGTERM/SIGINT (a check running then is
  cancelled as a cold one is). OPA, etcd and kube-apiserver are stopped first; they carry
  PR_SET_PDEATHSIG, so even a SIGKILLed daemon leaves none. The socket is removed on the way out.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from dsgate import procs
from dsgate.errors import DsgateError
from dsgate.gate.clustermodel import ClusterModel
from dsgate.gate.evaluate import OpaServer
from dsgate.gate.servercheck import ApiServer, ServerCheckError
from dsgate.paths import policies_dir
from dsgate.serverd import wire
from dsgate.versions import pinned

Runner = Callable[[list[str], TextIO, TextIO, "WarmServers"], int]


class DaemonError(DsgateError):
    """The warm server cannot start (another runs, the runtime directory is not private)."""


class _Out(io.StringIO):
    """A check's stdout, a terminal when the client's is (the report's colours follow the client)."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _policy_state(directory: Path) -> str:
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            with contextlib.suppress(OSError):
                info = os.stat(os.path.join(root, name))
                digest.update(f"{root}/{name}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class WarmServers:
    """OPA and the API server kept across checks (pipeline.Servers). Started and stopped from the
    daemon's main thread: their parent-death signal is tied to it."""

    def __init__(self) -> None:
        self._opa: OpaServer | None = None
        self._opa_key: tuple[str, ...] = ()
        self._api: ApiServer | None = None
        self._api_flags: tuple[str, ...] = ()
        self.api_used = False
        self.note: Callable[[str], None] = lambda _: None

    def _opa_key_of(self, policy_dir: Path, data: Mapping[str, Any], memory: int) -> tuple[str, ...]:
        resolved = policy_dir.resolve()
        return (str(resolved), _policy_state(resolved), json.dumps(data, sort_keys=True, default=str), str(memory))

    def opa(self, policy_dir: Path, data: Mapping[str, Any], timeout: float, memory: int) -> OpaServer:
        """A started OPA with POLICY_DIR and DATA (replaced when they changed); TIMEOUT per request."""
        key = self._opa_key_of(policy_dir, data, memory)
        dead = self._opa is not None and (self._opa.process is None or self._opa.process.poll() is not None)
        if self._opa is None or key != self._opa_key or dead:
            if self._opa is not None:
                self._opa.stop()
            self._opa = None
            opa = OpaServer(policy_dir, data=dict(data), timeout=timeout, memory=memory)
            opa.start()  # EvaluationError: the check reports it as a cold one would
            self._opa, self._opa_key = opa, key
        self._opa.timeout = timeout
        return self._opa

    def api_server(self, cluster: ClusterModel) -> ApiServer:
        """A started API server of CLUSTER's flags nobody has used (ready later: wait_ready)."""
        flags = tuple(cluster.apiserver_flags())
        if self._api is not None and flags != self._api_flags:
            self.note(
                "dsgate: warm server: this check's cluster model differs from the warm API server's; started one of its own"
            )
            self._api.stop()
            self._api = None
        if self._api is None:
            self._start_api(cluster)
        assert self._api is not None
        self.api_used = True
        return self._api

    def _start_api(self, cluster: ClusterModel) -> None:
        server = ApiServer(cluster)
        try:
            server.start()
        except ServerCheckError:
            server.stop()
            raise
        self._api, self._api_flags = server, tuple(cluster.apiserver_flags())

    def after_check(self) -> None:
        """Drop the API server a check used (its namespaces and objects) and start a fresh one; close
        OPA's connections of the check's threads."""
        if self._opa is not None:
            self._opa.release_clients()
        if self.api_used and self._api is not None:
            cluster = self._api.cluster
            self._api.stop()
            self._api = None
            self.api_used = False
            try:
                self._start_api(cluster)
            except ServerCheckError as exc:  # the next check starts one and reports the error itself
                print(f"warm server: the spare API server did not start: {exc}", file=sys.stderr)

    def warm_up(self) -> None:
        """OPA with dsgate's library and no data, an API server of the default cluster model, ready."""
        self.opa(policies_dir(), {}, 30.0, 0)
        self._start_api(ClusterModel())
        assert self._api is not None
        self._api.wait_ready()

    def pids(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self._opa is not None and self._opa.pid:
            out["opa"] = self._opa.pid
        if self._api is not None:
            out |= self._api.pids()
        return out

    def stop(self) -> None:
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._opa is not None:
            self._opa.stop()
            self._opa = None


class Daemon:
    """One warm server: see the module docstring."""

    def __init__(self, runner: Runner, idle: float) -> None:
        self.runner = runner
        self.idle = idle
        self.servers = WarmServers()
        self.fingerprint = wire.fingerprint()
        self.started = time.time()
        self.last = time.monotonic()
        self.checks = 0
        self.ready = False
        self._lock_fd = -1
        self._sock: socket.socket | None = None
        self._path = wire.socket_path()
        self.signalled = 0  # SIGTERM/SIGINT arrived (a check it cancelled returns normally: the daemon exits after)

    def _take_lock(self) -> None:
        directory = wire.runtime_dir()
        self._lock_fd = os.open(directory / wire.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DaemonError(
                f"another warm server runs for this user ({directory}); `dsgate server stop` first"
            ) from None
        with contextlib.suppress(FileNotFoundError):  # a dead daemon's socket
            self._path.unlink()

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # the socket is created 0600: no moment at which others could connect
        try:
            sock.bind(str(self._path))
        finally:
            os.umask(old)
        os.chmod(self._path, 0o600)
        sock.listen(16)
        self._sock = sock

    def status(self) -> dict[str, Any]:
        versions = pinned()
        return {
            "pid": os.getpid(),
            "ready": self.ready,
            "uptime": round(time.time() - self.started, 1),
            "idle_left": round(max(0.0, self.idle - (time.monotonic() - self.last)), 1),
            "idle_timeout": self.idle,
            "checks": self.checks,
            "fingerprint": self.fingerprint,
            "socket": str(self._path),
            "versions": {
                "kube-apiserver": versions.get("KUBERNETES_VERSION", ""),
                "opa": versions.get("OPA_VERSION", ""),
                "etcd": versions.get("ETCD_VERSION", ""),
            },
            "children": self.servers.pids(),
        }

    def _check(self, message: dict[str, Any]) -> dict[str, Any]:
        if message.get("fingerprint") != self.fingerprint:
            return {
                "refused": "its dsgate code, pinned tools or environment differ from this client's "
                "(`dsgate server stop`, then start it again)"
            }
        out, err = _Out(bool(message.get("tty"))), _Out(False)
        self.servers.note = lambda line: print(line, file=err)
        try:
            os.chdir(str(message.get("cwd") or "/"))
        except OSError as exc:
            return {"code": 2, "stdout": "", "stderr": f"dsgate: error: {exc}\n"}
        try:
            code = self.runner([str(a) for a in message.get("argv") or []], out, err, self.servers)
        finally:
            os.chdir("/")
            self.checks += 1
        if self.signalled:
            raise procs.Cancelled(self.signalled)
        return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

    def _serve_one(self, conn: socket.socket) -> bool:
        """Answer one connection; False when the daemon should exit."""
        with conn:
            conn.settimeout(30.0)
            try:
                message = wire.receive(conn)
            except (OSError, wire.WireError):
                return True
            conn.settimeout(None)
            op = message.get("op")
            keep = True
            if op == "status":
                answer = self.status()
            elif op == "stop":
                answer, keep = {"stopping": os.getpid()}, False
            elif op == "check":
                answer = self._check(message)
            else:
                answer = {"refused": f"unknown request {op!r}"}
            with contextlib.suppress(OSError):  # the client went away: its answer is dropped
                wire.send(conn, answer)
        if op == "check":
            self.servers.after_check()
        return keep

    def serve(self) -> int:
        self._take_lock()
        try:
            self.servers.warm_up()
            self._listen()
            self.ready = True
            self.last = time.monotonic()  # idle from now: the warm-up may take longer than the timeout
            print(f"warm server {os.getpid()} ready on {self._path}", file=sys.stderr, flush=True)
            assert self._sock is not None
            while True:
                left = self.idle - (time.monotonic() - self.last)
                if left <= 0:
                    print("warm server: idle timeout", file=sys.stderr, flush=True)
                    return 0
                self._sock.settimeout(left)
                try:
                    conn, _ = self._sock.accept()
                except TimeoutError:
                    continue
                conn.setblocking(True)
                keep = self._serve_one(conn)
                self.last = time.monotonic()
                if not keep:
                    return 0
        finally:
            self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
        self.servers.stop()
        procs.stop_all()


def run(runner: Runner, idle: float) -> int:
    """`dsgate server run`: serve until idle, stopped or signalled (exit 128+signal then)."""
    daemon = Daemon(runner, idle)

    def cancel(signum: int, _frame: object) -> None:
        daemon.signalled = signum
        raise procs.Cancelled(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, cancel)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        return daemon.serve()
    except KeyboardInterrupt as exc:
        print(f"warm server: stopped by {exc or 'SIGINT'}", file=sys.stderr, flush=True)
        return procs.exit_code(exc)
