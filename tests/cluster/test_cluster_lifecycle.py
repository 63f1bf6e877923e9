"""up / up again / stale / down / down again on a small real cluster, through the CLI entry point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from dsgate import yamlc
from dsgate.cluster import lifecycle as cluster
from dsgate.cluster.cli import main
from dsgate.cluster.components import component_pids, inspect
from dsgate.cluster.state import COMPONENTS, paths_for
from dsgate.paths import DEFAULT_TOPOLOGY
from dsgate.versions import kubernetes_version
from tests.hostile.support import launched, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


def _small_topology(tmp_path: Path, workers: int, gpus: int = 0) -> Path:
    data = yamlc.safe_load(DEFAULT_TOPOLOGY.read_text())
    data["podReadyDelay"] = "500ms"
    for pool in data["pools"]:
        pool["count"] = {"control-plane": 1, "worker": workers, "gpu": gpus}[pool["name"]]
    path = tmp_path / f"topology-{workers}-{gpus}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_up_twice_stale_and_down_twice(
    cluster_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DSGATE_CLUSTER_ROOT", str(cluster_root))
    name = f"life-{uuid.uuid4().hex[:6]}"
    paths = paths_for(name, cluster_root)
    topo = _small_topology(tmp_path, workers=1, gpus=1)
    try:
        assert main(["up", "--name", name, "--topology", str(topo)]) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert f"kubeconfig: {paths.kubeconfig}" in out
        assert paths.kubeconfig.is_file()
        first = component_pids(paths)
        assert set(first) == set(COMPONENTS)

        # Up again with the same topology: idempotent, the same processes keep running.
        assert main(["up", "--name", name, "--topology", str(topo)]) == 0
        captured = capsys.readouterr()
        assert f"cluster {name!r} is already running; nothing to do" in captured.err
        assert component_pids(paths) == first

        # Up again with another topology: refused, nothing restarted.
        assert main(["up", "--name", name, "--topology", str(_small_topology(tmp_path, workers=2, gpus=1))]) == 2
        assert "already running with a different topology" in capsys.readouterr().err
        assert component_pids(paths) == first

        assert main(["status", "--name", name]) == 0
        status = capsys.readouterr().out
        assert f"cluster {name!r}: running" in status and "nodes: 3/3 Ready" in status
        gpu_nodes = [
            n["metadata"]["name"]
            for n in cluster.attach(name, cluster_root).nodes()
            if n["metadata"]["labels"].get("nvidia.com/gpu.present") == "true"
        ]
        assert gpu_nodes == ["gpu-0"]

        # Every process dies (a reboot, an OOM kill): the directory is stale.
        for pid in first.values():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while component_pids(paths) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert inspect(paths).state == "stale"
        assert main(["status", "--name", name]) == 1
        assert "stale" in capsys.readouterr().out

        # Up on the stale directory cleans it and starts a fresh cluster.
        assert main(["up", "--name", name, "--topology", str(topo)]) == 0
        err = capsys.readouterr().err
        assert f"removed stale cluster directory {paths.dir}" in err
        second = component_pids(paths)
        assert set(second) == set(COMPONENTS) and not set(second.values()) & set(first.values())
        api_port = cluster.attach(name, cluster_root).ports["kube-apiserver"]
        assert not _port_free(api_port)

        # Down removes processes, directory and frees the ports.
        assert main(["down", "--name", name]) == 0
        assert f"cluster {name!r} stopped" in capsys.readouterr().err
        assert component_pids(paths) == {}
        assert not paths.dir.exists()
        assert _port_free(api_port)

        # Down again: nothing to do, still success.
        assert main(["down", "--name", name]) == 0
        assert f"cluster {name!r} is not running; nothing to do" in capsys.readouterr().err
    finally:
        cluster.down(name, cluster_root, quiet=True)
        assert component_pids(paths) == {}


def test_a_component_that_dies_during_up_leaves_nothing_behind(
    cluster_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Fault injection: an API server that reports the pinned version but exits at start, as one
    # would on a port taken between dsgate's check and its bind. etcd is already running by then.
    broken = tmp_path / "kube-apiserver"
    broken.write_text(
        f"#!/bin/sh\n[ \"$1\" = --version ] && echo 'Kubernetes {kubernetes_version()}' && exit 0\necho 'bind: address already in use' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    monkeypatch.setenv("DSGATE_KUBE_APISERVER", str(broken))
    monkeypatch.setenv("DSGATE_CLUSTER_ROOT", str(cluster_root))
    name = f"dies-{uuid.uuid4().hex[:6]}"
    paths = paths_for(name, cluster_root)
    start = time.monotonic()
    assert main(["up", "--name", name, "--topology", str(_small_topology(tmp_path, workers=1))]) == 2
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    # Progress lines, then the error: one line with cause and hint, then the component's log tail.
    error = [line for line in err.splitlines() if line.startswith("dsgate cluster: ")][-1]
    assert error.startswith("dsgate cluster: kube-apiserver exited during start-up (port taken or bad flag?)"), err
    assert "bind: address already in use" in err  # the component's own log tail
    assert component_pids(paths) == {}
    assert not paths.dir.exists()
    assert elapsed < 60, f"the failure took {elapsed:.0f}s to surface"


@pytest.mark.parametrize(("sig", "expected_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_up_stops_what_it_started(
    cluster_root: Path, tmp_path: Path, sig: signal.Signals, expected_code: int
) -> None:
    name = f"intr-{uuid.uuid4().hex[:6]}"
    paths = paths_for(name, cluster_root)
    env = {**os.environ, "DSGATE_CLUSTER_ROOT": str(cluster_root)}
    topo = _small_topology(tmp_path, workers=1)
    # Started with default signal dispositions whatever pytest was started with (a background job of a
    # non-interactive shell inherits SIGINT ignored); dsgate installs its own handlers in any case.
    cmd = [sys.executable, "-m", "dsgate.cluster.cli", "up", "--name", name, "--topology", str(topo)]
    proc = subprocess.Popen(launched(cmd), env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("etcd to start", lambda: "etcd" in component_pids(paths), 60, proc)
        proc.send_signal(sig)  # Ctrl-C, or CI cancelling the job, in the middle of the start
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == expected_code, err
        assert "interrupted" in err and "everything started was stopped" in err
        assert component_pids(paths) == {}
        assert not paths.dir.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cluster.down(name, cluster_root, quiet=True)
