"""Child processes that die with dsgate, OS limits on them, and cancellation by SIGINT/SIGTERM.

- Every child (helm, helm-batch, kustomize, OPA, kwokctl) starts in its own process group with
  PR_SET_PDEATHSIG=SIGKILL, set by util-linux `setpriv` just before it execs the tool: no Python
  runs between fork and exec, so this is safe in the gate's threads (preexec_fn is not). The kernel
  sends the signal when the *thread* that started the child exits, so children are started by
  threads that outlive them: the main thread, or the gate's pool threads, which live until the pool
  shuts down after every child has been stopped. A SIGKILLed dsgate therefore leaves no child.
- A child that starts a tree of its own (`dsgate tools install`: bash, go, and go's compile and
  link processes) runs in a PID namespace of its own (util-linux `unshare --pid --fork
  --kill-child`, inside a user namespace where only that is allowed): when its first process dies,
  the kernel kills every process in the namespace, so the whole tree dies with dsgate too.
- OS limits (data segment, CPU seconds) are set the same way, by util-linux `prlimit`.
- Render tools (helm, helm-batch, kustomize) run in a network namespace of their own, with no
  interface up (util-linux `unshare --net`, or inside a user namespace where only that is allowed):
  whatever a chart or kustomization asks for, they cannot reach any address, loopback included.
  Where neither is allowed they get proxies that point at a closed port, and no `git` on PATH.
- Every live child is registered; `stop_all()` kills each one's process group. The CLI calls it
  when a command is cancelled, after the stages' own clean-up ran.
- `guarded()`: the one place a command's errors become an exit code and one line on stderr.
- `install_handlers()`: dsgate's commands handle SIGINT and SIGTERM whatever disposition they
  inherited. A background job of a non-interactive shell starts with SIGINT ignored; dsgate still
  answers an explicit SIGINT (exit 130) as it answers SIGTERM (exit 143): a CI gate that can't be
  cancelled would be worse than one that a stray Ctrl-C in its process group stops.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dsgate.errors import EXIT_ERROR, DsgateError


class Cancelled(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; a KeyboardInterrupt so every clean-up path written for Ctrl-C runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, _frame: object) -> None:
    raise Cancelled(signum)


def install_handlers() -> None:
    """Make SIGINT and SIGTERM raise Cancelled in the main thread (see the module docstring)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise)


def exit_code(exc: KeyboardInterrupt) -> int:
    """130 for SIGINT (or a plain KeyboardInterrupt), 143 for SIGTERM."""
    return exc.exit_code if isinstance(exc, Cancelled) else 128 + signal.SIGINT


@dataclass(frozen=True)
class OsLimits:
    """OS limits for one child: data segment in bytes (RLIMIT_DATA: what Go maps writable for its
    heap, not the address space it only reserves) and CPU seconds (0: none)."""

    memory: int = 0
    cpu_seconds: int = 0


# Environment of a child that must not reach the network even outside a network namespace.
OFFLINE_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "no_proxy": "",
}


@functools.cache
def _netns_prefix() -> tuple[str, ...] | None:
    """The unshare command that gives a child an empty network namespace here, None when none works."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    for prefix in ((unshare, "--net"), (unshare, "--user", "--map-root-user", "--net")):
        if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0:
            return prefix
    return None


@functools.cache
def _pidns_prefix() -> tuple[str, ...] | None:
    """The unshare command that runs a child as the first process of a PID namespace of its own, killed
    (and the namespace with it) when unshare dies; None when none works here."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    pidns = ("--pid", "--fork", "--kill-child")
    for prefix in ((unshare, *pidns), (unshare, "--user", "--map-root-user", *pidns)):
        if subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0:
            return prefix
    return None


def offline_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """ENV (default: this process's) for a render tool: proxies to a closed port, helm's plugins
    directory empty, and, without a network namespace, no git on PATH (kustomize's remote bases)."""
    out = {**(os.environ if env is None else env), **OFFLINE_ENV, "HELM_PLUGINS": "/nonexistent/dsgate-no-helm-plugins"}
    if _netns_prefix() is None:
        out["PATH"] = ""
    return out


# The Go garbage collector's target for the local cluster's components (kwokctl's etcd, kube-apiserver,
# controllers, scheduler, kwok) and the admission tests' status controller: kube-apiserver allocates
# most of its start-up heap for good (its API groups, their OpenAPI documents), and at Go's default
# of 100 it spent a fifth of its start collecting it. At 400 a 1,000-node cluster starts on 23.3 s of
# CPU instead of 26.5, and the 11-node cluster's control plane holds about 130 MiB more (bench/README.md,
# 2026-12-08). The server check's etcd and kube-apiserver and OPA keep Go's default: under 20,000
# documents the server check's kube-apiserver grew by about 330 MiB at 400 and OPA by about 45 MiB,
# against the gate's memory goal.
GO_SERVER_GC_PERCENT = "400"


def go_server_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """ENV (default: this process's) for a Go server dsgate starts: GOGC=GO_SERVER_GC_PERCENT, unless
    the environment sets GOGC itself (a user tuning their Go servers keeps the say). A GOMEMLIMIT
    still bounds the heap: Go collects at whichever of the two comes first."""
    out = dict(os.environ if env is None else env)
    out.setdefault("GOGC", GO_SERVER_GC_PERCENT)
    return out


