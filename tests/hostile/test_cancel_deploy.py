"""Cancelling `dsgate check` in its deploy stage (pipeline.run, after the static gate passed): SIGTERM or
SIGINT while the stage's own cluster starts stops etcd, kube-apiserver, the controllers and kwok,
removes the cluster's directory and every temporary file, and exits 143 or 130. SIGKILLed, it leaves
nothing either: the cluster lives in the run's temporary directory, whose reaper stops it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.support import assert_cancelled, launched, tagged, tagged_env, wait_for
from tests.support import CHARTS

pytestmark = [pytest.mark.hostile, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


@pytest.mark.parametrize(
    ("sig", "expected_code"),
    [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_signal_in_deploy_stage_stops_its_cluster(tmp_path: Path, sig: signal.Signals, expected_code: int) -> None:
    shutil.copytree(CHARTS / "node-exporter", tmp_path / "ne", ignore=shutil.ignore_patterns("charts"))
    shutil.copytree(CHARTS / "dsgate-common", tmp_path / "dsgate-common")  # its file://../dsgate-common dependency
    config = tmp_path / "dsgate.yaml"
    config.write_text("sources: [ne]\nkubeVersions: [1.36.0]\nhelmVersions: [v4]\ndeploy: [ne]\n")
    root = tmp_path / "clusters-root"  # no cluster runs there: the stage starts its own
    env = tagged_env(tmp_path, DSGATE_CLUSTER_ROOT=str(root))
    # the server check is not what this test is about: without it the deploy stage comes sooner
    cmd = [sys.executable, "-m", "dsgate.cli", "check", "--config", str(config), "--no-server-check"]
    proc = subprocess.Popen(
        launched(cmd), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for("the deploy stage's etcd", lambda: "etcd" in tagged(env).values(), 240, proc)
        err = assert_cancelled(proc, sig, expected_code, env, tmp_path)  # no process, no file left
        if sig != signal.SIGKILL:
            assert err.strip().splitlines()[-1].startswith("dsgate: error: interrupted"), err
        assert not root.exists() or not any(root.iterdir())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
