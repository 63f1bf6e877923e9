"""The gate's deploy stage on a real control plane it starts itself (no cluster running beforehand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsgate import rundir
from dsgate.cluster import deploystage
from tests.support import CHARTS

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]


def test_stage_starts_deploys_and_removes_its_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGATE_CLUSTER_ROOT", str(tmp_path))
    said: list[str] = []
    out = deploystage.run([CHARTS / "node-exporter"], say=said.append)
    assert out.errors == []
    assert out.failures == []
    assert len(out.lines) == 1 and out.lines[0].startswith(f"deploy {CHARTS / 'node-exporter'}: ok")
    assert "11/11 available on 11 eligible nodes" in out.lines[0]  # tolerates the control-plane taint too
    assert any(deploystage.STAGE_CLUSTER in s for s in said)
    assert not list(rundir.path().glob("dsgate-deploy-*")), "the stage left its cluster behind"
    assert not (tmp_path / "clusters").exists(), (
        "the stage's own cluster lives in the run's directory, not the shared root"
    )
