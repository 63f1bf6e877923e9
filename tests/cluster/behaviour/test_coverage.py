"""Experiment 1, coverage: one pod on every eligible node and none elsewhere.

The control-plane node is covered only when its taint is tolerated (DS-TOL-001: without it the
control plane goes unmonitored); the GPU pool is reached only through the nodeSelector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes.dynamic import DynamicClient

from dsgate.cluster import kube, observe
from tests.cluster.behaviour.support import CONTROL_PLANE_TOLERATION, agent, create, plot, pods_by_node

pytestmark = [pytest.mark.cluster, pytest.mark.behaviour, pytest.mark.xdist_group("behaviour")]

WORKERS = {f"worker-{i}" for i in range(5)}
GPUS = {"gpu-0", "gpu-1"}


@pytest.mark.parametrize(
    ("name", "settings", "expected_nodes", "expected_missing_reason"),
    [
        pytest.param(
            "no-cp-toleration",
            {},
            WORKERS | GPUS,
            {"control-plane-0": "taint not tolerated"},
            id="control-plane-not-tolerated",
        ),
        pytest.param(
            "cp-toleration",
            {"tolerations": [CONTROL_PLANE_TOLERATION]},
            WORKERS | GPUS | {"control-plane-0"},
            {},
            id="control-plane-tolerated",
        ),
        pytest.param(
            "gpu-agent",
            {"node_selector": {"nvidia.com/gpu.present": "true"}},
            GPUS,
            {**dict.fromkeys(WORKERS, "selector"), "control-plane-0": "selector"},
            id="gpu-pool-by-selector",
        ),
    ],
)
@pytest.mark.evidence("DS-TOL-001", "without the control-plane toleration the control-plane node gets no agent pod")
def test_coverage(
    dyn: DynamicClient,
    namespace: str,
    out: Path,
    name: str,
    settings: dict[str, Any],
    expected_nodes: set[str],
    expected_missing_reason: dict[str, str],
) -> None:
    timeline = observe.Timeline(title=f"coverage: {name}")
    create(dyn, agent(name, **settings), namespace)
    timeline.mark("created")
    last = observe.poll(
        timeline, observe.sampler(dyn, namespace, name), observe.settled, 60, f"DaemonSet {name} to settle"
    )
    assert (last["desired"], last["available"], last["pods"]) == (len(expected_nodes),) * 3
    assert set(pods_by_node(dyn, namespace, name)) == expected_nodes
    coverage = observe.coverage(dyn, observe.daemonset(dyn, namespace, name))
    assert set(coverage.eligible) == expected_nodes
    assert {m["node"]: m["reason"].split(":")[0] for m in coverage.missing} == expected_missing_reason
    assert coverage.missing_eligible == []
    nodes = {n["metadata"]["name"] for n in kube.list_items(dyn, "v1", "Node")}
    assert nodes == WORKERS | GPUS | {"control-plane-0"}, "the experiment's cluster changed shape"
    plot(timeline, out, name, ("desired", "pods", "available"))
