"""Cancelling `dsgate check` in its deploy stage: SIGTERM while the stage's own cluster starts stops
etcd, kube-apiserver, the controllers and kwok, removes the cluster's directory, and exits 143."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dsgate.cluster.lifecycle import component_pids, down, paths_for
from dsgate.gate.deploystage import STAGE_CLUSTER
from tests.conftest import CHARTS
from tests.hostile.support import launched, wait_for

pytestmark = [pytest.mark.hostile, pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


@pytest.mark.parametrize(("sig", "expected_code"), [(signal.SIGTERM, 143)])
def test_signal_in_deploy_stage_stops_its_cluster(tmp_path: Path, sig: signal.Signals, expected_code: int) -> None:
    shutil.copytree(CHARTS / "node-exporter", tmp_path / "ne")
    config = tmp_path / "dsgate.yaml"
    config.write_text("sources: [ne]\nkubeVersions: [1.36.0]\nhelmVersions: [v4]\ndeploy: [ne]\n")
    root = tmp_path / "clusters-root"
    paths = paths_for(STAGE_CLUSTER, root)
    cmd = [sys.executable, "-m", "dsgate.cli", "check", "--config", str(config)]
    proc = subprocess.Popen(
        launched(cmd), cwd=tmp_path, env={**os.environ, "DSGATE_CLUSTER_ROOT": str(root)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for("the deploy stage's etcd", lambda: "etcd" in component_pids(paths), 240, proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == expected_code, err
        assert "Traceback" not in err
        assert component_pids(paths) == {}
        assert not paths.dir.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        down(STAGE_CLUSTER, root, quiet=True)
