"""The warm server (dsgate.serverd): `dsgate server start|status|stop` as real processes, its safety
(one per user, a 0600 socket in a 0700 directory, the fingerprint, stale sockets, idle timeout,
signals: its OPA, etcd and kube-apiserver never outlive it) and that a check through it reports
exactly what a cold check reports. Every test has a runtime directory of its own (XDG_RUNTIME_DIR),
so none sees another's server or a developer's. Speed is not tested here: bench/bench_onefile.py
measures it."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dsgate.serverd import wire

pytestmark = [pytest.mark.policy, pytest.mark.server, pytest.mark.xdist_group("serverd")]

DAEMONSET = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: monitoring}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers:
        - name: agent
          image: registry.example/agent:1.0.0
          resources: {requests: {cpu: 2}, limits: {cpu: 1}}
"""

PASSING = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: monitoring, labels: {app.kubernetes.io/name: agent}}
spec:
  selector: {matchLabels: {app: agent}}
  minReadySeconds: 10
  template:
    metadata: {labels: {app: agent}}
    spec:
      priorityClassName: system-node-critical
      tolerations:
        - {operator: Exists}
      containers:
        - name: agent
          image: registry.example/agent:1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
          readinessProbe: {httpGet: {path: /ready, port: 8080}}
          livenessProbe: {httpGet: {path: /healthz, port: 8080}}
          resources: {requests: {cpu: 10m, memory: 64Mi}, limits: {cpu: 100m, memory: 64Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            runAsNonRoot: true
            runAsUser: 65534
            capabilities: {drop: [ALL]}
            seccompProfile: {type: RuntimeDefault}
"""


def _wait(condition: Callable[[], Any], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    """PID runs (a zombie does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Env:
    """A private runtime directory and the commands run with it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.run_dir = tmp / "xdg"
        self.run_dir.mkdir(mode=0o700)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(self.run_dir), "DSGATE_WARM": ""}
        self.children: set[int] = set()

    @property
    def directory(self) -> Path:
        return self.run_dir / "dsgate"

    def dsgate(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dsgate.cli", *args],
            env={**self.env, **(env or {})},
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def status(self) -> dict[str, Any] | None:
        old = os.environ.get("XDG_RUNTIME_DIR")
        os.environ["XDG_RUNTIME_DIR"] = str(self.run_dir)
        try:
            from dsgate.serverd import client

            return client.status()
        finally:
            if old is not None:
                os.environ["XDG_RUNTIME_DIR"] = old

    def start(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        proc = self.dsgate("server", "start", *args, env=env)
        assert proc.returncode == 0, proc.stderr
        answer = self.status()
        assert answer is not None
        self.children |= {answer["pid"], *answer["children"].values()}
        return answer

    def cleanup(self) -> None:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        self.directory.chmod(0o700)
        if self.status() is not None:
            self.dsgate("server", "stop")
        for pid in self.children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        leftovers = sorted(pid for pid in self.children if _alive(pid))
        assert leftovers == [], f"processes outlived the test: {leftovers}"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    (tmp_path / "ds.yaml").write_text(DAEMONSET)
    (tmp_path / "pass.yaml").write_text(PASSING)
    try:
        yield e
    finally:
        e.cleanup()


def test_start_status_stop(env: Env) -> None:
    """start: ready, with its children; status names them, the versions and the idle time left; stop:
    the daemon and every child gone, the socket removed."""
    answer = env.start("--idle-timeout", "600")
    assert answer["ready"] is True
    assert sorted(answer["children"]) == ["etcd", "kube-apiserver", "opa"]
    status = env.dsgate("server", "status")
    assert status.returncode == 0
    assert f"warm server: pid {answer['pid']}" in status.stdout
    assert "kube-apiserver v1." in status.stdout and "idle time left:" in status.stdout
    stopped = env.dsgate("server", "stop")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "warm server: stopped")
    _wait(lambda: not any(_alive(p) for p in env.children), "the daemon and its children to exit", 60)
    assert not (env.directory / wire.SOCKET).exists()
    assert env.dsgate("server", "status").returncode == 3  # not running


def test_socket_and_directory_modes(env: Env) -> None:
    env.start()
    assert stat.S_IMODE(env.directory.stat().st_mode) == 0o700
    sock = env.directory / wire.SOCKET
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("mode", "expected_message"),
    [
        (0o755, "must belong to you with mode 0700"),  # others could enter the directory: refused
        (0o700, ""),  # private: accepted
    ],
)
def test_runtime_directory_must_be_private(env: Env, mode: int, expected_message: str) -> None:
    env.directory.mkdir(mode=0o700)
    env.directory.chmod(mode)
    proc = env.dsgate("server", "status")
    assert expected_message in proc.stderr
    assert proc.returncode == (2 if expected_message else 3)


def test_second_start_is_refused(env: Env) -> None:
    """One server per user: a second `start` names the running one; a second daemon started directly
    cannot take the lock."""
    first = env.start()
    again = env.dsgate("server", "start")
    assert again.returncode == 2
    assert f"a warm server already runs (pid {first['pid']})" in again.stderr
    direct = env.dsgate("server", "run", "--idle-timeout", "5")
    assert direct.returncode == 2
    assert "another warm server runs for this user" in direct.stderr
    assert env.status() is not None and env.status()["pid"] == first["pid"]  # type: ignore[index]


def _cold_and_warm(env: Env, args: list[str]) -> tuple[subprocess.CompletedProcess[str], ...]:
    cold = env.dsgate("check", "--cold", *args)
    warm = env.dsgate("check", *args)
    return cold, warm


@pytest.mark.parametrize(
    ("args", "expected_code"),
    [
        (["--no-config", "pass.yaml"], 0),  # passes every rule and the server check: PASS, exit 0
        (["--no-config", "--no-server-check", "pass.yaml"], 0),  # passes without the server check too
        (["--no-config", "ds.yaml"], 1),  # server check: the API server refuses cpu request > limit
        (["--no-config", "--no-server-check", "ds.yaml"], 1),  # policy denies only
        (["--no-config", "--format", "json", "ds.yaml"], 1),  # another format
        (["--no-config", "--format", "sarif", "--strict", "ds.yaml"], 1),
        (["--no-config", "--pod-security", "restricted", "ds.yaml"], 1),  # another cluster model: its own server
        (["--no-config", "missing.yaml"], 2),  # an input error: exit 2, one line
        (["--no-config", "--bogus"], 2),  # a usage error
    ],
)
def test_warm_check_reports_what_a_cold_check_reports(env: Env, args: list[str], expected_code: int) -> None:
    env.start()
    before = env.status()
    assert before is not None
    cold, warm = _cold_and_warm(env, args)
    assert (warm.returncode, warm.stdout) == (cold.returncode, cold.stdout)
    assert cold.returncode == expected_code
    after = env.status()
    assert after is not None and after["checks"] == before["checks"] + 1  # it did run on the warm server
    assert (
        warm.stderr.replace(
            "dsgate: warm server: this check's cluster model differs from the warm API server's; started one of its own\n",
            "",
        )
        == cold.stderr
    )


def test_checks_in_a_row_see_no_state_of_the_one_before(env: Env) -> None:
    """The API server a check used is replaced: a restricted namespace of one check does not refuse
    the next check's pods, and the reports equal cold ones."""
    (env.tmp / "valid.yaml").write_text(DAEMONSET.replace("cpu: 2", "cpu: 1"))  # admission sees valid objects only
    env.start()
    restricted = env.dsgate("check", "--no-config", "--pod-security", "restricted", "valid.yaml")
    plain = env.dsgate("check", "--no-config", "valid.yaml")
    cold = env.dsgate("check", "--cold", "--no-config", "valid.yaml")
    assert "DS-PSA-001" in restricted.stdout
    assert (plain.returncode, plain.stdout) == (cold.returncode, cold.stdout)
    assert "DS-PSA-001" not in plain.stdout


@pytest.mark.parametrize(
    ("change", "expected_warm"),
    [
        ({}, True),  # the same code, tools and environment: the warm server runs the check
        ({"DSGATE_SOMETHING": "else"}, False),  # a DSGATE_ variable the daemon does not have: cold
        ({"TZ": "UTC+3"}, False),  # another time zone (dates in reports): cold
        ({"PATH": "/nonexistent:" + os.environ["PATH"]}, False),  # another PATH (other tools): cold
    ],
)
def test_fingerprint_mismatch_starts_cold_with_a_note(env: Env, change: dict[str, str], expected_warm: bool) -> None:
    """The version check: a client whose fingerprint differs from the daemon's is refused; it says so
    in one line and runs the check cold, with the same report."""
    env.start()
    checks = env.status()["checks"]  # type: ignore[index]
    proc = env.dsgate("check", "--no-config", "--no-server-check", "ds.yaml", env=change)
    cold = env.dsgate("check", "--cold", "--no-config", "--no-server-check", "ds.yaml", env=change)
    assert (proc.returncode, proc.stdout) == (cold.returncode, cold.stdout)
    assert proc.returncode == 1 and "deny DS-" in proc.stdout  # the check ran, on one side or the other
    notes = [line for line in proc.stderr.splitlines() if "warm server" in line]
    expected_notes = (
        []
        if expected_warm
        else [
            "dsgate: warm server not used: its dsgate code, pinned tools or environment differ from this client's "
            "(`dsgate server stop`, then start it again); cold start"
        ]
    )
    assert notes == expected_notes
    assert env.status()["checks"] == checks + expected_warm  # type: ignore[index]


def test_dead_daemon_and_stale_socket_start_cold(env: Env) -> None:
    """A SIGKILLed daemon leaves its socket: the next check removes it and runs cold, without a note;
    the daemon's children die with it (parent-death signal)."""
    answer = env.start()
    os.kill(answer["pid"], signal.SIGKILL)
    _wait(lambda: not any(_alive(p) for p in env.children), "the daemon's children to die with it", 60)
    assert (env.directory / wire.SOCKET).exists()  # stale
    proc = env.dsgate("check", "--no-config", "--no-server-check", "ds.yaml")
    assert proc.returncode == 1
    assert "warm server" not in proc.stderr
    assert not (env.directory / wire.SOCKET).exists()


def test_socket_file_of_nobody_is_removed(env: Env) -> None:
    """A socket file nobody listens on (and no daemon holds the lock): cold start, file removed."""
    env.directory.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(env.directory / wire.SOCKET))
    stale.close()
    proc = env.dsgate("check", "--no-config", "--no-server-check", "ds.yaml")
    assert (proc.returncode, "warm server" in proc.stderr) == (1, False)
    assert not (env.directory / wire.SOCKET).exists()


def test_idle_timeout_exits_and_children_are_gone(env: Env) -> None:
    """The idle clock starts when the server is ready (its warm-up may take longer than the timeout)
    and restarts at every request; then the daemon exits and takes its children with it."""
    answer = env.start("--idle-timeout", "5")
    _wait(lambda: not _alive(answer["pid"]), "the idle timeout", 60)
    _wait(lambda: not any(_alive(p) for p in env.children), "its children to stop", 30)
    assert not (env.directory / wire.SOCKET).exists()
    assert "warm server: idle timeout" in (env.directory / wire.LOG).read_text()


@pytest.mark.parametrize(
    ("signum", "expected_line"),
    [
        (signal.SIGTERM, "warm server: stopped by SIGTERM"),
        (signal.SIGINT, "warm server: stopped by SIGINT"),
    ],
)
def test_signal_stops_the_daemon_and_its_children(env: Env, signum: int, expected_line: str) -> None:
    answer = env.start()
    os.kill(answer["pid"], signum)
    _wait(lambda: not any(_alive(p) for p in env.children), "the daemon and its children to exit", 60)
    assert expected_line in (env.directory / wire.LOG).read_text()
    assert not (env.directory / wire.SOCKET).exists()


def test_warm_flag_starts_a_server_on_demand(env: Env) -> None:
    """--warm with no server running: one is started (with DSGATE_SERVER_IDLE), then serves the check."""
    proc = env.dsgate(
        "check", "--warm", "--no-config", "--no-server-check", "ds.yaml", env={"DSGATE_SERVER_IDLE": "600"}
    )
    assert proc.returncode == 1, proc.stderr
    answer = env.status()
    assert answer is not None
    env.children |= {answer["pid"], *answer["children"].values()}
    assert (answer["checks"], answer["idle_timeout"]) == (1, 600.0)


def test_protocol_refuses_an_unknown_request(env: Env) -> None:
    env.start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(env.directory / wire.SOCKET))
        conn.sendall(json.dumps({"op": "shell", "argv": ["id"]}).encode() + b"\n")
        assert wire.receive(conn) == {"refused": "unknown request 'shell'"}
