"""`dsgate check --nodes FILE`: the fleet's nodes add coverage findings and the fleet size, with no cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsgate.paths import DEFAULT_TOPOLOGY
from tests.support import dsgate_check

pytestmark = pytest.mark.policy
DATA = Path(__file__).parent / "data"
AGENT = DATA / "slow-agent.yaml"


def _rules(stdout: str) -> dict[str, str]:
    return {
        f["rule"]: f["message"]
        for f in json.loads(stdout)["findings"]
        if f["rule"].startswith(("DS-COV", "DS-ROL-007"))
    }


@pytest.mark.parametrize(
    ("nodes", "expected_rules", "expected_text"),
    [
        pytest.param(None, set(), "", id="no-nodes-no-coverage-rules"),
        pytest.param(
            DATA / "nodes.yaml",
            {"DS-COV-001"},
            "does not tolerate the taint nvidia.com/gpu=present:NoSchedule on 1 of them (gpu-a)",
            id="kubectl-get-nodes",
        ),
        # the seed's scenario: 1,000 nodes at maxUnavailable 1 and minReadySeconds 10 is hours of rollout
        pytest.param(
            DEFAULT_TOPOLOGY.with_name("1000-nodes.yaml"),
            {"DS-ROL-007"},
            "rolls out over 1000 nodes in about",
            id="topology-fleet-size",
        ),
    ],
)
def test_nodes(nodes: Path | None, expected_rules: set[str], expected_text: str) -> None:
    args = [
        "--no-config",
        "--no-server-check",
        "--format",
        "json",
        *(["--nodes", str(nodes)] if nodes else []),
        str(AGENT),
    ]
    proc = dsgate_check(*args)
    assert proc.returncode in (0, 1), proc.stderr
    found = _rules(proc.stdout)
    assert set(found) == expected_rules
    assert all(expected_text in message for message in found.values())


def test_a_file_without_nodes_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "nodes.yaml"
    empty.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    proc = dsgate_check("--no-config", "--no-server-check", "--nodes", str(empty), str(AGENT))
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "holds no Node (expected `kubectl get nodes -o yaml` output or a kind: Topology file)"
    )
    assert "Traceback" not in proc.stderr
