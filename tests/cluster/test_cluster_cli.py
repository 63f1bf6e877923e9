"""`dsgate cluster` bad-input paths that need no control plane: they must fail fast, clearly, and leave nothing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dsgate.cluster import components, lifecycle
from dsgate.cluster.cli import main
from dsgate.cluster.state import ClusterPaths, locked, paths_for
from dsgate.net import port_free

pytestmark = pytest.mark.unit


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DSGATE_CLUSTER_ROOT", str(tmp_path))
    monkeypatch.delenv("DSGATE_CLUSTER_NAME", raising=False)
    return tmp_path


Spawn = Callable[[list[str]], subprocess.Popen[bytes]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start a process; teardown kills it if the test left it running."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str]) -> subprocess.Popen[bytes]:
        procs.append(subprocess.Popen(argv))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kubeconfig_prints_the_known_path(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kubeconfig", "--name", "demo"]) == 0
    assert capsys.readouterr().out.strip() == str(root / "clusters" / "demo" / "kubeconfig.yaml")


def test_module_entry_point_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dsgate.cluster.cli", "kubeconfig"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("/clusters/dsgate/kubeconfig.yaml")


def test_down_when_nothing_runs_is_a_clear_no_op(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["down", "--name", "ghost"]) == 0
    assert "cluster 'ghost' is not running; nothing to do" in capsys.readouterr().err
    assert not (root / "clusters" / "ghost").exists()


def test_status_when_nothing_runs(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--name", "ghost"]) == 1
    assert "cluster 'ghost': not running" in capsys.readouterr().out


def test_port_in_use_is_one_line_naming_the_port_and_leaves_nothing(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["up", "--name", "busy", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert "--port" in err  # the fix
    assert not (root / "clusters" / "busy").exists()
    assert components.component_pids(paths_for("busy", root)) == {}


@pytest.mark.parametrize(
    ("argv", "expected_exit", "expected_message"),
    [
        pytest.param(["up", "--name", "Bad_Name"], 2, "invalid cluster name 'Bad_Name'", id="bad-name"),
        pytest.param(["up", "--name", "x", "--port", "70000"], 2, "--port 70000 is not a TCP port", id="bad-port"),
        pytest.param(
            ["up", "--name", "x", "--topology", "/nonexistent/topo.yaml"],
            2,
            "cannot read topology file /nonexistent/topo.yaml",
            id="missing-topology",
        ),
    ],
)
def test_bad_input_exits_with_a_message(
    root: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected_exit: int, expected_message: str
) -> None:
    assert main(argv) == expected_exit
    assert expected_message in capsys.readouterr().err
    assert not (root / "clusters" / "x").exists()


def test_missing_binary_fails_before_anything_starts(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DSGATE_KWOKCTL", str(root / "no-such-kwokctl"))
    assert main(["up", "--name", "nobin"]) == 2
    err = capsys.readouterr().err
    assert "kwokctl: DSGATE_KWOKCTL=" in err and "is not an executable" in err
    assert not (root / "clusters" / "nobin").exists()


def _fake_component(spawn: Spawn, paths: ClusterPaths, component: str) -> subprocess.Popen[bytes]:
    """A process that looks like one of the cluster's components: started from its bin/ directory."""
    paths.bin_dir.mkdir(parents=True, exist_ok=True)
    exe = paths.bin_dir / component
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    proc = spawn([str(exe), "300"])
    # Popen returns when execve closes the close-on-exec pipe, which is before the kernel has
    # set up the new argv: /proc/PID/cmdline can read empty for a moment. A running component
    # has finished exec, so wait for that (a condition, not a sleep).
    deadline = time.monotonic() + 10
    while components.process_argv(proc.pid)[:1] != [str(exe)]:
        assert time.monotonic() < deadline, f"{exe} (pid {proc.pid}) never showed its argv in /proc"
        time.sleep(0.001)
    (paths.dir / "pids").mkdir(exist_ok=True)
    paths.pid_file(component).write_text(str(proc.pid))
    return proc


def test_stale_directory_is_detected_and_down_cleans_it(
    root: Path, spawn: Spawn, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = paths_for("stale", root)
    survivor = _fake_component(spawn, paths, "kube-apiserver")
    # etcd's pid file points at a process that is gone.
    paths.pid_file("etcd").write_text("999999")
    st = components.inspect(paths)
    assert st.state == "stale"
    assert st.pids == {"kube-apiserver": survivor.pid}
    assert main(["status", "--name", "stale"]) == 1
    assert "cluster 'stale': stale (an earlier 'up' did not finish)" in capsys.readouterr().out
    assert main(["down", "--name", "stale"]) == 0
    err = capsys.readouterr().err
    assert "stale cluster 'stale' stopped (kube-apiserver)" in err
    assert survivor.wait(timeout=5) is not None
    assert not paths.dir.exists()


def test_component_without_pid_file_is_still_found(root: Path, spawn: Spawn) -> None:
    paths = paths_for("orphan", root)
    proc = _fake_component(spawn, paths, "kube-scheduler")
    paths.pid_file("kube-scheduler").unlink()
    assert components.component_pids(paths) == {"kube-scheduler": proc.pid}
    assert lifecycle.down("orphan", root, quiet=True) == ["kube-scheduler"]
    assert proc.wait(timeout=5) is not None


def test_a_process_outside_the_cluster_bin_dir_is_never_touched(root: Path, spawn: Spawn) -> None:
    paths = paths_for("mine", root)
    paths.dir.mkdir(parents=True)
    (paths.dir / "pids").mkdir()
    other = spawn(["sleep", "300"])  # not started from <dir>/bin: not ours to stop
    paths.pid_file("etcd").write_text(str(other.pid))
    assert components.component_pids(paths) == {}
    lifecycle.down("mine", root, quiet=True)
    assert other.poll() is None


def test_picked_ports_are_distinct_free_and_below_the_ephemeral_range() -> None:
    low, _ = components.ephemeral_range()
    api, others = components.pick_ports(0, 5)
    ports = [api, *others]
    assert len(set(ports)) == 6
    assert all(20000 <= p < low for p in ports)
    assert all(port_free(p) for p in ports)


def test_status_while_another_up_or_down_runs_says_busy(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with locked(root):
        # flock locks belong to the open file description: a second open() in this process contends like another process would.
        assert main(["status", "--name", "any"]) == 1
    assert "cluster 'any': busy" in capsys.readouterr().out


def test_clusters_of_dead_sessions_are_reaped_and_live_ones_kept(
    tmp_path_factory: pytest.TempPathFactory, spawn: Spawn
) -> None:
    from tests.cluster.conftest import OWNER_FILE, _start_time, reap_orphan_clusters

    gone = subprocess.Popen(["true"])
    gone.wait()
    dead_root, live_root = tmp_path_factory.mktemp("kwok"), tmp_path_factory.mktemp("kwok")
    (dead_root / OWNER_FILE).write_text(json.dumps({"pid": gone.pid, "start": "0"}))
    (live_root / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "start": _start_time(os.getpid())}))
    orphan = _fake_component(spawn, paths_for("old", dead_root), "etcd")
    alive = _fake_component(spawn, paths_for("current", live_root), "etcd")
    reaped = reap_orphan_clusters()  # other dead sessions' clusters may be reaped too
    assert f"{dead_root}/clusters/old" in reaped
    assert f"{live_root}/clusters/current" not in reaped
    assert orphan.wait(timeout=5) is not None
    assert alive.poll() is None
    assert not paths_for("old", dead_root).dir.exists()
