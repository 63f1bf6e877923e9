"""`dsgate simulate` refuses to wait for a rollout its model predicts to outlast --timeout (renders the
chart with the real helm; no cluster starts)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dsgate.cluster.progress import Talk
from dsgate.cluster.simulate import main, preflight, render
from dsgate.cluster.topology import load_topology
from dsgate.paths import DEFAULT_TOPOLOGY
from tests.support import CHARTS

THOUSAND_NODES = DEFAULT_TOPOLOGY.with_name("1000-nodes.yaml")
pytestmark = pytest.mark.render


def test_rollout_longer_than_timeout_stops_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The seed's scenario at maxUnavailable 1 and minReadySeconds 10 on 1,000 nodes: predicted in hours,
    so simulate says so before any cluster starts, names the values that would fit, and exits 1."""
    values = tmp_path / "slow.yaml"
    values.write_text("minReadySeconds: 10\nupdateStrategy: {rollingUpdate: {maxUnavailable: 1}}\n")
    code = main(
        [
            str(CHARTS / "node-exporter"),
            "--topology",
            str(THOUSAND_NODES),
            "-f",
            str(values),
            "--upgrade-set",
            "podAnnotations.rev=b",
            "--timeout",
            "600",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "starting a throwaway cluster" not in captured.err
    prefix = "dsgate simulate: DaemonSet dsgate-sim/sim-node-exporter: "
    assert f"{prefix}rollout predicted on 1000 nodes (maxUnavailable=1, minReadySeconds 10): 3 h" in captured.err
    (fail,) = [line for line in captured.out.splitlines() if line.startswith("FAIL:")]
    assert "outlasts --timeout 10 min; not started. Set --timeout " in fail and " or more, or maxUnavailable " in fail
    assert "or a shorter minReadySeconds than 10" in fail


def test_rollout_within_timeout_is_announced_only(tmp_path: Path) -> None:
    """A rollout predicted to fit is announced and let through (the wait itself runs in
    tests/cluster/behaviour/test_simulate.py)."""
    values = tmp_path / "fast.yaml"
    values.write_text("minReadySeconds: 5\nupdateStrategy: {rollingUpdate: {maxUnavailable: 10%}}\n")
    out = io.StringIO()
    upgraded = render(CHARTS / "node-exporter", [values], {"podAnnotations": {"rev": "b"}})
    assert preflight(load_topology(THOUSAND_NODES), upgraded, 600, Talk(stream=out, tty=False)) == []
    assert "rollout predicted on 1000 nodes (maxUnavailable=10%, minReadySeconds 5): " in out.getvalue()