_live: set[subprocess.Popen[Any]] = set()
_lock = threading.Lock()
_stopping = threading.Event()  # set by stop_all: a thread still rendering starts no new child


class Stopping(DsgateError):
    """popen after stop_all: the command is being cancelled."""


def wrap(cmd: Sequence[str], limits: OsLimits | None = None, offline: bool = False, tree: bool = False) -> list[str]:
    """CMD behind unshare (OFFLINE: no network), setpriv (parent-death signal, after unshare, which
    may change credentials and so clear it) and prlimit (LIMITS), when util-linux has them. TREE: CMD
    and all it starts in a PID namespace; setpriv comes first then, as unshare forks the namespace's
    first process, which dies with unshare (--kill-child)."""
    prefix: list[str] = []
    setpriv = shutil.which("setpriv")
    pidns = _pidns_prefix() if tree else None
    if offline and (netns := _netns_prefix()):
        prefix += netns
    if setpriv:
        prefix += [setpriv, "--pdeathsig", "KILL"]
    if pidns:
        prefix += pidns
    if limits and (limits.memory or limits.cpu_seconds) and (prlimit := shutil.which("prlimit")):
        prefix.append(prlimit)
        if limits.memory:
            prefix.append(f"--data={limits.memory}")
        if limits.cpu_seconds:
            prefix.append(f"--cpu={limits.cpu_seconds}")
        prefix.append("--")
    return [*prefix, *map(str, cmd)]


def popen(
    cmd: Sequence[str], limits: OsLimits | None = None, offline: bool = False, tree: bool = False, **kwargs: Any
) -> subprocess.Popen[Any]:
    """subprocess.Popen of CMD in its own process group, dying with this thread, registered for
    stop_all; OFFLINE: a render tool; TREE: CMD's own children die with it too (see wrap and offline_env)."""
    if offline:
        kwargs["env"] = offline_env(kwargs.get("env"))
    with _lock:
        if _stopping.is_set():
            raise Stopping(f"not starting {cmd[0]}: dsgate is being cancelled")
        proc: subprocess.Popen[Any] = subprocess.Popen(wrap(cmd, limits, offline, tree), process_group=0, **kwargs)
        _live.add(proc)
    return proc


def kill(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL PROC's process group (it and anything it started) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    forget(proc)


def terminate(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM PROC, wait up to GRACE seconds for it to exit, then SIGKILL it; reap it either way."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    forget(proc)


def forget(proc: subprocess.Popen[Any]) -> None:
    with _lock:
        _live.discard(proc)


def stop_all() -> None:
    """Kill every registered child still running, and start no other (cancellation)."""
    with _lock:
        _stopping.set()
        procs = list(_live)
    for proc in procs:
        kill(proc)


def finish(proc: subprocess.Popen[Any]) -> tuple[Any, Any]:
    """PROC's (stdout, stderr) once it exits; interrupted (cancellation), its group is killed first."""
    try:
        out, err = proc.communicate()
    except BaseException:
        kill(proc)
        raise
    forget(proc)
    return out, err


class Timeout(DsgateError):
    """run() killed a child that outlived its time limit."""


def run(
    cmd: Sequence[str],
    *,
    input: bytes | None = None,
    timeout: float | None = None,
    limits: OsLimits | None = None,
    offline: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """subprocess.run(CMD, capture_output=True) through popen; raise Timeout after TIMEOUT seconds
    (the child's group killed). Output is bytes: the caller decodes it and names bad UTF-8."""
    proc = popen(
        cmd,
        limits,
        offline,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        raise Timeout(f"killed after {timeout:g}s") from None
    except BaseException:
        kill(proc)
        raise
    forget(proc)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def run_text(
    cmd: Sequence[str], *, timeout: float, limits: OsLimits | None = None, offline: bool = True
) -> subprocess.CompletedProcess[str]:
    """run() for a render tool whose caller reads text: output decoded (bad UTF-8 replaced), a time-out
    answered as exit 124 with the reason in stderr."""
    try:
        proc = run(cmd, timeout=timeout, limits=limits, offline=offline)
    except Timeout as exc:
        return subprocess.CompletedProcess(list(cmd), 124, "", f"{cmd[0]} {exc}")
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )


def guarded(prog: str, run: Callable[[], int]) -> int:
    """RUN's exit code, with every error it raises made one line on stderr, prefixed PROG: the one
    place a command's errors become exit codes. SIGINT and SIGTERM stop every child (130, 143);
    input, tool and set-up problems exit with their code (2); an unreadable file exits 2; a crash
    exits 2 too, never 1 and never with a traceback (DSGATE_DEBUG=1 shows it)."""
    try:
        return run()
    except KeyboardInterrupt as exc:  # SIGINT or SIGTERM: the stages stopped their children
        stop_all()
        print(
            f"{prog}: error: interrupted ({exc or 'SIGINT'}); every process dsgate started was stopped", file=sys.stderr
        )
        return exit_code(exc)
    except DsgateError as exc:
        print(f"{prog}: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get("DSGATE_DEBUG"):
            raise
        print(
            f"{prog}: error: internal error ({type(exc).__name__}: {exc}); rerun with DSGATE_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return EXIT_ERROR
