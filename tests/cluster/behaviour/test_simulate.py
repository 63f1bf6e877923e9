"""`dsgate simulate` end to end: coverage and rollout reports on throwaway clusters, and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dsgate.cluster.simulate import main
from dsgate.paths import DEFAULT_TOPOLOGY
from tests.cluster.behaviour.support import agent
from tests.support import CHARTS

GPU_TOPOLOGY = DEFAULT_TOPOLOGY.with_name("gpu.yaml")


@pytest.mark.cluster
@pytest.mark.behaviour
@pytest.mark.xdist_group("behaviour")
def test_chart_coverage_and_rollout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """node-exporter tolerates every taint: every node covered, the upgrade within its budget."""
    values = tmp_path / "fast.yaml"
    values.write_text(
        yaml.safe_dump({"minReadySeconds": 1, "updateStrategy": {"rollingUpdate": {"maxUnavailable": "50%"}}})
    )
    plot = tmp_path / "rollout.png"
    code = main(
        [
            str(CHARTS / "node-exporter"),
            "--topology",
            str(GPU_TOPOLOGY),
            "-f",
            str(values),
            "--upgrade-set",
            "image.tag=v1.12.0",
            "--format",
            "json",
            "--plot",
            str(plot),
        ]
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, report
    assert report["nodes"] == 10
    (ds,) = report["daemonsets"]
    assert (
        ds["eligibleNodes"],
        ds["coverage"]["scheduled"],
        ds["coverage"]["available"],
        ds["coverage"]["missing"],
    ) == (10, 10, 10, [])
    r = ds["rollout"]
    assert (r["strategy"], r["budget"], r["maxUnavailable"], r["waves"], r["completed"]) == (
        "RollingUpdate",
        "maxUnavailable=50%",
        5,
        2,
        True,
    )
    assert 0 < r["maxUnavailableObserved"] <= 5
    # 2 waves of 5 pods: delete 0.5 s + mean ready 1.25 s + minReadySeconds 1, plus the controllers' 1.1 s + 5 x 25 ms
    assert r["seconds"] > 0 and r["predictedSeconds"] == pytest.approx(2 * (0.5 + 1.25 + 1 + 1.1 + 5 * 0.025), abs=0.05)
    # stderr: the prediction before the cluster starts, then the rollout's progress to its last sample
    assert (
        "DaemonSet dsgate-sim/sim-node-exporter: rollout predicted on 10 nodes (maxUnavailable=50%, minReadySeconds 1): 8 s"
        in captured.err
    )
    assert "rollout of DaemonSet dsgate-sim/sim-node-exporter: 10/10 updated, 0 unavailable," in captured.err
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.cluster
@pytest.mark.behaviour
@pytest.mark.xdist_group("behaviour")
def test_manifests_missing_eligible_node_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A DaemonSet too big for the workers misses them (resources); a GPU agent skips the rest (selector)."""
    big = agent("big", cpu="7900m")
    gpu = agent("gpu-agent", node_selector={"nvidia.com/gpu.present": "true"})
    manifests = tmp_path / "agents.yaml"
    manifests.write_text(yaml.safe_dump_all([big, gpu]))
    code = main([str(manifests), "--topology", str(GPU_TOPOLOGY)])
    text = capsys.readouterr().out
    assert code == 1, text
    assert "DaemonSet dsgate-sim/big: 9 eligible nodes, 0 scheduled, 0 available" in text
    assert "MISSING worker-0: resources: " in text and "Insufficient cpu" in text
    assert (
        "not covered control-plane-0: taint not tolerated: taint node-role.kubernetes.io/control-plane:NoSchedule is not tolerated"
        in text
    )
    assert "DaemonSet dsgate-sim/gpu-agent: 3 eligible nodes, 3 scheduled, 3 available" in text
    assert "not covered worker-0: selector: nodeSelector nvidia.com/gpu.present=true does not match" in text
